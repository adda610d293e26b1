"""Usage: ingestion through the service path, and the nightly collection against the simulator.

1. Ingestion. 2,000 subscriptions (each a Box account with an admin and four people holding
   seats) x 30 days: every day's per-user usage of all accounts goes through
   ``billing.services.usage.usage_ingest`` (per-user rows upserted, the day's records of each
   subscription computed from them and the seats and upserted, the billing hook told), one call
   per day. Figures: usage records (one per subscription, metric and day) per second, and all
   rows (per-user + records) per second, beside the floor measured in the same run: a plain
   ``bulk_create`` of exactly the same rows into the empty tables. Then the same 30 days again
   (every row updated in place) and the backfill path (``usage_reaggregate`` of the 30 days).
2. Nightly collection against the real simulator, through Box's SDK and the shared rate limiter
   (1,000 calls a minute, the production setting), for accounts of 10, 1,000 and 2,500 users:
   Box API calls per account, counted on the wire (every HTTP request to the simulator, the
   token request included) and by the collection itself, against the floor
   1 token + ceil(users / 1,000); and the wall time of one account's collection.

Run it on PostgreSQL (``DATABASE_URL``) for the figures that matter.
"""

from __future__ import annotations

import contextlib
import math
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings

from benchmarks.harness import BenchContext
from billing.models import BoxUserUsage, UsageRecord
from billing.services import usage
from boxsim.testing import SimulatorError, box_client, start_simulator
from catalog import services as catalog_services
from orders.models import SeatAssignment, Subscription
from portal import services as portal_services
from portal.actors import system
from portal.models import OrgKind
from provisioning import engine
from provisioning import services as provisioning_services
from provisioning.connector.api_driver import _CLIENTS
from provisioning.models import BoxAccount, BoxUser

BENCH = system("benchmark")
FIRST_DAY = date(2027, 1, 1)
PEOPLE = 4  # per account, besides the primary admin


