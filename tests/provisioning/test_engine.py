"""The engine's rules, with a recording connector: order per account, a failed job holding its
account's queue (and only that one), retries and back-off, leases, operator actions with their
audit rows, idempotent enqueuing and completion hooks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.actors import system
from portal.errors import Conflict, PermissionDenied
from portal.models import AuditEvent
from provisioning import engine, hooks, services
from provisioning.connector.base import PermanentError, RateLimited, TransientError
from provisioning.models import BoxUser, BoxUserStatus, JobLogEntry, JobState, ProvisioningJob
from tests.provisioning.fakes import FakeConnector

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.01
    settings.BOX_JOB_BACKOFF_MAX_SECONDS = 0.05
    settings.BOX_ENGINE_INLINE_WAIT_SECONDS = 1
    return FakeConnector()


def linked(customer, enterprise_id):
    return services.box_account_link(
        customer=customer,
        box_enterprise_id=enterprise_id,
        plan_code="business",
        seats=20,
        admin_login=f"admin@{enterprise_id}.example.com",
        admin_name="Admin",
        admin_password="Admin-password-1",
        actor=SYSTEM,
    )


def add_users(account, count, prefix="u"):
    return [
        services.box_user_create(
            actor=SYSTEM,
            account=account,
            login=f"{prefix}{i}@{account.box_enterprise_id}.example.com",
            name=f"User {i}",
            external_app_user_id=f"{prefix}-{i}",
        )
        for i in range(count)
    ]


def states(account):
    return list(account.jobs.order_by("sequence").values_list("state", flat=True))


def test_jobs_of_an_account_run_in_sequence_order(tree, fake):
    # given
    account = linked(tree["C11"], "61000001")
    jobs = add_users(account, 5)
    services.box_account_change_seats(actor=SYSTEM, account=account, seats=25)
    # when
    processed = engine.run_until_idle([account.pk], connector=fake, timeout=10)
    # then
    assert processed == 7
    assert [op for op, _ in fake.calls] == ["user.find"] + ["user.create"] * 5 + [
        "account.change_seats"
    ]
    assert [subject for op, subject in fake.calls if op == "user.create"] == [
        job.box_user.login for job in jobs
    ]
    sequences = list(account.jobs.order_by("finished_at", "pk").values_list("sequence", flat=True))
    assert sequences == sorted(sequences)
    assert set(states(account)) == {JobState.SUCCEEDED}
    account.refresh_from_db()
    assert account.seats == 25


def test_a_failed_job_blocks_its_account_and_not_the_others(tree, fake):
    # given: the third user of account A is refused by Box
    a = linked(tree["C11"], "61000002")
    b = linked(tree["C21"], "61000003")
    add_users(a, 5)
    add_users(b, 3)
    fake.fail(
        "user.create:u2@61000002.example.com",
        PermanentError("Box could not create the user: 403 seat_limit_exceeded"),
    )
    # when
    engine.run_until_idle([a.pk, b.pk], connector=fake, timeout=10)
    # then: A stops at the failed job; its later jobs wait, blocked by it
    assert states(a) == [JobState.SUCCEEDED] * 3 + [JobState.FAILED] + [JobState.PENDING] * 2
    failed = a.jobs.get(state=JobState.FAILED)
    assert failed.last_error.startswith("Box could not create the user: 403")
    assert failed.attempts == 1
    assert failed.box_user.status == BoxUserStatus.FAILED
    from provisioning.selectors import annotate_blocked

    waiting = annotate_blocked(a.jobs.filter(state=JobState.PENDING))
    assert {job.blocked_by for job in waiting} == {failed.pk}
    assert [s for op, s in fake.calls if op == "user.create" and "61000002" in s] == [
        f"u{i}@61000002.example.com" for i in range(3)
    ]
    # and B went on to the end
    assert states(b) == [JobState.SUCCEEDED] * 4


def test_retryable_errors_are_retried_with_backoff_then_succeed(tree, fake):
    account = linked(tree["C11"], "61000004")
    (job,) = add_users(account, 1)
    fake.fail(
        "user.create",
        TransientError("Box could not create the user: 500"),
        TransientError("Box could not create the user: 502"),
    )
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert job.attempts == 3
    warnings = JobLogEntry.objects.filter(job=job, level="warning").order_by("at", "pk")
    assert [entry.attempt for entry in warnings] == [1, 2]
    assert all("Trying again in" in entry.message for entry in warnings)


def test_attempts_are_bounded(tree, fake, settings):
    settings.BOX_JOB_MAX_ATTEMPTS = 3
    account = linked(tree["C11"], "61000005")
    (job,) = add_users(account, 1)
    fake.fail("user.create", *[TransientError("Box could not create the user: 500")] * 5)
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.attempts == 3
    assert job.last_error.endswith("The job's 3 attempts are used up.")
    assert [op for op, _ in fake.calls].count("user.create") == 3


def test_a_rate_limited_try_waits_retry_after_and_keeps_its_attempt(tree, fake):
    account = linked(tree["C11"], "61000006")
    engine.run_until_idle([account.pk], connector=fake, timeout=10)  # the admin link job
    (job,) = add_users(account, 1)
    fake.fail("user.create", RateLimited("429 rate_limit_exceeded", retry_after=30))
    # when: one try
    claim = engine.job_claim(account.pk)
    before = timezone.now()
    assert engine.job_execute(claim, connector=fake) == JobState.PENDING
    after = timezone.now()
    # then: the next try is Retry-After (30 s) plus at most 10 % of jitter after the refusal,
    # which happened between `before` and `after` (however slowly the machine ran)
    job.refresh_from_db()
    assert (job.next_attempt_at - before).total_seconds() >= 30
    assert (job.next_attempt_at - after).total_seconds() <= 33
    assert job.attempts == 0
    assert isinstance(engine.job_claim(account.pk), engine.Wait)


def test_an_expired_lease_puts_the_job_back_and_the_late_worker_loses_it(tree, fake):
    account = linked(tree["C11"], "61000007")
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    (job,) = add_users(account, 1)
    claim = engine.job_claim(account.pk, worker="worker-a")
    assert isinstance(claim, engine.Claim)
    # the worker hangs past its lease
    ProvisioningJob.objects.filter(pk=job.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    # when
    assert engine.jobs_sweep(dispatch_due=False) == {"requeued": 1, "dispatched": 0}
    # then
    job.refresh_from_db()
    assert job.state == JobState.PENDING
    assert job.lease_token == ""
    assert "lease of worker-a ran out" in job.log.last().message
    # the late worker's answer is not recorded; a new claim runs the job
    assert engine.job_execute(claim, connector=fake) == "lost"
    claim_b = engine.job_claim(account.pk, worker="worker-b")
    assert claim_b.attempt == 2
    assert engine.job_execute(claim_b, connector=fake) == JobState.SUCCEEDED
    assert BoxUser.objects.get(pk=job.box_user_id).box_user_id is not None


def test_a_running_job_holds_the_account(tree, fake):
    account = linked(tree["C11"], "61000008")
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    add_users(account, 2)
    first = engine.job_claim(account.pk)
    assert isinstance(first, engine.Claim)
    assert engine.job_claim(account.pk) == engine.BUSY


def test_enqueue_is_idempotent_on_its_key(tree, fake):
    account = linked(tree["C11"], "61000009")
    first = services.job_enqueue(
        actor=SYSTEM,
        account=account,
        operation="account.change_seats",
        payload={"seats": 30},
        idempotency_key="order-7-seats",
    )
    again = services.job_enqueue(
        actor=SYSTEM,
        account=account,
        operation="account.change_seats",
        payload={"seats": 30},
        idempotency_key="order-7-seats",
    )
    assert again.pk == first.pk
    assert account.jobs.filter(operation="account.change_seats").count() == 1
    user_job = services.box_user_create(
        actor=SYSTEM,
        account=account,
        login="x@example.com",
        name="X",
        external_app_user_id="seat-1",
    )
    assert (
        services.box_user_create(
            actor=SYSTEM,
            account=account,
            login="x@example.com",
            name="X",
            external_app_user_id="seat-1",
        ).pk
        == user_job.pk
    )
    assert BoxUser.objects.filter(account=account, external_app_user_id="seat-1").count() == 1
    other = linked(tree["C12"], "61000010")
    with pytest.raises(Conflict):
        services.job_enqueue(
            actor=SYSTEM,
            account=other,
            operation="account.change_seats",
            payload={"seats": 3},
            idempotency_key="order-7-seats",
        )


@pytest.fixture
def hook_calls():
    calls = []
    hooks.register(
        "tests.seat",
        on_succeeded=lambda job: calls.append(("succeeded", job.subject_id, job.state)),
        on_failed=lambda job: calls.append(("failed", job.subject_id, job.state)),
    )
    yield calls
    hooks.unregister("tests.seat")


def test_hooks_run_when_jobs_end(tree, fake, hook_calls):
    account = linked(tree["C11"], "61000011")
    services.box_user_create(
        actor=SYSTEM,
        account=account,
        login="a@example.com",
        name="A",
        external_app_user_id="seat-a",
        subject=("tests.seat", 1),
    )
    services.box_user_create(
        actor=SYSTEM,
        account=account,
        login="b@example.com",
        name="B",
        external_app_user_id="seat-b",
        subject=("tests.seat", 2),
    )
    fake.fail("user.create:b@example.com", PermanentError("409 user_login_already_used"))
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    assert hook_calls == [("succeeded", "1", "succeeded"), ("failed", "2", "failed")]


def failed_account(tree, fake, enterprise_id):
    account = linked(tree["C11"], enterprise_id)
    add_users(account, 3)
    fake.fail(
        f"user.create:u0@{enterprise_id}.example.com", PermanentError("403 seat_limit_exceeded")
    )
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    assert states(account) == [
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.PENDING,
        JobState.PENDING,
    ]
    return account, account.jobs.get(state=JobState.FAILED)


def test_retry_runs_the_failed_job_again_and_unblocks(tree, fake, hook_calls):
    account, job = failed_account(tree, fake, "61000012")
    before = AuditEvent.objects.count()
    services.job_retry(job=job, actor=tree["P.admin"])
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.PENDING, 0)
    assert job.box_user.status == BoxUserStatus.PENDING
    event = AuditEvent.objects.get(action="provisioning.job_retried")
    assert (event.actor, event.object_id, event.organization) == (
        tree["P.admin"],
        str(job.pk),
        tree["C11"],
    )
    assert (event.before["state"], event.after["state"]) == ("failed", "pending")
    assert AuditEvent.objects.count() == before + 1
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    assert set(states(account)) == {JobState.SUCCEEDED}
    assert "p.admin@example.test put the job back in the queue." in [
        e.message for e in job.log.all()
    ]


def test_skip_marks_done_without_running_and_unblocks(tree, fake, hook_calls):
    account, job = failed_account(tree, fake, "61000013")
    calls_before = len(fake.calls)
    services.job_skip(job=job, actor=tree["P.admin"])
    job.refresh_from_db()
    assert (job.state, job.skipped) == (JobState.SUCCEEDED, True)
    assert (
        AuditEvent.objects.filter(action="provisioning.job_skipped", object_id=job.pk).count() == 1
    )
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    assert set(states(account)) == {JobState.SUCCEEDED}
    # the skipped job was not run again; the two after it were
    assert [s for op, s in fake.calls[calls_before:] if op == "user.create"] == [
        "u1@61000013.example.com",
        "u2@61000013.example.com",
    ]


def test_cancel_abandons_the_job_and_unblocks(tree, fake):
    account, job = failed_account(tree, fake, "61000014")
    services.job_cancel(job=job, actor=tree["P.admin"])
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert AuditEvent.objects.filter(action="provisioning.job_cancelled").count() == 1
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    assert states(account) == [JobState.SUCCEEDED, JobState.CANCELLED] + [JobState.SUCCEEDED] * 2


def test_operator_actions_check_state_and_role(tree, fake):
    account, job = failed_account(tree, fake, "61000015")
    done = account.jobs.get(sequence=1)
    with pytest.raises(Conflict):
        services.job_retry(job=done, actor=tree["P.admin"])
    for who in ("P.sales", "P.billing", "R1.admin"):
        with pytest.raises(PermissionDenied):
            services.job_cancel(job=job, actor=tree[who])
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert not AuditEvent.objects.filter(
        actor__isnull=False, action__startswith="provisioning.job_"
    ).exists()


def test_the_account_opening_steps_are_queued_in_order(tree, fake):
    account = services.box_account_open(
        customer=tree["C11"],
        plan_code="business",
        seats=5,
        admin_email="Boss@C11.example.com",
        admin_name="The Boss",
        actor=tree["P.admin"],
        reference="subscription 1",
    )
    assert list(account.jobs.order_by("sequence").values_list("operation", flat=True)) == [
        "account.signup",
        "account.verify_email",
        "account.authorize_app",
        "account.link_admin",
    ]
    assert account.admin_login == "boss@c11.example.com"
    assert len(account.admin_password) >= 20
    again = services.box_account_open(
        customer=tree["C11"],
        plan_code="business",
        seats=5,
        admin_email="boss@c11.example.com",
        admin_name="The Boss",
        actor=tree["P.admin"],
        reference="subscription 1",
    )
    assert again.pk == account.pk
    assert account.jobs.count() == 4
    engine.run_until_idle([account.pk], connector=fake, timeout=10)
    account.refresh_from_db()
    assert (account.status, account.box_enterprise_id) == ("active", "60000999")
    assert account.authorized_at is not None
    admin = account.users.get()
    assert (admin.role, admin.status, admin.box_user_id) == ("admin", "active", "30000000000")
