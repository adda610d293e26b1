"""Invoices: drafts that collect lines, issuing (gapless numbering, freezing what is printed),
an order's first invoice, and the states an issued invoice moves through.

A draft is found or made per seller, buyer, currency, billing day and source under a row lock
(and a unique constraint), so concurrent writers add their lines to the same draft. Issuing
takes the seller's number from its locked counter row in the same transaction: a rolled-back
issue gives the number back, so there are no gaps and no duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Max

from billing.models import (
    INVOICE_TRANSITIONS,
    SELLER_DOCUMENT_KINDS,
    BilledPart,
    BilledPeriod,
    Charge,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceSource,
    InvoiceState,
    NumberSeries,
)
from billing.services import rating
from portal import access, bulk, clock
from portal.actors import Actor, require_actor, system
from portal.bulk import bulk_update
from portal.errors import Conflict, ValidationError
from portal.models import Organization
from portal.selectors import brand_for_organization
from portal.services import audit_record, audit_rows_insert, audit_values

ORDERING = system("ordering")
DEFAULT_PREFIX = {
    DocumentKind.INVOICE: "INV-{year}-",
    DocumentKind.CREDIT_NOTE: "CN-{year}-",
    DocumentKind.SANDBOX_INVOICE: "SANDBOX-INV-{year}-",
    DocumentKind.SANDBOX_CREDIT_NOTE: "SANDBOX-CN-{year}-",
}
SANDBOX_PREFIX = "SANDBOX"


# --- numbering ------------------------------------------------------------------------------


def _series(seller: Organization, kind: str) -> NumberSeries:
    """The seller's counter row for ``kind``, locked for the rest of the transaction."""
    series = NumberSeries.objects.select_for_update().filter(seller=seller, kind=kind).first()
    if series is None:
        try:
            with transaction.atomic():
                NumberSeries.objects.create(seller=seller, kind=kind, prefix=DEFAULT_PREFIX[kind])
        except IntegrityError:
            pass  # made at the same moment by another transaction
        series = NumberSeries.objects.select_for_update().get(seller=seller, kind=kind)
    return series


def take_numbers(seller: Organization, kind: str, *, count: int, year: int) -> list:
    """The next ``count`` numbers of the seller's series, in order (the caller's transaction
    holds the counter until it commits)."""
    series = _series(seller, kind)
    first = series.next_number
    series.next_number = first + count
    series.save(update_fields=["next_number", "updated_at"])
    return [(series.format(n, year), n) for n in range(first, first + count)]


def take_number(seller: Organization, kind: str, *, year: int) -> tuple[str, int]:
    """The next number of the seller's series (the caller's transaction holds it)."""
    return take_numbers(seller, kind, count=1, year=year)[0]


@transaction.atomic
def number_series_update(
    *, actor: Actor, seller: Organization, kind: str, prefix: str, padding: int
) -> NumberSeries:
    """A seller sets how its documents are numbered from now on. The sequence runs on (it never
    goes back), so numbers stay unique and gapless."""
    access.require(actor, "billing.manage", seller)
    if kind not in SELLER_DOCUMENT_KINDS:
        raise ValidationError.for_field("kind", "Choose invoices or credit notes.")
    prefix = (prefix or "").strip()
    if not prefix or len(prefix) > 20 or not prefix.replace("{year}", "").isprintable():
        raise ValidationError.for_field("prefix", "A prefix of 1 to 20 characters is required.")
    if prefix.upper().startswith(SANDBOX_PREFIX):
        raise ValidationError.for_field(
            "prefix", "Prefixes starting with SANDBOX are kept for sandbox customers."
        )
    probe = prefix.replace("{year}", "")
    if "{" in probe or "}" in probe:
        raise ValidationError.for_field("prefix", "Only {year} may appear in braces.")
    try:
        padding = int(padding)
    except (TypeError, ValueError):
        raise ValidationError.for_field("padding", "Give the number of digits.") from None
    if not 1 <= padding <= 12:
        raise ValidationError.for_field("padding", "Between 1 and 12 digits.")
    series = _series(seller, kind)
    before = {"prefix": series.prefix, "padding": series.padding}
    series.prefix, series.padding = prefix, padding
    series.save(update_fields=["prefix", "padding", "updated_at"])
    audit_record(
        actor=actor,
        organization=seller,
        action="billing.numbering_changed",
        obj=series,
        before=before,
        after={"prefix": prefix, "padding": padding},
    )
    return series


