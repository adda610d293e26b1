"""A price's effect on running subscriptions, shown before it is saved: how many would move and
by how much per month each and in total, rated as the billing run rates (a promotion's discount
included); nothing is saved by the preview; another seller's subscriptions never count."""

from datetime import date
from decimal import Decimal

import pytest

from billing.services.prices import price_change_effect, price_move_preview
from catalog import services as catalog_services
from catalog.models import Price
from portal import clock
from tests.factories import SYSTEM
from tests.orders.conftest import subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(tree, catalog, fake):
    """R1's Business customers: C11 with 3 seats, C12 with 5 seats and 10 % off for ever, both
    at 16.00 USD a month; a P customer on the provider's own price."""
    catalog_services.promotion_create(
        actor=SYSTEM,
        seller=tree["R1"],
        name="Ten off",
        discount_type="percent",
        percent="10",
        duration="forever",
        code="TENOFF",
    )
    subs = {
        "C11": subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=3),
        "C12": subscribe(
            tree, catalog, fake, customer="C12", offer="R1.business", quantity=5, code="TENOFF"
        ),
        "PC2": subscribe(tree, catalog, fake, customer="PC2", offer="P.business", quantity=4),
    }
    clock.set_today(date(2027, 1, 10))
    return subs


def test_the_effect_counts_each_subscription_and_the_monthly_total(tree, catalog, running):
    effect = price_change_effect(
        actor=tree["R1.admin"],
        seller=tree["R1"],
        plan=catalog.plans["business"],
        currency="USD",
        term="monthly",
        recurring=Decimal("17.00"),
    )
    assert effect.count == 2
    rows = [
        (x.subscription.customer.name, x.period_before, x.period_after, x.monthly_change)
        for x in effect.lines
    ]
    # C11: 3 x 16.00 -> 3 x 17.00; C12: 5 x 16.00 - 10 % -> 5 x 17.00 - 10 %
    assert rows == [
        (tree["C11"].name, Decimal("48.00"), Decimal("51.00"), Decimal("3.00")),
        (tree["C12"].name, Decimal("72.00"), Decimal("76.50"), Decimal("4.50")),
    ]
    assert effect.monthly_change == Decimal("7.50")
    assert effect.effective_from == date(2027, 2, 9)
    # an annual price, another currency and a wholesale price reach none of them
    for kwargs in ({"term": "annual"}, {"currency": "EUR"}):
        other = price_change_effect(
            actor=tree["R1.admin"],
            seller=tree["R1"],
            plan=catalog.plans["business"],
            recurring="170.00",
            **{"currency": "USD", "term": "monthly", **kwargs},
        )
        assert other.count == 0
    wholesale = price_change_effect(
        actor=tree["P.admin"],
        seller=tree["P"],
        plan=catalog.plans["business"],
        currency="USD",
        term="monthly",
        recurring="13.00",
        audience="wholesale",
    )
    assert wholesale is None


def test_the_saved_price_shows_the_same_effect(tree, catalog, running):
    price = catalog_services.price_create(
        actor=tree["R1.admin"],
        seller=tree["R1"],
        plan=catalog.plans["business"],
        audience="retail",
        currency="USD",
        term="monthly",
        recurring="17.00",
    )
    preview = price_move_preview(actor=tree["R1.admin"], price=price)
    assert [x.monthly_change for x in preview.lines] == [Decimal("3.00"), Decimal("4.50")]


def _form(**extra):
    return {
        "audience": "retail",
        "buyer": "",
        "currency": "USD",
        "term": "monthly",
        "recurring": "17.00",
        "setup_fee": "",
        "valid_from": "",
        "storage_mode": "",
        "storage_tiers": "",
        "users_mode": "",
        "users_tiers": "",
        **extra,
    }


def test_the_prices_page_previews_without_saving(client, tree, catalog, running):
    plan = catalog.plans["business"]
    url = f"/console/{tree['R1'].pk}/catalog/prices/{plan.pk}/"
    client.force_login(tree["R1.admin"])
    before = Price.objects.count()
    page = client.post(url, _form(preview="1"))
    assert page.status_code == 200
    body = page.content.decode()
    assert Price.objects.count() == before
    assert '<strong data-testid="effect-count">2 subscriptions</strong>' in body
    assert '<strong data-testid="effect-total">+7.50 USD</strong> per month in total' in body
    assert body.count('data-testid="effect-line"') == 2
    assert "72.00 USD" in body and "76.50 USD" in body and "+4.50 USD" in body
    # saving is the other button, and answers with a redirect
    saved = client.post(url, _form())
    assert saved.status_code == 302
    assert Price.objects.count() == before + 1


def test_a_bad_price_is_refused_in_the_preview_and_nothing_is_saved(client, tree, catalog, running):
    plan = catalog.plans["business"]
    url = f"/console/{tree['R1'].pk}/catalog/prices/{plan.pk}/"
    client.force_login(tree["R1.admin"])
    before = Price.objects.count()
    page = client.post(url, _form(preview="1", recurring="abc"))
    assert page.status_code == 200
    assert 'data-testid="price-effect"' not in page.content.decode()
    assert Price.objects.count() == before


@pytest.mark.parametrize("who", ["R2.admin", "S1.admin"])
def test_another_sellers_subscriptions_never_count(client, tree, catalog, running, who):
    plan = catalog.plans["business"]
    org = tree[who.split(".")[0]]
    client.force_login(tree[who])
    # R1's prices page is another seller's: 404, nothing saved
    before = Price.objects.count()
    other = client.post(f"/console/{tree['R1'].pk}/catalog/prices/{plan.pk}/", _form(preview="1"))
    assert other.status_code == 404
    assert Price.objects.count() == before
    # its own preview reaches none of R1's subscriptions
    effect = price_change_effect(
        actor=tree[who],
        seller=org,
        plan=plan,
        currency="USD",
        term="monthly",
        recurring="17.00",
    )
    assert effect.count == 0
