"""The demo plays two months of history: the Box accounts are set up at the simulator on the
story's first day, then each day usage is recorded, the billing run invoices, the demo
customers pay (by card automatically, by bank transfer, one card declined into dunning) and
a credit note is refunded to a card."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import CreditNote, Invoice, UsageRecord
from payments.models import BalanceEntry, Dunning, Payment, Refund
from portal.demo import HISTORY_DAYS, seed
from provisioning.models import BoxAccount
from tests.provisioning.conftest import ensure_platform_app, point_at

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def own_sim(tmp_path):
    from boxsim.testing import start_simulator

    handle = start_simulator(data_path=tmp_path / "boxsim.sqlite3")
    ensure_platform_app(handle)
    yield handle
    handle.stop()


def test_the_demo_opens_on_two_months_of_billing_and_payments(
    monkeypatch, own_sim, localstripe_url, settings, capsys
):
    # given: the demo launcher's simulator and localstripe
    point_at(settings, own_sim)
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_WEBHOOK_BASE_URL = ""
    monkeypatch.setenv("PORTAL_DEMO_BOXSIM_URL", own_sim.url)
    monkeypatch.setenv("PORTAL_DEMO_PROVISION", "inline")
    monkeypatch.setenv("PORTAL_DEMO_STRIPE_URL", localstripe_url)

    # when
    before = timezone.localdate()
    world = seed()
    out = capsys.readouterr().out

    # then: the accounts ran from the story's first day
    # (the story ends today: the day the seed started, or the next if it ran past midnight)
    start = world.start
    assert start in {
        before - timedelta(days=HISTORY_DAYS),
        before - timedelta(days=HISTORY_DAYS - 1),
    }
    played = BoxAccount.objects.filter(customer__sandbox=False)
    assert played.filter(status="active").count() == 3, out
    # the sandbox customer's order was placed after the story, on today's date, on terms
    sandbox = world.sandbox
    assert (sandbox.sandbox, sandbox.sandbox_today) == (True, timezone.localdate())
    assert sandbox.orders.get().state in {"provisioning", "completed"}
    # (Skyline's Business starts with a trial: nothing is invoiced yet, and whatever is
    # invoiced later takes the sandbox series)
    assert not Invoice.objects.filter(buyer=sandbox, sandbox=False).exists()
    customers = world.customers
    buyers = {key: customers[key] for key in ("acme", "contoso", "evergreen")}
    issued = Invoice.objects.exclude(number=None)
    story = {
        key: {
            "invoices": sorted(
                (i.source, (i.billing_day - start).days, i.state)
                for i in issued.filter(buyer=buyer)
            ),
            "card payments": Payment.objects.filter(
                buyer=buyer, source="card", state="succeeded"
            ).count(),
            "transfers": Payment.objects.filter(buyer=buyer, source="transfer").count(),
            "credit notes": CreditNote.objects.filter(buyer=buyer).count(),
            "refunds": Refund.objects.filter(credit_note__buyer=buyer).count(),
            "balance entries": BalanceEntry.objects.filter(buyer=buyer).count(),
            "credit left": sum(
                BalanceEntry.objects.filter(buyer=buyer).values_list("amount", flat=True),
                Decimal(0),
            ),
            "dunning": list(Dunning.objects.filter(invoice__buyer=buyer).values_list("stage")),
        }
        for key, buyer in buyers.items()
    }
    wholesale = {
        key: issued.filter(buyer=world.resellers[key], source="wholesale").count()
        for key in ("skyline", "harbor")
    }
    nothing = {"credit notes": 0, "refunds": 0, "dunning": []}
    assert story == {
        # Acme's 14-day trial is not invoiced; its card pays each renewal the day it is
        # issued, and Northwind's goodwill credit note on day 45 was refunded to that card.
        "acme": {
            "invoices": [("period", 14, "paid"), ("period", 45, "paid")],
            "card payments": 2,
            "transfers": 0,
            "credit notes": 1,
            "refunds": 1,
            "balance entries": 0,
            "credit left": Decimal("0"),
            "dunning": [],
        },
        # Contoso's card paid the order and the first renewal; the card it saved on day 40 is
        # declined off session, so the renewal of day 61 is being retried.
        "contoso": {
            **nothing,
            "invoices": [("order", 0, "paid"), ("period", 30, "paid"), ("period", 61, "issued")],
            "card payments": 2,
            "transfers": 0,
            "balance entries": 0,
            "credit left": Decimal("0"),
            "dunning": [("retrying",)],
        },
        # Evergreen pays by transfer 12 days after each invoice; 20.00 too much on the first
        # renewal became credit, used up by the renewal of day 61 (which waits for the rest).
        "evergreen": {
            **nothing,
            "invoices": [("order", 0, "paid"), ("period", 30, "paid"), ("period", 61, "issued")],
            "card payments": 0,
            "transfers": 2,
            "balance entries": 2,
            "credit left": Decimal("0.00"),
        },
    }, repr(story)
    # one wholesale invoice per reseller on each first of a month the story went through (two
    # or three, by the calendar)
    firsts = sum(1 for i in range(1, HISTORY_DAYS + 1) if (start + timedelta(days=i)).day == 1)
    assert firsts in (2, 3)
    assert wholesale == {"skyline": firsts, "harbor": firsts}
    assert UsageRecord.objects.values("day").distinct().count() == HISTORY_DAYS

    # seeding again changes nothing
    counts = (Invoice.objects.count(), Payment.objects.count(), UsageRecord.objects.count())
    seed()
    assert (Invoice.objects.count(), Payment.objects.count(), UsageRecord.objects.count()) == counts
