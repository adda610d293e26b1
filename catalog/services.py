"""Every write of the catalog. Pages, the API, the demo seed and tests all come through here
(STYLE.md, habit 1): each function checks the actor's right to act, validates, writes inside a
transaction and records an audit event. The actor is a person or the system actor
(``portal.actors``: seeding, ordering); no actor is refused.

Nothing here changes a price or a tax rate that is in force: a change is a new version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from catalog import pricing
from catalog.models import (
    Audience,
    BoxPlan,
    DiscountType,
    Metric,
    Offer,
    Plan,
    PlanTransition,
    Price,
    PriceComponent,
    PriceTier,
    Product,
    Promotion,
    PromotionDuration,
    PromotionKind,
    PromotionRedemption,
    SellerCurrency,
    StorageMode,
    TaxRate,
    Term,
    TierMode,
    TransitionTiming,
    TrialUse,
)
from catalog.selectors import (  # noqa: F401 - promotion_check is part of this module's interface
    price_for,
    promotion_check,
    scheduled_cost_dates,
    seller_currencies,
    today,
    upstream_offer_for,
)
from portal import access
from portal import selectors as portal_selectors
from portal.actors import Actor, person, require_actor
from portal.errors import Conflict, NotFound, ValidationError
from portal.models import Organization, OrgKind
from portal.money import CURRENCY_EXPONENTS, MoneyError, exponent, format_money, to_decimal
from portal.services import audit_record, validate_model

MAX_AMOUNT = Decimal("100000000")  # a sanity bound well inside the columns' 12 digits
UNIT_PLACES = 4  # pay-per-use unit prices may go below the currency's minor unit
MAX_TRIAL_DAYS = 90
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,39}$")


def _require(actor: Actor, action: str, org: Organization) -> None:
    access.require(actor, action, org)


def _jsonable(value):
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _changes(obj, new_values: dict) -> tuple[dict, dict]:
    before, after = {}, {}
    for name, value in new_values.items():
        if getattr(obj, name) != value:
            before[name] = _jsonable(getattr(obj, name))
            after[name] = _jsonable(value)
    return before, after


def _decimal(value, field: str, label: str, *, places: int) -> Decimal:
    """A non-negative Decimal with at most ``places`` decimals, or a clear error on ``field``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError.for_field(field, f"Enter {label.lower()}.")
    try:
        number = to_decimal(value)
    except MoneyError:
        raise ValidationError.for_field(
            field, f"{label} must be a number such as 12.50, not {value!r}."
        ) from None
    if number < 0:
        raise ValidationError.for_field(field, f"{label} cannot be negative.")
    if number >= MAX_AMOUNT:
        raise ValidationError.for_field(field, f"{label} is too large.")
    try:
        exact = number == number.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        exact = False
    if not exact:
        raise ValidationError.for_field(
            field, f"{label} has more than {places} decimal place{'s' if places != 1 else ''}."
        )
    return number


def _money(value, field: str, label: str, currency: str) -> Decimal:
    """An amount in ``currency``: no finer than its minor unit (no 12.345 USD, no 10.5 JPY)."""
    return _decimal(value, field, label, places=exponent(currency))


def _currency(value, field: str = "currency") -> str:
    code = (value or "").strip().upper()
    if code not in CURRENCY_EXPONENTS:
        raise ValidationError.for_field(
            field, f"{code or 'An empty currency'} is not a currency the portal can sell in."
        )
    return code


def _start_date(value: date | None, field: str = "valid_from") -> date:
    day = value or today()
    if day < today():
        raise ValidationError.for_field(
            field,
            "It cannot start in the past: what is in force is never changed. "
            "Start it today or later.",
        )
    return day


def _check_seller(seller: Organization) -> None:
    if not seller.is_seller:
        raise ValidationError("Only the provider and resellers sell.")


# --- plans ----------------------------------------------------------------------------------------

PLAN_FIELDS = (
    "name",
    "description",
    "box_plan_code",
    "seat_min",
    "seat_max",
    "storage_mode",
    "storage_gb",
    "max_upload_mb",
    "changes_during_trial",
    "cancellation_timing",
    "is_active",
    "sort_order",
)

