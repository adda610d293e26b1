"""A sandbox customer's clock (docs/sandbox-clock.md).

A sandbox customer (``Organization.sandbox``) lives on its own day, ``sandbox_today``, which
only ``sandbox_advance`` moves, and only forward. Advancing runs, for each day after
``sandbox_today`` up to the target and inside ``clock.on_day(day)``, what the nightly runs do
for everyone else (they leave sandboxes out): usage collection of its Box accounts, renewals
and billing of its subscriptions and issuing of its drafts (one transaction), the automatic
card payment of what was issued, and dunning. Nobody else's day moves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction

from portal import access, clock
from portal.actors import require_actor, system
from portal.errors import Conflict, ValidationError
from portal.models import Organization
from portal.services import audit_record

logger = logging.getLogger(__name__)

# The sandbox's work is done as the portal (billing and issuing are never one person's);
# the audit row of the advance names the person who asked for it.
SANDBOX = system("sandbox")
MAX_DAYS = 400


@dataclass
class Advanced:
    """What one advance did."""

    start: date
    end: date
    renewals: int = 0
    invoices: int = 0
    payments: int = 0
    payments_failed: int = 0
    payments_skipped: int = 0
    usage_collected: int = 0
    dunning: dict = field(default_factory=lambda: {"retried": 0, "suspended": 0, "cancelled": 0})
    errors: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def summary(self) -> str:
        """ "Advanced 31 days to 2027-02-01: 1 renewal, 1 invoice issued, 1 payment." """
        parts = [
            _count(self.renewals, "renewal"),
            _count(self.invoices, "invoice") + " issued",
            _count(self.payments, "payment"),
        ]
        if self.payments_failed:
            parts.append(_count(self.payments_failed, "payment") + " declined")
        if self.payments_skipped:
            parts.append(
                _count(self.payments_skipped, "payment")
                + " not attempted (the seller's Stripe account is not a test one)"
            )
        if self.dunning["retried"]:
            parts.append(_count(self.dunning["retried"], "payment retry", "payment retries"))
        if self.dunning["suspended"]:
            parts.append(_count(self.dunning["suspended"], "suspension") + " for non-payment")
        if self.dunning["cancelled"]:
            parts.append(_count(self.dunning["cancelled"], "cancellation") + " for non-payment")
        text = f"Advanced {_count(self.days, 'day')} to {self.end.isoformat()}: {', '.join(parts)}."
        if self.errors:
            text += " Note: " + "; ".join(self.errors)
        return text

    def as_dict(self) -> dict:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "days": self.days,
            "renewals": self.renewals,
            "invoices_issued": self.invoices,
            "payments": self.payments,
            "payments_declined": self.payments_failed,
            "payments_not_attempted": self.payments_skipped,
            "usage_collected": self.usage_collected,
            "dunning": dict(self.dunning),
            "summary": self.summary(),
        }


def _count(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# --- what may be asked ------------------------------------------------------------------------


def clean_days(days) -> int:
    """``days`` as a whole number from 1 to ``MAX_DAYS``, or a ``ValidationError`` saying so."""
    message = f"Give a whole number of days from 1 to {MAX_DAYS}."
    if isinstance(days, bool) or days is None or days == "":
        raise ValidationError.for_field("days", message)
    try:
        value = int(str(days).strip())
    except (TypeError, ValueError):
        raise ValidationError.for_field("days", message) from None
    if not 1 <= value <= MAX_DAYS:
        raise ValidationError.for_field("days", message)
    return value


def next_renewal(customer: Organization) -> date | None:
    """The first day after the sandbox's today on which one of its subscriptions renews."""
    from billing.services import gather
    from orders.models import Subscription

    return (
        Subscription.objects.filter(
            customer=customer,
            status__in=gather.LIVE,
            current_period_end__gt=customer.sandbox_today,
        )
        .order_by("current_period_end")
        .values_list("current_period_end", flat=True)
        .first()
    )


def _target(customer: Organization, days, to_renewal: bool) -> date:
    if to_renewal:
        if days not in (None, ""):
            raise ValidationError("Give a number of days or ask for the next renewal, not both.")
        renewal = next_renewal(customer)
        if renewal is None:
            raise Conflict(f"{customer.name} has no subscription that renews.")
        if (renewal - customer.sandbox_today).days > MAX_DAYS:
            raise ValidationError(
                f"The next renewal is on {renewal.isoformat()}, more than {MAX_DAYS} days "
                "away; advance in steps."
            )
        return renewal
    return customer.sandbox_today + timedelta(days=clean_days(days))


# --- advancing --------------------------------------------------------------------------------


