"""Quotes: the exact lines a subscription would be billed, before anything is ordered.

``quote_build`` answers, for a customer (or a visitor), an offer, a number of seats, a term, a
start day and an optional promotion code: what the first invoice holds and what each later
period holds until the amounts stop changing, line by line and rounded the way invoices round
(each line half-up; tax per rate on the sum of the lines). Ordering freezes what it returns;
the storefront shows it as an estimate.

``cost_for_seller`` answers the same for the wholesale side: what a reseller pays its parent for
those seats (billing case 8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from catalog import pricing, selectors
from catalog.models import (
    DiscountType,
    Metric,
    Offer,
    Plan,
    Price,
    Promotion,
    PromotionDuration,
    TaxRate,
    Term,
)
from portal.errors import ValidationError
from portal.models import Organization
from portal.money import quantize

# The largest amount an order line, an order's total or a charge can hold (12 digits, 2 of
# them decimals).
MAX_INVOICE_AMOUNT = Decimal("9999999999.99")

RECURRING = "recurring"
SETUP = "setup"
DISCOUNT = "discount"
TAX = "tax"


@dataclass(frozen=True)
class QuoteLine:
    kind: str  # recurring | setup | discount | tax
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass
class QuotePeriod:
    """One invoice: the period it bills, its lines (tax last) and its totals."""

    start: date
    end: date  # exclusive
    lines: list[QuoteLine]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    price_id: int
    tax_rate_id: int | None = None

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def charge_lines(self) -> list[QuoteLine]:
        return [line for line in self.lines if line.kind != TAX]


@dataclass(frozen=True)
class UsagePrice:
    """A pay-per-use component of the quoted price, billed by rating after each period."""

    metric: str
    label: str
    mode: str
    tiers: tuple[pricing.Tier, ...]


@dataclass
class PeriodGroup:
    """Consecutive later periods billed the same amounts, shown once."""

    periods: list[QuotePeriod]
    open_ended: bool  # the amounts from then on

    @property
    def period(self) -> QuotePeriod:
        return self.periods[0]


def _shape(period: QuotePeriod) -> tuple:
    return tuple((line.kind, line.quantity, line.unit_price, line.amount) for line in period.lines)


@dataclass
class Quote:
    currency: str
    seller_id: int
    customer_id: int | None
    offer_id: int
    plan_code: str
    plan_name: str
    quantity: int
    term: str
    start_date: date
    first_invoice: QuotePeriod
    later_periods: list[QuotePeriod]
    trial_days: int = 0
    trial_end: date | None = None  # first paid day
    promotion_id: int | None = None
    promotion_code: str = ""
    promotion_label: str = ""
    usage: list[UsagePrice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def periods(self) -> list[QuotePeriod]:
        return [self.first_invoice, *self.later_periods]

    @property
    def later_groups(self) -> list[PeriodGroup]:
        """The later periods, consecutive equal ones together; the last group is what every
        period after it costs too."""
        groups: list[PeriodGroup] = []
        for period in self.later_periods:
            if groups and _shape(groups[-1].period) == _shape(period):
                groups[-1].periods.append(period)
            else:
                groups.append(PeriodGroup([period], open_ended=False))
        if groups:
            groups[-1].open_ended = True
        return groups


def _quantity(value, plan: Plan) -> int:
    try:
        if isinstance(value, float | bool):
            raise TypeError
        quantity = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError.for_field("quantity", "Give the number of seats.") from None
    if quantity < plan.seat_min:
        raise ValidationError.for_field(
            "quantity", f"{plan.name} needs at least {plan.seat_min} seat(s)."
        )
    if quantity > plan.seat_ceiling:
        raise ValidationError.for_field(
            "quantity", f"{plan.name} allows at most {plan.seat_ceiling} seat(s)."
        )
    return quantity


def _term(value: str) -> str:
    if value not in Term.values:
        raise ValidationError.for_field("term", "Choose a monthly or an annual term.")
    return value


def _currency_for(seller: Organization, customer: Organization | None, currency) -> str:
    sold = selectors.seller_currencies(seller)
    if currency:
        currency = str(currency).strip().upper()
        if currency not in sold:
            raise ValidationError.for_field(
                "currency",
                f"{seller.name} does not sell in {currency}; it sells in {', '.join(sold)}.",
                code="currency_not_sold",
            )
        return currency
    if customer is not None and customer.currency in sold:
        return customer.currency
    return sold[0]


def _discount(promotion: Promotion, recurring_amount: Decimal, currency: str) -> Decimal:
    """The (positive) discount a promotion takes off a period's recurring charges."""
    if promotion.discount_type == DiscountType.PERCENT:
        return pricing.percent_of(recurring_amount, promotion.percent, currency)
    if promotion.currency != currency:
        return Decimal(0)
    return min(quantize(promotion.amount, currency), recurring_amount)


