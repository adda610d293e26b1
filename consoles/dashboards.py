"""The figures of a seller console's dashboard: the to-do and alert counts, and the charts'
series. Everything starts from what the asking person may see (``portal.access`` and the
apps' selectors), and each block is one query whatever the number of customers, so the page
costs the same for a reseller with three customers and the provider with thousands.

Each to-do count is the filter of the list it links to, applied to the same base queryset, so
the number on the dashboard is the number of rows on the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Avg,
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.urls import reverse

from billing import listing
from billing.models import InvoiceState, UsageMetric, UsageRecord
from catalog.models import StorageMode
from orders import selectors as order_selectors
from orders.models import OrderKind, OrderState, Subscription, SubscriptionStatus
from portal import access, clock, selectors
from portal.models import Organization, OrgKind, OrgStatus, User
from portal.money import quantize
from provisioning import selectors as provisioning_selectors
from provisioning.models import DriftItem, JobState

GB = 1024**3
MONTHS = 6  # months of history in the revenue and seat charts
STORAGE_DAYS = 30
CHANGE_DAYS = 30  # the dashboard's "change" compares today with this many days ago


@dataclass(frozen=True)
class Todo:
    key: str
    label: str
    count: int
    url: str
    hint: str


def _url(name: str, org: Organization, query: str = "", **kwargs) -> str:
    return reverse(name, kwargs={"org_id": org.pk, **kwargs}) + (f"?{query}" if query else "")


# --- to-dos ----------------------------------------------------------------------------------


def awaiting_orders(user: User, org: Organization):
    """Orders waiting for approval: the orders list with ``?state=awaiting_approval``."""
    return order_selectors.visible_orders(user).filter(
        customer__path__startswith=org.path, state=OrderState.AWAITING_APPROVAL
    )


def pending_customers(user: User, org: Organization):
    """New customers waiting for this seller's approval: the box on top of the orders list."""
    if not access.can(user, "orders.approve", org):
        return Organization.objects.none()
    return access.visible_organizations(user).filter(
        kind=OrgKind.CUSTOMER, status=OrgStatus.PENDING, parent=org
    )


def failed_jobs(user: User, org: Organization):
    """Jobs that failed for good: the provisioning queue with ``?state=failed``."""
    return provisioning_selectors.jobs_filtered(
        provisioning_selectors.visible_jobs(user, within=org), {"state": JobState.FAILED}
    )


def drifting_accounts(user: User, org: Organization):
    """Box accounts where reconciliation found open drift: the accounts list with ``?drift=1``."""
    open_drift = DriftItem.objects.filter(account=OuterRef("pk"), resolved_at__isnull=True)
    return provisioning_selectors.visible_accounts(user, within=org).filter(Exists(open_drift))


def overdue_invoices(user: User, org: Organization):
    """Issued invoices past their due day: the invoice list with ``?overdue=1``."""
    base = listing.invoices_for(user).filter(buyer__path__startswith=org.path).exclude(buyer=org)
    return listing.filter_invoices(base, listing.Filters(overdue=True))


def suspended_customers(user: User, org: Organization):
    """Suspended customers: the customer list with ``?status=suspended``."""
    return access.visible_organizations(user).filter(
        selectors.suspended_customers_q(), path__startswith=org.path
    )


def todos(user: User, org: Organization) -> list[Todo]:
    """The to-do and alert area, in the order a person should look at it (six queries)."""
    drift = drifting_accounts(user, org).aggregate(
        accounts=Count("pk", distinct=True),
        items=Count("drift", filter=Q(drift__resolved_at__isnull=True), distinct=True),
    )
    items = [
        Todo(
            "orders",
            "Orders waiting for approval",
            awaiting_orders(user, org).count(),
            _url("orders_console_list", org, "state=awaiting_approval"),
            "Approve or cancel them; nothing happens at Box until then.",
        ),
        Todo(
            "customers",
            "New customers waiting for approval",
            pending_customers(user, org).count(),
            _url("orders_console_list", org) + "#pending-customers",
            "They signed up on your storefront and cannot use anything yet.",
        ),
        Todo(
            "jobs",
            "Failed provisioning jobs",
            failed_jobs(user, org).count(),
            _url("provisioning_queue", org, "state=failed"),
            "The jobs after each one wait until it is retried, skipped or cancelled.",
        ),
        Todo(
            "drift",
            "Box accounts with drift",
            drift["accounts"],
            _url("provisioning_accounts", org, "drift=1"),
            f"{drift['items']} difference{'s' if drift['items'] != 1 else ''} between Box and "
            "our records.",
        ),
        Todo(
            "overdue",
            "Overdue invoices",
            overdue_invoices(user, org).count(),
            _url("billing_console_invoices", org, "overdue=1"),
            "Issued invoices past their due day and not paid.",
        ),
        Todo(
            "suspended",
            "Suspended customers",
            suspended_customers(user, org).count(),
            _url("console_customers", org, "status=suspended"),
            "Their people cannot use Box until they are resumed.",
        ),
    ]
    return items


