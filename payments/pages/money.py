"""Money moved by seller staff from the console: an offline payment (bank transfer or
cheque) recorded against an invoice after a preview of its effect, and the money a credit
note gives back (to the card, or to the customer's credit balance)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from billing import listing, selectors
from billing.models import CreditNote, Invoice, InvoiceState
from payments.forms import OfflinePaymentForm, RefundForm
from payments.models import (
    BalanceEntry,
    Payment,
    PaymentSource,
    PaymentState,
    Refund,
    RefundState,
)
from payments.services import collect, refunds
from portal import access, clock
from portal.errors import ApplicationError, NotFound, PermissionDenied
from portal.money import format_money
from portal.params import parse_id
from portal.views import apply_error, render_console, seller_console

RECORDABLE = (InvoiceState.ISSUED, InvoiceState.UNCOLLECTIBLE, InvoiceState.PAID)


def console_invoice_of(request, org, invoice_id) -> Invoice:
    """An issued invoice of a buyer below the console's organization, looked up inside what
    the person may see; anything else is the same 404."""
    invoice = (
        listing.invoices_for(request.user)
        .filter(pk=parse_id(invoice_id), buyer__path__startswith=org.path)
        .exclude(buyer=org)
        .select_related("seller", "buyer")
        .first()
    )
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


# --- an offline payment ---------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """What recording ``amount`` would do to the invoice, as the service will do it."""

    due_before: Decimal
    applied: Decimal
    to_balance: Decimal
    due_after: Decimal


def offline_effect(invoice: Invoice, amount: Decimal) -> Effect:
    due = collect.amount_due(invoice)
    applied = min(amount, due)
    return Effect(due, applied, amount - applied, due - applied)


def _preview_key(invoice: Invoice, data: dict, due: Decimal) -> str:
    """Binds a confirmation to its preview: the same values, and the invoice as it stood (a
    payment recorded meanwhile, or the same form sent twice, changes it)."""
    count = Payment.objects.filter(invoice=invoice).count()
    text = (
        f"{invoice.pk}|{data['source']}|{data['amount']}|{data['received_on']}|"
        f"{data['reference'].strip()}|{due}|{count}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@seller_console
@require_http_methods(["GET", "POST"])
def console_record_payment(request, org, invoice_id):
    """Preview, then record: the page shows what the payment settles, what stays owed and
    what goes to the credit balance before anything is saved."""
    invoice = console_invoice_of(request, org, invoice_id)
    access.require(request.user, "payments.manage", invoice.seller)
    if invoice.state not in RECORDABLE:
        messages.error(
            request, f"Invoice {invoice.label} is {invoice.get_state_display().lower()}."
        )
        return redirect("billing_console_invoice", org_id=org.pk, invoice_id=invoice.pk)
    due = collect.amount_due(invoice)
    form = OfflinePaymentForm(
        request.POST or None,
        currency=invoice.currency,
        initial={"source": PaymentSource.TRANSFER, "amount": due, "received_on": clock.today()},
    )
    effect, key, status = None, "", 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data, confirm = form.cleaned_data, request.POST.get("action") == "confirm"
            payment = None
            try:
                with transaction.atomic():
                    # Confirmations of one invoice take turns, so two clicks cannot both
                    # match the preview taken before either was recorded.
                    Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
                    due = collect.amount_due(invoice)
                    key = _preview_key(invoice, data, due)
                    if confirm and request.POST.get("preview_key") == key:
                        payment = collect.payment_record_offline(
                            actor=request.user, invoice=invoice, idempotency_key=key, **data
                        )
            except PermissionDenied:
                raise
            except ApplicationError as exc:
                apply_error(request, exc, form)
            else:
                if payment is not None:
                    return _recorded(request, org, invoice, payment)
                if confirm:
                    messages.warning(
                        request,
                        "The invoice or the values changed since the preview; check again.",
                    )
                effect, status = offline_effect(invoice, data["amount"]), 200
    return render_console(
        request,
        "payments/console/record.html",
        {"invoice": invoice, "due": due, "form": form, "effect": effect, "preview_key": key},
        status=status,
    )


def _recorded(request, org, invoice, payment):
    currency = payment.currency
    text = f"{payment.get_source_display()} of {format_money(payment.amount, currency)} recorded"
    extra = payment.amount - payment.applied
    if extra > 0:
        text += f"; {format_money(extra, currency)} went to {invoice.buyer.name}'s credit balance"
    messages.success(request, text + ".")
    return redirect("billing_console_invoice", org_id=org.pk, invoice_id=invoice.pk)


# --- money back for a credit note -----------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """Where a credit note's money stands: given back already (how), or what may be given
    back now and how much of it the card payments can take."""

    done: str
    to_return: Decimal
    card_room: Decimal


def settlement_of(note: CreditNote) -> Settlement:
    refunded = Refund.objects.filter(credit_note=note).exclude(state=RefundState.FAILED)
    if refunded.exists():
        total = refunded.aggregate(s=Sum("amount"))["s"]
        done = f"refunded to the card ({format_money(total, note.currency)})"
        return Settlement(done, Decimal(0), Decimal(0))
    entry = BalanceEntry.objects.filter(credit_note=note).first()
    if entry is not None:
        return Settlement(
            f"added to the credit balance ({format_money(entry.amount, note.currency)})",
            Decimal(0),
            Decimal(0),
        )
    to_return = min(note.total, max(Decimal(0), refunds.excess_paid(note.invoice)))
    paid = Payment.objects.filter(
        invoice=note.invoice, source=PaymentSource.CARD, state=PaymentState.SUCCEEDED
    ).aggregate(s=Sum("applied"))["s"] or Decimal(0)
    given = Refund.objects.filter(payment__invoice=note.invoice).exclude(
        state=RefundState.FAILED
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    return Settlement("", to_return, paid - given)


def console_credit_note_of(request, org, note_id) -> CreditNote:
    note = selectors.access_credit_note(request.user, note_id)
    if not note.buyer.path.startswith(org.path) or note.buyer_id == org.pk:
        raise NotFound("No such credit note.")
    return note


@seller_console
@require_http_methods(["GET", "POST"])
def console_credit_note_refund(request, org, note_id):
    """The staff member chooses where the money of a credit note on a paid invoice goes: back
    to the card (the whole of it, or the part the card paid), or to the credit balance."""
    note = console_credit_note_of(request, org, note_id)
    access.require(request.user, "billing.manage", note.seller)
    state = settlement_of(note)
    form = RefundForm(request.POST or None, initial={"method": "card"})
    if state.card_room < state.to_return:
        # The service refunds the whole amount to cards or nothing: offer what can be done.
        form.fields["method"].choices = [c for c in form.fields["method"].choices if c[0] != "card"]
        form.initial["method"] = "balance"
    status = 200
    if request.method == "POST":
        if state.done or state.to_return <= 0:
            messages.info(request, f"Nothing is left to give back for credit note {note.number}.")
            return redirect("billing_console_invoice", org_id=org.pk, invoice_id=note.invoice_id)
        if form.is_valid():
            try:
                outcome = refunds.credit_note_settle(
                    actor=request.user, note=note, method=form.cleaned_data["method"]
                )
            except PermissionDenied:
                raise
            except IntegrityError:  # settled by someone else at the same moment
                messages.info(request, f"Credit note {note.number} was settled meanwhile.")
                return redirect(
                    "billing_console_invoice", org_id=org.pk, invoice_id=note.invoice_id
                )
            except ApplicationError as exc:
                form.add_error("method", exc.message)
            else:
                messages.success(
                    request,
                    f"Credit note {note.number}: {format_money(state.to_return, note.currency)} "
                    f"{outcome}.",
                )
                return redirect(
                    "billing_console_invoice", org_id=org.pk, invoice_id=note.invoice_id
                )
        status = 400
    return render_console(
        request,
        "payments/console/refund.html",
        {"note": note, "invoice": note.invoice, "state": state, "form": form},
        status=status,
    )
