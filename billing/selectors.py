"""Reads of billing, always inside what the asking person may see.

Invoices and credit notes (docs/billing.md): a buyer's admins and billing people, and the
staff of the sellers above it (agents for their customers), see its invoices
(``billing.view``); an invoice from a request is looked up inside that set.

Usage (docs/usage.md):

- a subscription's usage is read by whoever may read the subscription (its customer's people,
  the seller staff above it): callers fetch the subscription through
  ``orders.selectors.access_subscription`` first, so another tenant's usage is a 404;
- usage collections (one per Box account and day) are for the provider's staff only
  (``usage.collections``; an agent sees the customers assigned to them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from billing.models import (
    BillingIssue,
    BillingRun,
    CollectionState,
    CreditNote,
    Invoice,
    InvoiceLine,
    UsageCollection,
    UsageMetric,
    UsageRecord,
)
from orders.models import ChangeState, Subscription, SubscriptionStatus
from portal import access
from portal.errors import NotFound
from portal.models import Membership, OrgKind, Role, User
from portal.params import parse_id
from provisioning.models import AccountStatus, BoxAccount

GIB = 1024**3
# Subscriptions whose Box account is collected every night.
LIVE_SUBSCRIPTION_STATUSES = (
    SubscriptionStatus.TRIAL,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.SUSPENDED,
)


# --- which accounts are collected -------------------------------------------------------------


def live_accounts() -> QuerySet[BoxAccount]:
    """Box accounts whose usage is collected: active at Box, with a subscription in trial,
    active or suspended, and an enterprise to ask about."""
    return (
        BoxAccount.objects.filter(
            status=AccountStatus.ACTIVE, subscription__status__in=LIVE_SUBSCRIPTION_STATUSES
        )
        .exclude(box_enterprise_id="")
        .order_by("pk")
    )


def not_live_reason(account: BoxAccount) -> str:
    """Why ``account`` is not collected, or "" when it is."""
    sub = Subscription.objects.filter(box_account=account).only("status").first()
    if account.status != AccountStatus.ACTIVE:
        return f"the Box account is {account.get_status_display().lower()}"
    if not account.box_enterprise_id:
        return "the Box account has no enterprise yet"
    if sub is None:
        return "the Box account belongs to no subscription"
    if sub.status not in LIVE_SUBSCRIPTION_STATUSES:
        return f"the subscription is {sub.get_status_display().lower()}"
    return ""


# --- collections (provider staff) -------------------------------------------------------------


def collection_customers_q(user: User, prefix: str = "account__customer__") -> Q:
    """Customers whose collections ``user`` may see: every customer below a provider they
    work for (an agent: the customers assigned to them)."""
    condition = Q(pk__in=[])
    if not getattr(user, "is_authenticated", False):
        return condition
    memberships = (
        Membership.objects.filter(user=user, is_active=True, organization__kind=OrgKind.PROVIDER)
        .exclude(organization__status="closed")
        .select_related("organization")
    )
    for membership in memberships:
        org = membership.organization
        if membership.role == Role.AGENT:
            condition |= Q(**{f"{prefix}path__startswith": org.path, f"{prefix}agent": user})
        else:
            condition |= Q(**{f"{prefix}path__startswith": org.path})
    return condition & Q(**{f"{prefix}kind": OrgKind.CUSTOMER})


def visible_collections(user: User) -> QuerySet[UsageCollection]:
    return UsageCollection.objects.filter(collection_customers_q(user)).select_related(
        "account__customer"
    )


def access_collection(
    user: User, collection_id, *, action: str = "usage.collections"
) -> UsageCollection:
    collection = visible_collections(user).filter(pk=parse_id(collection_id)).first()
    if collection is None:
        raise NotFound("No such usage collection.")
    access.require(user, action, collection.account.customer)
    return collection


def failures_first(qs: QuerySet[UsageCollection]) -> QuerySet[UsageCollection]:
    """Failed first, then waiting and running, then collected; by customer within each."""
    rank = Case(
        When(state=CollectionState.FAILED, then=Value(0)),
        When(state=CollectionState.PENDING, then=Value(1)),
        When(state=CollectionState.RUNNING, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return qs.annotate(rank=rank).order_by("rank", "account__customer__name", "account_id")


def collections_filtered(qs: QuerySet[UsageCollection], params) -> QuerySet[UsageCollection]:
    """Filters of the console page and the API: day, state, account, customer."""
    day = parse_day(params.get("day"))
    if day is not None:
        qs = qs.filter(day=day)
    state = (params.get("state") or "").strip()
    if state in CollectionState.values:
        qs = qs.filter(state=state)
    account = parse_id(params.get("account"))
    if account is not None:
        qs = qs.filter(account_id=account)
    customer = parse_id(params.get("customer"))
    if customer is not None:
        qs = qs.filter(account__customer_id=customer)
    return qs


def collection_counts(qs: QuerySet[UsageCollection]) -> dict[str, int]:
    counts = dict.fromkeys(CollectionState.values, 0)
    for state in qs.values_list("state", flat=True).order_by():
        counts[state] += 1
    return counts


def parse_day(value) -> date | None:
    try:
        return date.fromisoformat(str(value).strip()) if value else None
    except ValueError:
        return None


# --- a subscription's usage -------------------------------------------------------------------


def usage_records(
    sub: Subscription,
    *,
    metric: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[UsageRecord]:
    """The subscription's daily records (``start`` and ``end`` included)."""
    qs = UsageRecord.objects.filter(subscription=sub)
    if metric:
        qs = qs.filter(metric=metric)
    if start is not None:
        qs = qs.filter(day__gte=start)
    if end is not None:
        qs = qs.filter(day__lte=end)
    return qs.order_by("metric", "day")


