"""REST API of the catalog. Lookups are tenant-first through ``catalog.selectors`` (an object
outside the caller's part of the tree is a 404), writes go through ``catalog.services`` and
errors leave through the project's one exception handler."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, F, Prefetch, Window
from django.db.models.functions import RowNumber
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog import quotes, selectors, services
from catalog.api import serializers as s
from catalog.models import (
    Offer,
    Plan,
    PlanTransition,
    Price,
    PriceComponent,
    PriceTier,
    Promotion,
    TaxRate,
)
from portal import access
from portal.errors import NotFound, ValidationError
from portal.models import Membership, Organization


def _plan(code) -> Plan:
    try:
        return selectors.plan_by_code(code)
    except NotFound:
        raise ValidationError.for_field("plan", f"No plan with the code {code!r}.") from None


def _child(seller: Organization, org_id, field: str) -> Organization | None:
    if org_id in (None, ""):
        return None
    org = Organization.objects.filter(parent=seller, pk=org_id).first()
    if org is None:
        raise ValidationError.for_field(field, f"{org_id} is not directly below {seller.name}.")
    return org


def _date_param(request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError.for_field(name, "Use a date such as 2027-01-31.") from None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _default_customer(request) -> Organization | None:
    """The customer a request is about: ``?customer=``, or the caller's only customer when
    they belong to exactly one and to no seller."""
    raw = request.query_params.get("customer")
    if raw not in (None, ""):
        return selectors.access_customer(request.user, raw)
    if selectors.catalog_sellers(request.user).exists():
        return None
    memberships = list(
        Membership.objects.filter(
            user=request.user, is_active=True, organization__kind="customer"
        ).select_related("organization")[:2]
    )
    return memberships[0].organization if len(memberships) == 1 else None


class PlanViewSet(viewsets.GenericViewSet):
    """The Box plans the portal sells and their limits. Anyone signed in may read them; the
    provider's admins change them."""

    serializer_class = s.PlanSerializer
    queryset = Plan.objects.none()

    def _plans(self):
        return Plan.objects.prefetch_related(
            Prefetch("transitions", queryset=PlanTransition.objects.select_related("to_plan"))
        )

    @extend_schema(
        parameters=[OpenApiParameter("active", bool, description="Only plans on sale.")],
        summary="List plans",
    )
    def list(self, request):
        qs = self._plans()
        if request.query_params.get("active") in ("1", "true", "yes"):
            qs = qs.filter(is_active=True)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.PlanSerializer(page, many=True).data)

    @extend_schema(summary="Get a plan")
    def retrieve(self, request, pk=None):
        plan = self._plans().filter(pk=_int(pk)).first()
        if plan is None:
            raise NotFound("No such plan.")
        return Response(s.PlanSerializer(plan).data)

    @extend_schema(
        request=s.PlanWriteSerializer,
        responses={201: s.PlanSerializer},
        summary="Create a plan (provider admins)",
    )
    def create(self, request):
        ser = s.PlanWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        transitions = data.pop("transitions", [])
        plan = services.plan_create(actor=request.user, transitions=transitions, **data)
        return Response(
            s.PlanSerializer(self._plans().get(pk=plan.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=s.PlanWriteSerializer(partial=True),
        responses=s.PlanSerializer,
        summary="Change a plan's limits or allowed changes (provider admins)",
    )
    def partial_update(self, request, pk=None):
        plan = Plan.objects.filter(pk=_int(pk)).first()
        if plan is None:
            raise NotFound("No such plan.")
        ser = s.PlanWriteSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        data.pop("code", None)
        transitions = data.pop("transitions", None)
        services.plan_update(actor=request.user, plan=plan, transitions=transitions, **data)
        return Response(s.PlanSerializer(self._plans().get(pk=plan.pk)).data)


def _components_prefetch():
    return Prefetch(
        "components",
        queryset=PriceComponent.objects.prefetch_related(
            Prefetch("tiers", queryset=PriceTier.objects.order_by("position"))
        ),
    )


class PriceViewSet(viewsets.GenericViewSet):
    """Price versions the caller may read: their sellers' prices, their own cost (a reseller's
    wholesale price from its parent), a customer's own retail prices. A new price is a new
    version; versions are never changed."""

    serializer_class = s.PriceSerializer
    queryset = Price.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("seller", int),
            OpenApiParameter("plan", str, description="A plan code."),
            OpenApiParameter("audience", str, enum=["retail", "wholesale"]),
            OpenApiParameter("buyer", int),
            OpenApiParameter("currency", str),
            OpenApiParameter("term", str, enum=["monthly", "annual"]),
            OpenApiParameter(
                "in_force_on",
                date,
                description="Only the version of each line in force on this day.",
            ),
        ],
        summary="List price versions",
    )
    def list(self, request):
        qs = selectors.visible_prices(request.user)
        params = request.query_params
        for name in ("seller", "buyer"):
            if params.get(name):
                qs = qs.filter(**{f"{name}_id": _int(params[name])})
        if params.get("plan"):
            qs = qs.filter(plan__code=params["plan"])
        for name in ("audience", "currency", "term"):
            if params.get(name):
                qs = qs.filter(**{name: params[name]})
        day = _date_param(request, "in_force_on")
        if day is not None:
            qs = (
                qs.filter(valid_from__lte=day)
                .annotate(
                    line_rank=Window(
                        RowNumber(),
                        partition_by=[
                            F("seller_id"),
                            F("plan_id"),
                            F("audience"),
                            F("buyer_id"),
                            F("currency"),
                            F("term"),
                        ],
                        order_by=[F("valid_from").desc(), F("pk").desc()],
                    )
                )
                .filter(line_rank=1)
            )
        qs = (
            qs.select_related("plan")
            .prefetch_related(_components_prefetch())
            .order_by(
                "seller_id",
                "plan__sort_order",
                "audience",
                "currency",
                "term",
                "-valid_from",
                "-pk",
            )
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.PriceSerializer(page, many=True).data)

    @extend_schema(summary="Get a price version")
    def retrieve(self, request, pk=None):
        return Response(s.PriceSerializer(selectors.access_price(request.user, pk)).data)

    @extend_schema(
        request=s.PriceCreateSerializer,
        responses={201: s.PriceSerializer},
        summary="Create a new price version",
        description=(
            "In force from `valid_from` (today by default, never in the past). A reseller's "
            "price may not be below its cost in any component; the error names the component, "
            "the amount and the cost."
        ),
    )
    def create(self, request):
        ser = s.PriceCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        seller = selectors.access_seller(request.user, data.pop("seller"))
        price = services.price_create(
            actor=request.user,
            seller=seller,
            plan=_plan(data.pop("plan")),
            buyer=_child(seller, data.pop("buyer", None), "buyer"),
            **data,
        )
        price = Price.objects.prefetch_related(_components_prefetch()).get(pk=price.pk)
        return Response(s.PriceSerializer(price).data, status=status.HTTP_201_CREATED)


