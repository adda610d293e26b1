"""Billing's pieces on other apps' pages (the subscription, the order, a customer in the
console, the catalog's prices) and the links of billing pages, which depend on the console.

Each piece reads through billing's own access rules: a person who may not see invoices sees
none of it."""

from __future__ import annotations

from django import template
from django.urls import reverse

from billing import listing
from billing.models import Invoice, InvoiceState, PriceMove, PriceMoveState
from portal import access

register = template.Library()


def _console(context) -> tuple[str, object]:
    return context.get("console_kind", ""), context.get("console_org")


def _user(context):
    request = context.get("request")
    return getattr(request, "user", None)


@register.simple_tag(takes_context=True)
def invoice_url(context, invoice) -> str:
    kind, org = _console(context)
    name = "billing_console_invoice" if kind == "seller" else "billing_customer_invoice"
    return reverse(name, kwargs={"org_id": org.pk, "invoice_id": invoice.pk})


@register.simple_tag(takes_context=True)
def line_url(context, invoice, line) -> str:
    kind, org = _console(context)
    name = "billing_console_invoice_line" if kind == "seller" else "billing_customer_invoice_line"
    return reverse(name, kwargs={"org_id": org.pk, "invoice_id": invoice.pk, "line_id": line.pk})


@register.simple_tag(takes_context=True)
def credit_note_url(context, note) -> str:
    kind, org = _console(context)
    name = "billing_console_credit_note" if kind == "seller" else "billing_customer_credit_note"
    return reverse(name, kwargs={"org_id": org.pk, "note_id": note.pk})


@register.simple_tag(takes_context=True)
def invoice_pdf_url(context, invoice) -> str:
    kind, org = _console(context)
    name = "billing_console_invoice_pdf" if kind == "seller" else "billing_customer_invoice_pdf"
    return reverse(name, kwargs={"org_id": org.pk, "invoice_id": invoice.pk})


@register.simple_tag(takes_context=True)
def invoices_url(context, customer=None) -> str:
    kind, org = _console(context)
    if kind == "seller":
        url = reverse("billing_console_invoices", kwargs={"org_id": org.pk})
        return f"{url}?customer={customer.pk}" if customer is not None else url
    return reverse("billing_customer_invoices", kwargs={"org_id": org.pk})


@register.filter
def last_day(end):
    """The last day of a half-open period ``[start, end)``."""
    from datetime import timedelta

    return end - timedelta(days=1) if end else end


@register.filter
def waiting(charges):
    """The charges not billed yet (for "charges waiting for the next invoice")."""
    return [c for c in charges if c.invoiced_at is None]


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


# --- pieces on other pages ------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def subscription_billing(context, sub) -> dict:
    """The subscription's next invoice and its latest invoices (for its page)."""
    user = _user(context)
    if user is None or not access.can(user, "billing.view", sub.customer):
        return {"allowed": False}
    from billing.services.preview import upcoming_invoice

    invoices = list(
        listing.invoices_for(user)
        .filter(buyer=sub.customer, lines__subscription=sub)
        .exclude(state=InvoiceState.DRAFT)
        .distinct()
        .order_by("-issued_at", "-pk")[:5]
    )
    return {"allowed": True, "upcoming": upcoming_invoice(sub), "invoices": invoices}


@register.simple_tag(takes_context=True)
def customer_billing(context, customer) -> dict:
    """A customer's latest invoices and upcoming invoices (for its page in a console)."""
    user = _user(context)
    if user is None or not customer.is_customer:
        return {"allowed": False}
    if not access.can(user, "billing.view", customer):
        return {"allowed": False}
    from billing.services.preview import upcoming_for_customer

    invoices = list(
        listing.with_credited(listing.invoices_for(user).filter(buyer=customer)).order_by(
            "-billing_day", "-pk"
        )[:5]
    )
    return {
        "allowed": True,
        "invoices": invoices,
        "upcoming": upcoming_for_customer(customer),
    }


@register.simple_tag(takes_context=True)
def order_invoice(context, order) -> Invoice | None:
    """The invoice the order produced, when the person may see it."""
    user = _user(context)
    if user is None:
        return None
    qs = listing.invoices_for(user).filter(order=order)
    if context.get("console_kind") != "seller":
        qs = qs.exclude(state=InvoiceState.DRAFT)
    return qs.first()


@register.simple_tag(takes_context=True)
def price_moves(context, plan) -> dict:
    """For the catalog's prices page: the seller's retail price versions that running
    subscriptions could move to, and the moves scheduled (with who may withdraw them)."""
    from billing.services.prices import price_move_preview
    from catalog.models import Audience, Price

    user = _user(context)
    _, org = _console(context)
    if user is None or org is None:
        return {"offers": [], "scheduled": []}
    can_manage = access.can(user, "catalog.manage", org)
    offers = []
    if can_manage:
        latest: dict[tuple, Price] = {}
        versions = Price.objects.filter(seller=org, plan=plan, audience=Audience.RETAIL).order_by(
            "valid_from", "pk"
        )
        for price in versions:
            latest[(price.buyer_id, price.currency, price.term)] = price
        for price in sorted(latest.values(), key=lambda p: (p.currency, p.term, p.buyer_id or 0)):
            preview = price_move_preview(actor=user, price=price)
            if preview.count:
                offers.append({"price": price, "preview": preview})
    scheduled = list(
        PriceMove.objects.filter(
            to_price__seller=org,
            to_price__plan=plan,
            state=PriceMoveState.SCHEDULED,
            subscription__customer__in=access.visible_organizations(user),
        )
        .select_related("subscription__customer", "from_price", "to_price")
        .order_by("effective_from", "subscription__customer__name", "pk")
    )
    return {"offers": offers, "scheduled": scheduled, "can_manage": can_manage}
