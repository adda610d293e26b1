"""Collecting what invoices owe: what is due (derived, never stored), card payments (on the
buyer's page, automatically, or in a dunning retry), offline payments recorded by staff, the
buyer's credit balance, and what a settled invoice sets going (its order's provisioning, the
end of dunning).

A card payment goes in three steps, each committed before the next:

1. the ``Payment`` row (the partial unique constraint allows one card payment in flight per
   invoice, so concurrent triggers end up with the same row, never two charges);
2. a PaymentIntent created at Stripe without moving money, its id stored on the row;
3. the intent confirmed (this moves the money), with the row's idempotency key; the outcome
   recorded.

A retry of any step (a crash, a double click, a replayed webhook) resumes from what is stored:
a stored intent is asked where it stands and confirmed only if it still needs it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import stripe
from django.db import IntegrityError, transaction
from django.db.models import Sum

from billing.models import CreditNote, Invoice, InvoiceState
from payments.models import (
    OPEN_PAYMENT_STATES,
    BalanceEntry,
    BalanceKind,
    BuyerAccount,
    Payment,
    PaymentMethod,
    PaymentSource,
    PaymentState,
    PaymentTrigger,
    StripeAccount,
)
from payments.services import stripe_api
from portal import access, clock
from portal.actors import Actor, person, require_actor, system
from portal.errors import Conflict, NotFound, ValidationError
from portal.idempotency import idempotency_claim
from portal.money import MoneyError, quantize, to_decimal, to_minor_units
from portal.services import audit_record

logger = logging.getLogger(__name__)

PAYMENTS = system("payments")
PAYABLE = (InvoiceState.ISSUED, InvoiceState.UNCOLLECTIBLE)
# A payment waiting this long for the customer's authentication (3DS) was abandoned: paying
# again cancels its intent and starts a new one.
ABANDONED_AFTER = timedelta(minutes=15)


# --- what is owed ---------------------------------------------------------------------------


def amount_due(invoice: Invoice) -> Decimal:
    """What the invoice still owes: its total, less its credit notes, the payments applied to
    it and the credit balance used for it (never below zero)."""
    if invoice.state in (InvoiceState.DRAFT, InvoiceState.VOID):
        return Decimal(0).quantize(Decimal("0.01"))
    credited = CreditNote.objects.filter(invoice=invoice).aggregate(s=Sum("total"))["s"] or 0
    paid = (
        Payment.objects.filter(invoice=invoice, state=PaymentState.SUCCEEDED).aggregate(
            s=Sum("applied")
        )["s"]
        or 0
    )
    used = (
        BalanceEntry.objects.filter(invoice=invoice, kind=BalanceKind.APPLIED).aggregate(
            s=Sum("amount")
        )["s"]
        or 0
    )
    due = invoice.total - credited - paid + used  # ``used`` is negative
    return max(quantize(due, invoice.currency), Decimal(0).quantize(Decimal("0.01")))


def balance_of(buyer, seller, currency: str) -> Decimal:
    """The buyer's credit balance with the seller in the currency."""
    total = (
        BalanceEntry.objects.filter(buyer=buyer, seller=seller, currency=currency).aggregate(
            s=Sum("amount")
        )["s"]
        or 0
    )
    return quantize(total, currency)


def buyer_account(buyer, seller) -> BuyerAccount:
    account, _ = BuyerAccount.objects.get_or_create(buyer=buyer, defaults={"seller": seller})
    return account


def stripe_account_of(seller) -> StripeAccount:
    account = StripeAccount.objects.filter(seller=seller).first()
    if account is None:
        raise Conflict(
            f"{seller.name} does not take card payments yet; pay by bank transfer or ask "
            f"{seller.name}.",
            code="no_payment_account",
        )
    return account


# --- the credit balance ---------------------------------------------------------------------


def balance_apply(invoice: Invoice) -> Decimal:
    """Use the buyer's credit balance for a newly issued invoice (in the issuing
    transaction). Returns the amount used."""
    if invoice.total <= 0:
        return Decimal(0)
    available = balance_of(invoice.buyer, invoice.seller, invoice.currency)
    use = min(available, invoice.total)
    if use <= 0:
        return Decimal(0)
    BalanceEntry.objects.create(
        buyer=invoice.buyer,
        seller=invoice.seller,
        currency=invoice.currency,
        amount=-use,
        kind=BalanceKind.APPLIED,
        invoice=invoice,
        note=f"Used for invoice {invoice.number}",
    )
    return use


