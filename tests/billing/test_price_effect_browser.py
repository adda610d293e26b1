"""In a real Chromium, at desktop and phone widths: a reseller types a higher price, previews its
effect on its running subscriptions (nothing saved), then saves it."""

import os
import re
from datetime import date
from pathlib import Path

import pytest

from catalog.models import Price
from orders.models import Subscription, SubscriptionStatus
from portal import clock
from tests.factories import PASSWORD
from tests.orders.conftest import subscribe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_a_reseller_sees_the_effect_before_saving(
    live_server, page, tree, catalog, fake, tmp_path, width
):
    sub = subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=3)
    # Outside a test transaction the order's Box jobs went to the (absent) real connector on
    # commit and wait there; Box plays no part in a price's effect, so the subscription is
    # simply marked running.
    Subscription.objects.filter(pk=sub.pk).update(status=SubscriptionStatus.ACTIVE)
    clock.set_today(date(2027, 1, 10))
    shots = Path(os.environ.get("DRIFT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("r1.admin@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/console/\d+/$"))
    # "Change" on the price line the subscription is on
    prices = f"{live_server.url}/console/{tree['R1'].pk}/catalog/prices/{sub.plan_id}/"
    page.goto(f"{prices}?line={sub.price_id}#new-price")
    page.get_by_label("Price per seat").fill("17.00")
    before = Price.objects.count()
    page.get_by_role("button", name="Preview the effect on running subscriptions").click()
    page.get_by_test_id("price-effect").wait_for(timeout=60_000)  # a shared, busy machine
    assert page.get_by_test_id("effect-count").inner_text() == "1 subscription"
    assert page.get_by_test_id("effect-total").inner_text() == "+3.00 USD"
    assert Price.objects.count() == before
    assert page.get_by_label("Price per seat").input_value() == "17.00"
    page.get_by_test_id("price-effect").screenshot(path=str(shots / f"price-effect-{width}.png"))
    page.get_by_role("button", name="Save the new price").click()
    assert page.get_by_text("New retail price for Business: 17 USD per seat").is_visible()
    assert Price.objects.count() == before + 1
