"""Invoices and credit notes in the customer portal and the seller consoles: lists with
filters, the invoice page with "why this amount", credit notes (with a preview before they
are issued), voiding, marking uncollectible, invoices a reseller receives, the accounting
export and document numbering."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods

from billing import listing, selectors
from billing.explain import Viewer, explain
from billing.models import (
    SELLER_DOCUMENT_KINDS,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceState,
    LineKind,
    NumberSeries,
)
from billing.services import credit_notes as notes
from billing.services import invoices as invoice_services
from portal import access, clock
from portal.errors import ApplicationError, NotFound, PermissionDenied, ValidationError
from portal.models import Organization
from portal.params import parse_id
from portal.views import customer_console, render_console, seller_console

PAGE_SIZE = 25


# --- shared pieces --------------------------------------------------------------------------


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _list_context(request, f: listing.Filters, page, **extra) -> dict:
    return {
        "page": page,
        "filters": f,
        "filter_errors": [m for messages_ in f.errors.values() for m in messages_],
        "states": listing.STATE_CHOICES,
        **extra,
    }


def _detail_lines(invoice: Invoice) -> list[InvoiceLine]:
    return list(
        invoice.lines.select_related("price", "charge__order", "promotion", "tax_rate")
        .annotate(credited_sum=Sum("credits__amount"))
        .order_by("position")
    )


def _details(invoice: Invoice) -> tuple[dict, dict]:
    """What the invoice prints about its seller and buyer: frozen at issue; a draft shows
    what it would print today."""
    if invoice.state != InvoiceState.DRAFT:
        return invoice.seller_details or {}, invoice.buyer_details or {}
    return (
        invoice_services.seller_details(invoice.seller),
        invoice_services.buyer_details(invoice.buyer),
    )


def _invoice_context(request, invoice: Invoice, viewer: Viewer) -> dict:
    lines = _detail_lines(invoice)
    items = [x for x in lines if x.kind != LineKind.TAX]
    taxes = [x for x in lines if x.kind == LineKind.TAX]
    explained = {x.pk: explain(x, invoice, viewer, lines) for x in lines}
    for line in lines:
        line.why = explained[line.pk]
        line.left = line.amount - (line.credited_sum or Decimal(0))
    credit_notes = list(invoice.credit_notes.order_by("issued_at", "pk"))
    credited = sum((n.total for n in credit_notes), Decimal(0))
    seller, buyer = _details(invoice)
    draft = invoice.state == InvoiceState.DRAFT
    return {
        "invoice": invoice,
        "items": items,
        "taxes": taxes,
        "credit_notes": credit_notes,
        "credited": credited,
        "left_to_pay": invoice.total - credited,
        "seller": seller,
        "buyer": buyer,
        "draft": draft,
        "draft_subtotal": sum((x.amount for x in items), Decimal(0)) if draft else None,
        "viewer": viewer,
    }


def _invoice_action(request, invoice: Invoice):
    """Void or mark uncollectible, as the person (the service checks their right)."""
    action = request.POST.get("action")
    try:
        if action == "void":
            invoice_services.invoice_void(
                actor=request.user, invoice=invoice, reason=request.POST.get("reason", "")
            )
            messages.success(request, f"Invoice {invoice.label} is void.")
        elif action == "uncollectible":
            invoice_services.invoice_mark_uncollectible(actor=request.user, invoice=invoice)
            messages.success(request, f"Invoice {invoice.label} is marked uncollectible.")
        else:
            messages.error(request, "Unknown action.")
    except (NotFound, PermissionDenied):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(request.get_full_path())


def _line_of(request, invoice: Invoice, line_id) -> InvoiceLine:
    return selectors.access_invoice_line(request.user, invoice, line_id)


# --- customer portal ------------------------------------------------------------------------


def _customer_invoice(request, org: Organization, invoice_id) -> Invoice:
    access.require(request.user, "billing.view", org)
    invoice = selectors.access_invoice(request.user, invoice_id)
    if invoice.buyer_id != org.pk or invoice.state == InvoiceState.DRAFT:
        raise NotFound("No such invoice.")
    return invoice


@customer_console
def customer_invoices(request, org):
    access.require(request.user, "billing.view", org)
    f = listing.parse_filters(request.GET)
    base = listing.invoices_for(request.user).filter(buyer=org).exclude(state=InvoiceState.DRAFT)
    qs = listing.with_credited(listing.filter_invoices(base, f)).order_by("-issued_at", "-pk")
    return render_console(
        request,
        "billing/invoice_list.html",
        _list_context(request, f, _page(request, qs), tab="invoices"),
    )


@customer_console
def customer_credit_notes(request, org):
    access.require(request.user, "billing.view", org)
    f = listing.parse_filters(request.GET, states=False)
    base = listing.credit_notes_for(request.user).filter(buyer=org)
    qs = listing.filter_credit_notes(base, f)
    return render_console(
        request,
        "billing/credit_note_list.html",
        _list_context(request, f, _page(request, qs), tab="credit_notes"),
    )


@customer_console
@require_http_methods(["GET", "POST"])
def customer_invoice(request, org, invoice_id):
    invoice = _customer_invoice(request, org, invoice_id)
    if request.method == "POST":
        return _invoice_action(request, invoice)
    context = _invoice_context(request, invoice, Viewer("customer", org.pk))
    return render_console(request, "billing/invoice_detail.html", context)


@customer_console
def customer_invoice_line(request, org, invoice_id, line_id):
    invoice = _customer_invoice(request, org, invoice_id)
    line = _line_of(request, invoice, line_id)
    return _line_page(request, invoice, line, Viewer("customer", org.pk))


@customer_console
def customer_credit_note(request, org, note_id):
    access.require(request.user, "billing.view", org)
    note = selectors.access_credit_note(request.user, note_id)
    if note.buyer_id != org.pk:
        raise NotFound("No such credit note.")
    return _credit_note_page(request, note)


def _line_page(request, invoice: Invoice, line: InvoiceLine, viewer: Viewer):
    lines = _detail_lines(invoice)
    line = next(x for x in lines if x.pk == line.pk)
    return render_console(
        request,
        "billing/line_explain.html",
        {"invoice": invoice, "line": line, "why": explain(line, invoice, viewer, lines)},
    )


def _credit_note_page(request, note):
    lines = list(note.lines.select_related("invoice_line").order_by("position"))
    return render_console(
        request,
        "billing/credit_note_detail.html",
        {
            "note": note,
            "items": [x for x in lines if x.kind != LineKind.TAX],
            "taxes": [x for x in lines if x.kind == LineKind.TAX],
        },
    )


# --- seller consoles ------------------------------------------------------------------------


def _console_invoice(request, org: Organization, invoice_id) -> Invoice:
    """An invoice of a buyer below the console's organization, or one it receives."""
    invoice = listing.invoices_for(request.user).filter(pk=parse_id(invoice_id))
    invoice = invoice.select_related("seller", "buyer").first()
    if invoice is None or not invoice.buyer.path.startswith(org.path):
        raise NotFound("No such invoice.")
    return invoice


