"""Helpers of the customer payment page tests: a card that always needs the bank's check,
signing in, and typing a card into Stripe.js's card element (localstripe's fake one)."""

from __future__ import annotations

import re

from payments.models import StripeAccount
from payments.services import cards, stripe_api
from tests.factories import PASSWORD, SYSTEM
from tests.payments_support import NEEDS_3DS


def saved_3ds_card(buyer):
    """A card whose every payment needs the bank's check, saved as Stripe.js saves it: the
    SetupIntent asks for the check too, which the browser completes (a second confirm)."""
    setup = cards.card_setup_start(actor=SYSTEM, buyer=buyer)
    client = stripe_api.client_for(StripeAccount.objects.get(seller=buyer.parent))
    card = {"number": NEEDS_3DS, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    intent = client.v1.setup_intents.confirm(
        setup["setup_intent"],
        {
            "client_secret": setup["client_secret"],
            "payment_method_data": {"type": "card", "card": card},
        },
    )
    assert intent.status == "requires_action"
    client.v1.setup_intents.confirm(
        setup["setup_intent"], {"client_secret": setup["client_secret"]}
    )
    return cards.card_save(actor=SYSTEM, buyer=buyer, setup_intent=setup["setup_intent"])


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/portal/\d+/.*"))


def enter_card(page, number: str, *, within=None) -> None:
    """Type a card into the card element (localstripe's fake one of Stripe.js)."""
    element = (within or page).get_by_test_id("card-element")
    element.get_by_placeholder("number").fill(number)
    element.get_by_placeholder("exp_month").fill("12")
    element.get_by_placeholder("exp_year").fill("31")
    element.get_by_placeholder("cvc").fill("123")
    element.get_by_placeholder("postal_code").fill("10001")
