"""Languages: the storefront speaks its seller's language unless the visitor chose another, the
customer portal its customer's (its own choice, else its seller's), seller consoles English; the
choice is made on the company page, and storefront cache entries are kept per language."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from portal import services
from portal.actors import system
from portal.i18n import language_of
from portal.models import Organization
from portal.storefront_cache import HEADER

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db


def speak(org: Organization, language: str) -> None:
    org.language = language
    org.save(update_fields=["language"])


def page(client, url, host="r1.test"):
    response = client.get(url, HTTP_HOST=host)
    assert response.status_code == 200, url
    return response


def test_a_sellers_language_is_its_storefronts_and_its_customers(tree):
    speak(tree["R1"], "de")
    assert language_of(tree["R1"]) == "de"
    assert language_of(tree["C11"]) == "de"  # no choice of its own: its seller's
    assert language_of(tree["S1"]) == "de"  # a sub-reseller without a choice: the one above
    assert language_of(tree["C21"]) == "en"  # R2 chose nothing, nor did the provider
    speak(tree["C11"], "en")
    assert language_of(tree["C11"]) == "en"


def test_a_german_storefront_and_a_visitor_who_prefers_english(client, tree, catalog):
    speak(tree["R1"], "de")
    german = page(client, "/offers/").content.decode()
    assert '<html lang="de">' in german
    assert "Tarife und Preise" in german and "pro Benutzer / Monat" in german
    assert "16.00 USD" in german
    assert "Plans and prices" in page(client, "/offers/", "r2.test").content.decode()
    response = client.get("/language/", {"language": "en", "next": "/offers/"}, HTTP_HOST="r1.test")
    assert (response.status_code, response["Location"]) == (302, "/offers/")
    assert response.cookies["django_language"].value == "en"
    english = page(client, "/offers/")
    assert english[HEADER] == "miss"  # an entry of its own, not the German one
    assert "Plans and prices" in english.content.decode()
    assert '<html lang="en">' in english.content.decode()
    client.cookies.pop("django_language")
    again = page(client, "/offers/")
    assert again[HEADER] == "hit" and "Tarife und Preise" in again.content.decode()


def test_choosing_a_language_goes_back_only_to_this_site(client, tree):
    response = client.get(
        "/language/", {"language": "de", "next": "https://elsewhere.example/"}, HTTP_HOST="r1.test"
    )
    assert (response.status_code, response["Location"]) == (302, "/")
    response = client.get("/language/", {"language": "xx", "next": "/offers/"}, HTTP_HOST="r1.test")
    assert response.status_code == 302 and "django_language" not in response.cookies
    assert client.post("/language/", {"language": "de"}, HTTP_HOST="r1.test").status_code == 405


def test_a_german_customer_sees_its_portal_in_german(client, tree):
    speak(tree["C11"], "de")
    client.force_login(tree["C11.admin"])
    body = page(client, f"/portal/{tree['C11'].pk}/company/").content.decode()
    assert '<html lang="de">' in body
    for words in ("Unternehmen", "Rechnungen", "Abmelden", "Postleitzahl", "Speichern"):
        assert words in body
    overview = page(client, f"/portal/{tree['C11'].pk}/").content.decode()
    assert "Übersicht" in overview and "Ihr Anbieter" in overview
    offers = page(client, reverse("customer_offers", args=[tree["C11"].pk])).content.decode()
    assert "Angebote von" in offers and "Noch keine Angebote" in offers
    url = reverse("orders_customer_subscriptions", args=[tree["C11"].pk])
    subscriptions = page(client, url).content.decode()
    assert "Noch keine Abonnements." in subscriptions


def test_seller_consoles_stay_english(client, tree):
    speak(tree["R1"], "de")
    client.force_login(tree["R1.admin"])
    body = page(client, f"/console/{tree['R1'].pk}/").content.decode()
    assert '<html lang="en">' in body and "Sign out" in body and "Abmelden" not in body


def test_the_customer_chooses_its_language_on_the_company_page(client, tree):
    c11 = tree["C11"]
    client.force_login(tree["C11.admin"])
    url = f"/portal/{c11.pk}/company/"
    form = {"name": c11.name, "country": "DE", "language": "de"}
    response = client.post(url, form, HTTP_HOST="r1.test")
    assert (response.status_code, response["Location"]) == (302, url)
    c11.refresh_from_db()
    assert c11.language == "de"
    assert "Ihre Unternehmensdaten wurden gespeichert." in page(client, url).content.decode()
    response = client.post(url, {**form, "language": "fr"}, HTTP_HOST="r1.test")
    assert response.status_code == 200
    assert "fr ist keine gültige Auswahl." in response.content.decode()  # in German now
    c11.refresh_from_db()
    assert c11.language == "de"


def test_the_service_refuses_a_language_the_portal_does_not_speak(tree):
    from portal.errors import ApplicationError

    with pytest.raises(ApplicationError) as caught:
        services.organization_update(
            actor=tree["C11.admin"], organization=tree["C11"], language="fr"
        )
    assert "language" in caught.value.fields
    tree["C11"].refresh_from_db()
    assert tree["C11"].language == ""


def test_e_mails_follow_the_recipients_language(tree, django_capture_on_commit_callbacks):
    speak(tree["C11"], "de")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            actor=tree["C11.admin"],
            organization=tree["C11"],
            email="neu@example.test",
            role="member",
        )
        services.invitation_create(
            actor=tree["C21.admin"],
            organization=tree["C21"],
            email="new@example.test",
            role="member",
        )
    german, english = mail.outbox
    assert german.subject == f"[{tree['R1'].brand.name}] Einladung zu {tree['C11'].name}"
    assert "hat Sie eingeladen" in german.body and "Nehmen Sie die Einladung" in german.body
    assert english.subject == f"[{tree['R2'].brand.name}] You are invited to {tree['C21'].name}"


def test_the_api_answers_in_english_on_a_german_host(client, tree):
    speak(tree["R1"], "de")
    response = client.get("/api/v1/me/", HTTP_HOST="r1.test")
    assert response.status_code == 401
    assert response["Content-Language"] == "en"
    assert "Authentication credentials were not provided." in response.content.decode()


# --- the customer portal's order, subscription, invoice, payment and team pages -------------


def customer_with_an_invoice(tree, catalog, fake):
    """PC1 on Business with a seat given and its first renewal billed: an order, a running
    subscription and an issued invoice."""
    from datetime import date

    from billing.models import Invoice
    from billing.services.run import RUN, billing_run
    from orders import services as orders
    from portal import clock
    from tests.orders.conftest import run_jobs, subscribe

    sub = subscribe(tree, catalog, fake, customer="PC1", offer="P.business", quantity=5)
    orders.seat_assign(actor=tree["PC1.admin"], subscription=sub, email="a@pc1.test", name="A")
    run_jobs(fake)
    clock.set_today(date(2027, 2, 1))
    billing_run(actor=RUN, day=date(2027, 2, 1))
    invoice = Invoice.objects.filter(buyer=tree["PC1"]).exclude(state="draft").first()
    assert invoice is not None and invoice.number
    return sub, sub.orders.order_by("pk").first(), invoice


def customer_pages(client, org, sub, order, invoice) -> dict[str, str]:
    base = f"/portal/{org.pk}/"
    urls = {
        "orders": "orders/",
        "order": f"orders/{order.pk}/",
        "subscription": f"subscriptions/{sub.pk}/",
        "invoices": "invoices/",
        "invoice": f"invoices/{invoice.pk}/",
        "upcoming": "invoices/upcoming/",
        "cards": "payment-methods/",
        "team": "team/",
        "activity": "audit/",
    }
    pages = {}
    for name, url in urls.items():
        response = client.get(base + url)
        assert response.status_code == 200, url
        pages[name] = response.content.decode()
    return pages


# Words each page shows: German, and the English it replaces (never left on the German page).
PAGE_WORDS = {
    "orders": [("Bestellt von", "Placed by"), ("Erste Rechnung", "First invoice")],
    "order": [
        ("Erste Rechnung, wie vereinbart", "First invoice, as agreed"),
        ("Bestellt von", "Placed by"),
        ("Neues Abonnement", "New subscription"),
        ("Abgeschlossen", "Completed"),
    ],
    "subscription": [
        ("Zugewiesene Lizenzen", "Seats assigned"),
        ("Lizenz zuweisen", "Assign a seat"),
        ("Tarif, Lizenzen oder Abrechnung ändern", "Change the plan, seats or billing"),
        ("Kosten anzeigen", "See what it costs"),
        ("Nächste Verlängerung", "Next renewal"),
        ("Pro Lizenz, monatlich", "Per seat, monthly"),
    ],
    "invoices": [("Ausgestellt", "Issued"), ("Nur überfällige", "Overdue only")],
    "invoice": [
        ("PDF herunterladen", "Download PDF"),
        ("Positionen", "Lines"),
        ("Wie kommt dieser Betrag zustande?", "Why this amount?"),
        ("Zwischensumme", "Subtotal"),
    ],
    "upcoming": [("Kommende Rechnungen", "Upcoming invoices")],
    "cards": [
        ("Gespeicherte Karten", "Saved cards"),
        ("Automatische Zahlung", "Automatic payment"),
    ],
    "team": [("Jemanden einladen", "Invite someone"), ("Einladung senden", "Send invitation")],
    "activity": [("Alles", "Everything")],
}


def test_a_german_customer_reads_its_orders_invoices_payments_and_team_in_german(
    client, tree, catalog, fake
):
    sub, order, invoice = customer_with_an_invoice(tree, catalog, fake)
    speak(tree["PC1"], "de")
    client.force_login(tree["PC1.admin"])
    pages = customer_pages(client, tree["PC1"], sub, order, invoice)
    for name, words in PAGE_WORDS.items():
        for german, english in words:
            assert german in pages[name], (name, german)
            assert f">{english}<" not in pages[name], (name, english)
    assert f"Bestellung {order.number}" in pages["order"]
    assert f"Rechnung {invoice.number}" in pages["invoice"]
    assert "Abgeschlossen" in pages["orders"]  # the order's state, a model choice
    assert "Aktiv" in pages["subscription"]
    # Amounts keep the money filters' format in German too.
    assert f"{invoice.total:,.2f} {invoice.currency}" in pages["invoice"]


def test_an_english_customer_keeps_these_pages_in_english(client, tree, catalog, fake):
    sub, order, invoice = customer_with_an_invoice(tree, catalog, fake)
    client.force_login(tree["PC1.admin"])
    pages = customer_pages(client, tree["PC1"], sub, order, invoice)
    for name, words in PAGE_WORDS.items():
        for german, english in words:
            assert english in pages[name], (name, english)
            assert german not in pages[name], (name, german)
    assert f"Order {order.number}" in pages["order"] and "Completed" in pages["orders"]


def test_a_german_customer_previews_a_change_in_german(client, tree, catalog, fake):
    sub, _order, _invoice = customer_with_an_invoice(tree, catalog, fake)
    speak(tree["PC1"], "de")
    client.force_login(tree["PC1.admin"])
    url = f"/portal/{tree['PC1'].pk}/subscriptions/{sub.pk}/"
    form = {"action": "change", "plan": sub.plan_id, "quantity": 7, "term": "monthly"}
    body = client.post(url, form).content.decode()
    assert "Prüfen Sie die Änderung, bevor Sie sie bestätigen" in body
    assert "Änderung bestätigen" in body and "Ohne diese Änderung" in body
    assert "Confirm the change" not in body


def test_the_sellers_console_stays_english_for_a_german_customer(client, tree, catalog, fake):
    sub, order, invoice = customer_with_an_invoice(tree, catalog, fake)
    speak(tree["P"], "de")
    speak(tree["PC1"], "de")
    client.force_login(tree["P.admin"])
    base = f"/console/{tree['P'].pk}/"
    order_page = client.get(f"{base}orders/{order.pk}/").content.decode()
    assert "Placed by" in order_page and "Bestellt von" not in order_page
    invoice_page = client.get(f"{base}billing/invoices/{invoice.pk}/").content.decode()
    assert "Download PDF" in invoice_page and "PDF herunterladen" not in invoice_page
    sub_page = client.get(f"{base}subscriptions/{sub.pk}/").content.decode()
    assert "Seats assigned" in sub_page and "Zugewiesene Lizenzen" not in sub_page
    team = client.get(f"{base}team/").content.decode()
    assert "Invite someone" in team and "Jemanden einladen" not in team


def test_payment_words_follow_the_active_language():
    from django.utils import translation

    from payments.models import PaymentMethod
    from payments.pages.pay_box import DECLINES, plain_decline, script_words

    card = PaymentMethod(brand="visa", last4="4242", exp_month=3, exp_year=2030)
    with translation.override("de"):
        assert card.label_words == "Visa mit Endziffern 4242, gültig bis 03/2030"
        assert card.label == "Visa ending 4242, expires 03/2030"  # kept English (audit, API)
        assert plain_decline("expired_card") == (
            "Die Karte ist abgelaufen, es wurde nichts belastet. Verwenden Sie eine andere Karte."
        )
        assert plain_decline("", "Stripe's own words.") == "Stripe's own words."
        words = script_words()
        assert words["paying"] == "Zahlung läuft …"
        assert words["declines"]["card_declined"].startswith("Die Karte wurde abgelehnt")
    with translation.override("en"):
        assert card.label_words == card.label
        assert plain_decline("expired_card") == DECLINES["expired_card"]
        assert script_words()["paying"] == "Paying…"
