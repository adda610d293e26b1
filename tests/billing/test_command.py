"""``manage.py usage_collect``: past days re-aggregated from what was stored, today collected
from Box, twice is the same as once."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing import tasks
from billing.management.commands.usage_collect import Command
from billing.models import BoxUserUsage, UsageCollection, UsageRecord
from tests.billing.conftest import DAY, GIB, on_day, remote_of, users_of, with_seats

pytestmark = pytest.mark.django_db

D1, D2, D3, TODAY = (DAY + timedelta(days=n) for n in range(4))


def run(*args) -> str:
    out = io.StringIO()
    call_command("usage_collect", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(tree, catalog, listing):
    """Two subscriptions collected on D1 and D3 (not D2); today is TODAY."""
    subs = [with_seats(tree, catalog, listing, customer=c, seats=2) for c in ("C11", "PC1")]
    for day, space in ((D1, GIB), (D3, 2 * GIB)):
        on_day(day)
        for sub in subs:
            u = users_of(sub)
            listing.box[sub.box_account.box_enterprise_id] = [
                remote_of(u["admin"]),
                remote_of(u["person0"], space_used=space),
                remote_of(u["person1"], space_used=space, status="inactive"),
            ]
        tasks.usage_collect_nightly()
    on_day(TODAY)
    return subs


def values(sub, day) -> dict[str, int]:
    return dict(
        UsageRecord.objects.filter(subscription=sub, day=day).values_list("metric", "value")
    )


def test_backfill_re_aggregates_past_days_and_collects_today_from_box(history, listing):
    first, second = history
    UsageRecord.objects.update(value=0)  # damaged, or computed under older rules
    listing.calls.clear()
    # when
    output = run("--from", D1.isoformat(), "--to", TODAY.isoformat())
    # then: past days come from the stored per-user rows, without asking Box
    for sub in history:
        assert values(sub, D1) == {"storage_bytes": 2 * GIB, "active_users": 1, "seats_held": 2}
        assert values(sub, D3) == {"storage_bytes": 4 * GIB, "active_users": 1, "seats_held": 2}
        assert values(sub, D2) == {}
    # and today from Box: one listing per live account
    assert [c for c in listing.calls if c[0] == "users.list"] == [
        ("users.list", first.box_account.box_enterprise_id),
        ("users.list", second.box_account.box_enterprise_id),
    ]
    for sub in history:
        assert values(sub, TODAY) == {"storage_bytes": 4 * GIB, "active_users": 1, "seats_held": 2}
        assert UsageCollection.objects.get(account=sub.box_account, day=TODAY).state == "succeeded"
    assert f"{D1} to {D3}: 12 records of 2 subscription(s) re-aggregated" in output
    assert "1 day(s) without stored usage, left alone" in output
    assert f"{TODAY}: 2 of 2 accounts collected from Box, 0 failed" in output

    # when: run again, nothing is duplicated
    counts = (UsageRecord.objects.count(), BoxUserUsage.objects.count())
    run("--from", D1.isoformat(), "--to", TODAY.isoformat())
    assert (UsageRecord.objects.count(), BoxUserUsage.objects.count()) == counts
    assert UsageCollection.objects.filter(day=TODAY).count() == 2


def test_one_account_and_one_past_day(history, listing):
    first, second = history
    UsageRecord.objects.update(value=0)
    listing.calls.clear()
    output = run("--from", D3.isoformat(), "--account", str(first.box_account_id))
    assert values(first, D3)["storage_bytes"] == 4 * GIB
    assert values(second, D3)["storage_bytes"] == 0  # left alone
    assert listing.calls == []  # a past day never asks Box
    assert "3 records of 1 subscription(s) re-aggregated" in output


def test_refusals(history):
    with pytest.raises(CommandError, match="in the future"):
        run("--from", (TODAY + timedelta(days=1)).isoformat())
    with pytest.raises(CommandError, match="before --from"):
        run("--from", D3.isoformat(), "--to", D1.isoformat())
    with pytest.raises(CommandError, match="No Box account 999999"):
        run("--account", "999999")
    with pytest.raises(CommandError, match="not a date"):
        run("--from", "yesterday")


def test_the_help_says_where_past_days_come_from():
    assert "Box has no history API" in Command.help
    assert "re-aggregated from the per-user usage stored" in Command.help
