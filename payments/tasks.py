"""Thin tasks of payments (queue ``payments``): re-read state, call a service, retry what can
be retried."""

from __future__ import annotations

from celery import shared_task

from payments.services.stripe_api import StripeUnavailable

RETRY = {"autoretry_for": (StripeUnavailable,), "retry_backoff": 30, "max_retries": 5}


@shared_task(**RETRY)
def payment_autopay(invoice_id: int) -> str:
    """Charge the buyer's default card for an issued invoice (automatic payment)."""
    from billing.models import Invoice
    from payments.models import PaymentTrigger
    from payments.services.collect import PAYMENTS, amount_due, payment_charge, payment_open
    from portal.errors import ApplicationError

    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None or amount_due(invoice) <= 0:
        return "nothing to pay"
    try:
        payment = payment_open(actor=PAYMENTS, invoice=invoice, trigger=PaymentTrigger.AUTOPAY)
    except ApplicationError as exc:
        return f"not charged: {exc.message}"
    payment = payment_charge(actor=PAYMENTS, payment=payment)
    return payment.state


@shared_task(**RETRY)
def payment_resume(payment_id: int) -> str:
    """Carry a payment on from where it stands (after a crash, or to learn its outcome)."""
    from payments.models import Payment
    from payments.services.collect import PAYMENTS, payment_charge

    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        return "gone"
    return payment_charge(actor=PAYMENTS, payment=payment).state


@shared_task(**RETRY)
def payment_refund(refund_id: int) -> str:
    from payments.models import Refund
    from payments.services.collect import PAYMENTS
    from payments.services.refunds import refund_execute

    refund = Refund.objects.filter(pk=refund_id).first()
    if refund is None:
        return "gone"
    return refund_execute(actor=PAYMENTS, refund=refund).state


@shared_task(**RETRY)
def payment_event_process(event_id: int) -> str:
    from payments.models import StripeEvent
    from payments.services.webhooks import event_process

    event = StripeEvent.objects.filter(pk=event_id).first()
    return event_process(event) if event is not None else "gone"


@shared_task
def payment_dunning_tick() -> dict:
    """Nightly: retries on the sellers' schedules, suspensions, cancellations; and orders
    that were not paid in time are cancelled."""
    from payments.services.dunning import dunning_tick
    from payments.services.ordering import orders_cancel_unpaid

    counts = dunning_tick()
    counts["unpaid_orders_cancelled"] = orders_cancel_unpaid()
    return counts


@shared_task
def payment_open_sweep() -> int:
    """Payments left open (a worker died between steps) are carried on."""
    from datetime import timedelta

    from payments.models import OPEN_PAYMENT_STATES, Payment, PaymentSource, PaymentState
    from portal import clock

    stale = Payment.objects.filter(
        source=PaymentSource.CARD,
        state__in=[s for s in OPEN_PAYMENT_STATES if s != PaymentState.REQUIRES_ACTION],
        updated_at__lt=clock.now() - timedelta(minutes=10),
    ).values_list("pk", flat=True)
    for pk in stale:
        payment_resume.delay(pk)
    return len(stale)
