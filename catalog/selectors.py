"""Reads of the catalog: which offers a seller may sell, which price version is in force, which
tax rate applies, whether a trial or a promotion may be used, and the tenant-first lookups the
consoles and the API use (a missing object and a forbidden one are the same 404).

Every function that serves a page loads what it needs in a fixed number of queries, whatever
the number of offers, prices or resellers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from catalog.models import (
    Audience,
    Offer,
    Plan,
    PlanTransition,
    Price,
    PriceComponent,
    PriceTier,
    Promotion,
    PromotionKind,
    PromotionRedemption,
    SellerCurrency,
    TaxRate,
    Term,
    TrialUse,
)
from portal import access, clock
from portal.errors import NotFound, ValidationError
from portal.models import Organization, OrgKind, User
from portal.params import parse_id

SELLER_KINDS = (OrgKind.PROVIDER, OrgKind.RESELLER)


def today() -> date:
    return clock.today()


# --- currencies -----------------------------------------------------------------------------------


def seller_currencies(seller: Organization) -> list[str]:
    """The currencies a seller sells in: its organization's currency first, then the others it
    added."""
    extra = SellerCurrency.objects.filter(seller=seller).values_list("currency", flat=True)
    return [seller.currency, *sorted(c for c in extra if c != seller.currency)]


def pricing_currencies(seller: Organization, plan: Plan, on_date: date) -> list[str]:
    """The currencies ``seller`` may price ``plan`` in: those it sells in, and for a reseller
    only those it has a cost in (its seller's wholesale price in force, the cost the price
    page shows), since a price in a currency without a cost could never be quoted."""
    currencies = seller_currencies(seller)
    if not seller.is_reseller:
        return currencies
    costs = {
        price.currency
        for price in cost_prices(seller=seller, on_date=on_date, plans=[plan]).values()
    }
    return [c for c in currencies if c in costs]


# --- plans ----------------------------------------------------------------------------------------


def plan_list(*, active_only: bool = False) -> QuerySet[Plan]:
    qs = Plan.objects.select_related("product").prefetch_related(
        Prefetch("transitions", queryset=PlanTransition.objects.select_related("to_plan"))
    )
    return qs.filter(is_active=True) if active_only else qs


def plan_by_code(code: str) -> Plan:
    plan = Plan.objects.filter(code=(code or "").strip().lower()).first()
    if plan is None:
        raise NotFound(f"No plan with the code {code!r}.")
    return plan


# --- offers and the chain above them --------------------------------------------------------------


class _Chain:
    """The offers of every seller above ``seller`` and who they are available to, loaded in two
    queries, to decide whether an offer can be sold at the bottom of the chain."""

    def __init__(self, seller: Organization):
        self.seller = seller
        self.root_id = seller.ancestor_ids[0]
        above = seller.ancestor_ids[:-1]
        self.offers: dict[int, Offer] = {}
        self.available: set[tuple[int, int]] = set()
        if not above:
            return
        for offer in Offer.objects.filter(seller_id__in=above).select_related("plan"):
            self.offers[offer.pk] = offer
        if self.offers:
            through = Offer.available_to.through
            self.available = set(
                through.objects.filter(
                    offer_id__in=list(self.offers), organization_id__in=seller.ancestor_ids[1:]
                ).values_list("offer_id", "organization_id")
            )

    def open_to(self, offer: Offer, buyer_id: int) -> bool:
        """``offer`` is on sale and the reseller ``buyer_id`` directly below may resell it."""
        return (
            offer.is_active
            and offer.plan.is_active
            and (offer.available_to_all_resellers or (offer.pk, buyer_id) in self.available)
        )

    def upstream_ok(self, offer: Offer) -> bool:
        """Every offer above ``offer`` is on sale and open to the seller below it."""
        current = offer
        for _ in range(64):  # the tree is shallow; the bound only guards against a cycle
            if current.parent_offer_id is None:
                # Only the provider's offers start a chain.
                return current.seller_id == self.root_id
            parent = self.offers.get(current.parent_offer_id)
            if parent is None or parent.plan_id != current.plan_id:
                return False
            if not self.open_to(parent, current.seller_id):
                return False
            current = parent
        return False


def _offers_of(seller: Organization) -> QuerySet[Offer]:
    return Offer.objects.filter(seller=seller).select_related("plan", "plan__product")


def sellable_offers(seller: Organization, *, storefront_only: bool = True) -> list[Offer]:
    """The seller's offers that can be sold today: active, on an active plan, and still open to
    it all the way up the chain. ``storefront_only`` keeps those listed in its storefront."""
    qs = _offers_of(seller).filter(is_active=True, plan__is_active=True)
    if storefront_only:
        qs = qs.filter(in_storefront=True)
    offers = list(qs)
    if seller.is_provider:
        return [o for o in offers if o.parent_offer_id is None]
    chain = _Chain(seller)
    return [o for o in offers if chain.upstream_ok(o)]


def offer_sellable(offer: Offer) -> bool:
    if not (offer.is_active and offer.plan.is_active):
        return False
    if offer.seller.is_provider:
        return offer.parent_offer_id is None
    return _Chain(offer.seller).upstream_ok(offer)


def available_upstream_offers(seller: Organization) -> list[Offer]:
    """The offers of the seller's parent that the seller (a reseller) may pick and resell."""
    if not seller.is_reseller:
        return []
    chain = _Chain(seller)
    result = [
        o
        for o in chain.offers.values()
        if o.seller_id == seller.parent_id and chain.open_to(o, seller.pk) and chain.upstream_ok(o)
    ]
    return sorted(result, key=lambda o: (o.plan.sort_order, o.plan.name, o.pk))


