"""A world for testing the whole API from outside: the tree of two of every kind of
organization, a priced catalog, running subscriptions with seats and Box accounts (provisioned
in-process by the recording connector), a draft order, an invitation and a promotion; and the
two callers the probe and the fuzzer act as, a provider admin and a customer admin, each with
an API token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from catalog import services as catalog_services
from orders import services as order_services
from portal import services
from tests.factories import SYSTEM
from tests.orders.conftest import ManyAccountsConnector, run_jobs, subscribe

CALLERS = ("P.admin", "PC1.admin")


@dataclass
class World:
    tree: object
    catalog: object
    tokens: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[str, object] = field(default_factory=dict)


@pytest.fixture
def world(tree, catalog, settings) -> World:
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.01
    settings.BOX_JOB_BACKOFF_MAX_SECONDS = 0.05
    settings.BOX_ENGINE_INLINE_WAIT_SECONDS = 1
    fake = ManyAccountsConnector()
    world = World(tree=tree, catalog=catalog)
    world.subscriptions["PC1"] = subscribe(tree, catalog, fake, customer="PC1", quantity=5)
    world.subscriptions["C11"] = subscribe(
        tree, catalog, fake, customer="C11", offer="R1.business", quantity=4
    )
    for n, sub in enumerate(world.subscriptions.values()):
        order_services.seat_assign(
            actor=SYSTEM, subscription=sub, email=f"seat{n}@example.test", name=f"Seat {n}"
        )
    run_jobs(fake)
    order_services.order_create(
        actor=tree["C12.admin"],
        customer=tree["C12"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=False,
    )
    services.invitation_create(
        actor=tree["PC1.admin"], organization=tree["PC1"], email="new@pc1.test", role="member"
    )
    catalog_services.promotion_create(
        actor=SYSTEM,
        seller=tree["P"],
        name="Spring",
        code="SPRING",
        discount_type="percent",
        percent="10",
        duration="once",
        plans=[catalog["P.business"].plan],
        valid_from=date(2026, 1, 1),
    )
    for key in CALLERS:
        _, world.tokens[key] = services.api_token_create(user=tree[key], name="api tests")
    return world
