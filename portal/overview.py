"""What the customer portal's overview shows: where a customer stands, gathered in a fixed number
of queries (never one per seat or per invoice).

- each subscription with its seats used of bought and its storage used of included;
- the next invoice (from billing's upcoming invoice, the same code as the upcoming-invoice page);
- the balance due, per currency, and the first day it is due;
- alerts: what needs the person, or what is under way, each with the page where it is handled.

Reads only; the view decides what the person may see (``billing.view`` for money)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from billing.models import CreditNote, Invoice, InvoiceState
from orders import selectors as order_selectors
from orders.models import (
    ChangeState,
    Order,
    OrderState,
    SeatStatus,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
)
from payments.models import OPEN_PAYMENT_STATES, BalanceEntry, BalanceKind, Payment, PaymentState
from portal import access, clock
from portal.money import format_money, quantize
from provisioning.models import BoxUser

# A trial is announced this many days before it ends.
TRIAL_NOTICE_DAYS = 14
# Invoices that can still owe something (as payments.services.collect.PAYABLE).
PAYABLE = (InvoiceState.ISSUED, InvoiceState.UNCOLLECTIBLE)
# Orders on their way, as the customer sees them.
ORDERS_UNDER_WAY = (
    OrderState.SUBMITTED,
    OrderState.AWAITING_APPROVAL,
    OrderState.AWAITING_PAYMENT,
    OrderState.PROVISIONING,
)
SHOWN_STATUSES = (
    SubscriptionStatus.PENDING,
    SubscriptionStatus.TRIAL,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.SUSPENDED,
)


@dataclass
class SubscriptionStanding:
    sub: Subscription
    seats_used: int
    seats_bought: int
    storage_used: int  # bytes
    storage_included: int | None  # bytes; None when unlimited

    @property
    def seats_percent(self) -> int:
        return _percent(self.seats_used, self.seats_bought)

    @property
    def storage_percent(self) -> int:
        return _percent(self.storage_used, self.storage_included or 0)

    @property
    def storage_over(self) -> bool:
        return self.storage_included is not None and self.storage_used > self.storage_included


@dataclass
class NextInvoice:
    billing_day: date
    currency: str
    total: Decimal
    subscriptions: int


@dataclass
class BalanceDue:
    currency: str
    amount: Decimal
    due_on: date | None
    overdue: bool
    invoices: int


@dataclass
class Alert:
    level: str  # "error", "warning" or "info" (the message styles)
    message: str
    url: str
    link: str
    live: bool = False  # under way without the person: the page polls while one is shown


@dataclass
class Overview:
    subscriptions: list[SubscriptionStanding]
    next_invoice: NextInvoice | None
    balances: list[BalanceDue]
    alerts: list[Alert] = field(default_factory=list)
    billing_visible: bool = False

    @property
    def live(self) -> bool:
        return any(alert.live for alert in self.alerts)


def _percent(part: int, whole: int) -> int:
    if whole <= 0:
        return 0
    return min(100, round(part * 100 / whole))


def customer_overview(customer, *, user) -> Overview:
    """Where ``customer`` stands, as ``user`` (a member of it) may see it."""
    today = clock.today()
    billing_visible = access.can(user, "billing.view", customer)
    standings, subs = _subscriptions(customer, user=user)
    alerts: list[Alert] = []
    alerts += _order_alerts(customer)
    alerts += _subscription_alerts(customer, subs, today)
    balances: list[BalanceDue] = []
    next_invoice = None
    if billing_visible:
        balances, payment_alerts = _balances(customer, today)
        alerts = payment_alerts + alerts
        next_invoice = _next_invoice(customer)
    return Overview(
        subscriptions=standings,
        next_invoice=next_invoice,
        balances=balances,
        alerts=alerts,
        billing_visible=billing_visible,
    )


# --- subscriptions --------------------------------------------------------------------------


def _subscriptions(customer, *, user) -> tuple[list[SubscriptionStanding], list[Subscription]]:
    """One query: the subscriptions with their held, pending and failed seats counted and the
    storage their Box users use summed in the database."""
    storage = (
        BoxUser.objects.filter(account=OuterRef("box_account"))
        .exclude(status="deleted")
        .order_by()
        .values("account")
        .annotate(total=Sum("space_used"))
        .values("total")
    )
    subs = list(
        order_selectors.visible_subscriptions(user)
        .filter(customer=customer, status__in=SHOWN_STATUSES)
        .annotate(
            seats_pending=Count(
                "seats",
                filter=Q(seats__status__in=(SeatStatus.PENDING, SeatStatus.UPDATING)),
                distinct=True,
            ),
            seats_failed=Count("seats", filter=Q(seats__status=SeatStatus.FAILED), distinct=True),
            storage_used=Coalesce(Subquery(storage), 0),
        )
        .order_by("created_at", "id")
    )
    standings = []
    for sub in subs:
        included_gb = sub.plan.included_storage_gb(sub.quantity)
        standings.append(
            SubscriptionStanding(
                sub=sub,
                seats_used=sub.seats_held,
                seats_bought=sub.quantity,
                storage_used=int(sub.storage_used or 0),
                storage_included=None if included_gb is None else included_gb * 1024**3,
            )
        )
    return standings, subs


def _sub_url(sub: Subscription) -> str:
    return reverse(
        "orders_customer_subscription", kwargs={"org_id": sub.customer_id, "sub_id": sub.pk}
    )


def _subscription_alerts(customer, subs: list[Subscription], today: date) -> list[Alert]:
    alerts = []
    changes = (
        SubscriptionChange.objects.filter(
            subscription__customer=customer, state=ChangeState.SCHEDULED
        )
        .select_related("from_plan", "to_plan", "subscription__plan")
        .order_by("effective_on", "id")
    )
    for change in changes:
        alerts.append(
            Alert(
                "info",
                f"Scheduled for {change.effective_on:%-d %b %Y}: {change.describe()} "
                f"({change.subscription.plan.name}).",
                _sub_url(change.subscription),
                "See the change",
            )
        )
    for sub in subs:
        if sub.status == SubscriptionStatus.PENDING:
            alerts.append(
                Alert(
                    "info",
                    f"Your Box account for {sub.plan.name} is being set up.",
                    _sub_url(sub),
                    "Follow it",
                    live=True,
                )
            )
        if sub.seats_pending:
            people = "seat is" if sub.seats_pending == 1 else "seats are"
            alerts.append(
                Alert(
                    "info",
                    f"{sub.seats_pending} {people} still being set up at Box ({sub.plan.name}).",
                    _sub_url(sub),
                    "See the seats",
                    live=True,
                )
            )
        if sub.seats_failed:
            people = "seat" if sub.seats_failed == 1 else "seats"
            alerts.append(
                Alert(
                    "error",
                    f"{sub.seats_failed} {people} could not be set up at Box ({sub.plan.name}).",
                    _sub_url(sub),
                    "See what went wrong",
                )
            )
        if sub.status == SubscriptionStatus.SUSPENDED:
            alerts.append(
                Alert(
                    "error",
                    f"{sub.plan.name} is suspended: your people cannot use Box.",
                    _sub_url(sub),
                    "See why",
                )
            )
        if (
            sub.status == SubscriptionStatus.TRIAL
            and sub.trial_ends_on is not None
            and sub.trial_ends_on <= today + timedelta(days=TRIAL_NOTICE_DAYS)
        ):
            days = (sub.trial_ends_on - today).days
            when = "today" if days <= 0 else ("tomorrow" if days == 1 else f"in {days} days")
            alerts.append(
                Alert(
                    "warning",
                    f"Your {sub.plan.name} trial ends {when} ({sub.trial_ends_on:%-d %b %Y}); "
                    "the first paid period starts then.",
                    _sub_url(sub),
                    "Review the subscription",
                )
            )
        if sub.cancel_at_period_end:
            alerts.append(
                Alert(
                    "warning",
                    f"{sub.plan.name} ends on {sub.current_period_end:%-d %b %Y}.",
                    _sub_url(sub),
                    "Keep it or review it",
                )
            )
    return alerts


# --- orders ---------------------------------------------------------------------------------


ORDER_WORDS = {
    OrderState.SUBMITTED: ("Order {n} waits for the e-mail address to be confirmed.", False),
    OrderState.AWAITING_APPROVAL: ("Order {n} waits for {seller} to approve it.", False),
    OrderState.AWAITING_PAYMENT: ("Order {n} waits for its payment.", False),
    OrderState.PROVISIONING: ("Order {n} is being set up at Box.", True),
}


def _order_alerts(customer) -> list[Alert]:
    orders = (
        Order.objects.filter(customer=customer, state__in=ORDERS_UNDER_WAY)
        .select_related("seller")
        .order_by("created_at", "id")
    )
    alerts = []
    for order in orders:
        words, live = ORDER_WORDS[order.state]
        alerts.append(
            Alert(
                "info" if live else "warning",
                words.format(n=order.number, seller=order.seller.name),
                reverse(
                    "orders_customer_order", kwargs={"org_id": customer.pk, "order_id": order.pk}
                ),
                "Follow the order" if live else "Open the order",
                live=live,
            )
        )
    return alerts


# --- money ----------------------------------------------------------------------------------


def _sum_of(qs, column: str):
    """A correlated subquery: the sum of ``column`` over ``qs`` (already tied to the outer
    invoice), zero when there is none."""
    return Coalesce(
        Subquery(qs.order_by().values("invoice").annotate(s=Sum(column)).values("s")),
        Value(Decimal(0)),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def payable_invoices(customer):
    """The customer's invoices that can still owe something, each with what it owes
    (``owed``, the same sum as ``payments.services.collect.amount_due``: total, less credit
    notes, payments applied and credit balance used) and the state of its latest payment."""
    invoice = OuterRef("pk")
    latest = Payment.objects.filter(invoice=invoice).order_by("-created_at", "-id")
    return (
        Invoice.objects.filter(buyer=customer, state__in=PAYABLE)
        .annotate(
            credited=_sum_of(CreditNote.objects.filter(invoice=invoice), "total"),
            paid=_sum_of(
                Payment.objects.filter(invoice=invoice, state=PaymentState.SUCCEEDED), "applied"
            ),
            used=_sum_of(
                BalanceEntry.objects.filter(invoice=invoice, kind=BalanceKind.APPLIED), "amount"
            ),
            latest_payment=Subquery(latest.values("state")[:1]),
        )
        .order_by("due_on", "id")
    )


def owed(invoice) -> Decimal:
    due = invoice.total - invoice.credited - invoice.paid + invoice.used  # ``used`` is negative
    return max(quantize(due, invoice.currency), Decimal(0))


def _balances(customer, today: date) -> tuple[list[BalanceDue], list[Alert]]:
    """The balance due per currency and the alerts of payments: failed, or being confirmed."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    first_due: dict[str, date | None] = {}
    counts: dict[str, int] = defaultdict(int)
    alerts = []
    for invoice in payable_invoices(customer):
        due = owed(invoice)
        url = reverse(
            "billing_customer_invoice", kwargs={"org_id": customer.pk, "invoice_id": invoice.pk}
        )
        if invoice.latest_payment in OPEN_PAYMENT_STATES:
            alerts.append(
                Alert(
                    "info",
                    f"A payment of invoice {invoice.number} is being confirmed.",
                    url,
                    "Open the invoice",
                    live=invoice.latest_payment != PaymentState.REQUIRES_ACTION,
                )
            )
        if due <= 0:
            continue
        if invoice.latest_payment == PaymentState.FAILED:
            alerts.append(
                Alert(
                    "error",
                    f"The payment of invoice {invoice.number} failed; "
                    f"{format_money(due, invoice.currency)} is still due.",
                    url,
                    "Pay the invoice",
                )
            )
        sums[invoice.currency] += due
        counts[invoice.currency] += 1
        if invoice.due_on is not None:
            seen = first_due.get(invoice.currency)
            first_due[invoice.currency] = (
                invoice.due_on if seen is None else min(seen, invoice.due_on)
            )
        else:
            first_due.setdefault(invoice.currency, None)
    balances = [
        BalanceDue(
            currency=currency,
            amount=quantize(amount, currency),
            due_on=first_due.get(currency),
            overdue=first_due.get(currency) is not None and first_due[currency] < today,
            invoices=counts[currency],
        )
        for currency, amount in sorted(sums.items())
    ]
    for balance in balances:
        if balance.overdue:
            alerts.insert(
                0,
                Alert(
                    "error",
                    f"{format_money(balance.amount, balance.currency)} was due on "
                    f"{balance.due_on:%-d %b %Y}.",
                    reverse("billing_customer_invoices", kwargs={"org_id": customer.pk}),
                    "See the invoices",
                ),
            )
    return balances, alerts


def _next_invoice(customer) -> NextInvoice | None:
    """The soonest upcoming invoice: the subscriptions renewing on the first coming billing
    day, in the currency of the first of them (one invoice per day and currency)."""
    from billing.services.preview import upcoming_for_customer

    upcoming = [u for u in upcoming_for_customer(customer) if u.lines]
    if not upcoming:
        return None
    first = upcoming[0]
    same = [
        u for u in upcoming if u.billing_day == first.billing_day and u.currency == first.currency
    ]
    return NextInvoice(
        billing_day=first.billing_day,
        currency=first.currency,
        total=quantize(sum((u.total for u in same), Decimal(0)), first.currency),
        subscriptions=len(same),
    )
