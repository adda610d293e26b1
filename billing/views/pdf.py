"""PDF downloads of invoices and credit notes in the customer portal and the seller consoles.

The document is looked up inside what the person may see (``billing.selectors``) and inside
the console it is asked for: the customer's own documents in its portal, the documents of the
organizations below (and of) the seller in a seller console. Anything else is a 404, the same
as a missing document; the file is streamed by the view, never a redirect to storage. A PDF
not made yet is rendered on the spot; when that fails the answer is a 409 saying so.
"""

from __future__ import annotations

import logging

from django.http import FileResponse, Http404

from billing import selectors
from billing.services import documents
from portal.errors import Conflict, NotFound
from portal.views import customer_console, render_console, seller_console

logger = logging.getLogger(__name__)


def pdf_response(doc, *, label: str) -> FileResponse:
    """Stream the stored PDF of ``doc`` as an attachment named after its number."""
    try:
        handle = doc.pdf.open("rb")
    except FileNotFoundError:
        logger.error("The stored PDF %s of %s %s is missing", doc.pdf.name, label, doc.number)
        raise Conflict(
            f"The PDF of {label} {doc.number} cannot be read right now; try again later."
        ) from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=documents.safe_filename(doc.number),
        content_type="application/pdf",
    )
    response["Cache-Control"] = "private, no-store"
    return response


def invoice_pdf_for(user, invoice_id, *, within=None):
    """The rendered invoice ``user`` may see (``within(invoice)`` narrows it to a console)."""
    invoice = selectors.access_invoice(user, invoice_id)
    if within is not None and not within(invoice):
        raise NotFound("No such invoice.")
    return documents.invoice_render(actor=user, invoice=invoice)


def credit_note_pdf_for(user, note_id, *, within=None):
    note = selectors.access_credit_note(user, note_id)
    if within is not None and not within(note):
        raise NotFound("No such credit note.")
    return documents.credit_note_render(actor=user, note=note)


def _download(request, find, label: str):
    try:
        return pdf_response(find(), label=label)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Conflict as exc:
        return render_console(
            request, "billing/pdf/not_ready.html", {"message": exc.message}, status=409
        )


def _below(org):
    return lambda doc: doc.buyer.path.startswith(org.path)


def _own(org):
    return lambda doc: doc.buyer_id == org.pk


@seller_console
def console_invoice_pdf(request, org, invoice_id):
    return _download(
        request,
        lambda: invoice_pdf_for(request.user, invoice_id, within=_below(org)),
        "invoice",
    )


@seller_console
def console_credit_note_pdf(request, org, note_id):
    return _download(
        request,
        lambda: credit_note_pdf_for(request.user, note_id, within=_below(org)),
        "credit note",
    )


@customer_console
def customer_invoice_pdf(request, org, invoice_id):
    return _download(
        request, lambda: invoice_pdf_for(request.user, invoice_id, within=_own(org)), "invoice"
    )


@customer_console
def customer_credit_note_pdf(request, org, note_id):
    return _download(
        request,
        lambda: credit_note_pdf_for(request.user, note_id, within=_own(org)),
        "credit note",
    )