# --- drafts and lines -----------------------------------------------------------------------


def draft_for(
    *, seller: Organization, buyer: Organization, currency: str, billing_day: date, source: str
) -> Invoice:
    """The open draft for these keys, locked; made when there is none."""
    keys = {
        "seller": seller,
        "buyer": buyer,
        "currency": currency,
        "billing_day": billing_day,
        "source": source,
    }
    draft = Invoice.objects.select_for_update().filter(state=InvoiceState.DRAFT, **keys).first()
    if draft is None:
        try:
            with transaction.atomic():
                draft = Invoice.objects.create(**keys)
        except IntegrityError:
            draft = Invoice.objects.select_for_update().get(state=InvoiceState.DRAFT, **keys)
    return draft


def _row(invoice: Invoice, position: int, line: rating.RatedLine, subscription=None) -> InvoiceLine:
    return InvoiceLine(
        invoice=invoice,
        position=position,
        kind=line.kind,
        description=line.description[:300],
        subscription=subscription,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
        service_start=line.service_start,
        service_end=line.service_end,
        billed_by_id=invoice.seller_id,
        price_id=line.price_id,
        charge_id=line.charge_id,
        order_id=line.order_id,
        promotion_id=line.promotion_id,
        metric=line.metric,
        tax_rate_id=line.tax_rate_id,
        tax_percent=line.tax_percent,
        taxable_base=line.taxable_base,
        explain=line.explain,
    )


def lines_add(
    invoice: Invoice, lines: Iterable[rating.RatedLine], *, subscription=None
) -> list[InvoiceLine]:
    """Append rated lines to a draft the caller has locked."""
    if invoice.state != InvoiceState.DRAFT:
        raise Conflict(f"Invoice {invoice.number} is issued; it cannot take new lines.")
    position = invoice.lines.aggregate(m=Max("position"))["m"] or 0
    rows = []
    for line in lines:
        position += 1
        rows.append(_row(invoice, position, line, subscription))
    InvoiceLine.objects.bulk_create(rows)
    return rows


def as_rated(line: InvoiceLine) -> rating.RatedLine:
    return rating.RatedLine(
        kind=line.kind,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
        tax_rate_id=line.tax_rate_id,
        tax_percent=line.tax_percent,
        tax_name=line.tax_rate.name if line.tax_rate_id else "",
    )


# --- freezing -------------------------------------------------------------------------------


def seller_details(seller: Organization) -> dict:
    brand = brand_for_organization(seller)
    own = brand is not None and brand.organization_id == seller.pk
    legal_address = brand.legal_address.strip() if own else ""
    return {
        "name": (brand.legal_name if own and brand.legal_name else seller.name),
        "brand": brand.name if brand else seller.name,
        "address": legal_address.splitlines() if legal_address else seller.address_lines,
        "tax_id": seller.tax_id,
        "email": (brand.support_email if own else "") or seller.contact_email,
        "phone": (brand.support_phone if own else "") or seller.phone,
        "primary_color": brand.primary_color if brand else "#1f4e8c",
        "accent_color": brand.accent_color if brand else "#f2a900",
        "logo": brand.logo.name if brand and own and brand.logo else "",
        "footer": brand.invoice_footer if own else "",
        "payment_terms_days": brand.invoice_payment_terms_days if own and brand else 14,
    }


def buyer_details(buyer: Organization) -> dict:
    return {
        "name": buyer.name,
        "address": buyer.address_lines,
        "tax_id": buyer.tax_id,
        "contact": buyer.contact_name,
        "email": buyer.contact_email,
        "country": buyer.country,
    }


def language_of(buyer: Organization, seller: Organization) -> str:
    return buyer.language or seller.language or "en"