def upstream_offer_for(seller: Organization, plan: Plan) -> Offer | None:
    for offer in available_upstream_offers(seller):
        if offer.plan_id == plan.pk:
            return offer
    return None


def seller_offers(seller: Organization) -> list[Offer]:
    """All of a seller's offers, withdrawn ones included (for its console)."""
    return list(_offers_of(seller).prefetch_related("available_to"))


# --- prices ---------------------------------------------------------------------------------------


def audience_for(buyer: Organization | None) -> str:
    """A customer (or an anonymous visitor) pays retail; a reseller pays wholesale."""
    if buyer is None or buyer.is_customer:
        return Audience.RETAIL
    if buyer.is_reseller:
        return Audience.WHOLESALE
    raise ValidationError("The provider buys from no one.")


def _with_components(qs: QuerySet[Price]) -> QuerySet[Price]:
    return qs.select_related("plan").prefetch_related(
        Prefetch(
            "components",
            queryset=PriceComponent.objects.prefetch_related(
                Prefetch("tiers", queryset=PriceTier.objects.order_by("position"))
            ),
        )
    )


def prices_in_force(
    *,
    seller: Organization,
    audience: str,
    on_date: date,
    buyer: Organization | None = None,
    plans=None,
    currency: str | None = None,
    term: str | None = None,
) -> dict[tuple[int, str, str], Price]:
    """For each (plan, currency, term) the seller prices for ``audience``, the version in force
    on ``on_date`` for ``buyer``: the buyer's own price line when it has one in force, else the
    seller's default line. One query plus two for the pay-per-use components."""
    qs = Price.objects.filter(seller=seller, audience=audience, valid_from__lte=on_date)
    if buyer is not None:
        qs = qs.filter(Q(buyer__isnull=True) | Q(buyer=buyer))
    else:
        qs = qs.filter(buyer__isnull=True)
    if plans is not None:
        qs = qs.filter(plan__in=plans)
    if currency:
        qs = qs.filter(currency=currency)
    if term:
        qs = qs.filter(term=term)
    qs = qs.annotate(
        line_rank=Window(
            RowNumber(),
            partition_by=[F("plan_id"), F("currency"), F("term")],
            order_by=[
                F("buyer_id").desc(nulls_last=True),
                F("valid_from").desc(),
                F("pk").desc(),
            ],
        )
    ).filter(line_rank=1)
    return {(p.plan_id, p.currency, p.term): p for p in _with_components(qs)}


def price_for(
    *,
    seller: Organization,
    plan: Plan,
    currency: str,
    term: str,
    buyer: Organization | None,
    on_date: date,
) -> Price:
    """The price version ``buyer`` pays ``seller`` for ``plan`` on ``on_date``: a per-customer
    price if the customer has one, else the seller's retail price (buyer None: a visitor); for
    a reseller, the wholesale price to that reseller or else the default wholesale price."""
    audience = audience_for(buyer)
    found = prices_in_force(
        seller=seller,
        audience=audience,
        on_date=on_date,
        buyer=buyer,
        plans=[plan],
        currency=currency,
        term=term,
    ).get((plan.pk, currency, term))
    if found is None:
        kind = "wholesale" if audience == Audience.WHOLESALE else "retail"
        raise ValidationError(
            f"{seller.name} has no {kind} {Term(term).label.lower()} price for {plan.name} in "
            f"{currency} on {on_date:%d %b %Y}.",
            code="no_price",
        )
    return found


