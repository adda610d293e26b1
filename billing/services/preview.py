"""The upcoming invoice: what a subscription's next boundary will bill, line by line, from the
same gathering and the same rating function as the run (reads only).

Usage billed in arrears is counted up to today: the preview says so, and the amount can still
grow until the period ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing.services import gather, rating
from orders.models import Subscription
from portal import clock


@dataclass
class Upcoming:
    subscription: Subscription
    billing_day: date
    currency: str
    lines: list[rating.RatedLine]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    usage_through: date | None = None
    notes: list[str] = field(default_factory=list)


def upcoming_invoice(sub: Subscription, *, today: date | None = None) -> Upcoming | None:
    """What the subscription's next invoice holds, or None when it has no next invoice (it is
    cancelled or still being set up). A missing price is said, not raised."""
    if sub.status not in gather.LIVE:
        return None
    today = today or clock.today()
    boundary = sub.current_period_end
    notes: list[str] = []
    try:
        terms = gather.next_terms(sub)
    except gather.PriceMissing as exc:
        return Upcoming(sub, boundary, sub.currency, [], Decimal(0), Decimal(0), Decimal(0),
                        notes=[exc.message])  # fmt: skip
    in_trial = sub.trial_ends_on is not None and boundary <= sub.trial_ends_on
    usage = None
    if not in_trial:
        usage = gather.usage_for(
            sub,
            start=sub.current_period_start,
            end=boundary,
            plan=sub.plan,
            term=sub.term,
            components=gather.components_of(sub.price),
            until=today,
        )
        if usage is not None:
            notes.append(
                f"Pay-per-use so far, measured up to {today:%d %b %Y}; it is billed for the "
                "whole period when it ends."
            )
    advance = None
    if terms.cancelled:
        notes.append(f"The subscription ends on {boundary:%d %b %Y}; nothing more is billed "
                     "in advance.")  # fmt: skip
    else:
        advance = rating.Advance(
            start=boundary,
            end=terms.period_end,
            quantity=terms.quantity,
            unit_price=terms.unit_price,
            price_id=terms.price.pk if terms.price else None,
        )
        if terms.change is not None:
            notes.append(f"Includes the scheduled change: {terms.change.describe()}.")
        if terms.move is not None:
            notes.append(
                f"The new price of {terms.unit_price} {sub.currency} per seat applies from "
                "this renewal."
            )
        if terms.ends_trial:
            notes.append("Your trial ends; this is the first paid period.")
    tax, exempt = gather.tax_for(sub.seller, sub.customer, boundary)
    lines = rating.rate(
        rating.RatingInput(
            currency=sub.currency,
            label=sub.offer.display_name if sub.offer_id else sub.plan.name,
            advance=advance,
            discount=gather.discount_for(sub, gather.paid_index(sub)) if advance else None,
            usage=usage,
            charges=tuple(gather.as_pending(c) for c in gather.pending_charges(sub)),
            tax=tax,
            exempt=exempt,
        )
    )
    lines += rating.tax_lines(lines, sub.currency)
    sums = rating.totals(lines, sub.currency)
    if exempt:
        notes.append("Reverse charge: no tax is added.")
    return Upcoming(
        subscription=sub,
        billing_day=boundary,
        currency=sub.currency,
        lines=lines,
        subtotal=sums.subtotal,
        tax=sums.tax,
        total=sums.total,
        usage_through=today if usage is not None else None,
        notes=notes,
    )


def upcoming_for_customer(customer, *, today: date | None = None) -> list[Upcoming]:
    """The upcoming invoice of each of the customer's live subscriptions, soonest first."""
    subs = (
        Subscription.objects.filter(customer=customer, status__in=gather.LIVE)
        .select_related("seller", "customer", "plan", "offer", "price", "promotion")
        .order_by("current_period_end", "pk")
    )
    result = [upcoming_invoice(sub, today=today) for sub in subs]
    return [u for u in result if u is not None]
