"""Idempotency keys cannot cross tenants: on every keyed write (API order create, subscription
change and cancel, storefront checkout) two tenants using the same key each get their own
result, exactly once; the same key with another request is refused with 422 and writes
nothing; a storefront token only works in the session it was issued to."""

import re
from datetime import date

import pytest
from rest_framework.test import APIClient

from billing.models import Charge
from orders.models import Order, Subscription, SubscriptionChange
from portal.models import IdempotencyRecord, Organization, User
from tests.orders.conftest import subscribe

pytestmark = pytest.mark.django_db

KEY = "shared-key-0001"


def api_for(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def post(user, url, body, key=KEY):
    return api_for(user).post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def snapshot():
    return (
        Order.objects.count(),
        Subscription.objects.count(),
        SubscriptionChange.objects.count(),
        Charge.objects.count(),
        IdempotencyRecord.objects.count(),
    )


def test_order_create_keys_are_per_customer(tree, catalog):
    body = {"offer": catalog["R1.business"].pk, "quantity": 3, "term": "monthly"}
    mine = post(tree["C11.admin"], "/api/v1/orders/", {**body, "customer": tree["C11"].pk})
    theirs = post(tree["C12.admin"], "/api/v1/orders/", {**body, "customer": tree["C12"].pk})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["customer"] == tree["C12"].pk
    # each replays its own order, never the other's
    again = post(tree["C12.admin"], "/api/v1/orders/", {**body, "customer": tree["C12"].pk})
    assert again.json()["id"] == theirs.json()["id"]
    assert Order.objects.count() == 2
    # a changed body under the same key: 422, nothing written
    before = snapshot()
    changed = post(
        tree["C12.admin"], "/api/v1/orders/", {**body, "quantity": 4, "customer": tree["C12"].pk}
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert "different request" in changed.json()["error"]["message"]
    assert snapshot() == before


@pytest.fixture
def two_subscriptions(tree, catalog, fake):
    first = subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=5)
    second = subscribe(tree, catalog, fake, customer="C21", offer="R2.business", quantity=5)
    return first, second


def test_subscription_change_keys_are_per_customer(tree, two_subscriptions):
    mine, theirs = two_subscriptions
    # tenant one uses the key first
    first = post(tree["C11.admin"], f"/api/v1/subscriptions/{mine.pk}/change/", {"quantity": 7})
    assert first.status_code == 201, first.content
    # tenant two, same key, its own subscription: its change is made, nothing of tenant one
    other = post(tree["C21.admin"], f"/api/v1/subscriptions/{theirs.pk}/change/", {"quantity": 6})
    assert other.status_code == 201, other.content
    data = other.json()
    assert data["customer"] == tree["C21"].pk and data["id"] != first.json()["id"]
    assert "Customer C11" not in other.content.decode()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.quantity, theirs.quantity) == (7, 6)
    # the same request again: the same order, applied once
    before = snapshot()
    again = post(tree["C21.admin"], f"/api/v1/subscriptions/{theirs.pk}/change/", {"quantity": 6})
    assert again.json()["id"] == data["id"]
    assert snapshot() == before
    theirs.refresh_from_db()
    assert theirs.quantity == 6
    # another request under the same key: 422, nothing changes
    refused = post(tree["C21.admin"], f"/api/v1/subscriptions/{theirs.pk}/change/", {"quantity": 9})
    assert refused.status_code == 422
    assert snapshot() == before


def test_subscription_cancel_keys_are_per_customer(tree, two_subscriptions):
    mine, theirs = two_subscriptions
    first = post(tree["C11.admin"], f"/api/v1/subscriptions/{mine.pk}/cancel/", {})
    assert first.status_code == 201, first.content
    other = post(tree["C21.admin"], f"/api/v1/subscriptions/{theirs.pk}/cancel/", {})
    assert other.status_code == 201, other.content
    assert other.json()["customer"] == tree["C21"].pk
    assert other.json()["id"] != first.json()["id"]
    theirs.refresh_from_db()
    assert theirs.cancel_at_period_end
    before = snapshot()
    again = post(tree["C21.admin"], f"/api/v1/subscriptions/{theirs.pk}/cancel/", {})
    assert again.json()["id"] == other.json()["id"]
    assert snapshot() == before