def _received_tab(request, org) -> bool:
    """Whether the console shows "Invoices to you" (a reseller's own admins and billing)."""
    return org.is_reseller and access.can(request.user, "billing.view", org)


@seller_console
def console_invoices(request, org):
    f = listing.parse_filters(request.GET)
    base = (
        listing.invoices_for(request.user)
        .filter(buyer__path__startswith=org.path)
        .exclude(buyer=org)
    )
    qs = listing.with_credited(listing.filter_invoices(base, f)).order_by(
        "-billing_day", "-issued_at", "-pk"
    )
    sellers = Organization.objects.filter(pk__in=base.order_by().values("seller_id")).order_by(
        "depth", "name"
    )
    return render_console(
        request,
        "billing/invoice_list.html",
        _list_context(
            request,
            f,
            _page(request, qs),
            tab="invoices",
            buyers=listing.buyers_of(base),
            sellers=sellers,
            received_tab=_received_tab(request, org),
            can_export=access.can(request.user, "billing.view", org),
            can_number=access.can(request.user, "billing.manage", org),
        ),
    )


@seller_console
def console_credit_notes(request, org):
    f = listing.parse_filters(request.GET, states=False)
    base = (
        listing.credit_notes_for(request.user)
        .filter(buyer__path__startswith=org.path)
        .exclude(buyer=org)
    )
    qs = listing.filter_credit_notes(base, f)
    return render_console(
        request,
        "billing/credit_note_list.html",
        _list_context(
            request,
            f,
            _page(request, qs),
            tab="credit_notes",
            buyers=listing.buyers_of(base),
            received_tab=_received_tab(request, org),
        ),
    )