# The plans every installation starts with (Box's editions and their published limits).
DEFAULT_PLANS = [
    {
        "code": "individual",
        "box_plan_code": BoxPlan.INDIVIDUAL,
        "name": "Individual",
        "description": "Secure storage and sharing for one person.",
        "seat_min": 1,
        "seat_max": 1,
        "storage_mode": StorageMode.PER_SEAT,
        "storage_gb": 10,
        "max_upload_mb": 250,
        "sort_order": 10,
    },
    {
        "code": "starter",
        "box_plan_code": BoxPlan.STARTER,
        "name": "Starter",
        "description": "For small teams getting organised: shared folders and basic admin.",
        "seat_min": 1,
        "seat_max": 10,
        "storage_mode": StorageMode.POOLED,
        "storage_gb": 100,
        "max_upload_mb": 2048,
        "sort_order": 20,
    },
    {
        "code": "business",
        "box_plan_code": BoxPlan.BUSINESS,
        "name": "Business",
        "description": "Unlimited storage, admin controls and integrations for growing teams.",
        "seat_min": 3,
        "seat_max": None,
        "storage_mode": StorageMode.UNLIMITED,
        "storage_gb": None,
        "max_upload_mb": 5120,
        "sort_order": 30,
    },
    {
        "code": "business_plus",
        "box_plan_code": BoxPlan.BUSINESS_PLUS,
        "name": "Business Plus",
        "description": "Everything in Business plus external collaborators and more apps.",
        "seat_min": 3,
        "seat_max": None,
        "storage_mode": StorageMode.UNLIMITED,
        "storage_gb": None,
        "max_upload_mb": 15360,
        "sort_order": 40,
    },
    {
        "code": "enterprise",
        "box_plan_code": BoxPlan.ENTERPRISE,
        "name": "Enterprise",
        "description": "Advanced security, compliance and governance for the whole company.",
        "seat_min": 3,
        "seat_max": None,
        "storage_mode": StorageMode.UNLIMITED,
        "storage_gb": None,
        "max_upload_mb": 51200,
        "sort_order": 50,
    },
]
DEFAULT_ORDER = [p["code"] for p in DEFAULT_PLANS]


def _box_product() -> Product:
    product, _ = Product.objects.get_or_create(
        code="box", defaults={"name": "Box", "service_type": "box"}
    )
    return product


def _provider() -> Organization:
    provider = portal_selectors.provider()
    if provider is None:
        raise ValidationError("There is no provider yet.")
    return provider


def _check_plan(plan: Plan) -> None:
    if plan.seat_min is None or plan.seat_min < 1:
        raise ValidationError.for_field("seat_min", "A plan has at least one seat.")
    if plan.seat_max is not None and plan.seat_max < plan.seat_min:
        raise ValidationError.for_field(
            "seat_max", f"The maximum ({plan.seat_max}) is below the minimum ({plan.seat_min})."
        )
    if plan.storage_mode == StorageMode.UNLIMITED:
        plan.storage_gb = None
    elif not plan.storage_gb:
        raise ValidationError.for_field(
            "storage_gb", "Give the storage in GB (per seat or for the pool)."
        )
    if not plan.max_upload_mb:
        raise ValidationError.for_field("max_upload_mb", "Give the largest upload in MB.")
    validate_model(plan, exclude=["product"])


def _set_transitions(plan: Plan, transitions: Iterable) -> list[dict]:
    """Replace the plan's allowed changes with ``transitions``: (plan or code, timing) pairs or
    mappings with ``to``/``timing``."""
    wanted: dict[int, tuple[Plan, str]] = {}
    for item in transitions:
        if isinstance(item, dict):
            target, timing = item.get("to"), item.get("timing")
        else:
            target, timing = item
        if not isinstance(target, Plan):
            target = Plan.objects.filter(code=str(target or "").strip().lower()).first()
            if target is None:
                raise ValidationError.for_field("transitions", "A plan to change to is unknown.")
        if target.pk == plan.pk:
            raise ValidationError.for_field("transitions", f"{plan.name} cannot change to itself.")
        if timing not in TransitionTiming.values:
            raise ValidationError.for_field(
                "transitions", f"Choose when the change to {target.name} applies."
            )
        if target.pk in wanted:
            raise ValidationError.for_field(
                "transitions", f"The change to {target.name} is listed twice."
            )
        wanted[target.pk] = (target, timing)
    PlanTransition.objects.filter(from_plan=plan).delete()
    PlanTransition.objects.bulk_create(
        PlanTransition(from_plan=plan, to_plan=target, timing=timing)
        for target, timing in wanted.values()
    )
    return [{"to": target.code, "timing": timing} for target, timing in wanted.values()]


@transaction.atomic
def plan_create(
    *,
    actor: Actor,
    code: str,
    name: str,
    box_plan_code: str,
    storage_mode: str,
    max_upload_mb: int,
    seat_min: int = 1,
    seat_max: int | None = None,
    storage_gb: int | None = None,
    description: str = "",
    changes_during_trial: bool = True,
    cancellation_timing: str = "end_of_term",
    is_active: bool = True,
    sort_order: int = 100,
    transitions: Iterable = (),
) -> Plan:
    provider = _provider()
    _require(actor, "catalog.plans", provider)
    code = (code or "").strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,39}", code):
        raise ValidationError.for_field(
            "code", "Use 2 to 40 lower-case letters, digits, '_' or '-' for the code."
        )
    if Plan.objects.filter(code=code).exists():
        raise Conflict.for_field("code", f"A plan with the code {code} already exists.")
    if not (name or "").strip():
        raise ValidationError.for_field("name", "Give the plan a name.")
    plan = Plan(
        product=_box_product(),
        code=code,
        name=name.strip(),
        box_plan_code=box_plan_code,
        description=description,
        seat_min=seat_min,
        seat_max=seat_max,
        storage_mode=storage_mode,
        storage_gb=storage_gb,
        max_upload_mb=max_upload_mb,
        changes_during_trial=changes_during_trial,
        cancellation_timing=cancellation_timing,
        is_active=is_active,
        sort_order=sort_order,
    )
    _check_plan(plan)
    plan.save()
    after = {f: _jsonable(getattr(plan, f)) for f in ("code", *PLAN_FIELDS)}
    if transitions:
        after["transitions"] = _set_transitions(plan, transitions)
    audit_record(actor=actor, organization=provider, action="plan.created", obj=plan, after=after)
    return plan


