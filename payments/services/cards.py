"""Saved cards: a buyer saves a card with its seller's Stripe account (a SetupIntent confirmed
by Stripe.js in the browser: the card number goes from the browser to Stripe only), sees its
cards, sets the default, removes one, and turns automatic payment on or off."""

from __future__ import annotations

import stripe
from django.db import IntegrityError, transaction

from payments.models import BuyerAccount, PaymentMethod
from payments.services import stripe_api
from payments.services.collect import buyer_account, stripe_account_of
from portal import access, clock
from portal.actors import Actor
from portal.errors import Conflict, NotFound, ValidationError
from portal.services import audit_record


def stripe_customer(buyer, seller) -> str:
    """The buyer's customer id in the seller's Stripe account, made on first use."""
    account = buyer_account(buyer, seller)
    if account.stripe_customer_ref:
        return account.stripe_customer_ref
    client = stripe_api.client_for(stripe_account_of(seller))
    try:
        customer = client.v1.customers.create(
            {
                "name": buyer.name,
                "email": buyer.contact_email or None,
                "metadata": {"organization": str(buyer.pk)},
            },
            {"idempotency_key": f"customer-{buyer.pk}-{seller.pk}"},
        )
    except stripe.StripeError as exc:
        raise stripe_api.unavailable(exc) from None
    updated = BuyerAccount.objects.filter(pk=account.pk, stripe_customer_ref="").update(
        stripe_customer_ref=customer.id
    )
    if not updated:  # made by a concurrent request: keep the first
        account.refresh_from_db()
        return account.stripe_customer_ref
    return customer.id


def card_setup_start(*, actor: Actor, buyer) -> dict:
    """A SetupIntent for the browser to confirm with Stripe.js: returns the publishable key
    and the client secret."""
    access.require(actor, "payments.cards", buyer)
    seller = buyer.parent
    account = stripe_account_of(seller)
    customer = stripe_customer(buyer, seller)
    client = stripe_api.client_for(account)
    try:
        intent = client.v1.setup_intents.create(
            {"customer": customer, "usage": "off_session", "payment_method_types": ["card"]}
        )
    except stripe.StripeError as exc:
        raise stripe_api.unavailable(exc) from None
    return {
        "publishable_key": account.publishable_key,
        "client_secret": intent.client_secret,
        "setup_intent": intent.id,
    }


@transaction.atomic
def card_save(*, actor: Actor, buyer, setup_intent: str, make_default: bool = True):
    """The browser confirmed a SetupIntent: keep the card it saved (asked from Stripe, not
    taken from the browser), as the default unless told otherwise."""
    access.require(actor, "payments.cards", buyer)
    seller = buyer.parent
    setup_intent = (setup_intent or "").strip()
    if not setup_intent.startswith("seti_") or len(setup_intent) > 100:
        raise ValidationError.for_field("setup_intent", "That is not a card set-up.")
    client = stripe_api.client_for(stripe_account_of(seller))
    customer = stripe_customer(buyer, seller)
    try:
        intent = client.v1.setup_intents.retrieve(setup_intent)
        if intent.status != "succeeded" or intent.customer != customer:
            raise NotFound("No such card set-up.")
        method = client.v1.payment_methods.retrieve(intent.payment_method)
    except stripe.InvalidRequestError:
        raise NotFound("No such card set-up.") from None
    except stripe.StripeError as exc:
        raise stripe_api.unavailable(exc) from None
    card = getattr(method, "card", None)
    existing = PaymentMethod.objects.filter(seller=seller, stripe_ref=method.id).first()
    if existing is None:
        try:
            with transaction.atomic():
                saved = PaymentMethod.objects.create(
                    buyer=buyer,
                    seller=seller,
                    stripe_ref=method.id,
                    brand=(getattr(card, "brand", "") or "")[:20],
                    last4=(getattr(card, "last4", "") or "")[:4],
                    exp_month=getattr(card, "exp_month", None),
                    exp_year=getattr(card, "exp_year", None),
                )
        except IntegrityError:
            # The page and Stripe's webhook kept it at the same moment: one row, the first.
            existing = PaymentMethod.objects.get(seller=seller, stripe_ref=method.id)
        else:
            audit_record(
                actor=actor,
                organization=buyer,
                action="card.saved",
                obj=saved,
                after={"card": saved.label},
            )
    if existing is not None:
        if existing.buyer_id != buyer.pk:
            raise NotFound("No such card set-up.")
        if existing.removed_at is not None:
            return existing  # removed since: a late notice does not bring it back
        saved = existing
    if (
        make_default
        or not PaymentMethod.objects.filter(
            buyer=buyer, is_default=True, removed_at__isnull=True
        ).exists()
    ):
        card_set_default(actor=actor, card=saved)
        saved.refresh_from_db()
    return saved