def balance_credit(*, buyer, seller, currency, amount, kind, note="", **refs) -> BalanceEntry:
    return BalanceEntry.objects.create(
        buyer=buyer,
        seller=seller,
        currency=currency,
        amount=amount,
        kind=kind,
        note=note[:200],
        **refs,
    )


# --- after an invoice is issued -------------------------------------------------------------


def after_issue(invoices: list[Invoice]) -> None:
    """In the issuing transaction: use credit balances, settle what that pays in full, and
    once committed charge the default card of buyers with automatic payment."""
    autopay = []
    buyers = {i.buyer_id for i in invoices}
    accounts = {a.buyer_id: a for a in BuyerAccount.objects.filter(buyer_id__in=buyers)}
    # One query for every balance of these buyers: most have none, and pay no query more.
    with_balance = {
        (buyer, seller, currency)
        for buyer, seller, currency, total in BalanceEntry.objects.filter(buyer_id__in=buyers)
        .values("buyer_id", "seller_id", "currency")
        .annotate(total=Sum("amount"))
        .values_list("buyer_id", "seller_id", "currency", "total")
        if total > 0
    }
    for invoice in invoices:
        key = (invoice.buyer_id, invoice.seller_id, invoice.currency)
        if key in with_balance and balance_apply(invoice):
            settle_if_paid(invoice)
        account = accounts.get(invoice.buyer_id)
        if account is not None and account.autopay and invoice.source != "order":
            if invoice.buyer.sandbox:
                continue  # charged by its Advance, on its own day (portal.sandbox_clock)
            autopay.append(invoice.pk)
    if autopay:

        def start():
            from payments.tasks import payment_autopay

            for pk in autopay:
                payment_autopay.delay(pk)

        transaction.on_commit(start)


# --- card payments --------------------------------------------------------------------------


def _lock_invoice(invoice: Invoice) -> Invoice:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("buyer", "seller")
        .get(pk=invoice.pk)
    )


def _default_card(buyer) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(
        buyer=buyer, is_default=True, removed_at__isnull=True
    ).first()


def payment_open(
    *,
    actor: Actor,
    invoice: Invoice,
    card: PaymentMethod | None = None,
    trigger: str = PaymentTrigger.PAY_NOW,
) -> Payment:
    """Step 1: the card payment row for what the invoice owes now, or the one already in
    flight (the same row for every concurrent trigger). A payment stuck waiting for the
    customer's authentication is replaced when the customer pays again after
    ``ABANDONED_AFTER`` or with another card, so an abandoned 3DS challenge never blocks the
    invoice for good."""
    require_actor(actor)
    if trigger in (PaymentTrigger.PAY_NOW, PaymentTrigger.CHECKOUT):
        _replace_abandoned(actor=actor, invoice=invoice, card=card)
    return _open(actor=actor, invoice=invoice, card=card, trigger=trigger)


@transaction.atomic
def _open(*, actor: Actor, invoice: Invoice, card: PaymentMethod | None, trigger: str) -> Payment:
    invoice = _lock_invoice(invoice)
    access.require(actor, "payments.pay", invoice.buyer)
    open_one = Payment.objects.filter(
        invoice=invoice, source=PaymentSource.CARD, state__in=OPEN_PAYMENT_STATES
    ).first()
    if open_one is not None:
        return open_one
    if invoice.state not in PAYABLE:
        raise Conflict(f"Invoice {invoice.label} is {invoice.get_state_display().lower()}.")
    due = amount_due(invoice)
    if due <= 0:
        raise Conflict(f"Invoice {invoice.label} has nothing left to pay.")
    if trigger == PaymentTrigger.AUTOPAY:
        # The task may run long after the invoice was issued: the buyer may have turned
        # automatic payment off, or removed its card, since.
        account = BuyerAccount.objects.filter(buyer=invoice.buyer).first()
        if account is None or not account.autopay:
            raise Conflict("Automatic payment is off.", code="autopay_off")
    card = card or _default_card(invoice.buyer)
    if card is None:
        raise ValidationError.for_field("card", "Add a card first.")
    if card.buyer_id != invoice.buyer_id or card.removed_at is not None:
        raise NotFound("No such card.")
    stripe_account_of(invoice.seller)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                invoice=invoice,
                buyer=invoice.buyer,
                seller=invoice.seller,
                source=PaymentSource.CARD,
                trigger=trigger,
                currency=invoice.currency,
                amount=due,
                payment_method=card,
                off_session=trigger in (PaymentTrigger.AUTOPAY, PaymentTrigger.RETRY),
                created_by=person(actor),
            )
    except IntegrityError:  # pragma: no cover - the invoice lock makes this a last resort
        return Payment.objects.get(
            invoice=invoice, source=PaymentSource.CARD, state__in=OPEN_PAYMENT_STATES
        )
    audit_record(
        actor=actor,
        organization=invoice.buyer,
        action="payment.started",
        obj=payment,
        after={"invoice": invoice.number, "amount": str(due), "trigger": trigger},
    )
    return payment