def sandbox_advance(*, actor, customer: Organization, days=None, to_renewal: bool = False):
    """Move the sandbox customer's day forward by ``days`` (1 to 400) or to its next renewal,
    running each day's work on that day. Returns what was done (``Advanced``). The day is
    saved after each day, so a failure stops at the last finished day and the next advance
    goes on from there. Synchronous: at most ``MAX_DAYS`` days per call."""
    require_actor(actor)
    customer = Organization.objects.get(pk=customer.pk)
    access.require(actor, "sandbox.advance", customer)
    if not customer.sandbox or customer.sandbox_today is None:
        raise ValidationError(
            f"{customer.name} is a real customer: only a sandbox customer's clock can be moved."
        )
    target = _target(customer, days, to_renewal)
    result = Advanced(start=customer.sandbox_today, end=customer.sandbox_today)
    try:
        day = customer.sandbox_today
        while day < target:
            day += timedelta(days=1)
            with clock.on_day(day):
                if not _one_day(customer, day, result):
                    break
            result.end = day
    finally:
        if result.days:
            audit_record(
                actor=actor,
                organization=customer,
                action="sandbox.advanced",
                obj=customer,
                before={"sandbox_today": result.start.isoformat()},
                after={k: v for k, v in result.as_dict().items() if k != "summary"},
            )
    return result


def _one_day(customer: Organization, day: date, result: Advanced) -> bool:
    """The day's work (inside ``clock.on_day(day)``); False when another advance got there
    first (the loop stops)."""
    from billing.services.run import bill_batch, due_subscriptions, invoices_issue_due
    from payments.services.dunning import dunning_tick

    result.usage_collected += _collect_usage(customer, day)
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=customer.pk)
        if locked.sandbox_today >= day:
            result.errors.append(f"another advance moved the clock to {locked.sandbox_today}.")
            return False
        ids = list(
            due_subscriptions(day, customer=customer).order_by("pk").values_list("pk", flat=True)
        )
        if ids:
            result.renewals += bill_batch(ids, actor=SANDBOX, day=day).billed
        result.invoices += invoices_issue_due(actor=SANDBOX, day=day, buyer=customer)
    _pay_issued(customer, result)
    for key, n in dunning_tick(day=day, buyer=customer).items():
        result.dunning[key] = result.dunning.get(key, 0) + n
    Organization.objects.filter(pk=customer.pk).update(sandbox_today=day)
    return True


def _collect_usage(customer: Organization, day: date) -> int:
    """Collect the day's usage of the customer's live Box accounts (in the Box simulator), as
    the nightly collection does for real customers. A failure is recorded on the collection
    (the console's usage page shows it), never stops the advance."""
    from billing import selectors
    from billing.services import usage
    from portal.errors import ApplicationError

    collected = 0
    for account in selectors.live_accounts().filter(customer=customer):
        try:
            collection = usage.usage_collection_request(account=account, day=day, actor=SANDBOX)
            collection = usage.usage_collection_collect(collection=collection, actor=SANDBOX)
        except ApplicationError as exc:
            logger.warning("sandbox usage of account %s on %s: %s", account.pk, day, exc.message)
            continue
        collected += int(collection.state == "succeeded")
    return collected


def _pay_issued(customer: Organization, result: Advanced) -> None:
    """Charge the default card for the sandbox's issued invoices never tried yet, when it pays
    automatically: what ``payments.services.collect.after_issue`` starts after commit for a
    real buyer, done here on the sandbox's day (the nightly worker would charge it on the real
    one). Only through a Stripe test account."""
    from billing.models import Invoice, InvoiceState
    from payments.models import BuyerAccount, StripeAccount
    from payments.tasks import payment_autopay
    from portal.errors import ApplicationError

    account = BuyerAccount.objects.filter(buyer=customer).first()
    if account is None or not account.autopay:
        return
    invoices = list(
        Invoice.objects.filter(buyer=customer, state=InvoiceState.ISSUED, payments__isnull=True)
        .exclude(source="order")
        .order_by("pk")
    )
    if not invoices:
        return
    stripe = StripeAccount.objects.filter(seller_id=customer.parent_id).first()
    if stripe is not None and (stripe.livemode or not stripe.secret_key.startswith("sk_test_")):
        result.payments_skipped += len(invoices)
        return
    for invoice in invoices:
        try:
            outcome = payment_autopay(invoice.pk)  # synchronously, on this day
        except ApplicationError as exc:  # Stripe unreachable: the payment stays open
            result.errors.append(f"invoice {invoice.number} could not be charged: {exc.message}")
            continue
        if outcome == "succeeded":
            result.payments += 1
        elif outcome == "failed":
            result.payments_failed += 1