# --- charts ----------------------------------------------------------------------------------


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """The first days of the last ``months`` months, oldest first, ending with this month's."""
    firsts = []
    year, month = today.year, today.month
    for _ in range(months):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(firsts))


def _alive_on(day: date) -> Q:
    """A subscription that ran (and was paid for, so not in its trial) on ``day``."""
    return (
        Q(started_on__lte=day)
        & (Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=day))
        & (Q(trial_ends_on__isnull=True) | Q(trial_ends_on__lte=day))
        & ~Q(status=SubscriptionStatus.PENDING)
    )


MONTHLY_AMOUNT = ExpressionWrapper(
    F("quantity")
    * F("unit_price")
    / Case(When(term="annual", then=Value(12)), default=Value(1), output_field=IntegerField()),
    output_field=DecimalField(max_digits=20, decimal_places=6),
)
INCLUDED_GB = Case(
    When(plan__storage_mode=StorageMode.PER_SEAT, then=F("plan__storage_gb") * F("quantity")),
    When(plan__storage_mode=StorageMode.POOLED, then=F("plan__storage_gb")),
    default=Value(0),
    output_field=IntegerField(),
)


def _subscriptions(user: User, org: Organization):
    """The subscriptions below ``org`` the person may see; a sandbox's are not real business."""
    return Subscription.objects.filter(
        customer__in=access.visible_organizations(user), customer__path__startswith=org.path
    ).exclude(customer__sandbox=True)


def revenue_and_seats(user: User, org: Organization, today: date) -> dict:
    """Monthly recurring revenue of what this seller sells itself (per currency), and the
    seats sold below it (its own customers and its resellers'), on the first day of each of the
    last months and today; plus the storage its live subscriptions include. One query.

    The history is drawn from each subscription's start, trial end and cancellation at its
    current seats and price (seat and price changes are not replayed): an estimate for the
    past months, exact for today."""
    # The month starts and today for the series, and a month ago for the change.
    days = [*month_starts(today), today, today - timedelta(days=CHANGE_DAYS)]
    own = Q(seller=org)
    aggregates = {}
    for i, day in enumerate(days):
        aggregates[f"mrr{i}"] = Sum(MONTHLY_AMOUNT, filter=_alive_on(day) & own)
        aggregates[f"seats{i}"] = Sum("quantity", filter=_alive_on(day))
    aggregates["included_gb"] = Sum(INCLUDED_GB, filter=_alive_on(today))
    aggregates["unlimited"] = Count(
        "pk", filter=_alive_on(today) & Q(plan__storage_mode=StorageMode.UNLIMITED)
    )
    rows = list(
        _subscriptions(user, org).values("currency").annotate(**aggregates).order_by("currency")
    )
    series = len(days) - 1  # the last day is only for the change
    mrr = []
    for row in rows:
        values = [quantize(row[f"mrr{i}"] or Decimal(0), row["currency"]) for i in range(len(days))]
        if not any(values):
            continue
        mrr.append(
            {
                "currency": row["currency"],
                "values": values[:series],
                "now": values[series - 1],
                "change": values[series - 1] - values[series],
                "since": days[series],
            }
        )
    seats = [sum(row[f"seats{i}"] or 0 for row in rows) for i in range(len(days))]
    return {
        "labels": [d.isoformat() for d in days[:series]],
        "mrr": mrr,
        "seats": seats[:series],
        "seats_now": seats[series - 1],
        "seats_change": seats[series - 1] - seats[series],
        "since": days[series],
        "included_gb": sum(row["included_gb"] or 0 for row in rows),
        "unlimited": sum(row["unlimited"] for row in rows),
    }


