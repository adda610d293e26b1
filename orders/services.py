"""Every write of ordering: orders and their state machine, subscriptions and their changes,
seats. Each function checks the actor's right, writes one transaction with audit rows, and
leaves remote work to provisioning jobs that start after commit."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from billing.models import Charge, ChargeKind
from catalog import pricing
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.models import Offer, Plan, PlanTransition, Price, Term, TransitionTiming
from catalog.quotes import quote_as_dict, quote_build
from orders.models import (
    ORDER_TRANSITIONS,
    SEAT_HOLDING,
    SUBSCRIPTION_TRANSITIONS,
    ChangeState,
    ChangeTiming,
    Order,
    OrderKind,
    OrderLine,
    OrderState,
    PlacedAs,
    SeatAssignment,
    SeatRole,
    SeatStatus,
    SellerPolicy,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
)
from portal import access, clock
from portal.errors import Conflict, NotFound, ValidationError
from portal.mail import send_branded_email
from portal.models import Membership, Organization, OrgStatus, Role, User
from portal.services import audit_record, clean_email, customer_signup, user_create
from provisioning import services as provisioning
from provisioning.models import UNLIMITED

GB = 1024**3


# --- state machines -------------------------------------------------------------------------


def _move(obj, to: str, *, table: dict, field: str, noun: str, actor: User | None, **changes):
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


def _move_order(order: Order, to: str, *, actor: User | None, **changes) -> Order:
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


def _move_subscription(sub: Subscription, to: str, *, actor: User | None, **changes):
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


def placed_as_for(actor: User | None, customer: Organization) -> tuple[str, Organization | None]:
    """In which capacity ``actor`` orders for ``customer``, and from which organization: the
    customer's own admin, else the nearest seller above it where the actor has a role that
    places orders. (Whether the actor may order at all is ``orders.place``.)"""
    if actor is None:
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


def _require_place(actor: User | None, customer: Organization) -> None:
    if actor is not None:
        access.require(actor, "orders.place", customer)


# --- quotes and orders ----------------------------------------------------------------------


def _check_offer(offer: Offer, customer: Organization) -> None:
    if offer.seller_id != customer.parent_id:
        raise ValidationError.for_field(
            "offer", f"{offer.display_name} is not sold to {customer.name}."
        )
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


@transaction.atomic
def order_create(
    *,
    actor: User | None,
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
) -> Order:
    """A new-subscription order for ``customer``: a draft, or submitted at once. With an
    ``idempotency_key`` the same request twice gives the same order."""
    idempotency_key = (idempotency_key or "").strip()[:100]
    existing = _existing_order(idempotency_key)
    if existing is not None:
        if existing.customer_id != customer.pk:
            raise Conflict("This idempotency key was used for another customer's order.")
        return existing
    if not customer.is_customer:
        raise ValidationError.for_field("customer", "Orders are placed for customers.")
    _require_place(actor, customer)
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
        placed_by=actor,
        placed_as=placed_as,
        placed_via=via,
        offer=offer,
        plan=offer.plan,
        quantity=quantity,
        term=term,
        currency=currency or "",
        promotion_code=(promotion_code or "").strip(),
        start_date=start,
        idempotency_key=idempotency_key,
        note=note,
    )
    quote = _quote(order, start=start)  # validates quantity, term, code, prices
    order.quantity = quote.quantity
    try:
        with transaction.atomic():
            order.save()
    except IntegrityError:
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
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
def order_update(*, actor: User | None, order: Order, **fields) -> Order:
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
def order_submit(*, actor: User | None, order: Order, quote=None) -> Order:
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
    return bool(policy and policy.approve_orders)


def _order_advance(order: Order, *, actor: User | None, quote=None) -> Order:
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


@transaction.atomic
def order_approve(*, actor: User, order: Order) -> Order:
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
    order.decided_by, order.decided_at = actor, clock.now()
    return _order_fulfil(order, actor=actor)


@transaction.atomic
def order_cancel(*, actor: User, order: Order, reason: str = "") -> Order:
    """Withdraw a draft or a submitted order (the customer), or reject one waiting for approval
    (the seller)."""
    order = _lock_order(order)
    if order.state == OrderState.AWAITING_APPROVAL and access.can(
        actor, "orders.approve", order.seller
    ):
        order.decided_by, order.decided_at = actor, clock.now()
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


def _order_fulfil(order: Order, *, actor: User | None, quote=None) -> Order:
    """Start a new subscription (or apply a change) and its provisioning jobs, in the
    caller's transaction."""
    if order.kind != OrderKind.NEW:
        raise Conflict("Only new-subscription orders are fulfilled this way.")  # pragma: no cover
    start = max(order.start_date, clock.today())
    if quote is None or quote.start_date != start:  # approved or verified later: quote again
        quote = _quote(order, start=start)
        _freeze(order, quote)
    first = quote.first_invoice
    customer, offer = order.customer, order.offer
    if quote.trial_days:
        catalog_services.trial_redeem(
            customer=customer, offer=offer, started_on=quote.start_date, actor=actor
        )
        period_start, period_end = quote.start_date, quote.trial_end
    else:
        period_start, period_end = first.start, first.end
    promotion = None
    if quote.promotion_id:
        from catalog.models import Promotion

        promotion = Promotion.objects.get(pk=quote.promotion_id)
        catalog_services.promotion_redeem(
            promotion=promotion,
            customer=customer,
            reference=order.number,
            plan=order.plan,
            on_date=quote.start_date,
            actor=actor,
        )
    price = Price.objects.get(pk=first.price_id)  # the version the quote billed
    sub = Subscription.objects.create(
        customer=customer,
        seller=order.seller,
        offer=offer,
        plan=order.plan,
        quantity=order.quantity,
        term=order.term,
        currency=quote.currency,
        started_on=quote.start_date,
        trial_ends_on=quote.trial_end,
        anchor_day=first.start.day,
        current_period_start=period_start,
        current_period_end=period_end,
        unit_price=price.recurring,
        promotion=promotion,
    )
    audit_record(
        actor=actor,
        organization=customer,
        action="subscription.created",
        obj=sub,
        after={
            "plan": order.plan.code,
            "quantity": sub.quantity,
            "term": sub.term,
            "order": order.pk,
        },
    )
    for line in first.lines:
        if line.kind == "setup":
            _charge(
                sub,
                order=order,
                kind=ChargeKind.SETUP,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                service=(first.start, first.end),
                key=f"order:{order.pk}:setup",
            )
    account = provisioning.box_account_open(
        customer=customer,
        plan_code=order.plan.box_plan_code,
        seats=_box_seats(sub.quantity),
        admin_email=box_admin_login(sub),
        admin_name=customer.name[:50],
        actor=actor,
        reference=f"subscription:{sub.pk}",
        subject=("orders.order", order.pk),
    )
    sub.box_account = account
    sub.save(update_fields=["box_account", "updated_at"])
    return _move_order(order, OrderState.PROVISIONING, actor=actor, subscription=sub)


