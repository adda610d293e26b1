"""Reconciliation: compare a Box account's users with the portal's records and report drift.

``account_reconcile`` lists the enterprise's managed users with their usage (one paged API call
per 1,000 users, through the rate limiter), then in one transaction:

* updates each known user's ``space_used`` and ``last_seen_at`` (usage collection reads them);
* records drift items: ``unknown_in_box`` (a Box user the portal has no seat for, including one
  the portal deleted), ``missing_in_box`` (a user the portal holds as active, inactive or failed
  that Box does not have), ``quota_mismatch`` and ``status_mismatch``;
* keeps an item open (with its first ``detected_at``) while it is still found, and resolves the
  open items that are no longer found.

Users with an open job (being created, changed or removed right now) are left out of the
comparison, so work in flight is not reported as drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from provisioning.connector import get_connector
from provisioning.connector.base import ApiCredentials
from provisioning.models import (
    OPEN_STATES,
    AccountStatus,
    BoxAccount,
    BoxUser,
    BoxUserStatus,
    DriftItem,
    DriftKind,
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


def account_reconcile(account: BoxAccount, *, connector=None) -> ReconcileReport:
    account = BoxAccount.objects.get(pk=account.pk)
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
        in_flight = set(
            ProvisioningJob.objects.filter(
                account=account, state__in=OPEN_STATES, box_user__isnull=False
            ).values_list("box_user_id", flat=True)
        )
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
        BoxUser.objects.bulk_update(touched, ["space_used", "last_seen_at"], batch_size=500)

        open_items = {
            (item.kind, item.key): item
            for item in DriftItem.objects.select_for_update().filter(
                account=account, resolved_at__isnull=True
            )
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
                item.save(update_fields=["last_seen_at", "expected", "actual", "login"])
                report.still_open += 1
        for item in open_items.values():
            item.resolved_at = now
            item.save(update_fields=["resolved_at"])
            report.resolved += 1
        BoxAccount.objects.filter(pk=account.pk).update(last_reconciled_at=now, updated_at=now)
    return report


def accounts_to_reconcile():
    return BoxAccount.objects.filter(
        status__in=(AccountStatus.ACTIVE, AccountStatus.SUSPENDED)
    ).exclude(box_enterprise_id="")