def _tax(seller: Organization, customer: Organization | None, day: date) -> TaxRate | None:
    return selectors.tax_rate_for(seller=seller, buyer=customer, on_date=day)


def _period(
    *,
    plan: Plan,
    price: Price,
    quantity: int,
    start: date,
    end: date,
    currency: str,
    with_setup: bool,
    promotion: Promotion | None,
    tax_rate: TaxRate | None,
    label: str,
) -> QuotePeriod:
    lines: list[QuoteLine] = []
    recurring = pricing.line_amount(quantity, price.recurring, currency)
    seats = f"{quantity} seat{'s' if quantity != 1 else ''}"
    lines.append(
        QuoteLine(
            RECURRING,
            f"{label}, {seats}",
            Decimal(quantity),
            quantize(price.recurring, currency),
            recurring,
        )
    )
    if with_setup and price.setup_fee > 0:
        setup = quantize(price.setup_fee, currency)
        lines.append(QuoteLine(SETUP, f"{label}, setup fee", Decimal(1), setup, setup))
    if promotion is not None:
        off = _discount(promotion, recurring, currency)
        if off:
            lines.append(
                QuoteLine(
                    DISCOUNT,
                    f"{promotion.code or promotion.name}: {promotion.discount_label}",
                    Decimal(1),
                    -off,
                    -off,
                )
            )
    subtotal = sum((line.amount for line in lines), Decimal(0))
    subtotal = quantize(subtotal, currency)
    tax = Decimal(0).quantize(subtotal)
    if tax_rate is not None:
        tax = pricing.percent_of(subtotal, tax_rate.rate, currency)
        lines.append(
            QuoteLine(
                TAX,
                f"{tax_rate.name} {tax_rate.rate.normalize():f}% of "
                f"{subtotal:,.{max(0, -subtotal.as_tuple().exponent)}f}",
                Decimal(1),
                tax,
                tax,
            )
        )
    if any(abs(line.amount) > MAX_INVOICE_AMOUNT for line in lines) or (
        subtotal + tax > MAX_INVOICE_AMOUNT
    ):
        raise ValidationError.for_field(
            "quantity",
            f"This comes to more than one invoice can hold ({MAX_INVOICE_AMOUNT:,} {currency}); "
            "order fewer seats.",
        )
    return QuotePeriod(
        start=start,
        end=end,
        lines=lines,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        price_id=price.pk,
        tax_rate_id=tax_rate.pk if tax_rate else None,
    )


def _later_count(promotion: Promotion | None) -> int:
    """Later periods worth listing: every one until the discount has ended, and one more
    that shows the amount from then on."""
    if promotion is not None and promotion.duration == PromotionDuration.REPEATING:
        return max(1, promotion.duration_periods or 1)
    return 1


def _best_automatic(
    promotions: list[Promotion], plan: Plan, recurring: Decimal, currency: str
) -> Promotion | None:
    """Of the automatic promotions for the plan, the one that takes most off the first
    period (the oldest among equals)."""
    best, best_off = None, Decimal(0)
    for promotion in promotions:
        if not selectors.promotion_applies_to(promotion, plan):
            continue
        off = _discount(promotion, recurring, currency)
        if off > best_off:
            best, best_off = promotion, off
    return best


