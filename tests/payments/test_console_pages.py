"""The seller consoles' payment pages: Stripe keys and the payment policy, a customer's
invoice terms, offline payments with their preview, refunds or credit for a credit note, the
payments and overdue lists, and ordering on a customer's behalf. Exact amounts, who may see
and do what, two resellers that never see each other's ids, bad input that changes nothing,
and redirects after every post that worked."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection as django_connection

from billing.models import Invoice
from billing.services.credit_notes import Credit, credit_note_create
from orders import services as orders
from orders.models import Order, OrderState
from payments.models import (
    BalanceEntry,
    BuyerAccount,
    Payment,
    PaymentPolicy,
    Refund,
    StripeAccount,
)
from payments.services.collect import amount_due, balance_of, payment_charge, payment_open
from portal import clock
from portal.models import AuditEvent
from tests.factories import SYSTEM
from tests.orders.conftest import run_jobs
from tests.payments.conftest import saved_card

pytestmark = pytest.mark.django_db

D = Decimal
TOKEN = re.compile(r'name="token" value="([A-Za-z0-9_-]+)"')
PREVIEW = re.compile(r'name="preview_key" value="([0-9a-f]*)"')


def console(tree, org: str, rest: str) -> str:
    return f"/console/{tree[org].pk}/{rest}"


def place(tree, catalog, customer="C11", offer="R1.business", quantity=3):
    """An order of a customer without invoice terms: its first invoice is issued and waits
    for payment."""
    clock.set_today(date(2027, 1, 1))
    return orders.order_create(
        actor=tree[f"{customer}.admin"],
        customer=tree[customer],
        offer=catalog[offer],
        quantity=quantity,
        term="monthly",
        submit=True,
    )


# --- Stripe keys and the payment policy -----------------------------------------------------


def test_keys_are_checked_saved_and_never_shown_again(tree, stripe_sim, client):
    url = console(tree, "R1", "payments/settings/")
    client.force_login(tree["R1.admin"])
    page = client.get(url).content.decode()
    assert 'data-testid="no-account"' in page and 'data-testid="keys-form"' in page
    keys = {
        "action": "keys",
        "publishable_key": "pk_test_r1shop",
        "secret_key": "sk_test_r1secret9876",
        "webhook_secret": "whsec_r1hook4321",
    }
    done = client.post(url, keys)
    assert (done.status_code, done["Location"]) == (302, url)
    account = StripeAccount.objects.get(seller=tree["R1"])
    assert (account.publishable_key, account.secret_key, account.webhook_secret) == (
        "pk_test_r1shop",
        "sk_test_r1secret9876",
        "whsec_r1hook4321",
    )
    page = client.get(url).content.decode()
    assert 'data-testid="secret-hint">set, ending …9876<' in page
    assert 'data-testid="webhook-hint">set, ending …4321<' in page
    assert "sk_test_r1secret9876" not in page and "whsec_r1hook4321" not in page
    assert f"/webhooks/stripe/{account.endpoint_token}/" in page
    assert "Stripe accepted the keys (test mode)." in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("secret_key", "nope", "The secret key starts with sk_ or rk_"),
        ("secret_key", "sk_live_abc", "The two keys are not from the same mode (test or live)."),
        ("publishable_key", "", "This field is required."),
        ("webhook_secret", "secret", "The webhook secret starts with whsec_"),
    ],
)
def test_bad_keys_save_nothing(tree, stripe_sim, client, field, value, message):
    client.force_login(tree["R1.admin"])
    keys = {
        "action": "keys",
        "publishable_key": "pk_test_a",
        "secret_key": "sk_test_a",
        "webhook_secret": "whsec_a",
        field: value,
    }
    answer = client.post(console(tree, "R1", "payments/settings/"), keys)
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not StripeAccount.objects.exists()


def test_who_may_see_and_change_the_payment_settings(tree, stripe_sim, client):
    url = console(tree, "R1", "payments/settings/")
    keys = {
        "action": "keys",
        "publishable_key": "pk_test_a",
        "secret_key": "sk_test_a",
        "webhook_secret": "whsec_a",
    }
    # billing staff see the page and set the policy, but not the keys
    client.force_login(tree["R1.billing"])
    page = client.get(url).content.decode()
    assert 'data-testid="policy-form"' in page and 'data-testid="keys-form"' not in page
    assert client.post(url, keys).status_code == 403
    # sales people see neither
    client.force_login(tree["R1.sales"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"action": "policy", "retry_days": "2"}).status_code == 403
    # another reseller's admin, and the provider's, do not open R1's console at all
    for other in ("R2.admin", "P.admin"):
        client.force_login(tree[other])
        assert client.get(url).status_code == 404
        assert client.post(url, keys).status_code == 404
    assert not StripeAccount.objects.exists() and not PaymentPolicy.objects.exists()


def test_policy_saved_exactly_and_bad_values_change_nothing(tree, client):
    url = console(tree, "R1", "payments/settings/")
    client.force_login(tree["R1.billing"])
    good = {
        "action": "policy",
        "retry_days": "7, 1,3",
        "suspend_after_days": "10",
        "cancel_after_days": "20",
        "unpaid_order_hours": "48",
        "max_seats_per_order": "50",
        "max_amount_per_order": "1000.50",
    }
    done = client.post(url, good)
    assert (done.status_code, done["Location"]) == (302, url)
    policy = PaymentPolicy.objects.get(seller=tree["R1"])
    assert (
        policy.retry_days,
        policy.suspend_after_days,
        policy.cancel_after_days,
        policy.unpaid_order_hours,
        policy.max_seats_per_order,
        policy.max_amount_per_order,
    ) == ("1,3,7", 10, 20, 48, 50, D("1000.50"))
    for field, value, message in [
        ("retry_days", "1,x", "Days after the first failure, e.g. 1,3,7 (each 1 to 60)."),
        ("suspend_after_days", "0", "Between 1 and 120."),
        ("max_amount_per_order", "10.123", "An amount above 0 with at most two decimals."),
        ("max_seats_per_order", "many", "Give a whole number."),
    ]:
        answer = client.post(url, {**good, "retry_days": "2", field: value})
        assert answer.status_code == 400, field
        assert message in answer.content.decode()
        policy.refresh_from_db()
        assert (policy.retry_days, policy.suspend_after_days) == ("1,3,7", 10)
        assert policy.max_amount_per_order == D("1000.50")
    # empty limits mean no limit
    client.post(url, {**good, "max_seats_per_order": "", "max_amount_per_order": ""})
    policy.refresh_from_db()
    assert (policy.max_seats_per_order, policy.max_amount_per_order) == (None, None)


# --- a customer's invoice terms -------------------------------------------------------------


def test_invoice_terms_granted_and_withdrawn_on_the_customer_page(tree, client):
    customer = tree["C11"]
    page_url = console(tree, "R1", f"orgs/{customer.pk}/")
    url = console(tree, "R1", f"payments/customers/{customer.pk}/terms/")
    client.force_login(tree["R1.billing"])
    page = client.get(page_url).content.decode()
    assert 'data-testid="terms">On invoice terms: within 14 days<' in page
    assert 'data-testid="terms-form"' in page
    done = client.post(url, {"action": "grant", "days": "30"})
    assert (done.status_code, done["Location"]) == (302, page_url)
    assert BuyerAccount.objects.get(buyer=customer).invoice_terms_days == 30
    assert (
        "Customer C11 may pay its invoices within 30 days." in client.get(page_url).content.decode()
    )
    # bad input: a message, and the terms stay
    for days in ("abc", "200", ""):
        answer = client.post(url, {"action": "grant", "days": days})
        assert answer.status_code == 302
        assert BuyerAccount.objects.get(buyer=customer).invoice_terms_days == 30
    page = client.get(page_url).content.decode()
    assert "Invoice terms: Between 0 and 120." in page
    done = client.post(url, {"action": "withdraw"})
    assert done.status_code == 302
    assert BuyerAccount.objects.get(buyer=customer).invoice_terms_days is None
    page = client.get(page_url).content.decode()
    assert 'data-testid="terms">By card, before anything is provisioned<' in page


def test_invoice_terms_rights_and_isolation(tree, client):
    c11, c21 = tree["C11"], tree["C21"]
    before = dict(BuyerAccount.objects.values_list("buyer_id", "invoice_terms_days"))
    # R2's staff name R1's customer in their own console: the same 404 as a missing one
    client.force_login(tree["R2.admin"])
    for target in (c11.pk, tree["R1"].pk, 999999):
        url = console(tree, "R2", f"payments/customers/{target}/terms/")
        assert client.post(url, {"days": "60"}).status_code == 404
    # and R2's own customer is fine
    assert client.post(console(tree, "R2", f"payments/customers/{c21.pk}/terms/"), {"days": "45"})[
        "Location"
    ] == console(tree, "R2", f"orgs/{c21.pk}/")
    # sales people and the provider's admin may see the customer, not change its terms
    client.force_login(tree["R1.sales"])
    assert (
        client.post(
            console(tree, "R1", f"payments/customers/{c11.pk}/terms/"), {"days": "60"}
        ).status_code
        == 403
    )
    page = client.get(console(tree, "R1", f"orgs/{c11.pk}/")).content.decode()
    assert 'data-testid="customer-payments"' in page and 'data-testid="terms-form"' not in page
    client.force_login(tree["P.admin"])
    assert (
        client.post(
            console(tree, "P", f"payments/customers/{c11.pk}/terms/"), {"days": "60"}
        ).status_code
        == 403
    )
    # GET is not a way in
    client.force_login(tree["R1.admin"])
    assert client.get(console(tree, "R1", f"payments/customers/{c11.pk}/terms/")).status_code == 405
    after = dict(BuyerAccount.objects.values_list("buyer_id", "invoice_terms_days"))
    assert after == {**before, c21.pk: 45}


# --- offline payments -----------------------------------------------------------------------


def _preview(client, url, data):
    answer = client.post(url, {**data, "action": "preview"})
    key = PREVIEW.search(answer.content.decode()).group(1)
    return answer, key


def test_offline_payments_partial_then_over_with_a_preview(paying, catalog, fake, client):
    tree = paying
    order = place(tree, catalog)
    invoice = order.first_invoice
    assert (invoice.total, amount_due(invoice)) == (D("52.80"), D("52.80"))
    invoice_url = console(tree, "R1", f"billing/invoices/{invoice.pk}/")
    url = console(tree, "R1", f"payments/invoices/{invoice.pk}/record/")
    client.force_login(tree["R1.billing"])
    page = client.get(invoice_url).content.decode()
    assert 'data-testid="amount-due">52.80 USD<' in page and 'data-testid="record-link"' in page
    form = client.get(url).content.decode()
    assert 'value="52.80"' in form
    # a part: the preview shows the effect and saves nothing
    data = {
        "source": "transfer",
        "amount": "20.00",
        "received_on": "2027-01-01",
        "reference": "BANK-1",
    }
    answer, key = _preview(client, url, data)
    page = answer.content.decode()
    assert answer.status_code == 200
    assert 'data-testid="effect-applied">20.00 USD<' in page
    assert 'data-testid="effect-due-after">32.80 USD<' in page
    assert 'data-testid="effect-balance"' not in page
    assert not Payment.objects.exists()
    done = client.post(url, {**data, "action": "confirm", "preview_key": key})
    assert (done.status_code, done["Location"]) == (302, invoice_url)
    payment = Payment.objects.get()
    assert (payment.source, payment.amount, payment.applied, payment.reference) == (
        "transfer",
        D("20.00"),
        D("20.00"),
        "BANK-1",
    )
    assert payment.created_by == tree["R1.billing"]
    assert amount_due(invoice) == D("32.80")
    # the same confirmation sent again (a double click) records nothing more
    again = client.post(url, {**data, "action": "confirm", "preview_key": key})
    assert again.status_code == 200
    assert "changed since the preview" in again.content.decode()
    assert Payment.objects.count() == 1
    # more than is owed: the rest becomes credit balance, the invoice is paid
    data = {
        "source": "cheque",
        "amount": "1,050.00",
        "received_on": "2027-01-01",
        "reference": "CHQ 7",
    }
    answer, key = _preview(client, url, data)
    page = answer.content.decode()
    assert 'data-testid="effect-applied">32.80 USD<' in page
    assert 'data-testid="effect-due-after">0.00 USD<' in page
    assert 'data-testid="effect-balance">1,017.20 USD<' in page
    done = client.post(url, {**data, "action": "confirm", "preview_key": key})
    assert done.status_code == 302
    invoice.refresh_from_db()
    order.refresh_from_db()
    assert (invoice.state, amount_due(invoice)) == ("paid", D("0.00"))
    assert order.state == OrderState.PROVISIONING
    assert balance_of(tree["C11"], tree["R1"], "USD") == D("1017.20")
    page = client.get(invoice_url).content.decode()
    assert "Cheque of 1,050.00 USD recorded; 1,017.20 USD went to Customer C11" in page
    assert 'data-testid="amount-due">0.00 USD<' in page
    org_page = client.get(console(tree, "R1", f"orgs/{tree['C11'].pk}/")).content.decode()
    assert 'data-testid="balance">1,017.20 USD<' in org_page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": "12.345"}, "At most the decimals USD has."),
        ({"amount": "-5"}, "The amount is more than 0."),
        ({"amount": "ten"}, "Give the amount received, e.g. 82.50."),
        ({"received_on": "2027-01-02"}, "The money cannot arrive in the future."),
        ({"received_on": "yesterday"}, "Enter a valid date."),
        ({"source": "cash"}, "Select a valid choice."),
    ],
)
def test_bad_offline_payments_save_nothing(paying, catalog, fake, client, change, message):
    tree = paying
    invoice = place(tree, catalog).first_invoice
    url = console(tree, "R1", f"payments/invoices/{invoice.pk}/record/")
    client.force_login(tree["R1.admin"])
    data = {"source": "transfer", "amount": "10.00", "received_on": "2027-01-01", "reference": ""}
    for action in ("preview", "confirm"):
        answer = client.post(url, {**data, **change, "action": action, "preview_key": "x"})
        assert answer.status_code == 400
        assert message in answer.content.decode()
    assert not Payment.objects.exists() and amount_due(invoice) == D("52.80")


def test_offline_payments_rights_and_isolation(paying, catalog, fake, client):
    tree = paying
    c11 = place(tree, catalog).first_invoice
    c21 = place(tree, catalog, customer="C21", offer="R2.business").first_invoice
    data = {
        "source": "transfer",
        "amount": "10.00",
        "received_on": "2027-01-01",
        "action": "confirm",
    }
    # R2's billing staff name R1's invoice inside their own console: 404, nothing recorded
    client.force_login(tree["R2.billing"])
    for invoice_id in (c11.pk, 987654):
        url = console(tree, "R2", f"payments/invoices/{invoice_id}/record/")
        assert client.get(url).status_code == 404
        assert client.post(url, data).status_code == 404
    assert client.get(console(tree, "R2", f"payments/invoices/{c21.pk}/record/")).status_code == 200
    # R1's sales people see the invoice, not the form
    client.force_login(tree["R1.sales"])
    url = console(tree, "R1", f"payments/invoices/{c11.pk}/record/")
    assert client.post(url, data).status_code == 403
    page = client.get(console(tree, "R1", f"billing/invoices/{c11.pk}/")).content.decode()
    assert 'data-testid="record-link"' not in page
    # the provider's admin sees R1's customer's invoice but R1 collects it
    client.force_login(tree["P.admin"])
    assert (
        client.post(console(tree, "P", f"payments/invoices/{c11.pk}/record/"), data).status_code
        == 403
    )
    # the customer's own people are not in a seller console at all
    client.force_login(tree["C11.admin"])
    assert client.post(url, data).status_code == 404
    assert not Payment.objects.exists()


# --- refund or credit for a credit note -----------------------------------------------------


def test_credit_note_money_back_to_the_card_or_the_balance(paying, catalog, fake, client):
    tree = paying
    invoice = place(tree, catalog).first_invoice
    saved_card(tree["C11"])
    paid = payment_charge(
        actor=SYSTEM, payment=payment_open(actor=tree["C11.admin"], invoice=invoice)
    )
    assert (paid.state, paid.amount) == ("succeeded", D("52.80"))
    line = invoice.lines.get(kind="recurring")
    note = credit_note_create(
        actor=tree["R1.billing"],
        invoice=invoice,
        reason="Goodwill",
        credits=[Credit(line, "10.00")],
    )
    assert note.total == D("11.00")
    invoice_url = console(tree, "R1", f"billing/invoices/{invoice.pk}/")
    url = console(tree, "R1", f"payments/credit-notes/{note.pk}/refund/")
    client.force_login(tree["R1.billing"])
    page = client.get(invoice_url).content.decode()
    assert (
        "11.00 USD was paid and may be given back." in page and 'data-testid="refund-link"' in page
    )
    note_url = console(tree, "R1", f"billing/invoices/credit-notes/{note.pk}/")
    page = client.get(note_url).content.decode()
    assert 'data-testid="credit-note-money"' in page
    assert "11.00 USD was paid and may be given back to Customer C11" in page
    page = client.get(url).content.decode()
    assert 'data-testid="to-return"><strong>11.00 USD</strong>' in page
    assert 'data-testid="card-room">52.80 USD can still' in page
    # bad input changes nothing
    bad = client.post(url, {"method": "cash"})
    assert bad.status_code == 400 and "Select a valid choice." in bad.content.decode()
    assert not Refund.objects.exists()
    done = client.post(url, {"method": "card"})
    assert (done.status_code, done["Location"]) == (302, invoice_url)
    refund = Refund.objects.get()
    assert (refund.payment, refund.credit_note, refund.amount) == (paid, note, D("11.00"))
    page = client.get(invoice_url).content.decode()
    assert "Credit note " + note.number + ": 11.00 USD refunded to the card." in page
    assert "refunded to the card (11.00 USD)." in page
    assert "Refunded to the card (11.00 USD)." in client.get(note_url).content.decode()
    listed = client.get(console(tree, "R1", "payments/")).content.decode()
    assert 'data-testid="received">Received: <strong>52.80 USD</strong><' in listed
    assert "11.00 USD refunded" in listed
    # once settled, a second post changes nothing
    assert client.post(url, {"method": "balance"}).status_code == 302
    assert (
        Refund.objects.count() == 1 and not BalanceEntry.objects.filter(credit_note=note).exists()
    )
    # the rest of the invoice, to the credit balance
    rest = credit_note_create(actor=tree["R1.billing"], invoice=invoice, reason="Closed")
    assert rest.total == D("41.80")
    done = client.post(
        console(tree, "R1", f"payments/credit-notes/{rest.pk}/refund/"), {"method": "balance"}
    )
    assert done.status_code == 302
    assert balance_of(tree["C11"], tree["R1"], "USD") == D("41.80")


def test_credit_note_money_back_rights_and_isolation(paying, catalog, fake, client):
    tree = paying
    invoice = place(tree, catalog).first_invoice
    saved_card(tree["C11"])
    payment_charge(actor=SYSTEM, payment=payment_open(actor=tree["C11.admin"], invoice=invoice))
    note = credit_note_create(actor=tree["R1.billing"], invoice=invoice, reason="All")
    url = console(tree, "R1", f"payments/credit-notes/{note.pk}/refund/")
    client.force_login(tree["R2.billing"])
    assert (
        client.post(
            console(tree, "R2", f"payments/credit-notes/{note.pk}/refund/"), {"method": "card"}
        ).status_code
        == 404
    )
    client.force_login(tree["R1.sales"])
    assert client.post(url, {"method": "card"}).status_code == 403
    client.force_login(tree["P.billing"])
    assert (
        client.post(
            console(tree, "P", f"payments/credit-notes/{note.pk}/refund/"), {"method": "card"}
        ).status_code
        == 403
    )
    assert not Refund.objects.exists() and not BalanceEntry.objects.exists()


def test_money_paid_by_transfer_goes_back_to_the_balance_only(paying, catalog, fake, client):
    tree = paying
    invoice = place(tree, catalog).first_invoice
    _offline(tree, invoice, "52.80")
    note = credit_note_create(actor=tree["R1.billing"], invoice=invoice, reason="All")
    url = console(tree, "R1", f"payments/credit-notes/{note.pk}/refund/")
    client.force_login(tree["R1.billing"])
    page = client.get(url).content.decode()
    assert 'data-testid="card-short">Only 0.00 USD of it was paid by card' in page
    assert 'value="card"' not in page
    refused = client.post(url, {"method": "card"})
    assert refused.status_code == 400 and "Select a valid choice." in refused.content.decode()
    assert (
        not Refund.objects.exists() and not BalanceEntry.objects.filter(credit_note=note).exists()
    )
    assert client.post(url, {"method": "balance"}).status_code == 302
    assert balance_of(tree["C11"], tree["R1"], "USD") == D("52.80")


def test_a_credit_note_on_an_unpaid_invoice_needs_no_refund(paying, catalog, fake, client):
    tree = paying
    invoice = place(tree, catalog).first_invoice
    note = credit_note_create(actor=tree["R1.billing"], invoice=invoice, reason="All")
    client.force_login(tree["R1.billing"])
    url = console(tree, "R1", f"payments/credit-notes/{note.pk}/refund/")
    assert "the credit note lowered the amount due" in client.get(url).content.decode()
    assert client.post(url, {"method": "card"}).status_code == 302
    assert not Refund.objects.exists() and not BalanceEntry.objects.exists()


# --- the lists ------------------------------------------------------------------------------


def _offline(tree, invoice, amount, source="transfer"):
    from payments.services.collect import payment_record_offline

    seller = "R1" if invoice.seller == tree["R1"] else "R2"
    return payment_record_offline(
        actor=tree[f"{seller}.billing"],
        invoice=invoice,
        amount=amount,
        source=source,
        reference="REF",
    )


def test_payments_list_filters_and_isolation(paying, catalog, fake, client):
    tree = paying
    c11 = place(tree, catalog).first_invoice
    c12 = place(tree, catalog, customer="C12", quantity=5).first_invoice
    c21 = place(tree, catalog, customer="C21", offer="R2.business").first_invoice
    p1 = _offline(tree, c11, "20.00")
    p2 = _offline(tree, c12, "88.00", source="cheque")
    p3 = _offline(tree, c21, "5.00")
    url = console(tree, "R1", "payments/")
    client.force_login(tree["R1.billing"])
    page = client.get(url).content.decode()
    assert f'data-payment="{p1.pk}"' in page and f'data-payment="{p2.pk}"' in page
    assert f'data-payment="{p3.pk}"' not in page and "Customer C21" not in page
    assert 'data-testid="received">Received: <strong>108.00 USD</strong><' in page
    page = client.get(url, {"source": "cheque"}).content.decode()
    assert f'data-payment="{p2.pk}"' in page and f'data-payment="{p1.pk}"' not in page
    assert "Received (these filters): <strong>88.00 USD</strong>" in page
    page = client.get(url, {"customer": tree["C11"].pk}).content.decode()
    assert f'data-payment="{p1.pk}"' in page and f'data-payment="{p2.pk}"' not in page
    # another seller's customer as a filter shows nothing of it
    page = client.get(url, {"customer": tree["C21"].pk}).content.decode()
    assert "No payment matches these filters." in page and f'data-payment="{p3.pk}"' not in page
    page = client.get(url, {"state": "paid-ish", "day_from": "soon"}).content.decode()
    assert "State: choose one from the list." in page
    assert "From: use a date such as 2027-01-31." in page
    # R2 sees its own only; R1's sales people see no payments page
    client.force_login(tree["R2.admin"])
    page = client.get(console(tree, "R2", "payments/")).content.decode()
    assert f'data-payment="{p3.pk}"' in page and f'data-payment="{p1.pk}"' not in page
    client.force_login(tree["R1.sales"])
    assert client.get(url).status_code == 403
    # the provider sees every customer's payments below it
    client.force_login(tree["P.billing"])
    page = client.get(console(tree, "P", "payments/")).content.decode()
    assert all(f'data-payment="{p.pk}"' in page for p in (p1, p2, p3))
    assert "paid to Reseller R1" in page


def test_overdue_invoices_with_dunning_and_suspended_customers(paying, catalog, fake, client):
    from orders.services import subscription_suspend
    from payments.models import Dunning

    tree = paying
    c11 = place(tree, catalog).first_invoice
    c21 = place(tree, catalog, customer="C21", offer="R2.business").first_invoice
    _offline(tree, c11, "12.80")
    Dunning.objects.create(
        invoice=c11, started_on=date(2027, 1, 20), attempts=2, next_retry_on=date(2027, 2, 3)
    )
    url = console(tree, "R1", "payments/overdue/")
    client.force_login(tree["R1.billing"])
    page = client.get(url).content.decode()
    assert "Nothing is overdue." in page  # not due yet
    clock.set_today(date(2027, 3, 1))
    days = (date(2027, 3, 1) - c11.due_on).days
    page = client.get(url).content.decode()
    assert f'data-invoice="{c11.pk}"' in page and f'data-invoice="{c21.pk}"' not in page
    assert 'data-testid="overdue-total">Owed: <strong>40.00 USD</strong> on 1 invoice<' in page
    assert f"{days} days late" in page and "Retrying the payment" in page
    assert client.get(url, {"stage": "none"}).content.decode().count("data-invoice=") == 0
    assert client.get(url, {"stage": "retrying"}).content.decode().count("data-invoice=") == 1
    assert "Dunning: choose one from the list." in client.get(url, {"stage": "x"}).content.decode()
    # a suspended customer shows in its seller's console only
    running = place(tree, catalog, customer="C12")
    run_jobs(fake)
    running.refresh_from_db()
    clock.set_today(date(2027, 3, 1))
    subscription_suspend(
        actor=tree["R1.billing"], subscription=running.subscription, reason="Invoice unpaid"
    )
    page = client.get(url).content.decode()
    assert "Invoice unpaid" in page
    client.force_login(tree["R2.billing"])
    page = client.get(console(tree, "R2", "payments/overdue/")).content.decode()
    assert f'data-invoice="{c21.pk}"' in page and f'data-invoice="{c11.pk}"' not in page
    assert "Invoice unpaid" not in page and "No customer is suspended." in page


def test_navigation_shows_the_payment_pages_to_those_who_may_use_them(tree, client):
    dashboard = console(tree, "R1", "")
    client.force_login(tree["R1.admin"])
    page = client.get(dashboard).content.decode()
    for rest in ("payments/", "payments/overdue/", "payments/settings/"):
        assert f'href="{console(tree, "R1", rest)}"' in page
    client.force_login(tree["R1.sales"])
    page = client.get(dashboard).content.decode()
    assert console(tree, "R1", "payments/") not in page


# --- ordering on a customer's behalf --------------------------------------------------------


def _order_on_behalf(client, tree, catalog, staff, payment, customer="C11"):
    client.force_login(tree[staff])
    base = console(tree, "R1", "orders/new/")
    step = client.get(base + f"?customer={tree[customer].pk}").content.decode()
    token = TOKEN.search(step).group(1)
    data = {
        "customer": tree[customer].pk,
        "offer": catalog["R1.business"].pk,
        "seats": 3,
        "term": "monthly",
        "code": "",
        "note": "",
        "token": token,
        "action": "order",
    }
    if payment:
        data["payment"] = payment
    return step, client.post(base, data)


def test_staff_order_charges_the_saved_card(paying, catalog, fake, client):
    tree = paying
    clock.set_today(date(2027, 1, 1))
    saved_card(tree["C11"])
    step, done = _order_on_behalf(client, tree, catalog, "R1.admin", "card")
    assert "Charge Customer C11&#x27;s saved card now (Visa ending 4242" in step
    assert "Invoice terms: provision now" in step
    order = Order.objects.get()
    assert done["Location"] == console(tree, "R1", f"orders/{order.pk}/")
    payment = Payment.objects.get()
    assert (payment.state, payment.amount, payment.created_by) == (
        "succeeded",
        D("52.80"),
        tree["R1.admin"],
    )
    assert order.state == OrderState.PROVISIONING and not order.payment_terms
    assert "52.80 USD charged to the saved card." in client.get(done["Location"]).content.decode()


def test_staff_order_on_terms_and_within_their_rights(paying, catalog, fake, client):
    tree = paying
    clock.set_today(date(2027, 1, 1))
    BuyerAccount.objects.filter(buyer=tree["C12"]).update(invoice_terms_days=None)
    saved_card(tree["C11"])
    # sales people may neither charge the card nor grant terms: the order waits for the customer
    step, refused = _order_on_behalf(client, tree, catalog, "R1.sales", "terms")
    assert "saved card now" not in step and "Invoice terms: provision now" not in step
    assert refused.status_code == 200 and "Select a valid choice." in refused.content.decode()
    assert not Order.objects.exists()
    _, done = _order_on_behalf(client, tree, catalog, "R1.sales", "customer")
    order = Order.objects.get()
    assert order.state == OrderState.AWAITING_PAYMENT and not Payment.objects.exists()
    # an admin grants terms for this order: provisioned at once, nothing charged
    _, done = _order_on_behalf(client, tree, catalog, "R1.admin", "terms", customer="C12")
    order = Order.objects.get(customer=tree["C12"])
    assert done.status_code == 302
    assert order.payment_terms and order.state == OrderState.PROVISIONING
    assert not Payment.objects.exists()
    assert AuditEvent.objects.filter(action="order.created", organization=tree["C12"]).count() == 1
    # a customer with invoice terms needs no choice
    BuyerAccount.objects.filter(buyer=tree["C11"]).update(invoice_terms_days=30)
    step, _ = _order_on_behalf(client, tree, catalog, "R1.admin", None)
    assert 'name="payment"' not in step
    assert Invoice.objects.filter(buyer=tree["C11"]).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(django_connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_confirmations_at_the_same_moment_record_one_payment(paying, catalog, settings):
    """Two staff members (or two clicks) confirm the same preview at once, on PostgreSQL:
    the invoice's lock makes them take turns, and the second finds the preview stale."""
    import threading

    from django.db import connection
    from django.test import Client

    settings.BOX_CONNECTOR = "tests.orders.conftest.ManyAccountsConnector"
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.01
    tree = paying
    invoice = place(tree, catalog).first_invoice
    url = console(tree, "R1", f"payments/invoices/{invoice.pk}/record/")
    data = {"source": "transfer", "amount": "52.80", "received_on": "2027-01-01", "reference": ""}
    clients = []
    for staff in ("R1.admin", "R1.billing"):
        c = Client()
        c.force_login(tree[staff])
        clients.append(c)
    _, key = _preview(clients[0], url, data)
    barrier, codes = threading.Barrier(2), []

    def confirm(c):
        try:
            barrier.wait()
            codes.append(c.post(url, {**data, "action": "confirm", "preview_key": key}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [200, 302]
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert amount_due(invoice) == D("0.00")
