from rest_framework import serializers

from billing.models import UsageCollection, UsageRecord


class UsageRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = UsageRecord
        fields = ["subscription", "metric", "day", "value", "collected_at"]
        read_only_fields = fields


class UsageCollectionSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="account.customer_id", read_only=True)
    customer_name = serializers.CharField(source="account.customer.name", read_only=True)

    class Meta:
        model = UsageCollection
        fields = [
            "id",
            "account",
            "customer",
            "customer_name",
            "day",
            "state",
            "attempts",
            "api_calls",
            "users",
            "last_error",
            "next_attempt_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
