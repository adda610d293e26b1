"""A customer's whole picture on its page in a seller's console: subscriptions with seats and
storage, orders, seats, payments, usage and the audit trail, each read through what the asking
person may see (a section they may not see is left out, not shown empty), and the pages where
staff act on them. A fixed number of queries, each bounded to the latest rows."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from billing import listing
from billing.models import UsageMetric, UsageRecord
from orders import selectors as order_selectors
from orders.models import SeatStatus
from portal import access
from portal.models import Organization, User
from provisioning import selectors as provisioning_selectors

LATEST = 10


def customer_picture(user: User, customer: Organization) -> dict:
    latest_storage = (
        UsageRecord.objects.filter(subscription=OuterRef("pk"), metric=UsageMetric.STORAGE_BYTES)
        .order_by("-day")
        .values("value")[:1]
    )
    subscriptions = list(
        order_selectors.visible_subscriptions(user)
        .filter(customer=customer)
        .annotate(storage_bytes=Subquery(latest_storage))
    )
    for sub in subscriptions:
        included = sub.plan.included_storage_gb(sub.quantity)
        sub.included_gb = included
        sub.storage_gb = (
            round(sub.storage_bytes / 1024**3, 1) if sub.storage_bytes is not None else None
        )
    orders = list(
        order_selectors.visible_orders(user)
        .filter(customer=customer)
        .order_by("-created_at")[:LATEST]
    )
    seats = list(
        order_selectors.visible_seats(user)
        .filter(subscription__customer=customer)
        .exclude(status=SeatStatus.REMOVED)
        .select_related("subscription__plan")
        .order_by("-created_at", "-pk")[: LATEST * 2]
    )
    picture = {
        "subscriptions": subscriptions,
        "orders": orders,
        "seats": seats,
        "can_billing": access.can(user, "billing.view", customer),
        "can_audit": access.can(user, "audit.view", customer),
        "can_provisioning": access.can(user, "provisioning.view", customer),
        "can_order": access.can(user, "orders.place", customer),
        "payments": [],
        "events": [],
    }
    if picture["can_billing"]:
        from payments.models import Payment

        picture["payments"] = list(
            Payment.objects.filter(
                invoice__in=listing.invoices_for(user), buyer=customer
            ).select_related("invoice")[:LATEST]
        )
    if picture["can_audit"]:
        picture["events"] = list(
            access.visible_audit_events(user).filter(organization=customer)[:LATEST]
        )
    if picture["can_provisioning"]:
        picture["failed_jobs"] = (
            provisioning_selectors.visible_jobs(user)
            .filter(account__customer=customer, state="failed")
            .count()
        )
    return picture
