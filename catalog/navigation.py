"""The catalog's entries in the consoles' navigation."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.navigation import NavItem, can, register


def _provider_staff(user, org, membership) -> bool:
    from portal import access

    return org.is_provider and access.can(user, "catalog.view", org)


def register_catalog_items() -> None:
    register("seller", NavItem("Offers", "catalog_offers", 30, can("catalog.view"), icon="tag"))
    register("seller", NavItem("Plans", "catalog_plans", 31, _provider_staff, icon="layers"))
    register(
        "seller",
        NavItem("Promotions", "catalog_promotions", 32, can("catalog.view"), icon="percent"),
    )
    register(
        "seller", NavItem("Tax rates", "catalog_tax_rates", 33, can("catalog.view"), icon="receipt")
    )
    register(
        "seller",
        NavItem("Currencies", "catalog_currencies", 34, can("catalog.view"), icon="coins"),
    )
    register(
        "customer", NavItem(_("Offers"), "customer_offers", 20, can("offers.browse"), icon="tag")
    )
