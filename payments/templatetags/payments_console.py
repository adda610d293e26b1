"""Payments' pieces on other apps' console pages: a customer's invoice terms, card and credit
balance on its page; an invoice's payments, what it still owes and the money its credit notes
may give back on the invoice's page. Each piece reads through the access rules: a person who
may not see invoices sees none of it, and forms show only to those who may use them."""

from __future__ import annotations

from django import template
from django.db.models import Sum

from billing.models import InvoiceState
from payments.models import (
    BalanceEntry,
    BuyerAccount,
    Dunning,
    Payment,
    PaymentMethod,
)
from portal import access

register = template.Library()


def _seller_console(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or context.get("console_kind") != "seller":
        return None, None
    return user, context.get("console_org")


@register.simple_tag(takes_context=True)
def customer_payments(context, customer) -> dict:
    """For a customer's page in a seller console."""
    user, _org = _seller_console(context)
    if user is None or not customer.is_customer or not access.can(user, "billing.view", customer):
        return {"allowed": False}
    account = BuyerAccount.objects.filter(buyer=customer).first()
    balances = [
        (row["currency"], row["total"])
        for row in BalanceEntry.objects.filter(buyer=customer, seller=customer.parent)
        .order_by("currency")
        .values("currency")
        .annotate(total=Sum("amount"))
        if row["total"]
    ]
    return {
        "allowed": True,
        "terms_days": account.invoice_terms_days if account else None,
        "autopay": bool(account and account.autopay),
        "card": PaymentMethod.objects.filter(
            buyer=customer, is_default=True, removed_at__isnull=True
        ).first(),
        "balances": balances,
        "can_manage": access.can(user, "payments.manage", customer.parent),
        "seller": customer.parent,
    }


@register.simple_tag(takes_context=True)
def invoice_payments(context, invoice) -> dict:
    """For an invoice's page in a seller console (not the wholesale invoices it receives)."""
    user, org = _seller_console(context)
    if user is None or invoice.buyer_id == org.pk or invoice.state == InvoiceState.DRAFT:
        return {"allowed": False}
    from payments.pages.money import RECORDABLE, settlement_of
    from payments.services.collect import amount_due

    payments = list(
        Payment.objects.filter(invoice=invoice)
        .select_related("payment_method", "created_by")
        .prefetch_related("refunds")
        .order_by("created_at", "pk")
    )
    used = -(
        BalanceEntry.objects.filter(invoice=invoice, kind="applied").aggregate(s=Sum("amount"))["s"]
        or 0
    )
    can_refund = access.can(user, "billing.manage", invoice.seller)
    notes = []
    for note in invoice.credit_notes.order_by("issued_at", "pk"):
        note.settlement = settlement_of(note)
        notes.append(note)
    return {
        "allowed": True,
        "due": amount_due(invoice),
        "payments": payments,
        "balance_used": used,
        "dunning": Dunning.objects.filter(invoice=invoice).first(),
        "can_record": access.can(user, "payments.manage", invoice.seller)
        and invoice.state in RECORDABLE,
        "can_refund": can_refund,
        "notes": [n for n in notes if n.settlement.done or n.settlement.to_return > 0],
    }


@register.simple_tag(takes_context=True)
def credit_note_money(context, note) -> dict:
    """For a credit note's page in a seller console: where its money stands, and the way to
    give it back for those who may."""
    user, org = _seller_console(context)
    if user is None or note.buyer_id == org.pk:
        return {"allowed": False}
    from payments.pages.money import settlement_of

    state = settlement_of(note)
    return {
        "allowed": bool(state.done or state.to_return > 0),
        "state": state,
        "can_refund": access.can(user, "billing.manage", note.seller),
    }
