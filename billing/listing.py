"""Reads behind the billing pages and the billing API, shared so both list, filter and export
the same rows: which documents a person sees (issued ones, and drafts only on the selling
side), the list filters with their messages, and the accounting CSV.

Everything starts from ``billing.selectors`` (tenant-first): these functions only narrow.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Prefetch, Q, QuerySet, Sum

from billing import selectors
from billing.models import (
    BillingIssue,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceState,
    LineKind,
)
from portal import access, clock
from portal.models import Organization, OrgKind, Role, User
from portal.money import exponent, quantize

# --- who sees which documents ---------------------------------------------------------------


def _selling_side_q(user: User, prefix: str = "seller") -> Q:
    """Sellers whose drafts ``user`` may see: the rule ``billing.view`` on the invoice's
    seller, as a query (its own admins and billing staff; admins, billing staff and sales
    people of the sellers above it)."""
    condition = Q(pk__in=[])
    if not user.is_authenticated:
        return condition
    for membership in access.active_memberships(user):
        org = membership.organization
        if org.kind == OrgKind.CUSTOMER:
            continue
        if membership.role in (Role.ADMIN, Role.BILLING):
            condition |= Q(**{f"{prefix}__path__startswith": org.path})
        elif membership.role == Role.SALES:
            condition |= Q(**{f"{prefix}__path__startswith": org.path}) & ~Q(**{prefix: org})
    return condition


def invoices_for(user: User) -> QuerySet[Invoice]:
    """Invoices ``user`` may see: issued ones of buyers they may see the invoices of, and
    drafts only when they may see the seller's (a draft is not a document for its buyer)."""
    return selectors.visible_invoices(user).filter(
        ~Q(state=InvoiceState.DRAFT) | _selling_side_q(user)
    )


def credit_notes_for(user: User) -> QuerySet[CreditNote]:
    return selectors.visible_credit_notes(user)


def issues_for(user: User) -> QuerySet[BillingIssue]:
    """Billing issues of subscriptions sold below a seller where ``user`` is an admin or
    billing staff (what the run flags is the sellers' business, not their customers')."""
    condition = Q(pk__in=[])
    for membership in access.active_memberships(user):
        org = membership.organization
        if org.kind != OrgKind.CUSTOMER and membership.role in (Role.ADMIN, Role.BILLING):
            condition |= Q(subscription__seller__path__startswith=org.path)
    return (
        BillingIssue.objects.filter(condition)
        .filter(subscription__customer__in=access.visible_organizations(user))
        .select_related(
            "subscription__customer", "subscription__seller", "subscription__plan", "resolved_by"
        )
    )


