"""Usage collection through the services and tasks, with a recording connector standing in for
Box's listing: what is stored per user and per subscription, one row per day, re-collection in
place, live accounts only, seats held, retries with back-off, the lease, expiry, staff retry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing import tasks
from billing.models import BoxUserUsage, UsageCollection, UsageRecord
from billing.services import hooks, usage
from orders import services as orders_services
from orders.models import SeatAssignment, Subscription
from portal.actors import system
from portal.errors import Conflict, PermissionDenied
from portal.models import AuditEvent
from provisioning import reconcile
from provisioning.connector.base import PermanentError, RateLimited, RemoteUser, UnknownOutcome
from provisioning.models import AccountStatus, BoxAccount, DriftItem
from tests.billing.conftest import DAY, GIB, MIB, on_day, remote_of, users_of, with_seats
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db

COLLECTOR = system("usage-collection")


def records(sub, day=DAY) -> dict[str, int]:
    return dict(
        UsageRecord.objects.filter(subscription=sub, day=day).values_list("metric", "value")
    )


@pytest.fixture
def heard(monkeypatch):
    """What ``hooks.on_usage_recorded`` was told, in order."""
    calls = []
    original = hooks.on_usage_recorded

    def spy(*, subscription, days):
        calls.append((subscription.pk, list(days)))
        original(subscription=subscription, days=days)

    monkeypatch.setattr(hooks, "on_usage_recorded", spy)
    return calls


@pytest.fixture
def sub(tree, catalog, listing):
    sub = with_seats(tree, catalog, listing, customer="C11", seats=3)
    on_day(DAY)
    return sub


def at_box(listing, sub, *users: RemoteUser) -> None:
    listing.box[sub.box_account.box_enterprise_id] = list(users)


def test_the_nightly_collection_stores_each_user_and_sums_per_subscription(sub, listing, heard):
    u = users_of(sub)
    stranger = RemoteUser(id="39999999999", login="x@elsewhere.test", name="X", space_used=GIB)
    at_box(
        listing,
        sub,
        remote_of(u["admin"], space_used=512 * MIB),
        remote_of(u["person0"], space_used=GIB),
        remote_of(u["person1"], space_used=2 * GIB, status="inactive"),
        remote_of(u["person2"], space_used=0),
        stranger,  # made at Box behind the portal's back: drift, not usage
    )
    # when
    assert tasks.usage_collect_nightly() == 1
    # then: the collection's state is on its row
    collection = UsageCollection.objects.get(account=sub.box_account, day=DAY)
    assert (collection.state, collection.attempts, collection.users) == ("succeeded", 1, 5)
    assert collection.finished_at is not None and collection.last_error == ""
    # each known user's day as Box reported it
    stored = {
        r.box_user_id: (r.space_used, r.status)
        for r in BoxUserUsage.objects.filter(account=sub.box_account, day=DAY)
    }
    assert stored == {
        u["admin"].pk: (512 * MIB, "active"),
        u["person0"].pk: (GIB, "active"),
        u["person1"].pk: (2 * GIB, "inactive"),
        u["person2"].pk: (0, "active"),
    }
    # the subscription's day: storage of every user (admin included), active users but the
    # admin, seats holding a person
    assert records(sub) == {
        "storage_bytes": 512 * MIB + 3 * GIB,
        "active_users": 2,
        "seats_held": 3,
    }
    assert heard == [(sub.pk, [DAY])]
    # reconciliation ran from the same listing: usage on the users, the stranger as drift
    u["person1"].refresh_from_db()
    assert u["person1"].space_used == 2 * GIB and u["person1"].last_seen_at is not None
    assert DriftItem.objects.filter(
        account=sub.box_account, kind="unknown_in_box", key="39999999999"
    ).exists()
    sub.box_account.refresh_from_db()
    assert sub.box_account.last_reconciled_at is not None
    # one listing: the one call the nightly path made
    assert listing.calls.count(("users.list", sub.box_account.box_enterprise_id)) == 1


def test_the_primary_admin_is_never_an_active_user_but_its_files_count(sub, listing):
    u = users_of(sub)
    at_box(
        listing,
        sub,
        remote_of(u["admin"], space_used=7 * GIB),
        remote_of(u["person0"], status="inactive"),
    )
    tasks.usage_collect_nightly()
    assert records(sub)["active_users"] == 0
    assert records(sub)["storage_bytes"] == 7 * GIB


def test_collecting_the_same_day_again_updates_it_in_place(sub, listing, heard):
    u = users_of(sub)
    at_box(
        listing,
        sub,
        remote_of(u["admin"], space_used=MIB),
        remote_of(u["person0"], space_used=GIB),
        remote_of(u["person1"], space_used=GIB),
    )
    tasks.usage_collect_nightly()
    first = UsageCollection.objects.get()
    ids = set(UsageRecord.objects.values_list("pk", flat=True))
    # when: later the same day person1 is gone at Box and person0 stored more
    at_box(
        listing,
        sub,
        remote_of(u["admin"], space_used=MIB),
        remote_of(u["person0"], space_used=5 * GIB),
    )
    collection = usage.usage_collection_request(account=sub.box_account, day=DAY, actor=COLLECTOR)
    collection = usage.usage_collection_collect(collection=collection, actor=COLLECTOR)
    # then: the same rows, new values; person1 no longer has a row that day
    assert collection.pk == first.pk and collection.state == "succeeded"
    assert UsageCollection.objects.count() == 1
    assert set(UsageRecord.objects.values_list("pk", flat=True)) == ids
    assert records(sub) == {"storage_bytes": MIB + 5 * GIB, "active_users": 1, "seats_held": 3}
    assert set(BoxUserUsage.objects.filter(day=DAY).values_list("box_user_id", flat=True)) == {
        u["admin"].pk,
        u["person0"].pk,
    }
    assert heard == [(sub.pk, [DAY]), (sub.pk, [DAY])]
    # and the nightly task run again changes nothing: the day is collected
    assert tasks.usage_collect_nightly() == 0
    assert UsageCollection.objects.get().attempts == 1


def test_one_row_per_day_is_a_database_constraint(sub, listing):
    tasks.usage_collect_nightly()
    record = UsageRecord.objects.filter(subscription=sub).first()
    user_row = BoxUserUsage.objects.first()
    collection = UsageCollection.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        UsageRecord.objects.create(subscription=sub, metric=record.metric, day=record.day, value=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        BoxUserUsage.objects.create(
            box_user_id=user_row.box_user_id,
            account=sub.box_account,
            day=user_row.day,
            space_used=1,
            status="active",
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        UsageCollection.objects.create(account=sub.box_account, day=collection.day)
    # another day is another row
    UsageRecord.objects.create(
        subscription=sub, metric=record.metric, day=record.day + timedelta(days=1), value=1
    )


def test_only_live_accounts_are_collected(tree, catalog, listing):
    live = with_seats(tree, catalog, listing, customer="C11", seats=0)
    suspended = with_seats(tree, catalog, listing, customer="C12", seats=0)
    cancelled = with_seats(tree, catalog, listing, customer="C21", seats=0)
    paused_account = with_seats(tree, catalog, listing, customer="PC1", seats=0)
    trial = with_seats(tree, catalog, listing, customer="PC2", seats=0)
    Subscription.objects.filter(pk=suspended.pk).update(status="suspended")
    Subscription.objects.filter(pk=cancelled.pk).update(status="cancelled")
    Subscription.objects.filter(pk=trial.pk).update(status="trial")
    BoxAccount.objects.filter(pk=paused_account.box_account_id).update(
        status=AccountStatus.SUSPENDED
    )
    on_day(DAY)
    tasks.usage_collect_nightly()
    collected = set(UsageCollection.objects.values_list("account_id", flat=True))
    assert collected == {live.box_account_id, suspended.box_account_id, trial.box_account_id}
    assert set(UsageRecord.objects.values_list("subscription_id", flat=True)) == {
        live.pk,
        suspended.pk,
        trial.pk,
    }


def test_an_account_that_stops_being_live_before_its_turn_is_skipped(sub, listing):
    ids = usage.usage_collections_plan(day=DAY, actor=COLLECTOR)
    Subscription.objects.filter(pk=sub.pk).update(status="cancelled")
    collection = usage.usage_collection_collect(
        collection=UsageCollection.objects.get(pk=ids[0]), actor=COLLECTOR
    )
    assert collection.state == "succeeded"
    assert collection.last_error == "Nothing collected: the subscription is cancelled."
    assert not UsageRecord.objects.exists()
    assert ("users.list", sub.box_account.box_enterprise_id) not in listing.calls


def test_seats_held_counts_the_seats_that_held_a_person_that_day(sub, listing):
    d1, d2, d3 = DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)
    seats = list(SeatAssignment.objects.filter(subscription=sub).order_by("pk"))
    tz = timezone.get_current_timezone()

    def at(day, hour):
        return datetime(day.year, day.month, day.day, hour, tzinfo=tz)

    # seat 0 held all along; seat 1 removed at noon on d2; seat 2 assigned on the evening of d2
    SeatAssignment.objects.filter(pk=seats[0].pk).update(created_at=at(d1 - timedelta(days=9), 8))
    SeatAssignment.objects.filter(pk=seats[1].pk).update(
        created_at=at(d1 - timedelta(days=9), 8), status="removed", removed_at=at(d2, 12)
    )
    SeatAssignment.objects.filter(pk=seats[2].pk).update(created_at=at(d2, 20))
    for day in (d1, d2, d3):
        usage.usage_ingest(day=day, observations={sub.box_account_id: []}, actor=COLLECTOR)
    held = dict(
        UsageRecord.objects.filter(subscription=sub, metric="seats_held").values_list(
            "day", "value"
        )
    )
    assert held == {d1: 2, d2: 3, d3: 2}


def test_a_failed_collection_is_retried_with_backoff_and_then_succeeds(
    sub, listing, settings, heard
):
    settings.USAGE_COLLECTION_MAX_ATTEMPTS = 3
    listing.fail("users.list", UnknownOutcome("Box could not list the users: 500"))
    tasks.usage_collect_nightly()
    collection = UsageCollection.objects.get()
    assert (collection.state, collection.attempts) == ("failed", 1)
    assert collection.last_error == "Box could not list the users: 500"
    wait = (collection.next_attempt_at - collection.finished_at).total_seconds()
    assert 150 <= wait <= 300  # 300 s x a factor between 1/2 and 1
    assert not UsageRecord.objects.exists() and heard == []
    # the sweeper leaves it alone until its back-off is over
    assert tasks.usage_collections_sweep() == 0
    UsageCollection.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.usage_collections_sweep() == 1
    collection.refresh_from_db()
    assert (collection.state, collection.attempts, collection.last_error) == ("succeeded", 2, "")
    assert records(sub)["seats_held"] == 3
    assert heard == [(sub.pk, [DAY])]


def test_attempts_are_bounded_and_a_permanent_error_is_not_retried(sub, listing, settings):
    settings.USAGE_COLLECTION_MAX_ATTEMPTS = 2
    listing.fail("users.list", UnknownOutcome("Box could not list the users: 500"))
    listing.fail("users.list", UnknownOutcome("Box could not list the users: 503"))
    tasks.usage_collect_nightly()
    UsageCollection.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    tasks.usage_collections_sweep()
    collection = UsageCollection.objects.get()
    assert (collection.state, collection.attempts) == ("failed", 2)
    assert collection.next_attempt_at is None  # shown to staff, not tried again
    assert tasks.usage_collections_sweep() == 0
    # a refusal from Box is not tried again either
    usage.usage_collection_request(account=sub.box_account, day=DAY, actor=COLLECTOR)
    listing.fail("users.list", PermanentError("Box refused the platform app's token request"))
    collection = usage.usage_collection_collect(collection=collection, actor=COLLECTOR)
    assert (collection.state, collection.attempts, collection.next_attempt_at) == (
        "failed",
        1,
        None,
    )


def test_waiting_for_the_rate_limit_does_not_use_an_attempt(sub, listing):
    listing.fail("users.list", RateLimited("Box answered 429", retry_after=30))
    tasks.usage_collect_nightly()
    collection = UsageCollection.objects.get()
    assert (collection.state, collection.attempts) == ("pending", 0)
    assert collection.last_error.startswith("Waiting for the rate limit")
    assert collection.next_attempt_at > timezone.now() + timedelta(seconds=25)


def test_a_collection_whose_worker_was_lost_is_taken_over(sub, listing, settings):
    [collection_id] = usage.usage_collections_plan(day=DAY, actor=COLLECTOR)
    UsageCollection.objects.filter(pk=collection_id).update(
        state="running", attempts=1, started_at=timezone.now(), next_attempt_at=None
    )
    # a running one is nobody else's business while its lease lasts
    assert tasks.usage_collections_sweep() == 0
    UsageCollection.objects.filter(pk=collection_id).update(
        started_at=timezone.now() - timedelta(seconds=settings.USAGE_COLLECTION_LEASE_SECONDS + 1)
    )
    assert tasks.usage_collections_sweep() == 1
    collection = UsageCollection.objects.get(pk=collection_id)
    assert (collection.state, collection.attempts) == ("succeeded", 2)


def test_a_day_box_can_no_longer_answer_for_expires(sub, listing):
    listing.fail("users.list", UnknownOutcome("Box could not list the users: 500"))
    tasks.usage_collect_nightly()
    on_day(DAY + timedelta(days=2))
    # a late message about it does not collect today's state into an old day
    UsageCollection.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    calls = len(listing.calls)
    assert tasks.usage_collect_account(UsageCollection.objects.get().pk) == "failed"
    assert len(listing.calls) == calls and UsageCollection.objects.get().attempts == 1
    assert tasks.usage_collections_sweep() == 0
    collection = UsageCollection.objects.get()
    assert collection.state == "failed" and collection.next_attempt_at is None
    assert collection.last_error.startswith("Not collected in time")
    with pytest.raises(Conflict):
        usage.usage_collection_retry(collection=collection, actor=system("tests"))


def test_staff_retry_is_audited_and_needs_the_right_role(
    tree, sub, listing, django_capture_on_commit_callbacks
):
    listing.fail("users.list", PermanentError("Box refused"))
    tasks.usage_collect_nightly()
    collection = UsageCollection.objects.get()
    assert collection.state == "failed"
    with pytest.raises(PermissionDenied):
        usage.usage_collection_retry(collection=collection, actor=tree["P.sales"])
    with pytest.raises(PermissionDenied):
        usage.usage_collection_retry(collection=collection, actor=tree["R1.admin"])
    # when: the provider's billing staff retry (eager tasks: it runs at once)
    with pytest.raises(PermissionDenied):
        usage.usage_collection_collect(collection=collection, actor=tree["P.admin"])
    with django_capture_on_commit_callbacks(execute=True):
        usage.usage_collection_retry(collection=collection, actor=tree["P.billing"])
    collection.refresh_from_db()
    assert (collection.state, collection.attempts) == ("succeeded", 1)
    event = AuditEvent.objects.get(action="usage.collection_retried")
    assert (event.actor, event.organization, event.before, event.after) == (
        tree["P.billing"],
        tree["C11"],
        {"state": "failed", "attempts": 1},
        {"state": "pending", "attempts": 0},
    )


def test_the_nightly_reconciliation_leaves_out_accounts_the_collection_reconciled(
    tree, catalog, listing
):
    collected = with_seats(tree, catalog, listing, customer="C11", seats=0)
    other = with_seats(tree, catalog, listing, customer="C12", seats=0)
    Subscription.objects.filter(pk=other.pk).update(status="cancelled")
    on_day(DAY)
    tasks.usage_collect_nightly()
    due = set(reconcile.accounts_due_for_reconcile().values_list("pk", flat=True))
    assert collected.box_account_id not in due
    assert other.box_account_id in due


def test_a_day_written_again_by_re_aggregation_uses_what_was_stored(sub, listing, heard):
    u = users_of(sub)
    d1, d2, d3 = DAY - timedelta(days=2), DAY - timedelta(days=1), DAY
    for day, space in ((d1, GIB), (d3, 3 * GIB)):
        on_day(day)
        at_box(listing, sub, remote_of(u["admin"]), remote_of(u["person0"], space_used=space))
        tasks.usage_collect_nightly()
    # the records are damaged (or the rules changed): re-aggregate
    UsageRecord.objects.update(value=0)
    heard.clear()
    report = usage.usage_reaggregate(start=d1, end=d3, actor=COLLECTOR)
    assert (report.accounts, report.account_days, report.records) == (1, 2, 6)
    assert report.skipped_days == {sub.box_account_id: 1}  # d2 was never collected
    assert records(sub, d1) == {"storage_bytes": GIB, "active_users": 1, "seats_held": 3}
    assert records(sub, d3) == {"storage_bytes": 3 * GIB, "active_users": 1, "seats_held": 3}
    assert records(sub, d2) == {}
    assert heard == [(sub.pk, [d1, d3])]
    assert AuditEvent.objects.filter(action="usage.reaggregated").count() == 1


def test_only_the_portal_writes_usage(tree, sub):
    with pytest.raises(PermissionDenied):
        usage.usage_ingest(day=DAY, observations={}, actor=tree["P.admin"])
    with pytest.raises(PermissionDenied):
        usage.usage_reaggregate(start=DAY, end=DAY, actor=tree["P.admin"])
    with pytest.raises(PermissionDenied):
        usage.usage_collections_plan(day=DAY, actor=tree["P.admin"])


def test_a_seat_removed_in_the_portal_is_not_counted_as_storage(sub, listing):
    """A user the portal deleted but Box still lists is stored as deleted: no storage, not
    active."""
    u = users_of(sub)
    seat = SeatAssignment.objects.get(box_user=u["person2"])
    orders_services.seat_unassign(actor=SYSTEM, seat=seat)
    from tests.orders.conftest import run_jobs

    run_jobs(listing)
    u["person2"].refresh_from_db()
    assert u["person2"].status == "deleted"
    at_box(listing, sub, remote_of(u["admin"]), remote_of(u["person2"], space_used=GIB))
    tasks.usage_collect_nightly()
    row = BoxUserUsage.objects.get(box_user=u["person2"], day=DAY)
    assert row.status == "deleted"
    assert records(sub)["storage_bytes"] == 0
    assert records(sub)["active_users"] == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's array literals")
def test_the_array_literals_of_the_bulk_upsert_round_trip():
    from portal.bulk import array_literal

    texts = ['a"b', "c\\d", None, "x,y", "{z}", " s ", "NULL", ""]
    numbers = [0, -1, 2**62, None]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::text[], %s::bigint[]",
            [array_literal(texts, numeric=False), array_literal(numbers, numeric=True)],
        )
        assert cursor.fetchone() == (texts, numbers)


def test_the_nightly_entries_are_scheduled_and_routed_to_the_billing_queue(settings):
    from celery import current_app

    schedule = settings.CELERY_BEAT_SCHEDULE
    nightly = schedule["billing-usage-collect-nightly"]
    assert nightly["task"] == "billing.tasks.usage_collect_nightly"
    assert (nightly["schedule"].hour, nightly["schedule"].minute) == ({23}, {15})
    assert schedule["billing-usage-sweep"]["task"] == "billing.tasks.usage_collections_sweep"
    for name in (
        "billing.tasks.usage_collect_nightly",
        "billing.tasks.usage_collect_account",
        "billing.tasks.usage_collections_sweep",
    ):
        assert name in current_app.tasks
        assert current_app.amqp.router.route({}, name)["queue"].name == "billing"