def _replace_abandoned(*, actor: Actor, invoice: Invoice, card: PaymentMethod | None) -> None:
    """Cancel (at Stripe, then here) the invoice's payment that waits for an authentication
    the customer abandoned, so that paying again starts afresh. If Stripe says it went
    through after all, it is recorded as paid instead."""
    waiting = Payment.objects.filter(
        invoice=invoice, source=PaymentSource.CARD, state=PaymentState.REQUIRES_ACTION
    ).first()
    if waiting is None:
        return
    stale = waiting.updated_at <= clock.now() - ABANDONED_AFTER
    other_card = card is not None and card.pk != waiting.payment_method_id
    if not (stale or other_card):
        return  # the customer may still be authenticating it: reuse it
    access.require(actor, "payments.pay", invoice.buyer)
    with transaction.atomic():
        _lock_invoice(invoice)
        waiting = Payment.objects.select_for_update().get(pk=waiting.pk)
        if waiting.state != PaymentState.REQUIRES_ACTION:
            return
        client = stripe_api.client_for(stripe_account_of(waiting.seller))
        try:
            intent = client.v1.payment_intents.cancel(waiting.stripe_intent_ref)
        except stripe.InvalidRequestError:
            # Not cancellable any more: it moved on (the customer finished meanwhile).
            try:
                intent = client.v1.payment_intents.retrieve(waiting.stripe_intent_ref)
            except stripe.StripeError as exc:
                raise stripe_api.unavailable(exc) from None
            record_intent(payment=waiting, intent=intent)
            return
        except stripe.StripeError as exc:
            raise stripe_api.unavailable(exc) from None
        if intent.status != "canceled":  # pragma: no cover - Stripe answers canceled
            record_intent(payment=waiting, intent=intent)
            return
        waiting.state = PaymentState.CANCELLED
        waiting.failure_code = "abandoned"
        waiting.failure_message = "The card's authentication was not completed; paid again."
        waiting.settled_at = clock.now()
        waiting.save(
            update_fields=["state", "failure_code", "failure_message", "settled_at", "updated_at"]
        )
        audit_record(
            actor=actor,
            organization=invoice.buyer,
            action="payment.abandoned",
            obj=waiting,
            after={"invoice": invoice.number, "intent": waiting.stripe_intent_ref},
        )


def _lock_payment(payment: Payment) -> Payment:
    """The payment locked, its invoice locked first (the one order every writer of payments
    takes locks in, so they never deadlock)."""
    _lock_invoice(payment.invoice)
    return (
        Payment.objects.select_for_update(of=("self",))
        .select_related("seller", "buyer", "payment_method", "invoice")
        .get(pk=payment.pk)
    )


def payment_charge(*, actor: Actor, payment: Payment) -> Payment:
    """Steps 2 and 3 for a payment row: create its PaymentIntent (once), confirm it (once),
    record the outcome. Safe to call again, and concurrently, at any point: each step holds
    the invoice's and the payment's row locks while it talks to Stripe, so a second caller
    waits and then finds the step done. Callers (tasks, views) call it outside any
    transaction, so that each step is committed before the next."""
    require_actor(actor)
    created = None
    with transaction.atomic():
        payment = _lock_payment(payment)
        if not payment.is_open:
            return payment
        if not payment.stripe_intent_ref:
            created = _create_intent(payment)
    with transaction.atomic():
        payment = _lock_payment(payment)
        if not payment.is_open:
            return payment
        return _confirm_intent(payment, created=created)


def _create_intent(payment: Payment):
    """Step 2 (under the payment's lock): a PaymentIntent that moves no money yet."""
    client = stripe_api.client_for(stripe_account_of(payment.seller))
    customer = buyer_account(payment.buyer, payment.seller).stripe_customer_ref
    try:
        intent = client.v1.payment_intents.create(
            {
                "amount": to_minor_units(payment.amount, payment.currency),
                "currency": payment.currency.lower(),
                "customer": customer,
                "payment_method": payment.payment_method.stripe_ref,
                "metadata": {"payment": str(payment.pk), "invoice": str(payment.invoice_id)},
            },
            {"idempotency_key": f"{payment.idempotency_key}-intent"},
        )
    except stripe.StripeError as exc:
        logger.warning("creating the intent of payment %s failed: %s", payment.pk, exc)
        raise stripe_api.unavailable(exc) from None
    payment.stripe_intent_ref, payment.client_secret = intent.id, intent.client_secret
    payment.save(update_fields=["stripe_intent_ref", "client_secret", "updated_at"])
    return intent


