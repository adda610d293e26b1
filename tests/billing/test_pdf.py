"""Invoice and credit note PDFs: a real invoice (an order of a reseller's customer, then the
billing run) rendered with the reseller's brand and exact figures, stored once in private
storage with its SHA-256, e-mailed once with the PDF attached, failures recorded and rendered
later by the command, and every download looked up inside what the person may see."""

from __future__ import annotations

import hashlib
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from billing import pdf
from billing.models import CreditNoteEmail, Invoice, PdfState
from billing.services import documents
from billing.services.credit_notes import credit_note_create
from billing.services.invoices import number_series_update
from billing.tasks import pdf_credit_note_document, pdf_invoice_document
from portal import services as portal_services
from portal.models import Membership
from portal.storage import private_storage
from tests.billing.conftest import SYSTEM, order, run_on

pytestmark = pytest.mark.django_db

D = Decimal


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def stored(doc) -> bytes:
    with private_storage().open(doc.pdf.name, "rb") as handle:
        return handle.read()


def logo_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), "#0a7d4f").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    """Private and public files of each test in folders of its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def branded(tree):
    """Reseller R1's brand as printed on its invoices, and its customer C11's details."""
    brand = tree["R1"].brand
    portal_services.brand_update(
        actor=SYSTEM,
        brand=brand,
        logo=ContentFile(logo_png(), name="r1-logo.png"),
        legal_name="R1 Reseller Ltd",
        legal_address="1 Harbour Street\nPortsmouth PO1 1AA\nUnited Kingdom",
        invoice_footer="R1 Reseller Ltd, registered in England no. 0123456",
        primary_color="#0a7d4f",
        accent_color="#d94f00",
        support_email="accounts@r1.test",
        invoice_payment_terms_days=30,
    )
    r1 = tree["R1"]
    r1.tax_id = "GB123456789"
    r1.save(update_fields=["tax_id"])
    c11 = tree["C11"]
    c11.address_line1 = "9 Quay Road"
    c11.city = "Bristol"
    c11.postal_code = "BS1 4AB"
    c11.tax_id = "GB987654321"
    c11.save()
    return brand


@pytest.fixture
def invoice(tree, world, fake, branded) -> Invoice:
    """R1's first invoice to its customer C11: 100 Business seats at 16.00, 10 % tax."""
    placed = order(
        tree, world["r1_offer"], customer="C11", quantity=100, day=date(2027, 1, 1), fake=fake
    )
    return placed.first_invoice


def deliver(invoice_or_note, capture) -> str:
    """Run the document's PDF task as the worker would, with the e-mail sent after commit."""
    is_invoice = isinstance(invoice_or_note, Invoice)
    task = pdf_invoice_document if is_invoice else pdf_credit_note_document
    with capture(execute=True):
        result = task.apply(args=[invoice_or_note.pk]).get()
    invoice_or_note.refresh_from_db()
    return result


# --- rendering ---------------------------------------------------------------------------------


def test_a_resellers_invoice_is_rendered_with_its_brand_and_exact_figures(
    invoice, django_capture_on_commit_callbacks
):
    assert (invoice.seller.name, invoice.number) == ("Reseller R1", "INV-2027-00001")
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        D("1600.00"),
        D("160.00"),
        D("1760.00"),
    )
    assert invoice.pdf_state == PdfState.NONE and not invoice.pdf

    assert deliver(invoice, django_capture_on_commit_callbacks) == "emailed"

    assert invoice.pdf_state == PdfState.READY and invoice.pdf_error == ""
    data = stored(invoice)
    assert data.startswith(b"%PDF-")
    assert invoice.pdf_sha256 == hashlib.sha256(data).hexdigest()
    assert invoice.pdf.name.startswith(f"invoices/{invoice.seller_id}/INV-2027-00001")
    text = pdf_text(data)
    for expected in (
        "R1 Reseller Ltd",  # the reseller's legal name, not the provider's
        "1 Harbour Street",
        "Tax ID: GB123456789",
        "accounts@r1.test",
        "Customer C11",
        "9 Quay Road",
        "BS1 4AB Bristol",
        "Tax ID: GB987654321",
        "INV-2027-00001",
        "Due date",
        "Service period 1 Jan 2027 \u2013 31 Jan 2027",
        "100 16.00 1,600.00",  # quantity, unit price, amount of the line
        "Subtotal 1,600.00 USD",
        "Sales tax 10% on 1,600.00 160.00 USD",
        "Total 1,760.00 USD",
        "Payment terms: 30 days.",
        "registered in England no. 0123456",
    ):
        assert expected in text, expected
    assert "Provider Co" not in text
    assert "Reverse charge" not in text
    # the logo is drawn from storage (no network): one image on the page
    assert len(pypdf.PdfReader(io.BytesIO(data)).pages[0].images) == 1


