"""Money discipline: Decimal amounts beside an ISO currency, one rounding helper, one converter to
the integer minor units Stripe expects. Never a float (ARCHITECTURE.md, Invariants)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor-unit exponents for the currencies the portal may sell in. A currency missing
# here is refused rather than guessed.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "SGD": 2,
    "INR": 2,
    "BRL": 2,
    "MXN": 2,
    "ZAR": 2,
    "JPY": 0,
    "KRW": 0,
}
CURRENCY_CHOICES = [(code, code) for code in sorted(CURRENCY_EXPONENTS)]


class MoneyError(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"Unsupported currency {currency!r}.") from None


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Accept Decimal, int or a decimal string; refuse floats, which cannot hold cents exactly."""
    if isinstance(value, float):
        raise MoneyError("Money must not be a float; pass a Decimal or a string.")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise MoneyError(f"{value!r} is not a number.") from None
    if not result.is_finite():
        raise MoneyError(f"{value!r} is not a finite number.")
    return result


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit: the one rounding rule of the project."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    return to_decimal(amount).quantize(quantum, rounding=ROUND_HALF_UP)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Convert an already-rounded amount to integer minor units (cents) for Stripe."""
    rounded = quantize(amount, currency)
    if rounded != to_decimal(amount):
        raise MoneyError(f"{amount} has more precision than {currency} allows; round it first.")
    return int(rounded.scaleb(exponent(currency)))


def from_minor_units(units: int, currency: str) -> Decimal:
    if not isinstance(units, int):
        raise MoneyError("Minor units must be an integer.")
    return (
        Decimal(units).scaleb(-exponent(currency)).quantize(Decimal(1).scaleb(-exponent(currency)))
    )


def format_money(amount: Decimal, currency: str) -> str:
    """A plain, locale-neutral rendering such as ``1,234.50 USD``."""
    value = quantize(amount, currency)
    places = exponent(currency)
    return f"{value:,.{places}f} {currency}"
