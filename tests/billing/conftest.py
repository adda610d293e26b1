"""Usage tests: subscriptions bought through real orders (tests/orders/conftest.py), Box
listings from a recording connector for the fast tests, and subscriptions whose Box account is
an enterprise of the real simulator for the SDK tests."""

from __future__ import annotations

from datetime import date

import pytest
from freezegun import freeze_time

from billing.services.run import RUN, billing_run
from orders import services as orders
from orders import services as orders_services
from orders.models import Subscription
from portal import clock
from provisioning import engine
from provisioning.connector.base import RemoteUser
from provisioning.models import BoxUser
from tests.catalog.conftest import CASES_SET_UP_ON, cases  # noqa: F401 (fixture)
from tests.factories import SYSTEM
from tests.orders.conftest import ManyAccountsConnector, run_jobs, subscribe
from tests.provisioning.conftest import own_sim, sim_settings  # noqa: F401 - shared fixtures

DAY = date(2027, 3, 10)
GIB = 1024**3
MIB = 1024**2


class ListingConnector(ManyAccountsConnector):
    """The recording connector, whose user listing answers what the test set at Box:
    ``box[enterprise_id] = [RemoteUser, ...]`` (default: the portal's own users, active, no
    storage used)."""

    def __init__(self) -> None:
        super().__init__()
        self.box: dict[str, list[RemoteUser]] = {}

    def users_list(self, creds):
        self._record("users.list", creds.enterprise_id)
        if creds.enterprise_id in self.box:
            return iter(list(self.box[creds.enterprise_id]))
        return iter(
            [
                RemoteUser(
                    id=u.box_user_id,
                    login=u.login,
                    name=u.name,
                    role=u.role,
                    external_app_user_id=u.external_app_user_id,
                )
                for u in BoxUser.objects.filter(
                    account__box_enterprise_id=creds.enterprise_id, box_user_id__isnull=False
                ).exclude(status="deleted")
            ]
        )


@pytest.fixture
def listing(settings):
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.01
    settings.BOX_JOB_BACKOFF_MAX_SECONDS = 0.05
    settings.BOX_ENGINE_INLINE_WAIT_SECONDS = 1
    connector = ListingConnector()
    settings.BOX_CONNECTOR = "tests.billing.conftest.current_connector"
    _current.append(connector)
    yield connector
    _current.remove(connector)


_current: list[ListingConnector] = []


def current_connector():
    """``BOX_CONNECTOR`` for the tests: the test's listing connector (tasks build their own
    connector from settings, as in production)."""
    return _current[-1]


def with_seats(
    tree, catalog, connector, *, customer="C11", offer=None, seats=3, quantity=5, start=None
):
    """A running subscription (from ``start``, default 1 January 2027) with ``seats`` people
    holding seats, their Box users made."""
    from tests.orders.test_isolation import OFFER_OF

    sub = subscribe(
        tree,
        catalog,
        connector,
        customer=customer,
        offer=offer or OFFER_OF.get(customer, "P.business"),
        quantity=quantity,
        day=start or date(2027, 1, 1),
    )
    for n in range(seats):
        orders_services.seat_assign(
            actor=SYSTEM,
            subscription=sub,
            email=f"person{n}@{customer.lower()}.test",
            name=f"Person {n}",
        )
    run_jobs(connector)
    return Subscription.objects.select_related("box_account", "plan").get(pk=sub.pk)


def remote_of(user: BoxUser, *, space_used=0, status="active") -> RemoteUser:
    return RemoteUser(
        id=user.box_user_id,
        login=user.login,
        name=user.name,
        role=user.role,
        status=status,
        space_used=space_used,
        external_app_user_id=user.external_app_user_id,
    )


def users_of(sub) -> dict[str, BoxUser]:
    """The subscription's Box users by login's local part ("admin" for the primary admin)."""
    found = {}
    for user in BoxUser.objects.filter(account=sub.box_account_id):
        found["admin" if user.role == "admin" else user.login.split("@")[0]] = user
    return found


def on_day(day: date) -> None:
    clock.set_today(day)


def run_engine(account_ids=None) -> None:
    engine.run_until_idle(account_ids, timeout=60)


# --- the worked billing cases' world (docs/billing-cases.md) -----------------------------------


@pytest.fixture
def world(tree, cases):  # noqa: F811 - the fixture imported above
    """``cases`` plus a Starter price of 5.00 (case 3) and the provider's Starter offer."""
    from catalog import services
    from tests.catalog.builders import price

    with freeze_time(CASES_SET_UP_ON):
        starter = cases["plans"]["starter"]
        price(tree["P"], starter, "5.00")
        price(tree["P"], starter, "4.00", audience="wholesale")
        cases["starter_offer"] = services.offer_publish(
            actor=SYSTEM, seller=tree["P"], plan=starter, available_to_all_resellers=True
        )
    return cases


def order(tree, offer, *, customer="PC1", quantity=5, day=date(2027, 1, 1), fake=None, **kw):
    """A subscription bought through a real order on ``day`` and provisioned."""
    clock.set_today(day)
    placed = orders.order_create(
        actor=tree[f"{customer}.admin"],
        customer=tree[customer],
        offer=offer,
        quantity=quantity,
        term=kw.pop("term", "monthly"),
        submit=True,
        **kw,
    )
    if fake is not None:
        run_jobs(fake)
    placed.refresh_from_db()
    return placed


def run_on(day: date):
    clock.set_today(day)
    return billing_run(actor=RUN, day=day)


from tests.billing.world import billed, shared_world  # noqa: E402, F401 (fixtures)