def test_a_second_render_changes_nothing(invoice, django_capture_on_commit_callbacks):
    deliver(invoice, django_capture_on_commit_callbacks)
    name, digest, data = invoice.pdf.name, invoice.pdf_sha256, stored(invoice)
    path = Path(private_storage().path(name))
    mtime = path.stat().st_mtime_ns

    again = documents.invoice_render(actor=documents.PDF, invoice=invoice)
    deliver(invoice, django_capture_on_commit_callbacks)

    assert (again.pdf.name, again.pdf_sha256) == (name, digest)
    invoice.refresh_from_db()
    assert (invoice.pdf.name, invoice.pdf_sha256) == (name, digest)
    assert stored(invoice) == data and path.stat().st_mtime_ns == mtime
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_the_invoice_is_emailed_to_the_billing_person_once_with_the_pdf(
    tree, invoice, django_capture_on_commit_callbacks
):
    deliver(invoice, django_capture_on_commit_callbacks)
    deliver(invoice, django_capture_on_commit_callbacks)  # the task runs again
    with django_capture_on_commit_callbacks(execute=True):
        assert documents.invoice_email(actor=documents.PDF, invoice=invoice) is False

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["c11.billing@example.test"]
    assert message.from_email.startswith(tree["R1"].brand.name)  # the seller's brand
    assert message.reply_to == ["accounts@r1.test"]
    assert "INV-2027-00001" in message.subject
    assert "1,760.00 USD" in message.body
    assert invoice.due_on.strftime("%-d %B %Y") in message.body
    link = f"http://r1.test:8000/portal/{tree['C11'].pk}/invoices/{invoice.pk}/pdf/"
    assert link in message.body
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == ("INV-2027-00001.pdf", "application/pdf")
    assert content == stored(invoice)
    invoice.refresh_from_db()
    assert invoice.emailed_at is not None


def test_a_retry_after_a_crash_between_marking_and_sending_sends_nothing_twice(
    invoice, django_capture_on_commit_callbacks
):
    # The worker marks the invoice e-mailed and dies before the message is queued (the
    # on-commit callbacks never run): a retried task must not send it a second time.
    documents.invoice_render(actor=documents.PDF, invoice=invoice)
    with django_capture_on_commit_callbacks(execute=False):
        assert documents.invoice_email(actor=documents.PDF, invoice=invoice) is True
    assert deliver(invoice, django_capture_on_commit_callbacks) == "rendered"
    assert mail.outbox == []


