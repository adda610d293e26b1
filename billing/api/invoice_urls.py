"""``/api/v1/``: invoices, credit notes, upcoming invoices, billing runs and issues."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api import invoices as views

router = SimpleRouter()
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("credit-notes", views.CreditNoteViewSet, basename="credit-note")
router.register("upcoming-invoices", views.UpcomingInvoiceViewSet, basename="upcoming-invoice")
router.register("billing-runs", views.BillingRunViewSet, basename="billing-run")
router.register("billing-issues", views.BillingIssueViewSet, basename="billing-issue")

urlpatterns = [
    path(
        "subscriptions/<int:pk>/upcoming-invoice/",
        views.UpcomingInvoiceViewSet.as_view({"get": "for_subscription"}),
        name="subscription-upcoming-invoice",
    ),
    *router.urls,
]
