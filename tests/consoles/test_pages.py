"""A customer's whole picture on its page in a seller's console, the sidebar's current page,
and the currencies a reseller may price in."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from billing.models import UsageRecord
from catalog import services as catalog_services
from orders import services
from portal import clock
from tests.catalog.builders import price
from tests.factories import SYSTEM
from tests.orders.conftest import run_jobs, subscribe

pytestmark = pytest.mark.django_db


def test_a_customers_page_shows_its_whole_picture_to_its_sellers_staff(tree, catalog, fake, client):
    sub = subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=5)
    services.seat_assign(actor=SYSTEM, subscription=sub, email="ann@c11.test", name="Ann Lee")
    run_jobs(fake)
    UsageRecord.objects.create(
        subscription=sub, metric="storage_bytes", day=clock.today(), value=3 * 1024**3
    )
    client.force_login(tree["R1.admin"])
    response = client.get(f"/console/{tree['R1'].pk}/orgs/{tree['C11'].pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    pic = response.context["pic"]
    assert [s.pk for s in pic["subscriptions"]] == [sub.pk]
    assert pic["subscriptions"][0].seats_held == 1
    assert (pic["subscriptions"][0].storage_gb, pic["subscriptions"][0].included_gb) == (
        3.0,
        sub.plan.included_storage_gb(5),
    )
    assert len(pic["orders"]) == 1 and [s.email for s in pic["seats"]] == ["ann@c11.test"]
    for section in ("subscriptions", "orders", "seats", "payments", "audit", "invoices"):
        assert f'data-testid="customer-{section}"' in body, section
    assert "1 of 5" in body and "Ann Lee" in body
    assert f"/console/{tree['R1'].pk}/subscriptions/{sub.pk}/" in body
    assert f"/console/{tree['R1'].pk}/orders/new/?customer={tree['C11'].pk}" in body
    # Reseller staff do not act on provisioning; the provider's admin may.
    assert f"/console/{tree['R1'].pk}/provisioning/jobs/?customer=" in body  # they may look
    client.force_login(tree["P.admin"])
    provider_page = client.get(f"/console/{tree['P'].pk}/orgs/{tree['C11'].pk}/")
    assert provider_page.status_code == 200
    assert [s.pk for s in provider_page.context["pic"]["subscriptions"]] == [sub.pk]


def test_another_sellers_customer_is_a_404_that_names_nothing(tree, catalog, fake, client):
    subscribe(tree, catalog, fake, customer="C21", offer="R2.business", quantity=3)
    client.force_login(tree["R1.admin"])
    for url in (
        f"/console/{tree['R1'].pk}/orgs/{tree['C21'].pk}/",
        f"/console/{tree['R2'].pk}/orgs/{tree['C21'].pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert "C21" not in response.content.decode()
    # A sales person sees the customer but not its audit trail or payments.
    client.force_login(tree["R2.sales"])
    response = client.get(f"/console/{tree['R2'].pk}/orgs/{tree['C21'].pk}/")
    body = response.content.decode()
    assert 'data-testid="customer-audit"' not in body
    assert len(response.context["pic"]["subscriptions"]) == 1


CURRENT = re.compile(r'<a href="([^"]+)" class="active" aria-current="page">')


def test_the_sidebar_marks_the_page_you_are_on(tree, client):
    client.force_login(tree["R1.admin"])
    r1 = tree["R1"].pk
    assert CURRENT.findall(client.get(f"/console/{r1}/").content.decode()) == [f"/console/{r1}/"]
    assert CURRENT.findall(client.get(f"/console/{r1}/customers/").content.decode()) == [
        f"/console/{r1}/customers/"
    ]
    # A page below no item lights none (not the dashboard, whose URL starts every page's).
    page = client.get(f"/console/{r1}/orgs/{tree['C11'].pk}/").content.decode()
    assert CURRENT.findall(page) == []
    client.force_login(tree["C11.admin"])
    c11 = tree["C11"].pk
    assert CURRENT.findall(client.get(f"/portal/{c11}/team/").content.decode()) == [
        f"/portal/{c11}/team/"
    ]


def _currency_choices(client, org, plan) -> list[str]:
    form = client.get(f"/console/{org.pk}/catalog/prices/{plan.pk}/").context["form"]
    return [value for value, _ in form.fields["currency"].choices]


def test_a_reseller_prices_only_in_currencies_it_has_a_cost_in(tree, catalog, client):
    r1, business = tree["R1"], catalog.plans["business"]
    catalog_services.seller_currency_add(actor=SYSTEM, seller=r1, currency="EUR")
    client.force_login(tree["R1.admin"])
    assert _currency_choices(client, r1, business) == ["USD"]  # no EUR cost from the provider
    before = business.prices.filter(seller=r1).count()
    response = client.post(
        f"/console/{r1.pk}/catalog/prices/{business.pk}/",
        {
            "audience": "retail",
            "currency": "EUR",
            "term": "monthly",
            "recurring": "15.00",
            "setup_fee": "0",
            "valid_from": (clock.today() + timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 200
    assert "currency" in response.context["form"].errors
    assert business.prices.filter(seller=r1).count() == before
    price(tree["P"], business, "11.00", audience="wholesale", currency="EUR")
    assert _currency_choices(client, r1, business) == ["USD", "EUR"]
    # The provider has no cost: it prices in every currency it sells in.
    client.force_login(tree["P.admin"])
    assert _currency_choices(client, tree["P"], business) == ["USD", "EUR"]
    assert Decimal("11.00") == business.prices.get(seller=tree["P"], currency="EUR").recurring