def cost_prices(
    *, seller: Organization, on_date: date, plans=None
) -> dict[tuple[int, str, str], Price]:
    """What a reseller pays its parent: the parent's wholesale prices to it, in force."""
    if not seller.is_reseller:
        return {}
    return prices_in_force(
        seller=seller.parent,
        audience=Audience.WHOLESALE,
        on_date=on_date,
        buyer=seller,
        plans=plans,
    )


def price_versions(*, seller: Organization, plan: Plan) -> list[Price]:
    """Every version of every line the seller has for ``plan``, newest first within a line."""
    qs = Price.objects.filter(seller=seller, plan=plan).select_related("buyer", "created_by")
    return list(
        _with_components(qs).order_by(
            "audience",
            F("buyer_id").asc(nulls_first=True),
            "currency",
            "term",
            "-valid_from",
            "-pk",
        )
    )


@dataclass
class PriceLine:
    """One price line of a seller's console: its current version and the scheduled ones."""

    audience: str
    buyer: Organization | None
    currency: str
    term: str
    current: Price | None = None
    scheduled: list[Price] = field(default_factory=list)
    history: list[Price] = field(default_factory=list)

    @property
    def latest(self) -> Price:
        """The newest version: the last scheduled one, else the one in force."""
        return self.scheduled[-1] if self.scheduled else self.current


def price_lines(versions: list[Price], on_date: date) -> list[PriceLine]:
    lines: dict[tuple, PriceLine] = {}
    for price in versions:  # newest first within a line
        key = (price.audience, price.buyer_id, price.currency, price.term)
        line = lines.setdefault(
            key, PriceLine(price.audience, price.buyer, price.currency, price.term)
        )
        if price.valid_from > on_date:
            line.scheduled.insert(0, price)
        elif line.current is None:
            line.current = price
        else:
            line.history.append(price)
    return list(lines.values())


def scheduled_cost_dates(
    *, seller: Organization, plan: Plan, currency: str, term: str, after: date
) -> list[date]:
    """Days after ``after`` on which a new version of the seller's cost line starts."""
    if not seller.is_reseller:
        return []
    return sorted(
        set(
            Price.objects.filter(
                seller_id=seller.parent_id,
                audience=Audience.WHOLESALE,
                plan=plan,
                currency=currency,
                term=term,
                valid_from__gt=after,
            )
            .filter(Q(buyer__isnull=True) | Q(buyer=seller))
            .values_list("valid_from", flat=True)
        )
    )


# --- tax ------------------------------------------------------------------------------------------


def tax_rate_for(
    *, seller: Organization, buyer: Organization | None, on_date: date
) -> TaxRate | None:
    """The rate ``seller`` charges ``buyer`` on ``on_date``: the newest rate for the buyer's
    country, else the newest rate for any country; None when the seller charges no tax.
    A visitor (buyer None) gets the any-country rate."""
    country = (buyer.country if buyer is not None else "") or ""
    rates = list(
        TaxRate.objects.filter(
            seller=seller, valid_from__lte=on_date, country__in={country, ""}
        ).order_by("-valid_from", "-pk")
    )
    if country:
        for rate in rates:
            if rate.country == country:
                return rate
    for rate in rates:
        if not rate.country:
            return rate
    return None


# --- trials ---------------------------------------------------------------------------------------


def trial_eligible(*, customer: Organization | None, offer: Offer) -> bool:
    """Whether an order of ``offer`` would start with a trial: the offer has one and the
    customer has never had a trial of the product (a visitor is assumed new)."""
    if offer.trial_days <= 0:
        return False
    if customer is None:
        return True
    return not TrialUse.objects.filter(customer=customer, product_id=offer.plan.product_id).exists()


# --- promotions -----------------------------------------------------------------------------------


def _code(code: str) -> str:
    return (code or "").strip().upper()