@dataclass(frozen=True)
class Terms:
    """What the subscription had bought on a day."""

    plan_id: int
    included_gb: int | None  # None: unlimited storage
    seats: int


def terms_by_day(sub: Subscription, days: list[date]) -> dict[date, Terms]:
    """The plan and seats in force on each day, from the subscription's applied changes (one
    query): before a change its ``from_`` side, from its effective day on its ``to_`` side;
    after the last change, what the subscription has now."""
    changes = list(
        sub.changes.filter(state=ChangeState.APPLIED)
        .select_related("from_plan", "to_plan")
        .order_by("effective_on", "id")
    )
    current = Terms(sub.plan_id, sub.plan.included_storage_gb(sub.quantity), sub.quantity)
    result = {}
    for day in days:
        terms = current
        for change in changes:
            if change.effective_on > day:
                terms = Terms(
                    change.from_plan_id,
                    change.from_plan.included_storage_gb(change.from_quantity),
                    change.from_quantity,
                )
                break
        result[day] = terms
    return result


def usage_chart(sub: Subscription, *, end: date, days: int) -> dict:
    """The data of a subscription's usage charts for the ``days`` days up to ``end``: one list
    per series, one value per day (None where nothing was collected). Two queries, whatever the
    number of days."""
    start = end - timedelta(days=days - 1)
    day_list = [start + timedelta(days=n) for n in range(days)]
    values: dict[str, dict[date, int]] = {m: {} for m in UsageMetric.values}
    for metric, day, value in usage_records(sub, start=start, end=end).values_list(
        "metric", "day", "value"
    ):
        values[metric][day] = value
    terms = terms_by_day(sub, day_list)
    storage = values[UsageMetric.STORAGE_BYTES]
    return {
        "subscription": sub.pk,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": [d.isoformat() for d in day_list],
        "storage_bytes": [storage.get(d) for d in day_list],
        "storage_gb": [gib(storage[d]) if d in storage else None for d in day_list],
        "included_gb": [terms[d].included_gb for d in day_list],
        "active_users": [values[UsageMetric.ACTIVE_USERS].get(d) for d in day_list],
        "seats_held": [values[UsageMetric.SEATS_HELD].get(d) for d in day_list],
        "seats": [terms[d].seats for d in day_list],
        "collected_days": sum(1 for d in day_list if d in storage),
    }


def gib(value: int) -> float:
    """Bytes as GB (GiB, as Box counts storage), to three decimals for the charts."""
    return float((Decimal(value) / GIB).quantize(Decimal("0.001")))


# --- invoices and credit notes ---------------------------------------------------------------


def _billing_buyers_q(user: User, prefix: str = "buyer") -> Q:
    """Buyers whose invoices ``user`` may see (the rule ``billing.view``, as a query)."""
    condition = Q(pk__in=[])
    if not user.is_authenticated:
        return condition
    for membership in access.active_memberships(user):
        org = membership.organization
        if membership.role in (Role.ADMIN, Role.BILLING):
            condition |= Q(**{prefix: org})
        if org.kind == OrgKind.CUSTOMER:
            continue
        below = Q(**{f"{prefix}__path__startswith": org.path}) & ~Q(**{prefix: org})
        if membership.role == Role.AGENT:
            condition |= below & Q(
                **{f"{prefix}__kind": OrgKind.CUSTOMER, f"{prefix}__agent": user}
            )
        elif membership.role in (Role.ADMIN, Role.BILLING, Role.SALES):
            condition |= below
    return condition


def visible_invoices(user: User) -> QuerySet[Invoice]:
    return Invoice.objects.filter(_billing_buyers_q(user)).select_related("seller", "buyer")


def visible_credit_notes(user: User) -> QuerySet[CreditNote]:
    return CreditNote.objects.filter(_billing_buyers_q(user)).select_related(
        "seller", "buyer", "invoice"
    )


def access_invoice(user: User, invoice_id) -> Invoice:
    invoice = visible_invoices(user).filter(pk=parse_id(invoice_id)).first()
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def access_invoice_line(user: User, invoice: Invoice, line_id) -> InvoiceLine:
    line = (
        InvoiceLine.objects.filter(invoice=invoice, pk=parse_id(line_id))
        .select_related("price", "charge", "order", "promotion", "tax_rate", "subscription")
        .first()
    )
    if line is None:
        raise NotFound("No such line.")
    return line


def access_credit_note(user: User, note_id) -> CreditNote:
    note = visible_credit_notes(user).filter(pk=parse_id(note_id)).first()
    if note is None:
        raise NotFound("No such credit note.")
    return note


def runs_for(user: User) -> QuerySet[BillingRun]:
    provider = next(
        (
            m.organization
            for m in access.active_memberships(user)
            if m.organization.is_provider and access.can(user, "billing.run", m.organization)
        ),
        None,
    )
    return BillingRun.objects.all() if provider is not None else BillingRun.objects.none()


def open_issues_for_seller(seller) -> QuerySet[BillingIssue]:
    return BillingIssue.objects.filter(
        resolved_at__isnull=True, subscription__customer__path__startswith=seller.path
    ).select_related("subscription__customer")
