"""In a real Chromium, at desktop and phone widths: a seat change shows what it costs now and
on the next invoice before anything happens, and happens once when confirmed; the sign-in,
sign-up, password reset and e-mail pages are drawn in the storefront's brand.

Screenshots go to ``PREVIEW_SCREENSHOT_DIR`` when it is set (a failing run keeps them there)."""

from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal

import pytest

from billing.models import Charge
from orders.models import Order
from portal import clock
from portal.models import BrandDomain
from tests.billing.conftest import listing  # noqa: F401 - the connector tasks build
from tests.factories import PASSWORD
from tests.orders.conftest import subscribe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 390)


def shoot(page, name: str) -> None:
    shots = os.environ.get("PREVIEW_SCREENSHOT_DIR")
    if shots:
        page.screenshot(path=f"{shots}/{name}.png", full_page=True)


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/(portal|console)/\d+/.*"))


def fits(page) -> bool:
    """Nothing runs off the right edge of the screen."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_seat_change_is_previewed_then_confirmed_once(
    live_server,
    chromium,
    tree,
    catalog,
    listing,  # noqa: F811
):
    sub = subscribe(tree, catalog, listing, quantity=5, day=date(2027, 1, 1))
    sub.refresh_from_db()
    assert sub.status == "active"
    clock.set_today(date(2027, 1, 23))
    url = f"{live_server.url}/portal/{tree['PC1'].pk}/subscriptions/{sub.pk}/"
    expected = {1280: (8, "13.06 USD"), 390: (9, "4.35 USD")}  # 3 then 1 more, 9 of 31 days
    for width in WIDTHS:
        seats, now = expected[width]
        context = chromium.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        sign_in(page, live_server.url, "pc1.admin@example.test")
        page.goto(url)
        shoot(page, f"subscription-{width}")
        form = page.get_by_test_id("change-form")
        form.get_by_label("Seats").fill(str(seats))
        orders_before = Order.objects.count()
        form.get_by_role("button", name="See what it costs").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("preview-now-total").inner_text() == now
        assert f"go from {seats - (3 if width == 1280 else 1)} to {seats}" in (
            page.get_by_test_id("preview-box").inner_text()
        )
        if width == 1280:
            assert page.get_by_test_id("preview-next-before").inner_text() == "82.50 USD"
            assert page.get_by_test_id("preview-next-after").inner_text() == "146.37 USD"
        assert Order.objects.count() == orders_before  # nothing happened yet
        confirm = page.get_by_test_id("confirm")
        box = confirm.bounding_box()
        assert fits(page) and box["x"] + box["width"] <= width
        shoot(page, f"preview-{width}")
        confirm.click()
        page.wait_for_url(url)
        assert f"{now} before tax is on your next invoice" in page.locator(".messages").inner_text()
        assert page.get_by_test_id("seats-used").inner_text() == f"0 / {seats}"
        shoot(page, f"confirmed-{width}")
        context.close()
    assert [c.amount for c in Charge.objects.filter(subscription=sub).order_by("pk")] == [
        Decimal("13.06"),
        Decimal("4.35"),
    ]
    assert Order.objects.filter(kind="change").count() == 2


def test_the_account_pages_wear_the_storefronts_brand(live_server, chromium, tree):
    brand = tree["R1"].brand
    brand.primary_color = "#7a1f5c"
    brand.save(update_fields=["primary_color", "updated_at"])
    BrandDomain.objects.create(brand=brand, domain="localhost")
    for width in WIDTHS:
        context = chromium.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        for path, name in (
            ("/accounts/login/", "sign-in"),
            ("/accounts/signup/", "sign-up"),
            ("/accounts/password/reset/", "password-reset"),
        ):
            page.goto(f"{live_server.url}{path}")
            assert page.locator("body").get_attribute("data-brand") == "Reseller R1"
            assert fits(page), path
            shoot(page, f"{name}-{width}")
        sign_in(page, live_server.url, "c11.admin@example.test")
        page.goto(f"{live_server.url}/accounts/email/")
        assert fits(page)
        shoot(page, f"email-{width}")
        context.close()