def promotion_check(
    *,
    seller: Organization,
    code: str,
    plan: Plan,
    customer: Organization | None,
    on_date: date,
) -> Promotion:
    """The seller's promotion with ``code`` if it can be used for ``plan`` by ``customer`` on
    ``on_date``; otherwise a ``ValidationError`` on the field ``promotion_code`` saying why."""
    normalised = _code(code)

    def refuse(message: str):
        return ValidationError.for_field("promotion_code", message, code="invalid_promotion")

    if not normalised:
        raise refuse("Enter a promotion code.")
    promotion = (
        Promotion.objects.filter(seller=seller, kind=PromotionKind.CODE, code=normalised)
        .prefetch_related("plans")
        .annotate(used=Count("redemptions"))
        .first()
    )
    if promotion is None:
        raise refuse(f"{normalised} is not a promotion code of {seller.name}.")
    if not promotion.is_active:
        raise refuse(f"The code {normalised} has been withdrawn.")
    if on_date < promotion.valid_from:
        raise refuse(f"The code {normalised} can be used from {promotion.valid_from:%d %b %Y}.")
    if promotion.valid_until is not None and on_date > promotion.valid_until:
        raise refuse(f"The code {normalised} expired on {promotion.valid_until:%d %b %Y}.")
    plans = list(promotion.plans.all())
    if plans and plan.pk not in {p.pk for p in plans}:
        names = ", ".join(p.name for p in plans)
        raise refuse(f"The code {normalised} applies to {names} only, not to {plan.name}.")
    if promotion.max_redemptions is not None and promotion.used >= promotion.max_redemptions:
        raise refuse(f"The code {normalised} has been used up.")
    if customer is not None:
        uses = PromotionRedemption.objects.filter(promotion=promotion, customer=customer).count()
        if uses >= promotion.max_per_customer:
            raise refuse(f"{customer.name} has already used the code {normalised}.")
    return promotion


def automatic_promotions(
    *, seller: Organization, on_date: date, customer: Organization | None = None
) -> list[Promotion]:
    """The seller's automatic promotions usable on ``on_date`` (not used up, and not used up by
    ``customer``), with their plans loaded. Two or three queries."""
    qs = (
        Promotion.objects.filter(
            seller=seller, kind=PromotionKind.AUTOMATIC, is_active=True, valid_from__lte=on_date
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on_date))
        .annotate(used=Count("redemptions"))
        .prefetch_related("plans")
        .order_by("pk")
    )
    promotions = [p for p in qs if p.max_redemptions is None or p.used < p.max_redemptions]
    if customer is not None and promotions:
        uses = dict(
            PromotionRedemption.objects.filter(promotion__in=promotions, customer=customer)
            .values_list("promotion_id")
            .annotate(n=Count("pk"))
        )
        promotions = [p for p in promotions if uses.get(p.pk, 0) < p.max_per_customer]
    return promotions


def promotion_applies_to(promotion: Promotion, plan: Plan) -> bool:
    plans = promotion.plans.all()
    return not plans or any(p.pk == plan.pk for p in plans)


# --- storefront -----------------------------------------------------------------------------------


@dataclass
class OfferCard:
    """What a storefront or the customer portal shows of one offer."""

    offer: Offer
    prices: dict[str, Price]  # term -> price in the shown currency
    trial_days: int
    promotions: list[Promotion]

    @property
    def plan(self) -> Plan:
        return self.offer.plan

    @property
    def monthly(self) -> Price | None:
        return self.prices.get(Term.MONTHLY)

    @property
    def annual(self) -> Price | None:
        return self.prices.get(Term.ANNUAL)


def offer_cards(
    *,
    seller: Organization,
    currency: str,
    on_date: date,
    customer: Organization | None = None,
    offers: list[Offer] | None = None,
) -> list[OfferCard]:
    """The seller's storefront offers with the prices ``customer`` (or a visitor) pays in
    ``currency``, the trial it would get and the automatic promotions that apply. Offers
    without a price in that currency are left out. A fixed number of queries."""
    offers = sellable_offers(seller) if offers is None else offers
    if not offers:
        return []
    prices = prices_in_force(
        seller=seller,
        audience=Audience.RETAIL,
        on_date=on_date,
        buyer=customer,
        plans=[o.plan_id for o in offers],
        currency=currency,
    )
    by_plan: dict[int, dict[str, Price]] = defaultdict(dict)
    for (plan_id, _, term), price in prices.items():
        by_plan[plan_id][term] = price
    tried: set[int] = set()
    if customer is not None:
        tried = set(TrialUse.objects.filter(customer=customer).values_list("product_id", flat=True))
    promotions = automatic_promotions(seller=seller, on_date=on_date, customer=customer)
    cards = []
    for offer in offers:
        if not by_plan.get(offer.plan_id):
            continue
        cards.append(
            OfferCard(
                offer=offer,
                prices=by_plan[offer.plan_id],
                trial_days=0 if offer.plan.product_id in tried else offer.trial_days,
                promotions=[
                    p
                    for p in promotions
                    if promotion_applies_to(p, offer.plan)
                    and (p.discount_type == "percent" or p.currency == currency)
                ],
            )
        )
    return cards


