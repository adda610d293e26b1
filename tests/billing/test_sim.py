"""Usage collection through Box's official SDK against the real simulator: what Box reports is
what is stored, one token and one call per 1,000 users, the rate limiter in the way, a failing
enterprise (fault injection) retried until it succeeds."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from billing import tasks
from billing.models import BoxUserUsage, UsageCollection, UsageRecord
from boxsim.testing import box_client
from orders import services as orders_services
from orders.models import Subscription
from provisioning import engine
from provisioning.connector.api_driver import _CLIENTS
from provisioning.models import BoxUser, DriftItem
from tests.billing.conftest import DAY, GIB, MIB, on_day
from tests.factories import SYSTEM
from tests.orders.conftest import ManyAccountsConnector, subscribe
from tests.provisioning.conftest import link_account, new_enterprise, point_at

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def sim_subscription(tree, catalog, sim, *, customer="C11", seats=3, enterprise_seats=20):
    """A running subscription (bought through a real order) whose Box account is an
    enterprise of the simulator, with ``seats`` people whose Box users the engine made there."""
    sub = subscribe(
        tree,
        catalog,
        ManyAccountsConnector(),
        customer=customer,
        offer="R1.business",
        quantity=5,
        day=date(2027, 1, 1),
    )
    enterprise = new_enterprise(sim, seats=enterprise_seats)
    account = link_account(tree[customer], enterprise)
    Subscription.objects.filter(pk=sub.pk).update(box_account=account)
    engine.run_until_idle([account.pk], timeout=60)  # the primary admin is recorded
    for n in range(seats):
        orders_services.seat_assign(
            actor=SYSTEM,
            subscription=sub,
            email=f"p{n}.{enterprise['enterprise_id']}@{customer.lower()}.test",
            name=f"Person {n}",
        )
    engine.run_until_idle([account.pk], timeout=60)
    sub = Subscription.objects.select_related("box_account").get(pk=sub.pk)
    users = {
        ("admin" if u.role == "admin" else u.login.split(".")[0]): u
        for u in BoxUser.objects.filter(account=account)
    }
    assert all(u.box_user_id for u in users.values()), "the engine made every Box user"
    return sub, enterprise, users


def client_for(sim, enterprise):
    return box_client(
        sim.url,
        django_settings.BOX_PLATFORM_CLIENT_ID,
        django_settings.BOX_PLATFORM_CLIENT_SECRET,
        enterprise["enterprise_id"],
    )


def records(sub) -> dict[str, int]:
    return dict(
        UsageRecord.objects.filter(subscription=sub, day=DAY).values_list("metric", "value")
    )


def test_collection_through_the_sdk_stores_what_box_reports(
    tree, catalog, platform_sim, sim_settings
):
    sub, enterprise, u = sim_subscription(tree, catalog, platform_sim)
    control = platform_sim.control
    control.set_space_used(u["admin"].box_user_id, 300 * MIB)
    control.set_space_used(u["p0"].box_user_id, 2 * GIB)
    control.set_space_used(u["p1"].box_user_id, GIB)
    client_for(platform_sim, enterprise).users.update_user_by_id(
        u["p1"].box_user_id, status="inactive"
    )
    stranger = control.bulk_users(enterprise["enterprise_id"], 1)
    on_day(DAY)
    _CLIENTS.clear()  # a fresh SDK client: its token request is counted too
    # when
    assert tasks.usage_collect_nightly() == 1
    # then
    collection = UsageCollection.objects.get(account=sub.box_account, day=DAY)
    assert collection.state == "succeeded", collection.last_error
    assert (collection.users, collection.api_calls) == (5, 2)  # 1 token + 1 page
    assert records(sub) == {
        "storage_bytes": 300 * MIB + 3 * GIB,
        "active_users": 2,  # p0 and p2; p1 is inactive at Box, the admin never counts
        "seats_held": 3,
    }
    stored = dict(
        BoxUserUsage.objects.filter(day=DAY).values_list("box_user__box_user_id", "status")
    )
    assert stored == {
        u["admin"].box_user_id: "active",
        u["p0"].box_user_id: "active",
        u["p1"].box_user_id: "inactive",
        u["p2"].box_user_id: "active",
    }
    u["p0"].refresh_from_db()
    assert u["p0"].space_used == 2 * GIB and u["p0"].last_seen_at is not None
    assert DriftItem.objects.filter(
        account=sub.box_account, kind="unknown_in_box", login=stranger["logins"][0]
    ).exists()


def test_a_large_account_is_listed_in_pages_of_a_thousand_through_the_rate_limiter(
    tree, catalog, platform_sim, sim_settings
):
    sub, enterprise, _users = sim_subscription(
        tree, catalog, platform_sim, seats=1, enterprise_seats=2600
    )
    platform_sim.control.bulk_users(enterprise["enterprise_id"], 2498)
    # the portal's limiter on: one call every 0.2 s for this enterprise
    sim_settings.BOX_RATE_LIMIT_PER_MINUTE = 300
    sim_settings.BOX_RATE_LIMIT_MARGIN = 0
    _CLIENTS.clear()
    on_day(DAY)
    started = time.monotonic()
    tasks.usage_collect_nightly()
    elapsed = time.monotonic() - started
    collection = UsageCollection.objects.get(account=sub.box_account, day=DAY)
    assert collection.state == "succeeded", collection.last_error
    assert collection.users == 2500
    assert collection.api_calls == 1 + 3  # the floor: 1 token + ceil(2,500 / 1,000)
    assert elapsed >= 0.4  # three calls 0.2 s apart
    assert records(sub)["seats_held"] == 1


def test_a_failing_enterprise_is_retried_and_then_collected(tree, catalog, own_sim, settings):
    point_at(settings, own_sim)
    sub, _enterprise, _users = sim_subscription(tree, catalog, own_sim, seats=2)
    own_sim.control.set_fault("get_users", error_500=1.0, max_faults=2)
    on_day(DAY)
    # when: the night's attempt meets a 500
    tasks.usage_collect_nightly()
    collection = UsageCollection.objects.get(account=sub.box_account, day=DAY)
    assert (collection.state, collection.attempts) == ("failed", 1)
    assert "500" in collection.last_error
    assert collection.next_attempt_at > timezone.now()
    assert not UsageRecord.objects.filter(subscription=sub).exists()
    # and the first retry another one
    UsageCollection.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    tasks.usage_collections_sweep()
    collection.refresh_from_db()
    assert (collection.state, collection.attempts) == ("failed", 2)
    # then: the next retry, once its back-off is over, succeeds
    UsageCollection.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.usage_collections_sweep() == 1
    collection.refresh_from_db()
    assert (collection.state, collection.attempts, collection.last_error) == ("succeeded", 3, "")
    assert records(sub)["seats_held"] == 2
    assert own_sim.control.faults()["get_users"]["injected"] == 2
