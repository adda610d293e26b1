"""The tenancy core: users, the organization tree, memberships and roles, brands, invitations,
API tokens and the audit log.

Writes go through ``portal.services``; reads that depend on who is asking go through
``portal.access``.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop


class OrgKind(models.TextChoices):
    PROVIDER = "provider", "Provider"
    RESELLER = "reseller", "Reseller"
    CUSTOMER = "customer", "Customer"


class Role(models.TextChoices):
    ADMIN = "admin", gettext_noop("Admin")
    SALES = "sales", gettext_noop("Sales person")
    AGENT = "agent", gettext_noop("Agent")
    BILLING = "billing", gettext_noop("Billing")
    MEMBER = "member", gettext_noop("Member")


# Which roles exist in which kind of organization (ARCHITECTURE.md, Tenancy).
ROLES_BY_KIND: dict[str, tuple[str, ...]] = {
    OrgKind.PROVIDER: (Role.ADMIN, Role.SALES, Role.AGENT, Role.BILLING),
    OrgKind.RESELLER: (Role.ADMIN, Role.SALES, Role.BILLING),
    OrgKind.CUSTOMER: (Role.ADMIN, Role.BILLING, Role.MEMBER),
}


class PortalUserManager(UserManager):
    """Users are identified by e-mail; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person. What they may do comes from their memberships, never from ``is_staff``
    (which only opens Django's own admin site for platform operators)."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = PortalUserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class OrgStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Awaiting approval"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


# The languages the portal is translated into (settings.LANGUAGES lists the same).
LANGUAGES = [("en", "English"), ("de", "Deutsch")]


class Organization(models.Model):
    """A node of the tenancy tree: the provider at the root, resellers (which may nest) under it,
    customers under the provider or a reseller. A customer's seller is its parent."""

    kind = models.CharField(max_length=16, choices=OrgKind.choices)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Materialised path of primary keys, "/1/7/42/": descendants are a prefix match, ancestors
    # are the ids in it. Set once at creation; organizations are never moved.
    path = models.CharField(max_length=255, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    status = models.CharField(max_length=16, choices=OrgStatus.choices, default=OrgStatus.ACTIVE)
    # The provider's agent who looks after this customer; an agent acts only for these.
    agent = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="agent_customers"
    )

    contact_name = models.CharField(max_length=150, blank=True)
    contact_email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(
        max_length=2, blank=True, validators=[RegexValidator(r"^[A-Z]{2}$", "Use an ISO code.")]
    )
    tax_id = models.CharField("tax ID", max_length=40, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    # Buyers: exempt from the seller's tax (reverse charge); invoices print the tax ID and say so.
    tax_exempt = models.BooleanField(default=False)
    # The language of its pages, e-mails and invoices ("" : its seller's, else English).
    language = models.CharField(max_length=8, blank=True, choices=LANGUAGES)
    # Sellers only: a customer who signs up on this seller's storefront waits for approval.
    approve_new_customers = models.BooleanField(default=False)
    # Customers only: a sandbox lives on its own day (``sandbox_today``, moved forward only by
    # ``portal.sandbox_clock.sandbox_advance``); the nightly runs, wholesale invoices and revenue
    # figures leave it out. Set when the customer is made, never switched afterwards.
    sandbox = models.BooleanField(default=False, editable=False)
    sandbox_today = models.DateField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind="provider"), name="org_single_provider"
            ),
            models.CheckConstraint(
                condition=(Q(kind="provider", parent__isnull=True))
                | (~Q(kind="provider") & Q(parent__isnull=False)),
                name="org_only_provider_is_root",
            ),
        ]
        indexes = [models.Index(fields=["parent", "kind"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_provider(self) -> bool:
        return self.kind == OrgKind.PROVIDER

    @property
    def is_reseller(self) -> bool:
        return self.kind == OrgKind.RESELLER

    @property
    def is_customer(self) -> bool:
        return self.kind == OrgKind.CUSTOMER

    @property
    def is_seller(self) -> bool:
        return self.kind in (OrgKind.PROVIDER, OrgKind.RESELLER)

    @property
    def ancestor_ids(self) -> list[int]:
        """Primary keys from the root down to and including this organization."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    @property
    def roles(self) -> tuple[str, ...]:
        return ROLES_BY_KIND[self.kind]

    @property
    def address_lines(self) -> list[str]:
        locality = " ".join(p for p in (self.postal_code, self.city) if p)
        lines = [self.address_line1, self.address_line2, locality, self.region, self.country]
        return [line for line in lines if line]


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization_id", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.role} of {self.organization}"


hex_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1a73e8.")


class Brand(models.Model):
    """How a seller (the provider or a reseller) presents itself: storefront, consoles, e-mail
    and invoices. Customers see their seller's brand."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="brand"
    )
    name = models.CharField(max_length=120)
    logo = models.ImageField(upload_to="brands/", blank=True)
    primary_color = models.CharField(max_length=7, default="#1f4e8c", validators=[hex_color])
    accent_color = models.CharField(max_length=7, default="#f2a900", validators=[hex_color])
    tagline = models.CharField(max_length=200, blank=True)
    support_email = models.EmailField(blank=True)
    support_phone = models.CharField(max_length=40, blank=True)
    legal_name = models.CharField(max_length=200, blank=True)
    legal_address = models.TextField(blank=True)
    invoice_footer = models.TextField(blank=True, help_text="Printed at the foot of invoices.")
    invoice_payment_terms_days = models.PositiveSmallIntegerField(default=14)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


domain_validator = RegexValidator(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    "Enter a host name such as shop.example.com (no scheme, port or path).",
)


class BrandDomain(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True, validators=[domain_validator])
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-is_primary", "domain"]

    def __str__(self) -> str:
        return self.domain


class Invitation(models.Model):
    """An e-mailed invitation to join an organization with a role. The token itself is never
    stored; its SHA-256 is."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per person per organization.
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization} as {self.role}"

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class ApiToken(models.Model):
    """A personal API token. Only a hash is kept; the key is shown once when created."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"


class AuditEvent(models.Model):
    """Append-only record of every change: who, acting for which organization, did what to
    which object, from what to what. Rows are never updated or deleted (enforced by a
    trigger on PostgreSQL and by ``save``/``delete`` here)."""

    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    # PROTECT: people and organizations named in the log are deactivated, never deleted.
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT)
    # Set when the portal itself acted (a task, a renewal, a billing run, the seed): which
    # process. Exactly one of ``actor`` and ``system_process`` is set on every new row.
    system_process = models.CharField(max_length=40, blank=True)
    # The organization whose data changed; drives who may read the event.
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only.")

    @property
    def actor_label(self) -> str:
        if self.actor_id:
            return self.actor.email
        return f"System ({self.system_process})" if self.system_process else "System"


class IdempotencyRecord(models.Model):
    """A write made with an idempotency key (an API ``Idempotency-Key`` header, a form's
    one-time token). The key is scoped to the organization whose data the write changes and
    to the operation, and bound to a fingerprint of the request: the same key and request give
    the first result back; another request under the same key is refused; the same key in
    another organization is simply a different key (docs/security.md)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    operation = models.CharField(max_length=60)
    # SHA-256 of the key: keys are never stored as sent.
    key_hash = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    # What the first request produced, e.g. ("orders.order", "42").
    result_type = models.CharField(max_length=64, blank=True)
    result_id = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "operation", "key_hash"], name="idempotency_scoped_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.key_hash[:8]} for {self.organization_id}"