def test_admins_get_it_when_the_buyer_has_no_billing_person(
    tree, invoice, django_capture_on_commit_callbacks
):
    Membership.objects.filter(organization=tree["C11"], role="billing").update(is_active=False)
    deliver(invoice, django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [["c11.admin@example.test"]]


def test_a_failed_render_is_recorded_and_the_command_renders_it_later(
    invoice, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []

    def broken(html, **kwargs):
        calls.append(1)
        raise RuntimeError("Pango could not load a font")

    conf = pdf_invoice_document.app.conf
    propagates = conf.task_eager_propagates
    # Retries run inline when eager, as long as errors are not re-raised to the caller.
    conf.task_eager_propagates = False
    try:
        with monkeypatch.context() as patch:
            patch.setattr(pdf, "html_to_pdf", broken)
            assert deliver(invoice, django_capture_on_commit_callbacks) == "failed"
            assert len(calls) == 1 + pdf_invoice_document.max_retries  # retried, bounded
            assert invoice.pdf_state == PdfState.FAILED
            assert invoice.pdf_error == "RuntimeError: Pango could not load a font"
            assert not invoice.pdf and invoice.pdf_sha256 == "" and mail.outbox == []
            with pytest.raises(CommandError):
                call_command(
                    "invoices_render", "--missing", stdout=io.StringIO(), stderr=io.StringIO()
                )
    finally:
        conf.task_eager_propagates = propagates
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("invoices_render", "--missing", stdout=out)
    assert "1 PDFs rendered, 1 e-mailed, 0 failed." in out.getvalue()
    invoice.refresh_from_db()
    assert invoice.pdf_state == PdfState.READY and invoice.pdf_error == ""
    assert invoice.pdf_sha256 == hashlib.sha256(stored(invoice)).hexdigest()
    assert len(mail.outbox) == 1
    # nothing left to do
    out = io.StringIO()
    call_command("invoices_render", "--missing", stdout=out)
    assert "0 PDFs rendered, 0 e-mailed, 0 failed." in out.getvalue()


def test_the_command_needs_to_be_told_what_to_render():
    with pytest.raises(CommandError, match="--missing"):
        call_command("invoices_render")


def test_reverse_charge_is_printed_with_the_buyers_tax_id(tree, world, fake):
    c12 = tree["C12"]
    c12.tax_exempt, c12.tax_id = True, "DE811907980"
    c12.save(update_fields=["tax_exempt", "tax_id"])
    placed = order(tree, world["r1_offer"], customer="C12", day=date(2027, 1, 1), fake=fake)
    invoice = placed.first_invoice
    assert invoice.reverse_charge and invoice.tax_total == 0
    invoice = documents.invoice_render(actor=documents.PDF, invoice=invoice)
    text = pdf_text(stored(invoice))
    assert "Reverse charge: tax to be accounted for by the recipient" in text
    assert "Recipient's tax ID: DE811907980" in text
    assert "Total 80.00 USD" in text


def test_a_wholesale_invoice_looks_the_same(tree, world, fake):
    order(tree, world["r1_offer"], customer="C11", day=date(2027, 1, 1), fake=fake)
    run_on(date(2027, 2, 1))
    wholesale = Invoice.objects.get(
        seller=tree["P"], buyer=tree["R1"], source="wholesale", state="issued"
    )
    wholesale = documents.invoice_render(actor=documents.PDF, invoice=wholesale)
    text = pdf_text(stored(wholesale))
    assert "Provider Co" in text and "Reseller R1" in text
    assert wholesale.number in text and "Total 66.00 USD" in text
    # its link points at the reseller's own console
    url = documents.portal_url(tree["R1"], "invoice_pdf", invoice_id=wholesale.pk)
    assert url == f"http://r1.test:8000/console/{tree['R1'].pk}/invoices/{wholesale.pk}/pdf/"


def test_a_credit_note_says_which_invoice_it_corrects_and_why(
    tree, invoice, django_capture_on_commit_callbacks
):
    deliver(invoice, django_capture_on_commit_callbacks)
    note = credit_note_create(
        actor=tree["R1.billing"], invoice=invoice, reason="Seats were never used."
    )
    assert deliver(note, django_capture_on_commit_callbacks) == "emailed"
    assert deliver(note, django_capture_on_commit_callbacks) == "rendered"
    assert note.pdf_state == PdfState.READY
    data = stored(note)
    assert note.pdf_sha256 == hashlib.sha256(data).hexdigest()
    text = pdf_text(data)
    for expected in (
        "CREDIT NOTE",
        note.number,
        "Corrects invoice INV-2027-00001",
        "This credit note corrects invoice INV-2027-00001.",
        "Reason: Seats were never used.",
        "R1 Reseller Ltd",
        "Total credited 1,760.00 USD",
    ):
        assert expected in text, expected
    subjects = [m.subject for m in mail.outbox][1:]
    assert subjects == [f"Credit note {note.number} from R1 Reseller Ltd"]
    [(filename, content, _)] = mail.outbox[1].attachments
    assert (filename, content) == (f"{note.number}.pdf", data)
    assert CreditNoteEmail.objects.get(credit_note=note).recipients == ["c11.billing@example.test"]


def test_amounts_use_the_currencys_minor_units_and_thousands():
    assert pdf.amount(D("1234567.5"), "USD") == "1,234,567.50"
    assert pdf.amount(D("1234567.5"), "JPY") == "1,234,568"
    assert pdf.unit_price(D("0.0125"), "USD") == "0.0125"
    assert pdf.unit_price(D("16.0000"), "USD") == "16.00"
    assert pdf.quantity(D("1200.0000")) == "1,200"
    assert pdf.quantity(D("12.5000")) == "12.5"


def test_rendering_fetches_nothing_from_the_network():
    from weasyprint.urls import URLFetchingError, fetch

    fetcher = pdf.fetcher({"brands/allowed.png"})
    for url in (
        "http://example.com/logo.png",
        "https://example.com/font.woff",
        "file:///etc/passwd",
        "portal-media:brands/other.png",
        "portal-static:../../etc/passwd",  # repo-paths: allow
    ):
        with pytest.raises(URLFetchingError), fetch(fetcher, url):
            pass
    with fetch(fetcher, "portal-static:css/portal.css") as response:
        assert response.read()
    # a document pointing at the network still renders, without it
    html = '<p>Hello</p><img src="http://127.0.0.1:9/x.png"><link rel=stylesheet href="https://x">'
    assert pdf.html_to_pdf(html).startswith(b"%PDF-")


def test_numbers_with_slashes_give_safe_file_names(tree, world, fake, branded):
    number_series_update(
        actor=SYSTEM, seller=tree["R1"], kind="invoice", prefix="R1/{year}/", padding=4
    )
    placed = order(tree, world["r1_offer"], customer="C11", day=date(2027, 1, 1), fake=fake)
    invoice = documents.invoice_render(actor=documents.PDF, invoice=placed.first_invoice)
    assert invoice.number == "R1/2027/0001"
    assert invoice.pdf.name.startswith(f"invoices/{tree['R1'].pk}/R1-2027-0001")
    climbing = 'a"b\r\n/../c'  # repo-paths: allow
    assert documents.safe_filename(climbing) == "a-b-..-c.pdf"
    assert documents.safe_filename("../..") == "document.pdf"  # repo-paths: allow


def test_the_pdf_tasks_go_to_the_pdf_queue():
    from portal.celery import app

    for name in ("pdf_invoice_document", "pdf_invoice_documents", "pdf_credit_note_document"):
        route = app.amqp.router.route({}, f"billing.tasks.{name}")
        assert route["queue"].name == "pdf"


def test_email_send_reads_attachments_from_storage_by_name():
    from portal.tasks import email_send

    name = private_storage().save("invoices/test/attached.pdf", ContentFile(b"%PDF-1.7 x"))
    email_send.delay(
        subject="s",
        body="b",
        to=["a@example.test"],
        from_email="f@example.test",
        reply_to=[],
        attachments=[{"storage": "private", "name": name, "filename": "X.pdf"}],
    )
    assert mail.outbox[0].attachments == [("X.pdf", b"%PDF-1.7 x", "application/octet-stream")]
    # the callers without attachments keep working
    email_send.delay(subject="s", body="b", to=["a@example.test"], from_email="f@x", reply_to=[])
    assert mail.outbox[1].attachments == []


# --- storage ----------------------------------------------------------------------------------


def test_private_storage_has_no_url_and_is_not_under_media(settings, invoice, client, tree):
    invoice = documents.invoice_render(actor=documents.PDF, invoice=invoice)
    storage = private_storage()
    assert Path(storage.path(invoice.pdf.name)).is_relative_to(settings.PRIVATE_MEDIA_ROOT)
    assert not Path(storage.location).is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    with pytest.raises(ValueError):
        invoice.pdf.url  # noqa: B018 - reading it is the test
    client.force_login(tree["C11.billing"])
    for path in (
        f"/media/{invoice.pdf.name}",
        f"/media/../private/{invoice.pdf.name}",  # repo-paths: allow
        f"/private/{invoice.pdf.name}",
        f"/static/{invoice.pdf.name}",
    ):
        assert client.get(path).status_code == 404, path


def test_private_storage_refuses_to_live_under_media(settings, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    settings.MEDIA_ROOT = tmp_path
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    with pytest.raises(ImproperlyConfigured):
        private_storage().save("x.pdf", ContentFile(b"x"))


# --- downloads and isolation --------------------------------------------------------------------


@pytest.fixture
def documents_of_c11(tree, invoice):
    """C11's invoice (rendered) and a credit note on it (not rendered yet)."""
    invoice = documents.invoice_render(actor=documents.PDF, invoice=invoice)
    note = credit_note_create(actor=tree["R1.billing"], invoice=invoice, reason="Goodwill")
    return invoice, note


def portal_paths(org, invoice, note) -> list[str]:
    base = f"/portal/{org.pk}" if org.is_customer else f"/console/{org.pk}"
    return [f"{base}/invoices/{invoice.pk}/pdf/", f"{base}/credit-notes/{note.pk}/pdf/"]


def api_paths(invoice, note) -> list[str]:
    return [f"/api/v1/invoices/{invoice.pk}/pdf/", f"/api/v1/credit-notes/{note.pk}/pdf/"]


ALLOWED = [
    ("C11.billing", "C11"),
    ("C11.admin", "C11"),
    ("R1.admin", "R1"),
    ("R1.billing", "R1"),
    ("R1.sales", "R1"),
    ("P.admin", "P"),
    ("P.billing", "P"),
]
# Another tenant of every kind, in its own portal or console and in the owner's.
DENIED = [
    ("C11.member", "C11"),  # a member of the customer, not admin or billing
    ("C12.admin", "C12"),  # a sibling customer of the same reseller
    ("C12.admin", "C11"),
    ("C21.admin", "C21"),  # a customer of the other reseller
    ("C21.billing", "C11"),
    ("PC1.admin", "PC1"),  # a direct customer of the provider
    ("R2.admin", "R2"),  # the other reseller
    ("R2.billing", "R1"),
    ("S1.admin", "S1"),  # a sub-reseller under R1
    ("P.agent", "P"),  # the provider's agent: not this customer's
]


def test_people_who_may_see_the_documents_download_them(tree, documents_of_c11, client):
    invoice, note = documents_of_c11
    for user, console in ALLOWED:
        client.force_login(tree[user])
        for path in portal_paths(tree[console], invoice, note):
            response = client.get(path)
            assert response.status_code == 200, (user, path)
            assert response["Content-Type"] == "application/pdf"
            assert response["Content-Disposition"].startswith("attachment; filename=")
            assert response["Cache-Control"] == "private, no-store"
            assert b"".join(response.streaming_content).startswith(b"%PDF-")
        response = client.get(portal_paths(tree[console], invoice, note)[0])
        assert response["Content-Disposition"] == 'attachment; filename="INV-2027-00001.pdf"'
        assert b"".join(response.streaming_content) == stored(invoice)


def test_another_tenants_documents_are_a_404_everywhere(tree, documents_of_c11, client):
    invoice, note = documents_of_c11
    answers = {}
    for user, console in DENIED:
        client.force_login(tree[user])
        for path in [*portal_paths(tree[console], invoice, note), *api_paths(invoice, note)]:
            response = client.get(path)
            answers[(user, path)] = (response.status_code, response.get("Location"))
    assert {key: value for key, value in answers.items() if value != (404, None)} == {}
    note.refresh_from_db()
    assert note.pdf_state == PdfState.NONE  # nothing was rendered for them


def test_a_console_shows_only_the_documents_below_it(tree, documents_of_c11, client):
    # P's admin sees C11's invoice in P's console, not through R2's (where P.admin is no member)
    # nor through the customer portal of C11 (not a member of C11).
    invoice, note = documents_of_c11
    client.force_login(tree["P.admin"])
    assert client.get(portal_paths(tree["R2"], invoice, note)[0]).status_code == 404
    assert client.get(portal_paths(tree["C11"], invoice, note)[0]).status_code == 404
    # C11's billing person cannot use C12's portal id with C11's documents
    client.force_login(tree["C11.billing"])
    for path in portal_paths(tree["C12"], invoice, note):
        assert client.get(path).status_code == 404


def test_the_api_serves_the_pdf_with_the_same_access(tree, documents_of_c11, client):
    invoice, note = documents_of_c11
    client.force_login(tree["C11.billing"])
    for path in api_paths(invoice, note):
        response = client.get(path, HTTP_ACCEPT="application/pdf")
        assert response.status_code == 200
        assert b"".join(response.streaming_content).startswith(b"%PDF-")
    client.force_login(tree["C21.admin"])
    response = client.get(api_paths(invoice, note)[0], HTTP_ACCEPT="application/pdf")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    client.logout()
    assert client.get(api_paths(invoice, note)[0]).status_code in (401, 403)


def test_the_first_download_renders_a_missing_pdf(tree, documents_of_c11, client):
    _, note = documents_of_c11
    assert not note.pdf
    client.force_login(tree["C11.billing"])
    response = client.get(f"/portal/{tree['C11'].pk}/credit-notes/{note.pk}/pdf/")
    assert response.status_code == 200
    note.refresh_from_db()
    assert note.pdf_state == PdfState.READY
    assert b"".join(response.streaming_content) == stored(note)


def test_a_pdf_that_cannot_be_made_yet_is_a_409_with_a_message(
    tree, documents_of_c11, client, monkeypatch
):
    _, note = documents_of_c11
    monkeypatch.setattr(pdf, "html_to_pdf", lambda html, **kw: 1 / 0)
    client.force_login(tree["C11.billing"])
    response = client.get(f"/portal/{tree['C11'].pk}/credit-notes/{note.pk}/pdf/")
    assert response.status_code == 409
    assert f"The PDF of credit note {note.number} could not be made yet" in response.text
    response = client.get(f"/api/v1/credit-notes/{note.pk}/pdf/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    note.refresh_from_db()
    assert note.pdf_state == PdfState.FAILED


def test_a_draft_has_no_pdf(tree, world, fake, client):
    order(tree, world["r1_offer"], customer="C11", day=date(2027, 1, 1), fake=fake)
    draft = Invoice.objects.get(state="draft", buyer=tree["R1"])  # the wholesale draft
    client.force_login(tree["R1.admin"])
    response = client.get(f"/console/{tree['R1'].pk}/invoices/{draft.pk}/pdf/")
    assert response.status_code == 409
    assert "A draft has no PDF" in response.text
    assert client.get(f"/api/v1/invoices/{draft.pk}/pdf/").status_code == 409
