"""Gathering what a subscription's next boundary consists of, for the rating function: the
terms of the next period (scheduled changes, price moves, the end of a trial or of the
subscription), the usage of the period that ends, the charges waiting, the promotion and the
tax. Reads only: the billing run applies what it gathers, the preview only shows it.

Retail lines are billed by the subscription's seller; wholesale lines by every seller above it,
each to the reseller directly below it (``wholesale_chain``), at that reseller's cost.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from billing.models import BilledPart, BilledPeriod, Charge, ChargeKind, PriceMove, UsageRecord
from billing.services import rating
from catalog import pricing
from catalog import selectors as catalog_selectors
from catalog.models import Plan, Price, TaxRate
from orders.models import ChangeState, Subscription, SubscriptionChange, SubscriptionStatus
from portal import clock
from portal.errors import ApplicationError
from portal.models import Organization

LIVE = (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)


class PriceMissing(ApplicationError):
    """No price can be found for a period: the subscription is flagged to staff."""

    status_code = 409
    code = "no_price"


@dataclass(frozen=True)
class NextTerms:
    """What the subscription becomes at its next boundary."""

    boundary: date
    cancelled: bool
    ends_trial: bool
    plan: Plan
    quantity: int
    term: str
    price: Price | None
    unit_price: Decimal
    period_end: date | None
    change: SubscriptionChange | None
    move: PriceMove | None

    @property
    def plan_changed(self) -> bool:
        return self.change is not None and self.change.to_plan_id != self.change.from_plan_id


def _price_for(*, seller, plan, currency, term, buyer, on_date) -> Price:
    """The price in force on ``on_date``; when there was none then, the one in force today
    (a price staff added to fix a flagged subscription bills the period it was missing for)."""
    try:
        return catalog_selectors.price_for(
            seller=seller, plan=plan, currency=currency, term=term, buyer=buyer, on_date=on_date
        )
    except ApplicationError as exc:
        today = clock.today()
        if today > on_date:
            try:
                return catalog_selectors.price_for(
                    seller=seller, plan=plan, currency=currency, term=term, buyer=buyer,
                    on_date=today,
                )  # fmt: skip
            except ApplicationError:
                pass
        raise PriceMissing(exc.message) from None


def scheduled_change(sub: Subscription, boundary: date) -> SubscriptionChange | None:
    return (
        sub.changes.filter(state=ChangeState.SCHEDULED, effective_on__lte=boundary)
        .select_related("to_plan", "from_plan")
        .order_by("-id")
        .first()
    )


def due_move(sub: Subscription, boundary: date) -> PriceMove | None:
    return (
        PriceMove.objects.filter(subscription=sub, state="scheduled", effective_from__lte=boundary)
        .select_related("to_price")
        .first()
    )


def next_terms(sub: Subscription) -> NextTerms:
    """The terms of the period after the current one. Raises ``PriceMissing`` when the seller
    has no price for what the subscription becomes."""
    boundary = sub.current_period_end
    ends_trial = sub.status == SubscriptionStatus.TRIAL or (
        sub.trial_ends_on is not None and sub.trial_ends_on == boundary
    )
    if sub.cancel_at_period_end:
        return NextTerms(
            boundary, True, ends_trial, sub.plan, sub.quantity, sub.term, sub.price,
            sub.unit_price, None, None, None,
        )  # fmt: skip
    change = scheduled_change(sub, boundary)
    plan, quantity, term = sub.plan, sub.quantity, sub.term
    if change is not None:
        plan, quantity, term = change.to_plan, change.to_quantity, change.to_term
    move = None
    if change is not None and (plan.pk != sub.plan_id or term != sub.term):
        # A new plan or term is sold at the seller's price of the day it starts.
        price = _price_for(
            seller=sub.seller,
            plan=plan,
            currency=sub.currency,
            term=term,
            buyer=sub.customer,
            on_date=boundary,
        )
    else:
        move = due_move(sub, boundary)
        if move is not None:
            price = move.to_price
        elif sub.price_id is not None:
            price = sub.price  # kept: a seller's new price does not reach it by itself
        else:
            price = _price_for(
                seller=sub.seller,
                plan=plan,
                currency=sub.currency,
                term=term,
                buyer=sub.customer,
                on_date=sub.current_period_start,
            )
    return NextTerms(
        boundary=boundary,
        cancelled=False,
        ends_trial=ends_trial,
        plan=plan,
        quantity=quantity,
        term=term,
        price=price,
        unit_price=price.recurring,
        period_end=pricing.period_end(boundary, term, sub.anchor_day),
        change=change,
        move=move,
    )


def paid_index(sub: Subscription) -> int:
    """How many paid periods the subscription's seller has billed in advance before."""
    return BilledPeriod.objects.filter(
        subscription=sub, seller_id=sub.seller_id, part=BilledPart.ADVANCE
    ).count()


