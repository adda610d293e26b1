"""Pages of the catalog: the sellers' consoles (offers, prices, plans, promotions, tax rates,
currencies), the storefront's offer pages and the customer portal's offers.

Views are thin: reads through ``catalog.selectors`` (tenant-first), writes through
``catalog.services``, errors shown with ``portal.views.apply_error``. An object of another
organization is a 404, whatever the URL says.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from billing.services.prices import price_change_effect
from catalog import quotes, selectors, services
from catalog.forms import (
    TIERS_HELP,
    CurrencyForm,
    EstimateForm,
    OfferForm,
    PlanForm,
    PriceForm,
    PromotionEditForm,
    PromotionForm,
    TaxRateForm,
    tiers_text,
)
from catalog.models import (
    Audience,
    Metric,
    Offer,
    Plan,
    Promotion,
    PromotionRedemption,
    SellerCurrency,
    StorageMode,
    TaxRate,
    Term,
)
from portal import access
from portal.errors import ApplicationError, NotFound
from portal.models import Organization, OrgKind
from portal.params import parse_id
from portal.storefront_cache import storefront_page
from portal.views import apply_error, customer_console, render_console, seller_console


def _remap(exc: ApplicationError, mapping: dict) -> ApplicationError:
    """Point a service's field errors at the form's own field names."""
    exc.fields = {mapping.get(key, key): value for key, value in exc.fields.items()}
    return exc


def _denied(request, action: str, org: Organization) -> bool:
    if access.can(request.user, action, org):
        return False
    messages.error(request, access.DENIED_MESSAGES[action])
    return True


def _back(request):
    return HttpResponseRedirect(request.get_full_path())


def _own_offer(request, org: Organization, offer_id) -> Offer:
    offer = selectors.access_offer(request.user, offer_id)
    if offer.seller_id != org.pk:
        raise NotFound("No such offer.")
    return offer


def _resellers_below(org: Organization):
    return Organization.objects.filter(parent=org, kind=OrgKind.RESELLER).order_by("name")


def _shown_order(price) -> tuple:
    return (price.currency, 0 if price.term == Term.MONTHLY else 1)


def _by_plan(prices: dict) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for price in sorted(prices.values(), key=_shown_order):
        grouped[price.plan_id].append(price)
    return grouped


# --- seller console: offers -----------------------------------------------------------------------


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_offers(request, org):
    if request.method == "POST":
        return _offers_post(request, org)
    today = selectors.today()
    offers = selectors.seller_offers(org)
    plan_ids = [o.plan_id for o in offers]
    retail = _by_plan(
        selectors.prices_in_force(
            seller=org, audience=Audience.RETAIL, on_date=today, plans=plan_ids
        )
    )
    wholesale = _by_plan(
        selectors.prices_in_force(
            seller=org, audience=Audience.WHOLESALE, on_date=today, plans=plan_ids
        )
    )
    costs = selectors.cost_prices(seller=org, on_date=today)
    cost_by_plan = _by_plan(costs)
    sellable = {o.pk for o in selectors.sellable_offers(org, storefront_only=False)}
    rows = []
    for offer in offers:
        mine = retail.get(offer.plan_id, [])
        below = [
            p
            for p in mine
            if (cost := costs.get((p.plan_id, p.currency, p.term))) and p.recurring < cost.recurring
        ]
        rows.append(
            {
                "offer": offer,
                "retail": mine,
                "wholesale": wholesale.get(offer.plan_id, []),
                "cost": cost_by_plan.get(offer.plan_id, []),
                "sellable": offer.pk in sellable,
                "below_cost": below,
            }
        )
    picked = {o.plan_id for o in offers if o.is_active}
    available = [
        {"offer": o, "cost": cost_by_plan.get(o.plan_id, [])}
        for o in selectors.available_upstream_offers(org)
        if o.plan_id not in picked
    ]
    unpublished = []
    if org.is_provider:
        unpublished = list(Plan.objects.filter(is_active=True).exclude(pk__in=picked))
    return render_console(
        request,
        "catalog/console/offers.html",
        {
            "rows": rows,
            "available": available,
            "unpublished": unpublished,
            "can_manage": access.can(request.user, "catalog.manage", org),
            "has_resellers": org.is_provider or _resellers_below(org).exists(),
        },
    )


def _offers_post(request, org):
    if _denied(request, "catalog.manage", org):
        return _back(request)
    action = request.POST.get("action")
    try:
        if action == "publish" and org.is_provider:
            plan = Plan.objects.filter(
                pk=parse_id(request.POST.get("plan")), is_active=True
            ).first()
            if plan is None:
                raise NotFound("No such plan.")
            offer = services.offer_publish(actor=request.user, seller=org, plan=plan)
            messages.success(
                request, f"{plan.name} is on sale. Choose which resellers may sell it."
            )
            return redirect("catalog_offer", org_id=org.pk, offer_id=offer.pk)
        if action == "pick":
            wanted = parse_id(request.POST.get("offer"))
            upstream = next(
                (o for o in selectors.available_upstream_offers(org) if o.pk == wanted), None
            )
            if upstream is None:
                raise NotFound("No such offer.")
            offer = services.offer_publish(actor=request.user, seller=org, plan=upstream.plan)
            messages.success(request, f"You now sell {upstream.plan.name}; set your prices.")
            return redirect("catalog_prices", org_id=org.pk, plan_id=upstream.plan_id)
        if action == "withdraw":
            offer = _own_offer(request, org, request.POST.get("offer"))
            services.offer_withdraw(actor=request.user, offer=offer)
            messages.success(request, f"{offer.display_name} is no longer on sale.")
        else:
            messages.error(request, "Unknown action.")
    except NotFound:
        raise
    except ApplicationError as exc:
        apply_error(request, exc)
    return _back(request)


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_offer(request, org, offer_id):
    offer = _own_offer(request, org, offer_id)
    resellers = _resellers_below(org)
    initial = {
        "name": offer.name,
        "description": offer.description,
        "trial_days": offer.trial_days,
        "in_storefront": offer.in_storefront,
        "available_to_all_resellers": offer.available_to_all_resellers,
        "available_to": list(offer.available_to.all()),
    }
    form = OfferForm(
        request.POST if request.POST.get("action") == "save" else None,
        initial=initial,
        resellers=resellers,
    )
    can_manage = access.can(request.user, "catalog.manage", org)
    if request.method == "POST":
        if _denied(request, "catalog.manage", org):
            return _back(request)
        action = request.POST.get("action")
        try:
            if action == "save" and form.is_valid():
                data = dict(form.cleaned_data)
                available_to = data.pop("available_to", None)
                services.offer_update(
                    actor=request.user,
                    offer=offer,
                    available_to=list(available_to) if available_to is not None else None,
                    **data,
                )
                messages.success(request, "The offer was saved.")
                return _back(request)
            if action == "withdraw":
                services.offer_withdraw(actor=request.user, offer=offer)
                messages.success(request, f"{offer.display_name} is no longer on sale.")
                return _back(request)
            if action == "republish":
                services.offer_publish(
                    actor=request.user,
                    seller=org,
                    plan=offer.plan,
                    name=offer.name,
                    description=offer.description,
                    trial_days=offer.trial_days,
                    in_storefront=offer.in_storefront,
                    available_to_all_resellers=offer.available_to_all_resellers,
                    available_to=list(offer.available_to.all()),
                )
                messages.success(request, f"{offer.display_name} is on sale again.")
                return _back(request)
        except ApplicationError as exc:
            apply_error(request, exc, form if action == "save" else None)
    today = selectors.today()
    retail = selectors.prices_in_force(
        seller=org, audience=Audience.RETAIL, on_date=today, plans=[offer.plan_id]
    )
    cost = selectors.cost_prices(seller=org, on_date=today, plans=[offer.plan_id])
    return render_console(
        request,
        "catalog/console/offer_detail.html",
        {
            "offer": offer,
            "form": form,
            "can_manage": can_manage,
            "retail": sorted(retail.values(), key=_shown_order),
            "cost": sorted(cost.values(), key=_shown_order),
            "sellable": selectors.offer_sellable(offer),
        },
    )


# --- seller console: prices -----------------------------------------------------------------------


def _priceable_plan(org: Organization, plan_id) -> Plan:
    plan = Plan.objects.filter(pk=parse_id(plan_id)).first()
    if plan is None:
        raise NotFound("No such plan.")
    if org.is_provider:
        return plan
    if Offer.objects.filter(seller=org, plan=plan).exists():
        return plan
    if selectors.upstream_offer_for(org, plan) is not None:
        return plan
    raise NotFound("No such plan.")


def _buyer_choices(request, org: Organization) -> list[tuple[str, str]]:
    children = (
        access.visible_organizations(request.user)
        .filter(parent=org)
        .exclude(status="closed")
        .order_by("kind", "name")
    )
    return [
        (str(c.pk), f"{'Reseller' if c.is_reseller else 'Customer'}: {c.name}") for c in children
    ]


def _price_initial(price) -> dict:
    initial = {
        "audience": price.audience,
        "buyer": str(price.buyer_id or ""),
        "currency": price.currency,
        "term": price.term,
        "recurring": f"{price.recurring.normalize():f}",
        "setup_fee": f"{price.setup_fee.normalize():f}" if price.setup_fee else "",
    }
    for component in price.components.all():
        prefix = "storage" if component.metric == Metric.STORAGE else "users"
        initial[f"{prefix}_mode"] = component.mode
        initial[f"{prefix}_tiers"] = tiers_text(component.tiers.all())
    return initial


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_prices(request, org, plan_id):
    plan = _priceable_plan(org, plan_id)
    today = selectors.today()
    versions = selectors.price_versions(seller=org, plan=plan)
    lines = selectors.price_lines(versions, today)
    audiences = [Audience.RETAIL]
    if org.is_provider or _resellers_below(org).exists():
        audiences.append(Audience.WHOLESALE)
    initial = {"currency": org.currency, "term": Term.MONTHLY, "audience": Audience.RETAIL}
    source = next((p for p in versions if p.pk == parse_id(request.GET.get("line"))), None)
    if source is not None:
        initial = _price_initial(source)
    form = PriceForm(
        request.POST or None,
        initial=initial,
        currencies=selectors.pricing_currencies(org, plan, today),
        audiences=audiences,
        buyers=_buyer_choices(request, org),
        storage=plan.storage_mode != StorageMode.UNLIMITED,
    )
    can_manage = access.can(request.user, "catalog.manage", org)
    effect_shown = None
    if request.method == "POST":
        # Naming someone else's customer or reseller is a 404, like any other object.
        named = request.POST.get("buyer")
        children = access.visible_organizations(request.user).filter(parent=org)
        buyer = children.filter(pk=parse_id(named)).first() if named else None
        if named and buyer is None:
            raise NotFound("No such customer or reseller.")
        if _denied(request, "catalog.manage", org):
            return _back(request)
        if form.is_valid() and request.POST.get("preview"):
            # Nothing is saved: the effect on running subscriptions, then the same form.
            data = form.cleaned_data
            try:
                effect = price_change_effect(
                    actor=request.user,
                    seller=org,
                    plan=plan,
                    audience=data["audience"],
                    buyer=buyer,
                    currency=data["currency"],
                    term=data["term"],
                    recurring=data["recurring"],
                    valid_from=data["valid_from"],
                )
            except ApplicationError as exc:
                apply_error(request, _remap(exc, PriceForm.ERROR_FIELDS), form)
            else:
                effect_shown = {"effect": effect, "audience": data["audience"]}
        elif form.is_valid():
            data = form.cleaned_data
            try:
                price = services.price_create(
                    actor=request.user,
                    seller=org,
                    plan=plan,
                    audience=data["audience"],
                    buyer=buyer,
                    currency=data["currency"],
                    term=data["term"],
                    recurring=data["recurring"],
                    setup_fee=data["setup_fee"],
                    valid_from=data["valid_from"],
                    components=data["components"],
                )
            except ApplicationError as exc:
                apply_error(request, _remap(exc, PriceForm.ERROR_FIELDS), form)
            else:
                messages.success(
                    request,
                    f"New {price.get_audience_display().split(' ')[0].lower()} price for "
                    f"{plan.name}: {price.recurring.normalize():f} {price.currency} per seat, "
                    f"{price.get_term_display().lower()}, in force from "
                    f"{price.valid_from:%d %b %Y}.",
                )
                return redirect("catalog_prices", org_id=org.pk, plan_id=plan.pk)
    cost = sorted(
        selectors.cost_prices(seller=org, on_date=today, plans=[plan]).values(),
        key=_shown_order,
    )
    return render_console(
        request,
        "catalog/console/prices.html",
        {
            "plan": plan,
            "lines": lines,
            "form": form,
            "cost": cost,
            "can_manage": can_manage,
            "today": today,
            "offer": Offer.objects.filter(seller=org, plan=plan).first(),
            "tiers_help": TIERS_HELP,
            "effect_shown": effect_shown,
        },
    )


# --- seller console: plans (the provider's) -------------------------------------------------------


def _provider_only(org: Organization) -> None:
    if not org.is_provider:
        raise NotFound("No such page.")


@seller_console
def catalog_plans(request, org):
    _provider_only(org)
    return render_console(
        request,
        "catalog/console/plans.html",
        {
            "plans": selectors.plan_list(),
            "can_edit": access.can(request.user, "catalog.plans", org),
        },
    )


def _plan_form_page(request, org, plan: Plan | None):
    others = Plan.objects.exclude(pk=plan.pk) if plan else Plan.objects.all()
    initial = {"is_active": True, "sort_order": 100, "seat_min": 1}
    if plan is not None:
        initial = {name: getattr(plan, name) for name in services.PLAN_FIELDS}
        for transition in plan.transitions.all():
            initial[f"to_{transition.to_plan_id}"] = transition.timing
    form = PlanForm(request.POST or None, initial=initial, plan=plan, others=others)
    if request.method == "POST":
        if _denied(request, "catalog.plans", org):
            return redirect("catalog_plans", org_id=org.pk)
        if form.is_valid():
            try:
                if plan is None:
                    saved = services.plan_create(
                        actor=request.user, transitions=form.transitions(), **form.plan_values()
                    )
                else:
                    saved = services.plan_update(
                        actor=request.user,
                        plan=plan,
                        transitions=form.transitions(),
                        **form.plan_values(),
                    )
            except ApplicationError as exc:
                apply_error(request, exc, form)
            else:
                messages.success(request, f"{saved.name} was saved.")
                return redirect("catalog_plans", org_id=org.pk)
    elif not access.can(request.user, "catalog.plans", org):
        messages.error(request, access.DENIED_MESSAGES["catalog.plans"])
        return redirect("catalog_plans", org_id=org.pk)
    return render_console(
        request,
        "catalog/console/plan_form.html",
        {"form": form, "plan": plan, "title": plan.name if plan else "New plan"},
    )


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_plan_create(request, org):
    _provider_only(org)
    return _plan_form_page(request, org, None)


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_plan_edit(request, org, plan_id):
    _provider_only(org)
    plan = Plan.objects.filter(pk=parse_id(plan_id)).first()
    if plan is None:
        raise NotFound("No such plan.")
    return _plan_form_page(request, org, plan)


# --- seller console: promotions -------------------------------------------------------------------


def _sellable_plans(org: Organization):
    if org.is_provider:
        return Plan.objects.filter(is_active=True)
    return Plan.objects.filter(offers__seller=org).distinct()


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_promotions(request, org):
    form = PromotionForm(
        request.POST or None,
        initial={"currency": org.currency, "max_per_customer": 1, "duration": "once"},
        currencies=selectors.seller_currencies(org),
        plans=_sellable_plans(org),
    )
    if request.method == "POST":
        if _denied(request, "catalog.manage", org):
            return _back(request)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                promotion = services.promotion_create(
                    actor=request.user, seller=org, plans=list(data.pop("plans")), **data
                )
            except ApplicationError as exc:
                apply_error(request, exc, form)
            else:
                messages.success(request, f"{promotion.name} was created.")
                return redirect("catalog_promotion", org_id=org.pk, promotion_id=promotion.pk)
    promotions = (
        Promotion.objects.filter(seller=org)
        .annotate(used=Count("redemptions"))
        .prefetch_related("plans")
    )
    return render_console(
        request,
        "catalog/console/promotions.html",
        {
            "promotions": promotions,
            "form": form,
            "can_manage": access.can(request.user, "catalog.manage", org),
            "show_form": request.method == "POST" or not promotions,
        },
    )


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_promotion(request, org, promotion_id):
    promotion = selectors.access_promotion(request.user, promotion_id)
    if promotion.seller_id != org.pk:
        raise NotFound("No such promotion.")
    form = PromotionEditForm(
        request.POST or None,
        initial={
            "name": promotion.name,
            "valid_until": promotion.valid_until,
            "max_redemptions": promotion.max_redemptions,
            "max_per_customer": promotion.max_per_customer,
            "is_active": promotion.is_active,
        },
    )
    if request.method == "POST":
        if _denied(request, "catalog.manage", org):
            return _back(request)
        if form.is_valid():
            try:
                services.promotion_update(
                    actor=request.user, promotion=promotion, **form.cleaned_data
                )
            except ApplicationError as exc:
                apply_error(request, exc, form)
            else:
                messages.success(request, "The promotion was saved.")
                return _back(request)
    redemptions = Paginator(
        PromotionRedemption.objects.filter(promotion=promotion).select_related("customer"), 50
    ).get_page(request.GET.get("page"))
    return render_console(
        request,
        "catalog/console/promotion_detail.html",
        {
            "promotion": promotion,
            "form": form,
            "page": redemptions,
            "plans": list(promotion.plans.all()),
            "can_manage": access.can(request.user, "catalog.manage", org),
        },
    )


# --- seller console: tax rates and currencies -----------------------------------------------------


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_tax_rates(request, org):
    form = TaxRateForm(request.POST or None)
    if request.method == "POST":
        if _denied(request, "catalog.tax", org):
            return _back(request)
        if form.is_valid():
            try:
                rate = services.tax_rate_create(actor=request.user, seller=org, **form.cleaned_data)
            except ApplicationError as exc:
                apply_error(request, exc, form)
            else:
                messages.success(
                    request, f"{rate.name} of {rate.rate}% from {rate.valid_from:%d %b %Y}."
                )
                return _back(request)
    today = selectors.today()
    rates = list(TaxRate.objects.filter(seller=org).order_by("country", "-valid_from", "-pk"))
    current: set[int] = set()
    seen: set[str] = set()
    for rate in rates:
        if rate.valid_from <= today and rate.country not in seen:
            seen.add(rate.country)
            current.add(rate.pk)
    return render_console(
        request,
        "catalog/console/tax_rates.html",
        {
            "rates": rates,
            "current": current,
            "today": today,
            "form": form,
            "can_manage": access.can(request.user, "catalog.tax", org),
        },
    )


@seller_console
@require_http_methods(["GET", "POST"])
def catalog_currencies(request, org):
    form = CurrencyForm(request.POST if request.POST.get("action") == "add" else None)
    if request.method == "POST":
        if _denied(request, "catalog.currencies", org):
            return _back(request)
        try:
            if request.POST.get("action") == "add" and form.is_valid():
                services.seller_currency_add(
                    actor=request.user, seller=org, currency=form.cleaned_data["currency"]
                )
                messages.success(request, f"You now sell in {form.cleaned_data['currency']}.")
                return _back(request)
            if request.POST.get("action") == "remove":
                currency = request.POST.get("currency", "")
                services.seller_currency_remove(actor=request.user, seller=org, currency=currency)
                messages.success(request, f"You no longer sell in {currency}.")
                return _back(request)
        except NotFound:
            raise
        except ApplicationError as exc:
            apply_error(request, exc, form if request.POST.get("action") == "add" else None)
    extra = SellerCurrency.objects.filter(seller=org).order_by("currency")
    return render_console(
        request,
        "catalog/console/currencies.html",
        {
            "extra": extra,
            "form": form,
            "can_manage": access.can(request.user, "catalog.currencies", org),
        },
    )


# --- storefront and customer portal ---------------------------------------------------------------


def _shown_currency(request, seller: Organization, preferred: str | None = None) -> tuple:
    sold = selectors.seller_currencies(seller)
    wanted = (request.GET.get("currency") or "").upper()
    if wanted in sold:
        return wanted, sold
    if preferred in sold:
        return preferred, sold
    return sold[0], sold


def _term(request) -> str:
    return request.GET.get("term") if request.GET.get("term") in Term.values else Term.MONTHLY


def _offer_list_context(request, seller, customer=None) -> dict:
    currency, sold = _shown_currency(request, seller, customer.currency if customer else None)
    cards = selectors.offer_cards(
        seller=seller, currency=currency, on_date=selectors.today(), customer=customer
    )
    return {
        "seller": seller,
        "cards": cards,
        "currency": currency,
        "currencies": sold,
        "term": _term(request),
        "terms": Term.choices,
    }


def _estimate(request, *, seller, offer, customer) -> dict:
    currency, sold = _shown_currency(request, seller, customer.currency if customer else None)
    card = next(
        iter(
            selectors.offer_cards(
                seller=seller,
                currency=currency,
                on_date=selectors.today(),
                customer=customer,
                offers=[offer],
            )
        ),
        None,
    )
    initial = {"seats": max(offer.plan.seat_min, 1), "term": _term(request), "currency": currency}
    data = request.GET if "seats" in request.GET else None
    form = EstimateForm(data, initial=initial, currencies=sold)
    quote = None
    if data is not None and form.is_valid():
        try:
            quote = quotes.quote_build(
                seller=seller,
                customer=customer,
                offer=offer,
                quantity=form.cleaned_data["seats"],
                term=form.cleaned_data["term"],
                start_date=selectors.today(),
                promotion_code=form.cleaned_data["code"] or None,
                currency=form.cleaned_data["currency"] or currency,
            )
        except NotFound as exc:
            form.add_error(None, exc.message)
        except ApplicationError as exc:
            apply_error(request, _remap(exc, EstimateForm.ERROR_FIELDS), form)
    return {
        "seller": seller,
        "offer": offer,
        "card": card,
        "form": form,
        "quote": quote,
        "currency": quote.currency if quote else currency,
    }


@storefront_page
def storefront_offers(request):
    seller = getattr(request, "storefront", None)
    if seller is None:
        raise Http404("No storefront here.")
    return render(request, "catalog/storefront/offers.html", _offer_list_context(request, seller))


@storefront_page
def storefront_offer(request, offer_id):
    seller = getattr(request, "storefront", None)
    if seller is None:
        raise Http404("No storefront here.")
    try:
        offer = selectors.storefront_offer(seller, offer_id)
    except NotFound:
        raise Http404("No such offer.") from None
    context = _estimate(request, seller=seller, offer=offer, customer=None)
    return render(request, "catalog/storefront/offer_detail.html", context)


def _browse(request, org) -> None:
    access.require(request.user, "offers.browse", org)


@customer_console
def customer_offers(request, org):
    _browse(request, org)
    context = _offer_list_context(request, org.parent, customer=org)
    context["offer_url"] = "customer_offer"
    return render_console(request, "catalog/customer/offers.html", context)


@customer_console
def customer_offer(request, org, offer_id):
    _browse(request, org)
    offer = selectors.storefront_offer(org.parent, offer_id)
    context = _estimate(request, seller=org.parent, offer=offer, customer=org)
    context["back_url"] = reverse("customer_offers", kwargs={"org_id": org.pk})
    return render_console(request, "catalog/customer/offer_detail.html", context)
