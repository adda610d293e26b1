"""Credit notes: the only way to correct an issued invoice. A credit note credits the whole
invoice or part of some of its lines, with a reason; it has its own gapless series per seller
and is frozen when created. Tax is credited per rate on the sum of the credited lines at that
rate, never more than the invoice's tax at that rate still uncredited.

Payments (refunds, credit balance) build on these.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from billing.models import (
    CreditNote,
    CreditNoteLine,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceState,
)
from billing.services import rating
from billing.services.invoices import take_number
from catalog import pricing
from portal import access, clock
from portal.actors import Actor, person, system
from portal.errors import Conflict, ValidationError
from portal.money import MoneyError, quantize, to_decimal
from portal.services import audit_record

CANCELLATION = system("cancellation")


@dataclass(frozen=True)
class Credit:
    """Credit ``amount`` (before tax) of ``line``; None credits all that is left of it."""

    line: InvoiceLine
    amount: Decimal | None = None


def credited(line: InvoiceLine) -> Decimal:
    return line.credits.aggregate(s=Sum("amount"))["s"] or Decimal(0)


def creditable(line: InvoiceLine) -> Decimal:
    """What is left to credit of a line (its amount less the credit notes on it)."""
    return line.amount - credited(line)


def _amount(value, currency: str) -> Decimal:
    try:
        amount = to_decimal(value)
    except MoneyError:
        raise ValidationError.for_field("amount", "Give an amount such as 12.50.") from None
    if quantize(amount, currency) != amount:
        raise ValidationError.for_field("amount", f"{currency} has no fractions that small.")
    return amount


@dataclass
class CreditPlan:
    """What a credit note would hold: the credited lines with their amounts, the tax per rate
    and the totals. Computed the same way for a preview and for the note itself."""

    invoice: Invoice
    reason: str
    wanted: list[tuple[InvoiceLine, Decimal]]
    rated: list[rating.RatedLine]
    taxes: list[rating.RatedLine]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    left_before: Decimal  # what was left to credit on the invoice before this note

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def left_after(self) -> Decimal:
        return self.left_before - self.total


def _plan(invoice: Invoice, reason: str, credits: list[Credit] | None) -> CreditPlan:
    """Check and compute a credit note of ``invoice`` (locked or not); writes nothing."""
    if invoice.state in (InvoiceState.DRAFT, InvoiceState.VOID):
        raise Conflict(f"Invoice {invoice.label} is {invoice.get_state_display().lower()}.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError.for_field("reason", "Say why the invoice is corrected.")
    currency = invoice.currency
    lines = {x.pk: x for x in invoice.lines.exclude(kind=rating.TAX).select_related("tax_rate")}
    wanted: list[tuple[InvoiceLine, Decimal]] = []
    if credits is None:
        for line in lines.values():
            left = creditable(line)
            if left != 0:
                wanted.append((line, left))
    else:
        seen = set()
        for credit in credits:
            line = lines.get(getattr(credit.line, "pk", None))
            if line is None:
                raise ValidationError.for_field("lines", "That line is not on this invoice.")
            if line.pk in seen:
                raise ValidationError.for_field("lines", "Name each line once.")
            seen.add(line.pk)
            left = creditable(line)
            amount = left if credit.amount is None else _amount(credit.amount, currency)
            if line.amount > 0 and not Decimal(0) < amount <= left:
                raise ValidationError.for_field(
                    "lines",
                    f"Line {line.position} can be credited by more than 0 and at most "
                    f"{left} {currency}.",
                )
            if line.amount <= 0 and amount != left:
                raise ValidationError.for_field(
                    "lines", f"Line {line.position} is a reduction; credit it whole or not."
                )
            if amount != 0:
                wanted.append((line, amount))
    if not wanted:
        raise Conflict(f"Nothing is left to credit on invoice {invoice.label}.")
    rated = [
        rating.RatedLine(
            kind=line.kind,
            description=line.description,
            quantity=Decimal(1),
            unit_price=amount,
            amount=amount,
            tax_rate_id=line.tax_rate_id,
            tax_percent=line.tax_percent,
            tax_name=line.tax_rate.name if line.tax_rate_id else "",
        )
        for line, amount in wanted
    ]
    taxes = _capped_taxes(invoice, rated)
    sums = rating.totals([*rated, *taxes], currency)
    if sums.total <= 0:
        raise ValidationError("A credit note credits more than nothing.")
    left_on_invoice = invoice.total - (
        invoice.credit_notes.aggregate(s=Sum("total"))["s"] or Decimal(0)
    )
    if sums.total > left_on_invoice:
        raise ValidationError(
            f"Only {left_on_invoice} {currency} of invoice {invoice.label} is left to credit."
        )
    return CreditPlan(
        invoice=invoice,
        reason=reason,
        wanted=wanted,
        rated=rated,
        taxes=taxes,
        subtotal=sums.subtotal,
        tax=sums.tax,
        total=sums.total,
        left_before=left_on_invoice,
    )


def credit_note_preview(
    *, actor: Actor, invoice: Invoice, reason: str, credits: list[Credit] | None = None
) -> CreditPlan:
    """What ``credit_note_create`` would issue with the same arguments, checked the same way
    (rights included); nothing is written and no number is taken."""
    invoice = Invoice.objects.select_related("seller", "buyer").get(pk=invoice.pk)
    access.require(actor, "billing.manage", invoice.seller)
    return _plan(invoice, reason, credits)


def credit_note_create(
    *, actor: Actor, invoice: Invoice, reason: str, credits: list[Credit] | None = None
) -> CreditNote:
    """Credit an issued invoice: all of it (``credits`` None) or the given parts of lines; a
    sandbox customer's credit note is dated on its own day."""
    with clock.on_day_of(invoice.buyer):
        return _credit_note_create(actor=actor, invoice=invoice, reason=reason, credits=credits)


