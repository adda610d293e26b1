"""Live status: a page with work under way polls ``?fragment=status`` of itself, the fragment
answers with the status block only (through the same access checks as the page), and the
first answer after the work is done carries no polling, so the polling stops."""

from __future__ import annotations

from datetime import date

import pytest

from orders import services as orders
from orders.models import OrderState
from portal import clock
from tests.orders.conftest import run_jobs, subscribe

pytestmark = pytest.mark.django_db

POLL = 'hx-trigger="every 2s'


def test_an_order_being_set_up_follows_its_steps_and_stops_when_done(tree, catalog, client, fake):
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    assert order.state == OrderState.PROVISIONING
    url = f"/portal/{tree['C11'].pk}/orders/{order.pk}/"
    client.force_login(tree["C11.admin"])

    page = client.get(url).content.decode()
    assert page.count('data-live="on"') == 1 and page.count(POLL) == 1
    assert f'hx-get="{url}?fragment=status"' in page
    assert '<script src="/static/vendor/htmx/htmx.min.js" defer></script>' in page

    block = client.get(url + "?fragment=status")
    body = block.content.decode()
    assert block.status_code == 200 and "no-cache" in block["Cache-Control"]
    assert body.lstrip().startswith('<div id="order-status"') and "<html" not in body
    assert "Open your Box account" in body and "account.signup" not in body
    assert 'data-live="on"' in body and "Done: everything" not in body

    run_jobs(fake)
    body = client.get(url + "?fragment=status").content.decode()
    assert 'data-live="off"' in body and POLL not in body
    assert "Done: everything is set up at Box." in body
    assert 'id="order-state" class="badge completed" data-testid="order-state" ' in body
    assert 'hx-swap-oob="true">Completed</span>' in body
    # the page itself no longer polls
    assert POLL not in client.get(url).content.decode()


def test_another_customer_cannot_poll_an_order(tree, catalog, client, fake):
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    for user, org in (("C21.admin", "C21"), ("C12.admin", "C12"), ("C21.admin", "C11")):
        client.force_login(tree[user])
        answer = client.get(f"/portal/{tree[org].pk}/orders/{order.pk}/?fragment=status")
        assert answer.status_code == 404
        assert order.number not in answer.content.decode()


def test_seats_being_created_update_by_themselves(tree, catalog, client, fake):
    sub = subscribe(tree, catalog, fake, customer="PC1", offer="P.business", quantity=3)
    url = f"/portal/{tree['PC1'].pk}/subscriptions/{sub.pk}/"
    client.force_login(tree["PC1.admin"])
    assert POLL not in client.get(url).content.decode()  # nothing under way

    orders.seat_assign(actor=tree["PC1.admin"], subscription=sub, email="ana@pc1.test", name="Ana")
    page = client.get(url).content.decode()
    assert page.count(POLL) == 1 and f'hx-get="{url}?fragment=status"' in page
    body = client.get(url + "?fragment=status").content.decode()
    assert body.lstrip().startswith('<div id="seats-status"') and "<html" not in body
    assert 'data-seat="ana@pc1.test"' in body and ">Being created</span>" in body
    assert 'data-testid="seats-used" hx-swap-oob="true">1 / 3</div>' in body

    run_jobs(fake)
    body = client.get(url + "?fragment=status").content.decode()
    assert 'data-live="off"' in body and POLL not in body
    assert ">Active</span>" in body and ">Being created</span>" not in body
    # another customer gets nothing
    client.force_login(tree["PC2.admin"])
    assert client.get(url + "?fragment=status").status_code == 404


def test_an_order_whose_payment_is_being_confirmed_follows_it(tree, catalog, client, fake):
    from payments.models import Payment
    from payments.services.accounts import invoice_terms_set
    from tests.factories import SYSTEM

    invoice_terms_set(actor=SYSTEM, buyer=tree["PC2"], days=None)  # pays by card first
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["PC2.admin"],
        customer=tree["PC2"],
        offer=catalog["P.starter"],
        quantity=2,
        term="monthly",
        submit=True,
    )
    assert order.state == OrderState.AWAITING_PAYMENT
    url = f"/portal/{tree['PC2'].pk}/orders/{order.pk}/"
    client.force_login(tree["PC2.admin"])
    assert POLL not in client.get(url).content.decode()  # waiting for the person: no polling

    payment = Payment.objects.create(
        invoice=order.first_invoice,
        buyer=tree["PC2"],
        seller=tree["P"],
        source="card",
        trigger="checkout",
        state="processing",
        currency="USD",
        amount=order.first_invoice.total,
    )
    body = client.get(url + "?fragment=status").content.decode()
    assert 'data-live="on"' in body and "Your payment is being confirmed" in body
    Payment.objects.filter(pk=payment.pk).update(state="failed")
    body = client.get(url + "?fragment=status").content.decode()
    assert 'data-live="off"' in body and "being confirmed" not in body
