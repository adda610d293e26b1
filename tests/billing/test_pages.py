"""Usage in the pages: the subscription page's charts (exact numbers in the page's JSON island,
a constant number of queries), the longer usage page, and the provider's collections page with
its retry action."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import tasks
from billing.models import UsageCollection
from billing.services import usage
from orders import services as orders_services
from portal.actors import system
from portal.models import AuditEvent
from provisioning.connector.base import PermanentError
from tests.billing.conftest import DAY, GIB, MIB, on_day, remote_of, users_of, with_seats
from tests.factories import SYSTEM
from tests.orders.conftest import run_jobs

pytestmark = pytest.mark.django_db

COLLECTOR = system("usage-collection")


def island(response) -> dict:
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    match = re.search(r'<script id="usage-data" type="application/json">(.*?)</script>', html)
    assert match, "the page carries its chart data"
    return json.loads(match.group(1))


def collect(listing, sub, day, **spaces) -> None:
    """Box reports these bytes for the subscription's users (by name) on ``day``; a negative
    number: the user is inactive at Box (and uses nothing)."""
    on_day(day)
    u = users_of(sub)
    listing.box[sub.box_account.box_enterprise_id] = [
        remote_of(u[name], space_used=max(0, space), status="inactive" if space < 0 else "active")
        for name, space in spaces.items()
    ]
    collection = usage.usage_collection_request(account=sub.box_account, day=day, actor=COLLECTOR)
    usage.usage_collection_collect(collection=collection, actor=COLLECTOR)


@pytest.fixture
def starter(tree, catalog, listing):
    """C11 on Starter (100 GB shared), 5 seats bought, 3 assigned; 10 days ago 2 more seats
    were bought; usage collected 9 days ago, yesterday and today (DAY)."""
    sub = with_seats(
        tree,
        catalog,
        listing,
        customer="C11",
        offer="R1.starter",
        seats=3,
        start=DAY - timedelta(days=30),
    )
    collect(listing, sub, DAY - timedelta(days=20), admin=MIB, person0=GIB)
    on_day(DAY - timedelta(days=10))
    orders_services.subscription_change(actor=SYSTEM, subscription=sub, quantity=7)
    run_jobs(listing)
    collect(listing, sub, DAY - timedelta(days=1), admin=512 * MIB, person0=GIB, person1=GIB)
    collect(listing, sub, DAY, admin=512 * MIB, person0=2 * GIB, person1=-1, person2=3 * GIB // 4)
    sub.refresh_from_db()
    return sub


def test_the_subscription_page_charts_60_days_with_exact_numbers(client, tree, starter):
    on_day(DAY)
    client.force_login(tree["C11.admin"])
    data = island(client.get(f"/portal/{tree['C11'].pk}/subscriptions/{starter.pk}/"))
    assert data["subscription"] == starter.pk
    assert len(data["days"]) == 60
    assert (data["days"][0], data["days"][-1]) == (
        (DAY - timedelta(days=59)).isoformat(),
        DAY.isoformat(),
    )
    i20, i1, i0 = 39, 58, 59  # 20 days ago, yesterday, today
    assert data["storage_bytes"][i20] == MIB + GIB
    assert data["storage_gb"][i20] == 1.001  # 1 GiB + 1 MiB, to three decimals
    assert data["storage_bytes"][i1] == 512 * MIB + 2 * GIB
    assert data["storage_gb"][i1] == 2.5
    assert data["storage_bytes"][i0] == 512 * MIB + 2 * GIB + 3 * GIB // 4
    assert data["storage_gb"][i0] == 3.25
    assert data["active_users"][i20] == 1
    assert data["active_users"][i1] == 2
    assert data["active_users"][i0] == 2  # person1 inactive, the admin never counts
    assert data["seats_held"][i0] == 3
    # nothing collected on the other days: gaps, not zeros
    assert data["storage_gb"][i20 + 1 : i1] == [None] * (i1 - i20 - 1)
    assert data["collected_days"] == 3
    # what was bought each day: 5 seats until the change 10 days ago, 7 since; 100 GB shared
    assert data["seats"][:49] == [5] * 49
    assert data["seats"][49:] == [7] * 11
    assert set(data["included_gb"]) == {100}


def test_sellers_see_the_same_chart_in_their_console(client, tree, starter):
    on_day(DAY)
    client.force_login(tree["C11.admin"])
    own = island(client.get(f"/portal/{tree['C11'].pk}/subscriptions/{starter.pk}/"))
    for staff, org in (("R1.admin", "R1"), ("R1.sales", "R1"), ("P.admin", "P")):
        client.force_login(tree[staff])
        url = f"/console/{tree[org].pk}/subscriptions/{starter.pk}/"
        assert island(client.get(url)) == own, staff


def test_the_charts_use_the_vendored_chart_js_and_nothing_from_the_web(client, tree, starter):
    on_day(DAY)
    client.force_login(tree["C11.admin"])
    html = client.get(f"/portal/{tree['C11'].pk}/subscriptions/{starter.pk}/").content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts == [
        "/static/vendor/htmx/htmx.min.js",  # every console page's live status
        "/static/vendor/chartjs/chart.umd.min.js",
        "/static/js/usage-charts.js",
    ]
    assert 'data-series="storage"' in html and 'data-series="users"' in html
    assert f"/portal/{tree['C11'].pk}/subscriptions/{starter.pk}/usage/" in html


def test_the_subscription_page_makes_as_many_queries_with_more_usage(
    client, tree, catalog, listing
):
    sub = with_seats(
        tree,
        catalog,
        listing,
        customer="C11",
        offer="R1.starter",
        seats=1,
        start=DAY - timedelta(days=30),
    )
    on_day(DAY)
    client.force_login(tree["C11.admin"])
    url = f"/portal/{tree['C11'].pk}/subscriptions/{sub.pk}/"
    client.get(url)  # warm: sessions, brand cache

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    # when: 60 days of usage, three more seats and a change of seats
    on_day(DAY - timedelta(days=5))
    for n in range(3):
        orders_services.seat_assign(
            actor=SYSTEM, subscription=sub, email=f"more{n}@c11.test", name=f"More {n}"
        )
    orders_services.subscription_change(actor=SYSTEM, subscription=sub, quantity=8)
    run_jobs(listing)
    for n in range(60):
        collect(listing, sub, DAY - timedelta(days=n), admin=n * MIB, person0=GIB)
    on_day(DAY)
    # then
    assert queries() == few


def test_the_usage_page_shows_a_longer_range_and_the_daily_figures(client, tree, starter):
    on_day(DAY)
    client.force_login(tree["C11.admin"])
    url = f"/portal/{tree['C11'].pk}/subscriptions/{starter.pk}/usage/"
    response = client.get(url)
    data = island(response)
    assert len(data["days"]) == 365
    html = response.content.decode()
    rows = re.findall(r'<tr data-day="([0-9-]+)">', html)
    assert rows == [
        DAY.isoformat(),
        (DAY - timedelta(days=1)).isoformat(),
        (DAY - timedelta(days=20)).isoformat(),
    ]
    assert "3.25 GB" in html and "100 GB" in html
    assert len(island(client.get(url + "?days=90"))["days"]) == 90
    assert len(island(client.get(url + "?days=12345"))["days"]) == 365
    client.force_login(tree["R1.billing"])
    seller = island(client.get(f"/console/{tree['R1'].pk}/subscriptions/{starter.pk}/usage/"))
    assert seller == data


def test_the_provider_sees_the_days_collections_failures_first_and_retries_one(
    client, tree, catalog, listing, django_capture_on_commit_callbacks
):
    good = with_seats(tree, catalog, listing, customer="C11", seats=1)
    bad = with_seats(tree, catalog, listing, customer="PC1", seats=1)
    on_day(DAY)
    listing.fail("users.list:" + bad.box_account.box_enterprise_id, PermanentError("Box refused"))
    tasks.usage_collect_nightly()
    client.force_login(tree["P.admin"])
    url = f"/console/{tree['P'].pk}/usage/collections/"
    html = client.get(url).content.decode()
    states = re.findall(r'<tr data-collection="\d+" data-state="(\w+)">', html)
    assert states == ["failed", "succeeded"]
    assert "Box refused" in html
    assert re.search(r'data-testid="count-failed"><div class="value">1<', html)
    failed = UsageCollection.objects.get(account=bad.box_account)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "retry", "collection": failed.pk})
    # then
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("succeeded", 1)
    assert AuditEvent.objects.filter(
        action="usage.collection_retried", actor=tree["P.admin"], object_id=str(failed.pk)
    ).exists()
    assert UsageCollection.objects.get(account=good.box_account).attempts == 1


def test_the_collections_page_is_the_providers(client, tree, catalog, listing):
    sub = with_seats(tree, catalog, listing, customer="C11", seats=0)
    on_day(DAY)
    tasks.usage_collect_nightly()
    collection = UsageCollection.objects.get(account=sub.box_account)
    # provider sales may look, not retry
    client.force_login(tree["P.sales"])
    url = f"/console/{tree['P'].pk}/usage/collections/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"action": "retry", "collection": collection.pk})
    assert response.status_code == 403
    assert "Only the provider&#x27;s admins, agents and billing staff" in response.content.decode()
    # a reseller's console has no such page, even for its own customers
    client.force_login(tree["R1.admin"])
    assert client.get(f"/console/{tree['R1'].pk}/usage/collections/").status_code == 404
    response = client.post(
        f"/console/{tree['R1'].pk}/usage/collections/",
        {"action": "retry", "collection": collection.pk},
    )
    assert response.status_code == 404
    # the provider's agent sees only the customers assigned to them (PC1, not C11)
    client.force_login(tree["P.agent"])
    html = client.get(url + f"?day={DAY.isoformat()}").content.decode()
    assert f'data-collection="{collection.pk}"' not in html
    response = client.post(url, {"action": "retry", "collection": collection.pk})
    assert response.status_code == 404
    assert UsageCollection.objects.get(pk=collection.pk).attempts == 1
