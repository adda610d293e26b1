"""Billing records: usage collected from Box, charges waiting for an invoice, invoices and
credit notes with their numbering, and the billing runs that produce them.

Writes go through ``billing.services`` (a package: usage, rating, invoices, credit notes, the
run); reads through ``billing.selectors``. Conventions (docs/billing.md):

- money is ``Decimal`` with the currency beside it, rounded only by ``portal.money.quantize``;
- an issued invoice or credit note never changes: corrections are credit notes, and on
  PostgreSQL a trigger refuses any change to an issued document's frozen columns or lines;
- numbers are per seller and per kind of document, gapless, taken from a locked counter row
  in the transaction that issues the document;
- billing a subscription's period twice is impossible: ``BilledPeriod`` is unique per
  subscription, seller, part (in advance / in arrears) and period start.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from portal.models import Organization, User
from portal.storage import private_storage

# --- usage ------------------------------------------------------------------------------------


class UsageMetric(models.TextChoices):
    STORAGE_BYTES = "storage_bytes", "Storage used (bytes)"
    ACTIVE_USERS = "active_users", "Active users"
    SEATS_HELD = "seats_held", "Seats held"


class BoxUserUsage(models.Model):
    """One Box user's storage and status on one day, as Box reported it when collected."""

    # No index of their own: the unique (box_user, day) and the (account, day) index below start
    # with them, and each index more is paid on every row of the nightly write (docs/usage.md).
    box_user = models.ForeignKey(
        "provisioning.BoxUser", on_delete=models.CASCADE, related_name="usage_days", db_index=False
    )
    # The user's account, kept here so a day of an account is one indexed range.
    account = models.ForeignKey(
        "provisioning.BoxAccount", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    space_used = models.BigIntegerField()
    status = models.CharField(max_length=16)
    collected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account_id", "day", "box_user_id"]
        constraints = [
            models.UniqueConstraint(fields=["box_user", "day"], name="box_user_usage_one_per_day")
        ]
        indexes = [models.Index(fields=["account", "day"], name="box_user_usage_account_day")]

    def __str__(self) -> str:
        return f"{self.box_user_id} on {self.day}: {self.space_used} bytes"


class UsageRecord(models.Model):
    """One metric of one subscription on one day (the sum over its Box users). Collecting the
    same day again updates the value; there is never a second row."""

    # No index of its own: the unique (subscription, metric, day) starts with it.
    subscription = models.ForeignKey(
        "orders.Subscription", on_delete=models.PROTECT, related_name="usage", db_index=False
    )
    metric = models.CharField(max_length=16, choices=UsageMetric.choices)
    day = models.DateField()
    value = models.BigIntegerField()
    collected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["subscription_id", "metric", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "metric", "day"], name="usage_one_per_metric_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.metric} {self.day}: {self.value}"


class CollectionState(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Collecting"
    SUCCEEDED = "succeeded", "Collected"
    FAILED = "failed", "Failed"


class UsageCollection(models.Model):
    """The collection of one Box account's usage for one day: its state on the row, so staff
    see which accounts failed and the next attempt picks them up."""

    account = models.ForeignKey(
        "provisioning.BoxAccount", on_delete=models.CASCADE, related_name="usage_collections"
    )
    day = models.DateField()
    state = models.CharField(
        max_length=12, choices=CollectionState.choices, default=CollectionState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="usage_collection_one_per_day")
        ]

    def __str__(self) -> str:
        return f"Usage of account {self.account_id} on {self.day}: {self.state}"


# --- charges ----------------------------------------------------------------------------------


class ChargeKind(models.TextChoices):
    SETUP = "setup", "Setup fee"
    PRORATED = "prorated", "Prorated charge"
    CREDIT = "credit", "Prorated credit"
    ADJUSTMENT = "adjustment", "Usage adjustment"


class Charge(models.Model):
    """An amount owed (or, negative, credited) outside the regular period charges of a
    subscription, with what produced it. The next invoice of the subscription's seller turns it
    into one line (``InvoiceLine.charge``); a wholesale invoice may mirror it once more at the
    wholesale price."""

    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="charges")
    subscription = models.ForeignKey(
        "orders.Subscription", on_delete=models.PROTECT, related_name="charges"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="charges"
    )
    # The plan the amount is for (an upgrade's credit is for the old plan, its charge for the
    # new one); wholesale mirrors price it at the reseller's cost of that plan.
    plan = models.ForeignKey(
        "catalog.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
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
    # Free-form working shown by "why this amount" (e.g. the usage days behind an adjustment).
    explain = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    invoiced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["customer", "invoiced_at"])]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount} {self.currency}"


