"""The billing run's fast path: a batch of subscriptions read with a constant number of
queries, rated in memory and written in bulk.

Most boundaries are plain: the subscription renews on the same plan, seats and price. Those
are billed here without a query per subscription: everything the rating needs is loaded for
the whole batch (``BatchContext``), the renewal and the lines are kept in memory
(``Writer``) and written at the end with one bulk statement per table. A boundary with
anything special (a scheduled change, a price move, the end of a trial, the end of the
subscription, no price yet) goes through the general path (``run.bill_boundary``), after
the writer has flushed what it holds so both paths see the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from django.db import models
from django.db.models import Count, Max
from django.utils import timezone

from billing.models import (
    BilledPart,
    BilledPeriod,
    BillingIssue,
    Charge,
    Invoice,
    InvoiceLine,
    InvoiceSource,
    InvoiceState,
    PriceMove,
)
from billing.services import gather, rating
from catalog import pricing
from catalog.models import PriceComponent
from orders.models import ChangeState, Subscription, SubscriptionChange, SubscriptionStatus
from portal import bulk, clock
from portal.models import Organization
from portal.services import audit_rows_insert, audit_values


@dataclass
class BatchContext:
    """What the batch's subscriptions need for rating, loaded once."""

    day: date
    open_issues: dict[int, set[date]] = field(default_factory=dict)
    has_change: set[int] = field(default_factory=set)
    has_move: set[int] = field(default_factory=set)
    paid: dict[int, int] = field(default_factory=dict)
    usage: dict[int, dict[date, dict[str, int]]] = field(default_factory=dict)
    applied: dict[int, list[tuple]] = field(default_factory=dict)
    charges: dict[int, list[Charge]] = field(default_factory=dict)
    components: dict[int, tuple] = field(default_factory=dict)
    _tax: dict[tuple, tuple] = field(default_factory=dict)
    _chains: dict[str, list] = field(default_factory=dict)
    _cost: dict[tuple, object] = field(default_factory=dict)

    @classmethod
    def load(cls, subs: list[Subscription], day: date) -> BatchContext:
        ctx = cls(day=day)
        ids = [s.pk for s in subs]
        if not ids:
            return ctx
        for sub_id, start in BillingIssue.objects.filter(
            subscription_id__in=ids, resolved_at__isnull=True
        ).values_list("subscription_id", "period_start"):
            ctx.open_issues.setdefault(sub_id, set()).add(start)
        ctx.has_change = set(
            SubscriptionChange.objects.filter(
                subscription_id__in=ids, state=ChangeState.SCHEDULED, effective_on__lte=day
            ).values_list("subscription_id", flat=True)
        )
        ctx.has_move = set(
            PriceMove.objects.filter(
                subscription_id__in=ids, state="scheduled", effective_from__lte=day
            ).values_list("subscription_id", flat=True)
        )
        ctx.paid = dict(
            BilledPeriod.objects.filter(subscription_id__in=ids, part=BilledPart.ADVANCE)
            .filter(seller_id__in={s.seller_id for s in subs})
            .values("subscription_id", "seller_id")
            .annotate(n=Count("pk"))
            .values_list("subscription_id", "n")
        )
        price_ids = {s.price_id for s in subs if s.price_id}
        for component in (
            PriceComponent.objects.filter(price_id__in=price_ids)
            .prefetch_related("tiers")
            .order_by("price_id", "metric")
        ):
            tiers = pricing.as_tiers(component.tiers.all())
            ctx.components.setdefault(component.price_id, ())
            ctx.components[component.price_id] += (
                rating.Component(component.metric, component.mode, tiers, component.price_id),
            )
        metered = [s.pk for s in subs if ctx.components.get(s.price_id)]
        if metered:
            start = min(s.current_period_start for s in subs)
            for sub_id, day_, metric, value in gather.UsageRecord.objects.filter(
                subscription_id__in=metered,
                day__gte=start,
                day__lt=day,
                metric__in=("storage_bytes", "active_users"),
            ).values_list("subscription_id", "day", "metric", "value"):
                ctx.usage.setdefault(sub_id, {}).setdefault(day_, {})[metric] = value
            start_of = {s.pk: s.current_period_start for s in subs}
            for sub_id, effective, before, after in (
                SubscriptionChange.objects.filter(
                    subscription_id__in=metered, state=ChangeState.APPLIED
                )
                .order_by("effective_on", "id")
                .values_list("subscription_id", "effective_on", "from_quantity", "to_quantity")
            ):
                if effective > start_of[sub_id]:
                    ctx.applied.setdefault(sub_id, []).append((effective, before, after))
        for charge in Charge.objects.filter(
            subscription_id__in=ids, invoiced_at__isnull=True
        ).order_by("id"):
            ctx.charges.setdefault(charge.subscription_id, []).append(charge)
        return ctx

    # --- per subscription ---------------------------------------------------------------

    def flagged(self, sub: Subscription) -> bool:
        return sub.current_period_end in self.open_issues.get(sub.pk, ())

    def plain(self, sub: Subscription) -> bool:
        """Whether the boundary renews the same plan, seats and price (the fast path)."""
        return (
            sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)
            and not sub.cancel_at_period_end
            and sub.price_id is not None
            and (sub.trial_ends_on is None or sub.current_period_end > sub.trial_ends_on)
            and sub.pk not in self.has_change
            and sub.pk not in self.has_move
        )

    def usage_of(self, sub: Subscription, start: date, end: date) -> rating.Usage | None:
        components = self.components.get(sub.price_id)
        if not components:
            return None
        days_values = self.usage.get(sub.pk, {})
        changes = self.applied.get(sub.pk, [])
        plan = sub.plan
        quantity = changes[0][1] if changes else sub.quantity
        included = plan.included_storage_gb(quantity)  # again only when the seats change
        index, days, day, one = 0, [], start, timedelta(days=1)
        while day < end:
            while index < len(changes) and changes[index][0] <= day:
                quantity = changes[index][2]
                included = plan.included_storage_gb(quantity)
                index += 1
            values = days_values.get(day)
            if values is not None:
                days.append(
                    rating.UsageDay(
                        day,
                        values.get("storage_bytes", 0),
                        values.get("active_users", 0),
                        quantity,
                        included,
                    )
                )
            day += one
        return rating.Usage(start, end, pricing.TERM_MONTHS[sub.term], tuple(days), components)

    def tax(self, seller: Organization, buyer: Organization, on: date) -> tuple:
        key = (seller.pk, buyer.country, buyer.tax_exempt, on)
        if key not in self._tax:
            self._tax[key] = gather.tax_for(seller, buyer, on)
        return self._tax[key]

    def chain(self, sub: Subscription) -> list:
        key = sub.customer.path.rsplit("/", 2)[0]  # the seller's path: same chain for all
        if key not in self._chains:
            self._chains[key] = gather.wholesale_chain(sub)
        return self._chains[key]

    def cost(self, seller, reseller, plan, currency, term, on: date):
        key = (seller.pk, reseller.pk, plan.pk, currency, term, on)
        if key not in self._cost:
            self._cost[key] = gather._price_for(
                seller=seller, plan=plan, currency=currency, term=term, buyer=reseller, on_date=on
            )
        return self._cost[key]

    def cost_components(self, price) -> tuple:
        if price.pk not in self.components:
            self.components[price.pk] = gather.components_of(price)
        return self.components[price.pk]


