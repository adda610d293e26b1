"""The job runner: claim the next job of an account, run it, record how it ended.

Rules (docs/provisioning.md):

* The jobs of one account run strictly in ``sequence`` order. Only the account's *head* (its
  open job with the lowest sequence) can be claimed; a failed head holds the jobs after it.
* Claiming is one short transaction that locks the account row (``select_for_update`` with
  ``skip_locked`` on PostgreSQL; SQLite's write lock serialises it), checks the head and marks it
  running with a lease (``locked_until``) and a token. The remote call happens after that
  transaction, holding no lock. The outcome is recorded in a second transaction that first
  checks the token: a job whose lease expired and was taken over is not recorded twice.
* A worker that dies leaves its job running with a lease that runs out; ``jobs_sweep`` (a beat
  task) puts such jobs back in the queue, and the next try finds at Box what the dead one made.
* Retryable errors are tried again with exponential back-off and jitter, honouring Box's
  ``Retry-After``; other errors, and used-up attempts, fail the job.

``account_run`` is what a worker does for one account: claim, run and complete jobs in a loop
for a bounded time, then hand the account back to the queue if work remains.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from provisioning import hooks
from provisioning.connector import get_connector
from provisioning.connector.base import ConnectorError, PermanentError, RateLimited
from provisioning.models import (
    OPEN_STATES,
    BoxAccount,
    JobLogEntry,
    JobState,
    ProvisioningJob,
)
from provisioning.operations import OPERATIONS, JobContext

log = logging.getLogger("provisioning.engine")

# Which state each engine or staff action moves a job from and to (STYLE.md, habit 4).
TRANSITIONS: dict[str, dict[str, str]] = {
    "claim": {JobState.PENDING: JobState.RUNNING},
    "succeed": {JobState.RUNNING: JobState.SUCCEEDED},
    "reschedule": {JobState.RUNNING: JobState.PENDING},
    "fail": {JobState.RUNNING: JobState.FAILED},
    "expire": {JobState.RUNNING: JobState.PENDING},
    "retry": {JobState.FAILED: JobState.PENDING},
    "skip": {JobState.FAILED: JobState.SUCCEEDED, JobState.PENDING: JobState.SUCCEEDED},
    "cancel": {JobState.FAILED: JobState.CANCELLED, JobState.PENDING: JobState.CANCELLED},
}


def allowed(action: str, state: str) -> bool:
    return state in TRANSITIONS[action]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def scrub(text: str, secrets: list[str]) -> str:
    """Remove every secret value from a text that is about to be stored or shown."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[hidden]")
    return text


def _scrub_data(data, secrets):
    if isinstance(data, str):
        return scrub(data, secrets)
    if isinstance(data, dict):
        return {k: _scrub_data(v, secrets) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub_data(v, secrets) for v in data]
    return data


def add_log(job: ProvisioningJob, message: str, *, level: str = "info", **data) -> JobLogEntry:
    secrets = job.account.secrets()
    return JobLogEntry.objects.create(
        job=job,
        attempt=job.attempts,
        level=level,
        message=scrub(message, secrets),
        data=_scrub_data(data, secrets),
    )


# --- claiming -------------------------------------------------------------------------------------


@dataclass
class Claim:
    job_id: int
    token: str
    attempt: int


@dataclass
class Wait:
    seconds: float


IDLE = "idle"  # no open job
BUSY = "busy"  # the head is running elsewhere, or the account is being changed right now
BLOCKED = "blocked"  # the head failed and waits for staff