def _charge(
    sub: Subscription,
    *,
    order: Order | None,
    kind: str,
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


# --- provisioning outcomes ------------------------------------------------------------------

# The job whose success completes an order of each kind (new orders: the last sign-up step).
FINAL_OPERATION = {OrderKind.NEW: "account.link_admin"}


def on_order_job_succeeded(job) -> None:
    order = _lock_order(Order.objects.get(pk=int(job.subject_id)))
    if order.state == OrderState.FAILED:
        _move_order(order, OrderState.PROVISIONING, actor=None, failure_message="")
    if order.state != OrderState.PROVISIONING:
        return
    final = FINAL_OPERATION.get(order.kind)
    if final is not None and job.operation != final:
        return
    sub = _lock_subscription(order.subscription)
    if order.kind == OrderKind.NEW:
        status = SubscriptionStatus.TRIAL if sub.trial_ends_on else SubscriptionStatus.ACTIVE
        _move_subscription(sub, status, actor=None)
        _notify_ready(order, sub)
    _move_order(order, OrderState.COMPLETED, actor=None)


def on_order_job_failed(job) -> None:
    order = _lock_order(Order.objects.get(pk=int(job.subject_id)))
    if job.state == "cancelled":
        # Staff cancelled the step: the order cannot be carried out as asked.
        if order.state in (OrderState.PROVISIONING, OrderState.FAILED):
            _move_order(
                order, OrderState.CANCELLED, actor=None, failure_message="Cancelled by our team."
            )
            if order.kind == OrderKind.NEW and order.subscription_id:
                sub = _lock_subscription(order.subscription)
                if sub.status == SubscriptionStatus.PENDING:
                    _move_subscription(
                        sub, SubscriptionStatus.CANCELLED, actor=None, cancelled_on=clock.today()
                    )
        return
    if order.state == OrderState.PROVISIONING:
        _move_order(
            order,
            OrderState.FAILED,
            actor=None,
            failure_message=(
                "We could not finish setting this up at Box yet. Our team has been told and will "
                "fix it; you do not need to do anything."
            ),
        )


def _notify_ready(order: Order, sub: Subscription) -> None:
    admins = list(
        Membership.objects.filter(
            organization=sub.customer, role=Role.ADMIN, is_active=True
        ).values_list("user__email", flat=True)
    )
    if admins:
        send_branded_email(
            organization=sub.customer,
            to=admins,
            template="orders/email/subscription_ready",
            context={
                "customer": sub.customer.name,
                "plan": sub.plan.name,
                "quantity": sub.quantity,
                "order": order.number,
                "trial_ends_on": sub.trial_ends_on,
            },
        )


# --- subscription changes -------------------------------------------------------------------


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


@dataclass(frozen=True)
class ChangePlan:
    """What a requested change means, before anything is written."""

    plan: Plan
    quantity: int
    term: str
    timing: str
    effective_on: date
    description: str


def change_preview(
    *,
    subscription: Subscription,
    plan: Plan | None = None,
    quantity: int | None = None,
    term: str | None = None,
) -> ChangePlan:
    """Check a change against the plan's rules and say when it applies. Raises a
    ``ValidationError``/``Conflict`` naming the rule it breaks."""
    sub = subscription
    _live(sub)
    pending = _scheduled(sub)
    base_plan = pending.to_plan if pending else sub.plan
    base_quantity = pending.to_quantity if pending else sub.quantity
    base_term = pending.to_term if pending else sub.term
    new_plan = plan or base_plan
    new_quantity = base_quantity if quantity in (None, "") else _positive(quantity)
    new_term = term or base_term
    if new_term not in Term.values:
        raise ValidationError.for_field("term", "Choose monthly or annual.")
    if (new_plan.pk, new_quantity, new_term) == (base_plan.pk, base_quantity, base_term):
        raise ValidationError("Nothing would change.")
    timings = []
    if new_plan.pk != sub.plan.pk:
        if sub.in_trial and not sub.plan.changes_during_trial:
            raise ValidationError.for_field(
                "plan",
                f"{sub.plan.name} cannot change plan during its trial; the trial ends on "
                f"{sub.trial_ends_on:%d %b %Y}.",
            )
        transition = PlanTransition.objects.filter(from_plan=sub.plan, to_plan=new_plan).first()
        if transition is None:
            raise ValidationError.for_field(
                "plan", f"A {sub.plan.name} subscription cannot change to {new_plan.name}."
            )
        timings.append(transition.timing)
        if not _seller_sells(sub.seller, new_plan):
            raise ValidationError.for_field(
                "plan", f"{sub.seller.name} does not sell {new_plan.name}."
            )
    if new_quantity < new_plan.seat_min or (new_plan.seat_max and new_quantity > new_plan.seat_max):
        raise ValidationError.for_field(
            "quantity",
            f"{new_plan.name} is for {new_plan.seats_label}; {new_quantity} is outside that.",
        )
    held = holding_seats(sub)
    if new_quantity < held:
        raise ValidationError.for_field(
            "quantity",
            f"{held} seats are assigned; unassign {held - new_quantity} before going "
            f"down to {new_quantity}.",
        )
    if new_quantity != sub.quantity:
        timings.append(
            TransitionTiming.IMMEDIATE
            if new_quantity > sub.quantity
            else TransitionTiming.END_OF_TERM
        )
    if new_term != sub.term:
        timings.append(TransitionTiming.END_OF_TERM)
    included = new_plan.included_storage_gb(new_quantity)
    used = used_storage_bytes(sub)
    if included is not None and used > included * GB:
        raise ValidationError.for_field(
            "plan",
            f"{new_plan.name} with {new_quantity} seats includes {included} GB, but "
            f"{_gb(used)} GB is in use.",
        )
    if pending is not None or TransitionTiming.END_OF_TERM in timings:
        timing = ChangeTiming.END_OF_TERM
        if TransitionTiming.IMMEDIATE in timings and pending is None:
            raise ValidationError(
                "Part of this change applies now and part at the end of the term; make them one "
                "at a time."
            )
    else:
        timing = ChangeTiming.IMMEDIATE
    effective = clock.today() if timing == ChangeTiming.IMMEDIATE else sub.current_period_end
    parts = []
    if new_plan.pk != sub.plan.pk:
        parts.append(f"{sub.plan.name} → {new_plan.name}")
    if new_quantity != sub.quantity:
        parts.append(f"{sub.quantity} → {new_quantity} seats")
    if new_term != sub.term:
        parts.append(f"{sub.term} → {new_term}")
    return ChangePlan(new_plan, new_quantity, new_term, timing, effective, ", ".join(parts))


def _seller_sells(seller: Organization, plan: Plan) -> bool:
    return Offer.objects.filter(seller=seller, plan=plan, is_active=True).exists()


def _positive(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field("quantity", "Give the number of seats.") from None
    if number < 1:
        raise ValidationError.for_field("quantity", "At least one seat.")
    return number


def _gb(used_bytes: int) -> str:
    return f"{Decimal(used_bytes) / GB:.1f}"


def _existing_order(idempotency_key: str) -> Order | None:
    """The order an earlier request with the same key made, if any."""
    key = (idempotency_key or "").strip()[:100]
    return Order.objects.filter(idempotency_key=key).first() if key else None


def _subscription_order(
    sub: Subscription, *, kind: str, actor: User | None, idempotency_key: str, **fields
) -> Order:
    """A submitted change or cancellation order for ``sub``, with its audit row."""
    placed_as, via = placed_as_for(actor, sub.customer)
    values = {
        "customer": sub.customer,
        "seller": sub.seller,
        "kind": kind,
        "state": OrderState.SUBMITTED,
        "placed_by": actor,
        "placed_as": placed_as,
        "placed_via": via,
        "subscription": sub,
        "offer": sub.offer,
        "plan": sub.plan,
        "quantity": sub.quantity,
        "term": sub.term,
        "currency": sub.currency,
        "submitted_at": clock.now(),
        "idempotency_key": (idempotency_key or "").strip()[:100],
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


@transaction.atomic
def subscription_change(
    *,
    actor: User | None,
    subscription: Subscription,
    plan: Plan | None = None,
    quantity: int | None = None,
    term: str | None = None,
    idempotency_key: str = "",
) -> Order:
    """Upgrade, downgrade, add or remove seats, change term. Immediate changes are charged
    pro rata now and carried out at Box; end-of-term ones are scheduled."""
    existing = _existing_order(idempotency_key)
    if existing is not None:
        return existing
    sub = _lock_subscription(subscription)
    if actor is not None:
        access.require(actor, "subscriptions.manage", sub.customer)
    preview = change_preview(subscription=sub, plan=plan, quantity=quantity, term=term)
    order = _subscription_order(
        sub,
        kind=OrderKind.CHANGE,
        actor=actor,
        idempotency_key=idempotency_key,
        plan=preview.plan,
        quantity=preview.quantity,
        term=preview.term,
        timing=preview.timing,
        effective_on=preview.effective_on,
        note=preview.description,
    )
    if preview.timing == ChangeTiming.END_OF_TERM:
        previous = _scheduled(sub)
        if previous is not None:
            previous.state = ChangeState.CANCELLED
            previous.save(update_fields=["state"])
        _record_change(sub, order, preview, state=ChangeState.SCHEDULED)
        return _move_order(order, OrderState.COMPLETED, actor=actor)
    return _apply_now(order, sub, preview, actor=actor)


def _record_change(sub: Subscription, order: Order, preview: ChangePlan, *, state: str):
    """The change from the subscription as it is now to the preview's target, kept for the
    record (applied) or waiting for its day (scheduled)."""
    return SubscriptionChange.objects.create(
        subscription=sub,
        order=order,
        timing=preview.timing,
        effective_on=preview.effective_on,
        state=state,
        applied_at=clock.now() if state == ChangeState.APPLIED else None,
        from_plan=sub.plan,
        to_plan=preview.plan,
        from_quantity=sub.quantity,
        to_quantity=preview.quantity,
        from_term=sub.term,
        to_term=preview.term,
    )


def _apply_now(order: Order, sub: Subscription, preview: ChangePlan, *, actor) -> Order:
    today = clock.today()
    days_left = pricing.days_between(today, sub.current_period_end)
    days = pricing.days_between(sub.current_period_start, sub.current_period_end)
    span = (today, sub.current_period_end)
    old_plan, old_quantity, old_unit = sub.plan, sub.quantity, sub.unit_price
    new_unit = old_unit
    if preview.plan.pk != old_plan.pk:
        new_unit = catalog_selectors.price_for(
            seller=sub.seller,
            plan=preview.plan,
            currency=sub.currency,
            term=sub.term,
            buyer=sub.customer,
            on_date=sub.current_period_start,
        ).recurring
    # A trial is free: changes during it cost nothing until the first paid period.
    if not sub.in_trial:
        if preview.plan.pk != old_plan.pk:
            credit = pricing.prorate(
                old_unit * old_quantity,
                days_left=days_left,
                days_in_period=days,
                currency=sub.currency,
            )
            charge = pricing.prorate(
                new_unit * preview.quantity,
                days_left=days_left,
                days_in_period=days,
                currency=sub.currency,
            )
            _charge(
                sub,
                order=order,
                kind=ChargeKind.CREDIT,
                description=f"Unused {old_plan.name}, {old_quantity} seats, "
                f"{days_left} of {days} days",
                quantity=Decimal(old_quantity),
                unit_price=old_unit,
                amount=-credit,
                service=span,
                key=f"order:{order.pk}:credit",
            )
            _charge(
                sub,
                order=order,
                kind=ChargeKind.PRORATED,
                description=f"{preview.plan.name}, {preview.quantity} seats, "
                f"{days_left} of {days} days",
                quantity=Decimal(preview.quantity),
                unit_price=new_unit,
                amount=charge,
                service=span,
                key=f"order:{order.pk}:charge",
            )
        elif preview.quantity > old_quantity:
            added = preview.quantity - old_quantity
            amount = pricing.prorate(
                old_unit * added, days_left=days_left, days_in_period=days, currency=sub.currency
            )
            _charge(
                sub,
                order=order,
                kind=ChargeKind.PRORATED,
                description=f"{added} more seats of {old_plan.name}, {days_left} of {days} days",
                quantity=Decimal(added),
                unit_price=old_unit,
                amount=amount,
                service=span,
                key=f"order:{order.pk}:seats",
            )
    _record_change(sub, order, preview, state=ChangeState.APPLIED)
    before = {"plan": old_plan.code, "quantity": old_quantity, "unit_price": str(old_unit)}
    sub.plan, sub.quantity, sub.unit_price = preview.plan, preview.quantity, new_unit
    offer = _offer_for(sub.seller, preview.plan)
    if offer is not None:
        sub.offer = offer
    sub.save()
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="subscription.changed",
        obj=sub,
        before=before,
        after={"plan": sub.plan.code, "quantity": sub.quantity, "unit_price": str(sub.unit_price)},
    )
    _box_change(sub, order=order, plan_changed=preview.plan.pk != old_plan.pk, actor=actor)
    return _move_order(order, OrderState.PROVISIONING, actor=actor)


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


@transaction.atomic
def subscription_change_withdraw(*, actor: User, change: SubscriptionChange) -> None:
    sub = _lock_subscription(change.subscription)
    access.require(actor, "subscriptions.manage", sub.customer)
    change = SubscriptionChange.objects.select_for_update(of=("self",)).get(pk=change.pk)
    if change.state != ChangeState.SCHEDULED:
        raise Conflict("Only a scheduled change can be withdrawn.")
    change.state = ChangeState.CANCELLED
    change.save(update_fields=["state"])
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="subscription.change_withdrawn",
        obj=sub,
        before={"scheduled": change.describe()},
    )


@transaction.atomic
def subscription_cancel(
    *,
    actor: User | None,
    subscription: Subscription,
    immediately: bool | None = None,
    idempotency_key: str = "",
) -> Order:
    """End a subscription when the plan's rule says: at the end of the period, or now (which
    credits the unused days and cancels the Box account). Staff of a seller may end one now
    whatever the plan says (``immediately=True``)."""
    existing = _existing_order(idempotency_key)
    if existing is not None:
        return existing
    sub = _lock_subscription(subscription)
    if actor is not None:
        access.require(actor, "subscriptions.manage", sub.customer)
    plan_says_now = sub.plan.cancellation_timing == TransitionTiming.IMMEDIATE
    if immediately is None:
        immediately = plan_says_now
    if (
        immediately
        and not plan_says_now
        and actor is not None
        and not access.can(actor, "subscriptions.suspend", sub.customer)
    ):
        raise ValidationError(
            f"{sub.plan.name} subscriptions end at the end of their term; "
            f"this one on {sub.current_period_end:%d %b %Y}."
        )
    if sub.status == SubscriptionStatus.CANCELLED:
        raise Conflict(f"Subscription {sub.number} is already cancelled.")
    if sub.status == SubscriptionStatus.PENDING:
        raise Conflict(f"Subscription {sub.number} is still being set up.")
    if not immediately and sub.cancel_at_period_end:
        raise Conflict(
            f"Subscription {sub.number} already ends on {sub.current_period_end:%d %b %Y}."
        )
    today = clock.today()
    order = _subscription_order(
        sub,
        kind=OrderKind.CANCEL,
        actor=actor,
        idempotency_key=idempotency_key,
        timing=ChangeTiming.IMMEDIATE if immediately else ChangeTiming.END_OF_TERM,
        effective_on=today if immediately else sub.current_period_end,
    )
    if not immediately:
        sub.cancel_at_period_end = True
        sub.save(update_fields=["cancel_at_period_end", "updated_at"])
        audit_record(
            actor=actor,
            organization=sub.customer,
            action="subscription.cancel_scheduled",
            obj=sub,
            after={"ends_on": sub.current_period_end.isoformat()},
        )
        return _move_order(order, OrderState.COMPLETED, actor=actor)
    if not sub.in_trial and sub.status != SubscriptionStatus.SUSPENDED:
        days_left = pricing.days_between(today, sub.current_period_end)
        days = pricing.days_between(sub.current_period_start, sub.current_period_end)
        credit = pricing.prorate(
            sub.unit_price * sub.quantity,
            days_left=days_left,
            days_in_period=days,
            currency=sub.currency,
        )
        if credit:
            _charge(
                sub,
                order=order,
                kind=ChargeKind.CREDIT,
                description=f"Unused {sub.plan.name}, {sub.quantity} seats, {days_left} of "
                f"{days} days",
                quantity=Decimal(sub.quantity),
                unit_price=sub.unit_price,
                amount=-credit,
                service=(today, sub.current_period_end),
                key=f"order:{order.pk}:credit",
            )
    _move_subscription(sub, SubscriptionStatus.CANCELLED, actor=actor, cancelled_on=today)
    provisioning.box_account_cancel(
        account=sub.box_account,
        actor=actor,
        subject=("orders.order", order.pk),
        idempotency_key=f"order:{order.pk}:box",
    )
    return _move_order(order, OrderState.PROVISIONING, actor=actor)


@transaction.atomic
def subscription_cancel_withdraw(*, actor: User, subscription: Subscription) -> Subscription:
    sub = _lock_subscription(subscription)
    access.require(actor, "subscriptions.manage", sub.customer)
    if not sub.cancel_at_period_end or sub.status == SubscriptionStatus.CANCELLED:
        raise Conflict(f"Subscription {sub.number} is not due to end.")
    sub.cancel_at_period_end = False
    sub.save(update_fields=["cancel_at_period_end", "updated_at"])
    audit_record(
        actor=actor, organization=sub.customer, action="subscription.cancel_withdrawn", obj=sub
    )
    return sub


@transaction.atomic
def subscription_suspend(
    *, actor: User | None, subscription: Subscription, reason: str
) -> Subscription:
    """Suspend (e.g. unpaid): the people's Box users become inactive."""
    sub = _lock_subscription(subscription)
    if actor is not None:
        access.require(actor, "subscriptions.suspend", sub.customer)
    reason = (reason or "").strip()[:200]
    if not reason:
        raise ValidationError.for_field("reason", "Say why (the customer sees it).")
    _move_subscription(sub, SubscriptionStatus.SUSPENDED, actor=actor, suspended_reason=reason)
    provisioning.box_account_suspend(account=sub.box_account, actor=actor)
    return sub


@transaction.atomic
def subscription_resume(*, actor: User | None, subscription: Subscription) -> Subscription:
    sub = _lock_subscription(subscription)
    if actor is not None:
        access.require(actor, "subscriptions.suspend", sub.customer)
    back = (
        SubscriptionStatus.TRIAL
        if sub.trial_ends_on and clock.today() < sub.trial_ends_on
        else SubscriptionStatus.ACTIVE
    )
    _move_subscription(sub, back, actor=actor, suspended_reason="")
    provisioning.box_account_resume(account=sub.box_account, actor=actor)
    return sub


@transaction.atomic
def subscription_renew(*, subscription: Subscription, today: date | None = None) -> Subscription:
    """Roll the subscription to the period containing ``today``: end a trial, apply scheduled
    changes, end a subscription due to end. Idempotent: a period already rolled is not rolled
    again."""
    today = today or clock.today()
    sub = _lock_subscription(subscription)
    while (
        sub.status
        in (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)
        and sub.current_period_end <= today
    ):
        boundary = sub.current_period_end
        if sub.cancel_at_period_end:
            _move_subscription(sub, SubscriptionStatus.CANCELLED, actor=None, cancelled_on=boundary)
            provisioning.box_account_cancel(
                account=sub.box_account, idempotency_key=f"subscription:{sub.pk}:cancel"
            )
            break
        change = (
            sub.changes.filter(state=ChangeState.SCHEDULED, effective_on__lte=boundary)
            .order_by("-id")
            .first()
        )
        plan_changed = seats_changed = False
        if change is not None:
            plan_changed = change.to_plan_id != sub.plan_id
            seats_changed = change.to_quantity != sub.quantity
            sub.plan, sub.quantity, sub.term = change.to_plan, change.to_quantity, change.to_term
            offer = _offer_for(sub.seller, sub.plan)
            if offer is not None:
                sub.offer = offer
            change.state, change.applied_at = ChangeState.APPLIED, clock.now()
            change.save(update_fields=["state", "applied_at"])
        if sub.status == SubscriptionStatus.TRIAL:
            _move_subscription(sub, SubscriptionStatus.ACTIVE, actor=None)
        sub.current_period_start = boundary
        sub.current_period_end = pricing.period_end(boundary, sub.term, sub.anchor_day)
        sub.unit_price = catalog_selectors.price_for(
            seller=sub.seller,
            plan=sub.plan,
            currency=sub.currency,
            term=sub.term,
            buyer=sub.customer,
            on_date=boundary,
        ).recurring
        sub.save()
        audit_record(
            actor=None,
            organization=sub.customer,
            action="subscription.renewed",
            obj=sub,
            after={
                "period_start": boundary.isoformat(),
                "period_end": sub.current_period_end.isoformat(),
                "change": change.describe() if change else "",
            },
        )
        if plan_changed or seats_changed:
            _box_change(sub, order=None, plan_changed=plan_changed, actor=None)
    return sub


# --- seats ----------------------------------------------------------------------------------


def _quota_bytes(sub: Subscription, quota_gb) -> int | None:
    if quota_gb in (None, ""):
        return None
    try:
        gb = int(quota_gb)
    except (TypeError, ValueError):
        raise ValidationError.for_field("quota_gb", "The quota is a whole number of GB.") from None
    if gb < 1:
        raise ValidationError.for_field("quota_gb", "The quota is at least 1 GB.")
    limit = sub.plan.storage_gb if sub.plan.storage_mode != "unlimited" else None
    if limit is not None and gb > limit:
        raise ValidationError.for_field(
            "quota_gb", f"{sub.plan.name} allows at most {limit} GB per person."
        )
    return gb * GB


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ValidationError.for_field("name", "A name of 1 to 50 characters is required.")
    return name


def _clean_role(role: str) -> str:
    role = role or SeatRole.USER
    if role not in SeatRole.values:
        raise ValidationError.for_field(
            "role", f"'{role}' is not a seat role; choose one of: {', '.join(SeatRole.values)}."
        )
    return role


def _seat_subscription(sub: Subscription, actor: User | None) -> Subscription:
    sub = _lock_subscription(sub)
    if actor is not None:
        access.require(actor, "seats.manage", sub.customer)
    if (
        sub.status
        not in (SubscriptionStatus.PENDING, SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE)
        or sub.box_account_id is None
    ):
        raise Conflict(
            f"Subscription {sub.number} is {sub.get_status_display().lower()}; seats "
            "cannot be changed now."
        )
    return sub


@transaction.atomic
def seat_assign(
    *,
    actor: User | None,
    subscription: Subscription,
    email: str,
    name: str,
    quota_gb=None,
    role: str = SeatRole.USER,
) -> SeatAssignment:
    """Give a person one of the subscription's seats: a Box user is created for them."""
    sub = _seat_subscription(subscription, actor)
    email, name, role = clean_email(email), _clean_name(name), _clean_role(role)
    quota = _quota_bytes(sub, quota_gb)
    held = holding_seats(sub)
    if held >= sub.quantity:
        raise Conflict(
            f"All {sub.quantity} seats are assigned; buy more seats or unassign someone first."
        )
    if (
        SeatAssignment.objects.filter(subscription=sub, email=email)
        .exclude(status=SeatStatus.REMOVED)
        .exists()
    ):
        raise Conflict.for_field("email", f"{email} already has a seat.")
    seat = SeatAssignment.objects.create(
        subscription=sub, email=email, name=name, quota_bytes=quota, role=role, assigned_by=actor
    )
    job = provisioning.box_user_create(
        account=sub.box_account,
        login=email,
        name=name,
        external_app_user_id=f"seat-{seat.pk}",
        space_amount=UNLIMITED if quota is None else quota,
        role=role,
        actor=actor,
        subject=("orders.seatassignment", seat.pk),
    )
    seat.box_user = job.box_user
    seat.save(update_fields=["box_user", "updated_at"])
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="seat.assigned",
        obj=seat,
        after={"email": email, "quota_gb": seat.quota_gb, "role": role},
    )
    return seat