@transaction.atomic
def plan_update(*, actor: Actor, plan: Plan, transitions=None, **fields) -> Plan:
    """Change a plan's limits or name; ``transitions`` (when given) replaces its allowed
    changes to other plans."""
    provider = _provider()
    _require(actor, "catalog.plans", provider)
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if fields.get("storage_mode") == StorageMode.UNLIMITED:
        fields["storage_gb"] = None
    before, after = _changes(plan, fields)
    for name, value in fields.items():
        setattr(plan, name, value)
    _check_plan(plan)
    if after:
        plan.save()
    if transitions is not None:
        before["transitions"] = [
            {"to": t.to_plan.code, "timing": t.timing}
            for t in plan.transitions.select_related("to_plan")
        ]
        after["transitions"] = _set_transitions(plan, transitions)
        if before["transitions"] == after["transitions"]:
            del before["transitions"], after["transitions"]
    if after:
        audit_record(
            actor=actor,
            organization=provider,
            action="plan.updated",
            obj=plan,
            before=before,
            after=after,
        )
    return plan


@transaction.atomic
def plan_seed_defaults(*, actor: Actor) -> list[Plan]:
    """Create the standard Box plans and their changes when missing (idempotent): upgrades to
    a higher plan apply immediately, downgrades at the end of the term."""
    require_actor(actor)
    plans = {}
    for spec in DEFAULT_PLANS:
        plan = Plan.objects.filter(code=spec["code"]).first()
        plans[spec["code"]] = plan or plan_create(actor=actor, **spec)
    for index, code in enumerate(DEFAULT_ORDER):
        plan = plans[code]
        if plan.transitions.exists():
            continue
        changes = [
            (
                plans[other],
                TransitionTiming.IMMEDIATE if j > index else TransitionTiming.END_OF_TERM,
            )
            for j, other in enumerate(DEFAULT_ORDER)
            if other != code
        ]
        plan_update(actor=actor, plan=plan, transitions=changes)
    return [plans[code] for code in DEFAULT_ORDER]


# --- currencies -----------------------------------------------------------------------------------


@transaction.atomic
def seller_currency_add(*, actor: Actor, seller: Organization, currency: str) -> SellerCurrency:
    _check_seller(seller)
    _require(actor, "catalog.currencies", seller)
    currency = _currency(currency)
    if (
        currency == seller.currency
        or SellerCurrency.objects.filter(seller=seller, currency=currency).exists()
    ):
        raise Conflict.for_field("currency", f"{seller.name} already sells in {currency}.")
    row = SellerCurrency.objects.create(seller=seller, currency=currency)
    audit_record(
        actor=actor,
        organization=seller,
        action="currency.added",
        obj=row,
        after={"currency": currency},
    )
    return row


@transaction.atomic
def seller_currency_remove(*, actor: Actor, seller: Organization, currency: str) -> None:
    _check_seller(seller)
    _require(actor, "catalog.currencies", seller)
    currency = (currency or "").strip().upper()
    if currency == seller.currency:
        raise ValidationError.for_field(
            "currency", f"{currency} is {seller.name}'s own currency; it is always sold in."
        )
    row = SellerCurrency.objects.filter(seller=seller, currency=currency).first()
    if row is None:
        raise NotFound(f"{seller.name} does not sell in {currency}.")
    audit_record(
        actor=actor,
        organization=seller,
        action="currency.removed",
        obj=row,
        before={"currency": currency},
    )
    row.delete()


# --- offers ---------------------------------------------------------------------------------------

OFFER_FIELDS = (
    "name",
    "description",
    "trial_days",
    "in_storefront",
    "available_to_all_resellers",
)


def _check_trial_days(value) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field("trial_days", "Give the trial in whole days.") from None
    if isinstance(value, float) or not 0 <= days <= MAX_TRIAL_DAYS:
        raise ValidationError.for_field(
            "trial_days", f"A trial lasts from 0 (none) to {MAX_TRIAL_DAYS} days."
        )
    return days


def _check_resellers(seller: Organization, resellers: Iterable[Organization]) -> list:
    result = list(resellers)
    for org in result:
        if not (org.is_reseller and org.parent_id == seller.pk):
            raise ValidationError.for_field(
                "available_to", f"{org.name} is not a reseller of {seller.name}."
            )
    return result


