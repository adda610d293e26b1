"""Reconciliation against the simulator: every drift kind, usage collected, items kept open
while they last and resolved when they go, work in flight left out."""

import pytest
from django.conf import settings as django_settings

from boxsim.testing import box_client
from provisioning import engine, reconcile, services
from provisioning.models import BoxUser, DriftItem, DriftKind
from tests.factories import SYSTEM
from tests.provisioning.conftest import link_account, new_enterprise

pytestmark = pytest.mark.django_db

GB = 1024**3


def test_reconcile_reports_each_kind_of_drift_and_collects_usage(tree, platform_sim, sim_settings):
    # given: four users made through the engine
    enterprise = new_enterprise(platform_sim, seats=20)
    account = link_account(tree["C11"], enterprise)
    domain = f"recon{enterprise['enterprise_id']}.example.com"
    for i in range(4):
        services.box_user_create(
            actor=SYSTEM,
            account=account,
            login=f"u{i}@{domain}",
            name=f"User {i}",
            external_app_user_id=f"seat-{i}",
            space_amount=5 * GB if i == 0 else -1,
        )
    engine.run_until_idle([account.pk], timeout=30)
    users = {u.login.split("@")[0]: u for u in BoxUser.objects.filter(account=account)}
    # and changes made at Box behind the portal's back
    client = box_client(
        platform_sim.url,
        django_settings.BOX_PLATFORM_CLIENT_ID,
        django_settings.BOX_PLATFORM_CLIENT_SECRET,
        enterprise["enterprise_id"],
    )
    bulk = platform_sim.control.bulk_users(enterprise["enterprise_id"], 2, login_domain=domain)
    client.users.delete_user_by_id(users["u1"].box_user_id)
    client.users.update_user_by_id(users["u2"].box_user_id, space_amount=GB)
    client.users.update_user_by_id(users["u3"].box_user_id, status="inactive")
    platform_sim.control.set_space_used(users["u0"].box_user_id, 123_456_789)
    # and a user being created right now (its job has not run)
    services.box_user_create(
        actor=SYSTEM,
        account=account,
        login=f"u4@{domain}",
        name="User 4",
        external_app_user_id="seat-4",
    )
    # when
    report = reconcile.account_reconcile(account, actor=SYSTEM)
    # then
    assert (report.box_users, report.opened, report.resolved) == (6, 5, 0)
    open_items = DriftItem.objects.filter(account=account, resolved_at__isnull=True)
    assert sorted(open_items.values_list("kind", "login")) == sorted(
        [
            (DriftKind.UNKNOWN_IN_BOX, bulk["logins"][0]),
            (DriftKind.UNKNOWN_IN_BOX, bulk["logins"][1]),
            (DriftKind.MISSING_IN_BOX, f"u1@{domain}"),
            (DriftKind.QUOTA_MISMATCH, f"u2@{domain}"),
            (DriftKind.STATUS_MISMATCH, f"u3@{domain}"),
        ]
    )
    quota = open_items.get(kind=DriftKind.QUOTA_MISMATCH)
    assert (quota.expected, quota.actual) == ({"space_amount": -1}, {"space_amount": GB})
    status = open_items.get(kind=DriftKind.STATUS_MISMATCH)
    assert (status.expected, status.actual) == ({"status": "active"}, {"status": "inactive"})
    users["u0"].refresh_from_db()
    assert users["u0"].space_used == 123_456_789
    assert users["u0"].last_seen_at is not None
    account.refresh_from_db()
    assert account.last_reconciled_at is not None

    # when: nothing changes, the items stay open with their first detection time
    detected = dict(open_items.values_list("kind", "detected_at"))
    report = reconcile.account_reconcile(account, actor=SYSTEM)
    assert (report.opened, report.still_open, report.resolved) == (0, 5, 0)
    assert dict(open_items.values_list("kind", "detected_at")) == detected

    # when: the status is put right at Box, that item is resolved
    client.users.update_user_by_id(users["u3"].box_user_id, status="active")
    report = reconcile.account_reconcile(account, actor=SYSTEM)
    assert (report.opened, report.still_open, report.resolved) == (0, 4, 1)
    resolved = DriftItem.objects.get(account=account, resolved_at__isnull=False)
    assert resolved.kind == DriftKind.STATUS_MISMATCH


def test_reconcile_all_schedules_active_accounts_only(tree, platform_sim, sim_settings):
    from provisioning.models import AccountStatus

    active = link_account(tree["C11"], new_enterprise(platform_sim))
    cancelled = link_account(tree["C12"], new_enterprise(platform_sim))
    cancelled.status = AccountStatus.CANCELLED
    cancelled.save()
    ids = set(reconcile.accounts_to_reconcile().values_list("pk", flat=True))
    assert active.pk in ids
    assert cancelled.pk not in ids
