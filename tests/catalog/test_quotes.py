"""Quotes beyond the worked cases: limits, currencies, promotions, trials, price changes."""

from datetime import date
from decimal import Decimal

import pytest
from freezegun import freeze_time

from catalog import quotes, selectors, services
from portal.actors import system
from portal.errors import ValidationError
from tests.catalog.builders import price

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db


def build(tree, catalog, offer="R1.business", customer="C11", **kwargs):
    seller = catalog[offer].seller
    args = {
        "seller": seller,
        "customer": tree[customer] if customer else None,
        "offer": catalog[offer],
        "quantity": 5,
        "term": "monthly",
        "start_date": selectors.today(),
        **kwargs,
    }
    return quotes.quote_build(**args)


def kinds(period):
    return [(line.kind, line.amount) for line in period.lines]


@pytest.mark.parametrize(
    ("offer", "quantity", "message"),
    [
        ("R1.business", 2, "Business needs at least 3 seat(s)."),
        ("R1.starter", 11, "Starter allows at most 10 seat(s)."),
        ("R1.business", "many", "Give the number of seats."),
        ("R1.business", 4.0, "Give the number of seats."),
    ],
)
def test_seat_limits(tree, catalog, offer, quantity, message):
    with pytest.raises(ValidationError) as exc:
        build(tree, catalog, offer=offer, quantity=quantity)
    assert exc.value.message == message and "quantity" in exc.value.fields


def test_currency_must_be_sold(tree, catalog):
    with pytest.raises(ValidationError, match="does not sell in EUR") as exc:
        build(tree, catalog, currency="EUR")
    assert exc.value.code == "currency_not_sold"


def test_other_sellers_customers_and_offers_are_refused(tree, catalog):
    with pytest.raises(ValidationError, match="does not buy from"):
        build(tree, catalog, customer="C21")
    with pytest.raises(ValidationError, match="not sold by"):
        quotes.quote_build(
            seller=tree["R2"],
            customer=None,
            offer=catalog["R1.business"],
            quantity=5,
            term="monthly",
            start_date=selectors.today(),
        )


def test_withdrawn_offers_are_not_quoted(tree, catalog):
    services.offer_withdraw(actor=SYSTEM, offer=catalog["P.business"])
    with pytest.raises(ValidationError, match="not on sale"):
        build(tree, catalog, offer="S1.business", customer="S1C1")


def test_visitor_quote_and_setup_fee_on_the_first_invoice_only(tree, catalog):
    quote = build(tree, catalog, offer="P.enterprise", customer=None, quantity=3)
    assert kinds(quote.first_invoice) == [
        ("recurring", Decimal("105.00")),
        ("setup", Decimal("99.00")),
        ("tax", Decimal("20.40")),
    ]
    assert kinds(quote.later_periods[0]) == [
        ("recurring", Decimal("105.00")),
        ("tax", Decimal("10.50")),
    ]
    assert quote.customer_id is None


def test_annual_term(tree, catalog):
    quote = build(
        tree,
        catalog,
        offer="P.business",
        customer="PC2",
        term="annual",
        start_date=date(2027, 1, 31),
    )
    # after the 14-day trial, a year
    first = quote.first_invoice
    assert (first.start, first.end) == (date(2027, 2, 14), date(2028, 2, 14))
    assert first.subtotal == Decimal("750.00")
    assert quote.later_periods[0].start == date(2028, 2, 14)


def test_a_scheduled_price_change_shows_in_later_periods(tree, catalog):
    start = selectors.today()
    rise_on = build(tree, catalog, start_date=start).later_periods[0].start
    price(tree["R1"], catalog["business"], "18.00", valid_from=rise_on)
    quote = build(tree, catalog, start_date=start)
    assert quote.first_invoice.subtotal == Decimal("80.00")
    assert quote.later_periods[0].subtotal == Decimal("90.00")


def test_per_customer_price_in_the_quote(tree, catalog):
    price(tree["R1"], catalog["business"], "15.00", buyer=tree["C12"])
    assert build(tree, catalog, customer="C12").first_invoice.subtotal == Decimal("75.00")
    assert build(tree, catalog, customer="C11").first_invoice.subtotal == Decimal("80.00")


def test_usage_components_are_listed(tree, catalog):
    quote = build(tree, catalog, offer="R1.starter", quantity=4)
    assert [
        (u.metric, u.mode, [(t.up_to, t.unit_price) for t in u.tiers]) for u in quote.usage
    ] == [
        (
            "storage_gb_month",
            "graduated",
            [(Decimal("50"), Decimal("0.12")), (None, Decimal("0.10"))],
        )
    ]
    assert "Includes 100 GB of storage." in quote.notes


