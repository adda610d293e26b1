"""Payments' entries in the seller consoles' navigation."""

from __future__ import annotations

from portal.navigation import NavItem, can, register


def register_payment_items() -> None:
    register(
        "seller",
        NavItem("Payments", "payments_console_list", 43, can("billing.view"), icon="card"),
    )
    register(
        "seller",
        NavItem("Overdue", "payments_console_overdue", 44, can("billing.view"), icon="alert"),
    )
    register(
        "seller",
        NavItem(
            "Payment settings",
            "payments_console_settings",
            86,
            can("payments.manage"),
            icon="settings",
        ),
    )
