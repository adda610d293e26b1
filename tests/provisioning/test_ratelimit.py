"""The shared rate limiter: even spacing per key, shared by threads and processes, refusing to
queue beyond the caller's patience; and the engine keeping under a simulated Box limit while
honouring Retry-After when Box answers 429."""

import multiprocessing
import os
import threading
import time
import uuid

import pytest
import redis

from provisioning import engine, services
from provisioning.connector.base import RateLimited
from provisioning.models import JobLogEntry, JobState
from provisioning.ratelimit import FileRateLimiter, RedisRateLimiter
from tests.provisioning.conftest import link_account, new_enterprise, point_at

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def prefix():
    value = f"test-{uuid.uuid4().hex[:12]}"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{value}*"):
        client.delete(key)
    client.close()


def limiters(tmp_path, prefix, per_minute):
    return {
        "redis": RedisRateLimiter(REDIS_URL, per_minute, prefix=prefix),
        "file": FileRateLimiter(tmp_path / "limits", per_minute, prefix=prefix),
    }


@pytest.mark.parametrize("kind", ["redis", "file"])
def test_calls_are_spaced_evenly(tmp_path, prefix, kind):
    limiter = limiters(tmp_path, prefix, 600)[kind]  # one call every 100 ms
    key = limiter.key("app", "60000001")
    started = time.monotonic()
    for _ in range(11):
        limiter.acquire(key, max_wait=5)
    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed <= 1.4
    # another key has its own budget
    other = limiter.key("app", "60000002")
    assert limiter.reserve(other, max_wait=5) == 0


@pytest.mark.parametrize("kind", ["redis", "file"])
def test_threads_share_one_budget(tmp_path, prefix, kind):
    limiter = limiters(tmp_path, prefix, 1200)[kind]  # 50 ms apart
    key = limiter.key("app", "60000003")
    times = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            limiter.acquire(key, max_wait=5)
            with lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(times) == 40
    assert time.monotonic() - started >= 39 * 0.05 - 0.05


def _acquire_many(url, prefix, key, count, queue):
    limiter = RedisRateLimiter(url, 1200, prefix=prefix)
    for _ in range(count):
        limiter.acquire(key, max_wait=5)
        queue.put(time.time())


def test_processes_share_one_budget_through_redis(prefix):
    key = f"{prefix}:app:60000004"
    queue = multiprocessing.get_context("fork").Queue()
    procs = [
        multiprocessing.get_context("fork").Process(
            target=_acquire_many, args=(REDIS_URL, prefix, key, 10, queue)
        )
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    stamps = sorted(queue.get(timeout=5) for _ in range(30))
    assert stamps[-1] - stamps[0] >= 29 * 0.05 - 0.05


def test_a_wait_beyond_the_callers_patience_reserves_nothing(prefix):
    limiter = RedisRateLimiter(REDIS_URL, 60, prefix=prefix)  # one a second
    key = limiter.key("app", "60000005")
    assert limiter.reserve(key, max_wait=5) == 0
    assert 0.5 <= limiter.reserve(key, max_wait=5) <= 1.0
    with pytest.raises(RateLimited) as refused:
        limiter.reserve(key, max_wait=0.5)
    assert 1.3 <= refused.value.retry_after <= 2.0
    # nothing was reserved by the refusal: the next slot is still under two seconds out
    assert 1.3 <= limiter.reserve(key, max_wait=5) <= 2.0


@pytest.mark.django_db
@pytest.mark.slow
def test_the_engine_stays_under_boxs_limit(tree, tmp_path, settings, prefix):
    from boxsim.testing import start_simulator
    from tests.provisioning.conftest import ensure_platform_app

    # given: Box allows 20 calls in any 2 s (600 a minute); so does the portal's limiter, with
    # a margin wide enough for a busy test machine's delays
    with start_simulator(data_path=tmp_path / "sim.sqlite3", rate_limit=20, rate_window=2) as sim:
        ensure_platform_app(sim)
        point_at(
            settings,
            sim,
            BOX_RATE_LIMIT_PER_MINUTE=600,
            BOX_RATE_LIMIT_MARGIN=0.1,
            BOX_RATE_LIMIT_REDIS_URL=REDIS_URL,
            BOX_RATE_LIMIT_KEY_PREFIX=prefix,
        )
        enterprise = new_enterprise(sim, seats=50)
        account = link_account(tree["C11"], enterprise)
        for i in range(40):
            services.box_user_create(
                account=account,
                login=f"paced{i}@limit.example.com",
                name=f"Paced {i}",
                external_app_user_id=f"seat-{i}",
            )
        # when
        started = time.monotonic()
        engine.run_until_idle([account.pk], timeout=60)
        elapsed = time.monotonic() - started
    # then: 41 calls 110 ms apart, and Box never had to refuse one
    assert set(account.jobs.values_list("state", flat=True)) == {JobState.SUCCEEDED}
    assert elapsed >= 40 * 0.11 - 0.1
    assert not JobLogEntry.objects.filter(job__account=account, level="warning").exists()


@pytest.mark.django_db
def test_boxs_retry_after_is_honoured(tree, own_sim, settings):
    # given: Box answers the first creation with 429 and Retry-After: 2
    point_at(settings, own_sim)
    enterprise = new_enterprise(own_sim, seats=5)
    account = link_account(tree["C11"], enterprise)
    engine.run_until_idle([account.pk], timeout=30)
    job = services.box_user_create(
        account=account, login="later@limit.example.com", name="Later", external_app_user_id="s"
    )
    own_sim.control.set_fault("post_users", error_429=1.0, retry_after=2, max_faults=1)
    # when
    engine.run_until_idle([account.pk], timeout=30)
    # then: the second try started two seconds after the refusal, and kept its attempt
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 1)
    refused = JobLogEntry.objects.get(job=job, level="warning")
    assert refused.data["status"] == 429
    assert refused.data["retry_after"] == 2.0
    second = JobLogEntry.objects.filter(job=job, message__startswith="Attempt").order_by("at")[1]
    assert (second.at - refused.at).total_seconds() >= 2.0
