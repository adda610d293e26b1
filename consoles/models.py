"""Staff alerts: one row per person and event, so an event seen twice (a job saved again in
its failed state, a hook run a second time) never sends a second e-mail; and each person's
choice to receive them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AlertKind(models.TextChoices):
    JOB_FAILED = "job_failed", "A provisioning job failed"
    ORDER_APPROVAL = "order_approval", "An order waits for approval"


class StaffAlert(models.Model):
    """One e-mail to one staff member about one event. The row is written in the transaction
    that records the event and the e-mail leaves once that commits; the unique constraint is
    what makes it exactly once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_alerts"
    )
    # The seller through which the person is told (where the to-do shows on their dashboard).
    seller = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="staff_alerts"
    )
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    # The job's or the order's primary key, after ``kind``.
    subject_id = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_id", "user"], name="staff_alert_once_per_person"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.subject_id} to {self.user_id}"


class AlertSetting(models.Model):
    """A person's choice about staff alert e-mails; no row means they receive them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_setting"
    )
    email_alerts = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {'on' if self.email_alerts else 'off'}"
