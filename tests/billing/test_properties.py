"""Properties of the money arithmetic, checked on many generated cases (hypothesis):

- the prorated parts of a period sum to the whole within one minor unit per split;
- tax is per rate on the sum of the lines at that rate, rounded once (not the sum of each
  line's rounded tax), and a total is its subtotal plus its tax;
- a discount never exceeds the recurring line it reduces, so a discount never makes an
  invoice negative."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.services import rating
from catalog import pricing

CENT = Decimal("0.01")

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
unit_prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("9999.9999"), places=4)


@settings(max_examples=300, deadline=None)
@given(
    amount=amounts,
    days=st.integers(min_value=1, max_value=366),
    cuts=st.lists(st.integers(min_value=1, max_value=365), max_size=8, unique=True),
)
def test_prorated_parts_sum_to_the_whole_within_a_cent_per_split(amount, days, cuts):
    points = sorted({c for c in cuts if c < days})
    edges = [0, *points, days]
    parts = [
        pricing.prorate(amount, days_left=b - a, days_in_period=days, currency="USD")
        for a, b in pairwise(edges)
    ]
    splits = len(edges) - 2
    assert abs(sum(parts) - amount) <= CENT * max(splits, 0) or (
        splits == 0 and sum(parts) == amount
    )
    assert all(p == p.quantize(CENT) for p in parts)


line_amounts = st.decimals(min_value=Decimal("-500.00"), max_value=Decimal("5000.00"), places=2)
rates = st.sampled_from(
    [Decimal("0"), Decimal("5.5"), Decimal("7.7"), Decimal("10"), Decimal("20")]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(line_amounts, rates), min_size=1, max_size=12))
def test_tax_is_per_rate_on_the_sum_of_its_lines(lines):
    rated = [
        rating.RatedLine(
            kind="recurring",
            description="x",
            quantity=Decimal(1),
            unit_price=amount,
            amount=amount,
            tax_rate_id=int(rate * 10),
            tax_percent=rate,
            tax_name="VAT",
        )
        for amount, rate in lines
    ]
    taxes = rating.tax_lines(rated, "USD")
    expected = {}
    for amount, rate in lines:
        expected[rate] = expected.get(rate, Decimal(0)) + amount
    assert {t.tax_percent: t.taxable_base for t in taxes} == expected
    for tax in taxes:
        exact = tax.taxable_base * tax.tax_percent / 100
        assert tax.amount == exact.quantize(CENT, rounding=ROUND_HALF_UP)
    sums = rating.totals([*rated, *taxes], "USD")
    assert sums.subtotal == sum(a for a, _ in lines)
    assert sums.total == sums.subtotal + sums.tax
    assert sums.tax == sum((t.amount for t in taxes), Decimal(0))


@settings(max_examples=300, deadline=None)
@given(
    seats=st.integers(min_value=1, max_value=5000),
    unit=unit_prices,
    percent=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2),
    fixed=st.one_of(st.none(), amounts),
)
def test_a_discount_never_makes_an_invoice_negative(seats, unit, percent, fixed):
    start = date(2027, 1, 1)
    discount = rating.Discount(
        promotion_id=1,
        label="promo",
        percent=None if fixed is not None else percent,
        amount=fixed,
    )
    lines = rating.rate(
        rating.RatingInput(
            currency="USD",
            label="Business",
            advance=rating.Advance(start, start + timedelta(days=31), seats, unit),
            discount=discount,
            tax=rating.Tax(rate_id=1, name="Tax", percent=Decimal("10")),
        )
    )
    recurring = next(x for x in lines if x.kind == "recurring")
    off = sum((x.amount for x in lines if x.kind == "discount"), Decimal(0))
    assert -off <= recurring.amount
    total = rating.totals([*lines, *rating.tax_lines(lines, "USD")], "USD").total
    assert total >= 0