def _customer_offers(customer: Organization, offers=None) -> list[dict]:
    cards = selectors.offer_cards(
        seller=customer.parent,
        currency=customer.currency
        if customer.currency in selectors.seller_currencies(customer.parent)
        else customer.parent.currency,
        on_date=selectors.today(),
        customer=customer,
        offers=offers,
    )
    return [
        {
            "id": card.offer.pk,
            "seller": card.offer.seller_id,
            "plan": card.offer.plan,
            "display_name": card.offer.display_name,
            "description": card.offer.description or card.offer.plan.description,
            "trial_days": card.trial_days,
            "prices": [s.price_brief(p) for _, p in sorted(card.prices.items())],
            "promotions": [f"{p.name}: {p.discount_label}" for p in card.promotions],
        }
        for card in cards
    ]


class OfferViewSet(viewsets.GenericViewSet):
    """Offers. A seller's staff see and manage their offers (and those of the sellers below
    them); a customer sees its seller's offers at its own prices (``?customer=``)."""

    serializer_class = s.OfferSerializer
    queryset = Offer.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("seller", int, description="Staff: the offers of this seller."),
            OpenApiParameter(
                "customer", int, description="The offers this customer may buy, at its prices."
            ),
        ],
        responses=s.OfferSerializer(many=True),
        summary="List offers",
    )
    def list(self, request):
        customer = _default_customer(request)
        if customer is not None:
            data = _customer_offers(customer)
            return Response(
                {
                    "count": len(data),
                    "next": None,
                    "previous": None,
                    "results": s.CustomerOfferSerializer(data, many=True).data,
                }
            )
        qs = (
            selectors.visible_offers(request.user)
            .select_related("plan")
            .prefetch_related("available_to")
            .order_by("seller_id", "plan__sort_order", "pk")
        )
        if request.query_params.get("seller"):
            qs = qs.filter(seller_id=_int(request.query_params["seller"]))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.OfferSerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("customer", int)],
        summary="Get an offer",
    )
    def retrieve(self, request, pk=None):
        customer = _default_customer(request)
        if customer is not None:
            offer = selectors.storefront_offer(customer.parent, pk)
            data = _customer_offers(customer, offers=[offer])
            if not data:
                raise NotFound("No such offer.")
            return Response(s.CustomerOfferSerializer(data[0]).data)
        return Response(s.OfferSerializer(selectors.access_offer(request.user, pk)).data)

    @extend_schema(
        request=s.OfferCreateSerializer,
        responses={201: s.OfferSerializer},
        summary="Publish (provider) or pick (reseller) an offer",
    )
    def create(self, request):
        ser = s.OfferCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        seller = selectors.access_seller(request.user, data.pop("seller"))
        resellers = [_child(seller, pk, "available_to") for pk in data.pop("available_to")]
        offer = services.offer_publish(
            actor=request.user,
            seller=seller,
            plan=_plan(data.pop("plan")),
            available_to=resellers,
            **data,
        )
        return Response(s.OfferSerializer(offer).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.OfferUpdateSerializer,
        responses=s.OfferSerializer,
        summary="Change an offer's trial, display or availability",
    )
    def partial_update(self, request, pk=None):
        offer = selectors.access_offer(request.user, pk)
        ser = s.OfferUpdateSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        available_to = data.pop("available_to", None)
        if available_to is not None:
            available_to = [_child(offer.seller, pk, "available_to") for pk in available_to]
        offer = services.offer_update(
            actor=request.user, offer=offer, available_to=available_to, **data
        )
        return Response(s.OfferSerializer(offer).data)

    @extend_schema(request=None, responses=s.OfferSerializer, summary="Stop selling an offer")
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        offer = selectors.access_offer(request.user, pk)
        offer = services.offer_withdraw(actor=request.user, offer=offer)
        return Response(s.OfferSerializer(offer).data)


