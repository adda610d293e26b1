"""Keep cached storefront pages true: whatever a storefront shows (offers, prices and their
components, promotions, tax rates, currencies, plans, the seller and its brand) replaces the
owning seller's cache version when it is saved or deleted (``portal.storefront_cache``).

Signals rather than calls in each service, so that the admin, the demo seeding and data fixes
made in a shell clear the pages too. A provider's change clears its resellers' pages as well,
because their keys carry the versions of every seller above them.
"""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from catalog.models import (
    Offer,
    Plan,
    PlanTransition,
    Price,
    PriceComponent,
    PriceTier,
    Product,
    Promotion,
    PromotionRedemption,
    SellerCurrency,
    TaxRate,
)
from portal import storefront_cache
from portal.models import Brand, BrandDomain, Organization


def _seller_of(instance) -> int | None:
    """The seller whose storefront shows ``instance``; one small query for the nested rows."""
    if isinstance(instance, Organization):
        return instance.pk if instance.is_seller else None
    if isinstance(instance, Brand):
        return instance.organization_id
    if isinstance(instance, BrandDomain):
        return (
            Brand.objects.filter(pk=instance.brand_id)
            .values_list("organization_id", flat=True)
            .first()
        )
    if isinstance(instance, PriceComponent):
        return (
            Price.objects.filter(pk=instance.price_id).values_list("seller_id", flat=True).first()
        )
    if isinstance(instance, PriceTier):
        return (
            PriceComponent.objects.filter(pk=instance.component_id)
            .values_list("price__seller_id", flat=True)
            .first()
        )
    if isinstance(instance, PromotionRedemption):
        return (
            Promotion.objects.filter(pk=instance.promotion_id)
            .values_list("seller_id", flat=True)
            .first()
        )
    return instance.seller_id


def _changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):  # loading fixtures
        return
    storefront_cache.bump(_seller_of(instance))


def _plan_changed(sender, instance, **kwargs) -> None:
    if not kwargs.get("raw"):
        storefront_cache.bump_all()


def _m2m_changed(sender, instance, action, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, (Offer, Promotion)):
        storefront_cache.bump(instance.seller_id)
    else:  # the reverse side (an organization or a plan): whose offers or promotions moved
        model = Offer if sender is Offer.available_to.through else Promotion
        sellers = model.objects.filter(pk__in=kwargs.get("pk_set") or ()).values_list(
            "seller_id", flat=True
        )
        storefront_cache.bump(*set(sellers))


PER_SELLER = (
    Organization,
    Brand,
    BrandDomain,
    SellerCurrency,
    Offer,
    Price,
    PriceComponent,
    PriceTier,
    Promotion,
    PromotionRedemption,
    TaxRate,
)
EVERY_SELLER = (Plan, PlanTransition, Product)


def connect() -> None:
    for model in PER_SELLER:
        post_save.connect(_changed, sender=model, dispatch_uid=f"storefront-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"storefront-d-{model.__name__}")
    for model in EVERY_SELLER:
        post_save.connect(_plan_changed, sender=model, dispatch_uid=f"storefront-{model.__name__}")
        post_delete.connect(
            _plan_changed, sender=model, dispatch_uid=f"storefront-d-{model.__name__}"
        )
    for through in (Offer.available_to.through, Promotion.plans.through):
        m2m_changed.connect(_m2m_changed, sender=through, dispatch_uid=f"storefront-{through}")