def storefront_offer(seller: Organization, offer_id, *, storefront_only: bool = True) -> Offer:
    """One of the seller's sellable (storefront) offers by id; 404 for anything else."""
    offer_id = parse_id(offer_id)
    for offer in sellable_offers(seller, storefront_only=storefront_only):
        if offer.pk == offer_id:
            return offer
    raise NotFound("No such offer.")


# --- tenant-first lookups -------------------------------------------------------------------------


def catalog_sellers(user: User) -> QuerySet[Organization]:
    """The sellers whose catalog the user may read: their own and those below them."""
    return access.visible_organizations(user).filter(kind__in=SELLER_KINDS)


def access_offer(user: User, offer_id, *, action: str = "catalog.view") -> Offer:
    return access.get_visible(
        visible_offers(user).select_related("plan", "plan__product", "seller", "parent_offer"),
        offer_id,
        user=user,
        action=action,
        owner=lambda o: o.seller,
        message="No such offer.",
    )


def access_promotion(user: User, promotion_id, *, action: str = "catalog.view") -> Promotion:
    return access.get_visible(
        visible_promotions(user).select_related("seller"),
        promotion_id,
        user=user,
        action=action,
        owner=lambda p: p.seller,
        message="No such promotion.",
    )


def access_tax_rate(user: User, rate_id, *, action: str = "catalog.view") -> TaxRate:
    return access.get_visible(
        visible_tax_rates(user).select_related("seller"),
        rate_id,
        user=user,
        action=action,
        owner=lambda r: r.seller,
        message="No such tax rate.",
    )


def access_price(user: User, price_id) -> Price:
    return access.get_visible(
        _with_components(visible_prices(user)).select_related("seller", "buyer"),
        price_id,
        message="No such price.",
    )


def access_seller(user: User, org_id, *, action: str = "catalog.view") -> Organization:
    return access.get_visible(
        catalog_sellers(user), org_id, user=user, action=action, message="No such seller."
    )


def visible_offers(user: User) -> QuerySet[Offer]:
    return Offer.objects.filter(seller__in=catalog_sellers(user))


def visible_promotions(user: User) -> QuerySet[Promotion]:
    return Promotion.objects.filter(seller__in=catalog_sellers(user))


def visible_tax_rates(user: User) -> QuerySet[TaxRate]:
    return TaxRate.objects.filter(seller__in=catalog_sellers(user))


def visible_prices(user: User) -> QuerySet[Price]:
    """Price versions the user may read:
    - every price of the sellers whose catalog they may read (their own and those below);
    - for a reseller's people, their cost: the parent's wholesale line to that reseller, or the
      parent's default wholesale line where there is no line of its own (never the parent's
      lines to other resellers);
    - for a customer's people, the seller's retail prices for everyone and for that customer.
    """
    if not user.is_authenticated:
        return Price.objects.none()
    condition = Q(seller__in=catalog_sellers(user))
    for membership in access.active_memberships(user):
        org = membership.organization
        if org.is_reseller:
            own_line = Price.objects.filter(
                seller_id=org.parent_id,
                audience=Audience.WHOLESALE,
                buyer=org,
                plan=OuterRef("plan"),
                currency=OuterRef("currency"),
                term=OuterRef("term"),
            )
            condition |= Q(seller_id=org.parent_id, audience=Audience.WHOLESALE) & (
                Q(buyer=org) | (Q(buyer__isnull=True) & ~Exists(own_line))
            )
        elif org.is_customer:
            condition |= Q(seller_id=org.parent_id, audience=Audience.RETAIL) & (
                Q(buyer__isnull=True) | Q(buyer=org)
            )
    return Price.objects.filter(condition)


def access_customer(user: User, customer_id) -> Organization:
    """A customer the user may act for (its own people, or its sellers' staff)."""
    org = access.access_organization(user, customer_id)
    if not org.is_customer:
        raise NotFound("No such customer.")
    return org
