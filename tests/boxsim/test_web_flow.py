"""Box's web pages walked in Chromium: sign up, verify the e-mail, log in, create and authorise
a platform app, use it through the SDK, change plan and seats, and cancel the account."""

import re

import pytest
from box_sdk_gen import BoxAPIError, BoxSDKError

from tests.boxsim.conftest import Api, login_for, new_account, sdk_client

pytestmark = pytest.mark.browser


def log_in(page, url: str, login: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Email address").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log In").click()


def test_sign_up_to_cancellation(boxsim, page, recorder):
    url = boxsim.url
    email = f"founder-{id(page)}@signup-flow.example.com"
    password = "Sunrise2024"

    # sign up
    page.goto(f"{url}/signup")
    page.get_by_label("Full name").fill("Fran Founder")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_label("Company name").fill("Founders Ltd")
    page.get_by_label("Plan").select_option("business")
    page.get_by_label("Number of users").fill("3")
    page.get_by_role("button", name="Sign up").click()
    assert page.get_by_role("alert").inner_text() == (
        "Your password must be at least 8 characters long."
    )
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert page.locator("#signup-email").inner_text() == email

    # no login before the address is verified
    log_in(page, url, email, password)
    assert "Verify your email address" in page.get_by_role("alert").inner_text()

    # the verification mail
    mails = boxsim.control.mail(to=email)
    assert [m["subject"] for m in mails] == ["Verify your email address for Box"]
    (link,) = mails[0]["links"]
    assert link.startswith(f"{url}/signup/verify?token=")
    assert link in mails[0]["body"]
    page.goto(link)
    page.get_by_role("heading", name="Email verified").wait_for()
    page.goto(link)
    page.get_by_role("heading", name="Link not valid").wait_for()

    # log in: the Admin Console
    log_in(page, url, email, "Wrong-password1")
    assert page.get_by_role("alert").inner_text() == "Invalid login credentials."
    log_in(page, url, email, password)
    page.get_by_role("heading", name="Admin Console").wait_for()
    enterprise_id = page.locator("#enterprise-id").inner_text()
    assert enterprise_id.isdigit()
    assert page.locator("#account-plan").get_attribute("data-plan") == "business"
    assert page.locator("#account-seats").inner_text() == "1 of 3 in use"
    state = boxsim.control.enterprise(enterprise_id)
    assert (state["name"], state["status"], state["plan"], state["seats"]) == (
        "Founders Ltd",
        "active",
        "business",
        3,
    )

    # create a platform app in the Developer Console
    page.get_by_role("link", name="Developer Console").click()
    page.get_by_label("App name").fill("Reseller Connector")
    page.get_by_role("button", name="Create Platform App").click()
    client_id = page.locator("#client-id").inner_text()
    client_secret = page.locator("#client-secret").inner_text()
    assert re.fullmatch(r"[a-z0-9]{32}", client_id)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", client_secret)

    # authorise it by client ID in the Platform Apps Manager
    page.get_by_role("link", name="Platform Apps").click()
    page.get_by_label("Client ID").fill("no-such-app")
    page.get_by_role("button", name="Next").click()
    assert page.get_by_role("alert").inner_text() == (
        "No platform app was found with this client ID."
    )
    page.get_by_label("Client ID").fill(client_id)
    page.get_by_role("button", name="Next").click()
    assert page.locator("#review-app-name").inner_text() == "Reseller Connector"
    page.get_by_role("button", name="Authorize").click()
    assert page.get_by_role("status").inner_text() == (
        "Reseller Connector has been authorized for this enterprise."
    )
    assert page.locator("#authorized-client-id").inner_text() == client_id
    assert page.locator("#authorized-enterprise-id").inner_text() == enterprise_id

    # the API driver's credentials work, within the 3 seats
    account = {
        "client_id": client_id,
        "client_secret": client_secret,
        "enterprise_id": enterprise_id,
    }
    client = sdk_client(boxsim, account, recorder)
    for name in ("one", "two"):
        client.users.create_user(name.title(), login=login_for(account, name))
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.create_user("Three", login=login_for(account, "three"))
    assert excinfo.value.response_info.body["code"] == "seat_limit_exceeded"

    # billing: plan and seats
    page.get_by_role("link", name="Billing").click()
    assert page.locator("#current-plan").get_attribute("data-plan") == "business"
    page.get_by_label("Plan").select_option("starter")
    page.get_by_label("Number of seats").fill("2")
    page.get_by_role("button", name="Update subscription").click()
    assert page.get_by_role("alert").inner_text() == (
        "3 users hold a seat; deactivate or delete users before going down to 2."
    )
    page.get_by_label("Plan").select_option("starter")
    page.get_by_label("Number of seats").fill("11")
    page.get_by_role("button", name="Update subscription").click()
    assert page.get_by_role("alert").inner_text() == (
        "The Business Starter plan takes 1 to 10 seats, not 11."
    )
    page.get_by_label("Plan").select_option("business_plus")
    page.get_by_label("Number of seats").fill("10")
    page.get_by_role("button", name="Update subscription").click()
    assert page.get_by_role("status").inner_text() == "Your subscription has been updated."
    assert page.locator("#current-plan").get_attribute("data-plan") == "business_plus"
    assert page.locator("#current-seats").inner_text() == "10"
    state = boxsim.control.enterprise(enterprise_id)
    assert (state["plan"], state["seats"], state["seats_used"]) == ("business_plus", 10, 3)
    third = client.users.create_user("Three", login=login_for(account, "three"))
    assert third.max_upload_size == 15 * 1024**3

    # cancel
    page.get_by_role("link", name="Cancel your Box account").click()
    page.get_by_role("button", name="Cancel account").click()
    assert "Tick the box" in page.get_by_role("alert").inner_text()
    page.get_by_label("I understand that cancelling closes this account").check()
    page.get_by_role("button", name="Cancel account").click()
    page.get_by_role("heading", name="Account cancelled").wait_for()
    assert boxsim.control.enterprise(enterprise_id)["status"] == "cancelled"
    with pytest.raises(BoxSDKError):
        client.users.get_users()  # the token is revoked, and no new one is granted
    token = Api(boxsim.url, recorder, account).token()
    assert (token.status_code, token.json()["error"]) == (400, "invalid_grant")
    log_in(page, url, email, password)
    assert page.get_by_role("alert").inner_text() == "This account has been cancelled."


