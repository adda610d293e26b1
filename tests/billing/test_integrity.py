"""What the database guarantees (PostgreSQL): issued documents never change, numbers stay
gapless under concurrency, two runs at once bill like one, a killed run is finished by the
next one."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction

from billing.models import (
    BilledPeriod,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceState,
)
from billing.services.credit_notes import credit_note_create
from billing.services.invoices import invoice_issue, invoice_mark_paid
from billing.services.run import RUN, billing_run
from orders import services as orders
from payments.services.accounts import invoice_terms_set
from portal import clock
from tests.billing.conftest import SYSTEM
from tests.factories import make_org
from tests.orders.conftest import run_jobs

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL's triggers and row locks"
    ),
]

JAN_1, FEB_1 = date(2027, 1, 1), date(2027, 2, 1)


@pytest.fixture(autouse=True)
def _tasks_not_run_inline():
    """Committed transactions here would run their tasks inline (eagerly) against the real
    Box connector; these tests provision with the recording connector instead."""
    from portal.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = eager


def many(tree, world, fake, count: int):
    """``count`` customers of the provider with 5 Business seats each, from 1 January."""
    clock.set_today(JAN_1)
    subs = []
    for n in range(count):
        customer = make_org(tree["P"], "customer", f"Buyer {n:03d}")
        invoice_terms_set(actor=SYSTEM, buyer=customer, days=14)
        placed = orders.order_create(
            actor=SYSTEM,
            customer=customer,
            offer=world["offer"],
            quantity=5,
            term="monthly",
            submit=True,
        )
        subs.append(placed)
    run_jobs(fake)
    return [o.subscription for o in subs]


def in_threads(*calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait(10)
            call()
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()  # this thread's own connections

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def test_an_issued_invoice_and_its_lines_never_change(tree, world, fake):
    (sub,) = many(tree, world, fake, 1)
    invoice = sub.invoice_lines.get(kind="recurring", billed_by=sub.seller).invoice
    line = invoice.lines.first()
    for attempt in (
        lambda: Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("1.00")),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(number="X-1"),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(sandbox=True),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(state="draft"),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(buyer_details={"name": "Other"}),
        lambda: Invoice.objects.filter(pk=invoice.pk).delete(),
        lambda: InvoiceLine.objects.filter(pk=line.pk).update(amount=Decimal("0.01")),
        lambda: InvoiceLine.objects.filter(pk=line.pk).delete(),
        lambda: InvoiceLine.objects.create(
            invoice=invoice,
            position=99,
            kind="adjustment",
            description="sneaked in",
            quantity=1,
            unit_price=1,
            amount=1,
            billed_by=invoice.seller,
        ),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    invoice.refresh_from_db()
    assert (invoice.total, invoice.number, invoice.state) == (
        Decimal("82.50"),
        "INV-2027-00001",
        "issued",
    )
    # what may still change: its state and its PDF (once)
    invoice_mark_paid(actor=SYSTEM, invoice=invoice)
    assert Invoice.objects.get(pk=invoice.pk).state == InvoiceState.PAID
    Invoice.objects.filter(pk=invoice.pk).update(pdf="invoices/a.pdf", pdf_sha256="ab" * 32)
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(pdf_sha256="cd" * 32)
    # a credit note and its lines never change either, and take no lines later
    note = credit_note_create(actor=SYSTEM, invoice=invoice, reason="Goodwill")
    for attempt in (
        lambda: CreditNote.objects.filter(pk=note.pk).update(total=Decimal("1.00")),
        lambda: CreditNote.objects.filter(pk=note.pk).update(sandbox=True),
        lambda: CreditNote.objects.filter(pk=note.pk).delete(),
        lambda: CreditNoteLine.objects.filter(credit_note=note).update(amount=Decimal("1")),
        lambda: CreditNoteLine.objects.create(
            credit_note=note, position=9, kind="adjustment", description="late", amount=1
        ),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert CreditNote.objects.get(pk=note.pk).total == Decimal("82.50")


def test_two_runs_started_at_once_bill_like_one(tree, world, fake):
    subs = many(tree, world, fake, 24)
    before = set(Invoice.objects.values_list("pk", flat=True))
    clock.set_today(FEB_1)
    errors = in_threads(
        lambda: billing_run(actor=RUN, day=FEB_1, batch=5),
        lambda: billing_run(actor=RUN, day=FEB_1, batch=5),
    )
    assert errors == []
    assert gc.isenabled()  # each run paused automatic collection; the last one restored it
    new = Invoice.objects.exclude(pk__in=before)
    assert new.count() == 24
    assert set(new.values_list("state", flat=True)) == {"issued"}
    assert sorted(new.values_list("sequence", flat=True)) == list(range(25, 49))
    assert sorted(new.values_list("buyer_id", flat=True)) == sorted(s.customer_id for s in subs)
    assert set(new.values_list("total", flat=True)) == {Decimal("82.50")}
    february = BilledPeriod.objects.filter(period_start=FEB_1, part="advance")
    assert february.count() == 24
    # and a third run finds nothing left to do
    again = billing_run(actor=RUN, day=FEB_1)
    assert (again.subscriptions_billed, again.invoices_issued) == (0, 0)


def test_numbers_stay_gapless_when_invoices_are_issued_at_once(tree, world, fake):
    many(tree, world, fake, 12)
    clock.set_today(FEB_1)
    from billing.services.run import bill_batch
    from orders.models import Subscription

    bill_batch(list(Subscription.objects.values_list("pk", flat=True)), actor=RUN, day=FEB_1)
    drafts = list(Invoice.objects.filter(state="draft", source="period"))
    assert len(drafts) == 12
    errors = in_threads(*[(lambda d=d: invoice_issue(actor=RUN, invoice=d)) for d in drafts])
    assert errors == []
    numbers = sorted(Invoice.objects.filter(seller=tree["P"]).values_list("sequence", flat=True))
    assert numbers == list(range(1, 25))  # 12 order invoices, then these 12


def test_a_killed_run_leaves_nothing_half_done_and_the_next_finishes(tree, world, fake):
    subs = many(tree, world, fake, 40)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "PORTAL_TEST_DATABASE_NAME": connection.settings_dict["NAME"],
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "billing_run", "--day", "2027-02-01", "--batch", "2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = BilledPeriod.objects.filter(period_start=FEB_1, part="advance").count()
            if done >= 6:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    partly = BilledPeriod.objects.filter(period_start=FEB_1, part="advance").count()
    assert 6 <= partly < 40, "the kill came too late to test anything"
    # nothing is half-issued: every issued invoice has its number, totals and tax line
    for invoice in Invoice.objects.exclude(state="draft"):
        assert invoice.number and invoice.lines.filter(kind="tax").count() == 1
        assert invoice.total == sum(invoice.lines.values_list("amount", flat=True))
    # the next run finishes the work: each subscription billed exactly once for February
    clock.set_today(FEB_1)
    billing_run(actor=RUN, day=FEB_1)
    assert BilledPeriod.objects.filter(period_start=FEB_1, part="advance").count() == 40
    february = Invoice.objects.filter(billing_day=FEB_1, source="period")
    assert february.count() == 40 and not february.filter(state="draft").exists()
    assert sorted(
        Invoice.objects.filter(seller=tree["P"]).values_list("sequence", flat=True)
    ) == list(range(1, 81))
    for sub in subs:
        sub.refresh_from_db()
        assert sub.current_period_start == FEB_1


def test_overlapping_runs_pause_garbage_collection_once_and_restore_it():
    from billing.services.run import _young_garbage_only

    assert gc.isenabled()
    first, second = _young_garbage_only(), _young_garbage_only()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first run ends while the second still works
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
