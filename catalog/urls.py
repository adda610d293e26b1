"""The catalog's pages, included by ``portal.urls``: the seller console's under
``/console/<org_id>/catalog/``, the customer portal's under ``/portal/<org_id>/offers/`` and the
storefront's under ``/offers/``."""

from django.urls import path

from catalog import views

console = [
    path("offers/", views.catalog_offers, name="catalog_offers"),
    path("offers/<int:offer_id>/", views.catalog_offer, name="catalog_offer"),
    path("prices/<int:plan_id>/", views.catalog_prices, name="catalog_prices"),
    path("plans/", views.catalog_plans, name="catalog_plans"),
    path("plans/new/", views.catalog_plan_create, name="catalog_plan_create"),
    path("plans/<int:plan_id>/", views.catalog_plan_edit, name="catalog_plan_edit"),
    path("promotions/", views.catalog_promotions, name="catalog_promotions"),
    path("promotions/<int:promotion_id>/", views.catalog_promotion, name="catalog_promotion"),
    path("tax-rates/", views.catalog_tax_rates, name="catalog_tax_rates"),
    path("currencies/", views.catalog_currencies, name="catalog_currencies"),
]

customer = [
    path("", views.customer_offers, name="customer_offers"),
    path("<int:offer_id>/", views.customer_offer, name="customer_offer"),
]

storefront = [
    path("", views.storefront_offers, name="storefront_offers"),
    path("<int:offer_id>/", views.storefront_offer, name="storefront_offer"),
]
