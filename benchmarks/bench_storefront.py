"""Storefront: a reseller's offer page with 50 offers, 200 resellers in the database, served by
gunicorn with two workers from the benchmark's database, side by side with an anonymous API call
on the same server, with the storefront cache off and then on.

Everything is built through the services: 50 plans with provider retail and wholesale prices,
offers open to every reseller, 200 resellers each selling some of them at their own prices
(the measured one sells all 50, with trials and an automatic promotion). Reports the queries
per page (which must not depend on the number of offers; none on a cache hit), then for each
cache setting the requests per second of the offer list and of ``GET /api/v1/me/`` without
credentials (a 401: middleware, DRF's authentication and the error body, the floor of what the
server can answer), and their ratio.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from benchmarks.harness import BenchContext, count_queries
from catalog import services as catalog_services
from portal import services
from portal.actors import system
from portal.models import BrandDomain, OrgKind

BENCH = system("benchmark")

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
CONCURRENCY = 16


def _price(seller, plan, recurring, *, audience="retail", term="monthly", buyer=None):
    catalog_services.price_create(
        actor=BENCH,
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
    provider = services.provider_create(
        actor=BENCH, name="Bench Provider", domains=["bench.localhost"]
    )
    plans = catalog_services.plan_seed_defaults(actor=BENCH)
    for n in range(offers - len(plans)):
        plans.append(
            catalog_services.plan_create(
                actor=BENCH,
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
            actor=BENCH, seller=provider, plan=plan, available_to_all_resellers=True
        )
    measured = None
    for r in range(resellers):
        reseller = services.organization_create(
            actor=BENCH, parent=provider, kind=OrgKind.RESELLER, name=f"Reseller {r}"
        )
        BrandDomain.objects.create(
            brand=reseller.brand, domain=f"reseller-{r}.localhost", is_primary=True
        )
        chosen = plans if r == 0 else rng.sample(plans, picked_by_others)
        if r % 10 == 5:  # some resellers get a better wholesale price
            _price(provider, chosen[0], "5.00", audience="wholesale", buyer=reseller)
        for plan in chosen:
            catalog_services.offer_publish(
                actor=BENCH, seller=reseller, plan=plan, trial_days=14 if r == 0 else 0
            )
            base = 10 + plans.index(plan)  # the provider's list price; its cost is base - 3
            _price(reseller, plan, f"{base + rng.randint(0, 5)}.00")
            if r == 0:
                _price(reseller, plan, f"{base * 10 + rng.randint(0, 50)}.00", term="annual")
        if r == 0:
            measured = reseller
            catalog_services.promotion_create(
                actor=BENCH,
                seller=reseller,
                name="Spring",
                discount_type="percent",
                percent="10",
                duration="once",
                plans=plans[:3],
            )
            catalog_services.tax_rate_create(actor=BENCH, seller=reseller, name="Tax", rate="8")
    return measured, len(plans), resellers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn(port: int, *, cache_seconds: int) -> subprocess.Popen:
    """gunicorn serving the portal from this run's database (its sync workers, as deployed)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "PORTAL_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "STOREFRONT_CACHE_SECONDS": str(cache_seconds),
    }
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "portal.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={WORKERS}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


async def _load(port: int, host: str, path: str, seconds: float) -> tuple[int, dict[int, int]]:
    """As many requests as CONCURRENCY clients make in ``seconds``, one connection each (the
    sync worker closes it after its answer); a small asyncio client, so that measuring costs
    the two cores little."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds

    async def client():
        while time.perf_counter() < deadline:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            answer = await reader.read()
            writer.close()
            status = int(answer[9:12]) if answer[:5] == b"HTTP/" else 0
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return sum(statuses.values()), statuses


def _rate(port: int, host: str, path: str, seconds: float) -> tuple[float, dict[int, int]]:
    asyncio.run(_load(port, host, path, 1.0))  # warm both workers (and the cache)
    started = time.perf_counter()
    count, statuses = asyncio.run(_load(port, host, path, seconds))
    return count / (time.perf_counter() - started), statuses


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
    ctx.report("queries per offer page, cache hit", count_queries(lambda: client.get("/offers/")))
    with_cache = settings.STOREFRONT_CACHE_SECONDS
    settings.STOREFRONT_CACHE_SECONDS = 0
    try:
        ctx.report(
            "queries per offer page, rendered", count_queries(lambda: client.get("/offers/"))
        )
        other = Client(HTTP_HOST="reseller-1.localhost")
        other.get("/offers/")
        ctx.report(
            "queries per offer page, rendered (10 offers, no promotion)",
            count_queries(lambda: other.get("/offers/")),
        )
    finally:
        settings.STOREFRONT_CACHE_SECONDS = with_cache

    seconds = 3.0 if ctx.quick else 10.0
    ctx.report(
        "server", f"gunicorn, {WORKERS} sync workers, {connection.vendor}, {CONCURRENCY} clients"
    )
    for label, cache_seconds in (("cache off", 0), ("cache on", 600)):
        port = _free_port()
        server = _gunicorn(port, cache_seconds=cache_seconds)
        try:
            _wait_until_up(port)
            page, page_statuses = _rate(port, host, "/offers/", seconds)
            api, api_statuses = _rate(port, host, "/api/v1/me/", seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
        assert set(page_statuses) == {200}, page_statuses
        assert set(api_statuses) == {401}, api_statuses
        ctx.report(f"{label}: reseller offer list", page, "req/s")
        ctx.report(f"{label}: anonymous API call (401)", api, "req/s")
        ctx.report(f"{label}: ratio offer list / API call", page / api)
