"""Payment pages of the seller consoles (under ``/console/<org_id>/``): the seller's Stripe
account and payment policy, a customer's invoice terms, offline payments and refunds, the
payments list and the overdue invoices."""

from django.urls import path

from payments.pages import lists, money, setup

urlpatterns: list = [
    path("payments/", lists.console_payments, name="payments_console_list"),
    path("payments/overdue/", lists.console_overdue, name="payments_console_overdue"),
    path(
        "payments/settings/",
        setup.console_payment_settings,
        name="payments_console_settings",
    ),
    path(
        "payments/customers/<int:customer_id>/terms/",
        setup.console_customer_terms,
        name="payments_console_terms",
    ),
    path(
        "payments/invoices/<int:invoice_id>/record/",
        money.console_record_payment,
        name="payments_console_record",
    ),
    path(
        "payments/credit-notes/<int:note_id>/refund/",
        money.console_credit_note_refund,
        name="payments_console_refund",
    ),
]
