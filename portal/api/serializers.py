from rest_framework import serializers

from portal.api.fields import Serializer
from portal.models import (
    ApiToken,
    AuditEvent,
    Brand,
    BrandDomain,
    Invitation,
    Membership,
    Organization,
    User,
)
from portal.services import BRAND_FIELDS, ORG_DETAIL_FIELDS


class UserBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name"]


class OrganizationSerializer(serializers.ModelSerializer):
    contact_email = serializers.CharField(read_only=True, help_text="An e-mail address, or empty.")
    language = serializers.CharField(
        read_only=True, help_text="Its pages' language (en, de), or empty for its seller's."
    )

    class Meta:
        model = Organization
        fields = [
            "id",
            "kind",
            "parent",
            "depth",
            "status",
            "agent",
            *ORG_DETAIL_FIELDS,
            "sandbox",
            "sandbox_today",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrganizationCreateSerializer(Serializer):
    kind = serializers.ChoiceField(choices=["customer", "reseller"])
    parent = serializers.IntegerField(help_text="The seller (provider or reseller) above it.")
    name = serializers.CharField(max_length=200)
    contact_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    tax_id = serializers.CharField(max_length=40, required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False)
    agent = serializers.IntegerField(
        required=False, allow_null=True, help_text="A provider agent who looks after a customer."
    )
    brand_name = serializers.CharField(
        max_length=120, required=False, help_text="Resellers: the storefront's name."
    )
    domain = serializers.CharField(
        max_length=253, required=False, help_text="Resellers: the storefront's first domain."
    )
    sandbox = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Customers: a sandbox, living on its own day (decided now, for good).",
    )


_DAYS = "Give a whole number of days from 1 to 400."


class SandboxAdvanceSerializer(Serializer):
    days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=400,
        error_messages={"invalid": _DAYS, "min_value": _DAYS, "max_value": _DAYS},
        help_text="Move the day forward by this many days (1 to 400).",
    )
    to = serializers.ChoiceField(
        choices=["renewal"], required=False, help_text="`renewal`: to the next renewal instead."
    )


class SandboxDunningSerializer(Serializer):
    retried = serializers.IntegerField(read_only=True)
    suspended = serializers.IntegerField(read_only=True)
    cancelled = serializers.IntegerField(read_only=True)


class SandboxAdvancedSerializer(Serializer):
    organization = serializers.IntegerField(read_only=True)
    sandbox_today = serializers.DateField(read_only=True)
    days = serializers.IntegerField(read_only=True)
    renewals = serializers.IntegerField(read_only=True)
    invoices_issued = serializers.IntegerField(read_only=True)
    payments = serializers.IntegerField(read_only=True)
    payments_declined = serializers.IntegerField(read_only=True)
    payments_not_attempted = serializers.IntegerField(read_only=True)
    usage_collected = serializers.IntegerField(read_only=True)
    dunning = SandboxDunningSerializer(read_only=True)
    summary = serializers.CharField(read_only=True)


class OrganizationUpdateSerializer(Serializer):
    name = serializers.CharField(max_length=200, required=False)
    contact_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    tax_id = serializers.CharField(max_length=40, required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False)


class MembershipSerializer(serializers.ModelSerializer):
    user = UserBriefSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "organization", "user", "role", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class MembershipUpdateSerializer(Serializer):
    role = serializers.CharField(max_length=16)


class InvitationSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    invited_by = UserBriefSerializer(read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "organization",
            "email",
            "role",
            "state",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(Serializer):
    email = serializers.EmailField()
    role = serializers.CharField(max_length=16)


class BrandDomainSerializer(serializers.ModelSerializer):
    class Meta:
        model = BrandDomain
        fields = ["id", "domain", "is_primary", "created_at"]
        read_only_fields = ["id", "created_at"]


class BrandDomainCreateSerializer(Serializer):
    # The format and uniqueness rules are the service's, so page and API give one message.
    domain = serializers.CharField(max_length=253)
    is_primary = serializers.BooleanField(default=False)


class BrandSerializer(serializers.ModelSerializer):
    domains = BrandDomainSerializer(many=True, read_only=True)
    logo_url = serializers.SerializerMethodField()

    class Meta:
        model = Brand
        fields = ["organization", *BRAND_FIELDS, "logo_url", "domains", "updated_at"]
        read_only_fields = ["organization", "logo_url", "domains", "updated_at"]

    def get_logo_url(self, brand) -> str | None:
        return brand.logo.url if brand.logo else None


class BrandUpdateSerializer(Serializer):
    name = serializers.CharField(max_length=120, required=False)
    primary_color = serializers.CharField(max_length=7, required=False)
    accent_color = serializers.CharField(max_length=7, required=False)
    tagline = serializers.CharField(max_length=200, required=False, allow_blank=True)
    support_email = serializers.EmailField(required=False, allow_blank=True)
    support_phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    legal_address = serializers.CharField(required=False, allow_blank=True)
    invoice_footer = serializers.CharField(required=False, allow_blank=True)
    invoice_payment_terms_days = serializers.IntegerField(
        required=False, min_value=0, max_value=365
    )


class AuditEventSerializer(serializers.ModelSerializer):
    # Null when the portal itself acted; ``system_process`` then names the process.
    actor = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "system_process",
            "organization",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
        ]
        read_only_fields = fields


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiTokenCreateSerializer(Serializer):
    name = serializers.CharField(max_length=100)


class MeMembershipSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "organization", "role"]


class MeSerializer(serializers.ModelSerializer):
    memberships = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "memberships"]

    def get_memberships(self, user) -> list[dict]:
        qs = user.memberships.filter(is_active=True).select_related("organization")
        return MeMembershipSerializer(qs, many=True).data
