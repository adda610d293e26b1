"""What follows an invoice's or a credit note's issue: its PDF is rendered (queue ``pdf``),
then it is e-mailed to the buyer's billing people with the PDF attached; payments may charge
a saved card. All after the issuing transaction commits.

- Rendering (``invoice_render``, ``credit_note_render``) happens once: a document whose PDF
  is stored is left alone. The state is on the row (pending -> ready, or failed with the
  error); the file goes to private storage (``portal.storage``) and its SHA-256 beside it, both
  set once (on PostgreSQL the trigger of migration 0004 refuses a second value). The slow part,
  WeasyPrint, runs outside any transaction; only storing takes the row's lock, and a render
  that lost a race to another one stores nothing.
- E-mailing (``invoice_email``, ``credit_note_email``) happens once: the mark (the invoice's
  ``emailed_at``, a ``CreditNoteEmail`` row for a credit note) is written in the same
  transaction that queues the message (``portal.tasks.email_send`` after commit), so a task run
  again after a crash finds the mark and sends nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse

from billing import pdf
from billing.models import CreditNote, CreditNoteEmail, Invoice, PdfState
from portal import access, clock
from portal.actors import Actor, require_actor, system
from portal.errors import Conflict
from portal.mail import send_branded_email
from portal.models import Membership, Organization, Role
from portal.selectors import brand_for_organization, primary_domain
from portal.services import audit_record
from portal.storage import private_storage

logger = logging.getLogger(__name__)

PDF = system("pdf")


class RenderFailed(Conflict):
    """The PDF could not be rendered now; the row says failed, with the error."""


# --- after issue ------------------------------------------------------------------------------


def after_issue(invoices) -> None:
    """Once the issuing transaction commits, each invoice's PDF task is queued. Many invoices
    issued together (the billing run issues hundreds at once) go as one message that the
    ``pdf`` worker fans out (``pdf_invoice_documents``): publishing a message per invoice
    would cost the run more than issuing them does."""
    ids = [invoice.pk for invoice in invoices]
    if not ids:
        return

    def start():
        from billing.tasks import pdf_invoice_document, pdf_invoice_documents

        if len(ids) == 1:
            pdf_invoice_document.delay(ids[0])
        else:
            pdf_invoice_documents.delay(ids)

    transaction.on_commit(start)


def after_credit_note(note) -> None:
    def start():
        from billing.tasks import pdf_credit_note_document

        pdf_credit_note_document.delay(note.pk)

    transaction.on_commit(start)


# --- names ------------------------------------------------------------------------------------


def safe_filename(number: str, fallback: str = "document") -> str:
    """``INV/2027/00001`` -> ``INV-2027-00001.pdf``: letters, digits, dot, dash, underscore."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", number or "").strip("-.") or fallback
    return f"{stem[:80]}.pdf"


def _storage_name(folder: str, doc) -> str:
    return f"{folder}/{doc.seller_id}/{safe_filename(doc.number, f'{doc.pk}')}"


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:300]


# --- rendering --------------------------------------------------------------------------------


def _render(model, doc, *, actor: Actor, folder: str, build, label: str, audit: str):
    require_actor(actor)
    access.require(actor, "billing.view", doc.buyer)
    if doc.pdf_sha256:
        return doc
    model.objects.filter(pk=doc.pk, pdf_sha256="").update(pdf_state=PdfState.PENDING, pdf_error="")
    try:
        rendered = build(doc)
    except Exception as exc:
        logger.exception("Rendering the PDF of %s %s failed", label, doc.number)
        model.objects.filter(pk=doc.pk, pdf_sha256="").update(
            pdf_state=PdfState.FAILED, pdf_error=_error_text(exc)
        )
        raise RenderFailed(
            f"The PDF of {label} {doc.number} could not be made yet; it is tried again "
            "automatically."
        ) from exc
    digest = hashlib.sha256(rendered.pdf).hexdigest()
    storage = private_storage()
    with transaction.atomic():
        row = model.objects.select_for_update(of=("self",)).select_related("buyer").get(pk=doc.pk)
        if row.pdf_sha256:  # another render stored it first: keep that one
            return row
        name = storage.save(_storage_name(folder, row), ContentFile(rendered.pdf))
        try:
            row.pdf.name = name
            row.pdf_sha256 = digest
            row.pdf_state = PdfState.READY
            row.pdf_error = ""
            fields = ["pdf", "pdf_sha256", "pdf_state", "pdf_error"]
            if model is Invoice:
                fields.append("updated_at")
            row.save(update_fields=fields)
            audit_record(
                actor=actor,
                organization=row.buyer,
                action=f"{audit}.pdf_stored",
                obj=row,
                after={"sha256": digest, "bytes": len(rendered.pdf)},
            )
        except BaseException:
            storage.delete(name)
            raise
    return row