@transaction.atomic
def _credit_note_create(
    *, actor: Actor, invoice: Invoice, reason: str, credits: list[Credit] | None
) -> CreditNote:
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("seller", "buyer")
        .get(pk=invoice.pk)
    )
    access.require(actor, "billing.manage", invoice.seller)
    plan = _plan(invoice, reason, credits)
    reason, currency = plan.reason, plan.currency
    wanted, rated, taxes = plan.wanted, plan.rated, plan.taxes
    sums = rating.Totals(plan.subtotal, plan.tax, plan.total)
    kind = DocumentKind.SANDBOX_CREDIT_NOTE if invoice.sandbox else DocumentKind.CREDIT_NOTE
    number, sequence = take_number(invoice.seller, kind, year=clock.today().year)
    note = CreditNote.objects.create(
        invoice=invoice,
        seller=invoice.seller,
        buyer=invoice.buyer,
        currency=currency,
        number=number,
        sequence=sequence,
        sandbox=invoice.sandbox,
        reason=reason[:2000],
        issued_at=clock.now(),
        subtotal=sums.subtotal,
        tax_total=sums.tax,
        total=sums.total,
        seller_details=invoice.seller_details,
        buyer_details=invoice.buyer_details,
        language=invoice.language,
        created_by=person(actor),
    )
    rows = []
    position = 0
    for (line, amount), _ in zip(wanted, rated, strict=True):
        position += 1
        rows.append(
            CreditNoteLine(
                credit_note=note,
                position=position,
                kind=line.kind,
                invoice_line=line,
                description=f"Credit: {line.description}"[:300],
                amount=amount,
                tax_rate_id=line.tax_rate_id,
                tax_percent=line.tax_percent,
            )
        )
    for tax in taxes:
        position += 1
        rows.append(
            CreditNoteLine(
                credit_note=note,
                position=position,
                kind=rating.TAX,
                description=tax.description[:300],
                amount=tax.amount,
                tax_rate_id=tax.tax_rate_id,
                tax_percent=tax.tax_percent,
                taxable_base=tax.taxable_base,
            )
        )
    CreditNoteLine.objects.bulk_create(rows)
    audit_record(
        actor=actor,
        organization=invoice.buyer,
        action="credit_note.issued",
        obj=note,
        after={"invoice": invoice.number, "total": str(note.total), "reason": reason[:200]},
    )
    from billing.services import documents

    documents.after_credit_note(note)
    return note


def _capped_taxes(invoice: Invoice, rated: list[rating.RatedLine]) -> list[rating.RatedLine]:
    """Tax per rate on the credited lines, no more than the invoice's tax at that rate that
    earlier credit notes left (so partial credits never add up to more tax than was billed)."""
    taxes = rating.tax_lines(rated, invoice.currency)
    result = []
    for tax in taxes:
        billed = invoice.lines.filter(kind=rating.TAX, tax_percent=tax.tax_percent).aggregate(
            s=Sum("amount")
        )["s"] or Decimal(0)
        earlier = CreditNoteLine.objects.filter(
            credit_note__invoice=invoice, kind=rating.TAX, tax_percent=tax.tax_percent
        ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
        amount = min(tax.amount, billed - earlier)
        if amount > 0:
            result.append(
                rating.RatedLine(**{**tax.__dict__, "amount": amount, "unit_price": amount})
            )
    return result


def credit_unused(*, subscription, from_day, order=None) -> CreditNote | None:
    """A subscription ended before its period did: the unused days of the period's recurring
    charge (less its discount) are credited on the invoice that billed them. Nothing when the
    period was not billed (a trial). Runs in the caller's transaction, as the portal."""
    sub = subscription
    line = (
        InvoiceLine.objects.filter(
            subscription=sub,
            billed_by_id=sub.seller_id,
            kind=rating.RECURRING,
            service_start=sub.current_period_start,
        )
        .select_related("invoice")
        .order_by("-id")
        .first()
    )
    if line is None or line.invoice.state in (InvoiceState.DRAFT, InvoiceState.VOID):
        return None
    discount = InvoiceLine.objects.filter(
        invoice=line.invoice,
        subscription=sub,
        kind=rating.DISCOUNT,
        service_start=line.service_start,
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    days = pricing.days_between(line.service_start, line.service_end)
    days_left = pricing.days_between(from_day, line.service_end)
    if days_left <= 0:
        return None
    amount = pricing.prorate(
        line.amount + discount,
        days_left=days_left,
        days_in_period=days,
        currency=sub.currency,
    )
    amount = min(amount, creditable(line))
    if amount <= 0:
        return None
    reason = (
        f"Subscription {sub.number} ended on {from_day:%d %b %Y}: {days_left} of {days} days "
        "unused" + (f" (order {order.number})" if order is not None else "")
    )
    note = credit_note_create(
        actor=CANCELLATION, invoice=line.invoice, reason=reason, credits=[Credit(line, amount)]
    )
    # What was already paid for those days goes to the buyer's credit balance.
    from payments.services.refunds import BALANCE, credit_note_settle

    credit_note_settle(actor=CANCELLATION, note=note, method=BALANCE)
    return note
