"""Moving running subscriptions to a seller's newer price.

A subscription keeps the price version it was sold at. When a seller publishes a new version
it reaches running subscriptions only if the seller chooses to move them: each one is told by
e-mail now and moves at its first renewal on or after ``NOTICE_DAYS`` days from today
(docs/billing.md). The seller sees beforehand how many subscriptions move and by how much per
month: for a price already saved (``price_move_preview``) and for one being edited, before it
is saved (``price_change_effect``). Both rate each subscription's next advance period at its
price and at the new one with the billing run's own rating (seats, the promotion that covers
that period), so the figures are what the invoices will show, before tax."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction

from billing.models import PriceMove, PriceMoveState
from billing.services import gather, rating
from catalog import pricing
from catalog.models import Audience, Plan, Price
from orders.models import Subscription
from portal import access, clock
from portal.actors import Actor, person
from portal.errors import Conflict, ValidationError
from portal.mail import send_branded_email
from portal.models import Membership, Organization, Role
from portal.money import quantize
from portal.services import audit_record

NOTICE_DAYS = 30


@dataclass
class MoveLine:
    subscription: Subscription
    from_price: Price
    monthly_change: Decimal
    # The next advance period's untaxed amount at the current price and at the new one.
    period_before: Decimal = Decimal(0)
    period_after: Decimal = Decimal(0)


@dataclass
class MovePreview:
    price: Price
    lines: list[MoveLine]
    effective_from: object

    @property
    def count(self) -> int:
        return len(self.lines)

    @property
    def monthly_change(self) -> Decimal:
        return sum((x.monthly_change for x in self.lines), Decimal(0))


def _candidates(price: Price):
    """Live subscriptions of the price's seller on an older version of the same price line."""
    qs = Subscription.objects.filter(
        seller=price.seller,
        plan=price.plan,
        currency=price.currency,
        term=price.term,
        status__in=gather.LIVE,
        cancel_at_period_end=False,
    )
    if price.pk is not None:
        qs = qs.exclude(price_id=price.pk)
    if price.buyer_id:
        qs = qs.filter(customer_id=price.buyer_id, price__buyer_id=price.buyer_id)
    else:
        qs = qs.filter(price__buyer__isnull=True)
    scheduled = PriceMove.objects.filter(state=PriceMoveState.SCHEDULED).values("subscription_id")
    return (
        qs.exclude(pk__in=scheduled)
        .filter(price__valid_from__lte=price.valid_from)
        .select_related("customer", "price", "plan", "promotion")
        .order_by("customer__name", "pk")
    )


def _advance_amount(sub: Subscription, unit_price: Decimal) -> Decimal:
    """The untaxed amount the subscription's next renewal bills in advance at ``unit_price``
    per seat, rated as the billing run rates it (seats, then the promotion's discount)."""
    start = sub.current_period_end
    lines = rating.rate(
        rating.RatingInput(
            currency=sub.currency,
            label=sub.plan.name,
            advance=rating.Advance(
                start=start,
                end=pricing.period_end(start, sub.term, sub.anchor_day),
                quantity=sub.quantity,
                unit_price=unit_price,
            ),
            discount=gather.discount_for(sub, gather.paid_index(sub)),
        )
    )
    return rating.totals(lines, sub.currency).subtotal


def _effect(price: Price) -> MovePreview:
    months = pricing.TERM_MONTHS[price.term]
    lines = []
    for sub in _candidates(price):
        before = _advance_amount(sub, sub.unit_price)
        after = _advance_amount(sub, price.recurring)
        monthly = quantize((after - before) / months, price.currency)
        lines.append(MoveLine(sub, sub.price, monthly, before, after))
    effective = max(clock.today() + timedelta(days=NOTICE_DAYS), price.valid_from)
    return MovePreview(price, lines, effective)


def price_move_preview(*, actor: Actor, price: Price) -> MovePreview:
    """How many subscriptions a move to ``price`` reaches and what it changes per month."""
    access.require(actor, "catalog.manage", price.seller)
    return _effect(price)


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError.for_field("recurring", "Give the price per seat.") from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError.for_field("recurring", "Give the price per seat.")
    return amount


def price_change_effect(
    *,
    actor: Actor,
    seller: Organization,
    plan: Plan,
    currency: str,
    term: str,
    recurring,
    buyer: Organization | None = None,
    valid_from=None,
    audience: str = Audience.RETAIL,
) -> MovePreview | None:
    """Before a price is saved: what moving the seller's running subscriptions to it would do
    (how many, and by how much per month each and in total). Saving the price alone moves none
    of them; None for a wholesale price, which running subscriptions are never moved to."""
    access.require(actor, "catalog.manage", seller)
    if audience != Audience.RETAIL:
        return None
    if term not in pricing.TERM_MONTHS:
        raise ValidationError.for_field("term", "Choose monthly or annual.")
    unsaved = Price(
        seller=seller,
        plan=plan,
        audience=audience,
        buyer=buyer,
        currency=currency,
        term=term,
        recurring=_amount(recurring),
        valid_from=valid_from or clock.today(),
    )
    return _effect(unsaved)


@transaction.atomic
def price_move_schedule(*, actor: Actor, price: Price) -> list[PriceMove]:
    """Move every subscription on an older version of the price's line to it, after notice."""
    access.require(actor, "catalog.manage", price.seller)
    if price.audience != Audience.RETAIL:
        raise ValidationError("Only retail prices are moved this way.")
    preview = price_move_preview(actor=actor, price=price)
    if not preview.lines:
        raise Conflict("No running subscription is on an older version of this price.")
    now = clock.now()
    moves = []
    for line in preview.lines:
        move = PriceMove.objects.create(
            subscription=line.subscription,
            from_price=line.from_price,
            to_price=price,
            effective_from=preview.effective_from,
            notice_sent_at=now,
            created_by=person(actor),
        )
        moves.append(move)
        audit_record(
            actor=actor,
            organization=line.subscription.customer,
            action="subscription.price_move_scheduled",
            obj=line.subscription,
            before={"price": str(line.subscription.unit_price)},
            after={"price": str(price.recurring), "from": preview.effective_from.isoformat()},
        )
        _notify(line.subscription, price, preview.effective_from)
    return moves


@transaction.atomic
def price_move_withdraw(*, actor: Actor, move: PriceMove) -> PriceMove:
    move = PriceMove.objects.select_for_update().select_related("subscription").get(pk=move.pk)
    access.require(actor, "catalog.manage", move.subscription.seller)
    if move.state != PriceMoveState.SCHEDULED:
        raise Conflict("Only a scheduled price change can be withdrawn.")
    move.state = PriceMoveState.WITHDRAWN
    move.save(update_fields=["state"])
    audit_record(
        actor=actor,
        organization=move.subscription.customer,
        action="subscription.price_move_withdrawn",
        obj=move.subscription,
    )
    return move


def _notify(sub: Subscription, price: Price, effective) -> None:
    to = list(
        Membership.objects.filter(
            organization=sub.customer, role__in=[Role.ADMIN, Role.BILLING], is_active=True
        ).values_list("user__email", flat=True)
    )
    if not to:
        return
    send_branded_email(
        organization=sub.customer,
        to=to,
        template="billing/email/price_notice",
        context={
            "customer": sub.customer.name,
            "subscription": sub.number,
            "plan": sub.plan.name,
            "old": sub.unit_price,
            "new": price.recurring,
            "currency": price.currency,
            "term": price.get_term_display().lower(),
            "effective": effective,
            "notice_days": NOTICE_DAYS,
        },
    )