def _lock_seat(seat: SeatAssignment) -> SeatAssignment:
    return (
        SeatAssignment.objects.select_for_update(of=("self",))
        .select_related(
            "subscription__customer", "subscription__plan", "subscription__box_account", "box_user"
        )
        .get(pk=seat.pk)
    )


@transaction.atomic
def seat_update(
    *,
    actor: User | None,
    seat: SeatAssignment,
    name: str | None = None,
    quota_gb=...,
    role: str | None = None,
) -> SeatAssignment:
    """Change a person's name, storage quota (None: the plan's default) or role."""
    sub = _seat_subscription(seat.subscription, actor)
    seat = _lock_seat(seat)
    if seat.status not in (SeatStatus.ACTIVE, SeatStatus.FAILED, SeatStatus.UPDATING):
        raise Conflict(f"The seat of {seat.email} is {seat.get_status_display().lower()}.")
    changes, before = {}, {}
    if name is not None and _clean_name(name) != seat.name:
        before["name"], changes["name"] = seat.name, _clean_name(name)
    if quota_gb is not ...:
        quota = _quota_bytes(sub, quota_gb)
        if quota != seat.quota_bytes:
            before["quota_gb"], changes["quota_bytes"] = seat.quota_gb, quota
    if role is not None and _clean_role(role) != seat.role:
        before["role"], changes["role"] = seat.role, role
    if not changes:
        return seat
    for field, value in changes.items():
        setattr(seat, field, value)
    seat.status = SeatStatus.UPDATING
    seat.save()
    quota_change = changes.get("quota_bytes", ...)
    provisioning.box_user_update(
        account=sub.box_account,
        box_user=seat.box_user,
        name=changes.get("name"),
        space_amount=None
        if quota_change is ...
        else (UNLIMITED if quota_change is None else quota_change),
        role=changes.get("role"),
        actor=actor,
        subject=("orders.seatassignment", seat.pk),
    )
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="seat.updated",
        obj=seat,
        before=before,
        after={k: v for k, v in changes.items() if k != "quota_bytes"}
        | ({"quota_gb": seat.quota_gb} if "quota_bytes" in changes else {}),
    )
    return seat


