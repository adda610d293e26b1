"""A German customer's invoice: the PDF and the e-mail that carries it are written in German
(the customer's language when the invoice was issued), with the same figures."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail

from tests.billing.conftest import order
from tests.billing.test_pdf import deliver, pdf_text, storage_roots, stored  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_german_customer_gets_a_german_invoice_and_e_mail(
    tree, world, fake, django_capture_on_commit_callbacks
):
    tree["C11"].language = "de"
    tree["C11"].save(update_fields=["language"])
    invoice = order(
        tree, world["r1_offer"], customer="C11", quantity=100, day=date(2027, 1, 1), fake=fake
    ).first_invoice
    assert invoice.language == "de"
    assert deliver(invoice, django_capture_on_commit_callbacks) == "emailed"
    text = pdf_text(stored(invoice))
    for words in (
        "Rechnung",
        "Rechnungsnummer INV-2027-00001",
        "Ausstellungsdatum",
        "RECHNUNGSEMPFÄNGER",
        "Zwischensumme 1,600.00 USD",
        "Gesamtbetrag 1,760.00 USD",
    ):
        assert words in text, words
    assert "Invoice number" not in text and "Subtotal" not in text
    (message,) = mail.outbox
    assert message.subject == "Rechnung INV-2027-00001 von Reseller R1"
    assert message.body.startswith("Hallo Customer C11,")
    assert "Gesamtbetrag: 1,760.00 USD" in message.body


def test_an_english_customer_of_the_same_reseller_still_gets_english(
    tree, world, fake, django_capture_on_commit_callbacks
):
    invoice = order(
        tree, world["r1_offer"], customer="C11", quantity=100, day=date(2027, 1, 1), fake=fake
    ).first_invoice
    deliver(invoice, django_capture_on_commit_callbacks)
    text = pdf_text(stored(invoice))
    assert "Invoice number INV-2027-00001" in text and "Rechnung" not in text
    assert mail.outbox[0].subject == "Invoice INV-2027-00001 from Reseller R1"
