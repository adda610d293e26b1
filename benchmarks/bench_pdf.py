"""Invoice PDFs: the portal's rendering path against raw WeasyPrint, in the same run.

A reseller (with a logo) issues 50 invoices of 10 to 30 lines (quick: 8) through the billing
services. Then, in alternating rounds so that neither side gets a warmer machine:

- raw: WeasyPrint alone turns the same HTML strings into PDF bytes (``HTML(...).write_pdf()``
  with the same local-only URL fetcher), nothing else;
- service: ``billing.services.documents.invoice_render`` for each invoice, the whole path: read
  the invoice and its lines, render the template, WeasyPrint, store the file in private
  storage, SHA-256, record it on the row (and the audit log).

Figures: invoices per second of each and their ratio (the service path aims at 0.9 of raw or
better), the time of one invoice (p50, p95), and the size of the PDFs.
"""

from __future__ import annotations

import io
import random
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

from django.core.files.base import ContentFile
from django.db import transaction
from django.test.utils import override_settings

from benchmarks.harness import BenchContext, latency_summary
from billing import pdf
from billing.models import Invoice, InvoiceSource
from billing.services import documents, rating
from billing.services.invoices import draft_for, invoice_issue, lines_add
from catalog import services as catalog_services
from portal import services as portal_services
from portal.actors import system
from portal.models import OrgKind
from portal.storage import private_storage

BENCH = system("benchmark")
PLANS = ("Business", "Business Plus", "Enterprise", "Starter", "Storage add-on")


def _logo() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (240, 80), "#0a7d4f").save(buffer, format="PNG")
    return buffer.getvalue()


def _world(count: int) -> list[Invoice]:
    provider = portal_services.provider_create(
        actor=BENCH, name="Bench Cloud", domains=["pdf.localhost"]
    )
    reseller = portal_services.organization_create(
        actor=BENCH, parent=provider, kind=OrgKind.RESELLER, name="Bench Reseller"
    )
    portal_services.brand_update(
        actor=BENCH,
        brand=reseller.brand,
        logo=ContentFile(_logo(), name="bench-logo.png"),
        legal_name="Bench Reseller Ltd",
        legal_address="1 Harbour Street\nPortsmouth PO1 1AA\nUnited Kingdom",
        invoice_footer="Bench Reseller Ltd, registered in England no. 0123456",
        support_email="accounts@bench.test",
    )
    tax = catalog_services.tax_rate_create(
        actor=BENCH, seller=reseller, name="Sales tax", rate="20.00"
    )
    rng = random.Random(7)
    customers = [
        portal_services.organization_create(
            actor=BENCH,
            parent=reseller,
            kind=OrgKind.CUSTOMER,
            name=f"Customer {n:02d}",
            address_line1=f"{n} Quay Road",
            city="Bristol",
            postal_code="BS1 4AB",
            tax_id=f"GB{100000000 + n}",
        )
        for n in range(10)
    ]
    invoices = []
    # Issuing would start the PDF task at commit; the benchmark renders them itself.
    with mock.patch.object(documents, "after_issue"):
        for n in range(count):
            day = date(2027, 1, 1) + timedelta(days=n)
            with transaction.atomic():
                draft = draft_for(
                    seller=reseller,
                    buyer=customers[n % len(customers)],
                    currency="USD",
                    billing_day=day,
                    source=InvoiceSource.PERIOD,
                )
                lines = []
                for i in range(rng.randint(10, 30)):
                    quantity = Decimal(rng.randint(1, 400))
                    unit = Decimal(rng.randint(100, 250000)) / 100
                    lines.append(
                        rating.RatedLine(
                            kind="recurring",
                            description=f"{PLANS[i % len(PLANS)]}, {quantity} seats, "
                            f"{day:%d %b %Y} to {day + timedelta(days=30):%d %b %Y}",
                            quantity=quantity,
                            unit_price=unit,
                            amount=quantity * unit,
                            service_start=day,
                            service_end=day + timedelta(days=31),
                            tax_rate_id=tax.pk,
                            tax_percent=tax.rate,
                            tax_name=tax.name,
                        )
                    )
                lines_add(draft, lines)
                invoices.append(invoice_issue(actor=BENCH, invoice=draft))
    return invoices


def _raw(htmls: list[tuple[str, set[str]]]) -> list[float]:
    from weasyprint import HTML

    times = []
    for html, media in htmls:
        started = time.perf_counter()
        HTML(string=html, base_url=None, url_fetcher=pdf.fetcher(media)).write_pdf()
        times.append(time.perf_counter() - started)
    return times


def _service(invoices: list[Invoice]) -> list[float]:
    times = []
    for invoice in invoices:
        started = time.perf_counter()
        documents.invoice_render(actor=BENCH, invoice=invoice)
        times.append(time.perf_counter() - started)
    return times


def run(ctx: BenchContext) -> None:
    count = 8 if ctx.quick else 50
    rounds = 2 if ctx.quick else 3
    private = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    media = Path(tempfile.mkdtemp(prefix="bench-media-"))
    try:
        with override_settings(PRIVATE_MEDIA_ROOT=private, MEDIA_ROOT=media):
            _measure(ctx, count, rounds)
    finally:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(media, ignore_errors=True)


def _measure(ctx: BenchContext, count: int, rounds: int) -> None:
    # A stored PDF is never rendered again (and PostgreSQL refuses to unset it): each round
    # renders invoices of its own, and raw WeasyPrint renders the same invoices' HTML.
    invoices = _world(1 + count * rounds)
    warm, sets = invoices[0], [invoices[1 + n * count : 1 + (n + 1) * count] for n in range(rounds)]
    lines = [i.lines.exclude(kind="tax").count() for i in invoices[1:]]
    ctx.report("invoices per round (lines each, min-max)", f"{count} ({min(lines)}-{max(lines)})")
    # Warm up both paths once (fonts, templates, the first connection).
    _raw([_html(warm)])
    _service([warm])

    raw_rounds, service_rounds, samples = [], [], []
    for n, batch in enumerate(sets):
        htmls = [_html(i) for i in batch]
        # Alternate which side goes first, so neither always runs on a warmer machine.
        for side in ("raw", "service") if n % 2 == 0 else ("service", "raw"):
            if side == "raw":
                raw_rounds.append(sum(_raw(htmls)))
            else:
                times = _service(batch)
                service_rounds.append(sum(times))
                samples.extend(times)
    raw_best, service_best = min(raw_rounds), min(service_rounds)
    raw_rate, service_rate = count / raw_best, count / service_best
    ctx.report("raw WeasyPrint (same HTML strings), best round", raw_rate, "invoices/s")
    ctx.report("service path (template+WeasyPrint+storage+sha256)", service_rate, "invoices/s")
    ctx.report("service / raw, best rounds (aim: 0.90 or better)", service_rate / raw_rate)
    raw_median, service_median = statistics.median(raw_rounds), statistics.median(service_rounds)
    ctx.report("service / raw, median rounds", raw_median / service_median)
    lat = latency_summary(samples)
    ctx.report("one invoice, service path p50 / p95", f"{lat['p50']:.0f} / {lat['p95']:.0f}", "ms")
    stored = Invoice.objects.exclude(pdf_sha256="")
    assert stored.count() == 1 + count * rounds
    sizes = [private_storage().size(i.pdf.name) for i in stored]
    ctx.report("PDF size mean", statistics.fmean(sizes) / 1024, "KiB")


def _html(invoice: Invoice) -> tuple[str, set[str]]:
    return pdf.invoice_html(invoice), {pdf.logo_of(invoice)} - {""}