@transaction.atomic
def seat_unassign(*, actor: User | None, seat: SeatAssignment) -> SeatAssignment:
    """Take the seat back: the person's Box user is deleted and the seat is free at once."""
    sub = _seat_subscription(seat.subscription, actor)
    seat = _lock_seat(seat)
    if seat.status in (SeatStatus.REMOVING, SeatStatus.REMOVED):
        raise Conflict(f"The seat of {seat.email} is already being removed.")
    seat.status = SeatStatus.REMOVING
    seat.save(update_fields=["status", "updated_at"])
    provisioning.box_user_delete(
        account=sub.box_account,
        box_user=seat.box_user,
        actor=actor,
        subject=("orders.seatassignment", seat.pk),
    )
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="seat.unassigned",
        obj=seat,
        before={"email": seat.email},
    )
    return seat


@transaction.atomic
def seat_reassign(
    *, actor: User | None, seat: SeatAssignment, email: str, name: str, quota_gb=None
) -> SeatAssignment:
    """Give a seat to someone else: the old person's Box user goes, a new one comes."""
    sub = seat.subscription
    seat_unassign(actor=actor, seat=seat)
    return seat_assign(
        actor=actor, subscription=sub, email=email, name=name, quota_gb=quota_gb, role=seat.role
    )


@dataclass
class ImportRow:
    line: int
    email: str
    ok: bool
    message: str


