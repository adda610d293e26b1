"""The isolation matrix over ordering: another organization's orders, subscriptions and seats
answer 404 in pages and API, and nothing changes."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from billing.models import Charge
from orders import services
from orders.models import Order, SeatAssignment, Subscription, SubscriptionChange
from portal.actors import system
from provisioning.models import ProvisioningJob
from tests.orders.conftest import subscribe

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db

OFFER_OF = {
    "C11": "R1.business",
    "C12": "R1.business",
    "C21": "R2.business",
    "PC1": "P.business",
    "PC2": "P.business",
    "S1C1": "S1.business",
}

PAIRS = [
    ("R2.admin", "C11"),
    ("R1.admin", "C21"),
    ("S1.admin", "C11"),
    ("C21.admin", "C11"),
    ("C11.admin", "C12"),
    ("S1C1.admin", "C11"),
    ("P.agent", "PC2"),
    ("R2.sales", "S1C1"),
]


def snapshot():
    return (
        list(Order.objects.order_by("pk").values_list("pk", "state")),
        list(
            Subscription.objects.order_by("pk").values_list(
                "pk", "status", "quantity", "plan_id", "cancel_at_period_end"
            )
        ),
        list(SeatAssignment.objects.order_by("pk").values_list("pk", "status", "quota_bytes")),
        SubscriptionChange.objects.count(),
        Charge.objects.count(),
        ProvisioningJob.objects.count(),
    )


@pytest.fixture
def victim(tree, catalog, fake):
    def build(key):
        sub = subscribe(
            tree, catalog, fake, customer=key, offer=OFFER_OF[key], quantity=3, day=date(2027, 1, 1)
        )
        seat = services.seat_assign(
            actor=SYSTEM, subscription=sub, email=f"v@{key.lower()}.test", name="Victim"
        )
        change = services.subscription_change(actor=SYSTEM, subscription=sub, term="annual")
        draft = services.order_create(
            actor=tree[f"{key}.admin"],
            customer=tree[key],
            offer=catalog[OFFER_OF[key]],
            quantity=3,
            term="monthly",
        )
        return {"org": tree[key], "sub": sub, "seat": seat, "draft": draft, "change": change.change}

    return build


def page_requests(actor_org, v):
    sub, seat, draft, change = v["sub"], v["seat"], v["draft"], v["change"]
    org = v["org"]
    reqs = [
        ("get", f"/portal/{org.pk}/subscriptions/", None),
        ("get", f"/portal/{org.pk}/subscriptions/{sub.pk}/", None),
        (
            "post",
            f"/portal/{org.pk}/subscriptions/{sub.pk}/",
            {"action": "assign", "email": "x@evil.test", "name": "X", "role": "user"},
        ),
        ("get", f"/portal/{org.pk}/orders/", None),
        ("get", f"/portal/{org.pk}/orders/{draft.pk}/", None),
        ("post", f"/portal/{org.pk}/orders/{draft.pk}/", {"action": "submit"}),
        ("get", f"/portal/{org.pk}/orders/new/?offer=1", None),
    ]
    if actor_org.is_seller:
        base = f"/console/{actor_org.pk}"
        reqs += [
            ("get", f"{base}/orders/{draft.pk}/", None),
            ("post", f"{base}/orders/{draft.pk}/", {"action": "cancel"}),
            ("get", f"{base}/subscriptions/{sub.pk}/", None),
            ("post", f"{base}/subscriptions/{sub.pk}/", {"action": "suspend", "reason": "x"}),
            ("post", f"{base}/orders/approve-customer/{org.pk}/", {}),
        ]
    else:
        base = f"/portal/{actor_org.pk}"
        reqs += [
            ("get", f"{base}/orders/{draft.pk}/", None),
            ("get", f"{base}/subscriptions/{sub.pk}/", None),
        ]
        own = Subscription.objects.filter(customer=actor_org).first()
        if own is not None:
            own_url = f"{base}/subscriptions/{own.pk}/"
            reqs += [
                ("post", own_url, {"action": "unassign", "seat": seat.pk}),
                (
                    "post",
                    own_url,
                    {"action": "update_seat", "seat": seat.pk, "name": "Evil", "role": "user"},
                ),
                ("post", own_url, {"action": "withdraw_change", "change": change.pk}),
            ]
    return reqs


def api_requests(v):
    sub, seat, draft = v["sub"], v["seat"], v["draft"]
    return [
        ("get", f"/api/v1/orders/{draft.pk}/", None),
        ("patch", f"/api/v1/orders/{draft.pk}/", {"quantity": 9}),
        ("post", f"/api/v1/orders/{draft.pk}/submit/", None),
        ("post", f"/api/v1/orders/{draft.pk}/cancel/", None),
        ("post", f"/api/v1/orders/{draft.pk}/approve/", None),
        (
            "post",
            "/api/v1/orders/",
            {"customer": v["org"].pk, "offer": draft.offer_id, "quantity": 3, "term": "monthly"},
        ),
        ("get", f"/api/v1/subscriptions/{sub.pk}/", None),
        ("post", f"/api/v1/subscriptions/{sub.pk}/change/", {"quantity": 9}),
        ("post", f"/api/v1/subscriptions/{sub.pk}/cancel/", {}),
        ("post", f"/api/v1/subscriptions/{sub.pk}/suspend/", {"reason": "x"}),
        ("post", f"/api/v1/subscriptions/{sub.pk}/resume/", None),
        ("get", f"/api/v1/subscriptions/{sub.pk}/seats/", None),
        ("post", f"/api/v1/subscriptions/{sub.pk}/seats/", {"email": "x@evil.test", "name": "X"}),
        ("post", f"/api/v1/subscriptions/{sub.pk}/seats/import/", {"csv": "email,name\n"}),
        ("get", f"/api/v1/subscriptions/{sub.pk}/charges/", None),
        ("get", f"/api/v1/seats/{seat.pk}/", None),
        ("patch", f"/api/v1/seats/{seat.pk}/", {"quota_gb": 1}),
        ("delete", f"/api/v1/seats/{seat.pk}/", None),
    ]


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_pages_answer_404_and_change_nothing(tree, victim, client, actor_key, victim_key):
    actor_org = tree[actor_key.split(".")[0]]
    if actor_org.is_customer and actor_org.pk != tree[victim_key].pk:
        victim(actor_key.split(".")[0])  # the actor's own subscription, to aim requests from
    v = victim(victim_key)
    client.force_login(tree[actor_key])
    before = snapshot()
    for method, url, data in page_requests(actor_org, v):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url, response.status_code)
    assert snapshot() == before


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_api_answers_404_and_changes_nothing(tree, victim, actor_key, victim_key):
    v = victim(victim_key)
    api = APIClient()
    api.force_authenticate(tree[actor_key])
    before = snapshot()
    for method, url, data in api_requests(v):
        response = getattr(api, method)(url, data, format="json")
        assert response.status_code == 404, (method, url, response.status_code, response.data)
    assert snapshot() == before
    listed = api.get("/api/v1/subscriptions/?page_size=500").json()["results"]
    assert v["sub"].pk not in {s["id"] for s in listed}
    orders = api.get("/api/v1/orders/?page_size=500").json()["results"]
    assert v["draft"].pk not in {o["id"] for o in orders}
