"""Talking to a seller's Stripe account with the official library (``stripe.StripeClient``),
pointed at ``settings.STRIPE_API_BASE`` (Stripe in production, localstripe locally).

Every call that moves money is made with an idempotency key derived from our own row
(``payment-<id>``, ``refund-<id>``), which Stripe honours. localstripe ignores such keys, so
the services are idempotent on their own as well: a payment's PaymentIntent is created
without moving money, its id stored and committed, and only then confirmed; a retry finds the
stored intent and asks Stripe where it stands instead of creating another.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import stripe
from django.conf import settings

from payments.models import StripeAccount
from portal.errors import ApplicationError


class StripeUnavailable(ApplicationError):
    """Stripe could not be reached or answered an error that is not about the card."""

    status_code = 502
    code = "payment_provider_unavailable"


@dataclass(frozen=True)
class CardDeclined:
    code: str
    message: str
    intent_ref: str | None


def client_for(account: StripeAccount) -> stripe.StripeClient:
    return client_with(account.secret_key)


def client_with(secret_key: str) -> stripe.StripeClient:
    return _client(secret_key, settings.STRIPE_API_BASE, settings.STRIPE_TIMEOUT_SECONDS)


@lru_cache(maxsize=256)
def _client(secret_key: str, base: str, timeout) -> stripe.StripeClient:
    """One client per key and address, kept: its HTTP session (one per thread, inside the
    library) reuses connections instead of opening one per call."""
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": base},
        max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def unavailable(exc: Exception) -> StripeUnavailable:
    return StripeUnavailable(
        "The payment service did not answer; nothing was charged. Try again in a minute."
        if not isinstance(exc, stripe.AuthenticationError)
        # Nobody is told of this automatically, so the message does not claim anyone was.
        else "The seller's payment account is not accepting payments right now; nothing was "
        "charged. Please let the seller know."
    )


# Stripe's reasons for refusing a card, in words a customer can act on. Stripe's own message
# is kept for any reason not listed here.
DECLINE_REASONS = {
    "insufficient_funds": "The card has insufficient funds. Use another card or try again later.",
    "expired_card": "The card has expired. Use another card.",
    "incorrect_cvc": "The card's security code is wrong. Check it, or use another card.",
    "incorrect_number": "The card number is wrong. Check it, or use another card.",
    "processing_error": "The card's bank had a problem processing the payment. Try again.",
    "lost_card": "The card's bank declined the payment. Use another card.",
    "stolen_card": "The card's bank declined the payment. Use another card.",
    "do_not_honor": "The card's bank declined the payment. Contact the bank or use another card.",
    "generic_decline": (
        "The card's bank declined the payment. Contact the bank or use another card."
    ),
    "card_declined": "The card's bank declined the payment. Contact the bank or use another card.",
    "authentication_required": (
        "The card's bank asks you to confirm this payment. Pay the invoice from its page."
    ),
    "payment_intent_authentication_failure": (
        "The card's bank could not confirm the payment was yours. Try again or use another card."
    ),
}


def decline_reason(code: str | None, decline_code: str | None, message: str | None) -> str:
    """The reason a card was refused, in plain words: the decline code's (more precise) if we
    know it, then the error code's, then Stripe's own message."""
    for key in (decline_code, code):
        if key and key in DECLINE_REASONS:
            return DECLINE_REASONS[key]
    return (message or "The card was declined.").strip()[:300]


def declined(exc: stripe.CardError) -> CardDeclined:
    error = exc.error
    intent = getattr(error, "payment_intent", None) if error is not None else None
    decline_code = getattr(error, "decline_code", None) if error is not None else None
    stripe_message = exc.user_message or (getattr(error, "message", None) if error else None)
    return CardDeclined(
        code=(decline_code or exc.code or "card_declined")[:60],
        message=decline_reason(exc.code, decline_code, stripe_message),
        intent_ref=getattr(intent, "id", None),
    )


def confirm_params(*, off_session: bool) -> dict:
    params: dict = {}
    if off_session and settings.STRIPE_CONFIRM_OFF_SESSION:
        params["off_session"] = True
    return params
