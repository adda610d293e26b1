"""Concurrent triggers on PostgreSQL: automatic payment, a dunning retry and the customer's
pay-now for one invoice at the same moment, each in its own thread and database connection,
end with exactly one PaymentIntent at localstripe, one succeeded charge and one payment row.
localstripe ignores idempotency keys, so this is our code's doing alone. The same for an
offline payment submitted twice at once with one idempotency key."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from orders import services as orders
from payments.models import BuyerAccount, Payment
from payments.services.collect import (
    amount_due,
    payment_charge,
    payment_open,
    payment_record_offline,
)
from payments.services.dunning import DUNNING
from payments.tasks import payment_autopay
from portal import clock
from tests.payments.conftest import saved_card
from tests.payments.helpers import books_balance, charged_at_stripe, intents_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

D = Decimal


def run_together(*calls) -> list:
    """Run the calls at once, each in a thread with its own connection; their results (or
    the exceptions they raised), in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def issued_invoice(tree, catalog):
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    return order.first_invoice


@pytest.fixture
def provisioning_started(monkeypatch):
    """The orders whose provisioning a payment set going (recorded, not run: on a
    transactional database the commit would start it for real)."""
    started = []
    monkeypatch.setattr(
        "payments.services.ordering.order_paid", lambda *, invoice: started.append(invoice.pk)
    )
    return started


@pytest.fixture
def invoice(paying, catalog, provisioning_started):
    invoice = issued_invoice(paying, catalog)
    saved_card(paying["C11"])
    BuyerAccount.objects.filter(buyer=paying["C11"]).update(autopay=True)
    yield invoice
    clock.set_today(None)


def test_autopay_a_retry_and_pay_now_at_once_charge_one_intent_once(
    paying, invoice, provisioning_started
):
    tree = paying

    def autopay():
        return payment_autopay(invoice.pk)

    def retry():
        payment = payment_open(actor=DUNNING, invoice=invoice, trigger="retry")
        return payment_charge(actor=DUNNING, payment=payment).state

    def pay_now():
        payment = payment_open(actor=tree["C11.admin"], invoice=invoice)
        return payment_charge(actor=tree["C11.admin"], payment=payment).state

    results = run_together(autopay, retry, pay_now, pay_now)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert results == ["succeeded"] * 4
    payment = Payment.objects.get(invoice=invoice)  # one row
    assert (payment.state, payment.amount, payment.applied) == ("succeeded", D("52.80"), D("52.80"))
    intents = intents_of(invoice)
    assert [(i.id, i.status, i.amount) for i in intents] == [
        (payment.stripe_intent_ref, "succeeded", 5280)
    ]
    assert charged_at_stripe(invoice) == 1
    invoice.refresh_from_db()
    assert (invoice.state, amount_due(invoice)) == ("paid", D("0.00"))
    assert provisioning_started == [invoice.pk]  # set going once
    books_balance(tree["C11"])


def test_the_same_payment_charged_by_two_workers_at_once_is_charged_once(paying, invoice):
    payment = payment_open(actor=DUNNING, invoice=invoice, trigger="retry")
    results = run_together(*[lambda: payment_charge(actor=DUNNING, payment=payment).state] * 3)
    assert results == ["succeeded"] * 3
    assert [i.status for i in intents_of(invoice)] == ["succeeded"]
    assert Payment.objects.filter(invoice=invoice).count() == 1
    books_balance(paying["C11"])


def test_an_offline_payment_submitted_twice_at_once_is_recorded_once(
    paying, catalog, provisioning_started
):
    tree = paying
    invoice = issued_invoice(tree, catalog)

    def record():
        return payment_record_offline(
            actor=tree["R1.billing"],
            invoice=invoice,
            amount="20.00",
            source="transfer",
            reference="T-981",
            idempotency_key="form-token-1",
        ).pk

    first, second = run_together(record, record)
    assert first == second
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.reference, payment.state) == (D("20.00"), "T-981", "succeeded")
    assert amount_due(invoice) == D("32.80")
    books_balance(tree["C11"])
    clock.set_today(None)