@dataclass
class Writer:
    """Rows of the fast path, written in bulk by ``flush``."""

    actor: object
    lines: dict[tuple, list[tuple[rating.RatedLine, Subscription]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    periods: list[BilledPeriod] = field(default_factory=list)
    renewed: dict[int, Subscription] = field(default_factory=dict)
    audits: list[tuple] = field(default_factory=list)
    charges: list[int] = field(default_factory=list)
    # (draft key, a billed period's values; it points at the draft once the draft exists)
    pending_periods: list[tuple[tuple | None, dict]] = field(default_factory=list)

    def add(self, key: tuple, lines, sub: Subscription) -> None:
        for line in lines:
            self.lines[key].append((line, sub))

    def period(self, key: tuple | None, **values) -> None:
        self.pending_periods.append((key, values))

    @property
    def empty(self) -> bool:
        return not (self.lines or self.pending_periods or self.renewed)

    def flush(self) -> int:
        """Write everything held; returns the number of lines written."""
        if self.empty:
            return 0
        drafts = _drafts_for(list(self.lines))
        rows = []
        for key, items in self.lines.items():
            invoice, position = drafts[key]
            for line, sub in items:
                position += 1
                rows.append(line_values(invoice, position, line, sub.pk))
        bulk.insert(InvoiceLine, columns=LINE_COLUMNS, rows=rows)
        now = clock.now()
        bulk.insert(
            BilledPeriod,
            columns=PERIOD_COLUMNS,
            rows=[
                (
                    values["subscription"].pk,
                    values["seller_id"],
                    values["part"],
                    values["period_start"],
                    values["period_end"],
                    drafts[key][0].pk if key is not None and key in drafts else None,
                    now,
                )
                for key, values in self.pending_periods
            ],
        )
        if self.renewed:
            bulk.update_rows(
                Subscription,
                columns=["current_period_start", "current_period_end", "updated_at"],
                rows=[
                    (sub.pk, sub.current_period_start, sub.current_period_end, now)
                    for sub in self.renewed.values()
                ],
            )
        audit_rows_insert(self.audits)
        if self.charges:
            Charge.objects.filter(pk__in=self.charges).update(invoiced_at=clock.now())
        written = len(rows)
        self.lines.clear()
        self.pending_periods.clear()
        self.renewed.clear()
        self.audits.clear()
        self.charges.clear()
        return written


KEY_COLUMNS = ("seller_id", "buyer_id", "currency", "billing_day", "source")


def _draft_rows(keys: list[tuple]) -> tuple[tuple[str, ...], list[tuple]]:
    """The columns and rows of new drafts for ``keys``: every column at the model's default
    (as ``Invoice(...)`` would be saved), the keys set."""
    template = Invoice()
    now = timezone.now()
    columns, defaults = [], []
    for f in Invoice._meta.concrete_fields:
        if f.primary_key or f.attname in KEY_COLUMNS:
            continue
        columns.append(f.attname)
        if f.attname in ("created_at", "updated_at"):
            defaults.append(now)
        elif isinstance(f, models.FileField):
            defaults.append(getattr(template, f.attname).name or "")
        else:
            defaults.append(getattr(template, f.attname))
    defaults = tuple(defaults)
    return (*KEY_COLUMNS, *columns), [(*k, *defaults) for k in keys]


class Draft(NamedTuple):
    """What the lines of a draft need of it."""

    pk: int
    seller_id: int


def _drafts_for(keys: list[tuple]) -> dict[tuple, tuple[Draft, int]]:
    """The open draft for each key, locked, made when missing, with its last line position:
    one lookup, one insert of the missing drafts (returning them) and one query for the last
    positions of the drafts that existed, for the whole batch."""
    if not keys:
        return {}

    def lookup(wanted) -> dict[tuple, Draft]:
        rows = (
            Invoice.objects.select_for_update()
            .filter(
                state=InvoiceState.DRAFT,
                buyer_id__in={k[1] for k in wanted},
                billing_day__in={k[3] for k in wanted},
            )
            .order_by("pk")
            .values_list("pk", *KEY_COLUMNS)
        )
        return {tuple(key): Draft(pk, key[0]) for pk, *key in rows}

    found = lookup(keys)
    existing = [found[k].pk for k in keys if k in found]
    missing = [k for k in keys if k not in found]
    if missing:
        # Made here, so locked by this transaction until it commits; a draft of the same key
        # made at the same moment by another one is skipped and read (locked) below.
        columns, rows = _draft_rows(missing)
        for pk, *key in bulk.insert(
            Invoice, columns=columns, rows=rows, ignore_conflicts=True,
            returning=("id", *KEY_COLUMNS),
        ):  # fmt: skip
            found[tuple(key)] = Draft(pk, key[0])
        still = [k for k in missing if k not in found]
        if still:
            again = lookup(still)
            found.update(again)
            existing += [again[k].pk for k in still]
    last = {}
    if existing:
        last = dict(
            InvoiceLine.objects.filter(invoice_id__in=existing)
            .values("invoice_id")
            .annotate(m=Max("position"))
            .values_list("invoice_id", "m")
        )
    return {k: (found[k], last.get(found[k].pk, 0)) for k in keys}


LINE_COLUMNS = (
    "invoice_id",
    "position",
    "kind",
    "description",
    "subscription_id",
    "quantity",
    "unit_price",
    "amount",
    "service_start",
    "service_end",
    "billed_by_id",
    "price_id",
    "charge_id",
    "order_id",
    "promotion_id",
    "metric",
    "tax_rate_id",
    "tax_percent",
    "taxable_base",
    "explain",
)
PERIOD_COLUMNS = (
    "subscription_id",
    "seller_id",
    "part",
    "period_start",
    "period_end",
    "invoice_id",
    "created_at",
)


def line_values(invoice: Invoice | Draft, position: int, line: rating.RatedLine, sub_id) -> tuple:
    """An invoice line as values in the order of ``LINE_COLUMNS``."""
    return (
        invoice.pk,
        position,
        line.kind,
        line.description[:300],
        sub_id,
        line.quantity,
        line.unit_price,
        line.amount,
        line.service_start,
        line.service_end,
        invoice.seller_id,
        line.price_id,
        line.charge_id,
        line.order_id,
        line.promotion_id,
        line.metric,
        line.tax_rate_id,
        line.tax_percent,
        line.taxable_base,
        line.explain,
    )


def bill_plain(sub: Subscription, ctx: BatchContext, writer: Writer, *, actor) -> None:
    """Renew and bill a plain boundary in memory. Raises ``gather.PriceMissing`` (from the
    wholesale side) before holding anything for the subscription."""
    from billing.services.run import _label

    boundary = sub.current_period_end
    start = sub.current_period_start
    end = pricing.period_end(boundary, sub.term, sub.anchor_day)
    usage = ctx.usage_of(sub, start, boundary)
    charges = ctx.charges.get(sub.pk, [])
    index = ctx.paid.get(sub.pk, 0)
    advance = rating.Advance(boundary, end, sub.quantity, sub.unit_price, sub.price_id)
    # wholesale first: a missing cost must stop the subscription before anything is held
    wholesale = []
    for seller, reseller in ctx.chain(sub):
        cost = ctx.cost(seller, reseller, sub.plan, sub.currency, sub.term, boundary)
        used_cost = ctx.cost(seller, reseller, sub.plan, sub.currency, sub.term, start)
        cost_usage = None
        cost_components = ctx.cost_components(used_cost)
        if usage is not None and cost_components:
            cost_usage = rating.Usage(
                usage.start, usage.end, usage.term_months, usage.days, cost_components
            )
        mirrored = [
            m
            for m in (gather.wholesale_charge(c, seller=seller, reseller=reseller) for c in charges)
            if m is not None
        ]
        tax, exempt = ctx.tax(seller, reseller, boundary)
        lines = rating.rate(
            rating.RatingInput(
                currency=sub.currency,
                label=f"{sub.customer.name}: {sub.plan.name} (wholesale)",
                advance=rating.Advance(boundary, end, sub.quantity, cost.recurring, cost.pk),
                usage=cost_usage,
                charges=tuple(mirrored),
                tax=tax,
                exempt=exempt,
            )
        )
        key = (
            seller.pk,
            reseller.pk,
            sub.currency,
            gather.wholesale_month_day(boundary),
            InvoiceSource.WHOLESALE,
        )
        wholesale.append((seller, key, lines, cost_usage is not None))
    tax, exempt = ctx.tax(sub.seller, sub.customer, boundary)
    lines = rating.rate(
        rating.RatingInput(
            currency=sub.currency,
            label=_label(sub),
            advance=advance,
            discount=gather.discount_for(sub, index),
            usage=usage,
            charges=tuple(gather.as_pending(c) for c in charges),
            tax=tax,
            exempt=exempt,
        )
    )
    key = (sub.seller_id, sub.customer_id, sub.currency, boundary, InvoiceSource.PERIOD)
    writer.add(key, lines, sub)
    writer.period(key, subscription=sub, seller_id=sub.seller_id, part=BilledPart.ADVANCE,
                  period_start=boundary, period_end=end)  # fmt: skip
    if usage is not None:
        writer.period(key, subscription=sub, seller_id=sub.seller_id, part=BilledPart.ARREARS,
                      period_start=start, period_end=boundary)  # fmt: skip
    for seller, wkey, wlines, metered in wholesale:
        if wlines:
            writer.add(wkey, wlines, sub)
        wk = wkey if wlines else None
        writer.period(wk, subscription=sub, seller_id=seller.pk, part=BilledPart.ADVANCE,
                      period_start=boundary, period_end=end)  # fmt: skip
        if metered:
            writer.period(wk, subscription=sub, seller_id=seller.pk, part=BilledPart.ARREARS,
                          period_start=start, period_end=boundary)  # fmt: skip
    writer.charges.extend(c.pk for c in charges)
    ctx.charges[sub.pk] = []
    ctx.paid[sub.pk] = index + 1
    # the renewal itself
    sub.current_period_start, sub.current_period_end = boundary, end
    writer.renewed[sub.pk] = sub
    writer.audits.append(
        audit_values(
            actor=actor,
            organization=sub.customer,
            action="subscription.renewed",
            obj=sub,
            before={"price": str(sub.unit_price)},
            after={
                "period_start": boundary.isoformat(),
                "period_end": end.isoformat(),
                "change": "",
                "price": str(sub.unit_price),
            },
        )
    )
