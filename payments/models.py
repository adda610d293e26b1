"""Payments: each seller's own Stripe account, customers' payment terms and saved cards,
payments (card and offline) with their refunds, customers' credit balances, Stripe's webhook
events, and dunning.

Writes go through ``payments.services``; reads through ``payments.selectors``. Invariants
(docs/payments.md):

- a payment row is written (and committed) before Stripe is asked to move money, and every
  call that moves money carries an idempotency key derived from that row; our own code is
  idempotent too (a stored PaymentIntent is confirmed, never created twice);
- at most one card payment of an invoice is in flight at a time (a partial unique
  constraint), so autopay, a dunning retry and a customer's pay-now at the same moment cannot
  charge twice;
- what an invoice still owes is derived from its payments, credit notes and credit balance
  applied to it, never stored;
- card numbers never reach the portal: only Stripe's ids.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from portal.crypto import EncryptedTextField
from portal.models import Organization, User


def _endpoint_token() -> str:
    return secrets.token_urlsafe(24)


class StripeAccount(models.Model):
    """A seller's own Stripe account: the provider's, and each reseller's. Money from a
    seller's buyers goes to that seller's account. The secret key and the webhook secret are
    stored encrypted and never shown again."""

    seller = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="stripe_account"
    )
    publishable_key = models.CharField(max_length=200)
    secret_key = EncryptedTextField()
    webhook_secret = EncryptedTextField()
    # Stripe's id of the account, read when the keys were checked.
    account_ref = models.CharField(max_length=100, blank=True)
    livemode = models.BooleanField(default=False)
    # The unguessable last part of this account's webhook address.
    endpoint_token = models.CharField(max_length=64, unique=True, default=_endpoint_token)
    checked_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Stripe account of {self.seller}"

    @property
    def secret_hint(self) -> str:
        return f"…{self.secret_key[-4:]}" if self.secret_key else ""


class BuyerAccount(models.Model):
    """How a buyer (a customer, or a reseller for its wholesale invoices) pays its seller."""

    buyer = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="payment_account"
    )
    seller = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # The buyer as a customer in the seller's Stripe account.
    stripe_customer_ref = models.CharField(max_length=100, blank=True)
    # Invoice terms granted by the seller: pay within this many days instead of by card
    # before anything is provisioned. Empty: no terms.
    invoice_terms_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # Charge the default card automatically when an invoice is issued.
    autopay = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Payment account of {self.buyer}"


class PaymentMethod(models.Model):
    """A card the buyer saved with its seller's Stripe account (only Stripe's id and what is
    safe to show)."""

    buyer = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="cards")
    seller = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    stripe_ref = models.CharField(max_length=100)
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "stripe_ref"], name="payment_method_once_per_account"
            ),
            models.UniqueConstraint(
                fields=["buyer"],
                condition=Q(is_default=True, removed_at__isnull=True),
                name="payment_method_one_default",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand or 'Card'} ending {self.last4}"

    @property
    def label(self) -> str:
        expiry = f", expires {self.exp_month:02d}/{self.exp_year}" if self.exp_month else ""
        return f"{(self.brand or 'card').title()} ending {self.last4}{expiry}"

    @property
    def label_words(self) -> str:
        """``label`` in the active language, for the customer's pages (``label`` itself stays
        English: the audit log and the API keep it)."""
        brand = (self.brand or gettext("card")).title()
        if not self.exp_month:
            return gettext("%(brand)s ending %(last4)s") % {"brand": brand, "last4": self.last4}
        return gettext("%(brand)s ending %(last4)s, expires %(month)02d/%(year)s") % {
            "brand": brand,
            "last4": self.last4,
            "month": self.exp_month,
            "year": self.exp_year,
        }


class PaymentSource(models.TextChoices):
    CARD = "card", "Card"
    TRANSFER = "transfer", "Bank transfer"
    CHEQUE = "cheque", "Cheque"
    BALANCE = "balance", "Credit balance"


class PaymentState(models.TextChoices):
    PENDING = "pending", "Waiting"
    REQUIRES_ACTION = "requires_action", "Waiting for authentication"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_PAYMENT_STATES = (
    PaymentState.PENDING,
    PaymentState.REQUIRES_ACTION,
    PaymentState.PROCESSING,
)


class PaymentTrigger(models.TextChoices):
    CHECKOUT = "checkout", "Checkout"
    PAY_NOW = "pay_now", "Paid by hand"
    AUTOPAY = "autopay", "Automatic payment"
    RETRY = "retry", "Retry"
    STAFF = "staff", "Recorded by staff"


class Payment(models.Model):
    """Money received (or being collected) for an invoice. Card payments are written before
    Stripe is called; ``idempotency_key`` is derived from the row."""

    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="payments"
    )
    buyer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="payments")
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=10, choices=PaymentSource.choices)
    trigger = models.CharField(max_length=10, choices=PaymentTrigger.choices)
    state = models.CharField(
        max_length=16, choices=PaymentState.choices, default=PaymentState.PENDING
    )
    currency = models.CharField(max_length=3)
    # What was asked (cards) or received (offline); positive.
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    # The part of it that settles the invoice; the rest of an offline overpayment goes to the
    # buyer's credit balance. Set when the payment succeeds.
    applied = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    payment_method = models.ForeignKey(
        PaymentMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stripe_intent_ref = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    client_secret = models.CharField(max_length=200, blank=True)
    off_session = models.BooleanField(default=False)
    # Offline: the bank reference or cheque number, and the day the money arrived.
    reference = models.CharField(max_length=100, blank=True)
    received_on = models.DateField(null=True, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    settled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One card payment in flight per invoice: concurrent triggers cannot charge twice.
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(source="card", state__in=["pending", "requires_action", "processing"]),
                name="payment_one_open_card_attempt",
            ),
            models.UniqueConstraint(
                fields=["seller", "stripe_intent_ref"],
                condition=Q(stripe_intent_ref__isnull=False),
                name="payment_intent_once",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(applied__gte=0) & Q(applied__lte=models.F("amount")),
                name="payment_applied_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["invoice", "state"])]

    def __str__(self) -> str:
        return f"Payment #{self.pk} of {self.amount} {self.currency}"

    @property
    def idempotency_key(self) -> str:
        return f"payment-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_PAYMENT_STATES


class RefundState(models.TextChoices):
    PENDING = "pending", "Waiting"
    SUCCEEDED = "succeeded", "Refunded"
    FAILED = "failed", "Failed"


class Refund(models.Model):
    """Money given back to the card a payment came from, for a credit note."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    credit_note = models.ForeignKey(
        "billing.CreditNote", on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=10, choices=RefundState.choices, default="pending")
    stripe_ref = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["credit_note", "payment"], name="refund_once_per_credit_note_payment"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} of {self.amount} {self.currency}"

    @property
    def idempotency_key(self) -> str:
        return f"refund-{self.pk}"


