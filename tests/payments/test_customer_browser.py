"""In Chromium with localstripe's Stripe.js: a customer double-clicks "Pay" with a saved card
that needs the bank's check, completes the check, and the order is paid once and provisioned;
on the payment methods page a card is added through the card element, made the default, and
automatic payment turned on. Screenshots of both pages at 1280 and 390 px go to var/."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from orders import services as orders
from orders.models import OrderState
from payments.models import BuyerAccount, Payment, PaymentMethod, StripeAccount
from payments.services import stripe_api
from portal import clock
from provisioning.models import BoxAccount
from tests.payments.customer_support import enter_card, saved_3ds_card, sign_in
from tests.payments_support import GOOD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var"


def shoot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_double_click_with_the_banks_check_pays_once_and_provisions(
    live_server, page, paying, catalog
):
    tree = paying
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    card = saved_3ds_card(tree["C11"])
    sign_in(page, live_server.url, "c11.admin@example.test")
    page.goto(f"{live_server.url}/portal/{tree['C11'].pk}/orders/{order.pk}/")
    box = page.get_by_test_id("pay-box")
    assert box.get_by_test_id("amount-due").inner_text() == "52.80 USD"
    assert box.get_by_label(card.label).is_checked()
    shoot(page, "pay-box")

    # when: "Pay" is clicked twice and the bank's check is completed
    box.get_by_test_id("pay-button").dblclick()
    page.get_by_role("button", name="Complete authentication").click()

    # then: the page says it is paid, once, and the order is being set up at Box
    box.get_by_test_id("pay-status").filter(has_text="Paid").wait_for(timeout=30000)
    # (the page is then drawn again by the server)
    page.get_by_test_id("pay-status").filter(has_text="Paid Invoice").wait_for(timeout=30000)
    assert page.get_by_test_id("order-state").inner_text() != "Awaiting payment"
    payment = Payment.objects.get(invoice=order.first_invoice)
    assert (payment.state, payment.amount) == ("succeeded", Decimal("52.80"))
    # (how provisioning then goes is the end-to-end test's business, with the simulator: here
    # no Box answers, so it is enough that it started, once)
    order.refresh_from_db()
    assert order.state != OrderState.AWAITING_PAYMENT
    assert BoxAccount.objects.filter(customer=tree["C11"]).count() == 1
    customer = BuyerAccount.objects.get(buyer=tree["C11"]).stripe_customer_ref
    client = stripe_api.client_for(StripeAccount.objects.get(seller=tree["R1"]))
    intents = [i for i in client.v1.payment_intents.list({"limit": 100}) if i.customer == customer]
    assert [(i.amount, i.status) for i in intents] == [(5280, "succeeded")]
    shoot(page, "pay-box-paid")


def test_a_card_is_added_made_default_and_pays_automatically(live_server, page, paying):
    tree = paying
    sign_in(page, live_server.url, "c11.billing@example.test")
    page.get_by_role("link", name="Payment methods").click()
    page.wait_for_url(f"{live_server.url}/portal/{tree['C11'].pk}/payment-methods/")
    assert page.get_by_test_id("cards").inner_text().strip().endswith("No card saved yet.")
    assert page.get_by_role("button", name="Turn automatic payment on").is_disabled()

    # when: a card is typed into the card element and saved
    enter_card(page, GOOD)
    page.get_by_test_id("save-card").click()
    page.get_by_test_id("default-card").wait_for(timeout=30000)

    # then: it is listed as the default, from what Stripe says about it
    saved = PaymentMethod.objects.get(buyer=tree["C11"])
    assert (saved.brand, saved.last4, saved.exp_month, saved.exp_year, saved.is_default) == (
        "visa",
        "4242",
        12,
        2031,
        True,
    )
    row = page.locator(f"tr[data-card='{saved.pk}']")
    assert " ".join(row.inner_text().split()) == "Visa ending 4242 12/2031 Default Remove"

    # and automatic payment is turned on
    page.get_by_role("button", name="Turn automatic payment on").click()
    page.get_by_test_id("autopay-state").filter(has_text="On").wait_for()
    assert BuyerAccount.objects.get(buyer=tree["C11"]).autopay is True
    shoot(page, "cards")
