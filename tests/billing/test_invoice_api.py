"""The billing API: invoices with their lines and sources, credit notes, upcoming invoices,
billing runs and issues; the same rules as the pages, errors in the one shape, and the
schema."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import yaml
from rest_framework.test import APIClient

from billing.models import BillingIssue, BillingRun, CreditNote, Invoice, NumberSeries
from billing.services.run import RUN, billing_run
from orders import services as orders
from portal import clock

pytestmark = pytest.mark.django_db

MAR_1 = date(2027, 3, 1)


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def numbers(response) -> list[str]:
    return [x["number"] for x in response.json()["results"]]


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


# --- invoices -------------------------------------------------------------------------------


def test_customer_lists_its_invoices_with_the_pages_filters(billed):
    api = api_as(billed.tree["PC1.admin"])
    assert numbers(api.get("/api/v1/invoices/")) == ["INV-2027-00005", "INV-2027-00001"]
    for query, expected in [
        ("q=00001", ["INV-2027-00001"]),
        ("state=issued", ["INV-2027-00005", "INV-2027-00001"]),
        ("state=void", []),
        ("issued_from=2027-02-01", ["INV-2027-00005"]),
        ("issued_to=2027-01-31", ["INV-2027-00001"]),
        ("total_min=100", ["INV-2027-00005"]),
        ("total_max=82.50", ["INV-2027-00001"]),
        (f"customer={billed.tree['PC2'].pk}", []),
    ]:
        assert numbers(api.get(f"/api/v1/invoices/?{query}")) == expected, query
    first = api.get("/api/v1/invoices/?q=00001").json()["results"][0]
    assert first == {
        "id": billed.first("PC1").pk,
        "number": "INV-2027-00001",
        "state": "issued",
        "source": "order",
        "seller": {"id": billed.tree["P"].pk, "name": "Provider Co"},
        "buyer": {"id": billed.tree["PC1"].pk, "name": "Direct One"},
        "currency": "USD",
        "billing_day": "2027-01-01",
        "issued_at": first["issued_at"],
        "due_on": "2027-01-15",
        "period_start": "2027-01-01",
        "period_end": "2027-02-01",
        "subtotal": "75.00",
        "tax_total": "7.50",
        "total": "82.50",
        "credited": "0.00",
        "reverse_charge": False,
        "order": billed.subs["PC1"].orders.order_by("pk").first().pk,
    }
    assert first["issued_at"].startswith("2027-01-01T09:00")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=lost", "state"),
        ("issued_from=tomorrow", "issued_from"),
        ("total_min=1e999", "total_min"),
        ("total_max=NaN", "total_max"),
        ("customer=-1", "customer"),
        ("q=" + "9" * 41, "q"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(billed, query, field):
    response = api_as(billed.tree["P.admin"]).get(f"/api/v1/invoices/?{query}")
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "validation_error" and field in body["fields"]


def test_invoice_lines_carry_their_sources(billed):
    invoice = billed.invoice("PC2")
    body = api_as(billed.tree["PC2.billing"]).get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert (body["number"], body["total"], body["buyer_details"]["name"]) == (
        "INV-2027-00006",
        "18.99",
        "Direct Two",
    )
    lines = {x["kind"]: x for x in body["lines"]}
    sub = billed.subs["PC2"]
    assert (lines["recurring"]["price"], lines["recurring"]["subscription"]) == (
        sub.price_id,
        sub.pk,
    )
    assert lines["recurring"]["explain"]["seats"] == 3
    assert lines["discount"]["promotion"] == sub.promotion_id
    assert lines["discount"]["amount"] == "-3.00"
    usage = lines["usage"]
    assert (usage["metric"], usage["quantity"], usage["amount"]) == (
        "storage_gb_month",
        "53.2258",
        "5.26",
    )
    assert usage["explain"]["mode"] == "graduated" and len(usage["explain"]["days"]) == 31
    assert (lines["tax"]["taxable_base"], lines["tax"]["tax_percent"]) == ("17.26", "10.00")
    assert lines["tax"]["tax_rate"] == lines["recurring"]["tax_rate"] is not None
    prorated = api_as(billed.tree["PC1.admin"]).get(f"/api/v1/invoices/{billed.invoice('PC1').pk}/")
    line = next(x for x in prorated.json()["lines"] if x["kind"] == "prorated")
    charge = billed.invoice("PC1").lines.get(kind="prorated").charge
    assert (line["charge"], line["order"], line["service_end"]) == (
        charge.pk,
        charge.order_id,
        "2027-02-01",
    )


def test_drafts_are_the_selling_sides(billed):
    draft = Invoice.objects.get(seller=billed.tree["P"], buyer=billed.tree["R1"], state="draft")
    provider = api_as(billed.tree["P.billing"])
    assert provider.get(f"/api/v1/invoices/{draft.pk}/").status_code == 200
    assert provider.get("/api/v1/invoices/?state=draft").json()["count"] == 3
    reseller = api_as(billed.tree["R1.admin"])
    assert reseller.get(f"/api/v1/invoices/{draft.pk}/").status_code == 404
    issued = billed.wholesale("R1")
    assert reseller.get(f"/api/v1/invoices/{issued.pk}/").json()["total"] == "95.25"


def test_void_and_uncollectible_follow_the_rules(billed):
    invoice = billed.invoice("PC1")
    path = f"/api/v1/invoices/{invoice.pk}"
    customer = api_as(billed.tree["PC1.admin"])
    denied = customer.post(f"{path}/void/", {"reason": "no"}, format="json")
    assert denied.status_code == 403
    assert error(denied)["message"] == (
        "Only this seller's admins and billing staff may correct its invoices."
    )
    assert api_as(billed.tree["R2.admin"]).post(f"{path}/void/", {"reason": "x"}).status_code == 404
    staff = api_as(billed.tree["P.billing"])
    missing = staff.post(f"{path}/void/", {"reason": ""}, format="json")
    assert missing.status_code == 400 and "reason" in error(missing)["fields"]
    invoice.refresh_from_db()
    assert invoice.state == "issued"
    done = staff.post(f"{path}/mark-uncollectible/")
    assert done.status_code == 200 and done.json()["state"] == "uncollectible"
    done = staff.post(f"{path}/void/", {"reason": "Closed"}, format="json")
    assert done.json()["state"] == "void"
    again = staff.post(f"{path}/mark-uncollectible/")
    assert again.status_code == 409 and error(again)["code"] == "conflict"


# --- credit notes ---------------------------------------------------------------------------


def test_credit_notes_created_whole_and_by_line(billed):
    tree = billed.tree
    staff = api_as(tree["P.billing"])
    jan, feb = billed.first("PC1"), billed.invoice("PC1")
    whole = staff.post(
        "/api/v1/credit-notes/", {"invoice": jan.pk, "reason": "Goodwill"}, format="json"
    )
    assert whole.status_code == 201
    assert (whole.json()["number"], whole.json()["total"]) == ("CN-2027-00001", "82.50")
    recurring = feb.lines.get(kind="recurring")
    body = {
        "invoice": feb.pk,
        "reason": "Two seats unused",
        "lines": [{"line": recurring.pk, "amount": "30.00"}],
    }
    preview = staff.post("/api/v1/credit-notes/preview/", body, format="json")
    assert preview.status_code == 200
    assert {k: preview.json()[k] for k in ("subtotal", "tax_total", "total", "left_after")} == {
        "subtotal": "30.00",
        "tax_total": "3.00",
        "total": "33.00",
        "left_after": "113.37",
    }
    assert CreditNote.objects.count() == 1
    made = staff.post("/api/v1/credit-notes/", body, format="json")
    assert made.status_code == 201
    note = made.json()
    assert (note["number"], note["total"], note["invoice_number"]) == (
        "CN-2027-00002",
        "33.00",
        "INV-2027-00005",
    )
    assert [(x["kind"], x["amount"], x["invoice_line"]) for x in note["lines"]] == [
        ("recurring", "30.00", recurring.pk),
        ("tax", "3.00", None),
    ]
    detail = api_as(tree["PC1.admin"]).get(f"/api/v1/invoices/{feb.pk}/").json()
    assert detail["credited"] == "33.00"
    assert next(x for x in detail["lines"] if x["kind"] == "recurring")["credited"] == "30.00"
    listed = api_as(tree["PC1.admin"]).get("/api/v1/credit-notes/").json()
    assert [x["number"] for x in listed["results"]] == ["CN-2027-00002", "CN-2027-00001"]
    assert api_as(tree["PC1.admin"]).get("/api/v1/credit-notes/?q=00002").json()["count"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"lines": [{"line": "RECURRING", "amount": "500"}]}, 400, "lines"),
        ({"lines": [{"line": "RECURRING", "amount": "ten"}]}, 400, "amount"),
        ({"reason": ""}, 400, "reason"),
        ({"lines": [{"line": "OTHER"}]}, 400, "lines"),
        ({"lines": [{"line": "RECURRING"}, {"line": "RECURRING"}]}, 400, "lines"),
        ({"lines": []}, 400, "lines"),
        ({"lines": [{"line": "x"}]}, 400, "lines"),
        (
            {"invoice": "OTHER_INVOICE"},
            403,
            None,
        ),  # R1's invoice: seen, not the provider's to credit
        ({"invoice": 0}, 400, "invoice"),
    ],
)
def test_bad_credit_notes_are_refused_and_nothing_is_written(billed, body, status, field):
    feb = billed.invoice("PC1")
    recurring = feb.lines.get(kind="recurring").pk
    other = billed.invoice("C11")
    data = {"invoice": feb.pk, "reason": "Wrong", **body}
    if data["invoice"] == "OTHER_INVOICE":
        data["invoice"] = other.pk
    for item in data.get("lines") or []:
        item["line"] = {"RECURRING": recurring, "OTHER": other.lines.first().pk}.get(
            item["line"], item["line"]
        )
    before = (CreditNote.objects.count(), list(NumberSeries.objects.values_list("next_number")))
    for path in ("/api/v1/credit-notes/preview/", "/api/v1/credit-notes/"):
        response = api_as(billed.tree["P.billing"]).post(path, data, format="json")
        assert response.status_code == status, (path, response.json())
        if field:
            assert field in error(response)["fields"], response.json()
    assert (CreditNote.objects.count(), list(NumberSeries.objects.values_list("next_number"))) == (
        before
    )


def test_credit_notes_are_the_sellers_staffs(billed):
    feb = billed.invoice("PC1")
    body = {"invoice": feb.pk, "reason": "x"}
    assert api_as(billed.tree["PC1.admin"]).post("/api/v1/credit-notes/", body).status_code == 403
    assert api_as(billed.tree["P.sales"]).post("/api/v1/credit-notes/", body).status_code == 403
    assert api_as(billed.tree["R1.admin"]).post("/api/v1/credit-notes/", body).status_code == 404
    assert CreditNote.objects.count() == 0


# --- upcoming invoices ------------------------------------------------------------------------


def test_upcoming_invoice_of_a_subscription_and_of_a_customer(billed):
    sub = billed.subs["PC1"]
    api = api_as(billed.tree["PC1.billing"])
    one = api.get(f"/api/v1/subscriptions/{sub.pk}/upcoming-invoice/")
    assert one.status_code == 200
    body = one.json()
    assert (body["billing_day"], body["subtotal"], body["tax_total"], body["total"]) == (
        "2027-03-01",
        "120.00",
        "12.00",
        "132.00",
    )
    assert [(x["kind"], x["amount"]) for x in body["lines"]] == [
        ("recurring", "120.00"),
        ("tax", "12.00"),
    ]
    assert api.get(f"/api/v1/upcoming-invoices/?subscription={sub.pk}").json() == [body]
    assert api.get(f"/api/v1/upcoming-invoices/?customer={billed.tree['PC1'].pk}").json() == [body]
    missing = api.get("/api/v1/upcoming-invoices/")
    assert missing.status_code == 400 and "subscription" in error(missing)["fields"]
    assert api.get("/api/v1/upcoming-invoices/?subscription=abc").status_code == 400
    member = api_as(billed.tree["PC1.member"])
    assert member.get(f"/api/v1/subscriptions/{sub.pk}/upcoming-invoice/").status_code == 403
    other = api_as(billed.tree["C11.admin"])
    assert other.get(f"/api/v1/subscriptions/{sub.pk}/upcoming-invoice/").status_code == 404
    assert other.get(f"/api/v1/upcoming-invoices/?subscription={sub.pk}").status_code == 404
    assert (
        other.get(f"/api/v1/upcoming-invoices/?customer={billed.tree['PC1'].pk}").status_code == 404
    )
    reseller = api_as(billed.tree["R1.admin"])
    wrong = reseller.get(f"/api/v1/upcoming-invoices/?customer={billed.tree['R1'].pk}")
    assert wrong.status_code == 400
    c11 = reseller.get(f"/api/v1/upcoming-invoices/?customer={billed.tree['C11'].pk}").json()
    assert [x["total"] for x in c11] == ["52.80"]


def test_an_ended_subscription_has_no_upcoming_invoice(billed):
    sub = billed.subs["PC1"]
    orders.subscription_cancel(actor=billed.tree["P.admin"], subscription=sub, immediately=True)
    api = api_as(billed.tree["PC1.admin"])
    response = api.get(f"/api/v1/subscriptions/{sub.pk}/upcoming-invoice/")
    assert response.status_code == 409
    assert error(response)["message"] == (
        f"Subscription {sub.number} is cancelled; nothing more is billed."
    )
    assert api.get(f"/api/v1/upcoming-invoices/?subscription={sub.pk}").json() == []


# --- runs and issues --------------------------------------------------------------------------


def test_billing_runs_listed_and_started_by_provider_staff(
    billed, django_capture_on_commit_callbacks
):
    staff = api_as(billed.tree["P.admin"])
    listed = staff.get("/api/v1/billing-runs/").json()["results"]
    assert [(x["day"], x["state"], x["subscriptions_billed"]) for x in listed] == [
        ("2027-02-01", "succeeded", 5)
    ]
    clock.set_today(MAR_1)
    with django_capture_on_commit_callbacks(execute=True):
        started = staff.post("/api/v1/billing-runs/")
    assert started.status_code == 202 and started.json()["day"] == "2027-03-01"
    run = BillingRun.objects.get(day=MAR_1)
    assert (run.triggered_by, run.subscriptions_billed, run.errors) == (
        "p.admin@example.test",
        5,
        0,
    )
    got = staff.get(f"/api/v1/billing-runs/{run.pk}/").json()
    # five retail invoices, and the three wholesale invoices of February
    assert (got["state"], got["invoices_issued"], got["still_due"]) == ("succeeded", 8, None)
    running = BillingRun.objects.create(day=MAR_1)
    assert staff.get(f"/api/v1/billing-runs/{running.pk}/").json()["still_due"] == 0
    for key in ("P.sales", "R1.admin", "PC1.admin"):
        api = api_as(billed.tree[key])
        assert api.get("/api/v1/billing-runs/").status_code == 403, key
        assert api.post("/api/v1/billing-runs/").status_code == 403, key
        assert api.get(f"/api/v1/billing-runs/{run.pk}/").status_code == 403, key
    assert BillingRun.objects.count() == 3


def test_billing_issues_listed_and_resolved(billed):
    tree = billed.tree
    orders.subscription_change(
        actor=tree["R2.admin"], subscription=billed.subs["C21"], term="annual"
    )
    clock.set_today(MAR_1)
    billing_run(actor=RUN, day=MAR_1)
    issue = BillingIssue.objects.get()
    r2 = api_as(tree["R2.billing"])
    listed = r2.get("/api/v1/billing-issues/").json()["results"]
    assert [(x["id"], x["kind"], x["customer"]["name"]) for x in listed] == [
        (issue.pk, "price_missing", "Customer C21")
    ]
    assert api_as(tree["R1.admin"]).get("/api/v1/billing-issues/").json()["count"] == 0
    assert api_as(tree["R1.admin"]).post(
        f"/api/v1/billing-issues/{issue.pk}/resolve/"
    ).status_code == (404)
    assert api_as(tree["C21.admin"]).get(f"/api/v1/billing-issues/{issue.pk}/").status_code == 404
    assert api_as(tree["P.admin"]).post(
        f"/api/v1/billing-issues/{issue.pk}/resolve/"
    ).status_code == (403)
    assert r2.get("/api/v1/billing-issues/?state=lost").status_code == 400
    done = r2.post(f"/api/v1/billing-issues/{issue.pk}/resolve/")
    assert done.status_code == 200 and done.json()["resolved_by"] == tree["R2.billing"].pk
    assert r2.get("/api/v1/billing-issues/").json()["count"] == 0
    assert r2.get("/api/v1/billing-issues/?state=resolved").json()["count"] == 1


# --- the schema -------------------------------------------------------------------------------


def test_schema_documents_the_endpoints_and_their_errors(billed):
    response = api_as(billed.tree["P.admin"]).get("/api/schema/")
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    expected = {
        "/api/v1/invoices/": {"get": {"200", "400", "401"}},
        "/api/v1/invoices/{id}/": {"get": {"200", "401", "404"}},
        "/api/v1/invoices/{id}/void/": {"post": {"200", "400", "401", "403", "404", "409"}},
        "/api/v1/invoices/{id}/mark-uncollectible/": {"post": {"200", "401", "403", "404", "409"}},
        "/api/v1/credit-notes/": {
            "get": {"200", "400", "401"},
            "post": {"201", "400", "401", "403", "404", "409"},
        },
        "/api/v1/credit-notes/{id}/": {"get": {"200", "401", "404"}},
        "/api/v1/credit-notes/preview/": {"post": {"200", "400", "401", "403", "404", "409"}},
        "/api/v1/upcoming-invoices/": {"get": {"200", "400", "401", "403", "404"}},
        "/api/v1/subscriptions/{id}/upcoming-invoice/": {
            "get": {"200", "401", "403", "404", "409"}
        },
        "/api/v1/billing-runs/": {"get": {"200", "401", "403"}, "post": {"202", "401", "403"}},
        "/api/v1/billing-runs/{id}/": {"get": {"200", "401", "403", "404"}},
        "/api/v1/billing-issues/": {"get": {"200", "400", "401"}},
        "/api/v1/billing-issues/{id}/resolve/": {"post": {"200", "401", "403", "404"}},
    }
    for path, methods in expected.items():
        assert path in paths, path
        for method, codes in methods.items():
            responses = paths[path][method]["responses"]
            assert codes <= set(responses), (path, method, set(responses))
            for code in codes - {"200", "201", "202"}:
                ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error"
    parameters = {p["name"] for p in paths["/api/v1/invoices/"]["get"]["parameters"]}
    assert {"state", "q", "issued_from", "issued_to", "total_min", "total_max", "customer"} <= (
        parameters
    )
    line = schema["components"]["schemas"]["InvoiceLine"]["properties"]
    assert {"price", "charge", "order", "promotion", "tax_rate", "metric", "explain"} <= set(line)


def test_amounts_are_decimal_strings(billed):
    body = api_as(billed.tree["PC1.admin"]).get("/api/v1/invoices/").json()["results"][0]
    assert Decimal(body["total"]) == Decimal("146.37") and isinstance(body["total"], str)
