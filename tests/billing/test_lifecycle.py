"""What happens around the billing of periods: usage that arrives for a period already
billed, the upcoming invoice against what the run then bills, a seller's price change and
the price moves that follow it, a subscription without a price, cancellations."""

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail

from billing.models import BillingIssue, Charge, Invoice, PriceMove
from billing.services import prices
from billing.services.hooks import on_usage_recorded
from billing.services.preview import upcoming_invoice
from billing.services.run import billing_issue_resolve
from orders import services as orders
from tests.billing.conftest import SYSTEM, order, run_on
from tests.billing.test_cases import april_days, lines_of, retail, storage_price, usage
from tests.catalog.builders import price

pytestmark = pytest.mark.django_db

D = Decimal


def test_usage_for_a_billed_period_becomes_an_adjustment_on_the_next_invoice(tree, world, fake):
    storage_price(tree, world, "flat", [{"up_to": None, "unit_price": "0.10"}])
    placed = order(tree, world["starter_offer"], quantity=3, day=date(2027, 4, 1), fake=fake)
    sub = placed.subscription
    days = april_days()
    usage(sub, {d: 130 for d in days})  # 30 GB over every day: 30 GB-months, 3.00
    run_on(date(2027, 5, 1))
    may = retail(tree["PC1"], date(2027, 5, 1))
    assert may.lines.get(kind="usage").amount == D("3.00")
    # the last ten days are measured again, higher, after May's invoice was issued
    usage(sub, {d: 160 for d in days[20:]})
    on_usage_recorded(subscription=sub, days=days[20:])
    adjustment = Charge.objects.get(subscription=sub, kind="adjustment")
    # 20 days x 30 GB + 10 days x 60 GB = 1,200 GB-days / 30 = 40 GB-months: 4.00, 1.00 more
    assert adjustment.amount == D("1.00")
    may.refresh_from_db()
    assert may.lines.get(kind="usage").amount == D("3.00")  # the issued invoice is untouched
    on_usage_recorded(subscription=sub, days=days[20:])  # the same usage again: nothing new
    assert Charge.objects.filter(subscription=sub, kind="adjustment").count() == 1
    run_on(date(2027, 6, 1))
    june = retail(tree["PC1"], date(2027, 6, 1))
    assert ("adjustment", D("1.00")) in lines_of(june)


def test_the_upcoming_invoice_is_what_the_run_then_bills(tree, world, fake, frozen):
    placed = order(tree, world["offer"], day=date(2027, 1, 1), fake=fake)
    sub = placed.subscription
    frozen(date(2027, 1, 23))
    orders.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=8)
    sub.refresh_from_db()
    upcoming = upcoming_invoice(sub, today=date(2027, 1, 23))
    assert upcoming.billing_day == date(2027, 2, 1)
    preview = [(x.kind, x.amount) for x in upcoming.lines]
    assert preview == [("recurring", D("120.00")), ("prorated", D("13.06")), ("tax", D("13.31"))]
    run_on(date(2027, 2, 1))
    assert lines_of(retail(tree["PC1"], date(2027, 2, 1))) == preview


def test_a_new_price_reaches_running_subscriptions_only_when_moved_after_notice(
    tree, world, fake, frozen, django_capture_on_commit_callbacks
):
    placed = order(tree, world["offer"], day=date(2027, 1, 1), fake=fake)
    sub = placed.subscription
    # the provider raises Business to 18.00 from 10 January: the subscription keeps 15.00
    frozen(date(2027, 1, 10))
    newer = price(tree["P"], world["plans"]["business"], "18.00", valid_from=date(2027, 1, 10))
    run_on(date(2027, 2, 1))
    assert retail(tree["PC1"], date(2027, 2, 1)).lines.get(kind="recurring").amount == D("75.00")
    # the provider moves running subscriptions: they are told now, and move at the first
    # renewal 30 days or more from today
    frozen(date(2027, 2, 10))
    preview = prices.price_move_preview(actor=tree["P.admin"], price=newer)
    assert (preview.count, preview.monthly_change) == (1, D("15.00"))  # 5 x 3.00
    assert preview.effective_from == date(2027, 3, 12)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        prices.price_move_schedule(actor=tree["P.admin"], price=newer)
    assert len(mail.outbox) == 1
    assert "18.00" in mail.outbox[0].body and "12 March 2027" in mail.outbox[0].body
    run_on(date(2027, 3, 1))
    assert retail(tree["PC1"], date(2027, 3, 1)).lines.get(kind="recurring").amount == D("75.00")
    run_on(date(2027, 4, 1))
    assert retail(tree["PC1"], date(2027, 4, 1)).lines.get(kind="recurring").amount == D("90.00")
    move = PriceMove.objects.get(subscription=sub)
    assert (move.state, move.applied_on) == ("applied", date(2027, 4, 1))
    # a customer may not move prices; a reseller may not move the provider's
    with pytest.raises(Exception, match="admins and sales"):
        prices.price_move_preview(actor=tree["R1.admin"], price=newer)


def test_a_subscription_without_a_price_is_flagged_not_skipped_nor_retried(
    tree, world, fake, frozen
):
    placed = order(tree, world["starter_offer"], quantity=3, day=date(2027, 1, 1), fake=fake)
    sub = placed.subscription
    # an upgrade to Enterprise at the end of the term, which the provider has no price for
    plan = world["plans"]["enterprise"]
    from catalog.models import PlanTransition

    PlanTransition.objects.filter(from_plan=sub.plan, to_plan=plan).update(timing="end_of_term")
    from catalog import services as catalog_services

    catalog_services.offer_publish(actor=SYSTEM, seller=tree["P"], plan=plan)
    orders.subscription_change(actor=tree["PC1.admin"], subscription=sub, plan=plan)
    run = run_on(date(2027, 2, 1))
    assert (run.subscriptions_billed, run.issues_opened, run.errors) == (0, 1, 0)
    issue = BillingIssue.objects.get(subscription=sub)
    assert "no retail monthly price for Enterprise" in issue.message
    sub.refresh_from_db()
    assert sub.current_period_start == date(2027, 1, 1)  # not rolled, not billed
    assert run_on(date(2027, 2, 2)).issues_opened == 0  # not tried again, not flagged twice
    assert BillingIssue.objects.filter(subscription=sub).count() == 1
    # staff add the price (from today) and mark it fixed: the next run bills it
    frozen(date(2027, 2, 2))
    price(tree["P"], plan, "35.00", valid_from=date(2027, 2, 2))
    billing_issue_resolve(actor=tree["P.billing"], issue=issue)
    run = run_on(date(2027, 2, 2))
    assert run.subscriptions_billed == 1
    february = Invoice.objects.get(buyer=tree["PC1"], billing_day=date(2027, 2, 1))
    assert february.lines.get(kind="recurring").amount == D("105.00")
