from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from billing import urls as billing_urls
from catalog import urls as catalog_urls
from consoles import views as consoles_views
from orders import urls as orders_urls
from payments import urls as payments_urls
from payments import views as payment_views
from portal import i18n, views
from portal.favicon import favicon

console = [
    path("", consoles_views.console_dashboard, name="console_dashboard"),
    path("customers/", views.console_customers, name="console_customers"),
    path("customers/new/", views.console_customer_create, name="console_customer_create"),
    path("resellers/", views.console_resellers, name="console_resellers"),
    path("resellers/new/", views.console_reseller_create, name="console_reseller_create"),
    path("orgs/<int:target_id>/", views.console_org, name="console_org"),
    path("orgs/<int:target_id>/brand/", views.console_org_brand, name="console_org_brand"),
    path(
        "orgs/<int:target_id>/sandbox/advance/",
        views.console_sandbox_advance,
        name="console_sandbox_advance",
    ),
    path("team/", views.console_team, name="console_team"),
    path("brand/", views.console_brand, name="console_brand"),
    path("audit/", views.console_audit, name="console_audit"),
    path("catalog/", include(catalog_urls.console)),
    path("provisioning/", include("provisioning.urls")),
    path("", include(orders_urls.console)),
    path("", include(billing_urls.console)),
    path("", include(payments_urls.console)),
]

customer = [
    path("", views.customer_dashboard, name="customer_dashboard"),
    path("team/", views.customer_team, name="customer_team"),
    path("company/", views.customer_company, name="customer_company"),
    path("audit/", views.customer_audit, name="customer_audit"),
    path("offers/", include(catalog_urls.customer)),
    path("", include(orders_urls.customer)),
    path("", include(billing_urls.customer)),
    path("", include(payments_urls.customer)),
]

urlpatterns = [
    path("", views.storefront_home, name="storefront_home"),
    path("favicon.svg", favicon, name="favicon"),
    path("offers/", include(catalog_urls.storefront)),
    path("", include(orders_urls.storefront)),
    path("language/", i18n.language_choose, name="language_choose"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("me/", views.profile, name="profile"),
    path("me/alerts/", consoles_views.alert_settings, name="alert_settings"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("console/<int:org_id>/", include(console)),
    path("portal/<int:org_id>/", include(customer)),
    path("accounts/", include("allauth.urls")),
    path("webhooks/stripe/<str:token>/", payment_views.stripe_webhook, name="payments_webhook"),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("admin/", admin.site.urls),
]

handler404 = "portal.api.exceptions.not_found"
handler500 = "portal.api.exceptions.server_error"

if settings.DEBUG:
    from portal.dev_views import outbox

    urlpatterns += [path("_dev/mail/", outbox, name="dev_outbox")]
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