def terms_days(invoice: Invoice, details: dict, own: int | None = None) -> int:
    """Days to pay: the terms the seller granted the buyer when it has some, else the seller's
    brand's payment terms."""
    return int(own) if own is not None else int(details.get("payment_terms_days") or 14)


@transaction.atomic
def invoices_issue(*, actor: Actor, invoice_ids) -> list[Invoice]:
    """Issue the given drafts (those still drafts and not locked by someone else) with a
    constant number of statements however many there are: tax per rate, totals, the seller's
    next numbers taken in one step under its counter's lock (gapless, in the drafts' order),
    everything printed frozen. Empty drafts are deleted. Returns the invoices issued."""
    require_actor(actor)
    drafts = list(
        Invoice.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(pk__in=list(invoice_ids), state=InvoiceState.DRAFT)
        .select_related("seller", "buyer")
        .order_by("pk")
    )
    if not drafts:
        return []
    for seller in {d.seller_id: d.seller for d in drafts}.values():
        access.require(actor, "billing.manage", seller)
    InvoiceLine.objects.filter(invoice__in=drafts, kind=rating.TAX).delete()
    # Plain rows, not model instances: issuing thousands of invoices reads tens of thousands.
    by_invoice: dict[int, list[_Line]] = {d.pk: [] for d in drafts}
    for row in (
        InvoiceLine.objects.filter(invoice__in=drafts)
        .order_by("invoice_id", "position")
        .values_list(*LINE_COLUMNS)
    ):
        by_invoice[row[0]].append(_Line(*row))
    empty = [d for d in drafts if not by_invoice[d.pk]]
    if empty:
        Invoice.objects.filter(pk__in=[d.pk for d in empty]).delete()
    drafts = [d for d in drafts if by_invoice[d.pk]]
    if not drafts:
        return []
    now, today = clock.now(), clock.today()
    details: dict[int, dict] = {}
    numbers: dict[tuple[int, bool], list[tuple[str, int]]] = {}
    for draft in drafts:
        draft.sandbox = draft.buyer.sandbox
    for seller_id, sandbox in sorted({(d.seller_id, d.sandbox) for d in drafts}):
        mine = [d for d in drafts if d.seller_id == seller_id and d.sandbox == sandbox]
        details[seller_id] = seller_details(mine[0].seller)
        kind = DocumentKind.SANDBOX_INVOICE if sandbox else DocumentKind.INVOICE
        numbers[seller_id, sandbox] = take_numbers(
            mine[0].seller, kind, count=len(mine), year=today.year
        )
    from payments.models import BuyerAccount

    granted = dict(
        BuyerAccount.objects.filter(
            buyer_id__in={d.buyer_id for d in drafts}, invoice_terms_days__isnull=False
        ).values_list("buyer_id", "invoice_terms_days")
    )
    tax_rows, audits = [], []
    for invoice in drafts:
        lines = by_invoice[invoice.pk]
        rated = [
            rating.RatedLine(
                kind=x.kind,
                description="",
                quantity=x.quantity,
                unit_price=x.unit_price,
                amount=x.amount,
                tax_rate_id=x.tax_rate_id,
                tax_percent=x.tax_percent,
                tax_name=x.tax_name or "",
            )
            for x in lines
        ]
        taxes = rating.tax_lines(rated, invoice.currency)
        position = lines[-1].position
        for tax in taxes:
            position += 1
            tax_rows.append((invoice, position, tax))
        sums = rating.totals([*rated, *taxes], invoice.currency)
        seller_info = details[invoice.seller_id]
        invoice.number, invoice.sequence = numbers[invoice.seller_id, invoice.sandbox].pop(0)
        invoice.state = InvoiceState.ISSUED
        invoice.issued_at = now
        invoice.due_on = today + timedelta(
            days=terms_days(invoice, seller_info, granted.get(invoice.buyer_id))
        )
        starts = [x.service_start for x in lines if x.service_start]
        ends = [x.service_end for x in lines if x.service_end]
        invoice.period_start = min(starts) if starts else None
        invoice.period_end = max(ends) if ends else None
        invoice.subtotal, invoice.tax_total, invoice.total = sums.subtotal, sums.tax, sums.total
        invoice.seller_details = seller_info
        invoice.buyer_details = buyer_details(invoice.buyer)
        invoice.reverse_charge = invoice.buyer.tax_exempt
        invoice.language = language_of(invoice.buyer, invoice.seller)
        invoice.updated_at = now
        audits.append(
            audit_values(
                actor=actor,
                organization=invoice.buyer,
                action="invoice.issued",
                obj=invoice,
                after={
                    "number": invoice.number,
                    "total": str(invoice.total),
                    "currency": invoice.currency,
                    "seller": invoice.seller_id,
                },
            )
        )
    from billing.services.batch import LINE_COLUMNS as INSERT_COLUMNS
    from billing.services.batch import line_values

    bulk.insert(
        InvoiceLine,
        columns=INSERT_COLUMNS,
        rows=[line_values(inv, pos, tax, None) for inv, pos, tax in tax_rows],
    )
    bulk_update(drafts, ISSUE_FIELDS)
    audit_rows_insert(audits)
    from billing.services import documents
    from payments.services.collect import after_issue as payments_after_issue

    payments_after_issue(drafts)
    documents.after_issue(drafts)
    return drafts