@transaction.atomic
def offer_publish(
    *,
    actor: Actor,
    seller: Organization,
    plan: Plan,
    name: str = "",
    description: str = "",
    trial_days: int = 0,
    in_storefront: bool = True,
    available_to_all_resellers: bool = False,
    available_to: Iterable[Organization] = (),
) -> Offer:
    """Put ``plan`` on sale. The provider publishes it (to its storefront, the marketplace,
    and to the resellers it chooses); a reseller picks it from the offers its parent made
    available to it. Publishing a withdrawn offer again brings it back."""
    _check_seller(seller)
    _require(actor, "catalog.manage", seller)
    if not plan.is_active:
        raise ValidationError.for_field("plan", f"{plan.name} is no longer sold.")
    parent_offer = None
    if not seller.is_provider:
        parent_offer = upstream_offer_for(seller, plan)
        if parent_offer is None:
            raise ValidationError.for_field(
                "plan", f"{seller.parent.name} does not offer {plan.name} to {seller.name}."
            )
    trial_days = _check_trial_days(trial_days)
    resellers = _check_resellers(seller, available_to)
    offer = Offer.objects.select_for_update().filter(seller=seller, plan=plan).first()
    values = {
        "name": (name or "").strip(),
        "description": description or "",
        "trial_days": trial_days,
        "in_storefront": bool(in_storefront),
        "available_to_all_resellers": bool(available_to_all_resellers),
    }
    if offer is not None and offer.is_active:
        raise Conflict(f"{seller.name} already sells {plan.name}.")
    action = "offer.published"
    if offer is None:
        offer = Offer(seller=seller, plan=plan, parent_offer=parent_offer, **values)
    else:
        action = "offer.republished"
        for key, value in values.items():
            setattr(offer, key, value)
        offer.parent_offer = parent_offer
        offer.is_active = True
    validate_model(offer, exclude=["seller", "plan", "parent_offer"])
    offer.save()
    offer.available_to.set(resellers)
    audit_record(
        actor=actor,
        organization=seller,
        action=action,
        obj=offer,
        after={
            "plan": plan.code,
            **values,
            "available_to": [r.pk for r in resellers],
        },
    )
    return offer


@transaction.atomic
def offer_update(*, actor: Actor, offer: Offer, available_to=None, **fields) -> Offer:
    """Change how an offer is shown and to whom it is available."""
    _require(actor, "catalog.manage", offer.seller)
    unknown = set(fields) - set(OFFER_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    offer = Offer.objects.select_for_update().select_related("seller", "plan").get(pk=offer.pk)
    if "trial_days" in fields:
        fields["trial_days"] = _check_trial_days(fields["trial_days"])
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
    before, after = _changes(offer, fields)
    for key, value in fields.items():
        setattr(offer, key, value)
    validate_model(offer, exclude=["seller", "plan", "parent_offer"])
    if after:
        offer.save()
    if available_to is not None:
        resellers = _check_resellers(offer.seller, available_to)
        old = sorted(offer.available_to.values_list("pk", flat=True))
        new = sorted(r.pk for r in resellers)
        if old != new:
            offer.available_to.set(resellers)
            before["available_to"], after["available_to"] = old, new
    if after:
        audit_record(
            actor=actor,
            organization=offer.seller,
            action="offer.updated",
            obj=offer,
            before=before,
            after=after,
        )
    return offer


@transaction.atomic
def offer_withdraw(*, actor: Actor, offer: Offer) -> Offer:
    """Stop selling an offer. Resellers' offers built on it stop being sellable with it."""
    _require(actor, "catalog.manage", offer.seller)
    offer = Offer.objects.select_for_update().get(pk=offer.pk)
    if not offer.is_active:
        return offer
    offer.is_active = False
    offer.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor,
        organization=offer.seller,
        action="offer.withdrawn",
        obj=offer,
        before={"is_active": True},
        after={"is_active": False},
    )
    return offer


# --- prices ---------------------------------------------------------------------------------------


def _metric_label(metric: str) -> str:
    return {
        Metric.STORAGE: "Storage over the quota",
        Metric.EXTRA_USERS: "Extra active users",
    }.get(metric, metric)


