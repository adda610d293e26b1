"""End to end in a real Chromium: a visitor signs up on a reseller's storefront, verifies the
e-mail, lands in the customer portal under the reseller's brand, and shows up in that reseller's
console only."""

import re

import pytest
from django.core import mail

from portal.models import BrandDomain, Organization
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def test_signup_on_a_reseller_storefront(live_server, page, tree):
    # given two reseller storefronts the browser can reach
    port = live_server.url.rsplit(":", 1)[1]
    BrandDomain.objects.create(brand=tree["R1"].brand, domain="skyline.localhost")
    BrandDomain.objects.create(brand=tree["R2"].brand, domain="harbor.localhost")
    brand = tree["R1"].brand
    brand.name, brand.primary_color = "Skyline IT", "#0f766e"
    brand.save()
    skyline = f"http://skyline.localhost:{port}"
    harbor = f"http://harbor.localhost:{port}"

    # when a visitor signs up on Skyline's storefront
    page.goto(f"{skyline}/")
    assert page.locator(".brand-name").first.inner_text() == "Skyline IT"
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Company name").fill("Kite Studio")
    page.get_by_label("Your name").fill("Kim Kite")
    page.get_by_label("Email").fill("kim@kite.test")
    page.get_by_label("Password").fill("a-sturdy-passphrase-42")
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/$"))

    # then the verification e-mail carries a link on Skyline's host
    assert len(mail.outbox) == 1
    link = re.search(
        r"http://skyline\.localhost:\d+/accounts/confirm-email/\S+", mail.outbox[0].body
    ).group(0)
    page.goto(link)

    # and the person lands in the customer portal, in Skyline's brand name and colour
    customer = Organization.objects.get(name="Kite Studio")
    page.wait_for_url(f"{skyline}/portal/{customer.pk}/")
    assert customer.parent_id == tree["R1"].pk
    assert page.locator(".brand-name").first.inner_text() == "Skyline IT"
    assert page.get_by_test_id("seller-brand").inner_text() == "Skyline IT"
    brand_var = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()"
    )
    assert brand_var == "#0f766e"
    sign_out_colour = page.get_by_role("button", name="Sign out").evaluate(
        "el => getComputedStyle(el).color"
    )
    assert sign_out_colour == "rgb(15, 118, 110)"

    # the new customer is in Skyline's console ...
    r1_context = page.context.browser.new_context()
    r1_page = r1_context.new_page()
    sign_in(r1_page, skyline, "r1.admin@example.test")
    r1_page.goto(f"{skyline}/console/{tree['R1'].pk}/customers/")
    assert r1_page.get_by_role("link", name="Kite Studio").is_visible()
    r1_context.close()

    # ... and not in Harbor's
    r2_context = page.context.browser.new_context()
    r2_page = r2_context.new_page()
    sign_in(r2_page, harbor, "r2.admin@example.test")
    r2_page.goto(f"{harbor}/console/{tree['R2'].pk}/customers/")
    assert r2_page.get_by_role("link", name="Customer C21").is_visible()
    assert r2_page.get_by_text("Kite Studio").count() == 0
    response = r2_page.goto(f"{harbor}/console/{tree['R2'].pk}/orgs/{customer.pk}/")
    assert response.status == 404
    r2_context.close()
