"""Ordering: concurrent storefront checkouts, and the time from an order to its Box users.

1. 200 visitors check out at the same moment through a real HTTP server (each: load the
   checkout page, post the form; half of them post it a second time, as a double click would).
   Figures: orders per second, latency percentiles, and proof that there are exactly 200
   orders, 200 customers and 200 people. Each sign-up hashes a password with production's
   PBKDF2 setting, which is most of a checkout's cost.
2. 200 signed-in customers order at the same moment through the API, half of them retrying
   with the same Idempotency-Key: the ordering path alone.
3. Orders placed by signed-in customers with seats assigned at once, carried out by a real
   Celery worker (Redis broker) against the Box simulator, each new Box account signed up in
   Chromium: the time from submission until every seat's Box user is active (p50, p95).

Run it on PostgreSQL (``DATABASE_URL``) for the concurrency figures; SQLite serialises writes.
Needs Redis for part 2 (``REDIS_URL``, else ``TEST_REDIS_URL``, else redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import transaction

from benchmarks.bench_storefront import PooledWSGIServer
from benchmarks.harness import BenchContext, latency_summary, percentile
from catalog import services as catalog_services
from orders import services
from orders.models import Order, SeatAssignment
from portal import services as portal_services
from portal.actors import system
from portal.models import Organization, OrgKind, User

BENCH = system("benchmark")

VISITORS = 200
SERVER_THREADS = 40


def _catalog():
    provider = portal_services.provider_create(
        actor=BENCH, name="Bench Cloud", domains=["shop.localhost"]
    )
    plans = {p.code: p for p in catalog_services.plan_seed_defaults(actor=BENCH)}
    catalog_services.price_create(
        actor=BENCH,
        seller=provider,
        plan=plans["business"],
        audience="retail",
        currency="USD",
        term="monthly",
        recurring="15.00",
    )
    offer = catalog_services.offer_publish(actor=BENCH, seller=provider, plan=plans["business"])
    return provider, offer


class Burst:
    """Serve the portal on a pooled HTTP server and send ``count`` clients at it at once; each
    client's first timed request is a latency sample, a failure is an error, never a crash."""

    def __init__(self, count: int):
        self.count = count
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.ready = threading.Barrier(count)
        self.wall = 0.0

    def timed(self, send, *, expect: int, sample: bool) -> None:
        started = time.perf_counter()
        response = send()
        elapsed = time.perf_counter() - started
        with self.lock:
            if sample:
                self.latencies.append(elapsed)
            if response.status_code != expect:
                self.errors.append(f"{response.status_code} {response.text[:120]}")

    def run(self, client) -> None:
        """``client(i, base_url)`` makes the requests of client ``i``."""
        server = PooledWSGIServer(("127.0.0.1", 0), workers=SERVER_THREADS)
        server.set_app(get_wsgi_application())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"

        def guarded(i: int):
            try:
                client(i, base)
            except Exception as exc:  # a client that could not finish is a figure
                with self.lock:
                    self.errors.append(repr(exc)[:200])

        threads = [threading.Thread(target=guarded, args=(i,)) for i in range(self.count)]
        started = time.perf_counter()
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            self.wall = time.perf_counter() - started
            server.shutdown()
            server.server_close()
            server.close_worker_connections()

    def report(self, ctx: BenchContext, what: str) -> None:
        lat = latency_summary(self.latencies)
        ctx.report(what, len(self.latencies))
        ctx.report("errors", len(self.errors))
        for error in sorted(set(self.errors))[:5]:
            print(f"      {error}")
        ctx.report("throughput", len(self.latencies) / self.wall, "orders/s")
        ctx.report(
            "latency p50 / p95 / p99",
            f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f}",
            "ms",
        )


def _checkouts(ctx: BenchContext, offer) -> None:
    visitors = 40 if ctx.quick else VISITORS
    burst = Burst(visitors)

    def visitor(i: int, base: str):
        url = f"{base}/offers/{offer.pk}/order/"
        session = requests.Session()
        session.headers["Host"] = "shop.localhost"
        page = session.get(url + "?seats=3", timeout=120).text
        form = {
            "csrfmiddlewaretoken": re.search(
                r'name="csrfmiddlewaretoken" value="([^"]+)"', page
            ).group(1),
            "token": re.search(r'name="token" value="([^"]+)"', page).group(1),
            "seats": "3",
            "term": "monthly",
            "code": "",
            "action": "order",
            "company_name": f"Visitor {i} Ltd",
            "full_name": f"Visitor {i}",
            "email": f"visitor{i}@bench.test",
            "password": "a-sturdy-passphrase-42",
        }
        burst.ready.wait(timeout=300)
        for attempt in range(2 if i % 2 else 1):  # every other visitor double-clicks
            burst.timed(
                lambda: session.post(url, data=form, timeout=120, allow_redirects=False),
                expect=302,
                sample=attempt == 0,
            )

    burst.run(visitor)
    burst.report(ctx, f"checkouts ({visitors} at once, every other one posted twice)")
    orders = Order.objects.filter(customer__name__endswith=" Ltd").count()
    people = User.objects.filter(email__endswith="@bench.test").count()
    customers = Organization.objects.filter(kind=OrgKind.CUSTOMER, name__endswith=" Ltd").count()
    ctx.report(
        "orders / customers / people in the database",
        f"{orders} / {customers} / {people} (expected {visitors} each)",
    )
    if not orders == customers == people == visitors:
        raise SystemExit("duplicates or losses: the checkout is not idempotent")


