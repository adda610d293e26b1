"""The provisioning engine's records: the customer's Box account (one Box enterprise per
subscription), the portal's view of the users in it, the ordered jobs that change it at Box, the
jobs' step log, and the drift found by reconciliation.

Writes go through ``provisioning.services`` (people and other apps) and ``provisioning.engine``
(workers); reads that depend on who is asking go through ``provisioning.selectors``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.crypto import EncryptedTextField
from portal.models import Organization

UNLIMITED = -1  # space_amount of a user without a storage limit


class AccountStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SIGNING_UP = "signing_up", "Signing up"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class BoxAccount(models.Model):
    """A customer's Box enterprise. The portal opens it through Box's web pages (sign-up, e-mail
    verification, authorising the provider's platform app) and manages its users through Box's
    API with the platform app's client credentials and this enterprise's id."""

    customer = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="box_accounts"
    )
    # Free text from the caller (e.g. "subscription 42"), shown to operators.
    reference = models.CharField(max_length=120, blank=True)
    plan_code = models.CharField(max_length=32)
    seats = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.PENDING
    )
    box_enterprise_id = models.CharField(max_length=32, blank=True)
    enterprise_name = models.CharField(max_length=200, blank=True)
    admin_login = models.EmailField()
    admin_name = models.CharField(max_length=50)
    # The Box password of the account's primary admin, which the browser driver logs in with.
    admin_password = EncryptedTextField(blank=True)
    # Blank: the provider's platform app from settings (the normal case). Set when the customer
    # authorised an app of its own, or when an existing enterprise was linked with its own app.
    api_client_id = models.CharField(max_length=100, blank=True)
    api_client_secret = EncryptedTextField(blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    # The next job's place in this account's queue; taken under the row's lock.
    next_sequence = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["box_enterprise_id"],
                condition=~Q(box_enterprise_id=""),
                name="box_account_unique_enterprise",
            ),
            # One account per caller's reference (e.g. a subscription) and customer.
            models.UniqueConstraint(
                fields=["customer", "reference"],
                condition=~Q(reference=""),
                name="box_account_unique_reference",
            ),
        ]

    def __str__(self) -> str:
        label = self.enterprise_name or self.customer.name
        return f"Box account #{self.pk} ({label})"

    @property
    def client_id(self) -> str:
        return self.api_client_id or settings.BOX_PLATFORM_CLIENT_ID

    @property
    def client_secret(self) -> str:
        return self.api_client_secret or settings.BOX_PLATFORM_CLIENT_SECRET

    def secrets(self) -> list[str]:
        """Values that must never leave the portal; logs and messages are scrubbed of them."""
        return [s for s in (self.admin_password, self.client_secret) if s]


class BoxUserStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    DELETED = "deleted", "Deleted"
    FAILED = "failed", "Failed"


class BoxUserRole(models.TextChoices):
    ADMIN = "admin", "Primary admin"
    COADMIN = "coadmin", "Co-admin"
    USER = "user", "User"


class BoxUser(models.Model):
    """The portal's record of one managed user in a Box account."""

    account = models.ForeignKey(BoxAccount, on_delete=models.CASCADE, related_name="users")
    # Box's id, set in the transaction that marks the creating job succeeded; NULL until then
    # (not "", so that the unique constraint below ignores users not created yet).
    box_user_id = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    login = models.EmailField()
    name = models.CharField(max_length=50)
    space_amount = models.BigIntegerField(default=UNLIMITED, help_text="Bytes; -1 is unlimited.")
    role = models.CharField(max_length=16, choices=BoxUserRole.choices, default=BoxUserRole.USER)
    status = models.CharField(
        max_length=16, choices=BoxUserStatus.choices, default=BoxUserStatus.PENDING
    )
    # The caller's stable key for this user (e.g. "seat-42"); sent to Box as the user's
    # external_app_user_id, which is how a retried creation finds the user it already made.
    external_app_user_id = models.CharField(max_length=255)
    # Set when the account's suspension made the user inactive, so resuming the account
    # reactivates exactly these users and not those suspended one by one.
    suspended_with_account = models.BooleanField(default=False)
    space_used = models.BigIntegerField(default=0)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account_id", "login"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_app_user_id"], name="box_user_unique_external_id"
            ),
            models.UniqueConstraint(
                fields=["account", "box_user_id"],
                condition=Q(box_user_id__isnull=False),
                name="box_user_unique_remote_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.login} ({self.get_status_display()})"


class JobState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATES = (JobState.PENDING, JobState.RUNNING, JobState.FAILED)
DONE_STATES = (JobState.SUCCEEDED, JobState.CANCELLED)


class ProvisioningJob(models.Model):
    """One remote step for one Box account. The jobs of an account run strictly in ``sequence``
    order; a failed job holds the ones after it until staff retry, skip or cancel it."""

    account = models.ForeignKey(BoxAccount, on_delete=models.CASCADE, related_name="jobs")
    sequence = models.PositiveIntegerField()
    operation = models.CharField(max_length=40)
    payload = models.JSONField(default=dict, blank=True)
    # The caller's key: enqueuing the same key again returns this job instead of a new one.
    idempotency_key = models.CharField(max_length=200, unique=True)
    box_user = models.ForeignKey(
        BoxUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The lease of the worker running the job: another worker may take the job over only after
    # ``locked_until``; ``lease_token`` tells the worker whether the job is still its own.
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    locked_by = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    result = models.JSONField(default=dict, blank=True)
    # Set when staff marked the job done without running it.
    skipped = models.BooleanField(default=False)
    # Another app's row this job works for, e.g. ("orders.seatassignment", "42"); its hooks
    # run in the transaction that finishes the job (see provisioning.hooks).
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "sequence"], name="job_unique_sequence")
        ]
        indexes = [
            models.Index(fields=["account", "state", "sequence"], name="job_account_queue"),
            models.Index(fields=["state", "next_attempt_at"], name="job_due"),
            models.Index(fields=["subject_type", "subject_id"], name="job_subject"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.operation}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class JobLogEntry(models.Model):
    """One line of a job's step log: what the engine and the drivers did, attempt by attempt.
    Never holds a secret (messages are scrubbed before they are stored)."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    job = models.ForeignKey(ProvisioningJob, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(default=timezone.now)
    attempt = models.PositiveIntegerField(default=0)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["job_id", "at", "id"]

    def __str__(self) -> str:
        return self.message[:80]


class DriftKind(models.TextChoices):
    UNKNOWN_IN_BOX = "unknown_in_box", "User in Box without a seat"
    MISSING_IN_BOX = "missing_in_box", "Seat without a Box user"
    QUOTA_MISMATCH = "quota_mismatch", "Quota differs"
    STATUS_MISMATCH = "status_mismatch", "Status differs"


class DriftHandling(models.TextChoices):
    """What staff decided about an open drift item (blank: nothing yet)."""

    NONE = "", "Not handled"
    ADOPTING = "adopting", "Being adopted as a seat"
    REMOVING = "removing", "Being removed from Box"
    FIXING = "fixing", "Box being put right"
    IGNORED = "ignored", "Ignored"


# Handlings carried out by a provisioning job: the item waits for the job and the next
# reconciliation.
DRIFT_JOB_HANDLINGS = (DriftHandling.ADOPTING, DriftHandling.REMOVING, DriftHandling.FIXING)


class DriftItem(models.Model):
    """A difference between Box and the portal's records found by reconciliation. It stays open
    while later reconciliations still find it, and is resolved when one no longer does. Staff
    may adopt, remove or fix it through a provisioning job, or ignore it; the decision stays
    with the item while it is open (an ignored item is not raised again)."""

    account = models.ForeignKey(BoxAccount, on_delete=models.CASCADE, related_name="drift")
    kind = models.CharField(max_length=20, choices=DriftKind.choices)
    # What the item is about: the Box user id, or the portal's external id for a missing user.
    key = models.CharField(max_length=255)
    box_user = models.ForeignKey(
        BoxUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="drift"
    )
    login = models.CharField(max_length=255, blank=True)
    expected = models.JSONField(default=dict, blank=True)
    actual = models.JSONField(default=dict, blank=True)
    detected_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    handling = models.CharField(
        max_length=10, choices=DriftHandling.choices, default=DriftHandling.NONE, blank=True
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    # Why staff ignored it, shown next to the item.
    note = models.CharField(max_length=200, blank=True)
    # The job carrying out the decision (adopt, remove, fix).
    job = models.ForeignKey(
        ProvisioningJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["account_id", "kind", "login"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "key"],
                condition=Q(resolved_at__isnull=True),
                name="drift_one_open_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.login or self.key}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def needs_action(self) -> bool:
        """Open and not decided yet: what the to-do counts and the page offers actions for."""
        return self.resolved_at is None and not self.handling
