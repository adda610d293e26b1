"""What the customer's pay box shows (on the order page and the invoice page) and how a
payment's outcome is put in plain words, for the page and for its script alike.

The amount due is always ``collect.amount_due`` (derived from payments, credit notes and the
credit balance), never a stored figure; where a payment stands is the payment row, which only
the collect service moves after asking Stripe.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from billing.models import CreditNote, InvoiceState
from payments.models import (
    PaymentMethod,
    PaymentSource,
    PaymentState,
    StripeAccount,
)
from payments.services.collect import PAYABLE, amount_due
from portal import access
from portal.money import format_money

# Stripe's decline codes in words a customer can act on. Anything else falls back to the
# message Stripe gave (it is written for card holders). The words here are English (marked
# for the catalog); ``plain_decline`` and ``script_words`` give them in the active language.
DECLINES = {
    "card_declined": _(
        "The card was declined, so nothing was charged. Try another card, or ask your bank why."
    ),
    "insufficient_funds": _(
        "The card has not enough funds, so nothing was charged. Try another card."
    ),
    "expired_card": _("The card has expired, so nothing was charged. Use another card."),
    "incorrect_cvc": _(
        "The security code (CVC) was wrong, so nothing was charged. Check it and try again."
    ),
    "incorrect_number": _(
        "The card number was wrong, so nothing was charged. Check it and try again."
    ),
    "processing_error": _(
        "The bank could not process the card just now, so nothing was "
        "charged. Try again in a few minutes."
    ),
    "payment_intent_authentication_failure": _(
        "Your bank's check was not completed, so nothing "
        "was charged. Pay again and confirm with your bank."
    ),
    "authentication_required": _(
        "Your bank wants you to confirm this payment, so nothing was "
        "charged yet. Pay again from this page."
    ),
}

# What the script says while it works, and when it cannot reach the portal.
SCRIPT_WORDS = {
    "saving": _("Checking the card with Stripe…"),
    "paying": _("Paying…"),
    "authenticating": _("Your bank asks you to confirm the payment…"),
    "unreachable": _("The portal could not be reached; nothing was charged. Try again."),
    "missing": _("Enter the card's number, expiry date and security code."),
}


def plain_decline(code: str, message: str = "") -> str:
    if code in DECLINES:
        return gettext(DECLINES[code])
    return message or gettext(DECLINES["card_declined"])


def script_words() -> dict:
    """What the page's script says, in the active language."""
    return {
        **{key: gettext(words) for key, words in SCRIPT_WORDS.items()},
        "declines": {code: gettext(words) for code, words in DECLINES.items()},
    }


@dataclass(frozen=True)
class Outcome:
    state: str  # succeeded, processing, requires_action, failed
    message: str


def payment_outcome(payment) -> Outcome:
    """Where a card payment stands, in words."""
    amount = format_money(payment.amount, payment.currency)
    card = payment.payment_method.label_words if payment.payment_method_id else gettext("the card")
    if payment.state == PaymentState.SUCCEEDED:
        return Outcome(
            "succeeded",
            gettext("Paid: %(amount)s charged to %(card)s.") % {"amount": amount, "card": card},
        )
    if payment.state == PaymentState.REQUIRES_ACTION:
        return Outcome(
            "requires_action",
            gettext("Your bank asks you to confirm the payment of %(amount)s before it is charged.")
            % {"amount": amount},
        )
    if payment.state in (PaymentState.PENDING, PaymentState.PROCESSING):
        return Outcome(
            "processing",
            gettext(
                "Payment being confirmed: %(amount)s with %(card)s. This page shows the outcome "
                "when Stripe has it."
            )
            % {"amount": amount, "card": card},
        )
    if payment.state == PaymentState.CANCELLED:
        return Outcome("failed", gettext("The payment was cancelled, so nothing was charged."))
    return Outcome("failed", plain_decline(payment.failure_code, payment.failure_message))


def stripe_js_url() -> str:
    """Stripe.js comes from Stripe (localstripe's fake one locally), never from this site."""
    return settings.STRIPE_JS_URL


def card_context(buyer) -> dict:
    """What Stripe.js needs on a page that takes card details: the seller's publishable key
    (public by design) and the script's address; or why cards cannot be taken."""
    seller = buyer.parent
    account = StripeAccount.objects.filter(seller=seller).first()
    if account is None:
        return {
            "no_account": gettext(
                "%(seller)s does not take card payments yet; pay by bank transfer or ask "
                "%(seller)s."
            )
            % {"seller": seller.name},
        }
    return {
        "publishable_key": account.publishable_key,
        "stripe_js_url": stripe_js_url(),
        "no_account": "",
        "script_words": script_words(),
    }


def pay_box(user, org, invoice) -> dict | None:
    """The pay box of a customer's invoice, or None when there is nothing to show (a draft or
    void invoice, or a person who may not pay)."""
    if invoice is None or invoice.buyer_id != org.pk:
        return None
    if invoice.state not in (*PAYABLE, InvoiceState.PAID):
        return None
    if not access.can(user, "payments.pay", org):
        return None
    payments = list(
        invoice.payments.filter(source=PaymentSource.CARD)
        .select_related("payment_method")
        .order_by("-created_at", "-id")[:1]
    )
    latest = payments[0] if payments else None
    due = amount_due(invoice)
    box = {
        "invoice": invoice,
        "currency": invoice.currency,
        "due": due,
        "paid": invoice.state == InvoiceState.PAID,
        "outcome": payment_outcome(latest) if latest is not None else None,
        "payment": latest,
        "urls": _urls(org, invoice, latest),
    }
    if box["paid"]:
        return box
    credited = sum((n.total for n in CreditNote.objects.filter(invoice=invoice)), Decimal(0))
    box["settled_before"] = invoice.total - credited - due  # paid, or from the balance
    box["credited"] = credited
    box["cards"] = list(PaymentMethod.objects.filter(buyer=org, removed_at__isnull=True))
    box["can_add_card"] = access.can(user, "payments.cards", org)
    box.update(card_context(org))
    return box


def _urls(org, invoice, payment) -> dict:
    urls = {
        "pay": reverse(
            "payments_customer_pay", kwargs={"org_id": org.pk, "invoice_id": invoice.pk}
        ),
        "setup": reverse("payments_customer_card_setup", kwargs={"org_id": org.pk}),
        "save": reverse("payments_customer_card_save", kwargs={"org_id": org.pk}),
        "cards": reverse("payments_customer_cards", kwargs={"org_id": org.pk}),
    }
    if payment is not None:
        urls["confirm"] = reverse(
            "payments_customer_payment_confirm",
            kwargs={"org_id": org.pk, "payment_id": payment.pk},
        )
    return urls
