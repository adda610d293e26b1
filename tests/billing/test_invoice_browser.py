"""In a real Chromium: a reseller's customer opens its invoice, follows "why this amount" from
the pay-per-use line to the usage behind it, and downloads the PDF, whose text shows the
reseller's name, the invoice number and the totals."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.models import Invoice
from billing.services import usage
from billing.services.run import RUN, billing_run
from portal.actors import system
from portal.money import format_money
from tests.billing.conftest import GIB, MIB, on_day, remote_of, users_of, with_seats
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECTOR = system("usage-collection")
JAN_1, FEB_1 = date(2027, 1, 1), date(2027, 2, 1)


def test_a_customer_follows_why_this_amount_to_its_usage_and_downloads_the_pdf(
    live_server, page, tree, catalog, listing, tmp_path
):
    # given: C11 (Reseller R1's customer) on Starter (100 GB pooled; over it priced per
    # GB-month), 130 GB stored every day of January, billed by the run on 1 February
    sub = with_seats(tree, catalog, listing, customer="C11", offer="R1.starter", seats=1)
    people = users_of(sub)
    for n in range(31):
        day = JAN_1 + timedelta(days=n)
        on_day(day)
        listing.box[sub.box_account.box_enterprise_id] = [
            remote_of(people["admin"], space_used=0),
            remote_of(people["person0"], space_used=130 * GIB + 5 * MIB * n),
        ]
        collection = usage.usage_collection_request(
            account=sub.box_account, day=day, actor=COLLECTOR
        )
        usage.usage_collection_collect(collection=collection, actor=COLLECTOR)
    on_day(FEB_1)
    billing_run(actor=RUN, day=FEB_1)
    invoice = Invoice.objects.get(buyer=tree["C11"], billing_day=FEB_1, source="period")
    usage_line = invoice.lines.get(kind="usage")
    assert usage_line.amount > Decimal("3.00")

    # when: the customer's admin signs in and opens the invoice from the list
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("c11.admin@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r".*/portal/\d+/.*"))
    page.goto(f"{live_server.url}/portal/{tree['C11'].pk}/invoices/")
    page.get_by_role("link", name=invoice.number).click()
    page.wait_for_url(re.compile(rf".*/invoices/{invoice.pk}/$"))
    assert page.get_by_text(format_money(invoice.total, "USD")).first.is_visible()

    # then: "why this amount" on the pay-per-use line shows the usage of each day behind it
    row = page.locator("tr", has_text="Storage over the included quota").first
    row.get_by_text("Why this amount?").click()
    days = row.get_by_test_id("why-days")
    days.wait_for()
    text = days.inner_text()
    assert "15 Jan" in text or "2027-01-15" in text
    assert len(days.locator("tbody tr").all()) == 31
    # and its own page says the same
    row.get_by_role("link", name="Open on its own page").click()
    page.wait_for_url(re.compile(rf".*/lines/{usage_line.pk}/$"))
    assert page.get_by_test_id("why-amount").inner_text() == format_money(usage_line.amount, "USD")

    # and the PDF downloads, with the reseller's name, the number and the totals in its text
    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("PDF")).first.click()
    path = tmp_path / "invoice.pdf"
    download.value.save_as(path)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)
    assert "Reseller R1" in text
    assert invoice.number in text
    for amount in (invoice.subtotal, invoice.tax_total, invoice.total):
        assert f"{amount:,.2f}" in text
