from django.contrib import admin

from orders.models import Order, OrderLine, SeatAssignment, SellerPolicy, Subscription


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["position", "kind", "description", "quantity", "unit_price", "amount"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "kind", "state", "customer", "seller", "placed_as", "created_at"]
    list_filter = ["kind", "state", "placed_as"]
    search_fields = ["customer__name"]
    inlines = [OrderLineInline]
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request):
        return False  # orders are placed through the portal, which checks the rules


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "customer",
        "plan",
        "quantity",
        "term",
        "status",
        "current_period_end",
    ]
    list_filter = ["status", "term", "plan"]
    search_fields = ["customer__name"]
    readonly_fields = [f.name for f in Subscription._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(SeatAssignment)
class SeatAdmin(admin.ModelAdmin):
    list_display = ["email", "subscription", "status", "role"]
    list_filter = ["status"]
    search_fields = ["email"]
    readonly_fields = [f.name for f in SeatAssignment._meta.fields]


admin.site.register(SellerPolicy)
