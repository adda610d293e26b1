"""Reads of ordering, inside what the actor may see (missing and forbidden are the same 404)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from orders.models import (
    SEAT_HOLDING,
    ChangeState,
    Order,
    SeatAssignment,
    SellerPolicy,
    Subscription,
)
from portal import access
from portal.errors import NotFound
from portal.models import Organization, User


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def visible_orders(user: User) -> QuerySet[Order]:
    return Order.objects.filter(customer__in=access.visible_organizations(user)).select_related(
        "customer", "seller", "placed_by", "placed_via", "offer", "plan", "subscription"
    )


def visible_subscriptions(user: User) -> QuerySet[Subscription]:
    return (
        Subscription.objects.filter(customer__in=access.visible_organizations(user))
        .select_related("customer", "seller", "plan", "offer", "box_account")
        .annotate(
            seats_held=Count("seats", filter=Q(seats__status__in=SEAT_HOLDING), distinct=True)
        )
        .order_by("-created_at", "-id")
    )


def access_order(user: User, order_id, *, action: str = "orders.view") -> Order:
    order = visible_orders(user).filter(pk=_int(order_id)).first()
    if order is None:
        raise NotFound("No such order.")
    access.require(user, action, order.customer)
    return order


def access_subscription(user: User, sub_id, *, action: str = "orders.view") -> Subscription:
    sub = visible_subscriptions(user).filter(pk=_int(sub_id)).first()
    if sub is None:
        raise NotFound("No such subscription.")
    access.require(user, action, sub.customer)
    return sub


def access_seat(user: User, seat_id, *, action: str = "orders.view") -> SeatAssignment:
    seat = (
        SeatAssignment.objects.filter(
            pk=_int(seat_id), subscription__customer__in=access.visible_organizations(user)
        )
        .select_related("subscription__customer", "subscription__plan", "box_user")
        .first()
    )
    if seat is None:
        raise NotFound("No such seat.")
    access.require(user, action, seat.subscription.customer)
    return seat


def access_change(user: User, change_id, *, action: str = "subscriptions.manage"):
    from orders.models import SubscriptionChange

    change = (
        SubscriptionChange.objects.filter(
            pk=_int(change_id),
            subscription__customer__in=access.visible_organizations(user),
        )
        .select_related("subscription__customer", "from_plan", "to_plan")
        .first()
    )
    if change is None:
        raise NotFound("No such change.")
    access.require(user, action, change.subscription.customer)
    return change


def subscription_seats(sub: Subscription) -> list[SeatAssignment]:
    return list(
        sub.seats.exclude(status="removed").select_related("box_user").order_by("email", "pk")
    )


def scheduled_changes(sub: Subscription):
    return list(
        sub.changes.filter(state=ChangeState.SCHEDULED).select_related("from_plan", "to_plan")
    )


def seller_policy(seller: Organization) -> SellerPolicy:
    return SellerPolicy.objects.filter(seller=seller).first() or SellerPolicy(seller=seller)


def orderable_customers(user: User, seller_org: Organization) -> QuerySet[Organization]:
    """Customers below ``seller_org`` the user may order for."""
    customers = access.visible_organizations(user).filter(
        kind="customer", path__startswith=seller_org.path
    )
    return customers.select_related("parent").order_by("name")