@seller_console
def console_received(request, org):
    """The wholesale invoices a reseller receives from the seller above it (read only)."""
    if not org.is_reseller:
        raise NotFound("No such page.")
    access.require(request.user, "billing.view", org)
    f = listing.parse_filters(request.GET)
    base = listing.invoices_for(request.user).filter(buyer=org).exclude(state=InvoiceState.DRAFT)
    qs = listing.with_credited(listing.filter_invoices(base, f)).order_by("-issued_at", "-pk")
    return render_console(
        request,
        "billing/invoice_list.html",
        _list_context(request, f, _page(request, qs), tab="received", received_tab=True),
    )


@seller_console
@require_http_methods(["GET", "POST"])
def console_invoice(request, org, invoice_id):
    invoice = _console_invoice(request, org, invoice_id)
    if request.method == "POST":
        return _invoice_action(request, invoice)
    context = _invoice_context(request, invoice, Viewer("seller", org.pk))
    can_manage = access.can(request.user, "billing.manage", invoice.seller)
    context.update(
        {
            "received": invoice.buyer_id == org.pk,
            "can_manage": can_manage,
            "can_credit": can_manage
            and invoice.state not in (InvoiceState.DRAFT, InvoiceState.VOID)
            and context["left_to_pay"] > 0,
            "can_void": can_manage
            and invoice.state in (InvoiceState.ISSUED, InvoiceState.UNCOLLECTIBLE),
            "can_uncollectible": can_manage and invoice.state == InvoiceState.ISSUED,
        }
    )
    return render_console(request, "billing/invoice_detail.html", context)


@seller_console
def console_invoice_line(request, org, invoice_id, line_id):
    invoice = _console_invoice(request, org, invoice_id)
    line = _line_of(request, invoice, line_id)
    return _line_page(request, invoice, line, Viewer("seller", org.pk))


@seller_console
def console_credit_note(request, org, note_id):
    note = selectors.access_credit_note(request.user, note_id)
    if not note.buyer.path.startswith(org.path):
        raise NotFound("No such credit note.")
    return _credit_note_page(request, note)


# --- a credit note, previewed then issued ---------------------------------------------------


def _credit_request(post, invoice: Invoice, lines: dict[int, InvoiceLine]):
    """(reason, credits or None for the whole invoice, the form's values) from the form;
    raises ``ValidationError`` for a line that is not on the invoice."""
    scope = post.get("scope", "whole")
    reason = post.get("reason", "")
    values = {"scope": scope, "reason": reason, "chosen": {}}
    if scope != "lines":
        values["scope"] = "whole"
        return reason, None, values
    credits = []
    for raw in post.getlist("line"):
        line = lines.get(parse_id(raw))
        if line is None:
            raise ValidationError.for_field("lines", "That line is not on this invoice.")
        amount = (post.get(f"amount_{line.pk}") or "").strip()
        values["chosen"][line.pk] = amount
        credits.append(notes.Credit(line, amount or None))
    if not credits:
        raise ValidationError.for_field("lines", "Choose the lines to credit.")
    return reason, credits, values


def _preview_key(invoice: Invoice, values: dict) -> str:
    chosen = sorted(values["chosen"].items())
    text = f"{invoice.pk}|{values['scope']}|{values['reason'].strip()}|{chosen}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@seller_console
