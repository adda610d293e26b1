"""REST API of billing's documents, with the same rules as the pages: invoices (with their
lines and each line's sources), credit notes (sellers' billing staff create them), the
upcoming invoice of a subscription, the provider's billing runs and the billing issues they
flag. Reads start from ``billing.listing`` (tenant-first); every write goes through a service
as the caller."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Prefetch, Sum
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import listing, selectors
from billing.api import invoice_serializers as s
from billing.api.invoice_serializers import errors
from billing.models import (
    BillingIssue,
    BillingRun,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    LineKind,
    RunState,
)
from billing.services import credit_notes as notes
from billing.services import invoices as invoice_services
from billing.services.preview import upcoming_for_customer, upcoming_invoice
from billing.services.run import billing_issue_resolve, due_subscriptions
from orders import selectors as order_selectors
from portal import access, clock
from portal.errors import Conflict, NotFound, ValidationError
from portal.models import Organization
from portal.params import parse_id

DOCUMENT_FILTERS = [
    OpenApiParameter("q", str, description="Part of the number (at most 40 characters)."),
    OpenApiParameter(
        "issued_from", {"type": "string", "format": "date"}, description="Issued on or after."
    ),
    OpenApiParameter(
        "issued_to", {"type": "string", "format": "date"}, description="Issued on or before."
    ),
    OpenApiParameter("total_min", str, description="Total at least, e.g. `100` or `99.50`."),
    OpenApiParameter("total_max", str, description="Total at most."),
    OpenApiParameter("customer", int, description="The buyer's organization id."),
    OpenApiParameter("seller", int, description="The issuing seller's organization id."),
]
STATE_FILTER = OpenApiParameter(
    "state", str, enum=[value for value, _ in listing.STATE_CHOICES], description="The state."
)


def _filters(request, *, states: bool = True) -> listing.Filters:
    f = listing.parse_filters(request.query_params, states=states)
    if f.errors:
        _, messages = next(iter(f.errors.items()))
        raise ValidationError(messages[0], fields=f.errors)
    return f


def _pk(value) -> int | None:
    number = parse_id(value)
    return number if number is not None and 0 < number <= s.MAX_ID else None


class InvoiceViewSet(viewsets.GenericViewSet):
    serializer_class = s.InvoiceSerializer
    queryset = Invoice.objects.none()

    def _get(self, pk) -> Invoice:
        invoice = (
            listing.with_credited(listing.invoices_for(self.request.user))
            .filter(pk=_pk(pk))
            .prefetch_related(
                Prefetch(
                    "lines",
                    queryset=InvoiceLine.objects.annotate(
                        credited_sum=Sum("credits__amount")
                    ).order_by("position"),
                    to_attr="line_rows",
                ),
                Prefetch(
                    "credit_notes",
                    queryset=CreditNote.objects.order_by("issued_at", "pk"),
                    to_attr="note_rows",
                ),
            )
            .first()
        )
        if invoice is None:
            raise NotFound("No such invoice.")
        return invoice

    @extend_schema(
        parameters=[STATE_FILTER, *DOCUMENT_FILTERS],
        responses={200: s.InvoiceSerializer(many=True), **errors(400, 401)},
        summary="Invoices the caller may see",
        description="Issued invoices of the buyers whose invoices the caller may see, and "
        "drafts on the selling side. Newest first.",
    )
    def list(self, request):
        f = _filters(request)
        qs = listing.filter_invoices(listing.invoices_for(request.user), f)
        qs = listing.with_credited(qs).order_by("-billing_day", "-issued_at", "-pk")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.InvoiceSerializer(page, many=True).data)

    @extend_schema(
        responses={200: s.InvoiceDetailSerializer, **errors(401, 404)},
        summary="An invoice with its lines and their sources",
    )
    def retrieve(self, request, pk=None):
        return Response(s.InvoiceDetailSerializer(self._get(pk)).data)

    @extend_schema(
        request=s.VoidSerializer,
        responses={200: s.InvoiceDetailSerializer, **errors(400, 401, 403, 404, 409)},
        summary="Void an issued invoice (the seller's admins and billing staff)",
    )
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        invoice = self._get(pk)
        ser = s.VoidSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        invoice_services.invoice_void(
            actor=request.user, invoice=invoice, reason=ser.validated_data["reason"]
        )
        return Response(s.InvoiceDetailSerializer(self._get(pk)).data)

    @extend_schema(
        request=None,
        responses={200: s.InvoiceDetailSerializer, **errors(401, 403, 404, 409)},
        summary="Mark an issued invoice uncollectible (the seller's staff)",
    )
    @action(detail=True, methods=["post"], url_path="mark-uncollectible")
    def mark_uncollectible(self, request, pk=None):
        invoice = self._get(pk)
        invoice_services.invoice_mark_uncollectible(actor=request.user, invoice=invoice)
        return Response(s.InvoiceDetailSerializer(self._get(pk)).data)


class CreditNoteViewSet(viewsets.GenericViewSet):
    serializer_class = s.CreditNoteSerializer
    queryset = CreditNote.objects.none()

    def _get(self, pk) -> CreditNote:
        note = (
            listing.credit_notes_for(self.request.user)
            .filter(pk=_pk(pk))
            .prefetch_related(
                Prefetch("lines", queryset=CreditNoteLine.objects.order_by("position"))
            )
            .first()
        )
        if note is None:
            raise NotFound("No such credit note.")
        return note

    def _request(self, request):
        """(invoice, reason, credits) from the body; the invoice looked up tenant-first."""
        ser = s.CreditNoteCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        invoice = listing.invoices_for(request.user).filter(pk=data["invoice"]).first()
        if invoice is None:
            raise NotFound("No such invoice.")
        credits = None
        if data.get("lines") is not None:
            lines = {x.pk: x for x in invoice.lines.exclude(kind=LineKind.TAX)}
            credits = []
            for item in data["lines"]:
                line = lines.get(item["line"])
                if line is None:
                    raise ValidationError.for_field("lines", "That line is not on this invoice.")
                amount = (item.get("amount") or "").strip() or None
                credits.append(notes.Credit(line, amount))
            if not credits:
                raise ValidationError.for_field("lines", "Name the lines to credit.")
        return invoice, data["reason"], credits

    @extend_schema(
        parameters=DOCUMENT_FILTERS,
        responses={200: s.CreditNoteSerializer(many=True), **errors(400, 401)},
        summary="Credit notes the caller may see",
    )
    def list(self, request):
        f = _filters(request, states=False)
        qs = listing.filter_credit_notes(listing.credit_notes_for(request.user), f)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.CreditNoteSerializer(page, many=True).data)

    @extend_schema(
        responses={200: s.CreditNoteDetailSerializer, **errors(401, 404)},
        summary="A credit note with its lines",
    )
    def retrieve(self, request, pk=None):
        return Response(s.CreditNoteDetailSerializer(self._get(pk)).data)

    @extend_schema(
        request=s.CreditNoteCreateSerializer,
        responses={201: s.CreditNoteDetailSerializer, **errors(400, 401, 403, 404, 409)},
        summary="Credit an invoice, whole or chosen lines (the seller's admins and billing)",
        description="Issued at once: numbered in the seller's credit note series and sent to "
        "the buyer. Tax is credited per rate on what is credited, never more than billed.",
    )
    def create(self, request):
        invoice, reason, credits = self._request(request)
        note = notes.credit_note_create(
            actor=request.user, invoice=invoice, reason=reason, credits=credits
        )
        return Response(
            s.CreditNoteDetailSerializer(self._get(note.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=s.CreditNoteCreateSerializer,
        responses={200: s.CreditNotePreviewSerializer, **errors(400, 401, 403, 404, 409)},
        summary="What a credit note would hold, without issuing it",
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        invoice, reason, credits = self._request(request)
        plan = notes.credit_note_preview(
            actor=request.user, invoice=invoice, reason=reason, credits=credits
        )
        lines = [
            {
                "line": line.pk,
                "kind": line.kind,
                "description": f"Credit: {line.description}",
                "amount": amount,
                "tax_percent": line.tax_percent,
            }
            for line, amount in plan.wanted
        ] + [
            {
                "line": None,
                "kind": LineKind.TAX,
                "description": tax.description,
                "amount": tax.amount,
                "tax_percent": tax.tax_percent,
            }
            for tax in plan.taxes
        ]
        body = {
            "invoice": invoice.pk,
            "currency": plan.currency,
            "lines": lines,
            "subtotal": plan.subtotal,
            "tax_total": plan.tax,
            "total": plan.total,
            "left_after": plan.left_after,
        }
        return Response(s.CreditNotePreviewSerializer(body).data)


class UpcomingInvoiceViewSet(viewsets.GenericViewSet):
    serializer_class = s.UpcomingInvoiceSerializer
    queryset = Invoice.objects.none()
    pagination_class = None

    def _subscription(self, pk):
        sub = (
            order_selectors.visible_subscriptions(self.request.user)
            .filter(pk=_pk(pk))
            .select_related("price", "promotion")
            .first()
        )
        if sub is None:
            raise NotFound("No such subscription.")
        access.require(self.request.user, "billing.view", sub.customer)
        return sub

    @extend_schema(
        parameters=[
            OpenApiParameter("subscription", int, description="One subscription."),
            OpenApiParameter("customer", int, description="Every running one of a customer."),
        ],
        responses={200: s.UpcomingInvoiceSerializer(many=True), **errors(400, 401, 403, 404)},
        summary="Upcoming invoices of a subscription or of a customer's subscriptions",
        description="What the next renewal bills, line by line, from the same rating as the "
        "billing run. Give `subscription` or `customer`. A subscription that is not running "
        "has none (an empty list).",
    )
    def list(self, request):
        sub_id = request.query_params.get("subscription")
        customer_id = request.query_params.get("customer")
        if bool(sub_id) == bool(customer_id):
            raise ValidationError.for_field("subscription", "Give a subscription or a customer.")
        if sub_id:
            if _pk(sub_id) is None:
                raise ValidationError.for_field("subscription", "Give a subscription id.")
            upcoming = upcoming_invoice(self._subscription(sub_id))
            result = [upcoming] if upcoming is not None else []
        else:
            if _pk(customer_id) is None:
                raise ValidationError.for_field("customer", "Give a customer id.")
            customer = access.access_organization(request.user, customer_id)
            if not customer.is_customer:
                raise ValidationError.for_field("customer", f"{customer.name} is not a customer.")
            access.require(request.user, "billing.view", customer)
            result = upcoming_for_customer(customer)
        return Response(s.UpcomingInvoiceSerializer(result, many=True).data)

    @extend_schema(
        responses={200: s.UpcomingInvoiceSerializer, **errors(401, 403, 404, 409)},
        summary="The upcoming invoice of a subscription",
    )
    def for_subscription(self, request, pk=None):
        sub = self._subscription(pk)
        upcoming = upcoming_invoice(sub)
        if upcoming is None:
            raise Conflict(
                f"Subscription {sub.number} is {sub.get_status_display().lower()}; nothing "
                "more is billed."
            )
        return Response(s.UpcomingInvoiceSerializer(upcoming).data)


def _provider() -> Organization:
    provider = Organization.objects.filter(kind="provider").first()
    if provider is None:
        raise NotFound("No provider is set up.")
    return provider


class BillingRunViewSet(viewsets.GenericViewSet):
    serializer_class = s.BillingRunSerializer
    queryset = BillingRun.objects.none()

    def _allowed(self) -> None:
        access.require(self.request.user, "billing.run", _provider())

    def _with_progress(self, runs):
        for run in runs:
            if run.state == RunState.RUNNING:
                run.still_due = due_subscriptions(run.day).count()
        return runs

    @extend_schema(
        responses={200: s.BillingRunSerializer(many=True), **errors(401, 403)},
        summary="Billing runs, newest first (the provider's admins and billing staff)",
    )
    def list(self, request):
        self._allowed()
        page = self.paginate_queryset(selectors.runs_for(request.user))
        return self.get_paginated_response(
            s.BillingRunSerializer(self._with_progress(page), many=True).data
        )

    @extend_schema(
        responses={200: s.BillingRunSerializer, **errors(401, 403, 404)},
        summary="A billing run (poll it for progress)",
    )
    def retrieve(self, request, pk=None):
        self._allowed()
        run = selectors.runs_for(request.user).filter(pk=_pk(pk)).first()
        if run is None:
            raise NotFound("No such billing run.")
        return Response(s.BillingRunSerializer(self._with_progress([run])[0]).data)

    @extend_schema(
        request=None,
        responses={202: s.BillingRunStartedSerializer, **errors(401, 403)},
        summary="Start a billing run now (as the caller, on the billing queue)",
        description="Renews and bills every subscription due up to today, then issues the "
        "complete invoices. Safe to start while another runs: nothing is billed twice. The "
        "run appears in the list when it starts.",
    )
    def create(self, request):
        self._allowed()
        from billing.tasks import billing_run_now

        user_id = request.user.pk
        transaction.on_commit(lambda: billing_run_now.delay(user_id))
        today = clock.today()
        return Response(
            s.BillingRunStartedSerializer(
                {"day": today, "message": f"Billing up to {today:%d %b %Y} has started."}
            ).data,
            status=status.HTTP_202_ACCEPTED,
        )


class BillingIssueViewSet(viewsets.GenericViewSet):
    serializer_class = s.BillingIssueSerializer
    queryset = BillingIssue.objects.none()

    def _get(self, pk) -> BillingIssue:
        issue = listing.issues_for(self.request.user).filter(pk=_pk(pk)).first()
        if issue is None:
            raise NotFound("No such billing issue.")
        return issue

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state", str, enum=["open", "resolved", "all"], description="Default: open."
            )
        ],
        responses={200: s.BillingIssueSerializer(many=True), **errors(400, 401)},
        summary="Subscriptions the billing run could not bill (sellers' admins and billing)",
    )
    def list(self, request):
        state = request.query_params.get("state") or "open"
        qs = listing.issues_for(request.user)
        if state == "open":
            qs = qs.filter(resolved_at__isnull=True)
        elif state == "resolved":
            qs = qs.filter(resolved_at__isnull=False)
        elif state != "all":
            raise ValidationError.for_field("state", "State: choose open, resolved or all.")
        page = self.paginate_queryset(qs.order_by("-opened_at", "-pk"))
        return self.get_paginated_response(s.BillingIssueSerializer(page, many=True).data)

    @extend_schema(
        responses={200: s.BillingIssueSerializer, **errors(401, 404)},
        summary="A billing issue",
    )
    def retrieve(self, request, pk=None):
        return Response(s.BillingIssueSerializer(self._get(pk)).data)

    @extend_schema(
        request=None,
        responses={200: s.BillingIssueSerializer, **errors(401, 403, 404)},
        summary="Fixed: the next billing run bills the subscription again",
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        issue = billing_issue_resolve(actor=request.user, issue=self._get(pk))
        return Response(s.BillingIssueSerializer(self._get(issue.pk)).data)
