"""The storefront cache: anonymous pages come from the cache at no query, each kind of change
clears exactly the storefronts that show it, and nothing personal is ever stored."""

from __future__ import annotations

import pytest

from catalog import services
from portal import services as portal_services
from portal import storefront_cache
from portal.actors import system
from portal.storefront_cache import HEADER
from tests.catalog.builders import price

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db


def get(client, url, host="r1.test", **params):
    response = client.get(url, params, HTTP_HOST=host)
    assert response.status_code == 200
    return response


def state(client, url, host="r1.test", **params) -> str:
    return get(client, url, host, **params).get(HEADER, "none")


def test_second_visit_is_a_hit_without_queries(client, tree, catalog, django_assert_num_queries):
    offer = f"/offers/{catalog['R1.business'].pk}/"
    for url in ("/", "/offers/", offer):
        assert state(client, url) == "miss"
    for url in ("/", "/offers/", offer):
        with django_assert_num_queries(0):
            response = get(client, url)
        assert (response[HEADER], response["Vary"]) == ("hit", "Cookie")
    assert "16.00 USD" in get(client, "/offers/").content.decode()


@pytest.mark.parametrize(
    ("url", "queries"), [("/", 7), ("/offers/", 8), ("offer", 7), ("estimate", 18)]
)
def test_a_miss_costs_a_constant_number_of_queries(
    client, tree, catalog, django_assert_num_queries, url, queries
):
    """What rendering costs after a change (the page tests show it does not grow with the
    number of offers); the host -> brand answer stays cached."""
    params = {"seats": "5", "term": "monthly"} if url == "estimate" else {}
    if url in ("offer", "estimate"):
        url = f"/offers/{catalog['R1.business'].pk}/"
    get(client, url, **params)
    storefront_cache.bump(tree["R1"].pk)
    with django_assert_num_queries(queries):
        response = get(client, url, **params)
    assert response[HEADER] == "miss"


def test_an_estimate_is_cached_but_not_one_with_a_promotion_code(client, tree, catalog):
    url = f"/offers/{catalog['R1.business'].pk}/"
    assert state(client, url, seats="5", term="monthly") == "miss"
    assert state(client, url, seats="5", term="monthly") == "hit"
    assert state(client, url, seats="6", term="monthly") == "miss"
    assert state(client, url, seats="5", term="monthly", code="X") == "none"
    assert state(client, url, seats="5", other="1") == "none"


def test_two_brands_never_share_an_entry(client, tree, catalog):
    r1 = get(client, "/offers/", "r1.test").content.decode()
    r2 = get(client, "/offers/", "r2.test")
    assert r2[HEADER] == "miss"
    assert "17.50 USD" in r2.content.decode() and "17.50" not in r1
    assert "16.00 USD" in get(client, "/offers/", "r1.test").content.decode()


def test_currency_and_term_are_entries_of_their_own(client, tree, catalog):
    price(tree["P"], catalog["business"], "14.00", currency="EUR")
    assert state(client, "/offers/", "provider.test") == "miss"
    eur = get(client, "/offers/", "provider.test", currency="EUR")
    assert eur[HEADER] == "miss" and "14.00 EUR" in eur.content.decode()
    annual = get(client, "/offers/", "provider.test", term="annual")
    assert annual[HEADER] == "miss" and "150.00 USD" in annual.content.decode()
    assert state(client, "/offers/", "provider.test", currency="eur") == "hit"
    assert state(client, "/offers/", "provider.test") == "hit"


def test_signed_in_people_and_pending_messages_are_never_served_from_the_cache(
    client, tree, catalog
):
    get(client, "/offers/")
    assert state(client, "/offers/") == "hit"
    client.force_login(tree["C11.admin"])
    response = get(client, "/offers/")
    assert HEADER not in response and "Sign out" in response.content.decode()
    client.logout()
    client.cookies["messages"] = "anything"
    assert state(client, "/offers/") == "none"


def _price(tree, catalog):
    price(tree["R1"], catalog["business"], "16.40")
    return "16.40 USD"


def _provider_price(tree, catalog):
    # R1's storefront shows the provider's offers it picked; a provider change reaches it
    price(tree["P"], catalog["business"], "15.10")
    return None


def _offer(tree, catalog):
    services.offer_update(actor=SYSTEM, offer=catalog["R1.business"], name="Business Plus")
    return "Business Plus"


def _withdraw(tree, catalog):
    services.offer_withdraw(actor=SYSTEM, offer=catalog["R1.starter"])
    return None


def _promotion(tree, catalog):
    services.promotion_create(
        actor=SYSTEM,
        seller=tree["R1"],
        name="Autumn",
        discount_type="percent",
        percent="7",
        duration="once",
        plans=[catalog["business"]],
    )
    return "7%"


def _plan(tree, catalog):
    services.plan_update(actor=SYSTEM, plan=catalog["business"], name="Business Pro")
    return "Business Pro"


def _brand(tree, catalog):
    portal_services.brand_update(actor=SYSTEM, brand=tree["R1"].brand, tagline="Fresh words")
    return None


def _tax_rate(tree, catalog):
    # estimates show the tax
    services.tax_rate_create(actor=SYSTEM, seller=tree["R1"], name="VAT", rate="19", country="DE")
    return None


def _organization(tree, catalog):
    portal_services.organization_update(actor=SYSTEM, organization=tree["R1"], name="Skyline")
    return None


def _currency(tree, catalog):
    services.seller_currency_add(actor=SYSTEM, seller=tree["R1"], currency="GBP")
    return "GBP"


@pytest.mark.parametrize(
    "change",
    [
        _price,
        _provider_price,
        _offer,
        _withdraw,
        _promotion,
        _plan,
        _brand,
        _currency,
        _tax_rate,
        _organization,
    ],
)
def test_each_kind_of_change_clears_the_storefront(
    client, tree, catalog, change, django_capture_on_commit_callbacks
):
    offer = f"/offers/{catalog['R1.business'].pk}/"
    for url in ("/", "/offers/", offer):
        get(client, url)
        assert state(client, url) == "hit"
    get(client, "/offers/", "r2.test")
    with django_capture_on_commit_callbacks(execute=True):
        shown = change(tree, catalog)
    for url in ("/", "/offers/", offer):
        assert state(client, url) == "miss", url
    if shown:
        assert shown in get(client, "/offers/").content.decode()
    # a plan is on every storefront, the provider's catalog on every reseller's; anything
    # else is one seller's
    everywhere = change in (_plan, _provider_price)
    assert state(client, "/offers/", "r2.test") == ("miss" if everywhere else "hit")


def test_a_brand_change_shows_at_once(client, tree, catalog, django_capture_on_commit_callbacks):
    get(client, "/")
    with django_capture_on_commit_callbacks(execute=True):
        portal_services.brand_update(actor=SYSTEM, brand=tree["R1"].brand, tagline="Fresh words")
    assert "Fresh words" in get(client, "/").content.decode()


def test_a_resellers_change_leaves_its_provider_cached(client, tree, catalog):
    get(client, "/offers/", "provider.test")
    price(tree["R1"], catalog["business"], "16.40")
    assert state(client, "/offers/", "provider.test") == "hit"
    assert state(client, "/offers/", "s1.test") == "miss"  # S1 is below R1


def test_off_when_the_setting_is_zero(client, tree, catalog, settings):
    settings.STOREFRONT_CACHE_SECONDS = 0
    get(client, "/offers/")
    assert state(client, "/offers/") == "none"
