"""Serializers of the payments API: what is safe to show (Stripe's ids of cards and intents
stay inside; a client secret never leaves the page that confirms it), money as decimal
strings with the currency beside them."""

from rest_framework import serializers

from payments.models import (
    BuyerAccount,
    Dunning,
    Payment,
    PaymentMethod,
    PaymentSource,
    Refund,
)
from portal.api.fields import Serializer


class PaymentMethodSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="buyer_id", read_only=True)
    label = serializers.CharField(read_only=True)

    class Meta:
        model = PaymentMethod
        fields = [
            "id",
            "customer",
            "brand",
            "last4",
            "exp_month",
            "exp_year",
            "is_default",
            "label",
            "created_at",
        ]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="buyer_id", read_only=True)
    seller = serializers.IntegerField(source="seller_id", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    card = serializers.CharField(source="payment_method.label", read_only=True, default="")

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "customer",
            "seller",
            "source",
            "trigger",
            "state",
            "currency",
            "amount",
            "applied",
            "card",
            "reference",
            "received_on",
            "failure_code",
            "failure_message",
            "created_at",
            "settled_at",
        ]
        read_only_fields = fields


# What staff may record by hand (cards are paid by their owners, through Stripe).
OFFLINE_SOURCES = [
    (PaymentSource.TRANSFER.value, PaymentSource.TRANSFER.label),
    (PaymentSource.CHEQUE.value, PaymentSource.CHEQUE.label),
]


class OfflinePaymentSerializer(Serializer):
    invoice = serializers.IntegerField(min_value=1)
    amount = serializers.CharField(max_length=30)
    source = serializers.ChoiceField(choices=OFFLINE_SOURCES)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    received_on = serializers.DateField(required=False)


class RefundSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="payment.buyer_id", read_only=True)
    credit_note_number = serializers.CharField(source="credit_note.number", read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "credit_note",
            "credit_note_number",
            "customer",
            "currency",
            "amount",
            "state",
            "failure_message",
            "created_at",
            "settled_at",
        ]
        read_only_fields = fields


class CreditBalanceSerializer(Serializer):
    customer = serializers.IntegerField(source="buyer_id", read_only=True)
    seller = serializers.IntegerField(source="seller_id", read_only=True)
    currency = serializers.CharField(read_only=True)
    balance = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)


class DunningSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="invoice.buyer_id", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    stage_label = serializers.CharField(source="get_stage_display", read_only=True)

    class Meta:
        model = Dunning
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "customer",
            "stage",
            "stage_label",
            "started_on",
            "attempts",
            "next_retry_on",
            "reminders_sent",
            "suspended_on",
            "cancelled_on",
            "resolved_on",
            "last_error",
        ]
        read_only_fields = fields


class PaymentAccountSerializer(serializers.ModelSerializer):
    """How a customer pays its seller: automatic payment, invoice terms, the default card."""

    customer = serializers.IntegerField(source="buyer_id", read_only=True)
    seller = serializers.IntegerField(source="seller_id", read_only=True)
    default_card = serializers.SerializerMethodField()

    class Meta:
        model = BuyerAccount
        fields = ["id", "customer", "seller", "autopay", "invoice_terms_days", "default_card"]
        read_only_fields = fields

    def get_default_card(self, account) -> int | None:
        cards = getattr(account.buyer, "default_cards", None)
        return cards[0].pk if cards else None


class AutopaySerializer(Serializer):
    enabled = serializers.BooleanField(
        help_text="true: charge the default card when an invoice is issued; false: stop."
    )
