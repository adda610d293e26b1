"""Demo money: each demo seller has Stripe keys for the localstripe the demo launcher starts,
and the demo customers pay the way real ones do (their story is played day by day by
billing/demo.py, which calls ``on_day``):

* Acme Manufacturing saved a card and pays automatically: each renewal invoice is charged
  the day it is issued, and a receipt goes out.
* Contoso Dental paid automatically until it replaced its card with one that is declined
  off session; its latest renewal failed and is in dunning (retried on Skyline's schedule).
* Evergreen Law pays Harbor by bank transfer, recorded by Harbor's billing clerk; one
  transfer was more than the invoice and the rest became credit used by the next invoice.

The launcher sets ``PORTAL_DEMO_STRIPE_URL`` once localstripe answers; without it
(``--seed-only``, tests) nothing here happens and a note says so.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

from django.conf import settings

from payments.models import StripeAccount
from portal.actors import system

SEED = system("demo-seed")
GOOD_CARD = "4242424242424242"
DECLINED_OFF_SESSION = "4000000000000341"


def _note(message: str) -> None:
    print(f"  payments: {message}")  # noqa: T201 - the demo launcher's output


def enabled() -> bool:
    return bool(os.environ.get("PORTAL_DEMO_STRIPE_URL"))


def _card(buyer, number: str):
    """A card saved as the customer's browser saves it with Stripe.js: a SetupIntent
    confirmed with the card at (local)stripe, then kept by the portal."""
    from payments.services import cards, stripe_api

    setup = cards.card_setup_start(actor=SEED, buyer=buyer)
    client = stripe_api.client_for(StripeAccount.objects.get(seller=buyer.parent))
    client.v1.setup_intents.confirm(
        setup["setup_intent"],
        {
            "client_secret": setup["client_secret"],
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"},
            },
        },
    )
    return cards.card_save(actor=SEED, buyer=buyer, setup_intent=setup["setup_intent"])


def seed(world) -> None:
    if not enabled():
        _note("no localstripe running; the demo sellers have no Stripe keys.")
        return
    from payments.services.accounts import payment_policy_update, stripe_account_save

    settings.STRIPE_API_BASE = os.environ["PORTAL_DEMO_STRIPE_URL"]
    settings.STRIPE_CONFIRM_OFF_SESSION = False
    sellers = [world.provider, *world.resellers.values()]
    if StripeAccount.objects.filter(seller__in=sellers).exists():
        return  # seeded before
    for seller in sellers:
        key = f"demo{seller.pk}"
        stripe_account_save(
            actor=SEED,
            seller=seller,
            publishable_key=f"pk_test_{key}demo",
            secret_key=f"sk_test_{key}demo",
            webhook_secret=f"whsec_{key}demo",
        )
    # Skyline retries a failed automatic payment after 1, 3 and 7 days and suspends after 14.
    payment_policy_update(
        actor=SEED,
        seller=world.resellers["skyline"],
        retry_days="1,3,7",
        suspend_after_days=14,
        cancel_after_days=30,
    )
    _note(f"{len(sellers)} sellers have Stripe keys for the demo's localstripe.")


def on_day(world, day: date, start: date) -> None:
    """What the demo customers do with money on ``day`` (the clock is frozen on it)."""
    if not enabled():
        return
    from billing.models import Invoice
    from payments.services.cards import autopay_set
    from payments.services.collect import amount_due, payment_record_offline
    from payments.tasks import payment_autopay

    acme, contoso, evergreen = (world.customers[k] for k in ("acme", "contoso", "evergreen"))
    offset = (day - start).days
    if offset == 1:
        # Acme and Contoso save a card and turn on automatic payment; Acme's card pays its
        # first invoice at once.
        for buyer in (acme, contoso):
            _card(buyer, GOOD_CARD)
            autopay_set(actor=SEED, buyer=buyer, enabled=True)
        for invoice in Invoice.objects.filter(buyer=acme, state="issued"):
            payment_autopay(invoice.pk)
        _note("Acme and Contoso saved cards and pay automatically.")
    if offset == 2:
        first = Invoice.objects.filter(buyer=contoso, state="issued").first()
        if first is not None:
            payment_autopay(first.pk)
    if offset == 40:
        # Contoso replaces its card with one its bank declines when it is not there.
        _card(contoso, DECLINED_OFF_SESSION)
    clerk = world.users.get("billing@harbor.localhost")
    if clerk is None:
        return
    for invoice in Invoice.objects.filter(buyer=evergreen, state="issued").order_by("pk"):
        waited = (day - invoice.billing_day).days
        if waited == 12:
            due = amount_due(invoice)
            # The second transfer is rounded up; the difference waits as credit.
            extra = Decimal("20.00") if invoice.source == "period" else Decimal("0")
            payment_record_offline(
                actor=clerk,
                invoice=invoice,
                amount=due + extra,
                source="transfer",
                reference=f"HB-{invoice.number}",
                received_on=day,
            )
