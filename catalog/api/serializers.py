"""Serializers of the catalog's API. Amounts travel as decimal strings ("15.00"); a JSON number
is read as its decimal text. Input serializers only shape data: the rules and their messages
are the services'."""

from __future__ import annotations

from rest_framework import serializers

from catalog.models import (
    Audience,
    BoxPlan,
    DiscountType,
    Metric,
    Offer,
    Plan,
    Price,
    Promotion,
    PromotionDuration,
    StorageMode,
    TaxRate,
    Term,
    TierMode,
    TransitionTiming,
)
from portal.api.fields import Serializer


def _amount(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=32, **kwargs)


class TransitionSerializer(Serializer):
    to = serializers.CharField(help_text="The code of the plan to change to.")
    timing = serializers.ChoiceField(choices=TransitionTiming.choices)


class PlanSerializer(serializers.ModelSerializer):
    transitions = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "id",
            "code",
            "box_plan_code",
            "name",
            "description",
            "seat_min",
            "seat_max",
            "storage_mode",
            "storage_gb",
            "max_upload_mb",
            "changes_during_trial",
            "cancellation_timing",
            "is_active",
            "sort_order",
            "transitions",
        ]
        read_only_fields = fields

    def get_transitions(self, plan) -> list[dict]:
        return TransitionSerializer(
            [{"to": t.to_plan.code, "timing": t.timing} for t in plan.transitions.all()],
            many=True,
        ).data


class PlanWriteSerializer(Serializer):
    code = serializers.CharField(max_length=40)
    box_plan_code = serializers.ChoiceField(choices=BoxPlan.choices)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    seat_min = serializers.IntegerField(min_value=1, required=False)
    seat_max = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    storage_mode = serializers.ChoiceField(choices=StorageMode.choices)
    storage_gb = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    max_upload_mb = serializers.IntegerField(min_value=1)
    changes_during_trial = serializers.BooleanField(required=False)
    cancellation_timing = serializers.ChoiceField(
        choices=["end_of_term", "immediate"], required=False
    )
    is_active = serializers.BooleanField(required=False)
    sort_order = serializers.IntegerField(min_value=0, max_value=32000, required=False)
    transitions = TransitionSerializer(many=True, required=False)


class TierSerializer(Serializer):
    up_to = _amount(allow_null=True, required=False, help_text="Empty on the last tier.")
    unit_price = _amount()


class ComponentSerializer(Serializer):
    metric = serializers.ChoiceField(choices=Metric.choices)
    mode = serializers.ChoiceField(choices=TierMode.choices)
    tiers = TierSerializer(many=True)


class PriceSerializer(serializers.ModelSerializer):
    plan = serializers.SlugRelatedField(slug_field="code", read_only=True)
    recurring = serializers.DecimalField(max_digits=12, decimal_places=4, read_only=True)
    setup_fee = serializers.DecimalField(max_digits=12, decimal_places=4, read_only=True)
    components = serializers.SerializerMethodField()

    class Meta:
        model = Price
        fields = [
            "id",
            "seller",
            "plan",
            "audience",
            "buyer",
            "currency",
            "term",
            "recurring",
            "setup_fee",
            "valid_from",
            "components",
            "created_at",
        ]
        read_only_fields = fields

    def get_components(self, price) -> list[dict]:
        return ComponentSerializer(
            [
                {
                    "metric": c.metric,
                    "mode": c.mode,
                    "tiers": [
                        {
                            "up_to": None if t.up_to is None else str(t.up_to),
                            "unit_price": str(t.unit_price),
                        }
                        for t in c.tiers.all()
                    ],
                }
                for c in price.components.all()
            ],
            many=True,
        ).data


class PriceCreateSerializer(Serializer):
    seller = serializers.IntegerField(help_text="The selling organization.")
    plan = serializers.CharField(help_text="The plan's code.")
    audience = serializers.ChoiceField(choices=Audience.choices, default=Audience.RETAIL)
    buyer = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="A direct customer (retail) or reseller (wholesale); empty for everyone.",
    )
    currency = serializers.CharField(max_length=3)
    term = serializers.ChoiceField(choices=Term.choices)
    recurring = _amount(help_text='Per seat per term, e.g. "15.00".')
    setup_fee = _amount(required=False, allow_blank=True)
    valid_from = serializers.DateField(required=False, help_text="Today when omitted.")
    components = ComponentSerializer(many=True, required=False)


class PlanBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = [
            "id",
            "code",
            "name",
            "seat_min",
            "seat_max",
            "storage_mode",
            "storage_gb",
            "max_upload_mb",
        ]
        read_only_fields = fields


class RetailPriceSerializer(Serializer):
    """A price as its buyer sees it."""

    currency = serializers.CharField()
    term = serializers.CharField()
    recurring = serializers.DecimalField(max_digits=12, decimal_places=4)
    setup_fee = serializers.DecimalField(max_digits=12, decimal_places=4)
    valid_from = serializers.DateField()
    components = serializers.ListField(child=ComponentSerializer())


def price_brief(price: Price) -> dict:
    return {
        "currency": price.currency,
        "term": price.term,
        "recurring": price.recurring,
        "setup_fee": price.setup_fee,
        "valid_from": price.valid_from,
        "components": PriceSerializer().get_components(price),
    }


