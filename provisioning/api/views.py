"""REST API of the provisioning engine: jobs (list, detail, retry, skip, cancel) and Box
accounts (list, detail with open drift, users, drift, reconcile). Lookups go through
``provisioning.selectors`` (404 outside the caller's part of the tree), writes through
``provisioning.services``."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from provisioning import selectors, services
from provisioning.api import serializers as s
from provisioning.models import AccountStatus, BoxAccount, DriftItem, ProvisioningJob

JOB_FILTERS = [
    OpenApiParameter(
        "state",
        str,
        description="pending, running, succeeded, failed, cancelled, or 'open' or 'blocked'.",
    ),
    OpenApiParameter("operation", str, description="e.g. user.create, account.change_plan"),
    OpenApiParameter("account", int, description="Jobs of this Box account."),
    OpenApiParameter("customer", int, description="Jobs of this customer's accounts."),
]


class JobViewSet(viewsets.GenericViewSet):
    """Provisioning jobs of the customers the caller may see."""

    serializer_class = s.JobSerializer
    queryset = ProvisioningJob.objects.none()

    @extend_schema(parameters=JOB_FILTERS, summary="List provisioning jobs (newest first)")
    def list(self, request):
        qs = selectors.jobs_filtered(
            selectors.visible_jobs(request.user), request.query_params
        ).order_by("-pk")
        page = selectors.annotate_blocked(self.paginate_queryset(qs))
        return self.get_paginated_response(s.JobSerializer(page, many=True).data)

    @extend_schema(responses=s.JobDetailSerializer, summary="A job with its step log")
    def retrieve(self, request, pk=None):
        job = selectors.annotate_blocked([selectors.access_job(request.user, pk)])[0]
        return Response(s.JobDetailSerializer(job).data)

    def _act(self, request, pk, service):
        job = selectors.access_job(request.user, pk)
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


class BoxAccountViewSet(viewsets.GenericViewSet):
    """Box accounts of the customers the caller may see."""

    serializer_class = s.BoxAccountSerializer
    queryset = BoxAccount.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=AccountStatus.values),
            OpenApiParameter("customer", int),
        ],
        summary="List Box accounts",
    )
    def list(self, request):
        qs = selectors.visible_accounts(request.user).order_by("-pk")
        params = request.query_params
        if params.get("status") in AccountStatus.values:
            qs = qs.filter(status=params["status"])
        if params.get("customer", "").isdigit():
            qs = qs.filter(customer_id=int(params["customer"]))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.BoxAccountSerializer(page, many=True).data)

    @extend_schema(
        responses=s.BoxAccountDetailSerializer,
        summary="A Box account with its open drift and job counts",
    )
    def retrieve(self, request, pk=None):
        account = selectors.access_account(request.user, pk)
        account.open_drift = list(selectors.account_open_drift(account))
        account.user_count = selectors.account_users(account).exclude(status="deleted").count()
        account.job_counts = selectors.account_job_counts(account)
        return Response(s.BoxAccountDetailSerializer(account).data)

    @extend_schema(responses=s.BoxUserSerializer(many=True), summary="The account's users")
    @action(detail=True, methods=["get"])
    def users(self, request, pk=None):
        account = selectors.access_account(request.user, pk)
        page = self.paginate_queryset(selectors.account_users(account))
        return self.get_paginated_response(s.BoxUserSerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("resolved", bool, description="true: resolved items; default open")
        ],
        responses=s.DriftItemSerializer(many=True),
        summary="Drift found by reconciliation",
    )
    @action(detail=True, methods=["get"])
    def drift(self, request, pk=None):
        account = selectors.access_account(request.user, pk)
        resolved = request.query_params.get("resolved", "").lower() in ("1", "true", "yes")
        qs = DriftItem.objects.filter(account=account, resolved_at__isnull=not resolved).order_by(
            "-detected_at", "-pk"
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.DriftItemSerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: None}, summary="Reconcile the account now")
    @action(detail=True, methods=["post"])
    def reconcile(self, request, pk=None):
        account = selectors.access_account(request.user, pk, action="provisioning.manage")
        services.account_reconcile_request(account=account, actor=request.user)
        return Response({"status": "requested"}, status=status.HTTP_202_ACCEPTED)
