"""REST API of the provisioning engine: jobs (list, detail, retry, skip, cancel) and Box
accounts (list, detail with open drift, users, drift, reconcile). Lookups go through
``provisioning.selectors`` (404 outside the caller's part of the tree), writes through
``provisioning.services``."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.api.base import TenantViewSet
from portal.errors import ValidationError
from portal.params import bool_param, choice_param, id_param, text_param
from provisioning import drift, selectors, services
from provisioning.api import serializers as s
from provisioning.models import (
    AccountStatus,
    BoxAccount,
    DriftHandling,
    DriftItem,
    DriftKind,
    JobState,
    ProvisioningJob,
)


class JobViewSet(TenantViewSet):
    """Provisioning jobs of the customers the caller may see."""

    model = ProvisioningJob
    serializer_class = s.JobSerializer
    owner = "account.customer"
    view_rule = "provisioning.view"
    not_found_message = "No such provisioning job."
    query_params = {
        "list": (
            choice_param(
                "state",
                [*JobState.values, "open", "blocked"],
                description="A state, or 'open' (pending, running or failed) or 'blocked' "
                "(waiting behind a failed job).",
            ),
            text_param(
                "operation", description="e.g. user.create, account.change_plan", max_length=40
            ),
            id_param("account", description="Jobs of this Box account."),
            id_param("customer", description="Jobs of this customer's accounts."),
        )
    }

    def visible_queryset(self, request):
        return selectors.visible_jobs(request.user)

    @extend_schema(summary="List provisioning jobs (newest first)")
    def list(self, request):
        qs = selectors.jobs_filtered(self.get_queryset(), self.query).order_by("-pk")
        page = selectors.annotate_blocked(self.paginate_queryset(qs))
        return self.get_paginated_response(s.JobSerializer(page, many=True).data)

    @extend_schema(responses=s.JobDetailSerializer, summary="A job with its step log")
    def retrieve(self, request, pk=None):
        job = selectors.annotate_blocked([self.get_visible(pk)])[0]
        return Response(s.JobDetailSerializer(job).data)

    def _act(self, request, pk, service):
        job = self.get_visible(pk)
        job = service(job=job, actor=request.user)
        job = selectors.annotate_blocked([job])[0]
        return Response(s.JobDetailSerializer(job).data)

    @extend_schema(
        request=None, responses=s.JobDetailSerializer, summary="Put a failed job back in the queue"
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._act(request, pk, services.job_retry)

    @extend_schema(
        request=None,
        responses=s.JobDetailSerializer,
        summary="Mark a failed or waiting job done without running it",
    )
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        return self._act(request, pk, services.job_skip)

    @extend_schema(
        request=None, responses=s.JobDetailSerializer, summary="Cancel a failed or waiting job"
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(request, pk, services.job_cancel)


class BoxAccountViewSet(TenantViewSet):
    """Box accounts of the customers the caller may see."""

    model = BoxAccount
    serializer_class = s.BoxAccountSerializer
    owner = "customer"
    view_rule = "provisioning.view"
    not_found_message = "No such Box account."
    query_params = {
        "list": (
            choice_param("status", AccountStatus.values, lookup="status"),
            id_param("customer", lookup="customer_id"),
        ),
        "drift": (bool_param("resolved", description="true: resolved items; default open"),),
    }

    def visible_queryset(self, request):
        return selectors.visible_accounts(request.user).order_by("-pk")

    @extend_schema(summary="List Box accounts")
    def list(self, request):
        return self.list_visible()

    @extend_schema(
        responses=s.BoxAccountDetailSerializer,
        summary="A Box account with its open drift and job counts",
    )
    def retrieve(self, request, pk=None):
        account = self.get_visible(pk)
        account.open_drift = list(selectors.account_open_drift(account))
        account.user_count = selectors.account_users(account).exclude(status="deleted").count()
        account.job_counts = selectors.account_job_counts(account)
        return Response(s.BoxAccountDetailSerializer(account).data)

    @extend_schema(responses=s.BoxUserSerializer(many=True), summary="The account's users")
    @action(detail=True, methods=["get"])
    def users(self, request, pk=None):
        account = self.get_visible(pk)
        return self.paginated(selectors.account_users(account), s.BoxUserSerializer)

    @extend_schema(
        responses=s.DriftItemSerializer(many=True),
        summary="Drift found by reconciliation",
    )
    @action(detail=True, methods=["get"])
    def drift(self, request, pk=None):
        account = self.get_visible(pk)
        qs = DriftItem.objects.filter(
            account=account, resolved_at__isnull=not self.query["resolved"]
        ).order_by("-detected_at", "-pk")
        return self.paginated(qs, s.DriftItemSerializer)

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("ReconcileRequested", {"status": serializers.CharField()})
        },
        summary="Reconcile the account now (answers at once; the worker compares)",
    )
    @action(detail=True, methods=["post"])
    def reconcile(self, request, pk=None):
        account = self.get_visible(pk, "provisioning.manage")
        services.account_reconcile_request(account=account, actor=request.user)
        return Response({"status": "requested"}, status=status.HTTP_202_ACCEPTED)


class DriftViewSet(TenantViewSet):
    """Drift found by reconciliation in the Box accounts the caller may see, and what staff
    decide about it (the console's drift pages, docs/drift.md)."""

    model = DriftItem
    serializer_class = s.DriftDetailSerializer
    owner = "account.customer"
    view_rule = "provisioning.view"
    not_found_message = "No such drift item."
    query_params = {
        "list": (
            choice_param(
                "show",
                ["todo", "handled", "resolved"],
                description="todo (default): open and undecided; handled: open and decided; "
                "resolved: gone.",
            ),
            choice_param("kind", DriftKind.values, lookup="kind"),
            id_param("account", lookup="account_id"),
            id_param("customer", lookup="account__customer_id"),
        )
    }

    def visible_queryset(self, request):
        return selectors.visible_drift(request.user)

    @extend_schema(summary="Drift items (newest first)")
    def list(self, request):
        show = self.query.get("show") or "todo"
        qs = self.filter_queryset(self.get_queryset())
        qs = {
            "todo": qs.filter(resolved_at__isnull=True, handling=DriftHandling.NONE),
            "handled": qs.filter(resolved_at__isnull=True).exclude(handling=DriftHandling.NONE),
            "resolved": qs.filter(resolved_at__isnull=False),
        }[show]
        return self.paginated(qs.order_by("-detected_at", "-pk"))

    @extend_schema(summary="A drift item, with what may be done with it")
    def retrieve(self, request, pk=None):
        return Response(s.DriftDetailSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=s.DriftActionSerializer,
        responses=s.DriftDetailSerializer,
        summary="Settle a drift item: adopt or remove a Box user unknown to the portal, fix "
        "Box from the portal's record, or ignore it (adopt and remove start a job)",
    )
    @action(detail=True, methods=["post"])
    def settle(self, request, pk=None):
        item = self.get_visible(pk, "provisioning.manage")
        ser = s.DriftActionSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        act = data["action"]
        if act not in drift.ACTIONS_BY_KIND.get(item.kind, ()):
            raise ValidationError.for_field(
                "action", f"“{item.get_kind_display()}” cannot be settled that way."
            )
        drift.drift_settle(
            item=item,
            actor=request.user,
            action=act,
            note=data.get("note", ""),
            force=data["force"],
            add_seat=data["add_seat"],
        )
        return Response(s.DriftDetailSerializer(self.get_visible(pk)).data)
