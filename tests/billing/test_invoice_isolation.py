"""The isolation matrix over billing's pages and API: another organization's invoices, credit
notes, lines, upcoming invoices, billing issues and price moves answer 404 to the wrong actor
and nothing changes; customers never see a wholesale invoice nor a wholesale figure."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from billing.models import (
    BillingIssue,
    BillingRun,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceSource,
    NumberSeries,
    PriceMove,
)
from billing.services.credit_notes import credit_note_create
from portal.models import AuditEvent
from tests.billing.world import rows
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db

# (actor, victim customer): two of every kind of organization, each aiming at another's.
PAIRS = [
    ("R2.admin", "C11"),
    ("R1.admin", "C21"),
    ("R1.billing", "C21"),
    ("S1.admin", "C11"),
    ("R2.sales", "S1C1"),
    ("P.agent", "PC2"),
    ("C21.admin", "C11"),
    ("C11.billing", "S1C1"),
    ("PC2.admin", "PC1"),
    ("S1C1.admin", "C11"),
]

# What the provider charges its resellers and R1 its sub-reseller: unit prices and amounts of
# the wholesale invoices of the world (tests/billing/world.py, tests/catalog/builders.py).
WHOLESALE_FIGURES = (
    "12.37",
    "11.83",
    "14.29",
    "37.11",
    "49.48",
    "86.59",
    "8.66",
    "95.25",
    "35.49",
    "3.55",
    "39.04",
    "57.16",
    "5.72",
    "62.88",
)


def snapshot():
    return (
        list(Invoice.objects.order_by("pk").values_list("pk", "state", "total")),
        list(CreditNote.objects.order_by("pk").values_list("pk", "total")),
        CreditNoteLine.objects.count(),
        list(NumberSeries.objects.order_by("pk").values_list("pk", "prefix", "next_number")),
        list(BillingIssue.objects.order_by("pk").values_list("pk", "resolved_at")),
        list(PriceMove.objects.order_by("pk").values_list("pk", "state")),
        BillingRun.objects.count(),
        AuditEvent.objects.count(),
    )


def victim_of(world, key: str) -> dict:
    """The victim's documents, with a credit note, a billing issue and a price move."""
    org = world.tree[key]
    sub = world.subs[key]
    retail = [world.invoice(key), world.first(key)]
    wholesale = list(Invoice.objects.filter(source=InvoiceSource.WHOLESALE, buyer=org.parent))
    note = credit_note_create(actor=SYSTEM, invoice=retail[1], reason="Victim's credit")
    issue = BillingIssue.objects.create(
        subscription=sub, kind="price_missing", period_start=sub.current_period_end, message="x"
    )
    move = PriceMove.objects.create(
        subscription=sub,
        from_price=sub.price,
        to_price=sub.price,
        effective_from=sub.current_period_end + timedelta(days=31),
    )
    return {
        "org": org,
        "sub": sub,
        "invoices": retail + wholesale,
        "note": note,
        "issue": issue,
        "move": move,
    }


