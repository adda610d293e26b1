"""REST API of the catalog. Lookups are tenant-first through ``catalog.selectors`` (an object
outside the caller's part of the tree is a 404), writes go through ``catalog.services`` and
errors leave through the project's one exception handler."""

from __future__ import annotations

from django.db.models import Count, F, Prefetch, Window
from django.db.models.functions import RowNumber
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog import quotes, selectors, services
from catalog.api import serializers as s
from catalog.models import (
    Audience,
    Offer,
    Plan,
    PlanTransition,
    Price,
    PriceComponent,
    PriceTier,
    Promotion,
    TaxRate,
    Term,
)
from portal import access
from portal.api.base import TenantViewSet
from portal.errors import NotFound, ValidationError
from portal.models import Membership, Organization
from portal.params import bool_param, choice_param, date_param, id_param, text_param


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


def _default_customer(request, customer_id) -> Organization | None:
    """The customer a request is about: ``customer_id`` (``?customer=``), or the caller's only
    customer when they belong to exactly one and to no seller."""
    if customer_id not in (None, ""):
        return selectors.access_customer(request.user, customer_id)
    if selectors.catalog_sellers(request.user).exists():
        return None
    memberships = list(
        Membership.objects.filter(
            user=request.user, is_active=True, organization__kind="customer"
        ).select_related("organization")[:2]
    )
    return memberships[0].organization if len(memberships) == 1 else None


class PlanViewSet(TenantViewSet):
    """The Box plans the portal sells and their limits. Anyone signed in may read them; the
    provider's admins change them."""

    model = Plan
    serializer_class = s.PlanSerializer
    not_found_message = "No such plan."
    query_params = {"list": (bool_param("active", description="Only plans on sale."),)}

    def visible_queryset(self, request):
        return Plan.objects.prefetch_related(
            Prefetch("transitions", queryset=PlanTransition.objects.select_related("to_plan"))
        )

    def filter_queryset(self, queryset):
        return queryset.filter(is_active=True) if self.query["active"] else queryset

    @extend_schema(summary="List plans")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="Get a plan")
    def retrieve(self, request, pk=None):
        return Response(s.PlanSerializer(self.get_visible(pk)).data)

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
            s.PlanSerializer(self.get_visible(plan.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=s.PlanWriteSerializer(partial=True),
        responses=s.PlanSerializer,
        summary="Change a plan's limits or allowed changes (provider admins)",
    )
    def partial_update(self, request, pk=None):
        plan = self.get_visible(pk)
        ser = s.PlanWriteSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        data.pop("code", None)
        transitions = data.pop("transitions", None)
        services.plan_update(actor=request.user, plan=plan, transitions=transitions, **data)
        return Response(s.PlanSerializer(self.get_visible(plan.pk)).data)


def _components_prefetch():
    return Prefetch(
        "components",
        queryset=PriceComponent.objects.prefetch_related(
            Prefetch("tiers", queryset=PriceTier.objects.order_by("position"))
        ),
    )


class PriceViewSet(TenantViewSet):
    """Price versions the caller may read: their sellers' prices, their own cost (a reseller's
    wholesale price from its parent), a customer's own retail prices. A new price is a new
    version; versions are never changed."""

    model = Price
    serializer_class = s.PriceSerializer
    not_found_message = "No such price."
    query_params = {
        "list": (
            id_param("seller", lookup="seller_id"),
            text_param("plan", lookup="plan__code", description="A plan code.", max_length=40),
            choice_param("audience", Audience.values, lookup="audience"),
            id_param("buyer", lookup="buyer_id"),
            text_param("currency", lookup="currency", max_length=3),
            choice_param("term", Term.values, lookup="term"),
            date_param(
                "in_force_on", description="Only the version of each line in force on this day."
            ),
        )
    }

    def visible_queryset(self, request):
        return (
            selectors.visible_prices(request.user)
            .select_related("plan", "seller", "buyer")
            .prefetch_related(_components_prefetch())
        )

    def filter_queryset(self, queryset):
        qs = super().filter_queryset(queryset)
        day = self.query["in_force_on"]
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
        return qs.order_by(
            "seller_id", "plan__sort_order", "audience", "currency", "term", "-valid_from", "-pk"
        )

    @extend_schema(summary="List price versions")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="Get a price version")
    def retrieve(self, request, pk=None):
        return Response(s.PriceSerializer(self.get_visible(pk)).data)

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
        return Response(
            s.PriceSerializer(self.get_visible(price.pk)).data, status=status.HTTP_201_CREATED
        )


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


def _offer_answer(many: bool = False) -> PolymorphicProxySerializer:
    """A seller's staff get ``Offer``, a customer gets ``CustomerOffer``."""
    return PolymorphicProxySerializer(
        component_name="OfferOrCustomerOffer",
        serializers=[s.OfferSerializer, s.CustomerOfferSerializer],
        resource_type_field_name=None,
        many=many,
    )


CUSTOMER_PARAM = id_param(
    "customer", description="The offers this customer may buy, at its prices."
)


