"""REST API of the tenancy core. Every lookup goes through ``portal.access`` (via the base
viewset, ``portal.api.base``); every write through ``portal.services``; errors leave through
``portal.api.exceptions``."""

from django.db import transaction
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import access, sandbox_clock, selectors, services
from portal.api import serializers as s
from portal.api.base import TenantViewSet
from portal.errors import ValidationError
from portal.models import (
    ApiToken,
    AuditEvent,
    BrandDomain,
    Invitation,
    Membership,
    Organization,
    OrgKind,
)
from portal.params import choice_param, id_param, text_param


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer, summary="The signed-in user and their memberships")
    def get(self, request):
        return Response(s.MeSerializer(request.user).data)


class OrganizationViewSet(TenantViewSet):
    """Organizations in the caller's part of the tree."""

    model = Organization
    serializer_class = s.OrganizationSerializer
    view_rule = "org.view"
    not_found_message = "No such organization."
    query_params = {
        "list": (
            choice_param("kind", OrgKind.values, lookup="kind"),
            id_param(
                "parent", lookup="parent_id", description="Only the direct children of this one."
            ),
            text_param("q", description="Search by name or contact e-mail.", max_length=200),
        )
    }

    def visible_queryset(self, request):
        return access.visible_organizations(request.user).order_by("path")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.query.get("q"):
            q = self.query["q"]
            queryset = queryset.filter(Q(name__icontains=q) | Q(contact_email__icontains=q))
        return queryset

    @extend_schema(summary="List organizations")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="Get an organization")
    def retrieve(self, request, pk=None):
        return Response(s.OrganizationSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=s.OrganizationCreateSerializer,
        responses={201: s.OrganizationSerializer},
        summary="Create a customer or a reseller",
    )
    def create(self, request):
        ser = s.OrganizationCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        parent = access.access_organization(request.user, data.pop("parent"))
        kind = data.pop("kind")
        domain = data.pop("domain", None)
        agent_id = data.pop("agent", None)
        agent = None
        if agent_id is not None:
            # Looked up among the provider's agents only: a missing user and a user who is not
            # an agent get the same answer, so the API confirms nothing about other people.
            agent = selectors.provider_agents(parent).filter(pk=agent_id).first()
            if agent is None:
                raise ValidationError.for_field("agent", "No such provider agent.")
        with transaction.atomic():
            org = services.organization_create(
                actor=request.user, parent=parent, kind=kind, agent=agent, **data
            )
            if domain and kind == "reseller":
                services.brand_domain_add(actor=request.user, brand=org.brand, domain=domain)
        return Response(s.OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.OrganizationUpdateSerializer,
        responses=s.OrganizationSerializer,
        summary="Change an organization's details",
    )
    def partial_update(self, request, pk=None):
        org = self.get_visible(pk)
        ser = s.OrganizationUpdateSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        org = services.organization_update(
            actor=request.user, organization=org, **ser.validated_data
        )
        return Response(s.OrganizationSerializer(org).data)

    @extend_schema(
        responses=s.MembershipSerializer(many=True), summary="Members of an organization"
    )
    @action(detail=True, methods=["get"])
    def memberships(self, request, pk=None):
        org = self.get_visible(pk, "members.view")
        qs = Membership.objects.filter(organization=org).select_related("user").order_by("pk")
        return self.paginated(qs, s.MembershipSerializer)

    @extend_schema(
        methods=["get"],
        responses=s.InvitationSerializer(many=True),
        summary="Invitations of an organization",
    )
    @extend_schema(
        methods=["post"],
        request=s.InvitationCreateSerializer,
        responses={201: s.InvitationSerializer},
        summary="Invite a person by e-mail",
    )
    @action(detail=True, methods=["get", "post"])
    def invitations(self, request, pk=None):
        if request.method == "POST":
            org = self.get_visible(pk)
            ser = s.InvitationCreateSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            invitation, _ = services.invitation_create(
                actor=request.user, organization=org, **ser.validated_data
            )
            return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)
        org = self.get_visible(pk, "members.view")
        qs = Invitation.objects.filter(organization=org).select_related("invited_by")
        return self.paginated(qs, s.InvitationSerializer)

    @extend_schema(methods=["get"], responses=s.BrandSerializer, summary="A seller's brand")
    @extend_schema(
        methods=["patch"],
        request=s.BrandUpdateSerializer,
        responses=s.BrandSerializer,
        summary="Change a seller's brand",
    )
    @action(detail=True, methods=["get", "patch"])
    def brand(self, request, pk=None):
        brand = access.access_brand(request.user, pk)
        if request.method == "PATCH":
            ser = s.BrandUpdateSerializer(data=request.data, partial=True)
            ser.is_valid(raise_exception=True)
            brand = services.brand_update(actor=request.user, brand=brand, **ser.validated_data)
        return Response(s.BrandSerializer(brand).data)

    @extend_schema(
        request=s.BrandDomainCreateSerializer,
        responses={201: s.BrandDomainSerializer},
        summary="Add a storefront domain to a seller's brand",
    )
    @action(detail=True, methods=["post"], url_path="brand/domains")
    def brand_domains(self, request, pk=None):
        brand = access.access_brand(request.user, pk)
        ser = s.BrandDomainCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        created = services.brand_domain_add(actor=request.user, brand=brand, **ser.validated_data)
        return Response(s.BrandDomainSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SandboxAdvanceSerializer,
        responses=s.SandboxAdvancedSerializer,
        summary="Move a sandbox customer's day forward (by days, or to its next renewal)",
    )
    @action(detail=True, methods=["post"], url_path="sandbox/advance")
    def sandbox_advance(self, request, pk=None):
        customer = self.get_visible(pk, "sandbox.advance")
        ser = s.SandboxAdvanceSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        to_renewal = ser.validated_data.get("to") == "renewal"
        done = sandbox_clock.sandbox_advance(
            actor=request.user,
            customer=customer,
            days=ser.validated_data.get("days"),
            to_renewal=to_renewal,
        )
        answer = done.as_dict()
        answer.update(organization=customer.pk, sandbox_today=done.end)
        return Response(s.SandboxAdvancedSerializer(answer).data)


