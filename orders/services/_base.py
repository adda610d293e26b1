"""Shared pieces of the ordering services: the state machines, who places an order, quotes
frozen on orders, charges and Box changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from billing.models import Charge
from catalog import selectors as catalog_selectors
from catalog.models import Offer, Plan
from catalog.quotes import quote_as_dict, quote_build
from orders.models import (
    ORDER_TRANSITIONS,
    SEAT_HOLDING,
    SUBSCRIPTION_TRANSITIONS,
    ChangeState,
    Order,
    OrderLine,
    OrderState,
    PlacedAs,
    SeatAssignment,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
)
from portal import access, clock
from portal.actors import Actor, is_system, person, require_actor
from portal.errors import Conflict, ValidationError
from portal.models import Organization, Role
from portal.services import audit_record
from provisioning import services as provisioning

GB = 1024**3


# --- state machines -------------------------------------------------------------------------


def _move(obj, to: str, *, table: dict, field: str, noun: str, actor: Actor, **changes):
    """The one way an order or a subscription changes state: check the table, save, audit.
    The caller holds the row lock."""
    current = getattr(obj, field)
    if to not in table[current]:
        label = obj._meta.get_field(field).choices
        names = dict(label)
        raise Conflict(
            f"{noun} {obj.number} is {names[current].lower()}; it cannot become "
            f"{names[to].lower()}."
        )
    setattr(obj, field, to)
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.save()
    audit_record(
        actor=actor,
        organization=obj.customer,
        action=f"{obj._meta.model_name}.{to}",
        obj=obj,
        before={field: current},
        after={field: to},
    )
    return obj


def _move_order(order: Order, to: str, *, actor: Actor, **changes) -> Order:
    if to == OrderState.COMPLETED:
        changes["completed_at"] = clock.now()
    return _move(
        order, to, table=ORDER_TRANSITIONS, field="state", noun="Order", actor=actor, **changes
    )


def _lock_order(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "seller")
        .get(pk=order.pk)
    )


def _move_subscription(sub: Subscription, to: str, *, actor: Actor, **changes):
    return _move(
        sub,
        to,
        table=SUBSCRIPTION_TRANSITIONS,
        field="status",
        noun="Subscription",
        actor=actor,
        **changes,
    )


def _lock_subscription(sub: Subscription) -> Subscription:
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("customer", "seller", "plan", "offer", "box_account")
        .get(pk=sub.pk)
    )


# --- who places an order --------------------------------------------------------------------


def placed_as_for(actor: Actor, customer: Organization) -> tuple[str, Organization | None]:
    """In which capacity ``actor`` orders for ``customer``, and from which organization: the
    customer's own admin, else the nearest seller above it where the actor has a role that
    places orders. (Whether the actor may order at all is ``orders.place``.)"""
    if is_system(require_actor(actor)):
        return PlacedAs.SYSTEM, None
    own = access.membership_of(actor, customer)
    if own is not None and own.role == Role.ADMIN:
        return PlacedAs.CUSTOMER, customer
    memberships = sorted(access.active_memberships(actor), key=lambda m: -m.organization.depth)
    for membership in memberships:
        org = membership.organization
        if not org.is_seller or not customer.path.startswith(org.path):
            continue
        if membership.role == Role.AGENT and customer.agent_id != actor.pk:
            continue
        capacity = f"{org.kind}_{membership.role}"
        if capacity in PlacedAs.values:
            return capacity, org
    raise ValidationError("You cannot order for this customer.")


def _require_place(actor: Actor, customer: Organization) -> None:
    access.require(actor, "orders.place", customer)


# --- quotes and orders ----------------------------------------------------------------------


def _check_offer(offer: Offer, customer: Organization) -> None:
    if offer.seller_id != customer.parent_id:
        # Another seller's offer: say nothing about it, not even its name.
        raise ValidationError.for_field("offer", "No such offer is sold to this customer.")
    if not catalog_selectors.offer_sellable(offer):
        raise ValidationError.for_field("offer", f"{offer.display_name} is not on sale.")


def _quote(order: Order, *, start: date):
    return quote_build(
        seller=order.seller,
        customer=order.customer,
        offer=order.offer,
        quantity=order.quantity,
        term=order.term,
        start_date=start,
        promotion_code=order.promotion_code or None,
        currency=order.currency or None,
    )


def _freeze(order: Order, quote) -> None:
    order.quote = quote_as_dict(quote)
    order.currency = quote.currency
    order.first_total = quote.first_invoice.total
    order.lines.all().delete()
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            position=i,
            kind=line.kind,
            description=line.description[:200],
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for i, line in enumerate(quote.first_invoice.lines, start=1)
    )


def box_admin_login(subscription: Subscription) -> str:
    """The login of the Box enterprise's primary admin: a provider-controlled address, because
    the browser driver must read the verification e-mail Box sends to it."""
    return settings.BOX_ADMIN_LOGIN_TEMPLATE.format(
        subscription=subscription.pk, customer=subscription.customer_id
    )


def _box_seats(quantity: int) -> int:
    # The enterprise's primary admin is the provider's and takes a seat of its own at Box, so
    # the customer can give every seat it bought to its people.
    return quantity + 1


def _charge(
    sub: Subscription,
    *,
    order: Order | None,
    kind: str,
    plan,
    description: str,
    quantity,
    unit_price,
    amount: Decimal,
    service: tuple[date, date],
    key: str,
) -> Charge:
    return Charge.objects.create(
        seller=sub.seller,
        customer=sub.customer,
        subscription=sub,
        order=order,
        kind=kind,
        plan=plan,
        description=description[:200],
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        currency=sub.currency,
        service_start=service[0],
        service_end=service[1],
        period_start=sub.current_period_start,
        period_end=sub.current_period_end,
        source_key=key,
    )


def _live(sub: Subscription) -> None:
    if sub.status not in (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE):
        raise Conflict(
            f"Subscription {sub.number} is {sub.get_status_display().lower()}; it cannot be "
            "changed now."
        )
    if sub.cancel_at_period_end:
        raise Conflict(
            f"Subscription {sub.number} ends on {sub.current_period_end:%d %b %Y}; "
            "withdraw the cancellation first."
        )


def holding_seats(sub: Subscription) -> int:
    return SeatAssignment.objects.filter(subscription=sub, status__in=SEAT_HOLDING).count()


def used_storage_bytes(sub: Subscription) -> int:
    if sub.box_account_id is None:
        return 0
    total = sub.box_account.users.exclude(status="deleted").aggregate(t=Sum("space_used"))["t"]
    return int(total or 0)


def _scheduled(sub: Subscription) -> SubscriptionChange | None:
    return sub.changes.filter(state=ChangeState.SCHEDULED).order_by("-id").first()


def _subscription_order(sub: Subscription, *, kind: str, actor: Actor, **fields) -> Order:
    """A submitted change or cancellation order for ``sub``, with its audit row."""
    placed_as, via = placed_as_for(actor, sub.customer)
    values = {
        "customer": sub.customer,
        "seller": sub.seller,
        "kind": kind,
        "state": OrderState.SUBMITTED,
        "placed_by": person(actor),
        "placed_as": placed_as,
        "placed_via": via,
        "subscription": sub,
        "offer": sub.offer,
        "plan": sub.plan,
        "quantity": sub.quantity,
        "term": sub.term,
        "currency": sub.currency,
        "submitted_at": clock.now(),
        **fields,
    }
    order = Order.objects.create(**values)
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="order.created",
        obj=order,
        after={"kind": kind, "change": order.note, "timing": order.timing},
    )
    return order


def _offer_for(seller: Organization, plan: Plan) -> Offer | None:
    return Offer.objects.filter(seller=seller, plan=plan, is_active=True).order_by("pk").first()


def _box_change(sub: Subscription, *, order: Order | None, plan_changed: bool, actor) -> None:
    subject = ("orders.order", order.pk) if order is not None else None
    key = f"order:{order.pk}:box" if order is not None else None
    if plan_changed:
        provisioning.box_account_change_plan(
            account=sub.box_account,
            plan_code=sub.plan.box_plan_code,
            seats=_box_seats(sub.quantity),
            actor=actor,
            subject=subject,
            idempotency_key=key,
        )
    else:
        provisioning.box_account_change_seats(
            account=sub.box_account,
            seats=_box_seats(sub.quantity),
            actor=actor,
            subject=subject,
            idempotency_key=key,
        )
