"""Orders, subscriptions and seats: what a customer asked for, what it has, and who holds it.

Writes go through ``orders.services``; the state machines are the ``*_TRANSITIONS`` tables
below, checked by one function per model that locks the row (STYLE.md, habit 4).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from portal.models import Organization, User


class OrderKind(models.TextChoices):
    NEW = "new", gettext_noop("New subscription")
    CHANGE = "change", gettext_noop("Change")
    CANCEL = "cancel", gettext_noop("Cancellation")


class OrderState(models.TextChoices):
    DRAFT = "draft", gettext_noop("Draft")
    SUBMITTED = "submitted", gettext_noop("Submitted")
    AWAITING_APPROVAL = "awaiting_approval", gettext_noop("Awaiting approval")
    AWAITING_PAYMENT = "awaiting_payment", gettext_noop("Awaiting payment")
    PROVISIONING = "provisioning", gettext_noop("Provisioning")
    COMPLETED = "completed", gettext_noop("Completed")
    FAILED = "failed", gettext_noop("Failed")
    CANCELLED = "cancelled", gettext_noop("Cancelled")


ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderState.DRAFT: {OrderState.SUBMITTED, OrderState.CANCELLED},
    OrderState.SUBMITTED: {
        OrderState.AWAITING_APPROVAL,
        OrderState.AWAITING_PAYMENT,
        OrderState.PROVISIONING,
        OrderState.COMPLETED,
        OrderState.CANCELLED,
    },
    OrderState.AWAITING_APPROVAL: {
        OrderState.AWAITING_PAYMENT,
        OrderState.PROVISIONING,
        OrderState.COMPLETED,
        OrderState.CANCELLED,
    },
    # Nothing is provisioned until the first invoice is paid (or the buyer has invoice terms);
    # an order not paid in the seller's time is cancelled.
    OrderState.AWAITING_PAYMENT: {OrderState.PROVISIONING, OrderState.CANCELLED},
    OrderState.PROVISIONING: {OrderState.COMPLETED, OrderState.FAILED},
    # A failed order goes on when staff retry or skip the job that failed it, and ends when
    # they cancel that job.
    OrderState.FAILED: {OrderState.PROVISIONING, OrderState.COMPLETED, OrderState.CANCELLED},
    OrderState.COMPLETED: set(),
    OrderState.CANCELLED: set(),
}


class PlacedAs(models.TextChoices):
    CUSTOMER = "customer", gettext_noop("The customer")
    PROVIDER_ADMIN = "provider_admin", gettext_noop("Provider admin")
    PROVIDER_SALES = "provider_sales", gettext_noop("Provider sales person")
    PROVIDER_AGENT = "provider_agent", gettext_noop("Provider agent")
    RESELLER_ADMIN = "reseller_admin", gettext_noop("Reseller admin")
    RESELLER_SALES = "reseller_sales", gettext_noop("Reseller sales person")
    SYSTEM = "system", gettext_noop("The portal")


class ChangeTiming(models.TextChoices):
    IMMEDIATE = "immediate", gettext_noop("Immediately")
    END_OF_TERM = "end_of_term", gettext_noop("At the end of the term")


class Order(models.Model):
    """A request to start, change or end a subscription, with the prices it was agreed at."""

    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="orders")
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sales_orders")
    kind = models.CharField(max_length=10, choices=OrderKind.choices, default=OrderKind.NEW)
    state = models.CharField(max_length=20, choices=OrderState.choices, default=OrderState.DRAFT)
    placed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="placed_orders"
    )
    # In which capacity the order was placed: by the customer, or on its behalf by staff.
    placed_as = models.CharField(max_length=20, choices=PlacedAs.choices)
    placed_via = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The organization the person placing the order acted from.",
    )
    subscription = models.ForeignKey(
        "orders.Subscription",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )

    # What was asked for. New orders name an offer; changes name what changes.
    offer = models.ForeignKey(
        "catalog.Offer", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    plan = models.ForeignKey(
        "catalog.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(null=True, blank=True)
    term = models.CharField(max_length=8, blank=True)
    currency = models.CharField(max_length=3)
    promotion_code = models.CharField(max_length=40, blank=True)
    start_date = models.DateField(null=True, blank=True)
    timing = models.CharField(max_length=12, choices=ChangeTiming.choices, blank=True)
    effective_on = models.DateField(null=True, blank=True)

    # The quote at submission, frozen: what the customer agreed to pay.
    quote = models.JSONField(default=dict, blank=True)
    first_total = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    # Staff entitled to (payments.manage) let this order be paid on invoice terms instead of by
    # card before provisioning.
    payment_terms = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["seller", "state"]),
            models.Index(fields=["customer", "state"]),
        ]

    def __str__(self) -> str:
        return f"Order {self.number}"

    @property
    def number(self) -> str:
        return f"O-{self.pk:06d}" if self.pk else "O-new"

    @property
    def is_open(self) -> bool:
        return self.state not in (OrderState.COMPLETED, OrderState.CANCELLED)


class OrderLine(models.Model):
    """A line of the order's first invoice, frozen at submission."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["order_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_line_position")
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", gettext_noop("Being set up")
    TRIAL = "trial", gettext_noop("Trial")
    ACTIVE = "active", gettext_noop("Active")
    SUSPENDED = "suspended", gettext_noop("Suspended")
    CANCELLED = "cancelled", gettext_noop("Cancelled")


