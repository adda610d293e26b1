"""REST API of the tenancy core. Every lookup goes through ``portal.access``; every write through
``portal.services``; errors leave through ``portal.api.exceptions``."""

from django.db import transaction
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import access, services
from portal.api import serializers as s
from portal.models import (
    ApiToken,
    AuditEvent,
    BrandDomain,
    Invitation,
    Membership,
    Organization,
    User,
)


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer, summary="The signed-in user and their memberships")
    def get(self, request):
        return Response(s.MeSerializer(request.user).data)


class OrganizationViewSet(viewsets.GenericViewSet):
    """Organizations in the caller's part of the tree."""

    serializer_class = s.OrganizationSerializer
    queryset = Organization.objects.none()  # for the schema; lookups go through access

    def get_queryset(self):
        qs = access.visible_organizations(self.request.user).order_by("path")
        params = self.request.query_params
        if params.get("kind"):
            qs = qs.filter(kind=params["kind"])
        if params.get("parent", "").isdigit():
            qs = qs.filter(parent_id=int(params["parent"]))
        if params.get("q"):
            qs = qs.filter(Q(name__icontains=params["q"]) | Q(contact_email__icontains=params["q"]))
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=["provider", "reseller", "customer"]),
            OpenApiParameter("parent", int, description="Only the direct children of this one."),
            OpenApiParameter("q", str, description="Search by name or contact e-mail."),
        ],
        summary="List organizations",
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.OrganizationSerializer(page, many=True).data)

    @extend_schema(summary="Get an organization")
    def retrieve(self, request, pk=None):
        org = access.access_organization(request.user, pk)
        return Response(s.OrganizationSerializer(org).data)

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
        agent = User.objects.filter(pk=agent_id).first() if agent_id else None
        if agent_id and agent is None:
            from portal.errors import ValidationError

            raise ValidationError.for_field("agent", "No such agent.")
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
        org = access.access_organization(request.user, pk)
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
        org = access.access_organization(request.user, pk, action="members.view")
        qs = Membership.objects.filter(organization=org).select_related("user").order_by("pk")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.MembershipSerializer(page, many=True).data)

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
            org = access.access_organization(request.user, pk)
            ser = s.InvitationCreateSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            invitation, _ = services.invitation_create(
                actor=request.user, organization=org, **ser.validated_data
            )
            return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)
        org = access.access_organization(request.user, pk, action="members.view")
        qs = Invitation.objects.filter(organization=org).select_related("invited_by")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.InvitationSerializer(page, many=True).data)

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


class MembershipViewSet(viewsets.GenericViewSet):
    serializer_class = s.MembershipSerializer
    queryset = Membership.objects.none()

    @extend_schema(summary="Get a membership")
    def retrieve(self, request, pk=None):
        return Response(s.MembershipSerializer(access.access_membership(request.user, pk)).data)

    @extend_schema(
        request=s.MembershipUpdateSerializer,
        responses=s.MembershipSerializer,
        summary="Change a member's role",
    )
    def partial_update(self, request, pk=None):
        membership = access.access_membership(request.user, pk)
        ser = s.MembershipUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            actor=request.user, membership=membership, role=ser.validated_data["role"]
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(request=None, responses=s.MembershipSerializer, summary="Deactivate a member")
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        membership = access.access_membership(request.user, pk)
        membership = services.membership_deactivate(actor=request.user, membership=membership)
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(request=None, responses=s.MembershipSerializer, summary="Reactivate a member")
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        membership = access.access_membership(request.user, pk)
        membership = services.membership_reactivate(actor=request.user, membership=membership)
        return Response(s.MembershipSerializer(membership).data)


class InvitationViewSet(viewsets.GenericViewSet):
    serializer_class = s.InvitationSerializer
    queryset = Invitation.objects.none()

    @extend_schema(summary="Get an invitation")
    def retrieve(self, request, pk=None):
        return Response(s.InvitationSerializer(access.access_invitation(request.user, pk)).data)

    @extend_schema(request=None, responses=s.InvitationSerializer, summary="Withdraw an invitation")
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        invitation = access.access_invitation(request.user, pk)
        invitation = services.invitation_revoke(actor=request.user, invitation=invitation)
        return Response(s.InvitationSerializer(invitation).data)


class BrandDomainViewSet(viewsets.GenericViewSet):
    serializer_class = s.BrandDomainSerializer
    queryset = BrandDomain.objects.none()

    @extend_schema(summary="Remove a storefront domain")
    def destroy(self, request, pk=None):
        domain = access.access_brand_domain(request.user, pk)
        services.brand_domain_remove(actor=request.user, domain=domain)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(viewsets.GenericViewSet):
    serializer_class = s.AuditEventSerializer
    queryset = AuditEvent.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "organization",
                int,
                description="Events about this organization and the ones below it.",
            ),
            OpenApiParameter("action", str, description="Action prefix, e.g. 'membership.'."),
        ],
        summary="The audit log the caller may read",
    )
    def list(self, request):
        qs = access.visible_audit_events(request.user)
        org_id = request.query_params.get("organization", "")
        if org_id:
            org = access.access_organization(request.user, org_id, action="audit.view")
            qs = qs.filter(organization__path__startswith=org.path)
        if request.query_params.get("action"):
            qs = qs.filter(action__startswith=request.query_params["action"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.AuditEventSerializer(page, many=True).data)


class ApiTokenViewSet(viewsets.GenericViewSet):
    serializer_class = s.ApiTokenSerializer
    queryset = ApiToken.objects.none()

    @extend_schema(summary="The caller's API tokens")
    def list(self, request):
        page = self.paginate_queryset(request.user.api_tokens.all())
        return self.get_paginated_response(s.ApiTokenSerializer(page, many=True).data)

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
        token = access.access_api_token(request.user, pk)
        services.api_token_revoke(user=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
