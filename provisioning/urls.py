"""Console pages, included under ``/console/<org_id>/provisioning/`` by ``portal.urls``."""

from django.urls import path

from provisioning import views

urlpatterns = [
    path("", views.provisioning_home, name="provisioning_home"),
    path("jobs/", views.provisioning_queue, name="provisioning_queue"),
    path("jobs/<int:job_id>/", views.provisioning_job, name="provisioning_job"),
    path("accounts/", views.provisioning_accounts, name="provisioning_accounts"),
    path("accounts/<int:account_id>/", views.provisioning_account, name="provisioning_account"),
    path("drift/", views.provisioning_drift, name="provisioning_drift"),
    path("drift/<int:item_id>/", views.provisioning_drift_item, name="provisioning_drift_item"),
]
