"""Template helpers of the catalog's pages: money, unit prices, tiers, and the offers teaser on
a storefront's home page."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.money import exponent, format_money

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """``1234.5|money:"USD"`` -> ``1,234.50 USD``."""
    if amount is None or amount == "":
        return "—"
    return format_money(Decimal(amount), currency)


@register.filter
def unit(amount, currency: str) -> str:
    """A unit price: the currency's decimals, more when the price has them (0.0025 USD)."""
    if amount is None:
        return "—"
    value = Decimal(amount)
    places = max(exponent(currency), -value.normalize().as_tuple().exponent, 0)
    return f"{value:,.{min(places, 4)}f} {currency}"


@register.filter
def qty(value) -> str:
    """A quantity without trailing zeros (50, 12.5)."""
    if value is None:
        return ""
    return f"{Decimal(value).normalize():f}"


METRIC_SHORT = {
    "storage_gb_month": _("Storage over the quota, per GB-month"),
    "extra_active_user": _("Active users above the seats, per user"),
}


@register.filter
def metric_short(metric: str) -> str:
    return str(METRIC_SHORT.get(metric, metric))


@register.simple_tag
def tier_rows(component):
    """(label, unit price) rows of a price component's tiers."""
    rows = []
    lower = Decimal(0)
    tiers = list(component.tiers.all()) if hasattr(component, "tiers") else []
    for tier in tiers:
        if tier.up_to is None:
            label = "" if lower == 0 else gettext("above %(n)s") % {"n": qty(lower)}
        else:
            label = gettext("%(low)s to %(high)s") % {"low": qty(lower), "high": qty(tier.up_to)}
            lower = tier.up_to
        rows.append((label, tier.unit_price))
    return rows


@register.inclusion_tag("catalog/storefront/_teaser.html", takes_context=True)
def storefront_offers_teaser(context, limit: int = 4):
    """The first offers of the storefront's seller with their monthly price, for its home."""
    from catalog import selectors

    request = context.get("request")
    seller = getattr(request, "storefront", None)
    if seller is None:
        return {"cards": []}
    currency = seller.currency
    cards = selectors.offer_cards(seller=seller, currency=currency, on_date=selectors.today())
    return {"cards": cards[:limit], "currency": currency, "more": len(cards) > limit}


@register.simple_tag
def term_price(card, term: str):
    """The card's price for ``term``, or its other term's when it has only that one."""
    return card.prices.get(term) or next(iter(card.prices.values()), None)
