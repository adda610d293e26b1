"""Promotions and trials under concurrent orders (PostgreSQL: real row locks and constraints).
Threads start together behind a barrier; the limits hold exactly."""

import threading

import pytest
from django.db import connection, connections

from catalog import services
from catalog.models import PromotionRedemption, TrialUse
from portal.actors import system
from portal.errors import ApplicationError

SYSTEM = system("tests")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks"),
]


def run_together(calls):
    """Run each call in its own thread and connection, all at once; return (ok, errors)."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []
    lock = threading.Lock()

    def worker(call):
        try:
            barrier.wait(timeout=10)
            outcome = call()
            with lock:
                results.append(outcome)
        except ApplicationError as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


def promotion(tree, catalog, **limits):
    return services.promotion_create(
        actor=SYSTEM,
        seller=tree["R1"],
        name="Launch",
        code="LAUNCH",
        discount_type="percent",
        percent="10",
        duration="once",
        **limits,
    )


def test_overall_limit_holds_under_concurrency(tree, catalog):
    # given a code usable 3 times and 8 customers ordering at once
    promo = promotion(tree, catalog, max_redemptions=3)
    customers = [tree["C11"], tree["C12"]]
    from tests.factories import make_org

    customers += [make_org(tree["R1"], "customer", f"Buyer {n}") for n in range(6)]
    calls = [
        (
            lambda c=c, n=n: services.promotion_redeem(
                actor=SYSTEM, promotion=promo, customer=c, reference=f"o{n}"
            )
        )
        for n, c in enumerate(customers)
    ]
    # when they all redeem it
    ok, errors = run_together(calls)
    # then exactly 3 succeed and the others are told it is used up
    assert len(ok) == 3 and len(errors) == 5
    assert PromotionRedemption.objects.filter(promotion=promo).count() == 3
    assert all("used up" in e.message for e in errors)


def test_per_customer_limit_holds_under_concurrency(tree, catalog):
    promo = promotion(tree, catalog)
    calls = [
        (
            lambda n=n: services.promotion_redeem(
                actor=SYSTEM, promotion=promo, customer=tree["C11"], reference=f"order-{n}"
            )
        )
        for n in range(6)
    ]
    ok, errors = run_together(calls)
    assert len(ok) == 1 and len(errors) == 5
    assert PromotionRedemption.objects.filter(customer=tree["C11"]).count() == 1


def test_one_trial_under_concurrency(tree, catalog):
    offer = catalog["P.business"]
    calls = [
        (lambda: services.trial_redeem(actor=SYSTEM, customer=tree["PC1"], offer=offer))
        for _ in range(5)
    ]
    ok, errors = run_together(calls)
    assert len(ok) == 1 and len(errors) == 4
    assert TrialUse.objects.filter(customer=tree["PC1"]).count() == 1
