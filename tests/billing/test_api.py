"""The usage API: a subscription's records by metric and date range, the collections for the
provider's staff (list, detail, retry through the service)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from billing import tasks
from billing.models import UsageCollection
from portal.models import AuditEvent
from provisioning.connector.base import UnknownOutcome
from tests.billing.conftest import DAY, GIB, on_day, remote_of, users_of, with_seats

pytestmark = pytest.mark.django_db


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def three_days(tree, catalog, listing):
    sub = with_seats(tree, catalog, listing, customer="C11", seats=2)
    u = users_of(sub)
    for n in range(3):
        on_day(DAY + timedelta(days=n))
        listing.box[sub.box_account.box_enterprise_id] = [
            remote_of(u["admin"]),
            remote_of(u["person0"], space_used=(n + 1) * GIB),
        ]
        tasks.usage_collect_nightly()
    return sub


def test_records_of_a_subscription_by_metric_and_range(tree, three_days):
    api = api_as(tree["C11.admin"])
    url = f"/api/v1/usage-records/?subscription={three_days.pk}"
    everything = api.get(url).json()
    assert everything["count"] == 9
    body = api.get(
        f"{url}&metric=storage_bytes&from={(DAY + timedelta(days=1)).isoformat()}"
        f"&to={(DAY + timedelta(days=2)).isoformat()}"
    ).json()
    assert [(r["day"], r["value"]) for r in body["results"]] == [
        ((DAY + timedelta(days=1)).isoformat(), 2 * GIB),
        ((DAY + timedelta(days=2)).isoformat(), 3 * GIB),
    ]
    assert set(body["results"][0]) == {"subscription", "metric", "day", "value", "collected_at"}
    held = api.get(f"{url}&metric=seats_held").json()["results"]
    assert [r["value"] for r in held] == [2, 2, 2]
    # the seller staff above read the same
    assert api_as(tree["R1.sales"]).get(url).json()["count"] == 9


def test_record_queries_are_checked(tree, three_days):
    api = api_as(tree["C11.admin"])
    response = api.get("/api/v1/usage-records/")
    assert response.status_code == 400
    assert "subscription" in response.json()["error"]["fields"]
    url = f"/api/v1/usage-records/?subscription={three_days.pk}"
    assert api.get(f"{url}&metric=bytes").status_code == 400
    assert api.get(f"{url}&from=March").json()["error"]["fields"] == {
        "from": ["'March' is not a date (YYYY-MM-DD)."]
    }
    assert api.get(f"{url}&from=2027-03-12&to=2027-03-10").status_code == 400
    assert api.get("/api/v1/usage-records/?subscription=abc").status_code == 404


def test_collections_for_the_providers_staff(
    tree, catalog, listing, django_capture_on_commit_callbacks
):
    sub = with_seats(tree, catalog, listing, customer="C11", seats=0)
    on_day(DAY)
    listing.fail("users.list", UnknownOutcome("Box could not list the users: 500"))
    tasks.usage_collect_nightly()
    collection = UsageCollection.objects.get(account=sub.box_account)
    admin = api_as(tree["P.admin"])
    listed = admin.get(f"/api/v1/usage-collections/?day={DAY.isoformat()}&state=failed").json()
    assert [c["id"] for c in listed["results"]] == [collection.pk]
    detail = admin.get(f"/api/v1/usage-collections/{collection.pk}/").json()
    assert (detail["state"], detail["attempts"], detail["customer"]) == (
        "failed",
        1,
        tree["C11"].pk,
    )
    assert detail["last_error"] == "Box could not list the users: 500"
    # provider sales may read, not retry; the customer and its reseller see none of it
    sales = api_as(tree["P.sales"])
    assert sales.get(f"/api/v1/usage-collections/{collection.pk}/").status_code == 200
    refused = sales.post(f"/api/v1/usage-collections/{collection.pk}/retry/")
    assert refused.status_code == 403
    for outsider in ("C11.admin", "R1.admin"):
        api = api_as(tree[outsider])
        assert api.get("/api/v1/usage-collections/").json()["count"] == 0
        assert api.get(f"/api/v1/usage-collections/{collection.pk}/").status_code == 404
    # when: the provider's admin retries
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/api/v1/usage-collections/{collection.pk}/retry/")
    assert response.status_code == 200
    assert response.json()["state"] == "pending"
    collection.refresh_from_db()
    assert (collection.state, collection.attempts) == ("succeeded", 1)
    assert AuditEvent.objects.filter(
        action="usage.collection_retried", actor=tree["P.admin"]
    ).exists()
    assert admin.get("/api/v1/usage-collections/?day=never").status_code == 400


def test_the_schema_names_the_usage_endpoints(client, tree):
    body = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in (
        "/api/v1/usage-records/",
        "/api/v1/usage-collections/",
        "/api/v1/usage-collections/{id}/retry/",
    ):
        assert path in body
