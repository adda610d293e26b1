"""Fulfilling a new-subscription order: the subscription, its first charges and its Box
account; what provisioning outcomes do to orders."""

from __future__ import annotations

from django.db import transaction

from billing.models import ChargeKind
from catalog import services as catalog_services
from catalog.models import Price
from catalog.quotes import quote_as_dict, quote_from_dict, quote_moved
from orders.models import (
    Order,
    OrderKind,
    OrderState,
    Subscription,
    SubscriptionStatus,
)
from orders.services._base import (
    _box_seats,
    _charge,
    _lock_order,
    _lock_subscription,
    _move_order,
    _move_subscription,
    box_admin_login,
)
from portal import clock
from portal.actors import Actor, require_actor, system
from portal.errors import Conflict
from portal.mail import send_branded_email
from portal.models import Membership, Role
from portal.services import audit_record
from provisioning import services as provisioning


def _order_fulfil(order: Order, *, actor: Actor, quote=None) -> Order:
    """Start a new subscription (or apply a change) and its provisioning jobs, in the
    caller's transaction."""
    if order.kind != OrderKind.NEW:
        raise Conflict("Only new-subscription orders are fulfilled this way.")  # pragma: no cover
    start = max(order.start_date, clock.today())
    if quote is None:
        # Approved or verified later: what was quoted at submission is what is charged; only
        # the dates move when the start day has passed (a price changed meanwhile is not
        # applied to this order).
        quote = quote_from_dict(order.quote)
    if quote.start_date != start:
        quote = quote_moved(quote, start)
        order.start_date = start
        order.quote = quote_as_dict(quote)
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
        price=price,
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
                plan=order.plan,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                service=(first.start, first.end),
                key=f"order:{order.pk}:setup",
            )
    # The first invoice: exactly what the order showed, issued now (none for a trial).
    from billing.services.invoices import order_invoice_create

    order_invoice_create(actor=actor, order=order, subscription=sub, quote=quote)
    from payments.services.ordering import payment_needed

    order.subscription = sub
    if payment_needed(order, order_first_invoice(order)):
        # Nothing is created at Box before the first invoice is paid.
        return _move_order(order, OrderState.AWAITING_PAYMENT, actor=actor, subscription=sub)
    return _provision(order, sub, actor=actor)


def order_first_invoice(order: Order):
    from billing.models import Invoice

    return Invoice.objects.filter(order=order).first()


def _provision(order: Order, sub: Subscription, *, actor: Actor) -> Order:
    """Open the subscription's Box account (its sign-up jobs start after commit)."""
    account = provisioning.box_account_open(
        customer=sub.customer,
        plan_code=sub.plan.box_plan_code,
        seats=_box_seats(sub.quantity),
        admin_email=box_admin_login(sub),
        admin_name=sub.customer.name[:50],
        actor=actor,
        reference=f"subscription:{sub.pk}",
        subject=("orders.order", order.pk),
    )
    sub.box_account = account
    sub.save(update_fields=["box_account", "updated_at"])
    return _move_order(order, OrderState.PROVISIONING, actor=actor, subscription=sub)


@transaction.atomic
def order_payment_received(*, actor: Actor, order: Order) -> Order:
    """The order's first invoice is paid: provisioning starts (once)."""
    require_actor(actor)
    order = _lock_order(order)
    if order.state != OrderState.AWAITING_PAYMENT:
        return order
    return _provision(order, _lock_subscription(order.subscription), actor=actor)


@transaction.atomic
def order_payment_expired(*, actor: Actor, order: Order, hours: int) -> bool:
    """The order was not paid in time: it is cancelled, its subscription ended before it
    began and its first invoice voided. Nothing was created at Box."""
    require_actor(actor)
    order = _lock_order(order)
    if order.state != OrderState.AWAITING_PAYMENT:
        return False
    message = f"Not paid within {hours} hours; nothing was set up. Order again when ready."
    _move_order(order, OrderState.CANCELLED, actor=actor, failure_message=message)
    sub = _lock_subscription(order.subscription)
    if sub.status == SubscriptionStatus.PENDING:
        _move_subscription(
            sub, SubscriptionStatus.CANCELLED, actor=actor, cancelled_on=clock.today()
        )
    invoice = order_first_invoice(order)
    if invoice is not None and invoice.state == "issued":
        from billing.services.invoices import invoice_void

        invoice_void(actor=actor, invoice=invoice, reason=message)
    return True


# --- provisioning outcomes ------------------------------------------------------------------

# Provisioning hooks run in the worker that finished a job: the portal acts.
HOOKS = system("provisioning")

# The job whose success completes an order of each kind (new orders: the last sign-up step).
FINAL_OPERATION = {OrderKind.NEW: "account.link_admin"}


def on_order_job_succeeded(job) -> None:
    order = _lock_order(Order.objects.get(pk=int(job.subject_id)))
    if order.state == OrderState.FAILED:
        _move_order(order, OrderState.PROVISIONING, actor=HOOKS, failure_message="")
    if order.state != OrderState.PROVISIONING:
        return
    final = FINAL_OPERATION.get(order.kind)
    if final is not None and job.operation != final:
        return
    sub = _lock_subscription(order.subscription)
    if order.kind == OrderKind.NEW:
        status = SubscriptionStatus.TRIAL if sub.trial_ends_on else SubscriptionStatus.ACTIVE
        _move_subscription(sub, status, actor=HOOKS)
        _notify_ready(order, sub)
    _move_order(order, OrderState.COMPLETED, actor=HOOKS)


def on_order_job_failed(job) -> None:
    order = _lock_order(Order.objects.get(pk=int(job.subject_id)))
    if job.state == "cancelled":
        # Staff cancelled the step: the order cannot be carried out as asked.
        if order.state in (OrderState.PROVISIONING, OrderState.FAILED):
            _move_order(
                order, OrderState.CANCELLED, actor=HOOKS, failure_message="Cancelled by our team."
            )
            if order.kind == OrderKind.NEW and order.subscription_id:
                sub = _lock_subscription(order.subscription)
                if sub.status == SubscriptionStatus.PENDING:
                    _move_subscription(
                        sub, SubscriptionStatus.CANCELLED, actor=HOOKS, cancelled_on=clock.today()
                    )
        return
    if order.state == OrderState.PROVISIONING:
        _move_order(
            order,
            OrderState.FAILED,
            actor=HOOKS,
            failure_message=_failure_message(job),
        )


def _failure_message(job) -> str:
    """What the customer reads when a Box step failed for good. It says the team was told only
    when someone was (a staff alert went out, consoles.services); otherwise it says where the
    failure is waiting, which is always true: the sellers' dashboards list failed jobs."""
    from consoles.models import AlertKind
    from consoles.services import staff_told

    if staff_told(AlertKind.JOB_FAILED, job.pk):
        return (
            "We could not finish setting this up at Box yet. Our team has been told and will "
            "fix it; you do not need to do anything."
        )
    return (
        "We could not finish setting this up at Box yet. It is on our team's list of steps to "
        "fix; you do not need to do anything."
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