CSV_COLUMNS = ("email", "name", "quota_gb", "role")


def seats_import(*, actor: User | None, subscription: Subscription, text: str) -> list[ImportRow]:
    """Assign seats from CSV text with the columns ``email,name[,quota_gb][,role]``; each row
    succeeds or fails on its own and the report says which and why."""
    if len(text) > 1_000_000:
        raise ValidationError("The file is too large; import at most 1 MB at a time.")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "email" not in fields or "name" not in fields:
        raise ValidationError("The first line must name the columns: email,name,quota_gb,role.")
    reader.fieldnames = fields
    report = []
    for row in reader:
        line = reader.line_num
        email = (row.get("email") or "").strip()
        try:
            with transaction.atomic():
                seat_assign(
                    actor=actor,
                    subscription=subscription,
                    email=email,
                    name=(row.get("name") or "").strip(),
                    quota_gb=(row.get("quota_gb") or "").strip() or None,
                    role=(row.get("role") or "").strip() or SeatRole.USER,
                )
        except (ValidationError, Conflict, NotFound) as exc:
            report.append(ImportRow(line, email, False, exc.message))
        else:
            report.append(ImportRow(line, email, True, "Assigned."))
    return report


def on_seat_job_succeeded(job) -> None:
    seat = SeatAssignment.objects.select_for_update(of=("self",)).get(pk=int(job.subject_id))
    if job.operation == "user.delete":
        seat.status, seat.removed_at = SeatStatus.REMOVED, clock.now()
    elif job.operation in ("user.create", "user.update", "user.resume"):
        seat.status = SeatStatus.ACTIVE
    elif job.operation == "user.suspend":
        seat.status = SeatStatus.SUSPENDED
    seat.last_error = ""
    seat.save(update_fields=["status", "removed_at", "last_error", "updated_at"])


