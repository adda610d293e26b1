"""Subscriptions: changes with their rules and charges (billing cases 2 and 3 exactly),
cancellation, suspension, renewal; seats and their Box users."""

import re
from datetime import date
from decimal import Decimal

import pytest

from billing.models import Charge, CreditNote
from orders import services
from orders.models import ChangeState, OrderState, SeatAssignment, SubscriptionStatus
from portal import clock
from portal.errors import Conflict, PermissionDenied, ValidationError
from provisioning.models import BoxUser, ProvisioningJob
from tests.factories import SYSTEM
from tests.orders.conftest import run_jobs, subscribe

pytestmark = pytest.mark.django_db
GB = 1024**3


def charges(sub):
    return [
        (c.kind, c.description, c.quantity, c.unit_price, c.amount)
        for c in Charge.objects.filter(subscription=sub).order_by("id")
    ]


# --- the worked cases -----------------------------------------------------------------------


def test_case_2_seats_added_mid_period(tree, catalog, fake):
    # given: Business, 5 seats at 15.00, period January 2027
    sub = subscribe(tree, catalog, fake, quantity=5, day=date(2027, 1, 1))
    assert (sub.current_period_start, sub.current_period_end) == (
        date(2027, 1, 1),
        date(2027, 2, 1),
    )
    # when: 3 seats are added on 23 January (9 of 31 days left)
    clock.set_today(date(2027, 1, 23))
    order = services.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=8)
    # then: one prorated line, 3 x 15.00 x 9/31 = 13.0645 -> 13.06
    assert order.timing == "immediate"
    assert charges(sub) == [
        (
            "prorated",
            "3 more seats of Business, 9 of 31 days",
            Decimal("3.0000"),
            Decimal("15.0000"),
            Decimal("13.06"),
        )
    ]
    sub.refresh_from_db()
    assert sub.quantity == 8
    job = sub.box_account.jobs.get(operation="account.change_seats")
    assert job.payload == {"seats": 9}
    run_jobs(fake)
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED


def test_case_3_upgrade(tree, catalog, fake):
    # given: 3 seats of Starter at 5.00, period March 2027
    sub = subscribe(tree, catalog, fake, offer="P.starter", quantity=3, day=date(2027, 3, 1))
    # when: they move to Business (15.00) on 11 March: 21 of 31 days left
    clock.set_today(date(2027, 3, 11))
    order = services.subscription_change(
        actor=tree["PC1.admin"], subscription=sub, plan=catalog.plans["business"]
    )
    # then: credit -10.16 (15.00 x 21/31), charge 30.48 (45.00 x 21/31), net 20.32
    assert charges(sub) == [
        (
            "credit",
            "Unused Starter, 3 seats, 21 of 31 days",
            Decimal("3.0000"),
            Decimal("5.0000"),
            Decimal("-10.16"),
        ),
        (
            "prorated",
            "Business, 3 seats, 21 of 31 days",
            Decimal("3.0000"),
            Decimal("15.0000"),
            Decimal("30.48"),
        ),
    ]
    assert sum(c.amount for c in Charge.objects.filter(subscription=sub)) == Decimal("20.32")
    sub.refresh_from_db()
    assert (sub.plan.code, sub.unit_price, sub.offer) == (
        "business",
        Decimal("15.0000"),
        catalog["P.business"],
    )
    job = sub.box_account.jobs.get(operation="account.change_plan")
    assert job.payload == {"plan_code": "business", "seats": 4}
    run_jobs(fake)
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED


def test_charges_cannot_be_recorded_twice(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=5)
    clock.set_today(date(2027, 1, 23))
    order = services.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=6)
    from django.db import IntegrityError, transaction

    charge = Charge.objects.get(order=order)
    with pytest.raises(IntegrityError), transaction.atomic():
        Charge.objects.create(
            **{
                f.name: getattr(charge, f.name)
                for f in Charge._meta.fields
                if f.name not in ("id",)
            }
        )


# --- change rules ---------------------------------------------------------------------------


