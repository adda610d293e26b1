"""Rate limiting per app service account, and injected faults (500s, 429s, timeouts, latency).

These tests change the simulator's settings, so they run on a simulator of their own.
"""

import random
import time

import pytest
from box_sdk_gen import BoxAPIError, BoxRetryStrategy, TimeoutConfig

from boxsim.testing import start_simulator
from tests.boxsim.conftest import Api, login_for, new_account, sdk_client

FAST_RETRIES = BoxRetryStrategy(retry_base_interval=0.01)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    handle = start_simulator(
        data_path=tmp_path_factory.mktemp("limits") / "boxsim.sqlite3",
        rate_limit=3,
        rate_window=1,
        seed=11,
    )
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def _clean_faults(sim):
    yield
    sim.control.clear_faults()
    sim.control.settings(rate_limit=3, rate_window=1)


def test_rate_limit_answers_429_with_retry_after(sim, recorder):
    first, second = new_account(sim), new_account(sim)
    api, other = Api(sim.url, recorder, first), Api(sim.url, recorder, second)
    api.token(), other.token()  # token requests do not count
    statuses = [api.get("/2.0/users/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = recorder.responses[-1]
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["code"] == "rate_limit_exceeded"
    assert other.get("/2.0/users/me").status_code == 200  # each app service account has its own
    time.sleep(1.05)
    assert api.get("/2.0/users/me").status_code == 200


def test_sdk_waits_for_retry_after_then_succeeds(sim, recorder):
    account = new_account(sim)
    client = sdk_client(sim, account, recorder)
    started = time.monotonic()
    names = [client.users.get_user_me().name for _ in range(6)]
    elapsed = time.monotonic() - started
    assert len(set(names)) == 1
    statuses = [status for _, path, status in recorder.calls() if path == "/2.0/users/me"]
    assert statuses == [200, 200, 200, 429, 200, 200, 200]
    # it waited the second of Retry-After (a loaded machine adds its own slowness on top)
    assert 1.0 <= elapsed < 10


def test_rate_limit_is_configurable(sim, recorder):
    sim.control.settings(rate_limit=0)
    api = Api(sim.url, recorder, new_account(sim))
    assert {api.get("/2.0/users/me").status_code for _ in range(10)} == {200}
    sim.control.settings(rate_limit=5, rate_window=60)
    assert [api.get("/2.0/users/me").status_code for _ in range(6)] == [200] * 5 + [429]
    assert 55 <= int(recorder.responses[-1].headers["Retry-After"]) <= 60


def test_seeded_500_share_is_deterministic(sim, recorder):
    sim.control.settings(rate_limit=0)
    api = Api(sim.url, recorder, new_account(sim))
    api.get("/2.0/users/me")
    sim.control.set_fault("get_users", error_500=0.3, seed=1234)
    statuses = [api.get("/2.0/users").status_code for _ in range(30)]
    rng = random.Random(1234)
    expected = [500 if rng.random() < 0.3 else 200 for _ in range(30)]
    assert statuses == expected
    assert statuses.count(500) == expected.count(500) > 0
    assert {api.get("/2.0/users/me").status_code for _ in range(5)} == {200}  # other operations
    failed = next(r for r in recorder.responses if r.status_code == 500)
    assert failed.json()["code"] == "internal_server_error"


def test_sdk_retries_500s(sim, recorder):
    sim.control.settings(rate_limit=0)
    client = sdk_client(sim, new_account(sim), recorder, retry_strategy=FAST_RETRIES)
    sim.control.set_fault("get_users", error_500=1.0, max_faults=2)
    assert client.users.get_users().total_count == 1
    statuses = [status for _, path, status in recorder.calls() if path == "/2.0/users"]
    assert statuses == [500, 500, 200]


def test_injected_429_is_honoured_by_the_sdk(sim, recorder):
    sim.control.settings(rate_limit=0)
    client = sdk_client(sim, new_account(sim), recorder)
    sim.control.set_fault("get_groups", error_429=1.0, max_faults=1, retry_after=1)
    started = time.monotonic()
    assert client.groups.get_groups().total_count == 0
    assert time.monotonic() - started >= 1.0
    assert [s for _, p, s in recorder.calls() if p == "/2.0/groups"] == [429, 200]


def test_timeout_then_retry(sim, recorder):
    sim.control.settings(rate_limit=0)
    client = sdk_client(
        sim,
        new_account(sim),
        recorder,
        retry_strategy=FAST_RETRIES,
        timeout_config=TimeoutConfig(connection_timeout_ms=5000, read_timeout_ms=1000),
    )
    sim.control.set_fault("get_users_me", timeout=1.0, max_faults=1, timeout_seconds=12)
    started = time.monotonic()
    assert client.users.get_user_me().id
    # the client gave up after its 1 s read timeout and retried, long before the simulator
    # would have answered the held call (12 s)
    assert 1.0 <= time.monotonic() - started < 8
    assert sim.control.faults()["get_users_me"]["injected"] == 1


def test_fault_after_commit_makes_a_retry_conflict(sim, recorder):
    """A create whose answer is lost: the user exists, and the SDK's retry gets a 409."""
    sim.control.settings(rate_limit=0)
    account = new_account(sim)
    client = sdk_client(sim, account, recorder, retry_strategy=FAST_RETRIES)
    sim.control.set_fault("post_users", error_500=1.0, max_faults=1, when="after")
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.create_user("Twice", login=login_for(account, "twice"))
    assert excinfo.value.response_info.body["code"] == "user_login_already_used"
    assert [s for m, p, s in recorder.calls() if m == "POST" and p == "/2.0/users"] == [500, 409]
    assert client.users.get_users(filter_term="Twice").total_count == 1


def test_added_latency(sim, recorder):
    sim.control.settings(rate_limit=0)
    api = Api(sim.url, recorder, new_account(sim))
    api.get("/2.0/users/me")
    sim.control.set_fault("*", latency_ms=150)
    started = time.monotonic()
    assert api.get("/2.0/groups").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_fault_settings_are_checked(sim):
    from boxsim.testing import SimulatorError

    for bad in ({"error_500": 0.8, "error_429": 0.5}, {"when": "sometimes"}, {"bogus": 1}):
        with pytest.raises(SimulatorError):
            sim.control.set_fault("get_users", **bad)
    assert sim.control.faults() == {}
