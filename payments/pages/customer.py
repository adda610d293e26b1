"""Payment pages of the customer portal (under ``/portal/<org_id>/``): paying an invoice (the
pay box on the order and invoice pages posts here), the payment methods page (saved cards,
the default, automatic payment) and the two steps Stripe.js needs from the server (a
SetupIntent to save a card, and re-reading a PaymentIntent after the bank's check).

The browser never tells the server that a payment succeeded: every outcome is read from
Stripe by the collect service. Each endpoint answers JSON to the page's script (``Accept:
application/json``) and a redirect with a message to a plain form post, so paying with a
saved card works without JavaScript too (only the bank's check and new cards need it).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing import selectors as billing_selectors
from billing.models import Invoice, InvoiceState
from orders.models import OrderState
from payments.models import BuyerAccount, Payment, PaymentMethod, PaymentState, PaymentTrigger
from payments.pages.pay_box import card_context, payment_outcome
from payments.services import cards
from payments.services.collect import payment_charge, payment_open
from payments.services.stripe_api import StripeUnavailable
from portal import access
from portal.errors import ApplicationError, NotFound, ValidationError
from portal.params import parse_id
from portal.views import customer_console, render_console

# --- lookups: every id from the request is found inside what the person may see ------------


def _invoice(request, org, invoice_id) -> Invoice:
    invoice = billing_selectors.access_invoice(request.user, invoice_id)
    if invoice.buyer_id != org.pk or invoice.state == InvoiceState.DRAFT:
        raise NotFound("No such invoice.")
    return invoice


def _card(org, card_id) -> PaymentMethod:
    card = PaymentMethod.objects.filter(
        buyer=org, pk=parse_id(card_id), removed_at__isnull=True
    ).first()
    if card is None:
        raise NotFound("No such card.")
    return card


def _payment(org, payment_id) -> Payment:
    payment = (
        Payment.objects.filter(buyer=org, pk=parse_id(payment_id)).select_related("invoice").first()
    )
    if payment is None:
        raise NotFound("No such payment.")
    return payment


# --- answering the script or the form -------------------------------------------------------


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request, fallback: str) -> HttpResponseRedirect:
    """Back to the page the form was on (only a path on this site), else ``fallback``."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = fallback
    return HttpResponseRedirect(target)


def _invoice_url(org, invoice) -> str:
    return reverse("billing_customer_invoice", kwargs={"org_id": org.pk, "invoice_id": invoice.pk})


def _error(request, exc: ApplicationError, fallback: str):
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}},
            status=exc.status_code,
        )
    messages.error(request, exc.message)
    return _back(request, fallback)


def _outcome(request, org, payment: Payment, fallback: str):
    """Where a payment stands, for the script (with what Stripe.js needs for the bank's
    check) or as a message on the page the form came from."""
    outcome = payment_outcome(payment)
    if _wants_json(request):
        body = {"state": outcome.state, "message": outcome.message, "payment": payment.pk}
        if payment.state == PaymentState.REQUIRES_ACTION:
            body["client_secret"] = payment.client_secret
            body["confirm_url"] = reverse(
                "payments_customer_payment_confirm",
                kwargs={"org_id": org.pk, "payment_id": payment.pk},
            )
        return JsonResponse(body)
    level = {"succeeded": messages.SUCCESS, "failed": messages.ERROR}.get(
        outcome.state, messages.WARNING
    )
    messages.add_message(request, level, outcome.message)
    return _back(request, fallback)


# --- paying an invoice ----------------------------------------------------------------------


@customer_console
@require_POST
def invoice_pay(request, org, invoice_id):
    """Pay what the invoice owes with a saved card: the payment row first (the one already in
    flight when there is one, so a double click pays once), then its PaymentIntent, confirmed
    with the row's idempotency key."""
    invoice = _invoice(request, org, invoice_id)
    choice = request.POST.get("card", "")
    card = _card(org, choice) if choice and choice != "new" else None
    fallback = _invoice_url(org, invoice)
    payment = None
    try:
        if choice == "new":  # the script saves a new card first; without it there is none
            raise ValidationError.for_field(
                "card", _("Enter the new card's details first (this needs JavaScript).")
            )
        access.require(request.user, "payments.pay", org)
        order = invoice.order if invoice.order_id else None
        trigger = (
            PaymentTrigger.CHECKOUT
            if order is not None and order.state == OrderState.AWAITING_PAYMENT
            else PaymentTrigger.PAY_NOW
        )
        payment = payment_open(actor=request.user, invoice=invoice, card=card, trigger=trigger)
        payment = payment_charge(actor=request.user, payment=payment)
    except StripeUnavailable as exc:
        return _unavailable(request, org, payment, exc, fallback)
    except ApplicationError as exc:
        return _error(request, exc, fallback)
    return _outcome(request, org, payment, fallback)


