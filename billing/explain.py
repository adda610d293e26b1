"""\"Why this amount\": an invoice line explained for a person, from its ``explain`` working and
its sources (the price version, the charge and the order or change that made it, the
promotion, the tax rate).

What is shown comes only from the line and what it points at, never from anything else:
a customer's retail line points at its seller's retail price, its own order and its own
promotion, so nothing wholesale or of another tenant can appear. Links are made only to pages
the viewer's console has (the caller says which console and organization).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.urls import reverse

from billing.models import Invoice, InvoiceLine, InvoiceSource, LineKind
from catalog import pricing
from portal.money import exponent, format_money

TIMES = "\u00d7"  # the multiplication sign
MINUS = "\u2212"  # the minus sign

KIND_INTRO = {
    LineKind.RECURRING: "Seats billed in advance for the period.",
    LineKind.USAGE: "Pay-per-use, billed after the period it was measured in.",
    LineKind.PRORATED: "A change during a period, charged for the days left in it.",
    LineKind.CREDIT: "A change during a period, credited for the days left in it.",
    LineKind.SETUP: "A one-time fee of the order.",
    LineKind.ADJUSTMENT: "Usage measured after its period was billed.",
    LineKind.DISCOUNT: "A promotion's discount on the seats of the period.",
    LineKind.TAX: "Tax on the lines at this rate, added up and rounded once.",
}

METRIC_LABEL = {
    "storage_gb_month": ("Storage over the included quota", "GB-month", "GB-days over"),
    "extra_active_user": ("Active users above the seats bought", "user-month", "extra user-days"),
}

MODE_LABEL = {
    "flat": "one price for every unit",
    "graduated": "graduated: each unit at the price of its own tier",
    "volume": "volume: every unit at the price of the tier the whole quantity reaches",
}


@dataclass
class Fact:
    label: str
    value: str
    url: str = ""


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    foot: list[str] = field(default_factory=list)
    numeric_from: int = 1  # columns from this index are numbers (right-aligned)


@dataclass
class Explanation:
    line: InvoiceLine
    currency: str
    intro: str
    rule: str
    facts: list[Fact] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    table: Table | None = None
    tiers: list[tuple[str, str]] = field(default_factory=list)
    tier_mode: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def amount(self) -> str:
        return format_money(self.line.amount, self.currency)


@dataclass(frozen=True)
class Viewer:
    """Where the explanation is shown: ``customer`` (the customer portal of ``org``) or
    ``seller`` (the console of ``org``)."""

    kind: str
    org_id: int

    @property
    def is_seller(self) -> bool:
        return self.kind == "seller"


# --- formatting -----------------------------------------------------------------------------


def money(amount, currency: str) -> str:
    return format_money(Decimal(amount), currency)


def unit(amount, currency: str) -> str:
    """A unit price with the currency's decimals, more when it has them (0.0025 USD)."""
    value = Decimal(amount)
    places = max(exponent(currency), -value.normalize().as_tuple().exponent, 0)
    return f"{value:,.{min(places, 4)}f} {currency}"