def storage(user: User, org: Organization, today: date) -> dict:
    """Storage used each day of the last month by the subscriptions below this seller whose
    plans include a quota (unlimited plans have nothing to compare against). One query."""
    start = today - timedelta(days=STORAGE_DAYS)
    rows = (
        UsageRecord.objects.filter(
            subscription__in=_subscriptions(user, org).exclude(
                plan__storage_mode=StorageMode.UNLIMITED
            ),
            metric=UsageMetric.STORAGE_BYTES,
            day__gt=start,
            day__lte=today,
        )
        .values("day")
        .annotate(total=Sum("value"))
        .order_by("day")
    )
    by_day = {row["day"]: row["total"] for row in rows}
    days = [start + timedelta(days=n) for n in range(1, STORAGE_DAYS + 1)]
    used = [round(by_day[d] / GB, 2) if d in by_day else None for d in days]
    return {
        "days": [d.isoformat() for d in days],
        "used_gb": used,
        "collected": any(v is not None for v in used),
    }


def provisioning_health(user: User, org: Organization, today: date) -> dict:
    """Jobs per state, and how long new orders took from submission to active over the last
    90 days. Two queries."""
    counts = dict(
        provisioning_selectors.visible_jobs(user, within=org)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    states = [(value, label, counts.get(value, 0)) for value, label in JobState.choices]
    since = today - timedelta(days=90)
    timing = (
        order_selectors.visible_orders(user)
        .filter(
            customer__path__startswith=org.path,
            kind=OrderKind.NEW,
            state=OrderState.COMPLETED,
            completed_at__date__gt=since,
            submitted_at__isnull=False,
        )
        .aggregate(
            orders=Count("pk"),
            average=Avg(F("completed_at") - F("submitted_at")),
            longest=Max(F("completed_at") - F("submitted_at")),
        )
    )
    return {
        "labels": [label for _, label, _ in states],
        "states": [value for value, _, _ in states],
        "counts": [n for _, _, n in states],
        "total": sum(n for _, _, n in states),
        "activated": timing["orders"],
        "average": timing["average"],
        "longest": timing["longest"],
    }


def revenue_by_reseller(user: User, org: Organization, today: date) -> list[dict]:
    """What each reseller directly below this seller was invoiced (wholesale, before tax, void
    invoices left out) over the last months, per currency, largest first. One query."""
    start = month_starts(today)[0]
    rows = (
        listing.invoices_for(user)
        .filter(
            seller=org,
            buyer__kind=OrgKind.RESELLER,
            buyer__parent=org,
            billing_day__gte=start,
            state__in=(InvoiceState.ISSUED, InvoiceState.PAID, InvoiceState.UNCOLLECTIBLE),
        )
        .order_by()
        .values("buyer_id", "buyer__name", "currency")
        .annotate(total=Sum("subtotal"), invoices=Count("pk"))
    )
    result = [
        {
            "reseller_id": row["buyer_id"],
            "reseller": row["buyer__name"],
            "currency": row["currency"],
            "total": quantize(row["total"], row["currency"]),
            "invoices": row["invoices"],
        }
        for row in rows
    ]
    result.sort(key=lambda r: (r["currency"], -r["total"], r["reseller"]))
    return result


def charts(user: User, org: Organization) -> dict:
    today = clock.today()
    figures = {
        "revenue": revenue_and_seats(user, org, today),
        "storage": storage(user, org, today),
        "health": provisioning_health(user, org, today),
        "by_reseller": [],
        "since": month_starts(today)[0],
    }
    if org.is_provider or org.children.filter(kind=OrgKind.RESELLER).exists():
        figures["by_reseller"] = revenue_by_reseller(user, org, today)
    return figures


def chart_data(figures: dict) -> dict:
    """The part of the figures the page's script draws, as plain JSON values (amounts as
    strings, so no float ever holds money on the server)."""
    revenue, storage_, health = figures["revenue"], figures["storage"], figures["health"]
    return {
        "months": revenue["labels"],
        "mrr": [
            {"currency": m["currency"], "values": [str(v) for v in m["values"]]}
            for m in revenue["mrr"]
        ],
        "seats": revenue["seats"],
        "storage": {
            "days": storage_["days"],
            "used_gb": storage_["used_gb"],
            "included_gb": revenue["included_gb"],
        },
        "jobs": {
            "labels": health["labels"],
            "states": health["states"],
            "counts": health["counts"],
        },
        "by_reseller": [
            {"reseller": r["reseller"], "currency": r["currency"], "total": str(r["total"])}
            for r in figures["by_reseller"]
        ],
    }
