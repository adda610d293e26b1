"""Billing pages: the customer's invoices, credit notes and upcoming invoices, the sellers'
lists, "why this amount", the accounting export, numbering, billing runs and issues, price
moves, and billing's parts of the order, subscription, customer and prices pages. Exact
figures from the world of ``tests/billing/world.py``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import (
    BillingIssue,
    BillingRun,
    Invoice,
    NumberSeries,
    PriceMove,
    RunState,
)
from billing.services.run import RUN, billing_run
from catalog import services as catalog_services
from orders import services as orders
from portal import clock
from tests.billing.world import FEB_1, ids, rows, text

pytestmark = pytest.mark.django_db

MAR_1, APR_1 = date(2027, 3, 1), date(2027, 4, 1)


def portal(world, key: str) -> str:
    return f"/portal/{world.tree[key].pk}"


def console(world, key: str) -> str:
    return f"/console/{world.tree[key].pk}"


# --- the customer portal ----------------------------------------------------------------------


def test_customer_sees_its_issued_invoices_with_formatted_amounts(billed, client):
    client.force_login(billed.tree["PC1.admin"])
    page = client.get(f"{portal(billed, 'PC1')}/invoices/")
    assert page.status_code == 200
    feb, jan = billed.invoice("PC1"), billed.first("PC1")
    assert rows(page) == [feb.pk, jan.pk]
    body = text(page)
    assert "INV-2027-00005 1 Feb 2027 23 Jan - 28 Feb 2027 146.37 USD 15 Feb 2027 Issued" in body
    assert "INV-2027-00001 1 Jan 2027 1 Jan - 31 Jan 2027 82.50 USD 15 Jan 2027 Issued" in body
    # the menu has the item; a member of the customer sees neither the item nor the page
    assert f'href="{portal(billed, "PC1")}/invoices/"' in page.content.decode()
    client.force_login(billed.tree["PC1.member"])
    denied = client.get(f"{portal(billed, 'PC1')}/invoices/")
    assert denied.status_code == 403
    assert "Only admins and billing people may see invoices here." in text(denied)
    overview = client.get(f"{portal(billed, 'PC1')}/").content.decode()
    assert f'href="{portal(billed, "PC1")}/invoices/"' not in overview


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["feb", "jan"]),
        ("?q=00005", ["feb"]),
        ("?q=inv-2027", ["feb", "jan"]),
        ("?state=issued", ["feb", "jan"]),
        ("?state=paid", []),
        ("?issued_from=2027-02-01", ["feb"]),
        ("?issued_to=2027-01-31", ["jan"]),
        ("?issued_from=2027-01-01&issued_to=2027-01-01", ["jan"]),
        ("?total_min=100", ["feb"]),
        ("?total_max=100", ["jan"]),
        ("?total_min=82.50&total_max=82.50", ["jan"]),
        ("?total_min=146.38", []),
    ],
)
def test_customer_filters_return_exactly_the_right_rows(billed, client, query, expected):
    named = {"feb": billed.invoice("PC1").pk, "jan": billed.first("PC1").pk}
    client.force_login(billed.tree["PC1.billing"])
    page = client.get(f"{portal(billed, 'PC1')}/invoices/{query}")
    assert rows(page) == [named[x] for x in expected]


def test_bad_filters_are_named_and_left_out(billed, client):
    client.force_login(billed.tree["PC1.admin"])
    page = client.get(
        f"{portal(billed, 'PC1')}/invoices/?total_min=lots&issued_from=yesterday&q=00005"
    )
    body = text(page)
    assert page.status_code == 200
    assert "Total from: give an amount such as 100 or 99.50." in body
    assert "Issued from: use a date such as 2027-01-31." in body
    assert rows(page) == [billed.invoice("PC1").pk]  # the good filter still applies


def test_customer_invoice_page_prints_the_frozen_details_lines_and_totals(billed, client):
    invoice = billed.invoice("PC1")
    client.force_login(billed.tree["PC1.admin"])
    page = client.get(f"{portal(billed, 'PC1')}/invoices/{invoice.pk}/")
    body = text(page)
    assert page.status_code == 200
    assert "Invoice INV-2027-00005 Issued" in body
    assert "From Provider Co" in body and "To Direct One" in body
    assert "Issued 1 Feb 2027 Due 15 Feb 2027 Period 23 Jan 2027 - 28 Feb 2027 Currency USD" in (
        body
    )
    assert "Business, 8 seats, 01 Feb 2027 to 28 Feb 2027 Service 1 Feb 2027 - 28 Feb 2027" in body
    assert "8 15.00 USD 120.00 USD" in body
    assert "3 more seats of Business, 9 of 31 days Service 23 Jan 2027 - 31 Jan 2027" in body
    assert "3 15.00 USD 13.06 USD" in body
    assert "Subtotal 133.06 USD Sales tax 10% of 133.06" in body
    assert "Total 146.37 USD" in body
    # "why this amount", unfolded in place
    assert "3 x 15.00 USD x 9/31 days = 13.06 USD" in body
    assert "10% of 133.06 USD = 13.306, rounded half-up to 13.31 USD" in body
    # the PDF link downloads the invoice's PDF
    pdf = f"{portal(billed, 'PC1')}/invoices/{invoice.pk}/pdf/"
    assert f'href="{pdf}"' in page.content.decode()
    download = client.get(pdf)
    assert (download.status_code, download["Content-Type"]) == (200, "application/pdf")
    # a customer has nothing to act on, and no link into a console or the catalog
    assert "Void the invoice" not in body and "Credit note" not in body
    assert "/console/" not in page.content.decode()


def test_why_this_amount_of_usage_discount_and_tax_lines(billed, client):
    invoice = billed.invoice("PC2")
    lines = {x.kind: x for x in invoice.lines.all()}
    client.force_login(billed.tree["PC2.admin"])
    base = f"{portal(billed, 'PC2')}/invoices/{invoice.pk}/lines"

    usage = client.get(f"{base}/{lines['usage'].pk}/")
    body = text(usage)
    assert "Why 5.26 USD ?" in body
    assert "1,650 GB-days over ÷ 31 days = 53.2258 GB-months" in body
    assert "50 x 0.10 USD + 3.2258 x 0.08 USD = 5.26 USD" in body
    assert "Days 31 of 31 days measured" in body
    assert (
        "0 to 50 GB-months 0.10 USD per GB-month above 50 GB-months 0.08 USD per GB-month" in body
    )
    assert "graduated: each unit at the price of its own tier" in body
    assert "Day GB used GB included GB over" in body
    assert "20 Jan 2027 90 100 0 21 Jan 2027 250 100 150" in body
    assert "Sum 1,650" in body
    assert usage.content.decode().count("<tr>") >= 31 + 2

    discount = text(client.get(f"{base}/{lines['discount'].pk}/"))
    assert "Why -3.00 USD ?" in discount
    assert "20% of 15.00 USD = 3.00 USD off" in discount
    assert "Promotion Welcome (code WELCOME20) Terms 20% off for 3 periods" in discount

    tax = text(client.get(f"{base}/{lines['tax'].pk}/"))
    assert "10% of 17.26 USD = 1.726, rounded half-up to 1.73 USD" in tax
    assert "Tax rate Sales tax, 10% On the lines 1, 2, 3 Taxable base 17.26 USD" in tax

    recurring = text(client.get(f"{base}/{lines['recurring'].pk}/"))
    assert "3 seats x 5.00 USD per seat = 15.00 USD" in recurring
    assert "Period 1 Feb 2027 to 28 Feb 2027 (in advance)" in recurring
    assert "Price version 5.00 USD per seat, monthly" in recurring
    # a line of another invoice, or no line at all, is a 404
    other = billed.invoice("PC1").lines.first()
    assert client.get(f"{base}/{other.pk}/").status_code == 404
    assert client.get(f"{base}/999999/").status_code == 404


def test_prorated_line_names_the_order_that_made_it(billed, client):
    invoice = billed.invoice("PC1")
    line = invoice.lines.get(kind="prorated")
    order = line.charge.order
    client.force_login(billed.tree["PC1.admin"])
    page = client.get(f"{portal(billed, 'PC1')}/invoices/{invoice.pk}/lines/{line.pk}/")
    body = text(page)
    assert "Days 23 Jan 2027 to 31 Jan 2027: 9 of 31" in body
    assert "Of the period 1 Jan 2027 to 31 Jan 2027" in body
    assert f"Made by {order.number}: 5 → 8 seats" in body
    assert f'href="{portal(billed, "PC1")}/orders/{order.pk}/"' in page.content.decode()


def test_price_links_only_to_the_sellers_own_catalog(billed, client):
    invoice = billed.invoice("C11")
    line = invoice.lines.get(kind="recurring")
    prices = f"/catalog/prices/{line.price.plan_id}/"
    client.force_login(billed.tree["R1.admin"])
    own = client.get(f"{console(billed, 'R1')}/billing/invoices/{invoice.pk}/lines/{line.pk}/")
    assert f'href="{console(billed, "R1")}{prices}"' in own.content.decode()
    client.force_login(billed.tree["P.admin"])
    above = client.get(f"{console(billed, 'P')}/billing/invoices/{invoice.pk}/lines/{line.pk}/")
    assert above.status_code == 200
    assert prices not in above.content.decode()  # R1's catalog is R1's
    assert "Price version 16.00 USD per seat, monthly" in text(above)


def test_credit_notes_tab_and_page(billed, client):
    from billing.services.credit_notes import credit_note_create

    note = credit_note_create(
        actor=billed.tree["P.billing"], invoice=billed.first("PC1"), reason="Goodwill"
    )
    client.force_login(billed.tree["PC1.admin"])
    listing = client.get(f"{portal(billed, 'PC1')}/invoices/credit-notes/")
    assert rows(listing, "data-note") == [note.pk]
    assert "CN-2027-00001" in text(listing) and "82.50 USD" in text(listing)
    detail = text(client.get(f"{portal(billed, 'PC1')}/invoices/credit-notes/{note.pk}/"))
    assert "Credit note CN-2027-00001" in detail
    assert "Corrects INV-2027-00001" in detail and "Reason: Goodwill" in detail
    assert "Subtotal 75.00 USD Sales tax 10% of 75.00 7.50 USD Total credited 82.50 USD" in (detail)
    invoice = text(client.get(f"{portal(billed, 'PC1')}/invoices/{billed.first('PC1').pk}/"))
    assert "Credited -82.50 USD After credits 0.00 USD" in invoice
    assert "Credit notes against it" in invoice


def test_upcoming_invoices_page_and_subscription_block(billed, client):
    client.force_login(billed.tree["PC2.admin"])
    body = text(client.get(f"{portal(billed, 'PC2')}/invoices/upcoming/"))
    # the second of three discounted periods; February's usage counted so far (none)
    assert "Next invoice, 1 Mar 2027" in body
    assert "Starter, 3 seats, 01 Mar 2027 to 31 Mar 2027 15.00 USD" in body
    assert "WELCOME20: 20% off for 3 periods -3.00 USD" in body
    assert "Subtotal 12.00 USD Sales tax 10% of 12.00 1.20 USD Estimated total 13.20 USD" in body
    assert "Pay-per-use so far, measured up to 01 Feb 2027" in body

    sub = billed.subs["PC1"]
    client.force_login(billed.tree["PC1.admin"])
    page = client.get(f"{portal(billed, 'PC1')}/subscriptions/{sub.pk}/")
    body = text(page)
    assert "Next invoice, 1 Mar 2027" in body
    assert "Business, 8 seats, 01 Mar 2027 to 31 Mar 2027 120.00 USD" in body
    assert "Estimated total 132.00 USD" in body
    assert "Invoices INV-2027-00005 1 Feb 2027 146.37 USD Issued" in body
    assert f'href="{portal(billed, "PC1")}/invoices/"' in page.content.decode()
    # a member sees the subscription but not the money
    client.force_login(billed.tree["PC1.member"])
    member = text(client.get(f"{portal(billed, 'PC1')}/subscriptions/{sub.pk}/"))
    assert "Next invoice" not in member and "INV-2027" not in member


def test_order_page_links_to_the_invoice_it_produced(billed, client):
    order = billed.subs["PC1"].orders.order_by("pk").first()
    client.force_login(billed.tree["PC1.admin"])
    page = client.get(f"{portal(billed, 'PC1')}/orders/{order.pk}/")
    assert "Issued as invoice INV-2027-00001 on 1 Jan 2027: 82.50 USD." in text(page)
    link = f'href="{portal(billed, "PC1")}/invoices/{billed.first("PC1").pk}/"'
    assert link in page.content.decode()
    client.force_login(billed.tree["P.admin"])
    staff = client.get(f"{console(billed, 'P')}/orders/{order.pk}/").content.decode()
    assert f'href="{console(billed, "P")}/billing/invoices/{billed.first("PC1").pk}/"' in staff
    client.force_login(billed.tree["PC1.member"])
    member = client.get(f"{portal(billed, 'PC1')}/orders/{order.pk}/")
    assert member.status_code == 200 and "Issued as invoice" not in text(member)


# --- the seller consoles ----------------------------------------------------------------------


def test_provider_list_filters_by_customer_seller_state_and_number(billed, client):
    tree = billed.tree
    client.force_login(tree["P.admin"])
    base = f"{console(billed, 'P')}/billing/invoices/"
    everything = rows(client.get(base))
    assert sorted(everything) == sorted(ids(Invoice.objects.all()))
    assert rows(client.get(f"{base}?customer={tree['PC2'].pk}")) == [
        billed.invoice("PC2").pk,
        billed.first("PC2").pk,
    ]
    assert sorted(rows(client.get(f"{base}?seller={tree['R1'].pk}"))) == sorted(
        ids(Invoice.objects.filter(seller=tree["R1"]))
    )
    assert sorted(rows(client.get(f"{base}?state=draft"))) == sorted(
        ids(Invoice.objects.filter(state="draft"))
    )
    # numbers are per seller: four sellers have an INV-2027-00001
    assert len(rows(client.get(f"{base}?q=INV-2027-00001"))) == 4
    assert rows(client.get(f"{base}?q=00006")) == [billed.invoice("PC2").pk]
    assert rows(client.get(f"{base}?total_min=95&total_max=96")) == [billed.wholesale("R1").pk]
    body = text(client.get(base))
    assert "Export for accounting" in body and "Numbering" in body


def test_reseller_sees_its_tree_and_what_it_is_billed_separately(billed, client):
    tree = billed.tree
    client.force_login(tree["R1.admin"])
    base = f"{console(billed, 'R1')}/billing/invoices/"
    mine = Invoice.objects.filter(buyer__path__startswith=tree["R1"].path).exclude(buyer=tree["R1"])
    page = client.get(base)
    assert sorted(rows(page)) == sorted(ids(mine))
    assert billed.wholesale("R1").pk not in rows(page)
    received = client.get(f"{console(billed, 'R1')}/billing/invoices/received/")
    assert rows(received) == [billed.wholesale("R1").pk]  # issued; the March draft is not shown
    body = text(received)
    assert "Invoices to you" in body and "95.25 USD" in body
    detail = client.get(f"{console(billed, 'R1')}/billing/invoices/{billed.wholesale('R1').pk}/")
    assert detail.status_code == 200
    body = text(detail)
    assert "Read only" in body
    assert "Void the invoice" not in body and "Credit note" not in body
    # the reseller's sales people see its customers' invoices, not what it is billed
    client.force_login(tree["R1.sales"])
    assert "Invoices to you" not in text(client.get(base))
    assert client.get(f"{console(billed, 'R1')}/billing/invoices/received/").status_code == 403


def test_console_customer_page_shows_its_invoices_and_upcoming_invoice(billed, client):
    client.force_login(billed.tree["P.billing"])
    page = client.get(f"{console(billed, 'P')}/orgs/{billed.tree['PC1'].pk}/")
    body = text(page)
    assert "Invoices Number Issued Total Due State INV-2027-00005 1 Feb 2027 146.37 USD" in body
    assert "Upcoming invoice, 1 Mar 2027" in body and "Estimated total 132.00 USD" in body
    assert f"/billing/invoices/?customer={billed.tree['PC1'].pk}" in page.content.decode()


def test_accounting_export_of_invoices_and_lines(billed, client):
    client.force_login(billed.tree["P.billing"])
    url = f"{console(billed, 'P')}/billing/invoices/export/"
    response = client.get(url + "?what=invoices")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="provider-co-invoices-' in response["Content-Disposition"]
    assert b"".join(response.streaming_content).decode().splitlines() == [
        "number,issued_on,due_on,service_from,service_to,buyer,buyer_tax_id,currency,"
        "subtotal,tax_10%,tax_total,total,credited,state",
        "INV-2027-00001,2027-01-01,2027-01-15,2027-01-01,2027-01-31,Direct One,,USD,"
        "75.00,7.50,7.50,82.50,0.00,issued",
        "INV-2027-00002,2027-01-01,2027-01-15,2027-01-01,2027-01-31,Direct Two,,USD,"
        "12.00,1.20,1.20,13.20,0.00,issued",
        "INV-2027-00003,2027-02-01,2027-02-15,2027-01-01,2027-01-31,Reseller R1,,USD,"
        "86.59,8.66,8.66,95.25,0.00,issued",
        "INV-2027-00004,2027-02-01,2027-02-15,2027-01-01,2027-01-31,Reseller R2,,USD,"
        "35.49,3.55,3.55,39.04,0.00,issued",
        "INV-2027-00005,2027-02-01,2027-02-15,2027-01-23,2027-02-28,Direct One,,USD,"
        "133.06,13.31,13.31,146.37,0.00,issued",
        "INV-2027-00006,2027-02-01,2027-02-15,2027-01-01,2027-02-28,Direct Two,,USD,"
        "17.26,1.73,1.73,18.99,0.00,issued",
    ]
    lines = client.get(url + "?what=lines&issued_from=2027-02-01&issued_to=2027-02-28&q=00006")
    p2 = f"S-{billed.subs['PC2'].pk:06d}"
    assert b"".join(lines.streaming_content).decode().splitlines() == [
        "invoice_number,issued_on,buyer,currency,position,kind,description,subscription,"
        "service_from,service_to,quantity,unit_price,amount,tax_rate",
        f'INV-2027-00006,2027-02-01,Direct Two,USD,1,recurring,"Starter, 3 seats, 01 Feb 2027 '
        f'to 28 Feb 2027",{p2},2027-02-01,2027-02-28,3,5.00,15.00,10',
        f"INV-2027-00006,2027-02-01,Direct Two,USD,2,discount,WELCOME20: 20% off for 3 periods,"
        f"{p2},2027-02-01,2027-02-28,1,-3.00,-3.00,10",
        f'INV-2027-00006,2027-02-01,Direct Two,USD,3,usage,"Storage over the included quota, '
        f'53.2258 GB-months, 01 Jan 2027 to 31 Jan 2027",{p2},2027-01-01,2027-01-31,53.2258,'
        "0.0988,5.26,10",
        "INV-2027-00006,2027-02-01,Direct Two,USD,4,tax,Sales tax 10% of 17.26,,,,1,1.73,1.73,10",
    ]
    # only the seller's own invoices: R1's export has R1's, not S1's
    client.force_login(billed.tree["R1.billing"])
    r1 = client.get(f"{console(billed, 'R1')}/billing/invoices/export/?what=invoices")
    numbers = [row.split(",")[0] for row in b"".join(r1.streaming_content).decode().splitlines()]
    assert numbers == ["number", "INV-2027-00001", "INV-2027-00002", "INV-2027-00003"]
    # sales people may not export; a bad period is said, not exported
    client.force_login(billed.tree["R1.sales"])
    assert client.get(f"{console(billed, 'R1')}/billing/invoices/export/").status_code == 403
    client.force_login(billed.tree["P.billing"])
    bad = client.get(url + "?issued_from=01/02/2027", follow=True)
    assert "Issued from: use a date such as 2027-01-31." in text(bad)


def test_list_pages_cost_the_same_queries_whatever_the_number_of_invoices(billed, client):
    tree = billed.tree
    urls = [
        ("PC1.admin", f"{portal(billed, 'PC1')}/invoices/"),
        ("PC1.admin", f"{portal(billed, 'PC1')}/invoices/credit-notes/"),
        ("P.admin", f"{console(billed, 'P')}/billing/invoices/"),
        ("P.admin", f"{console(billed, 'P')}/billing/invoices/credit-notes/"),
        ("R1.admin", f"{console(billed, 'R1')}/billing/invoices/received/"),
    ]

    def counts():
        result = []
        for user, url in urls:
            client.force_login(tree[user])
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            result.append(len(queries))
        return result

    from billing.services.credit_notes import credit_note_create

    credit_note_create(actor=tree["P.billing"], invoice=billed.first("PC1"), reason="x")
    counts()  # warm: what is cached per process (brands, hosts) is read once
    before = counts()
    invoices_before = Invoice.objects.count()
    for day in (MAR_1, APR_1, date(2027, 5, 1)):
        clock.set_today(day)
        billing_run(actor=RUN, day=day)
    for invoice in Invoice.objects.filter(buyer=tree["PC1"], state="issued")[:3]:
        credit_note_create(actor=tree["P.billing"], invoice=invoice, reason="again")
    assert Invoice.objects.count() >= invoices_before + 12
    assert counts() == before


def test_numbering_settings(billed, client):
    tree = billed.tree
    url = f"{console(billed, 'R1')}/billing/invoices/numbering/"
    client.force_login(tree["R1.billing"])
    assert "Next: INV-2027-00004" in text(client.get(url))
    done = client.post(url, {"kind": "invoice", "prefix": "R1-{year}/", "padding": "3"})
    assert done.status_code == 302 and done["Location"] == url
    series = NumberSeries.objects.get(seller=tree["R1"], kind="invoice")
    assert (series.prefix, series.padding, series.next_number) == ("R1-{year}/", 3, 4)
    assert "Next: R1-2027/004" in text(client.get(url))
    # bad input: said on the form, nothing changes
    for bad, message in (
        ({"prefix": "", "padding": "3"}, "A prefix of 1 to 20 characters is required."),
        ({"prefix": "X-{month}", "padding": "3"}, "Only {year} may appear in braces."),
        ({"prefix": "X", "padding": "20"}, "Between 1 and 12 digits."),
        ({"prefix": "X", "padding": "five"}, "Give the number of digits."),
    ):
        page = client.post(url, {"kind": "invoice", **bad})
        assert page.status_code == 400 and message in text(page)
    series.refresh_from_db()
    assert (series.prefix, series.padding) == ("R1-{year}/", 3)
    # sales people may not change it; another seller's page is not the reseller's
    client.force_login(tree["R1.sales"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"kind": "invoice", "prefix": "Y", "padding": "2"}).status_code == 403
    client.force_login(tree["R2.admin"])
    assert client.get(url).status_code == 404
    series.refresh_from_db()
    assert series.prefix == "R1-{year}/"


# --- runs and issues --------------------------------------------------------------------------


def test_run_billing_now_starts_a_run_as_the_person(
    billed, client, django_capture_on_commit_callbacks
):
    tree = billed.tree
    url = f"{console(billed, 'P')}/billing/runs/"
    client.force_login(tree["P.billing"])
    page = client.get(url)
    assert page.status_code == 200
    assert "Run billing now" in text(page) and "1 Feb 2027 Finished" in text(page)
    clock.set_today(MAR_1)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(url, {"action": "run"})
    assert started.status_code == 302 and started["Location"] == url
    run = BillingRun.objects.get(day=MAR_1)
    assert (run.state, run.triggered_by, run.subscriptions_billed, run.errors) == (
        RunState.SUCCEEDED,
        "p.billing@example.test",
        5,
        0,
    )
    assert Invoice.objects.filter(billing_day=MAR_1, source="period", state="issued").count() == 5
    # the task goes to the billing workers
    from portal.celery import app

    assert app.amqp.router.route({}, "billing.tasks.billing_run_now")["queue"].name == "billing"
    body = text(client.get(url))
    assert "Billing for 01 Mar 2027 has started" in body
    assert "1 Mar 2027 Finished" in body and "p.billing@example.test" in body


def test_a_running_run_shows_its_progress_and_refreshes(billed, client):
    clock.set_today(MAR_1)
    BillingRun.objects.create(day=MAR_1, triggered_by="p.admin@example.test")
    client.force_login(billed.tree["P.admin"])
    page = client.get(f"{console(billed, 'P')}/billing/runs/")
    assert '<meta http-equiv="refresh" content="5">' in page.content.decode()
    assert "5 subscriptions still to bill" in text(page)


def test_runs_are_the_providers_admins_and_billing_staffs(billed, client):
    tree = billed.tree
    url = f"{console(billed, 'P')}/billing/runs/"
    client.force_login(tree["P.sales"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"action": "run"}).status_code == 403
    client.force_login(tree["R1.admin"])
    assert client.get(f"{console(billed, 'R1')}/billing/runs/").status_code == 404
    assert BillingRun.objects.count() == 1


def test_billing_issue_is_fixed_and_billed_by_the_next_run(billed, client):
    tree = billed.tree
    sub = billed.subs["C21"]
    orders.subscription_change(actor=tree["R2.admin"], subscription=sub, term="annual")
    clock.set_today(MAR_1)
    assert billing_run(actor=RUN, day=MAR_1).issues_opened == 1
    issue = BillingIssue.objects.get()
    url = f"{console(billed, 'R2')}/billing/issues/"
    client.force_login(tree["R2.billing"])
    body = text(client.get(url))
    assert "Customer C21" in body
    assert (
        "No price Reseller R2 has no retail annual price for Business in USD on 01 Mar 2027."
        in (body)
    )
    assert "Fixed, bill it again" in body
    # the provider sees it, but it is R2's to fix
    client.force_login(tree["P.admin"])
    above = text(client.get(f"{console(billed, 'P')}/billing/issues/"))
    assert "Customer C21" in above and "Reseller R2's staff fix it" in above
    assert client.post(
        f"{console(billed, 'P')}/billing/issues/", {"issue": issue.pk}
    ).status_code == (403)
    # R2 adds the price and marks it fixed; the next run bills it
    from tests.catalog.builders import price

    price(tree["R2"], billed.catalog["business"], "175.00", term="annual")
    client.force_login(tree["R2.billing"])
    done = client.post(url, {"issue": issue.pk})
    assert done.status_code == 302
    issue.refresh_from_db()
    assert issue.resolved_at is not None and issue.resolved_by == tree["R2.billing"]
    assert "Nothing is waiting" in text(client.get(url))
    assert billing_run(actor=RUN, day=MAR_1).subscriptions_billed == 1
    march = Invoice.objects.get(buyer=tree["C21"], billing_day=MAR_1)
    assert [(x.kind, x.amount) for x in march.lines.order_by("position")] == [
        ("recurring", Decimal("525.00"))
    ]


# --- moving running subscriptions to a new price ---------------------------------------------


def test_price_move_preview_schedule_notice_and_renewal(
    billed, client, django_capture_on_commit_callbacks
):
    tree = billed.tree
    business = billed.catalog["business"]
    new = catalog_services.price_create(
        actor=tree["R1.admin"],
        seller=tree["R1"],
        plan=business,
        audience="retail",
        currency="USD",
        term="monthly",
        recurring="17.00",
        valid_from=FEB_1,
    )
    prices = f"{console(billed, 'R1')}/catalog/prices/{business.pk}/"
    client.force_login(tree["R1.admin"])
    body = text(client.get(prices))
    assert (
        "1 running subscription is on an older version of the USD monthly price. "
        "Move it to 17.00 USD per seat?" in body
    )
    url = f"{console(billed, 'R1')}/billing/price-moves/?price={new.pk}"
    preview = client.get(url)
    body = text(preview)
    assert "1 subscription move +3.00 USD change per month" in body
    assert "3 Mar 2027 earliest day it applies (30 days' notice)" in body
    assert "Customer C11" in body and "3 16.00 USD 17.00 USD +3.00 USD" in body
    key = preview.context["preview_key"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            f"{console(billed, 'R1')}/billing/price-moves/",
            {"price": new.pk, "preview_key": key},
        )
    assert done.status_code == 302 and done["Location"] == prices
    move = PriceMove.objects.get()
    assert (move.subscription, move.to_price, move.effective_from, move.state) == (
        billed.subs["C11"],
        new,
        date(2027, 3, 3),
        "scheduled",
    )
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["c11.admin@example.test", "c11.billing@example.test"]
    assert "17.00" in mail.outbox[0].body
    listed = text(client.get(prices))
    assert "Scheduled price changes" in listed
    assert "Customer C11" in listed and "first renewal on or after 3 Mar 2027" in listed
    # March renews before the notice has run out; April at the new price
    for day in (MAR_1, APR_1):
        clock.set_today(day)
        billing_run(actor=RUN, day=day)
    amounts = [
        Invoice.objects.get(buyer=tree["C11"], billing_day=day).lines.get(kind="recurring").amount
        for day in (MAR_1, APR_1)
    ]
    assert amounts == [Decimal("48.00"), Decimal("51.00")]
    move.refresh_from_db()
    assert move.state == "applied"


def test_price_move_withdrawn_and_refused_to_others(billed, client):
    tree = billed.tree
    business = billed.catalog["business"]
    new = catalog_services.price_create(
        actor=tree["R1.admin"],
        seller=tree["R1"],
        plan=business,
        audience="retail",
        currency="USD",
        term="monthly",
        recurring="17.00",
        valid_from=FEB_1,
    )
    client.force_login(tree["R1.admin"])
    base = f"{console(billed, 'R1')}/billing/price-moves/"
    key = client.get(f"{base}?price={new.pk}").context["preview_key"]
    # a stale preview is shown again, not confirmed
    stale = client.post(base, {"price": new.pk, "preview_key": "old"})
    assert stale.status_code == 200 and PriceMove.objects.count() == 0
    client.post(base, {"price": new.pk, "preview_key": key})
    move = PriceMove.objects.get()
    # another reseller, and R1's billing staff, may not withdraw it
    client.force_login(tree["R2.admin"])
    assert client.post(
        f"/console/{tree['R2'].pk}/billing/price-moves/{move.pk}/withdraw/"
    ).status_code == (404)
    assert client.get(
        f"/console/{tree['R2'].pk}/billing/price-moves/?price={new.pk}"
    ).status_code == (404)
    client.force_login(tree["R1.billing"])
    assert client.post(f"{base}{move.pk}/withdraw/").status_code == 403
    move.refresh_from_db()
    assert move.state == "scheduled"
    client.force_login(tree["R1.admin"])
    assert client.post(f"{base}{move.pk}/withdraw/").status_code == 302
    move.refresh_from_db()
    assert move.state == "withdrawn"
    clock.set_today(APR_1)
    billing_run(actor=RUN, day=MAR_1)
    billing_run(actor=RUN, day=APR_1)
    april = Invoice.objects.get(buyer=tree["C11"], billing_day=APR_1)
    assert april.lines.get(kind="recurring").amount == Decimal("48.00")
