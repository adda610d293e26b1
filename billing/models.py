"""Billing records. For now: charges waiting for the billing run (immediate plan changes,
seats added mid-period, setup fees)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from portal.models import Organization


class ChargeKind(models.TextChoices):
    SETUP = "setup", "Setup fee"
    PRORATED = "prorated", "Prorated charge"
    CREDIT = "credit", "Prorated credit"


class Charge(models.Model):
    """An amount owed (or, negative, credited) outside the regular period charges of a
    subscription, with what produced it. The billing run turns each into one invoice line."""

    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="charges")
    subscription = models.ForeignKey(
        "orders.Subscription", on_delete=models.PROTECT, related_name="charges"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="charges"
    )
    kind = models.CharField(max_length=10, choices=ChargeKind.choices)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    # The days the amount covers, half-open [start, end), and the period they belong to.
    service_start = models.DateField()
    service_end = models.DateField()
    period_start = models.DateField()
    period_end = models.DateField()
    # What produced the charge, unique: the same change can never be charged twice.
    source_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    invoiced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["customer", "invoiced_at"])]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount} {self.currency}"
