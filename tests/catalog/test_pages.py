"""The catalog's pages as people use them: what each sees, what a form does, what an error
says, and that a storefront page costs the same number of queries however many offers."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import selectors, services
from catalog.models import Offer, Plan, Price, Promotion, SellerCurrency, TaxRate
from portal.actors import system
from portal.models import AuditEvent
from tests.catalog.builders import WHOLESALE_FIGURES, price

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return response.content.decode()


def console(tree, key):
    return f"/console/{tree[key].pk}/catalog/"


# --- every page opens -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["P.admin", "P.sales", "P.agent", "P.billing"])
def test_provider_console_pages(client, tree, catalog, who):
    client.force_login(tree[who])
    base = console(tree, "P")
    business = catalog["business"]
    promotion = services.promotion_create(
        actor=SYSTEM,
        seller=tree["P"],
        name="Launch",
        discount_type="percent",
        percent="5",
        duration="once",
    )
    for url in (
        f"{base}offers/",
        f"{base}offers/{catalog['P.business'].pk}/",
        f"{base}prices/{business.pk}/",
        f"{base}plans/",
        f"{base}promotions/",
        f"{base}promotions/{promotion.pk}/",
        f"{base}tax-rates/",
        f"{base}currencies/",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("who", ["R1.admin", "R1.sales", "R1.billing", "S1.admin"])
def test_reseller_console_pages(client, tree, catalog, who):
    org = who.split(".")[0]
    client.force_login(tree[who])
    base = console(tree, org)
    offer = catalog[f"{org}.business"]
    for url in (
        f"{base}offers/",
        f"{base}offers/{offer.pk}/",
        f"{base}prices/{catalog['business'].pk}/",
        f"{base}promotions/",
        f"{base}tax-rates/",
        f"{base}currencies/",
    ):
        assert client.get(url).status_code == 200, url
    # plans are the provider's pages
    assert client.get(f"{base}plans/").status_code == 404
    assert client.get(f"{base}plans/new/").status_code == 404


def test_nav_shows_the_catalog(client, tree, catalog):
    client.force_login(tree["R1.admin"])
    page = body(client.get(console(tree, "R1") + "offers/"))
    assert "Offers" in page and "Promotions" in page and "Tax rates" in page
    assert f'href="{console(tree, "R1")}plans/"' not in page
    client.force_login(tree["C11.member"])
    page = body(client.get(f"/portal/{tree['C11'].pk}/"))
    assert f'href="/portal/{tree["C11"].pk}/offers/"' in page


# --- the reseller console -------------------------------------------------------------------------


def test_reseller_offers_page_shows_its_cost_and_what_it_can_pick(client, tree, catalog):
    client.force_login(tree["R1.admin"])
    page = body(client.get(console(tree, "R1") + "offers/"))
    assert "16.00 USD" in page and "12.37 USD" in page  # its price and its cost
    assert "11.83" not in page  # the provider's price to R2
    assert "Available from Provider Co" in page
    assert 'data-plan="enterprise"' in page  # not picked yet


def test_reseller_picks_an_offer_then_prices_it(client, tree, catalog):
    client.force_login(tree["R1.sales"])
    enterprise = catalog["P.enterprise"]
    response = client.post(
        console(tree, "R1") + "offers/", {"action": "pick", "offer": enterprise.pk}
    )
    plan = catalog["enterprise"]
    assert response.status_code == 302
    assert response["Location"] == f"{console(tree, 'R1')}prices/{plan.pk}/"
    assert Offer.objects.filter(seller=tree["R1"], plan=plan, is_active=True).exists()
    # when R1 prices it below its cost, the form says so and nothing is saved
    url = f"{console(tree, 'R1')}prices/{plan.pk}/"
    count = Price.objects.count()
    form = {
        "audience": "retail",
        "currency": "USD",
        "term": "monthly",
        "recurring": "27.00",
        "setup_fee": "60.00",
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert "The price per seat, 27.00 USD, is below your cost of 28.00 USD." in body(response)
    assert Price.objects.count() == count
    # at or above its cost the new price is saved
    response = client.post(url, {**form, "recurring": "31.00"})
    assert response.status_code == 302
    assert selectors.price_for(
        seller=tree["R1"],
        plan=plan,
        currency="USD",
        term="monthly",
        buyer=None,
        on_date=selectors.today(),
    ).recurring == Decimal("31.00")


def test_price_form_errors_land_on_their_fields(client, tree, catalog):
    client.force_login(tree["R1.admin"])
    url = f"{console(tree, 'R1')}prices/{catalog['starter'].pk}/"
    form = {
        "audience": "retail",
        "currency": "USD",
        "term": "monthly",
        "recurring": "6.50",
        "storage_mode": "graduated",
        "storage_tiers": "50 0.12\n40 0.11\n0.10",
    }
    page = body(client.post(url, form))
    assert re.search(r"storage_tiers.*?errorlist.*?overlap", page, re.S)
    page = body(client.post(url, {**form, "recurring": "six"}))
    assert "The price per seat must be a number such as 12.50" in page


def test_change_link_prefills_the_current_version(client, tree, catalog):
    client.force_login(tree["R1.admin"])
    current = Price.objects.filter(seller=tree["R1"], plan=catalog["starter"]).get()
    page = body(
        client.get(f"{console(tree, 'R1')}prices/{catalog['starter'].pk}/?line={current.pk}")
    )
    assert 'value="6"' in page or 'value="6.00"' in page
    assert "50 0.12\n0.1" in page


def test_billing_staff_see_but_cannot_change_prices(client, tree, catalog):
    client.force_login(tree["R1.billing"])
    url = f"{console(tree, 'R1')}prices/{catalog['business'].pk}/"
    assert "New price" not in body(client.get(url))
    count = Price.objects.count()
    response = client.post(
        url,
        {"audience": "retail", "currency": "USD", "term": "monthly", "recurring": "99"},
        follow=True,
    )
    assert "admins and sales people may change its offers" in body(response)
    assert Price.objects.count() == count


def test_offer_settings_and_availability(client, tree, catalog):
    client.force_login(tree["P.admin"])
    offer = catalog["P.starter"]
    url = f"{console(tree, 'P')}offers/{offer.pk}/"
    response = client.post(
        url,
        {
            "action": "save",
            "trial_days": "30",
            "in_storefront": "on",
            "available_to": [tree["R2"].pk],
        },
    )
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.trial_days == 30 and not offer.available_to_all_resellers
    assert list(offer.available_to.all()) == [tree["R2"]]
    # R1's Starter stops being sellable
    assert [o.plan.code for o in selectors.sellable_offers(tree["R1"])] == ["business"]
    page = body(client.post(url, {"action": "save", "trial_days": "400"}))
    assert "Ensure this value is less than or equal to 365" in page or "trial lasts" in page


def test_provider_publishes_a_plan(client, tree, catalog):
    client.force_login(tree["P.admin"])
    plan = catalog["individual"]
    response = client.post(console(tree, "P") + "offers/", {"action": "publish", "plan": plan.pk})
    offer = Offer.objects.get(seller=tree["P"], plan=plan)
    assert response["Location"] == f"{console(tree, 'P')}offers/{offer.pk}/"


def test_plan_pages(client, tree, catalog):
    client.force_login(tree["P.admin"])
    base = console(tree, "P")
    starter = catalog["starter"]
    data = {
        "name": "Starter",
        "box_plan_code": "starter",
        "seat_min": "1",
        "seat_max": "12",
        "storage_mode": "pooled",
        "storage_gb": "150",
        "max_upload_mb": "2048",
        "is_active": "on",
        "sort_order": "20",
        f"to_{catalog['business'].pk}": "immediate",
    }
    response = client.post(f"{base}plans/{starter.pk}/", data)
    assert response.status_code == 302
    starter.refresh_from_db()
    assert (starter.seat_max, starter.storage_gb) == (12, 150)
    assert [t.to_plan.code for t in starter.transitions.all()] == ["business"]
    page = body(client.post(f"{base}plans/{starter.pk}/", {**data, "seat_max": "0"}))
    assert "errorlist" in page
    response = client.post(
        f"{base}plans/new/",
        {**data, "code": "team-pack", "name": "Team pack", "seat_min": "5", "seat_max": "2"},
    )
    assert "The maximum (2) is below the minimum (5)." in body(response)
    assert not Plan.objects.filter(code="team-pack").exists()
    client.force_login(tree["P.sales"])
    assert client.get(f"{base}plans/new/").status_code == 302


def test_promotion_pages(client, tree, catalog):
    client.force_login(tree["R1.admin"])
    base = console(tree, "R1")
    response = client.post(
        f"{base}promotions/",
        {
            "name": "Welcome",
            "code": "welcome20",
            "discount_type": "percent",
            "percent": "20",
            "duration": "repeating",
            "duration_periods": "3",
            "max_per_customer": "1",
            "plans": [catalog["business"].pk],
        },
    )
    promotion = Promotion.objects.get(seller=tree["R1"])
    assert response["Location"] == f"{base}promotions/{promotion.pk}/"
    assert promotion.code == "WELCOME20" and list(promotion.plans.all()) == [catalog["business"]]
    page = body(client.get(f"{base}promotions/"))
    assert "20% off for 3 periods" in page
    response = client.post(
        f"{base}promotions/{promotion.pk}/",
        {"name": "Welcome", "max_per_customer": "1", "max_redemptions": "10"},
    )
    promotion.refresh_from_db()
    assert (promotion.max_redemptions, promotion.is_active) == (10, False)
    page = body(
        client.post(
            f"{base}promotions/",
            {
                "name": "X",
                "code": "WELCOME20",
                "discount_type": "percent",
                "percent": "5",
                "duration": "once",
                "max_per_customer": "1",
            },
        )
    )
    assert "Reseller R1 already has the code WELCOME20." in page


def test_tax_and_currency_pages(client, tree, catalog):
    client.force_login(tree["R1.admin"])
    base = console(tree, "R1")
    client.post(f"{base}tax-rates/", {"name": "VAT", "country": "gb", "rate": "20"})
    assert TaxRate.objects.filter(seller=tree["R1"], country="GB", rate=Decimal("20")).exists()
    page = body(client.post(f"{base}tax-rates/", {"name": "VAT", "rate": "120"}))
    assert "A rate is a percentage between 0 and 100." in page
    client.post(f"{base}currencies/", {"action": "add", "currency": "EUR"})
    assert SellerCurrency.objects.filter(seller=tree["R1"], currency="EUR").exists()
    client.post(f"{base}currencies/", {"action": "remove", "currency": "EUR"})
    assert not SellerCurrency.objects.filter(seller=tree["R1"]).exists()
    response = client.post(
        f"{base}currencies/", {"action": "remove", "currency": "USD"}, follow=True
    )
    assert "always sold in" in body(response)


# --- storefronts ----------------------------------------------------------------------------------


def test_each_storefront_shows_its_own_offers_and_prices(client, tree, catalog):
    r1 = body(client.get("/offers/", HTTP_HOST="r1.test"))
    r2 = body(client.get("/offers/", HTTP_HOST="r2.test"))
    provider = body(client.get("/offers/", HTTP_HOST="provider.test"))
    s1 = body(client.get("/offers/", HTTP_HOST="s1.test"))
    assert "16.00 USD" in r1 and "6.00 USD" in r1 and "17.50" not in r1
    assert "17.50 USD" in r2 and "16.00" not in r2
    assert "15.00 USD" in provider and "35.00 USD" in provider and "14-day free trial" in provider
    assert "18.00 USD" in s1
    for page in (r1, r2, provider, s1):
        for figure in WHOLESALE_FIGURES:
            assert figure not in page


def test_storefront_annual_and_currency(client, tree, catalog):
    price(tree["P"], catalog["business"], "14.00", currency="EUR")
    page = body(client.get("/offers/?currency=EUR", HTTP_HOST="provider.test"))
    assert "14.00 EUR" in page and 'data-testid="offer-starter"' not in page
    page = body(client.get("/offers/?term=annual", HTTP_HOST="provider.test"))
    assert "150.00 USD" in page


def test_storefront_home_lists_offers(client, tree, catalog):
    page = body(client.get("/", HTTP_HOST="r1.test"))
    assert 'data-testid="teaser-business"' in page and "16.00 USD" in page


def test_storefront_offer_estimate(client, tree, catalog):
    services.promotion_create(
        actor=SYSTEM,
        seller=tree["R1"],
        name="Welcome",
        code="WELCOME20",
        discount_type="percent",
        percent="20",
        duration="repeating",
        duration_periods=3,
    )
    url = f"/offers/{catalog['R1.business'].pk}/"
    page = body(client.get(url, HTTP_HOST="r1.test"))
    assert "Estimate" in page and 'data-testid="estimate"' not in page
    page = body(
        client.get(url, {"seats": "5", "term": "monthly", "code": "welcome20"}, HTTP_HOST="r1.test")
    )
    # 80.00 - 16.00 = 64.00, 10 % tax 6.40
    assert re.search(r'data-testid="estimate-total">70\.40 USD', page)
    assert "WELCOME20: 20% off for 3 periods" in page
    page = body(client.get(url, {"seats": "2", "term": "monthly"}, HTTP_HOST="r1.test"))
    assert "Business needs at least 3 seat(s)." in page
    page = body(
        client.get(url, {"seats": "5", "term": "monthly", "code": "NOPE"}, HTTP_HOST="r1.test")
    )
    assert "NOPE is not a promotion code of Reseller R1." in page


def test_another_sellers_offer_is_not_on_this_storefront(client, tree, catalog):
    assert (
        client.get(f"/offers/{catalog['R2.business'].pk}/", HTTP_HOST="r1.test").status_code == 404
    )
    assert (
        client.get(f"/offers/{catalog['P.business'].pk}/", HTTP_HOST="r1.test").status_code == 404
    )
    assert (
        client.get(f"/offers/{catalog['R1.business'].pk}/", HTTP_HOST="r1.test").status_code == 200
    )


def _offers(n: int, tree):
    """n more priced plans on the provider and R1."""
    for i in range(n):
        plan = services.plan_create(
            actor=SYSTEM,
            code=f"extra-{Plan.objects.count()}",
            name=f"Extra {i}",
            box_plan_code="business",
            storage_mode="unlimited",
            max_upload_mb=5120,
            seat_min=3,
        )
        price(tree["P"], plan, "20.00")
        price(tree["P"], plan, "15.00", audience="wholesale")
        services.offer_publish(
            actor=SYSTEM, seller=tree["P"], plan=plan, available_to_all_resellers=True
        )
        services.offer_publish(
            actor=SYSTEM,
            seller=tree["R1"],
            plan=plan,
            trial_days=7,
            available_to_all_resellers=True,
        )
        price(tree["R1"], plan, "21.00")
        price(tree["R1"], plan, "16.00", audience="wholesale")
        services.offer_publish(actor=SYSTEM, seller=tree["S1"], plan=plan)
        price(tree["S1"], plan, "22.00")


def _count(client, url, host):
    client.get(url, HTTP_HOST=host)  # warm the host -> brand cache
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, HTTP_HOST=host).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("host", ["r1.test", "s1.test", "provider.test"])
def test_storefront_queries_do_not_grow_with_offers(client, tree, catalog, host, settings):
    settings.STOREFRONT_CACHE_SECONDS = 0  # what rendering costs; the cache has its own tests
    services.promotion_create(
        actor=SYSTEM,
        seller=tree["R1"],
        name="Auto",
        discount_type="percent",
        percent="5",
        duration="once",
        plans=[catalog["business"]],
    )
    before = _count(client, "/offers/", host)
    _offers(6, tree)
    after = _count(client, "/offers/", host)
    assert before == after
    # currencies, offers (+ the offers above and their availability for a reseller), prices
    # with their components and tiers, automatic promotions (+ their plans when there are some)
    assert after == {"r1.test": 9, "s1.test": 7, "provider.test": 6}[host]


def test_storefront_page_query_count(client, tree, catalog, django_assert_num_queries, settings):
    settings.STOREFRONT_CACHE_SECONDS = 0
    _offers(3, tree)
    client.get("/offers/", HTTP_HOST="r1.test")
    with django_assert_num_queries(8):
        client.get("/offers/", HTTP_HOST="r1.test")


# --- customer portal ------------------------------------------------------------------------------


def test_customer_sees_its_sellers_offers_at_its_own_price(client, tree, catalog):
    price(tree["R1"], catalog["business"], "15.50", buyer=tree["C11"])
    client.force_login(tree["C11.member"])
    page = body(client.get(f"/portal/{tree['C11'].pk}/offers/"))
    assert "15.50 USD" in page and "16.00" not in page
    client.force_login(tree["C12.member"])
    page = body(client.get(f"/portal/{tree['C12'].pk}/offers/"))
    assert "16.00 USD" in page and "15.50" not in page
    for figure in WHOLESALE_FIGURES:
        assert figure not in page


def test_customer_estimate(client, tree, catalog):
    client.force_login(tree["PC1.admin"])
    url = f"/portal/{tree['PC1'].pk}/offers/{catalog['P.business'].pk}/"
    page = body(client.get(url, {"seats": "5", "term": "monthly"}))
    assert "Free for 14 days" in page
    assert re.search(r'data-testid="estimate-total">82\.50 USD', page)
    services.trial_redeem(actor=SYSTEM, customer=tree["PC1"], offer=catalog["P.business"])
    page = body(client.get(url, {"seats": "5", "term": "monthly"}))
    assert "Free for 14 days" not in page and "already had a trial" in page


def test_customer_cannot_open_another_sellers_offer(client, tree, catalog):
    client.force_login(tree["C11.admin"])
    for offer in ("R2.business", "P.business", "S1.business"):
        url = f"/portal/{tree['C11'].pk}/offers/{catalog[offer].pk}/"
        assert client.get(url).status_code == 404


def test_writes_are_audited(client, tree, catalog):
    client.force_login(tree["R1.admin"])
    client.post(
        console(tree, "R1") + "offers/", {"action": "withdraw", "offer": catalog["R1.starter"].pk}
    )
    assert AuditEvent.objects.filter(action="offer.withdrawn", actor=tree["R1.admin"]).exists()