def _unavailable(request, org, payment, exc, fallback: str):
    """Stripe failed us after the payment's intent was made (or a second click confirmed it
    at the same moment as the first): the money may have moved, so the payment is shown as
    being confirmed, to be checked again, rather than "nothing was charged"."""
    if payment is not None:
        payment.refresh_from_db()
        if payment.stripe_intent_ref:
            return _outcome(request, org, payment, fallback)
    return _error(request, exc, fallback)


@customer_console
@require_POST
def payment_confirm(request, org, payment_id):
    """After the bank's check in the browser: ask Stripe where the payment stands (never the
    browser) and record it; a paid first invoice starts its order's provisioning."""
    payment = _payment(org, payment_id)
    fallback = _invoice_url(org, payment.invoice)
    try:
        access.require(request.user, "payments.pay", org)
        payment = payment_charge(actor=request.user, payment=payment)
    except StripeUnavailable as exc:
        return _unavailable(request, org, payment, exc, fallback)
    except ApplicationError as exc:
        return _error(request, exc, fallback)
    return _outcome(request, org, payment, fallback)


# --- saved cards ----------------------------------------------------------------------------


def _cards_url(org) -> str:
    return reverse("payments_customer_cards", kwargs={"org_id": org.pk})


@customer_console
@require_GET
def cards_page(request, org):
    access.require(request.user, "payments.cards", org)
    account = BuyerAccount.objects.filter(buyer=org).first()
    return render_console(
        request,
        "payments/customer/cards.html",
        {
            "cards": list(PaymentMethod.objects.filter(buyer=org, removed_at__isnull=True)),
            "autopay": bool(account and account.autopay),
            "terms_days": account.invoice_terms_days if account else None,
            **card_context(org),
        },
    )


@customer_console
@require_POST
def card_setup(request, org):
    """A SetupIntent for Stripe.js to confirm with the card (the number goes to Stripe only)."""
    try:
        started = cards.card_setup_start(actor=request.user, buyer=org)
    except ApplicationError as exc:
        return _error(request, exc, _cards_url(org))
    return JsonResponse(
        {"client_secret": started["client_secret"], "setup_intent": started["setup_intent"]}
    )


@customer_console
@require_POST
def card_save(request, org):
    """Stripe.js confirmed the SetupIntent: keep the card it saved (read from Stripe)."""
    try:
        card = cards.card_save(
            actor=request.user,
            buyer=org,
            setup_intent=request.POST.get("setup_intent", ""),
            make_default=request.POST.get("make_default") == "1",
        )
    except ApplicationError as exc:
        return _error(request, exc, _cards_url(org))
    if _wants_json(request):
        return JsonResponse({"card": card.pk, "label": card.label, "default": card.is_default})
    messages.success(request, _("%(card)s saved.") % {"card": card.label_words})
    return _back(request, _cards_url(org))


@customer_console
@require_POST
def card_default(request, org, card_id):
    card = _card(org, card_id)
    try:
        cards.card_set_default(actor=request.user, card=card)
    except ApplicationError as exc:
        return _error(request, exc, _cards_url(org))
    messages.success(request, _("%(card)s is now the default card.") % {"card": card.label_words})
    return redirect(_cards_url(org))


@customer_console
@require_POST
def card_remove(request, org, card_id):
    card = _card(org, card_id)
    try:
        cards.card_remove(actor=request.user, card=card)
    except ApplicationError as exc:
        return _error(request, exc, _cards_url(org))
    messages.success(request, _("%(card)s removed.") % {"card": card.label_words})
    return redirect(_cards_url(org))


@customer_console
@require_POST
def autopay(request, org):
    choice = request.POST.get("autopay", "")
    if choice not in ("on", "off"):
        messages.error(request, _("Choose whether to turn automatic payment on or off."))
        return redirect(_cards_url(org))
    try:
        cards.autopay_set(actor=request.user, buyer=org, enabled=choice == "on")
    except ApplicationError as exc:
        return _error(request, exc, _cards_url(org))
    messages.success(
        request,
        _("Automatic payment is on: issued invoices are charged to your default card.")
        if choice == "on"
        else _("Automatic payment is off: pay each invoice from its page."),
    )
    return redirect(_cards_url(org))


urlpatterns = [
    path("payment-methods/", cards_page, name="payments_customer_cards"),
    path("payment-methods/setup/", card_setup, name="payments_customer_card_setup"),
    path("payment-methods/save/", card_save, name="payments_customer_card_save"),
    path("payment-methods/autopay/", autopay, name="payments_customer_autopay"),
    path(
        "payment-methods/<str:card_id>/default/",
        card_default,
        name="payments_customer_card_default",
    ),
    path(
        "payment-methods/<str:card_id>/remove/", card_remove, name="payments_customer_card_remove"
    ),
    path("invoices/<str:invoice_id>/pay/", invoice_pay, name="payments_customer_pay"),
    path(
        "payments/<str:payment_id>/confirm/",
        payment_confirm,
        name="payments_customer_payment_confirm",
    ),
]
