"""Pricing arithmetic: pure functions of Decimals and dates, no database.

Rating, ordering and quotes all compute amounts through these functions so the conventions of
the worked billing cases hold everywhere:

- a billing period is the half-open interval ``[start, end)``; monthly periods run from the
  anniversary day to the same day of the next month;
- proration is by whole days, ``amount x days_left / days_in_period``;
- a line is rounded once, half-up to the currency's minor unit, through
  ``portal.money.quantize`` (the only rounding in the project);
- storage is counted in GB of 1,073,741,824 bytes;
- graduated tiers price each unit at its own tier, volume tiers price every unit at the tier the
  whole quantity reaches.

Month ends: a period anchored on a day a month does not have ends on that month's last day and
the next period returns to the anchor day (anchor 31: Jan 31 -> Feb 28 (29 in a leap year) ->
Mar 31 -> Apr 30 -> May 31). Annual periods keep their month and follow the same rule for the
day (anchor Feb 29: 2028-02-29 -> 2029-02-28 -> 2030-02-28 -> 2031-02-28 -> 2032-02-29).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from portal.money import MoneyError, quantize, to_decimal

GB_BYTES = 1_073_741_824

MONTHLY = "monthly"
ANNUAL = "annual"
TERM_MONTHS = {MONTHLY: 1, ANNUAL: 12}

FLAT = "flat"
GRADUATED = "graduated"
VOLUME = "volume"
TIER_MODES = (FLAT, GRADUATED, VOLUME)


class PricingError(ValueError):
    """Input the arithmetic cannot work with (the message is meant for a person)."""


# --- tiers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    """Units above the previous tier's ``up_to`` and up to this ``up_to`` (inclusive) cost
    ``unit_price`` each. The last tier has ``up_to=None``: no upper bound."""

    up_to: Decimal | None
    unit_price: Decimal


def _number(value, what: str) -> Decimal:
    try:
        return to_decimal(value)
    except MoneyError as exc:
        raise PricingError(f"{what}: {exc}") from None


def as_tiers(tiers: Iterable) -> tuple[Tier, ...]:
    """Normalise and check a tier list. Accepts ``Tier``s, ``(up_to, unit_price)`` pairs,
    mappings with those keys, or objects with those attributes (model rows)."""
    result: list[Tier] = []
    for raw in tiers:
        if isinstance(raw, Tier):
            up_to, unit_price = raw.up_to, raw.unit_price
        elif isinstance(raw, dict):
            up_to, unit_price = raw.get("up_to"), raw.get("unit_price")
        elif isinstance(raw, tuple | list):
            if len(raw) != 2:
                raise PricingError("A tier is a pair of (up to, unit price).")
            up_to, unit_price = raw
        else:
            up_to, unit_price = raw.up_to, raw.unit_price
        if unit_price is None or unit_price == "":
            raise PricingError(f"Tier {len(result) + 1} has no unit price.")
        price = _number(unit_price, f"Tier {len(result) + 1} unit price")
        bound = None if up_to in (None, "") else _number(up_to, f"Tier {len(result) + 1} limit")
        result.append(Tier(bound, price))
    check_tiers(result)
    return tuple(result)


def check_tiers(tiers: Sequence[Tier]) -> None:
    """Tiers must be contiguous, in increasing order, end without a bound and cost no less
    than zero; anything else (overlapping or unbounded-in-the-middle tiers) is refused."""
    if not tiers:
        raise PricingError("Give at least one tier.")
    previous = Decimal(0)
    for index, tier in enumerate(tiers, start=1):
        if tier.unit_price < 0:
            raise PricingError(f"Tier {index}: a unit price cannot be negative.")
        last = index == len(tiers)
        if tier.up_to is None:
            if not last:
                raise PricingError(
                    f"Tier {index} has no upper limit but is not the last tier; tiers overlap."
                )
            continue
        if last:
            raise PricingError(
                f"The last tier ends at {tier.up_to}; leave its limit empty so every "
                "quantity has a price."
            )
        if tier.up_to <= previous:
            raise PricingError(
                f"Tier {index} ends at {tier.up_to}, which is not above the previous tier's "
                f"limit {previous}; tiers overlap."
            )
        previous = tier.up_to


def tiered_amount(quantity: Decimal, tiers, *, mode: str) -> Decimal:
    """The amount for ``quantity`` units, unrounded (the caller rounds the line).

    ``graduated``: each unit at the price of its own tier. ``volume``: every unit at the price
    of the tier the quantity reaches. ``flat`` is a single tier and computes as either.
    Billing case 5: 80 units, tiers (50 at 0.10, above at 0.08): 7.40 graduated, 6.40 volume.
    """
    if mode not in TIER_MODES:
        raise PricingError(f"Unknown tier mode {mode!r}; use graduated, volume or flat.")
    qty = _number(quantity, "Quantity")
    if qty < 0:
        raise PricingError("A quantity cannot be negative.")
    checked = as_tiers(tiers)
    if mode == FLAT and len(checked) != 1:
        raise PricingError("A flat price has exactly one tier.")
    if mode in (VOLUME, FLAT):
        return qty * unit_price_at(qty, checked)
    total = Decimal(0)
    lower = Decimal(0)
    for tier in checked:
        if qty <= lower:
            break
        upper = qty if tier.up_to is None else min(qty, tier.up_to)
        total += (upper - lower) * tier.unit_price
        lower = upper
    return total


def unit_price_at(quantity: Decimal, tiers: Sequence[Tier]) -> Decimal:
    """The unit price of the tier that ``quantity`` falls in (tiers already checked)."""
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            return tier.unit_price
    return tiers[-1].unit_price


def tier_intervals(*tier_lists: Sequence[Tier]) -> list[tuple[Decimal, Decimal | None]]:
    """The quantity intervals ``(lower, upper]`` on which every given tier list has a constant
    unit price: the union of their limits. Used to compare a price with its cost tier by tier."""
    bounds = sorted({t.up_to for tiers in tier_lists for t in tiers if t.up_to is not None})
    intervals: list[tuple[Decimal, Decimal | None]] = []
    lower = Decimal(0)
    for bound in bounds:
        intervals.append((lower, bound))
        lower = bound
    intervals.append((lower, None))
    return intervals


# --- amounts --------------------------------------------------------------------------------------


def line_amount(quantity, unit_price, currency: str) -> Decimal:
    """``quantity x unit_price``, rounded as a line."""
    return quantize(_number(quantity, "Quantity") * _number(unit_price, "Unit price"), currency)


def percent_of(amount, percent, currency: str) -> Decimal:
    """``percent``% of ``amount``, rounded as a line (discounts, tax)."""
    value = _number(amount, "Amount") * _number(percent, "Percentage") / Decimal(100)
    return quantize(value, currency)


def prorate(amount, *, days_left: int, days_in_period: int, currency: str) -> Decimal:
    """``amount x days_left / days_in_period``, rounded as a line.

    ``days_left`` counts from the change day (inclusive) to the period end (exclusive).
    Billing case 2: 3 x 15.00 x 9/31 -> 13.06; case 3: -15.00 x 21/31 -> -10.16.
    """
    for name, value in (("days_left", days_left), ("days_in_period", days_in_period)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise PricingError(f"{name} must be a whole number of days.")
    if days_in_period <= 0:
        raise PricingError("A period has at least one day.")
    if not 0 <= days_left <= days_in_period:
        raise PricingError(f"days_left must be between 0 and {days_in_period}.")
    value = _number(amount, "Amount") * days_left / Decimal(days_in_period)
    return quantize(value, currency)


def storage_overage_gb_months(
    daily_used_bytes: list[int], included_gb, days_in_period: int
) -> Decimal:
    """The storage overage of a period: the average over the period's days of
    ``max(0, used_GB - included_GB)``, unrounded. For a monthly period this is GB-months.

    One value per measured day; a day without a measurement counts as no overage (the divisor
    is always the period's length). Billing case 4: 90 GB on 10 days and 130 GB on 20 days of
    a 30-day month, 100 GB included: 20 GB-months.
    """
    if not isinstance(days_in_period, int) or days_in_period <= 0:
        raise PricingError("A period has at least one day.")
    if len(daily_used_bytes) > days_in_period:
        raise PricingError(
            f"{len(daily_used_bytes)} daily values for a period of {days_in_period} days."
        )
    included = _number(included_gb, "Included storage")
    if included < 0:
        raise PricingError("Included storage cannot be negative.")
    over = Decimal(0)
    for used in daily_used_bytes:
        if not isinstance(used, int) or isinstance(used, bool) or used < 0:
            raise PricingError("Daily storage is a whole, non-negative number of bytes.")
        excess = Decimal(used) / GB_BYTES - included
        if excess > 0:
            over += excess
    return over / days_in_period


def extra_users(active_users: int, seats: int) -> int:
    """Active users above the purchased seats (never negative)."""
    return max(0, active_users - seats)


# --- periods --------------------------------------------------------------------------------------


def _check_term(term: str) -> int:
    try:
        return TERM_MONTHS[term]
    except KeyError:
        raise PricingError(f"Unknown billing term {term!r}; use monthly or annual.") from None


def add_months(day: date, months: int, anchor_day: int | None = None) -> date:
    """``day`` moved by ``months``, landing on ``anchor_day`` (default: ``day.day``) or on the
    month's last day when the month is shorter."""
    anchor = anchor_day or day.day
    if not 1 <= anchor <= 31:
        raise PricingError("The anchor day is between 1 and 31.")
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def period_end(start: date, term: str, anchor_day: int | None = None) -> date:
    """The exclusive end of the period beginning on ``start``."""
    return add_months(start, _check_term(term), anchor_day)


def periods(
    start: date, term: str, count: int, anchor_day: int | None = None
) -> list[tuple[date, date]]:
    """``count`` consecutive periods ``[start, end)`` from ``start``, all anchored on
    ``anchor_day`` (default: the start's day)."""
    _check_term(term)
    anchor = anchor_day or start.day
    result = []
    current = start
    for _ in range(count):
        end = period_end(current, term, anchor)
        result.append((current, end))
        current = end
    return result


def period_containing(
    first_start: date, term: str, day: date, anchor_day: int | None = None
) -> tuple[date, date]:
    """The period of a subscription that began on ``first_start`` which contains ``day``."""
    if day < first_start:
        raise PricingError("The day is before the first period.")
    anchor = anchor_day or first_start.day
    start = first_start
    while True:
        end = period_end(start, term, anchor)
        if day < end:
            return start, end
        start = end


def days_between(start: date, end: date) -> int:
    """Whole days in ``[start, end)``."""
    return (end - start).days


def trial_end(start: date, days: int) -> date:
    """The first day after a trial of ``days`` days beginning on ``start`` (billing case 7:
    14 days from 2027-01-01 end on 2027-01-15, the first paid day)."""
    if days < 0:
        raise PricingError("A trial cannot be negative.")
    return start + timedelta(days=days)
