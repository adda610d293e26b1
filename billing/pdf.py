"""Invoice and credit note documents: a document -> HTML (Django templates under
``templates/billing/pdf/``) -> PDF bytes (WeasyPrint). Nothing here writes to the database or to
storage; ``billing.services.documents`` stores the result once and records it on the row.

Everything printed comes from the document's frozen columns (``seller_details``,
``buyer_details``, number, dates, totals) and its lines, so a PDF rendered today or in a year
says the same. Nothing is fetched from the network: the only fonts are the ones installed on the
machine (DejaVu; ``fonts-dejavu-core``), and the URL fetcher reads only the project's static
files and the seller's logo from storage, refusing everything else (http, https, file, ...).
"""

from __future__ import annotations

import logging
import mimetypes
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone, translation

from billing.models import CreditNote, Invoice, InvoiceSource, LineKind
from portal.money import exponent, quantize

STATIC_SCHEME = "portal-static:"
MEDIA_SCHEME = "portal-media:"
# Every document is rendered in its own ``language`` (the buyer's when it was issued), one of
# the portal's languages (docs/i18n.md).
LANGUAGES = {code for code, _ in settings.LANGUAGES}
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLORS = ("#1f4e8c", "#f2a900")

# WeasyPrint logs each of its steps at INFO, seven lines a document; its warnings (a resource
# refused, CSS it ignores) still show.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


# --- numbers and dates ------------------------------------------------------------------------


def amount(value: Decimal | None, currency: str) -> str:
    """``1234.5`` in USD -> ``1,234.50``: the currency's minor units, thousands separated."""
    if value is None:
        return ""
    return f"{quantize(value, currency):,.{exponent(currency)}f}"


def money(value: Decimal | None, currency: str) -> str:
    """``1,234.50 USD``."""
    return f"{amount(value, currency)} {currency}" if value is not None else ""


def unit_price(value: Decimal | None, currency: str) -> str:
    """A unit price: the currency's decimals, more (up to 4) when the price has them."""
    if value is None:
        return ""
    places = max(exponent(currency), min(4, -Decimal(value).normalize().as_tuple().exponent))
    return f"{Decimal(value):,.{places}f}"


def quantity(value: Decimal | None) -> str:
    """``5.0000`` -> ``5``, ``12.5000`` -> ``12.5``, ``1200`` -> ``1,200``."""
    if value is None:
        return ""
    normal = Decimal(value).normalize()
    if normal == normal.to_integral_value():
        return f"{int(normal):,}"
    return f"{normal:,f}"


def days(start: date | None, end: date | None) -> tuple[date, date] | None:
    """A half-open period [start, end) as the first and the last day it covers."""
    if start is None or end is None:
        return None
    return start, max(start, end - timedelta(days=1))


# --- what the templates see -------------------------------------------------------------------


def _seller(details: dict) -> dict:
    seller = dict(details)
    primary = details.get("primary_color") or ""
    accent = details.get("accent_color") or ""
    # Colours go into a <style> block, where HTML escaping does not protect: only #rrggbb.
    seller["primary_color"] = primary if COLOR.match(primary) else DEFAULT_COLORS[0]
    seller["accent_color"] = accent if COLOR.match(accent) else DEFAULT_COLORS[1]
    logo = details.get("logo") or ""
    seller["logo_url"] = f"{MEDIA_SCHEME}{logo}" if logo else ""
    seller["address"] = list(details.get("address") or [])
    return seller


def _tax_label(description: str) -> str:
    # Tax lines are described as "Sales tax 10% of 80.00"; the base gets its own column.
    label, sep, _ = description.rpartition(" of ")
    return label if sep and "%" in label else description


def _taxes(lines, currency: str) -> list[dict]:
    return [
        {
            "label": _tax_label(line.description),
            "percent": line.tax_percent,
            "base": amount(line.taxable_base, currency),
            "amount": amount(line.amount, currency),
        }
        for line in lines
        if line.kind == LineKind.TAX
    ]


def _common(doc, currency: str) -> dict:
    issued = doc.issued_at
    buyer = doc.buyer_details or {}
    return {
        "doc": doc,
        "currency": currency,
        "seller": _seller(doc.seller_details or {}),
        "buyer": {**buyer, "address": list(buyer.get("address") or [])},
        "issued_on": timezone.localtime(issued).date() if issued else None,
        "subtotal": money(doc.subtotal, currency),
        "tax_total": money(doc.tax_total, currency),
        "total": money(doc.total, currency),
    }


