"""Dunning: collecting an invoice whose automatic payment failed.

On the first failure a ``Dunning`` starts: the payment is tried again on the days the seller's
policy names (by default 1, 3 and 7 days after the first failure), each failure sends the
buyer a reminder; once ``suspend_after_days`` have passed the subscriptions the invoice bills
are suspended (their Box users set inactive through provisioning); ``cancel_after_days`` after
that they are cancelled. Paying the invoice, by card or recorded offline, resolves the dunning
and resumes what was suspended. ``dunning_tick`` (nightly, and idempotent) moves every open
dunning on; the day it runs for is the portal's calendar (``portal.clock``).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.db import transaction

from billing.models import Invoice, InvoiceState
from orders.models import Subscription, SubscriptionStatus
from payments.models import Dunning, DunningStage, PaymentTrigger
from payments.services.ordering import policy_of
from portal import clock
from portal.actors import system
from portal.services import audit_record

logger = logging.getLogger(__name__)

DUNNING = system("dunning")


def _next_retry(policy, started: date, attempts: int) -> date | None:
    """The day of the next retry after ``attempts`` tries (the first failed try included)."""
    schedule = policy.retry_schedule
    index = attempts - 1
    if index >= len(schedule):
        return None
    return started + timedelta(days=schedule[index])


def dunning_failed(*, invoice: Invoice, message: str) -> Dunning:
    """An automatic payment of the invoice failed (in the failing payment's transaction):
    start dunning, or count the retry; a reminder e-mail follows."""
    today = clock.today()
    policy = policy_of(invoice.seller)
    dunning = Dunning.objects.select_for_update().filter(invoice=invoice).first()
    if dunning is None:
        dunning = Dunning.objects.create(
            invoice=invoice,
            started_on=today,
            attempts=1,
            next_retry_on=_next_retry(policy, today, 1),
            last_error=message[:300],
        )
        action = "dunning.started"
    else:
        if dunning.stage == DunningStage.RESOLVED:
            return dunning
        dunning.attempts += 1
        dunning.next_retry_on = _next_retry(policy, dunning.started_on, dunning.attempts)
        dunning.last_error = message[:300]
        dunning.save(update_fields=["attempts", "next_retry_on", "last_error", "updated_at"])
        action = "dunning.retry_failed"
    audit_record(
        actor=DUNNING,
        organization=invoice.buyer,
        action=action,
        obj=invoice,
        after={"attempts": dunning.attempts, "next_retry_on": str(dunning.next_retry_on or "")},
    )
    from payments.services.notices import reminder_send

    reminder_send(dunning)
    return dunning


def _subscriptions_of(invoice: Invoice):
    ids = set(invoice.lines.exclude(subscription=None).values_list("subscription_id", flat=True))
    return Subscription.objects.filter(pk__in=ids).select_related("customer", "box_account")


def dunning_tick(*, day: date | None = None, buyer=None) -> dict:
    """Move every open dunning on: due retries, suspension, cancellation. Returns counts. The
    nightly tick leaves sandbox buyers out; ``buyer`` moves that one buyer's only (a sandbox's
    Advance)."""
    day = day or clock.today()
    counts = {"retried": 0, "suspended": 0, "cancelled": 0}
    retry = []
    open_ = Dunning.objects.exclude(stage__in=[DunningStage.RESOLVED, DunningStage.CANCELLED])
    if buyer is None:
        open_ = open_.exclude(invoice__buyer__sandbox=True)
    else:
        open_ = open_.filter(invoice__buyer=buyer)
    for dunning in open_.select_related("invoice__seller", "invoice__buyer"):
        invoice = dunning.invoice
        if invoice.state not in (InvoiceState.ISSUED, InvoiceState.UNCOLLECTIBLE):
            continue
        policy = policy_of(invoice.seller)
        if (
            dunning.stage == DunningStage.RETRYING
            and dunning.next_retry_on is not None
            and dunning.next_retry_on <= day
        ):
            retry.append(invoice.pk)
        suspend_on = dunning.started_on + timedelta(days=policy.suspend_after_days)
        if dunning.stage == DunningStage.RETRYING and day >= suspend_on:
            counts["suspended"] += int(_suspend(dunning, day))
        elif dunning.stage == DunningStage.SUSPENDED:
            cancel_on = dunning.suspended_on + timedelta(days=policy.cancel_after_days)
            if day >= cancel_on:
                counts["cancelled"] += int(_cancel(dunning, day))
    for invoice_id in retry:
        from payments.services.collect import payment_charge, payment_open

        try:
            payment = payment_open(
                actor=DUNNING,
                invoice=Invoice.objects.get(pk=invoice_id),
                trigger=PaymentTrigger.RETRY,
            )
            Dunning.objects.filter(invoice_id=invoice_id).update(next_retry_on=None)
            payment_charge(actor=DUNNING, payment=payment)
            counts["retried"] += 1
        except Exception:  # one buyer's failure never stops the others'
            logger.exception("dunning retry of invoice %s failed", invoice_id)
            # Stripe unreachable (or any error before an outcome): try again the next day
            # rather than lose the retry; a decline already set its own next date.
            Dunning.objects.filter(
                invoice_id=invoice_id, stage=DunningStage.RETRYING, next_retry_on__isnull=True
            ).update(next_retry_on=day + timedelta(days=1))
    return counts


@transaction.atomic
def _suspend(dunning: Dunning, day: date) -> bool:
    dunning = Dunning.objects.select_for_update().select_related("invoice").get(pk=dunning.pk)
    if dunning.stage != DunningStage.RETRYING:
        return False
    from orders.services import subscription_suspend

    invoice = dunning.invoice
    for sub in _subscriptions_of(invoice):
        if sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIAL):
            subscription_suspend(
                actor=DUNNING,
                subscription=sub,
                reason=f"Invoice {invoice.number} is unpaid",
            )
    dunning.stage, dunning.suspended_on = DunningStage.SUSPENDED, day
    dunning.save(update_fields=["stage", "suspended_on", "updated_at"])
    audit_record(actor=DUNNING, organization=invoice.buyer, action="dunning.suspended", obj=invoice)
    from payments.services.notices import suspended_send

    suspended_send(dunning)
    return True


@transaction.atomic
def _cancel(dunning: Dunning, day: date) -> bool:
    dunning = Dunning.objects.select_for_update().select_related("invoice").get(pk=dunning.pk)
    if dunning.stage != DunningStage.SUSPENDED:
        return False
    from orders.services import subscription_cancel

    invoice = dunning.invoice
    for sub in _subscriptions_of(invoice):
        if sub.status != SubscriptionStatus.CANCELLED:
            subscription_cancel(actor=DUNNING, subscription=sub, immediately=True)
    from billing.services.invoices import invoice_mark_uncollectible

    if invoice.state == InvoiceState.ISSUED:
        invoice_mark_uncollectible(actor=DUNNING, invoice=invoice)
    dunning.stage, dunning.cancelled_on = DunningStage.CANCELLED, day
    dunning.save(update_fields=["stage", "cancelled_on", "updated_at"])
    audit_record(actor=DUNNING, organization=invoice.buyer, action="dunning.cancelled", obj=invoice)
    return True


def dunning_resolve(*, invoice: Invoice) -> None:
    """The invoice is paid (in the paying transaction): dunning ends and the subscriptions it
    suspended are resumed (their Box users reactivated)."""
    dunning = Dunning.objects.select_for_update().filter(invoice=invoice).first()
    if dunning is None or dunning.stage in (DunningStage.RESOLVED, DunningStage.CANCELLED):
        return
    was_suspended = dunning.stage == DunningStage.SUSPENDED
    dunning.stage, dunning.resolved_on, dunning.next_retry_on = (
        DunningStage.RESOLVED,
        clock.today(),
        None,
    )
    dunning.save(update_fields=["stage", "resolved_on", "next_retry_on", "updated_at"])
    if was_suspended:
        from orders.services import subscription_resume

        for sub in _subscriptions_of(invoice):
            if sub.status == SubscriptionStatus.SUSPENDED:
                subscription_resume(actor=DUNNING, subscription=sub)
    audit_record(actor=DUNNING, organization=invoice.buyer, action="dunning.resolved", obj=invoice)
