"""In Chromium: a reseller's billing person records a customer's bank transfer from the
invoice's page, sees its effect before saving (part of it pays the invoice, the rest becomes
credit balance), records it, and finds the invoice paid and the balance on the customer's
page."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from orders import services as orders
from payments.models import Payment
from payments.services.collect import balance_of
from portal import clock
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_record_an_overpaid_transfer_after_seeing_its_effect(
    live_server, page, paying, catalog, settings
):
    tree = paying
    # the order's provisioning, started by the payment, talks to a recording connector
    settings.BOX_CONNECTOR = "tests.orders.conftest.ManyAccountsConnector"
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.01
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    invoice = order.first_invoice
    r1 = tree["R1"].pk

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("r1.billing@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/console/\d+/.*"))
    page.goto(f"{live_server.url}/console/{r1}/billing/invoices/{invoice.pk}/")
    assert page.get_by_test_id("amount-due").inner_text() == "52.80 USD"
    page.get_by_test_id("record-link").click()

    page.get_by_label("Amount received (USD)").fill("100.00")
    page.get_by_label("Bank reference or cheque number").fill("BANK 2027-201")
    page.get_by_role("button", name="Show the effect").click()
    assert page.get_by_test_id("effect-applied").inner_text() == "52.80 USD"
    assert page.get_by_test_id("effect-due-after").inner_text() == "0.00 USD"
    assert page.get_by_test_id("effect-balance").inner_text() == "47.20 USD"
    assert not Payment.objects.exists()

    page.get_by_role("button", name="Record 100.00 USD").click()
    page.wait_for_url(re.compile(rf".*/billing/invoices/{invoice.pk}/$"))
    assert "47.20 USD went to Customer C11's credit balance" in page.content()
    assert page.get_by_test_id("amount-due").inner_text() == "0.00 USD"
    assert page.get_by_test_id("invoice-state").inner_text() == "Paid"
    payment = Payment.objects.get()
    assert (payment.amount, payment.applied, payment.reference) == (
        Decimal("100.00"),
        Decimal("52.80"),
        "BANK 2027-201",
    )
    assert balance_of(tree["C11"], tree["R1"], "USD") == Decimal("47.20")

    page.goto(f"{live_server.url}/console/{r1}/orgs/{tree['C11'].pk}/")
    assert page.get_by_test_id("balance").inner_text() == "47.20 USD"
