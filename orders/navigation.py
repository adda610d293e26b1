from django.utils.translation import gettext_lazy as _

from portal.navigation import NavItem, register


def register_items() -> None:
    register("seller", NavItem("Orders", "orders_console_list", 30, icon="cart"))
    register("seller", NavItem("Subscriptions", "orders_console_subscriptions", 35, icon="box"))
    register(
        "customer", NavItem(_("Subscriptions"), "orders_customer_subscriptions", 10, icon="box")
    )
    register("customer", NavItem(_("Orders"), "orders_customer_list", 20, icon="cart"))