SUBSCRIPTION_TRANSITIONS: dict[str, set[str]] = {
    SubscriptionStatus.PENDING: {
        SubscriptionStatus.TRIAL,
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.CANCELLED,
    },
    SubscriptionStatus.TRIAL: {
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.SUSPENDED,
        SubscriptionStatus.CANCELLED,
    },
    SubscriptionStatus.ACTIVE: {SubscriptionStatus.SUSPENDED, SubscriptionStatus.CANCELLED},
    SubscriptionStatus.SUSPENDED: {
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.TRIAL,
        SubscriptionStatus.CANCELLED,
    },
    SubscriptionStatus.CANCELLED: set(),
}


class Subscription(models.Model):
    """What a customer has: a plan, a number of seats and a billing term, bought from a seller,
    running in one Box enterprise. Periods are half-open ``[start, end)`` from the anchor day."""

    customer = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="subscriptions"
    )
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    offer = models.ForeignKey("catalog.Offer", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    term = models.CharField(max_length=8)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=12, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING
    )
    started_on = models.DateField()
    trial_ends_on = models.DateField(
        null=True, blank=True, help_text="First day after the trial (exclusive end)."
    )
    anchor_day = models.PositiveSmallIntegerField()
    current_period_start = models.DateField()
    current_period_end = models.DateField()
    # The price version the subscription is sold at, and its per-seat amount. It is kept until
    # the subscription changes plan or the seller moves it to a newer version (billing.PriceMove);
    # a seller's new price does not reach running subscriptions by itself.
    price = models.ForeignKey(
        "catalog.Price", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    promotion = models.ForeignKey(
        "catalog.Promotion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    box_account = models.OneToOneField(
        "provisioning.BoxAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subscription",
    )
    cancel_at_period_end = models.BooleanField(default=False)
    cancelled_on = models.DateField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(current_period_end__gt=models.F("current_period_start")),
                name="subscription_period_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="subscription_seats_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.name}, {self.quantity} seats, for {self.customer.name}"

    @property
    def number(self) -> str:
        return f"S-{self.pk:06d}"

    @property
    def in_trial(self) -> bool:
        return self.status == SubscriptionStatus.TRIAL

    @property
    def is_live(self) -> bool:
        return self.status in (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE)


class ChangeState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    APPLIED = "applied", "Applied"
    CANCELLED = "cancelled", "Withdrawn"


class SubscriptionChange(models.Model):
    """A change waiting for the end of the term (or applied at once, kept for the record)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="changes")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="change")
    timing = models.CharField(max_length=12, choices=ChangeTiming.choices)
    effective_on = models.DateField()
    state = models.CharField(max_length=10, choices=ChangeState.choices)
    from_plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    to_plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    from_quantity = models.PositiveIntegerField()
    to_quantity = models.PositiveIntegerField()
    from_term = models.CharField(max_length=8)
    to_term = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["effective_on", "id"]

    def __str__(self) -> str:
        return f"{self.describe()} on {self.effective_on}"

    def describe(self) -> str:
        parts = []
        if self.from_plan_id != self.to_plan_id:
            parts.append(f"{self.from_plan.name} → {self.to_plan.name}")
        if self.from_quantity != self.to_quantity:
            parts.append(f"{self.from_quantity} → {self.to_quantity} seats")
        if self.from_term != self.to_term:
            parts.append(f"{self.from_term} → {self.to_term}")
        return ", ".join(parts) or "no change"


class SeatStatus(models.TextChoices):
    PENDING = "pending", gettext_noop("Being created")
    ACTIVE = "active", gettext_noop("Active")
    UPDATING = "updating", gettext_noop("Being updated")
    SUSPENDED = "suspended", gettext_noop("Suspended")
    REMOVING = "removing", gettext_noop("Being removed")
    REMOVED = "removed", gettext_noop("Removed")
    FAILED = "failed", gettext_noop("Failed")


# Seats that hold one of the subscription's seats.
SEAT_HOLDING = (
    SeatStatus.PENDING,
    SeatStatus.ACTIVE,
    SeatStatus.UPDATING,
    SeatStatus.SUSPENDED,
    SeatStatus.FAILED,
)


class SeatRole(models.TextChoices):
    USER = "user", gettext_noop("User")
    COADMIN = "coadmin", gettext_noop("Co-admin")


class SeatAssignment(models.Model):
    """A person holding one seat of a subscription, and their Box user."""

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="seats")
    email = models.EmailField()
    name = models.CharField(max_length=50)
    # Bytes of storage for the person; None means the plan's default.
    quota_bytes = models.BigIntegerField(null=True, blank=True)
    role = models.CharField(max_length=10, choices=SeatRole.choices, default=SeatRole.USER)
    status = models.CharField(max_length=10, choices=SeatStatus.choices, default=SeatStatus.PENDING)
    box_user = models.OneToOneField(
        "provisioning.BoxUser",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="seat",
    )
    last_error = models.CharField(max_length=300, blank=True)
    assigned_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email", "id"]
        constraints = [
            # One live seat per person and subscription; a removed seat frees the address.
            models.UniqueConstraint(
                fields=["subscription", "email"],
                condition=~Q(status="removed"),
                name="seat_one_live_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} on {self.subscription}"

    @property
    def quota_gb(self) -> int | None:
        return None if self.quota_bytes is None else self.quota_bytes // (1024**3)


class SellerPolicy(models.Model):
    """How a seller takes orders. (Whether new customers wait for approval is the tenancy's
    ``Organization.approve_new_customers``.)"""

    seller = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="order_policy"
    )
    approve_orders = models.BooleanField(
        default=False, help_text="Every order from a customer waits for your approval."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Order policy of {self.seller}"
