"""Django's admin site for platform operators: read-mostly views of the engine's rows. The
stored credentials are left out of every form and list."""

from django.contrib import admin

from provisioning.models import BoxAccount, BoxUser, DriftItem, JobLogEntry, ProvisioningJob


@admin.register(BoxAccount)
class BoxAccountAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "plan_code", "seats", "status", "box_enterprise_id")
    list_filter = ("status", "plan_code")
    search_fields = ("customer__name", "admin_login", "box_enterprise_id", "reference")
    exclude = ("admin_password", "api_client_secret")
    readonly_fields = ("next_sequence", "authorized_at", "last_reconciled_at", "created_at")


@admin.register(BoxUser)
class BoxUserAdmin(admin.ModelAdmin):
    list_display = ("login", "account", "status", "role", "box_user_id", "space_used")
    list_filter = ("status", "role")
    search_fields = ("login", "external_app_user_id", "box_user_id")


class JobLogInline(admin.TabularInline):
    model = JobLogEntry
    extra = 0
    can_delete = False
    readonly_fields = ("at", "attempt", "level", "message", "data")


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(admin.ModelAdmin):
    """Operators retry, skip and cancel jobs in the console, where it is audited."""

    list_display = ("id", "account", "sequence", "operation", "state", "attempts", "updated_at")
    list_filter = ("state", "operation")
    search_fields = ("idempotency_key", "account__customer__name")
    inlines = [JobLogInline]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DriftItem)
class DriftItemAdmin(admin.ModelAdmin):
    list_display = ("account", "kind", "login", "detected_at", "resolved_at")
    list_filter = ("kind",)