class PriceListViewSet(viewsets.GenericViewSet):
    """A seller's price list: each of its offers with its retail and wholesale prices in force
    (and scheduled), its cost for a reseller, and what its parent offers it that it does not
    sell yet."""

    serializer_class = s.PriceListSerializer
    queryset = Price.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("on", date, description="The day; today by default.")],
        summary="A seller's price list",
    )
    def retrieve(self, request, pk=None):
        seller = selectors.access_seller(request.user, pk)
        day = _date_param(request, "on") or selectors.today()
        offers = selectors.seller_offers(seller)
        plan_ids = [o.plan_id for o in offers]
        retail = selectors.prices_in_force(
            seller=seller, audience="retail", on_date=day, plans=plan_ids
        )
        wholesale = selectors.prices_in_force(
            seller=seller, audience="wholesale", on_date=day, plans=plan_ids
        )
        cost = selectors.cost_prices(seller=seller, on_date=day)
        scheduled = (
            Price.objects.filter(seller=seller, buyer__isnull=True, valid_from__gt=day)
            .prefetch_related(_components_prefetch())
            .order_by("valid_from", "pk")
        )

        def of(prices: dict, plan_id: int) -> list[dict]:
            return [
                s.RetailPriceSerializer(s.price_brief(p)).data
                for key, p in sorted(prices.items())
                if key[0] == plan_id
            ]

        by_plan: dict[int, list] = {}
        for p in scheduled:
            by_plan.setdefault(p.plan_id, []).append(
                {"audience": p.audience, **s.RetailPriceSerializer(s.price_brief(p)).data}
            )
        picked = {o.plan_id for o in offers if o.is_active}
        data = {
            "seller": seller.pk,
            "on_date": day,
            "currencies": selectors.seller_currencies(seller),
            "offers": [
                {
                    "offer": o.pk,
                    "plan": o.plan.code,
                    "is_active": o.is_active,
                    "trial_days": o.trial_days,
                    "retail": of(retail, o.plan_id),
                    "wholesale": of(wholesale, o.plan_id),
                    "cost": of(cost, o.plan_id),
                    "scheduled": by_plan.get(o.plan_id, []),
                }
                for o in offers
            ],
            "available": [
                {"offer": o.pk, "plan": o.plan.code, "cost": of(cost, o.plan_id)}
                for o in selectors.available_upstream_offers(seller)
                if o.plan_id not in picked
            ],
        }
        return Response(s.PriceListSerializer(data).data)