def test_removing_an_app_revokes_its_access(boxsim, page, recorder):
    account = new_account(boxsim)
    api = Api(boxsim.url, recorder, account)
    assert api.get("/2.0/users/me").status_code == 200
    log_in(page, boxsim.url, account["admin_login"], account["admin_password"])
    page.get_by_role("link", name="Platform Apps").click()
    row = page.locator(f'tr[data-client-id="{account["client_id"]}"]')
    row.get_by_role("button", name="Remove").click()
    assert "has been removed" in page.get_by_role("status").inner_text()
    assert page.locator(f'tr[data-client-id="{account["client_id"]}"]').count() == 0
    assert api.get("/2.0/users/me").status_code == 401
    token = api.token()
    assert (token.status_code, token.json()["error"]) == (400, "unauthorized_client")
    assert boxsim.control.enterprise(account["enterprise_id"])["authorized_apps"] == []


def test_pages_need_a_login(boxsim, page):
    page.goto(f"{boxsim.url}/master/billing")
    assert page.url == f"{boxsim.url}/login?next=%2Fmaster%2Fbilling"
    account = new_account(boxsim, plan="starter", seats=4)
    page.get_by_label("Email address").fill(account["admin_login"])
    page.get_by_label("Password").fill(account["admin_password"])
    page.get_by_role("button", name="Log In").click()
    page.get_by_role("heading", name="Account & Billing").wait_for()
    assert page.locator("#current-seats").inner_text() == "4"
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in to Box").wait_for()
    page.goto(f"{boxsim.url}/master")
    assert page.url.startswith(f"{boxsim.url}/login")
