"""Tenancy: how the access helpers and the seller console scale with the size of the tree."""

from __future__ import annotations

import time

from django.test import Client

from benchmarks.harness import BenchContext, count_queries, latency_summary
from portal import access, services
from portal.actors import system
from portal.models import Organization, OrgKind

BENCH = system("benchmark")


def run(ctx: BenchContext) -> None:
    resellers = 20 if ctx.quick else 200
    customers_each = 5 if ctx.quick else 25
    provider = services.provider_create(
        actor=BENCH, name="Bench Provider", domains=["bench.localhost"]
    )
    admin = services.user_create(email="admin@bench.test", password=None)
    services.membership_create(actor=BENCH, organization=provider, user=admin, role="admin")
    started = time.perf_counter()
    for r in range(resellers):
        reseller = services.organization_create(
            actor=BENCH, parent=provider, kind=OrgKind.RESELLER, name=f"Reseller {r}"
        )
        for c in range(customers_each):
            services.organization_create(
                actor=BENCH, parent=reseller, kind=OrgKind.CUSTOMER, name=f"Customer {r}-{c}"
            )
    created = resellers * (customers_each + 1)
    elapsed = time.perf_counter() - started
    ctx.report("organizations created (through services)", created)
    ctx.report("creation throughput", created / elapsed, "orgs/s")

    target = Organization.objects.filter(kind=OrgKind.CUSTOMER).last()
    samples = []
    for _ in range(200):
        access.forget(admin)
        t = time.perf_counter()
        access.access_organization(admin, target.pk, action="members.manage")
        samples.append(time.perf_counter() - t)
    lat = latency_summary(samples)
    ctx.report("access_organization p50 / p95", f"{lat['p50']:.2f} / {lat['p95']:.2f}", "ms")

    client = Client(HTTP_HOST="bench.localhost")
    client.force_login(admin)
    url = f"/console/{provider.pk}/customers/"
    client.get(url)
    queries = count_queries(lambda: client.get(url))
    page_samples = []
    for _ in range(50):
        t = time.perf_counter()
        client.get(url)
        page_samples.append(time.perf_counter() - t)
    lat = latency_summary(page_samples)
    ctx.report(f"customers page ({Organization.objects.count()} orgs) queries", queries)
    ctx.report("customers page p50 / p95", f"{lat['p50']:.1f} / {lat['p95']:.1f}", "ms")