class MembershipViewSet(TenantViewSet):
    model = Membership
    serializer_class = s.MembershipSerializer
    owner = "organization"
    view_rule = "members.view"
    not_found_message = "No such member."

    def visible_queryset(self, request):
        return access.visible_memberships(request.user)

    @extend_schema(summary="Get a membership")
    def retrieve(self, request, pk=None):
        return Response(s.MembershipSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=s.MembershipUpdateSerializer,
        responses=s.MembershipSerializer,
        summary="Change a member's role",
    )
    def partial_update(self, request, pk=None):
        membership = self.get_visible(pk)
        ser = s.MembershipUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            actor=request.user, membership=membership, role=ser.validated_data["role"]
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(request=None, responses=s.MembershipSerializer, summary="Deactivate a member")
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        membership = self.get_visible(pk)
        membership = services.membership_deactivate(actor=request.user, membership=membership)
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(request=None, responses=s.MembershipSerializer, summary="Reactivate a member")
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        membership = self.get_visible(pk)
        membership = services.membership_reactivate(actor=request.user, membership=membership)
        return Response(s.MembershipSerializer(membership).data)


class InvitationViewSet(TenantViewSet):
    model = Invitation
    serializer_class = s.InvitationSerializer
    owner = "organization"
    view_rule = "members.view"
    not_found_message = "No such invitation."

    def visible_queryset(self, request):
        return access.visible_invitations(request.user)

    @extend_schema(summary="Get an invitation")
    def retrieve(self, request, pk=None):
        return Response(s.InvitationSerializer(self.get_visible(pk)).data)

    @extend_schema(request=None, responses=s.InvitationSerializer, summary="Withdraw an invitation")
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        invitation = self.get_visible(pk)
        invitation = services.invitation_revoke(actor=request.user, invitation=invitation)
        return Response(s.InvitationSerializer(invitation).data)


class BrandDomainViewSet(TenantViewSet):
    model = BrandDomain
    serializer_class = s.BrandDomainSerializer
    owner = "brand.organization"
    view_rule = "brand.manage"
    not_found_message = "No such domain."

    def visible_queryset(self, request):
        return access.visible_brand_domains(request.user)

    @extend_schema(summary="Remove a storefront domain")
    def destroy(self, request, pk=None):
        domain = self.get_visible(pk)
        services.brand_domain_remove(actor=request.user, domain=domain)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(TenantViewSet):
    model = AuditEvent
    serializer_class = s.AuditEventSerializer
    query_params = {
        "list": (
            id_param(
                "organization", description="Events about this organization and the ones below it."
            ),
            text_param(
                "action",
                lookup="action__startswith",
                description="Action prefix, e.g. 'membership.'.",
            ),
        )
    }

    def visible_queryset(self, request):
        return access.visible_audit_events(request.user)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.query["organization"] is not None:
            org = access.access_organization(
                self.request.user, self.query["organization"], action="audit.view"
            )
            queryset = queryset.filter(organization__path__startswith=org.path)
        return queryset

    @extend_schema(summary="The audit log the caller may read")
    def list(self, request):
        return self.list_visible()


class ApiTokenViewSet(TenantViewSet):
    model = ApiToken
    serializer_class = s.ApiTokenSerializer
    not_found_message = "No such token."

    def visible_queryset(self, request):
        return access.own_api_tokens(request.user)

    @extend_schema(summary="The caller's API tokens")
    def list(self, request):
        return self.list_visible()

    @extend_schema(
        request=s.ApiTokenCreateSerializer,
        responses={201: s.ApiTokenCreatedSerializer},
        summary="Create an API token (its key is shown once)",
    )
    def create(self, request):
        ser = s.ApiTokenCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        token, key = services.api_token_create(user=request.user, name=ser.validated_data["name"])
        data = s.ApiTokenSerializer(token).data
        data["key"] = key
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke an API token")
    def destroy(self, request, pk=None):
        token = self.get_visible(pk)
        services.api_token_revoke(user=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
