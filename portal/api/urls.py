"""``/api/v1/``: the tenancy core's endpoints here; each app adds its own router below."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from portal.api import views

router = SimpleRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("invitations", views.InvitationViewSet, basename="invitation")
router.register("brand-domains", views.BrandDomainViewSet, basename="brand-domain")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("tokens", views.ApiTokenViewSet, basename="api-token")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("provisioning/", include("provisioning.api.urls")),
    path("", include(router.urls)),
    path("", include("catalog.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("billing.api.invoice_urls")),
    path("", include("payments.api.urls")),
]
