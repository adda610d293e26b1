"""Checkout and seats under concurrency: a form sent many times at once is one order, and
seats racing for the last place never exceed what was bought."""

import threading
from datetime import date

import pytest
from django.db import connections

from orders import services
from orders.models import Order, SeatAssignment
from portal.actors import system
from portal.errors import ApplicationError
from portal.models import Organization, User
from tests.orders.conftest import subscribe

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(count, fn):
    results, barrier = [], threading.Barrier(count)

    def run(i):
        try:
            barrier.wait()
            results.append(("ok", fn(i)))
        except ApplicationError as exc:
            results.append(("refused", exc.message))
        except Exception as exc:  # any other outcome fails the test, with its name
            results.append(("error", repr(exc)))
        finally:
            connections.close_all()  # this thread's own connections

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_the_same_checkout_sent_ten_times_at_once_is_one_order(tree, catalog):
    offer = catalog["R1.business"]

    def checkout(_):
        return services.checkout(
            seller=tree["R1"],
            offer=offer,
            quantity=3,
            term="monthly",
            company_name="Racing Co",
            full_name="Rae",
            email="rae@racing.test",
            password="a-sturdy-passphrase-42",
            idempotency_key="same-form",
        ).pk

    results = in_threads(10, checkout)
    ids = {value for kind, value in results if kind == "ok"}
    assert len(ids) == 1, results
    assert Order.objects.count() == 1
    assert Organization.objects.filter(name="Racing Co").count() == 1
    assert User.objects.filter(email="rae@racing.test").count() == 1


def test_seats_racing_for_the_last_places_never_exceed_the_purchase(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=3, day=date(2027, 1, 1))

    def assign(i):
        return services.seat_assign(
            actor=SYSTEM, subscription=sub, email=f"r{i}@pc1.test", name=f"Racer {i}"
        ).pk

    results = in_threads(8, assign)
    assert sum(1 for kind, _ in results if kind == "ok") == 3
    refused = [value for kind, value in results if kind == "refused"]
    assert refused == ["All 3 seats are assigned; buy more seats or unassign someone first."] * 5
    assert SeatAssignment.objects.filter(subscription=sub).count() == 3
