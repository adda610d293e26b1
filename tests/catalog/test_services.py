"""The catalog's write rules: plans, currencies, offers, the price chain and its versions,
tax rates, trials and promotions. Every refusal leaves nothing written."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from catalog import selectors, services
from catalog.models import (
    Offer,
    Plan,
    PlanTransition,
    Price,
    PriceComponent,
    PriceTier,
    Promotion,
    PromotionRedemption,
    SellerCurrency,
    TaxRate,
    TrialUse,
)
from portal.actors import system
from portal.errors import Conflict, NotFound, PermissionDenied, ValidationError
from portal.models import AuditEvent
from tests.catalog.builders import price

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db


def written():
    """Everything the catalog writes, to show a refusal changed nothing."""
    return (
        Plan.objects.count(),
        PlanTransition.objects.count(),
        Price.objects.count(),
        PriceComponent.objects.count(),
        PriceTier.objects.count(),
        Offer.objects.count(),
        list(Offer.objects.order_by("pk").values_list("is_active", "trial_days")),
        Promotion.objects.count(),
        PromotionRedemption.objects.count(),
        TaxRate.objects.count(),
        TrialUse.objects.count(),
        SellerCurrency.objects.count(),
        AuditEvent.objects.count(),
    )


def today():
    return selectors.today()


# --- plans ----------------------------------------------------------------------------------------


def test_default_plans_are_seeded_once(tree):
    plans = services.plan_seed_defaults(actor=SYSTEM)
    assert [p.code for p in plans] == [
        "individual",
        "starter",
        "business",
        "business_plus",
        "enterprise",
    ]
    individual, starter, business = plans[0], plans[1], plans[2]
    assert (individual.seat_min, individual.seat_max, individual.storage_gb) == (1, 1, 10)
    assert (starter.seat_min, starter.seat_max, starter.storage_mode, starter.storage_gb) == (
        1,
        10,
        "pooled",
        100,
    )
    assert (business.seat_min, business.seat_max, business.storage_mode) == (3, None, "unlimited")
    timings = {t.to_plan.code: t.timing for t in business.transitions.all()}
    assert timings == {
        "individual": "end_of_term",
        "starter": "end_of_term",
        "business_plus": "immediate",
        "enterprise": "immediate",
    }
    before = written()
    services.plan_seed_defaults(actor=SYSTEM)
    assert written() == before


def test_plan_limits_are_data(tree):
    plans = {p.code: p for p in services.plan_seed_defaults(actor=SYSTEM)}
    admin = tree["P.admin"]
    plan = services.plan_update(
        actor=admin, plan=plans["starter"], seat_max=15, storage_gb=200, max_upload_mb=4096
    )
    plan.refresh_from_db()
    assert (plan.seat_max, plan.storage_gb, plan.max_upload_mb) == (15, 200, 4096)
    event = AuditEvent.objects.filter(action="plan.updated").first()
    assert event.before == {"seat_max": 10, "storage_gb": 100, "max_upload_mb": 2048}
    assert event.actor == admin


def test_plan_create_with_transitions(tree):
    plans = {p.code: p for p in services.plan_seed_defaults(actor=SYSTEM)}
    plan = services.plan_create(
        actor=tree["P.admin"],
        code="business-nonprofit",
        name="Business (nonprofit)",
        box_plan_code="business",
        storage_mode="unlimited",
        max_upload_mb=5120,
        seat_min=3,
        transitions=[("enterprise", "immediate"), (plans["starter"], "end_of_term")],
    )
    assert {(t.to_plan.code, t.timing) for t in plan.transitions.all()} == {
        ("enterprise", "immediate"),
        ("starter", "end_of_term"),
    }
    assert AuditEvent.objects.filter(action="plan.created", object_id=str(plan.pk)).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seat_min": 5, "seat_max": 2}, "seat_max"),
        ({"storage_mode": "pooled", "storage_gb": None}, "storage_gb"),
        ({"transitions": [("starter", "immediate")]}, "transitions"),
        ({"transitions": [("business", "whenever")]}, "transitions"),
        ({"transitions": [("nope", "immediate")]}, "transitions"),
    ],
)
def test_bad_plan_changes_are_refused(tree, changes, field):
    plans = {p.code: p for p in services.plan_seed_defaults(actor=SYSTEM)}
    before = written()
    with pytest.raises(ValidationError) as exc:
        services.plan_update(actor=tree["P.admin"], plan=plans["starter"], **changes)
    assert field in exc.value.fields
    assert written() == before


@pytest.mark.parametrize("who", ["P.sales", "P.agent", "R1.admin", "C11.admin"])
def test_only_provider_admins_edit_plans(tree, who):
    plans = {p.code: p for p in services.plan_seed_defaults(actor=SYSTEM)}
    before = written()
    with pytest.raises(PermissionDenied):
        services.plan_update(actor=tree[who], plan=plans["starter"], seat_max=20)
    with pytest.raises(PermissionDenied):
        services.plan_create(
            actor=tree[who],
            code="x1",
            name="X",
            box_plan_code="business",
            storage_mode="unlimited",
            max_upload_mb=1,
        )
    assert written() == before


# --- the price chain ------------------------------------------------------------------------------


def test_price_for_follows_the_chain(tree, catalog):
    business = catalog["business"]

    def pay(seller, buyer):
        return selectors.price_for(
            seller=tree[seller],
            plan=business,
            currency="USD",
            term="monthly",
            buyer=tree[buyer] if buyer else None,
            on_date=today(),
        ).recurring

    assert pay("P", None) == Decimal("15.00")  # a visitor of the marketplace
    assert pay("P", "PC1") == Decimal("15.00")  # a direct customer
    assert pay("P", "R1") == Decimal("12.37")  # default wholesale
    assert pay("P", "R2") == Decimal("11.83")  # per-reseller override
    assert pay("R1", "C11") == Decimal("16.00")
    assert pay("R1", "S1") == Decimal("14.29")  # R1's wholesale to its sub-reseller
    assert pay("S1", "S1C1") == Decimal("18.00")
    assert pay("R2", "C21") == Decimal("17.50")


def test_per_customer_price(tree, catalog):
    special = price(tree["R1"], catalog["business"], "15.50", buyer=tree["C11"])
    found = selectors.price_for(
        seller=tree["R1"],
        plan=catalog["business"],
        currency="USD",
        term="monthly",
        buyer=tree["C11"],
        on_date=today(),
    )
    assert found == special
    other = selectors.price_for(
        seller=tree["R1"],
        plan=catalog["business"],
        currency="USD",
        term="monthly",
        buyer=tree["C12"],
        on_date=today(),
    )
    assert other.recurring == Decimal("16.00")


def test_a_per_customer_price_wins_over_a_newer_default(tree, catalog):
    price(tree["R1"], catalog["business"], "15.50", buyer=tree["C11"])
    price(tree["R1"], catalog["business"], "16.50")
    found = selectors.price_for(
        seller=tree["R1"],
        plan=catalog["business"],
        currency="USD",
        term="monthly",
        buyer=tree["C11"],
        on_date=today(),
    )
    assert found.recurring == Decimal("15.50")


def test_price_versions_never_rewrite_history(tree, catalog):
    # given R1's price in force and a rise scheduled in ten days
    r1, business = tree["R1"], catalog["business"]
    current = selectors.price_for(
        seller=r1, plan=business, currency="USD", term="monthly", buyer=None, on_date=today()
    )
    later = today() + timedelta(days=10)
    rise = price(r1, business, "19.00", valid_from=later)

    def on(day):
        return selectors.price_for(
            seller=r1, plan=business, currency="USD", term="monthly", buyer=None, on_date=day
        )

    # then each day gets its version, and the old row is untouched
    assert on(today()) == current
    assert on(later - timedelta(days=1)) == current
    assert on(later) == rise
    current.refresh_from_db()
    assert current.recurring == Decimal("16.00")
    with pytest.raises(RuntimeError):
        current.save()


def test_a_second_version_on_the_same_day_wins(tree, catalog):
    newer = price(tree["R1"], catalog["business"], "16.40")
    assert (
        selectors.price_for(
            seller=tree["R1"],
            plan=catalog["business"],
            currency="USD",
            term="monthly",
            buyer=None,
            on_date=today(),
        )
        == newer
    )
    assert Price.objects.filter(seller=tree["R1"], plan=catalog["business"]).count() == 3


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"recurring": "-1.00"}, "recurring", "cannot be negative"),
        ({"recurring": "abc"}, "recurring", "must be a number"),
        ({"recurring": 15.0}, "recurring", "must be a number"),
        ({"recurring": "15.001"}, "recurring", "more than 2 decimal places"),
        ({"recurring": ""}, "recurring", "Enter"),
        ({"setup_fee": "-5"}, "setup_fee", "cannot be negative"),
        ({"currency": "GBP"}, "currency", "does not sell in GBP"),
        ({"currency": "XYZ"}, "currency", "not a currency"),
        ({"term": "weekly"}, "term", "monthly or an annual"),
        ({"valid_from": date(2000, 1, 1)}, "valid_from", "past"),
        (
            {
                "components": [
                    {
                        "metric": "storage_gb_month",
                        "mode": "graduated",
                        "tiers": [
                            {"up_to": "50", "unit_price": "0.10"},
                            {"up_to": "40", "unit_price": "0.08"},
                            {"up_to": None, "unit_price": "0.05"},
                        ],
                    }
                ]
            },
            "components.storage_gb_month",
            "overlap",
        ),
        (
            {
                "components": [
                    {
                        "metric": "storage_gb_month",
                        "mode": "flat",
                        "tiers": [{"up_to": None, "unit_price": "-0.10"}],
                    }
                ]
            },
            "components.storage_gb_month",
            "negative",
        ),
        (
            {
                "components": [
                    {"metric": "extra_active_user", "mode": "flat", "tiers": [(None, "x")]}
                ]
            },
            "components.extra_active_user",
            "not a number",
        ),
    ],
)
def test_bad_prices_are_refused_and_nothing_is_saved(tree, catalog, kwargs, field, message):
    args = {
        "actor": tree["P.admin"],
        "seller": tree["P"],
        "plan": catalog["starter"],
        "currency": "USD",
        "term": "monthly",
        "recurring": "5.50",
        **kwargs,
    }
    before = written()
    with pytest.raises(ValidationError) as exc:
        services.price_create(**args)
    assert field in exc.value.fields, exc.value.fields
    assert message in exc.value.message
    assert written() == before


def test_storage_cannot_be_priced_on_unlimited_plans(tree, catalog):
    with pytest.raises(ValidationError, match="unlimited storage"):
        price(
            tree["P"],
            catalog["business"],
            "15.00",
            components=[{"metric": "storage_gb_month", "mode": "flat", "tiers": [(None, "0.10")]}],
        )


def test_a_currency_the_seller_adds_can_be_priced(tree, catalog):
    # the provider added EUR; R1 has not
    euro = price(tree["P"], catalog["business"], "14.00", currency="EUR")
    assert euro.currency == "EUR"
    before = written()
    with pytest.raises(ValidationError, match="does not sell in EUR"):
        price(tree["R1"], catalog["business"], "16.00", currency="EUR")
    assert written() == before


def test_reseller_needs_a_cost_in_the_currency(tree, catalog):
    services.seller_currency_add(actor=tree["R1.admin"], seller=tree["R1"], currency="EUR")
    with pytest.raises(ValidationError, match="no monthly price in EUR") as exc:
        price(tree["R1"], catalog["business"], "16.00", currency="EUR")
    assert exc.value.code == "no_cost"


# --- not below cost -------------------------------------------------------------------------------


def test_reseller_retail_below_wholesale_is_refused(tree, catalog):
    before = written()
    with pytest.raises(ValidationError) as exc:
        services.price_create(
            actor=tree["R1.admin"],
            seller=tree["R1"],
            plan=catalog["business"],
            currency="USD",
            term="monthly",
            recurring="12.00",
        )
    assert exc.value.message == ("The price per seat, 12.00 USD, is below your cost of 12.37 USD.")
    assert exc.value.fields == {"recurring": [exc.value.message]}
    assert exc.value.code == "below_cost"
    assert written() == before


def test_reseller_may_price_at_cost(tree, catalog):
    at_cost = price(tree["R1"], catalog["business"], "12.37")
    assert at_cost.recurring == Decimal("12.37")


def test_setup_fee_below_cost_is_refused(tree, catalog):
    with pytest.raises(ValidationError) as exc:
        price(tree["R1"], catalog["enterprise"], "40.00", setup_fee="45.00")
    assert exc.value.message == "The setup fee, 45.00 USD, is below your cost of 50.00 USD."


def test_pay_per_use_below_cost_names_the_tier(tree, catalog):
    storage = {
        "metric": "storage_gb_month",
        "mode": "graduated",
        "tiers": [{"up_to": "100", "unit_price": "0.07"}, {"up_to": None, "unit_price": "0.05"}],
    }
    with pytest.raises(ValidationError) as exc:
        price(tree["R1"], catalog["starter"], "6.00", components=[storage])
    assert exc.value.message == (
        "Storage over the quota, above 100 units: 0.05 USD is below your cost of 0.06 USD."
    )
    assert "components.storage_gb_month" in exc.value.fields


def test_pay_per_use_left_unpriced_is_refused(tree, catalog):
    with pytest.raises(ValidationError, match="Storage over the quota is not priced"):
        price(tree["R1"], catalog["starter"], "6.00")


def test_a_scheduled_cost_rise_is_checked_too(tree, catalog):
    rise_on = today() + timedelta(days=10)
    price(tree["P"], catalog["business"], "16.20", audience="wholesale", valid_from=rise_on)
    with pytest.raises(ValidationError) as exc:
        price(tree["R1"], catalog["business"], "16.10")
    assert exc.value.message == (
        f"The price per seat, 16.10 USD, is below your cost of 16.20 USD from {rise_on:%d %b %Y}."
    )


def test_sub_reseller_prices_above_its_parents_price_to_it(tree, catalog):
    with pytest.raises(ValidationError) as exc:
        price(tree["S1"], catalog["business"], "14.00")
    # its cost is R1's price to it, never the provider's price to R1
    assert exc.value.message == "The price per seat, 14.00 USD, is below your cost of 14.29 USD."
    assert price(tree["S1"], catalog["business"], "14.29").recurring == Decimal("14.29")


def test_reseller_wholesale_to_sub_resellers_not_below_its_own_cost(tree, catalog):
    with pytest.raises(ValidationError, match=r"below your cost of 12\.37 USD"):
        price(tree["R1"], catalog["business"], "12.00", audience="wholesale")
    with pytest.raises(ValidationError, match=r"below your cost of 12\.37 USD"):
        price(tree["R1"], catalog["business"], "12.00", audience="wholesale", buyer=tree["S1"])


def test_buyer_must_be_a_direct_child_of_the_right_kind(tree, catalog):
    before = written()
    for buyer, audience in (
        (tree["C21"], "retail"),  # R2's customer
        (tree["S1"], "retail"),  # a reseller cannot get a retail price
        (tree["C11"], "wholesale"),
        (tree["S1C1"], "retail"),  # S1's customer, not R1's
    ):
        with pytest.raises(ValidationError) as exc:
            price(tree["R1"], catalog["business"], "20.00", audience=audience, buyer=buyer)
        assert "buyer" in exc.value.fields
    assert written() == before


def test_no_price_is_a_clear_error(tree, catalog):
    with pytest.raises(ValidationError) as exc:
        selectors.price_for(
            seller=tree["R2"],
            plan=catalog["business"],
            currency="USD",
            term="annual",
            buyer=tree["C21"],
            on_date=today(),
        )
    assert exc.value.code == "no_price"
    assert "Reseller R2 has no retail annual price for Business in USD" in exc.value.message


@pytest.mark.parametrize("who", ["R1.billing", "P.admin", "R2.admin", "C11.admin"])
def test_only_the_sellers_own_admins_and_sales_set_its_prices(tree, catalog, who):
    before = written()
    with pytest.raises(PermissionDenied):
        services.price_create(
            actor=tree[who],
            seller=tree["R1"],
            plan=catalog["business"],
            currency="USD",
            term="monthly",
            recurring="20.00",
        )
    assert written() == before


def test_price_create_is_audited(tree, catalog):
    created = services.price_create(
        actor=tree["R1.sales"],
        seller=tree["R1"],
        plan=catalog["business"],
        currency="USD",
        term="monthly",
        recurring="17.00",
    )
    event = AuditEvent.objects.get(action="price.created", object_id=str(created.pk))
    assert event.actor == tree["R1.sales"] and event.organization == tree["R1"]
    assert event.after["recurring"] == "17.00" and event.after["plan"] == "business"


# --- offers ---------------------------------------------------------------------------------------


def test_reseller_picks_an_offer_made_available_to_it(tree, catalog):
    offer = services.offer_publish(
        actor=tree["R1.admin"], seller=tree["R1"], plan=catalog["enterprise"], trial_days=30
    )
    assert offer.parent_offer == catalog["P.enterprise"]
    assert AuditEvent.objects.filter(action="offer.published", object_id=str(offer.pk)).exists()


def test_reseller_cannot_pick_what_is_not_offered_to_it(tree, catalog):
    plans = catalog.plans
    before = written()
    with pytest.raises(ValidationError, match="does not offer Individual"):
        services.offer_publish(actor=tree["R1.admin"], seller=tree["R1"], plan=plans["individual"])
    with pytest.raises(Conflict):
        services.offer_publish(actor=tree["R1.admin"], seller=tree["R1"], plan=plans["business"])
    # S1 can only pick what R1 opens to it (Business), not Starter
    with pytest.raises(ValidationError, match="does not offer Starter"):
        services.offer_publish(actor=tree["S1.admin"], seller=tree["S1"], plan=plans["starter"])
    assert written() == before


def test_offers_available_to_chosen_resellers(tree, catalog):
    # given the provider opens Individual to R1 only
    individual = catalog["individual"]
    services.offer_publish(
        actor=tree["P.admin"], seller=tree["P"], plan=individual, available_to=[tree["R1"]]
    )
    # then R1 may pick it and R2 may not
    assert services.offer_publish(actor=SYSTEM, seller=tree["R1"], plan=individual)
    with pytest.raises(ValidationError):
        services.offer_publish(actor=SYSTEM, seller=tree["R2"], plan=individual)
    assert [o.plan.code for o in selectors.available_upstream_offers(tree["R2"])] == [
        "starter",
        "business",
        "enterprise",
    ]


def test_available_to_must_be_own_resellers(tree, catalog):
    with pytest.raises(ValidationError, match="not a reseller of"):
        services.offer_publish(
            actor=SYSTEM, seller=tree["P"], plan=catalog["individual"], available_to=[tree["S1"]]
        )


def test_withdrawing_upstream_stops_the_chain(tree, catalog):
    # when the provider withdraws Business
    services.offer_withdraw(actor=tree["P.admin"], offer=catalog["P.business"])
    # then R1, S1 and R2 can no longer sell it, and their offers are kept
    assert [o.plan.code for o in selectors.sellable_offers(tree["R1"])] == ["starter"]
    assert selectors.sellable_offers(tree["S1"]) == []
    assert selectors.sellable_offers(tree["R2"]) == []
    assert Offer.objects.filter(plan=catalog["business"], is_active=True).count() == 3
    # and publishing it again restores them
    services.offer_publish(
        actor=tree["P.admin"],
        seller=tree["P"],
        plan=catalog["business"],
        available_to_all_resellers=True,
    )
    assert [o.plan.code for o in selectors.sellable_offers(tree["S1"])] == ["business"]


def test_closing_availability_to_one_reseller(tree, catalog):
    services.offer_update(
        actor=tree["P.admin"],
        offer=catalog["P.business"],
        available_to_all_resellers=False,
        available_to=[tree["R1"]],
    )
    assert [o.plan.code for o in selectors.sellable_offers(tree["R1"])] == ["starter", "business"]
    assert selectors.sellable_offers(tree["R2"]) == []
    event = AuditEvent.objects.filter(action="offer.updated").first()
    assert event.after == {"available_to_all_resellers": False, "available_to": [tree["R1"].pk]}


def test_unpick_and_pick_again(tree, catalog):
    offer = services.offer_withdraw(actor=tree["R1.sales"], offer=catalog["R1.starter"])
    assert not offer.is_active
    again = services.offer_publish(
        actor=tree["R1.sales"], seller=tree["R1"], plan=catalog["starter"]
    )
    assert again.pk == offer.pk and again.is_active


@pytest.mark.parametrize("days", [-1, 91, "x", 2.5])
def test_bad_trial_days_are_refused(tree, catalog, days):
    before = written()
    with pytest.raises(ValidationError) as exc:
        services.offer_update(actor=tree["R1.admin"], offer=catalog["R1.business"], trial_days=days)
    assert "trial_days" in exc.value.fields
    assert written() == before


@pytest.mark.parametrize("who", ["R1.billing", "P.admin", "P.agent"])
def test_only_own_admins_and_sales_publish(tree, catalog, who):
    with pytest.raises(PermissionDenied):
        services.offer_update(actor=tree[who], offer=catalog["R1.business"], trial_days=7)


# --- currencies and tax ---------------------------------------------------------------------------


def test_currencies(tree, catalog):
    assert selectors.seller_currencies(tree["P"]) == ["USD", "EUR"]
    assert selectors.seller_currencies(tree["R1"]) == ["USD"]
    before = written()
    with pytest.raises(ValidationError, match="not a currency"):
        services.seller_currency_add(actor=tree["R1.admin"], seller=tree["R1"], currency="ABC")
    with pytest.raises(Conflict):
        services.seller_currency_add(actor=tree["R1.admin"], seller=tree["R1"], currency="usd")
    with pytest.raises(ValidationError, match="own currency"):
        services.seller_currency_remove(actor=tree["R1.admin"], seller=tree["R1"], currency="USD")
    with pytest.raises(PermissionDenied):
        services.seller_currency_add(actor=tree["R1.sales"], seller=tree["R1"], currency="EUR")
    assert written() == before
    services.seller_currency_add(actor=tree["P.admin"], seller=tree["P"], currency="gbp")
    assert selectors.seller_currencies(tree["P"]) == ["USD", "EUR", "GBP"]
    services.seller_currency_remove(actor=tree["P.admin"], seller=tree["P"], currency="EUR")
    assert selectors.seller_currencies(tree["P"]) == ["USD", "GBP"]


def test_tax_rate_for_country_and_date(tree):
    r1 = tree["R1"]
    c11 = tree["C11"]
    c11.country = "GB"
    c11.save()
    with freeze_time("2027-01-01"):
        anywhere = services.tax_rate_create(actor=SYSTEM, seller=r1, name="Tax", rate="10")
        vat = services.tax_rate_create(actor=SYSTEM, seller=r1, name="VAT", rate="20", country="gb")
        later = services.tax_rate_create(
            actor=SYSTEM,
            seller=r1,
            name="VAT",
            rate="21",
            country="GB",
            valid_from=date(2027, 7, 1),
        )
    assert selectors.tax_rate_for(seller=r1, buyer=c11, on_date=date(2027, 3, 1)) == vat
    assert selectors.tax_rate_for(seller=r1, buyer=c11, on_date=date(2027, 7, 1)) == later
    assert (
        selectors.tax_rate_for(seller=r1, buyer=tree["C12"], on_date=date(2027, 7, 1)) == anywhere
    )
    assert selectors.tax_rate_for(seller=r1, buyer=None, on_date=date(2027, 7, 1)) == anywhere
    assert selectors.tax_rate_for(seller=r1, buyer=c11, on_date=date(2026, 1, 1)) is None
    assert (
        selectors.tax_rate_for(seller=tree["R2"], buyer=tree["C21"], on_date=date(2027, 3, 1))
        is None
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": "101"}, "rate"),
        ({"rate": "-1"}, "rate"),
        ({"rate": "ten"}, "rate"),
        ({"rate": "7.125"}, "rate"),
        ({"country": "GBR"}, "country"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_tax_rates_are_refused(tree, kwargs, field):
    before = written()
    args = {"actor": tree["R1.billing"], "seller": tree["R1"], "name": "VAT", "rate": "20"}
    with pytest.raises(ValidationError) as exc:
        services.tax_rate_create(**{**args, **kwargs})
    assert field in exc.value.fields
    assert written() == before


def test_tax_rates_by_billing_and_admins_only(tree):
    services.tax_rate_create(actor=tree["R1.billing"], seller=tree["R1"], name="VAT", rate="20")
    with pytest.raises(PermissionDenied):
        services.tax_rate_create(actor=tree["R1.sales"], seller=tree["R1"], name="VAT", rate="20")


# --- trials ---------------------------------------------------------------------------------------


def test_a_customer_gets_one_trial_per_product(tree, catalog):
    offer = catalog["P.business"]
    assert selectors.trial_eligible(customer=tree["PC1"], offer=offer)
    use = services.trial_redeem(
        actor=SYSTEM, customer=tree["PC1"], offer=offer, started_on=date(2027, 1, 1)
    )
    assert use.ends_on == date(2027, 1, 15)
    assert not selectors.trial_eligible(customer=tree["PC1"], offer=offer)
    before = written()
    with pytest.raises(Conflict, match="already had a trial of Box"):
        services.trial_redeem(actor=SYSTEM, customer=tree["PC1"], offer=offer)
    assert written() == before


def test_trial_redeem_refuses_offers_without_trial_and_other_sellers(tree, catalog):
    before = written()
    with pytest.raises(ValidationError, match="has no trial"):
        services.trial_redeem(actor=SYSTEM, customer=tree["PC1"], offer=catalog["P.starter"])
    with pytest.raises(ValidationError, match="does not buy from"):
        services.trial_redeem(actor=SYSTEM, customer=tree["C11"], offer=catalog["P.business"])
    assert written() == before


# --- promotions -----------------------------------------------------------------------------------


def make_code(tree, catalog, **kwargs):
    args = {
        "actor": tree["R1.admin"],
        "seller": tree["R1"],
        "name": "Welcome",
        "code": "welcome20",
        "discount_type": "percent",
        "percent": "20",
        "duration": "repeating",
        "duration_periods": 3,
        **kwargs,
    }
    return services.promotion_create(**args)


def check(tree, catalog, code="WELCOME20", plan="business", customer="C11", on=None):
    return selectors.promotion_check(
        seller=tree["R1"],
        code=code,
        plan=catalog[plan],
        customer=tree[customer] if customer else None,
        on_date=on or today(),
    )


def test_promotion_code_is_checked(tree, catalog):
    promotion = make_code(tree, catalog)
    assert promotion.code == "WELCOME20" and promotion.kind == "code"
    assert check(tree, catalog, code=" welcome20 ") == promotion


@pytest.mark.parametrize(
    ("setup", "check_args", "message"),
    [
        ({}, {"code": "NOPE"}, "NOPE is not a promotion code of Reseller R1."),
        ({"valid_until": date(2030, 1, 31)}, {"on": date(2030, 2, 1)}, "expired on 31 Jan 2030"),
        ({"valid_from": date(2030, 1, 1)}, {}, "can be used from 01 Jan 2030"),
        ({"plans": "starter"}, {}, "applies to Starter only, not to Business"),
        ({"max_redemptions": 1}, {"customer": "C12"}, "has been used up"),
        ({"max_redemptions": 5}, {}, "Customer C11 has already used the code WELCOME20"),
    ],
)
def test_promotion_check_says_why_not(tree, catalog, setup, check_args, message):
    if setup.get("plans"):
        setup = {**setup, "plans": [catalog[setup["plans"]]]}
    promotion = make_code(tree, catalog, **setup)
    if "max_redemptions" in setup:
        services.promotion_redeem(
            actor=SYSTEM, promotion=promotion, customer=tree["C11"], reference="order-1"
        )
    with pytest.raises(ValidationError) as exc:
        check(tree, catalog, **check_args)
    assert message in exc.value.message
    assert exc.value.fields == {"promotion_code": [exc.value.message]}


def test_withdrawn_promotion(tree, catalog):
    promotion = make_code(tree, catalog)
    services.promotion_update(actor=tree["R1.sales"], promotion=promotion, is_active=False)
    with pytest.raises(ValidationError, match="withdrawn"):
        check(tree, catalog)


def test_promotion_codes_are_per_seller(tree, catalog):
    make_code(tree, catalog)
    with pytest.raises(Conflict):
        make_code(tree, catalog)
    other = make_code(tree, catalog, actor=tree["R2.admin"], seller=tree["R2"])
    assert other.code == "WELCOME20"
    with pytest.raises(ValidationError, match="not a promotion code of Reseller R2"):
        selectors.promotion_check(
            seller=tree["R2"],
            code="OTHER1",
            plan=catalog["business"],
            customer=None,
            on_date=today(),
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"code": "a"}, "code"),
        ({"code": "no spaces"}, "code"),
        ({"percent": "0"}, "percent"),
        ({"percent": "120"}, "percent"),
        ({"discount_type": "fixed", "amount": "5", "currency": "EUR"}, "currency"),
        ({"discount_type": "fixed", "amount": "-5", "currency": "USD"}, "amount"),
        ({"discount_type": "fixed", "amount": "5.555", "currency": "USD"}, "amount"),
        ({"duration": "repeating", "duration_periods": 0}, "duration_periods"),
        ({"duration": "sometimes"}, "duration"),
        ({"valid_from": date(2030, 2, 1), "valid_until": date(2030, 1, 1)}, "valid_until"),
        ({"max_redemptions": 0}, "max_redemptions"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_promotions_are_refused(tree, catalog, kwargs, field):
    before = written()
    with pytest.raises(ValidationError) as exc:
        make_code(tree, catalog, **kwargs)
    assert field in exc.value.fields
    assert written() == before


def test_redeem_is_idempotent_per_reference_and_limited_per_customer(tree, catalog):
    promotion = make_code(tree, catalog, max_per_customer=2)
    first = services.promotion_redeem(
        actor=SYSTEM, promotion=promotion, customer=tree["C11"], reference="o-1"
    )
    assert (
        services.promotion_redeem(
            actor=SYSTEM, promotion=promotion, customer=tree["C11"], reference="o-1"
        )
        == first
    )
    second = services.promotion_redeem(
        actor=SYSTEM, promotion=promotion, customer=tree["C11"], reference="o-2"
    )
    assert (first.slot, second.slot) == (1, 2)
    before = written()
    with pytest.raises(ValidationError, match="already used"):
        services.promotion_redeem(
            actor=SYSTEM, promotion=promotion, customer=tree["C11"], reference="o-3"
        )
    with pytest.raises(Conflict):
        services.promotion_redeem(
            actor=SYSTEM, promotion=promotion, customer=tree["C12"], reference="o-1"
        )
    with pytest.raises(ValidationError, match="does not buy from"):
        services.promotion_redeem(
            actor=SYSTEM, promotion=promotion, customer=tree["C21"], reference="o-9"
        )
    assert written() == before
    assert AuditEvent.objects.filter(action="promotion.redeemed").count() == 2


def test_redeem_respects_the_overall_limit(tree, catalog):
    promotion = make_code(tree, catalog, max_redemptions=1)
    services.promotion_redeem(
        actor=SYSTEM, promotion=promotion, customer=tree["C11"], reference="o-1"
    )
    with pytest.raises(ValidationError, match="used up"):
        services.promotion_redeem(
            actor=SYSTEM, promotion=promotion, customer=tree["C12"], reference="o-2"
        )


def test_promotion_update_keeps_the_promise(tree, catalog):
    promotion = make_code(tree, catalog)
    with pytest.raises(ValidationError, match="cannot be changed: percent"):
        services.promotion_update(actor=tree["R1.admin"], promotion=promotion, percent="50")
    updated = services.promotion_update(
        actor=tree["R1.admin"], promotion=promotion, max_redemptions=100, name="Hello"
    )
    assert (updated.max_redemptions, updated.name) == (100, "Hello")
    with pytest.raises(NotFound):
        selectors.access_promotion(tree["R2.admin"], promotion.pk)