def invoice_context(invoice: Invoice) -> dict:
    currency = invoice.currency
    lines = list(invoice.lines.order_by("position"))
    return {
        **_common(invoice, currency),
        "kind": "invoice",
        "number": invoice.number or "",
        "due_on": invoice.due_on,
        "period": days(invoice.period_start, invoice.period_end),
        "wholesale": invoice.source == InvoiceSource.WHOLESALE,
        "sandbox": invoice.buyer.sandbox,
        "reverse_charge": invoice.reverse_charge,
        "terms_days": (invoice.seller_details or {}).get("payment_terms_days"),
        "lines": [
            {
                "description": line.description,
                "period": days(line.service_start, line.service_end),
                "quantity": quantity(line.quantity),
                "unit_price": unit_price(line.unit_price, currency),
                "amount": amount(line.amount, currency),
            }
            for line in lines
            if line.kind != LineKind.TAX
        ],
        "taxes": _taxes(lines, currency),
    }


def credit_note_context(note: CreditNote) -> dict:
    currency = note.currency
    lines = list(note.lines.select_related("invoice_line").order_by("position"))
    invoice = note.invoice
    return {
        **_common(note, currency),
        "kind": "credit_note",
        "number": note.number,
        "invoice": invoice,
        "invoice_issued_on": (
            timezone.localtime(invoice.issued_at).date() if invoice.issued_at else None
        ),
        "reason": note.reason,
        "reverse_charge": invoice.reverse_charge,
        "lines": [
            {
                "description": line.description,
                "period": days(
                    getattr(line.invoice_line, "service_start", None),
                    getattr(line.invoice_line, "service_end", None),
                ),
                "amount": amount(line.amount, currency),
            }
            for line in lines
            if line.kind != LineKind.TAX
        ],
        "taxes": _taxes(lines, currency),
    }


def _language(doc) -> str:
    return doc.language if doc.language in LANGUAGES else "en"


def invoice_html(invoice: Invoice) -> str:
    with translation.override(_language(invoice)):
        return render_to_string("billing/pdf/invoice.html", invoice_context(invoice))


def credit_note_html(note: CreditNote) -> str:
    with translation.override(_language(note)):
        return render_to_string("billing/pdf/credit_note.html", credit_note_context(note))


def logo_of(doc) -> str:
    return (doc.seller_details or {}).get("logo") or ""


# --- HTML -> PDF --------------------------------------------------------------------------------


class FetchRefused(ValueError):
    pass


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalFetcher(URLFetcher):
        """Reads ``portal-static:<path>`` from the project's static files and
        ``portal-media:<name>`` from media storage (only the names it was given: the seller's
        logo); ``data:`` URLs pass. Everything else is refused, so rendering never touches the
        network or the file system beyond those."""

        def __init__(self, media: set[str] | frozenset[str] = frozenset()):
            super().__init__(allowed_protocols=("data",), timeout=1)
            self.media = frozenset(media)

        def fetch(self, url, headers=None):
            if url.startswith(STATIC_SCHEME):
                path = url[len(STATIC_SCHEME) :].lstrip("/")
                found = finders.find(path) if path and ".." not in path.split("/") else None
                if not found:
                    raise FetchRefused(f"No static file {path!r}.")
                with open(found, "rb") as handle:
                    body = handle.read()
                return URLFetcherResponse(url, body, {"Content-Type": _mime(path)})
            if url.startswith(MEDIA_SCHEME):
                name = url[len(MEDIA_SCHEME) :]
                if name not in self.media:
                    raise FetchRefused(f"{name!r} is not a file this document may show.")
                with default_storage.open(name, "rb") as handle:
                    body = handle.read()
                return URLFetcherResponse(url, body, {"Content-Type": _mime(name)})
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise FetchRefused(f"Documents fetch nothing from {url.split(':', 1)[0]}: URLs.")

    return LocalFetcher


_FETCHER = None


def fetcher(media=frozenset()):
    global _FETCHER
    if _FETCHER is None:
        _FETCHER = _fetcher_class()
    return _FETCHER(media)


def _mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class Rendered:
    html: str
    pdf: bytes


def html_to_pdf(html: str, *, media: set[str] | frozenset[str] = frozenset()) -> bytes:
    """PDF bytes of ``html``, rendered with local fonts and ``fetcher(media)`` only."""
    from weasyprint import HTML

    return HTML(string=html, base_url=None, url_fetcher=fetcher(media)).write_pdf()


def invoice_pdf(invoice: Invoice) -> Rendered:
    html = invoice_html(invoice)
    return Rendered(html, html_to_pdf(html, media={logo_of(invoice)} - {""}))


def credit_note_pdf(note: CreditNote) -> Rendered:
    html = credit_note_html(note)
    return Rendered(html, html_to_pdf(html, media={logo_of(note)} - {""}))
