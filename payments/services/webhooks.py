"""Stripe's webhooks: one endpoint per seller account (an unguessable address), the signature
verified on the raw body with that account's secret, each event stored once by its id (a
unique constraint), processed by a task.

Processing never trusts an event's content blindly: it looks the object up among this
account's own payments, refunds and cards (an event about anything else changes nothing),
re-reads the object from Stripe where the state matters, and only moves states forward, so
duplicated, replayed and out-of-order events are no-ops.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import stripe
from django.db import IntegrityError, transaction

from payments.models import Dispute, Payment, Refund, StripeAccount, StripeEvent
from payments.services import stripe_api
from portal import clock
from portal.actors import system
from portal.errors import NotFound, ValidationError
from portal.money import from_minor_units

logger = logging.getLogger(__name__)

WEBHOOKS = system("stripe-webhooks")

HANDLED = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "charge.refunded",
    "refund.updated",
    "setup_intent.succeeded",
    "charge.dispute.created",
    "charge.dispute.closed",
}


def event_receive(*, token: str, payload: bytes, signature: str) -> StripeEvent | None:
    """Verify and store one delivery. Raises ``NotFound`` for an unknown endpoint and
    ``ValidationError`` for a forged or malformed one (nothing stored). Returns None for a
    duplicate (stored before)."""
    account = StripeAccount.objects.filter(endpoint_token=token or "-").first()
    if account is None:
        raise NotFound("No such endpoint.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, account.webhook_secret)
    except (stripe.SignatureVerificationError, ValueError):
        raise ValidationError("The signature does not match.") from None
    data = json.loads(payload)
    created = data.get("created")
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                account=account,
                event_ref=str(event["id"])[:100],
                type=str(event["type"])[:80],
                created=datetime.fromtimestamp(created, tz=UTC)
                if isinstance(created, int)
                else None,
                payload=data,
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: _dispatch(stored.pk))
    return stored


def _dispatch(event_id: int) -> None:
    from payments.tasks import payment_event_process

    payment_event_process.delay(event_id)


def event_process(event: StripeEvent) -> str:
    """Act on a stored event once; returns what it did (kept on the row). Processing claims
    the event's row (a lock taken without waiting): a second worker given the same event at
    the same moment leaves it to the first, and one arriving later finds it processed. If
    Stripe cannot be reached the work is rolled back and the event stays unprocessed, for the
    task to try again."""
    with transaction.atomic():
        claimed = (
            StripeEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account__seller")
            .filter(pk=event.pk)
            .first()
        )
        if claimed is None:
            return "being processed by another worker"
        if claimed.processed_at is not None:
            return claimed.outcome
        outcome = _handle(claimed) if claimed.type in HANDLED else "not handled"
        claimed.processed_at, claimed.outcome = clock.now(), outcome[:200]
        claimed.save(update_fields=["processed_at", "outcome"])
    return outcome


def _object(event: StripeEvent) -> dict:
    return (event.payload.get("data") or {}).get("object") or {}


def _handle(event: StripeEvent) -> str:
    obj = _object(event)
    seller = event.account.seller
    if event.type.startswith("payment_intent."):
        payment = Payment.objects.filter(seller=seller, stripe_intent_ref=obj.get("id")).first()
        if payment is None:
            return "not a payment of this account"
        # Ask Stripe where the intent stands now rather than trusting this event's copy: a
        # late "failed" after a success changes nothing.
        from payments.services.collect import record_intent, stripe_account_of

        client = stripe_api.client_for(stripe_account_of(seller))
        try:
            intent = client.v1.payment_intents.retrieve(payment.stripe_intent_ref)
        except stripe.StripeError as exc:
            raise stripe_api.unavailable(exc) from None
        before = payment.state
        payment = record_intent(payment=payment, intent=intent)
        return f"payment {payment.pk}: {before} -> {payment.state}"
    if event.type in ("charge.refunded", "refund.updated"):
        refunds = (obj.get("refunds") or {}).get("data") or (
            [obj] if obj.get("object") == "refund" else []
        )
        done = 0
        for item in refunds:
            refund = (
                Refund.objects.filter(
                    payment__seller=seller, pk=_int((item.get("metadata") or {}).get("refund"))
                ).first()
                or Refund.objects.filter(payment__seller=seller, stripe_ref=item.get("id")).first()
            )
            if refund is None:
                continue
            from payments.services.refunds import refund_record

            refund_record(refund=refund, stripe_ref=item.get("id"), status=item.get("status", ""))
            done += 1
        return f"{done} refund(s) recorded"
    if event.type == "setup_intent.succeeded":
        return _setup_succeeded(event, obj)
    if event.type.startswith("charge.dispute."):
        payment = Payment.objects.filter(
            seller=seller, stripe_intent_ref=obj.get("payment_intent")
        ).first()
        if payment is None:
            return "not a payment of this account"
        currency = (obj.get("currency") or payment.currency).upper()
        Dispute.objects.update_or_create(
            stripe_ref=str(obj.get("id"))[:100],
            defaults={
                "payment": payment,
                "amount": from_minor_units(int(obj.get("amount") or 0), currency),
                "reason": str(obj.get("reason") or "")[:60],
                "status": str(obj.get("status") or "")[:40],
            },
        )
        return f"dispute on payment {payment.pk} recorded"
    return "not handled"


def _setup_succeeded(event: StripeEvent, obj: dict) -> str:
    """Keep the card a SetupIntent saved, even if the customer closed the page before it
    told us. The buyer is found by its customer id in this account; ``card_save`` asks Stripe
    for the intent and the card, and keeps a card the page already saved only once."""
    from payments.models import BuyerAccount
    from payments.services.cards import card_save

    seller = event.account.seller
    account = (
        BuyerAccount.objects.filter(seller=seller, stripe_customer_ref=obj.get("customer") or "-")
        .exclude(stripe_customer_ref="")
        .select_related("buyer")
        .first()
    )
    if account is None:
        return "not a customer of this account"
    try:
        card = card_save(
            actor=WEBHOOKS,
            buyer=account.buyer,
            setup_intent=str(obj.get("id") or ""),
            make_default=False,
        )
    except (NotFound, ValidationError) as exc:
        return f"no card kept: {exc.message}"[:200]
    return f"card {card.pk} kept"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
