"""Reconciliation: compare a Box account's users with the portal's records and report drift.

``account_reconcile`` lists the enterprise's managed users with their usage (one paged API call
per 1,000 users, through the rate limiter), then in one transaction:

* updates each known user's ``space_used`` and ``last_seen_at`` (usage collection reads them);
* records drift items: ``unknown_in_box`` (a Box user the portal has no seat for, including one
  the portal deleted), ``missing_in_box`` (a user the portal holds as active, inactive or failed
  that Box does not have), ``quota_mismatch`` and ``status_mismatch``;
* keeps an item open (with its first ``detected_at``) while it is still found, and resolves the
  open items that are no longer found.

**One consistent snapshot.** The listing is made at one moment and the comparison a little
later; a job that finishes in between would make the two disagree for no reason. So a user is
left out of the comparison when a job of theirs was open at any moment since the listing began:
open now, or finished since. A job on the whole account (suspend, resume) finishing in that
window leaves every user out this time. The next reconciliation looks at them again.

**Decisions stay.** Staff decisions on open items (``provisioning.drift``) stay with the item
while it is still found: an ignored item stays ignored; an item being adopted, removed or fixed
waits for its job, and is offered again if that job was cancelled or did not put it right.

What each run found is written as one audit row (``provisioning.reconciled``) for the actor,
the system for scheduled runs.

The nightly usage collection (``billing.services.usage``) lists each live account once and hands
that listing to ``account_reconcile(account, remote_users=...)``, so reconciling those accounts
costs no second listing; ``reconcile_all`` then leaves out the accounts reconciled in the last
``BOX_RECONCILE_FRESH_HOURS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from portal.actors import Actor, require_actor
from portal.bulk import update_rows
from portal.services import audit_record
from provisioning.connector import get_connector
from provisioning.connector.base import ApiCredentials, RemoteUser
from provisioning.models import (
    DRIFT_JOB_HANDLINGS,
    OPEN_STATES,
    AccountStatus,
    BoxAccount,
    BoxUser,
    BoxUserStatus,
    DriftHandling,
    DriftItem,
    DriftKind,
    JobState,
    ProvisioningJob,
)


@dataclass
class ReconcileReport:
    account_id: int
    box_users: int = 0
    portal_users: int = 0
    opened: int = 0
    still_open: int = 0
    resolved: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def _touched_since(account: BoxAccount, listed_at) -> tuple[set[int], bool]:
    """Users whose jobs were open at some moment since ``listed_at`` (open now, or finished
    since), and whether a whole-account job was."""
    recent = ProvisioningJob.objects.filter(account=account).filter(
        Q(state__in=OPEN_STATES) | Q(finished_at__gte=listed_at)
    )
    users: set[int] = set()
    whole_account = False
    for box_user_id, operation in recent.values_list("box_user_id", "operation"):
        if box_user_id is not None:
            users.add(box_user_id)
        elif operation in ("account.suspend", "account.resume"):
            whole_account = True
    return users, whole_account


def account_reconcile(
    account: BoxAccount,
    *,
    actor: Actor,
    connector=None,
    remote_users: list[RemoteUser] | None = None,
    listed_at=None,
) -> ReconcileReport:
    """Reconcile ``account`` with Box. ``remote_users``: a listing of the enterprise's managed
    users the caller has just made (usage collection's), used instead of listing again, with
    ``listed_at`` the moment that listing began."""
    require_actor(actor)
    account = BoxAccount.objects.get(pk=account.pk)
    if remote_users is None or listed_at is None:
        listed_at = timezone.now()
    if remote_users is None:
        connector = connector or get_connector()
        creds = ApiCredentials(
            enterprise_id=account.box_enterprise_id,
            client_id=account.client_id,
            client_secret=account.client_secret,
        )
        remote_users = list(connector.users_list(creds))  # outside any transaction
    now = timezone.now()
    report = ReconcileReport(account_id=account.pk, box_users=len(remote_users))
    with transaction.atomic():
        local = list(BoxUser.objects.select_for_update().filter(account=account))
        report.portal_users = len(local)
        by_remote_id = {u.box_user_id: u for u in local if u.box_user_id}
        by_external = {u.external_app_user_id: u for u in local}
        in_flight, whole_account = _touched_since(account, listed_at)
        if whole_account:
            in_flight |= {u.pk for u in local}
        found: dict[tuple[str, str], dict] = {}
        seen: set[int] = set()
        touched: list[BoxUser] = []
        for remote in remote_users:
            user = by_remote_id.get(remote.id)
            if user is None and remote.external_app_user_id:
                user = by_external.get(remote.external_app_user_id)
            if user is None or user.status == BoxUserStatus.DELETED:
                if user is not None and user.pk in in_flight:
                    continue
                found[(DriftKind.UNKNOWN_IN_BOX, remote.id)] = {
                    "box_user": user,
                    "login": remote.login,
                    "expected": {},
                    "actual": {"id": remote.id, "status": remote.status, "name": remote.name},
                }
                continue
            seen.add(user.pk)
            user.space_used = remote.space_used
            user.last_seen_at = now
            touched.append(user)
            if user.pk in in_flight or user.status not in (
                BoxUserStatus.ACTIVE,
                BoxUserStatus.INACTIVE,
            ):
                continue
            if user.space_amount != remote.space_amount:
                found[(DriftKind.QUOTA_MISMATCH, remote.id)] = {
                    "box_user": user,
                    "login": user.login,
                    "expected": {"space_amount": user.space_amount},
                    "actual": {"space_amount": remote.space_amount},
                }
            remote_status = "inactive" if remote.status == "inactive" else "active"
            if user.status != remote_status:
                found[(DriftKind.STATUS_MISMATCH, remote.id)] = {
                    "box_user": user,
                    "login": user.login,
                    "expected": {"status": user.status},
                    "actual": {"status": remote.status},
                }
        for user in local:
            if user.pk in seen or user.pk in in_flight:
                continue
            if user.status in (BoxUserStatus.ACTIVE, BoxUserStatus.INACTIVE, BoxUserStatus.FAILED):
                found[(DriftKind.MISSING_IN_BOX, f"user:{user.pk}")] = {
                    "box_user": user,
                    "login": user.login,
                    "expected": {"status": user.status, "box_user_id": user.box_user_id},
                    "actual": {},
                }
        update_rows(
            BoxUser,
            columns=("space_used", "last_seen_at"),
            rows=[(u.pk, u.space_used, u.last_seen_at) for u in touched],
        )

        open_items = {
            (item.kind, item.key): item
            for item in DriftItem.objects.select_for_update(of=("self",))
            .select_related("job")
            .filter(account=account, resolved_at__isnull=True)
        }
        for (kind, key), data in found.items():
            report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
            item = open_items.pop((kind, key), None)
            if item is None:
                DriftItem.objects.create(
                    account=account, kind=kind, key=key, detected_at=now, last_seen_at=now, **data
                )
                report.opened += 1
            else:
                item.last_seen_at = now
                item.expected = data["expected"]
                item.actual = data["actual"]
                item.login = data["login"]
                fields = ["last_seen_at", "expected", "actual", "login"]
                if _decision_lapsed(item):
                    item.handling, item.job = DriftHandling.NONE, None
                    fields += ["handling", "job"]
                item.save(update_fields=fields)
                report.still_open += 1
        for item in open_items.values():
            item.resolved_at = now
            item.save(update_fields=["resolved_at"])
            report.resolved += 1
        BoxAccount.objects.filter(pk=account.pk).update(last_reconciled_at=now, updated_at=now)
        if report.opened or report.resolved:
            audit_record(
                actor=actor,
                organization=account.customer,
                action="provisioning.reconciled",
                obj=account,
                after={
                    "box_users": report.box_users,
                    "opened": report.opened,
                    "still_open": report.still_open,
                    "resolved": report.resolved,
                    "by_kind": report.by_kind,
                },
            )
    return report


def _decision_lapsed(item: DriftItem) -> bool:
    """A decision carried out by a job that ended without putting the item right (cancelled,
    or succeeded and the difference is still there): the item is offered again."""
    if item.handling not in DRIFT_JOB_HANDLINGS:
        return False
    if item.job is None:
        return True
    return item.job.state in (JobState.CANCELLED, JobState.SUCCEEDED)


def accounts_to_reconcile():
    return BoxAccount.objects.filter(
        status__in=(AccountStatus.ACTIVE, AccountStatus.SUSPENDED)
    ).exclude(box_enterprise_id="")


def accounts_due_for_reconcile():
    """The nightly run's accounts: those to reconcile, less the ones reconciled within
    ``BOX_RECONCILE_FRESH_HOURS`` (tonight's usage collection reconciled them already)."""
    hours = float(settings.BOX_RECONCILE_FRESH_HOURS)
    qs = accounts_to_reconcile()
    if hours > 0:
        fresh = timezone.now() - timedelta(hours=hours)
        qs = qs.exclude(last_reconciled_at__gte=fresh)
    return qs


def accounts_settled_since_reconcile():
    """Accounts whose jobs have all ended, at least one of them since the account's last
    reconciliation: what the settle beat reconciles, so drift is looked for soon after work
    at Box and never while it is under way."""
    finished_after = ProvisioningJob.objects.filter(
        account=OuterRef("pk"), finished_at__isnull=False
    ).filter(
        Q(account__last_reconciled_at__isnull=True)
        | Q(finished_at__gt=F("account__last_reconciled_at"))
    )
    open_jobs = ProvisioningJob.objects.filter(account=OuterRef("pk"), state__in=OPEN_STATES)
    return accounts_to_reconcile().filter(Exists(finished_after)).exclude(Exists(open_jobs))
