"""Pages of billing, included by ``portal.urls``: the seller consoles' (``console``, under
``/console/<org_id>/``) and the customer portal's (``customer``, under ``/portal/<org_id>/``)."""

from django.urls import path

from billing.views import invoices, pdf, prices, runs, upcoming, usage

console = [
    path("billing/invoices/", invoices.console_invoices, name="billing_console_invoices"),
    path(
        "billing/invoices/credit-notes/",
        invoices.console_credit_notes,
        name="billing_console_credit_notes",
    ),
    path(
        "billing/invoices/credit-notes/<int:note_id>/",
        invoices.console_credit_note,
        name="billing_console_credit_note",
    ),
    path("billing/invoices/received/", invoices.console_received, name="billing_console_received"),
    path("billing/invoices/export/", invoices.console_export, name="billing_console_export"),
    path(
        "billing/invoices/numbering/", invoices.console_numbering, name="billing_console_numbering"
    ),
    path(
        "billing/invoices/<int:invoice_id>/",
        invoices.console_invoice,
        name="billing_console_invoice",
    ),
    path(
        "billing/invoices/<int:invoice_id>/lines/<int:line_id>/",
        invoices.console_invoice_line,
        name="billing_console_invoice_line",
    ),
    path(
        "billing/invoices/<int:invoice_id>/credit-note/",
        invoices.console_credit_note_new,
        name="billing_console_credit_note_new",
    ),
    path(
        "invoices/<int:invoice_id>/pdf/",
        pdf.console_invoice_pdf,
        name="billing_console_invoice_pdf",
    ),
    path(
        "credit-notes/<int:note_id>/pdf/",
        pdf.console_credit_note_pdf,
        name="billing_console_credit_note_pdf",
    ),
    path("billing/runs/", runs.console_runs, name="billing_console_runs"),
    path("billing/issues/", runs.console_issues, name="billing_console_issues"),
    path("billing/price-moves/", prices.console_price_move, name="billing_console_price_move"),
    path(
        "billing/price-moves/<int:move_id>/withdraw/",
        prices.console_price_move_withdraw,
        name="billing_console_price_move_withdraw",
    ),
    path("usage/collections/", usage.console_collections, name="billing_usage_collections"),
    path("subscriptions/<int:sub_id>/usage/", usage.console_usage, name="billing_console_usage"),
]

customer = [
    path("invoices/", invoices.customer_invoices, name="billing_customer_invoices"),
    path(
        "invoices/credit-notes/",
        invoices.customer_credit_notes,
        name="billing_customer_credit_notes",
    ),
    path(
        "invoices/credit-notes/<int:note_id>/",
        invoices.customer_credit_note,
        name="billing_customer_credit_note",
    ),
    path("invoices/upcoming/", upcoming.customer_upcoming, name="billing_customer_upcoming"),
    path("invoices/<int:invoice_id>/", invoices.customer_invoice, name="billing_customer_invoice"),
    path(
        "invoices/<int:invoice_id>/lines/<int:line_id>/",
        invoices.customer_invoice_line,
        name="billing_customer_invoice_line",
    ),
    path(
        "invoices/<int:invoice_id>/pdf/",
        pdf.customer_invoice_pdf,
        name="billing_customer_invoice_pdf",
    ),
    path(
        "credit-notes/<int:note_id>/pdf/",
        pdf.customer_credit_note_pdf,
        name="billing_customer_credit_note_pdf",
    ),
    path("subscriptions/<int:sub_id>/usage/", usage.customer_usage, name="billing_customer_usage"),
]
