"""End to end: Chromium, the Box simulator, localstripe and a real Celery worker. An anonymous
visitor on a reseller's storefront orders Business with 5 seats and signs up; once the e-mail
is verified the order waits for payment, with nothing at Box; the customer pays by card on the
order page (Stripe.js); only then does the worker sign the customer up at Box (browser driver)
and the order completes; the customer
assigns 2 seats and the simulator then holds exactly the admin plus those 2 users with their
quotas; an upgrade to Business Plus and a seat reduction follow, and the pending charges are the
worked cases' arithmetic for those dates."""

import re
import time
import uuid
from datetime import date
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from catalog import services as catalog_services
from orders import services as order_services
from orders.models import Order, OrderState, SeatAssignment
from payments.models import Payment, PaymentMethod
from payments.pages.pay_box import DECLINES
from portal import clock
from portal.actors import system
from portal.models import BrandDomain
from provisioning.models import BoxAccount, BoxUser
from tests.factories import PASSWORD
from tests.payments_support import DECLINED_ON_SAVE, GOOD, seller_account
from tests.provisioning.conftest import box_users, point_at

SYSTEM = system("tests")

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

GB = 1024**3
UNLIMITED = 999999999999999


def wait_for(condition, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def read_mail(folder, to: str) -> list[str]:
    bodies = []
    for file in sorted(folder.glob("*.log")):
        for chunk in file.read_bytes().split(b"-" * 79):
            if chunk.strip():
                msg = message_from_bytes(chunk.strip(), policy=policy.default)
                if to in str(msg["To"]):
                    bodies.append(msg.get_body(preferencelist=("plain",)).get_content())
    return bodies


def business_plus(tree, catalog):
    """Business Plus on sale at the provider and at the reseller R1 (25.00 a seat)."""
    plan = catalog.plans["business_plus"]
    catalog_services.price_create(
        actor=SYSTEM,
        seller=tree["P"],
        plan=plan,
        audience="retail",
        currency="USD",
        term="monthly",
        recurring="24.00",
    )
    catalog_services.price_create(
        actor=SYSTEM,
        seller=tree["P"],
        plan=plan,
        audience="wholesale",
        currency="USD",
        term="monthly",
        recurring="20.00",
    )
    catalog_services.offer_publish(
        actor=SYSTEM, seller=tree["P"], plan=plan, available_to_all_resellers=True
    )
    catalog_services.offer_publish(actor=SYSTEM, seller=tree["R1"], plan=plan)
    catalog_services.price_create(
        actor=SYSTEM,
        seller=tree["R1"],
        plan=plan,
        audience="retail",
        currency="USD",
        term="monthly",
        recurring="25.00",
    )


def worker_env(platform_sim, mail_dir) -> dict:
    return {
        "BOX_API_BASE_URL": platform_sim.url,
        "BOX_UPLOAD_BASE_URL": platform_sim.url + "/api",
        "BOX_OAUTH2_URL": platform_sim.url + "/api/oauth2",
        "BOX_WEB_BASE_URL": platform_sim.url,
        "BOX_MAILBOX_URL": platform_sim.url,
        "BOX_RATE_LIMIT_PER_MINUTE": "0",
        "BOX_JOB_BACKOFF_BASE_SECONDS": "0.2",
        "PORTAL_TEST_EMAIL_DIR": str(mail_dir),
    }


def enter_card(page, number: str) -> None:
    """Type a card into the card element (localstripe's fake one of Stripe.js)."""
    element = page.get_by_test_id("card-element")
    element.get_by_placeholder("number").fill(number)
    element.get_by_placeholder("exp_month").fill("12")
    element.get_by_placeholder("exp_year").fill("31")
    element.get_by_placeholder("cvc").fill("123")
    element.get_by_placeholder("postal_code").fill("10001")


def test_storefront_order_to_box_users_and_an_upgrade(
    live_server, page, tree, catalog, platform_sim, settings, celery_worker, tmp_path, stripe_sim
):
    # given: Skyline (R1) on a host the browser reaches, taking cards through its own Stripe
    # account, Box pointing at the simulator
    business_plus(tree, catalog)
    seller_account(tree["R1"])
    BrandDomain.objects.create(brand=tree["R1"].brand, domain="skyline.localhost")
    point_at(settings, platform_sim)
    run = uuid.uuid4().hex[:8]
    settings.BOX_ADMIN_LOGIN_TEMPLATE = f"box-admin-{run}-{{subscription}}@admins.example.com"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    celery_worker.start(queues=["default", "provisioning"], env=worker_env(platform_sim, mail_dir))
    clock.set_today(date(2027, 3, 1))
    port = live_server.url.rsplit(":", 1)[1]
    store = f"http://skyline.localhost:{port}"
    offer = catalog["R1.business"]

    # when: a visitor orders Business with 5 seats and signs up in the same form
    page.goto(f"{store}/offers/{offer.pk}/order/?seats=5&term=monthly")
    assert page.get_by_test_id("estimate-total").inner_text() == "88.00 USD"
    page.get_by_label("Company name").fill("Kite Studio")
    page.get_by_label("Your name").fill("Kim Kite")
    page.get_by_label("E-mail address").fill(f"kim-{run}@kite.test")
    page.get_by_label("Password").fill("a-sturdy-passphrase-42")
    page.get_by_role("button", name="Place the order").click()
    page.wait_for_url(f"{store}/checkout/sent/")
    order = Order.objects.get(customer__name="Kite Studio")
    assert order.state == OrderState.SUBMITTED  # waiting for the e-mail address

    # and verifies the address from the e-mail
    assert wait_for(lambda: read_mail(mail_dir, f"kim-{run}@kite.test"), 30)
    link = re.search(
        r"http://skyline\.localhost:\d+/accounts/confirm-email/\S+",
        read_mail(mail_dir, f"kim-{run}@kite.test")[0],
    ).group(0)
    page.goto(link)
    customer = order.customer
    page.wait_for_url(f"{store}/portal/{customer.pk}/orders/{order.pk}/")

    # then: the order waits for its payment and nothing is set up at Box
    order.refresh_from_db()
    assert page.get_by_test_id("order-state").inner_text() == "Awaiting payment"
    assert page.get_by_test_id("amount-due").inner_text() == "88.00 USD"
    time.sleep(2)  # the worker is listening: give it the chance to do something wrong
    assert not BoxAccount.objects.filter(customer=customer).exists()
    assert (
        platform_sim.control.mail(to=f"box-admin-{run}-{order.subscription_id}@admins.example.com")
        == []
    )

    # when: the customer pays by card on the order page, with a new card
    enter_card(page, GOOD)
    page.get_by_test_id("pay-button").click()
    page.get_by_test_id("pay-status").filter(has_text="Paid").wait_for(timeout=30000)
    payment = Payment.objects.get(invoice__order=order)
    assert (payment.state, payment.amount, payment.trigger) == (
        "succeeded",
        Decimal("88.00"),
        "checkout",
    )

    # then: the worker signs the customer up at Box and the order completes
    assert wait_for(lambda: Order.objects.get(pk=order.pk).state == OrderState.COMPLETED, 180), (
        Order.objects.get(pk=order.pk).state,
        list(
            order.customer.box_accounts.get().jobs.values_list("operation", "state", "last_error")
        ),
    )
    order.refresh_from_db()
    sub = order.subscription
    assert (sub.status, sub.quantity, sub.current_period_start) == ("active", 5, date(2027, 3, 1))
    account = sub.box_account
    account.refresh_from_db()
    assert account.status == "active" and account.box_enterprise_id

    # when: the customer assigns 2 seats in the portal
    sub_url = f"{store}/portal/{customer.pk}/subscriptions/{sub.pk}/"
    page.goto(sub_url)
    assign = page.get_by_test_id("assign-form")
    for email, name, quota in (
        (f"ana-{run}@kite.test", "Ana", "50"),
        (f"bo-{run}@kite.test", "Bo", ""),
    ):
        assign.get_by_label("E-mail address").fill(email)
        assign.get_by_label("Name").fill(name)
        assign.get_by_label("Storage quota (GB)").fill(quota)
        assign.get_by_role("button", name="Assign").click()
        page.wait_for_load_state()
    assert wait_for(
        lambda: SeatAssignment.objects.filter(subscription=sub, status="active").count() == 2, 90
    )

    # then: exactly the admin and those 2 people are in the Box enterprise, with their quotas
    remote = {
        u.login: u for u in box_users(platform_sim, {"enterprise_id": account.box_enterprise_id})
    }
    assert set(remote) == {account.admin_login, f"ana-{run}@kite.test", f"bo-{run}@kite.test"}
    assert remote[f"ana-{run}@kite.test"].space_amount == 50 * GB
    assert remote[f"bo-{run}@kite.test"].space_amount == UNLIMITED
    assert (
        BoxUser.objects.get(login=f"ana-{run}@kite.test").box_user_id
        == remote[f"ana-{run}@kite.test"].id
    )
    page.goto(sub_url)
    assert page.get_by_test_id("seats-used").inner_text() == "2 / 5"

    # when: on 11 March they upgrade to Business Plus (21 of 31 days left) ...
    clock.set_today(date(2027, 3, 11))
    change = page.get_by_test_id("change-form")
    change.get_by_label("Plan").select_option(label="Business Plus (now, prorated)")
    change.get_by_test_id("preview-change").click()
    # ... see what it costs before anything happens, and confirm
    page.get_by_test_id("confirm").wait_for()
    assert page.get_by_test_id("preview-now-total").inner_text() == "30.49 USD"
    assert not sub.charges.exists()
    page.get_by_test_id("confirm").click()
    page.wait_for_load_state()
    # ... and go down to 4 seats, which waits for the end of the term
    change = page.get_by_test_id("change-form")
    change.get_by_label("Seats").fill("4")
    change.get_by_test_id("preview-change").click()
    page.get_by_test_id("confirm").click()
    page.wait_for_load_state()
    assert (
        "Scheduled for 1 Apr 2027: 5 → 4 seats."
        in page.get_by_test_id("scheduled-change").inner_text()
    )

    # then: the pending charges are case 3's arithmetic: credit 5 x 16.00 x 21/31 = 54.19,
    # charge 5 x 25.00 x 21/31 = 84.68
    pending = list(sub.charges.order_by("id").values_list("kind", "amount"))
    assert pending == [("credit", Decimal("-54.19")), ("prorated", Decimal("84.68"))]
    charges_box = page.get_by_test_id("charges").inner_text()
    assert "-54.19 USD" in charges_box and "84.68 USD" in charges_box
    # and Box follows the plan change
    assert wait_for(
        lambda: account.jobs.filter(operation="account.change_plan", state="succeeded").exists(),
        120,
    )
    assert platform_sim.control.enterprise(account.box_enterprise_id)["plan"] == "business_plus"


def test_a_declined_card_leaves_the_order_waiting_with_nothing_at_box(
    live_server, page, paying, catalog, platform_sim, settings, celery_worker, tmp_path
):
    # given: Customer C11 of Skyline (R1), without invoice terms, orders Business with 3 seats;
    # the worker listens and Box is the simulator
    tree = paying
    point_at(settings, platform_sim)
    run = uuid.uuid4().hex[:8]
    settings.BOX_ADMIN_LOGIN_TEMPLATE = f"box-admin-{run}-{{subscription}}@admins.example.com"
    celery_worker.start(queues=["default", "provisioning"], env=worker_env(platform_sim, tmp_path))
    clock.set_today(date(2027, 3, 1))
    order = order_services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    assert order.state == OrderState.AWAITING_PAYMENT

    # when: its admin pays on the order page with a card the bank declines
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("c11.admin@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/portal/\d+/.*"))
    page.goto(f"{live_server.url}/portal/{tree['C11'].pk}/orders/{order.pk}/")
    assert page.get_by_test_id("amount-due").inner_text() == "52.80 USD"
    enter_card(page, DECLINED_ON_SAVE)
    page.get_by_test_id("pay-button").click()

    # then: the page says so in plain words, and the form is there to try again
    status = page.get_by_test_id("pay-status")
    status.filter(has_text=DECLINES["card_declined"]).wait_for(timeout=30000)
    assert page.get_by_test_id("pay-button").is_enabled()
    shots = Path(__file__).resolve().parents[2] / "var"
    shots.mkdir(exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(shots / f"pay-box-declined-{width}.png"), full_page=True)
    # and nothing moved: no card kept, no payment, the order waits, nothing at Box
    time.sleep(2)  # the worker is listening: give it the chance to do something wrong
    order.refresh_from_db()
    assert order.state == OrderState.AWAITING_PAYMENT
    assert order.first_invoice.state == "issued"
    assert not PaymentMethod.objects.filter(buyer=tree["C11"]).exists()
    assert not Payment.objects.filter(invoice=order.first_invoice).exists()
    assert not BoxAccount.objects.filter(customer=tree["C11"]).exists()
    admin = f"box-admin-{run}-{order.subscription_id}@admins.example.com"
    assert platform_sim.control.mail(to=admin) == []
    page.reload()
    assert page.get_by_test_id("order-state").inner_text() == "Awaiting payment"
