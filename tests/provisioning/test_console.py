"""The console pages and the REST API of the engine: what provider staff see and do, what
reseller staff see (read-only), the operator actions through pages and API with their audit
rows, and credentials absent from every page, answer, step log and log line."""

import logging

import pytest
from django.db import connection
from rest_framework.test import APIClient

from portal.actors import system
from portal.models import AuditEvent
from provisioning import engine, services
from provisioning.connector.base import PermanentError
from provisioning.models import BoxAccount, JobState
from tests.provisioning.fakes import FakeConnector

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db

ADMIN_PASSWORD = "Very-Secret-Admin-Password-77"
CLIENT_SECRET = "Very-Secret-Client-Secret-88"


@pytest.fixture
def world(tree, settings):
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.01
    fake = FakeConnector()
    account = services.box_account_link(
        customer=tree["C11"],
        box_enterprise_id="62000001",
        plan_code="business",
        seats=10,
        admin_login="admin@c11.example.com",
        admin_name="C11 Admin",
        admin_password=ADMIN_PASSWORD,
        api_client_id="c11-own-app",
        api_client_secret=CLIENT_SECRET,
        actor=SYSTEM,
    )
    for i in range(3):
        services.box_user_create(
            actor=SYSTEM,
            account=account,
            login=f"p{i}@c11.example.com",
            name=f"Person {i}",
            external_app_user_id=f"seat-{i}",
        )
    fake.fail(
        "user.create:p1@c11.example.com",
        PermanentError(f"Box refused: token {CLIENT_SECRET} and password {ADMIN_PASSWORD}"),
    )
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    failed = account.jobs.get(state=JobState.FAILED)
    return {"account": account, "failed": failed, "fake": fake, "tree": tree}


def test_provider_staff_see_the_queue_with_filters(world, client):
    tree, failed = world["tree"], world["failed"]
    client.force_login(tree["P.admin"])
    base = f"/console/{tree['P'].pk}/provisioning/jobs/"
    page = client.get(base).content.decode()
    assert f'data-job="{failed.pk}"' in page
    assert 'data-testid="count-failed"><div class="value">1<' in page
    assert 'data-testid="count-blocked"><div class="value">1<' in page
    only_failed = client.get(base, {"state": "failed"}).content.decode()
    assert only_failed.count("data-job=") == 1
    blocked = client.get(base, {"state": "blocked"}).content.decode()
    assert blocked.count("data-job=") == 1
    assert "blocked by <a" in blocked
    by_op = client.get(base, {"operation": "account.link_admin"}).content.decode()
    assert by_op.count("data-job=") == 1
    by_customer = client.get(base, {"customer": tree["C12"].pk}).content.decode()
    assert by_customer.count("data-job=") == 0


def test_the_job_page_shows_the_log_and_retries(world, client):
    tree, failed = world["tree"], world["failed"]
    client.force_login(tree["P.admin"])
    url = f"/console/{tree['P'].pk}/provisioning/jobs/{failed.pk}/"
    page = client.get(url).content.decode()
    assert "This job failed and holds the jobs after it." in page
    assert "Attempt 1 started." in page
    assert 'value="retry"' in page and 'value="skip"' in page and 'value="cancel"' in page
    response = client.post(url, {"action": "retry"})
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == JobState.PENDING
    assert AuditEvent.objects.filter(action="provisioning.job_retried").count() == 1


def test_reseller_staff_see_their_customers_read_only(world, client):
    tree, failed = world["tree"], world["failed"]
    client.force_login(tree["R1.admin"])
    url = f"/console/{tree['R1'].pk}/provisioning/jobs/{failed.pk}/"
    page = client.get(url).content.decode()
    assert "Attempt 1 started." in page
    assert 'value="retry"' not in page
    client.post(url, {"action": "cancel"}, follow=True)
    failed.refresh_from_db()
    assert failed.state == JobState.FAILED
    assert not AuditEvent.objects.filter(
        actor__isnull=False, action__startswith="provisioning.job_"
    ).exists()
    account_page = client.get(
        f"/console/{tree['R1'].pk}/provisioning/accounts/{world['account'].pk}/"
    ).content.decode()
    assert "p0@c11.example.com" in account_page
    assert "Reconcile now" not in account_page


