"""In a real Chromium at desktop and phone widths: the provider's and a reseller's dashboards
draw their charts from the page's own data with the vendored Chart.js (nothing fetched from
elsewhere, no script error), the to-do links lead to their lists, and nothing is cut off at
390 pixels. Screenshots go to var/screenshots/ (docs/img/ holds copies)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from billing.models import UsageRecord
from portal import clock
from tests.consoles.conftest import invoice
from tests.factories import PASSWORD
from tests.orders.conftest import subscribe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
_FAKE = []


def current_fake():
    """The test's recording connector, for the provisioning that commits start in-process."""
    return _FAKE[-1]


@pytest.fixture
def box(settings, fake):
    settings.BOX_CONNECTOR = "tests.consoles.test_browser.current_fake"
    _FAKE.append(fake)
    yield fake
    _FAKE.remove(fake)


def _figures(tree, catalog, fake):
    """Running subscriptions of the three sellers, a month of storage, wholesale invoices and
    an overdue invoice."""
    subs = [
        subscribe(tree, catalog, fake, customer="C11", offer="R1.starter", quantity=6),
        subscribe(tree, catalog, fake, customer="C12", offer="R1.business", quantity=8),
        subscribe(tree, catalog, fake, customer="C21", offer="R2.business", quantity=4),
        subscribe(tree, catalog, fake, customer="PC2", offer="P.starter", quantity=9),
    ]
    clock.set_today(clock.today() + timedelta(days=45))
    for sub in subs:
        for n in range(30):
            UsageRecord.objects.create(
                subscription=sub,
                metric="storage_bytes",
                day=clock.today() - timedelta(days=n),
                value=(40 + sub.quantity * (30 - n)) * 1024**3 // 10,
            )
    invoice(tree["P"], tree["R1"], source="wholesale", subtotal="1249.50")
    invoice(tree["P"], tree["R2"], source="wholesale", subtotal="310.00")
    invoice(tree["R1"], tree["C12"], due_in=-50)


def _sign_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/console/\d+/.*"))


def _look(page, base, org, name: str, charts: list[str]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}/console/{org.pk}/")
        selector = " && ".join(
            f"Chart.getChart(document.querySelector(\"canvas[data-chart='{c}']\"))" for c in charts
        )
        try:
            page.wait_for_function(f"() => window.Chart && {selector}")
        except Exception:
            page.screenshot(path=str(SHOTS / f"{name}-{width}-failed.png"), full_page=True)
            raise
        overflow = page.evaluate("() => document.scrollingElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow}px wide at {width}px"
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def test_the_dashboards_draw_their_charts_and_fit_a_phone(live_server, page, tree, catalog, box):
    _figures(tree, catalog, box)
    errors, foreign, missing = [], [], []
    # A missing resource is checked by its response (the browser's own /favicon.ico aside).
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            missing.append(r.url)
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(live_server.url) else None,
    )
    _sign_in(page, live_server.url, "p.admin@example.test")
    _look(
        page,
        live_server.url,
        tree["P"],
        "dashboard-provider",
        ["mrr", "seats", "storage", "jobs", "by_reseller"],
    )
    drawn = page.evaluate(
        """() => {
          const chart = (c) => Chart.getChart(document.querySelector(`canvas[data-chart=${c}]`));
          return {
            resellers: chart("by_reseller").data.labels,
            seats: chart("seats").data.datasets[0].data.slice(-1)[0],
            shown: document.querySelector("[data-testid=stat-seats] .value").textContent,
          };
        }"""
    )
    assert drawn["resellers"] == ["Reseller R1 (USD)", "Reseller R2 (USD)"]
    assert str(drawn["seats"]) == drawn["shown"]
    page.click("[data-testid=todo-overdue]")
    page.wait_for_url(re.compile(r".*/billing/invoices/\?overdue=1$"))

    page.context.clear_cookies()
    _sign_in(page, live_server.url, "r1.admin@example.test")
    _look(
        page, live_server.url, tree["R1"], "dashboard-reseller", ["mrr", "seats", "storage", "jobs"]
    )
    # The first invoices of C11's and C12's orders (14 days' terms, 45 days ago) and one more.
    assert page.locator("[data-testid=todo-overdue]").get_attribute("data-count") == "3"
    assert page.locator("text=Reseller R2").count() == 0
    assert errors == [] and foreign == [] and missing == []