# --- documents: invoices and credit notes -----------------------------------------------------


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"
    # Documents of sandbox customers (docs/sandbox-clock.md): their own series, so the
    # seller's real series never spends a number on them.
    SANDBOX_INVOICE = "sandbox_inv", "Sandbox invoice"
    SANDBOX_CREDIT_NOTE = "sandbox_cn", "Sandbox credit note"


# The series a seller sets itself; the sandbox ones keep their fixed prefixes.
SELLER_DOCUMENT_KINDS = (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE)


class NumberSeries(models.Model):
    """A seller's numbering of one kind of document. ``next_number`` is taken under the row's
    lock in the transaction that issues a document, so numbers have no gaps and no duplicates:
    a rolled-back issue gives its number back."""

    seller = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=DocumentKind.choices)
    # Printed before the number; ``{year}`` is replaced by the year of issue (decoration only:
    # the sequence runs on across years).
    prefix = models.CharField(max_length=20)
    padding = models.PositiveSmallIntegerField(default=5)
    next_number = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["seller_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["seller", "kind"], name="number_series_one_per_kind"),
            models.CheckConstraint(
                condition=Q(next_number__gte=1), name="number_series_next_positive"
            ),
            models.CheckConstraint(
                condition=Q(padding__gte=1, padding__lte=12), name="number_series_padding"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} numbers of {self.seller_id}: {self.prefix}"

    def format(self, number: int, year: int) -> str:
        return f"{self.prefix.replace('{year}', str(year))}{number:0{self.padding}d}"


class InvoiceState(models.TextChoices):
    DRAFT = "draft", gettext_noop("Draft")
    ISSUED = "issued", gettext_noop("Issued")
    PAID = "paid", gettext_noop("Paid")
    VOID = "void", gettext_noop("Void")
    UNCOLLECTIBLE = "uncollectible", gettext_noop("Uncollectible")


INVOICE_TRANSITIONS: dict[str, set[str]] = {
    InvoiceState.DRAFT: {InvoiceState.ISSUED},
    InvoiceState.ISSUED: {InvoiceState.PAID, InvoiceState.VOID, InvoiceState.UNCOLLECTIBLE},
    # A payment refunded in full or a dispute lost sends a paid invoice back to issued.
    InvoiceState.PAID: {InvoiceState.ISSUED},
    InvoiceState.UNCOLLECTIBLE: {InvoiceState.PAID, InvoiceState.VOID},
    InvoiceState.VOID: set(),
}


class InvoiceSource(models.TextChoices):
    ORDER = "order", "First invoice of an order"
    PERIOD = "period", "Subscription periods"
    WHOLESALE = "wholesale", "Wholesale"


class PdfState(models.TextChoices):
    NONE = "none", "Not rendered"
    PENDING = "pending", "Waiting"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Invoice(models.Model):
    """What a buyer owes a seller, in one currency. Drafts collect lines and carry no number;
    issuing numbers the invoice and freezes everything printed on it."""

    seller = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="invoices_issued"
    )
    buyer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=10, choices=InvoiceSource.choices)
    state = models.CharField(
        max_length=14, choices=InvoiceState.choices, default=InvoiceState.DRAFT
    )
    # The day the invoice is for: the period boundary it bills (the run's key), the first day
    # of the next month for wholesale, the order's day for an order's first invoice.
    billing_day = models.DateField()
    order = models.OneToOneField(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="first_invoice",
    )
    number = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001 - NULL until issued
    sequence = models.PositiveIntegerField(null=True, blank=True)
    # Numbered in the seller's sandbox series (its buyer is a sandbox customer), set at issue.
    sandbox = models.BooleanField(default=False, editable=False)
    issued_at = models.DateTimeField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    # Frozen at issue (drafts keep running values).
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    tax_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    seller_details = models.JSONField(default=dict, blank=True)
    buyer_details = models.JSONField(default=dict, blank=True)
    reverse_charge = models.BooleanField(default=False)
    language = models.CharField(max_length=8, default="en")
    note = models.TextField(blank=True)
    # The rendered PDF, stored once in private storage (never a public URL) with its digest.
    pdf = models.FileField(upload_to="invoices/", storage=private_storage, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_state = models.CharField(max_length=8, choices=PdfState.choices, default=PdfState.NONE)
    pdf_error = models.CharField(max_length=300, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-billing_day", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "number"],
                condition=Q(number__isnull=False),
                name="invoice_number_unique_per_seller",
            ),
            models.UniqueConstraint(
                fields=["seller", "sandbox", "sequence"],
                condition=Q(sequence__isnull=False),
                name="invoice_sequence_unique_per_series",
            ),
            # One open draft per buyer, seller, currency, billing day and source: concurrent
            # runs add their lines to the same one.
            models.UniqueConstraint(
                fields=["seller", "buyer", "currency", "billing_day", "source"],
                condition=Q(state="draft"),
                name="invoice_one_draft_per_day",
            ),
            models.CheckConstraint(
                condition=(Q(state="draft") & Q(number__isnull=True) & Q(sequence__isnull=True))
                | (~Q(state="draft") & Q(number__isnull=False) & Q(sequence__isnull=False)),
                name="invoice_numbered_when_issued",
            ),
        ]
        indexes = [
            models.Index(fields=["seller", "state", "billing_day"]),
            models.Index(fields=["buyer", "state"]),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft invoice #{self.pk}"

    @property
    def is_draft(self) -> bool:
        return self.state == InvoiceState.DRAFT

    @property
    def label(self) -> str:
        return self.number or "Draft"


class LineKind(models.TextChoices):
    RECURRING = "recurring", "Subscription"
    PRORATED = "prorated", "Prorated charge"
    CREDIT = "credit", "Prorated credit"
    USAGE = "usage", "Pay-per-use"
    SETUP = "setup", "Setup fee"
    DISCOUNT = "discount", "Discount"
    ADJUSTMENT = "adjustment", "Adjustment"
    WHOLESALE = "wholesale", "Wholesale"
    TAX = "tax", "Tax"


class InvoiceLine(models.Model):
    """A line of an invoice, with everything that produced it (for "why this amount")."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=LineKind.choices)
    description = models.CharField(max_length=300)
    subscription = models.ForeignKey(
        "orders.Subscription",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    quantity = models.DecimalField(max_digits=16, decimal_places=4)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    service_start = models.DateField(null=True, blank=True)
    service_end = models.DateField(null=True, blank=True)
    # The seller billing this line (the invoice's seller, repeated so the unique constraint
    # below can say "a charge is billed once by each seller").
    billed_by = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    # Sources.
    price = models.ForeignKey(
        "catalog.Price", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    charge = models.ForeignKey(
        Charge, null=True, blank=True, on_delete=models.PROTECT, related_name="lines"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    promotion = models.ForeignKey(
        "catalog.Promotion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    metric = models.CharField(max_length=24, blank=True)
    # The tax rate that applies to the line (and, on a tax line, the rate it computes).
    tax_rate = models.ForeignKey(
        "catalog.TaxRate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tax_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # On a tax line: the sum of the lines it is computed on.
    taxable_base = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # The working, e.g. the usage days and tiers of a pay-per-use line.
    explain = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position"),
            models.UniqueConstraint(
                fields=["charge", "billed_by"],
                condition=Q(charge__isnull=False),
                name="invoice_line_charge_once_per_seller",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class BilledPart(models.TextChoices):
    ADVANCE = "advance", "Recurring, in advance"
    ARREARS = "arrears", "Pay-per-use, in arrears"


class BilledPeriod(models.Model):
    """A period of a subscription that a seller has billed. The unique constraint is what
    makes billing the same period twice impossible, whatever runs at the same moment."""

    subscription = models.ForeignKey(
        "orders.Subscription", on_delete=models.PROTECT, related_name="billed_periods"
    )
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    part = models.CharField(max_length=8, choices=BilledPart.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    # None when the period had nothing to bill (no usage over what is included).
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="billed_periods"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["subscription_id", "period_start", "part"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "seller", "part", "period_start"],
                name="billed_period_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.part} {self.period_start} by {self.seller_id}"


class CreditNote(models.Model):
    """A correction of an issued invoice: the whole of it or part of some lines, with a reason.
    Issued (numbered, frozen) when created; amounts are positive numbers of credit."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    buyer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="credit_notes")
    currency = models.CharField(max_length=3)
    number = models.CharField(max_length=40)
    sequence = models.PositiveIntegerField()
    # Numbered in the seller's sandbox series (it credits a sandbox invoice).
    sandbox = models.BooleanField(default=False, editable=False)
    reason = models.TextField()
    issued_at = models.DateTimeField(default=timezone.now)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    tax_total = models.DecimalField(max_digits=14, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    seller_details = models.JSONField(default=dict, blank=True)
    buyer_details = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=8, default="en")
    pdf = models.FileField(upload_to="credit-notes/", storage=private_storage, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_state = models.CharField(max_length=8, choices=PdfState.choices, default=PdfState.NONE)
    pdf_error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "number"], name="credit_note_number_unique_per_seller"
            ),
            models.UniqueConstraint(
                fields=["seller", "sandbox", "sequence"],
                name="credit_note_sequence_unique_per_series",
            ),
            models.CheckConstraint(condition=Q(total__gt=0), name="credit_note_positive"),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=LineKind.choices)
    # The invoice line credited (None on tax lines).
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="credits"
    )
    description = models.CharField(max_length=300)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    tax_rate = models.ForeignKey(
        "catalog.TaxRate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tax_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    taxable_base = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["credit_note_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_note", "position"], name="credit_note_line_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class CreditNoteEmail(models.Model):
    """That a credit note was e-mailed to its buyer, once. A row of its own: a credit note's
    row never changes after it is created (on PostgreSQL a trigger allows only its PDF
    columns), and the primary key makes a second e-mail impossible."""

    credit_note = models.OneToOneField(
        CreditNote, on_delete=models.PROTECT, primary_key=True, related_name="email"
    )
    emailed_at = models.DateTimeField(default=timezone.now)
    recipients = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.credit_note_id} e-mailed at {self.emailed_at}"


