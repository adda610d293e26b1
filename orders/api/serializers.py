from rest_framework import serializers

from billing.models import Charge
from catalog.models import Term
from orders.models import (
    ChangeTiming,
    Order,
    OrderLine,
    SeatAssignment,
    SeatRole,
    Subscription,
    SubscriptionChange,
)
from portal.api.fields import Serializer


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["position", "kind", "description", "quantity", "unit_price", "amount"]


class OrderSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    lines = OrderLineSerializer(many=True, read_only=True)
    plan = serializers.SlugRelatedField(slug_field="code", read_only=True)
    timing = serializers.ChoiceField(
        choices=ChangeTiming.choices,
        allow_blank=True,
        read_only=True,
        help_text="When a change or cancellation takes effect; empty for a new subscription.",
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "kind",
            "state",
            "customer",
            "seller",
            "placed_by",
            "placed_as",
            "placed_via",
            "subscription",
            "offer",
            "plan",
            "quantity",
            "term",
            "currency",
            "promotion_code",
            "start_date",
            "timing",
            "effective_on",
            "first_total",
            "lines",
            "note",
            "failure_message",
            "created_at",
            "submitted_at",
            "decided_by",
            "decided_at",
            "completed_at",
        ]
        read_only_fields = fields


class OrderCreateSerializer(Serializer):
    customer = serializers.IntegerField()
    offer = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1)
    term = serializers.ChoiceField(choices=Term.choices)
    promotion_code = serializers.CharField(max_length=40, required=False, allow_blank=True)
    start_date = serializers.DateField(required=False)
    submit = serializers.BooleanField(default=True, help_text="False saves a draft.")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class OrderUpdateSerializer(Serializer):
    offer = serializers.IntegerField(required=False)
    quantity = serializers.IntegerField(min_value=1, required=False)
    term = serializers.ChoiceField(choices=Term.choices, required=False)
    promotion_code = serializers.CharField(max_length=40, required=False, allow_blank=True)
    start_date = serializers.DateField(required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ReasonSerializer(Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class SubscriptionChangeSerializer(serializers.ModelSerializer):
    from_plan = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_plan = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = SubscriptionChange
        fields = [
            "id",
            "order",
            "timing",
            "effective_on",
            "state",
            "from_plan",
            "to_plan",
            "from_quantity",
            "to_quantity",
            "from_term",
            "to_term",
            "applied_at",
        ]
        read_only_fields = fields


class SubscriptionSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    plan = serializers.SlugRelatedField(slug_field="code", read_only=True)
    seats_assigned = serializers.IntegerField(source="seats_held", read_only=True)
    scheduled_changes = serializers.SerializerMethodField()
    box_account_status = serializers.CharField(
        source="box_account.status", read_only=True, default=None
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "number",
            "customer",
            "seller",
            "offer",
            "plan",
            "quantity",
            "seats_assigned",
            "term",
            "currency",
            "status",
            "started_on",
            "trial_ends_on",
            "current_period_start",
            "current_period_end",
            "unit_price",
            "cancel_at_period_end",
            "cancelled_on",
            "suspended_reason",
            "box_account_status",
            "scheduled_changes",
            "created_at",
        ]
        read_only_fields = fields

    def get_scheduled_changes(self, sub) -> list[dict]:
        changes = [c for c in sub.changes.all() if c.state == "scheduled"]
        return SubscriptionChangeSerializer(changes, many=True).data


class PreviewRequestFields(Serializer):
    """``preview: true`` answers what the request would do and writes nothing; a
    ``fingerprint`` from that answer makes the request apply only if its figures are still the
    same (409 ``preview_changed`` otherwise)."""

    preview = serializers.BooleanField(
        required=False, default=False, help_text="Only say what it would do; change nothing."
    )
    fingerprint = serializers.CharField(
        required=False,
        max_length=64,
        default="",
        help_text="The fingerprint of a preview: apply only if nothing changed since.",
    )


class SubscriptionChangeRequestSerializer(PreviewRequestFields):
    plan = serializers.CharField(required=False, help_text="The new plan's code.")
    quantity = serializers.IntegerField(min_value=1, required=False)
    term = serializers.ChoiceField(choices=Term.choices, required=False)


class CancelSerializer(PreviewRequestFields):
    immediately = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Empty: the plan's rule. True: now (seller staff may override the plan).",
    )


class AmountSerializer(Serializer):
    description = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class NextInvoiceSerializer(Serializer):
    billing_day = serializers.DateField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    lines = AmountSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())


class PreviewSerializer(Serializer):
    """What a change or a cancellation would do (orders.services.previews.Preview)."""

    action = serializers.CharField()
    currency = serializers.CharField()
    summary = serializers.CharField()
    timing = serializers.CharField()
    effective_on = serializers.DateField()
    now = AmountSerializer(many=True, help_text="Charged or credited now, before tax.")
    now_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    next_before = NextInvoiceSerializer(allow_null=True)
    next_after = NextInvoiceSerializer(allow_null=True)
    box = serializers.ListField(child=serializers.CharField(), help_text="What changes at Box.")
    fingerprint = serializers.CharField(help_text="Send it back to apply exactly this.")


class SuspendSerializer(Serializer):
    reason = serializers.CharField(max_length=200)


class SeatSerializer(serializers.ModelSerializer):
    quota_gb = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Empty: the plan's storage (unlimited)."
    )
    box_user_id = serializers.CharField(
        source="box_user.box_user_id",
        read_only=True,
        default=None,
        allow_null=True,
        help_text="Empty until the Box user exists.",
    )
    space_used = serializers.IntegerField(
        source="box_user.space_used", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = SeatAssignment
        fields = [
            "id",
            "subscription",
            "email",
            "name",
            "quota_gb",
            "role",
            "status",
            "box_user_id",
            "space_used",
            "last_error",
            "created_at",
            "removed_at",
        ]
        read_only_fields = fields


class SeatCreateSerializer(Serializer):
    email = serializers.EmailField()
    name = serializers.CharField(max_length=50)
    quota_gb = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    role = serializers.ChoiceField(choices=SeatRole.choices, default=SeatRole.USER)


class SeatUpdateSerializer(Serializer):
    name = serializers.CharField(max_length=50, required=False)
    quota_gb = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    role = serializers.ChoiceField(choices=SeatRole.choices, required=False)


class SeatImportSerializer(Serializer):
    csv = serializers.CharField(help_text="CSV text with the columns email,name,quota_gb,role.")


class ImportRowSerializer(Serializer):
    line = serializers.IntegerField()
    email = serializers.CharField()
    ok = serializers.BooleanField()
    message = serializers.CharField()


class ChargeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Charge
        fields = [
            "id",
            "kind",
            "description",
            "quantity",
            "unit_price",
            "amount",
            "currency",
            "service_start",
            "service_end",
            "period_start",
            "period_end",
            "order",
            "created_at",
            "invoiced_at",
        ]
        read_only_fields = fields
