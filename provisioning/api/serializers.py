"""API shapes. Credentials (the admin's Box password, the app's client secret) have no field
here: they never leave the portal."""

from rest_framework import serializers

from provisioning.models import BoxAccount, BoxUser, DriftItem, JobLogEntry, ProvisioningJob


class JobLogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = JobLogEntry
        fields = ["at", "attempt", "level", "message", "data"]
        read_only_fields = fields


class JobSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="account.customer_id", read_only=True)
    box_user = serializers.IntegerField(source="box_user_id", read_only=True, allow_null=True)
    blocked_by = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField()

    class Meta:
        model = ProvisioningJob
        fields = [
            "id",
            "account",
            "customer",
            "sequence",
            "operation",
            "state",
            "skipped",
            "blocked_by",
            "attempts",
            "max_attempts",
            "next_attempt_at",
            "locked_until",
            "last_error",
            "last_error_code",
            "payload",
            "result",
            "idempotency_key",
            "box_user",
            "subject",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_blocked_by(self, job) -> int | None:
        return getattr(job, "blocked_by", None)

    def get_subject(self, job) -> dict | None:
        if not job.subject_type:
            return None
        return {"type": job.subject_type, "id": job.subject_id}


class JobDetailSerializer(JobSerializer):
    log = JobLogEntrySerializer(many=True, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "log"]
        read_only_fields = fields


class BoxUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = BoxUser
        fields = [
            "id",
            "box_user_id",
            "login",
            "name",
            "role",
            "status",
            "space_amount",
            "space_used",
            "external_app_user_id",
            "last_seen_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DriftItemSerializer(serializers.ModelSerializer):
    box_user = serializers.IntegerField(source="box_user_id", read_only=True, allow_null=True)

    class Meta:
        model = DriftItem
        fields = [
            "id",
            "kind",
            "key",
            "box_user",
            "login",
            "expected",
            "actual",
            "detected_at",
            "last_seen_at",
            "resolved_at",
        ]
        read_only_fields = fields


class DriftDetailSerializer(DriftItemSerializer):
    """A drift item with its account, customer, decision and what may be done with it."""

    account = serializers.IntegerField(source="account_id", read_only=True)
    customer = serializers.IntegerField(source="account.customer_id", read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)
    actions = serializers.SerializerMethodField()

    class Meta(DriftItemSerializer.Meta):
        fields = [
            *DriftItemSerializer.Meta.fields,
            "account",
            "customer",
            "handling",
            "handled_at",
            "note",
            "job",
            "actions",
        ]
        read_only_fields = fields

    def get_actions(self, item) -> list[str]:
        from provisioning.drift import ACTIONS_BY_KIND

        return list(ACTIONS_BY_KIND.get(item.kind, ())) if item.needs_action else []


class DriftActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["adopt", "remove", "fix", "ignore"])
    note = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="ignore: why."
    )
    force = serializers.BooleanField(
        required=False, default=False, help_text="remove: also a Box user who owns content."
    )
    add_seat = serializers.BooleanField(
        required=False,
        default=False,
        help_text="adopt: buy one more seat when the subscription has none free (at its price).",
    )


class BoxAccountSerializer(serializers.ModelSerializer):
    platform_client_id = serializers.CharField(source="client_id", read_only=True)

    class Meta:
        model = BoxAccount
        fields = [
            "id",
            "customer",
            "reference",
            "plan_code",
            "seats",
            "status",
            "box_enterprise_id",
            "enterprise_name",
            "admin_login",
            "admin_name",
            "platform_client_id",
            "authorized_at",
            "last_reconciled_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class BoxAccountDetailSerializer(BoxAccountSerializer):
    user_count = serializers.IntegerField(read_only=True)
    job_counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    drift = DriftItemSerializer(many=True, read_only=True, source="open_drift")

    class Meta(BoxAccountSerializer.Meta):
        fields = [*BoxAccountSerializer.Meta.fields, "user_count", "job_counts", "drift"]
        read_only_fields = fields
