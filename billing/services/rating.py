"""Rating: one pure function from what a subscription's period consists of to invoice lines.

``rate(RatingInput)`` reads no database and keeps no state; the billing run, an order's first
invoice, the upcoming-invoice preview and the tests all call it with inputs gathered elsewhere
(``billing.services.gather``). ``tax_lines`` then taxes a whole invoice's lines. The rules
(docs/billing.md, docs/billing-cases.md):

- recurring seats are billed in advance for the period: ``seats x unit price``, one line;
- a promotion takes its discount off that recurring line only, never more than it (so a
  discount never makes an invoice negative), for the periods it covers;
- pay-per-use is billed in arrears for the period that ended: storage over the included quota
  as the average over the period's days of ``max(0, GB used - GB included)`` (GB-months; an
  annual period counts twelve), and active users above the seats bought likewise (user-months),
  priced flat, graduated or volume as the price's tiers say;
- the charges and credits that changes wrote (prorations, setup fees, usage adjustments) become
  one line each, as recorded;
- during a trial nothing is billed in advance and nothing in arrears;
- each line is rounded half-up to the currency's minor unit (``portal.money.quantize``);
- tax: per rate, on the sum of the invoice's lines at that rate, rounded once (EN 16931
  BR-CO-17); a tax-exempt buyer gets no tax and the invoice says reverse charge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from catalog import pricing
from portal.money import quantize

RECURRING = "recurring"
PRORATED = "prorated"
CREDIT = "credit"
USAGE = "usage"
SETUP = "setup"
DISCOUNT = "discount"
ADJUSTMENT = "adjustment"
TAX = "tax"

STORAGE = "storage_gb_month"
EXTRA_USERS = "extra_active_user"
GB = Decimal(pricing.GB_BYTES)
QUANTITY_PLACES = Decimal("0.0001")


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advance:
    """The period billed in advance: seats at a unit price."""

    start: date
    end: date  # exclusive
    quantity: int
    unit_price: Decimal
    price_id: int | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class Discount:
    """A promotion covering the advance period: a percentage or a fixed amount."""

    promotion_id: int
    label: str
    percent: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True)
class Component:
    """A pay-per-use part of the price in force during the usage period."""

    metric: str  # storage_gb_month | extra_active_user
    mode: str  # flat | graduated | volume
    tiers: tuple[pricing.Tier, ...]
    price_id: int | None = None


@dataclass(frozen=True)
class UsageDay:
    day: date
    storage_bytes: int
    active_users: int
    seats: int  # seats bought that day
    included_gb: int | None  # storage included that day; None is unlimited


@dataclass(frozen=True)
class Usage:
    """The period billed in arrears and what was measured on its days (a day not measured
    counts as no overage)."""

    start: date
    end: date  # exclusive
    term_months: int
    days: tuple[UsageDay, ...]
    components: tuple[Component, ...]


@dataclass(frozen=True)
class PendingCharge:
    charge_id: int
    kind: str  # setup | prorated | credit | adjustment
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    service_start: date
    service_end: date
    order_id: int | None = None
    explain: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Tax:
    rate_id: int | None
    name: str
    percent: Decimal


@dataclass(frozen=True)
class RatingInput:
    currency: str
    label: str  # what is sold, e.g. "Business"
    advance: Advance | None = None
    discount: Discount | None = None
    usage: Usage | None = None
    charges: tuple[PendingCharge, ...] = ()
    tax: Tax | None = None
    exempt: bool = False  # the buyer is tax-exempt (reverse charge)


# --- output ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatedLine:
    kind: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    service_start: date | None = None
    service_end: date | None = None
    price_id: int | None = None
    charge_id: int | None = None
    order_id: int | None = None
    promotion_id: int | None = None
    metric: str = ""
    tax_rate_id: int | None = None
    tax_percent: Decimal | None = None
    tax_name: str = ""
    taxable_base: Decimal | None = None
    explain: dict = field(default_factory=dict)


def _span(start: date, end: date) -> str:
    last = end - timedelta(days=1)
    return f"{start:%d %b %Y} to {last:%d %b %Y}"


def _money(value: Decimal) -> str:
    return f"{value:f}"


def _with_tax(line: RatedLine, inp: RatingInput) -> RatedLine:
    if inp.tax is None or inp.exempt:
        return line
    return RatedLine(
        **{
            **line.__dict__,
            "tax_rate_id": inp.tax.rate_id,
            "tax_percent": inp.tax.percent,
            "tax_name": inp.tax.name,
        }
    )


def _seats(n: int) -> str:
    return f"{n} seat{'s' if n != 1 else ''}"


def rate(inp: RatingInput) -> list[RatedLine]:
    """The untaxed lines of one subscription's share of an invoice (tax is per invoice)."""
    currency = inp.currency
    lines: list[RatedLine] = []
    if inp.advance is not None:
        adv = inp.advance
        recurring = pricing.line_amount(adv.quantity, adv.unit_price, currency)
        lines.append(
            RatedLine(
                RECURRING,
                f"{inp.label}, {_seats(adv.quantity)}, {_span(adv.start, adv.end)}",
                Decimal(adv.quantity),
                adv.unit_price,
                recurring,
                adv.start,
                adv.end,
                price_id=adv.price_id,
                order_id=adv.order_id,
                explain={
                    "rule": "seats x price per seat for the period, billed in advance",
                    "seats": adv.quantity,
                    "unit_price": _money(adv.unit_price),
                    "period": [adv.start.isoformat(), adv.end.isoformat()],
                },
            )
        )
        if inp.discount is not None:
            off = discount_amount(inp.discount, recurring, currency)
            if off:
                lines.append(
                    RatedLine(
                        DISCOUNT,
                        inp.discount.label,
                        Decimal(1),
                        -off,
                        -off,
                        adv.start,
                        adv.end,
                        promotion_id=inp.discount.promotion_id,
                        order_id=adv.order_id,
                        explain={
                            "rule": "the promotion's discount on the recurring line, never "
                            "more than it",
                            "recurring": _money(recurring),
                            "percent": None
                            if inp.discount.percent is None
                            else _money(inp.discount.percent),
                            "fixed": None
                            if inp.discount.amount is None
                            else _money(inp.discount.amount),
                        },
                    )
                )
    for charge in inp.charges:
        lines.append(
            RatedLine(
                charge.kind,
                charge.description,
                charge.quantity,
                charge.unit_price,
                quantize(charge.amount, currency),
                charge.service_start,
                charge.service_end,
                charge_id=charge.charge_id,
                order_id=charge.order_id,
                explain=charge.explain,
            )
        )
    if inp.usage is not None:
        lines.extend(usage_lines(inp.usage, currency))
    return [_with_tax(line, inp) for line in lines]