def job_claim(account_id: int, *, worker: str = "") -> Claim | Wait | str:
    now = timezone.now()
    with transaction.atomic():
        account = (
            BoxAccount.objects.select_for_update(skip_locked=True).filter(pk=account_id).first()
        )
        if account is None:
            return BUSY
        head = (
            ProvisioningJob.objects.filter(account_id=account_id, state__in=OPEN_STATES)
            .order_by("sequence")
            .first()
        )
        if head is None:
            return IDLE
        if head.state == JobState.RUNNING:
            if head.locked_until is None or head.locked_until > now:
                return BUSY
            if not _expire(head, now):
                return BUSY
            head.refresh_from_db()
            if head.state != JobState.PENDING:
                return BLOCKED
        if head.state == JobState.FAILED:
            return BLOCKED
        if head.next_attempt_at > now:
            return Wait((head.next_attempt_at - now).total_seconds())
        operation = OPERATIONS[head.operation]
        token = uuid.uuid4().hex
        claimed = ProvisioningJob.objects.filter(pk=head.pk, state=JobState.PENDING).update(
            state=JobState.RUNNING,
            attempts=F("attempts") + 1,
            lease_token=token,
            locked_until=now + timedelta(seconds=operation.lease_seconds),
            locked_by=worker[:200],
            started_at=head.started_at or now,
            updated_at=now,
        )
        if not claimed:
            return BUSY
        head.refresh_from_db()
        head.account = account
        operation.on_started(head)
        add_log(head, f"Attempt {head.attempts} started.", worker=worker)
        return Claim(head.pk, token, head.attempts)


def _expire(job: ProvisioningJob, now) -> bool:
    """Put a running job whose lease ran out back in the queue (or fail it when that was its
    last attempt). Called with the job's account or row locked."""
    updated = ProvisioningJob.objects.filter(
        pk=job.pk, state=JobState.RUNNING, locked_until__lt=now
    ).update(
        state=JobState.PENDING,
        next_attempt_at=now,
        locked_until=None,
        lease_token="",
        updated_at=now,
    )
    if not updated:
        return False
    job.refresh_from_db()
    add_log(
        job,
        f"The lease of {job.locked_by or 'the worker'} ran out (the worker stopped or hung); "
        "the job goes back to the queue.",
        level="warning",
    )
    if job.attempts >= job.max_attempts:
        job.state = JobState.RUNNING  # fail from running, as the engine would
        _fail(job, "The job's attempts are used up: its workers stopped while running it.", "")
    return True


# --- running --------------------------------------------------------------------------------------


def job_execute(claim: Claim, *, connector=None) -> str:
    """Run a claimed job's remote part, then record its outcome. Returns the job's new state
    (or "lost" when its lease was taken over meanwhile)."""
    job = ProvisioningJob.objects.select_related("account__customer", "box_user").get(
        pk=claim.job_id
    )
    operation = OPERATIONS[job.operation]
    ctx = JobContext(job=job, connector=connector or get_connector())
    started = time.monotonic()
    try:
        outcome = operation.run(ctx) or {}
    except ConnectorError as exc:
        return _after_error(claim, ctx, exc, time.monotonic() - started)
    except Exception as exc:
        secrets = job.account.secrets()
        log.error(
            "job %s (%s) raised %s: %s",
            job.pk,
            job.operation,
            type(exc).__name__,
            scrub(str(exc), secrets),
        )
        error = PermanentError(
            f"Unexpected error {type(exc).__name__}: {scrub(str(exc), secrets)[:500]}",
            code="internal_error",
        )
        return _after_error(claim, ctx, error, time.monotonic() - started)
    return _succeed(claim, ctx, outcome, time.monotonic() - started)


def _locked_job(claim: Claim) -> ProvisioningJob | None:
    job = (
        ProvisioningJob.objects.select_for_update(of=("self",))
        .select_related("account", "box_user")
        .filter(pk=claim.job_id)
        .first()
    )
    if job is None or job.state != JobState.RUNNING or job.lease_token != claim.token:
        return None
    return job


def _write_entries(job: ProvisioningJob, ctx: JobContext, extra=()) -> None:
    secrets = job.account.secrets()
    entries = [
        JobLogEntry(
            job=job,
            attempt=job.attempts,
            level=level,
            message=scrub(message, secrets),
            data=_scrub_data(data, secrets),
        )
        for level, message, data in [*ctx.entries, *extra]
    ]
    JobLogEntry.objects.bulk_create(entries)


def _release(job: ProvisioningJob) -> None:
    job.locked_until = None
    job.lease_token = ""


