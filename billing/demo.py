"""Demo history: the demo's story starts ``HISTORY_DAYS`` ago (portal/demo.py freezes the clock
there while the sellers, offers and orders are made) and is played forward one day at a time,
as the nightly jobs would have played it: each day the Box users' storage is recorded, the
billing run renews and invoices what is due, the demo customers pay (payments/demo.py) and
dunning moves on. So the demo opens on two months of usage, renewal invoices (with their PDFs),
wholesale invoices to both resellers, card and bank payments, a refund and a customer in
dunning.

Nothing is played when no subscription runs (no Box simulator: ``--seed-only`` and tests).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from portal import clock
from portal.actors import system

SEED = system("demo-seed")
GIB = 1024**3


def _note(message: str) -> None:
    print(f"  billing: {message}")  # noqa: T201 - the demo launcher's output


def _space(user_pk: int, offset: int) -> int:
    """A person's storage on the story's day ``offset``: a few GiB, growing a little daily."""
    base = (user_pk % 5 + 1) * 3 * GIB
    return base + offset * (user_pk % 3 + 1) * GIB // 5


def seed(world) -> None:
    from billing.models import Invoice
    from billing.services.gather import LIVE
    from orders.models import Subscription
    from provisioning.models import BoxAccount

    start = getattr(world, "start", None)
    customers = list(world.customers.values())
    if start is None or Invoice.objects.filter(buyer__in=customers, source="period").exists():
        return
    if not Subscription.objects.filter(customer__in=customers, status__in=LIVE).exists():
        _note("no subscription runs yet (no Box simulator), so there is no billing history.")
        return
    accounts = list(
        BoxAccount.objects.filter(customer__in=customers, status="active").prefetch_related("users")
    )
    today = timezone.localdate()
    # Each day's tasks (automatic payments, receipts, PDFs) run on that day, in this process.
    from portal.celery import app

    eager, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        _play(world, accounts, start, today)
    finally:
        app.conf.task_always_eager = eager
    issued = Invoice.objects.exclude(number=None).count()
    _note(f"{(today - start).days} days of usage and billing played; {issued} invoices issued.")


def _play(world, accounts, start, today) -> None:
    from billing.services.run import billing_run
    from billing.services.usage import UserUsage, usage_ingest
    from payments import demo as payments_demo
    from payments.services.dunning import dunning_tick

    day, observed = start + timedelta(days=1), {}
    while day <= today:
        offset = (day - start).days
        with clock.frozen_today(day, move_now=True):
            observed = {
                account.pk: [
                    UserUsage(user.pk, _space(user.pk, offset), "active")
                    for user in account.users.all()
                ]
                for account in accounts
            }
            usage_ingest(day=day - timedelta(days=1), observations=observed, actor=SEED)
            billing_run(actor=SEED, day=day)
            payments_demo.on_day(world, day, start)
            if offset == 45:
                _goodwill(world)
            dunning_tick(day=day)
        day += timedelta(days=1)
    # What the last collection saw is each Box user's current figure, as the nightly
    # collection's reconciliation leaves it (the customer overview reads it).
    from provisioning.models import BoxUser

    for rows in observed.values():
        for row in rows:
            BoxUser.objects.filter(pk=row.box_user_id).update(space_used=row.space_used)


def _goodwill(world) -> None:
    """Northwind credits Acme for a day without service: a credit note on its last paid
    renewal, refunded to its card (or added to its credit balance without a card)."""
    from billing.models import Invoice
    from billing.services.credit_notes import Credit, credit_note_create

    clerk = world.users.get("billing@northwind.localhost")
    invoice = (
        Invoice.objects.filter(buyer=world.customers["acme"], source="period")
        .exclude(number=None)
        .order_by("-pk")
        .first()
    )
    if clerk is None or invoice is None:
        return
    line = invoice.lines.order_by("pk").first()
    note = credit_note_create(
        actor=clerk,
        invoice=invoice,
        reason="Goodwill: a day without access to Box.",
        credits=[Credit(line=line, amount=min(Decimal("15.00"), line.amount))],
    )
    from payments import demo as payments_demo
    from payments.services.refunds import credit_note_settle

    method = "card" if payments_demo.enabled() else "balance"
    credit_note_settle(actor=clerk, note=note, method=method)