def page_requests(world, actor_org, v) -> list[tuple]:
    org, sub, note = v["org"], v["sub"], v["note"]
    reqs = [
        ("get", f"/portal/{org.pk}/invoices/", None),
        ("get", f"/portal/{org.pk}/invoices/credit-notes/", None),
        ("get", f"/portal/{org.pk}/invoices/credit-notes/{note.pk}/", None),
        ("get", f"/portal/{org.pk}/invoices/upcoming/", None),
    ]
    for invoice in v["invoices"]:
        line = invoice.lines.first()
        reqs += [
            ("get", f"/portal/{org.pk}/invoices/{invoice.pk}/", None),
            ("post", f"/portal/{org.pk}/invoices/{invoice.pk}/", {"action": "uncollectible"}),
            ("get", f"/portal/{org.pk}/invoices/{invoice.pk}/lines/{line.pk}/", None),
            ("get", f"/portal/{org.pk}/invoices/{invoice.pk}/pdf/", None),
        ]
    if actor_org.is_seller:
        base = f"/console/{actor_org.pk}"
        reqs += [
            ("get", f"{base}/billing/invoices/credit-notes/{note.pk}/", None),
            ("post", f"{base}/billing/issues/", {"issue": v["issue"].pk}),
            ("post", f"{base}/billing/price-moves/{v['move'].pk}/withdraw/", {}),
            ("get", f"{base}/orgs/{org.pk}/", None),
        ]
        if sub.seller_id != actor_org.pk:
            reqs.append(("get", f"{base}/billing/price-moves/?price={sub.price_id}", None))
        for invoice in v["invoices"]:
            line = invoice.lines.first()
            url = f"{base}/billing/invoices/{invoice.pk}/"
            reqs += [
                ("get", url, None),
                ("post", url, {"action": "void", "reason": "x"}),
                ("post", url, {"action": "uncollectible"}),
                ("get", f"{url}lines/{line.pk}/", None),
                ("get", f"{url}credit-note/", None),
                (
                    "post",
                    f"{url}credit-note/",
                    {"scope": "whole", "reason": "x", "action": "preview"},
                ),
                (
                    "post",
                    f"{url}credit-note/",
                    {"scope": "whole", "reason": "x", "action": "confirm"},
                ),
                ("get", f"{url}pdf/", None),
            ]
    else:
        base = f"/portal/{actor_org.pk}"
        reqs.append(("get", f"{base}/invoices/credit-notes/{note.pk}/", None))
        for invoice in v["invoices"]:
            line = invoice.lines.first()
            url = f"{base}/invoices/{invoice.pk}/"
            reqs += [
                ("get", url, None),
                ("post", url, {"action": "void", "reason": "x"}),
                ("get", f"{url}lines/{line.pk}/", None),
                ("get", f"{url}pdf/", None),
            ]
        # the victim's line through an invoice of the actor's own
        own = Invoice.objects.filter(buyer=actor_org).first()
        line = v["invoices"][0].lines.first()
        reqs.append(("get", f"{base}/invoices/{own.pk}/lines/{line.pk}/", None))
    return reqs


def api_requests(v) -> list[tuple]:
    sub, org = v["sub"], v["org"]
    reqs = [
        ("get", f"/api/v1/credit-notes/{v['note'].pk}/", None),
        ("get", f"/api/v1/subscriptions/{sub.pk}/upcoming-invoice/", None),
        ("get", f"/api/v1/upcoming-invoices/?subscription={sub.pk}", None),
        ("get", f"/api/v1/upcoming-invoices/?customer={org.pk}", None),
        ("get", f"/api/v1/billing-issues/{v['issue'].pk}/", None),
        ("post", f"/api/v1/billing-issues/{v['issue'].pk}/resolve/", None),
    ]
    for invoice in v["invoices"]:
        line = invoice.lines.first()
        reqs += [
            ("get", f"/api/v1/invoices/{invoice.pk}/", None),
            ("post", f"/api/v1/invoices/{invoice.pk}/void/", {"reason": "x"}),
            ("post", f"/api/v1/invoices/{invoice.pk}/mark-uncollectible/", None),
            ("post", "/api/v1/credit-notes/", {"invoice": invoice.pk, "reason": "x"}),
            (
                "post",
                "/api/v1/credit-notes/preview/",
                {"invoice": invoice.pk, "reason": "x", "lines": [{"line": line.pk}]},
            ),
        ]
    return reqs


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_pages_answer_404_and_change_nothing(billed, client, actor_key, victim_key):
    actor_org = billed.tree[actor_key.split(".")[0]]
    v = victim_of(billed, victim_key)
    client.force_login(billed.tree[actor_key])
    before = snapshot()
    for method, url, data in page_requests(billed, actor_org, v):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url, response.status_code)
    assert snapshot() == before
    # nor do the actor's own lists show them
    victims = {x.pk for x in v["invoices"]}
    if actor_org.is_seller:
        lists = [
            f"/console/{actor_org.pk}/billing/invoices/",
            f"/console/{actor_org.pk}/billing/invoices/?customer={v['org'].pk}",
        ]
        notes = f"/console/{actor_org.pk}/billing/invoices/credit-notes/"
    else:
        lists = [f"/portal/{actor_org.pk}/invoices/"]
        notes = f"/portal/{actor_org.pk}/invoices/credit-notes/"
    for url in lists:
        response = client.get(url)
        if response.status_code == 200:
            assert not victims & set(rows(response)), url
    response = client.get(notes)
    if response.status_code == 200:
        assert v["note"].pk not in rows(response, "data-note")


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_api_answers_404_and_changes_nothing(billed, actor_key, victim_key):
    v = victim_of(billed, victim_key)
    api = APIClient()
    api.force_authenticate(billed.tree[actor_key])
    before = snapshot()
    for method, url, data in api_requests(v):
        response = getattr(api, method)(url, data, format="json")
        assert response.status_code == 404, (method, url, response.status_code, response.data)
        assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before
    listed = api.get("/api/v1/invoices/?page_size=500").json()["results"]
    assert not {x.pk for x in v["invoices"]} & {x["id"] for x in listed}
    notes = api.get("/api/v1/credit-notes/?page_size=500").json()["results"]
    assert v["note"].pk not in {x["id"] for x in notes}
    issues = api.get("/api/v1/billing-issues/?state=all&page_size=500").json()["results"]
    assert v["issue"].pk not in {x["id"] for x in issues}


