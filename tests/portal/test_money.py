from decimal import Decimal

import pytest

from portal.money import (
    MoneyError,
    format_money,
    from_minor_units,
    quantize,
    to_decimal,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("13.0645", "USD", Decimal("13.06")),
        ("10.165", "USD", Decimal("10.17")),  # half-up, not banker's rounding
        ("10.155", "USD", Decimal("10.16")),
        ("-10.165", "USD", Decimal("-10.17")),
        ("8.806", "EUR", Decimal("8.81")),
        ("1234.5", "JPY", Decimal("1235")),
        (Decimal("0.005"), "USD", Decimal("0.01")),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_unit(amount, currency, expected):
    assert quantize(amount, currency) == expected
    assert str(quantize(amount, currency)) == str(expected)


def test_floats_are_refused():
    with pytest.raises(MoneyError, match="float"):
        to_decimal(0.1)
    with pytest.raises(MoneyError):
        quantize(1.5, "USD")


def test_non_numbers_and_unknown_currencies_are_refused():
    with pytest.raises(MoneyError, match="not a number"):
        to_decimal("12,50")
    with pytest.raises(MoneyError, match="not a finite"):
        to_decimal("NaN")
    with pytest.raises(MoneyError, match="Unsupported currency"):
        quantize("1.00", "XYZ")


def test_minor_units_round_trip():
    assert to_minor_units(Decimal("82.50"), "USD") == 8250
    assert to_minor_units(Decimal("-10.16"), "USD") == -1016
    assert to_minor_units(Decimal("1235"), "JPY") == 1235
    assert from_minor_units(8250, "USD") == Decimal("82.50")
    assert str(from_minor_units(5, "USD")) == "0.05"


def test_minor_units_refuse_unrounded_amounts():
    with pytest.raises(MoneyError, match="round it first"):
        to_minor_units(Decimal("13.0645"), "USD")


def test_format_money():
    assert format_money(Decimal("1234.5"), "USD") == "1,234.50 USD"
