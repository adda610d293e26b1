"""Branded e-mail. Every message goes out from a Celery task started after the transaction that
caused it commits, under the brand of the organization's seller."""

from __future__ import annotations

from email.utils import formataddr

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from portal.i18n import language_of
from portal.models import Brand, Organization


def sender_for(brand: Brand | None) -> tuple[str, list[str]]:
    name = brand.name if brand else "Box broker portal"
    reply_to = [brand.support_email] if brand and brand.support_email else []
    return formataddr((name, settings.DEFAULT_FROM_EMAIL)), reply_to


def send_branded_email(
    *,
    organization: Organization | None,
    to: list[str],
    template: str,
    context: dict,
    brand: Brand | None = None,
    attachments: list[dict] | None = None,
) -> None:
    """Render ``<template>_subject.txt`` and ``<template>_message.txt`` with the brand in the
    context and send them once the current transaction commits. ``attachments`` name files in
    storage (``portal.tasks.email_send``); their bytes never go through the broker."""
    from portal.selectors import brand_for_organization
    from portal.tasks import email_send

    if brand is None and organization is not None:
        brand = brand_for_organization(organization)
    context = {**context, "brand": brand, "brand_name": brand.name if brand else "Box broker"}
    # Written in the recipient organization's language (its own choice, else its seller's).
    with translation.override(language_of(organization)):
        subject = render_to_string(f"{template}_subject.txt", context).strip()
        body = render_to_string(f"{template}_message.txt", context)
    from_email, reply_to = sender_for(brand)
    extra = {"attachments": list(attachments)} if attachments else {}
    transaction.on_commit(
        lambda: email_send.delay(
            subject=subject,
            body=body,
            to=list(to),
            from_email=from_email,
            reply_to=reply_to,
            **extra,
        )
    )