def with_credited(qs: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Annotate each invoice with the total of its credit notes (``credited``)."""
    return qs.annotate(credited=Sum("credit_notes__total"))


# --- filters --------------------------------------------------------------------------------

STATE_CHOICES = [(value, label) for value, label in InvoiceState.choices]
MAX_SEARCH = 40


@dataclass
class Filters:
    """The list filters of invoices and credit notes, parsed from a query string. A value
    that cannot be used is left out and named in ``errors`` (pages show it, the API answers
    400 with it)."""

    state: str = ""
    issued_from: date | None = None
    issued_to: date | None = None
    total_min: Decimal | None = None
    total_max: Decimal | None = None
    q: str = ""
    customer: int | None = None
    seller: int | None = None
    # Issued, not paid, past the due day (the dashboards' "overdue invoices" link here).
    overdue: bool = False
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    @property
    def active(self) -> bool:
        return any(
            getattr(self, name) not in (None, "")
            for name in ("state", "issued_from", "issued_to", "total_min", "total_max", "q")
        ) or (self.customer is not None or self.seller is not None or self.overdue)


def _date(filters: Filters, params, name: str, label: str) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        filters.error(name, f"{label}: use a date such as 2027-01-31.")
        return None


def _amount(filters: Filters, params, name: str, label: str) -> Decimal | None:
    raw = (params.get(name) or "").strip().replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or abs(value) >= Decimal("1e12"):
        filters.error(name, f"{label}: give an amount such as 100 or 99.50.")
        return None
    return value


def _id(filters: Filters, params, name: str, label: str) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        filters.error(name, f"{label}: choose one from the list.")
        return None
    return int(raw)


def parse_filters(params, *, states: bool = True) -> Filters:
    """Read the filters from ``params`` (a QueryDict or a dict)."""
    f = Filters()
    if states:
        state = (params.get("state") or "").strip()
        if state and state not in InvoiceState.values:
            f.error("state", f"State: choose one of {', '.join(InvoiceState.values)}.")
        elif state:
            f.state = state
    f.issued_from = _date(f, params, "issued_from", "Issued from")
    f.issued_to = _date(f, params, "issued_to", "Issued until")
    if f.issued_from and f.issued_to and f.issued_from > f.issued_to:
        f.error("issued_to", "Issued until: a day on or after the first day.")
        f.issued_to = None
    f.total_min = _amount(f, params, "total_min", "Total from")
    f.total_max = _amount(f, params, "total_max", "Total up to")
    if f.total_min is not None and f.total_max is not None and f.total_min > f.total_max:
        f.error("total_max", "Total up to: an amount at least the lower one.")
        f.total_max = None
    q = (params.get("q") or "").strip()
    if len(q) > MAX_SEARCH:
        f.error("q", f"Number: at most {MAX_SEARCH} characters.")
    else:
        f.q = q
    f.customer = _id(f, params, "customer", "Customer")
    f.seller = _id(f, params, "seller", "Issued by")
    overdue = (params.get("overdue") or "").strip()
    if overdue not in ("", "0", "1"):
        f.error("overdue", "Overdue: use 1 for overdue invoices only.")
    f.overdue = overdue == "1"
    return f


def _issued_range(qs, f: Filters):
    # Issue dates are compared in the portal's time zone (TIME_ZONE), like the pages show them.
    if f.issued_from:
        qs = qs.filter(issued_at__date__gte=f.issued_from)
    if f.issued_to:
        qs = qs.filter(issued_at__date__lte=f.issued_to)
    return qs


def filter_invoices(qs: QuerySet[Invoice], f: Filters) -> QuerySet[Invoice]:
    if f.state:
        qs = qs.filter(state=f.state)
    qs = _issued_range(qs, f)
    if f.total_min is not None:
        qs = qs.filter(total__gte=f.total_min)
    if f.total_max is not None:
        qs = qs.filter(total__lte=f.total_max)
    if f.q:
        qs = qs.filter(number__icontains=f.q)
    if f.customer is not None:
        qs = qs.filter(buyer_id=f.customer)
    if f.seller is not None:
        qs = qs.filter(seller_id=f.seller)
    if f.overdue:
        qs = qs.filter(state=InvoiceState.ISSUED, due_on__lt=clock.today())
    return qs


def filter_credit_notes(qs: QuerySet[CreditNote], f: Filters) -> QuerySet[CreditNote]:
    qs = _issued_range(qs, f)
    if f.total_min is not None:
        qs = qs.filter(total__gte=f.total_min)
    if f.total_max is not None:
        qs = qs.filter(total__lte=f.total_max)
    if f.q:
        qs = qs.filter(Q(number__icontains=f.q) | Q(invoice__number__icontains=f.q))
    if f.customer is not None:
        qs = qs.filter(buyer_id=f.customer)
    if f.seller is not None:
        qs = qs.filter(seller_id=f.seller)
    return qs


def buyers_of(qs) -> QuerySet[Organization]:
    """The organizations that the documents in ``qs`` are addressed to (for a filter's list)."""
    return Organization.objects.filter(pk__in=qs.order_by().values("buyer_id")).order_by("name")


# --- accounting export ----------------------------------------------------------------------


def _plain(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    return f"{quantize(amount, currency):f}"


def _unit(value: Decimal, currency: str) -> str:
    places = max(exponent(currency), -value.normalize().as_tuple().exponent, 0)
    return f"{value:.{min(places, 4)}f}"


def _number(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}"


def _last_day(end: date | None) -> str:
    return (end - timedelta(days=1)).isoformat() if end else ""


def _issued_on(invoice) -> str:
    from django.utils import timezone

    return timezone.localtime(invoice.issued_at).date().isoformat() if invoice.issued_at else ""


class _Echo:
    def write(self, value):
        return value


INVOICE_COLUMNS = [
    "number",
    "issued_on",
    "due_on",
    "service_from",
    "service_to",
    "buyer",
    "buyer_tax_id",
    "currency",
    "subtotal",
]
INVOICE_TAIL = ["tax_total", "total", "credited", "state"]
LINE_COLUMNS = [
    "invoice_number",
    "issued_on",
    "buyer",
    "currency",
    "position",
    "kind",
    "description",
    "subscription",
    "service_from",
    "service_to",
    "quantity",
    "unit_price",
    "amount",
    "tax_rate",
]


def export_invoices(base: QuerySet[Invoice], f: Filters) -> QuerySet[Invoice]:
    """The issued invoices of ``base`` (a seller's own) for the export, oldest number first."""
    qs = base.exclude(state=InvoiceState.DRAFT)
    return filter_invoices(qs, f).select_related("buyer").order_by("sequence")


def tax_rates_of(invoices: QuerySet[Invoice]) -> list[Decimal]:
    percents = (
        InvoiceLine.objects.filter(invoice__in=invoices.order_by().values("pk"), kind=LineKind.TAX)
        .exclude(tax_percent=None)
        .order_by("tax_percent")
        .values_list("tax_percent", flat=True)
        .distinct()
    )
    return sorted(set(percents))


def invoices_csv(invoices: QuerySet[Invoice]) -> Iterator[str]:
    """One row per invoice: dates, buyer, currency, subtotal, tax per rate, totals, state."""
    rates = tax_rates_of(invoices)
    writer = csv.writer(_Echo())
    yield writer.writerow([*INVOICE_COLUMNS, *(f"tax_{_number(r)}%" for r in rates), *INVOICE_TAIL])
    rows = with_credited(invoices).prefetch_related(
        Prefetch(
            "lines",
            queryset=InvoiceLine.objects.filter(kind=LineKind.TAX).order_by("position"),
            to_attr="tax_rows",
        )
    )
    for invoice in rows.iterator(chunk_size=500):
        cur = invoice.currency
        by_rate: dict[Decimal, Decimal] = {}
        for tax in invoice.tax_rows:
            if tax.tax_percent is not None:
                by_rate[tax.tax_percent] = by_rate.get(tax.tax_percent, Decimal(0)) + tax.amount
        details = invoice.buyer_details or {}
        yield writer.writerow(
            [
                invoice.number,
                _issued_on(invoice),
                invoice.due_on.isoformat() if invoice.due_on else "",
                invoice.period_start.isoformat() if invoice.period_start else "",
                _last_day(invoice.period_end),
                details.get("name") or invoice.buyer.name,
                details.get("tax_id", ""),
                cur,
                _plain(invoice.subtotal, cur),
                *(_plain(by_rate[r], cur) if r in by_rate else "" for r in rates),
                _plain(invoice.tax_total, cur),
                _plain(invoice.total, cur),
                _plain(invoice.credited or Decimal(0), cur),
                invoice.state,
            ]
        )


def lines_csv(invoices: QuerySet[Invoice]) -> Iterator[str]:
    """One row per line of the invoices (tax lines included, with their rate)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(LINE_COLUMNS)
    lines = (
        InvoiceLine.objects.filter(invoice__in=invoices.order_by().values("pk"))
        .select_related("invoice__buyer")
        .order_by("invoice__sequence", "position")
    )
    for line in lines.iterator(chunk_size=1000):
        invoice = line.invoice
        cur = invoice.currency
        details = invoice.buyer_details or {}
        yield writer.writerow(
            [
                invoice.number,
                _issued_on(invoice),
                details.get("name") or invoice.buyer.name,
                cur,
                line.position,
                line.kind,
                line.description,
                f"S-{line.subscription_id:06d}" if line.subscription_id else "",
                line.service_start.isoformat() if line.service_start else "",
                _last_day(line.service_end),
                _number(line.quantity),
                _unit(line.unit_price, cur),
                _plain(line.amount, cur),
                _number(line.tax_percent),
            ]
        )