def quote_build(
    *,
    seller: Organization,
    customer: Organization | None,
    offer: Offer,
    quantity,
    term: str,
    start_date: date,
    promotion_code: str | None = None,
    currency: str | None = None,
) -> Quote:
    """The exact invoices of a new subscription.

    - Prices: ``price_for`` for the customer (a per-customer price wins), the version in force
      on each period's first day.
    - Trial: when the offer has one and the customer has not had a trial of the product, the
      trial days are free and the first paid period starts when they end (billing case 7).
    - Promotion: a valid ``promotion_code`` (an invalid one is an error), else the automatic
      promotion taking most off; one promotion per subscription, off recurring charges only,
      for the periods its duration covers counted from the first paid period (case 6).
    - Setup fee on the first invoice; tax per rate on each invoice's lines (cases 1, 9).
    """
    if offer.seller_id != seller.pk:
        raise ValidationError(f"{offer.display_name} is not sold by {seller.name}.")
    if not selectors.offer_sellable(offer):
        raise ValidationError(f"{offer.display_name} is not on sale.")
    if customer is not None and (not customer.is_customer or customer.parent_id != seller.pk):
        raise ValidationError(f"{customer.name} does not buy from {seller.name}.")
    plan = offer.plan
    quantity = _quantity(quantity, plan)
    term = _term(term)
    if not isinstance(start_date, date):
        raise ValidationError.for_field("start_date", "Give the first day as a date.")
    currency = _currency_for(seller, customer, currency)
    notes: list[str] = []

    trial_days = 0
    if offer.trial_days > 0:
        if selectors.trial_eligible(customer=customer, offer=offer):
            trial_days = offer.trial_days
        else:
            notes.append(
                f"{customer.name} has already had a trial of {plan.product.name}, so billing "
                "starts on the first day."
            )
    first_day = pricing.trial_end(start_date, trial_days)

    def price_on(day: date) -> Price:
        return selectors.price_for(
            seller=seller, plan=plan, currency=currency, term=term, buyer=customer, on_date=day
        )

    first_price = price_on(first_day)
    first_recurring = pricing.line_amount(quantity, first_price.recurring, currency)
    promotion = None
    if promotion_code and promotion_code.strip():
        promotion = selectors.promotion_check(
            seller=seller, code=promotion_code, plan=plan, customer=customer, on_date=start_date
        )
        if promotion.discount_type == DiscountType.FIXED and promotion.currency != currency:
            raise ValidationError.for_field(
                "promotion_code",
                f"The code {promotion.code} is for {promotion.currency}, not {currency}.",
                code="invalid_promotion",
            )
    else:
        promotion = _best_automatic(
            selectors.automatic_promotions(seller=seller, on_date=start_date, customer=customer),
            plan,
            first_recurring,
            currency,
        )

    label = offer.display_name
    spans = pricing.periods(first_day, term, 1 + _later_count(promotion))
    invoices = []
    for index, (start, end) in enumerate(spans):
        price = first_price if index == 0 else price_on(start)
        invoices.append(
            _period(
                plan=plan,
                price=price,
                quantity=quantity,
                start=start,
                end=end,
                currency=currency,
                with_setup=index == 0,
                promotion=promotion if promotion and promotion.covers_period(index) else None,
                tax_rate=_tax(seller, customer, start),
                label=label,
            )
        )

    usage = []
    for component in first_price.components.all():
        tiers = pricing.as_tiers(component.tiers.all())
        usage.append(
            UsagePrice(component.metric, Metric(component.metric).label, component.mode, tiers)
        )
    included = plan.included_storage_gb(quantity)
    if included is not None:
        notes.append(f"Includes {included} GB of storage.")
    return Quote(
        currency=currency,
        seller_id=seller.pk,
        customer_id=customer.pk if customer else None,
        offer_id=offer.pk,
        plan_code=plan.code,
        plan_name=plan.name,
        quantity=quantity,
        term=term,
        start_date=start_date,
        first_invoice=invoices[0],
        later_periods=invoices[1:],
        trial_days=trial_days,
        trial_end=first_day if trial_days else None,
        promotion_id=promotion.pk if promotion else None,
        promotion_code=promotion.code if promotion else "",
        promotion_label=(f"{promotion.name}: {promotion.discount_label}" if promotion else ""),
        usage=usage,
        notes=notes,
    )


def cost_for_seller(
    *,
    seller: Organization,
    plan: Plan,
    quantity,
    term: str,
    start_date: date,
    currency: str,
) -> QuotePeriod:
    """What ``seller`` (a reseller) pays its parent for ``quantity`` seats of ``plan`` for the
    period starting on ``start_date``: the parent's wholesale price to it, setup fee included,
    with the parent's tax for it. Billing case 8: 5 seats at 12.00 -> 60.00 before tax."""
    if not seller.is_reseller:
        raise ValidationError(f"{seller.name} buys from no one; it has no wholesale cost.")
    quantity = _quantity(quantity, plan)
    term = _term(term)
    price = selectors.price_for(
        seller=seller.parent,
        plan=plan,
        currency=currency,
        term=term,
        buyer=seller,
        on_date=start_date,
    )
    end = pricing.period_end(start_date, term)
    return _period(
        plan=plan,
        price=price,
        quantity=quantity,
        start=start_date,
        end=end,
        currency=currency,
        with_setup=True,
        promotion=None,
        tax_rate=_tax(seller.parent, seller, start_date),
        label=f"{plan.name} (wholesale)",
    )


