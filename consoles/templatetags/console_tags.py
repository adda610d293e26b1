"""Template helpers of the seller dashboards."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import template

from portal.money import format_money

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A wait a person reads at a glance: "45 s", "12 min", "3 h 20 min", "2 d 4 h"."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def signed_money(amount: Decimal, currency: str) -> str:
    """A change of money with its sign: "+1,250.00 EUR", a minus sign before a fall, or
    "no change"."""
    if amount > 0:
        return "+" + format_money(amount, currency)
    if amount < 0:
        return "\u2212" + format_money(-amount, currency)
    return "no change"


@register.filter
def signed(value: int) -> str:
    if value > 0:
        return f"+{value:,}"
    if value < 0:
        return f"\u2212{-value:,}"
    return "no change"


@register.simple_tag(takes_context=True)
def alert_settings(context) -> dict:
    """What the profile page's alert card needs: whether the person is seller staff at all,
    may approve orders somewhere, and receives alert e-mails."""
    from consoles.services import alerts_enabled
    from portal import access
    from portal.models import OrgKind, Role

    user = context["request"].user
    staff = [
        m
        for m in access.active_memberships(user)
        if m.organization.kind in (OrgKind.PROVIDER, OrgKind.RESELLER)
    ]
    return {
        "is_staff": bool(staff),
        "approves": any(m.role in (Role.ADMIN, Role.SALES) for m in staff),
        "enabled": alerts_enabled(user) if staff else False,
    }


@register.simple_tag(takes_context=True)
def customer_picture(context, customer) -> dict:
    """The customer page's sections (``consoles.picture``), read as the person asking."""
    from consoles.picture import customer_picture as picture

    return picture(context["request"].user, customer)
