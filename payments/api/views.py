"""REST API of payments (docs/payments-reliability.md), with the same rules as the pages:
what a person may see of payments follows what it may see of invoices (``billing.view``: a
buyer's admins and billing people, and its sellers' staff above it); cards are handled only by
the buyer's own admins and billing people (``payments.cards``); offline payments are recorded
only by the seller's admins and billing staff (``payments.manage``). Every id is looked up
inside what the caller may see first, so another tenant's object is the same 404 as none."""

from django.db.models import Prefetch, Sum
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.selectors import _billing_buyers_q, visible_invoices
from payments.api import serializers as s
from payments.models import (
    BalanceEntry,
    BuyerAccount,
    Dunning,
    DunningStage,
    Payment,
    PaymentMethod,
    PaymentSource,
    PaymentState,
    Refund,
    RefundState,
)
from payments.services.cards import autopay_set, card_remove, card_set_default
from payments.services.collect import payment_record_offline
from portal.api.base import TenantViewSet
from portal.errors import NotFound
from portal.params import choice_param, id_param


class PaymentMethodViewSet(TenantViewSet):
    """Saved cards (only what is safe to show: brand, last four digits, expiry)."""

    model = PaymentMethod
    serializer_class = s.PaymentMethodSerializer
    owner = "buyer"
    not_found_message = "No such card."
    query_params = {"list": (id_param("customer", lookup="buyer_id"),)}

    def visible_queryset(self, request):
        return PaymentMethod.objects.filter(
            _billing_buyers_q(request.user), removed_at__isnull=True
        ).order_by("buyer_id", "-is_default", "-created_at", "-id")

    @extend_schema(summary="Saved cards the caller may see (default first)")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="A saved card")
    def retrieve(self, request, pk=None):
        return Response(s.PaymentMethodSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=None,
        responses={204: None},
        summary="Remove a card (detached at Stripe; automatic payment stops with the last one)",
    )
    def destroy(self, request, pk=None):
        card = self.get_visible(pk, action="payments.cards")
        card_remove(actor=request.user, card=card)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.PaymentMethodSerializer, summary="Make it the default")
    @action(detail=True, methods=["post"])
    def default(self, request, pk=None):
        card = self.get_visible(pk, action="payments.cards")
        card = card_set_default(actor=request.user, card=card)
        return Response(s.PaymentMethodSerializer(card).data)


class PaymentAccountViewSet(TenantViewSet):
    """How each customer pays its seller: automatic payment on or off (turned by the buyer's own
    admins and billing people), invoice terms (granted by the seller), the default card."""

    model = BuyerAccount
    serializer_class = s.PaymentAccountSerializer
    owner = "buyer"
    not_found_message = "No such payment account."
    query_params = {"list": (id_param("customer", lookup="buyer_id"),)}

    def visible_queryset(self, request):
        cards = PaymentMethod.objects.filter(is_default=True, removed_at__isnull=True)
        return (
            BuyerAccount.objects.filter(_billing_buyers_q(request.user))
            .select_related("buyer")
            .prefetch_related(Prefetch("buyer__cards", queryset=cards, to_attr="default_cards"))
            .order_by("buyer_id")
        )

    @extend_schema(summary="Payment accounts of the customers the caller may see")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="A customer's payment account")
    def retrieve(self, request, pk=None):
        return Response(s.PaymentAccountSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=s.AutopaySerializer,
        responses=s.PaymentAccountSerializer,
        summary="Turn automatic payment on or off (on needs a default card)",
    )
    @action(detail=True, methods=["post"])
    def autopay(self, request, pk=None):
        account = self.get_visible(pk, action="payments.cards")
        ser = s.AutopaySerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        autopay_set(actor=request.user, buyer=account.buyer, enabled=ser.validated_data["enabled"])
        return Response(s.PaymentAccountSerializer(self.get_visible(pk)).data)


