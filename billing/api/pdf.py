"""``GET /api/v1/invoices/<id>/pdf/`` and ``/api/v1/credit-notes/<id>/pdf/``: the document's
PDF for whoever may see the document (the same lookup as the pages: a document outside what the
caller may see is a 404), rendered on the spot when it is missing; 409 when it cannot be yet."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from billing.views.pdf import credit_note_pdf_for, invoice_pdf_for, pdf_response
from portal.api.schema import ErrorSerializer

PDF_RESPONSES = {
    (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
    404: OpenApiResponse(
        ErrorSerializer, description="No such document (or not one the caller may see)."
    ),
    409: OpenApiResponse(
        ErrorSerializer, description="The PDF is not made yet (or the document is a draft)."
    ),
}


class _PdfView(APIView):
    # A client asking for application/pdf is answered; errors still come as JSON.
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class InvoicePdfView(_PdfView):
    @extend_schema(responses=PDF_RESPONSES, summary="Download an invoice's PDF")
    def get(self, request, pk: int):
        return pdf_response(invoice_pdf_for(request.user, pk), label="invoice")


class CreditNotePdfView(_PdfView):
    @extend_schema(responses=PDF_RESPONSES, summary="Download a credit note's PDF")
    def get(self, request, pk: int):
        return pdf_response(credit_note_pdf_for(request.user, pk), label="credit note")
