"""A seller's payment set-up: its Stripe account (keys checked against Stripe when saved,
stored encrypted, never shown again), its payment policy, and the invoice terms it grants."""

from __future__ import annotations

from decimal import Decimal

import requests
import stripe
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from payments.models import BuyerAccount, PaymentPolicy, StripeAccount
from payments.services import stripe_api
from portal import access, clock
from portal.actors import Actor, person
from portal.errors import ValidationError
from portal.money import MoneyError, to_decimal
from portal.services import audit_record


def _clean_key(value: str, prefix: tuple[str, ...], field: str, label: str) -> str:
    value = (value or "").strip()
    if not value.startswith(prefix) or len(value) > 200 or not value.isprintable():
        raise ValidationError.for_field(
            field, f"{label} starts with {' or '.join(prefix)}; copy it from Stripe's dashboard."
        )
    return value


def stripe_account_save(
    *, actor: Actor, seller, publishable_key: str, secret_key: str, webhook_secret: str
) -> StripeAccount:
    """Save (or replace) the seller's Stripe keys after checking them against Stripe."""
    access.require(actor, "payments.account", seller)
    publishable = _clean_key(publishable_key, ("pk_",), "publishable_key", "The publishable key")
    secret = _clean_key(secret_key, ("sk_", "rk_"), "secret_key", "The secret key")
    hook = _clean_key(webhook_secret, ("whsec_",), "webhook_secret", "The webhook secret")
    if publishable[3:7] != secret[3:7]:
        raise ValidationError.for_field(
            "secret_key", "The two keys are not from the same mode (test or live)."
        )
    try:
        balance = stripe_api.client_with(secret).v1.balance.retrieve()
    except stripe.AuthenticationError:
        raise ValidationError.for_field("secret_key", "Stripe does not accept this key.") from None
    except stripe.StripeError as exc:
        raise stripe_api.unavailable(exc) from None
    with transaction.atomic():
        account = StripeAccount.objects.select_for_update().filter(seller=seller).first()
        created = account is None
        account = account or StripeAccount(seller=seller)
        account.publishable_key, account.secret_key, account.webhook_secret = (
            publishable,
            secret,
            hook,
        )
        account.livemode = bool(getattr(balance, "livemode", False))
        account.checked_at = clock.now()
        account.updated_by = person(actor)
        account.save()
        audit_record(
            actor=actor,
            organization=seller,
            action="payments.account_saved" if created else "payments.account_replaced",
            obj=account,
            # never the keys themselves
            after={"publishable_key": publishable[:12] + "…", "livemode": account.livemode},
        )
    register_local_webhook(account)
    return account


def webhook_url(account: StripeAccount, *, base: str) -> str:
    return base.rstrip("/") + reverse("payments_webhook", args=[account.endpoint_token])


def register_local_webhook(account: StripeAccount) -> bool:
    """With localstripe (the demo and tests), tell it where this account's events go; real
    Stripe is told by the seller in its dashboard (the settings page shows the address)."""
    if not settings.STRIPE_WEBHOOK_BASE_URL:
        return False
    url = webhook_url(account, base=settings.STRIPE_WEBHOOK_BASE_URL)
    try:
        response = requests.post(
            f"{settings.STRIPE_API_BASE.rstrip('/')}/_config/webhooks/account-{account.pk}",
            data={"url": url, "secret": account.webhook_secret},
            timeout=5,
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


@transaction.atomic
def payment_policy_update(*, actor: Actor, seller, **fields) -> PaymentPolicy:
    """Set the seller's self-service limits, unpaid-order time and dunning schedule."""
    access.require(actor, "payments.manage", seller)
    policy, _ = PaymentPolicy.objects.select_for_update().get_or_create(seller=seller)
    before = {k: str(getattr(policy, k)) for k in fields if hasattr(policy, k)}
    allowed = {
        "max_seats_per_order",
        "max_amount_per_order",
        "unpaid_order_hours",
        "retry_days",
        "suspend_after_days",
        "cancel_after_days",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    if "max_seats_per_order" in fields:
        policy.max_seats_per_order = _whole(fields["max_seats_per_order"], "max_seats_per_order",
                                            minimum=1, blank=True)  # fmt: skip
    if "max_amount_per_order" in fields:
        value = fields["max_amount_per_order"]
        if value in (None, ""):
            policy.max_amount_per_order = None
        else:
            try:
                amount = to_decimal(value)
            except MoneyError:
                raise ValidationError.for_field("max_amount_per_order", "Give an amount.") from None
            if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                raise ValidationError.for_field(
                    "max_amount_per_order", "An amount above 0 with at most two decimals."
                )
            policy.max_amount_per_order = amount
    if "unpaid_order_hours" in fields:
        policy.unpaid_order_hours = _whole(fields["unpaid_order_hours"], "unpaid_order_hours",
                                           minimum=1, maximum=24 * 60)  # fmt: skip
    if "retry_days" in fields:
        raw = str(fields["retry_days"] or "").replace(" ", "")
        parts = [p for p in raw.split(",") if p]
        if not parts or not all(p.isdigit() and 1 <= int(p) <= 60 for p in parts):
            raise ValidationError.for_field(
                "retry_days", "Days after the first failure, e.g. 1,3,7 (each 1 to 60)."
            )
        policy.retry_days = ",".join(str(d) for d in sorted({int(p) for p in parts}))
    if "suspend_after_days" in fields:
        policy.suspend_after_days = _whole(fields["suspend_after_days"], "suspend_after_days",
                                           minimum=1, maximum=120)  # fmt: skip
    if "cancel_after_days" in fields:
        policy.cancel_after_days = _whole(fields["cancel_after_days"], "cancel_after_days",
                                          minimum=1, maximum=365)  # fmt: skip
    policy.save()
    audit_record(
        actor=actor,
        organization=seller,
        action="payments.policy_changed",
        obj=policy,
        before=before,
        after={k: str(getattr(policy, k)) for k in fields},
    )
    return policy


def _whole(value, field: str, *, minimum: int, maximum: int = 1_000_000, blank: bool = False):
    if blank and value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError.for_field(field, "Give a whole number.") from None
    if not minimum <= number <= maximum:
        raise ValidationError.for_field(field, f"Between {minimum} and {maximum}.")
    return number


@transaction.atomic
def invoice_terms_set(*, actor: Actor, buyer, days) -> BuyerAccount:
    """The seller lets the buyer pay within ``days`` days of each invoice instead of by card
    before provisioning (None takes the terms away)."""
    seller = buyer.parent
    access.require(actor, "payments.manage", seller)
    days = _whole(days, "days", minimum=0, maximum=120, blank=True)
    account, _ = BuyerAccount.objects.select_for_update().get_or_create(
        buyer=buyer, defaults={"seller": seller}
    )
    before = account.invoice_terms_days
    account.invoice_terms_days = days
    account.save(update_fields=["invoice_terms_days", "updated_at"])
    audit_record(
        actor=actor,
        organization=buyer,
        action="payments.terms_changed",
        obj=account,
        before={"days": before},
        after={"days": days},
    )
    return account
