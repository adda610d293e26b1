"""Stripe's webhooks with real signatures (HMAC over the raw body with the seller's secret):
a payment finished in the browser is recorded from its event; forged deliveries answer 400
and change nothing; a replayed event and events out of order are no-ops; an event about
another seller's payment changes nothing; a card saved by Stripe.js is kept from its event
once, whether or not the page saved it first; processing claims the event row."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.urls import reverse

from orders import services as orders
from payments.models import Payment, PaymentMethod, StripeAccount, StripeEvent
from payments.services import cards
from payments.services.collect import amount_due, payment_charge, payment_open
from payments.services.webhooks import event_process
from portal import clock
from portal.models import AuditEvent
from tests.payments.conftest import saved_card, signed
from tests.payments.helpers import (
    authenticated_in_browser,
    books_balance,
    charged_at_stripe,
    confirm_setup_in_browser,
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


def account(tree, seller="R1") -> StripeAccount:
    return StripeAccount.objects.get(seller=tree[seller])


def event(kind: str, obj, *, ref: str) -> dict:
    data = obj if isinstance(obj, dict) else obj.to_dict()
    return {
        "id": ref,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": data},
    }


def deliver(client, to: StripeAccount, payload: dict, *, secret: str | None = None, body=None):
    signed_body, signature = signed(payload, secret or to.webhook_secret)
    return client.post(
        reverse("payments_webhook", args=[to.endpoint_token]),
        data=body if body is not None else signed_body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def waiting_for_3ds(tree, invoice) -> Payment:
    card = saved_3ds_card(tree["C11"])
    payment = payment_open(actor=tree["C11.admin"], invoice=invoice, card=card)
    payment = payment_charge(actor=tree["C11.admin"], payment=payment)
    assert payment.state == "requires_action"
    return payment


def test_a_payment_finished_in_the_browser_is_recorded_once_from_its_event(
    paying, invoice, client, django_capture_on_commit_callbacks, mailoutbox
):
    tree = paying
    payment = waiting_for_3ds(tree, invoice)
    intent = authenticated_in_browser(payment)
    payload = event("payment_intent.succeeded", intent, ref="evt_ok_1")
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, account(tree), payload)
    assert (response.status_code, response.content) == (200, b"stored")
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.state, payment.applied, invoice.state) == ("succeeded", D("52.80"), "paid")
    stored = StripeEvent.objects.get()
    assert stored.outcome == f"payment {payment.pk}: requires_action -> succeeded"
    receipts = len(mailoutbox)
    audits = AuditEvent.objects.count()
    # delivered again (Stripe retries), and processed again by a retried task: no-ops
    with django_capture_on_commit_callbacks(execute=True):
        again = deliver(client, account(tree), payload)
    assert (again.status_code, again.content) == (200, b"duplicate")
    assert event_process(stored) == stored.outcome
    assert StripeEvent.objects.count() == 1
    assert (len(mailoutbox), AuditEvent.objects.count()) == (receipts, audits)
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert charged_at_stripe(invoice) == 1
    books_balance(tree["C11"])


def test_events_out_of_order_never_move_a_payment_back(
    paying, invoice, client, django_capture_on_commit_callbacks
):
    tree = paying
    payment = waiting_for_3ds(tree, invoice)
    intent = authenticated_in_browser(payment)
    stale = intent.to_dict() | {
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
    }
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, account(tree), event("payment_intent.succeeded", intent, ref="evt_a"))
        late = deliver(
            client, account(tree), event("payment_intent.payment_failed", stale, ref="evt_b")
        )
    assert late.status_code == 200
    payment.refresh_from_db()
    assert (payment.state, payment.failure_code) == ("succeeded", "")
    assert StripeEvent.objects.get(event_ref="evt_b").outcome == (
        f"payment {payment.pk}: succeeded -> succeeded"
    )
    # and the late "requires_action" of before the authentication is a no-op as well
    with django_capture_on_commit_callbacks(execute=True):
        before = stale | {"status": "requires_action"}
        deliver(client, account(tree), event("payment_intent.requires_action", before, ref="evt_c"))
    payment.refresh_from_db()
    assert payment.state == "succeeded"
    books_balance(tree["C11"])


def test_forged_deliveries_answer_400_and_change_nothing(
    paying, invoice, client, django_capture_on_commit_callbacks
):
    tree = paying
    payment = waiting_for_3ds(tree, invoice)
    intent = authenticated_in_browser(payment)
    payload = event("payment_intent.succeeded", intent, ref="evt_forged")
    r1 = account(tree, "R1")
    body, _ = signed(payload, r1.webhook_secret)
    tampered = body.replace(b'"evt_forged"', b'"evt_forged2"')
    _, old = signed(payload, r1.webhook_secret, at=int(time.time()) - 3600)
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            deliver(client, r1, payload, secret="whsec_guessed").status_code,
            deliver(client, r1, payload, secret=account(tree, "R2").webhook_secret).status_code,
            deliver(client, r1, payload, body=tampered).status_code,
            client.post(
                reverse("payments_webhook", args=[r1.endpoint_token]),
                data=body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=old,  # replayed an hour later
            ).status_code,
            client.post(
                reverse("payments_webhook", args=[r1.endpoint_token]),
                data=body,
                content_type="application/json",
            ).status_code,  # unsigned
            deliver(client, r1, payload, body=b"not json").status_code,
            client.post(
                reverse("payments_webhook", args=["no-such-endpoint"]),
                data=body,
                content_type="application/json",
            ).status_code,
        ]
    assert answers == [400, 400, 400, 400, 400, 400, 404]
    assert StripeEvent.objects.count() == 0
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.state, invoice.state, amount_due(invoice)) == (
        "requires_action",
        "issued",
        D("52.80"),
    )


def test_an_event_about_another_sellers_payment_changes_nothing(
    paying, invoice, client, django_capture_on_commit_callbacks
):
    tree = paying
    payment = waiting_for_3ds(tree, invoice)
    intent = authenticated_in_browser(payment)
    # R2 signs (with its own secret, on its own endpoint) an event about R1's payment
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(
            client, account(tree, "R2"), event("payment_intent.succeeded", intent, ref="evt_x")
        )
    assert response.status_code == 200
    assert StripeEvent.objects.get().outcome == "not a payment of this account"
    payment.refresh_from_db()
    assert payment.state == "requires_action"


def test_a_card_saved_by_stripe_js_is_kept_from_its_event_once(
    paying, client, django_capture_on_commit_callbacks
):
    tree = paying
    setup = confirm_setup_in_browser(tree["C11"])
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, account(tree), event("setup_intent.succeeded", setup, ref="evt_s1"))
    card = PaymentMethod.objects.get(buyer=tree["C11"])
    assert (card.last4, card.is_default, card.removed_at) == ("4242", True, None)
    assert StripeEvent.objects.get().outcome == f"card {card.pk} kept"
    # the page comes back and saves it too: still one card
    again = cards.card_save(actor=tree["C11.admin"], buyer=tree["C11"], setup_intent=setup.id)
    assert again.pk == card.pk
    assert PaymentMethod.objects.filter(buyer=tree["C11"]).count() == 1


def test_a_card_the_page_saved_first_is_not_duplicated_by_its_event(
    paying, client, django_capture_on_commit_callbacks
):
    tree = paying
    first = saved_card(tree["C11"])
    second_setup = confirm_setup_in_browser(tree["C11"], "5555555555554444")
    saved = cards.card_save(
        actor=tree["C11.admin"],
        buyer=tree["C11"],
        setup_intent=second_setup.id,
        make_default=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, account(tree), event("setup_intent.succeeded", second_setup, ref="evt_s2"))
    cards_now = list(PaymentMethod.objects.filter(buyer=tree["C11"]).order_by("pk"))
    assert [(c.pk, c.is_default) for c in cards_now] == [(first.pk, True), (saved.pk, False)]
    # an event about a set-up of another account's customer keeps nothing
    other = confirm_setup_in_browser(tree["C21"])
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, account(tree), event("setup_intent.succeeded", other, ref="evt_s3"))
    assert StripeEvent.objects.get(event_ref="evt_s3").outcome == "not a customer of this account"
    assert not PaymentMethod.objects.filter(buyer=tree["C21"]).exists()


@pytest.mark.django_db(transaction=True)
def test_processing_claims_the_event_row(paying, invoice):
    tree = paying
    payment = waiting_for_3ds(tree, invoice)
    intent = authenticated_in_browser(payment)
    stored = StripeEvent.objects.create(
        account=account(tree),
        event_ref="evt_claim",
        type="payment_intent.succeeded",
        payload=event("payment_intent.succeeded", intent, ref="evt_claim"),
    )
    held, release = threading.Event(), threading.Event()

    def another_worker():
        with transaction.atomic():
            StripeEvent.objects.select_for_update().get(pk=stored.pk)
            held.set()
            release.wait(10)
        connection.close()

    worker = threading.Thread(target=another_worker)
    worker.start()
    held.wait(10)
    assert event_process(stored) == "being processed by another worker"
    release.set()
    worker.join(10)
    payment.refresh_from_db()
    assert payment.state == "requires_action"  # left to the worker holding it
