"""Every worked billing case (docs/billing-cases.md) through the billing run (and an order's
first invoice), with its exact lines and totals."""

from datetime import date
from decimal import Decimal

import pytest
from freezegun import freeze_time

from billing.models import BilledPeriod, Invoice, UsageRecord
from catalog import services as catalog_services
from orders import services as orders
from tests.billing.conftest import SYSTEM, order, run_on
from tests.catalog.builders import price

pytestmark = pytest.mark.django_db

D = Decimal


def lines_of(invoice):
    return [(x.kind, x.amount) for x in invoice.lines.order_by("position")]


def retail(customer, day):
    return Invoice.objects.get(buyer=customer, billing_day=day, source__in=["order", "period"])


def test_case_1_seats(tree, world, fake):
    # when: five Business seats are ordered for January 2027
    placed = order(tree, world["offer"], day=date(2027, 1, 1), fake=fake)
    # then: the order's first invoice is issued at once, exactly as the order showed
    first = placed.first_invoice
    assert lines_of(first) == [("recurring", D("75.00")), ("tax", D("7.50"))]
    assert (first.subtotal, first.tax_total, first.total) == (D("75.00"), D("7.50"), D("82.50"))
    assert first.total == placed.first_total
    assert (first.period_start, first.period_end) == (date(2027, 1, 1), date(2027, 2, 1))
    assert (first.state, first.number, first.seller) == ("issued", "INV-2027-00001", tree["P"])
    # and the run on 1 February bills February the same way, once
    run = run_on(date(2027, 2, 1))
    assert (run.subscriptions_billed, run.invoices_issued, run.errors) == (1, 1, 0)
    february = retail(tree["PC1"], date(2027, 2, 1))
    assert lines_of(february) == [("recurring", D("75.00")), ("tax", D("7.50"))]
    assert february.total == D("82.50") and february.number == "INV-2027-00002"
    again = run_on(date(2027, 2, 1))
    assert (again.subscriptions_billed, again.invoices_issued) == (0, 0)
    assert Invoice.objects.count() == 2


def test_case_2_seats_added_mid_period(tree, world, fake, frozen):
    placed = order(tree, world["offer"], day=date(2027, 1, 1), fake=fake)
    frozen(date(2027, 1, 23))
    orders.subscription_change(
        actor=tree["PC1.admin"], subscription=placed.subscription, quantity=8
    )
    run_on(date(2027, 2, 1))
    february = retail(tree["PC1"], date(2027, 2, 1))
    # 3 x 15.00 x 9/31 = 13.0645 -> 13.06, billed with February's 8 seats
    assert lines_of(february) == [
        ("recurring", D("120.00")),
        ("prorated", D("13.06")),
        ("tax", D("13.31")),
    ]
    assert february.total == D("146.37")


def test_case_3_upgrade(tree, world, fake, frozen):
    placed = order(tree, world["starter_offer"], quantity=3, day=date(2027, 3, 1), fake=fake)
    assert placed.first_invoice.total == D("16.50")  # 3 x 5.00 + 10 %
    frozen(date(2027, 3, 11))
    orders.subscription_change(
        actor=tree["PC1.admin"],
        subscription=placed.subscription,
        plan=world["plans"]["business"],
    )
    run_on(date(2027, 4, 1))
    april = retail(tree["PC1"], date(2027, 4, 1))
    # credit -10.16 and charge 30.48 for 21 of 31 days: net 20.32, with April in advance
    assert lines_of(april) == [
        ("recurring", D("45.00")),
        ("credit", D("-10.16")),
        ("prorated", D("30.48")),
        ("tax", D("6.53")),
    ]
    assert april.subtotal == D("65.32")


def storage_price(tree, world, mode, tiers):
    with freeze_time("2026-12-01"):
        return price(
            tree["P"],
            world["plans"]["starter"],
            "5.00",
            valid_from=date(2027, 1, 1),
            components=[{"metric": "storage_gb_month", "mode": mode, "tiers": tiers}],
        )


def usage(sub, values: dict[date, int]):
    """Daily storage of the subscription (what the nightly collection writes)."""
    for day, gb in values.items():
        UsageRecord.objects.update_or_create(
            subscription=sub,
            metric="storage_bytes",
            day=day,
            defaults={"value": gb * 1_073_741_824},
        )


def april_days():
    return [date(2027, 4, d) for d in range(1, 31)]


def test_case_4_storage_pay_per_use(tree, world, fake):
    storage_price(tree, world, "flat", [{"up_to": None, "unit_price": "0.10"}])
    placed = order(tree, world["starter_offer"], quantity=3, day=date(2027, 4, 1), fake=fake)
    sub = placed.subscription
    days = april_days()
    usage(sub, {d: 90 for d in days[:10]} | {d: 130 for d in days[10:]})
    run_on(date(2027, 5, 1))
    may = retail(tree["PC1"], date(2027, 5, 1))
    lines = list(may.lines.order_by("position"))
    assert [(x.kind, x.amount) for x in lines] == [
        ("recurring", D("15.00")),
        ("usage", D("2.00")),
        ("tax", D("1.70")),
    ]
    storage = lines[1]
    # 600 GB-days over 100 GB in a 30-day month: 20 GB-months at 0.10
    assert (storage.quantity, storage.unit_price, storage.metric) == (
        D("20.0000"),
        D("0.1000"),
        "storage_gb_month",
    )
    assert (storage.service_start, storage.service_end) == (date(2027, 4, 1), date(2027, 5, 1))
    assert storage.explain["days_in_period"] == 30 and len(storage.explain["days"]) == 30
    assert BilledPeriod.objects.filter(subscription=sub, part="arrears").count() == 1


