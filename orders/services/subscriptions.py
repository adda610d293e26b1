"""Subscriptions: cancellation, suspension, resumption and renewal."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from catalog.models import TransitionTiming
from orders.models import (
    ChangeState,
    ChangeTiming,
    Order,
    OrderKind,
    OrderState,
    Subscription,
    SubscriptionStatus,
)
from orders.services._base import (
    _box_change,
    _lock_subscription,
    _move_order,
    _move_subscription,
    _offer_for,
    _subscription_order,
)
from portal import access, clock
from portal.actors import Actor
from portal.errors import Conflict, ValidationError
from portal.idempotency import idempotency_claim
from portal.services import audit_record
from provisioning import services as provisioning


@transaction.atomic
def subscription_cancel(
    *,
    actor: Actor,
    subscription: Subscription,
    immediately: bool | None = None,
    idempotency_key: str = "",
) -> Order:
    """End a subscription when the plan's rule says: at the end of the period, or now (which
    credits the unused days and cancels the Box account). Staff of a seller may end one now
    whatever the plan says (``immediately=True``)."""
    sub = _lock_subscription(subscription)
    access.require(actor, "subscriptions.manage", sub.customer)
    claim = idempotency_claim(
        organization=sub.customer,
        operation="subscription.cancel",
        key=idempotency_key,
        request={"subscription": sub.pk, "immediately": immediately},
        actor=actor,
    )
    if claim is not None and claim.replay:
        return claim.result(Order)
    plan_says_now = sub.plan.cancellation_timing == TransitionTiming.IMMEDIATE
    if immediately is None:
        immediately = plan_says_now
    if (
        immediately
        and not plan_says_now
        and not access.can(actor, "subscriptions.suspend", sub.customer)
    ):
        raise ValidationError(
            f"{sub.plan.name} subscriptions end at the end of their term; "
            f"this one on {sub.current_period_end:%d %b %Y}."
        )
    if sub.status == SubscriptionStatus.CANCELLED:
        raise Conflict(f"Subscription {sub.number} is already cancelled.")
    if sub.status == SubscriptionStatus.PENDING:
        raise Conflict(f"Subscription {sub.number} is still being set up.")
    if not immediately and sub.cancel_at_period_end:
        raise Conflict(
            f"Subscription {sub.number} already ends on {sub.current_period_end:%d %b %Y}."
        )
    today = clock.today()
    order = _subscription_order(
        sub,
        kind=OrderKind.CANCEL,
        actor=actor,
        timing=ChangeTiming.IMMEDIATE if immediately else ChangeTiming.END_OF_TERM,
        effective_on=today if immediately else sub.current_period_end,
    )
    if claim is not None:
        claim.complete(order)
    if not immediately:
        sub.cancel_at_period_end = True
        sub.save(update_fields=["cancel_at_period_end", "updated_at"])
        audit_record(
            actor=actor,
            organization=sub.customer,
            action="subscription.cancel_scheduled",
            obj=sub,
            after={"ends_on": sub.current_period_end.isoformat()},
        )
        return _move_order(order, OrderState.COMPLETED, actor=actor)
    if not sub.in_trial:
        # The unused days are credited on the invoice that billed them, and what was still
        # waiting to be billed is billed now (billing.services.run.bill_ended_now).
        from billing.services.run import bill_ended_now

        bill_ended_now(subscription=sub, day=today, order=order)
    _move_subscription(sub, SubscriptionStatus.CANCELLED, actor=actor, cancelled_on=today)
    provisioning.box_account_cancel(
        account=sub.box_account,
        actor=actor,
        subject=("orders.order", order.pk),
        idempotency_key=f"order:{order.pk}:box",
    )
    return _move_order(order, OrderState.PROVISIONING, actor=actor)


@transaction.atomic
def subscription_cancel_withdraw(*, actor: Actor, subscription: Subscription) -> Subscription:
    sub = _lock_subscription(subscription)
    access.require(actor, "subscriptions.manage", sub.customer)
    if not sub.cancel_at_period_end or sub.status == SubscriptionStatus.CANCELLED:
        raise Conflict(f"Subscription {sub.number} is not due to end.")
    sub.cancel_at_period_end = False
    sub.save(update_fields=["cancel_at_period_end", "updated_at"])
    audit_record(
        actor=actor, organization=sub.customer, action="subscription.cancel_withdrawn", obj=sub
    )
    return sub


@transaction.atomic
def subscription_suspend(*, actor: Actor, subscription: Subscription, reason: str) -> Subscription:
    """Suspend (e.g. unpaid): the people's Box users become inactive."""
    sub = _lock_subscription(subscription)
    access.require(actor, "subscriptions.suspend", sub.customer)
    reason = (reason or "").strip()[:200]
    if not reason:
        raise ValidationError.for_field("reason", "Say why (the customer sees it).")
    _move_subscription(sub, SubscriptionStatus.SUSPENDED, actor=actor, suspended_reason=reason)
    provisioning.box_account_suspend(account=sub.box_account, actor=actor)
    return sub


