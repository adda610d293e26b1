"""In a real Chromium: a reseller raises its price in its console; a visitor of its storefront
sees the new price at once, and the other reseller's storefront is unchanged."""

import re

import pytest

from portal.models import BrandDomain
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def business_price(page, base):
    page.goto(f"{base}/offers/")
    return page.get_by_test_id("offer-business").get_by_test_id("price").inner_text()


def test_reseller_raises_a_price_and_only_its_storefront_changes(live_server, page, tree, catalog):
    # given Skyline (R1) and Harbor (R2) storefronts the browser can reach
    port = live_server.url.rsplit(":", 1)[1]
    BrandDomain.objects.create(brand=tree["R1"].brand, domain="skyline.localhost")
    BrandDomain.objects.create(brand=tree["R2"].brand, domain="harbor.localhost")
    skyline = f"http://skyline.localhost:{port}"
    harbor = f"http://harbor.localhost:{port}"
    visitor = page.context.browser.new_context().new_page()
    assert business_price(visitor, skyline).startswith("16.00 USD")
    assert business_price(visitor, harbor).startswith("17.50 USD")

    # when Skyline's admin changes its monthly retail price of Business to 18.50
    page.goto(f"{skyline}/accounts/login/")
    page.get_by_label("Email").fill("r1.admin@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/console/\d+/$"))
    page.get_by_role("link", name="Offers").click()
    page.locator("tr", has_text="Business").get_by_role("link", name="Prices").click()
    line = page.locator("tr", has_text="Retail").filter(has_text="monthly")
    line.get_by_role("link", name="Change").click()
    assert page.get_by_label("Price per seat").input_value() == "16"
    page.get_by_label("Price per seat").fill("18.50")
    page.get_by_role("button", name="Save the new price").click()
    assert page.get_by_text("New retail price for Business: 18.5 USD per seat").is_visible()

    # then the visitor sees the new price on Skyline's storefront and in its estimate
    assert business_price(visitor, skyline).startswith("18.50 USD")
    visitor.get_by_test_id("offer-business").get_by_role("link", name="Details").click()
    visitor.get_by_label("Seats").fill("5")
    visitor.get_by_role("button", name="Estimate").click()
    # 5 x 18.50 = 92.50, 10 % tax 9.25
    assert visitor.get_by_test_id("estimate-total").inner_text() == "101.75 USD"
    # and Harbor's storefront is unchanged
    assert business_price(visitor, harbor).startswith("17.50 USD")
    visitor.context.close()
