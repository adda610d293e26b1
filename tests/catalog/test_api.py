"""The catalog's REST API: plans, prices, offers, price lists, promotions, tax rates,
currencies and quotes, scoped by the tenancy tree, in the project's error shape."""

import pytest
from rest_framework.test import APIClient

from catalog.models import Offer, Price, Promotion, TaxRate
from portal.models import AuditEvent
from tests.catalog.builders import WHOLESALE_FIGURES

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- plans ----------------------------------------------------------------------------------------


def test_plans_are_readable_by_anyone_signed_in(tree, catalog):
    plans = results(api_for(tree["C11.member"]).get("/api/v1/plans/"))
    business = next(p for p in plans if p["code"] == "business")
    assert business["seat_min"] == 3 and business["storage_mode"] == "unlimited"
    assert {"to": "enterprise", "timing": "immediate"} in business["transitions"]
    assert APIClient().get("/api/v1/plans/").status_code in (401, 403)


def test_provider_admin_creates_and_changes_plans(tree, catalog):
    api = api_for(tree["P.admin"])
    response = api.post(
        "/api/v1/plans/",
        {
            "code": "business-nonprofit",
            "box_plan_code": "business",
            "name": "Business (nonprofit)",
            "storage_mode": "unlimited",
            "max_upload_mb": 5120,
            "seat_min": 3,
            "transitions": [{"to": "enterprise", "timing": "immediate"}],
        },
    )
    assert response.status_code == 201, response.json()
    plan_id = response.json()["id"]
    response = api.patch(f"/api/v1/plans/{plan_id}/", {"seat_max": 50})
    assert response.json()["seat_max"] == 50
    response = api.patch(f"/api/v1/plans/{plan_id}/", {"seat_max": 1})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "validation_error",
        "message": "The maximum (1) is below the minimum (3).",
        "fields": {"seat_max": ["The maximum (1) is below the minimum (3)."]},
    }
    denied = api_for(tree["R1.admin"]).patch(f"/api/v1/plans/{plan_id}/", {"seat_max": 60})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"


# --- prices ---------------------------------------------------------------------------------------


