"""Provisioning: 1,000 Box user creations through the engine, as production runs them.

The production code path: real Celery workers (``celery -A portal worker -Q provisioning``, two
processes) on a Redis broker, the shared Redis rate limiter, and a Box simulator that enforces
1,000 API calls a minute per service account. One account's jobs run strictly in order, so the
floor is the rate limit itself: 1,000 calls at 1,000 a minute take 60 s. Then the same without
any rate limit (one account, and four accounts side by side).

Needs Redis (``REDIS_URL``, else ``TEST_REDIS_URL``, else redis://127.0.0.1:6379/14); keys and
queues are namespaced per run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction

from benchmarks.harness import BenchContext
from boxsim.testing import SimulatorError, start_simulator
from portal import services as portal_services
from portal.actors import system
from portal.models import OrgKind
from provisioning import services
from provisioning.models import JobLogEntry, JobState, ProvisioningJob
from tests.celery_worker import CeleryWorkers

BENCH = system("benchmark")


def _redis_url() -> str:
    return (
        os.environ.get("REDIS_URL")
        or os.environ.get("TEST_REDIS_URL")
        or "redis://127.0.0.1:6379/14"
    )


def _worker_env(sim, per_minute: int, redis_url: str, prefix: str) -> dict:
    return {
        "BOX_API_BASE_URL": sim.url,
        "BOX_UPLOAD_BASE_URL": sim.url + "/api",
        "BOX_OAUTH2_URL": sim.url + "/api/oauth2",
        "BOX_WEB_BASE_URL": sim.url,
        "BOX_RATE_LIMIT_PER_MINUTE": str(per_minute),
        "PORTAL_TEST_RATE_LIMIT_REDIS_URL": redis_url,
        "PORTAL_TEST_RATE_LIMIT_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
    }


def _account(sim, customer, seats: int):
    with contextlib.suppress(SimulatorError):  # made by an earlier phase
        sim.control.create_app(
            "Box broker portal",
            client_id=settings.BOX_PLATFORM_CLIENT_ID,
            client_secret=settings.BOX_PLATFORM_CLIENT_SECRET,
        )
    enterprise = sim.control.create_enterprise(
        name=f"Bench {uuid.uuid4().hex[:6]}",
        plan="enterprise",
        seats=seats,
        client_id=settings.BOX_PLATFORM_CLIENT_ID,
    )
    account = services.box_account_link(
        customer=customer,
        box_enterprise_id=enterprise["enterprise_id"],
        plan_code="enterprise",
        seats=seats,
        admin_login=enterprise["admin_login"],
        admin_name="Bench Admin",
        admin_password=enterprise["admin_password"],
        actor=BENCH,
    )
    return account, enterprise


def _wait_done(accounts, expected: int, timeout: float) -> float:
    """Seconds until ``expected`` jobs of the accounts succeeded (raises on failure or time)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        jobs = ProvisioningJob.objects.filter(account__in=accounts)
        if jobs.filter(state=JobState.FAILED).exists():
            raise RuntimeError("a job failed: " + jobs.filter(state="failed").first().last_error)
        if jobs.filter(state=JobState.SUCCEEDED).count() >= expected:
            return time.perf_counter() - started
        time.sleep(0.1)
    raise RuntimeError(f"not done after {timeout:.0f} s")


def _enqueue(account, count: int, tag: str) -> None:
    with transaction.atomic():  # one order of `count` seats: one dispatch after commit
        for i in range(count):
            services.box_user_create(
                actor=BENCH,
                account=account,
                login=f"{tag}{i:04d}@{account.box_enterprise_id}.bench.example.com",
                name=f"Bench User {i:04d}",
                external_app_user_id=f"{tag}-{i:04d}",
            )


def run(ctx: BenchContext) -> None:
    users = 100 if ctx.quick else 1000
    per_minute = 600 if ctx.quick else 1000
    redis_url = _redis_url()
    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    provider = portal_services.provider_create(
        actor=BENCH, name="Bench Provider", domains=["bench.test"]
    )
    customers = [
        portal_services.organization_create(
            actor=BENCH, parent=provider, kind=OrgKind.CUSTOMER, name=f"Bench Customer {n}"
        )
        for n in range(5)
    ]
    workdir = Path(tempfile.mkdtemp(prefix="bench-provisioning-"))
    sim = start_simulator(data_path=workdir / "boxsim.sqlite3", rate_limit=per_minute)
    workers = CeleryWorkers(log_dir=workdir, redis_url=redis_url)
    try:
        with workers.publishing():
            # --- rate-limited: one account, the simulator enforcing the limit -------------
            worker = workers.start(
                concurrency=2, env=_worker_env(sim, per_minute, redis_url, prefix)
            )
            account, enterprise = _account(sim, customers[0], users + 10)
            _wait_done([account], 1, 60)  # the admin lookup, before the clock starts
            _enqueue(account, users, "limited")
            wall = _wait_done([account], users + 1, 600)
            floor = users / per_minute * 60
            refused = JobLogEntry.objects.filter(
                job__account=account, level="warning", data__status=429
            ).count()
            in_box = sim.control.enterprise(enterprise["enterprise_id"])["seats_used"] - 1
            ctx.report("mode", "2 Celery worker processes, Redis broker and limiter")
            ctx.report(f"users created at {per_minute}/min (simulator limit)", in_box)
            ctx.report("wall time", wall, "s")
            ctx.report("floor (the rate limit)", floor, "s")
            ctx.report("ratio to the floor", wall / floor)
            ctx.report("429 answers from the simulator", refused)
            worker.stop()

            # --- no rate limit: one account (its jobs in order), then four side by side ----
            sim.control.settings(rate_limit=0)
            worker = workers.start(concurrency=2, env=_worker_env(sim, 0, redis_url, prefix))
            account, enterprise = _account(sim, customers[1], users + 10)
            _wait_done([account], 1, 60)
            _enqueue(account, users, "free")
            wall = _wait_done([account], users + 1, 600)
            ctx.report("no limit, one account: throughput", users / wall, "users/s")
            several = [_account(sim, customers[2 + n], users // 4 + 10)[0] for n in range(3)]
            several.append(_account(sim, customers[0], users // 4 + 10)[0])
            _wait_done(several, 4, 60)
            started = time.perf_counter()
            for n, acc in enumerate(several):
                _enqueue(acc, users // 4, f"side{n}")
            _wait_done(several, 4 + users, 600)
            wall = time.perf_counter() - started
            ctx.report("no limit, four accounts at once: throughput", users / wall, "users/s")
            worker.stop()
    finally:
        workers.stop_all()
        workers.cleanup_redis()
        sim.stop()
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