# --- the run, and what it cannot do alone -----------------------------------------------------


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Finished"
    FAILED = "failed", "Finished with errors"


class BillingRun(models.Model):
    """One billing run: what it did, how long it took, what went wrong."""

    day = models.DateField()
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    triggered_by = models.CharField(max_length=200, blank=True)
    subscriptions_billed = models.PositiveIntegerField(default=0)
    lines_written = models.PositiveIntegerField(default=0)
    invoices_issued = models.PositiveIntegerField(default=0)
    issues_opened = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    log = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Billing run of {self.day} ({self.get_state_display()})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class IssueKind(models.TextChoices):
    PRICE_MISSING = "price_missing", "No price"
    RATING_FAILED = "rating_failed", "Could not be rated"


class BillingIssue(models.Model):
    """A subscription period the run could not bill, flagged to the seller's staff. The run
    does not try it again until staff mark it fixed; it is never skipped silently."""

    subscription = models.ForeignKey(
        "orders.Subscription", on_delete=models.PROTECT, related_name="billing_issues"
    )
    kind = models.CharField(max_length=16, choices=IssueKind.choices)
    period_start = models.DateField()
    message = models.TextField()
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start"],
                condition=Q(resolved_at__isnull=True),
                name="billing_issue_one_open_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subscription_id} from {self.period_start}"


class PriceMoveState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    APPLIED = "applied", "Applied"
    WITHDRAWN = "withdrawn", "Withdrawn"


class PriceMove(models.Model):
    """A seller moves a subscription from the price version it was sold at to a newer one. It
    takes effect at the subscription's first renewal on or after ``effective_from``, which is
    at least the notice period after the notice e-mail (docs/billing.md)."""

    subscription = models.ForeignKey(
        "orders.Subscription", on_delete=models.PROTECT, related_name="price_moves"
    )
    from_price = models.ForeignKey("catalog.Price", on_delete=models.PROTECT, related_name="+")
    to_price = models.ForeignKey("catalog.Price", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        max_length=10, choices=PriceMoveState.choices, default=PriceMoveState.SCHEDULED
    )
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    effective_from = models.DateField()
    applied_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription"],
                condition=Q(state="scheduled"),
                name="price_move_one_scheduled",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id}: {self.from_price_id} -> {self.to_price_id}"
