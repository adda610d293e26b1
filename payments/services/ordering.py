"""Orders and money: nothing is provisioned that nobody will pay for.

- A new subscription's first invoice is paid by card before anything is created at Box,
  unless the buyer has invoice terms, the order is free (a trial), or a credit balance covers
  it. Until then the order waits (``awaiting_payment``); ``order_paid`` starts provisioning.
- An order not paid within the seller's time is cancelled, its subscription ended and its
  first invoice voided: nothing was created at Box.
- A self-service order above the seller's limit (seats or amount) waits for its approval.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction

from payments.models import BuyerAccount, PaymentPolicy
from portal import clock
from portal.actors import system

ORDERS = system("payments")


def policy_of(seller) -> PaymentPolicy:
    policy = PaymentPolicy.objects.filter(seller=seller).first()
    return policy or PaymentPolicy(seller=seller)


def has_terms(buyer) -> bool:
    account = BuyerAccount.objects.filter(buyer=buyer).first()
    return account is not None and account.invoice_terms_days is not None


def over_self_service_limit(order) -> str:
    """Why a customer's own order needs the seller's approval, or "" when it does not."""
    policy = policy_of(order.seller)
    seats = policy.max_seats_per_order
    if seats is not None and (order.quantity or 0) > seats:
        return (
            f"more than {policy.max_seats_per_order} seats ordered in one go need "
            f"{order.seller.name}'s approval"
        )
    total = order.first_total or Decimal(0)
    if policy.max_amount_per_order is not None and total > policy.max_amount_per_order:
        return (
            f"orders over {policy.max_amount_per_order} {order.currency} need "
            f"{order.seller.name}'s approval"
        )
    return ""


def payment_needed(order, invoice) -> bool:
    """Whether provisioning must wait for the first invoice to be paid."""
    if invoice is None:  # a trial: nothing is billed yet
        return False
    if order.payment_terms:  # granted for this order by staff entitled to
        return False
    if has_terms(order.customer):
        return False
    from payments.services.collect import amount_due

    return amount_due(invoice) > 0


def order_paid(*, invoice) -> None:
    """The first invoice of an order waiting for payment is paid: provisioning starts."""
    order = getattr(invoice, "order", None)
    if order is None:
        from orders.models import Order

        order = Order.objects.filter(first_invoice=invoice).first()
    if order is None or order.state != "awaiting_payment":
        return
    from orders.services import order_payment_received

    order_payment_received(actor=ORDERS, order=order)


def orders_cancel_unpaid() -> int:
    """Cancel the orders that waited longer than their seller allows for payment."""
    from orders.models import Order
    from orders.services import order_payment_expired

    now = clock.now()
    cancelled = 0
    for order in Order.objects.filter(state="awaiting_payment").select_related("seller"):
        hours = policy_of(order.seller).unpaid_order_hours
        since = order.decided_at or order.submitted_at or order.created_at
        if since + timedelta(hours=hours) <= now:
            with transaction.atomic():
                if order_payment_expired(actor=ORDERS, order=order, hours=hours):
                    cancelled += 1
    return cancelled
