"""The isolation matrix over usage: another tenant's usage (records, charts, usage pages) and
collections answer 404 in pages and API, never show up in a list or a chart, and a retry aimed
at them changes nothing."""

from __future__ import annotations

import json
import re

import pytest
from rest_framework.test import APIClient

from billing.models import BoxUserUsage, UsageCollection, UsageRecord
from billing.services import usage
from portal.actors import system
from tests.billing.conftest import DAY, GIB, on_day, remote_of, users_of, with_seats
from tests.orders.test_isolation import OFFER_OF, PAIRS

pytestmark = pytest.mark.django_db

COLLECTOR = system("usage-collection")
# Two tenants of every kind: the orders matrix, and a reseller against the provider's own
# customer.
MATRIX = [*PAIRS, ("R1.admin", "PC1"), ("R2.billing", "C12"), ("PC2.admin", "PC1")]


def snapshot():
    return (
        list(UsageRecord.objects.order_by("pk").values_list("pk", "value")),
        list(BoxUserUsage.objects.order_by("pk").values_list("pk", "space_used")),
        list(
            UsageCollection.objects.order_by("pk").values_list(
                "pk", "state", "attempts", "next_attempt_at"
            )
        ),
    )


@pytest.fixture
def world(tree, catalog, listing):
    """``build(key)``: a subscription of customer ``key`` with usage collected on DAY, its
    storage a number of GiB unique to the customer."""
    made = {}

    def build(key):
        if key in made:
            return made[key]
        sub = with_seats(tree, catalog, listing, customer=key, offer=OFFER_OF[key], seats=1)
        on_day(DAY)
        u = users_of(sub)
        gib = 10 + len(made)
        listing.box[sub.box_account.box_enterprise_id] = [
            remote_of(u["admin"]),
            remote_of(u["person0"], space_used=gib * GIB),
        ]
        collection = usage.usage_collection_request(
            account=sub.box_account, day=DAY, actor=COLLECTOR
        )
        collection = usage.usage_collection_collect(collection=collection, actor=COLLECTOR)
        made[key] = {"org": tree[key], "sub": sub, "collection": collection, "bytes": gib * GIB}
        return made[key]

    return build


def chart_of(response) -> dict:
    html = response.content.decode()
    match = re.search(r'<script id="usage-data" type="application/json">(.*?)</script>', html)
    return json.loads(match.group(1))


@pytest.mark.parametrize(("actor_key", "victim_key"), MATRIX)
def test_another_tenants_usage_is_a_404_in_pages_and_api_and_never_in_a_chart(
    client, tree, world, actor_key, victim_key
):
    actor_org = tree[actor_key.split(".")[0]]
    own = world(actor_key.split(".")[0]) if actor_org.is_customer else None
    victim = world(victim_key)
    sub, org, collection = victim["sub"], victim["org"], victim["collection"]
    client.force_login(tree[actor_key])
    api = APIClient()
    api.force_authenticate(tree[actor_key])
    before = snapshot()
    # pages
    for url in (
        f"/portal/{org.pk}/subscriptions/{sub.pk}/",
        f"/portal/{org.pk}/subscriptions/{sub.pk}/usage/",
        f"/console/{actor_org.pk}/subscriptions/{sub.pk}/usage/",
        f"/portal/{actor_org.pk}/subscriptions/{sub.pk}/usage/",
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(
        f"/console/{actor_org.pk}/usage/collections/",
        {"action": "retry", "collection": collection.pk},
    )
    assert response.status_code == 404
    # API
    for method, url in (
        ("get", f"/api/v1/usage-records/?subscription={sub.pk}"),
        ("get", f"/api/v1/usage-records/?subscription={sub.pk}&metric=storage_bytes"),
        ("get", f"/api/v1/usage-collections/{collection.pk}/"),
        ("post", f"/api/v1/usage-collections/{collection.pk}/retry/"),
    ):
        response = getattr(api, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
    listed = api.get("/api/v1/usage-collections/?page_size=500").json()["results"]
    assert collection.pk not in {c["id"] for c in listed}
    assert snapshot() == before
    if own is not None:
        # the actor's own charts hold its own usage only
        base = f"/portal/{actor_org.pk}/subscriptions/{own['sub'].pk}"
        for url in (f"{base}/", f"{base}/usage/"):
            data = chart_of(client.get(url))
            assert data["subscription"] == own["sub"].pk
            assert data["storage_bytes"][-1] == own["bytes"]
            assert victim["bytes"] not in data["storage_bytes"]


def test_each_seller_sees_the_usage_of_every_customer_it_serves(tree, world, client):
    for key in ("C11", "S1C1", "PC1"):
        world(key)
    expect = {
        "R1.admin": ["C11", "S1C1"],
        "R1.sales": ["C11", "S1C1"],
        "S1.admin": ["S1C1"],
        "P.admin": ["C11", "S1C1", "PC1"],
        "P.agent": ["PC1"],
    }
    for staff, keys in expect.items():
        seller = tree[staff.split(".")[0]]
        client.force_login(tree[staff])
        api = APIClient()
        api.force_authenticate(tree[staff])
        for key in keys:
            v = world(key)
            url = f"/console/{seller.pk}/subscriptions/{v['sub'].pk}/usage/"
            assert chart_of(client.get(url))["storage_bytes"][-1] == v["bytes"], (staff, key)
            records = api.get(f"/api/v1/usage-records/?subscription={v['sub'].pk}").json()
            assert records["count"] == 3, (staff, key)
