"""Subscription changes: plan, seats and term, applied now (prorated) or scheduled for the end
of the term."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from billing.models import ChargeKind
from catalog import pricing
from catalog import selectors as catalog_selectors
from catalog.models import Offer, Plan, PlanTransition, Term, TransitionTiming
from orders.models import (
    ChangeState,
    ChangeTiming,
    Order,
    OrderKind,
    OrderState,
    Subscription,
    SubscriptionChange,
)
from orders.services._base import (
    GB,
    _box_change,
    _charge,
    _live,
    _lock_subscription,
    _move_order,
    _offer_for,
    _scheduled,
    _subscription_order,
    holding_seats,
    used_storage_bytes,
)
from portal import access, clock
from portal.actors import Actor
from portal.errors import Conflict, ValidationError
from portal.idempotency import idempotency_claim
from portal.models import Organization
from portal.services import audit_record


@dataclass(frozen=True)
class ChangePlan:
    """What a requested change means, before anything is written."""

    plan: Plan
    quantity: int
    term: str
    timing: str
    effective_on: date
    description: str


def change_preview(
    *,
    subscription: Subscription,
    plan: Plan | None = None,
    quantity: int | None = None,
    term: str | None = None,
) -> ChangePlan:
    """Check a change against the plan's rules and say when it applies. Raises a
    ``ValidationError``/``Conflict`` naming the rule it breaks."""
    sub = subscription
    _live(sub)
    pending = _scheduled(sub)
    base_plan = pending.to_plan if pending else sub.plan
    base_quantity = pending.to_quantity if pending else sub.quantity
    base_term = pending.to_term if pending else sub.term
    new_plan = plan or base_plan
    new_quantity = base_quantity if quantity in (None, "") else _positive(quantity)
    new_term = term or base_term
    if new_term not in Term.values:
        raise ValidationError.for_field("term", "Choose monthly or annual.")
    if (new_plan.pk, new_quantity, new_term) == (base_plan.pk, base_quantity, base_term):
        raise ValidationError("Nothing would change.")
    timings = []
    if new_plan.pk != sub.plan.pk:
        if sub.in_trial and not sub.plan.changes_during_trial:
            raise ValidationError.for_field(
                "plan",
                f"{sub.plan.name} cannot change plan during its trial; the trial ends on "
                f"{sub.trial_ends_on:%d %b %Y}.",
            )
        transition = PlanTransition.objects.filter(from_plan=sub.plan, to_plan=new_plan).first()
        if transition is None:
            raise ValidationError.for_field(
                "plan", f"A {sub.plan.name} subscription cannot change to {new_plan.name}."
            )
        timings.append(transition.timing)
        if not _seller_sells(sub.seller, new_plan):
            raise ValidationError.for_field(
                "plan", f"{sub.seller.name} does not sell {new_plan.name}."
            )
    if new_quantity < new_plan.seat_min or (new_plan.seat_max and new_quantity > new_plan.seat_max):
        raise ValidationError.for_field(
            "quantity",
            f"{new_plan.name} is for {new_plan.seats_label}; {new_quantity} is outside that.",
        )
    if new_quantity > new_plan.seat_ceiling:
        raise ValidationError.for_field(
            "quantity", f"{new_plan.name} allows at most {new_plan.seat_ceiling} seat(s)."
        )
    held = holding_seats(sub)
    if new_quantity < held:
        raise ValidationError.for_field(
            "quantity",
            f"{held} seats are assigned; unassign {held - new_quantity} before going "
            f"down to {new_quantity}.",
        )
    if new_quantity != sub.quantity:
        timings.append(
            TransitionTiming.IMMEDIATE
            if new_quantity > sub.quantity
            else TransitionTiming.END_OF_TERM
        )
    if new_term != sub.term:
        timings.append(TransitionTiming.END_OF_TERM)
    included = new_plan.included_storage_gb(new_quantity)
    used = used_storage_bytes(sub)
    if included is not None and used > included * GB:
        raise ValidationError.for_field(
            "plan",
            f"{new_plan.name} with {new_quantity} seats includes {included} GB, but "
            f"{_gb(used)} GB is in use.",
        )
    if pending is not None or TransitionTiming.END_OF_TERM in timings:
        timing = ChangeTiming.END_OF_TERM
        if TransitionTiming.IMMEDIATE in timings and pending is None:
            raise ValidationError(
                "Part of this change applies now and part at the end of the term; make them one "
                "at a time."
            )
    else:
        timing = ChangeTiming.IMMEDIATE
    effective = clock.today() if timing == ChangeTiming.IMMEDIATE else sub.current_period_end
    parts = []
    if new_plan.pk != sub.plan.pk:
        parts.append(f"{sub.plan.name} → {new_plan.name}")
    if new_quantity != sub.quantity:
        parts.append(f"{sub.quantity} → {new_quantity} seats")
    if new_term != sub.term:
        parts.append(f"{sub.term} → {new_term}")
    return ChangePlan(new_plan, new_quantity, new_term, timing, effective, ", ".join(parts))


def _seller_sells(seller: Organization, plan: Plan) -> bool:
    return Offer.objects.filter(seller=seller, plan=plan, is_active=True).exists()


def _positive(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field("quantity", "Give the number of seats.") from None
    if number < 1:
        raise ValidationError.for_field("quantity", "At least one seat.")
    return number


def _gb(used_bytes: int) -> str:
    return f"{Decimal(used_bytes) / GB:.1f}"


@transaction.atomic
def subscription_change(
    *,
    actor: Actor,
    subscription: Subscription,
    plan: Plan | None = None,
    quantity: int | None = None,
    term: str | None = None,
    idempotency_key: str = "",
) -> Order:
    """Upgrade, downgrade, add or remove seats, change term. Immediate changes are charged
    pro rata now and carried out at Box; end-of-term ones are scheduled."""
    sub = _lock_subscription(subscription)
    access.require(actor, "subscriptions.manage", sub.customer)
    claim = idempotency_claim(
        organization=sub.customer,
        operation="subscription.change",
        key=idempotency_key,
        request={
            "subscription": sub.pk,
            "plan": plan.pk if plan is not None else None,
            "quantity": None if quantity in (None, "") else str(quantity),
            "term": term or None,
        },
        actor=actor,
    )
    if claim is not None and claim.replay:
        return claim.result(Order)
    preview = change_preview(subscription=sub, plan=plan, quantity=quantity, term=term)
    order = _subscription_order(
        sub,
        kind=OrderKind.CHANGE,
        actor=actor,
        plan=preview.plan,
        quantity=preview.quantity,
        term=preview.term,
        timing=preview.timing,
        effective_on=preview.effective_on,
        note=preview.description,
    )
    if claim is not None:
        claim.complete(order)
    if preview.timing == ChangeTiming.END_OF_TERM:
        previous = _scheduled(sub)
        if previous is not None:
            previous.state = ChangeState.CANCELLED
            previous.save(update_fields=["state"])
        _record_change(sub, order, preview, state=ChangeState.SCHEDULED)
        return _move_order(order, OrderState.COMPLETED, actor=actor)
    return _apply_now(order, sub, preview, actor=actor)


def _record_change(sub: Subscription, order: Order, preview: ChangePlan, *, state: str):
    """The change from the subscription as it is now to the preview's target, kept for the
    record (applied) or waiting for its day (scheduled)."""
    return SubscriptionChange.objects.create(
        subscription=sub,
        order=order,
        timing=preview.timing,
        effective_on=preview.effective_on,
        state=state,
        applied_at=clock.now() if state == ChangeState.APPLIED else None,
        from_plan=sub.plan,
        to_plan=preview.plan,
        from_quantity=sub.quantity,
        to_quantity=preview.quantity,
        from_term=sub.term,
        to_term=preview.term,
    )


def _apply_now(order: Order, sub: Subscription, preview: ChangePlan, *, actor) -> Order:
    today = clock.today()
    days_left = pricing.days_between(today, sub.current_period_end)
    days = pricing.days_between(sub.current_period_start, sub.current_period_end)
    span = (today, sub.current_period_end)
    old_plan, old_quantity, old_unit = sub.plan, sub.quantity, sub.unit_price
    new_price, new_unit = sub.price, old_unit
    if preview.plan.pk != old_plan.pk:
        # A new plan is sold at its price of today (the current version of the seller's price).
        new_price = catalog_selectors.price_for(
            seller=sub.seller,
            plan=preview.plan,
            currency=sub.currency,
            term=sub.term,
            buyer=sub.customer,
            on_date=today,
        )
        new_unit = new_price.recurring
    # A trial is free: changes during it cost nothing until the first paid period.
    if not sub.in_trial:
        if preview.plan.pk != old_plan.pk:
            credit = pricing.prorate(
                old_unit * old_quantity,
                days_left=days_left,
                days_in_period=days,
                currency=sub.currency,
            )
            charge = pricing.prorate(
                new_unit * preview.quantity,
                days_left=days_left,
                days_in_period=days,
                currency=sub.currency,
            )
            _charge(
                sub,
                order=order,
                kind=ChargeKind.CREDIT,
                plan=old_plan,
                description=f"Unused {old_plan.name}, {old_quantity} seats, "
                f"{days_left} of {days} days",
                quantity=Decimal(old_quantity),
                unit_price=old_unit,
                amount=-credit,
                service=span,
                key=f"order:{order.pk}:credit",
            )
            _charge(
                sub,
                order=order,
                kind=ChargeKind.PRORATED,
                plan=preview.plan,
                description=f"{preview.plan.name}, {preview.quantity} seats, "
                f"{days_left} of {days} days",
                quantity=Decimal(preview.quantity),
                unit_price=new_unit,
                amount=charge,
                service=span,
                key=f"order:{order.pk}:charge",
            )
        elif preview.quantity > old_quantity:
            added = preview.quantity - old_quantity
            amount = pricing.prorate(
                old_unit * added, days_left=days_left, days_in_period=days, currency=sub.currency
            )
            _charge(
                sub,
                order=order,
                kind=ChargeKind.PRORATED,
                plan=old_plan,
                description=f"{added} more seat{'s' if added != 1 else ''} of {old_plan.name}, "
                f"{days_left} of {days} days",
                quantity=Decimal(added),
                unit_price=old_unit,
                amount=amount,
                service=span,
                key=f"order:{order.pk}:seats",
            )
    _record_change(sub, order, preview, state=ChangeState.APPLIED)
    before = {"plan": old_plan.code, "quantity": old_quantity, "unit_price": str(old_unit)}
    sub.plan, sub.quantity, sub.price, sub.unit_price = (
        preview.plan,
        preview.quantity,
        new_price,
        new_unit,
    )
    offer = _offer_for(sub.seller, preview.plan)
    if offer is not None:
        sub.offer = offer
    sub.save()
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="subscription.changed",
        obj=sub,
        before=before,
        after={"plan": sub.plan.code, "quantity": sub.quantity, "unit_price": str(sub.unit_price)},
    )
    _box_change(sub, order=order, plan_changed=preview.plan.pk != old_plan.pk, actor=actor)
    return _move_order(order, OrderState.PROVISIONING, actor=actor)


@transaction.atomic
def subscription_change_withdraw(*, actor: Actor, change: SubscriptionChange) -> None:
    sub = _lock_subscription(change.subscription)
    access.require(actor, "subscriptions.manage", sub.customer)
    change = SubscriptionChange.objects.select_for_update(of=("self",)).get(pk=change.pk)
    if change.state != ChangeState.SCHEDULED:
        raise Conflict("Only a scheduled change can be withdrawn.")
    change.state = ChangeState.CANCELLED
    change.save(update_fields=["state"])
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="subscription.change_withdrawn",
        obj=sub,
        before={"scheduled": change.describe()},
    )
