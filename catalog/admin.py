"""Django's admin site shows the catalog to platform operators read-only: every change goes
through ``catalog.services`` (from the consoles or the API) so it is checked and audited."""

from django.contrib import admin

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
    TrialUse,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TransitionInline(admin.TabularInline):
    model = PlanTransition
    fk_name = "from_plan"
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "box_plan_code", "seat_min", "seat_max", "storage_mode"]
    list_filter = ["is_active", "box_plan_code"]
    inlines = [TransitionInline]


class TierInline(admin.TabularInline):
    model = PriceTier
    extra = 0


@admin.register(PriceComponent)
class PriceComponentAdmin(ReadOnlyAdmin):
    list_display = ["price", "metric", "mode"]
    inlines = [TierInline]


@admin.register(Price)
class PriceAdmin(ReadOnlyAdmin):
    list_display = [
        "plan",
        "seller",
        "audience",
        "buyer",
        "currency",
        "term",
        "recurring",
        "setup_fee",
        "valid_from",
    ]
    list_filter = ["audience", "term", "currency"]
    list_select_related = ["plan", "seller", "buyer"]
    search_fields = ["seller__name", "buyer__name", "plan__code"]


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = ["plan", "seller", "trial_days", "in_storefront", "is_active"]
    list_filter = ["is_active", "in_storefront"]
    list_select_related = ["plan", "seller"]
    search_fields = ["seller__name", "plan__code"]


@admin.register(Promotion)
class PromotionAdmin(ReadOnlyAdmin):
    list_display = ["name", "seller", "kind", "code", "discount_type", "duration", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code", "seller__name"]


@admin.register(PromotionRedemption)
class PromotionRedemptionAdmin(ReadOnlyAdmin):
    list_display = ["promotion", "customer", "reference", "redeemed_at"]


@admin.register(TaxRate)
class TaxRateAdmin(ReadOnlyAdmin):
    list_display = ["seller", "name", "country", "rate", "valid_from"]


@admin.register(TrialUse)
class TrialUseAdmin(ReadOnlyAdmin):
    list_display = ["customer", "product", "offer", "started_on", "ends_on"]


admin.site.register(Product, ReadOnlyAdmin)
admin.site.register(SellerCurrency, ReadOnlyAdmin)
