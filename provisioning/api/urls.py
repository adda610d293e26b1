"""``/api/v1/provisioning/``."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from provisioning.api import views

router = SimpleRouter()
router.register("jobs", views.JobViewSet, basename="provisioning-job")
router.register("accounts", views.BoxAccountViewSet, basename="provisioning-account")
router.register("drift", views.DriftViewSet, basename="provisioning-drift")

urlpatterns = [path("", include(router.urls))]
