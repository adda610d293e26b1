"""The verification e-mail of a storefront sign-up names the seller's brand and the order, and
its link lands the person on their order, and on nothing of anyone else's."""

import re

import pytest
from django.core import mail
from django.test import Client

from orders.models import Order

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://r1\.test(/accounts/confirm-email/[^/\s]+/)")


def sign_up_and_order(client, catalog, django_capture_on_commit_callbacks):
    url = f"/offers/{catalog['R1.business'].pk}/order/"
    token = re.search(
        r'name="token" value="([\w-]+)"', client.get(url, HTTP_HOST="r1.test").content.decode()
    ).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url,
            {
                "seats": 5,
                "term": "monthly",
                "code": "",
                "token": token,
                "action": "order",
                "company_name": "Kite Studio",
                "full_name": "Kim Kite",
                "email": "kim@kite.test",
                "password": "a-sturdy-passphrase-42",
            },
            HTTP_HOST="r1.test",
        )
    assert done.status_code == 302
    return Order.objects.get(customer__name="Kite Studio")


def test_the_email_names_the_brand_and_the_order(
    tree, catalog, client, django_capture_on_commit_callbacks
):
    order = sign_up_and_order(client, catalog, django_capture_on_commit_callbacks)
    [message] = mail.outbox
    assert message.to == ["kim@kite.test"]
    assert message.subject == (
        f"[Reseller R1] Confirm your e-mail address to start order {order.number}"
    )
    body = message.body
    assert body.startswith("Hello from Reseller R1,")
    assert (
        f"Thank you for your order {order.number} with Reseller R1: "
        f"{order.offer.display_name}, 5 seats, monthly billing, 88.00 USD on the first invoice."
    ) in body
    assert "It works for you only and for 3 days." in body
    assert "account.signup" not in body and "{{" not in body


def test_the_link_lands_on_the_order_in_the_same_browser(
    tree, catalog, client, django_capture_on_commit_callbacks
):
    order = sign_up_and_order(client, catalog, django_capture_on_commit_callbacks)
    link = LINK.search(mail.outbox[0].body).group(1)
    landed = client.get(link, HTTP_HOST="r1.test", follow=True)
    order_url = f"/portal/{order.customer_id}/orders/{order.pk}/"
    assert landed.redirect_chain[-1][0] == order_url
    assert landed.status_code == 200 and order.number in landed.content.decode()


def test_in_another_browser_the_link_asks_that_person_to_sign_in_first(
    tree, catalog, client, django_capture_on_commit_callbacks
):
    order = sign_up_and_order(client, catalog, django_capture_on_commit_callbacks)
    link = LINK.search(mail.outbox[0].body).group(1)
    order_url = f"/portal/{order.customer_id}/orders/{order.pk}/"
    elsewhere = Client()
    first = elsewhere.get(link, HTTP_HOST="r1.test")
    assert (first.status_code, first["Location"]) == (302, order_url)
    gate = elsewhere.get(order_url, HTTP_HOST="r1.test")
    assert gate.status_code == 302 and gate["Location"].startswith("/accounts/login/?next=")
    # someone else signed in who follows the link sees nothing of the order
    stranger = Client()
    stranger.force_login(tree["C11.admin"])
    stranger.get(link, HTTP_HOST="r1.test")
    hidden = stranger.get(order_url, HTTP_HOST="r1.test")
    assert hidden.status_code == 404 and order.number not in hidden.content.decode()
    # the person themselves, signed in, is on their order
    elsewhere.post(
        "/accounts/login/",
        {"login": "kim@kite.test", "password": "a-sturdy-passphrase-42"},
        HTTP_HOST="r1.test",
    )
    assert order.number in elsewhere.get(order_url, HTTP_HOST="r1.test").content.decode()
