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
    SubscriptionChange,
)
from portal import access
from portal.models import Organization, User


def visible_orders(user: User) -> QuerySet[Order]:
    return Order.objects.filter(customer__in=access.visible_organizations(user)).select_related(
        "customer", "seller", "placed_by", "placed_via", "offer", "plan", "subscription", "change"
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


def visible_seats(user: User) -> QuerySet[SeatAssignment]:
    return SeatAssignment.objects.filter(
        subscription__customer__in=access.visible_organizations(user)
    ).select_related("subscription__customer", "subscription__plan", "box_user")


def visible_changes(user: User) -> QuerySet[SubscriptionChange]:
    return SubscriptionChange.objects.filter(
        subscription__customer__in=access.visible_organizations(user)
    ).select_related("subscription__customer", "from_plan", "to_plan")


def access_order(user: User, order_id, *, action: str = "orders.view") -> Order:
    return access.get_visible(
        visible_orders(user),
        order_id,
        user=user,
        action=action,
        owner=lambda o: o.customer,
        message="No such order.",
    )


def access_subscription(user: User, sub_id, *, action: str = "orders.view") -> Subscription:
    return access.get_visible(
        visible_subscriptions(user),
        sub_id,
        user=user,
        action=action,
        owner=lambda s: s.customer,
        message="No such subscription.",
    )


def access_seat(user: User, seat_id, *, action: str = "orders.view") -> SeatAssignment:
    return access.get_visible(
        visible_seats(user),
        seat_id,
        user=user,
        action=action,
        owner=lambda seat: seat.subscription.customer,
        message="No such seat.",
    )


def access_change(user: User, change_id, *, action: str = "subscriptions.manage"):
    return access.get_visible(
        visible_changes(user),
        change_id,
        user=user,
        action=action,
        owner=lambda change: change.subscription.customer,
        message="No such change.",
    )


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


def order_of_new_person(user: User) -> Order | None:
    """The order a person placed when they signed up (their latest one): what their
    verification e-mail names and where its link lands."""
    return (
        Order.objects.filter(placed_by=user)
        .select_related("customer", "seller__brand", "offer", "plan")
        .order_by("-created_at", "-pk")
        .first()
    )