def _api_orders(ctx: BenchContext, provider, offer) -> None:
    """The same number of orders at once through the API by signed-in customers: the ordering
    path without a sign-up (and so without hashing a new password)."""
    count = 40 if ctx.quick else VISITORS
    keys = []
    with transaction.atomic():
        for i in range(count):
            admin = portal_services.user_create(email=f"api{i}@api.bench.test", password=None)
            portal_services.customer_signup(
                user=admin, seller=provider, company_name=f"API customer {i}"
            )
            keys.append(portal_services.api_token_create(user=admin, name="bench")[1])
    customers = dict(
        Organization.objects.filter(name__startswith="API customer ").values_list("name", "pk")
    )
    burst = Burst(count)

    def client(i: int, base: str):
        body = {
            "customer": customers[f"API customer {i}"],
            "offer": offer.pk,
            "quantity": 3,
            "term": "monthly",
        }
        headers = {
            "Host": "shop.localhost",
            "Authorization": f"Token {keys[i]}",
            "Idempotency-Key": f"bench-{i}",
        }
        burst.ready.wait(timeout=300)
        for attempt in range(2 if i % 2 else 1):  # every other request is retried
            burst.timed(
                lambda: requests.post(
                    f"{base}/api/v1/orders/", json=body, headers=headers, timeout=120
                ),
                expect=201,
                sample=attempt == 0,
            )

    # The provisioning these orders start is queued for a worker (in memory here), not run in
    # the request as the test settings' eager mode would.
    from portal.celery import app

    app.conf.update(task_always_eager=False, broker_url="memory://")
    try:
        burst.run(client)
    finally:
        app.conf.update(task_always_eager=True)
    burst.report(ctx, f"API orders ({count} at once, every other one retried)")
    orders = Order.objects.filter(customer__name__startswith="API customer ").count()
    ctx.report("orders in the database", f"{orders} (expected {count})")
    if orders != count:
        raise SystemExit("duplicates or losses: ordering through the API is not idempotent")


def _redis_url() -> str:
    return (
        os.environ.get("REDIS_URL")
        or os.environ.get("TEST_REDIS_URL")
        or "redis://127.0.0.1:6379/14"
    )


def _to_box(ctx: BenchContext, provider, offer) -> None:
    from boxsim.testing import SimulatorError, start_simulator
    from tests.celery_worker import CeleryWorkers

    count = 3 if ctx.quick else 10
    seats = 3
    workdir = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    sim = start_simulator(data_path=workdir / "boxsim.sqlite3", rate_limit=0)
    with contextlib.suppress(SimulatorError):
        sim.control.create_app(
            "Box broker portal",
            client_id=settings.BOX_PLATFORM_CLIENT_ID,
            client_secret=settings.BOX_PLATFORM_CLIENT_SECRET,
        )
    run = uuid.uuid4().hex[:6]
    settings.BOX_ADMIN_LOGIN_TEMPLATE = f"box-admin-{run}-{{subscription}}@admins.bench.test"
    env = {
        "BOX_API_BASE_URL": sim.url,
        "BOX_UPLOAD_BASE_URL": sim.url + "/api",
        "BOX_OAUTH2_URL": sim.url + "/api/oauth2",
        "BOX_WEB_BASE_URL": sim.url,
        "BOX_MAILBOX_URL": sim.url,
        "BOX_RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
    }
    workers = CeleryWorkers(log_dir=workdir, redis_url=_redis_url())
    submitted: dict[int, float] = {}
    done: dict[int, float] = {}
    try:
        with workers.publishing():
            workers.start(queues=["provisioning", "default"], concurrency=2, env=env)
            for i in range(count):
                with transaction.atomic():
                    admin = portal_services.user_create(
                        email=f"admin{i}-{run}@box.bench.test", password=None
                    )
                    customer = portal_services.customer_signup(
                        user=admin, seller=provider, company_name=f"Box bench {i}"
                    )
                EmailAddress.objects.filter(user=admin).update(verified=True)
                with transaction.atomic():
                    order = services.order_create(
                        actor=admin,
                        customer=customer,
                        offer=offer,
                        quantity=seats,
                        term="monthly",
                        submit=True,
                    )
                    for s in range(seats):
                        services.seat_assign(
                            actor=admin,
                            subscription=order.subscription,
                            email=f"p{s}-{i}-{run}@box.bench.test",
                            name=f"Person {s}",
                        )
                submitted[order.subscription_id] = time.perf_counter()
            deadline = time.monotonic() + 600
            while len(done) < count and time.monotonic() < deadline:
                active = SeatAssignment.objects.filter(
                    subscription_id__in=submitted, status="active"
                ).values_list("subscription_id", flat=True)
                tally: dict[int, int] = {}
                for sub_id in active:
                    tally[sub_id] = tally.get(sub_id, 0) + 1
                now = time.perf_counter()
                for sub_id, n in tally.items():
                    if n == seats and sub_id not in done:
                        done[sub_id] = now - submitted[sub_id]
                time.sleep(0.2)
    finally:
        workers.stop_all()
        workers.cleanup_redis()
        sim.stop()
    times = sorted(done.values())
    ctx.report(
        f"orders carried out ({seats} seats each, Box account signed up in Chromium)",
        f"{len(done)} of {count}",
    )
    ctx.report(
        "submission to every Box user active p50 / p95",
        f"{percentile(times, 50):.1f} / {percentile(times, 95):.1f}",
        "s",
    )


def run(ctx: BenchContext) -> None:
    with transaction.atomic():
        provider, offer = _catalog()
    _checkouts(ctx, offer)
    _api_orders(ctx, provider, offer)
    _to_box(ctx, provider, offer)
