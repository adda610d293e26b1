"""Orders: create, edit, submit, approve, cancel; orders waiting for e-mail verification."""

from __future__ import annotations

from datetime import date

from allauth.account.models import EmailAddress
from django.db import transaction

from catalog.models import Offer
from orders.models import (
    Order,
    OrderKind,
    OrderState,
    PlacedAs,
    SellerPolicy,
)
from orders.services._base import (
    _check_offer,
    _freeze,
    _lock_order,
    _move_order,
    _quote,
    _require_place,
    placed_as_for,
)
from orders.services.fulfilment import _order_fulfil
from portal import access, clock
from portal.actors import Actor, person
from portal.errors import Conflict, PermissionDenied, ValidationError
from portal.idempotency import idempotency_claim
from portal.models import Organization, OrgStatus, User
from portal.services import audit_record


def order_create(*, actor: Actor, customer: Organization, **kwargs) -> Order:
    """A new-subscription order for ``customer`` (see ``_order_create``); a sandbox customer's
    order is dated on its own day, whoever places it."""
    with clock.on_day_of(customer):
        return _order_create(actor=actor, customer=customer, **kwargs)


@transaction.atomic
def _order_create(
    *,
    actor: Actor,
    customer: Organization,
    offer: Offer,
    quantity,
    term: str,
    promotion_code: str = "",
    start_date: date | None = None,
    currency: str | None = None,
    submit: bool = False,
    idempotency_key: str = "",
    note: str = "",
    payment_terms: bool = False,
) -> Order:
    """A new-subscription order for ``customer``: a draft, or submitted at once. With an
    ``idempotency_key`` the same request twice gives the same order (portal.idempotency).
    ``payment_terms``: staff entitled to manage the seller's payments let the first invoice
    be paid on terms instead of by card before provisioning."""
    if not customer.is_customer:
        raise ValidationError.for_field("customer", "Orders are placed for customers.")
    _require_place(actor, customer)
    if payment_terms and not access.can(actor, "payments.manage", customer.parent):
        raise PermissionDenied(
            "Only the seller's admins and billing staff may let an order be paid on terms."
        )
    claim = idempotency_claim(
        organization=customer,
        operation="order.create",
        key=idempotency_key,
        request={
            "offer": offer.pk,
            "quantity": str(quantity),
            "term": term,
            "promotion_code": (promotion_code or "").strip(),
            "start_date": start_date,
            "currency": currency or "",
            "submit": bool(submit),
            "note": note or "",
            "payment_terms": bool(payment_terms),
        },
        actor=actor,
    )
    if claim is not None and claim.replay:
        return claim.result(Order)
    _check_offer(offer, customer)
    placed_as, via = placed_as_for(actor, customer)
    start = start_date or clock.today()
    if start < clock.today():
        raise ValidationError.for_field("start_date", "A subscription cannot start in the past.")
    order = Order(
        customer=customer,
        seller=customer.parent,
        kind=OrderKind.NEW,
        state=OrderState.DRAFT,
        placed_by=person(actor),
        placed_as=placed_as,
        placed_via=via,
        offer=offer,
        plan=offer.plan,
        quantity=quantity,
        term=term,
        currency=currency or "",
        promotion_code=(promotion_code or "").strip(),
        start_date=start,
        note=note,
        payment_terms=bool(payment_terms),
    )
    quote = _quote(order, start=start)  # validates quantity, term, code, prices
    order.quantity = quote.quantity
    order.save()
    if claim is not None:
        claim.complete(order)
    _freeze(order, quote)
    audit_record(
        actor=actor,
        organization=customer,
        action="order.created",
        obj=order,
        after={
            "offer": offer.pk,
            "quantity": order.quantity,
            "term": order.term,
            "placed_as": placed_as,
        },
    )
    if submit:
        order = order_submit(actor=actor, order=order, quote=quote)
    return order


