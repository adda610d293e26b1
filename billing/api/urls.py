"""``/api/v1/`` endpoints of billing (mounted in portal/api/urls.py): usage records and
collections, invoice and credit-note PDFs."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api import pdf, views

router = SimpleRouter()
router.register("usage-records", views.UsageRecordViewSet, basename="usage-record")
router.register("usage-collections", views.UsageCollectionViewSet, basename="usage-collection")

urlpatterns = [
    path("invoices/<int:pk>/pdf/", pdf.InvoicePdfView.as_view(), name="api-invoice-pdf"),
    path("credit-notes/<int:pk>/pdf/", pdf.CreditNotePdfView.as_view(), name="api-credit-note-pdf"),
    *router.urls,
]
