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
