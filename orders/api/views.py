"""REST API of ordering, with the same rules as the pages (every write through services)."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.models import Offer, Plan
from orders import selectors, services
from orders.api import serializers as s
from orders.models import (
    Order,
    OrderState,
    SeatAssignment,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
)
from portal import access
from portal.api.base import TenantViewSet
from portal.errors import ValidationError
from portal.params import bool_param, choice_param, id_param


class OrderViewSet(TenantViewSet):
    model = Order
    serializer_class = s.OrderSerializer
    owner = "customer"
    view_rule = "orders.view"
    not_found_message = "No such order."
    idempotent_actions = ("create",)
    query_params = {
        "list": (
            choice_param("state", OrderState.values, lookup="state"),
            id_param("customer", lookup="customer_id"),
        )
    }

    def visible_queryset(self, request):
        return selectors.visible_orders(request.user).prefetch_related("lines")

    @extend_schema(summary="Orders the caller may see")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="Get an order")
    def retrieve(self, request, pk=None):
        return Response(s.OrderSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=s.OrderCreateSerializer,
        responses={201: s.OrderSerializer},
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
            idempotency_key=self.idempotency_key(),
            note=data.get("note", ""),
        )
        return Response(s.OrderSerializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.OrderUpdateSerializer, responses=s.OrderSerializer, summary="Edit a draft"
    )
    def partial_update(self, request, pk=None):
        order = self.get_visible(pk)
        ser = s.OrderUpdateSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        fields = dict(ser.validated_data)
        if "offer" in fields:
            fields["offer"] = Offer.objects.filter(
                pk=fields["offer"], seller_id=order.customer.parent_id
            ).first()
            if fields["offer"] is None:
                raise ValidationError.for_field("offer", "No such offer is sold to this customer.")
        order = services.order_update(actor=request.user, order=order, **fields)
        return Response(s.OrderSerializer(order).data)

    @extend_schema(request=None, responses=s.OrderSerializer, summary="Submit a draft")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        order = self.get_visible(pk)
        return Response(
            s.OrderSerializer(services.order_submit(actor=request.user, order=order)).data
        )

    @extend_schema(request=None, responses=s.OrderSerializer, summary="Approve an order")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        order = self.get_visible(pk)
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
        order = self.get_visible(pk)
        ser = s.ReasonSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        order = services.order_cancel(
            actor=request.user, order=order, reason=ser.validated_data.get("reason", "")
        )
        return Response(s.OrderSerializer(order).data)


class SubscriptionViewSet(TenantViewSet):
    model = Subscription
    serializer_class = s.SubscriptionSerializer
    owner = "customer"
    view_rule = "orders.view"
    not_found_message = "No such subscription."
    idempotent_actions = ("change", "cancel")
    query_params = {
        "list": (
            id_param("customer", lookup="customer_id"),
            choice_param("status", SubscriptionStatus.values, lookup="status"),
        ),
        "seats": (bool_param("include_removed", description="Also the removed seats."),),
    }

    def visible_queryset(self, request):
        return selectors.visible_subscriptions(request.user).prefetch_related(
            Prefetch(
                "changes",
                queryset=SubscriptionChange.objects.select_related("from_plan", "to_plan"),
            )
        )

    @extend_schema(summary="Subscriptions the caller may see")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="Get a subscription")
    def retrieve(self, request, pk=None):
        return Response(s.SubscriptionSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=s.SubscriptionChangeRequestSerializer,
        responses={201: s.OrderSerializer, 200: s.PreviewSerializer},
        summary="Change plan, seats or term (now, prorated, or at the end of the term); "
        "with preview: what it would cost, changing nothing",
    )
    @action(detail=True, methods=["post"])
    def change(self, request, pk=None):
        sub = self.get_visible(pk)
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
        values = {
            "actor": request.user,
            "subscription": sub,
            "plan": plan,
            "quantity": data.get("quantity"),
            "term": data.get("term"),
        }
        if data["preview"]:
            preview = services.subscription_change_preview(**values)
            return Response(s.PreviewSerializer(preview).data)
        if data["fingerprint"]:
            order = services.subscription_change_confirm(
                **values, fingerprint=data["fingerprint"], idempotency_key=self.idempotency_key()
            )
        else:
            order = services.subscription_change(**values, idempotency_key=self.idempotency_key())
        return Response(s.OrderSerializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.CancelSerializer,
        responses={201: s.OrderSerializer, 200: s.PreviewSerializer},
        summary="Cancel a subscription; with preview: what it would credit, changing nothing",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        sub = self.get_visible(pk)
        ser = s.CancelSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        values = {
            "actor": request.user,
            "subscription": sub,
            "immediately": data.get("immediately"),
        }
        if data["preview"]:
            preview = services.subscription_cancel_preview(**values)
            return Response(s.PreviewSerializer(preview).data)
        if data["fingerprint"]:
            order = services.subscription_cancel_confirm(
                **values, fingerprint=data["fingerprint"], idempotency_key=self.idempotency_key()
            )
        else:
            order = services.subscription_cancel(**values, idempotency_key=self.idempotency_key())
        return Response(s.OrderSerializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SuspendSerializer,
        responses=s.SubscriptionSerializer,
        summary="Suspend (seller staff)",
    )
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        sub = self.get_visible(pk)
        ser = s.SuspendSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.subscription_suspend(
            actor=request.user, subscription=sub, reason=ser.validated_data["reason"]
        )
        return Response(s.SubscriptionSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=None, responses=s.SubscriptionSerializer, summary="Resume (seller staff)"
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        sub = self.get_visible(pk)
        services.subscription_resume(actor=request.user, subscription=sub)
        return Response(s.SubscriptionSerializer(self.get_visible(pk)).data)

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
        sub = self.get_visible(pk)
        if request.method == "POST":
            ser = s.SeatCreateSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            seat = services.seat_assign(actor=request.user, subscription=sub, **ser.validated_data)
            return Response(s.SeatSerializer(seat).data, status=status.HTTP_201_CREATED)
        qs = sub.seats.select_related("box_user").order_by("email", "pk")
        if not self.query["include_removed"]:
            qs = qs.exclude(status="removed")
        return self.paginated(qs, s.SeatSerializer)

    @extend_schema(
        request=s.SeatImportSerializer,
        responses=s.ImportRowSerializer(many=True),
        summary="Assign seats from CSV text, with a report per row",
    )
    @action(detail=True, methods=["post"], url_path="seats/import")
    def seats_import(self, request, pk=None):
        sub = self.get_visible(pk, "seats.manage")
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
        sub = self.get_visible(pk)
        return self.paginated(sub.charges.order_by("created_at", "pk"), s.ChargeSerializer)


class SeatViewSet(TenantViewSet):
    model = SeatAssignment
    serializer_class = s.SeatSerializer
    owner = "subscription.customer"
    view_rule = "orders.view"
    not_found_message = "No such seat."

    def visible_queryset(self, request):
        return selectors.visible_seats(request.user)

    @extend_schema(summary="Get a seat")
    def retrieve(self, request, pk=None):
        return Response(s.SeatSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=s.SeatUpdateSerializer,
        responses=s.SeatSerializer,
        summary="Change a seat's name, quota or role",
    )
    def partial_update(self, request, pk=None):
        seat = self.get_visible(pk)
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

    @extend_schema(
        responses={200: s.SeatSerializer},
        summary="Unassign a seat (its Box user is deleted); answers the seat, now being removed",
    )
    def destroy(self, request, pk=None):
        seat = self.get_visible(pk)
        seat = services.seat_unassign(actor=request.user, seat=seat)
        return Response(s.SeatSerializer(seat).data, status=status.HTTP_200_OK)