@transaction.atomic
def order_update(*, actor: Actor, order: Order, **fields) -> Order:
    """Edit a draft: offer, quantity, term, promotion code, start date, note."""
    order = _lock_order(order)
    _require_place(actor, order.customer)
    if order.state != OrderState.DRAFT:
        raise Conflict(
            f"Order {order.number} is {order.get_state_display().lower()}; only "
            "drafts can be edited."
        )
    allowed = {"offer", "quantity", "term", "promotion_code", "start_date", "note"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    for field, value in fields.items():
        setattr(order, field, value)
    if "offer" in fields:
        _check_offer(order.offer, order.customer)
        order.plan = order.offer.plan
    quote = _quote(order, start=max(order.start_date or clock.today(), clock.today()))
    order.quantity = quote.quantity
    order.save()
    _freeze(order, quote)
    audit_record(
        actor=actor,
        organization=order.customer,
        action="order.updated",
        obj=order,
        after={k: str(getattr(order, k if k != "offer" else "offer_id")) for k in fields},
    )
    return order


@transaction.atomic
def order_submit(*, actor: Actor, order: Order, quote=None) -> Order:
    """Submit a draft: its price is quoted again and frozen, then it moves on as far as it
    can (approval, e-mail verification, provisioning)."""
    order = _lock_order(order)
    _require_place(actor, order.customer)
    if order.state == OrderState.CANCELLED:
        raise Conflict(f"Order {order.number} was cancelled; place a new one.")
    if order.state != OrderState.DRAFT:
        return order  # submitting twice (a retried request) is harmless
    start = max(order.start_date or clock.today(), clock.today())
    if quote is None or quote.start_date != start:  # a quote made just now is still good
        quote = _quote(order, start=start)
    order.start_date = start
    _freeze(order, quote)
    _move_order(order, OrderState.SUBMITTED, actor=actor, submitted_at=clock.now())
    return _order_advance(order, actor=actor, quote=quote)


def _waiting_for_verification(order: Order) -> bool:
    if order.placed_as != PlacedAs.CUSTOMER or order.placed_by is None:
        return False
    return not EmailAddress.objects.filter(user=order.placed_by, verified=True).exists()


def _needs_approval(order: Order) -> bool:
    if order.customer.status == OrgStatus.PENDING:
        return True
    if order.placed_as != PlacedAs.CUSTOMER:
        return False  # staff of the seller (or above) placed it
    policy = SellerPolicy.objects.filter(seller=order.seller).first()
    if policy and policy.approve_orders:
        return True
    from payments.services.ordering import over_self_service_limit

    return bool(over_self_service_limit(order))


def _order_advance(order: Order, *, actor: Actor, quote=None) -> Order:
    if order.state != OrderState.SUBMITTED or _waiting_for_verification(order):
        return order
    if _needs_approval(order):
        _move_order(order, OrderState.AWAITING_APPROVAL, actor=actor)
        return order
    return _order_fulfil(order, actor=actor, quote=quote)


@transaction.atomic
def orders_resume_after_verification(*, user: User) -> list[Order]:
    """The person verified their e-mail address: their submitted orders go on. An order that
    can no longer be carried out as quoted (its trial or promotion was used meanwhile) is
    cancelled with the reason, rather than breaking the verification."""
    advanced = []
    for order in Order.objects.filter(placed_by=user, state=OrderState.SUBMITTED):
        try:
            with transaction.atomic():
                advanced.append(_order_advance(_lock_order(order), actor=user))
        except (ValidationError, Conflict) as exc:
            order = _lock_order(order)
            advanced.append(
                _move_order(
                    order, OrderState.CANCELLED, actor=user, failure_message=exc.message[:300]
                )
            )
    return advanced


def order_approve(*, actor: Actor, order: Order) -> Order:
    """See ``_order_approve``; a sandbox customer's order is approved on its own day."""
    with clock.on_day_of(order.customer):
        return _order_approve(actor=actor, order=order)


@transaction.atomic
def _order_approve(*, actor: Actor, order: Order) -> Order:
    order = _lock_order(order)
    access.require(actor, "orders.approve", order.seller)
    if order.state != OrderState.AWAITING_APPROVAL:
        raise Conflict(f"Order {order.number} is not waiting for approval.")
    customer = order.customer
    if customer.status == OrgStatus.PENDING:
        Organization.objects.filter(pk=customer.pk).update(status=OrgStatus.ACTIVE)
        customer.status = OrgStatus.ACTIVE
        audit_record(
            actor=actor,
            organization=customer,
            action="customer.approved",
            obj=customer,
            before={"status": "pending"},
            after={"status": "active"},
        )
    order.decided_by, order.decided_at = person(actor), clock.now()
    return _order_fulfil(order, actor=actor)


@transaction.atomic
def order_cancel(*, actor: Actor, order: Order, reason: str = "") -> Order:
    """Withdraw a draft or a submitted order (the customer), or reject one waiting for approval
    (the seller)."""
    order = _lock_order(order)
    if order.state == OrderState.AWAITING_APPROVAL and access.can(
        actor, "orders.approve", order.seller
    ):
        order.decided_by, order.decided_at = person(actor), clock.now()
    else:
        _require_place(actor, order.customer)
    if order.state not in (OrderState.DRAFT, OrderState.SUBMITTED, OrderState.AWAITING_APPROVAL):
        raise Conflict(
            f"Order {order.number} is {order.get_state_display().lower()}; only orders not yet "
            "being provisioned can be cancelled."
        )
    return _move_order(
        order, OrderState.CANCELLED, actor=actor, failure_message=(reason or "")[:300]
    )