def _components(components: Iterable, plan: Plan) -> dict[str, tuple[str, tuple]]:
    """Check the pay-per-use components: {metric: (mode, tiers)}."""
    result: dict[str, tuple[str, tuple]] = {}
    for item in components or ():
        metric, mode, tiers = item.get("metric"), item.get("mode"), item.get("tiers") or []
        if metric not in Metric.values:
            raise ValidationError.for_field("components", f"Unknown pay-per-use metric {metric!r}.")
        field = f"components.{metric}"
        label = _metric_label(metric)
        if metric in result:
            raise ValidationError.for_field(field, f"{label} is priced twice.")
        if mode not in TierMode.values:
            raise ValidationError.for_field(
                field, f"{label}: choose flat, graduated or volume pricing."
            )
        if metric == Metric.STORAGE and plan.storage_mode == StorageMode.UNLIMITED:
            raise ValidationError.for_field(
                field, f"{plan.name} has unlimited storage; there is no quota to go over."
            )
        try:
            checked = pricing.as_tiers(tiers)
        except pricing.PricingError as exc:
            raise ValidationError.for_field(field, f"{label}: {exc}") from None
        if mode == TierMode.FLAT and len(checked) != 1:
            raise ValidationError.for_field(field, f"{label}: a flat price has one tier.")
        for tier in checked:
            _decimal(tier.unit_price, field, f"{label}: a unit price", places=UNIT_PLACES)
            if tier.up_to is not None:
                _decimal(tier.up_to, field, f"{label}: a tier limit", places=UNIT_PLACES)
        result[metric] = (mode, checked)
    return result


def _unit(amount: Decimal, currency: str) -> str:
    places = max(exponent(currency), -amount.normalize().as_tuple().exponent, 0)
    places = min(places, UNIT_PLACES)
    return f"{amount:.{places}f} {currency}"


def _range(lower: Decimal, upper: Decimal | None) -> str:
    if upper is None:
        return "every unit" if lower == 0 else f"above {lower.normalize():f} units"
    return f"from {lower.normalize():f} to {upper.normalize():f} units"


def _check_not_below(
    *,
    cost: Price,
    recurring: Decimal,
    setup_fee: Decimal,
    components: dict[str, tuple[str, tuple]],
    currency: str,
    when: str,
) -> None:
    """Refuse a price under ``cost`` in any component, naming the component, the amount and
    the cost."""
    if recurring < cost.recurring:
        raise ValidationError.for_field(
            "recurring",
            f"The price per seat, {format_money(recurring, currency)}, is below your cost of "
            f"{format_money(cost.recurring, currency)}{when}.",
            code="below_cost",
        )
    if setup_fee < cost.setup_fee:
        raise ValidationError.for_field(
            "setup_fee",
            f"The setup fee, {format_money(setup_fee, currency)}, is below your cost of "
            f"{format_money(cost.setup_fee, currency)}{when}.",
            code="below_cost",
        )
    for component in cost.components.all():
        field = f"components.{component.metric}"
        label = _metric_label(component.metric)
        cost_tiers = pricing.as_tiers(component.tiers.all())
        mine = components.get(component.metric)
        if mine is None:
            raise ValidationError.for_field(
                field,
                f"{label} is not priced, but it costs you from "
                f"{_unit(min(t.unit_price for t in cost_tiers), currency)} a unit{when}; "
                "price it at or above your cost.",
                code="below_cost",
            )
        my_tiers = mine[1]
        for lower, upper in pricing.tier_intervals(my_tiers, cost_tiers):
            probe = upper if upper is not None else lower + 1
            price = pricing.unit_price_at(probe, my_tiers)
            floor = pricing.unit_price_at(probe, cost_tiers)
            if price < floor:
                raise ValidationError.for_field(
                    field,
                    f"{label}, {_range(lower, upper)}: {_unit(price, currency)} is below "
                    f"your cost of {_unit(floor, currency)}{when}.",
                    code="below_cost",
                )


def _check_cost(
    *,
    seller: Organization,
    plan: Plan,
    currency: str,
    term: str,
    recurring: Decimal,
    setup_fee: Decimal,
    components: dict,
    valid_from: date,
) -> None:
    """A reseller's price may not undercut what it pays its parent, from its first day and
    against every cost version already scheduled after it."""
    days = [
        valid_from,
        *scheduled_cost_dates(
            seller=seller, plan=plan, currency=currency, term=term, after=valid_from
        ),
    ]
    for day in days:
        try:
            cost = price_for(
                seller=seller.parent,
                plan=plan,
                currency=currency,
                term=term,
                buyer=seller,
                on_date=day,
            )
        except ValidationError:
            raise ValidationError.for_field(
                "currency",
                f"{seller.parent.name} has no {Term(term).label.lower()} price in {currency} "
                f"for {plan.name} to {seller.name} on {day:%d %b %Y}, so it cannot be sold "
                "in that currency and term.",
                code="no_cost",
            ) from None
        when = "" if day == valid_from else f" from {day:%d %b %Y}"
        _check_not_below(
            cost=cost,
            recurring=recurring,
            setup_fee=setup_fee,
            components=components,
            currency=currency,
            when=when,
        )


