"""Usage collection: what each live Box account used on a day, stored per Box user and summed
per subscription (docs/usage.md).

The nightly path, per live account and day (``usage_collection_collect``):

1. **claim** the account's ``UsageCollection`` of the day (pending, or failed and due, or
   running but lost): one conditional UPDATE, so two workers never run the same one;
2. **list** the enterprise's managed users once through the API driver (one call per 1,000
   users, through the shared rate limiter; no transaction open), counting the calls;
3. **write**, in one transaction: reconciliation from that same listing (``space_used`` and
   ``last_seen_at`` of each ``BoxUser``, drift; provisioning.reconcile), each known user's
   ``BoxUserUsage`` of the day (upsert), the subscription's ``UsageRecord`` of the day for every
   metric (upsert), ``billing.services.hooks.on_usage_recorded``, and the collection succeeded.

A failure marks the collection failed with the error and, while attempts remain, when to try
again (exponential back-off); the sweeper (``billing.tasks.usage_collections_sweep``) sends due
ones to a worker. Box's 429 or the portal's limiter saying "wait" puts it back as pending after
the wait, without using up an attempt.

Metrics of a subscription on a day, from the stored per-user rows (one definition for the
nightly path and for re-aggregation):

- ``storage_bytes``: the sum of ``space_used`` of the account's Box users that are not deleted
  (the primary admin's files count too);
- ``active_users``: the users active at Box (``active``, ``cannot_delete_edit``,
  ``cannot_delete_edit_upload``), not counting the provider's primary admin (role ``admin``);
- ``seats_held``: the subscription's seats that held a person at some time that day (assigned
  before the day ended and not removed before it began).

Box keeps no history: a past day can only be re-aggregated from what was stored that day
(``usage_reaggregate``); only today can be asked of Box.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, Q, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing import selectors
from billing.models import (
    BoxUserUsage,
    CollectionState,
    UsageCollection,
    UsageMetric,
    UsageRecord,
)
from billing.services import hooks
from orders.models import SeatAssignment, SeatStatus, Subscription
from portal import access, clock
from portal.actors import Actor, is_system, require_actor
from portal.bulk import BATCH_SIZE, upsert
from portal.errors import Conflict, PermissionDenied
from portal.services import audit_record
from provisioning import reconcile
from provisioning.connector import get_connector
from provisioning.connector.base import (
    ApiCredentials,
    ConnectorError,
    PermanentError,
    RateLimited,
    RemoteUser,
    count_calls,
)
from provisioning.models import BoxAccount, BoxUser, BoxUserRole, BoxUserStatus

log = logging.getLogger(__name__)

# Box's user statuses in which a person can use Box.
ACTIVE_AT_BOX = ("active", "cannot_delete_edit", "cannot_delete_edit_upload")
# Stored instead of Box's status for a user the portal has deleted (Box still listed it).
DELETED = "deleted"
# Accounts re-aggregated per transaction.
REAGGREGATE_CHUNK = 250
# A collection can still be run for a day until the end of the next day: the nightly run's
# retries may cross midnight. Older ones expire (Box only reports the present).
COLLECTABLE_DAYS = 2


@dataclass(frozen=True)
class UserUsage:
    """One Box user's usage as Box reported it: the portal's ``BoxUser`` pk, bytes, status."""

    box_user_id: int
    space_used: int
    status: str


@dataclass
class WriteReport:
    user_rows: int = 0
    records: int = 0
    subscriptions: int = 0
    days: int = 0


@dataclass
class ReaggregateReport(WriteReport):
    accounts: int = 0
    account_days: int = 0
    skipped_days: dict[int, int] = field(default_factory=dict)


class _LostClaim(Exception):
    """The collection was taken over (its lease ran out) before this worker finished."""


# --- rights -----------------------------------------------------------------------------------


def _require_system(actor: Actor) -> Actor:
    """Usage is written by the portal's collection itself; people ask for it through
    ``usage_collection_retry``."""
    actor = require_actor(actor)
    if not is_system(actor):
        raise PermissionDenied("Usage is written by the portal's nightly collection only.")
    return actor


# --- writing a day ----------------------------------------------------------------------------


def observations_from_listing(
    account: BoxAccount, remote_users: Iterable[RemoteUser]
) -> tuple[list[UserUsage], int]:
    """Box's listing of ``account`` as usage of the portal's ``BoxUser`` rows (matched by Box's
    id, then by the portal's external id, as reconciliation matches them), and how many listed
    users the portal does not know (they are reconciliation's ``unknown_in_box`` drift)."""
    local = BoxUser.objects.filter(account=account).only(
        "pk", "box_user_id", "external_app_user_id", "status"
    )
    by_remote = {}
    by_external = {}
    for user in local:
        if user.box_user_id:
            by_remote[user.box_user_id] = user
        by_external[user.external_app_user_id] = user
    seen: set[int] = set()
    found: list[UserUsage] = []
    unknown = 0
    for remote in remote_users:
        user = by_remote.get(remote.id)
        if user is None and remote.external_app_user_id:
            user = by_external.get(remote.external_app_user_id)
        if user is None:
            unknown += 1
            continue
        if user.pk in seen:
            continue
        seen.add(user.pk)
        status = DELETED if user.status == BoxUserStatus.DELETED else (remote.status or "active")
        found.append(UserUsage(user.pk, max(0, int(remote.space_used or 0)), status[:16]))
    return found, unknown


def usage_ingest(
    *, day: date, observations: dict[int, list[UserUsage]], actor: Actor
) -> WriteReport:
    """Store what Box reported on ``day`` for each account (account pk → every known user Box
    listed) and write the accounts' subscriptions' records of that day, in one transaction.
    Writing a day again replaces it: users no longer listed lose their row of the day, records
    are updated in place."""
    _require_system(actor)
    with transaction.atomic():
        return _ingest(day, observations)


def _ingest(day: date, observations: dict[int, list[UserUsage]]) -> WriteReport:
    stamp = timezone.now()
    rows = [
        (usage.box_user_id, account_id, day, usage.space_used, usage.status, stamp)
        for account_id, users in observations.items()
        for usage in users
    ]
    upsert(
        BoxUserUsage,
        columns=("box_user_id", "account_id", "day", "space_used", "status", "collected_at"),
        rows=rows,
        conflict=("box_user", "day"),
        update=("account_id", "space_used", "status", "collected_at"),
    )
    # Users an earlier collection of the same day listed and this one did not.
    BoxUserUsage.objects.filter(
        account_id__in=list(observations), day=day, collected_at__lt=stamp
    ).delete()
    report = _write_records({account_id: {day} for account_id in observations}, stamp)
    report.user_rows = len(rows)
    return report


def _write_records(pairs: dict[int, set[date]], stamp) -> WriteReport:
    """(Re)write the records of the subscriptions of these accounts on these days from the
    stored per-user rows and the seats, then tell ``hooks.on_usage_recorded``. Three queries
    per day written, and one upsert, whatever the number of accounts (the hooks aside)."""
    report = WriteReport()
    subs = {
        sub.box_account_id: sub
        for sub in Subscription.objects.filter(box_account_id__in=list(pairs))
    }
    by_day: dict[date, list[int]] = defaultdict(list)
    for account_id, days in pairs.items():
        if account_id in subs:
            for day in days:
                by_day[day].append(account_id)
    rows = []
    touched: dict[int, list[date]] = defaultdict(list)
    for day, accounts in sorted(by_day.items()):
        sums = _user_sums(day, accounts)
        held = _seats_held(day, [subs[a].pk for a in accounts])
        for account_id in accounts:
            sub_id = subs[account_id].pk
            storage, active = sums.get(account_id, (0, 0))
            rows += [
                (sub_id, UsageMetric.STORAGE_BYTES.value, day, storage, stamp),
                (sub_id, UsageMetric.ACTIVE_USERS.value, day, active, stamp),
                (sub_id, UsageMetric.SEATS_HELD.value, day, held.get(sub_id, 0), stamp),
            ]
            touched[account_id].append(day)
    upsert(
        UsageRecord,
        columns=("subscription_id", "metric", "day", "value", "collected_at"),
        rows=rows,
        conflict=("subscription", "metric", "day"),
        update=("value", "collected_at"),
    )
    for account_id, days in touched.items():
        hooks.on_usage_recorded(subscription=subs[account_id], days=days)
    report.records = len(rows)
    report.subscriptions = len(touched)
    report.days = len(by_day)
    return report


def _user_sums(day: date, account_ids: list[int]) -> dict[int, tuple[int, int]]:
    """account → (storage_bytes, active_users) on ``day``, from the stored per-user rows."""
    rows = (
        BoxUserUsage.objects.filter(account_id__in=account_ids, day=day)
        .values("account_id")
        .annotate(
            storage=Sum("space_used", filter=~Q(status=DELETED)),
            active=Count(
                "pk", filter=Q(status__in=ACTIVE_AT_BOX) & ~Q(box_user__role=BoxUserRole.ADMIN)
            ),
        )
        .order_by()
        .values_list("account_id", "storage", "active")
    )
    return {account_id: (int(storage or 0), int(active)) for account_id, storage, active in rows}


def _seats_held(day: date, subscription_ids: list[int]) -> dict[int, int]:
    """subscription → seats that held a person at some time on ``day``: assigned before the
    day ended and not removed before it began."""
    gone = Coalesce(
        "removed_at",
        Case(When(status=SeatStatus.REMOVED, then=F("updated_at"))),  # never by the services
    )
    rows = (
        SeatAssignment.objects.filter(
            subscription_id__in=subscription_ids, created_at__lt=_day_start(day + timedelta(1))
        )
        .annotate(gone=gone)
        .filter(Q(gone__isnull=True) | Q(gone__gte=_day_start(day)))
        .values("subscription_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("subscription_id", "n")
    )
    return dict(rows)


def _day_start(day: date):
    return timezone.make_aware(datetime.combine(day, time.min))


# --- re-aggregating past days -----------------------------------------------------------------


def usage_reaggregate(
    *,
    start: date,
    end: date,
    actor: Actor,
    account_ids: list[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReaggregateReport:
    """Rewrite the records of the days ``start``..``end`` (included) from the stored per-user
    rows and the seats, for every account with something stored on those days (or the ones
    given). Box has no history, so this is how a past day is "collected again"; days of an
    account with nothing stored are left alone and counted in ``skipped_days``. One
    transaction per chunk of accounts; ``progress(done, total)`` (in accounts) is called
    before the first chunk and after each one."""
    _require_system(actor)
    if end < start:
        raise Conflict("The range ends before it starts.")
    stored = BoxUserUsage.objects.filter(day__gte=start, day__lte=end)
    collected = UsageCollection.objects.filter(
        day__gte=start, day__lte=end, state=CollectionState.SUCCEEDED
    )
    if account_ids is not None:
        stored = stored.filter(account_id__in=account_ids)
        collected = collected.filter(account_id__in=account_ids)
    pairs: dict[int, set[date]] = defaultdict(set)
    for account_id, day in stored.values_list("account_id", "day").distinct().order_by():
        pairs[account_id].add(day)
    for account_id, day in collected.values_list("account_id", "day").order_by():
        pairs[account_id].add(day)
    report = ReaggregateReport()
    span = (end - start).days + 1
    for account_id in account_ids or []:
        if account_id not in pairs:
            report.skipped_days[account_id] = span
    ids = sorted(pairs)
    accounts = {a.pk: a for a in BoxAccount.objects.filter(pk__in=ids).select_related("customer")}
    if progress is not None:
        progress(0, len(ids))
    for offset in range(0, len(ids), REAGGREGATE_CHUNK):
        chunk = ids[offset : offset + REAGGREGATE_CHUNK]
        with transaction.atomic():
            written = _write_records({a: pairs[a] for a in chunk}, timezone.now())
            for account_id in chunk:
                audit_record(
                    actor=actor,
                    organization=accounts[account_id].customer,
                    action="usage.reaggregated",
                    obj=accounts[account_id],
                    after={
                        "from": start.isoformat(),
                        "to": end.isoformat(),
                        "days": len(pairs[account_id]),
                    },
                )
        report.records += written.records
        report.subscriptions += written.subscriptions
        report.accounts += len(chunk)
        report.account_days += sum(len(pairs[a]) for a in chunk)
        for account_id in chunk:
            missing = span - len(pairs[account_id])
            if missing:
                report.skipped_days[account_id] = missing
        if progress is not None:
            progress(report.accounts, len(ids))
    report.days = len({d for days in pairs.values() for d in days})
    return report


# --- collections: planning, running, retrying -------------------------------------------------


def _due_q(now) -> Q:
    """Collections a worker may run now."""
    lost = now - timedelta(seconds=settings.USAGE_COLLECTION_LEASE_SECONDS)
    return (
        Q(state=CollectionState.PENDING, next_attempt_at__isnull=True)
        | Q(
            state__in=(CollectionState.PENDING, CollectionState.FAILED),
            next_attempt_at__lte=now,
        )
        | Q(state=CollectionState.RUNNING, started_at__lt=lost)
    )


def usage_collections_plan(*, day: date, actor: Actor) -> list[int]:
    """Make the collection of ``day`` of every live account (once: existing ones are kept as
    they are) and return the ids of those due now."""
    _require_system(actor)
    now = timezone.now()
    ids = list(
        selectors.live_accounts()
        .exclude(customer__sandbox=True)  # a sandbox collects on its own days
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        have = set(
            UsageCollection.objects.filter(day=day, account_id__in=ids).values_list(
                "account_id", flat=True
            )
        )
        UsageCollection.objects.bulk_create(
            [
                UsageCollection(account_id=account_id, day=day, next_attempt_at=now)
                for account_id in ids
                if account_id not in have
            ],
            batch_size=BATCH_SIZE,
            ignore_conflicts=True,
        )
    return list(
        UsageCollection.objects.filter(day=day, account_id__in=ids)
        .filter(_due_q(now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def usage_collections_due(*, actor: Actor) -> list[int]:
    """The sweeper's work: expire what can no longer be collected (Box reports only the
    present), and return the ids of the collections due now (retries whose back-off is over,
    pending ones whose message was lost, running ones whose worker was lost)."""
    _require_system(actor)
    now = timezone.now()
    oldest = _oldest_collectable()
    lost = now - timedelta(seconds=settings.USAGE_COLLECTION_LEASE_SECONDS)
    UsageCollection.objects.filter(
        Q(state=CollectionState.PENDING)
        | Q(state=CollectionState.FAILED, next_attempt_at__isnull=False)
        | Q(state=CollectionState.RUNNING, started_at__lt=lost),
        day__lt=oldest,
    ).update(
        state=CollectionState.FAILED,
        next_attempt_at=None,
        finished_at=now,
        last_error=_expired_message(),
    )
    return list(
        UsageCollection.objects.filter(day__gte=oldest)
        .exclude(account__customer__sandbox=True)
        .filter(_due_q(now))
        .order_by("day", "pk")
        .values_list("pk", flat=True)
    )


def _expired_message() -> str:
    return (
        "Not collected in time: Box reports only the present, so this day can no longer be "
        "asked of Box (its records can still be re-aggregated from what was stored)."
    )


def _oldest_collectable() -> date:
    return clock.today() - timedelta(days=COLLECTABLE_DAYS - 1)


def _claim(pk: int) -> UsageCollection | None:
    """Take the collection for this worker if it is due (and its day can still be asked of
    Box: a late message about an older day leaves it for the sweeper to expire)."""
    now = timezone.now()
    taken = (
        UsageCollection.objects.filter(pk=pk, day__gte=_oldest_collectable())
        .filter(_due_q(now))
        .update(
            state=CollectionState.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            finished_at=None,
            next_attempt_at=None,
        )
    )
    if not taken:
        return None
    return UsageCollection.objects.get(pk=pk)


def usage_collection_collect(
    *, collection: UsageCollection, actor: Actor, connector=None
) -> UsageCollection:
    """One attempt at ``collection``: claim it, list the account's users at Box once, write
    the day (see the module's description). Returns the collection as it is afterwards; one
    that is not due (collected, failed for good, waiting, or run by another worker) is
    returned untouched."""
    _require_system(actor)
    claimed = _claim(collection.pk)
    if claimed is None:
        return UsageCollection.objects.get(pk=collection.pk)
    account = BoxAccount.objects.get(pk=claimed.account_id)
    reason = selectors.not_live_reason(account)
    if reason:
        _finish(
            claimed,
            state=CollectionState.SUCCEEDED,
            last_error=f"Nothing collected: {reason}.",
        )
        return UsageCollection.objects.get(pk=claimed.pk)
    connector = connector or get_connector()
    creds = ApiCredentials(
        enterprise_id=account.box_enterprise_id,
        client_id=account.client_id,
        client_secret=account.client_secret,
    )
    with count_calls() as calls:
        try:
            remote = list(connector.users_list(creds))  # no transaction open
        except ConnectorError as exc:
            _fail(claimed, account, exc, calls.total)
            return UsageCollection.objects.get(pk=claimed.pk)
    try:
        with transaction.atomic():
            _write_collection(claimed, account, remote, calls.total, actor=actor)
    except _LostClaim:
        log.warning("usage collection %s was taken over before it finished", claimed.pk)
    except Exception as exc:
        log.exception("usage collection %s could not be written", claimed.pk)
        _fail(
            claimed,
            account,
            ConnectorError(f"The usage could not be stored ({type(exc).__name__})."),
            calls.total,
        )
    return UsageCollection.objects.get(pk=claimed.pk)


def _write_collection(
    claimed: UsageCollection,
    account: BoxAccount,
    remote: list[RemoteUser],
    calls: int,
    *,
    actor: Actor,
) -> None:
    mine = (
        UsageCollection.objects.select_for_update()
        .filter(pk=claimed.pk, state=CollectionState.RUNNING, started_at=claimed.started_at)
        .first()
    )
    if mine is None:
        raise _LostClaim()
    # Reconciliation from the same listing: BoxUser.space_used / last_seen_at, drift.
    reconcile.account_reconcile(
        account, actor=actor, remote_users=remote, listed_at=claimed.started_at
    )
    observations, _unknown = observations_from_listing(account, remote)
    _ingest(claimed.day, {account.pk: observations})
    _finish(
        claimed,
        state=CollectionState.SUCCEEDED,
        api_calls=calls,
        users=len(remote),
        last_error="",
    )


def _finish(claimed: UsageCollection, *, state: str, api_calls: int = 0, **fields) -> None:
    UsageCollection.objects.filter(pk=claimed.pk, started_at=claimed.started_at).update(
        state=state,
        api_calls=F("api_calls") + api_calls,
        finished_at=timezone.now(),
        next_attempt_at=None,
        **fields,
    )


def _fail(claimed: UsageCollection, account: BoxAccount, exc: ConnectorError, calls: int) -> None:
    now = timezone.now()
    message = exc.message
    for secret in account.secrets():
        message = message.replace(secret, "[secret]")
    base = UsageCollection.objects.filter(pk=claimed.pk, started_at=claimed.started_at)
    if isinstance(exc, RateLimited):
        # Waiting for Box's or the portal's rate limit does not use up an attempt.
        wait = max(1.0, float(exc.retry_after or 0))
        base.update(
            state=CollectionState.PENDING,
            attempts=F("attempts") - 1,
            api_calls=F("api_calls") + calls,
            next_attempt_at=now + timedelta(seconds=wait),
            last_error=f"Waiting for the rate limit: {message}"[:2000],
        )
        return
    final = (
        isinstance(exc, PermanentError)
        or claimed.attempts >= settings.USAGE_COLLECTION_MAX_ATTEMPTS
    )
    base.update(
        state=CollectionState.FAILED,
        api_calls=F("api_calls") + calls,
        finished_at=now,
        next_attempt_at=None if final else now + backoff(claimed.attempts),
        last_error=message[:2000],
    )


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1, 2, …): base * 2^(attempt-1), capped, times
    a random factor between ½ and 1 (so accounts that failed together do not retry together)."""
    base = float(settings.USAGE_COLLECTION_BACKOFF_BASE_SECONDS)
    cap = float(settings.USAGE_COLLECTION_BACKOFF_MAX_SECONDS)
    seconds = min(cap, base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=seconds * random.uniform(0.5, 1.0))


def usage_collection_retry(*, collection: UsageCollection, actor: Actor) -> UsageCollection:
    """Staff send a collection again now, with a fresh set of attempts (a failed one, or a
    collected one to collect it again: the day's rows are replaced). Only today and yesterday
    can be asked of Box."""
    actor = require_actor(actor)
    collection = UsageCollection.objects.select_related("account__customer").get(pk=collection.pk)
    access.require(actor, "usage.retry", collection.account.customer)
    with transaction.atomic():
        return _reopen(collection, actor, action="usage.collection_retried")


def usage_collection_request(*, account: BoxAccount, day: date, actor: Actor) -> UsageCollection:
    """The account's collection of ``day`` made (when missing) or reopened, due now: what
    ``manage.py usage_collect`` does for today before running it."""
    actor = require_actor(actor)
    account = BoxAccount.objects.select_related("customer").get(pk=account.pk)
    access.require(actor, "usage.retry", account.customer)
    with transaction.atomic():
        collection, _created = UsageCollection.objects.get_or_create(
            account=account, day=day, defaults={"next_attempt_at": timezone.now()}
        )
        collection.account = account
        return _reopen(collection, actor, action="usage.collection_requested")


def _reopen(collection: UsageCollection, actor: Actor, *, action: str) -> UsageCollection:
    locked = UsageCollection.objects.select_for_update().get(pk=collection.pk)
    if locked.state == CollectionState.RUNNING:
        raise Conflict(f"The usage of {locked.day} is being collected right now.")
    if locked.day < _oldest_collectable():
        raise Conflict(
            f"Box reports only the present: the usage of {locked.day:%d %b %Y} can no longer "
            "be collected. Re-aggregate it from what was stored (manage.py usage_collect)."
        )
    before = {"state": locked.state, "attempts": locked.attempts}
    locked.state = CollectionState.PENDING
    locked.attempts = 0
    locked.next_attempt_at = timezone.now()
    locked.finished_at = None
    locked.save(update_fields=["state", "attempts", "next_attempt_at", "finished_at"])
    locked.account = collection.account
    audit_record(
        actor=actor,
        organization=collection.account.customer,
        action=action,
        obj=locked,
        before=before,
        after={"state": locked.state, "attempts": 0},
    )
    if not is_system(actor):

        def send() -> None:
            from billing.tasks import usage_collect_account

            usage_collect_account.delay(locked.pk)

        transaction.on_commit(send)
    return locked