def test_reseller_creates_a_price_version(tree, catalog):
    api = api_for(tree["R1.admin"])
    response = api.post(
        "/api/v1/prices/",
        {
            "seller": tree["R1"].pk,
            "plan": "starter",
            "currency": "USD",
            "term": "monthly",
            "recurring": "6.50",
            "components": [
                {
                    "metric": "storage_gb_month",
                    "mode": "graduated",
                    "tiers": [{"up_to": "50", "unit_price": "0.12"}, {"unit_price": "0.10"}],
                }
            ],
        },
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["recurring"] == "6.5000" and data["plan"] == "starter"
    assert data["components"][0]["tiers"][1] == {"up_to": None, "unit_price": "0.1000"}


def test_below_cost_through_the_api(tree, catalog):
    count = Price.objects.count()
    response = api_for(tree["R1.admin"]).post(
        "/api/v1/prices/",
        {
            "seller": tree["R1"].pk,
            "plan": "business",
            "currency": "USD",
            "term": "monthly",
            "recurring": "12.00",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "below_cost",
        "message": "The price per seat, 12.00 USD, is below your cost of 12.37 USD.",
        "fields": {
            "recurring": ["The price per seat, 12.00 USD, is below your cost of 12.37 USD."]
        },
    }
    assert Price.objects.count() == count


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recurring": "-3"}, "recurring"),
        ({"recurring": "three"}, "recurring"),
        ({"currency": "GBP"}, "currency"),
        ({"plan": "nope"}, "plan"),
        ({"buyer": 999999}, "buyer"),
        ({"valid_from": "2001-01-01"}, "valid_from"),
    ],
)
def test_bad_price_input_is_refused(tree, catalog, change, field):
    count = Price.objects.count()
    body = {
        "seller": tree["R1"].pk,
        "plan": "business",
        "currency": "USD",
        "term": "monthly",
        "recurring": "16.50",
        **change,
    }
    response = api_for(tree["R1.admin"]).post("/api/v1/prices/", body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert Price.objects.count() == count


def test_price_lists_are_scoped(tree, catalog):
    r1 = results(api_for(tree["R1.admin"]).get("/api/v1/prices/?page_size=500"))
    sellers = {p["seller"] for p in r1}
    assert sellers == {tree["P"].pk, tree["R1"].pk, tree["S1"].pk}
    provider_rows = [p for p in r1 if p["seller"] == tree["P"].pk]
    # R1 sees its own cost lines only: the default wholesale (no override of its own)
    assert {(p["audience"], p["buyer"]) for p in provider_rows} == {("wholesale", None)}
    assert all(p["recurring"] != "11.8300" for p in r1)
    # R2 has an override for Business monthly, so it sees that and not the default line
    r2 = results(
        api_for(tree["R2.admin"]).get(
            f"/api/v1/prices/?plan=business&seller={tree['P'].pk}&term=monthly"
        )
    )
    assert [(p["buyer"], p["recurring"]) for p in r2] == [(tree["R2"].pk, "11.8300")]
    # S1 sees R1's price to it, nothing of the provider's
    s1 = results(api_for(tree["S1.admin"]).get("/api/v1/prices/?page_size=500"))
    assert {p["seller"] for p in s1} == {tree["R1"].pk, tree["S1"].pk}
    assert {p["recurring"] for p in s1 if p["seller"] == tree["R1"].pk} == {"14.2900"}
    # a customer sees its seller's retail prices only
    c11 = results(api_for(tree["C11.member"]).get("/api/v1/prices/?page_size=500"))
    assert {(p["seller"], p["audience"]) for p in c11} == {(tree["R1"].pk, "retail")}


def test_prices_in_force_on_a_day(tree, catalog):
    api = api_for(tree["R1.admin"])
    api.post(
        "/api/v1/prices/",
        {
            "seller": tree["R1"].pk,
            "plan": "business",
            "currency": "USD",
            "term": "monthly",
            "recurring": "19.00",
            "valid_from": "2099-01-01",
        },
    )
    mine = f"/api/v1/prices/?seller={tree['R1'].pk}&plan=business&audience=retail"
    assert len(results(api.get(mine))) == 2
    assert [p["recurring"] for p in results(api.get(mine + "&in_force_on=2098-12-31"))] == [
        "16.0000"
    ]
    assert [p["recurring"] for p in results(api.get(mine + "&in_force_on=2099-01-01"))] == [
        "19.0000"
    ]


# --- offers and price lists -----------------------------------------------------------------------


def test_reseller_picks_and_withdraws_offers(tree, catalog):
    api = api_for(tree["R1.admin"])
    response = api.post(
        "/api/v1/offers/", {"seller": tree["R1"].pk, "plan": "enterprise", "trial_days": 30}
    )
    assert response.status_code == 201, response.json()
    offer_id = response.json()["id"]
    assert response.json()["parent_offer"] == catalog["P.enterprise"].pk
    response = api.post("/api/v1/offers/", {"seller": tree["R1"].pk, "plan": "individual"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Provider Co does not offer Individual to Reseller R1."
    )
    response = api.patch(f"/api/v1/offers/{offer_id}/", {"trial_days": 100})
    assert response.status_code == 400 and "trial_days" in response.json()["error"]["fields"]
    response = api.post(f"/api/v1/offers/{offer_id}/withdraw/")
    assert response.json()["is_active"] is False


def test_provider_chooses_resellers(tree, catalog):
    api = api_for(tree["P.admin"])
    offer = catalog["P.starter"]
    response = api.patch(
        f"/api/v1/offers/{offer.pk}/",
        {"available_to_all_resellers": False, "available_to": [tree["R2"].pk]},
    )
    assert response.json()["available_to"] == [tree["R2"].pk]
    response = api.patch(f"/api/v1/offers/{offer.pk}/", {"available_to": [tree["S1"].pk]})
    assert response.status_code == 400


def test_staff_offer_lists_are_scoped(tree, catalog):
    ids = {o["id"] for o in results(api_for(tree["R2.admin"]).get("/api/v1/offers/"))}
    assert ids == {catalog["R2.business"].pk}
    ids = {o["id"] for o in results(api_for(tree["R1.sales"]).get("/api/v1/offers/"))}
    assert ids == {catalog["R1.business"].pk, catalog["R1.starter"].pk, catalog["S1.business"].pk}


def test_customer_offer_list_has_its_prices_only(tree, catalog):
    response = api_for(tree["C11.member"]).get("/api/v1/offers/")
    data = results(response)
    assert [o["plan"]["code"] for o in data] == ["starter", "business"]
    business = data[1]
    assert [(p["term"], p["recurring"]) for p in business["prices"]] == [("monthly", "16.0000")]
    text = response.content.decode()
    for figure in WHOLESALE_FIGURES:
        assert figure not in text
    one = api_for(tree["C11.member"]).get(f"/api/v1/offers/{catalog['R1.business'].pk}/")
    assert one.json()["prices"][0]["recurring"] == "16.0000"
    other = api_for(tree["C11.member"]).get(f"/api/v1/offers/{catalog['R2.business'].pk}/")
    assert other.status_code == 404


def test_price_list_of_a_reseller(tree, catalog):
    data = api_for(tree["R1.billing"]).get(f"/api/v1/price-lists/{tree['R1'].pk}/").json()
    business = next(o for o in data["offers"] if o["plan"] == "business")
    assert [p["recurring"] for p in business["retail"]] == ["16.0000"]
    assert [p["recurring"] for p in business["wholesale"]] == ["14.2900"]
    assert [(p["term"], p["recurring"]) for p in business["cost"]] == [
        ("annual", "120.0000"),
        ("monthly", "12.3700"),
    ]
    assert [a["plan"] for a in data["available"]] == ["enterprise"]
    assert (
        api_for(tree["C11.admin"]).get(f"/api/v1/price-lists/{tree['R1'].pk}/").status_code == 404
    )
    assert api_for(tree["S1.admin"]).get(f"/api/v1/price-lists/{tree['R1'].pk}/").status_code == 404


# --- promotions, tax rates, currencies ------------------------------------------------------------


def test_promotions_and_code_check(tree, catalog):
    api = api_for(tree["R1.admin"])
    response = api.post(
        "/api/v1/promotions/",
        {
            "seller": tree["R1"].pk,
            "name": "Welcome",
            "code": "welcome20",
            "discount_type": "percent",
            "percent": "20",
            "duration": "repeating",
            "duration_periods": 3,
            "plans": ["business"],
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["code"] == "WELCOME20" and response.json()["plans"] == ["business"]
    customer = api_for(tree["C11.member"])
    ok = customer.post("/api/v1/promotions/check/", {"code": "Welcome20", "plan": "business"})
    assert ok.status_code == 200
    assert ok.json()["promotion"]["discount_label"] == "20% off for 3 periods"
    wrong_plan = customer.post(
        "/api/v1/promotions/check/", {"code": "WELCOME20", "plan": "starter"}
    )
    assert wrong_plan.status_code == 400
    assert wrong_plan.json()["error"]["fields"] == {
        "promotion_code": ["The code WELCOME20 applies to Business only, not to Starter."]
    }
    # another reseller's customer cannot use it, nor see it
    other = api_for(tree["C21.member"]).post(
        "/api/v1/promotions/check/", {"code": "WELCOME20", "plan": "business"}
    )
    assert "is not a promotion code of Reseller R2" in other.json()["error"]["message"]
    assert results(api_for(tree["R2.admin"]).get("/api/v1/promotions/")) == []
    assert results(customer.get("/api/v1/promotions/")) == []


def test_tax_rates_api(tree, catalog):
    api = api_for(tree["R1.billing"])
    response = api.post(
        "/api/v1/tax-rates/",
        {"seller": tree["R1"].pk, "name": "VAT", "country": "GB", "rate": "20"},
    )
    assert response.status_code == 201 and response.json()["rate"] == "20.00"
    count = TaxRate.objects.count()
    response = api.post("/api/v1/tax-rates/", {"seller": tree["R1"].pk, "name": "VAT", "rate": "x"})
    assert response.status_code == 400 and TaxRate.objects.count() == count
    assert {r["seller"] for r in results(api.get("/api/v1/tax-rates/"))} == {
        tree["R1"].pk,
    }


def test_currencies_api(tree, catalog):
    api = api_for(tree["R1.admin"])
    url = f"/api/v1/sellers/{tree['R1'].pk}/currencies/"
    assert api.get(url).json() == {"seller": tree["R1"].pk, "currencies": ["USD"]}
    assert api.post(url, {"currency": "EUR"}).json()["currencies"] == ["USD", "EUR"]
    assert api.delete(f"{url}EUR/").json()["currencies"] == ["USD"]
    response = api.post(url, {"currency": "XXX"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "XXX is not a currency the portal can sell in."


# --- quotes ---------------------------------------------------------------------------------------


def test_customer_quote(tree, catalog):
    response = api_for(tree["C11.admin"]).post(
        "/api/v1/quotes/",
        {
            "offer": catalog["R1.business"].pk,
            "quantity": 5,
            "term": "monthly",
            "start_date": "2027-01-01",
        },
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["first_invoice"]["subtotal"] == "80.00"
    assert data["first_invoice"]["tax"] == "8.00" and data["first_invoice"]["total"] == "88.00"
    assert [line["kind"] for line in data["first_invoice"]["lines"]] == ["recurring", "tax"]
    assert data["customer"] == tree["C11"].pk


def test_staff_quote_for_a_customer_and_for_a_visitor(tree, catalog):
    api = api_for(tree["R1.sales"])
    body = {
        "offer": catalog["R1.starter"].pk,
        "quantity": 11,
        "term": "monthly",
        "customer": tree["C12"].pk,
    }
    response = api.post("/api/v1/quotes/", body)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "quantity": ["Starter allows at most 10 seat(s)."]
    }
    response = api.post("/api/v1/quotes/", {**body, "quantity": 4})
    assert response.json()["first_invoice"]["subtotal"] == "24.00"
    visitor = api.post("/api/v1/quotes/", {**body, "quantity": 4, "customer": None})
    assert visitor.status_code == 200 and visitor.json()["customer"] is None


def test_quote_outside_the_tree_is_404(tree, catalog):
    api = api_for(tree["C21.admin"])
    for body in (
        {"offer": catalog["R1.business"].pk, "quantity": 5, "term": "monthly"},
        {
            "offer": catalog["R2.business"].pk,
            "quantity": 5,
            "term": "monthly",
            "customer": tree["C11"].pk,
        },
    ):
        response = api.post("/api/v1/quotes/", body)
        assert response.status_code == 404, response.json()


def test_api_writes_are_audited(tree, catalog):
    api_for(tree["R1.admin"]).post(
        "/api/v1/offers/", {"seller": tree["R1"].pk, "plan": "enterprise"}
    )
    offer = Offer.objects.get(seller=tree["R1"], plan__code="enterprise")
    assert AuditEvent.objects.filter(
        action="offer.published", object_id=str(offer.pk), actor=tree["R1.admin"]
    ).exists()
    assert not Promotion.objects.exists()


def test_schema_lists_the_catalog(client, tree):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in (
        "/api/v1/plans/",
        "/api/v1/prices/",
        "/api/v1/offers/",
        "/api/v1/quotes/",
        "/api/v1/price-lists/{id}/",
        "/api/v1/promotions/check/",
        "/api/v1/tax-rates/",
    ):
        assert path in schema


def test_quote_without_a_price_is_a_clear_error(tree, catalog):
    # given R1 has no annual price; the start date defaults to today
    data = api_for(tree["C11.admin"]).post(
        "/api/v1/quotes/", {"offer": catalog["R1.business"].pk, "quantity": 3, "term": "annual"}
    )
    assert data.status_code == 400
    assert data.json()["error"]["code"] == "no_price"
    assert data.json()["error"]["message"].startswith(
        "Reseller R1 has no retail annual price for Business in USD on "
    )