@transaction.atomic
def price_create(
    *,
    actor: Actor,
    seller: Organization,
    plan: Plan,
    currency: str,
    term: str,
    recurring,
    setup_fee="0",
    components: Iterable = (),
    audience: str = Audience.RETAIL,
    buyer: Organization | None = None,
    valid_from: date | None = None,
) -> Price:
    """Create a new version of a price line, in force from ``valid_from`` (today by default,
    never in the past). ``components``: [{"metric", "mode", "tiers": [{"up_to",
    "unit_price"}]}]. A reseller's price may not undercut its cost."""
    _check_seller(seller)
    _require(actor, "catalog.manage", seller)
    if audience not in Audience.values:
        raise ValidationError.for_field("audience", "Choose retail or wholesale.")
    if term not in Term.values:
        raise ValidationError.for_field("term", "Choose a monthly or an annual term.")
    currency = _currency(currency)
    if currency not in seller_currencies(seller):
        raise ValidationError.for_field(
            "currency",
            f"{seller.name} does not sell in {currency}; add the currency first "
            f"(it sells in {', '.join(seller_currencies(seller))}).",
            code="currency_not_sold",
        )
    if not plan.is_active:
        raise ValidationError.for_field("plan", f"{plan.name} is no longer sold.")
    if not seller.is_provider and upstream_offer_for(seller, plan) is None:
        raise ValidationError.for_field(
            "plan", f"{seller.parent.name} does not offer {plan.name} to {seller.name}."
        )
    if buyer is not None:
        wanted = OrgKind.CUSTOMER if audience == Audience.RETAIL else OrgKind.RESELLER
        if buyer.kind != wanted or buyer.parent_id != seller.pk:
            raise ValidationError.for_field(
                "buyer",
                f"{buyer.name} is not a {wanted} of {seller.name}; a "
                f"{'retail' if wanted == OrgKind.CUSTOMER else 'wholesale'} price is for one.",
            )
    valid_from = _start_date(valid_from)
    recurring = _money(recurring, "recurring", "The price per seat", currency)
    setup_fee = _money(
        "0" if setup_fee in (None, "") else setup_fee, "setup_fee", "The setup fee", currency
    )
    checked = _components(components, plan)
    if not seller.is_provider:
        _check_cost(
            seller=seller,
            plan=plan,
            currency=currency,
            term=term,
            recurring=recurring,
            setup_fee=setup_fee,
            components=checked,
            valid_from=valid_from,
        )
    price = Price.objects.create(
        seller=seller,
        plan=plan,
        audience=audience,
        buyer=buyer,
        currency=currency,
        term=term,
        recurring=recurring,
        setup_fee=setup_fee,
        valid_from=valid_from,
        created_by=person(actor),
    )
    for metric, (mode, tiers) in checked.items():
        component = PriceComponent.objects.create(price=price, metric=metric, mode=mode)
        PriceTier.objects.bulk_create(
            PriceTier(component=component, position=i, up_to=t.up_to, unit_price=t.unit_price)
            for i, t in enumerate(tiers, start=1)
        )
    audit_record(
        actor=actor,
        organization=seller,
        action="price.created",
        obj=price,
        after={
            "plan": plan.code,
            "audience": audience,
            "buyer": buyer.pk if buyer else None,
            "currency": currency,
            "term": term,
            "recurring": str(recurring),
            "setup_fee": str(setup_fee),
            "valid_from": valid_from.isoformat(),
            "components": {
                metric: {
                    "mode": mode,
                    "tiers": [[_jsonable(t.up_to), str(t.unit_price)] for t in tiers],
                }
                for metric, (mode, tiers) in checked.items()
            },
        },
    )
    return price


# --- trials ---------------------------------------------------------------------------------------


@transaction.atomic
def trial_redeem(
    *,
    customer: Organization,
    offer: Offer,
    started_on: date | None = None,
    actor: Actor,
) -> TrialUse:
    """Record that ``customer`` starts its one trial of the offer's product (ordering calls
    this). A second trial of the same product is refused, by a unique constraint."""
    if offer.trial_days <= 0:
        raise ValidationError(f"{offer.display_name} has no trial.")
    if not customer.is_customer or customer.parent_id != offer.seller_id:
        raise ValidationError(f"{customer.name} does not buy from {offer.seller.name}.")
    started_on = started_on or today()
    product = offer.plan.product
    message = (
        f"{customer.name} has already had a trial of {product.name}; "
        "a new subscription is billed from its first day."
    )
    if TrialUse.objects.filter(customer=customer, product=product).exists():
        raise Conflict(message, code="trial_used")
    try:
        with transaction.atomic():
            use = TrialUse.objects.create(
                customer=customer,
                product=product,
                offer=offer,
                started_on=started_on,
                ends_on=started_on + timedelta(days=offer.trial_days),
            )
    except IntegrityError:
        raise Conflict(message, code="trial_used") from None
    audit_record(
        actor=actor,
        organization=customer,
        action="trial.started",
        obj=use,
        after={
            "offer": offer.pk,
            "started_on": use.started_on.isoformat(),
            "ends_on": use.ends_on.isoformat(),
        },
    )
    return use


# --- promotions -----------------------------------------------------------------------------------

