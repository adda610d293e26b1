import os

import pytest

from tests.payments_support import localstripe_url, paying, stripe_sim  # noqa: F401

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _real_calendar():
    """A test that moves the portal's calendar (portal.clock) gets the real one back after."""
    yield
    from portal import clock

    clock.set_today(None)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tree(db):
    """Two of every kind of organization, with people in every role (see tests/factories.py)."""
    from tests.factories import build_tree

    return build_tree()


@pytest.fixture(scope="session")
def boxsim(tmp_path_factory):
    """A Box simulator for the whole session: its own process on a free port, its state in a
    temporary SQLite file. The handle has `.url`, `.control` (the /_sim/ client) and `.stop()`;
    see `boxsim.testing`. Tests create their own enterprises instead of resetting it."""
    from boxsim.testing import start_simulator

    handle = start_simulator(data_path=tmp_path_factory.mktemp("boxsim") / "boxsim.sqlite3")
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def platform_sim(boxsim):
    """The session's shared simulator, with the provider's platform app in it."""
    from tests.provisioning.conftest import ensure_platform_app

    ensure_platform_app(boxsim)
    return boxsim


@pytest.fixture
def catalog(tree):
    """A priced catalog on the tree: plans, provider and reseller prices, offers, tax rates
    (see tests/catalog/builders.py)."""
    from tests.catalog.builders import build_catalog

    return build_catalog(tree)


@pytest.fixture
def frozen():
    """``frozen(day)`` moves the portal's calendar for the rest of the test."""
    from portal import clock

    yield clock.set_today
    clock.set_today(None)


@pytest.fixture
def fake(settings):
    """A recording Box connector that runs provisioning in-process, each signed-up admin in an
    enterprise of its own (tests/orders/conftest.py); the simulator and a real worker are in
    the end-to-end tests."""
    from tests.orders.conftest import ManyAccountsConnector

    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.01
    settings.BOX_JOB_BACKOFF_MAX_SECONDS = 0.05
    settings.BOX_ENGINE_INLINE_WAIT_SECONDS = 1
    return ManyAccountsConnector()


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """Start real Celery workers on the test database with a Redis broker (see
    tests/celery_worker.py): ``celery_worker.start(queues=[...], concurrency=2, env={...})``
    returns a process handle with ``kill()`` (SIGKILL) and ``stop()``; ``celery_worker.send(name)``
    publishes a task by name. Everything is stopped and the run's Redis keys deleted at the end.
    Mark such tests ``@pytest.mark.worker``."""
    from tests.celery_worker import CeleryWorkers

    workers = CeleryWorkers(log_dir=tmp_path)
    try:
        with workers.publishing():
            yield workers
    finally:
        workers.stop_all()
        workers.cleanup_redis()