def discount_amount(discount: Discount, recurring: Decimal, currency: str) -> Decimal:
    """The (positive) amount a promotion takes off a recurring line: never more than it."""
    if recurring <= 0:
        return Decimal(0)
    if discount.percent is not None:
        off = pricing.percent_of(recurring, discount.percent, currency)
    else:
        off = quantize(discount.amount or 0, currency)
    return min(off, recurring)


# --- usage ----------------------------------------------------------------------------------


def storage_over_gb_months(usage: Usage) -> tuple[Decimal, list[list]]:
    """Average daily storage over the included quota, in GB-months, and the daily working."""
    days_in_period = pricing.days_between(usage.start, usage.end)
    zero = Decimal(0)
    over_total = zero
    working = []
    append = working.append
    for day in usage.days:
        used = Decimal(day.storage_bytes) / GB
        included = day.included_gb
        over = zero
        if included is not None:
            over = used - included
            if not over > zero:  # max(0, over): zero itself when not above it
                over = zero
        over_total += over
        # str() of a value quantized to 4 places is its fixed-point text, as _money gives
        append(
            [
                day.day.isoformat(),
                str(used.quantize(QUANTITY_PLACES)),
                included,
                "0.0000" if over is zero else str(over.quantize(QUANTITY_PLACES)),
            ]
        )
    return over_total / days_in_period * usage.term_months, working


