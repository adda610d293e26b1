"""The browser driver in Chromium against the simulator: a customer's Box account is signed up,
its e-mail verified, the platform app authorised, the plan and seats changed and the account
cancelled, all as ordered jobs; the API then works with the platform app's credentials."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from portal.actors import system
from provisioning import engine, services
from provisioning.connector.base import SignupRequest, WebLogin
from provisioning.connector.browser_driver import BrowserDriver
from provisioning.models import JobLogEntry, JobState
from tests.browser import CHROMIUM_ARGS, CHROMIUM_PATH

SYSTEM = system("tests")

pytestmark = [pytest.mark.django_db, pytest.mark.browser, pytest.mark.slow]


def test_the_driver_launches_chromium_as_the_tests_do():
    assert django_settings.BOX_BROWSER_ARGS == CHROMIUM_ARGS
    assert django_settings.BOX_BROWSER_EXECUTABLE == CHROMIUM_PATH


def test_signup_verify_authorise_change_plan_and_seats_then_cancel(
    tree, platform_sim, sim_settings
):
    control = platform_sim.control
    admin_email = f"it-admin-{platform_sim.port}@fresh-customer.example.com"
    # given: a new account, opened as ordering will open it
    account = services.box_account_open(
        customer=tree["C12"],
        plan_code="business",
        seats=3,
        admin_email=admin_email,
        admin_name="Fresh Admin",
        actor=tree["P.admin"],
        reference="subscription browser-1",
    )
    # when: the four opening steps run
    engine.run_until_idle([account.pk], timeout=180)
    # then
    account.refresh_from_db()
    assert set(account.jobs.values_list("state", flat=True)) == {JobState.SUCCEEDED}
    assert account.status == "active"
    assert account.authorized_at is not None
    remote = control.enterprise(account.box_enterprise_id)
    assert remote["status"] == "active"
    assert remote["admin_login"] == admin_email
    assert remote["authorized_apps"] == [django_settings.BOX_PLATFORM_CLIENT_ID]
    assert (remote["plan"], remote["seats"], remote["name"]) == ("business", 3, "Customer C12")
    admin = account.users.get()
    assert (admin.login, admin.role, admin.status) == (admin_email, "admin", "active")
    assert len(control.mail(to=admin_email)) == 1

    # when: the plan, then the number of seats change, and a user is added through the API
    services.box_account_change_plan(actor=SYSTEM, account=account, plan_code="enterprise", seats=5)
    services.box_account_change_seats(actor=SYSTEM, account=account, seats=8)
    services.box_user_create(
        actor=SYSTEM,
        account=account,
        login=f"first-{platform_sim.port}@fresh-customer.example.com",
        name="First User",
        external_app_user_id="seat-1",
    )
    engine.run_until_idle([account.pk], timeout=180)
    # then
    remote = control.enterprise(account.box_enterprise_id)
    assert (remote["plan"], remote["seats"], remote["seats_used"]) == ("enterprise", 8, 2)
    account.refresh_from_db()
    assert (account.plan_code, account.seats) == ("enterprise", 8)

    # a sign-up tried again finds the account and makes no second one
    driver = BrowserDriver()
    again = driver.account_signup(
        SignupRequest(
            admin=WebLogin(account.admin_login, account.admin_password),
            admin_name="Fresh Admin",
            company="Customer C12",
            plan_code="business",
            seats=3,
        )
    )
    assert (again.already_signed_up, again.verified) == (True, True)
    assert len(control.mail(to=admin_email)) == 1

    # when: the account is cancelled
    services.box_account_cancel(actor=SYSTEM, account=account)
    engine.run_until_idle([account.pk], timeout=120)
    account.refresh_from_db()
    assert account.status == "cancelled"
    assert control.enterprise(account.box_enterprise_id)["status"] == "cancelled"
    assert set(account.jobs.values_list("state", flat=True)) == {JobState.SUCCEEDED}


def test_a_refused_page_fails_the_job_with_a_screenshot(tree, platform_sim, sim_settings):
    # given: an enterprise (made directly) whose step asks Box for an app that does not exist
    enterprise = platform_sim.control.create_enterprise(
        name="Refusal Test", plan="business", seats=3
    )
    account = services.box_account_link(
        customer=tree["C21"],
        box_enterprise_id=enterprise["enterprise_id"],
        plan_code="business",
        seats=3,
        admin_login=enterprise["admin_login"],
        admin_name="Admin",
        admin_password=enterprise["admin_password"],
        api_client_id="no-such-platform-app",
        api_client_secret="whatever-secret-1",
        actor=SYSTEM,
    )
    account.jobs.update(state=JobState.CANCELLED)  # no API step for this one
    job = services.job_enqueue(
        actor=SYSTEM,
        account=account,
        operation="account.authorize_app",
        payload={},
        idempotency_key=f"authorize-{account.pk}",
    )
    # when
    engine.run_until_idle([account.pk], timeout=120)
    # then
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.attempts == 1
    assert job.last_error == (
        "Box refused to authorise the platform app: No platform app was found with this client ID."
    )
    entry = JobLogEntry.objects.get(job=job, level="error")
    screenshot = Path(entry.data["screenshot"])
    assert screenshot.exists()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(django_settings.BOX_SCREENSHOT_DIR) in str(screenshot)
