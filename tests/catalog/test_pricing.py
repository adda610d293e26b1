"""The pure pricing primitives, with the numbers of docs/billing-cases.md."""

from datetime import date
from decimal import Decimal

import pytest

from catalog import pricing
from catalog.pricing import GB_BYTES, PricingError, Tier

CASE5_TIERS = [("50", "0.10"), (None, "0.08")]


def test_case_2_seats_added_mid_period():
    # 3 seats added on 2027-01-23: 9 of January's 31 days left.
    days_left = pricing.days_between(date(2027, 1, 23), date(2027, 2, 1))
    assert days_left == 9
    amount = pricing.prorate(
        Decimal("3") * Decimal("15.00"), days_left=9, days_in_period=31, currency="USD"
    )
    assert amount == Decimal("13.06")


def test_case_3_upgrade_credit_and_charge():
    start, end = pricing.period_containing(date(2027, 3, 1), "monthly", date(2027, 3, 11))
    assert (start, end) == (date(2027, 3, 1), date(2027, 4, 1))
    days_left = pricing.days_between(date(2027, 3, 11), end)
    days = pricing.days_between(start, end)
    assert (days_left, days) == (21, 31)
    credit = pricing.prorate(Decimal("-15.00"), days_left=21, days_in_period=31, currency="USD")
    charge = pricing.prorate(Decimal("45.00"), days_left=21, days_in_period=31, currency="USD")
    assert credit == Decimal("-10.16")
    assert charge == Decimal("30.48")
    assert credit + charge == Decimal("20.32")


def test_case_4_storage_overage_in_gb_months():
    used = [90 * GB_BYTES] * 10 + [130 * GB_BYTES] * 20
    over = pricing.storage_overage_gb_months(used, 100, 30)
    assert over == Decimal("20")
    assert pricing.line_amount(over, Decimal("0.10"), "USD") == Decimal("2.00")


def test_case_5_graduated_and_volume_tiers():
    assert pricing.tiered_amount(Decimal(80), CASE5_TIERS, mode="graduated") == Decimal("7.40")
    assert pricing.tiered_amount(Decimal(80), CASE5_TIERS, mode="volume") == Decimal("6.40")


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [("0", "0", "0"), ("50", "5.00", "5.00"), ("50.5", "5.04", "4.04"), ("10", "1.00", "1.00")],
)
def test_tier_edges(quantity, graduated, volume):
    q = Decimal(quantity)
    assert pricing.tiered_amount(q, CASE5_TIERS, mode="graduated") == Decimal(graduated)
    assert pricing.tiered_amount(q, CASE5_TIERS, mode="volume") == Decimal(volume)


def test_tiers_accept_rows_dicts_and_tiers():
    as_dicts = [{"up_to": "50", "unit_price": "0.10"}, {"up_to": None, "unit_price": "0.08"}]
    as_tiers = [Tier(Decimal(50), Decimal("0.10")), Tier(None, Decimal("0.08"))]
    for tiers in (as_dicts, as_tiers):
        assert pricing.tiered_amount(Decimal(80), tiers, mode="graduated") == Decimal("7.40")


def test_flat_is_one_tier():
    assert pricing.tiered_amount(Decimal(3), [(None, "0.06")], mode="flat") == Decimal("0.18")
    with pytest.raises(PricingError):
        pricing.tiered_amount(Decimal(3), CASE5_TIERS, mode="flat")


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([("50", "0.10"), ("40", "0.08"), (None, "0.05")], "overlap"),
        ([("50", "0.10"), ("50", "0.08"), (None, "0.05")], "overlap"),
        ([(None, "0.10"), (None, "0.08")], "overlap"),
        ([("50", "0.10")], "last tier"),
        ([("50", "-0.10"), (None, "0.08")], "negative"),
        ([("50", "abc"), (None, "0.08")], "not a number"),
        ([], "at least one"),
    ],
)
def test_bad_tiers_are_refused(tiers, message):
    with pytest.raises(PricingError, match=message):
        pricing.as_tiers(tiers)


def test_floats_are_refused():
    with pytest.raises(PricingError):
        pricing.tiered_amount(80.0, CASE5_TIERS, mode="graduated")
    with pytest.raises(PricingError):
        pricing.prorate(15.0, days_left=1, days_in_period=31, currency="USD")
    with pytest.raises(PricingError):
        pricing.storage_overage_gb_months([1.5], 0, 30)


def test_prorate_checks_its_days():
    with pytest.raises(PricingError):
        pricing.prorate(Decimal(1), days_left=32, days_in_period=31, currency="USD")
    with pytest.raises(PricingError):
        pricing.prorate(Decimal(1), days_left=1, days_in_period=0, currency="USD")
    assert pricing.prorate(Decimal("1000"), days_left=1, days_in_period=3, currency="JPY") == 333


def test_storage_missing_days_count_as_nothing_over():
    over = pricing.storage_overage_gb_months([130 * GB_BYTES] * 15, Decimal(100), 30)
    assert over == Decimal("15")
    with pytest.raises(PricingError):
        pricing.storage_overage_gb_months([0] * 31, 100, 30)


def test_monthly_periods_follow_the_anniversary_day():
    assert pricing.period_end(date(2027, 1, 1), "monthly") == date(2027, 2, 1)
    assert pricing.period_end(date(2027, 1, 15), "monthly") == date(2027, 2, 15)
    assert pricing.periods(date(2027, 1, 1), "monthly", 2) == [
        (date(2027, 1, 1), date(2027, 2, 1)),
        (date(2027, 2, 1), date(2027, 3, 1)),
    ]


def test_month_end_anchor_clamps_then_returns():
    spans = pricing.periods(date(2027, 1, 31), "monthly", 4)
    assert [end for _, end in spans] == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
    ]
    assert pricing.period_end(date(2028, 1, 31), "monthly") == date(2028, 2, 29)
    assert pricing.period_end(date(2027, 2, 28), "monthly", anchor_day=31) == date(2027, 3, 31)


def test_annual_periods_and_leap_days():
    spans = pricing.periods(date(2028, 2, 29), "annual", 4)
    assert [end for _, end in spans] == [
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]
    assert pricing.days_between(*spans[0]) == 365


def test_period_containing_and_trial_end():
    assert pricing.period_containing(date(2027, 1, 15), "monthly", date(2027, 3, 14)) == (
        date(2027, 2, 15),
        date(2027, 3, 15),
    )
    # Case 7: a 14-day trial from 2027-01-01 ends before 2027-01-15, the first paid day.
    assert pricing.trial_end(date(2027, 1, 1), 14) == date(2027, 1, 15)
    assert pricing.period_end(date(2027, 1, 15), "monthly") == date(2027, 2, 15)
    with pytest.raises(PricingError):
        pricing.period_end(date(2027, 1, 1), "weekly")


def test_case_9_tax_on_the_sum_of_lines():
    base = Decimal("75.00") + Decimal("13.06")
    tax = pricing.percent_of(base, Decimal("10.00"), "USD")
    assert (tax, base + tax) == (Decimal("8.81"), Decimal("96.87"))
