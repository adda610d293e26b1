"""Seller order policy and approval of new customers."""

from __future__ import annotations

from django.db import transaction

from orders.models import (
    Order,
    OrderState,
    SellerPolicy,
)
from orders.services.orders import order_approve
from portal import access
from portal.actors import Actor
from portal.errors import Conflict
from portal.models import Organization, OrgStatus
from portal.services import audit_record


@transaction.atomic
def seller_policy_update(
    *, actor: Actor, seller: Organization, approve_orders: bool, approve_new_customers: bool
) -> SellerPolicy:
    access.require(actor, "orders.policy", seller)
    policy, _ = SellerPolicy.objects.select_for_update(of=("self",)).get_or_create(seller=seller)
    before = {
        "approve_orders": policy.approve_orders,
        "approve_new_customers": seller.approve_new_customers,
    }
    policy.approve_orders = bool(approve_orders)
    policy.save()
    Organization.objects.filter(pk=seller.pk).update(
        approve_new_customers=bool(approve_new_customers)
    )
    seller.approve_new_customers = bool(approve_new_customers)
    audit_record(
        actor=actor,
        organization=seller,
        action="orders.policy_changed",
        obj=policy,
        before=before,
        after={
            "approve_orders": policy.approve_orders,
            "approve_new_customers": seller.approve_new_customers,
        },
    )
    return policy


@transaction.atomic
def customer_approve(*, actor: Actor, customer: Organization) -> Organization:
    """Approve a customer who signed up on a seller that approves new customers; its orders
    waiting for approval go on."""
    customer = Organization.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    access.require(actor, "orders.approve", customer.parent)
    if customer.status != OrgStatus.PENDING:
        raise Conflict(f"{customer.name} is not waiting for approval.")
    customer.status = OrgStatus.ACTIVE
    customer.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        organization=customer,
        action="customer.approved",
        obj=customer,
        before={"status": "pending"},
        after={"status": "active"},
    )
    for order in Order.objects.filter(customer=customer, state=OrderState.AWAITING_APPROVAL):
        order_approve(actor=actor, order=order)
    return customer