PROMOTION_UPDATE_FIELDS = (
    "name",
    "valid_until",
    "max_redemptions",
    "max_per_customer",
    "is_active",
)


def _positive_int(value, field: str, label: str, *, allow_none: bool) -> int | None:
    if value in (None, "") and allow_none:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError.for_field(field, f"{label} must be a whole number.") from None
    if isinstance(value, float) or number < 1:
        raise ValidationError.for_field(field, f"{label} must be at least 1.")
    return number


@transaction.atomic
def promotion_create(
    *,
    actor: Actor,
    seller: Organization,
    name: str,
    discount_type: str,
    duration: str,
    code: str = "",
    percent=None,
    amount=None,
    currency: str = "",
    duration_periods: int | None = None,
    plans: Iterable[Plan] = (),
    valid_from: date | None = None,
    valid_until: date | None = None,
    max_redemptions: int | None = None,
    max_per_customer: int = 1,
) -> Promotion:
    """A discount on recurring charges for the seller's customers: with a ``code`` customers
    enter, or automatic (no code)."""
    _check_seller(seller)
    _require(actor, "catalog.manage", seller)
    name = (name or "").strip()
    if not name:
        raise ValidationError.for_field("name", "Give the promotion a name.")
    code = (code or "").strip().upper()
    kind = PromotionKind.CODE if code else PromotionKind.AUTOMATIC
    if code:
        if not CODE_PATTERN.match(code):
            raise ValidationError.for_field(
                "code", "A code has 3 to 40 letters, digits, '-' or '_', such as WELCOME20."
            )
        if Promotion.objects.filter(seller=seller, code=code).exists():
            raise Conflict.for_field("code", f"{seller.name} already has the code {code}.")
    values: dict = {"percent": None, "amount": None, "currency": ""}
    if discount_type == DiscountType.PERCENT:
        value = _decimal(percent, "percent", "The percentage", places=2)
        if not 0 < value <= 100:
            raise ValidationError.for_field("percent", "The percentage is above 0 and at most 100.")
        values["percent"] = value
    elif discount_type == DiscountType.FIXED:
        values["currency"] = _currency(currency)
        if values["currency"] not in seller_currencies(seller):
            raise ValidationError.for_field(
                "currency", f"{seller.name} does not sell in {values['currency']}."
            )
        value = _money(amount, "amount", "The amount", values["currency"])
        if value <= 0:
            raise ValidationError.for_field("amount", "The amount is above zero.")
        values["amount"] = value
    else:
        raise ValidationError.for_field(
            "discount_type", "Choose a percentage or a fixed amount off."
        )
    if duration == PromotionDuration.REPEATING:
        duration_periods = _positive_int(
            duration_periods, "duration_periods", "The number of periods", allow_none=False
        )
    elif duration in (PromotionDuration.ONCE, PromotionDuration.FOREVER):
        duration_periods = None
    else:
        raise ValidationError.for_field(
            "duration", "Choose once, for a number of periods, or forever."
        )
    valid_from = valid_from or today()
    if valid_until is not None and valid_until < valid_from:
        raise ValidationError.for_field("valid_until", "The last day is before the first day.")
    max_redemptions = _positive_int(
        max_redemptions, "max_redemptions", "The number of uses", allow_none=True
    )
    max_per_customer = _positive_int(
        max_per_customer, "max_per_customer", "The uses per customer", allow_none=False
    )
    plans = list(plans)
    promotion = Promotion(
        seller=seller,
        name=name,
        kind=kind,
        code=code,
        discount_type=discount_type,
        duration=duration,
        duration_periods=duration_periods,
        valid_from=valid_from,
        valid_until=valid_until,
        max_redemptions=max_redemptions,
        max_per_customer=max_per_customer,
        **values,
    )
    validate_model(promotion, exclude=["seller"])
    promotion.save()
    promotion.plans.set(plans)
    audit_record(
        actor=actor,
        organization=seller,
        action="promotion.created",
        obj=promotion,
        after={
            "name": name,
            "kind": kind,
            "code": code,
            "discount_type": discount_type,
            **{k: _jsonable(v) for k, v in values.items()},
            "duration": duration,
            "duration_periods": duration_periods,
            "plans": [p.code for p in plans],
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None,
            "max_redemptions": max_redemptions,
            "max_per_customer": max_per_customer,
        },
    )
    return promotion


