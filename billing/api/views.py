"""REST API of usage (docs/usage.md): a subscription's daily usage records, and the usage
collections (the provider's staff). Same rules as the pages: the subscription is looked up
through ``orders.selectors`` and a collection through ``billing.selectors``, so anything
outside the caller's part of the tree answers 404; the retry goes through the service."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import selectors
from billing.api import serializers as s
from billing.models import CollectionState, UsageCollection, UsageMetric, UsageRecord
from billing.services import usage
from orders import selectors as orders_selectors
from portal.errors import ValidationError


def _day_param(params, name: str):
    value = params.get(name)
    if not value:
        return None
    day = selectors.parse_day(value)
    if day is None:
        raise ValidationError.for_field(name, f"{value!r} is not a date (YYYY-MM-DD).")
    return day


class UsageRecordViewSet(viewsets.GenericViewSet):
    """A subscription's daily usage: one record per metric and day."""

    serializer_class = s.UsageRecordSerializer
    queryset = UsageRecord.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("subscription", int, required=True),
            OpenApiParameter("metric", str, enum=UsageMetric.values),
            OpenApiParameter("from", str, description="First day, YYYY-MM-DD (included)."),
            OpenApiParameter("to", str, description="Last day, YYYY-MM-DD (included)."),
        ],
        summary="Usage records of a subscription, by metric and day",
    )
    def list(self, request):
        params = request.query_params
        if not params.get("subscription"):
            raise ValidationError.for_field("subscription", "Name the subscription.")
        sub = orders_selectors.access_subscription(request.user, params["subscription"])
        metric = params.get("metric") or None
        if metric is not None and metric not in UsageMetric.values:
            raise ValidationError.for_field("metric", f"One of {', '.join(UsageMetric.values)}.")
        start, end = _day_param(params, "from"), _day_param(params, "to")
        if start and end and end < start:
            raise ValidationError.for_field("to", "The range ends before it starts.")
        qs = selectors.usage_records(sub, metric=metric, start=start, end=end)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.UsageRecordSerializer(page, many=True).data)


class UsageCollectionViewSet(viewsets.GenericViewSet):
    """The nightly usage collections, one per Box account and day (the provider's staff)."""

    serializer_class = s.UsageCollectionSerializer
    queryset = UsageCollection.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("day", str, description="YYYY-MM-DD"),
            OpenApiParameter("state", str, enum=CollectionState.values),
            OpenApiParameter("account", int),
            OpenApiParameter("customer", int),
        ],
        summary="Usage collections (failed first, newest day first)",
    )
    def list(self, request):
        _day_param(request.query_params, "day")
        qs = selectors.collections_filtered(
            selectors.visible_collections(request.user), request.query_params
        )
        qs = selectors.failures_first(qs).order_by("-day", "rank", "account_id")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.UsageCollectionSerializer(page, many=True).data)

    @extend_schema(summary="A usage collection")
    def retrieve(self, request, pk=None):
        return Response(
            s.UsageCollectionSerializer(selectors.access_collection(request.user, pk)).data
        )

    @extend_schema(
        request=None,
        responses=s.UsageCollectionSerializer,
        summary="Collect again now, with a fresh set of attempts (today's and yesterday's)",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        collection = selectors.access_collection(request.user, pk, action="usage.retry")
        collection = usage.usage_collection_retry(collection=collection, actor=request.user)
        return Response(
            s.UsageCollectionSerializer(selectors.access_collection(request.user, pk)).data
        )