def _confirm_intent(payment: Payment, *, created=None) -> Payment:
    """Step 3 (under the payment's lock): confirm the stored intent if it still needs it (this
    moves the money) and record the outcome. An intent this call has just created is known to
    need it; any other is first asked where it stands (a crash may have confirmed it). If
    Stripe refuses the confirmation because the intent moved on meanwhile, it is asked again
    and what it says is recorded."""
    client = stripe_api.client_for(stripe_account_of(payment.seller))
    try:
        intent = created or client.v1.payment_intents.retrieve(payment.stripe_intent_ref)
        if intent.status == "requires_confirmation":
            try:
                intent = client.v1.payment_intents.confirm(
                    intent.id,
                    stripe_api.confirm_params(off_session=payment.off_session),
                    {"idempotency_key": f"{payment.idempotency_key}-confirm"},
                )
            except stripe.InvalidRequestError:
                intent = client.v1.payment_intents.retrieve(payment.stripe_intent_ref)
    except stripe.CardError as exc:
        outcome = stripe_api.declined(exc)
        return payment_fail(payment=payment, code=outcome.code, message=outcome.message)
    except stripe.StripeError as exc:
        logger.warning("confirming payment %s failed: %s", payment.pk, exc)
        raise stripe_api.unavailable(exc) from None
    return record_intent(payment=payment, intent=intent)


def record_intent(*, payment: Payment, intent) -> Payment:
    """Record where a payment's PaymentIntent stands (from a confirm, a retrieve or a
    webhook). Only moves forward: a succeeded payment never goes back."""
    intent = intent if isinstance(intent, dict) else intent.to_dict()
    status = intent.get("status")
    if status == "succeeded":
        return payment_succeed(payment=payment)
    if status == "requires_action":
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk, state__in=OPEN_PAYMENT_STATES).update(
                state=PaymentState.REQUIRES_ACTION
            )
        payment.refresh_from_db()
        return payment
    if status in ("processing",):
        Payment.objects.filter(pk=payment.pk, state__in=OPEN_PAYMENT_STATES).update(
            state=PaymentState.PROCESSING
        )
        payment.refresh_from_db()
        return payment
    if status in ("requires_payment_method", "canceled"):
        error = (
            intent.get("last_payment_error")
            if isinstance(intent, dict)
            else getattr(intent, "last_payment_error", None)
        ) or {}
        # A webhook's payload is a dict; the library's objects are not (and have no .get).
        field = error.get if isinstance(error, dict) else lambda k: getattr(error, k, None)
        if status == "canceled" and not error:
            code, message = "canceled", "The payment was cancelled."
        else:
            code = field("decline_code") or field("code") or "card_declined"
            message = stripe_api.decline_reason(
                field("code"), field("decline_code"), field("message")
            )
        return payment_fail(payment=payment, code=code, message=message)
    return payment


@transaction.atomic
def payment_succeed(*, payment: Payment) -> Payment:
    """A card payment went through: apply it to its invoice (the rest, if the invoice was
    paid meanwhile, to the buyer's balance) and settle the invoice when nothing is left."""
    invoice = _lock_invoice(payment.invoice)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.state == PaymentState.SUCCEEDED:
        return payment
    if payment.state in (PaymentState.FAILED, PaymentState.CANCELLED):
        # Stripe says it succeeded after all (events out of order are re-read, not trusted
        # blindly): the money is in, so it counts.
        logger.warning("payment %s succeeded after being recorded %s", payment.pk, payment.state)
    _apply(payment, invoice)
    audit_record(
        actor=PAYMENTS,
        organization=invoice.buyer,
        action="payment.succeeded",
        obj=payment,
        after={"invoice": invoice.number, "amount": str(payment.amount)},
    )
    settle_if_paid(invoice)
    _receipt(payment)
    return payment


def _apply(payment: Payment, invoice: Invoice) -> None:
    due = amount_due(invoice)
    applied = min(payment.amount, due)
    payment.applied = applied
    payment.state = PaymentState.SUCCEEDED
    payment.settled_at = clock.now()
    payment.failure_code = payment.failure_message = ""
    payment.save(
        update_fields=[
            "applied",
            "state",
            "settled_at",
            "failure_code",
            "failure_message",
            "updated_at",
        ]
    )
    extra = payment.amount - applied
    if extra > 0:
        balance_credit(
            buyer=payment.buyer,
            seller=payment.seller,
            currency=payment.currency,
            amount=extra,
            kind=BalanceKind.OVERPAYMENT,
            note=f"Paid {extra} {payment.currency} more than invoice {invoice.number} owed",
            payment=payment,
        )


