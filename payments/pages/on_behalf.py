"""Ordering on a customer's behalf from a seller console: how the first invoice is paid,
within the staff member's rights. The orders page asks for the choices and, after placing
the order, for the card charge; the services decide (and check the rights) again."""

from __future__ import annotations

from payments.models import PaymentMethod, PaymentState, PaymentTrigger
from payments.services.collect import payment_charge, payment_open
from payments.services.ordering import has_terms
from portal import access
from portal.errors import ApplicationError
from portal.money import format_money

CARD, TERMS, CUSTOMER = "card", "terms", "customer"


def payment_choices(user, customer) -> list[tuple[str, str]]:
    """The ways open to ``user``: charge the saved card (who may pay the customer's
    invoices), invoice terms for this order (who manage the seller's payments), or leave it
    to the customer (the order waits). None when the customer already has invoice terms."""
    if customer is None or has_terms(customer):
        return []
    choices = []
    card = PaymentMethod.objects.filter(
        buyer=customer, is_default=True, removed_at__isnull=True
    ).first()
    if card is not None and access.can(user, "payments.pay", customer):
        choices.append((CARD, f"Charge {customer.name}'s saved card now ({card.label})"))
    if access.can(user, "payments.manage", customer.parent):
        choices.append((TERMS, "Invoice terms: provision now, paid by the invoice's due day"))
    choices.append((CUSTOMER, f"{customer.name} pays by card first; the order waits"))
    return choices


def charge_first_invoice(user, order) -> str:
    """Charge the customer's saved card for the first invoice of an order waiting for
    payment, as ``user``; returns what happened, for the page. Called outside any
    transaction (each step of a card payment is committed before the next)."""
    invoice = order.first_invoice
    if order.state != "awaiting_payment" or invoice is None:
        return ""
    try:
        payment = payment_open(actor=user, invoice=invoice, trigger=PaymentTrigger.PAY_NOW)
        payment = payment_charge(actor=user, payment=payment)
    except ApplicationError as exc:
        return f"The card was not charged: {exc.message}"
    if payment.state == PaymentState.SUCCEEDED:
        return f"{format_money(payment.amount, payment.currency)} charged to the saved card."
    if payment.state == PaymentState.FAILED:
        return f"The card was declined ({payment.failure_message}); the order waits for payment."
    return "The bank asks the customer to confirm the payment; the order waits for it."
