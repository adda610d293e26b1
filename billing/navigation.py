"""Billing's entries in the consoles' navigation."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal import access
from portal.navigation import NavItem, can, register


def _runs(user, org, membership) -> bool:
    return org.is_provider and access.can(user, "billing.run", org)


def _issues(user, org, membership) -> bool:
    return org.is_seller and access.can(user, "billing.view", org)


def register_billing_items() -> None:
    register("seller", NavItem("Invoices", "billing_console_invoices", 40, icon="receipt"))
    register("seller", NavItem("Billing runs", "billing_console_runs", 41, _runs, icon="play"))
    register(
        "seller", NavItem("Billing issues", "billing_console_issues", 42, _issues, icon="alert")
    )
    register(
        "customer",
        NavItem(
            _("Invoices"), "billing_customer_invoices", 25, can("billing.view"), icon="receipt"
        ),
    )