class OfferSerializer(serializers.ModelSerializer):
    """An offer as its seller's staff see it."""

    plan = PlanBriefSerializer(read_only=True)
    display_name = serializers.CharField(read_only=True)
    available_to = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Offer
        fields = [
            "id",
            "seller",
            "plan",
            "parent_offer",
            "name",
            "display_name",
            "description",
            "trial_days",
            "in_storefront",
            "available_to_all_resellers",
            "available_to",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CustomerOfferSerializer(Serializer):
    """An offer as a customer sees it: its own prices, the trial it would get, the automatic
    promotions that apply. Never a wholesale figure."""

    id = serializers.IntegerField()
    seller = serializers.IntegerField()
    plan = PlanBriefSerializer()
    display_name = serializers.CharField()
    description = serializers.CharField()
    trial_days = serializers.IntegerField()
    prices = RetailPriceSerializer(many=True)
    promotions = serializers.ListField(child=serializers.CharField())


class OfferCreateSerializer(Serializer):
    seller = serializers.IntegerField()
    plan = serializers.CharField(help_text="The plan's code.")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    trial_days = serializers.IntegerField(required=False, default=0)
    in_storefront = serializers.BooleanField(required=False, default=True)
    available_to_all_resellers = serializers.BooleanField(required=False, default=False)
    available_to = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list
    )


class OfferUpdateSerializer(Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    trial_days = serializers.IntegerField(required=False)
    in_storefront = serializers.BooleanField(required=False)
    available_to_all_resellers = serializers.BooleanField(required=False)
    available_to = serializers.ListField(child=serializers.IntegerField(), required=False)


class PromotionSerializer(serializers.ModelSerializer):
    plans = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    used = serializers.IntegerField(read_only=True, required=False)
    discount_label = serializers.CharField(read_only=True)

    class Meta:
        model = Promotion
        fields = [
            "id",
            "seller",
            "name",
            "kind",
            "code",
            "discount_type",
            "percent",
            "amount",
            "currency",
            "duration",
            "duration_periods",
            "discount_label",
            "plans",
            "valid_from",
            "valid_until",
            "max_redemptions",
            "max_per_customer",
            "used",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields


class PromotionCreateSerializer(Serializer):
    seller = serializers.IntegerField()
    name = serializers.CharField(max_length=100)
    code = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text="Empty: automatic."
    )
    discount_type = serializers.ChoiceField(choices=DiscountType.choices)
    percent = _amount(required=False, allow_null=True)
    amount = _amount(required=False, allow_null=True)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    duration = serializers.ChoiceField(choices=PromotionDuration.choices)
    duration_periods = serializers.IntegerField(required=False, allow_null=True)
    plans = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_until = serializers.DateField(required=False, allow_null=True)
    max_redemptions = serializers.IntegerField(required=False, allow_null=True)
    max_per_customer = serializers.IntegerField(required=False, default=1)


class PromotionUpdateSerializer(Serializer):
    name = serializers.CharField(max_length=100, required=False)
    valid_until = serializers.DateField(required=False, allow_null=True)
    max_redemptions = serializers.IntegerField(required=False, allow_null=True)
    max_per_customer = serializers.IntegerField(required=False)
    is_active = serializers.BooleanField(required=False)


class PromotionCheckSerializer(Serializer):
    code = serializers.CharField(max_length=40)
    plan = serializers.CharField(help_text="The plan's code.")
    customer = serializers.IntegerField(
        required=False, help_text="Check for this customer (and its seller)."
    )
    seller = serializers.IntegerField(
        required=False, help_text="Without a customer: the seller whose code it is."
    )
    on_date = serializers.DateField(required=False)


class PromotionCheckResultSerializer(Serializer):
    valid = serializers.BooleanField()
    promotion = serializers.DictField()


class TaxRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxRate
        fields = ["id", "seller", "name", "country", "rate", "valid_from", "created_at"]
        read_only_fields = fields


class TaxRateCreateSerializer(Serializer):
    seller = serializers.IntegerField()
    name = serializers.CharField(max_length=60)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    rate = _amount()
    valid_from = serializers.DateField(required=False)


class SellerCurrenciesSerializer(Serializer):
    seller = serializers.IntegerField()
    currencies = serializers.ListField(child=serializers.CharField())


class CurrencyChangeSerializer(Serializer):
    currency = serializers.CharField(max_length=3)


class QuoteRequestSerializer(Serializer):
    offer = serializers.IntegerField()
    quantity = serializers.IntegerField(help_text="Seats.")
    term = serializers.ChoiceField(choices=Term.choices)
    start_date = serializers.DateField(required=False, help_text="Today when omitted.")
    promotion_code = serializers.CharField(max_length=40, required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    customer = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The customer it is for; empty for a visitor's estimate.",
    )


class QuoteLineSerializer(Serializer):
    kind = serializers.ChoiceField(choices=["recurring", "setup", "discount", "tax"])
    description = serializers.CharField()
    quantity = serializers.CharField()
    unit_price = serializers.CharField()
    amount = serializers.CharField()


class QuotePeriodSerializer(Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive.")
    lines = QuoteLineSerializer(many=True)
    subtotal = serializers.CharField()
    tax = serializers.CharField()
    total = serializers.CharField()
    price_id = serializers.IntegerField()


class QuoteSerializer(Serializer):
    currency = serializers.CharField()
    seller = serializers.IntegerField()
    customer = serializers.IntegerField(allow_null=True)
    offer = serializers.IntegerField()
    plan = serializers.CharField()
    quantity = serializers.IntegerField()
    term = serializers.CharField()
    start_date = serializers.DateField()
    trial_days = serializers.IntegerField()
    trial_end = serializers.DateField(allow_null=True)
    promotion = serializers.DictField(allow_null=True)
    first_invoice = QuotePeriodSerializer()
    later_periods = QuotePeriodSerializer(many=True)
    usage = serializers.ListField(child=serializers.DictField())
    notes = serializers.ListField(child=serializers.CharField())


class PriceListSerializer(Serializer):
    seller = serializers.IntegerField()
    on_date = serializers.DateField()
    currencies = serializers.ListField(child=serializers.CharField())
    offers = serializers.ListField(child=serializers.DictField())
    available = serializers.ListField(child=serializers.DictField())
