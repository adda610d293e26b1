"""The tenant-isolation matrix over the catalog's pages and endpoints: a user of one
organization naming another's offer, price, promotion, tax rate or customer gets 404 and
nothing changes; and no customer ever sees a wholesale figure."""

import re

import pytest
from rest_framework.test import APIClient

from catalog import services
from catalog.models import (
    Offer,
    Price,
    Promotion,
    PromotionRedemption,
    SellerCurrency,
    TaxRate,
    TrialUse,
)
from portal.actors import system
from portal.models import AuditEvent
from tests.catalog.builders import WHOLESALE_FIGURES, price
from tests.portal.test_isolation import PAIRS

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db

# A seller's offer that no one outside it may pick (not open to any reseller below it).
PRIVATE_OFFER = {"R1": "R1.starter", "R2": "R2.business", "S1": "S1.business"}
# A customer of each seller, for per-customer prices.
A_CUSTOMER = {"R1": "C12", "R2": "C22", "S1": "S1C1"}
HOSTS = {"P": "provider.test", "R1": "r1.test", "R2": "r2.test", "S1": "s1.test"}


def snapshot():
    return (
        list(Offer.objects.order_by("pk").values_list("pk", "is_active", "trial_days", "name")),
        Price.objects.count(),
        list(Promotion.objects.order_by("pk").values_list("pk", "name", "is_active")),
        PromotionRedemption.objects.count(),
        TaxRate.objects.count(),
        SellerCurrency.objects.count(),
        TrialUse.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def victim_objects(tree, catalog):
    def build(key):
        victim = tree[key]
        objects = {"org": victim}
        if victim.is_seller:
            objects["offer"] = catalog[PRIVATE_OFFER[key]]
            objects["price"] = price(
                victim, catalog["business"], "40.00", buyer=tree[A_CUSTOMER[key]]
            )
            objects["promotion"] = services.promotion_create(
                actor=SYSTEM,
                seller=victim,
                name="Secret",
                code=f"SECRET{victim.pk}",
                discount_type="percent",
                percent="50",
                duration="forever",
            )
            objects["tax_rate"] = services.tax_rate_create(
                actor=SYSTEM, seller=victim, name="Tax", rate="7"
            )
        else:
            seller_key = next(k for k, v in tree.orgs.items() if v.pk == victim.parent_id)
            objects["offer"] = catalog.offers.get(f"{seller_key}.business")
        return objects

    return build


def _key_of(tree, org):
    return next(k for k, v in tree.orgs.items() if v.pk == org.pk)


def page_requests(tree, catalog, actor_org, objects):
    v = objects["org"]
    business = catalog["business"]
    reqs = []
    if v.is_seller:
        base = f"/console/{v.pk}/catalog/"
        for suffix in (
            "offers/",
            f"offers/{objects['offer'].pk}/",
            f"prices/{business.pk}/",
            "plans/",
            "plans/new/",
            "promotions/",
            f"promotions/{objects['promotion'].pk}/",
            "tax-rates/",
            "currencies/",
        ):
            reqs.append(("get", base + suffix, None))
        reqs += [
            ("post", f"{base}offers/", {"action": "withdraw", "offer": objects["offer"].pk}),
            (
                "post",
                f"{base}prices/{business.pk}/",
                {"audience": "retail", "currency": "USD", "term": "monthly", "recurring": "99"},
            ),
            (
                "post",
                f"{base}promotions/",
                {
                    "name": "Planted",
                    "discount_type": "percent",
                    "percent": "90",
                    "duration": "forever",
                    "max_per_customer": "1",
                },
            ),
            ("post", f"{base}tax-rates/", {"name": "Planted", "rate": "1"}),
            ("post", f"{base}currencies/", {"action": "add", "currency": "EUR"}),
        ]
    else:
        reqs.append(("get", f"/portal/{v.pk}/offers/", None))
        if objects["offer"] is not None:
            reqs.append(("get", f"/portal/{v.pk}/offers/{objects['offer'].pk}/", None))
    if actor_org.is_seller:
        base = f"/console/{actor_org.pk}/catalog/"
        if v.is_seller:
            offer = objects["offer"]
            promo = objects["promotion"]
            reqs += [
                ("get", f"{base}offers/{offer.pk}/", None),
                ("post", f"{base}offers/{offer.pk}/", {"action": "save", "trial_days": "9"}),
                ("post", f"{base}offers/{offer.pk}/", {"action": "withdraw"}),
                ("post", f"{base}offers/", {"action": "withdraw", "offer": offer.pk}),
                ("post", f"{base}offers/", {"action": "pick", "offer": offer.pk}),
                ("get", f"{base}promotions/{promo.pk}/", None),
                (
                    "post",
                    f"{base}promotions/{promo.pk}/",
                    {"name": "Hijacked", "max_per_customer": "1"},
                ),
            ]
        else:
            reqs.append(
                (
                    "post",
                    f"{base}prices/{business.pk}/",
                    {
                        "audience": "retail",
                        "buyer": v.pk,
                        "currency": "USD",
                        "term": "monthly",
                        "recurring": "99",
                    },
                ),
            )
    elif v.is_seller and v.pk != actor_org.parent_id:
        reqs.append(("get", f"/portal/{actor_org.pk}/offers/{objects['offer'].pk}/", None))
    return reqs


def api_requests(tree, actor_org, objects):
    v = objects["org"]
    reqs = []
    if v.is_seller:
        offer, promo = objects["offer"], objects["promotion"]
        reqs += [
            ("patch", f"/api/v1/offers/{offer.pk}/", {"trial_days": 9}),
            ("post", f"/api/v1/offers/{offer.pk}/withdraw/", None),
            ("post", "/api/v1/offers/", {"seller": v.pk, "plan": "enterprise"}),
            ("get", f"/api/v1/prices/{objects['price'].pk}/", None),
            (
                "post",
                "/api/v1/prices/",
                {
                    "seller": v.pk,
                    "plan": "business",
                    "currency": "USD",
                    "term": "monthly",
                    "recurring": "99",
                },
            ),
            ("get", f"/api/v1/promotions/{promo.pk}/", None),
            ("patch", f"/api/v1/promotions/{promo.pk}/", {"name": "Hijacked"}),
            (
                "post",
                "/api/v1/promotions/",
                {
                    "seller": v.pk,
                    "name": "Planted",
                    "discount_type": "percent",
                    "percent": "90",
                    "duration": "forever",
                },
            ),
            (
                "post",
                "/api/v1/promotions/check/",
                {"seller": v.pk, "code": promo.code, "plan": "business"},
            ),
            ("get", f"/api/v1/tax-rates/{objects['tax_rate'].pk}/", None),
            ("post", "/api/v1/tax-rates/", {"seller": v.pk, "name": "Planted", "rate": "1"}),
            ("get", f"/api/v1/price-lists/{v.pk}/", None),
            ("get", f"/api/v1/sellers/{v.pk}/currencies/", None),
            ("post", f"/api/v1/sellers/{v.pk}/currencies/", {"currency": "EUR"}),
            ("delete", f"/api/v1/sellers/{v.pk}/currencies/USD/", None),
        ]
        if v.pk != actor_org.parent_id:
            reqs += [
                ("get", f"/api/v1/offers/{offer.pk}/", None),
                ("post", "/api/v1/quotes/", {"offer": offer.pk, "quantity": 3, "term": "monthly"}),
            ]
    else:
        reqs += [
            ("get", f"/api/v1/offers/?customer={v.pk}", None),
            (
                "post",
                "/api/v1/promotions/check/",
                {"customer": v.pk, "code": "X", "plan": "business"},
            ),
        ]
        if objects["offer"] is not None:
            reqs.append(
                (
                    "post",
                    "/api/v1/quotes/",
                    {
                        "offer": objects["offer"].pk,
                        "quantity": 3,
                        "term": "monthly",
                        "customer": v.pk,
                    },
                ),
            )
    return reqs


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_catalog_pages_answer_404_and_change_nothing(
    tree, catalog, victim_objects, client, actor_key, victim_key
):
    objects = victim_objects(victim_key)
    actor_org = tree[actor_key.split(".")[0]]
    client.force_login(tree[actor_key])
    before = snapshot()
    for method, url, data in page_requests(tree, catalog, actor_org, objects):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url, response.status_code)
    host = HOSTS.get(_key_of(tree, actor_org))
    if host and objects["org"].is_seller:
        response = client.get(f"/offers/{objects['offer'].pk}/", HTTP_HOST=host)
        assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_catalog_api_answers_404_and_changes_nothing(
    tree, catalog, victim_objects, actor_key, victim_key
):
    objects = victim_objects(victim_key)
    actor_org = tree[actor_key.split(".")[0]]
    api = APIClient()
    api.force_authenticate(tree[actor_key])
    before = snapshot()
    for method, url, data in api_requests(tree, actor_org, objects):
        response = getattr(api, method)(url, data, format="json")
        assert response.status_code == 404, (method, url, response.status_code, response.json())
        assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_catalog_lists_do_not_leak(tree, catalog, victim_objects, actor_key, victim_key):
    objects = victim_objects(victim_key)
    victim = objects["org"]
    api = APIClient()
    api.force_authenticate(tree[actor_key])
    promotions = api.get("/api/v1/promotions/?page_size=500").json()["results"]
    rates = api.get("/api/v1/tax-rates/?page_size=500").json()["results"]
    prices = api.get("/api/v1/prices/?page_size=500").json()["results"]
    assert all(p["seller"] != victim.pk for p in promotions)
    assert all(r["seller"] != victim.pk for r in rates)
    if victim.is_seller:
        assert objects["price"].pk not in {p["id"] for p in prices}
    if victim.is_customer:
        assert all(p["buyer"] != victim.pk for p in prices)


