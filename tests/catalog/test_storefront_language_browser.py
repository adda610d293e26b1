"""In a real Chromium, at desktop and phone widths: a German reseller's storefront is German,
a visitor switches it to English from the footer and stays in English while browsing."""

from pathlib import Path

import pytest
from django.conf import settings

from portal.models import BrandDomain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(settings.VAR_DIR) / "screenshots"


@pytest.mark.parametrize("width", [1280, 390])
def test_a_visitor_switches_a_german_storefront_to_english(live_server, page, tree, catalog, width):
    tree["R1"].language = "de"
    tree["R1"].save(update_fields=["language"])
    port = live_server.url.rsplit(":", 1)[1]
    BrandDomain.objects.create(brand=tree["R1"].brand, domain="skyline.localhost")
    base = f"http://skyline.localhost:{port}"
    page.set_viewport_size({"width": width, "height": 900})
    SHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{base}/offers/")
    assert page.get_by_role("heading", name="Tarife und Preise").is_visible()
    assert page.get_by_test_id("offer-business").get_by_test_id("price").inner_text() == (
        "16.00 USD\npro Benutzer / Monat"
    )
    page.screenshot(path=str(SHOTS / f"storefront-de-{width}.png"), full_page=True)

    page.get_by_role("link", name="English").click()
    page.wait_for_url(f"{base}/offers/")
    assert page.get_by_role("heading", name="Plans and prices").is_visible()
    page.get_by_test_id("offer-business").get_by_role("link", name="Details").click()
    assert page.get_by_role("button", name="Estimate").is_visible()
    page.screenshot(path=str(SHOTS / f"storefront-en-offer-{width}.png"), full_page=True)