def extra_user_months(usage: Usage) -> tuple[Decimal, list[list]]:
    """Average daily active users above the seats bought, in user-months."""
    days_in_period = pricing.days_between(usage.start, usage.end)
    total = 0
    working = []
    for day in usage.days:
        extra = pricing.extra_users(day.active_users, day.seats)
        total += extra
        working.append([day.day.isoformat(), day.active_users, day.seats, extra])
    return Decimal(total) / days_in_period * usage.term_months, working


def usage_lines(usage: Usage, currency: str) -> list[RatedLine]:
    lines = []
    for component in usage.components:
        if component.metric == STORAGE:
            quantity, working = storage_over_gb_months(usage)
            unit, what, columns = (
                "GB-month",
                "Storage over the included quota",
                [
                    "day",
                    "GB used",
                    "GB included",
                    "GB over",
                ],
            )
        elif component.metric == EXTRA_USERS:
            quantity, working = extra_user_months(usage)
            unit, what, columns = (
                "user-month",
                "Active users above the seats bought",
                [
                    "day",
                    "active users",
                    "seats",
                    "extra",
                ],
            )
        else:  # pragma: no cover - the catalog knows no other metric
            continue
        if quantity <= 0:
            continue
        raw = pricing.tiered_amount(quantity, component.tiers, mode=component.mode)
        amount = quantize(raw, currency)
        shown = quantity.quantize(QUANTITY_PLACES)
        unit_price = (raw / quantity).quantize(QUANTITY_PLACES) if quantity else Decimal(0)
        lines.append(
            RatedLine(
                USAGE,
                f"{what}, {_money(shown.normalize())} {unit}s, {_span(usage.start, usage.end)}",
                shown,
                unit_price,
                amount,
                usage.start,
                usage.end,
                price_id=component.price_id,
                metric=component.metric,
                explain={
                    "rule": f"average over the period's days, in {unit}s, priced {component.mode}",
                    "days_in_period": pricing.days_between(usage.start, usage.end),
                    "days_measured": len(usage.days),
                    "term_months": usage.term_months,
                    "quantity": _money(quantity.quantize(Decimal("0.000001"))),
                    "mode": component.mode,
                    "tiers": [
                        [None if t.up_to is None else _money(t.up_to), _money(t.unit_price)]
                        for t in component.tiers
                    ],
                    "columns": columns,
                    "days": working,
                },
            )
        )
    return lines


# --- tax ------------------------------------------------------------------------------------


def tax_lines(lines: Sequence[RatedLine], currency: str) -> list[RatedLine]:
    """One tax line per rate: the rate applied to the sum of the lines at that rate, rounded
    once. Lines without a rate (tax-exempt buyers, sellers without tax) are not taxed."""
    bases: dict[tuple, Decimal] = {}
    names: dict[tuple, str] = {}
    for line in lines:
        if line.kind == TAX or line.tax_percent is None:
            continue
        key = (line.tax_rate_id, line.tax_percent)
        bases[key] = bases.get(key, Decimal(0)) + line.amount
        names[key] = line.tax_name
    result = []
    for (rate_id, percent), base in bases.items():
        base = quantize(base, currency)
        tax = pricing.percent_of(base, percent, currency)
        result.append(
            RatedLine(
                TAX,
                f"{names[(rate_id, percent)] or 'Tax'} {percent.normalize():f}% of "
                f"{base:,.{max(0, -base.as_tuple().exponent)}f}",
                Decimal(1),
                tax,
                tax,
                tax_rate_id=rate_id,
                tax_percent=percent,
                tax_name=names[(rate_id, percent)],
                taxable_base=base,
                explain={
                    "rule": "tax per rate on the sum of the invoice's lines at that rate, "
                    "rounded once",
                    "base": _money(base),
                    "percent": _money(percent),
                },
            )
        )
    return result


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def totals(lines: Iterable[RatedLine], currency: str) -> Totals:
    lines = list(lines)
    subtotal = quantize(sum((x.amount for x in lines if x.kind != TAX), Decimal(0)), currency)
    tax = quantize(sum((x.amount for x in lines if x.kind == TAX), Decimal(0)), currency)
    return Totals(subtotal, tax, subtotal + tax)