def invoice_render(*, actor: Actor, invoice: Invoice) -> Invoice:
    """The invoice's PDF, rendered and stored once (an invoice that has one is returned as it
    is). Raises ``RenderFailed`` (409) with the row marked failed when rendering fails."""
    if invoice.is_draft:
        require_actor(actor)
        raise Conflict("A draft has no PDF; it is made when the invoice is issued.")
    return _render(
        Invoice,
        invoice,
        actor=actor,
        folder="invoices",
        build=pdf.invoice_pdf,
        label="invoice",
        audit="invoice",
    )


def credit_note_render(*, actor: Actor, note: CreditNote) -> CreditNote:
    """The credit note's PDF, rendered and stored once (see ``invoice_render``)."""
    return _render(
        CreditNote,
        note,
        actor=actor,
        folder="credit-notes",
        build=pdf.credit_note_pdf,
        label="credit note",
        audit="credit_note",
    )


# --- e-mail -----------------------------------------------------------------------------------


def billing_recipients(org: Organization) -> list[str]:
    """Who receives an organization's invoices: its billing people, else its admins."""
    for role in (Role.BILLING, Role.ADMIN):
        emails = list(
            Membership.objects.filter(
                organization=org, role=role, is_active=True, user__is_active=True
            )
            .order_by("user__email")
            .values_list("user__email", flat=True)
        )
        if emails:
            return emails
    return []


def portal_url(org: Organization, name: str, **kwargs) -> str:
    """An absolute link into ``org``'s portal (on its seller's host) for an e-mail sent outside
    a request. ``name`` is a console URL name without its ``billing_console_`` or
    ``billing_customer_`` prefix."""
    prefix = "billing_customer_" if org.is_customer else "billing_console_"
    path = reverse(prefix + name, kwargs={"org_id": org.pk, **kwargs})
    brand = brand_for_organization(org)
    domain = primary_domain(brand) if brand is not None else None
    base = settings.PORTAL_BASE_URL_TEMPLATE.format(host=domain or "localhost")
    return base.rstrip("/") + path


def _attachment(doc) -> dict:
    return {
        "storage": "private",
        "name": doc.pdf.name,
        "filename": safe_filename(doc.number),
        "mimetype": "application/pdf",
    }


def invoice_email(*, actor: Actor, invoice: Invoice) -> bool:
    """E-mail the issued invoice with its PDF to the buyer's billing people, once. False when
    it was sent before, has no PDF yet, or the buyer has nobody to send it to."""
    require_actor(actor)
    with transaction.atomic():
        row = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("seller", "buyer")
            .get(pk=invoice.pk)
        )
        access.require(actor, "billing.manage", row.seller)
        if row.emailed_at is not None or row.is_draft or not row.pdf_sha256:
            return False
        to = billing_recipients(row.buyer)
        if not to:
            logger.warning("Invoice %s: %s has nobody to e-mail it to", row.number, row.buyer)
            return False
        row.emailed_at = clock.now()
        row.save(update_fields=["emailed_at", "updated_at"])
        audit_record(
            actor=actor,
            organization=row.buyer,
            action="invoice.emailed",
            obj=row,
            after={"to": to, "number": row.number},
        )
        send_branded_email(
            organization=row.buyer,
            brand=brand_for_organization(row.seller),
            to=to,
            template="billing/email/invoice",
            context={
                "number": row.number,
                "seller": (row.seller_details or {}).get("name") or row.seller.name,
                "buyer": (row.buyer_details or {}).get("name") or row.buyer.name,
                "total": pdf.money(row.total, row.currency),
                "due_on": row.due_on,
                "url": portal_url(row.buyer, "invoice_pdf", invoice_id=row.pk),
            },
            attachments=[_attachment(row)],
        )
    return True


def credit_note_email(*, actor: Actor, note: CreditNote) -> bool:
    """E-mail the credit note with its PDF to the buyer's billing people, once."""
    require_actor(actor)
    with transaction.atomic():
        row = (
            CreditNote.objects.select_for_update(of=("self",))
            .select_related("seller", "buyer", "invoice")
            .get(pk=note.pk)
        )
        access.require(actor, "billing.manage", row.seller)
        if not row.pdf_sha256 or CreditNoteEmail.objects.filter(credit_note=row).exists():
            return False
        to = billing_recipients(row.buyer)
        if not to:
            logger.warning("Credit note %s: %s has nobody to e-mail it to", row.number, row.buyer)
            return False
        CreditNoteEmail.objects.create(credit_note=row, emailed_at=clock.now(), recipients=to)
        audit_record(
            actor=actor,
            organization=row.buyer,
            action="credit_note.emailed",
            obj=row,
            after={"to": to, "number": row.number},
        )
        send_branded_email(
            organization=row.buyer,
            brand=brand_for_organization(row.seller),
            to=to,
            template="billing/email/credit_note",
            context={
                "number": row.number,
                "invoice": row.invoice.number,
                "reason": row.reason,
                "seller": (row.seller_details or {}).get("name") or row.seller.name,
                "buyer": (row.buyer_details or {}).get("name") or row.buyer.name,
                "total": pdf.money(row.total, row.currency),
                "url": portal_url(row.buyer, "credit_note_pdf", note_id=row.pk),
            },
            attachments=[_attachment(row)],
        )
    return True
