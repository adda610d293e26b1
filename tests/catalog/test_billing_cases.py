"""Worked billing cases 1, 5, 6, 7 and 8 of docs/billing-cases.md through the catalog's services,
selectors and quotes, with their exact numbers."""

from datetime import date
from decimal import Decimal

import pytest
from freezegun import freeze_time

from catalog import pricing, quotes, selectors, services
from portal.actors import system
from tests.catalog.builders import price

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db

JAN_1 = date(2027, 1, 1)


def amounts(period):
    return [(line.kind, line.amount) for line in period.lines]


def test_case_1_seats(tree, cases):
    # when five Business seats are quoted for January 2027
    quote = quotes.quote_build(
        seller=tree["P"],
        customer=tree["PC1"],
        offer=cases["offer"],
        quantity=5,
        term="monthly",
        start_date=JAN_1,
    )
    # then the invoice is 75.00 + 7.50 tax = 82.50 for [2027-01-01, 2027-02-01)
    first = quote.first_invoice
    assert (first.start, first.end) == (date(2027, 1, 1), date(2027, 2, 1))
    assert amounts(first) == [("recurring", Decimal("75.00")), ("tax", Decimal("7.50"))]
    assert (first.subtotal, first.tax, first.total) == (
        Decimal("75.00"),
        Decimal("7.50"),
        Decimal("82.50"),
    )
    assert first.lines[0].quantity == 5 and first.lines[0].unit_price == Decimal("15.00")
    assert quote.currency == "USD"


def test_case_5_tiers_from_a_stored_price(tree, cases):
    # given a Starter price whose storage overage is tiered 0-50 at 0.10, above at 0.08
    with freeze_time("2026-12-01"):
        stored = price(
            tree["P"],
            cases["plans"]["starter"],
            "5.00",
            components=[
                {
                    "metric": "storage_gb_month",
                    "mode": "graduated",
                    "tiers": [
                        {"up_to": "50", "unit_price": "0.10"},
                        {"up_to": None, "unit_price": "0.08"},
                    ],
                }
            ],
        )
    tiers = stored.components.get().tiers.all()
    # then 80 GB-months cost 7.40 graduated and 6.40 volume
    assert pricing.tiered_amount(Decimal(80), tiers, mode="graduated") == Decimal("7.40")
    assert pricing.tiered_amount(Decimal(80), tiers, mode="volume") == Decimal("6.40")


def test_case_6_promotion_for_three_periods(tree, cases):
    # given 20 % off recurring charges for 3 periods
    with freeze_time("2026-12-01"):
        services.promotion_create(
            actor=SYSTEM,
            seller=tree["P"],
            name="Welcome",
            code="WELCOME20",
            discount_type="percent",
            percent="20",
            duration="repeating",
            duration_periods=3,
        )
    # when case 1 is quoted with the code
    quote = quotes.quote_build(
        seller=tree["P"],
        customer=tree["PC1"],
        offer=cases["offer"],
        quantity=5,
        term="monthly",
        start_date=JAN_1,
        promotion_code="welcome20",
    )
    # then the first three monthly invoices carry -15.00 and the fourth none
    periods = quote.periods
    assert len(periods) == 4
    discounts = [[x.amount for x in p.lines if x.kind == "discount"] for p in periods]
    assert discounts == [[Decimal("-15.00")]] * 3 + [[]]
    assert [p.start for p in periods] == [
        date(2027, 1, 1),
        date(2027, 2, 1),
        date(2027, 3, 1),
        date(2027, 4, 1),
    ]
    assert [p.total for p in periods] == [Decimal("66.00")] * 3 + [Decimal("82.50")]
    assert quote.promotion_code == "WELCOME20"


def test_case_7_trial(tree, cases):
    # given a 14-day trial on the offer
    offer = services.offer_update(actor=SYSTEM, offer=cases["offer"], trial_days=14)
    # when five seats are quoted from 2027-01-01
    quote = quotes.quote_build(
        seller=tree["P"],
        customer=tree["PC1"],
        offer=offer,
        quantity=5,
        term="monthly",
        start_date=JAN_1,
    )
    # then nothing is billed until 2027-01-15 and the first paid period is billed in full
    assert quote.trial_days == 14
    assert quote.trial_end == date(2027, 1, 15)
    first = quote.first_invoice
    assert (first.start, first.end) == (date(2027, 1, 15), date(2027, 2, 15))
    assert first.subtotal == Decimal("75.00")


def test_case_8_reseller_chain(tree, cases):
    # when a customer of R1 is quoted 5 seats for one month
    quote = quotes.quote_build(
        seller=tree["R1"],
        customer=tree["C11"],
        offer=cases["r1_offer"],
        quantity=5,
        term="monthly",
        start_date=JAN_1,
    )
    cost = quotes.cost_for_seller(
        seller=tree["R1"],
        plan=cases["plans"]["business"],
        quantity=5,
        term="monthly",
        start_date=JAN_1,
        currency=quote.currency,
    )
    # then the customer's invoice is 80.00 and the provider's wholesale invoice 60.00
    assert quote.first_invoice.subtotal == Decimal("80.00")
    assert cost.subtotal == Decimal("60.00")
    assert selectors.price_for(
        seller=tree["P"],
        plan=cases["plans"]["business"],
        currency="USD",
        term="monthly",
        buyer=tree["R1"],
        on_date=JAN_1,
    ).recurring == Decimal("12.00")
