"""A small billed world for the billing pages and API: the priced catalog of
``tests/catalog/builders.py`` on the tree of ``tests/factories.py``, real orders provisioned
with the recording connector, and the billing run of 1 February 2027.

    PC1 (the provider's direct customer)  Business, 5 seats at 15.00 from 1 Jan 2027;
                                          3 more seats on 23 Jan (13.06 prorated)
    C11 (R1's customer)                   Business, 3 seats at 16.00
    PC2 (the provider's direct customer)  Starter, 3 seats at 5.00 with code WELCOME20 (20 % off
                                          three periods); storage graduated 0-50 GB-months at
                                          0.10, above at 0.08 over 100 GB pooled: 90 GB on 20
                                          days of January and 250 GB on 11
    C21 (R2's customer)                   Business, 3 seats at 17.50
    S1C1 (S1's customer, below R1)        Business, 4 seats at 18.00

After the run of 1 February every customer has two issued invoices (January from its order,
February from the run); the provider has issued wholesale invoices to R1 and R2 for January,
and R1 one to S1. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from freezegun import freeze_time

from billing.models import Invoice, UsageRecord
from billing.services.run import RUN, billing_run
from catalog import services as catalog_services
from orders import services as orders
from portal import clock
from tests.factories import SYSTEM
from tests.orders.conftest import subscribe

JAN_1, JAN_23, FEB_1 = date(2027, 1, 1), date(2027, 1, 23), date(2027, 2, 1)
D = Decimal
GB = 1_073_741_824

OFFER_OF = {
    "PC1": ("P.business", 5),
    "PC2": ("P.starter", 3),
    "C11": ("R1.business", 3),
    "C21": ("R2.business", 3),
    "S1C1": ("S1.business", 4),
}


@dataclass
class World:
    tree: object
    catalog: object
    subs: dict = field(default_factory=dict)

    def invoice(self, buyer: str, day: date = FEB_1, seller: str | None = None) -> Invoice:
        qs = Invoice.objects.filter(buyer=self.tree[buyer], billing_day=day)
        if seller is not None:
            qs = qs.filter(seller=self.tree[seller])
        return qs.get()

    def first(self, buyer: str) -> Invoice:
        return self.invoice(buyer, JAN_1)

    def wholesale(self, buyer: str, seller: str = "P") -> Invoice:
        return Invoice.objects.get(
            buyer=self.tree[buyer], seller=self.tree[seller], billing_day=FEB_1, source="wholesale"
        )


def build(tree, catalog, fake) -> World:
    """Orders on 1 January, a change on 23 January, the run on 1 February; each at 09:00 UTC
    of its day (time moves on from there), so issue dates are known."""
    world = World(tree, catalog)
    with freeze_time("2026-12-01 09:00:00"):
        clock.set_today(date(2026, 12, 1))
        catalog_services.promotion_create(
            actor=SYSTEM,
            seller=tree["P"],
            name="Welcome",
            code="WELCOME20",
            discount_type="percent",
            percent="20",
            duration="repeating",
            duration_periods=3,
        )
    with freeze_time("2027-01-01 09:00:00", tick=True):
        for key, (offer, seats) in OFFER_OF.items():
            world.subs[key] = subscribe(
                tree,
                catalog,
                fake,
                customer=key,
                offer=offer,
                quantity=seats,
                day=JAN_1,
                code="WELCOME20" if key == "PC2" else "",
            )
    for n in range(31):
        day = JAN_1 + timedelta(days=n)
        UsageRecord.objects.create(
            subscription=world.subs["PC2"],
            metric="storage_bytes",
            day=day,
            value=(90 if n < 20 else 250) * GB,
        )
    with freeze_time("2027-01-23 09:00:00", tick=True):
        clock.set_today(JAN_23)
        orders.subscription_change(
            actor=tree["PC1.admin"], subscription=world.subs["PC1"], quantity=8
        )
    with freeze_time("2027-02-01 09:00:00", tick=True):
        clock.set_today(FEB_1)
        billing_run(actor=RUN, day=FEB_1)
    for sub in world.subs.values():
        sub.refresh_from_db()
    return world


@pytest.fixture(scope="module")
def shared_world(django_db_setup, django_db_blocker):
    """The world, built once per test module inside a transaction that is rolled back after
    the module; each test runs in a savepoint of its own inside it (pytest-django's ``db``)."""
    from django.test import override_settings

    from tests.catalog.builders import build_catalog
    from tests.factories import build_tree
    from tests.orders.conftest import ManyAccountsConnector

    quick_jobs = override_settings(
        BOX_JOB_BACKOFF_BASE_SECONDS=0.01,
        BOX_JOB_BACKOFF_MAX_SECONDS=0.05,
        BOX_ENGINE_INLINE_WAIT_SECONDS=1,
    )
    with django_db_blocker.unblock(), quick_jobs:
        outer = transaction.atomic()
        outer.__enter__()
        try:
            tree = build_tree()
            world = build(tree, build_catalog(tree), ManyAccountsConnector())
            yield world
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            clock.set_today(None)


@pytest.fixture
def billed(shared_world, db):
    """The world above for one test, with the calendar on 1 February 2027."""
    from portal import access

    for sub in shared_world.subs.values():
        sub.refresh_from_db()
    for user in shared_world.tree.users.values():
        access.forget(user)
    clock.set_today(FEB_1)
    return shared_world


# --- reading pages --------------------------------------------------------------------------


ASCII = str.maketrans({"\u2013": "-", "\u00d7": "x", "\u2212": "-"})


def text(response) -> str:
    """A page's main text, tags removed and spaces collapsed (the navigation left out); the
    en dash, the multiplication and the minus signs read as ``-``, ``x`` and ``-``."""
    body = response.content.decode()
    body = re.sub(r"(?s)<head>.*?</head>", " ", body)
    body = re.sub(r"(?s)<aside.*?</aside>", " ", body)
    body = re.sub(r"(?s)<script.*?</script>", " ", body)
    body = re.sub(r"<[^>]+>", " ", body)
    body = html.unescape(body).translate(ASCII)
    return re.sub(r"\s+", " ", body).strip()


def rows(response, attribute: str = "data-invoice") -> list[int]:
    """The ids of the rows a list page shows, in order."""
    return [int(x) for x in re.findall(rf'{attribute}="(\d+)"', response.content.decode())]


def ids(qs) -> list[int]:
    return list(qs.values_list("pk", flat=True))