def test_trial_already_used_bills_from_day_one(tree, catalog):
    offer = catalog["P.business"]
    services.trial_redeem(actor=SYSTEM, customer=tree["PC1"], offer=offer)
    quote = build(tree, catalog, offer="P.business", customer="PC1", start_date=date(2027, 1, 1))
    assert quote.trial_days == 0
    assert quote.first_invoice.start == date(2027, 1, 1)
    assert "already had a trial" in quote.notes[0]
    visitor = build(tree, catalog, offer="P.business", customer=None, start_date=date(2027, 1, 1))
    assert visitor.trial_end == date(2027, 1, 15)


def test_automatic_promotion_and_a_code_replacing_it(tree, catalog):
    with freeze_time(selectors.today()):
        services.promotion_create(
            actor=SYSTEM,
            seller=tree["R1"],
            name="Spring",
            plans=[catalog["business"]],
            discount_type="percent",
            percent="10",
            duration="once",
        )
        services.promotion_create(
            actor=SYSTEM,
            seller=tree["R1"],
            name="Five off",
            discount_type="fixed",
            amount="5.00",
            currency="USD",
            duration="forever",
        )
        services.promotion_create(
            actor=SYSTEM,
            seller=tree["R1"],
            name="Big",
            code="BIG",
            discount_type="fixed",
            amount="500",
            currency="USD",
            duration="once",
        )
    # the automatic promotion taking most off the first period wins: 10 % of 80.00 = 8.00
    quote = build(tree, catalog)
    assert quote.promotion_label == "Spring: 10% off the first period"
    assert kinds(quote.first_invoice)[1] == ("discount", Decimal("-8.00"))
    assert [line.kind for line in quote.later_periods[0].lines] == ["recurring", "tax"]
    # a code replaces it; a fixed discount never exceeds the recurring charges
    coded = build(tree, catalog, promotion_code="big")
    assert kinds(coded.first_invoice) == [
        ("recurring", Decimal("80.00")),
        ("discount", Decimal("-80.00")),
        ("tax", Decimal("0.00")),
    ]
    assert coded.first_invoice.total == Decimal("0.00")
    # an automatic promotion for another plan does not apply
    starter = build(tree, catalog, offer="R1.starter", quantity=2)
    assert starter.promotion_label == "Five off: 5.00 USD off, every period"
    assert [kinds(p)[1] for p in starter.periods] == [("discount", Decimal("-5.00"))] * 2


def test_bad_code_in_a_quote_is_an_error(tree, catalog):
    with pytest.raises(ValidationError) as exc:
        build(tree, catalog, promotion_code="NOPE")
    assert "promotion_code" in exc.value.fields


def test_fixed_code_in_another_currency(tree, catalog):
    services.seller_currency_add(actor=SYSTEM, seller=tree["R1"], currency="EUR")
    services.promotion_create(
        actor=SYSTEM,
        seller=tree["R1"],
        name="Euro",
        code="EURO5",
        discount_type="fixed",
        amount="5",
        currency="EUR",
        duration="once",
    )
    with pytest.raises(ValidationError, match="is for EUR, not USD"):
        build(tree, catalog, promotion_code="EURO5")


def test_quote_as_dict_is_plain_json(tree, catalog):
    data = quotes.quote_as_dict(build(tree, catalog, start_date=date(2027, 1, 1)))
    assert data["first_invoice"]["lines"][0] == {
        "kind": "recurring",
        "description": "Business, 5 seats",
        "quantity": "5",
        "unit_price": "16.00",
        "amount": "80.00",
    }
    assert data["first_invoice"]["total"] == "88.00"
    assert data["currency"] == "USD" and data["plan"] == "business"


def test_cost_for_seller_is_for_resellers_only(tree, catalog):
    with pytest.raises(ValidationError, match="buys from no one"):
        quotes.cost_for_seller(
            seller=tree["P"],
            plan=catalog["business"],
            quantity=5,
            term="monthly",
            start_date=date(2027, 1, 1),
            currency="USD",
        )
    sub = quotes.cost_for_seller(
        seller=tree["S1"],
        plan=catalog["business"],
        quantity=5,
        term="monthly",
        start_date=date(2027, 1, 1),
        currency="USD",
    )
    assert sub.subtotal == Decimal("71.45")  # R1's 14.29 to S1, not the provider's price
