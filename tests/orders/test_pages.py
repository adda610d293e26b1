"""Ordering pages: storefront checkout, the customer portal, the seller console."""

import re
from datetime import date

import pytest
from django.core import mail

from orders.models import Order, SeatAssignment, Subscription
from portal.models import Organization, User
from tests.orders.conftest import run_jobs, subscribe

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="token" value="([A-Za-z0-9_-]+)"')


def issued_token(client, url: str, **extra) -> str:
    """The one-time token the page issued to this client's session."""
    return TOKEN.search(client.get(url, **extra).content.decode()).group(1)


def test_checkout_page_shows_the_estimate_then_registers_and_orders(
    tree, catalog, client, django_capture_on_commit_callbacks
):
    offer = catalog["R1.business"]
    url = f"/offers/{offer.pk}/order/"
    page = client.get(url + "?seats=5&term=monthly", HTTP_HOST="r1.test")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="estimate-total"' in body and "88.00" in body  # 5 x 16.00 + 10 %
    token = TOKEN.search(body).group(1)
    form = {
        "seats": 5,
        "term": "monthly",
        "code": "",
        "token": token,
        "action": "order",
        "company_name": "Kite Studio",
        "full_name": "Kim Kite",
        "email": "kim@kite.test",
        "password": "a-sturdy-passphrase-42",
    }
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, form, HTTP_HOST="r1.test")
    assert done.status_code == 302 and done["Location"] == "/checkout/sent/"
    order = Order.objects.get()
    assert (order.state, order.customer.name, order.customer.parent) == (
        "submitted",
        "Kite Studio",
        tree["R1"],
    )
    assert len(mail.outbox) == 1 and "confirm-email" in mail.outbox[0].body
    sent = client.get("/checkout/sent/", HTTP_HOST="r1.test").content.decode()
    assert order.number in sent and "kim@kite.test" in sent
    # the same form posted again (a double click) changes nothing
    again = client.post(url, form, HTTP_HOST="r1.test")
    assert again.status_code == 302
    assert (Order.objects.count(), User.objects.filter(email="kim@kite.test").count()) == (1, 1)


def test_checkout_errors_are_shown_and_nothing_is_written(tree, catalog, client):
    url = f"/offers/{catalog['R1.business'].pk}/order/"
    before = (Organization.objects.count(), Order.objects.count(), User.objects.count())
    t1 = issued_token(client, url, HTTP_HOST="r1.test")
    t2 = issued_token(client, url, HTTP_HOST="r1.test")
    body = client.post(
        url,
        {
            "seats": 1,
            "term": "monthly",
            "token": t1,
            "action": "order",
            "company_name": "",
            "full_name": "K",
            "email": "bad",
            "password": "x",
        },
        HTTP_HOST="r1.test",
    ).content.decode()
    assert "This field is required." in body  # company name
    assert "Enter a valid email address." in body
    assert "Business needs at least 3 seat(s)." in body
    taken = client.post(
        url,
        {
            "seats": 3,
            "term": "monthly",
            "token": t2,
            "action": "order",
            "company_name": "Dup",
            "full_name": "Dup",
            "email": "c11.admin@example.test",
            "password": "a-sturdy-passphrase-42",
        },
        HTTP_HOST="r1.test",
    )
    assert "A user is already registered with this email address" in taken.content.decode()
    assert (Organization.objects.count(), Order.objects.count(), User.objects.count()) == before


def test_another_sellers_offer_is_not_sold_on_this_host(tree, catalog, client):
    assert (
        client.get(f"/offers/{catalog['R2.business'].pk}/order/", HTTP_HOST="r1.test").status_code
        == 404
    )


def test_a_signed_in_customer_orders_from_the_portal(tree, catalog, client, fake):
    client.force_login(tree["C11.admin"])
    offer = catalog["R1.business"]
    url = f"/portal/{tree['C11'].pk}/orders/new/?offer={offer.pk}&seats=3"
    body = client.get(url).content.decode()
    assert "52.80" in body  # 3 x 16.00 + 10 %
    token = TOKEN.search(body).group(1)
    done = client.post(
        f"/portal/{tree['C11'].pk}/orders/new/",
        {
            "offer": offer.pk,
            "seats": 3,
            "term": "monthly",
            "code": "",
            "token": token,
            "action": "order",
        },
    )
    order = Order.objects.get()
    assert done["Location"] == f"/portal/{tree['C11'].pk}/orders/{order.pk}/"
    assert order.state == "provisioning"
    page = client.get(done["Location"]).content.decode()
    assert "Setting it up at Box" in page and "Open your Box account" in page
    assert "account.signup" not in page
    run_jobs(fake)
    page = client.get(done["Location"]).content.decode()
    assert 'data-testid="order-state">Completed<' in page


