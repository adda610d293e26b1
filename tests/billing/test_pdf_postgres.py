"""PDFs on PostgreSQL, with its triggers and row locks: an issued invoice takes its PDF once
(the trigger of migration 0004 refuses another), a credit note too; two renders at the same
moment store one file; issuing queues the pdf task after commit, which renders and e-mails once."""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import date

import pytest
from django.core import mail
from django.db import DatabaseError, connection, connections, transaction

from billing.models import CreditNote, CreditNoteEmail, Invoice, PdfState
from billing.services import documents
from billing.services.credit_notes import credit_note_create
from billing.tasks import pdf_credit_note_document, pdf_invoice_document
from orders import services as orders
from portal import clock
from portal.storage import private_storage
from tests.billing.conftest import SYSTEM
from tests.orders.conftest import run_jobs

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL's triggers and row locks"
    ),
]


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    """Private files in a folder of the test's own; tasks queued, not run, at commit (the
    recording connector provisions, see test_integrity.py)."""
    from portal.celery import app

    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = eager


def invoice_of(tree, world, fake, monkeypatch) -> tuple[Invoice, list[int]]:
    """An order of R1's customer C11 issues its first invoice; the pdf task queued at commit."""
    queued: list[int] = []
    monkeypatch.setattr(pdf_invoice_document, "delay", queued.append)
    clock.set_today(date(2027, 1, 1))
    placed = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=world["r1_offer"],
        quantity=5,
        term="monthly",
        submit=True,
    )
    run_jobs(fake)
    placed.refresh_from_db()
    return placed.first_invoice, queued


def test_issuing_queues_the_pdf_task_which_renders_and_emails_once(tree, world, fake, monkeypatch):
    invoice, queued = invoice_of(tree, world, fake, monkeypatch)
    assert queued == [invoice.pk]  # after the issuing transaction committed
    before = len(mail.outbox)
    from portal.celery import app

    app.conf.task_always_eager = True  # the e-mail task runs at commit
    assert pdf_invoice_document.apply(args=[invoice.pk]).get() == "emailed"
    assert pdf_invoice_document.apply(args=[invoice.pk]).get() == "rendered"
    invoice.refresh_from_db()
    assert invoice.pdf_state == PdfState.READY and invoice.emailed_at is not None
    with private_storage().open(invoice.pdf.name) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == invoice.pdf_sha256
    sent = mail.outbox[before:]
    assert [(m.to, m.attachments[0][0]) for m in sent] == [
        (["c11.billing@example.test"], "INV-2027-00001.pdf")
    ]


def test_the_trigger_lets_the_pdf_be_set_once(tree, world, fake, monkeypatch):
    invoice, _ = invoice_of(tree, world, fake, monkeypatch)
    invoice = documents.invoice_render(actor=documents.PDF, invoice=invoice)
    name, digest = invoice.pdf.name, invoice.pdf_sha256
    for attempt in (
        lambda: Invoice.objects.filter(pk=invoice.pk).update(pdf_sha256="cd" * 32),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(pdf="invoices/other.pdf"),
        lambda: Invoice.objects.filter(pk=invoice.pk).update(pdf="", pdf_sha256=""),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    # state, error and the e-mail mark may change
    Invoice.objects.filter(pk=invoice.pk).update(pdf_state="failed", pdf_error="x")
    Invoice.objects.filter(pk=invoice.pk).update(pdf_state="ready", pdf_error="")
    # rendering again leaves it alone
    again = documents.invoice_render(
        actor=documents.PDF, invoice=Invoice.objects.get(pk=invoice.pk)
    )
    assert (again.pdf.name, again.pdf_sha256) == (name, digest)

    note = credit_note_create(actor=SYSTEM, invoice=invoice, reason="Goodwill")
    monkeypatch.setattr(pdf_credit_note_document, "delay", lambda pk: None)
    note = documents.credit_note_render(actor=documents.PDF, note=note)
    assert note.pdf_state == PdfState.READY
    with pytest.raises(DatabaseError), transaction.atomic():
        CreditNote.objects.filter(pk=note.pk).update(pdf_sha256="cd" * 32)
    assert documents.credit_note_email(actor=documents.PDF, note=note) is True
    assert documents.credit_note_email(actor=documents.PDF, note=note) is False
    assert CreditNoteEmail.objects.filter(credit_note=note).count() == 1


def test_two_renders_at_once_store_one_file(tree, world, fake, monkeypatch):
    invoice, _ = invoice_of(tree, world, fake, monkeypatch)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def render():
        try:
            copy = Invoice.objects.select_related("seller", "buyer").get(pk=invoice.pk)
            barrier.wait(10)
            results.append(documents.invoice_render(actor=documents.PDF, invoice=copy))
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=render) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    invoice.refresh_from_db()
    assert {(r.pdf.name, r.pdf_sha256) for r in results} == {(invoice.pdf.name, invoice.pdf_sha256)}
    folder = private_storage().path(f"invoices/{invoice.seller_id}")
    assert os.listdir(folder) == [invoice.pdf.name.rsplit("/", 1)[-1]]
