"""The ordering API: the same rules as the pages, one error shape, idempotent creation."""

from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from orders.models import Order, SeatAssignment
from tests.orders.conftest import run_jobs, subscribe

pytestmark = pytest.mark.django_db


def api_for(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_order_with_an_idempotency_key_twice_is_one_order(tree, catalog):
    api = api_for(tree["R1.sales"])
    body = {
        "customer": tree["C11"].pk,
        "offer": catalog["R1.business"].pk,
        "quantity": 3,
        "term": "monthly",
    }
    first = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    second = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Order.objects.count() == 1
    data = first.json()
    assert (data["state"], data["placed_as"], data["first_total"]) == (
        "provisioning",
        "reseller_sales",
        "52.80",
    )
    assert [line["kind"] for line in data["lines"]] == ["recurring", "tax"]


def test_bad_orders_answer_400_in_the_error_shape(tree, catalog):
    api = api_for(tree["C11.admin"])
    response = api.post(
        "/api/v1/orders/",
        {
            "customer": tree["C11"].pk,
            "offer": catalog["R1.business"].pk,
            "quantity": 1,
            "term": "monthly",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Business needs at least 3 seat(s)."
    wrong = api.post(
        "/api/v1/orders/",
        {
            "customer": tree["C11"].pk,
            "offer": catalog["R2.business"].pk,
            "quantity": 3,
            "term": "monthly",
        },
        format="json",
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["fields"] == {"offer": ["No such offer is sold to this customer."]}
    member = api_for(tree["C11.member"]).post(
        "/api/v1/orders/",
        {
            "customer": tree["C11"].pk,
            "offer": catalog["R1.business"].pk,
            "quantity": 3,
            "term": "monthly",
        },
        format="json",
    )
    assert member.status_code == 403
    assert Order.objects.count() == 0


def test_subscription_change_seats_and_charges_through_the_api(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, quantity=5, day=date(2027, 1, 1))
    from portal import clock

    clock.set_today(date(2027, 1, 23))
    api = api_for(tree["PC1.admin"])
    change = api.post(f"/api/v1/subscriptions/{sub.pk}/change/", {"quantity": 8}, format="json")
    assert change.status_code == 201, change.json()
    assert (change.json()["kind"], change.json()["timing"]) == ("change", "immediate")
    charges = api.get(f"/api/v1/subscriptions/{sub.pk}/charges/").json()["results"]
    assert [(c["kind"], c["amount"]) for c in charges] == [("prorated", "13.06")]
    seat = api.post(
        f"/api/v1/subscriptions/{sub.pk}/seats/",
        {"email": "ana@pc1.test", "name": "Ana", "quota_gb": 25},
        format="json",
    )
    assert seat.status_code == 201
    assert (seat.json()["status"], seat.json()["quota_gb"]) == ("pending", 25)
    run_jobs(fake)
    got = api.get(f"/api/v1/seats/{seat.json()['id']}/").json()
    assert got["status"] == "active" and got["box_user_id"]
    report = api.post(
        f"/api/v1/subscriptions/{sub.pk}/seats/import/",
        {"csv": "email,name\nbo@pc1.test,Bo\nnope,No\n"},
        format="json",
    ).json()
    assert [(r["line"], r["ok"]) for r in report] == [(2, True), (3, False)]
    detail = api.get(f"/api/v1/subscriptions/{sub.pk}/").json()
    assert (detail["quantity"], detail["seats_assigned"], detail["unit_price"]) == (8, 2, "15.0000")
    removed = api.delete(f"/api/v1/seats/{seat.json()['id']}/")
    assert removed.json()["status"] == "removing"
    bad = api.post(f"/api/v1/subscriptions/{sub.pk}/change/", {"plan": "nosuch"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {
        "plan": ["No plan has the code nosuch."]
    }
    assert SeatAssignment.objects.filter(subscription=sub).count() == 2
    assert Decimal(detail["unit_price"]) == Decimal("15")


def test_schema_lists_the_ordering_endpoints(client, tree):
    body = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in (
        "/api/v1/orders/",
        "/api/v1/subscriptions/{id}/change/",
        "/api/v1/subscriptions/{id}/seats/import/",
        "/api/v1/seats/{id}/",
    ):
        assert path in body
