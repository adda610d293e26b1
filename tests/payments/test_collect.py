"""Collecting money through the official Stripe library against localstripe: nothing is
provisioned before the first invoice is paid; saved cards and automatic payment; offline
payments, partial and over; the credit balance; refunds through credit notes; and the books
balance for each customer after every scenario."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import stripe

from billing.models import CreditNote, Invoice
from billing.services.credit_notes import Credit, credit_note_create
from billing.services.run import RUN, billing_run
from orders import services as orders
from orders.models import OrderState
from payments.models import BalanceEntry, BuyerAccount, Payment, Refund, StripeAccount
from payments.services import stripe_api
from payments.services.accounts import invoice_terms_set, payment_policy_update
from payments.services.cards import autopay_set
from payments.services.collect import (
    amount_due,
    balance_of,
    payment_charge,
    payment_open,
    payment_record_offline,
)
from payments.services.ordering import orders_cancel_unpaid
from payments.services.refunds import credit_note_settle
from payments.tasks import payment_autopay, payment_refund
from portal import clock
from portal.errors import Conflict, PermissionDenied, ValidationError
from provisioning.models import BoxAccount
from tests.factories import SYSTEM
from tests.orders.conftest import run_jobs
from tests.payments.conftest import (
    DECLINED_ON_CHARGE,
    DECLINED_ON_SAVE,
    saved_card,
)

pytestmark = pytest.mark.django_db

D = Decimal


def books_balance(buyer) -> None:
    """The books balance for a buyer: what it was invoiced less its credit notes equals the
    money its seller kept for invoices (received, less refunded, less what sits in its credit
    balance) plus what its invoices still owe. Its balance never goes below zero."""
    invoices = Invoice.objects.filter(buyer=buyer).exclude(state__in=["draft", "void"])
    invoiced = sum((i.total for i in invoices), D(0))
    credited = sum((c.total for c in CreditNote.objects.filter(invoice__in=invoices)), D(0))
    received = sum(
        (p.amount for p in Payment.objects.filter(invoice__in=invoices, state="succeeded")), D(0)
    )
    refunded = sum(
        (r.amount for r in Refund.objects.filter(payment__buyer=buyer).exclude(state="failed")),
        D(0),
    )
    balance = sum((e.amount for e in BalanceEntry.objects.filter(buyer=buyer)), D(0))
    owed = sum((amount_due(i) for i in invoices), D(0))
    assert invoiced - credited == (received - refunded - balance) + owed
    assert balance >= 0


def place(tree, catalog, customer="C11", quantity=3, **kw):
    clock.set_today(kw.pop("day", date(2027, 1, 1)))
    return orders.order_create(
        actor=tree[f"{customer}.admin"],
        customer=tree[customer],
        offer=catalog[kw.pop("offer", "R1.business")],
        quantity=quantity,
        term="monthly",
        submit=True,
        **kw,
    )


def test_nothing_is_provisioned_before_the_first_invoice_is_paid(paying, catalog, fake):
    tree = paying
    order = place(tree, catalog)
    invoice = order.first_invoice
    # the order waits; its invoice is issued; nothing exists at Box
    assert order.state == OrderState.AWAITING_PAYMENT
    assert (invoice.state, invoice.total, amount_due(invoice)) == ("issued", D("52.80"), D("52.80"))
    assert not BoxAccount.objects.filter(customer=tree["C11"]).exists()
    run_jobs(fake)
    assert fake.calls == []
    # a card that is declined when saved is not kept, and nothing moves
    with pytest.raises(stripe.CardError):
        saved_card(tree["C11"], DECLINED_ON_SAVE)
    order.refresh_from_db()
    assert order.state == OrderState.AWAITING_PAYMENT
    # paid by card, the order is provisioned
    card = saved_card(tree["C11"])
    payment = payment_open(actor=tree["C11.admin"], invoice=invoice, card=card)
    payment = payment_charge(actor=tree["C11.admin"], payment=payment)
    assert (payment.state, payment.amount, payment.applied) == ("succeeded", D("52.80"), D("52.80"))
    invoice.refresh_from_db()
    order.refresh_from_db()
    assert invoice.state == "paid" and amount_due(invoice) == 0
    assert order.state == OrderState.PROVISIONING
    assert BoxAccount.objects.filter(customer=tree["C11"]).count() == 1
    # Stripe holds exactly one charge of 52.80 for it
    intent = stripe_api.client_for(
        StripeAccount.objects.get(seller=tree["R1"])
    ).v1.payment_intents.retrieve(payment.stripe_intent_ref)
    assert (intent.amount, intent.currency, intent.status) == (5280, "usd", "succeeded")
    books_balance(tree["C11"])


def test_a_charge_declined_leaves_the_order_waiting_and_then_cancelled(paying, catalog, fake):
    tree = paying
    payment_policy_update(actor=tree["R1.admin"], seller=tree["R1"], unpaid_order_hours=48)
    order = place(tree, catalog)
    card = saved_card(tree["C11"], DECLINED_ON_CHARGE)
    payment = payment_open(actor=tree["C11.admin"], invoice=order.first_invoice, card=card)
    payment = payment_charge(actor=tree["C11.admin"], payment=payment)
    assert (payment.state, payment.failure_code) == ("failed", "card_declined")
    order.refresh_from_db()
    assert order.state == OrderState.AWAITING_PAYMENT
    assert orders_cancel_unpaid() == 0  # not yet: 48 hours have not passed
    from django.utils import timezone

    type(order).objects.filter(pk=order.pk).update(
        submitted_at=timezone.now() - timedelta(hours=49)
    )
    assert orders_cancel_unpaid() == 1
    order.refresh_from_db()
    order.subscription.refresh_from_db()
    assert (
        order.state == OrderState.CANCELLED and "Not paid within 48 hours" in order.failure_message
    )
    assert order.subscription.status == "cancelled"
    assert Invoice.objects.get(pk=order.first_invoice.pk).state == "void"
    assert not BoxAccount.objects.filter(customer=tree["C11"]).exists()
    books_balance(tree["C11"])


def test_the_same_payment_is_never_charged_twice(paying, catalog, fake):
    tree = paying
    order = place(tree, catalog)
    saved_card(tree["C11"])
    # pay-now, autopay and a retry all ask at once: one row, one intent, one charge
    first = payment_open(actor=tree["C11.admin"], invoice=order.first_invoice)
    again = payment_open(actor=SYSTEM, invoice=order.first_invoice, trigger="autopay")
    assert again.pk == first.pk
    charged = payment_charge(actor=SYSTEM, payment=first)
    replay = payment_charge(actor=SYSTEM, payment=first)  # a retried task
    assert charged.stripe_intent_ref == replay.stripe_intent_ref
    assert Payment.objects.filter(invoice=order.first_invoice).count() == 1
    with pytest.raises(Exception, match="is paid"):
        payment_open(actor=tree["C11.admin"], invoice=order.first_invoice)
    books_balance(tree["C11"])


def test_offline_payments_partial_and_over_and_the_credit_balance(paying, catalog, fake):
    tree = paying
    order = place(tree, catalog)
    invoice = order.first_invoice  # 52.80
    with pytest.raises(PermissionDenied):
        payment_record_offline(
            actor=tree["C11.admin"], invoice=invoice, amount="10", source="transfer"
        )
    with pytest.raises(ValidationError):
        payment_record_offline(
            actor=tree["R1.billing"], invoice=invoice, amount="-5", source="transfer"
        )
    with pytest.raises(ValidationError):
        payment_record_offline(
            actor=tree["R1.billing"], invoice=invoice, amount="1.005", source="cheque"
        )
    payment_record_offline(
        actor=tree["R1.billing"], invoice=invoice, amount="20.00", source="transfer", reference="T1"
    )
    assert amount_due(invoice) == D("32.80")
    order.refresh_from_db()
    assert order.state == OrderState.AWAITING_PAYMENT  # partly paid is not paid
    payment_record_offline(
        actor=tree["R1.billing"], invoice=invoice, amount="50.00", source="cheque", reference="C7"
    )
    invoice.refresh_from_db()
    assert invoice.state == "paid" and amount_due(invoice) == 0
    assert balance_of(tree["C11"], tree["R1"], "USD") == D("17.20")  # 70.00 - 52.80
    # the balance pays (part of) the next invoice
    run_jobs(fake)
    run = billing_run(actor=RUN, day=date(2027, 2, 1))
    assert run.invoices_issued >= 1
    february = Invoice.objects.get(buyer=tree["C11"], billing_day=date(2027, 2, 1), source="period")
    assert february.total == D("52.80")
    assert amount_due(february) == D("35.60")
    assert balance_of(tree["C11"], tree["R1"], "USD") == 0
    books_balance(tree["C11"])


def test_an_invoice_with_money_against_it_is_never_voided(paying, catalog, fake):
    from billing.services.invoices import invoice_void
    from portal.models import AuditEvent

    tree = paying
    invoice = place(tree, catalog).first_invoice
    payment_record_offline(
        actor=tree["R1.billing"], invoice=invoice, amount="20.00", source="transfer"
    )
    events = AuditEvent.objects.count()
    with pytest.raises(Conflict) as refused:
        invoice_void(actor=tree["R1.admin"], invoice=invoice, reason="Issued in error")
    assert refused.value.message == (
        f"Money was received or credited against invoice {invoice.number}: correct it with a "
        "credit note instead of voiding it."
    )
    invoice.refresh_from_db()
    assert (invoice.state, invoice.voided_at, amount_due(invoice)) == ("issued", None, D("32.80"))
    assert AuditEvent.objects.count() == events
    books_balance(tree["C11"])
    # an invoice nobody paid anything against is voided as before
    other = place(tree, catalog, customer="C12").first_invoice
    assert invoice_void(actor=tree["R1.admin"], invoice=other, reason="Error").state == "void"


def test_refunds_through_credit_notes_to_the_card_or_the_balance(paying, catalog, fake):
    tree = paying
    order = place(tree, catalog)
    invoice = order.first_invoice
    saved_card(tree["C11"])
    payment = payment_charge(
        actor=SYSTEM, payment=payment_open(actor=tree["C11.admin"], invoice=invoice)
    )
    assert payment.state == "succeeded"
    line = invoice.lines.get(kind="recurring")
    # a partial credit refunded to the card
    note = credit_note_create(
        actor=tree["R1.billing"],
        invoice=invoice,
        reason="Goodwill",
        credits=[Credit(line, "10.00")],
    )
    assert note.total == D("11.00")
    assert credit_note_settle(actor=tree["R1.billing"], note=note, method="card") == (
        "refunded to the card"
    )
    refund = Refund.objects.get(credit_note=note)
    payment_refund(refund.pk)  # the task (eager in tests)
    refund.refresh_from_db()
    assert (refund.state, refund.amount) == ("succeeded", D("11.00"))
    # the rest credited to the balance
    rest = credit_note_create(actor=tree["R1.billing"], invoice=invoice, reason="Closed")
    credit_note_settle(actor=tree["R1.billing"], note=rest, method="balance")
    assert balance_of(tree["C11"], tree["R1"], "USD") == rest.total == D("41.80")
    # a customer may not refund itself
    with pytest.raises(PermissionDenied):
        credit_note_settle(actor=tree["C11.admin"], note=rest, method="card")
    books_balance(tree["C11"])


def test_a_saved_card_pays_renewals_automatically(paying, catalog, fake, mailoutbox):
    tree = paying
    invoice_terms_set(actor=tree["R1.billing"], buyer=tree["C11"], days=14)
    order = place(tree, catalog)
    run_jobs(fake)
    saved_card(tree["C11"])
    autopay_set(actor=tree["C11.billing"], buyer=tree["C11"], enabled=True)
    assert BuyerAccount.objects.get(buyer=tree["C11"]).autopay
    billing_run(actor=RUN, day=date(2027, 2, 1))
    february = Invoice.objects.get(buyer=tree["C11"], billing_day=date(2027, 2, 1), source="period")
    # issuing queued the automatic payment; in tests tasks run at once (eagerly)
    payment_autopay(february.pk)
    february.refresh_from_db()
    assert february.state == "paid"
    payment = Payment.objects.get(invoice=february)
    assert (payment.trigger, payment.off_session, payment.state) == ("autopay", True, "succeeded")
    assert order.first_invoice.state == "issued"  # on terms: not charged automatically
    books_balance(tree["C11"])