def quote_as_dict(quote: Quote) -> dict:
    """A JSON-friendly rendering (amounts as strings)."""

    def line(item: QuoteLine) -> dict:
        return {
            "kind": item.kind,
            "description": item.description,
            "quantity": str(item.quantity),
            "unit_price": str(item.unit_price),
            "amount": str(item.amount),
        }

    def period(item: QuotePeriod) -> dict:
        return {
            "start": item.start.isoformat(),
            "end": item.end.isoformat(),
            "lines": [line(x) for x in item.lines],
            "subtotal": str(item.subtotal),
            "tax": str(item.tax),
            "total": str(item.total),
            "price_id": item.price_id,
            "tax_rate_id": item.tax_rate_id,
        }

    return {
        "currency": quote.currency,
        "seller": quote.seller_id,
        "customer": quote.customer_id,
        "offer": quote.offer_id,
        "plan": quote.plan_code,
        "quantity": quote.quantity,
        "term": quote.term,
        "start_date": quote.start_date.isoformat(),
        "trial_days": quote.trial_days,
        "trial_end": quote.trial_end.isoformat() if quote.trial_end else None,
        "promotion": (
            {"id": quote.promotion_id, "code": quote.promotion_code, "label": quote.promotion_label}
            if quote.promotion_id
            else None
        ),
        "first_invoice": period(quote.first_invoice),
        "later_periods": [period(p) for p in quote.later_periods],
        "usage": [
            {
                "metric": u.metric,
                "label": u.label,
                "mode": u.mode,
                "tiers": [
                    {
                        "up_to": str(t.up_to) if t.up_to is not None else None,
                        "unit_price": str(t.unit_price),
                    }
                    for t in u.tiers
                ],
            }
            for u in quote.usage
        ],
        "notes": quote.notes,
    }


def quote_from_dict(data: dict) -> Quote:
    """The ``Quote`` that ``quote_as_dict`` rendered: what an order froze at submission."""

    def line(item: dict) -> QuoteLine:
        return QuoteLine(
            item["kind"],
            item["description"],
            Decimal(item["quantity"]),
            Decimal(item["unit_price"]),
            Decimal(item["amount"]),
        )

    def period(item: dict) -> QuotePeriod:
        return QuotePeriod(
            start=date.fromisoformat(item["start"]),
            end=date.fromisoformat(item["end"]),
            lines=[line(x) for x in item["lines"]],
            subtotal=Decimal(item["subtotal"]),
            tax=Decimal(item["tax"]),
            total=Decimal(item["total"]),
            price_id=item["price_id"],
            tax_rate_id=item.get("tax_rate_id"),
        )

    promotion = data.get("promotion") or {}
    return Quote(
        currency=data["currency"],
        seller_id=data["seller"],
        customer_id=data["customer"],
        offer_id=data["offer"],
        plan_code=data["plan"],
        plan_name=data.get("plan_name", ""),
        quantity=data["quantity"],
        term=data["term"],
        start_date=date.fromisoformat(data["start_date"]),
        first_invoice=period(data["first_invoice"]),
        later_periods=[period(p) for p in data["later_periods"]],
        trial_days=data["trial_days"],
        trial_end=date.fromisoformat(data["trial_end"]) if data["trial_end"] else None,
        promotion_id=promotion.get("id"),
        promotion_code=promotion.get("code", ""),
        promotion_label=promotion.get("label", ""),
        usage=[
            UsagePrice(
                u["metric"],
                u["label"],
                u["mode"],
                tuple(
                    pricing.Tier(
                        None if t["up_to"] is None else Decimal(t["up_to"]),
                        Decimal(t["unit_price"]),
                    )
                    for t in u["tiers"]
                ),
            )
            for u in data.get("usage", [])
        ],
        notes=list(data.get("notes", [])),
    )


def quote_moved(quote: Quote, start: date) -> Quote:
    """The same quote, amounts untouched, for a subscription starting on ``start`` instead: an
    order approved (or verified) after the day it was to start keeps the prices it was quoted
    and only its dates move."""
    if start == quote.start_date:
        return quote
    first_day = pricing.trial_end(start, quote.trial_days)
    spans = pricing.periods(first_day, quote.term, 1 + len(quote.later_periods))

    def moved(period: QuotePeriod, span: tuple[date, date]) -> QuotePeriod:
        return QuotePeriod(
            start=span[0],
            end=span[1],
            lines=period.lines,
            subtotal=period.subtotal,
            tax=period.tax,
            total=period.total,
            price_id=period.price_id,
            tax_rate_id=period.tax_rate_id,
        )

    periods = [moved(p, s) for p, s in zip(quote.periods, spans, strict=True)]
    return Quote(
        **{
            **quote.__dict__,
            "start_date": start,
            "first_invoice": periods[0],
            "later_periods": periods[1:],
            "trial_end": first_day if quote.trial_days else None,
        }
    )