CUSTOMERS = ["PC1", "PC2", "C11", "C12", "C21", "S1C1"]


@pytest.mark.parametrize("customer_key", CUSTOMERS)
@pytest.mark.parametrize("role", ["admin", "member"])
def test_customers_never_see_wholesale_figures(tree, catalog, client, customer_key, role):
    # given every seller also has automatic promotions and per-reseller prices
    customer = tree[customer_key]
    user = tree[f"{customer_key}.{role}"]
    client.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    seller_key = _key_of(tree, customer.parent)
    offer = catalog.offers.get(f"{seller_key}.business")
    pages = [
        client.get(f"/portal/{customer.pk}/"),
        client.get(f"/portal/{customer.pk}/offers/"),
        client.get(f"/portal/{customer.pk}/offers/?term=annual"),
        client.get("/offers/", HTTP_HOST=HOSTS[seller_key]),
        client.get("/", HTTP_HOST=HOSTS[seller_key]),
        api.get("/api/v1/offers/"),
        api.get("/api/v1/prices/?page_size=500"),
        api.get("/api/v1/promotions/"),
        api.get("/api/v1/tax-rates/"),
        api.get("/api/v1/plans/"),
    ]
    if offer is not None:
        pages += [
            client.get(
                f"/portal/{customer.pk}/offers/{offer.pk}/", {"seats": "5", "term": "monthly"}
            ),
            client.get(
                f"/offers/{offer.pk}/",
                {"seats": "5", "term": "monthly"},
                HTTP_HOST=HOSTS[seller_key],
            ),
            api.post(
                "/api/v1/quotes/",
                {"offer": offer.pk, "quantity": 5, "term": "monthly"},
                format="json",
            ),
            api.get(f"/api/v1/offers/{offer.pk}/"),
        ]
    for response in pages:
        assert response.status_code == 200, response
        # Timestamps (e.g. "23:18:44.009123Z") are not amounts: take them out, then look for
        # each figure as a whole number.
        text = re.sub(r"\d{2}:\d{2}:\d{2}(\.\d+)?", "", response.content.decode())
        for figure in WHOLESALE_FIGURES:
            pattern = rf"(?<![\d.]){re.escape(figure)}0*(?!\d)"  # 12.37 and 12.3700
            assert not re.search(pattern, text), (response.request.get("PATH_INFO"), figure)
        assert "wholesale" not in text.lower()