class _Line(NamedTuple):
    invoice_id: int
    position: int
    kind: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax_rate_id: int | None
    tax_percent: Decimal | None
    tax_name: str | None
    service_start: date | None
    service_end: date | None


# The columns ``_Line`` is read from (the tax rate's name through its relation).
LINE_COLUMNS = (
    "invoice_id",
    "position",
    "kind",
    "quantity",
    "unit_price",
    "amount",
    "tax_rate_id",
    "tax_percent",
    "tax_rate__name",
    "service_start",
    "service_end",
)


ISSUE_FIELDS = [
    "number",
    "sequence",
    "sandbox",
    "state",
    "issued_at",
    "due_on",
    "period_start",
    "period_end",
    "subtotal",
    "tax_total",
    "total",
    "seller_details",
    "buyer_details",
    "reverse_charge",
    "language",
    "updated_at",
]


def invoice_issue(*, actor: Actor, invoice: Invoice) -> Invoice | None:
    """Issue one draft. Issuing an issued invoice again changes nothing; an empty draft is
    deleted (None)."""
    issued = invoices_issue(actor=actor, invoice_ids=[invoice.pk])
    if issued:
        return issued[0]
    return Invoice.objects.filter(pk=invoice.pk).first()


def _move(invoice: Invoice, to: str, *, actor: Actor, **changes) -> Invoice:
    if to not in INVOICE_TRANSITIONS[invoice.state]:
        names = dict(InvoiceState.choices)
        raise Conflict(
            f"Invoice {invoice.label} is {names[invoice.state].lower()}; it cannot become "
            f"{names[to].lower()}."
        )
    before = invoice.state
    invoice.state = to
    for name, value in changes.items():
        setattr(invoice, name, value)
    invoice.save(update_fields=["state", "updated_at", *changes])
    audit_record(
        actor=actor,
        organization=invoice.buyer,
        action=f"invoice.{to}",
        obj=invoice,
        before={"state": before},
        after={"state": to},
    )
    return invoice


def _lock(invoice: Invoice) -> Invoice:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("seller", "buyer")
        .get(pk=invoice.pk)
    )


@transaction.atomic
def invoice_mark_paid(*, actor: Actor, invoice: Invoice) -> Invoice:
    """Payments (billing's payments work) call this when an invoice is settled."""
    invoice = _lock(invoice)
    access.require(actor, "billing.manage", invoice.seller)
    if invoice.state == InvoiceState.PAID:
        return invoice
    return _move(invoice, InvoiceState.PAID, actor=actor, paid_at=clock.now())


