"""Billing run: renew and bill 10,000 subscriptions (half of them with 31 days of
pay-per-use storage to rate), issue their invoices; beside the framework's floor measured in
the same run: reading the same usage rows once and bulk-writing the same invoices and lines
with nothing else (no rating, no locking, no numbering, no audit)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from benchmarks.harness import BenchContext
from billing.models import Invoice, InvoiceLine, UsageRecord
from billing.services.run import RUN, billing_run
from catalog import services as catalog_services
from catalog.models import Price
from orders.models import Subscription
from portal import clock
from portal import services as portal_services
from portal.actors import system
from portal.models import Organization, OrgKind

BENCH = system("benchmark")
JAN_1, FEB_1 = date(2027, 1, 1), date(2027, 2, 1)
GB = 1_073_741_824


def _world(count: int):
    clock.set_today(date(2026, 12, 1))
    provider = portal_services.provider_create(
        actor=BENCH, name="Bench Cloud", domains=["bill.localhost"]
    )
    plans = {p.code: p for p in catalog_services.plan_seed_defaults(actor=BENCH)}
    catalog_services.tax_rate_create(actor=BENCH, seller=provider, name="Tax", rate="10")
    business = catalog_services.price_create(
        actor=BENCH,
        seller=provider,
        plan=plans["business"],
        currency="USD",
        term="monthly",
        recurring="15.00",
        valid_from=date(2026, 12, 1),
    )
    starter = catalog_services.price_create(
        actor=BENCH,
        seller=provider,
        plan=plans["starter"],
        currency="USD",
        term="monthly",
        recurring="5.00",
        valid_from=date(2026, 12, 1),
        components=[
            {
                "metric": "storage_gb_month",
                "mode": "graduated",
                "tiers": [
                    {"up_to": "50", "unit_price": "0.10"},
                    {"up_to": None, "unit_price": "0.08"},
                ],
            }
        ],
    )
    offers = {
        code: catalog_services.offer_publish(actor=BENCH, seller=provider, plan=plans[code])
        for code in ("business", "starter")
    }
    # Set-up only (not measured): rows written in bulk.
    customers = Organization.objects.bulk_create(
        Organization(
            kind=OrgKind.CUSTOMER, parent=provider, name=f"Customer {n:05d}", path="", depth=1
        )
        for n in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE portal_organization SET path = %s || id || '/' WHERE kind = 'customer'",
            [provider.path],
        )
    subs = []
    for n, customer in enumerate(customers):
        code = "starter" if n % 2 else "business"
        price = starter if code == "starter" else business
        subs.append(
            Subscription(
                customer=customer,
                seller=provider,
                offer=offers[code],
                plan=plans[code],
                quantity=5,
                term="monthly",
                currency="USD",
                status="active",
                started_on=JAN_1,
                anchor_day=1,
                current_period_start=JAN_1,
                current_period_end=FEB_1,
                price=price,
                unit_price=price.recurring,
            )
        )
    subs = Subscription.objects.bulk_create(subs, batch_size=2000)
    rows = []
    for sub in subs:
        if sub.plan.code != "starter":
            continue
        for d in range(31):
            day = JAN_1 + timedelta(days=d)
            rows.append(
                UsageRecord(subscription=sub, metric="storage_bytes", day=day, value=(120 + d) * GB)
            )
            rows.append(UsageRecord(subscription=sub, metric="active_users", day=day, value=5))
    UsageRecord.objects.bulk_create(rows, batch_size=10_000)
    return provider, subs, len(rows)


def _floor(provider, subs) -> float:
    """The least a run must do, in bulk: read the usage once, write one invoice with two lines
    per subscription. Rolled back afterwards."""
    started = time.perf_counter()
    with transaction.atomic():
        list(UsageRecord.objects.filter(day__gte=JAN_1, day__lt=FEB_1).values_list(
            "subscription_id", "metric", "day", "value"))  # fmt: skip
        invoices = Invoice.objects.bulk_create(
            Invoice(
                seller=provider,
                buyer_id=sub.customer_id,
                currency="USD",
                source="period",
                billing_day=date(2027, 3, 1),
            )
            for sub in subs
        )
        InvoiceLine.objects.bulk_create(
            (
                InvoiceLine(
                    invoice=invoice,
                    position=p,
                    kind="recurring",
                    description="x",
                    quantity=5,
                    unit_price=Decimal("15"),
                    amount=Decimal("75"),
                    billed_by=provider,
                )
                for invoice in invoices
                for p in (1, 2)
            ),
            batch_size=5000,
        )
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def run(ctx: BenchContext) -> None:
    count = 1000 if ctx.quick else 10_000
    provider, subs, usage_rows = _world(count)
    ctx.report("subscriptions / usage rows to rate", f"{count:,} / {usage_rows:,}")
    floor = _floor(provider, subs)
    clock.set_today(FEB_1)
    # The run's own work: what it hands to other queues (PDFs, e-mail, automatic payment) is
    # published, not carried out inline.
    from portal.celery import app

    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = billing_run(actor=RUN, day=FEB_1)
            elapsed = time.perf_counter() - started
    finally:
        app.conf.task_always_eager = eager
    issued = Invoice.objects.filter(billing_day=FEB_1, state="issued").count()
    assert issued == count, (issued, result.log[:3])
    ctx.report("billing run: wall time", elapsed, "s")
    ctx.report("billing run: invoices per second", issued / elapsed, "inv/s")
    ctx.report("billing run: queries per subscription", len(queries) / count)
    ctx.report("floor (bulk read usage + bulk write invoices): wall time", floor, "s")
    ctx.report("run / floor", elapsed / floor, "x")
    total = sum(Invoice.objects.filter(billing_day=FEB_1).values_list("total", flat=True))
    ctx.report("invoiced (check)", f"{total:,.2f} USD")
    assert Price.objects.count() >= 2
