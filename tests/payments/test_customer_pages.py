"""The customer's payment pages against localstripe: the pay box on the order and invoice
pages (exact amounts, saved cards, paying, declines, the bank's check, double submissions),
the payment methods page (cards, the default, removal, automatic payment), bad input, and
isolation: another customer's invoice, order, card or payment is a 404 and nothing changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import requests

from billing.models import Invoice
from orders import services as orders
from orders.models import OrderState
from payments.models import BuyerAccount, Payment, PaymentMethod, StripeAccount
from payments.pages.pay_box import DECLINES
from payments.services import stripe_api
from portal import clock
from provisioning.models import BoxAccount
from tests.billing.world import text
from tests.payments.conftest import DECLINED_ON_CHARGE, saved_card
from tests.payments.customer_support import saved_3ds_card

pytestmark = pytest.mark.django_db

D = Decimal
JSON = {"HTTP_ACCEPT": "application/json"}


def place(tree, catalog, customer="C11", offer="R1.business", quantity=3):
    clock.set_today(date(2027, 1, 1))
    return orders.order_create(
        actor=tree[f"{customer}.admin"],
        customer=tree[customer],
        offer=catalog[offer],
        quantity=quantity,
        term="monthly",
        submit=True,
    )


def portal(tree, key: str) -> str:
    return f"/portal/{tree[key].pk}"


def pay_url(tree, invoice, key="C11") -> str:
    return f"{portal(tree, key)}/invoices/{invoice.pk}/pay/"


def order_url(tree, order, key="C11") -> str:
    return f"{portal(tree, key)}/orders/{order.pk}/"


def intents_of(seller, customer_ref: str) -> list:
    client = stripe_api.client_for(StripeAccount.objects.get(seller=seller))
    return [i for i in client.v1.payment_intents.list({"limit": 100}) if i.customer == customer_ref]


def snapshot(invoice) -> tuple:
    invoice.refresh_from_db()
    order = invoice.order
    return (
        invoice.state,
        order.state,
        Payment.objects.filter(invoice=invoice).count(),
        BoxAccount.objects.filter(customer=invoice.buyer).count(),
    )


# --- the pay box ----------------------------------------------------------------------------


def test_the_pay_box_shows_the_amount_due_and_the_saved_cards(paying, catalog, client):
    tree = paying
    order = place(tree, catalog)
    card = saved_card(tree["C11"])
    client.force_login(tree["C11.admin"])
    page = client.get(order_url(tree, order))
    body = text(page)
    assert page.status_code == 200
    assert "Awaiting payment" in body
    assert "Amount due 52.80 USD" in body
    assert "Nothing is set up at Box until this is paid." in body
    assert f"{card.label} Default" in body
    assert "Pay 52.80 USD" in body
    html = page.content.decode()
    assert f'action="{pay_url(tree, order.first_invoice)}"' in html
    assert f'value="{card.pk}" checked' in html
    # Stripe.js comes from Stripe (here localstripe), the page's own script from this site
    assert f'<script src="{stripe_js()}"></script>' in html
    assert '<script src="/static/js/payments.js"></script>' in html
    # the invoice page has the same box
    invoice_page = client.get(f"{portal(tree, 'C11')}/invoices/{order.first_invoice.pk}/")
    assert "Amount due 52.80 USD" in text(invoice_page)


def stripe_js() -> str:
    from django.conf import settings

    return settings.STRIPE_JS_URL


def test_the_amount_due_is_derived_from_what_was_paid(paying, catalog, client):
    tree = paying
    order = place(tree, catalog)
    from payments.services.collect import payment_record_offline

    payment_record_offline(
        actor=tree["R1.billing"], invoice=order.first_invoice, amount="20.00", source="transfer"
    )
    client.force_login(tree["C11.billing"])
    body = text(client.get(order_url(tree, order)))
    assert "Amount due 32.80 USD" in body
    assert "Invoice total 52.80 USD, less 20.00 USD already paid" in body
    assert "Pay 32.80 USD" in body


def test_paying_with_a_saved_card_redirects_and_starts_provisioning(paying, catalog, client, fake):
    tree = paying
    order = place(tree, catalog)
    card = saved_card(tree["C11"])
    client.force_login(tree["C11.admin"])
    answer = client.post(
        pay_url(tree, order.first_invoice),
        {"card": card.pk, "next": order_url(tree, order)},
    )
    assert (answer.status_code, answer["Location"]) == (302, order_url(tree, order))
    payment = Payment.objects.get(invoice=order.first_invoice)
    assert (payment.state, payment.amount, payment.applied, payment.trigger) == (
        "succeeded",
        D("52.80"),
        D("52.80"),
        "checkout",
    )
    order.refresh_from_db()
    assert order.state == OrderState.PROVISIONING
    assert BoxAccount.objects.filter(customer=tree["C11"]).count() == 1
    page = client.get(order_url(tree, order))
    body = text(page)
    assert "Paid: 52.80 USD charged to Visa ending 4242, expires 12/2031." in body
    assert f"Paid Invoice {order.first_invoice.number} is paid" in body
    assert "Pay 52.80 USD" not in body


def test_a_double_submission_charges_once(paying, catalog, client, fake):
    tree = paying
    order = place(tree, catalog)
    invoice = order.first_invoice
    card = saved_card(tree["C11"])
    client.force_login(tree["C11.admin"])
    first = client.post(pay_url(tree, invoice), {"card": card.pk}, **JSON)
    second = client.post(pay_url(tree, invoice), {"card": card.pk}, **JSON)
    assert first.json()["state"] == "succeeded"
    assert second.status_code == 409
    assert second.json()["error"]["message"] == f"Invoice {invoice.label} is paid."
    assert Payment.objects.filter(invoice=invoice).count() == 1
    customer = BuyerAccount.objects.get(buyer=tree["C11"]).stripe_customer_ref
    intents = intents_of(tree["R1"], customer)
    assert [(i.amount, i.status) for i in intents] == [(5280, "succeeded")]


def test_a_payment_left_in_flight_is_resumed_not_repeated(paying, catalog, client, fake):
    """A click whose request died after the payment row was written: the next click finds the
    row and carries it on (one row, one PaymentIntent)."""
    tree = paying
    order = place(tree, catalog)
    saved_card(tree["C11"])
    from payments.services.collect import payment_open

    stuck = payment_open(actor=tree["C11.admin"], invoice=order.first_invoice)
    client.force_login(tree["C11.admin"])
    answer = client.post(pay_url(tree, order.first_invoice), {}, **JSON)
    assert answer.json() == {
        "state": "succeeded",
        "message": "Paid: 52.80 USD charged to Visa ending 4242, expires 12/2031.",
        "payment": stuck.pk,
    }
    assert Payment.objects.filter(invoice=order.first_invoice).count() == 1
    customer = BuyerAccount.objects.get(buyer=tree["C11"]).stripe_customer_ref
    assert len(intents_of(tree["R1"], customer)) == 1


def test_a_declined_card_says_why_and_the_order_keeps_waiting(paying, catalog, client, fake):
    tree = paying
    order = place(tree, catalog)
    card = saved_card(tree["C11"], DECLINED_ON_CHARGE)
    client.force_login(tree["C11.admin"])
    answer = client.post(pay_url(tree, order.first_invoice), {"card": card.pk}, **JSON)
    assert answer.json() == {
        "state": "failed",
        "message": DECLINES["card_declined"],
        "payment": Payment.objects.get(invoice=order.first_invoice).pk,
    }
    assert snapshot(order.first_invoice) == ("issued", OrderState.AWAITING_PAYMENT, 1, 0)
    run_fake(fake)
    assert fake.calls == []
    body = text(client.get(order_url(tree, order)))
    assert DECLINES["card_declined"] in body
    assert "Pay 52.80 USD" in body  # and it may be tried again


def run_fake(fake):
    from tests.orders.conftest import run_jobs

    run_jobs(fake)


def authenticate(intent_ref: str, client_secret: str, *, success: bool) -> None:
    """What Stripe.js does in the browser for the bank's check (localstripe's endpoint)."""
    from django.conf import settings

    key = StripeAccount.objects.first().publishable_key
    answer = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent_ref}/_authenticate"
        f"?success={'true' if success else 'false'}",
        json={"key": key, "client_secret": client_secret},
        timeout=10,
    )
    assert answer.status_code == 200


def test_the_banks_check_then_the_outcome_is_read_from_stripe(paying, catalog, client, fake):
    tree = paying
    order = place(tree, catalog)
    card = saved_3ds_card(tree["C11"])
    client.force_login(tree["C11.admin"])
    answer = client.post(pay_url(tree, order.first_invoice), {"card": card.pk}, **JSON).json()
    payment = Payment.objects.get(invoice=order.first_invoice)
    confirm = f"{portal(tree, 'C11')}/payments/{payment.pk}/confirm/"
    assert answer == {
        "state": "requires_action",
        "message": "Your bank asks you to confirm the payment of 52.80 USD before it is charged.",
        "payment": payment.pk,
        "client_secret": payment.client_secret,
        "confirm_url": confirm,
    }
    # the browser claiming success changes nothing: Stripe is asked, and it still waits
    early = client.post(confirm, {"state": "succeeded"}, **JSON).json()
    assert early["state"] == "requires_action"
    assert snapshot(order.first_invoice) == ("issued", OrderState.AWAITING_PAYMENT, 1, 0)
    # the page offers to finish the check
    assert "Confirm with your bank" in text(client.get(order_url(tree, order)))
    # after the bank's check, the confirm call records the payment and provisioning starts
    authenticate(payment.stripe_intent_ref, payment.client_secret, success=True)
    done = client.post(confirm, {}, **JSON).json()
    assert done["state"] == "succeeded"
    assert snapshot(order.first_invoice) == ("paid", OrderState.PROVISIONING, 1, 1)


def test_a_failed_banks_check_is_a_decline_in_plain_words(paying, catalog, client, fake):
    tree = paying
    order = place(tree, catalog)
    card = saved_3ds_card(tree["C11"])
    client.force_login(tree["C11.admin"])
    client.post(pay_url(tree, order.first_invoice), {"card": card.pk}, **JSON)
    payment = Payment.objects.get(invoice=order.first_invoice)
    authenticate(payment.stripe_intent_ref, payment.client_secret, success=False)
    answer = client.post(f"{portal(tree, 'C11')}/payments/{payment.pk}/confirm/")
    assert answer.status_code == 302
    assert answer["Location"] == f"{portal(tree, 'C11')}/invoices/{order.first_invoice.pk}/"
    body = text(client.get(answer["Location"]))
    assert DECLINES["payment_intent_authentication_failure"] in body
    assert snapshot(order.first_invoice) == ("issued", OrderState.AWAITING_PAYMENT, 1, 0)


def test_bad_input_changes_nothing(paying, catalog, client):
    tree = paying
    order = place(tree, catalog)
    invoice = order.first_invoice
    client.force_login(tree["C11.admin"])
    before = snapshot(invoice)
    # no card saved: the service says so, on the page the form came from
    answer = client.post(pay_url(tree, invoice), {"next": order_url(tree, order)})
    assert answer["Location"] == order_url(tree, order)
    assert "Add a card first." in text(client.get(order_url(tree, order)))
    # a new card without the script, an id that is no id, a foreign redirect
    answer = client.post(pay_url(tree, invoice), {"card": "new"}, **JSON)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "Enter the new card's details first (this needs JavaScript)."
    )
    assert client.post(pay_url(tree, invoice), {"card": "abc"}).status_code == 404
    assert client.post(pay_url(tree, invoice), {"card": "-1"}).status_code == 404
    answer = client.post(pay_url(tree, invoice), {"next": "https://evil.example/"})
    assert answer["Location"] == f"{portal(tree, 'C11')}/invoices/{invoice.pk}/"
    # a card set-up that is not one
    answer = client.post(
        f"{portal(tree, 'C11')}/payment-methods/save/", {"setup_intent": "pm_123"}, **JSON
    )
    assert (answer.status_code, answer.json()["error"]["message"]) == (
        400,
        "That is not a card set-up.",
    )
    assert client.get(pay_url(tree, invoice)).status_code == 405
    assert snapshot(invoice) == before
    assert PaymentMethod.objects.filter(buyer=tree["C11"]).count() == 0


def test_a_member_may_not_pay_and_staff_pages_have_no_pay_box(paying, catalog, client):
    tree = paying
    order = place(tree, catalog)
    card = saved_card(tree["C11"])
    before = snapshot(order.first_invoice)
    client.force_login(tree["C11.member"])
    # a member sees no invoices, so it has none to pay
    answer = client.post(pay_url(tree, order.first_invoice), {"card": card.pk}, **JSON)
    assert answer.status_code == 404
    page = client.get(order_url(tree, order))
    assert 'data-testid="pay-box"' not in page.content.decode()
    assert client.get(f"{portal(tree, 'C11')}/payment-methods/").status_code == 403
    client.force_login(tree["R1.admin"])
    staff = client.get(f"/console/{tree['R1'].pk}/orders/{order.pk}/")
    assert staff.status_code == 200
    assert 'data-testid="pay-box"' not in staff.content.decode()
    assert snapshot(order.first_invoice) == before


def test_a_seller_without_a_stripe_account_is_named(paying, catalog, client):
    tree = paying
    StripeAccount.objects.filter(seller=tree["R1"]).delete()
    order = place(tree, catalog)
    client.force_login(tree["C11.admin"])
    body = text(client.get(order_url(tree, order)))
    assert "Reseller R1 does not take card payments yet; pay by bank transfer or ask" in body
    assert "Pay 52.80 USD" not in body


# --- isolation ------------------------------------------------------------------------------


@pytest.mark.parametrize("intruder", ["C12", "C21", "PC1"])
def test_another_customers_invoice_order_card_and_payment_are_404(
    paying, catalog, client, fake, intruder
):
    tree = paying
    order = place(tree, catalog)
    invoice = order.first_invoice
    card = saved_3ds_card(tree["C11"])
    client.force_login(tree["C11.admin"])
    client.post(pay_url(tree, invoice), {"card": card.pk}, **JSON)
    payment = Payment.objects.get(invoice=invoice)
    their_card = saved_card(tree[intruder])
    before = (snapshot(invoice), payment.state, card.is_default, their_card.is_default)

    client.force_login(tree[f"{intruder}.admin"])
    mine = portal(tree, intruder)
    theirs = portal(tree, "C11")
    for url, data in (
        (f"{mine}/invoices/{invoice.pk}/pay/", {"card": their_card.pk}),
        (f"{theirs}/invoices/{invoice.pk}/pay/", {"card": their_card.pk}),
        (f"{mine}/payments/{payment.pk}/confirm/", {}),
        (f"{theirs}/payments/{payment.pk}/confirm/", {}),
        (f"{mine}/payment-methods/{card.pk}/default/", {}),
        (f"{mine}/payment-methods/{card.pk}/remove/", {}),
        (f"{theirs}/payment-methods/autopay/", {"autopay": "on"}),
        (f"{theirs}/payment-methods/setup/", {}),
    ):
        answer = client.post(url, data)
        assert answer.status_code == 404, url
        assert "C11" not in answer.content.decode() and "Customer" not in answer.content.decode()
    # paying their own invoice with the other customer's card is a 404 as well
    their_order = place(tree, catalog, customer=intruder, offer=_offer(intruder))
    answer = client.post(f"{mine}/invoices/{their_order.first_invoice.pk}/pay/", {"card": card.pk})
    assert answer.status_code == 404
    assert not Payment.objects.filter(invoice=their_order.first_invoice).exists()
    assert client.get(order_url(tree, order, key=intruder)).status_code == 404
    card.refresh_from_db()
    payment.refresh_from_db()
    their_card.refresh_from_db()
    assert (snapshot(invoice), payment.state, card.is_default, their_card.is_default) == before
    assert card.removed_at is None
    assert BuyerAccount.objects.get(buyer=tree["C11"]).autopay is False


def _offer(customer: str) -> str:
    return {"C12": "R1.business", "C21": "R2.business", "PC1": "P.starter"}[customer]


# --- payment methods ------------------------------------------------------------------------


def test_the_cards_page_lists_sets_the_default_and_removes(paying, client):
    tree = paying
    first = saved_card(tree["C11"])
    second = saved_card(tree["C11"], "4000056655665556", default=False)
    client.force_login(tree["C11.billing"])
    url = f"{portal(tree, 'C11')}/payment-methods/"
    page = client.get(url)
    body = text(page)
    assert page.status_code == 200
    assert "Visa ending 4242 12/2031 Default" in body
    assert "Visa ending 5556 12/2031 Make default Remove" in body
    assert f'href="{url}"' in page.content.decode()  # the menu's item
    # make the second the default
    answer = client.post(f"{url}{second.pk}/default/")
    assert (answer.status_code, answer["Location"]) == (302, url)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    assert "Visa ending 5556, expires 12/2031 is now the default card." in text(client.get(url))
    # remove it: the other becomes the default; Stripe forgets it
    answer = client.post(f"{url}{second.pk}/remove/")
    assert (answer.status_code, answer["Location"]) == (302, url)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.removed_at is not None and first.is_default
    client_ = stripe_api.client_for(StripeAccount.objects.get(seller=tree["R1"]))
    assert client_.v1.payment_methods.retrieve(second.stripe_ref).customer is None
    # a removed card is no longer there to act on
    assert client.post(f"{url}{second.pk}/default/").status_code == 404
    assert client.post(f"{url}{second.pk}/remove/").status_code == 404


def test_automatic_payment_is_turned_on_and_off(paying, client):
    tree = paying
    client.force_login(tree["C11.admin"])
    url = f"{portal(tree, 'C11')}/payment-methods/"
    # without a card it cannot be turned on, and nothing changes
    answer = client.post(f"{url}autopay/", {"autopay": "on"})
    assert (answer.status_code, answer["Location"]) == (302, url)
    assert "Save a card first: automatic payment charges your default card." in text(
        client.get(url)
    )
    assert BuyerAccount.objects.get(buyer=tree["C11"]).autopay is False
    saved_card(tree["C11"])
    answer = client.post(f"{url}autopay/", {"autopay": "maybe"})
    assert "Choose whether to turn automatic payment on or off." in text(client.get(url))
    assert BuyerAccount.objects.get(buyer=tree["C11"]).autopay is False
    answer = client.post(f"{url}autopay/", {"autopay": "on"})
    assert (answer.status_code, answer["Location"]) == (302, url)
    assert BuyerAccount.objects.get(buyer=tree["C11"]).autopay is True
    assert "Automatic payment is on" in text(client.get(url))
    client.post(f"{url}autopay/", {"autopay": "off"})
    assert BuyerAccount.objects.get(buyer=tree["C11"]).autopay is False


def test_a_paid_or_void_invoice_has_no_pay_form(paying, catalog, client, fake):
    tree = paying
    order = place(tree, catalog)
    client.force_login(tree["C11.admin"])
    from billing.services.invoices import invoice_void

    invoice_void(actor=tree["R1.admin"], invoice=order.first_invoice, reason="Issued in error")
    page = client.get(f"{portal(tree, 'C11')}/invoices/{order.first_invoice.pk}/")
    assert page.status_code == 200
    assert 'data-testid="pay-box"' not in page.content.decode()
    assert Invoice.objects.get(pk=order.first_invoice.pk).state == "void"
