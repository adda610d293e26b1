"""Idempotency under faults: with one call in ten failing (500s, 429s, timeouts, the 500s and
timeouts after Box made the change), 200 user creations through the engine end with exactly 200
Box users, none twice, and every job succeeded."""

import collections

import pytest

from provisioning import engine, services
from provisioning.models import BoxUser, JobLogEntry, JobState, ProvisioningJob
from tests.factories import SYSTEM
from tests.provisioning.conftest import box_users, link_account, new_enterprise, point_at

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

USERS = 200


def test_200_creations_with_ten_percent_faults_leave_exactly_200_users(tree, own_sim, settings):
    # given: an enterprise with room for everyone, and faults on every operation
    point_at(settings, own_sim, BOX_API_TIMEOUT_SECONDS=0.5, BOX_JOB_MAX_ATTEMPTS=10)
    enterprise = new_enterprise(own_sim, seats=USERS + 10)
    account = link_account(tree["C11"], enterprise)
    for i in range(USERS):
        services.box_user_create(
            actor=SYSTEM,
            account=account,
            login=f"person{i:03d}@faults.example.com",
            name=f"Person {i:03d}",
            external_app_user_id=f"seat-{i:03d}",
        )
    own_sim.control.set_fault(
        "*",
        error_500=0.04,
        error_429=0.03,
        timeout=0.03,
        timeout_seconds=1.5,
        retry_after=1,
        when="after",
        seed=20260101,
    )
    # when
    engine.run_until_idle([account.pk], timeout=240)
    faults = own_sim.control.faults()["*"]["injected"]
    own_sim.control.clear_faults()
    # then: every job succeeded
    states = collections.Counter(account.jobs.values_list("state", flat=True))
    assert states == {JobState.SUCCEEDED: USERS + 1}
    # and Box has each person exactly once, with the id the portal recorded
    remote = [u for u in box_users(own_sim, enterprise) if u.login.endswith("@faults.example.com")]
    logins = collections.Counter(u.login for u in remote)
    assert len(remote) == USERS
    assert set(logins.values()) == {1}
    recorded = dict(
        BoxUser.objects.filter(account=account)
        .exclude(external_app_user_id="account-admin")
        .values_list("login", "box_user_id")
    )
    assert recorded == {u.login: u.id for u in remote}
    assert own_sim.control.enterprise(enterprise["enterprise_id"])["seats_used"] == USERS + 1
    # and the faults really happened, were retried, and some creations were found again
    assert faults >= 15
    retried = ProvisioningJob.objects.filter(account=account, attempts__gt=1).count()
    assert retried >= 10
    adopted = JobLogEntry.objects.filter(
        job__account=account, message__startswith="Found person"
    ).count()
    assert adopted >= 1
