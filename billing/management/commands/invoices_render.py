"""``manage.py invoices_render --missing``: render every issued invoice's and credit note's PDF
that is missing (never rendered, failed, or left pending by a worker that died), then e-mail the
ones that were never e-mailed, as the PDF task would have. Safe to run again and beside the
workers: a document is stored and e-mailed once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.models import CreditNote, Invoice, InvoiceState
from billing.services import documents


class Command(BaseCommand):
    help = (
        "Render the PDFs that are missing or failed (issued invoices and credit notes), then "
        "e-mail those never e-mailed. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--missing",
            action="store_true",
            help="render every document whose PDF is missing or failed (required)",
        )
        parser.add_argument("--no-email", action="store_true", help="render only; send no e-mail")

    def handle(self, *args, missing=False, no_email=False, **options):
        if not missing:
            raise CommandError("Say what to render: --missing.")
        actor = documents.PDF
        rendered = failed = emailed = 0
        invoices = (
            Invoice.objects.exclude(state=InvoiceState.DRAFT)
            .filter(pdf_sha256="")
            .select_related("seller", "buyer")
            .order_by("pk")
        )
        for invoice in invoices.iterator(chunk_size=100):
            try:
                documents.invoice_render(actor=actor, invoice=invoice)
            except documents.RenderFailed as exc:
                failed += 1
                self.stderr.write(f"Invoice {invoice.number}: {exc.__cause__ or exc}")
                continue
            rendered += 1
            if not no_email and documents.invoice_email(actor=actor, invoice=invoice):
                emailed += 1
        notes = CreditNote.objects.filter(pdf_sha256="").select_related("seller", "buyer")
        for note in notes.order_by("pk").iterator(chunk_size=100):
            try:
                documents.credit_note_render(actor=actor, note=note)
            except documents.RenderFailed as exc:
                failed += 1
                self.stderr.write(f"Credit note {note.number}: {exc.__cause__ or exc}")
                continue
            rendered += 1
            if not no_email and documents.credit_note_email(actor=actor, note=note):
                emailed += 1
        self.stdout.write(f"{rendered} PDFs rendered, {emailed} e-mailed, {failed} failed.")
        if failed:
            raise CommandError(f"{failed} PDFs could not be rendered; see the errors above.")