class OfferViewSet(TenantViewSet):
    """Offers. A seller's staff see and manage their offers (and those of the sellers below
    them); a customer sees its seller's offers at its own prices (``?customer=``, or by default
    for a person who belongs to one customer and no seller): those answers have the customer's
    shape (``CustomerOffer``: its prices, trial and promotions, no availability)."""

    model = Offer
    serializer_class = s.OfferSerializer
    owner = "seller"
    view_rule = "catalog.view"
    not_found_message = "No such offer."
    query_params = {
        "list": (
            id_param("seller", lookup="seller_id", description="Staff: the offers of this seller."),
            CUSTOMER_PARAM,
        ),
        "retrieve": (CUSTOMER_PARAM,),
    }

    def visible_queryset(self, request):
        return (
            selectors.visible_offers(request.user)
            .select_related("plan", "plan__product", "seller", "parent_offer")
            .prefetch_related("available_to")
            .order_by("seller_id", "plan__sort_order", "pk")
        )

    @extend_schema(responses=_offer_answer(many=True), summary="List offers")
    def list(self, request):
        customer = _default_customer(request, self.query["customer"])
        if customer is not None:
            page = self.paginate_queryset(_customer_offers(customer))
            return self.get_paginated_response(s.CustomerOfferSerializer(page, many=True).data)
        return self.list_visible()

    @extend_schema(responses=_offer_answer(), summary="Get an offer")
    def retrieve(self, request, pk=None):
        customer = _default_customer(request, self.query["customer"])
        if customer is not None:
            offer = selectors.storefront_offer(customer.parent, pk)
            data = _customer_offers(customer, offers=[offer])
            if not data:
                raise NotFound("No such offer.")
            return Response(s.CustomerOfferSerializer(data[0]).data)
        return Response(s.OfferSerializer(self.get_visible(pk)).data)

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
        offer = self.get_visible(pk)
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
        offer = self.get_visible(pk)
        offer = services.offer_withdraw(actor=request.user, offer=offer)
        return Response(s.OfferSerializer(offer).data)


class PriceListViewSet(TenantViewSet):
    """A seller's price list: each of its offers with its retail and wholesale prices in force
    (and scheduled), its cost for a reseller, and what its parent offers it that it does not
    sell yet."""

    model = Organization
    serializer_class = s.PriceListSerializer
    view_rule = "catalog.view"
    not_found_message = "No such seller."
    query_params = {"retrieve": (date_param("on", description="The day; today by default."),)}

    def visible_queryset(self, request):
        return selectors.catalog_sellers(request.user)

    @extend_schema(summary="A seller's price list")
    def retrieve(self, request, pk=None):
        seller = self.get_visible(pk)
        day = self.query["on"] or selectors.today()
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


class PromotionViewSet(TenantViewSet):
    """Promotions of the sellers whose catalog the caller reads; ``check`` tells anyone who
    may buy from a seller whether a code is valid."""

    model = Promotion
    serializer_class = s.PromotionSerializer
    owner = "seller"
    view_rule = "catalog.view"
    not_found_message = "No such promotion."
    query_params = {"list": (id_param("seller", lookup="seller_id"),)}

    def visible_queryset(self, request):
        return (
            selectors.visible_promotions(request.user)
            .select_related("seller")
            .annotate(used=Count("redemptions"))
            .prefetch_related("plans")
            .order_by("seller_id", "pk")
        )

    @extend_schema(summary="List promotions")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="Get a promotion")
    def retrieve(self, request, pk=None):
        return Response(s.PromotionSerializer(self.get_visible(pk)).data)

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
            s.PromotionSerializer(self.get_visible(promotion.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=s.PromotionUpdateSerializer,
        responses=s.PromotionSerializer,
        summary="Change a promotion's name, end, limits or switch it off",
    )
    def partial_update(self, request, pk=None):
        promotion = self.get_visible(pk)
        ser = s.PromotionUpdateSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        services.promotion_update(actor=request.user, promotion=promotion, **ser.validated_data)
        return Response(s.PromotionSerializer(self.get_visible(pk)).data)

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
            customer = _default_customer(request, request.query_params.get("customer"))
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


class TaxRateViewSet(TenantViewSet):
    model = TaxRate
    serializer_class = s.TaxRateSerializer
    owner = "seller"
    view_rule = "catalog.view"
    not_found_message = "No such tax rate."
    query_params = {"list": (id_param("seller", lookup="seller_id"),)}

    def visible_queryset(self, request):
        return (
            selectors.visible_tax_rates(request.user)
            .select_related("seller")
            .order_by("seller_id", "country", "-valid_from")
        )

    @extend_schema(summary="List tax rates")
    def list(self, request):
        return self.list_visible()

    @extend_schema(summary="Get a tax rate")
    def retrieve(self, request, pk=None):
        return Response(s.TaxRateSerializer(self.get_visible(pk)).data)

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


class SellerCurrencyViewSet(TenantViewSet):
    """``/sellers/{id}/currencies/``: the currencies a seller sells in."""

    model = Organization
    serializer_class = s.SellerCurrenciesSerializer
    view_rule = "catalog.view"
    not_found_message = "No such seller."

    def visible_queryset(self, request):
        return selectors.catalog_sellers(request.user)

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
        seller = self.get_visible(pk)
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
        seller = self.get_visible(pk)
        services.seller_currency_remove(actor=request.user, seller=seller, currency=currency)
        return self._answer(seller)


class QuoteViewSet(TenantViewSet):
    model = Offer
    serializer_class = s.QuoteSerializer

    def visible_queryset(self, request):
        return selectors.visible_offers(request.user)

    @extend_schema(
        request=s.QuoteRequestSerializer,
        responses={200: s.QuoteSerializer},
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
            customer = _default_customer(request, request.query_params.get("customer"))
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