def num(value) -> str:
    """A quantity without trailing zeros (5, 12.5, 0.3333)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{number.normalize():f}"
    if "." in text:
        whole, frac = text.split(".")
        text = f"{int(whole):,}.{frac}" if whole.lstrip("-").isdigit() else text
    elif text.lstrip("-").isdigit():
        text = f"{int(text):,}"
    return text


def day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def span(start: date | None, end: date | None) -> str:
    """A half-open ``[start, end)`` as its first and last day."""
    if start is None or end is None:
        return ""
    return f"{day(start)} to {day(end - timedelta(days=1))}"


def _seats(n) -> str:
    n = int(n)
    return f"{n} seat{'s' if n != 1 else ''}"


def _date(text) -> date | None:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return None


# --- links ----------------------------------------------------------------------------------


def _order_url(viewer: Viewer, order_id: int) -> str:
    name = "orders_console_order" if viewer.is_seller else "orders_customer_order"
    return reverse(name, kwargs={"org_id": viewer.org_id, "order_id": order_id})


def _subscription_url(viewer: Viewer, sub_id: int) -> str:
    name = "orders_console_subscription" if viewer.is_seller else "orders_customer_subscription"
    return reverse(name, kwargs={"org_id": viewer.org_id, "sub_id": sub_id})


def _price_url(viewer: Viewer, price) -> str:
    # Only a seller's own price page: anyone else sees the figures, not the catalog.
    if viewer.is_seller and price.seller_id == viewer.org_id:
        return reverse("catalog_prices", kwargs={"org_id": viewer.org_id, "plan_id": price.plan_id})
    return ""


def _promotion_url(viewer: Viewer, promotion) -> str:
    if viewer.is_seller and promotion.seller_id == viewer.org_id:
        return reverse(
            "catalog_promotion", kwargs={"org_id": viewer.org_id, "promotion_id": promotion.pk}
        )
    return ""


# --- the explanation ------------------------------------------------------------------------


def explain(line: InvoiceLine, invoice: Invoice, viewer: Viewer, siblings=()) -> Explanation:
    """The explanation of ``line`` of ``invoice``. ``siblings`` are the invoice's other lines
    (a tax line names the lines it is computed on)."""
    cur = invoice.currency
    data = line.explain or {}
    rule = str(data.get("rule") or "")
    result = Explanation(
        line=line,
        currency=cur,
        intro=KIND_INTRO.get(line.kind, ""),
        rule=rule[:1].upper() + rule[1:] if rule else "",
    )
    wholesale = invoice.source == InvoiceSource.WHOLESALE
    if line.kind == LineKind.RECURRING:
        _recurring(result, line, data, cur, viewer, wholesale)
    elif line.kind == LineKind.USAGE:
        _usage(result, line, data, cur, viewer)
    elif line.kind == LineKind.DISCOUNT:
        _discount(result, line, data, cur, viewer)
    elif line.kind == LineKind.TAX:
        _tax(result, line, data, cur, siblings)
    else:
        _charge(result, line, data, cur, viewer, wholesale)
    if line.subscription_id and line.kind != LineKind.TAX:
        sub = line.subscription
        result.facts.append(Fact("Subscription", sub.number, _subscription_url(viewer, sub.pk)))
    return result


def _price_fact(
    line: InvoiceLine, viewer: Viewer, wholesale: bool, usage: bool = False
) -> Fact | None:
    price = line.price
    if price is None:
        return None
    label = "Your cost (price version)" if wholesale else "Price version"
    if usage:
        text = f"in force from {day(price.valid_from)}; its pay-per-use tiers are below"
    else:
        text = (
            f"{unit(price.recurring, price.currency)} per seat, "
            f"{price.get_term_display().lower()}, in force from {day(price.valid_from)}"
        )
    return Fact(label, text, _price_url(viewer, price))


def _recurring(result, line, data, cur, viewer, wholesale) -> None:
    seats = data.get("seats", line.quantity)
    per_seat = data.get("unit_price", line.unit_price)
    result.steps.append(
        f"{_seats(seats)} {TIMES} {unit(per_seat, cur)} per seat = {money(line.amount, cur)}"
    )
    result.facts.append(Fact("Seats", num(seats)))
    result.facts.append(Fact("Per seat", unit(per_seat, cur)))
    result.facts.append(
        Fact("Period", f"{span(line.service_start, line.service_end)} (in advance)")
    )
    fact = _price_fact(line, viewer, wholesale)
    if fact:
        result.facts.append(fact)
    if line.order_id:
        result.facts.append(
            Fact("Ordered with", line.order.number, _order_url(viewer, line.order_id))
        )


def _usage(result, line, data, cur, viewer) -> None:
    metric = line.metric or ""
    what, unit_name, summed = METRIC_LABEL.get(metric, (metric, "unit", "units"))
    days_in_period = int(data.get("days_in_period") or 0)
    term_months = int(data.get("term_months") or 1)
    rows = data.get("days") or []
    columns = [str(c) for c in (data.get("columns") or [])]
    shown = []
    over_total = Decimal(0)
    for row in rows:
        if not row:
            continue
        d = _date(row[0])
        cells = [day(d) if d else str(row[0])]
        for value in row[1:]:
            cells.append("unlimited" if value is None else num(value))
        shown.append(cells)
        with contextlib.suppress(InvalidOperation, IndexError):
            over_total += Decimal(str(row[-1]))
    if columns:
        result.table = Table(
            columns=[c[:1].upper() + c[1:] for c in columns],
            rows=shown,
            foot=["Sum", *[""] * (len(columns) - 2), num(over_total)],
        )
    quantity = Decimal(str(data.get("quantity") or line.quantity))
    measured = int(data.get("days_measured") or len(rows))
    result.facts.append(Fact("What", what))
    result.facts.append(
        Fact("Period", f"{span(line.service_start, line.service_end)} (in arrears)")
    )
    days_text = f"{measured} of {days_in_period} days measured"
    if days_in_period and measured < days_in_period:
        days_text += "; a day not measured counts as nothing over"
    result.facts.append(Fact("Days", days_text))
    months = f" {TIMES} {term_months} months" if term_months != 1 else ""
    if days_in_period:
        result.steps.append(
            f"{num(over_total)} {summed} ÷ {days_in_period} days{months} = "
            f"{num(quantity.quantize(Decimal('0.0001')))} {unit_name}s"
        )
    mode = str(data.get("mode") or "")
    tiers = data.get("tiers") or []
    result.tier_mode = MODE_LABEL.get(mode, mode)
    lower = Decimal(0)
    parsed = []
    for up_to, price in tiers:
        price_d = Decimal(str(price))
        if up_to is None:
            label = f"every {unit_name}" if lower == 0 else f"above {num(lower)} {unit_name}s"
            parsed.append((lower, None, price_d))
        else:
            upper = Decimal(str(up_to))
            label = f"{num(lower)} to {num(upper)} {unit_name}s"
            parsed.append((lower, upper, price_d))
            lower = upper
        result.tiers.append((label, f"{unit(price_d, cur)} per {unit_name}"))
    result.steps.extend(_tier_steps(quantity, parsed, mode, cur, line.amount))
    fact = _price_fact(line, viewer, False, usage=True)
    if fact:
        result.facts.append(fact)


def _tier_steps(quantity: Decimal, tiers, mode: str, cur: str, amount: Decimal) -> list[str]:
    if not tiers:
        return []
    q = quantity.quantize(Decimal("0.0001"))
    if mode in ("volume", "flat"):
        price = next((p for lo, up, p in tiers if up is None or quantity <= up), tiers[-1][2])
        return [f"{num(q)} {TIMES} {unit(price, cur)} = {money(amount, cur)}"]
    parts = []
    for lower, upper, price in tiers:
        if quantity <= lower:
            break
        top = quantity if upper is None else min(quantity, upper)
        parts.append(f"{num((top - lower).quantize(Decimal('0.0001')))} {TIMES} {unit(price, cur)}")
    return [f"{' + '.join(parts)} = {money(amount, cur)}"]


def _discount(result, line, data, cur, viewer) -> None:
    promotion = line.promotion
    if promotion is not None:
        name = promotion.name + (f" (code {promotion.code})" if promotion.code else "")
        result.facts.append(Fact("Promotion", name, _promotion_url(viewer, promotion)))
        result.facts.append(Fact("Terms", promotion.discount_label))
    recurring = data.get("recurring")
    off = money(-line.amount, cur)
    if recurring is not None and data.get("percent") is not None:
        result.steps.append(f"{num(data['percent'])}% of {money(recurring, cur)} = {off} off")
    elif recurring is not None and data.get("fixed") is not None:
        result.steps.append(
            f"{money(data['fixed'], cur)} off, never more than the seats' "
            f"{money(recurring, cur)}: {off} off"
        )
    result.facts.append(Fact("Period", span(line.service_start, line.service_end)))


def _tax(result, line, data, cur, siblings) -> None:
    base = line.taxable_base if line.taxable_base is not None else data.get("base")
    percent = line.tax_percent if line.tax_percent is not None else data.get("percent")
    if line.tax_rate_id:
        result.facts.append(Fact("Tax rate", f"{line.tax_rate.name}, {num(percent)}%"))
    elif percent is not None:
        result.facts.append(Fact("Tax rate", f"{num(percent)}%"))
    taxed = [
        x
        for x in siblings
        if x.kind != LineKind.TAX
        and x.tax_percent is not None
        and x.tax_percent == line.tax_percent
        and x.tax_rate_id == line.tax_rate_id
    ]
    if taxed:
        result.facts.append(Fact("On the lines", ", ".join(str(x.position) for x in taxed)))
    if base is not None and percent is not None:
        exact = Decimal(str(base)) * Decimal(str(percent)) / Decimal(100)
        result.facts.append(Fact("Taxable base", money(base, cur)))
        step = f"{num(percent)}% of {money(base, cur)} = "
        if exact != line.amount:
            step += f"{num(exact)}, rounded half-up to {money(line.amount, cur)}"
        else:
            step += money(line.amount, cur)
        result.steps.append(step)


def _charge(result, line, data, cur, viewer, wholesale) -> None:
    charge = line.charge
    if charge is not None:
        days = pricing.days_between(charge.period_start, charge.period_end)
        left = pricing.days_between(charge.service_start, charge.service_end)
        result.facts.append(
            Fact("Days", f"{span(charge.service_start, charge.service_end)}: {left} of {days}")
        )
        result.facts.append(Fact("Of the period", span(charge.period_start, charge.period_end)))
        if charge.order_id:
            order = charge.order
            label = order.note or order.get_kind_display()
            result.facts.append(
                Fact("Made by", f"{order.number}: {label}", _order_url(viewer, order.pk))
            )
        if line.kind in (LineKind.PRORATED, LineKind.CREDIT) and days:
            sign = MINUS if line.amount < 0 else ""
            result.steps.append(
                f"{sign}{num(line.quantity)} {TIMES} {unit(line.unit_price, cur)} "
                f"{TIMES} {left}/{days} days = {money(line.amount, cur)}"
            )
        elif line.kind == LineKind.SETUP:
            result.steps.append(
                f"{num(line.quantity)} {TIMES} {unit(line.unit_price, cur)} = "
                f"{money(line.amount, cur)}"
            )
    elif line.order_id:
        result.facts.append(Fact("Made by", line.order.number, _order_url(viewer, line.order_id)))
    if line.kind == LineKind.ADJUSTMENT and "billed" in data and "now" in data:
        result.steps.append(
            f"The period's usage now rates at {money(data['now'], cur)}; "
            f"{money(data['billed'], cur)} was billed for it: {money(line.amount, cur)}"
        )
    if wholesale and data.get("wholesale_price"):
        result.facts.append(Fact("Your cost per seat", unit(data["wholesale_price"], cur)))
    if line.service_start and line.service_end and charge is None:
        result.facts.append(Fact("Days", span(line.service_start, line.service_end)))
