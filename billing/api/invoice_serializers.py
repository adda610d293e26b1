"""Serializers of billing's documents API: invoices with their lines and sources, credit
notes, upcoming invoices, billing runs and issues, and the one error shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from billing.models import (
    BillingIssue,
    BillingRun,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
)
from portal.api.schema import ErrorSerializer

MAX_ID = 2**31 - 1


# --- errors ---------------------------------------------------------------------------------


# The one error shape of the API (portal.api.schema), shared so the schema has one Error.


ERROR_TEXT = {
    400: "Bad input (a field or query parameter; `fields` names it) or a rule the request breaks.",
    401: "No credentials, or a token that is unknown or revoked.",
    403: "Visible, but the caller's role may not do this; the message says why.",
    404: "No such object, or outside the caller's part of the tree (the same answer).",
    409: "Clashes with the object's state (e.g. a void invoice, nothing left to credit).",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error answers of an operation, for ``extend_schema(responses=...)``."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_TEXT[code]) for code in codes}


# --- invoices -------------------------------------------------------------------------------


class OrgRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class InvoiceSerializer(serializers.ModelSerializer):
    seller = OrgRefSerializer(read_only=True)
    buyer = OrgRefSerializer(read_only=True)
    credited = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        read_only=True,
        default=None,
        help_text="The total of the credit notes against it.",
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "state",
            "source",
            "seller",
            "buyer",
            "currency",
            "billing_day",
            "issued_at",
            "due_on",
            "period_start",
            "period_end",
            "subtotal",
            "tax_total",
            "total",
            "credited",
            "reverse_charge",
            "order",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if getattr(instance, "credited", None) is None:
            data["credited"] = "0.00"
        return data


class InvoiceLineSerializer(serializers.ModelSerializer):
    credited = serializers.DecimalField(
        source="credited_sum",
        max_digits=14,
        decimal_places=2,
        read_only=True,
        default=None,
        help_text="What credit notes have credited of the line so far.",
    )

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "position",
            "kind",
            "description",
            "subscription",
            "quantity",
            "unit_price",
            "amount",
            "credited",
            "service_start",
            "service_end",
            "price",
            "charge",
            "order",
            "promotion",
            "tax_rate",
            "tax_percent",
            "taxable_base",
            "metric",
            "explain",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "service_end": {"help_text": "Exclusive: the service runs up to the day before."},
            "price": {"help_text": "The price version the line was rated at."},
            "charge": {"help_text": "The charge (proration, credit, setup fee) it bills."},
            "order": {"help_text": "The order that produced it."},
            "promotion": {"help_text": "The promotion of a discount line."},
            "explain": {"help_text": "The working: usage days and tiers, seats, rates."},
        }

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data["credited"] is None:
            data["credited"] = "0.00"
        return data


class CreditNoteRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditNote
        fields = ["id", "number", "issued_at", "total", "reason"]
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True, source="line_rows")
    credit_notes = CreditNoteRefSerializer(many=True, read_only=True, source="note_rows")

    class Meta(InvoiceSerializer.Meta):
        fields = [
            *InvoiceSerializer.Meta.fields,
            "seller_details",
            "buyer_details",
            "lines",
            "credit_notes",
        ]
        read_only_fields = fields


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)


# --- credit notes ---------------------------------------------------------------------------


class CreditNoteSerializer(serializers.ModelSerializer):
    seller = OrgRefSerializer(read_only=True)
    buyer = OrgRefSerializer(read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "invoice_number",
            "seller",
            "buyer",
            "currency",
            "reason",
            "issued_at",
            "subtotal",
            "tax_total",
            "total",
        ]
        read_only_fields = fields


class CreditNoteLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditNoteLine
        fields = [
            "position",
            "kind",
            "invoice_line",
            "description",
            "amount",
            "tax_rate",
            "tax_percent",
            "taxable_base",
        ]
        read_only_fields = fields


class CreditNoteDetailSerializer(CreditNoteSerializer):
    lines = CreditNoteLineSerializer(many=True, read_only=True)

    class Meta(CreditNoteSerializer.Meta):
        fields = [*CreditNoteSerializer.Meta.fields, "lines"]
        read_only_fields = fields


class CreditLineRequestSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="An invoice line.")
    amount = serializers.CharField(
        max_length=24,
        required=False,
        allow_null=True,
        help_text="Before tax, e.g. `12.50`; empty or null credits all that is left of it.",
    )


class CreditNoteCreateSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    reason = serializers.CharField(max_length=2000, allow_blank=True)
    lines = CreditLineRequestSerializer(
        many=True,
        required=False,
        allow_null=True,
        help_text="Omit to credit everything still owed on the invoice.",
    )


class CreditPreviewLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    tax_percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)


class CreditNotePreviewSerializer(serializers.Serializer):
    invoice = serializers.IntegerField()
    currency = serializers.CharField()
    lines = CreditPreviewLineSerializer(many=True)
    subtotal = serializers.DecimalField(max_digits=14, decimal_places=2)
    tax_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    left_after = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Left to credit on the invoice after it."
    )


# --- upcoming invoices ----------------------------------------------------------------------


class UpcomingLineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=16, decimal_places=4)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=4)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    service_start = serializers.DateField(allow_null=True)
    service_end = serializers.DateField(allow_null=True)
    price = serializers.IntegerField(source="price_id", allow_null=True)
    charge = serializers.IntegerField(source="charge_id", allow_null=True)
    order = serializers.IntegerField(source="order_id", allow_null=True)
    promotion = serializers.IntegerField(source="promotion_id", allow_null=True)
    tax_rate = serializers.IntegerField(source="tax_rate_id", allow_null=True)
    tax_percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    taxable_base = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    metric = serializers.CharField()
    explain = serializers.DictField()


class UpcomingInvoiceSerializer(serializers.Serializer):
    subscription = serializers.IntegerField(source="subscription.pk")
    customer = serializers.IntegerField(source="subscription.customer_id")
    billing_day = serializers.DateField()
    currency = serializers.CharField()
    lines = UpcomingLineSerializer(many=True)
    subtotal = serializers.DecimalField(max_digits=14, decimal_places=2)
    tax_total = serializers.DecimalField(source="tax", max_digits=14, decimal_places=2)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    usage_through = serializers.DateField(
        allow_null=True, help_text="Pay-per-use is counted up to this day (it may still grow)."
    )
    notes = serializers.ListField(child=serializers.CharField())


# --- runs and issues ------------------------------------------------------------------------


class BillingRunSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    still_due = serializers.SerializerMethodField(
        help_text="While running: subscriptions still to bill up to its day."
    )

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "day",
            "state",
            "started_at",
            "finished_at",
            "duration_seconds",
            "triggered_by",
            "subscriptions_billed",
            "lines_written",
            "invoices_issued",
            "issues_opened",
            "errors",
            "log",
            "still_due",
        ]
        read_only_fields = fields

    def get_still_due(self, run) -> int | None:
        return getattr(run, "still_due", None)


class BillingRunStartedSerializer(serializers.Serializer):
    day = serializers.DateField()
    message = serializers.CharField()


class BillingIssueSerializer(serializers.ModelSerializer):
    customer = OrgRefSerializer(source="subscription.customer", read_only=True)
    seller = OrgRefSerializer(source="subscription.seller", read_only=True)

    class Meta:
        model = BillingIssue
        fields = [
            "id",
            "subscription",
            "customer",
            "seller",
            "kind",
            "period_start",
            "message",
            "opened_at",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields
