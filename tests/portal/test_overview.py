"""The customer's overview: seats used of bought, storage used of included, the next invoice,
the balance due and the alerts, each linking to where it is handled; queries constant in the
number of seats; nothing of another customer's."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice
from orders import services as orders
from orders.models import SeatAssignment
from payments.models import Payment
from portal import clock
from portal.overview import customer_overview
from provisioning.models import BoxUser
from tests.orders.conftest import run_jobs, subscribe

pytestmark = pytest.mark.django_db

GIB = 1024**3
JAN_1 = date(2027, 1, 1)


def seats(sub, actor, count: int, *, start: int = 0) -> None:
    for n in range(start, start + count):
        orders.seat_assign(
            actor=actor, subscription=sub, email=f"person{n}@pc1.test", name=f"Person {n}"
        )


def alerts_of(body: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip()
        for item in re.findall(r'<li class="[a-z]+" data-testid="alert">(.*?)</li>', body, re.S)
    ]


def test_the_overview_shows_where_the_customer_stands(tree, catalog, client, fake):
    # given: PC1 on Starter (100 GB pooled) with 4 seats bought, 2 given and set up at Box,
    # 30 GB stored; its first invoice (14-day terms) unpaid
    sub = subscribe(tree, catalog, fake, customer="PC1", offer="P.starter", quantity=4, day=JAN_1)
    seats(sub, tree["PC1.admin"], 2)
    run_jobs(fake)
    BoxUser.objects.filter(account=sub.box_account, login="person0@pc1.test").update(
        space_used=30 * GIB
    )
    first = Invoice.objects.get(buyer=tree["PC1"], source="order")
    clock.set_today(date(2027, 1, 10))

    client.force_login(tree["PC1.admin"])
    body = client.get(f"/portal/{tree['PC1'].pk}/").content.decode()

    standing = customer_overview(tree["PC1"], user=tree["PC1.admin"])
    assert [(s.seats_used, s.seats_bought) for s in standing.subscriptions] == [(2, 4)]
    assert standing.subscriptions[0].storage_used == 30 * GIB
    assert standing.subscriptions[0].storage_included == 100 * GIB
    assert 'data-testid="seats-of">2 of 4 used<' in body
    assert 'data-testid="storage-of">30.0\xa0GB of 100.0\xa0GB<' in body
    assert 'aria-valuenow="30"' in body and "--p: 30" in body
    # the next invoice is the renewal on 1 February: 4 x 5.00 + 10 % tax
    assert standing.next_invoice.billing_day == date(2027, 2, 1)
    assert standing.next_invoice.total == Decimal("22.00")
    assert "22.00 USD" in body and "Next invoice, 1 Feb 2027" in body
    # the balance due is the unpaid first invoice, due on its 14th day
    assert [(b.amount, b.due_on, b.overdue) for b in standing.balances] == [
        (first.total, date(2027, 1, 15), False)
    ]
    assert f"{first.total:,.2f} USD" in body and "Balance due by 15 Jan 2027 · 1 invoice" in body
    assert alerts_of(body) == []
    # a failed card payment says what is still due and leads to the invoice
    Payment.objects.create(
        invoice=first,
        buyer=tree["PC1"],
        seller=tree["P"],
        source="card",
        trigger="pay_now",
        state="failed",
        currency="USD",
        amount=first.total,
    )
    body = client.get(f"/portal/{tree['PC1'].pk}/").content.decode()
    assert alerts_of(body) == [
        f"The payment of invoice {first.number} failed; {first.total:,.2f} USD is still due. "
        "Pay the invoice"
    ]
    assert f'href="/portal/{tree["PC1"].pk}/invoices/{first.pk}/">Pay the invoice<' in body
    # after its due day, it is overdue and says so first
    clock.set_today(date(2027, 1, 20))
    body = client.get(f"/portal/{tree['PC1'].pk}/").content.decode()
    assert alerts_of(body)[0] == f"{first.total:,.2f} USD was due on 15 Jan 2027. See the invoices"
    assert "Overdue since 15 Jan 2027" in body


def test_alerts_link_to_where_each_is_handled(tree, catalog, client, fake):
    # given: a trial ending in 5 days, a seat still being set up, a scheduled change, and a
    # failed payment of the first invoice
    sub = subscribe(tree, catalog, fake, customer="PC1", offer="P.business", quantity=5, trial=True)
    clock.set_today(date(2027, 1, 10))
    seats(sub, tree["PC1.admin"], 1)  # its Box user is not created yet (no jobs run)
    orders.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=4)
    client.force_login(tree["PC1.admin"])
    body = client.get(f"/portal/{tree['PC1'].pk}/").content.decode()
    sub_url = f"/portal/{tree['PC1'].pk}/subscriptions/{sub.pk}/"
    found = alerts_of(body)
    assert len(found) == 3
    assert f'href="{sub_url}">See the seats<' in body
    assert "1 seat is still being set up at Box (Business). See the seats" in found
    assert "Scheduled for 15 Jan 2027: 5 → 4 seats (Business). See the change" in found
    assert (
        "Your Business trial ends in 5 days (15 Jan 2027); the first paid period starts "
        "then. Review the subscription"
    ) in found
    # while the seat is being set up, the overview follows it by itself
    assert 'data-live="on"' in body and 'hx-get="/portal/' in body
    block = client.get(f"/portal/{tree['PC1'].pk}/?fragment=status").content.decode()
    assert block.lstrip().startswith('<div id="overview"') and "<html" not in block
    assert alerts_of(block) == found


def test_a_member_sees_no_money_and_another_customer_sees_nothing(tree, catalog, client, fake):
    subscribe(tree, catalog, fake, customer="PC1", offer="P.starter", quantity=2, day=JAN_1)
    client.force_login(tree["PC1.member"])
    body = client.get(f"/portal/{tree['PC1'].pk}/").content.decode()
    assert 'data-testid="standing"' in body
    assert 'data-testid="next-invoice"' not in body and 'data-testid="balance-due"' not in body
    for user in ("PC2.admin", "C11.admin"):
        client.force_login(tree[user])
        for suffix in ("", "?fragment=status"):
            missing = client.get(f"/portal/{tree['PC1'].pk}/{suffix}")
            assert missing.status_code == 404
            assert "Direct One" not in missing.content.decode()


# The overview's queries for a customer with one subscription, whatever its number of seats:
# the session, the console and its navigation, then the overview's own (subscriptions with
# their seats and storage, scheduled changes, orders under way, payable invoices, and the
# upcoming invoice's gathering).
QUERIES = 22


@pytest.mark.parametrize("bought", [2, 10])
def test_overview_queries_do_not_grow_with_seats(
    tree, catalog, client, fake, bought, django_assert_num_queries
):
    sub = subscribe(tree, catalog, fake, customer="PC1", offer="P.starter", quantity=bought)
    seats(sub, tree["PC1.admin"], bought - 1)
    run_jobs(fake)
    assert SeatAssignment.objects.filter(subscription=sub).count() == bought - 1
    client.force_login(tree["PC1.admin"])
    url = f"/portal/{tree['PC1'].pk}/"
    client.get(url)  # the session and caches warm up
    with django_assert_num_queries(QUERIES):
        assert client.get(url).status_code == 200
