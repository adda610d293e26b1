"""Adopting a Box user found by reconciliation as a seat of the subscription its Box account
runs, and what that costs.

Seats are billed by the number bought (``Subscription.quantity``), not by the people in them.
Adopting into a free seat costs nothing more; when every seat is taken, adopting buys one more
seat first (the ordinary seat change: prorated now, then the per-seat price each period), and
only when staff confirm it. ``adoption_preview`` says which it is, with the amounts, before
anything is written; ``seat_adopt`` does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from catalog import pricing
from orders.models import SeatAssignment, SeatRole, SeatStatus, Subscription
from orders.services._base import _live, _lock_subscription, holding_seats
from orders.services.changes import subscription_change
from portal import access, clock
from portal.actors import Actor, person, require_actor
from portal.errors import Conflict
from portal.services import audit_record, clean_email
from provisioning import drift
from provisioning.models import DriftItem


@dataclass(frozen=True)
class AdoptionCost:
    """What adopting one more person into ``subscription`` costs."""

    subscription: Subscription
    seats: int
    held: int
    adds_seat: bool
    currency: str
    unit_price: Decimal  # per seat and period (the subscription's term)
    term: str
    now: Decimal  # charged now when a seat is added (prorated; nothing in a trial)
    days_left: int
    days: int

    @property
    def free(self) -> int:
        return max(self.seats - self.held, 0)

    @property
    def per_period(self) -> Decimal:
        """How much more each period costs from the next invoice."""
        return self.unit_price if self.adds_seat else Decimal("0")


def subscription_of(item: DriftItem) -> Subscription | None:
    return (
        Subscription.objects.select_related("plan", "customer")
        .filter(box_account_id=item.account_id)
        .first()
    )


def adoption_preview(subscription: Subscription) -> AdoptionCost:
    """The cost of one more seat holder, computed as the seat change would charge it."""
    sub = subscription
    held = holding_seats(sub)
    adds = held >= sub.quantity
    today = clock.today()
    days = pricing.days_between(sub.current_period_start, sub.current_period_end)
    days_left = max(0, min(days, pricing.days_between(today, sub.current_period_end)))
    now = Decimal("0")
    if adds and not sub.in_trial:
        now = pricing.prorate(
            sub.unit_price, days_left=days_left, days_in_period=days, currency=sub.currency
        )
    return AdoptionCost(
        subscription=sub,
        seats=sub.quantity,
        held=held,
        adds_seat=adds,
        currency=sub.currency,
        unit_price=sub.unit_price,
        term=sub.term,
        now=now,
        days_left=days_left,
        days=days,
    )


@transaction.atomic
def seat_adopt(*, actor: Actor, item: DriftItem, add_seat: bool = False) -> SeatAssignment:
    """Turn the Box user of ``item`` (a user without a seat) into a seat of the subscription
    its Box account runs. With every seat taken it is refused unless ``add_seat``: then one
    seat is bought first, charged as any added seat is."""
    require_actor(actor)
    access.require(actor, "provisioning.manage", item.account.customer)
    sub = subscription_of(item)
    if sub is None:
        raise Conflict("This Box account runs no subscription; there is no seat to adopt into.")
    sub = _lock_subscription(sub)
    _live(sub)
    item = drift.actionable(item, "adopt")
    email = clean_email(item.login)
    if (
        SeatAssignment.objects.filter(subscription=sub, email=email)
        .exclude(status=SeatStatus.REMOVED)
        .exists()
    ):
        raise Conflict(f"{email} already has a seat of {sub.number}.")
    cost = adoption_preview(sub)
    if cost.adds_seat:
        if not add_seat:
            raise Conflict(
                f"All {sub.quantity} seats of {sub.number} are taken; adopting adds a seat. "
                "Confirm adding it."
            )
        subscription_change(actor=actor, subscription=sub, quantity=sub.quantity + 1)
        sub.refresh_from_db()
    name = (item.actual.get("name") or email.split("@")[0])[:50]
    seat = SeatAssignment.objects.create(
        subscription=sub,
        email=email,
        name=name,
        quota_bytes=None,
        role=SeatRole.USER,
        status=SeatStatus.PENDING,
        assigned_by=person(actor),
    )
    job = drift.drift_adopt(
        item=item,
        actor=actor,
        external_app_user_id=f"seat-{seat.pk}",
        name=name,
        subject=("orders.seatassignment", seat.pk),
    )
    seat.box_user = job.box_user
    seat.save(update_fields=["box_user", "updated_at"])
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="seat.adopted",
        obj=seat,
        after={
            "email": email,
            "box_user_id": item.key,
            "added_seat": cost.adds_seat,
            "charged_now": str(cost.now),
        },
    )
    return seat
