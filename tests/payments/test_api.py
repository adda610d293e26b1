"""The payments API under /api/v1/ with the pages' rules, over two of every kind of
organization: payment methods (list, remove, default), payments (list, retrieve, offline
recorded by seller staff with an Idempotency-Key), refunds, credit balances and dunning.
Another tenant's object is a 404 that names nothing; bad input is a 400 naming the field and
writes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from billing.services.credit_notes import Credit, credit_note_create
from catalog import services as catalog_services
from orders import services as orders
from payments.models import BalanceEntry, Dunning, Payment, PaymentMethod, Refund
from payments.services.collect import payment_charge, payment_open, payment_record_offline
from payments.services.refunds import credit_note_settle
from portal import clock
from portal.models import AuditEvent, IdempotencyRecord
from tests.factories import SYSTEM
from tests.payments.conftest import saved_card
from tests.payments.helpers import books_balance

pytestmark = pytest.mark.django_db

D = Decimal


def api_for(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def world(paying, catalog):
    """First invoices of C11, C12 (R1's), C21 (R2's) and PC1 (P's): C11 pays 20.00 by
    transfer, C21 overpays 60.00 by cheque (7.50 to its balance), PC1 pays by card and gets
    11.00 back for a credit note; C11 and C21 have saved cards; C12's invoice is in dunning."""
    tree = paying
    clock.set_today(date(2027, 1, 1))
    offers = {"C11": "R1.business", "C12": "R1.business", "C21": "R2.business"}
    offers["PC1"] = "P.business"
    invoices = {}
    catalog_services.trial_redeem(  # P's offer has a trial: used up, the order is paid for
        actor=SYSTEM, customer=tree["PC1"], offer=catalog["P.business"], started_on=date(2026, 1, 1)
    )
    for customer, offer in offers.items():
        order = orders.order_create(
            actor=tree[f"{customer}.admin"],
            customer=tree[customer],
            offer=catalog[offer],
            quantity=3,
            term="monthly",
            submit=True,
        )
        invoices[customer] = order.first_invoice
    payment_record_offline(
        actor=tree["R1.billing"], invoice=invoices["C11"], amount="20.00", source="transfer"
    )
    payment_record_offline(
        actor=tree["R2.billing"], invoice=invoices["C21"], amount="60.00", source="cheque"
    )
    cards = {c: saved_card(tree[c]) for c in ("C11", "C21", "PC1")}
    paid = payment_charge(
        actor=tree["PC1.admin"],
        payment=payment_open(actor=tree["PC1.admin"], invoice=invoices["PC1"]),
    )
    line = invoices["PC1"].lines.get(kind="recurring")
    note = credit_note_create(
        actor=tree["P.billing"],
        invoice=invoices["PC1"],
        reason="Goodwill",
        credits=[Credit(line, "10.00")],
    )
    credit_note_settle(actor=tree["P.billing"], note=note, method="card")
    Dunning.objects.create(
        invoice=invoices["C12"], started_on=date(2027, 1, 2), next_retry_on=date(2027, 1, 3),
        last_error="The card's bank declined the payment.",
    )  # fmt: skip
    yield SimpleNamespace(tree=tree, invoices=invoices, cards=cards, paid=paid)
    clock.set_today(None)


def customers_seen(api, url, **params) -> list[int]:
    response = api.get(url, params)
    assert response.status_code == 200, response.content
    return sorted(row["customer"] for row in response.json()["results"])


# who sees which customers' payments, cards, refunds, balances and dunning
SEES = {
    "P.admin": {"C11", "C12", "C21", "PC1"},
    "P.billing": {"C11", "C12", "C21", "PC1"},
    "R1.billing": {"C11", "C12"},
    "R2.billing": {"C21"},
    "S1.admin": set(),
    "C11.admin": {"C11"},
    "C21.billing": {"C21"},
    "C12.admin": {"C12"},
    "PC1.admin": {"PC1"},
    "PC2.admin": set(),
    "C11.member": set(),
}


def test_each_caller_sees_only_its_part_of_the_tree(world):
    for caller in sorted(SEES):
        sees_its_part(world, caller)


def sees_its_part(world, caller):
    tree, cards = world.tree, world.cards
    api = api_for(tree[caller])
    seen = SEES[caller]

    def ids(*names):
        return sorted(tree[n].pk for n in names if n in seen)

    assert customers_seen(api, "/api/v1/payments/") == ids("C11", "C21", "PC1")
    assert customers_seen(api, "/api/v1/payment-methods/") == ids("C11", "C21", "PC1")
    assert customers_seen(api, "/api/v1/refunds/") == ids("PC1")
    assert customers_seen(api, "/api/v1/credit-balances/") == ids("C21")
    assert customers_seen(api, "/api/v1/dunning/") == ids("C12")
    # every customer has a payment account: each caller sees those of its part of the tree
    accounts = {
        "P": {"C11", "C12", "C21", "C22", "PC1", "PC2", "S1C1"},
        "R1": {"C11", "C12", "S1C1"},
        "R2": {"C21", "C22"},
        "S1": {"S1C1"},
        "PC2": {"PC2"},
    }.get(caller.split(".")[0], seen)
    expected = sorted(tree[n].pk for n in accounts)
    assert customers_seen(api, "/api/v1/payment-accounts/") == expected
    # and every object outside it is a 404 naming nothing
    for name, url in (
        ("C11", f"/api/v1/payments/{Payment.objects.get(buyer=tree['C11']).pk}/"),
        ("C21", f"/api/v1/payment-methods/{cards['C21'].pk}/"),
        ("C12", f"/api/v1/dunning/{Dunning.objects.get().pk}/"),
    ):
        response = api.get(url)
        if name in seen:
            assert response.status_code == 200
        else:
            assert response.status_code == 404
            error = response.json()["error"]
            assert error["code"] == "not_found" and str(tree[name].name) not in str(error)


def test_payments_list_and_filter_with_exact_amounts(world):
    tree, invoices, paid = world.tree, world.invoices, world.paid
    api = api_for(tree["P.admin"])
    rows = api.get("/api/v1/payments/", {"customer": tree["C21"].pk}).json()["results"]
    assert [(r["source"], r["state"], r["amount"], r["applied"], r["currency"]) for r in rows] == [
        ("cheque", "succeeded", "60.00", "52.50", "USD")
    ]
    card_rows = api.get("/api/v1/payments/", {"source": "card"}).json()["results"]
    assert [(r["customer"], r["amount"], r["card"]) for r in card_rows] == [
        (tree["PC1"].pk, "49.50", "Visa ending 4242, expires 12/2031")
    ]
    assert "client_secret" not in card_rows[0] and "stripe_intent_ref" not in card_rows[0]
    bad = api.get("/api/v1/payments/", {"state": "paid"})
    assert bad.status_code == 400 and "state" in bad.json()["error"]["fields"]
    balances = api.get("/api/v1/credit-balances/", {"customer": tree["C21"].pk}).json()
    assert balances["results"] == [
        {"customer": tree["C21"].pk, "seller": tree["R2"].pk, "currency": "USD", "balance": "7.50"}
    ]
    refunds = api.get("/api/v1/refunds/").json()["results"]
    assert [(r["amount"], r["state"], r["payment"]) for r in refunds] == [
        ("11.00", "pending", paid.pk)
    ]
    dunning = api.get("/api/v1/dunning/", {"stage": "retrying"}).json()["results"]
    assert [(d["invoice"], d["attempts"], d["next_retry_on"]) for d in dunning] == [
        (invoices["C12"].pk, 1, "2027-01-03")
    ]
    for name in ("C11", "C21", "PC1", "C12"):
        books_balance(tree[name])


def test_offline_payment_recorded_once_per_idempotency_key(world):
    tree, invoices = world.tree, world.invoices
    api = api_for(tree["R1.billing"])
    body = {"invoice": invoices["C11"].pk, "amount": "12.80", "source": "transfer",
            "reference": "BANK-77", "received_on": "2027-01-01"}  # fmt: skip
    first = api.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert (first.json()["amount"], first.json()["applied"], first.json()["reference"]) == (
        "12.80",
        "12.80",
        "BANK-77",
    )
    assert Payment.objects.filter(invoice=invoices["C11"]).count() == 2  # 20.00 and 12.80
    reused = api.post(
        "/api/v1/payments/", body | {"amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    books_balance(tree["C11"])


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Payment, BalanceEntry, IdempotencyRecord, Refund))


@pytest.mark.parametrize(
    ("caller", "target", "body", "status", "field"),
    [
        ("R2.billing", "C11", {}, 404, None),  # another seller's invoice: not visible
        ("C11.admin", "C11", {}, 403, None),  # the customer cannot record its own payment
        ("R1.billing", "C11", {"amount": "-5"}, 400, "amount"),
        ("R1.billing", "C11", {"amount": "1.005"}, 400, "amount"),
        ("R1.billing", "C11", {"amount": "abc"}, 400, "amount"),
        ("R1.billing", "C11", {"source": "card"}, 400, "source"),
        ("R1.billing", "C11", {"received_on": "2999-01-01"}, 400, "received_on"),
        ("R1.billing", "C11", {"invoice": 99999999}, 404, None),
    ],
)
def test_bad_offline_payments_are_refused_and_write_nothing(
    world, caller, target, body, status, field
):
    tree, invoices = world.tree, world.invoices
    before = (
        Payment.objects.count(),
        BalanceEntry.objects.count(),
        IdempotencyRecord.objects.count(),
    )
    request = {"invoice": invoices[target].pk, "amount": "10.00", "source": "transfer"} | body
    response = api_for(tree[caller]).post(
        "/api/v1/payments/", request, format="json", HTTP_IDEMPOTENCY_KEY="bad-1"
    )
    assert response.status_code == status, response.content
    if field:
        assert field in response.json()["error"]["fields"]
    after = (
        Payment.objects.count(),
        BalanceEntry.objects.count(),
        IdempotencyRecord.objects.count(),
    )
    assert after == before


def test_cards_are_handled_by_the_buyers_own_people_only(world):
    tree, cards = world.tree, world.cards
    second = saved_card(tree["C11"], default=False)
    assert not second.is_default
    # the seller's staff see the card but may not touch it; another customer gets a 404
    seller = api_for(tree["R1.billing"]).post(f"/api/v1/payment-methods/{second.pk}/default/")
    assert seller.status_code == 403
    other = api_for(tree["C21.admin"]).delete(f"/api/v1/payment-methods/{second.pk}/")
    assert other.status_code == 404
    assert PaymentMethod.objects.filter(buyer=tree["C11"], removed_at=None).count() == 2
    own = api_for(tree["C11.billing"])
    made = own.post(f"/api/v1/payment-methods/{second.pk}/default/")
    assert (made.status_code, made.json()["is_default"]) == (200, True)
    listed = own.get("/api/v1/payment-methods/").json()["results"]
    assert [(c["id"], c["is_default"]) for c in listed] == [
        (second.pk, True),
        (cards["C11"].pk, False),
    ]
    assert own.delete(f"/api/v1/payment-methods/{second.pk}/").status_code == 204
    listed = own.get("/api/v1/payment-methods/").json()["results"]
    assert [(c["id"], c["is_default"]) for c in listed] == [(cards["C11"].pk, True)]
    assert own.get(f"/api/v1/payment-methods/{second.pk}/").status_code == 404


def test_automatic_payment_is_turned_by_the_buyers_own_people_only(world):
    tree = world.tree
    own = api_for(tree["C11.billing"])
    listed = own.get("/api/v1/payment-accounts/").json()["results"]
    assert [(a["customer"], a["autopay"]) for a in listed] == [(tree["C11"].pk, False)]
    account = listed[0]
    assert account["default_card"] == world.cards["C11"].pk
    url = f"/api/v1/payment-accounts/{account['id']}/autopay/"
    # another customer: a 404 naming nothing; the seller's staff see it but may not turn it
    other = api_for(tree["C21.admin"]).post(url, {"enabled": True}, format="json")
    assert (other.status_code, other.json()["error"]["message"]) == (
        404,
        "No such payment account.",
    )
    seller = api_for(tree["R1.billing"])
    assert seller.get(f"/api/v1/payment-accounts/{account['id']}/").status_code == 200
    assert seller.post(url, {"enabled": True}, format="json").status_code == 403
    assert (
        api_for(tree["R2.billing"]).get(f"/api/v1/payment-accounts/{account['id']}/").status_code
        == 404
    )
    # bad input changes nothing
    for body in ({}, {"enabled": "maybe"}):
        bad = own.post(url, body, format="json")
        assert bad.status_code == 400, bad.content
    assert own.get(f"/api/v1/payment-accounts/{account['id']}/").json()["autopay"] is False
    made = own.post(url, {"enabled": True}, format="json")
    assert (made.status_code, made.json()["autopay"]) == (200, True)
    again = own.post(url, {"enabled": True}, format="json")
    assert (again.status_code, again.json()["autopay"]) == (200, True)
    assert AuditEvent.objects.filter(action="payments.autopay_on").count() == 1
    off = own.post(url, {"enabled": False}, format="json")
    assert (off.status_code, off.json()["autopay"]) == (200, False)


def test_automatic_payment_needs_a_card(world):
    tree = world.tree
    api = api_for(tree["C12.admin"])
    listed = api.get("/api/v1/payment-accounts/").json()["results"]
    assert [(a["customer"], a["default_card"]) for a in listed] == [(tree["C12"].pk, None)]
    url = f"/api/v1/payment-accounts/{listed[0]['id']}/autopay/"
    refused = api.post(url, {"enabled": True}, format="json")
    assert refused.status_code == 400
    assert "Save a card first" in str(refused.json())
    assert api.get(f"/api/v1/payment-accounts/{listed[0]['id']}/").json()["autopay"] is False
