"""A fixed probe of every value a request carries, from outside: every list endpoint and every
query parameter it declares, the pagination parameters, path ids, JSON bodies and the
idempotency header, filled with hostile values. The answer is a clear 400 in the one error
shape (or a normal 200 where the value is harmless, or 404 for an object id), never a 5xx, and
nothing is written. Run it on PostgreSQL too: it refuses NUL bytes in text, where SQLite does
not."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from catalog.api import urls as catalog_urls
from orders.api import urls as orders_urls
from orders.models import Order, SeatAssignment, Subscription
from payments.api import urls as payments_urls
from payments.models import BalanceEntry, Payment, PaymentMethod
from portal.api import urls as portal_urls
from portal.models import (
    ApiToken,
    AuditEvent,
    IdempotencyRecord,
    Invitation,
    Membership,
    Organization,
)
from provisioning.api import urls as provisioning_urls
from provisioning.models import BoxAccount, ProvisioningJob
from tests.api.conftest import CALLERS

pytestmark = pytest.mark.django_db

HOSTILE = [
    "\x00",
    "a\x00b",
    "%",
    "x" * 5000,
    "abc",
    "-1",
    "99999999999999999999999",
    "²",
    "ß😀\u202e",
    "line\nbreak",
    "' OR 1=1 --",
    "  ",
]
BAD_IDS = ["abc", "-1", "0", "²", "١٢", "99999999999999999999999", "%00", "\x00", "1 OR 1=1"]


def routers():
    return [
        ("/api/v1/", portal_urls.router),
        ("/api/v1/", catalog_urls.router),
        ("/api/v1/", orders_urls.router),
        ("/api/v1/", payments_urls.router),
        ("/api/v1/provisioning/", provisioning_urls.router),
    ]


def detail_object(world, basename: str) -> int:
    """A real object each detail route with query parameters is probed on."""
    tree, catalog = world.tree, world.catalog
    return {
        "offer": catalog["P.business"].pk,
        "price-list": tree["P"].pk,
        "subscription": world.subscriptions["PC1"].pk,
        "provisioning-account": BoxAccount.objects.get(customer=tree["PC1"]).pk,
    }[basename]


def read_endpoints(world):
    """(url, the query parameters it reads) of every list, and of every other GET that
    declares query parameters. Lists and list actions also read ``page`` and ``page_size``."""
    paging = ("page", "page_size")
    found = []
    for base, router in routers():
        for prefix, viewset, basename in router.registry:
            declared = getattr(viewset, "query_params", {})
            if hasattr(viewset, "list"):
                names = [p.name for p in declared.get("list", ())]
                found.append((f"{base}{prefix}/", [*names, *paging]))
            for action, params in declared.items():
                if action == "list":
                    continue
                pk = detail_object(world, basename)
                names = [p.name for p in params]
                if action == "retrieve":
                    found.append((f"{base}{prefix}/{pk}/", names))
                else:
                    found.append((f"{base}{prefix}/{pk}/{action}/", [*names, *paging]))
    return found


def snapshot():
    return tuple(
        model.objects.count()
        for model in (
            Organization,
            Membership,
            Invitation,
            ApiToken,
            AuditEvent,
            IdempotencyRecord,
            Order,
            Subscription,
            SeatAssignment,
            BoxAccount,
            ProvisioningJob,
            Payment,
            PaymentMethod,
            BalanceEntry,
        )
    )


def api_for(world, key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[key]}")
    return api


def assert_error_shape(response):
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body


@pytest.mark.parametrize("caller", CALLERS)
def test_every_declared_query_parameter_refuses_hostile_values(world, caller):
    api = api_for(world, caller)
    endpoints = read_endpoints(world)
    assert len(endpoints) >= 15
    pairs = {(url, name) for url, names in endpoints for name in names}
    assert len(pairs) >= 55, pairs
    before = snapshot()
    for url, names in endpoints:
        hidden = api.get(url).status_code == 404  # a detail route on another tenant's object
        for name in names:
            for value in HOSTILE:
                response = api.get(url, {name: value})
                where = (caller, url, name, value[:20], response.status_code)
                assert response.status_code in (200, 400, 404), where
                if response.status_code == 400:
                    assert_error_shape(response)
                    assert name in response.json()["error"]["fields"], where
                if response.status_code == 404 and not hidden:
                    # Only an id naming an object the caller cannot see, or a page past the end.
                    assert name in ("page", "customer", "organization"), where
                paging_after_lookup = hidden and name in ("page", "page_size")
                if ("\x00" in value or "\n" in value or "\t" in value) and not paging_after_lookup:
                    assert response.status_code == 400, where
    assert snapshot() == before


@pytest.mark.parametrize("caller", CALLERS)
def test_a_bad_choice_names_the_allowed_values(world, caller):
    api = api_for(world, caller)
    response = api.get("/api/v1/orders/", {"state": "shipped"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["state"][0].startswith("Use one of: draft")
    good = api.get("/api/v1/orders/", {"state": "completed", "customer": world.tree["PC1"].pk})
    assert good.status_code == 200
    assert good.json()["count"] == 1


def detail_patterns():
    """Every route with an id in its path, with the methods it answers."""
    for base, router in routers():
        for pattern in router.urls:
            regex = pattern.pattern.regex.pattern
            if "(?P<pk>" not in regex:
                continue
            template = regex.lstrip("^").rstrip("$")
            template = re.sub(r"\(\?P<pk>[^)]*\)", "{pk}", template)
            template = re.sub(r"\(\?P<currency>[^)]*\)", "EUR", template)
            template = template.replace("\\.", ".")
            if "(?P<format>" in template or "(" in template:
                continue
            methods = [m for m in pattern.callback.actions if m not in ("put", "head", "options")]
            yield base + template, methods


@pytest.mark.parametrize("caller", CALLERS)
def test_path_ids_that_are_not_ids_answer_404(world, caller):
    api = api_for(world, caller)
    before = snapshot()
    routes = list(detail_patterns())
    assert len(routes) >= 30
    for template, methods in routes:
        for bad in BAD_IDS:
            url = template.replace("{pk}", bad.replace("%", "%25"))
            for method in methods:
                response = getattr(api, method)(url, {}, format="json")
                where = (caller, method, url, response.status_code, response.content[:80])
                assert response.status_code == 404, where
                assert response["Content-Type"] == "application/json", where
                assert response.content, where
                assert_error_shape(response)
    # An id no route can match (a dot) is Django's 404, in the same shape under /api/.
    response = api.get("/api/v1/orders/1.5/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before


NUL = "bad\x00value"


def nul_bodies(world):
    tree, catalog = world.tree, world.catalog
    sub = world.subscriptions["PC1"]
    seat = SeatAssignment.objects.filter(subscription=sub).first()
    return [
        (
            "P.admin",
            "post",
            "/api/v1/organizations/",
            {"kind": "customer", "parent": tree["P"].pk, "name": NUL},
            "name",
        ),
        ("P.admin", "patch", f"/api/v1/organizations/{tree['PC2'].pk}/", {"city": NUL}, "city"),
        (
            "P.admin",
            "patch",
            f"/api/v1/organizations/{tree['P'].pk}/brand/",
            {"tagline": NUL},
            "tagline",
        ),
        (
            "P.admin",
            "post",
            f"/api/v1/organizations/{tree['P'].pk}/brand/domains/",
            {"domain": NUL},
            "domain",
        ),
        (
            "P.admin",
            "post",
            f"/api/v1/organizations/{tree['PC2'].pk}/invitations/",
            {"email": NUL, "role": "admin"},
            "email",
        ),
        (
            "P.admin",
            "post",
            "/api/v1/plans/",
            {
                "code": NUL,
                "box_plan_code": "business",
                "name": "X",
                "storage_mode": "unlimited",
                "max_upload_mb": 5,
            },
            "code",
        ),
        (
            "P.admin",
            "post",
            "/api/v1/promotions/",
            {
                "seller": tree["P"].pk,
                "name": NUL,
                "discount_type": "percent",
                "percent": "5",
                "duration": "once",
            },
            "name",
        ),
        (
            "P.admin",
            "post",
            "/api/v1/tax-rates/",
            {"seller": tree["P"].pk, "name": NUL, "rate": "5"},
            "name",
        ),
        (
            "P.admin",
            "post",
            f"/api/v1/sellers/{tree['P'].pk}/currencies/",
            {"currency": "E\x00R"},
            "currency",
        ),
        (
            "P.admin",
            "post",
            "/api/v1/quotes/",
            {
                "offer": catalog["P.business"].pk,
                "quantity": 3,
                "term": "monthly",
                "promotion_code": NUL,
            },
            "promotion_code",
        ),
        ("P.admin", "post", f"/api/v1/subscriptions/{sub.pk}/suspend/", {"reason": NUL}, "reason"),
        ("PC1.admin", "post", "/api/v1/tokens/", {"name": NUL}, "name"),
        (
            "PC1.admin",
            "post",
            "/api/v1/orders/",
            {
                "customer": tree["PC1"].pk,
                "offer": catalog["P.business"].pk,
                "quantity": 3,
                "term": "monthly",
                "note": NUL,
            },
            "note",
        ),
        ("PC1.admin", "post", f"/api/v1/subscriptions/{sub.pk}/change/", {"plan": NUL}, "plan"),
        (
            "PC1.admin",
            "post",
            f"/api/v1/subscriptions/{sub.pk}/seats/",
            {"email": "a@pc1.test", "name": NUL},
            "name",
        ),
        (
            "PC1.admin",
            "post",
            f"/api/v1/subscriptions/{sub.pk}/seats/import/",
            {"csv": f"email,name\n{NUL},x\n"},
            "csv",
        ),
        ("PC1.admin", "patch", f"/api/v1/seats/{seat.pk}/", {"name": NUL}, "name"),
        (
            "PC1.admin",
            "post",
            "/api/v1/promotions/check/",
            {"code": NUL, "plan": "business"},
            "code",
        ),
    ]


def test_nul_bytes_in_json_bodies_answer_400_naming_the_field(world):
    before = snapshot()
    for caller, method, url, body, field in nul_bodies(world):
        response = getattr(api_for(world, caller), method)(url, body, format="json")
        assert response.status_code == 400, (method, url, response.status_code, response.content)
        assert_error_shape(response)
        assert field in response.json()["error"]["fields"], (url, response.json())
    assert snapshot() == before


def test_an_idempotency_key_with_a_nul_byte_answers_400(world):
    tree, catalog = world.tree, world.catalog
    api = api_for(world, "PC1.admin")
    body = {
        "customer": tree["PC1"].pk,
        "offer": catalog["P.business"].pk,
        "quantity": 3,
        "term": "monthly",
    }
    before = snapshot()
    response = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k\x00y")
    assert response.status_code == 400
    assert "idempotency_key" in response.json()["error"]["fields"]
    assert snapshot() == before


PAGE_FILTERS = [
    ("customers/", ("q", "seller", "page")),
    ("resellers/", ("q", "seller", "page")),
    ("audit/", ("action", "page")),
    ("orders/", ("q", "state", "page")),
    ("subscriptions/", ("q", "status", "page")),
    ("provisioning/jobs/", ("state", "operation", "account", "customer", "page")),
    ("provisioning/accounts/", ("q", "status", "customer", "page")),
]


def test_console_filters_ignore_hostile_values(world, client):
    """The pages read the same values with the same helpers: a filter that cannot be one is
    ignored (the page shows the unfiltered list), never a 500."""
    client.force_login(world.tree["P.admin"])
    console = f"/console/{world.tree['P'].pk}/"
    before = snapshot()
    for page, names in PAGE_FILTERS:
        for name in names:
            for value in ("\x00", "a\x00b", "x" * 5000, "²", "-1", "' OR 1=1 --"):
                response = client.get(console + page, {name: value})
                assert response.status_code == 200, (page, name, value[:10])
    assert snapshot() == before


def extreme_bodies(world):
    """Numbers at and past the columns' edges, days at the calendar's."""
    tree, catalog = world.tree, world.catalog
    sub = world.subscriptions["PC1"]
    big = 2**31 - 1
    order = {"customer": tree["PC1"].pk, "offer": catalog["P.enterprise"].pk, "term": "annual"}
    price = {"seller": tree["P"].pk, "plan": "business", "currency": "USD", "term": "monthly"}
    return [
        ("P.admin", "post", "/api/v1/prices/", {**price, "recurring": "1e20"}, "recurring"),
        (
            "P.admin",
            "post",
            "/api/v1/prices/",
            {**price, "recurring": "15", "valid_from": "9999-12-31"},
            "valid_from",
        ),
        (
            "P.admin",
            "post",
            "/api/v1/tax-rates/",
            {"seller": tree["P"].pk, "name": "x", "rate": "5", "valid_from": "9999-12-31"},
            "valid_from",
        ),
        (
            "P.admin",
            "post",
            "/api/v1/tax-rates/",
            {"seller": tree["P"].pk, "name": "x", "rate": "100000"},
            "rate",
        ),
        (
            "P.admin",
            "post",
            "/api/v1/promotions/check/",
            {
                "code": "SPRING",
                "plan": "business",
                "customer": tree["PC1"].pk,
                "on_date": "9999-12-31",
            },
            "on_date",
        ),
        (
            "P.admin",
            "post",
            "/api/v1/organizations/",
            {"kind": "customer", "parent": 10**30, "name": "X"},
            "parent",
        ),
        (
            "PC1.admin",
            "post",
            "/api/v1/quotes/",
            {
                "offer": catalog["P.business"].pk,
                "quantity": 3,
                "term": "annual",
                "start_date": "9999-12-31",
            },
            "start_date",
        ),
        (
            "PC1.admin",
            "post",
            "/api/v1/quotes/",
            {"offer": catalog["P.business"].pk, "quantity": big, "term": "monthly"},
            "quantity",
        ),
        (
            "PC1.admin",
            "post",
            "/api/v1/orders/",
            {**order, "quantity": 3, "start_date": "0001-01-01"},
            "start_date",
        ),
        ("PC1.admin", "post", "/api/v1/orders/", {**order, "quantity": big}, "quantity"),
        ("PC1.admin", "post", "/api/v1/orders/", {**order, "quantity": 10**30}, "quantity"),
        (
            "PC1.admin",
            "post",
            f"/api/v1/subscriptions/{sub.pk}/change/",
            {"quantity": big},
            "quantity",
        ),
        (
            "PC1.admin",
            "post",
            f"/api/v1/subscriptions/{sub.pk}/seats/",
            {"email": "a@b.test", "name": "A", "quota_gb": 10**30},
            "quota_gb",
        ),
    ]


def test_numbers_and_days_past_their_columns_answer_400(world):
    """A quantity that would overflow an amount, an integer past 64 bits, a day a term cannot
    be added to: 400 naming the field (on PostgreSQL these were 500s)."""
    before = snapshot()
    for caller, method, url, body, field in extreme_bodies(world):
        response = getattr(api_for(world, caller), method)(url, body, format="json")
        assert response.status_code == 400, (url, body, response.status_code, response.content)
        assert field in response.json()["error"]["fields"], (url, response.json())
    assert snapshot() == before


def test_an_order_too_large_for_an_invoice_answers_400(world):
    """The largest price times the most seats does not fit an amount column (PostgreSQL: a
    500 before): the quote says so on the quantity."""
    from catalog import services as catalog_services
    from tests.factories import SYSTEM

    tree, catalog = world.tree, world.catalog
    catalog_services.price_create(
        actor=SYSTEM,
        seller=tree["P"],
        plan=catalog["P.enterprise"].plan,
        audience="retail",
        currency="USD",
        term="annual",
        recurring="99999999",
    )
    before = snapshot()
    body = {
        "customer": tree["PC1"].pk,
        "offer": catalog["P.enterprise"].pk,
        "quantity": 100_000,
        "term": "annual",
    }
    response = api_for(world, "PC1.admin").post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"]["quantity"][0].startswith(
        "This comes to more than one invoice can hold"
    )
    assert snapshot() == before
