"""In a real Chromium: the usage charts of a subscription are drawn from the page's own data by
the vendored Chart.js, with no error and nothing fetched from elsewhere."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest

from billing.services import usage
from portal.actors import system
from tests.billing.conftest import DAY, GIB, MIB, on_day, remote_of, users_of, with_seats
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECTOR = system("usage-collection")


def test_the_charts_are_drawn_from_the_pages_data(live_server, page, tree, catalog, listing):
    sub = with_seats(tree, catalog, listing, customer="C11", offer="R1.starter", seats=2)
    u = users_of(sub)
    for n in range(15):
        on_day(DAY - timedelta(days=14 - n))
        listing.box[sub.box_account.box_enterprise_id] = [
            remote_of(u["admin"], space_used=200 * MIB),
            remote_of(u["person0"], space_used=(n + 1) * GIB),
            remote_of(u["person1"], status="inactive" if n % 3 else "active"),
        ]
        collection = usage.usage_collection_request(
            account=sub.box_account, day=DAY - timedelta(days=14 - n), actor=COLLECTOR
        )
        usage.usage_collection_collect(collection=collection, actor=COLLECTOR)
    on_day(DAY)
    errors, requests, failed = [], [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("c11.admin@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/portal/\d+/.*"))
    page.goto(f"{live_server.url}/portal/{tree['C11'].pk}/subscriptions/{sub.pk}/")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-series=users]'))"
    )
    drawn = page.evaluate(
        """() => {
          const chart = (s) => Chart.getChart(document.querySelector(`canvas[data-series=${s}]`));
          const sets = (s) => chart(s).data.datasets.map((d) => [d.label, d.data.slice(-3)]);
          const days = chart("users").data.labels.length;
          return {storage: sets("storage"), users: sets("users"), days: days};
        }"""
    )
    assert drawn["days"] == 60
    assert drawn["storage"] == [
        ["Storage used (GB)", [13.195, 14.195, 15.195]],
        ["Included storage (GB)", [100, 100, 100]],
    ]
    assert drawn["users"] == [
        ["Active users", [2, 1, 1]],
        ["Seats bought", [5, 5, 5]],
        ["Seats assigned", [2, 2, 2]],
    ]
    # the browser asks for a favicon the portal does not have; nothing else fails
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []
    assert all(url.startswith(live_server.url) for url in requests), requests
    shots = os.environ.get("USAGE_SCREENSHOT_DIR")
    if shots:
        page.get_by_test_id("usage-chart").screenshot(path=f"{shots}/usage-chart.png")