def test_staff_order_for_a_customer_from_the_console(tree, catalog, client):
    client.force_login(tree["R1.sales"])
    base = f"/console/{tree['R1'].pk}/orders/new/"
    step = client.get(base + f"?customer={tree['C12'].pk}").content.decode()
    token = TOKEN.search(step).group(1)
    assert "Reseller R1" in step and "Customer C12" in step
    assert "Customer C21" not in step  # another reseller's customer is not offered
    done = client.post(
        base,
        {
            "customer": tree["C12"].pk,
            "offer": catalog["R1.business"].pk,
            "seats": 4,
            "term": "monthly",
            "code": "",
            "note": "By phone",
            "token": token,
            "action": "order",
        },
    )
    order = Order.objects.get()
    assert done["Location"] == f"/console/{tree['R1'].pk}/orders/{order.pk}/"
    assert (order.customer, order.placed_as, order.note) == (
        tree["C12"],
        "reseller_sales",
        "By phone",
    )
    detail = client.get(done["Location"]).content.decode()
    assert "Reseller sales person, Reseller R1" in detail


def test_subscription_page_assigns_seats_and_shows_errors(tree, catalog, client, fake):
    sub = subscribe(tree, catalog, fake, customer="PC1", quantity=3, day=date(2027, 1, 1))
    client.force_login(tree["PC1.admin"])
    url = f"/portal/{tree['PC1'].pk}/subscriptions/{sub.pk}/"
    done = client.post(
        url,
        {
            "action": "assign",
            "email": "ana@pc1.test",
            "name": "Ana",
            "quota_gb": "",
            "role": "user",
        },
    )
    assert done.status_code == 302
    assert SeatAssignment.objects.get().email == "ana@pc1.test"
    bad = client.post(
        url, {"action": "assign", "email": "ana@pc1.test", "name": "Ana", "role": "user"}
    )
    assert "ana@pc1.test already has a seat." in bad.content.decode()
    change = client.post(
        url, {"action": "change", "plan": sub.plan.pk, "quantity": 2, "term": "monthly"}
    )
    assert "Business is for 3+ users; 2 is outside that." in change.content.decode()
    page = client.get(url).content.decode()
    assert 'data-testid="seats-used">1 / 3<' in page


def test_csv_import_page_reports_rows(tree, catalog, client, fake):
    from django.core.files.uploadedfile import SimpleUploadedFile

    sub = subscribe(tree, catalog, fake, customer="PC1", quantity=3)
    client.force_login(tree["PC1.admin"])
    upload = SimpleUploadedFile(
        "seats.csv", b"email,name\nz@pc1.test,Zed\nbad,Bad\n", content_type="text/csv"
    )
    url = f"/portal/{tree['PC1'].pk}/subscriptions/{sub.pk}/"
    preview = client.post(url, {"action": "import", "file": upload}).content.decode()
    # first the preview: who would get a seat, nothing assigned yet
    assert 'data-testid="preview-rows"' in preview and "Enter a valid e-mail address." in preview
    assert "Assign 1 seat<" in preview
    assert SeatAssignment.objects.filter(subscription=sub).count() == 0
    confirm = {
        "action": "confirm_import",
        "csv": re.search(r"<textarea name=\"csv\" hidden>(.*?)</textarea>", preview, re.S).group(1),
        "fingerprint": re.search(r'name="fingerprint" value="(\w+)"', preview).group(1),
        "token": TOKEN.search(preview).group(1),
    }
    done = client.post(url, confirm)
    assert (done.status_code, done["Location"]) == (302, url)
    body = client.get(url).content.decode()
    assert 'data-testid="import-report"' in body
    assert "Enter a valid e-mail address." in body
    assert SeatAssignment.objects.filter(subscription=sub).count() == 1
    # reloading the page does not repeat the import, and the report was shown once
    assert 'data-testid="import-report"' not in client.get(url).content.decode()
    assert SeatAssignment.objects.filter(subscription=sub).count() == 1


def test_console_lists_and_policy(tree, catalog, client, fake):
    subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=3)
    client.force_login(tree["R1.admin"])
    orders = client.get(f"/console/{tree['R1'].pk}/orders/").content.decode()
    subs = client.get(f"/console/{tree['R1'].pk}/subscriptions/").content.decode()
    assert "Customer C11" in orders and "Customer C11" in subs
    client.post(f"/console/{tree['R1'].pk}/orders/settings/", {"approve_orders": "on"})
    tree["R1"].refresh_from_db()
    assert tree["R1"].order_policy.approve_orders is True
    client.force_login(tree["R2.admin"])
    other = client.get(f"/console/{tree['R2'].pk}/subscriptions/").content.decode()
    assert "Customer C11" not in other
    assert Subscription.objects.count() == 1