def _succeed(claim: Claim, ctx: JobContext, outcome: dict, elapsed: float) -> str:
    with transaction.atomic():
        job = _locked_job(claim)
        if job is None:
            log.warning("job %s finished after its lease was taken over", claim.job_id)
            return "lost"
        OPERATIONS[job.operation].apply(job, outcome)
        job.state = JobState.SUCCEEDED
        job.result = _scrub_data(outcome, job.account.secrets())
        job.finished_at = timezone.now()
        job.last_error = ""
        job.last_error_code = ""
        _release(job)
        job.save(
            update_fields=[
                "state",
                "result",
                "finished_at",
                "last_error",
                "last_error_code",
                "locked_until",
                "lease_token",
                "updated_at",
            ]
        )
        _write_entries(job, ctx, [("info", f"Succeeded in {elapsed:.2f} s.", {})])
        hooks.fire(job, "succeeded")
    return JobState.SUCCEEDED


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """When to try again: Box's ``Retry-After`` when it gave one, else exponential back-off
    (base * 2^(attempt-1), capped) with jitter between half and the whole of it."""
    if retry_after is not None:
        return float(retry_after) + random.uniform(0, 0.1 * max(float(retry_after), 0.1))
    base = float(settings.BOX_JOB_BACKOFF_BASE_SECONDS)
    ceiling = float(settings.BOX_JOB_BACKOFF_MAX_SECONDS)
    delay = min(ceiling, base * (2 ** max(attempt - 1, 0)))
    return delay * random.uniform(0.5, 1.0)


def _after_error(claim: Claim, ctx: JobContext, exc: ConnectorError, elapsed: float) -> str:
    with transaction.atomic():
        job = _locked_job(claim)
        if job is None:
            log.warning("job %s failed after its lease was taken over", claim.job_id)
            return "lost"
        secrets = job.account.secrets()
        message = scrub(exc.message, secrets)
        details = exc.describe()
        rate_limited = isinstance(exc, RateLimited)
        if exc.retryable and (rate_limited or job.attempts < job.max_attempts):
            if rate_limited:
                # Waiting for the rate limit is not the job's fault: it keeps its attempt.
                job.attempts = max(job.attempts - 1, 0)
            delay = backoff_seconds(job.attempts, exc.retry_after)
            job.state = JobState.PENDING
            job.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            job.last_error = message
            job.last_error_code = exc.code[:64]
            _release(job)
            job.save(
                update_fields=[
                    "state",
                    "attempts",
                    "next_attempt_at",
                    "last_error",
                    "last_error_code",
                    "locked_until",
                    "lease_token",
                    "updated_at",
                ]
            )
            _write_entries(
                job,
                ctx,
                [
                    (
                        "warning",
                        f"{message} Trying again in {delay:.1f} s.",
                        {**details, "elapsed": round(elapsed, 3), "delay": round(delay, 3)},
                    )
                ],
            )
            return JobState.PENDING
        if exc.retryable:
            message = f"{message} The job's {job.max_attempts} attempts are used up."
        _write_entries(job, ctx, [("error", message, {**details, "elapsed": round(elapsed, 3)})])
        _fail(job, message, exc.code)
    return JobState.FAILED


def _fail(job: ProvisioningJob, message: str, code: str) -> None:
    job.state = JobState.FAILED
    job.finished_at = timezone.now()
    job.last_error = message
    job.last_error_code = (code or "")[:64]
    _release(job)
    job.save(
        update_fields=[
            "state",
            "finished_at",
            "last_error",
            "last_error_code",
            "locked_until",
            "lease_token",
            "updated_at",
        ]
    )
    OPERATIONS[job.operation].on_failed(job)
    hooks.fire(job, "failed")


# --- the loop and the queue -----------------------------------------------------------------------

_local = threading.local()


def account_run(account_id: int, *, budget: float | None = None, connector=None) -> int:
    """Run the account's due jobs in order for at most ``budget`` seconds; return how many ran.
    When time runs out with work left, or the head waits longer than a short pause, the account
    goes back to the queue."""
    budget = settings.BOX_ENGINE_RUN_BUDGET_SECONDS if budget is None else budget
    inline_wait = float(settings.BOX_ENGINE_INLINE_WAIT_SECONDS)
    deadline = time.monotonic() + budget
    worker = worker_name()
    processed = 0
    _local.active = True
    try:
        while True:
            claim = job_claim(account_id, worker=worker)
            if isinstance(claim, Claim):
                job_execute(claim, connector=connector)
                processed += 1
                if time.monotonic() >= deadline:
                    dispatch(account_id)
                    return processed
                continue
            if isinstance(claim, Wait):
                remaining = deadline - time.monotonic()
                if claim.seconds <= inline_wait and claim.seconds < remaining:
                    time.sleep(max(claim.seconds, 0.0))
                    continue
                dispatch(account_id, countdown=claim.seconds)
            return processed
    finally:
        _local.active = False