@require_http_methods(["GET", "POST"])
def console_credit_note_new(request, org, invoice_id):
    invoice = _console_invoice(request, org, invoice_id)
    access.require(request.user, "billing.manage", invoice.seller)
    lines = _detail_lines(invoice)
    creditable = {x.pk: x for x in lines if x.kind != LineKind.TAX}
    for line in lines:
        line.left = line.amount - (line.credited_sum or Decimal(0))
    values = {"scope": "whole", "reason": "", "chosen": {}}
    plan, errors, key = None, [], ""
    if request.method == "POST":
        try:
            reason, credits, values = _credit_request(request.POST, invoice, creditable)
            if request.POST.get("action") == "confirm":
                if request.POST.get("preview_key") != _preview_key(invoice, values):
                    messages.warning(
                        request, "The credit changed since its preview; check it and confirm."
                    )
                else:
                    note = notes.credit_note_create(
                        actor=request.user, invoice=invoice, reason=reason, credits=credits
                    )
                    messages.success(
                        request, f"Credit note {note.number} was issued for {invoice.label}."
                    )
                    return redirect("billing_console_credit_note", org_id=org.pk, note_id=note.pk)
            plan = notes.credit_note_preview(
                actor=request.user, invoice=invoice, reason=reason, credits=credits
            )
            key = _preview_key(invoice, values)
        except PermissionDenied:
            raise
        except ApplicationError as exc:
            plan = None
            errors = [exc.message]
    return render_console(
        request,
        "billing/credit_note_form.html",
        {
            "invoice": invoice,
            "lines": [x for x in lines if x.kind != LineKind.TAX],
            "values": values,
            "plan": plan,
            "preview_key": key,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


# --- accounting export ----------------------------------------------------------------------


@seller_console
def console_export(request, org):
    """The seller's own invoices (``what=invoices``) or their lines (``what=lines``) as CSV,
    streamed, with the list's filters (typically a period of issue dates)."""
    access.require(request.user, "billing.view", org)
    f = listing.parse_filters(request.GET)
    if f.errors:
        for errors in f.errors.values():
            for message in errors:
                messages.error(request, message)
        return redirect(reverse("billing_console_invoices", kwargs={"org_id": org.pk}))
    base = listing.invoices_for(request.user).filter(seller=org)
    invoices = listing.export_invoices(base, f)
    what = "lines" if request.GET.get("what") == "lines" else "invoices"
    rows = listing.lines_csv(invoices) if what == "lines" else listing.invoices_csv(invoices)
    span = (
        "-".join(x.isoformat() for x in (f.issued_from, f.issued_to) if x is not None)
        or clock.today().isoformat()
    )
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{slugify(org.name) or "seller"}-{what}-{span}.csv"'
    )
    return response


# --- numbering ------------------------------------------------------------------------------


NUMBERING_KINDS = [
    (DocumentKind.INVOICE, "Invoices"),
    (DocumentKind.CREDIT_NOTE, "Credit notes"),
]


def _series_rows(org: Organization, posted: dict | None = None) -> list[dict]:
    existing = {s.kind: s for s in NumberSeries.objects.filter(seller=org)}
    year = clock.today().year
    rows = []
    for kind, label in NUMBERING_KINDS:
        series = existing.get(kind) or NumberSeries(
            seller=org, kind=kind, prefix=invoice_services.DEFAULT_PREFIX[kind]
        )
        row = {
            "kind": kind,
            "label": label,
            "prefix": series.prefix,
            "padding": series.padding,
            "next_number": series.next_number,
            "example": series.format(series.next_number, year),
            "errors": {},
        }
        if posted and posted.get("kind") == kind:
            row.update(prefix=posted["prefix"], padding=posted["padding"], errors=posted["errors"])
        rows.append(row)
    return rows


@seller_console
@require_http_methods(["GET", "POST"])
def console_numbering(request, org):
    access.require(request.user, "billing.view", org)
    can_manage = access.can(request.user, "billing.manage", org)
    posted = None
    if request.method == "POST":
        access.require(request.user, "billing.manage", org)
        kind = request.POST.get("kind", "")
        prefix = request.POST.get("prefix", "")
        padding = request.POST.get("padding", "")
        try:
            series = invoice_services.number_series_update(
                actor=request.user, seller=org, kind=kind, prefix=prefix, padding=padding
            )
        except PermissionDenied:
            raise
        except ApplicationError as exc:
            errors = exc.fields or {"prefix": [exc.message]}
            posted = {"kind": kind, "prefix": prefix, "padding": padding, "errors": errors}
            if kind not in SELLER_DOCUMENT_KINDS:
                messages.error(request, exc.message)
        else:
            example = series.format(series.next_number, clock.today().year)
            messages.success(
                request,
                f"{series.get_kind_display()} numbers go on from {example}.",
            )
            return redirect("billing_console_numbering", org_id=org.pk)
    return render_console(
        request,
        "billing/numbering.html",
        {"rows": _series_rows(org, posted), "can_manage": can_manage},
        status=400 if posted else 200,
    )
