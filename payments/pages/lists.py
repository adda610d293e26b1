"""The seller consoles' payment lists: every payment of the customers below the seller, and
the overdue invoices (with where their dunning stands) and the customers whose service is
suspended. Both read inside what the person may see (``billing.listing``), then narrow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing import listing
from billing.models import CreditNote, InvoiceState
from orders import selectors as order_selectors
from orders.models import SubscriptionStatus
from payments.models import (
    BalanceEntry,
    BalanceKind,
    DunningStage,
    Payment,
    PaymentSource,
    PaymentState,
)
from portal import access, clock
from portal.models import Organization
from portal.views import render_console, seller_console

PAGE_SIZE = 25
MONEY = DecimalField(max_digits=14, decimal_places=2)


@dataclass
class Filters:
    """A payment list's filters; a value that cannot be used is left out and named."""

    state: str = ""
    source: str = ""
    stage: str = ""
    customer: int | None = None
    day_from: date | None = None
    day_to: date | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any(
            getattr(self, n) not in ("", None)
            for n in ("state", "source", "stage", "customer", "day_from", "day_to")
        )


def _choice(f: Filters, params, name: str, label: str, choices) -> str:
    value = (params.get(name) or "").strip()
    if value and value not in dict(choices):
        f.errors.append(f"{label}: choose one from the list.")
        return ""
    return value


def _day(f: Filters, params, name: str, label: str) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        f.errors.append(f"{label}: use a date such as 2027-01-31.")
        return None


def parse_filters(params, *, stages: bool = False) -> Filters:
    f = Filters()
    f.state = _choice(f, params, "state", "State", PaymentState.choices)
    f.source = _choice(f, params, "source", "Paid by", PaymentSource.choices)
    if stages:
        f.stage = _choice(f, params, "stage", "Dunning", STAGE_CHOICES)
    raw = (params.get("customer") or "").strip()
    if raw and (not raw.isdigit() or len(raw) > 12):
        f.errors.append("Customer: choose one from the list.")
    elif raw:
        f.customer = int(raw)
    f.day_from = _day(f, params, "day_from", "From")
    f.day_to = _day(f, params, "day_to", "Until")
    if f.day_from and f.day_to and f.day_from > f.day_to:
        f.errors.append("Until: a day on or after the first day.")
        f.day_to = None
    return f


def _customers(qs, field_name: str):
    ids = qs.order_by().values(field_name)
    return Organization.objects.filter(pk__in=ids).order_by("name")


def _totals(rows) -> list[tuple[str, Decimal]]:
    return sorted((r["currency"], r["total"]) for r in rows if r["total"])


# --- payments -------------------------------------------------------------------------------


def payments_for(user, org):
    """Payments of invoices the person may see, of buyers below the seller (not the
    wholesale invoices the seller itself receives)."""
    return (
        Payment.objects.filter(
            invoice__in=listing.invoices_for(user).filter(buyer__path__startswith=org.path),
        )
        .exclude(buyer=org)
        .select_related("invoice", "buyer", "seller", "payment_method", "created_by")
    )


@seller_console
def console_payments(request, org):
    access.require(request.user, "billing.view", org)
    base = payments_for(request.user, org)
    f = parse_filters(request.GET)
    qs = base
    if f.state:
        qs = qs.filter(state=f.state)
    if f.source:
        qs = qs.filter(source=f.source)
    if f.customer is not None:
        qs = qs.filter(buyer_id=f.customer)
    if f.day_from:
        qs = qs.filter(created_at__date__gte=f.day_from)
    if f.day_to:
        qs = qs.filter(created_at__date__lte=f.day_to)
    received = _totals(
        qs.filter(state=PaymentState.SUCCEEDED)
        .order_by()
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    return render_console(
        request,
        "payments/console/payments.html",
        {
            "page": Paginator(
                # refunds joined only here: the totals above count each payment once
                qs.annotate(
                    refunded=Sum("refunds__amount", filter=~Q(refunds__state="failed"))
                ).order_by("-created_at", "-pk"),
                PAGE_SIZE,
            ).get_page(request.GET.get("page")),
            "filters": f,
            "received": received,
            "customers": _customers(base, "buyer_id"),
            "states": PaymentState.choices,
            "sources": PaymentSource.choices,
        },
    )


# --- overdue invoices -----------------------------------------------------------------------

STAGE_CHOICES = [("none", "Not in dunning"), *DunningStage.choices]


def _sum(qs, amount: str):
    return Coalesce(
        Subquery(qs.order_by().values("invoice_id").annotate(s=Sum(amount)).values("s")[:1]),
        Value(Decimal(0)),
        output_field=MONEY,
    )


def with_due(qs):
    """Annotate ``due``: what each invoice still owes, derived as ``collect.amount_due``
    derives it (total less credit notes, less payments applied, less balance used), in SQL
    so the list can filter and total on it."""
    credited = _sum(CreditNote.objects.filter(invoice=OuterRef("pk")), "total")
    paid = _sum(
        Payment.objects.filter(invoice=OuterRef("pk"), state=PaymentState.SUCCEEDED), "applied"
    )
    used = _sum(
        BalanceEntry.objects.filter(invoice=OuterRef("pk"), kind=BalanceKind.APPLIED), "amount"
    )
    return qs.annotate(
        due=ExpressionWrapper(F("total") - credited - paid + used, output_field=MONEY)
    )


def overdue_for(user, org, day: date):
    return with_due(
        listing.invoices_for(user)
        .filter(buyer__path__startswith=org.path, state=InvoiceState.ISSUED, due_on__lt=day)
        .exclude(buyer=org)
    ).filter(due__gt=0)


@seller_console
def console_overdue(request, org):
    access.require(request.user, "billing.view", org)
    today = clock.today()
    base = overdue_for(request.user, org, today)
    f = parse_filters(request.GET, stages=True)
    qs = base
    if f.customer is not None:
        qs = qs.filter(buyer_id=f.customer)
    if f.stage == "none":
        qs = qs.filter(dunning__isnull=True)
    elif f.stage:
        qs = qs.filter(dunning__stage=f.stage)
    if f.day_from:
        qs = qs.filter(due_on__gte=f.day_from)
    if f.day_to:
        qs = qs.filter(due_on__lte=f.day_to)
    totals = _totals(qs.order_by().values("currency").annotate(total=Sum("due")))
    page = Paginator(
        qs.select_related("buyer", "seller", "dunning").order_by("due_on", "pk"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for invoice in page:
        invoice.days_overdue = (today - invoice.due_on).days
        invoice.dunning_row = getattr(invoice, "dunning", None)
    suspended = (
        order_selectors.visible_subscriptions(request.user)
        .filter(customer__path__startswith=org.path, status=SubscriptionStatus.SUSPENDED)
        .select_related("customer", "plan")
        .order_by("customer__name", "pk")
    )
    return render_console(
        request,
        "payments/console/overdue.html",
        {
            "page": page,
            "filters": f,
            "totals": totals,
            "customers": _customers(base, "buyer_id"),
            "stages": STAGE_CHOICES,
            "suspended": list(suspended[:200]),
            "today": today,
        },
    )
