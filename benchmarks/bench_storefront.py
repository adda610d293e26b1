"""Storefront: a reseller's offer page with 50 offers, 200 resellers in the database, served by
a real threaded HTTP server to 20 concurrent clients.

Everything is built through the services: 50 plans with provider retail and wholesale prices,
offers open to every reseller, 200 resellers each selling some of them at their own prices
(the measured one sells all 50, with trials and an automatic promotion). Reports requests per
second, latency percentiles and the number of queries per page (which must not depend on the
number of offers).
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import requests
from django.core.wsgi import get_wsgi_application
from django.db import connection, transaction
from django.test import Client

from benchmarks.harness import BenchContext, count_queries, latency_summary
from catalog import services as catalog_services
from portal import services
from portal.models import BrandDomain, OrgKind

CLIENTS = 20


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class PooledWSGIServer(WSGIServer):
    """wsgiref's server answering each connection on a fixed pool of threads (as a threaded
    application server does), so each worker keeps its database connection."""

    request_queue_size = 1024  # the listen backlog: many clients connect at the same moment

    def __init__(self, address, workers: int):
        super().__init__(address, _QuietHandler)
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="web")

    def process_request(self, request, client_address):
        self.pool.submit(self._answer, request, client_address)

    def _answer(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def close_worker_connections(self) -> None:
        """Close the database connection each worker thread opened (one task per thread)."""
        barrier = threading.Barrier(self.workers)

        def close():
            barrier.wait(timeout=10)
            connection.close()

        for future in [self.pool.submit(close) for _ in range(self.workers)]:
            future.result()
        self.pool.shutdown()


def _price(seller, plan, recurring, *, audience="retail", term="monthly", buyer=None):
    catalog_services.price_create(
        actor=None,
        seller=seller,
        plan=plan,
        audience=audience,
        buyer=buyer,
        currency="USD",
        term=term,
        recurring=recurring,
    )


def build(ctx: BenchContext):
    offers = 10 if ctx.quick else 50
    resellers = 20 if ctx.quick else 200
    picked_by_others = 5 if ctx.quick else 10
    rng = random.Random(7)
    provider = services.provider_create(name="Bench Provider", domains=["bench.localhost"])
    plans = catalog_services.plan_seed_defaults()
    for n in range(offers - len(plans)):
        plans.append(
            catalog_services.plan_create(
                actor=None,
                code=f"bundle-{n}",
                name=f"Business bundle {n}",
                box_plan_code="business",
                storage_mode="unlimited",
                max_upload_mb=5120,
                seat_min=3,
                sort_order=100 + n,
            )
        )
    for i, plan in enumerate(plans):
        base = 10 + i
        _price(provider, plan, f"{base}.00")
        _price(provider, plan, f"{base * 10}.00", term="annual")
        _price(provider, plan, f"{base - 3}.00", audience="wholesale")
        _price(provider, plan, f"{(base - 3) * 10}.00", audience="wholesale", term="annual")
        catalog_services.offer_publish(
            actor=None, seller=provider, plan=plan, available_to_all_resellers=True
        )
    measured = None
    for r in range(resellers):
        reseller = services.organization_create(
            actor=None, parent=provider, kind=OrgKind.RESELLER, name=f"Reseller {r}"
        )
        BrandDomain.objects.create(
            brand=reseller.brand, domain=f"reseller-{r}.localhost", is_primary=True
        )
        chosen = plans if r == 0 else rng.sample(plans, picked_by_others)
        if r % 10 == 5:  # some resellers get a better wholesale price
            _price(provider, chosen[0], "5.00", audience="wholesale", buyer=reseller)
        for plan in chosen:
            catalog_services.offer_publish(
                actor=None, seller=reseller, plan=plan, trial_days=14 if r == 0 else 0
            )
            base = 10 + plans.index(plan)  # the provider's list price; its cost is base - 3
            _price(reseller, plan, f"{base + rng.randint(0, 5)}.00")
            if r == 0:
                _price(reseller, plan, f"{base * 10 + rng.randint(0, 50)}.00", term="annual")
        if r == 0:
            measured = reseller
            catalog_services.promotion_create(
                actor=None,
                seller=reseller,
                name="Spring",
                discount_type="percent",
                percent="10",
                duration="once",
                plans=plans[:3],
            )
            catalog_services.tax_rate_create(actor=None, seller=reseller, name="Tax", rate="8")
    return measured, len(plans), resellers


def run(ctx: BenchContext) -> None:
    from catalog.models import Offer, Price

    started = time.perf_counter()
    with transaction.atomic():
        _, offers, resellers = build(ctx)
    ctx.report("built through services", f"{offers} offers, {resellers} resellers")
    ctx.report(
        "offers / price versions in the database",
        f"{Offer.objects.count()} / {Price.objects.count()}",
    )
    ctx.report("build time", time.perf_counter() - started, "s")

    host = "reseller-0.localhost"
    client = Client(HTTP_HOST=host)
    first = client.get("/offers/")
    assert first.status_code == 200, first.status_code
    assert first.content.decode().count('data-testid="offer-') == offers
    ctx.report("queries per offer page", count_queries(lambda: client.get("/offers/")))
    other = Client(HTTP_HOST="reseller-1.localhost")
    other.get("/offers/")
    ctx.report(
        "queries per offer page (a reseller with 10 offers, no promotion)",
        count_queries(lambda: other.get("/offers/")),
    )

    server = PooledWSGIServer(("127.0.0.1", 0), workers=CLIENTS)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/offers/"
    per_client = 5 if ctx.quick else 40
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def visitor():
        session = requests.Session()
        session.headers["Host"] = host
        for _ in range(per_client):
            t = time.perf_counter()
            response = session.get(url, timeout=60)
            elapsed = time.perf_counter() - t
            with lock:
                latencies.append(elapsed)
                if response.status_code != 200:
                    errors.append(str(response.status_code))

    try:
        for _ in range(CLIENTS):  # warm every worker
            requests.get(url, headers={"Host": host}, timeout=60)
        clients = [threading.Thread(target=visitor) for _ in range(CLIENTS)]
        started = time.perf_counter()
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        wall = time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()
        server.close_worker_connections()
    lat = latency_summary(latencies)
    ctx.report("requests (20 concurrent clients)", len(latencies))
    ctx.report("errors", len(errors))
    ctx.report("throughput", len(latencies) / wall, "req/s")
    ctx.report(
        "latency p50 / p95 / p99",
        f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f}",
        "ms",
    )
