"""End to end with the Box simulator, localstripe and Chromium: a customer's saved card pays
its first renewal automatically; the card that replaces it is declined, dunning retries on the
seller's schedule and suspends the subscription, whose Box users are then inactive at the
simulator; the customer pays the invoice by hand with a good card on the invoice page, and
its Box users are active again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.services.run import RUN, billing_run
from orders import services as orders
from orders.models import Subscription
from payments.models import Dunning, Payment
from payments.services.accounts import invoice_terms_set, payment_policy_update
from payments.services.cards import autopay_set
from payments.services.dunning import dunning_tick
from portal import clock
from provisioning.engine import run_until_idle
from provisioning.models import BoxAccount
from tests.payments.customer_support import enter_card, sign_in
from tests.payments.helpers import books_balance, charged_at_stripe
from tests.payments_support import DECLINED_ON_CHARGE, GOOD, saved_card
from tests.provisioning.conftest import box_users, point_at

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def statuses_at_box(sim, account: BoxAccount) -> dict[str, str]:
    """Each managed user's status, straight from the simulator's API."""
    users = box_users(sim, {"enterprise_id": account.box_enterprise_id})
    return {user.login: getattr(user.status, "value", user.status) for user in users}


def settle(account: BoxAccount) -> None:
    run_until_idle([account.pk], timeout=240)


def test_a_declined_renewal_suspends_the_users_at_box_until_the_customer_pays_by_card(
    live_server, page, paying, catalog, platform_sim, settings
):
    tree = paying
    point_at(settings, platform_sim)
    # given: Skyline (R1) retries a failed payment after 1 day and suspends after 3
    payment_policy_update(
        actor=tree["R1.admin"],
        seller=tree["R1"],
        retry_days="1",
        suspend_after_days=3,
        cancel_after_days=30,
    )
    # C11 orders Business (3 seats) on invoice terms; it is set up at the simulator with Ana
    invoice_terms_set(actor=tree["R1.billing"], buyer=tree["C11"], days=14)
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    sub = Subscription.objects.get(pk=order.subscription_id)
    account = BoxAccount.objects.get(customer=tree["C11"])
    settle(account)
    orders.seat_assign(actor=tree["C11.admin"], subscription=sub, email="ana@c11.test", name="Ana")
    settle(account)
    account.refresh_from_db()
    assert account.status == "active"
    assert statuses_at_box(platform_sim, account) == {
        account.admin_login: "active",
        "ana@c11.test": "active",
    }

    # when: a saved card with automatic payment on meets February's renewal
    saved_card(tree["C11"], GOOD)
    autopay_set(actor=tree["C11.billing"], buyer=tree["C11"], enabled=True)
    clock.set_today(date(2027, 2, 1))
    billing_run(actor=RUN, day=date(2027, 2, 1))

    # then: it is paid automatically, charged once
    february = Invoice.objects.get(buyer=tree["C11"], billing_day=date(2027, 2, 1))
    assert (february.state, february.total) == ("paid", Decimal("52.80"))
    assert charged_at_stripe(february) == 1

    # when: the card that replaces it is declined at March's renewal and on the retry
    saved_card(tree["C11"], DECLINED_ON_CHARGE)
    clock.set_today(date(2027, 3, 1))
    billing_run(actor=RUN, day=date(2027, 3, 1))
    march = Invoice.objects.get(buyer=tree["C11"], billing_day=date(2027, 3, 1))
    assert march.state == "issued"
    for day in (date(2027, 3, 2), date(2027, 3, 3)):
        clock.set_today(day)
        dunning_tick(day=day)
    assert Payment.objects.filter(invoice=march, state="failed").count() == 2
    clock.set_today(date(2027, 3, 4))
    assert dunning_tick(day=date(2027, 3, 4))["suspended"] == 1
    settle(account)

    # then: suspended, and at Box every user but the primary admin is inactive
    sub.refresh_from_db()
    assert sub.status == "suspended"
    assert Dunning.objects.get(invoice=march).stage == "suspended"
    assert statuses_at_box(platform_sim, account) == {
        account.admin_login: "active",
        "ana@c11.test": "inactive",
    }

    # when: the customer's billing person pays March's invoice by hand with a good card
    sign_in(page, live_server.url, "c11.billing@example.test")
    page.goto(f"{live_server.url}/portal/{tree['C11'].pk}/invoices/{march.pk}/")
    box = page.get_by_test_id("pay-box")
    assert box.get_by_test_id("amount-due").inner_text() == "52.80 USD"
    box.get_by_label("A new card").check()
    enter_card(page, GOOD, within=box)
    box.get_by_test_id("pay-button").click()
    page.get_by_test_id("pay-status").filter(has_text="Paid Invoice").wait_for(timeout=60000)
    settle(account)

    # then: paid once, the subscription runs again and Ana is active at Box again
    march.refresh_from_db()
    sub.refresh_from_db()
    assert (march.state, sub.status) == ("paid", "active")
    assert Dunning.objects.get(invoice=march).stage == "resolved"
    assert charged_at_stripe(march) == 1
    assert statuses_at_box(platform_sim, account) == {
        account.admin_login: "active",
        "ana@c11.test": "active",
    }
    books_balance(tree["C11"])