@transaction.atomic
def subscription_resume(*, actor: Actor, subscription: Subscription) -> Subscription:
    sub = _lock_subscription(subscription)
    access.require(actor, "subscriptions.suspend", sub.customer)
    back = (
        SubscriptionStatus.TRIAL
        if sub.trial_ends_on and clock.today() < sub.trial_ends_on
        else SubscriptionStatus.ACTIVE
    )
    _move_subscription(sub, back, actor=actor, suspended_reason="")
    provisioning.box_account_resume(account=sub.box_account, actor=actor)
    return sub


def subscription_roll(*, actor: Actor, subscription: Subscription, terms) -> Subscription:
    """Move a (locked) subscription across its current boundary into the period ``terms``
    describe (``billing.services.gather.NextTerms``): end it when due to end, end a trial,
    apply the scheduled change and a due price move, and ask Box for plan or seat changes.
    Billing calls this in the transaction that bills the boundary: renewal and billing are one
    step (billing.services.run)."""
    sub = subscription
    boundary = terms.boundary
    if boundary != sub.current_period_end:
        raise Conflict(f"Subscription {sub.number} is not at {boundary:%d %b %Y}.")
    if terms.cancelled:
        _move_subscription(sub, SubscriptionStatus.CANCELLED, actor=actor, cancelled_on=boundary)
        provisioning.box_account_cancel(
            account=sub.box_account,
            actor=actor,
            idempotency_key=f"subscription:{sub.pk}:cancel",
        )
        return sub
    change = terms.change
    plan_changed = change is not None and change.to_plan_id != sub.plan_id
    seats_changed = change is not None and change.to_quantity != sub.quantity
    if change is not None:
        sub.plan, sub.quantity, sub.term = change.to_plan, change.to_quantity, change.to_term
        if plan_changed:
            offer = _offer_for(sub.seller, sub.plan)
            if offer is not None:
                sub.offer = offer
        change.state, change.applied_at = ChangeState.APPLIED, clock.now()
        change.save(update_fields=["state", "applied_at"])
    if terms.move is not None:
        move = terms.move
        move.state, move.applied_on = "applied", boundary
        move.save(update_fields=["state", "applied_on"])
    if sub.status == SubscriptionStatus.TRIAL:
        _move_subscription(sub, SubscriptionStatus.ACTIVE, actor=actor)
    before = {"price": str(sub.unit_price)}
    sub.current_period_start = boundary
    sub.current_period_end = terms.period_end
    sub.price, sub.unit_price = terms.price, terms.unit_price
    sub.save()
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="subscription.renewed",
        obj=sub,
        before=before,
        after={
            "period_start": boundary.isoformat(),
            "period_end": sub.current_period_end.isoformat(),
            "change": change.describe() if change else "",
            "price": str(sub.unit_price),
        },
    )
    if plan_changed or seats_changed:
        _box_change(sub, order=None, plan_changed=plan_changed, actor=actor)
    return sub


def subscription_renew(
    *, actor: Actor, subscription: Subscription, today: date | None = None
) -> Subscription:
    """Bring the subscription to the period containing ``today``, billing each boundary it
    crosses (billing.services.run.subscription_bill_due). Idempotent."""
    from billing.services.run import subscription_bill_due

    subscription_bill_due(actor=actor, subscription=subscription, day=today or clock.today())
    subscription.refresh_from_db()
    return subscription
