"""Helpers of the payments tests: the books balance per customer (checked after every
scenario), what localstripe itself holds (the intents made and charged for an invoice), and
what Stripe.js does in the customer's browser."""

from __future__ import annotations

from decimal import Decimal

import requests
from django.conf import settings

from billing.models import CreditNote, Invoice
from payments.models import BalanceEntry, BuyerAccount, Payment, Refund, StripeAccount
from payments.services import cards, stripe_api
from payments.services.collect import amount_due
from tests.factories import SYSTEM
from tests.payments_support import GOOD, NEEDS_3DS

D = Decimal


def books_balance(buyer) -> None:
    """What the customer was invoiced less its credit notes equals what it paid (the money its
    seller kept: received less refunded, less what it still holds as the customer's credit
    balance) plus what its invoices still owe:

        invoiced - credited = (received - refunded - credit balance) + amount due

    Each payment applies no more than it brought, and the balance never goes below zero."""
    invoices = Invoice.objects.filter(buyer=buyer).exclude(state__in=["draft", "void"])
    invoiced = sum((i.total for i in invoices), D(0))
    credited = sum((c.total for c in CreditNote.objects.filter(invoice__in=invoices)), D(0))
    payments = Payment.objects.filter(buyer=buyer, state="succeeded")
    received = sum((p.amount for p in payments), D(0))
    refunded = sum(
        (r.amount for r in Refund.objects.filter(payment__buyer=buyer).exclude(state="failed")),
        D(0),
    )
    balance = sum((e.amount for e in BalanceEntry.objects.filter(buyer=buyer)), D(0))
    due = sum((amount_due(i) for i in invoices), D(0))
    assert invoiced - credited == (received - refunded - balance) + due, (
        f"{buyer}: invoiced {invoiced} - credited {credited} != received {received} - "
        f"refunded {refunded} - balance {balance} + due {due}"
    )
    assert balance >= 0
    assert all(p.applied <= p.amount for p in payments)


def intents_of(invoice) -> list:
    """Every PaymentIntent localstripe holds for the invoice: made for its buyer's customer
    in the seller's account, with our metadata naming the invoice. (localstripe keeps one
    store for the whole test session, and ids of rows repeat between tests.)"""
    client = stripe_api.client_for(StripeAccount.objects.get(seller=invoice.seller))
    customer = BuyerAccount.objects.get(buyer=invoice.buyer).stripe_customer_ref
    return [
        intent
        for intent in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if intent.customer == customer
        and (intent.to_dict().get("metadata") or {}).get("invoice") == str(invoice.pk)
    ]


def charged_at_stripe(invoice) -> int:
    """How many of the invoice's intents took money."""
    return sum(1 for intent in intents_of(invoice) if intent.status == "succeeded")


# --- what Stripe.js does in the browser ---------------------------------------------------


def confirm_setup_in_browser(buyer, number=GOOD) -> object:
    """Stripe.js confirms a SetupIntent with the card; the page is closed before it tells
    the portal."""
    setup = cards.card_setup_start(actor=SYSTEM, buyer=buyer)
    client = stripe_api.client_for(StripeAccount.objects.get(seller=buyer.parent))
    return client.v1.setup_intents.confirm(
        setup["setup_intent"],
        {
            "client_secret": setup["client_secret"],
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"},
            },
        },
    )


def saved_3ds_card(buyer):
    """A card whose bank asks for authentication on every payment, saved after the customer
    passed the set-up's challenge."""
    setup = confirm_setup_in_browser(buyer, NEEDS_3DS)
    assert setup.status == "requires_action"
    client = stripe_api.client_for(StripeAccount.objects.get(seller=buyer.parent))
    client.v1.setup_intents.confirm(setup.id)  # the challenge passed
    return cards.card_save(actor=SYSTEM, buyer=buyer, setup_intent=setup.id)


def authenticated_in_browser(payment, *, success: bool = True) -> object:
    """The customer passes (or fails) the card's 3DS challenge, as Stripe.js does in the
    browser; the portal hears of it only through the webhook or by asking."""
    url = settings.STRIPE_API_BASE
    requests.post(
        f"{url}/v1/payment_intents/{payment.stripe_intent_ref}/_authenticate",
        data={"client_secret": payment.client_secret, "success": str(success).lower()},
        auth=(account_of(payment).secret_key, ""),
        timeout=5,
    ).raise_for_status()
    return stripe_api.client_for(account_of(payment)).v1.payment_intents.retrieve(
        payment.stripe_intent_ref
    )


def account_of(payment) -> StripeAccount:
    return StripeAccount.objects.get(seller=payment.seller)