def test_a_key_is_also_per_operation(tree, two_subscriptions):
    mine, _ = two_subscriptions
    change = post(tree["C11.admin"], f"/api/v1/subscriptions/{mine.pk}/change/", {"quantity": 6})
    cancel = post(tree["C11.admin"], f"/api/v1/subscriptions/{mine.pk}/cancel/", {})
    assert change.status_code == cancel.status_code == 201
    assert change.json()["kind"] == "change" and cancel.json()["kind"] == "cancel"


TOKEN = re.compile(r'name="token" value="([A-Za-z0-9_-]+)"')


def checkout_form(token, email, company):
    return {
        "seats": 3,
        "term": "monthly",
        "code": "",
        "token": token,
        "action": "order",
        "company_name": company,
        "full_name": "Pat Doe",
        "email": email,
        "password": "a-sturdy-passphrase-42",
    }


def test_a_checkout_token_only_works_in_its_own_session(tree, catalog, client):
    url = f"/offers/{catalog['R1.business'].pk}/order/"
    page = client.get(url, HTTP_HOST="r1.test").content.decode()
    token = TOKEN.search(page).group(1)
    done = client.post(url, checkout_form(token, "pat@one.test", "One Ltd"), HTTP_HOST="r1.test")
    assert done.status_code == 302
    order = Order.objects.get()
    # an attacker who copied the token, in another session: no thank-you page, no order of
    # the first visitor, and (without a token of its own) nothing written
    from django.test import Client

    attacker = Client()
    before = (Order.objects.count(), User.objects.count(), Organization.objects.count())
    stolen = attacker.post(
        url, checkout_form(token, "mallory@evil.test", "Mallory Co"), HTTP_HOST="r1.test"
    )
    body = stolen.content.decode()
    assert stolen.status_code == 200
    assert "This form has expired" in body
    assert order.number not in body and "One Ltd" not in body and "pat@one.test" not in body
    assert (Order.objects.count(), User.objects.count(), Organization.objects.count()) == before
    # the same token with other details in its own session: refused, nothing written
    changed = client.post(
        url, checkout_form(token, "someone@else.test", "Other Ltd"), HTTP_HOST="r1.test"
    )
    assert "already used for a different request" in changed.content.decode()
    assert (Order.objects.count(), User.objects.count(), Organization.objects.count()) == before


def test_two_sellers_with_the_same_checkout_token_get_their_own_orders(tree, catalog):
    from orders import services

    args = dict(
        quantity=3,
        term="monthly",
        full_name="Pat Doe",
        password="a-sturdy-passphrase-42",
        idempotency_key="same-token",
    )
    one = services.checkout(
        seller=tree["R1"],
        offer=catalog["R1.business"],
        company_name="One Ltd",
        email="pat@one.test",
        **args,
    )
    two = services.checkout(
        seller=tree["R2"],
        offer=catalog["R2.business"],
        company_name="Two Ltd",
        email="pat@two.test",
        **args,
    )
    assert one.pk != two.pk
    assert (one.customer.name, two.customer.name) == ("One Ltd", "Two Ltd")
    assert (one.seller, two.seller) == (tree["R1"], tree["R2"])


def test_a_subscription_period_is_not_charged_twice_on_replay(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=5)
    for _ in range(3):
        response = post(
            tree["C11.admin"],
            f"/api/v1/subscriptions/{sub.pk}/change/",
            {"quantity": 8},
            key="add-three-seats",
        )
        assert response.status_code == 201
    assert Charge.objects.filter(subscription=sub).count() == 1
    assert SubscriptionChange.objects.filter(subscription=sub).count() == 1
    assert sub.__class__.objects.get(pk=sub.pk).quantity == 8
    assert date(2027, 1, 1) == sub.started_on
