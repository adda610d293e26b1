"""Automatic payment of 1,000 issued invoices against localstripe (the official library over
HTTP, as in production): invoices charged per second by one worker running the autopay task
for each, beside a floor measured in the same run: the raw library creating and confirming
1,000 PaymentIntents with nothing else (no rows, no locks, no receipts). Then the proof that
each invoice was charged exactly once: localstripe's intents counted per invoice, and the
whole autopay pass run a second time without a single new intent."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection

from benchmarks.harness import BenchContext
from billing.models import Invoice
from payments.models import BuyerAccount, Payment, PaymentMethod, StripeAccount
from payments.services import stripe_api
from payments.services.accounts import stripe_account_save
from payments.tasks import payment_autopay
from portal import clock
from portal import services as portal_services
from portal.actors import system
from portal.models import Organization, OrgKind

BENCH = system("benchmark")
DAY = date(2027, 2, 1)
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}


def _world(count: int, client):
    """A provider with its Stripe account and ``count`` customers, each a Stripe customer
    with a saved card and automatic payment on, each with one issued invoice. Set-up only
    (not measured): the portal's rows written in bulk."""
    clock.set_today(DAY)
    provider = portal_services.provider_create(
        actor=BENCH, name="Pay Cloud", domains=["pay.localhost"]
    )
    stripe_account_save(
        actor=BENCH,
        seller=provider,
        publishable_key="pk_test_bench",
        secret_key="sk_test_bench",
        webhook_secret="whsec_bench",
    )
    customers = Organization.objects.bulk_create(
        Organization(
            kind=OrgKind.CUSTOMER, parent=provider, name=f"Payer {n:05d}", path="", depth=1
        )
        for n in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE portal_organization SET path = %s || id || '/' WHERE kind = 'customer'",
            [provider.path],
        )
    accounts, cards = [], []
    for customer in customers:
        ref = client.v1.customers.create({"name": customer.name}).id
        method = client.v1.payment_methods.create({"type": "card", "card": CARD})
        client.v1.payment_methods.attach(method.id, {"customer": ref})
        accounts.append(
            BuyerAccount(buyer=customer, seller=provider, stripe_customer_ref=ref, autopay=True)
        )
        cards.append(
            PaymentMethod(
                buyer=customer,
                seller=provider,
                stripe_ref=method.id,
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=2031,
                is_default=True,
            )
        )
    BuyerAccount.objects.bulk_create(accounts)
    PaymentMethod.objects.bulk_create(cards)
    invoices = Invoice.objects.bulk_create(
        Invoice(
            seller=provider,
            buyer=customer,
            currency="USD",
            source="period",
            state="issued",
            billing_day=DAY,
            number=f"PAY-{n + 1:06d}",
            sequence=n + 1,
            issued_at=clock.now(),
            due_on=DAY,
            subtotal=Decimal("100.00"),
            tax_total=Decimal("10.00"),
            total=Decimal("110.00") + n % 7,
        )
        for n, customer in enumerate(customers)
    )
    return provider, invoices, accounts, cards


def _floor(client, accounts, cards) -> float:
    """The least charging can cost: create and confirm one PaymentIntent per card with the
    raw library, nothing else."""
    started = time.perf_counter()
    for account, card in zip(accounts, cards, strict=True):
        intent = client.v1.payment_intents.create(
            {
                "amount": 11000,
                "currency": "usd",
                "customer": account.stripe_customer_ref,
                "payment_method": card.stripe_ref,
                "metadata": {"floor": "1"},
            }
        )
        client.v1.payment_intents.confirm(intent.id)
    return time.perf_counter() - started


def _intents_per_invoice(client) -> tuple[Counter, Counter]:
    """localstripe's intents, and its succeeded ones, counted per invoice of ours."""
    made, charged = Counter(), Counter()
    for intent in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
        invoice = (intent.to_dict().get("metadata") or {}).get("invoice")
        if invoice is None:
            continue
        made[int(invoice)] += 1
        charged[int(invoice)] += intent.status == "succeeded"
    return made, charged


def run(ctx: BenchContext) -> None:
    from tests.payments_support import start_localstripe

    count = 100 if ctx.quick else 1000
    workdir = Path(tempfile.mkdtemp(prefix="bench-payments-"))
    url, process = start_localstripe(workdir / "localstripe.log")
    saved = {
        k: getattr(settings, k)
        for k in ("STRIPE_API_BASE", "STRIPE_CONFIRM_OFF_SESSION", "STRIPE_WEBHOOK_BASE_URL")
    }
    settings.STRIPE_API_BASE = url
    settings.STRIPE_CONFIRM_OFF_SESSION = False  # localstripe does not take the flag
    settings.STRIPE_WEBHOOK_BASE_URL = ""
    try:
        _measure(ctx, count)
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        process.terminate()
        process.wait(10)
        clock.set_today(None)


def _measure(ctx: BenchContext, count: int) -> None:
    client = stripe_api.client_with("sk_test_bench")
    provider, invoices, accounts, cards = _world(count, client)
    assert StripeAccount.objects.filter(seller=provider).exists()
    ctx.report("issued invoices with automatic payment", f"{count:,}")
    floor = _floor(client, accounts, cards)

    started = time.perf_counter()
    outcomes = Counter(payment_autopay(invoice.pk) for invoice in invoices)
    elapsed = time.perf_counter() - started
    assert outcomes == {"succeeded": count}, outcomes
    ctx.report("autopay: wall time (one worker)", elapsed, "s")
    ctx.report("autopay: invoices charged per second", count / elapsed, "inv/s")
    ctx.report("floor (raw create+confirm): wall time", floor, "s")
    ctx.report("floor: intents per second", count / floor, "pi/s")
    ctx.report("autopay / floor", elapsed / floor, "x")

    # Every task delivered twice (a redelivery after a worker crash, a retry): no new intent.
    again = Counter(payment_autopay(invoice.pk) for invoice in invoices)
    assert again == {"nothing to pay": count}, again
    made, charged = _intents_per_invoice(client)
    ids = [invoice.pk for invoice in invoices]
    once = sum(1 for pk in ids if made[pk] == 1 and charged[pk] == 1)
    assert once == count, (once, count)
    paid = Invoice.objects.filter(pk__in=ids, state="paid").count()
    rows = Payment.objects.filter(invoice_id__in=ids, state="succeeded").count()
    assert paid == rows == count, (paid, rows)
    ctx.report("invoices with exactly one intent, charged once", f"{once:,} of {count:,}")
    ctx.report("intents at localstripe for these invoices", f"{sum(made[pk] for pk in ids):,}")
    ctx.report("invoices paid / succeeded payment rows", f"{paid:,} / {rows:,}")
