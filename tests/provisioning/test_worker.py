"""A real Celery worker killed with SIGKILL in the middle of a batch: after a new worker starts
(and beat's sweep re-queues the job whose lease ran out), every job completes and no user is
made twice. Broker: Redis; database: the test database, shared with the workers."""

import collections
import time

import pytest
from django.db import transaction

from provisioning import services
from provisioning.models import JobLogEntry, JobState, ProvisioningJob
from tests.factories import SYSTEM
from tests.provisioning.conftest import box_users, link_account, new_enterprise, point_at

pytestmark = [pytest.mark.worker, pytest.mark.slow]

USERS = 60


def box_env(sim) -> dict:
    return {
        "BOX_API_BASE_URL": sim.url,
        "BOX_UPLOAD_BASE_URL": sim.url + "/api",
        "BOX_OAUTH2_URL": sim.url + "/api/oauth2",
        "BOX_WEB_BASE_URL": sim.url,
        "BOX_RATE_LIMIT_PER_MINUTE": "0",
        "BOX_JOB_LEASE_SECONDS": "3",
        "BOX_JOB_BACKOFF_BASE_SECONDS": "0.1",
    }


def wait_for(condition, timeout: float, every: float = 0.1, tick=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if tick is not None:
            tick()
        time.sleep(every)
    return False


def succeeded(account) -> int:
    return ProvisioningJob.objects.filter(account=account, state=JobState.SUCCEEDED).count()


def test_a_killed_worker_leaves_no_duplicate_and_a_new_worker_finishes(
    tree, own_sim, settings, celery_worker
):
    # given: slow creations (Box takes 120 ms each), so the kill lands in the middle of one
    point_at(settings, own_sim)
    own_sim.control.set_fault("post_users", latency_ms=120)
    enterprise = new_enterprise(own_sim, seats=USERS + 5)
    account = link_account(tree["C11"], enterprise)
    with transaction.atomic():
        for i in range(USERS):
            services.box_user_create(
                actor=SYSTEM,
                account=account,
                login=f"member{i:02d}@killed.example.com",
                name=f"Member {i:02d}",
                external_app_user_id=f"seat-{i:02d}",
            )
    running = []
    for round_ in range(3):  # the kill must land while a job runs; rarely it lands between two
        worker = celery_worker.start(env=box_env(own_sim))
        if round_:
            celery_worker.send("provisioning.tasks.jobs_sweep")  # the lost task's account
        assert wait_for(
            lambda r=round_: (
                succeeded(account) >= 15 * (r + 1)
                and ProvisioningJob.objects.filter(account=account, state=JobState.RUNNING).exists()
            ),
            timeout=60,
            every=0.01,
        )
        # when: the worker dies at once, mid-batch
        worker.kill()
        running = list(
            ProvisioningJob.objects.filter(account=account, state=JobState.RUNNING).values_list(
                "pk", flat=True
            )
        )
        if running:
            break
    assert len(running) == 1
    assert succeeded(account) < USERS + 1
    # and a new worker starts; beat's sweep runs every second
    celery_worker.start(env=box_env(own_sim))
    finished = wait_for(
        lambda: succeeded(account) == USERS + 1,
        timeout=90,
        every=0.5,
        tick=lambda: celery_worker.send("provisioning.tasks.jobs_sweep"),
    )
    # then: every job completed, each person exists once at Box
    assert finished, collections.Counter(account.jobs.values_list("state", flat=True))
    remote = [u for u in box_users(own_sim, enterprise) if u.login.endswith("@killed.example.com")]
    assert len(remote) == USERS
    assert set(collections.Counter(u.login for u in remote).values()) == {1}
    recorded = dict(
        account.users.exclude(external_app_user_id="account-admin").values_list(
            "login", "box_user_id"
        )
    )
    assert recorded == {u.login: u.id for u in remote}
    # the job the dead worker held went back to the queue when its lease ran out
    for pk in running:
        messages = list(JobLogEntry.objects.filter(job_id=pk).values_list("message", flat=True))
        assert any("ran out" in m for m in messages), messages
        assert ProvisioningJob.objects.get(pk=pk).attempts >= 2
