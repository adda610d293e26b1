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
from tests.factories import SYSTEM
from tests.provisioning.conftest import link_account, new_enterprise, point_at

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
# Every limiter test runs on both kinds; the Redis ones need the Redis at TEST_REDIS_URL and
# are marked so (`make test-fast` leaves them out, so it runs with no Redis at all).
KINDS = ["file", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture
def prefix():
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_keys(prefix):
    """Deletes the Redis keys of the test's prefix afterwards (only Redis tests use it)."""
    yield
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=KINDS)
def make_limiter(request, tmp_path, prefix):
    """``make_limiter(per_minute)``: a limiter of the parametrised kind."""
    kind = request.param
    if kind == "redis":
        request.getfixturevalue("redis_keys")

    def make(per_minute):
        if kind == "redis":
            return RedisRateLimiter(REDIS_URL, per_minute, prefix=prefix)
        return FileRateLimiter(tmp_path / "limits", per_minute, prefix=prefix)

    make.kind = kind
    return make


# Wall-clock checks: a limiter must never let calls through faster than its interval, so the
# lower bounds are tight (less 5 % for clocks read by different processes). How much slower a
# loaded machine runs is not the limiter's doing, so upper bounds are generous multiples.


def test_calls_are_spaced_evenly(make_limiter):
    limiter = make_limiter(600)  # one call every 100 ms
    key = limiter.key("app", "60000001")
    started = time.monotonic()
    waits = [limiter.acquire(key, max_wait=5) for _ in range(11)]
    elapsed = time.monotonic() - started
    # ten intervals between eleven calls: never less, and not wildly more
    assert 0.95 <= elapsed / (10 * limiter.interval) <= 4
    # one caller alone never waits more than one interval for its next slot
    assert waits[0] == 0
    assert all(0 <= wait <= limiter.interval + 0.001 for wait in waits)
    # another key has its own budget
    other = limiter.key("app", "60000002")
    assert limiter.reserve(other, max_wait=5) == 0


def test_threads_share_one_budget(make_limiter):
    limiter = make_limiter(1200)  # 50 ms apart
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
    # 40 calls from four threads take at least 39 intervals: the threads share one budget
    assert time.monotonic() - started >= 39 * 0.05 * 0.95


def _acquire_many(kind, location, prefix, key, count, queue):
    if kind == "redis":
        limiter = RedisRateLimiter(location, 1200, prefix=prefix)
    else:
        limiter = FileRateLimiter(location, 1200, prefix=prefix)
    for _ in range(count):
        limiter.acquire(key, max_wait=5)
        queue.put(time.time())


def test_processes_share_one_budget(make_limiter, tmp_path, prefix):
    location = REDIS_URL if make_limiter.kind == "redis" else tmp_path / "limits"
    key = f"{prefix}:app:60000004"
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    procs = [
        context.Process(
            target=_acquire_many, args=(make_limiter.kind, location, prefix, key, 10, queue)
        )
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    stamps = sorted(queue.get(timeout=5) for _ in range(30))
    assert stamps[-1] - stamps[0] >= 29 * 0.05 * 0.95


def test_a_wait_beyond_the_callers_patience_reserves_nothing(make_limiter):
    # One call every 10 s, so that a slow machine has seconds, not milliseconds, to spare: the
    # assertions hold as long as the four reservations below take less than 5 s in all.
    limiter = make_limiter(6)
    key = limiter.key("app", "60000005")
    assert limiter.reserve(key, max_wait=30) == 0
    assert 5 <= limiter.reserve(key, max_wait=30) <= 10
    with pytest.raises(RateLimited) as refused:
        limiter.reserve(key, max_wait=5)
    assert 15 <= refused.value.retry_after <= 20
    # nothing was reserved by the refusal: the next slot is still the third, under 20 s out
    assert 15 <= limiter.reserve(key, max_wait=30) <= 20


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_the_engine_stays_under_boxs_limit(request, kind, tree, tmp_path, settings, prefix):
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
            BOX_RATE_LIMIT_REDIS_URL=REDIS_URL if kind == "redis" else "",
            BOX_RATE_LIMIT_KEY_PREFIX=prefix,
        )
        if kind == "redis":
            request.getfixturevalue("redis_keys")
        enterprise = new_enterprise(sim, seats=50)
        account = link_account(tree["C11"], enterprise)
        for i in range(40):
            services.box_user_create(
                actor=SYSTEM,
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
    assert elapsed >= 40 * 0.11 * 0.95
    assert not JobLogEntry.objects.filter(job__account=account, level="warning").exists()


@pytest.mark.django_db
def test_boxs_retry_after_is_honoured(tree, own_sim, settings):
    # given: Box answers the first creation with 429 and Retry-After: 2
    point_at(settings, own_sim)
    enterprise = new_enterprise(own_sim, seats=5)
    account = link_account(tree["C11"], enterprise)
    engine.run_until_idle([account.pk], timeout=30)
    job = services.box_user_create(
        actor=SYSTEM,
        account=account,
        login="later@limit.example.com",
        name="Later",
        external_app_user_id="s",
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
