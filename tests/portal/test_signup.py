"""Sign-up on a storefront: the visitor becomes a customer of the host's seller."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from portal.models import Membership, Organization, User

pytestmark = pytest.mark.django_db

FORM = {
    "company_name": "Kite Studio",
    "full_name": "Kim Kite",
    "email": "kim@kite.test",
    "password1": "a-sturdy-passphrase-42",
}


def counts():
    return Organization.objects.count(), User.objects.count(), Membership.objects.count()


def test_signup_on_a_reseller_host_creates_its_customer(
    tree, client, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/signup/", FORM, HTTP_HOST="r2.test")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    customer = Organization.objects.get(name="Kite Studio")
    assert (customer.kind, customer.parent) == ("customer", tree["R2"])
    user = User.objects.get(email="kim@kite.test")
    assert user.full_name == "Kim Kite"
    assert Membership.objects.get(user=user).organization == customer
    # and the verification e-mail comes from the reseller's brand, with a link on its host
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject.startswith("[Reseller R2]")
    assert "Reseller R2" in message.from_email
    link = re.search(r"http://r2\.test/accounts/confirm-email/[^\s]+", message.body).group(0)
    # when the link is followed, the address is verified and the person is signed in
    confirmed = client.get(link.replace("http://r2.test", ""), HTTP_HOST="r2.test")
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(email="kim@kite.test").verified is True
    landing = client.get("/dashboard/", HTTP_HOST="r2.test", follow=True)
    assert landing.redirect_chain[-1][0] == f"/portal/{customer.pk}/"
    assert 'data-brand="Reseller R2"' in landing.content.decode()


def test_unverified_people_cannot_sign_in(tree, client):
    client.post("/accounts/signup/", FORM, HTTP_HOST="r2.test")
    client.logout()
    response = client.post(
        "/accounts/login/",
        {"login": FORM["email"], "password": FORM["password1"]},
        HTTP_HOST="r2.test",
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session


def test_signup_on_an_unknown_host_lands_under_the_provider(tree, client):
    client.post("/accounts/signup/", FORM, HTTP_HOST="unclaimed.localhost")
    assert Organization.objects.get(name="Kite Studio").parent == tree["P"]


def test_duplicate_email_is_refused_with_a_clear_message(tree, client):
    before = counts()
    response = client.post(
        "/accounts/signup/", {**FORM, "email": "C11.Admin@example.test"}, HTTP_HOST="r1.test"
    )
    assert response.status_code == 200
    assert "A user is already registered with this email address." in response.content.decode()
    assert counts() == before
    assert len(mail.outbox) == 0


def test_weak_password_is_refused(tree, client):
    before = counts()
    response = client.post(
        "/accounts/signup/", {**FORM, "password1": "password"}, HTTP_HOST="r1.test"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "This password is too short. It must contain at least 10 characters." in body
    assert "This password is too common." in body
    assert counts() == before


def test_missing_company_name_is_refused(tree, client):
    before = counts()
    response = client.post("/accounts/signup/", {**FORM, "company_name": ""}, HTTP_HOST="r1.test")
    assert "This field is required." in response.content.decode()
    assert counts() == before


def test_signup_is_closed_on_a_suspended_sellers_host(tree, client):
    Organization.objects.filter(pk=tree["R1"].pk).update(status="suspended")
    before = counts()
    response = client.post("/accounts/signup/", FORM, HTTP_HOST="r1.test")
    assert response.status_code == 200
    assert "Sign Up Closed" in response.content.decode()
    assert counts() == before


def test_login_is_throttled_after_repeated_failures(tree, client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip,3/5m/key"}
    for _ in range(3):
        client.post(
            "/accounts/login/", {"login": "c11.admin@example.test", "password": "wrong-password"}
        )
    response = client.post(
        "/accounts/login/",
        {"login": "c11.admin@example.test", "password": "correct-horse-battery-9"},
    )
    assert response.status_code == 200
    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_branded_link(tree, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/accounts/password/reset/", {"email": "c21.admin@example.test"}, HTTP_HOST="r2.test"
        )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["c21.admin@example.test"]
    assert "http://r2.test/accounts/password/reset/key/" in mail.outbox[0].body