def test_downgrades_and_fewer_seats_wait_for_the_end_of_the_term(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=5, day=date(2027, 1, 1))
    clock.set_today(date(2027, 1, 10))
    order = services.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=4)
    assert (order.state, order.timing, order.effective_on) == (
        "completed",
        "end_of_term",
        date(2027, 2, 1),
    )
    assert Charge.objects.filter(subscription=sub).count() == 0
    sub.refresh_from_db()
    assert sub.quantity == 5
    [change] = sub.changes.filter(state=ChangeState.SCHEDULED)
    assert (change.from_quantity, change.to_quantity) == (5, 4)
    # a second scheduled change builds on the first
    services.subscription_change(actor=tree["PC1.admin"], subscription=sub, term="annual")
    [change] = sub.changes.filter(state=ChangeState.SCHEDULED)
    assert (change.to_quantity, change.to_term) == (4, "annual")
    # at the renewal the change applies and Box follows
    services.subscription_renew(actor=SYSTEM, subscription=sub, today=date(2027, 2, 1))
    sub.refresh_from_db()
    assert (sub.quantity, sub.term, sub.current_period_start, sub.current_period_end) == (
        4,
        "annual",
        date(2027, 2, 1),
        date(2028, 2, 1),
    )
    assert sub.unit_price == Decimal("150.0000")
    assert (
        sub.box_account.jobs.filter(operation="account.change_seats", payload={"seats": 5}).count()
        == 1
    )
    # renewing again the same day changes nothing
    services.subscription_renew(actor=SYSTEM, subscription=sub, today=date(2027, 2, 1))
    sub.refresh_from_db()
    assert sub.current_period_start == date(2027, 2, 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": 2}, "Business is for 3+ users; 2 is outside that."),
        ({"plan": "individual"}, "A Business subscription cannot change to"),
        ({"plan": "business"}, "Nothing would change."),
        ({"quantity": 5}, "Nothing would change."),
    ],
)
def test_changes_outside_the_rules_are_refused(tree, catalog, fake, change, message):
    sub = subscribe(tree, catalog, fake, quantity=5)
    if "plan" in change:
        change["plan"] = catalog.plans[change["plan"]]
    if change.get("plan") and change["plan"].code == "individual":
        from catalog.models import PlanTransition

        PlanTransition.objects.filter(from_plan=sub.plan, to_plan=change["plan"]).delete()
    before = (sub.changes.count(), Charge.objects.count(), ProvisioningJob.objects.count())
    with pytest.raises(ValidationError, match=re.escape(message)):
        services.subscription_change(actor=tree["PC1.admin"], subscription=sub, **change)
    assert (sub.changes.count(), Charge.objects.count(), ProvisioningJob.objects.count()) == before


def test_fewer_seats_than_assigned_is_refused(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=4)
    for i in range(4):
        services.seat_assign(
            actor=tree["PC1.admin"], subscription=sub, email=f"p{i}@pc1.test", name=f"Person {i}"
        )
    with pytest.raises(ValidationError, match="4 seats are assigned; unassign 1 before"):
        services.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=3)


def test_a_plan_with_less_storage_than_used_is_refused(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    BoxUser.objects.filter(account=sub.box_account).update(space_used=150 * GB)
    from catalog.models import PlanTransition

    PlanTransition.objects.update_or_create(
        from_plan=sub.plan, to_plan=catalog.plans["starter"], defaults={"timing": "end_of_term"}
    )
    with pytest.raises(
        ValidationError, match=re.escape("Starter with 3 seats includes 100 GB, but 150.0 GB")
    ):
        services.subscription_change(
            actor=tree["PC1.admin"], subscription=sub, plan=catalog.plans["starter"]
        )


def test_a_plan_change_during_a_trial_the_plan_forbids(tree, catalog, fake):
    business = catalog.plans["business"]
    business.changes_during_trial = False
    business.save()
    sub = subscribe(tree, catalog, fake, quantity=3, trial=True)
    assert sub.status == SubscriptionStatus.TRIAL
    with pytest.raises(ValidationError, match="cannot change plan during its trial"):
        services.subscription_change(
            actor=tree["PC1.admin"], subscription=sub, plan=catalog.plans["enterprise"]
        )


def test_changes_during_a_trial_cost_nothing(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3, trial=True)
    clock.set_today(date(2027, 1, 5))
    services.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=6)
    assert Charge.objects.filter(subscription=sub).count() == 0
    # the trial ends: the first paid period starts and is priced
    services.subscription_renew(actor=SYSTEM, subscription=sub, today=date(2027, 1, 15))
    sub.refresh_from_db()
    assert (sub.status, sub.quantity, sub.current_period_start, sub.current_period_end) == (
        "active",
        6,
        date(2027, 1, 15),
        date(2027, 2, 15),
    )