def _catalog():
    provider = portal_services.provider_create(
        actor=BENCH, name="Usage Bench Cloud", domains=["usage-bench.localhost"]
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
    customer = portal_services.organization_create(
        actor=BENCH, parent=provider, kind=OrgKind.CUSTOMER, name="Usage Bench Customer"
    )
    return provider, customer, offer


def _subscription(provider, customer, offer, account) -> Subscription:
    return Subscription(
        customer=customer,
        seller=provider,
        offer=offer,
        plan=offer.plan,
        quantity=PEOPLE + 1,
        term="monthly",
        currency="USD",
        status="active",
        started_on=FIRST_DAY,
        anchor_day=1,
        current_period_start=FIRST_DAY,
        current_period_end=date(2027, 2, 1),
        unit_price=Decimal("15.00"),
        box_account=account,
    )


def _build_fleet(provider, customer, offer, count: int):
    """``count`` subscriptions, each with a Box account, its admin and PEOPLE seated users,
    written with bulk inserts (the set-up is not what is measured)."""
    tag = uuid.uuid4().hex[:6]
    accounts = BoxAccount.objects.bulk_create(
        [
            BoxAccount(
                customer=customer,
                reference=f"bench {tag} {n}",
                plan_code="business",
                seats=PEOPLE + 1,
                status="active",
                box_enterprise_id=str(80_000_000 + n),
                admin_login=f"admin{n}@bench.example.com",
                admin_name="Bench Admin",
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    subs = Subscription.objects.bulk_create(
        [_subscription(provider, customer, offer, a) for a in accounts], batch_size=1000
    )
    users = BoxUser.objects.bulk_create(
        [
            BoxUser(
                account=a,
                box_user_id=str(31_000_000_000 + n * 10 + k),
                login=f"u{k}.{n}@bench.example.com",
                name=f"User {k}",
                role="admin" if k == 0 else "user",
                status="active",
                external_app_user_id="portal:primary-admin" if k == 0 else f"seat-{n}-{k}",
            )
            for n, a in enumerate(accounts)
            for k in range(PEOPLE + 1)
        ],
        batch_size=2000,
    )
    by_account: dict[int, list[BoxUser]] = {}
    for user in users:
        by_account.setdefault(user.account_id, []).append(user)
    sub_of = {s.box_account_id: s for s in subs}
    SeatAssignment.objects.bulk_create(
        [
            SeatAssignment(
                subscription=sub_of[account_id],
                email=user.login,
                name=user.name,
                status="active",
                box_user=user,
            )
            for account_id, members in by_account.items()
            for user in members
            if user.role != "admin"
        ],
        batch_size=2000,
    )
    return accounts, by_account


def _observations(by_account, day_index: int) -> dict[int, list[usage.UserUsage]]:
    rng = random.Random(day_index)
    return {
        account_id: [
            usage.UserUsage(
                u.pk,
                rng.randrange(0, 50 * 1024**3),
                "inactive" if rng.random() < 0.05 else "active",
            )
            for u in members
        ]
        for account_id, members in by_account.items()
    }


def _empty_usage_tables() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE billing_boxuserusage, billing_usagerecord")
    else:
        BoxUserUsage.objects.all().delete()
        UsageRecord.objects.all().delete()


def _ingest_all(by_account, days: int) -> float:
    started = time.perf_counter()
    for d in range(days):
        usage.usage_ingest(
            day=FIRST_DAY + timedelta(days=d),
            observations=_observations(by_account, d),
            actor=BENCH,
        )
    return time.perf_counter() - started


def _floor(by_account, subs_by_account, days: int) -> float:
    """The same rows, written by a plain bulk_create into empty tables."""
    started = time.perf_counter()
    for d in range(days):
        day = FIRST_DAY + timedelta(days=d)
        observations = _observations(by_account, d)
        with transaction.atomic():
            BoxUserUsage.objects.bulk_create(
                [
                    BoxUserUsage(
                        box_user_id=o.box_user_id,
                        account_id=account_id,
                        day=day,
                        space_used=o.space_used,
                        status=o.status,
                    )
                    for account_id, users in observations.items()
                    for o in users
                ],
                batch_size=2000,
            )
            UsageRecord.objects.bulk_create(
                [
                    UsageRecord(
                        subscription_id=subs_by_account[account_id], metric=m, day=day, value=1
                    )
                    for account_id in observations
                    for m in ("storage_bytes", "active_users", "seats_held")
                ],
                batch_size=2000,
            )
    return time.perf_counter() - started


def _copy_floor(by_account, subs_by_account, days: int) -> float:
    """The same rows through PostgreSQL's COPY: the database's own floor."""
    started = time.perf_counter()
    for d in range(days):
        day = FIRST_DAY + timedelta(days=d)
        observations = _observations(by_account, d)
        now = time.time()
        stamp = datetime.fromtimestamp(now, tz=UTC)
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.copy(
                "COPY billing_boxuserusage (box_user_id, account_id, day, space_used, status, "
                "collected_at) FROM STDIN"
            ) as copy:
                for account_id, users in observations.items():
                    for o in users:
                        copy.write_row(
                            (o.box_user_id, account_id, day, o.space_used, o.status, stamp)
                        )
            with cursor.copy(
                "COPY billing_usagerecord (subscription_id, metric, day, value, collected_at) "
                "FROM STDIN"
            ) as copy:
                for account_id in observations:
                    for m in ("storage_bytes", "active_users", "seats_held"):
                        copy.write_row((subs_by_account[account_id], m, day, 1, stamp))
    return time.perf_counter() - started


def _bench_ingestion(ctx: BenchContext, provider, customer, offer) -> None:
    count, days = (200, 5) if ctx.quick else (2000, 30)
    _accounts, by_account = _build_fleet(provider, customer, offer, count)
    subs_by_account = dict(
        Subscription.objects.filter(box_account_id__in=list(by_account)).values_list(
            "box_account_id", "pk"
        )
    )
    records = count * days * 3
    rows = records + count * days * (PEOPLE + 1)
    ctx.report("subscriptions x days", f"{count:,} x {days}")
    ctx.report("usage records written (3 per subscription-day)", f"{records:,}")
    ctx.report("all rows written (per-user + records)", f"{rows:,}")

    _empty_usage_tables()
    floor = _floor(by_account, subs_by_account, days)
    copy_floor = None
    if connection.vendor == "postgresql":
        _empty_usage_tables()
        copy_floor = _copy_floor(by_account, subs_by_account, days)
    _empty_usage_tables()
    service = _ingest_all(by_account, days)
    assert UsageRecord.objects.count() == records
    again = _ingest_all(by_account, days)  # every row updated in place
    assert UsageRecord.objects.count() == records
    started = time.perf_counter()
    report = usage.usage_reaggregate(
        start=FIRST_DAY, end=FIRST_DAY + timedelta(days=days - 1), actor=BENCH
    )
    reaggregate = time.perf_counter() - started
    assert report.records == records

    ctx.report("service path: usage records/s", records / service, "records/s")
    ctx.report("service path: all rows/s", rows / service, "rows/s")
    ctx.report("floor (bulk_create of the same rows): records/s", records / floor, "records/s")
    ctx.report("floor: all rows/s", rows / floor, "rows/s")
    ctx.report("service / floor", service / floor, "x the floor's time")
    if copy_floor is not None:
        ctx.report("floor (COPY of the same rows): records/s", records / copy_floor, "records/s")
        ctx.report("floor (COPY): all rows/s", rows / copy_floor, "rows/s")
        ctx.report("service / COPY floor", service / copy_floor, "x the floor's time")
    ctx.report("the same days again (all updates): records/s", records / again, "records/s")
    ctx.report(
        "re-aggregation (backfill) of the days: records/s", records / reaggregate, "records/s"
    )


# --- the nightly collection against the simulator ---------------------------------------------


class WireCount:
    """Every HTTP request this process sends to ``base`` (counted below the SDK)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.api = 0
        self.token = 0

    @contextlib.contextmanager
    def counting(self):
        original = requests.Session.send
        counter = self

        def send(session, request, **kwargs):
            if request.url.startswith(counter.base):
                if request.url.rstrip("/").endswith("/oauth2/token"):
                    counter.token += 1
                else:
                    counter.api += 1
            return original(session, request, **kwargs)

        requests.Session.send = send
        try:
            yield self
        finally:
            requests.Session.send = original


def _sim_account(sim, provider, customer, offer, users: int):
    with contextlib.suppress(SimulatorError):
        sim.control.create_app(
            "Box broker portal",
            client_id=settings.BOX_PLATFORM_CLIENT_ID,
            client_secret=settings.BOX_PLATFORM_CLIENT_SECRET,
        )
    enterprise = sim.control.create_enterprise(
        name=f"Usage bench {users}",
        plan="enterprise",
        seats=users + 5,
        client_id=settings.BOX_PLATFORM_CLIENT_ID,
    )
    account = provisioning_services.box_account_link(
        customer=customer,
        box_enterprise_id=enterprise["enterprise_id"],
        plan_code="enterprise",
        seats=users + 5,
        admin_login=enterprise["admin_login"],
        admin_name="Bench Admin",
        admin_password=enterprise["admin_password"],
        actor=BENCH,
    )
    engine.run_until_idle([account.pk], timeout=60)  # the primary admin is recorded
    _subscription(provider, customer, offer, account).save()
    if users > 1:
        sim.control.bulk_users(enterprise["enterprise_id"], users - 1)
    # the portal knows every user (as if it had made them): one BoxUser and one seat each
    client = box_client(
        sim.url,
        settings.BOX_PLATFORM_CLIENT_ID,
        settings.BOX_PLATFORM_CLIENT_SECRET,
        enterprise["enterprise_id"],
    )
    known = set(BoxUser.objects.filter(account=account).values_list("box_user_id", flat=True))
    remote, marker = [], None
    while True:
        page = client.users.get_users(
            user_type="managed", usemarker=True, marker=marker, limit=1000, fields=["id", "login"]
        )
        remote += [u for u in page.entries if u.id not in known]
        marker = page.next_marker
        if not marker:
            break
    made = BoxUser.objects.bulk_create(
        [
            BoxUser(
                account=account,
                box_user_id=u.id,
                login=u.login,
                name="Bench user",
                status="active",
                external_app_user_id=f"bulk-{u.id}",
            )
            for u in remote
        ],
        batch_size=2000,
    )
    sub = Subscription.objects.get(box_account=account)
    SeatAssignment.objects.bulk_create(
        [
            SeatAssignment(
                subscription=sub, email=u.login, name=u.name, status="active", box_user=u
            )
            for u in made
        ],
        batch_size=2000,
    )
    return account


def _bench_collection(ctx: BenchContext, provider, customer, offer) -> None:
    sizes = (10, 100, 250) if ctx.quick else (10, 1000, 2500)
    workdir = Path(tempfile.mkdtemp(prefix="bench-usage-"))
    sim = start_simulator(data_path=workdir / "boxsim.sqlite3", rate_limit=1000)
    overrides = {
        "BOX_API_BASE_URL": sim.url,
        "BOX_UPLOAD_BASE_URL": sim.url + "/api",
        "BOX_OAUTH2_URL": sim.url + "/api/oauth2",
        "BOX_WEB_BASE_URL": sim.url,
        "BOX_RATE_LIMIT_PER_MINUTE": 1000,
        "BOX_RATE_LIMIT_KEY_PREFIX": f"bench-usage-{uuid.uuid4().hex[:8]}",
    }
    try:
        with override_settings(**overrides):
            ctx.report("mode", "in-process, Box SDK, shared limiter at 1,000 calls/min")
            day = FIRST_DAY + timedelta(days=100)
            for users in sizes:
                account = _sim_account(sim, provider, customer, offer, users)
                _CLIENTS.clear()  # a fresh SDK client: the token request is part of the cost
                collection = usage.usage_collection_request(account=account, day=day, actor=BENCH)
                wire = WireCount(sim.url)
                started = time.perf_counter()
                with wire.counting():
                    collection = usage.usage_collection_collect(collection=collection, actor=BENCH)
                wall = time.perf_counter() - started
                if collection.state != "succeeded":
                    raise RuntimeError(f"collection failed: {collection.last_error}")
                floor = 1 + math.ceil(users / 1000)
                ctx.report(
                    f"{users:>5} users: calls on the wire (token + API) / floor",
                    f"{wire.token} + {wire.api} = {wire.token + wire.api} / {floor}",
                )
                ctx.report(
                    f"{users:>5} users: calls counted by the collection", collection.api_calls
                )
                ctx.report(f"{users:>5} users: one account's collection", wall, "s")
    finally:
        sim.stop()
        _CLIENTS.clear()


def run(ctx: BenchContext) -> None:
    provider, customer, offer = _catalog()
    _bench_ingestion(ctx, provider, customer, offer)
    _bench_collection(ctx, provider, customer, offer)