@transaction.atomic
def invoice_void(*, actor: Actor, invoice: Invoice, reason: str) -> Invoice:
    """Void an unpaid issued invoice (issued in error) against which no money was received or
    credited. Its number stays used; the periods it billed stay billed."""
    invoice = _lock(invoice)
    access.require(actor, "billing.manage", invoice.seller)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError.for_field("reason", "Say why the invoice is void.")
    if _money_against(invoice):
        raise Conflict(
            f"Money was received or credited against invoice {invoice.number}: correct it with "
            "a credit note instead of voiding it.",
            code="invoice_has_money",
        )
    invoice = _move(invoice, InvoiceState.VOID, actor=actor, voided_at=clock.now())
    audit_record(
        actor=actor,
        organization=invoice.buyer,
        action="invoice.void_reason",
        obj=invoice,
        after={"reason": reason[:500]},
    )
    return invoice


def _money_against(invoice: Invoice) -> bool:
    """Whether a payment (made or under way), credit balance or credit note counts against the
    invoice: voiding it would leave that money pointing at nothing."""
    from payments.models import OPEN_PAYMENT_STATES, BalanceEntry, Payment, PaymentState

    return (
        Payment.objects.filter(
            invoice=invoice, state__in=(PaymentState.SUCCEEDED, *OPEN_PAYMENT_STATES)
        ).exists()
        or BalanceEntry.objects.filter(invoice=invoice).exists()
        or invoice.credit_notes.exists()
    )


@transaction.atomic
def invoice_mark_uncollectible(*, actor: Actor, invoice: Invoice) -> Invoice:
    invoice = _lock(invoice)
    access.require(actor, "billing.manage", invoice.seller)
    return _move(invoice, InvoiceState.UNCOLLECTIBLE, actor=actor)


# --- an order's first invoice ---------------------------------------------------------------


def order_invoice_create(*, actor: Actor, order, subscription, quote) -> Invoice | None:
    """The first invoice of a new subscription's order, issued at once: exactly the lines the
    order showed (the frozen quote's price, promotion and tax), with the setup fee charge.
    Nothing for an order starting with a trial: its first paid period is billed at the trial's
    end. Runs in the caller's transaction."""
    from billing.services import gather
    from billing.services.run import wholesale_bill

    require_actor(actor)
    if quote.trial_days:
        return None
    first = quote.first_invoice
    sub = subscription
    tax, exempt = None, order.customer.tax_exempt
    if first.tax_rate_id and not exempt:
        from catalog.models import TaxRate

        rate = TaxRate.objects.get(pk=first.tax_rate_id)
        tax = rating.Tax(rate_id=rate.pk, name=rate.name, percent=rate.rate)
    charges = gather.pending_charges(sub)
    inputs = rating.RatingInput(
        currency=sub.currency,
        label=order.offer.display_name,
        advance=rating.Advance(
            start=first.start,
            end=first.end,
            quantity=sub.quantity,
            unit_price=sub.unit_price,
            price_id=first.price_id,
            order_id=order.pk,
        ),
        discount=gather.discount_for(sub, 0),
        charges=tuple(gather.as_pending(c) for c in charges),
        tax=tax,
        exempt=exempt,
    )
    lines = rating.rate(inputs)
    invoice = draft_for(
        seller=sub.seller,
        buyer=sub.customer,
        currency=sub.currency,
        billing_day=first.start,
        source=InvoiceSource.ORDER,
    )
    invoice.order = order
    invoice.save(update_fields=["order", "updated_at"])
    lines_add(invoice, lines, subscription=sub)
    BilledPeriod.objects.create(
        subscription=sub,
        seller=sub.seller,
        part=BilledPart.ADVANCE,
        period_start=first.start,
        period_end=first.end,
        invoice=invoice,
    )
    Charge.objects.filter(pk__in=[c.pk for c in charges]).update(invoiced_at=clock.now())
    wholesale_bill(
        sub,
        boundary=first.start,
        period=(first.start, first.end),
        quantity=sub.quantity,
        plan=sub.plan,
        term=sub.term,
        usage_period=None,
        charges=charges,
    )
    # Issued by the portal on the seller's behalf: the person ordering may not issue invoices.
    issued = invoice_issue(actor=ORDERING, invoice=invoice)
    order.first_invoice = issued  # the caller's order sees the issued invoice, not the draft
    return issued