class BalanceKind(models.TextChoices):
    OVERPAYMENT = "overpayment", "Overpayment"
    CREDIT_NOTE = "credit_note", "Credit note"
    APPLIED = "applied", "Applied to an invoice"
    ADJUSTMENT = "adjustment", "Adjustment by staff"


class BalanceEntry(models.Model):
    """A movement of a buyer's credit balance with its seller, in one currency: positive adds
    credit, negative uses it. The balance is the sum; it never goes below zero."""

    buyer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    kind = models.CharField(max_length=12, choices=BalanceKind.choices)
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    credit_note = models.ForeignKey(
        "billing.CreditNote", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="balance_entry_not_zero"),
            # A credit note or an overpayment credits the balance once; an invoice uses it once.
            models.UniqueConstraint(
                fields=["credit_note"],
                condition=Q(credit_note__isnull=False),
                name="balance_once_per_credit_note",
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(payment__isnull=False),
                name="balance_once_per_payment",
            ),
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(kind="applied"),
                name="balance_applied_once_per_invoice",
            ),
        ]
        indexes = [models.Index(fields=["buyer", "seller", "currency"])]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.kind})"


class StripeEvent(models.Model):
    """A webhook event received on a seller's endpoint, stored once (constraint), processed by
    a task."""

    account = models.ForeignKey(StripeAccount, on_delete=models.CASCADE, related_name="events")
    event_ref = models.CharField(max_length=100)
    type = models.CharField(max_length=80)
    created = models.DateTimeField(null=True, blank=True)  # Stripe's time of the event
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "event_ref"], name="stripe_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_ref}"


class Dispute(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    stripe_ref = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Dispute {self.stripe_ref}"


class DunningStage(models.TextChoices):
    RETRYING = "retrying", "Retrying the payment"
    SUSPENDED = "suspended", "Service suspended"
    CANCELLED = "cancelled", "Subscriptions cancelled"
    RESOLVED = "resolved", "Paid"


class Dunning(models.Model):
    """Collecting an invoice whose automatic payment failed: retries on the seller's schedule
    with reminders, then suspension, then cancellation; paying resolves it (and resumes
    service)."""

    invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.CASCADE, related_name="dunning"
    )
    stage = models.CharField(
        max_length=10, choices=DunningStage.choices, default=DunningStage.RETRYING
    )
    started_on = models.DateField()
    attempts = models.PositiveSmallIntegerField(default=1)
    next_retry_on = models.DateField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    suspended_on = models.DateField(null=True, blank=True)
    cancelled_on = models.DateField(null=True, blank=True)
    resolved_on = models.DateField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_on", "-id"]
        indexes = [models.Index(fields=["stage", "next_retry_on"])]

    def __str__(self) -> str:
        return f"Dunning of invoice {self.invoice_id}: {self.stage}"


class PaymentPolicy(models.Model):
    """How a seller collects: its self-service limit, unpaid orders, dunning."""

    seller = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="payment_policy"
    )
    # An order above either limit waits for the seller's approval. Empty: no limit.
    max_seats_per_order = models.PositiveIntegerField(null=True, blank=True)
    max_amount_per_order = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    # An order not paid within this many hours is cancelled (nothing was provisioned).
    unpaid_order_hours = models.PositiveSmallIntegerField(default=72)
    # Days after the first failure on which the payment is tried again, e.g. "1,3,7".
    retry_days = models.CharField(max_length=40, default="1,3,7")
    # Days after the first failure before the subscriptions are suspended.
    suspend_after_days = models.PositiveSmallIntegerField(default=14)
    # Days after suspension before the subscriptions are cancelled.
    cancel_after_days = models.PositiveSmallIntegerField(default=30)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Payment policy of {self.seller}"

    @property
    def retry_schedule(self) -> list[int]:
        return sorted({int(x) for x in self.retry_days.split(",") if x.strip().isdigit()})
