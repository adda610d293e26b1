"""The consoles' navigation. Each app adds its entries from its ``AppConfig.ready`` so the
layouts never need to know which apps exist."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from portal import access


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    order: int = 100
    # Called with (user, organization, membership); the item shows when it answers True.
    visible: Callable = field(default=lambda user, org, membership: True)
    icon: str = ""
    # Lit only on its own page, not on the pages below its URL (the console's home, whose URL
    # starts every other page's).
    exact: bool = False


_ITEMS: dict[str, list[NavItem]] = {"seller": [], "customer": []}


def register(console: str, item: NavItem) -> None:
    if any(existing.url_name == item.url_name for existing in _ITEMS[console]):
        return
    _ITEMS[console].append(item)
    _ITEMS[console].sort(key=lambda i: (i.order, i.label))


def items_for(console: str, request, org, membership) -> list[dict]:
    result = []
    for item in _ITEMS[console]:
        if not item.visible(request.user, org, membership):
            continue
        try:
            url = reverse(item.url_name, kwargs={"org_id": org.pk})
        except NoReverseMatch:
            continue
        result.append(
            {
                "label": item.label,
                "url": url,
                "active": False,
                "icon": item.icon,
                "exact": item.exact,
            }
        )
    # The item whose URL is the longest prefix of the current path is the active one, so a page
    # under /catalog/offers/ lights "Offers" and not a shorter "/catalog/" item as well.
    matches = [
        entry
        for entry in result
        if request.path == entry["url"]
        or (not entry["exact"] and request.path.startswith(entry["url"]))
    ]
    if matches:
        max(matches, key=lambda entry: len(entry["url"]))["active"] = True
    return result


def can(action: str) -> Callable:
    return lambda user, org, membership: access.can(user, action, org)


def is_provider(user, org, membership) -> bool:
    return org.is_provider


def register_portal_items() -> None:
    register("seller", NavItem("Dashboard", "console_dashboard", 0, icon="home", exact=True))
    register("seller", NavItem("Customers", "console_customers", 10, icon="building"))
    register(
        "seller",
        NavItem(
            "Resellers",
            "console_resellers",
            20,
            icon="network",
            visible=lambda u, o, m: o.is_provider or o.children.filter(kind="reseller").exists(),
        ),
    )
    register("seller", NavItem("Team", "console_team", 80, icon="users"))
    register("seller", NavItem("Brand", "console_brand", 85, can("brand.manage"), icon="brush"))
    register("seller", NavItem("Audit log", "console_audit", 90, can("audit.view"), icon="list"))
    register("customer", NavItem(_("Overview"), "customer_dashboard", 0, icon="home", exact=True))
    register(
        "customer",
        NavItem(
            _("Payment methods"), "payments_customer_cards", 30, can("payments.cards"), icon="card"
        ),
    )
    register("customer", NavItem(_("Team"), "customer_team", 80, icon="users"))
    register("customer", NavItem(_("Company"), "customer_company", 85, icon="building"))
    register(
        "customer", NavItem(_("Activity"), "customer_audit", 90, can("audit.view"), icon="list")
    )