def _figures_in(body: str) -> list[str]:
    return [x for x in WHOLESALE_FIGURES if re.search(rf"(?<![\d.,]){re.escape(x)}(?!\d)", body)]


@pytest.mark.parametrize("customer", ["PC1", "PC2", "C11", "C21", "S1C1"])
def test_customers_never_see_wholesale_invoices_or_figures(billed, client, customer):
    tree = billed.tree
    wholesale = set(
        Invoice.objects.filter(source=InvoiceSource.WHOLESALE).values_list("pk", flat=True)
    )
    assert len(wholesale) == 6
    org = tree[customer]
    for role in ("admin", "billing"):
        user = tree[f"{customer}.{role}"]
        client.force_login(user)
        base = f"/portal/{org.pk}"
        pages = [
            f"{base}/invoices/",
            f"{base}/invoices/credit-notes/",
            f"{base}/invoices/upcoming/",
            f"{base}/subscriptions/{billed.subs[customer].pk}/",
        ]
        listed = client.get(f"{base}/invoices/")
        assert set(rows(listed)) == set(
            Invoice.objects.filter(buyer=org).values_list("pk", flat=True)
        )
        for invoice in Invoice.objects.filter(buyer=org):
            pages.append(f"{base}/invoices/{invoice.pk}/")
            pages += [f"{base}/invoices/{invoice.pk}/lines/{x.pk}/" for x in invoice.lines.all()]
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            assert _figures_in(response.content.decode()) == [], url
        for pk in wholesale:
            assert client.get(f"{base}/invoices/{pk}/").status_code == 404
        api = APIClient()
        api.force_authenticate(user)
        bodies = [api.get("/api/v1/invoices/?page_size=500")]
        ids = {x["id"] for x in bodies[0].json()["results"]}
        assert not ids & wholesale
        bodies += [api.get(f"/api/v1/invoices/{pk}/") for pk in ids]
        bodies.append(api.get(f"/api/v1/upcoming-invoices/?customer={org.pk}"))
        for response in bodies:
            assert response.status_code == 200
            assert _figures_in(response.content.decode()) == []
        for pk in wholesale:
            assert api.get(f"/api/v1/invoices/{pk}/").status_code == 404