def discount_for(sub: Subscription, index: int) -> rating.Discount | None:
    promotion = sub.promotion
    if promotion is None or not promotion.covers_period(index):
        return None
    if promotion.discount_type == "fixed" and promotion.currency != sub.currency:
        return None
    return rating.Discount(
        promotion_id=promotion.pk,
        label=f"{promotion.code or promotion.name}: {promotion.discount_label}",
        percent=promotion.percent if promotion.discount_type == "percent" else None,
        amount=promotion.amount if promotion.discount_type == "fixed" else None,
    )


def components_of(price: Price | None) -> tuple[rating.Component, ...]:
    if price is None:
        return ()
    return tuple(
        rating.Component(
            metric=c.metric,
            mode=c.mode,
            tiers=pricing.as_tiers(c.tiers.all()),
            price_id=price.pk,
        )
        for c in price.components.all()
    )


def usage_for(
    sub: Subscription,
    *,
    start: date,
    end: date,
    plan: Plan,
    term: str,
    components: tuple[rating.Component, ...],
    until: date | None = None,
) -> rating.Usage | None:
    """The usage of ``[start, end)`` (up to ``until`` for a period still running), or None
    when the price has no pay-per-use part."""
    if not components:
        return None
    last = end if until is None else min(end, until)
    rows = UsageRecord.objects.filter(
        subscription=sub,
        day__gte=start,
        day__lt=last,
        metric__in=("storage_bytes", "active_users"),
    ).values_list("day", "metric", "value")
    by_day: dict[date, dict[str, int]] = {}
    for day, metric, value in rows:
        by_day.setdefault(day, {})[metric] = value
    seats = seats_by_day(sub, start, last)
    days = tuple(
        rating.UsageDay(
            day=day,
            storage_bytes=values.get("storage_bytes", 0),
            active_users=values.get("active_users", 0),
            seats=seats.get(day, sub.quantity),
            included_gb=plan.included_storage_gb(seats.get(day, sub.quantity)),
        )
        for day, values in sorted(by_day.items())
    )
    return rating.Usage(
        start=start,
        end=end,
        term_months=pricing.TERM_MONTHS[term],
        days=days,
        components=components,
    )


def seats_by_day(sub: Subscription, start: date, end: date) -> dict[date, int]:
    """The seats bought on each day of ``[start, end)``, following the changes applied during
    the period (those applied at its start are already the subscription's quantity)."""
    changes = list(
        sub.changes.filter(state=ChangeState.APPLIED, effective_on__gt=start, effective_on__lt=end)
        .order_by("effective_on", "id")
        .values_list("effective_on", "from_quantity", "to_quantity")
    )
    quantity = changes[0][1] if changes else sub.quantity
    result, index, day = {}, 0, start
    while day < end:
        while index < len(changes) and changes[index][0] <= day:
            quantity = changes[index][2]
            index += 1
        result[day] = quantity
        day += timedelta(days=1)
    return result


def pending_charges(sub: Subscription, *, before: date | None = None) -> list[Charge]:
    """The subscription's charges its seller has not billed yet (up to ``before``)."""
    qs = Charge.objects.filter(subscription=sub, invoiced_at__isnull=True).order_by("id")
    if before is not None:
        qs = qs.filter(service_start__lt=before)
    return list(qs)


