"""Dunning on the seller's schedule: a failed automatic payment is retried on the policy's
days with one reminder e-mail per failed try; after the grace period the subscription is
suspended (its Box users set inactive through provisioning); paying resumes it (the users
active again); left unpaid, it is cancelled after the seller's period. The nightly tick is
idempotent: running it twice on one day does nothing more."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.services.run import RUN, billing_run
from orders import services as orders
from orders.models import Subscription
from payments.models import Dunning
from payments.services.accounts import invoice_terms_set, payment_policy_update
from payments.services.cards import autopay_set
from payments.services.collect import amount_due, payment_record_offline
from payments.services.dunning import dunning_tick
from payments.tasks import payment_autopay
from portal import clock
from tests.orders.conftest import run_jobs
from tests.payments.conftest import DECLINED_ON_CHARGE, saved_card
from tests.payments.helpers import books_balance, charged_at_stripe, intents_of

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def failed_renewal(paying, catalog, fake, django_capture_on_commit_callbacks, mailoutbox):
    """C11 runs a subscription (ordered on terms, provisioned with a seat), pays by a card
    that is declined on every charge, with automatic payment on; February's renewal invoice
    fails to be charged. R1 retries 1, 3 and 7 days after, suspends after 10 days and
    cancels 20 days after that."""
    tree = paying
    payment_policy_update(
        actor=tree["R1.admin"],
        seller=tree["R1"],
        retry_days="1,3,7",
        suspend_after_days=10,
        cancel_after_days=20,
    )
    invoice_terms_set(actor=tree["R1.billing"], buyer=tree["C11"], days=14)
    clock.set_today(date(2027, 1, 1))
    order = orders.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    run_jobs(fake)
    sub = Subscription.objects.get(pk=order.subscription_id)
    orders.seat_assign(actor=tree["C11.admin"], subscription=sub, email="ana@c11.test", name="Ana")
    run_jobs(fake)
    saved_card(tree["C11"], DECLINED_ON_CHARGE)
    autopay_set(actor=tree["C11.billing"], buyer=tree["C11"], enabled=True)
    clock.set_today(date(2027, 2, 1))
    billing_run(actor=RUN, day=date(2027, 2, 1))
    invoice = Invoice.objects.get(buyer=tree["C11"], billing_day=date(2027, 2, 1), source="period")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert payment_autopay(invoice.pk) == "failed"
    yield invoice, sub
    clock.set_today(None)


def tick(day, capture):
    clock.set_today(day)
    with capture(execute=True):
        return dunning_tick(day=day)


def reminders(mailoutbox) -> list[str]:
    return [m.subject for m in mailoutbox if m.subject.startswith("Payment failed")]


def test_retries_on_the_schedule_with_one_reminder_per_try_then_suspension_and_resumption(
    paying, failed_renewal, fake, django_capture_on_commit_callbacks, mailoutbox
):
    tree = paying
    invoice, sub = failed_renewal
    capture = django_capture_on_commit_callbacks
    dunning = Dunning.objects.get(invoice=invoice)
    assert (dunning.stage, dunning.attempts, dunning.next_retry_on) == (
        "retrying",
        1,
        date(2027, 2, 2),
    )
    subject = f"Payment failed: invoice {invoice.number} (52.80 USD)"
    assert reminders(mailoutbox) == [subject]
    assert mailoutbox[0].to == ["c11.billing@example.test"]
    # the schedule: the tries of 2, 4 and 8 February; nothing on the days between
    expected = {
        date(2027, 2, 2): (1, 2, date(2027, 2, 4)),
        date(2027, 2, 3): (0, 2, date(2027, 2, 4)),
        date(2027, 2, 4): (1, 3, date(2027, 2, 8)),
        date(2027, 2, 8): (1, 4, None),
        date(2027, 2, 9): (0, 4, None),
    }
    for day, (retried, attempts, next_on) in expected.items():
        counts = tick(day, capture)
        assert counts == {"retried": retried, "suspended": 0, "cancelled": 0}, day
        assert tick(day, capture) == {"retried": 0, "suspended": 0, "cancelled": 0}  # again
        dunning.refresh_from_db()
        assert (dunning.attempts, dunning.next_retry_on) == (attempts, next_on), day
    assert reminders(mailoutbox) == [subject] * 4  # one per failed try
    assert invoice.payments.filter(state="failed").count() == 4
    assert charged_at_stripe(invoice) == 0 and len(intents_of(invoice)) == 4
    # 10 days after the first failure: suspended, its Box users set inactive
    assert tick(date(2027, 2, 11), capture)["suspended"] == 1
    assert tick(date(2027, 2, 11), capture)["suspended"] == 0
    dunning.refresh_from_db()
    sub.refresh_from_db()
    assert (dunning.stage, dunning.suspended_on, sub.status) == (
        "suspended",
        date(2027, 2, 11),
        "suspended",
    )
    assert [m.subject for m in mailoutbox if "suspended" in m.subject.lower()] != []
    fake.calls.clear()
    run_jobs(fake)
    # every user but the primary admin (who keeps the account reachable) is set inactive
    users = sub.box_account.users
    ana = users.get(login="ana@c11.test")
    assert [s for op, s in fake.calls if op == "user.suspend"] == [str(ana.box_user_id)]
    assert sorted(users.values_list("role", "status")) == [
        ("admin", "active"),
        ("user", "inactive"),
    ]
    # paid by bank transfer: resolved, resumed, the users active again
    fake.calls.clear()
    with capture(execute=True):
        payment_record_offline(
            actor=tree["R1.billing"], invoice=invoice, amount="52.80", source="transfer"
        )
    dunning.refresh_from_db()
    sub.refresh_from_db()
    assert (dunning.stage, dunning.resolved_on, sub.status) == (
        "resolved",
        date(2027, 2, 11),
        "active",
    )
    run_jobs(fake)
    assert [s for op, s in fake.calls if op == "user.resume"] == [str(ana.box_user_id)]
    assert sorted(users.values_list("status", flat=True)) == ["active", "active"]
    assert amount_due(invoice) == 0
    assert tick(date(2027, 3, 15), capture)["cancelled"] == 0  # resolved: never cancelled
    books_balance(tree["C11"])


def test_left_unpaid_it_is_cancelled_after_the_sellers_period(
    paying, failed_renewal, fake, django_capture_on_commit_callbacks
):
    tree = paying
    invoice, sub = failed_renewal
    capture = django_capture_on_commit_callbacks
    for day in (date(2027, 2, 2), date(2027, 2, 4), date(2027, 2, 8), date(2027, 2, 11)):
        tick(day, capture)
    assert tick(date(2027, 3, 2), capture)["cancelled"] == 0  # 19 days after suspension
    counts = tick(date(2027, 3, 3), capture)
    assert counts == {"retried": 0, "suspended": 0, "cancelled": 1}
    assert tick(date(2027, 3, 3), capture)["cancelled"] == 0
    dunning = Dunning.objects.get(invoice=invoice)
    sub.refresh_from_db()
    invoice.refresh_from_db()
    assert (dunning.stage, dunning.cancelled_on, sub.status, invoice.state) == (
        "cancelled",
        date(2027, 3, 3),
        "cancelled",
        "uncollectible",
    )
    books_balance(tree["C11"])


def test_a_retry_that_cannot_reach_stripe_is_tried_again_the_next_day(
    paying, failed_renewal, settings, django_capture_on_commit_callbacks, mailoutbox
):
    invoice, _sub = failed_renewal
    capture = django_capture_on_commit_callbacks
    real_base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    settings.STRIPE_TIMEOUT_SECONDS = 2
    assert tick(date(2027, 2, 2), capture) == {"retried": 0, "suspended": 0, "cancelled": 0}
    dunning = Dunning.objects.get(invoice=invoice)
    # nothing was charged nor counted as a try, no reminder went out, and the retry moved on
    # by a day instead of being lost
    assert (dunning.stage, dunning.attempts, dunning.next_retry_on) == (
        "retrying",
        1,
        date(2027, 2, 3),
    )
    assert len(reminders(mailoutbox)) == 1
    settings.STRIPE_API_BASE = real_base
    assert charged_at_stripe(invoice) == 0
    assert tick(date(2027, 2, 3), capture)["retried"] == 1
    dunning.refresh_from_db()
    assert (dunning.attempts, dunning.next_retry_on) == (2, date(2027, 2, 4))
    assert len(reminders(mailoutbox)) == 2