def dispatch(account_id: int, *, countdown: float | None = None) -> None:
    """Ask a worker to run the account's queue (now, or after ``countdown`` seconds)."""
    from celery import current_app

    from provisioning.tasks import account_run as account_run_task

    if current_app.conf.task_always_eager and getattr(_local, "active", False):
        return  # already running in this process (tests, eager mode): no recursion
    options = {}
    if countdown:
        options["countdown"] = max(countdown, 0.0)
    account_run_task.apply_async((account_id,), **options)


def dispatch_on_commit(account_id: int) -> None:
    """Dispatch the account once after the current transaction commits, however many jobs the
    transaction enqueued for it."""
    connection = transaction.get_connection()
    pending = getattr(connection, "_provisioning_dispatch", None)
    if pending is None:
        pending = connection._provisioning_dispatch = {}
    callback = pending.get(account_id)
    if (
        connection.in_atomic_block
        and callback is not None
        and any(entry[1] is callback for entry in connection.run_on_commit)
    ):
        return

    def run():
        pending.pop(account_id, None)
        dispatch(account_id)

    pending[account_id] = run
    transaction.on_commit(run)


def account_head(account_id: int) -> ProvisioningJob | None:
    return (
        ProvisioningJob.objects.filter(account_id=account_id, state__in=OPEN_STATES)
        .order_by("sequence")
        .first()
    )


def jobs_sweep(*, dispatch_due: bool = True) -> dict:
    """Put jobs whose lease ran out back in the queue and hand every account whose head is due
    to a worker. Run by beat every few seconds; safe to run anywhere, any number of times."""
    now = timezone.now()
    expired = list(
        ProvisioningJob.objects.filter(state=JobState.RUNNING, locked_until__lt=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    requeued = 0
    for pk in expired:
        with transaction.atomic():
            job = (
                ProvisioningJob.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("account")
                .filter(pk=pk, state=JobState.RUNNING, locked_until__lt=now)
                .first()
            )
            if job is not None and _expire(job, now):
                requeued += 1
    dispatched = 0
    if dispatch_due:
        account_ids = (
            ProvisioningJob.objects.filter(state=JobState.PENDING, next_attempt_at__lte=now)
            .values_list("account_id", flat=True)
            .distinct()
        )
        for account_id in list(account_ids)[:1000]:
            head = account_head(account_id)
            if head is not None and head.state == JobState.PENDING and head.next_attempt_at <= now:
                dispatch(account_id)
                dispatched += 1
    return {"requeued": requeued, "dispatched": dispatched}


def run_until_idle(
    account_ids=None, *, timeout: float = 120.0, connector=None, budget: float = 30.0
) -> int:
    """Run every due job in this process until nothing is left to do but wait for staff (or
    ``timeout`` passes). For tests, commands and the benchmark's in-process mode."""
    deadline = time.monotonic() + timeout
    processed = 0
    while time.monotonic() < deadline:
        jobs_sweep(dispatch_due=False)
        open_jobs = ProvisioningJob.objects.filter(state__in=OPEN_STATES)
        if account_ids is not None:
            open_jobs = open_jobs.filter(account_id__in=list(account_ids))
        accounts = sorted(set(open_jobs.values_list("account_id", flat=True)))
        progressed = 0
        for account_id in accounts:
            remaining = max(deadline - time.monotonic(), 0.0)
            progressed += account_run(
                account_id, budget=min(budget, remaining), connector=connector
            )
        processed += progressed
        if progressed:
            continue
        waits = []
        running = False
        for account_id in accounts:
            head = account_head(account_id)
            if head is None:
                continue
            if head.state == JobState.PENDING:
                waits.append((head.next_attempt_at - timezone.now()).total_seconds())
            elif head.state == JobState.RUNNING:
                running = True
        if not waits and not running:
            return processed
        pause = min([w for w in waits if w > 0] or [0.05])
        time.sleep(min(max(pause, 0.01), max(deadline - time.monotonic(), 0.0), 1.0))
    return processed
