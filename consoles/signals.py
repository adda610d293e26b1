"""Where staff alerts come from: a provisioning job saved in its failed state (it fails only
for good: a retryable error puts it back to pending) and an order saved while it waits for
approval. Listening to the saves keeps the engine and the ordering services unaware of alerts;
the unique ``StaffAlert`` row makes a second save of the same state harmless."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save

from portal.actors import system

log = logging.getLogger(__name__)
ALERTS = system("staff-alerts")


def _job_saved(sender, instance, created, update_fields=None, **kwargs):
    if instance.state != "failed":
        return
    if update_fields is not None and "state" not in update_fields:
        return
    from consoles.services import staff_alert_job_failed

    _safely(staff_alert_job_failed, job=instance)


def _order_saved(sender, instance, created, update_fields=None, **kwargs):
    if instance.state != "awaiting_approval":
        return
    from consoles.services import staff_alert_order_waiting

    _safely(staff_alert_order_waiting, order=instance)


def _safely(service, **kwargs) -> None:
    """An alert that cannot be written must not undo the event it is about (the job's failure
    or the order's move): it runs in a savepoint, and a failure is logged."""
    try:
        with transaction.atomic():
            service(actor=ALERTS, **kwargs)
    except Exception:
        log.exception("Staff alert %s could not be raised", service.__name__)


def connect() -> None:
    from orders.models import Order
    from provisioning.models import ProvisioningJob

    post_save.connect(_job_saved, sender=ProvisioningJob, dispatch_uid="consoles.job_failed")
    post_save.connect(_order_saved, sender=Order, dispatch_uid="consoles.order_waiting")