def as_pending(charge: Charge) -> rating.PendingCharge:
    return rating.PendingCharge(
        charge_id=charge.pk,
        kind=charge.kind,
        description=charge.description,
        quantity=charge.quantity,
        unit_price=charge.unit_price,
        amount=charge.amount,
        service_start=charge.service_start,
        service_end=charge.service_end,
        order_id=charge.order_id,
        explain=charge.explain
        or {
            "rule": "recorded when the change was made",
            "service": [charge.service_start.isoformat(), charge.service_end.isoformat()],
            "period": [charge.period_start.isoformat(), charge.period_end.isoformat()],
        },
    )


def tax_for(seller: Organization, buyer: Organization, on_date: date) -> tuple:
    """(the tax the seller charges the buyer on that day or None, whether the buyer is
    exempt)."""
    if buyer.tax_exempt:
        return None, True
    rate: TaxRate | None = catalog_selectors.tax_rate_for(
        seller=seller, buyer=buyer, on_date=on_date
    )
    if rate is None:
        return None, False
    return rating.Tax(rate_id=rate.pk, name=rate.name, percent=rate.rate), False


# --- wholesale ------------------------------------------------------------------------------


def wholesale_chain(sub: Subscription) -> list[tuple[Organization, Organization]]:
    """(seller, reseller) pairs above the subscription: each reseller from the customer's
    seller upwards pays the seller above it. None for a sandbox customer: what it is billed
    is not real, so no reseller pays for it."""
    if sub.customer.sandbox:
        return []
    ids = sub.customer.ancestor_ids[:-1]  # the customer's sellers, root first
    orgs = {o.pk: o for o in Organization.objects.filter(pk__in=ids)}
    chain = []
    for upper, lower in pairwise(ids):
        if orgs[lower].is_reseller:
            chain.append((orgs[upper], orgs[lower]))
    chain.reverse()  # nearest first
    return chain


def wholesale_month_day(day: date) -> date:
    """The billing day of wholesale lines for ``day``: the first day of the next month."""
    last = calendar.monthrange(day.year, day.month)[1]
    return date(day.year, day.month, last) + timedelta(days=1)


def wholesale_charge(
    charge: Charge, *, seller: Organization, reseller: Organization
) -> rating.PendingCharge | None:
    """A retail charge mirrored at the reseller's cost: setup fees at the wholesale setup fee,
    prorations at the wholesale price of the charge's plan for the same days. Usage
    adjustments are not mirrored."""
    if charge.kind == ChargeKind.ADJUSTMENT or charge.plan_id is None:
        return None
    sub = charge.subscription
    price = _price_for(
        seller=seller,
        plan=charge.plan,
        currency=charge.currency,
        term=sub.term,
        buyer=reseller,
        on_date=charge.period_start,
    )
    if charge.kind == ChargeKind.SETUP:
        if price.setup_fee <= 0:
            return None
        amount = pricing.line_amount(1, price.setup_fee, charge.currency)
        quantity, unit = Decimal(1), price.setup_fee
    else:
        days_left = pricing.days_between(charge.service_start, charge.service_end)
        days = pricing.days_between(charge.period_start, charge.period_end)
        amount = pricing.prorate(
            price.recurring * charge.quantity,
            days_left=days_left,
            days_in_period=days,
            currency=charge.currency,
        )
        if charge.kind == ChargeKind.CREDIT:
            amount = -amount
        quantity, unit = charge.quantity, price.recurring
    return rating.PendingCharge(
        charge_id=charge.pk,
        kind=charge.kind,
        description=f"{sub.customer.name}: {charge.description} (wholesale)",
        quantity=quantity,
        unit_price=unit,
        amount=amount,
        service_start=charge.service_start,
        service_end=charge.service_end,
        order_id=charge.order_id,
        explain={
            "rule": "the customer's charge at your cost of the plan for the same days",
            "wholesale_price": str(price.recurring),
            "price_id": price.pk,
        },
    )