@transaction.atomic
def payment_fail(*, payment: Payment, code: str, message: str) -> Payment:
    payment = (
        Payment.objects.select_for_update().select_related("invoice", "buyer").get(pk=payment.pk)
    )
    if payment.state not in OPEN_PAYMENT_STATES:
        return payment
    payment.state = PaymentState.FAILED
    payment.failure_code, payment.failure_message = code[:60], message[:300]
    payment.settled_at = clock.now()
    payment.save(
        update_fields=["state", "failure_code", "failure_message", "settled_at", "updated_at"]
    )
    audit_record(
        actor=PAYMENTS,
        organization=payment.buyer,
        action="payment.failed",
        obj=payment,
        after={"invoice": payment.invoice.number, "code": code, "message": message[:200]},
    )
    if payment.off_session:
        from payments.services.dunning import dunning_failed

        dunning_failed(invoice=payment.invoice, message=message)
    return payment


def settle_if_paid(invoice: Invoice) -> bool:
    """Mark the invoice paid when nothing is left to pay, and set going what waited for it:
    its order's provisioning, the end of its dunning (resuming suspended service)."""
    if invoice.state not in PAYABLE or amount_due(invoice) > 0:
        return False
    from billing.services.invoices import invoice_mark_paid

    invoice_mark_paid(actor=PAYMENTS, invoice=invoice)
    from payments.services.dunning import dunning_resolve
    from payments.services.ordering import order_paid

    dunning_resolve(invoice=invoice)
    order_paid(invoice=invoice)
    return True


def _receipt(payment: Payment) -> None:
    from payments.services.notices import receipt_send

    receipt_send(payment)


# --- offline payments -----------------------------------------------------------------------


@transaction.atomic
def payment_record_offline(
    *,
    actor: Actor,
    invoice: Invoice,
    amount,
    source: str,
    reference: str = "",
    received_on=None,
    idempotency_key: str = "",
) -> Payment:
    """Seller staff record a bank transfer or a cheque: all, part or more than the invoice
    owes (what is more goes to the buyer's credit balance). With an ``idempotency_key`` (the
    API's header, a page's one-time form token) the same request twice records one payment
    and answers it both times; the same key with another request is refused
    (portal.idempotency). The key is scoped to the seller recording it."""
    invoice = _lock_invoice(invoice)
    access.require(actor, "payments.manage", invoice.seller)
    claim = idempotency_claim(
        organization=invoice.seller,
        operation="payment.record_offline",
        key=idempotency_key,
        request={
            "invoice": invoice.pk,
            "amount": str(amount),
            "source": source,
            "reference": (reference or "").strip(),
            "received_on": received_on,
        },
        actor=actor,
    )
    if claim is not None and claim.replay:
        return claim.result(Payment)
    if invoice.state not in (*PAYABLE, InvoiceState.PAID):
        raise Conflict(f"Invoice {invoice.label} is {invoice.get_state_display().lower()}.")
    if source not in (PaymentSource.TRANSFER, PaymentSource.CHEQUE):
        raise ValidationError.for_field("source", "Choose bank transfer or cheque.")
    try:
        value = to_decimal(amount)
    except MoneyError:
        raise ValidationError.for_field("amount", "Give the amount received, e.g. 82.50.") from None
    if value <= 0 or quantize(value, invoice.currency) != value:
        raise ValidationError.for_field(
            "amount", f"The amount is more than 0, in whole {invoice.currency} minor units."
        )
    if value > Decimal("100000000"):
        raise ValidationError.for_field("amount", "That amount is not plausible.")
    reference = (reference or "").strip()[:100]
    received_on = received_on or clock.today()
    if received_on > clock.today():
        raise ValidationError.for_field("received_on", "The money cannot arrive in the future.")
    payment = Payment.objects.create(
        invoice=invoice,
        buyer=invoice.buyer,
        seller=invoice.seller,
        source=source,
        trigger=PaymentTrigger.STAFF,
        currency=invoice.currency,
        amount=value,
        reference=reference,
        received_on=received_on,
        created_by=person(actor),
    )
    _apply(payment, invoice)
    audit_record(
        actor=actor,
        organization=invoice.buyer,
        action="payment.recorded",
        obj=payment,
        after={
            "invoice": invoice.number,
            "amount": str(value),
            "source": source,
            "reference": reference,
            "applied": str(payment.applied),
        },
    )
    settle_if_paid(invoice)
    if claim is not None:
        claim.complete(payment)
    return payment
