"""Two "Pay" posts for the same invoice at the same moment (a double click without the page's
script, two tabs, two people), on PostgreSQL against localstripe: one payment row, one
charge at Stripe, and neither answer claims that nothing was charged when it was."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection
from django.test import Client

from orders import services as orders
from payments.models import BuyerAccount, Payment, StripeAccount
from payments.services import stripe_api
from portal import clock
from tests.payments.conftest import saved_card

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_two_pay_posts_at_once_charge_once(paying, catalog):
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
    invoice = order.first_invoice
    card = saved_card(tree["C11"])
    url = f"/portal/{tree['C11'].pk}/invoices/{invoice.pk}/pay/"
    start = threading.Barrier(2)
    answers = []

    def click():
        client = Client()
        client.force_login(tree["C11.admin"])
        start.wait()
        try:
            answer = client.post(url, {"card": card.pk}, HTTP_ACCEPT="application/json")
            answers.append((answer.status_code, answer.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # one row, paid; one succeeded charge of 52.80 at Stripe
    assert list(Payment.objects.filter(invoice=invoice).values_list("state", "amount")) == [
        ("succeeded", invoice.total)
    ]
    invoice.refresh_from_db()
    assert invoice.state == "paid"
    customer = BuyerAccount.objects.get(buyer=tree["C11"]).stripe_customer_ref
    client = stripe_api.client_for(StripeAccount.objects.get(seller=tree["R1"]))
    charges = [c for c in client.v1.charges.list({"limit": 100}) if c.customer == customer]
    assert [(c.amount, c.status) for c in charges] == [(5280, "succeeded")]
    # each answer is either the payment (paid, or being confirmed) or "it is paid already"
    assert len(answers) == 2
    for status, body in answers:
        if status == 200:
            assert body["state"] in ("succeeded", "processing"), body
        else:
            assert (status, body["error"]["message"]) == (409, f"Invoice {invoice.label} is paid.")
