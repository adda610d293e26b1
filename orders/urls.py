from django.urls import path

from orders import views

storefront = [
    path("offers/<int:offer_id>/order/", views.checkout, name="orders_checkout"),
    path("checkout/sent/", views.checkout_sent, name="orders_checkout_sent"),
]

console = [
    path("orders/", views.console_orders, name="orders_console_list"),
    path("orders/new/", views.console_order_new, name="orders_console_new"),
    path("orders/settings/", views.console_policy, name="orders_console_policy"),
    path("orders/<int:order_id>/", views.console_order, name="orders_console_order"),
    path(
        "orders/approve-customer/<int:customer_id>/",
        views.console_customer_approve,
        name="orders_console_customer_approve",
    ),
    path("subscriptions/", views.console_subscriptions, name="orders_console_subscriptions"),
    path(
        "subscriptions/<int:sub_id>/",
        views.console_subscription,
        name="orders_console_subscription",
    ),
]

customer = [
    path("subscriptions/", views.customer_subscriptions, name="orders_customer_subscriptions"),
    path(
        "subscriptions/<int:sub_id>/",
        views.customer_subscription,
        name="orders_customer_subscription",
    ),
    path("orders/", views.customer_orders, name="orders_customer_list"),
    path("orders/new/", views.customer_order_new, name="orders_customer_new"),
    path("orders/<int:order_id>/", views.customer_order, name="orders_customer_order"),
]
