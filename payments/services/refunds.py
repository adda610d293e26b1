"""Money back for a credit note: to the card the invoice was paid with (whole or partial), or
to the buyer's credit balance for its next invoices, as the seller's staff choose. A credit
note on an invoice not paid yet simply lowers what it owes."""

from __future__ import annotations

import logging
from decimal import Decimal

import stripe
from django.db import transaction
from django.db.models import Sum

from billing.models import CreditNote
from payments.models import (
    BalanceKind,
    Payment,
    PaymentSource,
    PaymentState,
    Refund,
    RefundState,
)
from payments.services import stripe_api
from payments.services.collect import balance_credit, stripe_account_of
from portal import access, clock
from portal.actors import Actor, require_actor
from portal.errors import ValidationError
from portal.money import to_minor_units
from portal.services import audit_record

logger = logging.getLogger(__name__)

CARD, BALANCE, NONE = "card", "balance", "none"


def excess_paid(invoice) -> Decimal:
    """Money received for the invoice beyond what it owes after its credit notes, less what
    was already given back: what a refund (to the card or the balance) may return."""
    from payments.models import BalanceEntry

    settled = Payment.objects.filter(invoice=invoice, state=PaymentState.SUCCEEDED).aggregate(
        s=Sum("applied")
    )["s"] or Decimal(0)
    used = -(
        BalanceEntry.objects.filter(invoice=invoice, kind=BalanceKind.APPLIED).aggregate(
            s=Sum("amount")
        )["s"]
        or Decimal(0)
    )
    credited = CreditNote.objects.filter(invoice=invoice).aggregate(s=Sum("total"))["s"] or 0
    refunded = Refund.objects.filter(payment__invoice=invoice).exclude(
        state=RefundState.FAILED
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    to_balance = BalanceEntry.objects.filter(
        credit_note__invoice=invoice, kind=BalanceKind.CREDIT_NOTE
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    return settled + used + credited - invoice.total - refunded - to_balance


@transaction.atomic
def credit_note_settle(*, actor: Actor, note: CreditNote, method: str) -> str:
    """After a credit note is issued: give the money back as ``method`` says. What was paid
    beyond what the invoice still owes can be refunded; a credit note on an unpaid invoice
    needs nothing more. Returns what was done."""
    note = CreditNote.objects.select_related("invoice", "seller", "buyer").get(pk=note.pk)
    access.require(actor, "billing.manage", note.seller)
    invoice = note.invoice
    # The part of the credit the invoice's remaining debt does not absorb is money to return.
    to_return = min(note.total, max(Decimal(0), excess_paid(invoice)))
    if method == NONE or to_return <= 0:
        from payments.services.collect import settle_if_paid

        settle_if_paid(invoice)
        return "lowered the amount due"
    if method == BALANCE:
        balance_credit(
            buyer=note.buyer,
            seller=note.seller,
            currency=note.currency,
            amount=to_return,
            kind=BalanceKind.CREDIT_NOTE,
            note=f"Credit note {note.number}",
            credit_note=note,
        )
        audit_record(
            actor=actor,
            organization=note.buyer,
            action="credit_note.to_balance",
            obj=note,
            after={"amount": str(to_return)},
        )
        return "added to the credit balance"
    if method != CARD:
        raise ValidationError.for_field("refund", "Choose the card, the credit balance or none.")
    card_payments = Payment.objects.filter(
        invoice=invoice, source=PaymentSource.CARD, state=PaymentState.SUCCEEDED
    ).order_by("-settled_at")
    left = to_return
    refunds = []
    for payment in card_payments:
        given = payment.refunds.exclude(state=RefundState.FAILED).aggregate(s=Sum("amount"))[
            "s"
        ] or Decimal(0)
        room = payment.applied - given
        if room <= 0 or left <= 0:
            continue
        amount = min(room, left)
        refunds.append(
            Refund.objects.create(
                payment=payment, credit_note=note, amount=amount, currency=note.currency
            )
        )
        left -= amount
    if left > 0:
        raise ValidationError.for_field(
            "refund",
            f"Only {to_return - left} {note.currency} was paid by card; give the rest to the "
            "credit balance.",
        )
    audit_record(
        actor=actor,
        organization=note.buyer,
        action="credit_note.refund_requested",
        obj=note,
        after={"amount": str(to_return), "refunds": [r.pk for r in refunds]},
    )

    def start():
        from payments.tasks import payment_refund

        for refund in refunds:
            payment_refund.delay(refund.pk)

    transaction.on_commit(start)
    return "refunded to the card"


def refund_execute(*, actor: Actor, refund: Refund) -> Refund:
    """Ask Stripe to refund (once: the row is written first and carries the key; a refund
    already made is found on the row)."""
    require_actor(actor)
    refund = Refund.objects.select_related("payment__seller").get(pk=refund.pk)
    if refund.state != RefundState.PENDING:
        return refund
    payment = refund.payment
    client = stripe_api.client_for(stripe_account_of(payment.seller))
    try:
        made = client.v1.refunds.create(
            {
                "payment_intent": payment.stripe_intent_ref,
                "amount": to_minor_units(refund.amount, refund.currency),
                "metadata": {"refund": str(refund.pk), "credit_note": str(refund.credit_note_id)},
            },
            {"idempotency_key": refund.idempotency_key},
        )
    except stripe.InvalidRequestError as exc:
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk, state=RefundState.PENDING).update(
                state=RefundState.FAILED, failure_message=str(exc.user_message or exc)[:300]
            )
        refund.refresh_from_db()
        return refund
    except stripe.StripeError as exc:
        raise stripe_api.unavailable(exc) from None
    return refund_record(refund=refund, stripe_ref=made.id, status=made.status)


@transaction.atomic
def refund_record(*, refund: Refund, stripe_ref: str, status: str) -> Refund:
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.state == RefundState.SUCCEEDED:
        return refund
    refund.stripe_ref = stripe_ref
    if status in ("succeeded", "pending"):
        refund.state, refund.settled_at = RefundState.SUCCEEDED, clock.now()
    elif status in ("failed", "canceled"):
        refund.state = RefundState.FAILED
    refund.save(update_fields=["stripe_ref", "state", "settled_at"])
    from payments.services.collect import PAYMENTS

    audit_record(
        actor=PAYMENTS,
        organization=refund.payment.buyer,
        action=f"refund.{refund.state}",
        obj=refund,
        after={"amount": str(refund.amount), "stripe": stripe_ref},
    )
    return refund