def _lock_card(card: PaymentMethod) -> PaymentMethod:
    return PaymentMethod.objects.select_for_update().select_related("buyer").get(pk=card.pk)


@transaction.atomic
def card_set_default(*, actor: Actor, card: PaymentMethod) -> PaymentMethod:
    card = _lock_card(card)
    access.require(actor, "payments.cards", card.buyer)
    if card.removed_at is not None:
        raise Conflict("This card was removed.")
    PaymentMethod.objects.filter(buyer=card.buyer, is_default=True).exclude(pk=card.pk).update(
        is_default=False
    )
    if not card.is_default:
        card.is_default = True
        card.save(update_fields=["is_default"])
        audit_record(
            actor=actor, organization=card.buyer, action="card.default", obj=card,
            after={"card": card.label},
        )  # fmt: skip
    return card


def card_remove(*, actor: Actor, card: PaymentMethod) -> PaymentMethod:
    """Detach the card at Stripe and forget it; automatic payment stops when no card is left."""
    with transaction.atomic():
        card = _lock_card(card)
        access.require(actor, "payments.cards", card.buyer)
        if card.removed_at is not None:
            return card
    client = stripe_api.client_for(stripe_account_of(card.seller))
    try:
        client.v1.payment_methods.detach(card.stripe_ref)
    except stripe.InvalidRequestError:
        pass  # already gone at Stripe
    except stripe.StripeError as exc:
        raise stripe_api.unavailable(exc) from None
    with transaction.atomic():
        card = _lock_card(card)
        card.removed_at, was_default, card.is_default = clock.now(), card.is_default, False
        card.save(update_fields=["removed_at", "is_default"])
        audit_record(
            actor=actor, organization=card.buyer, action="card.removed", obj=card,
            after={"card": card.label},
        )  # fmt: skip
        if was_default:
            successor = (
                PaymentMethod.objects.filter(buyer=card.buyer, removed_at__isnull=True)
                .order_by("-created_at")
                .first()
            )
            if successor is not None:
                successor.is_default = True
                successor.save(update_fields=["is_default"])
            else:
                BuyerAccount.objects.filter(buyer=card.buyer).update(autopay=False)
    return card


@transaction.atomic
def autopay_set(*, actor: Actor, buyer, enabled: bool) -> BuyerAccount:
    access.require(actor, "payments.cards", buyer)
    account = buyer_account(buyer, buyer.parent)
    account = BuyerAccount.objects.select_for_update().get(pk=account.pk)
    if (
        enabled
        and not PaymentMethod.objects.filter(
            buyer=buyer, is_default=True, removed_at__isnull=True
        ).exists()
    ):
        raise ValidationError("Save a card first: automatic payment charges your default card.")
    if account.autopay != bool(enabled):
        account.autopay = bool(enabled)
        account.save(update_fields=["autopay", "updated_at"])
        audit_record(
            actor=actor,
            organization=buyer,
            action="payments.autopay_on" if enabled else "payments.autopay_off",
            obj=account,
        )
    return account
