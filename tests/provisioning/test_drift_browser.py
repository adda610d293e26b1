"""In a real Chromium, at desktop and phone widths: the provider's admin opens the drift list,
opens a Box user without a seat, reads that adopting it takes the last free seat, confirms, and
the user becomes a seat at Box; the second user's page then says adopting would buy a seat and
what it costs, and it is ignored with a reason instead."""

import os
import re
from datetime import date
from pathlib import Path

import pytest

from orders import services as orders_services
from orders.models import SeatAssignment, SeatStatus
from portal import clock
from provisioning import engine, reconcile
from provisioning.models import DriftHandling, DriftItem
from tests.factories import PASSWORD, SYSTEM
from tests.orders.conftest import subscribe
from tests.provisioning.conftest import link_account, new_enterprise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shots(tmp_path) -> Path:
    """Screenshots go to ``DRIFT_SCREENSHOTS`` when set (to look at them), else the test's tmp."""
    folder = Path(os.environ.get("DRIFT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("width", [1280, 390])
def test_staff_adopt_a_box_user_after_reading_its_cost(
    live_server, page, tree, catalog, fake, platform_sim, sim_settings, tmp_path, width
):
    sub = subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=3)
    enterprise = new_enterprise(platform_sim, seats=10)
    account = link_account(tree["C11"], enterprise)
    sub.box_account = account
    sub.save(update_fields=["box_account"])
    domain = f"web{enterprise['enterprise_id']}.example.com"
    for name in ("ann", "bob"):
        orders_services.seat_assign(
            actor=SYSTEM, subscription=sub, email=f"{name}@{domain}", name=name.title()
        )
    engine.run_until_idle([account.pk], timeout=30)
    bulk = platform_sim.control.bulk_users(enterprise["enterprise_id"], 2, login_domain=domain)
    reconcile.account_reconcile(account, actor=SYSTEM)
    clock.set_today(date(2027, 1, 10))
    shots = _shots(tmp_path)

    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("p.admin@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/console/\d+/$"))
    page.goto(f"{live_server.url}/console/{tree['P'].pk}/provisioning/drift/")
    assert page.get_by_test_id("count-todo").inner_text() == "(2)"
    page.screenshot(path=str(shots / f"drift-list-{width}.png"), full_page=True)

    page.locator("tr", has_text=bulk["logins"][0]).get_by_test_id("open-item").click()
    assert page.get_by_test_id("adopt-cost").inner_text() == (
        f"Takes one of the 1 free seats of {sub.number} (2 of 3 in use): nothing more to pay; "
        "the customer already pays 16.00 USD per seat and month."
    )
    page.get_by_role("button", name="Adopt as a seat").click()
    assert page.get_by_text("is being adopted as a seat").is_visible()
    engine.run_until_idle([account.pk], timeout=60)
    seat = SeatAssignment.objects.get(subscription=sub, email=bulk["logins"][0])
    assert seat.status == SeatStatus.ACTIVE
    sub.refresh_from_db()
    assert sub.quantity == 3

    page.goto(f"{live_server.url}/console/{tree['P'].pk}/provisioning/drift/")
    page.locator("tr", has_text=bulk["logins"][1]).get_by_test_id("open-item").click()
    assert page.get_by_test_id("adopt-cost").inner_text() == (
        f"All 3 seats of {sub.number} are taken: adopting buys one more seat, 11.35 USD now "
        "(22 of 31 days), then 16.00 USD more per month."
    )
    page.screenshot(path=str(shots / f"drift-item-{width}.png"), full_page=True)
    page.get_by_label("Why (optional)").fill("The customer's own test user")
    page.get_by_role("button", name="Ignore this difference").click()
    assert page.get_by_test_id("drift-state").inner_text() == "Ignored"
    page.screenshot(path=str(shots / f"drift-ignored-{width}.png"), full_page=True)
    item = DriftItem.objects.get(account=account, login=bulk["logins"][1])
    assert (item.handling, item.note) == (DriftHandling.IGNORED, "The customer's own test user")
