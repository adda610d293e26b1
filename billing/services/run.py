"""The billing run: every subscription whose period has ended is renewed and billed in one
step, then the drafts that are complete are issued.

- Renewal and billing are one transaction per boundary batch: a subscription is moved into its
  next period (``orders.services.subscription_roll``) by the same transaction that writes its
  lines and its ``BilledPeriod`` rows, whose unique constraint makes billing a period twice
  impossible.
- Subscriptions are taken in batches locked with ``SKIP LOCKED``: two runs started at the same
  moment share the work instead of waiting for each other, and neither bills what the other
  billed (a row it could not lock is left to the run that holds it).
- A draft is issued only when no subscription that could still add lines to it is due: so two
  concurrent runs produce the same invoices as one, and a run killed in the middle leaves
  drafts that the next run completes and issues.
- A subscription whose price cannot be found is flagged (``BillingIssue``) and left out until
  staff mark it fixed; it is never skipped silently nor retried forever.
- Wholesale: each reseller above a subscription is billed at its cost for the same periods,
  on a monthly draft issued on the first day of the next month.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.db.models import Exists, OuterRef

from billing.models import (
    BilledPart,
    BilledPeriod,
    BillingIssue,
    BillingRun,
    Charge,
    Invoice,
    InvoiceSource,
    InvoiceState,
    IssueKind,
    RunState,
)
from billing.services import gather, rating
from billing.services.invoices import draft_for, invoices_issue, lines_add
from orders.models import Subscription
from portal import access, clock
from portal.actors import Actor, is_system, label, require_actor, system
from portal.errors import ApplicationError
from portal.models import Organization
from portal.services import audit_record

logger = logging.getLogger(__name__)

RUN = system("billing-run")
BATCH = 500


def _open_issue():
    return BillingIssue.objects.filter(
        subscription=OuterRef("pk"),
        resolved_at__isnull=True,
        period_start=OuterRef("current_period_end"),
    )


def due_subscriptions(day: date, *, customer: Organization | None = None):
    """Live subscriptions whose current period ended on or before ``day`` and are not
    waiting for staff: of every customer but the sandboxes (the nightly run), or of
    ``customer`` only (a sandbox's Advance)."""
    subs = Subscription.objects.filter(status__in=gather.LIVE, current_period_end__lte=day)
    if customer is None:
        subs = subs.exclude(customer__sandbox=True)
    else:
        subs = subs.filter(customer=customer)
    return subs.annotate(flagged=Exists(_open_issue())).filter(flagged=False)


@dataclass
class BatchResult:
    billed: int = 0
    lines: int = 0
    flagged: int = 0
    errors: list = field(default_factory=list)
    skipped: int = 0


# --- one boundary of one subscription -------------------------------------------------------


def _label(sub: Subscription) -> str:
    return sub.offer.display_name if sub.offer_id else sub.plan.name


def bill_boundary(sub: Subscription, *, actor: Actor) -> int:
    """Renew and bill the (locked) subscription's current boundary, in the caller's
    transaction. Returns the number of lines written. Raises ``gather.PriceMissing``."""
    require_actor(actor)
    boundary = sub.current_period_end
    prev_start = sub.current_period_start
    in_trial = sub.trial_ends_on is not None and boundary <= sub.trial_ends_on
    prev_plan, prev_term, prev_price = sub.plan, sub.term, sub.price
    terms = gather.next_terms(sub)
    index = gather.paid_index(sub)
    usage = None
    if not in_trial:
        usage = gather.usage_for(
            sub,
            start=prev_start,
            end=boundary,
            plan=prev_plan,
            term=prev_term,
            components=gather.components_of(prev_price),
        )
    charges = gather.pending_charges(sub)
    from orders.services import subscription_roll

    subscription_roll(actor=actor, subscription=sub, terms=terms)
    advance = None
    if not terms.cancelled:
        advance = rating.Advance(
            start=boundary,
            end=terms.period_end,
            quantity=terms.quantity,
            unit_price=terms.unit_price,
            price_id=terms.price.pk if terms.price else None,
        )
    tax, exempt = gather.tax_for(sub.seller, sub.customer, boundary)
    lines = rating.rate(
        rating.RatingInput(
            currency=sub.currency,
            label=_label(sub),
            advance=advance,
            discount=gather.discount_for(sub, index) if advance else None,
            usage=usage,
            charges=tuple(gather.as_pending(c) for c in charges),
            tax=tax,
            exempt=exempt,
        )
    )
    invoice = None
    if lines:
        invoice = draft_for(
            seller=sub.seller,
            buyer=sub.customer,
            currency=sub.currency,
            billing_day=boundary,
            source=InvoiceSource.PERIOD,
        )
        lines_add(invoice, lines, subscription=sub)
    periods = []
    if advance is not None:
        periods.append((BilledPart.ADVANCE, advance.start, advance.end))
    if usage is not None:
        periods.append((BilledPart.ARREARS, prev_start, boundary))
    BilledPeriod.objects.bulk_create(
        BilledPeriod(
            subscription=sub,
            seller_id=sub.seller_id,
            part=part,
            period_start=start,
            period_end=end,
            invoice=invoice,
        )
        for part, start, end in periods
    )
    if charges:
        Charge.objects.filter(pk__in=[c.pk for c in charges]).update(invoiced_at=clock.now())
    written = len(lines)
    written += wholesale_bill(
        sub,
        boundary=boundary,
        period=(advance.start, advance.end) if advance else None,
        quantity=terms.quantity,
        plan=terms.plan,
        term=terms.term,
        usage_period=None if in_trial else (prev_start, boundary, prev_plan, prev_term),
        charges=charges,
    )
    return written


def wholesale_bill(
    sub: Subscription,
    *,
    boundary: date,
    period: tuple[date, date] | None,
    quantity: int,
    plan,
    term: str,
    usage_period,
    charges,
) -> int:
    """Bill each reseller above ``sub`` at its cost for what the customer was just billed:
    the period in advance, the usage in arrears (at the wholesale price's pay-per-use parts)
    and the charges, onto the reseller's monthly wholesale draft."""
    written = 0
    for seller, reseller in gather.wholesale_chain(sub):
        advance = None
        if period is not None:
            price = gather._price_for(
                seller=seller,
                plan=plan,
                currency=sub.currency,
                term=term,
                buyer=reseller,
                on_date=period[0],
            )
            advance = rating.Advance(period[0], period[1], quantity, price.recurring, price.pk)
        usage = None
        if usage_period is not None:
            start, end, used_plan, used_term = usage_period
            cost = gather._price_for(
                seller=seller,
                plan=used_plan,
                currency=sub.currency,
                term=used_term,
                buyer=reseller,
                on_date=start,
            )
            usage = gather.usage_for(
                sub,
                start=start,
                end=end,
                plan=used_plan,
                term=used_term,
                components=gather.components_of(cost),
            )
        mirrored = [
            m
            for m in (gather.wholesale_charge(c, seller=seller, reseller=reseller) for c in charges)
            if m is not None
        ]
        tax, exempt = gather.tax_for(seller, reseller, boundary)
        lines = rating.rate(
            rating.RatingInput(
                currency=sub.currency,
                label=f"{sub.customer.name}: {plan.name} (wholesale)",
                advance=advance,
                usage=usage,
                charges=tuple(mirrored),
                tax=tax,
                exempt=exempt,
            )
        )
        invoice = None
        if lines:
            invoice = draft_for(
                seller=seller,
                buyer=reseller,
                currency=sub.currency,
                billing_day=gather.wholesale_month_day(boundary),
                source=InvoiceSource.WHOLESALE,
            )
            lines_add(invoice, lines, subscription=sub)
            written += len(lines)
        parts = []
        if advance is not None:
            parts.append((BilledPart.ADVANCE, advance.start, advance.end))
        if usage is not None:
            parts.append((BilledPart.ARREARS, usage.start, usage.end))
        BilledPeriod.objects.bulk_create(
            BilledPeriod(
                subscription=sub,
                seller=seller,
                part=part,
                period_start=start,
                period_end=end,
                invoice=invoice,
            )
            for part, start, end in parts
        )
    return written


# --- batches --------------------------------------------------------------------------------


def _flag(sub: Subscription, exc: ApplicationError, kind: str) -> bool:
    """Open an issue for the subscription's boundary (once); True when a new one was opened."""
    _, created = BillingIssue.objects.get_or_create(
        subscription=sub,
        period_start=sub.current_period_end,
        resolved_at=None,
        defaults={"kind": kind, "message": exc.message[:2000]},
    )
    if created:
        audit_record(
            actor=RUN,
            organization=sub.customer,
            action="billing.issue_opened",
            obj=sub,
            after={"kind": kind, "message": exc.message[:500]},
        )
    return created


def _attach_shared(subs: list[Subscription]) -> None:
    """Set the seller, plan, offer (with its plan), price and promotion of each subscription:
    a batch has a few of each, so each is read once for the batch (one query per kind)
    instead of being joined to, and made again for, every subscription."""
    from catalog.models import Offer, Plan, Price, Promotion

    for name, queryset in (
        ("seller", Organization.objects.all()),
        ("plan", Plan.objects.all()),
        ("offer", Offer.objects.select_related("plan")),
        ("price", Price.objects.all()),
        ("promotion", Promotion.objects.all()),
    ):
        field = Subscription._meta.get_field(name)
        wanted = {getattr(sub, field.attname) for sub in subs} - {None}
        rows = queryset.in_bulk(wanted) if wanted else {}
        for sub in subs:
            value = getattr(sub, field.attname)
            field.set_cached_value(sub, None if value is None else rows[value])


def bill_batch(ids: list[int], *, actor: Actor, day: date) -> BatchResult:
    """Bill every boundary up to ``day`` of the given subscriptions that this transaction can
    lock (others are being billed by another run). Plain boundaries go through the bulk fast
    path (billing.services.batch); the others one by one, each in a savepoint, so one failure
    does not undo the rest."""
    from billing.services.batch import BatchContext, Writer, bill_plain

    require_actor(actor)
    result = BatchResult()
    with transaction.atomic():
        subs = list(
            Subscription.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(pk__in=ids, status__in=gather.LIVE, current_period_end__lte=day)
            .select_related("customer", "box_account")
            .order_by("pk")
        )
        _attach_shared(subs)
        result.skipped = len(ids) - len(subs)
        ctx = BatchContext.load(subs, day)
        writer = Writer(actor)
        for sub in subs:
            while sub.status in gather.LIVE and sub.current_period_end <= day:
                if ctx.flagged(sub):
                    break
                plain = ctx.plain(sub)
                try:
                    if plain:
                        bill_plain(sub, ctx, writer, actor=actor)
                    else:
                        result.lines += writer.flush()
                        with transaction.atomic():
                            result.lines += bill_boundary(sub, actor=actor)
                        ctx.charges[sub.pk] = []
                        ctx.paid[sub.pk] = ctx.paid.get(sub.pk, 0) + 1
                except ApplicationError as exc:
                    # The fast path holds nothing of a boundary it could not bill; the general
                    # path's savepoint was rolled back, so its row is read again.
                    if not plain:
                        sub.refresh_from_db()
                    kind = (
                        IssueKind.PRICE_MISSING
                        if isinstance(exc, gather.PriceMissing)
                        else IssueKind.RATING_FAILED
                    )
                    if _flag(sub, exc, kind):
                        result.flagged += 1
                    break
                result.billed += 1
        result.lines += writer.flush()
    return result


def subscription_bill_due(*, actor: Actor, subscription: Subscription, day: date) -> int:
    """Renew and bill every boundary of one subscription up to ``day`` (the renewal task and
    tests); returns the number of boundaries billed."""
    return bill_batch([subscription.pk], actor=actor, day=day).billed


# --- issuing --------------------------------------------------------------------------------


def _blocked_keys(day: date, buyer: Organization | None = None) -> dict[tuple, date]:
    """(seller, buyer, currency) -> the earliest boundary of a subscription still to be billed
    (not flagged): a draft of that key for a later or equal day must wait for it."""
    blocked: dict[tuple, date] = {}
    rows = due_subscriptions(day, customer=buyer).values_list(
        "seller_id", "customer_id", "currency", "current_period_end"
    )
    for seller_id, customer_id, currency, end in rows:
        key = (seller_id, customer_id, currency)
        if key not in blocked or end < blocked[key]:
            blocked[key] = end
    return blocked


def _wholesale_waiting(*, currency: str, reseller_path: str, billing_day: date) -> bool:
    """Whether a customer below the reseller (its organization path) still has a boundary
    before the draft's day."""
    return (
        Subscription.objects.filter(
            status__in=gather.LIVE,
            currency=currency,
            customer__path__startswith=reseller_path,
            current_period_end__lt=billing_day,
        )
        .exclude(customer__sandbox=True)
        .annotate(flagged=Exists(_open_issue()))
        .filter(flagged=False)
        .exists()
    )


def invoices_issue_due(
    *,
    actor: Actor,
    day: date,
    batch: int = 500,
    buyer: Organization | None = None,
    each: Callable[[], None] | None = None,
) -> int:
    """Issue the drafts whose billing day has come and that nothing can add to any more, in
    bulk batches: of every buyer but the sandboxes (the nightly run), or of ``buyer`` only (a
    sandbox's Advance). ``each`` is called after every batch (the run collects its
    garbage)."""
    require_actor(actor)
    blocked = _blocked_keys(day, buyer)
    drafts = Invoice.objects.filter(state=InvoiceState.DRAFT, billing_day__lte=day).exclude(
        source=InvoiceSource.ORDER
    )
    drafts = drafts.exclude(buyer__sandbox=True) if buyer is None else drafts.filter(buyer=buyer)
    ready = []
    # Plain values: the run reads every draft of the night here, thousands of them.
    rows = drafts.order_by("billing_day", "pk").values_list(
        "pk", "source", "seller_id", "buyer_id", "currency", "billing_day", "buyer__path"
    )
    for pk, source, seller_id, buyer_id, currency, billing_day, buyer_path in rows:
        if source == InvoiceSource.WHOLESALE:
            if _wholesale_waiting(
                currency=currency, reseller_path=buyer_path, billing_day=billing_day
            ):
                continue
        else:
            end = blocked.get((seller_id, buyer_id, currency))
            if end is not None and end <= billing_day:
                continue
        ready.append(pk)
    issued = 0
    for start in range(0, len(ready), batch):
        issued += len(invoices_issue(actor=actor, invoice_ids=ready[start : start + batch]))
        if each is not None:
            each()
    return issued


# --- the run --------------------------------------------------------------------------------


_gc_lock = threading.Lock()
_gc_pauses = 0  # runs of this process working now
_gc_was_enabled = False  # automatic collection's state before the first of them


@contextmanager
def _young_garbage_only() -> Iterator[None]:
    """The run's own garbage collection: automatic collection is paused while the run works
    and the young generations are collected after each batch (``collected``).

    A batch keeps tens of thousands of objects alive until it is written (usage days, lines,
    rows): they outlive the young collections, and Python then scans the whole heap (every
    module, every object of the process) again and again; in the 10,000-subscription
    benchmark that took more than half of the run. Nearly everything a batch makes is freed
    by reference counting when it ends; what is left in a cycle is young and collected
    between batches. Automatic collection is back when the last run of the process ends,
    however it ends: runs in several threads at once share one count, so one finishing never
    turns collection off for good nor back on under another."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def collected() -> None:
    """Collect the young generations (the garbage of a batch just finished)."""
    gc.collect(1)


def billing_run(*, actor: Actor, day: date | None = None, batch: int = BATCH) -> BillingRun:
    """Renew and bill every subscription that is due, then issue the complete drafts. Safe to
    run twice at once and to run again after a kill.

    A person may start a run (the provider's admins and billing staff, ``billing.run``); the
    run is recorded as theirs, but it bills and issues for every seller as the portal (``RUN``),
    as the nightly run does: no one person may issue every reseller's invoices."""
    provider = Organization.objects.filter(kind="provider").first()
    access.require(actor, "billing.run", provider)
    day = day or clock.today()
    run = BillingRun.objects.create(day=day, triggered_by=label(actor))
    actor = actor if is_system(actor) else RUN
    ids = list(due_subscriptions(day).order_by("pk").values_list("pk", flat=True))
    with _young_garbage_only():
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            try:
                result = bill_batch(chunk, actor=actor, day=day)
            except Exception as exc:  # a bug or an outage: recorded, the next batch goes on
                logger.exception("billing batch failed")
                run.errors += 1
                run.log.append({"batch": chunk[:5], "error": repr(exc)[:500]})
                continue
            finally:
                collected()
            run.subscriptions_billed += result.billed
            run.lines_written += result.lines
            run.issues_opened += result.flagged
        try:
            run.invoices_issued = invoices_issue_due(actor=actor, day=day, each=collected)
        except Exception as exc:
            logger.exception("issuing failed")
            run.errors += 1
            run.log.append({"issuing": repr(exc)[:500]})
    run.state = RunState.SUCCEEDED if run.errors == 0 else RunState.FAILED
    run.finished_at = clock.now()
    run.save()
    return run


@transaction.atomic
def billing_issue_resolve(*, actor: Actor, issue: BillingIssue) -> BillingIssue:
    """Staff fixed what stopped a subscription from being billed (e.g. added the missing
    price): the next run tries it again."""
    issue = BillingIssue.objects.select_for_update().select_related("subscription").get(pk=issue.pk)
    access.require(actor, "billing.manage", issue.subscription.seller)
    if issue.resolved_at is None:
        from portal.actors import person
        from portal.services import audit_record

        issue.resolved_at = clock.now()
        issue.resolved_by = person(actor)
        issue.save(update_fields=["resolved_at", "resolved_by"])
        audit_record(
            actor=actor,
            organization=issue.subscription.customer,
            action="billing.issue_resolved",
            obj=issue,
        )
    return issue


# --- usage that arrives late ----------------------------------------------------------------


def usage_adjust_billed(*, subscription, days) -> int:
    """Usage written for days of a period already billed in arrears: the difference between
    what the period's usage now rates at and what was billed for it becomes an adjustment
    charge on the next invoice (never an edit of an issued invoice). Returns the number of
    adjustments made."""
    if not days:
        return 0
    periods = BilledPeriod.objects.filter(
        subscription=subscription,
        seller_id=subscription.seller_id,
        part=BilledPart.ARREARS,
        period_start__lte=max(days),
        period_end__gt=min(days),
    )
    made = 0
    for period in periods:
        made += _adjust_period(subscription, period)
    return made


def _adjust_period(sub: Subscription, period: BilledPeriod) -> int:
    from decimal import Decimal

    from billing.models import ChargeKind, InvoiceLine

    price = _price_in_force(sub, period.period_start)
    plan = sub.plan
    usage = gather.usage_for(
        sub,
        start=period.period_start,
        end=period.period_end,
        plan=plan,
        term=sub.term,
        components=gather.components_of(price),
    )
    now_amount = sum(
        (line.amount for line in (rating.usage_lines(usage, sub.currency) if usage else [])),
        Decimal(0),
    )
    billed = sum(
        InvoiceLine.objects.filter(
            subscription=sub,
            billed_by_id=sub.seller_id,
            kind=rating.USAGE,
            service_start=period.period_start,
            service_end=period.period_end,
        ).values_list("amount", flat=True),
        Decimal(0),
    )
    earlier = Charge.objects.filter(
        subscription=sub,
        kind=ChargeKind.ADJUSTMENT,
        service_start=period.period_start,
        service_end=period.period_end,
    )
    billed += sum(earlier.values_list("amount", flat=True), Decimal(0))
    difference = now_amount - billed
    if difference == 0:
        return 0
    Charge.objects.create(
        seller=sub.seller,
        customer=sub.customer,
        subscription=sub,
        plan=plan,
        kind=ChargeKind.ADJUSTMENT,
        description=(
            f"Usage adjustment for {period.period_start:%d %b %Y} to "
            f"{period.period_end:%d %b %Y} (usage measured after it was billed)"
        ),
        quantity=Decimal(1),
        unit_price=difference,
        amount=difference,
        currency=sub.currency,
        service_start=period.period_start,
        service_end=period.period_end,
        period_start=period.period_start,
        period_end=period.period_end,
        source_key=f"usage-adjust:{sub.pk}:{period.period_start}:{earlier.count() + 1}",
        explain={
            "rule": "the period's usage rated again, less what was billed for it",
            "billed": str(billed),
            "now": str(now_amount),
        },
    )
    return 1


def _price_in_force(sub: Subscription, day: date):
    """The price version the subscription was billed at for the period starting ``day``."""
    line = (
        sub.invoice_lines.filter(
            kind=rating.RECURRING, service_start=day, billed_by_id=sub.seller_id
        )
        .exclude(price=None)
        .select_related("price")
        .first()
    )
    return line.price if line is not None else sub.price


# --- a subscription ended before its period -------------------------------------------------


def bill_ended_now(*, subscription: Subscription, day: date, order=None) -> None:
    """A subscription ended on ``day``, inside a period billed in advance. In the caller's
    transaction (the cancellation's):

    - the unused days of the recurring line (less its discount) are credited by a credit note
      on the invoice that billed them;
    - charges not yet billed that run past ``day`` (an upgrade earlier in the period) are
      offset for their unused days, and all of them are billed on a draft dated ``day``;
    - each reseller above is credited its unused cost: on its monthly wholesale draft when
      that is still open, else by a credit note."""
    from decimal import Decimal

    from billing.models import ChargeKind
    from billing.services.credit_notes import Credit, credit_note_create, credit_unused
    from catalog import pricing

    sub = subscription
    credit_unused(subscription=sub, from_day=day, order=order)
    for charge in gather.pending_charges(sub):
        if charge.kind not in (ChargeKind.PRORATED, ChargeKind.CREDIT):
            continue
        if not charge.service_start < day < charge.service_end:
            continue
        span = pricing.days_between(charge.service_start, charge.service_end)
        left = pricing.days_between(day, charge.service_end)
        unused = pricing.prorate(charge.amount, days_left=left, days_in_period=span,
                                 currency=charge.currency)  # fmt: skip
        if unused == 0:
            continue
        Charge.objects.get_or_create(
            source_key=f"ended:{charge.pk}",
            defaults={
                "seller": charge.seller,
                "customer": charge.customer,
                "subscription": sub,
                "order": order,
                "plan": charge.plan,
                "kind": ChargeKind.CREDIT if unused > 0 else ChargeKind.PRORATED,
                "description": f"Unused part of: {charge.description}",
                "quantity": charge.quantity,
                "unit_price": charge.unit_price,
                "amount": -unused,
                "currency": charge.currency,
                "service_start": day,
                "service_end": charge.service_end,
                "period_start": charge.period_start,
                "period_end": charge.period_end,
            },
        )
    pending = gather.pending_charges(sub)
    if pending:
        tax, exempt = gather.tax_for(sub.seller, sub.customer, day)
        lines = rating.rate(
            rating.RatingInput(
                currency=sub.currency,
                label=_label(sub),
                charges=tuple(gather.as_pending(c) for c in pending),
                tax=tax,
                exempt=exempt,
            )
        )
        draft = draft_for(
            seller=sub.seller,
            buyer=sub.customer,
            currency=sub.currency,
            billing_day=day,
            source=InvoiceSource.PERIOD,
        )
        lines_add(draft, lines, subscription=sub)
        Charge.objects.filter(pk__in=[c.pk for c in pending]).update(invoiced_at=clock.now())
        wholesale_bill(
            sub,
            boundary=day,
            period=None,
            quantity=sub.quantity,
            plan=sub.plan,
            term=sub.term,
            usage_period=None,
            charges=pending,
        )
    # resellers above: their cost of the unused days
    from billing.models import InvoiceLine

    for seller, _reseller in gather.wholesale_chain(sub):
        line = (
            InvoiceLine.objects.filter(
                subscription=sub,
                billed_by=seller,
                kind=rating.RECURRING,
                service_start=sub.current_period_start,
            )
            .select_related("invoice")
            .order_by("-id")
            .first()
        )
        if line is None:
            continue
        span = pricing.days_between(line.service_start, line.service_end)
        left = pricing.days_between(day, line.service_end)
        if left <= 0:
            continue
        unused = pricing.prorate(line.amount, days_left=left, days_in_period=span,
                                 currency=sub.currency)  # fmt: skip
        if unused <= 0:
            continue
        if line.invoice.state == InvoiceState.DRAFT:
            invoice = Invoice.objects.select_for_update().get(pk=line.invoice_id)
            lines_add(
                invoice,
                [
                    rating.RatedLine(
                        kind=rating.CREDIT,
                        description=f"{sub.customer.name}: ended {day:%d %b %Y}, "
                        f"{left} of {span} days unused (wholesale)",
                        quantity=Decimal(1),
                        unit_price=-unused,
                        amount=-unused,
                        service_start=day,
                        service_end=line.service_end,
                        tax_rate_id=line.tax_rate_id,
                        tax_percent=line.tax_percent,
                        tax_name=line.tax_rate.name if line.tax_rate_id else "",
                        explain={"rule": "your cost of the days the customer did not use"},
                    )
                ],
                subscription=sub,
            )
        elif line.invoice.state != InvoiceState.VOID:
            from billing.services.credit_notes import CANCELLATION

            credit_note_create(
                actor=CANCELLATION,
                invoice=line.invoice,
                reason=f"{sub.customer.name}'s subscription {sub.number} ended on "
                f"{day:%d %b %Y}: {left} of {span} days unused",
                credits=[Credit(line, min(unused, line.amount))],
            )