@pytest.mark.parametrize("mode,expected", [("graduated", D("7.40")), ("volume", D("6.40"))])
def test_case_5_tiers(tree, world, fake, mode, expected):
    storage_price(
        tree,
        world,
        mode,
        [{"up_to": "50", "unit_price": "0.10"}, {"up_to": None, "unit_price": "0.08"}],
    )
    placed = order(tree, world["starter_offer"], quantity=3, day=date(2027, 4, 1), fake=fake)
    usage(placed.subscription, {d: 180 for d in april_days()})  # 80 GB over, every day
    run_on(date(2027, 5, 1))
    storage = retail(tree["PC1"], date(2027, 5, 1)).lines.get(kind="usage")
    assert (storage.quantity, storage.amount) == (D("80.0000"), expected)


def test_case_6_promotion_for_three_periods(tree, world, fake):
    with freeze_time("2026-12-01"):
        catalog_services.promotion_create(
            actor=SYSTEM,
            seller=tree["P"],
            name="Welcome",
            code="WELCOME20",
            discount_type="percent",
            percent="20",
            duration="repeating",
            duration_periods=3,
        )
    placed = order(
        tree, world["offer"], day=date(2027, 1, 1), fake=fake, promotion_code="WELCOME20"
    )
    invoices = [placed.first_invoice]
    for day in (date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1)):
        run_on(day)
        invoices.append(retail(tree["PC1"], day))
    discounts = [[x.amount for x in i.lines.filter(kind="discount")] for i in invoices]
    assert discounts == [[D("-15.00")]] * 3 + [[]]
    assert [i.total for i in invoices] == [D("66.00")] * 3 + [D("82.50")]


def test_case_7_trial(tree, world, fake):
    offer = catalog_services.offer_update(actor=SYSTEM, offer=world["offer"], trial_days=14)
    placed = order(tree, offer, day=date(2027, 1, 1), fake=fake)
    sub = placed.subscription
    assert (sub.status, sub.current_period_end) == ("trial", date(2027, 1, 15))
    assert Invoice.objects.count() == 0  # nothing is billed for the trial
    assert run_on(date(2027, 1, 14)).subscriptions_billed == 0
    run_on(date(2027, 1, 15))
    first = retail(tree["PC1"], date(2027, 1, 15))
    assert lines_of(first) == [("recurring", D("75.00")), ("tax", D("7.50"))]
    assert (first.period_start, first.period_end) == (date(2027, 1, 15), date(2027, 2, 15))
    sub.refresh_from_db()
    assert (sub.status, sub.current_period_end) == ("active", date(2027, 2, 15))


def test_case_8_reseller_chain(tree, world, fake):
    placed = order(tree, world["r1_offer"], customer="C11", day=date(2027, 1, 1), fake=fake)
    customer_invoice = placed.first_invoice
    # the reseller's invoice, under its own numbering
    assert (customer_invoice.seller, customer_invoice.subtotal) == (tree["R1"], D("80.00"))
    assert customer_invoice.number == "INV-2027-00001"
    assert customer_invoice.seller_details["name"] == "Reseller R1"
    # the provider's wholesale invoice to the reseller: a draft until the month is over
    wholesale = Invoice.objects.get(seller=tree["P"], buyer=tree["R1"])
    assert (wholesale.state, wholesale.billing_day) == ("draft", date(2027, 2, 1))
    run_on(date(2027, 2, 1))
    wholesale = Invoice.objects.get(
        seller=tree["P"], buyer=tree["R1"], billing_day=date(2027, 2, 1)
    )
    assert wholesale.state == "issued" and wholesale.number == "INV-2027-00001"
    recurring = wholesale.lines.get(kind="recurring")
    assert (recurring.quantity, recurring.unit_price, recurring.amount) == (
        D("5"),
        D("12.0000"),
        D("60.00"),
    )
    assert "Customer C11" in recurring.description
    assert recurring.subscription == placed.subscription
    assert wholesale.subtotal == D("60.00")


def test_case_9_tax_on_the_total(tree, world, fake, frozen):
    placed = order(tree, world["offer"], day=date(2027, 1, 1), fake=fake)
    sub = placed.subscription
    frozen(date(2027, 1, 23))
    orders.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=8)
    sub.refresh_from_db()
    orders.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=5)
    run_on(date(2027, 2, 1))
    february = retail(tree["PC1"], date(2027, 2, 1))
    # lines 75.00 and 13.06 at 10 %: tax 8.81 on 88.06, total 96.87
    assert lines_of(february) == [
        ("recurring", D("75.00")),
        ("prorated", D("13.06")),
        ("tax", D("8.81")),
    ]
    assert february.total == D("96.87")
