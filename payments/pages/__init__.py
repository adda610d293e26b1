"""The payment pages: ``customer`` (the customer portal's pay boxes, cards and autopay) and
``console`` (a seller's Stripe account, payment policy, offline payments, refunds, overdue
invoices and payments). Each module keeps its own ``urlpatterns``, included by
``payments.urls``."""