class PaymentViewSet(TenantViewSet):
    """Payments of invoices: by card (in the browser, automatic, retries) and offline."""

    model = Payment
    serializer_class = s.PaymentSerializer
    owner = "seller"
    not_found_message = "No such payment."
    idempotent_actions = ("create",)
    query_params = {
        "list": (
            choice_param("state", PaymentState.values, lookup="state"),
            choice_param("source", PaymentSource.values, lookup="source"),
            id_param("customer", lookup="buyer_id"),
            id_param("invoice", lookup="invoice_id"),
        )
    }

    def visible_queryset(self, request):
        return Payment.objects.filter(invoice__in=visible_invoices(request.user)).select_related(
            "invoice", "payment_method"
        )

    @extend_schema(summary="Payments the caller may see (newest first)")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="A payment")
    def retrieve(self, request, pk=None):
        return Response(s.PaymentSerializer(self.get_visible(pk)).data)

    @extend_schema(
        request=s.OfflinePaymentSerializer,
        responses={201: s.PaymentSerializer},
        summary="Record a bank transfer or cheque (the seller's staff): all, part or more "
        "than the invoice owes; the rest goes to the customer's credit balance",
    )
    def create(self, request):
        ser = s.OfflinePaymentSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        invoice = visible_invoices(request.user).filter(pk=data["invoice"]).first()
        if invoice is None:
            raise NotFound("No such invoice.")
        payment = payment_record_offline(
            actor=request.user,
            invoice=invoice,
            amount=data["amount"],
            source=data["source"],
            reference=data.get("reference", ""),
            received_on=data.get("received_on"),
            idempotency_key=self.idempotency_key(),
        )
        payment = self.visible_queryset(request).get(pk=payment.pk)
        return Response(s.PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class RefundViewSet(TenantViewSet):
    """Money given back to cards for credit notes."""

    model = Refund
    serializer_class = s.RefundSerializer
    not_found_message = "No such refund."
    query_params = {
        "list": (
            choice_param("state", RefundState.values, lookup="state"),
            id_param("customer", lookup="payment__buyer_id"),
        )
    }

    def visible_queryset(self, request):
        return Refund.objects.filter(
            payment__invoice__in=visible_invoices(request.user)
        ).select_related("payment", "credit_note")

    @extend_schema(summary="Refunds the caller may see (newest first)")
    def list(self, request):
        return self.list_visible()


class CreditBalanceViewSet(TenantViewSet):
    """Customers' credit balances with their sellers, one row per currency (overpayments and
    credit notes in, what paid invoices out); only balances that were ever moved are listed."""

    model = BalanceEntry
    serializer_class = s.CreditBalanceSerializer
    query_params = {"list": (id_param("customer", lookup="buyer_id"),)}

    def visible_queryset(self, request):
        return BalanceEntry.objects.filter(_billing_buyers_q(request.user))

    @extend_schema(summary="Credit balances the caller may see, per customer and currency")
    def list(self, request):
        rows = (
            self.filter_queryset(self.get_queryset())
            .values("buyer_id", "seller_id", "currency")
            .annotate(balance=Sum("amount"))
            .order_by("buyer_id", "currency")
        )
        return self.paginated(rows)


class DunningViewSet(TenantViewSet):
    """Where the collection of an invoice whose automatic payment failed stands: retrying,
    suspended, cancelled or paid."""

    model = Dunning
    serializer_class = s.DunningSerializer
    not_found_message = "No such dunning."
    query_params = {
        "list": (
            choice_param("stage", DunningStage.values, lookup="stage"),
            id_param("customer", lookup="invoice__buyer_id"),
        )
    }

    def visible_queryset(self, request):
        return Dunning.objects.filter(invoice__in=visible_invoices(request.user)).select_related(
            "invoice"
        )

    @extend_schema(summary="Dunning of the invoices the caller may see (newest first)")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="The dunning of one invoice")
    def retrieve(self, request, pk=None):
        return Response(s.DunningSerializer(self.get_visible(pk)).data)
