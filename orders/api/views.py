"""REST API of ordering, with the same rules as the pages (every write through services)."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.models import Offer, Plan
from orders import selectors, services
from orders.api import serializers as s
from orders.models import Order, SeatAssignment, Subscription, SubscriptionChange
from portal import access
from portal.errors import NotFound, ValidationError

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Send the same key again (a retried request) and get the same order back.",
)


def _key(request) -> str:
    return request.headers.get("Idempotency-Key", "")


class OrderViewSet(viewsets.GenericViewSet):
    serializer_class = s.OrderSerializer
    queryset = Order.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("state", str), OpenApiParameter("customer", int)],
        summary="Orders the caller may see",
    )
    def list(self, request):
        qs = selectors.visible_orders(request.user).prefetch_related("lines")
        if request.query_params.get("state"):
            qs = qs.filter(state=request.query_params["state"])
        if request.query_params.get("customer", "").isdigit():
            qs = qs.filter(customer_id=int(request.query_params["customer"]))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.OrderSerializer(page, many=True).data)

    @extend_schema(summary="Get an order")
    def retrieve(self, request, pk=None):
        return Response(s.OrderSerializer(selectors.access_order(request.user, pk)).data)

    @extend_schema(
        request=s.OrderCreateSerializer,
        responses={201: s.OrderSerializer},
        parameters=[IDEMPOTENCY],
        summary="Order a new subscription for a customer (draft or submitted)",
    )
    def create(self, request):
        ser = s.OrderCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        customer = access.access_organization(request.user, data["customer"])
        offer = Offer.objects.filter(pk=data["offer"], seller_id=customer.parent_id).first()
        if offer is None:
            raise ValidationError.for_field("offer", "No such offer is sold to this customer.")
        order = services.order_create(
            actor=request.user,
            customer=customer,
            offer=offer,
            quantity=data["quantity"],
            term=data["term"],
            promotion_code=data.get("promotion_code", ""),
            start_date=data.get("start_date"),
            submit=data["submit"],
            idempotency_key=_key(request),
            note=data.get("note", ""),
        )
        return Response(s.OrderSerializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.OrderUpdateSerializer, responses=s.OrderSerializer, summary="Edit a draft"
    )
    def partial_update(self, request, pk=None):
        order = selectors.access_order(request.user, pk)
        ser = s.OrderUpdateSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        fields = dict(ser.validated_data)
        if "offer" in fields:
            fields["offer"] = Offer.objects.filter(pk=fields["offer"]).first()
            if fields["offer"] is None:
                raise ValidationError.for_field("offer", "No such offer.")
        order = services.order_update(actor=request.user, order=order, **fields)
        return Response(s.OrderSerializer(order).data)

    @extend_schema(request=None, responses=s.OrderSerializer, summary="Submit a draft")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        order = selectors.access_order(request.user, pk)
        return Response(
            s.OrderSerializer(services.order_submit(actor=request.user, order=order)).data
        )

    @extend_schema(request=None, responses=s.OrderSerializer, summary="Approve an order")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        order = selectors.access_order(request.user, pk)
        return Response(
            s.OrderSerializer(services.order_approve(actor=request.user, order=order)).data
        )

    @extend_schema(
        request=s.ReasonSerializer,
        responses=s.OrderSerializer,
        summary="Cancel (or, as the seller, reject) an order",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = selectors.access_order(request.user, pk)
        ser = s.ReasonSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        order = services.order_cancel(
            actor=request.user, order=order, reason=ser.validated_data.get("reason", "")
        )
        return Response(s.OrderSerializer(order).data)


class SubscriptionViewSet(viewsets.GenericViewSet):
    serializer_class = s.SubscriptionSerializer
    queryset = Subscription.objects.none()

    def _qs(self):
        return selectors.visible_subscriptions(self.request.user).prefetch_related(
            Prefetch(
                "changes",
                queryset=SubscriptionChange.objects.select_related("from_plan", "to_plan"),
            )
        )

    def _get(self, pk, action_name="orders.view"):
        sub = self._qs().filter(pk=pk if str(pk).isdigit() else None).first()
        if sub is None:
            raise NotFound("No such subscription.")
        access.require(self.request.user, action_name, sub.customer)
        return sub

    @extend_schema(
        parameters=[OpenApiParameter("customer", int), OpenApiParameter("status", str)],
        summary="Subscriptions the caller may see",
    )
    def list(self, request):
        qs = self._qs()
        if request.query_params.get("customer", "").isdigit():
            qs = qs.filter(customer_id=int(request.query_params["customer"]))
        if request.query_params.get("status"):
            qs = qs.filter(status=request.query_params["status"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.SubscriptionSerializer(page, many=True).data)

    @extend_schema(summary="Get a subscription")
    def retrieve(self, request, pk=None):
        return Response(s.SubscriptionSerializer(self._get(pk)).data)

    @extend_schema(
        request=s.SubscriptionChangeRequestSerializer,
        responses={201: s.OrderSerializer},
        parameters=[IDEMPOTENCY],
        summary="Change plan, seats or term (now, prorated, or at the end of the term)",
    )
    @action(detail=True, methods=["post"])
    def change(self, request, pk=None):
        sub = self._get(pk)
        ser = s.SubscriptionChangeRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        plan = None
        if data.get("plan"):
            plan = Plan.objects.filter(code=data["plan"]).first()
            if plan is None:
                raise ValidationError.for_field("plan", f"No plan has the code {data['plan']}.")
            if plan.pk == sub.plan_id:
                plan = None
        order = services.subscription_change(
            actor=request.user,
            subscription=sub,
            plan=plan,
            quantity=data.get("quantity"),
            term=data.get("term"),
            idempotency_key=_key(request),
        )
        return Response(s.OrderSerializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.CancelSerializer,
        responses={201: s.OrderSerializer},
        summary="Cancel a subscription",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        sub = self._get(pk)
        ser = s.CancelSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        order = services.subscription_cancel(
            actor=request.user,
            subscription=sub,
            immediately=ser.validated_data.get("immediately"),
            idempotency_key=_key(request),
        )
        return Response(s.OrderSerializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SuspendSerializer,
        responses=s.SubscriptionSerializer,
        summary="Suspend (seller staff)",
    )
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        sub = self._get(pk)
        ser = s.SuspendSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.subscription_suspend(
            actor=request.user, subscription=sub, reason=ser.validated_data["reason"]
        )
        return Response(s.SubscriptionSerializer(self._get(pk)).data)

    @extend_schema(
        request=None, responses=s.SubscriptionSerializer, summary="Resume (seller staff)"
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        sub = self._get(pk)
        services.subscription_resume(actor=request.user, subscription=sub)
        return Response(s.SubscriptionSerializer(self._get(pk)).data)

    @extend_schema(
        methods=["get"], responses=s.SeatSerializer(many=True), summary="Seats of a subscription"
    )
    @extend_schema(
        methods=["post"],
        request=s.SeatCreateSerializer,
        responses={201: s.SeatSerializer},
        summary="Assign a seat",
    )
    @action(detail=True, methods=["get", "post"])
    def seats(self, request, pk=None):
        sub = self._get(pk)
        if request.method == "POST":
            ser = s.SeatCreateSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            seat = services.seat_assign(actor=request.user, subscription=sub, **ser.validated_data)
            return Response(s.SeatSerializer(seat).data, status=status.HTTP_201_CREATED)
        qs = sub.seats.select_related("box_user").order_by("email", "pk")
        if request.query_params.get("include_removed") != "1":
            qs = qs.exclude(status="removed")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.SeatSerializer(page, many=True).data)

    @extend_schema(
        request=s.SeatImportSerializer,
        responses=s.ImportRowSerializer(many=True),
        summary="Assign seats from CSV text, with a report per row",
    )
    @action(detail=True, methods=["post"], url_path="seats/import")
    def seats_import(self, request, pk=None):
        sub = self._get(pk, "seats.manage")
        ser = s.SeatImportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        report = services.seats_import(
            actor=request.user, subscription=sub, text=ser.validated_data["csv"]
        )
        return Response(s.ImportRowSerializer(report, many=True).data)

    @extend_schema(
        responses=s.ChargeSerializer(many=True),
        summary="Charges of a subscription (prorations, credits, setup fees)",
    )
    @action(detail=True, methods=["get"])
    def charges(self, request, pk=None):
        sub = self._get(pk)
        page = self.paginate_queryset(sub.charges.order_by("created_at", "pk"))
        return self.get_paginated_response(s.ChargeSerializer(page, many=True).data)


class SeatViewSet(viewsets.GenericViewSet):
    serializer_class = s.SeatSerializer
    queryset = SeatAssignment.objects.none()

    @extend_schema(summary="Get a seat")
    def retrieve(self, request, pk=None):
        return Response(s.SeatSerializer(selectors.access_seat(request.user, pk)).data)

    @extend_schema(
        request=s.SeatUpdateSerializer,
        responses=s.SeatSerializer,
        summary="Change a seat's name, quota or role",
    )
    def partial_update(self, request, pk=None):
        seat = selectors.access_seat(request.user, pk)
        ser = s.SeatUpdateSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        seat = services.seat_update(
            actor=request.user,
            seat=seat,
            name=data.get("name"),
            quota_gb=data.get("quota_gb", ...),
            role=data.get("role"),
        )
        return Response(s.SeatSerializer(seat).data)

    @extend_schema(responses=s.SeatSerializer, summary="Unassign a seat (its Box user is deleted)")
    def destroy(self, request, pk=None):
        seat = selectors.access_seat(request.user, pk)
        seat = services.seat_unassign(actor=request.user, seat=seat)
        return Response(s.SeatSerializer(seat).data, status=status.HTTP_200_OK)
