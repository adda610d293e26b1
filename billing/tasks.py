"""Thin Celery tasks of billing (queue ``billing``, ``pdf`` for documents; routed by name in
settings). Each passes
ids or a day, re-reads state and calls a service; running one twice does no harm (a collection
is claimed by one worker at a time, records are upserts)."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task

from billing.models import UsageCollection
from billing.services import usage
from portal import clock
from portal.actors import system

COLLECTOR = system("usage-collection")


@shared_task(name="billing.tasks.usage_collect_nightly", ignore_result=True)
def usage_collect_nightly(day: str | None = None) -> int:
    """Nightly (beat): make today's collection of every live Box account (``day``, an ISO
    date, for another day) and send each due one to a worker."""
    when = date.fromisoformat(day) if day else clock.today()
    ids = usage.usage_collections_plan(day=when, actor=COLLECTOR)
    for collection_id in ids:
        usage_collect_account.delay(collection_id)
    return len(ids)


@shared_task(name="billing.tasks.usage_collect_account", ignore_result=True)
def usage_collect_account(collection_id: int) -> str:
    """One attempt at one account's collection of one day."""
    collection = UsageCollection.objects.filter(pk=collection_id).first()
    if collection is None:
        return "missing"
    return usage.usage_collection_collect(collection=collection, actor=COLLECTOR).state


@shared_task(name="billing.tasks.usage_collections_sweep", ignore_result=True)
def usage_collections_sweep() -> int:
    """Every few minutes (beat): send the collections due again (failed ones whose back-off is
    over, lost ones) to workers; expire those Box can no longer answer for."""
    ids = usage.usage_collections_due(actor=COLLECTOR)
    for collection_id in ids:
        usage_collect_account.delay(collection_id)
    return len(ids)


logger = logging.getLogger(__name__)


# Rendering is retried this many times, waiting PDF_BACKOFF_SECONDS * 2**n (at most
# PDF_BACKOFF_MAX_SECONDS) between tries; after that the row stays failed and
# ``manage.py invoices_render --missing`` renders it.
PDF_MAX_RETRIES = 5
PDF_BACKOFF_SECONDS = 30
PDF_BACKOFF_MAX_SECONDS = 1800


def _backoff(retries: int) -> int:
    return min(PDF_BACKOFF_SECONDS * 2**retries, PDF_BACKOFF_MAX_SECONDS)


def _retry_or_give_up(task, exc: Exception, what: str) -> str:
    if task.request.retries >= task.max_retries:
        logger.error("Giving up on the PDF of %s: %s", what, exc.__cause__ or exc)
        return "failed"
    raise task.retry(exc=exc, countdown=_backoff(task.request.retries))


@shared_task(bind=True, max_retries=PDF_MAX_RETRIES, acks_late=True)
def pdf_invoice_document(self, invoice_id: int) -> str:
    """Render an issued invoice's PDF once (state on the row), then e-mail it once."""
    from billing.models import Invoice
    from billing.services.documents import PDF, RenderFailed, invoice_email, invoice_render

    invoice = Invoice.objects.select_related("seller", "buyer").filter(pk=invoice_id).first()
    if invoice is None or invoice.is_draft:
        return "skipped"
    try:
        invoice_render(actor=PDF, invoice=invoice)
    except RenderFailed as exc:
        return _retry_or_give_up(self, exc, f"invoice {invoice.number}")
    return "emailed" if invoice_email(actor=PDF, invoice=invoice) else "rendered"


@shared_task(acks_late=True)
def pdf_invoice_documents(invoice_ids: list[int]) -> int:
    """Queue ``pdf_invoice_document`` for each of many invoices issued together (one message
    from the issuing run, fanned out here). Running it twice does no harm: each invoice's
    PDF is rendered once and e-mailed once."""
    for invoice_id in invoice_ids:
        pdf_invoice_document.delay(invoice_id)
    return len(invoice_ids)


@shared_task(bind=True, max_retries=PDF_MAX_RETRIES, acks_late=True)
def pdf_credit_note_document(self, note_id: int) -> str:
    """Render a credit note's PDF once (state on the row), then e-mail it once."""
    from billing.models import CreditNote
    from billing.services.documents import (
        PDF,
        RenderFailed,
        credit_note_email,
        credit_note_render,
    )

    note = CreditNote.objects.select_related("seller", "buyer").filter(pk=note_id).first()
    if note is None:
        return "skipped"
    try:
        credit_note_render(actor=PDF, note=note)
    except RenderFailed as exc:
        return _retry_or_give_up(self, exc, f"credit note {note.number}")
    return "emailed" if credit_note_email(actor=PDF, note=note) else "rendered"


@shared_task(time_limit=3600, soft_time_limit=3500)
def billing_run_nightly() -> dict:
    """The nightly billing run: renew and bill every subscription that is due, issue the
    complete drafts. Safe to run twice (docs/billing.md)."""
    from billing.services.run import RUN, billing_run

    run = billing_run(actor=RUN)
    return {
        "run": run.pk,
        "billed": run.subscriptions_billed,
        "issued": run.invoices_issued,
        "errors": run.errors,
    }


@shared_task(time_limit=3600, soft_time_limit=3500)
def billing_run_now(user_id: int) -> dict:
    """A billing run started by a person ("Run billing now" in the provider's console), as
    that person: the run checks their right again and records them as its trigger."""
    from billing.services.run import billing_run
    from portal.models import User

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return {"run": None}
    run = billing_run(actor=user)
    return {
        "run": run.pk,
        "billed": run.subscriptions_billed,
        "issued": run.invoices_issued,
        "errors": run.errors,
    }
