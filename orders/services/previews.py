"""Preview, then confirm: what a plan, seat or term change, a cancellation or a seat import
will do, shown before it is done.

A preview runs the very service that would carry the request out, inside a savepoint that is
always rolled back, and reads what it wrote on the way: the charges and credits (and, for an
immediate cancellation, the credit note and the draft lines billed at once), the subscription's
next invoice as the billing preview computes it afterwards, and the Box jobs it queued. Because
it is the same code, the preview's amounts are the amounts the confirmation writes; nothing of
it survives (rows, audit, numbers taken from a series, and every ``on_commit`` task are rolled
back with the savepoint, and PostgreSQL releases the row locks taken inside it).

The confirmation carries the preview's fingerprint. It locks the subscription, previews again,
and applies only when the fingerprint is unchanged; otherwise it refuses with
``PreviewChanged``, which carries the new preview to show. A confirmation posted twice with the
same idempotency key (a double click, a retried request) applies once: the second one is
recognised by its key before anything is compared and answers the first one's result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils.formats import date_format
from django.utils.translation import gettext

from billing.models import Charge, CreditNote, InvoiceLine
from billing.services.preview import upcoming_invoice
from catalog.models import Plan
from orders.models import ChangeTiming, Order, Subscription
from orders.services._base import _lock_subscription
from orders.services.changes import subscription_change
from orders.services.seats import ImportRow, seats_import
from orders.services.subscriptions import subscription_cancel
from portal import access
from portal.actors import Actor, require_actor
from portal.errors import Conflict, ValidationError
from portal.idempotency import idempotency_claim, idempotency_seen
from provisioning.models import ProvisioningJob

CHANGE, CANCEL, IMPORT = "change", "cancel", "import"


@dataclass(frozen=True)
class Amount:
    """One sum of money the request moves now, before tax."""

    description: str
    amount: Decimal


@dataclass(frozen=True)
class NextInvoice:
    """The subscription's next invoice, as the billing preview computes it."""

    billing_day: date
    total: Decimal
    lines: tuple[Amount, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Preview:
    action: str
    subscription_id: int
    currency: str
    summary: str
    timing: str
    effective_on: date
    now: tuple[Amount, ...]
    next_before: NextInvoice | None
    next_after: NextInvoice | None
    box: tuple[str, ...]
    rows: tuple[ImportRow, ...] = ()
    fingerprint: str = field(default="", compare=False)

    @property
    def now_total(self) -> Decimal:
        return sum((a.amount for a in self.now), Decimal(0))

    @property
    def immediate(self) -> bool:
        return self.timing == ChangeTiming.IMMEDIATE

    @property
    def assigned(self) -> int:
        return sum(1 for row in self.rows if row.ok)


class PreviewChanged(Conflict):
    """The figures changed between the preview and the confirmation; ``preview`` holds the new
    ones, to be shown and confirmed again."""

    code = "preview_changed"

    def __init__(self, preview: Preview) -> None:
        super().__init__(
            "The prices or the seats changed since your preview. Check the new figures and "
            "confirm again."
        )
        self.preview = preview


class _Rollback(Exception):
    """Raised to undo a dry run's savepoint."""


def _dry_run(work):
    """``work()``'s return value, with everything it wrote rolled back."""
    result = []
    try:
        with transaction.atomic():
            result.append(work())
            raise _Rollback
    except _Rollback:
        pass
    return result[0]


# --- what a dry run wrote -------------------------------------------------------------------


@dataclass(frozen=True)
class _Marks:
    """The highest ids before a dry run: rows above them are the run's."""

    charge: int
    line: int
    note: int
    job: int

    @classmethod
    def take(cls) -> _Marks:
        def top(model) -> int:
            return model.objects.aggregate(m=Max("pk"))["m"] or 0

        return cls(top(Charge), top(InvoiceLine), top(CreditNote), top(ProvisioningJob))


def _money_now(sub: Subscription, marks: _Marks) -> tuple[Amount, ...]:
    """The charges, credits and at-once billing the run wrote for this customer, before tax:
    charges still waiting for the next invoice, lines billed at once on a draft, and credit
    notes (at their amount before tax)."""
    amounts = [
        Amount(c.description, c.amount)
        for c in Charge.objects.filter(
            subscription=sub, pk__gt=marks.charge, invoiced_at__isnull=True
        ).order_by("pk")
    ]
    amounts += [
        Amount(line.description, line.amount)
        for line in InvoiceLine.objects.filter(
            pk__gt=marks.line, invoice__buyer_id=sub.customer_id, subscription=sub
        )
        .exclude(kind="tax")
        .order_by("pk")
    ]
    amounts += [
        # The reason names the order, whose number a dry run cannot know: it is left out.
        Amount(
            f"Credit note on invoice {note.invoice.number}: {note.reason.split(' (order ')[0]}",
            -note.subtotal,
        )
        for note in CreditNote.objects.filter(pk__gt=marks.note, buyer_id=sub.customer_id)
        .select_related("invoice")
        .order_by("pk")
    ]
    return tuple(amounts)


def _box_now(sub: Subscription, marks: _Marks, before: Subscription) -> tuple[str, ...]:
    """The Box jobs the run queued, in the customer's words (the provider's admin seat, which
    Box counts too, is not the customer's and is not mentioned)."""
    if sub.box_account_id is None:
        return ()
    said = []
    for job in ProvisioningJob.objects.filter(account_id=sub.box_account_id, pk__gt=marks.job):
        if job.operation == "account.change_plan":
            said.append(
                gettext("The Box account moves to %(plan)s, %(n)s seats.")
                % {"plan": sub.plan.name, "n": sub.quantity}
            )
        elif job.operation == "account.change_seats":
            said.append(
                gettext("Seats at Box go from %(before)s to %(after)s.")
                % {"before": before.quantity, "after": sub.quantity}
            )
        elif job.operation == "account.cancel":
            said.append(gettext("The Box account is closed; your people can no longer sign in."))
        elif job.operation == "user.create":
            said.append(
                gettext("A Box user is created for %(login)s.")
                % {"login": job.payload.get("login", "")}
            )
        else:
            from provisioning.operations import OPERATIONS

            op = OPERATIONS.get(job.operation)
            said.append(f"{op.label if op else job.operation}.")
    return tuple(said)


def _next_invoice(sub_id: int) -> NextInvoice | None:
    sub = Subscription.objects.select_related(
        "seller", "customer", "plan", "offer", "price", "promotion"
    ).get(pk=sub_id)
    upcoming = upcoming_invoice(sub)
    if upcoming is None:
        return None
    return NextInvoice(
        billing_day=upcoming.billing_day,
        total=upcoming.total,
        lines=tuple(Amount(line.description, line.amount) for line in upcoming.lines),
        notes=tuple(upcoming.notes),
    )


def _fingerprint(preview: Preview, request: dict) -> str:
    """A digest of everything the person was shown and asked for: any change in a price, a
    seat count, an import row's outcome or a Box step gives another one."""

    def invoice(n: NextInvoice | None):
        if n is None:
            return None
        return [str(n.billing_day), str(n.total), [(a.description, str(a.amount)) for a in n.lines]]

    text = json.dumps(
        {
            "request": request,
            "action": preview.action,
            "subscription": preview.subscription_id,
            "timing": preview.timing,
            "effective_on": str(preview.effective_on),
            "now": [(a.description, str(a.amount)) for a in preview.now],
            "before": invoice(preview.next_before),
            "after": invoice(preview.next_after),
            "box": list(preview.box),
            "rows": [(r.line, r.email, r.ok, r.message) for r in preview.rows],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _preview(
    *, action: str, sub: Subscription, request: dict, run, with_invoices: bool = True
) -> Preview:
    """Dry-run ``run()`` (which returns the order it made, or an import report) and describe
    what it wrote."""
    before = Subscription.objects.select_related("plan").get(pk=sub.pk)
    next_before = _next_invoice(sub.pk) if with_invoices else None

    def work():
        marks = _Marks.take()
        outcome = run()
        after = Subscription.objects.select_related("plan").get(pk=sub.pk)
        return (
            outcome,
            _money_now(after, marks),
            _box_now(after, marks, before),
            _next_invoice(sub.pk) if with_invoices else None,
        )

    outcome, now, box, next_after = _dry_run(work)
    if isinstance(outcome, Order):
        summary, timing, effective = (
            _order_summary(outcome, before),
            outcome.timing,
            outcome.effective_on,
        )
        if timing == ChangeTiming.END_OF_TERM and outcome.kind == "cancel":
            box = (
                gettext("The Box account is closed on %(day)s.")
                % {"day": date_format(effective, "d M Y")},
            )
        elif timing == ChangeTiming.END_OF_TERM:
            box = (
                gettext("Nothing changes at Box before %(day)s.")
                % {"day": date_format(effective, "d M Y")},
            )
    else:
        ok = sum(1 for row in outcome if row.ok)
        summary = gettext("%(ok)s of %(total)s people get a seat") % {
            "ok": ok,
            "total": len(outcome),
        }
        timing, effective, now = ChangeTiming.IMMEDIATE, before.current_period_start, ()
    preview = Preview(
        action=action,
        subscription_id=sub.pk,
        currency=sub.currency,
        summary=summary,
        timing=timing,
        effective_on=effective,
        now=now,
        next_before=next_before,
        next_after=next_after,
        box=box,
        rows=tuple(outcome) if not isinstance(outcome, Order) else (),
    )
    return replace(preview, fingerprint=_fingerprint(preview, request))


def _order_summary(order: Order, sub: Subscription) -> str:
    if order.kind == "cancel":
        if order.timing == ChangeTiming.IMMEDIATE:
            return gettext("End %(plan)s now") % {"plan": sub.plan.name}
        return gettext("End %(plan)s on %(day)s") % {
            "plan": sub.plan.name,
            "day": date_format(order.effective_on, "d M Y"),
        }
    return order.note


def _change_request(sub, plan, quantity, term) -> dict:
    return {
        "plan": plan.pk if plan is not None and plan.pk != sub.plan_id else None,
        "quantity": None if quantity in (None, "") else str(quantity),
        "term": term or None,
    }


# --- plan, seat and term changes ------------------------------------------------------------


def subscription_change_preview(
    *,
    actor: Actor,
    subscription: Subscription,
    plan: Plan | None = None,
    quantity: int | None = None,
    term: str | None = None,
) -> Preview:
    """What ``subscription_change`` with these values would charge or credit now, what the
    next invoice would then be, and what changes at Box. Raises the change's own refusals."""
    require_actor(actor)
    access.require(actor, "subscriptions.manage", subscription.customer)
    plan = plan if plan is not None and plan.pk != subscription.plan_id else None
    return _preview(
        action=CHANGE,
        sub=subscription,
        request=_change_request(subscription, plan, quantity, term),
        run=lambda: subscription_change(
            actor=actor, subscription=subscription, plan=plan, quantity=quantity, term=term
        ),
    )


@transaction.atomic
def subscription_change_confirm(
    *,
    actor: Actor,
    subscription: Subscription,
    fingerprint: str,
    plan: Plan | None = None,
    quantity: int | None = None,
    term: str | None = None,
    idempotency_key: str = "",
) -> Order:
    """Apply the change previewed with ``fingerprint``; ``PreviewChanged`` when its figures
    are no longer what they were."""
    sub = _confirming(actor, subscription, "subscriptions.manage")
    plan = plan if plan is not None and plan.pk != sub.plan_id else None
    if not idempotency_seen(
        organization=sub.customer, operation="subscription.change", key=idempotency_key
    ):
        _same_or_raise(
            subscription_change_preview(
                actor=actor, subscription=sub, plan=plan, quantity=quantity, term=term
            ),
            fingerprint,
        )
    return subscription_change(
        actor=actor,
        subscription=sub,
        plan=plan,
        quantity=quantity,
        term=term,
        idempotency_key=idempotency_key,
    )


# --- cancellation ---------------------------------------------------------------------------


def subscription_cancel_preview(
    *, actor: Actor, subscription: Subscription, immediately: bool | None = None
) -> Preview:
    """What ending the subscription would credit or bill now and what happens at Box."""
    require_actor(actor)
    access.require(actor, "subscriptions.manage", subscription.customer)
    return _preview(
        action=CANCEL,
        sub=subscription,
        request={"immediately": immediately},
        run=lambda: subscription_cancel(
            actor=actor, subscription=subscription, immediately=immediately
        ),
    )


@transaction.atomic
def subscription_cancel_confirm(
    *,
    actor: Actor,
    subscription: Subscription,
    fingerprint: str,
    immediately: bool | None = None,
    idempotency_key: str = "",
) -> Order:
    sub = _confirming(actor, subscription, "subscriptions.manage")
    if not idempotency_seen(
        organization=sub.customer, operation="subscription.cancel", key=idempotency_key
    ):
        _same_or_raise(
            subscription_cancel_preview(actor=actor, subscription=sub, immediately=immediately),
            fingerprint,
        )
    return subscription_cancel(
        actor=actor, subscription=sub, immediately=immediately, idempotency_key=idempotency_key
    )


# --- seat import ----------------------------------------------------------------------------


def clean_import_text(text: str) -> str:
    """The CSV text as previewed and confirmed: one line ending, so a file carried through a
    form (which sends CRLF) keeps its fingerprint."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def seats_import_preview(*, actor: Actor, subscription: Subscription, text: str) -> Preview:
    """Which lines of the file would get a seat (and why the others would not), and the Box
    users that would be created. Seats already bought cost nothing more."""
    require_actor(actor)
    access.require(actor, "seats.manage", subscription.customer)
    text = clean_import_text(text)
    return _preview(
        action=IMPORT,
        sub=subscription,
        request={"text": hashlib.sha256(text.encode()).hexdigest()},
        run=lambda: seats_import(actor=actor, subscription=subscription, text=text),
        with_invoices=False,
    )


@transaction.atomic
def seats_import_confirm(
    *,
    actor: Actor,
    subscription: Subscription,
    text: str,
    fingerprint: str,
    idempotency_key: str = "",
) -> list[ImportRow] | None:
    """Import the previewed file; None when this confirmation was already carried out (the
    same idempotency key), so nothing is assigned twice."""
    sub = _confirming(actor, subscription, "seats.manage")
    text = clean_import_text(text)
    claim = idempotency_claim(
        organization=sub.customer,
        operation="seats.import",
        key=idempotency_key,
        request={"subscription": sub.pk, "text": hashlib.sha256(text.encode()).hexdigest()},
        actor=actor,
    )
    if claim is not None and claim.replay:
        return None
    _same_or_raise(seats_import_preview(actor=actor, subscription=sub, text=text), fingerprint)
    report = seats_import(actor=actor, subscription=sub, text=text)
    if claim is not None:
        claim.complete(sub)
    return report


# --- shared ---------------------------------------------------------------------------------


def _confirming(actor: Actor, subscription: Subscription, right: str) -> Subscription:
    """The subscription locked for the confirmation, after the actor's right is checked: two
    confirmations of one subscription run one after the other."""
    require_actor(actor)
    sub = _lock_subscription(subscription)
    access.require(actor, right, sub.customer)
    return sub


def _same_or_raise(current: Preview, fingerprint: str) -> None:
    if not fingerprint:
        raise ValidationError("Preview the change first, then confirm it.")
    if current.fingerprint != fingerprint:
        raise PreviewChanged(current)