def on_seat_job_failed(job) -> None:
    seat = SeatAssignment.objects.select_for_update(of=("self",)).get(pk=int(job.subject_id))
    if job.operation == "user.create" and job.state == "cancelled":
        seat.status, seat.removed_at = SeatStatus.REMOVED, clock.now()
        seat.last_error = "Cancelled by our team."
    elif job.operation == "user.delete":
        seat.last_error = "Removing this person at Box did not work yet; our team will finish it."
    else:
        seat.status = SeatStatus.FAILED
        seat.last_error = "Box did not accept this yet; our team has been told and will fix it."
    seat.save(update_fields=["status", "removed_at", "last_error", "updated_at"])


# --- storefront checkout --------------------------------------------------------------------


@transaction.atomic
def checkout(
    *,
    seller: Organization,
    offer: Offer,
    quantity,
    term: str,
    promotion_code: str = "",
    company_name: str,
    full_name: str,
    email: str,
    password: str,
    idempotency_key: str,
) -> Order:
    """A visitor orders on a storefront and registers in the same step: a person (e-mail not
    yet verified), a customer of the storefront's seller and a submitted order, all in one
    transaction. The order waits for the e-mail address to be verified."""
    idempotency_key = (idempotency_key or "").strip()[:100]
    if not idempotency_key:
        raise ValidationError("The checkout form is missing its one-time token; reload the page.")
    existing = Order.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if offer.seller_id != seller.pk:
        raise ValidationError.for_field("offer", f"{offer.display_name} is not sold here.")
    # Everything below is one transaction: bad order details undo the new person too.
    try:
        with transaction.atomic():
            user = user_create(email=email, password=password, full_name=full_name, verified=False)
            customer = customer_signup(
                user=user, seller=seller, company_name=company_name, full_name=full_name
            )
            access.forget(user)
            order = order_create(
                actor=user,
                customer=customer,
                offer=offer,
                quantity=quantity,
                term=term,
                promotion_code=promotion_code,
                submit=True,
                idempotency_key=idempotency_key,
            )
            if order.customer_id != customer.pk:
                raise _Raced(order)
            return order
    except _Raced as raced:  # the same token won a race: that order stands, ours is undone
        return raced.order
    except (IntegrityError, Conflict):
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        if User.objects.filter(email__iexact=(email or "").strip()).exists():
            raise Conflict.for_field(
                "email", "A user is already registered with this email address; sign in to order."
            ) from None
        raise


class _Raced(Exception):
    def __init__(self, order: Order):
        self.order = order


@transaction.atomic
def seller_policy_update(
    *, actor: User, seller: Organization, approve_orders: bool, approve_new_customers: bool
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
def customer_approve(*, actor: User, customer: Organization) -> Organization:
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
