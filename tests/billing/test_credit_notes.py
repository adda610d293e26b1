"""Credit notes, voiding and marking uncollectible through the console pages: the preview,
the note issued, bad input said and nothing written, and who may do it (403 for those who
see the invoice but may not, 404 for everyone else). Also run on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import CreditNote, CreditNoteLine, Invoice, NumberSeries
from portal.models import AuditEvent
from tests.billing.world import text

pytestmark = pytest.mark.django_db

D = Decimal


def url(world, key: str, invoice, tail: str = "") -> str:
    return f"/console/{world.tree[key].pk}/billing/invoices/{invoice.pk}/{tail}"


def snapshot():
    return (
        list(Invoice.objects.order_by("pk").values_list("pk", "state", "total")),
        CreditNote.objects.count(),
        CreditNoteLine.objects.count(),
        list(NumberSeries.objects.order_by("pk").values_list("pk", "next_number")),
    )


def lines_of(invoice):
    return {x.kind: x for x in invoice.lines.all()}


def test_whole_invoice_credited_after_a_preview(billed, client):
    invoice = billed.invoice("PC1")  # 120.00 + 13.06, tax 13.31, total 146.37
    client.force_login(billed.tree["P.billing"])
    form = url(billed, "P", invoice, "credit-note/")
    assert "Credit note for INV-2027-00005" in text(client.get(form))
    before = snapshot()
    preview = client.post(form, {"scope": "whole", "reason": "Billed twice", "action": "preview"})
    body = text(preview)
    assert preview.status_code == 200
    assert "Credit: 1. Business, 8 seats, 01 Feb 2027 to 28 Feb 2027 120.00 USD" in body
    assert "Credit: 2. 3 more seats of Business, 9 of 31 days 13.06 USD" in body
    assert "Subtotal 133.06 USD Sales tax 10% of 133.06 13.31 USD Credit note total 146.37 USD" in (
        body
    )
    assert "Left on the invoice after it 0.00 USD" in body
    assert snapshot() == before  # a preview writes nothing and takes no number
    key = preview.context["preview_key"]
    done = client.post(
        form, {"scope": "whole", "reason": "Billed twice", "action": "confirm", "preview_key": key}
    )
    note = CreditNote.objects.get()
    assert done.status_code == 302
    assert (
        done["Location"]
        == f"/console/{billed.tree['P'].pk}/billing/invoices/credit-notes/{note.pk}/"
    )
    assert (note.number, note.total, note.reason, note.created_by) == (
        "CN-2027-00001",
        D("146.37"),
        "Billed twice",
        billed.tree["P.billing"],
    )
    response = client.get(url(billed, "P", invoice))
    page = text(response)
    assert "Credit note CN-2027-00001 was issued for INV-2027-00005." in page
    assert "Credited -146.37 USD After credits 0.00 USD" in page
    assert "CN-2027-00001" in page
    # nothing is left to credit: no more button
    assert url(billed, "P", invoice, "credit-note/") not in response.content.decode()
    assert AuditEvent.objects.filter(action="credit_note.issued").count() == 1


def test_chosen_lines_credited_in_part(billed, client):
    invoice = billed.invoice("PC1")
    lines = lines_of(invoice)
    client.force_login(billed.tree["P.admin"])
    form = url(billed, "P", invoice, "credit-note/")
    data = {
        "scope": "lines",
        "line": [lines["recurring"].pk, lines["prorated"].pk],
        f"amount_{lines['recurring'].pk}": "20.00",
        f"amount_{lines['prorated'].pk}": "",
        "reason": "Three seats were never used",
    }
    preview = client.post(form, {**data, "action": "preview"})
    body = text(preview)
    # 20.00 + 13.06 = 33.06; 10 % of it is 3.306 -> 3.31
    assert "Credit: 1. Business, 8 seats, 01 Feb 2027 to 28 Feb 2027 20.00 USD" in body
    assert "Subtotal 33.06 USD Sales tax 10% of 33.06 3.31 USD Credit note total 36.37 USD" in body
    assert "Left on the invoice after it 110.00 USD" in body
    key = preview.context["preview_key"]
    # changing the form after the preview shows the new preview instead of issuing
    changed = client.post(
        form,
        {
            **data,
            f"amount_{lines['recurring'].pk}": "25.00",
            "action": "confirm",
            "preview_key": key,
        },
    )
    assert changed.status_code == 200 and CreditNote.objects.count() == 0
    assert "The credit changed since its preview; check it and confirm." in text(changed)
    assert "Credit note total 41.87 USD" in text(changed)
    client.post(form, {**data, "action": "confirm", "preview_key": key})
    note = CreditNote.objects.get()
    assert [(x.kind, x.amount) for x in note.lines.order_by("position")] == [
        ("recurring", D("20.00")),
        ("prorated", D("13.06")),
        ("tax", D("3.31")),
    ]
    assert note.total == D("36.37")
    page = text(client.get(url(billed, "P", invoice)))
    assert "20.00 USD credited" in page and "13.06 USD credited" in page
    assert "Credited -36.37 USD After credits 110.00 USD" in page
    # what is left of the first line can still be credited, no more
    again = client.get(form)
    assert "100.00 USD" in text(again)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": "130.00"}, "Line 1 can be credited by more than 0 and at most 120.00 USD."),
        ({"amount": "0"}, "Line 1 can be credited by more than 0 and at most 120.00 USD."),
        ({"amount": "-5"}, "Line 1 can be credited by more than 0 and at most 120.00 USD."),
        ({"amount": "12,5x"}, "Give an amount such as 12.50."),
        ({"amount": "1.005"}, "USD has no fractions that small."),
        ({"reason": "  "}, "Say why the invoice is corrected."),
        ({"line": "other"}, "That line is not on this invoice."),
        ({"line": "garbage"}, "That line is not on this invoice."),
        ({"line": None}, "Choose the lines to credit."),
    ],
)
@pytest.mark.parametrize("action", ["preview", "confirm"])
def test_bad_input_is_said_and_nothing_is_written(billed, client, change, message, action):
    invoice = billed.invoice("PC1")
    recurring = lines_of(invoice)["recurring"]
    line = recurring.pk
    if change.get("line") == "other":
        line = billed.invoice("C11").lines.first().pk  # another tenant's line
    elif change.get("line") == "garbage":
        line = "1 OR 1=1"
    data = {
        "scope": "lines",
        "reason": change.get("reason", "Wrong seats"),
        f"amount_{recurring.pk}": change.get("amount", "10.00"),
        "action": action,
        "preview_key": "x",
    }
    if change.get("line", line) is not None:
        data["line"] = line
    client.force_login(billed.tree["P.billing"])
    before = snapshot()
    page = client.post(url(billed, "P", invoice, "credit-note/"), data)
    assert page.status_code == 400
    assert message in text(page)
    assert snapshot() == before


def test_a_void_invoice_cannot_be_credited(billed, client):
    from billing.services.invoices import invoice_void

    invoice = invoice_void(
        actor=billed.tree["P.admin"], invoice=billed.invoice("PC1"), reason="Issued in error"
    )
    client.force_login(billed.tree["P.billing"])
    form = url(billed, "P", invoice, "credit-note/")
    assert "it cannot be credited" in text(client.get(form))
    page = client.post(form, {"scope": "whole", "reason": "x", "action": "preview"})
    assert page.status_code == 400 and "Invoice INV-2027-00005 is void." in text(page)
    assert CreditNote.objects.count() == 0


def test_void_and_uncollectible(billed, client):
    tree = billed.tree
    invoice = billed.invoice("PC1")
    page_url = url(billed, "P", invoice)
    client.force_login(tree["P.billing"])
    body = text(client.get(page_url))
    assert "Void the invoice" in body and "Mark uncollectible" in body
    # void needs a reason
    missing = client.post(page_url, {"action": "void", "reason": ""}, follow=True)
    assert "Say why the invoice is void." in text(missing)
    invoice.refresh_from_db()
    assert invoice.state == "issued"
    done = client.post(page_url, {"action": "uncollectible"})
    assert done.status_code == 302 and done["Location"] == page_url
    invoice.refresh_from_db()
    assert invoice.state == "uncollectible"
    client.post(page_url, {"action": "void", "reason": "Customer closed"})
    invoice.refresh_from_db()
    assert (invoice.state, invoice.voided_at is not None) == ("void", True)
    reason = AuditEvent.objects.get(action="invoice.void_reason")
    assert reason.after == {"reason": "Customer closed"}
    # nothing more can be done to a void invoice
    body = text(client.get(page_url))
    assert "Void the invoice" not in body and "Mark uncollectible" not in body
    again = client.post(page_url, {"action": "uncollectible"}, follow=True)
    assert "Invoice INV-2027-00005 is void; it cannot become uncollectible." in text(again)


def test_who_may_correct_an_invoice(billed, client):
    tree = billed.tree
    invoice = billed.invoice("PC1")  # issued by the provider
    before = snapshot()
    actions = [
        ("post", "", {"action": "void", "reason": "x"}),
        ("post", "", {"action": "uncollectible"}),
        ("get", "credit-note/", None),
        ("post", "credit-note/", {"scope": "whole", "reason": "x", "action": "preview"}),
    ]
    # the customer sees the invoice but may not correct it: 403 with the reason
    client.force_login(tree["PC1.admin"])
    own = f"/portal/{tree['PC1'].pk}/invoices/{invoice.pk}/"
    for data in ({"action": "void", "reason": "x"}, {"action": "uncollectible"}):
        denied = client.post(own, data)
        assert denied.status_code == 403
        assert "Only this seller's admins and billing staff may correct its invoices." in text(
            denied
        )
    # the provider's sales people see it, may not correct it
    client.force_login(tree["P.sales"])
    for method, tail, data in actions:
        response = getattr(client, method)(url(billed, "P", invoice, tail), data or {})
        assert response.status_code == 403, (method, tail)
    # another seller does not see it at all: 404
    for key in ("R1.admin", "R2.billing", "S1.admin"):
        client.force_login(tree[key])
        org = key.split(".")[0]
        for method, tail, data in actions:
            response = getattr(client, method)(url(billed, org, invoice, tail), data or {})
            assert response.status_code == 404, (key, method, tail)
    # the provider sees its reseller's invoice, but only the reseller corrects it
    r1_invoice = billed.invoice("C11")
    client.force_login(tree["P.admin"])
    page = text(client.get(url(billed, "P", r1_invoice)))
    assert "Void the invoice" not in page and "Credit note" not in page
    for method, tail, data in actions:
        response = getattr(client, method)(url(billed, "P", r1_invoice, tail), data or {})
        assert response.status_code == 403, (method, tail)
    assert snapshot() == before
    # the reseller's billing staff do
    client.force_login(tree["R1.billing"])
    client.post(url(billed, "R1", r1_invoice), {"action": "uncollectible"})
    r1_invoice.refresh_from_db()
    assert r1_invoice.state == "uncollectible"


def test_a_reseller_cannot_correct_what_it_is_billed(billed, client):
    wholesale = billed.wholesale("R1")
    client.force_login(billed.tree["R1.admin"])
    before = snapshot()
    assert client.post(url(billed, "R1", wholesale), {"action": "uncollectible"}).status_code == (
        403
    )
    assert client.get(url(billed, "R1", wholesale, "credit-note/")).status_code == 403
    assert snapshot() == before