def test_the_account_page_shows_users_and_drift(world, client):
    tree, account = world["tree"], world["account"]
    client.force_login(tree["P.admin"])
    page = client.get(f"/console/{tree['P'].pk}/provisioning/accounts/{account.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    for login in ("admin@c11.example.com", "p0@c11.example.com", "p1@c11.example.com"):
        assert login in text
    assert "Not reconciled yet." in text
    listing = client.get(f"/console/{tree['P'].pk}/provisioning/accounts/").content.decode()
    assert f"#{account.pk}" in listing


def test_the_api_lists_filters_and_acts(world):
    tree, failed = world["tree"], world["failed"]
    api = APIClient()
    api.force_authenticate(tree["P.admin"])
    listing = api.get("/api/v1/provisioning/jobs/", {"state": "failed"}).json()
    assert [job["id"] for job in listing["results"]] == [failed.pk]
    blocked = api.get("/api/v1/provisioning/jobs/", {"state": "blocked"}).json()["results"]
    assert [job["blocked_by"] for job in blocked] == [failed.pk]
    detail = api.get(f"/api/v1/provisioning/jobs/{failed.pk}/").json()
    assert detail["state"] == "failed"
    assert detail["log"][0]["message"] == "Attempt 1 started."
    reseller = APIClient()
    reseller.force_authenticate(tree["R1.admin"])
    refused = reseller.post(f"/api/v1/provisioning/jobs/{failed.pk}/skip/")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    done = api.post(f"/api/v1/provisioning/jobs/{failed.pk}/skip/")
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["skipped"]) == ("succeeded", True)
    again = api.post(f"/api/v1/provisioning/jobs/{failed.pk}/skip/")
    assert again.status_code == 409
    account = api.get(f"/api/v1/provisioning/accounts/{world['account'].pk}/").json()
    assert (account["user_count"], account["drift"]) == (4, [])
    users = api.get(f"/api/v1/provisioning/accounts/{world['account'].pk}/users/").json()
    assert users["count"] == 4


def test_credentials_appear_nowhere(world, client, caplog):
    tree, account, failed = world["tree"], world["account"], world["failed"]
    # stored encrypted
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT admin_password, api_client_secret FROM provisioning_boxaccount WHERE id = %s",
            [account.pk],
        )
        raw = cursor.fetchone()
    assert ADMIN_PASSWORD not in raw[0] and CLIENT_SECRET not in raw[1]
    assert BoxAccount.objects.get(pk=account.pk).admin_password == ADMIN_PASSWORD
    # scrubbed from the step log and the job's error, even when a driver quoted them
    assert failed.last_error == "Box refused: token [hidden] and password [hidden]"
    # absent from pages and API answers
    client.force_login(tree["P.admin"])
    api = APIClient()
    api.force_authenticate(tree["P.admin"])
    org = tree["P"].pk
    texts = [
        client.get(f"/console/{org}/provisioning/jobs/").content,
        client.get(f"/console/{org}/provisioning/jobs/{failed.pk}/").content,
        client.get(f"/console/{org}/provisioning/accounts/").content,
        client.get(f"/console/{org}/provisioning/accounts/{account.pk}/").content,
        api.get("/api/v1/provisioning/jobs/").content,
        api.get(f"/api/v1/provisioning/jobs/{failed.pk}/").content,
        api.get("/api/v1/provisioning/accounts/").content,
        api.get(f"/api/v1/provisioning/accounts/{account.pk}/").content,
        api.get(f"/api/v1/provisioning/accounts/{account.pk}/users/").content,
        api.get("/api/schema/").content,
    ]
    # and from the logs of a job that blows up with them in its message
    fake = world["fake"]
    fake.fail("user.create", RuntimeError(f"crash {ADMIN_PASSWORD} {CLIENT_SECRET}"))
    services.job_retry(job=failed, actor=tree["P.admin"])
    with caplog.at_level(logging.DEBUG):
        engine.run_until_idle([account.pk], connector=fake, timeout=10)
    failed.refresh_from_db()
    texts.append(caplog.text.encode())
    texts.append(failed.last_error.encode())
    texts += [e.message.encode() for e in failed.log.all()]
    assert "Unexpected error RuntimeError: crash [hidden] [hidden]" in failed.last_error
    for text in texts:
        assert ADMIN_PASSWORD.encode() not in text
        assert CLIENT_SECRET.encode() not in text