def test_mixing_now_and_later_in_one_change_is_refused(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    with pytest.raises(ValidationError, match="one at a time"):
        services.subscription_change(
            actor=tree["PC1.admin"], subscription=sub, quantity=6, term="annual"
        )


def test_another_customer_cannot_change_it(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    with pytest.raises(PermissionDenied):
        services.subscription_change(actor=tree["PC2.admin"], subscription=sub, quantity=6)
    with pytest.raises(PermissionDenied):
        services.subscription_change(actor=tree["PC1.member"], subscription=sub, quantity=6)


# --- cancel, suspend, resume ----------------------------------------------------------------


def test_cancel_at_the_end_of_the_term_by_default(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    order = services.subscription_cancel(actor=tree["PC1.admin"], subscription=sub)
    assert (order.kind, order.state, order.effective_on) == (
        "cancel",
        "completed",
        date(2027, 2, 1),
    )
    sub.refresh_from_db()
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    with pytest.raises(Conflict, match="withdraw the cancellation first"):
        services.subscription_change(actor=tree["PC1.admin"], subscription=sub, quantity=4)
    services.subscription_renew(actor=SYSTEM, subscription=sub, today=date(2027, 2, 1))
    sub.refresh_from_db()
    assert (sub.status, sub.cancelled_on) == ("cancelled", date(2027, 2, 1))
    assert sub.box_account.jobs.filter(operation="account.cancel").count() == 1


def test_a_customer_cannot_end_it_now_when_the_plan_says_end_of_term(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    with pytest.raises(ValidationError, match="end at the end of their term"):
        services.subscription_cancel(actor=tree["PC1.admin"], subscription=sub, immediately=True)


def test_staff_end_it_now_with_a_credit(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=4)
    clock.set_today(date(2027, 1, 23))
    order = services.subscription_cancel(actor=tree["P.admin"], subscription=sub, immediately=True)
    sub.refresh_from_db()
    assert (sub.status, sub.cancelled_on) == ("cancelled", date(2027, 1, 23))
    # the unused 9 of 31 days are credited on the invoice that billed January:
    # 4 x 15.00 x 9/31 = 17.419... -> 17.42, and its 10 % tax 1.74
    note = CreditNote.objects.get()
    assert note.invoice == sub.invoice_lines.get(kind="recurring", billed_by=sub.seller).invoice
    assert [(x.kind, x.amount) for x in note.lines.order_by("position")] == [
        ("recurring", Decimal("17.42")),
        ("tax", Decimal("1.74")),
    ]
    assert (note.total, note.number) == (Decimal("19.16"), "CN-2027-00001")
    assert "9 of 31 days unused" in note.reason
    assert charges(sub) == []  # nothing left waiting to be billed
    run_jobs(fake)
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED


def test_suspend_and_resume(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    with pytest.raises(PermissionDenied):
        services.subscription_suspend(actor=tree["PC1.admin"], subscription=sub, reason="x")
    with pytest.raises(ValidationError, match="Say why"):
        services.subscription_suspend(actor=tree["P.billing"], subscription=sub, reason=" ")
    services.subscription_suspend(
        actor=tree["P.billing"], subscription=sub, reason="Invoice unpaid"
    )
    sub.refresh_from_db()
    assert (sub.status, sub.suspended_reason) == ("suspended", "Invoice unpaid")
    services.subscription_resume(actor=tree["P.billing"], subscription=sub)
    sub.refresh_from_db()
    assert sub.status == "active"
    ops = list(
        sub.box_account.jobs.filter(operation__in=["account.suspend", "account.resume"])
        .order_by("sequence")
        .values_list("operation", flat=True)
    )
    assert ops == ["account.suspend", "account.resume"]


# --- seats ----------------------------------------------------------------------------------


def test_assign_seats_and_their_box_users(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    seat = services.seat_assign(
        actor=tree["PC1.admin"],
        subscription=sub,
        email="Ana@PC1.test",
        name="Ana",
        quota_gb=50,
        role="coadmin",
    )
    assert (seat.email, seat.status, seat.quota_bytes) == ("ana@pc1.test", "pending", 50 * GB)
    assert seat.box_user.external_app_user_id == f"seat-{seat.pk}"
    run_jobs(fake)
    seat.refresh_from_db()
    assert seat.status == "active"
    assert seat.box_user.box_user_id is not None
    assert fake.calls[-1] == ("user.create", "ana@pc1.test")


def test_more_assignments_than_seats_are_refused(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    for i in range(3):
        services.seat_assign(
            actor=tree["PC1.admin"], subscription=sub, email=f"p{i}@pc1.test", name=f"P{i}"
        )
    with pytest.raises(Conflict, match="All 3 seats are assigned"):
        services.seat_assign(
            actor=tree["PC1.admin"], subscription=sub, email="x@pc1.test", name="X"
        )
    assert SeatAssignment.objects.filter(subscription=sub).count() == 3
    assert BoxUser.objects.filter(login="x@pc1.test").count() == 0


def test_seat_input_is_checked(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, offer="P.starter", quantity=3)
    admin = tree["PC1.admin"]
    services.seat_assign(actor=admin, subscription=sub, email="dup@pc1.test", name="Dup")
    with pytest.raises(Conflict, match="already has a seat"):
        services.seat_assign(actor=admin, subscription=sub, email="DUP@pc1.test", name="Dup")
    with pytest.raises(ValidationError, match="valid e-mail"):
        services.seat_assign(actor=admin, subscription=sub, email="nope", name="X")
    with pytest.raises(ValidationError, match="at most 100 GB"):
        services.seat_assign(
            actor=admin, subscription=sub, email="big@pc1.test", name="B", quota_gb=500
        )
    with pytest.raises(ValidationError, match="not a seat role"):
        services.seat_assign(
            actor=admin, subscription=sub, email="r@pc1.test", name="R", role="admin"
        )
    with pytest.raises(PermissionDenied):
        services.seat_assign(
            actor=tree["PC1.member"], subscription=sub, email="m@pc1.test", name="M"
        )
    assert SeatAssignment.objects.filter(subscription=sub).count() == 1


def test_update_unassign_and_reassign(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    seat = services.seat_assign(
        actor=tree["PC1.admin"], subscription=sub, email="a@pc1.test", name="A"
    )
    run_jobs(fake)
    seat.refresh_from_db()
    services.seat_update(actor=tree["PC1.admin"], seat=seat, quota_gb=20)
    seat.refresh_from_db()
    assert (seat.status, seat.quota_bytes) == ("updating", 20 * GB)
    run_jobs(fake)
    seat.refresh_from_db()
    assert seat.status == "active"
    new = services.seat_reassign(actor=tree["PC1.admin"], seat=seat, email="b@pc1.test", name="B")
    seat.refresh_from_db()
    assert (seat.status, new.status) == ("removing", "pending")
    run_jobs(fake)
    seat.refresh_from_db()
    new.refresh_from_db()
    assert (seat.status, new.status) == ("removed", "active")
    assert [op for op, _ in fake.calls if op.startswith("user.")][-3:] == [
        "user.update",
        "user.delete",
        "user.create",
    ]
    # the address is free again
    again = services.seat_assign(
        actor=tree["PC1.admin"], subscription=sub, email="a@pc1.test", name="A again"
    )
    assert again.pk != seat.pk


def test_csv_import_reports_each_row(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3)
    text = (
        "email,name,quota_gb,role\n"
        "one@pc1.test,One,10,user\n"
        "bad-address,Bad,,user\n"
        "two@pc1.test,Two,,coadmin\n"
        "one@pc1.test,One again,,user\n"
        "three@pc1.test,Three,,\n"
        "four@pc1.test,Four,,\n"
    )
    report = services.seats_import(actor=tree["PC1.admin"], subscription=sub, text=text)
    assert [(r.line, r.email, r.ok, r.message) for r in report] == [
        (2, "one@pc1.test", True, "Assigned."),
        (3, "bad-address", False, "Enter a valid e-mail address."),
        (4, "two@pc1.test", True, "Assigned."),
        (5, "one@pc1.test", False, "one@pc1.test already has a seat."),
        (6, "three@pc1.test", True, "Assigned."),
        (
            7,
            "four@pc1.test",
            False,
            "All 3 seats are assigned; buy more seats or unassign someone first.",
        ),
    ]
    assert SeatAssignment.objects.filter(subscription=sub).count() == 3
    with pytest.raises(ValidationError, match="first line must name the columns"):
        services.seats_import(actor=tree["PC1.admin"], subscription=sub, text="a,b\n1,2\n")