@transaction.atomic
def promotion_update(*, actor: Actor, promotion: Promotion, **fields) -> Promotion:
    """Change a promotion's name, end, limits or switch it off. Its discount and duration are
    what customers were promised and stay as they are; create a new promotion instead."""
    _require(actor, "catalog.manage", promotion.seller)
    unknown = set(fields) - set(PROMOTION_UPDATE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    promotion = Promotion.objects.select_for_update().get(pk=promotion.pk)
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise ValidationError.for_field("name", "Give the promotion a name.")
    if "max_redemptions" in fields:
        fields["max_redemptions"] = _positive_int(
            fields["max_redemptions"], "max_redemptions", "The number of uses", allow_none=True
        )
    if "max_per_customer" in fields:
        fields["max_per_customer"] = _positive_int(
            fields["max_per_customer"],
            "max_per_customer",
            "The uses per customer",
            allow_none=False,
        )
    if fields.get("valid_until") is not None and fields["valid_until"] < promotion.valid_from:
        raise ValidationError.for_field("valid_until", "The last day is before the first day.")
    before, after = _changes(promotion, fields)
    if not after:
        return promotion
    for key, value in fields.items():
        setattr(promotion, key, value)
    promotion.save()
    audit_record(
        actor=actor,
        organization=promotion.seller,
        action="promotion.updated",
        obj=promotion,
        before=before,
        after=after,
    )
    return promotion


@transaction.atomic
def promotion_redeem(
    *,
    promotion: Promotion,
    customer: Organization,
    reference: str,
    plan: Plan | None = None,
    on_date: date | None = None,
    actor: Actor,
) -> PromotionRedemption:
    """Use a promotion once for ``customer`` (ordering calls this with the order's number as
    ``reference``; the same reference again returns the first redemption). Safe under
    concurrency: the promotion row is locked while its uses are counted, and a unique
    constraint on the customer's use number backs the per-customer limit."""
    reference = (reference or "").strip()[:100]
    if not reference:
        raise ValidationError("A redemption needs a reference (the order it is for).")
    locked = Promotion.objects.select_for_update().select_related("seller").get(pk=promotion.pk)
    existing = PromotionRedemption.objects.filter(promotion=locked, reference=reference).first()
    if existing is not None:
        if existing.customer_id != customer.pk:
            raise Conflict(f"The reference {reference} already used this promotion.")
        return existing
    if not customer.is_customer or customer.parent_id != locked.seller_id:
        raise ValidationError(f"{customer.name} does not buy from {locked.seller.name}.")
    on_date = on_date or today()

    def refuse(message: str):
        return ValidationError.for_field("promotion_code", message, code="invalid_promotion")

    label = locked.code or locked.name
    if not locked.is_active:
        raise refuse(f"{label} has been withdrawn.")
    if on_date < locked.valid_from or (
        locked.valid_until is not None and on_date > locked.valid_until
    ):
        raise refuse(f"{label} cannot be used on {on_date:%d %b %Y}.")
    if plan is not None:
        plan_ids = set(locked.plans.values_list("pk", flat=True))
        if plan_ids and plan.pk not in plan_ids:
            raise refuse(f"{label} does not apply to {plan.name}.")
    counts = PromotionRedemption.objects.filter(promotion=locked).aggregate(
        total=Count("pk"), mine=Count("pk", filter=Q(customer=customer))
    )
    if locked.max_redemptions is not None and counts["total"] >= locked.max_redemptions:
        raise refuse(f"{label} has been used up.")
    if counts["mine"] >= locked.max_per_customer:
        raise refuse(f"{customer.name} has already used {label}.")
    try:
        with transaction.atomic():
            redemption = PromotionRedemption.objects.create(
                promotion=locked,
                customer=customer,
                slot=counts["mine"] + 1,
                reference=reference,
            )
    except IntegrityError:
        raise Conflict(f"{label} was just used by another order; try again.") from None
    audit_record(
        actor=actor,
        organization=customer,
        action="promotion.redeemed",
        obj=redemption,
        after={"promotion": locked.pk, "reference": reference, "slot": redemption.slot},
    )
    return redemption


# --- tax rates ------------------------------------------------------------------------------------


@transaction.atomic
def tax_rate_create(
    *,
    actor: Actor,
    seller: Organization,
    name: str,
    rate,
    country: str = "",
    valid_from: date | None = None,
) -> TaxRate:
    """A new tax rate for the seller's buyers in ``country`` ('' for any country), in force
    from ``valid_from``; it replaces the previous rate of that country from that day."""
    _check_seller(seller)
    _require(actor, "catalog.tax", seller)
    name = (name or "").strip()
    if not name:
        raise ValidationError.for_field("name", "Name the tax, such as VAT or Sales tax.")
    country = (country or "").strip().upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise ValidationError.for_field(
            "country", "Use a two-letter ISO country code, or leave it empty for any country."
        )
    value = _decimal(rate, "rate", "The rate", places=2)
    if value > 100:
        raise ValidationError.for_field("rate", "A rate is a percentage between 0 and 100.")
    valid_from = _start_date(valid_from)
    tax_rate = TaxRate.objects.create(
        seller=seller,
        name=name,
        country=country,
        rate=value,
        valid_from=valid_from,
        created_by=person(actor),
    )
    audit_record(
        actor=actor,
        organization=seller,
        action="tax_rate.created",
        obj=tax_rate,
        after={
            "name": name,
            "country": country,
            "rate": str(value),
            "valid_from": valid_from.isoformat(),
        },
    )
    return tax_rate