class PromotionViewSet(viewsets.GenericViewSet):
    """Promotions of the sellers whose catalog the caller reads; ``check`` tells anyone who
    may buy from a seller whether a code is valid."""

    serializer_class = s.PromotionSerializer
    queryset = Promotion.objects.none()

    def _qs(self):
        return (
            selectors.visible_promotions(self.request.user)
            .annotate(used=Count("redemptions"))
            .prefetch_related("plans")
            .order_by("seller_id", "pk")
        )

    @extend_schema(parameters=[OpenApiParameter("seller", int)], summary="List promotions")
    def list(self, request):
        qs = self._qs()
        if request.query_params.get("seller"):
            qs = qs.filter(seller_id=_int(request.query_params["seller"]))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.PromotionSerializer(page, many=True).data)

    @extend_schema(summary="Get a promotion")
    def retrieve(self, request, pk=None):
        promotion = selectors.access_promotion(request.user, pk)
        return Response(s.PromotionSerializer(self._qs().get(pk=promotion.pk)).data)

    @extend_schema(
        request=s.PromotionCreateSerializer,
        responses={201: s.PromotionSerializer},
        summary="Create a promotion",
    )
    def create(self, request):
        ser = s.PromotionCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        seller = selectors.access_seller(request.user, data.pop("seller"))
        plans = [_plan(code) for code in data.pop("plans")]
        promotion = services.promotion_create(
            actor=request.user, seller=seller, plans=plans, **data
        )
        return Response(
            s.PromotionSerializer(self._qs().get(pk=promotion.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=s.PromotionUpdateSerializer,
        responses=s.PromotionSerializer,
        summary="Change a promotion's name, end, limits or switch it off",
    )
    def partial_update(self, request, pk=None):
        promotion = selectors.access_promotion(request.user, pk)
        ser = s.PromotionUpdateSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        services.promotion_update(actor=request.user, promotion=promotion, **ser.validated_data)
        return Response(s.PromotionSerializer(self._qs().get(pk=promotion.pk)).data)

    @extend_schema(
        request=s.PromotionCheckSerializer,
        responses=s.PromotionCheckResultSerializer,
        summary="Check a promotion code",
        description="A valid code answers 200; any other answers 400 saying why.",
    )
    @action(detail=False, methods=["post"])
    def check(self, request):
        ser = s.PromotionCheckSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        customer = None
        if data.get("customer"):
            customer = selectors.access_customer(request.user, data["customer"])
            seller = customer.parent
        elif data.get("seller"):
            seller = selectors.access_seller(request.user, data["seller"])
        else:
            customer = _default_customer(request)
            if customer is None:
                raise ValidationError.for_field("customer", "Say which customer or seller.")
            seller = customer.parent
        promotion = selectors.promotion_check(
            seller=seller,
            code=data["code"],
            plan=_plan(data["plan"]),
            customer=customer,
            on_date=data.get("on_date") or selectors.today(),
        )
        return Response(
            {
                "valid": True,
                "promotion": {
                    "id": promotion.pk,
                    "code": promotion.code,
                    "name": promotion.name,
                    "discount_label": promotion.discount_label,
                },
            }
        )


class TaxRateViewSet(viewsets.GenericViewSet):
    serializer_class = s.TaxRateSerializer
    queryset = TaxRate.objects.none()

    @extend_schema(parameters=[OpenApiParameter("seller", int)], summary="List tax rates")
    def list(self, request):
        qs = selectors.visible_tax_rates(request.user).order_by(
            "seller_id", "country", "-valid_from"
        )
        if request.query_params.get("seller"):
            qs = qs.filter(seller_id=_int(request.query_params["seller"]))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.TaxRateSerializer(page, many=True).data)

    @extend_schema(summary="Get a tax rate")
    def retrieve(self, request, pk=None):
        return Response(s.TaxRateSerializer(selectors.access_tax_rate(request.user, pk)).data)

    @extend_schema(
        request=s.TaxRateCreateSerializer,
        responses={201: s.TaxRateSerializer},
        summary="Add a tax rate (it replaces its country's rate from its first day)",
    )
    def create(self, request):
        ser = s.TaxRateCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        seller = selectors.access_seller(request.user, data.pop("seller"))
        rate = services.tax_rate_create(actor=request.user, seller=seller, **data)
        return Response(s.TaxRateSerializer(rate).data, status=status.HTTP_201_CREATED)


class SellerCurrencyViewSet(viewsets.GenericViewSet):
    """``/sellers/{id}/currencies/``: the currencies a seller sells in."""

    serializer_class = s.SellerCurrenciesSerializer
    queryset = Organization.objects.none()

    def _answer(self, seller):
        return Response({"seller": seller.pk, "currencies": selectors.seller_currencies(seller)})

    @extend_schema(
        methods=["get"], responses=s.SellerCurrenciesSerializer, summary="A seller's currencies"
    )
    @extend_schema(
        methods=["post"],
        request=s.CurrencyChangeSerializer,
        responses=s.SellerCurrenciesSerializer,
        summary="Add a currency",
    )
    @action(detail=True, methods=["get", "post"])
    def currencies(self, request, pk=None):
        seller = selectors.access_seller(request.user, pk)
        if request.method == "POST":
            ser = s.CurrencyChangeSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            services.seller_currency_add(
                actor=request.user, seller=seller, currency=ser.validated_data["currency"]
            )
        return self._answer(seller)

    @extend_schema(
        request=None, responses=s.SellerCurrenciesSerializer, summary="Remove a currency"
    )
    @action(detail=True, methods=["delete"], url_path=r"currencies/(?P<currency>[A-Za-z]{3})")
    def remove_currency(self, request, pk=None, currency=None):
        seller = selectors.access_seller(request.user, pk)
        services.seller_currency_remove(actor=request.user, seller=seller, currency=currency)
        return self._answer(seller)


class QuoteViewSet(viewsets.GenericViewSet):
    serializer_class = s.QuoteSerializer
    queryset = Offer.objects.none()

    @extend_schema(
        request=s.QuoteRequestSerializer,
        responses=s.QuoteSerializer,
        summary="Quote a subscription: the exact lines of its first and later invoices",
    )
    def create(self, request):
        ser = s.QuoteRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        customer = None
        if data.get("customer"):
            customer = selectors.access_customer(request.user, data["customer"])
        else:
            customer = _default_customer(request)
        if customer is not None:
            seller = customer.parent
            # The seller's staff may quote what is not in its storefront, a customer may not.
            staff = access.can(request.user, "catalog.view", seller)
            offer = selectors.storefront_offer(seller, data["offer"], storefront_only=not staff)
        else:
            offer = selectors.access_offer(request.user, data["offer"])
            seller = offer.seller
        quote = quotes.quote_build(
            seller=seller,
            customer=customer,
            offer=offer,
            quantity=data["quantity"],
            term=data["term"],
            start_date=data.get("start_date") or selectors.today(),
            promotion_code=data.get("promotion_code") or None,
            currency=data.get("currency") or None,
        )
        return Response(quotes.quote_as_dict(quote))
