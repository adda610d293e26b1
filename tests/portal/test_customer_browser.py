"""In a real Chromium, at desktop and phone widths: the customer's overview, and an order being
set up at Box whose page follows the steps by itself (no reload) and stops when done. A failing
step keeps a screenshot under var/ (tests/browser.py)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.utils import timezone

from billing.models import Invoice
from orders import services as orders
from orders.models import OrderState
from portal import clock
from provisioning.connector.base import TransientError
from provisioning.models import BoxUser, ProvisioningJob
from tests.browser import DESKTOP, PHONE, cut_off, screenshot, screenshots_on_failure, sign_in
from tests.orders.conftest import run_jobs, subscribe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GIB = 1024**3
# What a person must see whole on a phone: amounts, states and actions.
MUST_FIT = (
    ".stat .value, .stat .label, .badge, .alert-link, .btn, button, td.num, "
    "[data-testid=seats-of], [data-testid=storage-of], ol.steps li span"
)


_connectors: list = []


def current_connector():
    """``BOX_CONNECTOR`` while these tests run: their recording connector, so the work that
    commits start (tasks build their connector from settings) runs against it too."""
    return _connectors[-1]


@pytest.fixture
def box(fake, settings):
    settings.BOX_CONNECTOR = f"{__name__}.current_connector"
    _connectors.append(fake)
    yield fake
    _connectors.remove(fake)


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_the_overview_at_desktop_and_phone_width(live_server, page, tree, catalog, box, width):
    sub = subscribe(tree, catalog, box, customer="PC1", offer="P.starter", quantity=4)
    for n in range(3):
        orders.seat_assign(
            actor=tree["PC1.admin"], subscription=sub, email=f"p{n}@pc1.test", name=f"P{n}"
        )
    run_jobs(box)
    BoxUser.objects.filter(account=sub.box_account, login="p0@pc1.test").update(space_used=45 * GIB)
    clock.set_today(date(2027, 1, 10))
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, tree["PC1.admin"])

    with screenshots_on_failure(page, f"overview-{width}"):
        page.goto(f"{live_server.url}/portal/{tree['PC1'].pk}/")
        assert page.get_by_test_id("seats-of").inner_text() == "3 of 4 used"
        assert page.get_by_test_id("storage-of").inner_text() == "45.0\xa0GB of 100.0\xa0GB"
        assert "Next invoice, 1 Feb 2027" in page.get_by_test_id("next-invoice").inner_text()
        assert "22.00 USD" in page.get_by_test_id("next-invoice").inner_text()
        assert page.get_by_test_id("balance-due").is_visible()
        assert cut_off(page, MUST_FIT) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(page, f"overview-{width}")
        # the next invoice leads to the upcoming invoice, where the same amount is shown
        page.get_by_test_id("next-invoice").click()
        page.wait_for_url(re.compile(r".*/invoices/upcoming/$"))
        assert page.get_by_test_id("upcoming-total").first.inner_text() == "22.00 USD"


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_an_order_follows_its_steps_at_box_without_a_reload(
    live_server, page, tree, catalog, box, width, settings
):
    # Box is busy when the order is placed: the sign-up waits half a minute for its retry
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 30
    settings.BOX_JOB_BACKOFF_MAX_SECONDS = 60
    box.fail("account.signup", TransientError("Box is busy"))
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    assert order.state == OrderState.PROVISIONING
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, tree["C11.admin"])

    with screenshots_on_failure(page, f"live-order-{width}"):
        page.goto(f"{live_server.url}/portal/{tree['C11'].pk}/orders/{order.pk}/")
        assert page.get_by_test_id("order-state").inner_text() == "Provisioning"
        assert page.get_by_test_id("order-status").get_attribute("data-live") == "on"
        assert "Open your Box account" in page.get_by_test_id("steps").inner_text()
        screenshot(page, f"live-order-{width}-working")
        page.evaluate("window.stayedOnThePage = true")

        # Box is back while the person watches: the retry comes now
        ProvisioningJob.objects.filter(state="pending").update(next_attempt_at=timezone.now())
        run_jobs(box)

        page.wait_for_selector("[data-testid=order-status][data-live=off]", timeout=15_000)
        assert page.get_by_test_id("order-state").inner_text() == "Completed"
        assert (
            "Done: everything is set up at Box." in page.get_by_test_id("order-status").inner_text()
        )
        assert page.evaluate("window.stayedOnThePage") is True  # no reload
        steps = page.get_by_test_id("steps-done").inner_text()
        assert re.fullmatch(r"(\d+) of \1 steps done", steps)
        assert cut_off(page, MUST_FIT) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(page, f"live-order-{width}-done")

        # the polling has stopped: no request for the status block in the next 3 seconds
        asked = []
        page.on("request", lambda r: asked.append(r.url) if "fragment=status" in r.url else None)
        page.wait_for_timeout(3_000)
        assert asked == []


def test_on_a_phone_the_order_form_shows_the_estimate_before_the_button(
    live_server, page, tree, catalog, box
):
    clock.set_today(date(2027, 1, 1))
    page.set_viewport_size({"width": PHONE, "height": 800})
    sign_in(page, live_server, tree["C11.admin"])
    offer = catalog["R1.business"]
    with screenshots_on_failure(page, "order-form-390"):
        page.goto(f"{live_server.url}/portal/{tree['C11'].pk}/orders/new/?offer={offer.pk}&seats=3")
        line = page.get_by_test_id("estimate-line")
        button = page.get_by_role("button", name="Place the order")
        assert line.inner_text().startswith("First invoice: 52.80 USD")
        assert line.bounding_box()["y"] < button.bounding_box()["y"]
        assert cut_off(page, MUST_FIT) == []
        screenshot(page, "order-form-390")


def test_on_a_phone_no_customer_page_cuts_off_an_amount_a_status_or_an_action(
    live_server, page, tree, catalog, box
):
    sub = subscribe(tree, catalog, box, customer="PC1", offer="P.business", quantity=150)
    for n in range(2):
        orders.seat_assign(
            actor=tree["PC1.admin"], subscription=sub, email=f"p{n}@pc1.test", name=f"P{n}"
        )
    run_jobs(box)
    clock.set_today(date(2027, 1, 10))
    orders.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=160)
    run_jobs(box)
    org = tree["PC1"].pk
    first = sub.orders.order_by("pk").first()
    invoice = Invoice.objects.filter(buyer=tree["PC1"]).exclude(state="draft").first()
    page.set_viewport_size({"width": PHONE, "height": 900})
    sign_in(page, live_server, tree["PC1.admin"])
    problems = {}
    for name, path in (
        ("overview", ""),
        ("orders", "orders/"),
        ("order", f"orders/{first.pk}/"),
        ("subscriptions", "subscriptions/"),
        ("subscription", f"subscriptions/{sub.pk}/"),
        ("invoices", "invoices/"),
        ("invoice", f"invoices/{invoice.pk}/"),
        ("upcoming", "invoices/upcoming/"),
        ("activity", "audit/"),
    ):
        page.goto(f"{live_server.url}/portal/{org}/{path}")
        screenshot(page, f"phone-{name}")
        clipped = cut_off(page, MUST_FIT)
        if clipped or page.evaluate("document.documentElement.scrollWidth") > PHONE:
            problems[name] = clipped
    assert problems == {}
