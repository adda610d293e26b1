"""Payments that must not go wrong, each found in review and fixed: an offline payment
submitted twice is recorded once; a declined card says why in plain words; automatic payment
checks, when its task runs, that it is still on and the card still there; a payment left
waiting for an abandoned 3DS challenge is replaced when the customer pays again."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from orders import services as orders
from payments.models import BuyerAccount, Payment
from payments.services.cards import autopay_set, card_remove
from payments.services.collect import (
    amount_due,
    payment_charge,
    payment_open,
    payment_record_offline,
)
from payments.tasks import payment_autopay, payment_resume
from portal import clock
from portal.errors import Conflict, PermissionDenied, Unprocessable
from tests.payments.conftest import DECLINED_ON_CHARGE, saved_card
from tests.payments.helpers import (
    authenticated_in_browser,
    books_balance,
    charged_at_stripe,
    intents_of,
    saved_3ds_card,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def invoice(paying, catalog):
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=paying["C11.admin"],
        customer=paying["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    yield order.first_invoice
    clock.set_today(None)


def test_an_offline_payment_submitted_twice_is_recorded_once(paying, invoice):
    tree = paying

    def record(amount="20.00", key="form-token-7"):
        return payment_record_offline(
            actor=tree["R1.billing"],
            invoice=invoice,
            amount=amount,
            source="transfer",
            reference="T-1",
            idempotency_key=key,
        )

    first, second = record(), record()
    assert first.pk == second.pk
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert amount_due(invoice) == D("32.80")
    # the same key for another request is refused and changes nothing
    with pytest.raises(Unprocessable, match="already used for a different request"):
        record(amount="25.00")
    # another seller's staff cannot use the invoice, key or no key
    with pytest.raises(PermissionDenied):
        payment_record_offline(
            actor=tree["R2.billing"],
            invoice=invoice,
            amount="20.00",
            source="transfer",
            idempotency_key="form-token-7",
        )
    # a new key is a new payment
    assert record(key="form-token-8").pk != first.pk
    assert Payment.objects.filter(invoice=invoice).count() == 2
    assert amount_due(invoice) == D("12.80")
    books_balance(tree["C11"])


def test_a_declined_card_says_why_in_plain_words(paying, invoice):
    tree = paying
    card = saved_card(tree["C11"], DECLINED_ON_CHARGE)
    payment = payment_open(actor=tree["C11.admin"], invoice=invoice, card=card)
    payment = payment_charge(actor=tree["C11.admin"], payment=payment)
    assert (payment.state, payment.failure_code, payment.failure_message) == (
        "failed",
        "card_declined",
        "The card's bank declined the payment. Contact the bank or use another card.",
    )
    assert amount_due(invoice) == D("52.80")
    books_balance(tree["C11"])


def test_a_failed_authentication_says_why_in_plain_words(paying, invoice):
    tree = paying
    payment = payment_charge(
        actor=tree["C11.admin"],
        payment=payment_open(
            actor=tree["C11.admin"], invoice=invoice, card=saved_3ds_card(tree["C11"])
        ),
    )
    assert payment.state == "requires_action"
    authenticated_in_browser(payment, success=False)
    assert payment_resume(payment.pk) == "failed"  # what the sweep or the webhook learns
    payment.refresh_from_db()
    assert (payment.failure_code, payment.failure_message) == (
        "payment_intent_authentication_failure",
        "The card's bank could not confirm the payment was yours. Try again or use another card.",
    )
    books_balance(tree["C11"])


def test_autopay_checks_when_it_runs_that_it_is_on_and_the_card_is_there(paying, invoice):
    tree = paying
    card = saved_card(tree["C11"])
    autopay_set(actor=tree["C11.billing"], buyer=tree["C11"], enabled=True)
    # issued with automatic payment on; turned off before the task ran
    autopay_set(actor=tree["C11.billing"], buyer=tree["C11"], enabled=False)
    assert payment_autopay(invoice.pk) == "not charged: Automatic payment is off."
    # on again, but the card was removed before the task ran
    autopay_set(actor=tree["C11.billing"], buyer=tree["C11"], enabled=True)
    card_remove(actor=tree["C11.billing"], card=card)
    BuyerAccount.objects.filter(buyer=tree["C11"]).update(autopay=True)
    assert payment_autopay(invoice.pk) == "not charged: Add a card first."
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert intents_of(invoice) == []
    assert amount_due(invoice) == D("52.80")
    # with both in place it charges
    saved_card(tree["C11"])
    assert payment_autopay(invoice.pk) == "succeeded"
    assert charged_at_stripe(invoice) == 1
    books_balance(tree["C11"])


def age(payment: Payment, minutes: int) -> None:
    Payment.objects.filter(pk=payment.pk).update(
        updated_at=clock.now() - timedelta(minutes=minutes)
    )


def test_an_abandoned_3ds_payment_is_replaced_when_the_customer_pays_again(paying, invoice):
    tree = paying
    admin = tree["C11.admin"]
    card = saved_3ds_card(tree["C11"])
    first = payment_charge(actor=admin, payment=payment_open(actor=admin, invoice=invoice))
    assert first.state == "requires_action"
    # paying again at once: the customer may still be in the challenge, the same payment
    assert payment_open(actor=admin, invoice=invoice).pk == first.pk
    # a quarter of an hour later it was abandoned: cancelled at Stripe, a new one started
    age(first, 16)
    second = payment_open(actor=admin, invoice=invoice)
    assert second.pk != first.pk
    first.refresh_from_db()
    assert (first.state, first.failure_code) == ("cancelled", "abandoned")
    second = payment_charge(actor=admin, payment=second)
    assert second.state == "requires_action"
    authenticated_in_browser(second)
    assert payment_resume(second.pk) == "succeeded"
    statuses = {i.id: i.status for i in intents_of(invoice)}
    assert statuses == {
        first.stripe_intent_ref: "canceled",
        second.stripe_intent_ref: "succeeded",
    }
    assert Payment.objects.filter(invoice=invoice, state="succeeded").count() == 1
    assert card.pk == second.payment_method_id
    books_balance(tree["C11"])


def test_paying_again_with_another_card_replaces_the_waiting_one_at_once(paying, invoice):
    tree = paying
    admin = tree["C11.admin"]
    saved_3ds_card(tree["C11"])
    first = payment_charge(actor=admin, payment=payment_open(actor=admin, invoice=invoice))
    other = saved_card(tree["C11"], default=False)
    second = payment_charge(
        actor=admin, payment=payment_open(actor=admin, invoice=invoice, card=other)
    )
    first.refresh_from_db()
    assert (first.state, second.state) == ("cancelled", "succeeded")
    assert charged_at_stripe(invoice) == 1
    books_balance(tree["C11"])


def test_an_abandoned_payment_that_went_through_after_all_is_recorded_not_replaced(paying, invoice):
    tree = paying
    admin = tree["C11.admin"]
    saved_3ds_card(tree["C11"])
    first = payment_charge(actor=admin, payment=payment_open(actor=admin, invoice=invoice))
    authenticated_in_browser(first)  # done in the browser; the portal did not hear of it
    age(first, 30)
    with pytest.raises(Conflict, match="is paid"):
        payment_open(actor=admin, invoice=invoice)
    first.refresh_from_db()
    assert first.state == "succeeded"
    assert [i.status for i in intents_of(invoice)] == ["succeeded"]
    books_balance(tree["C11"])
