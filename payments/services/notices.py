"""E-mails of payments, branded by the seller, to the buyer's billing people (its admins when
it has none), sent after commit through the one e-mail task."""

from __future__ import annotations

from portal.mail import send_branded_email
from portal.models import Membership, Role
from portal.money import format_money


def billing_people(buyer) -> list[str]:
    rows = Membership.objects.filter(organization=buyer, is_active=True)
    billing = list(rows.filter(role=Role.BILLING).values_list("user__email", flat=True))
    return billing or list(rows.filter(role=Role.ADMIN).values_list("user__email", flat=True))


def _send(buyer, template: str, context: dict) -> None:
    to = billing_people(buyer)
    if to:
        send_branded_email(organization=buyer, to=to, template=template, context=context)


def receipt_send(payment) -> None:
    invoice = payment.invoice
    _send(
        payment.buyer,
        "payments/email/receipt",
        {
            "buyer": payment.buyer.name,
            "invoice": invoice.number,
            "amount": format_money(payment.amount, payment.currency),
            "card": payment.payment_method.label if payment.payment_method_id else "",
            "source": payment.get_source_display(),
        },
    )


def reminder_send(dunning) -> None:
    from payments.services.collect import amount_due

    invoice = dunning.invoice
    _send(
        invoice.buyer,
        "payments/email/reminder",
        {
            "buyer": invoice.buyer.name,
            "invoice": invoice.number,
            "due": format_money(amount_due(invoice), invoice.currency),
            "error": dunning.last_error,
            "next_retry_on": dunning.next_retry_on,
            "attempts": dunning.attempts,
        },
    )


def suspended_send(dunning) -> None:
    from payments.services.collect import amount_due

    invoice = dunning.invoice
    _send(
        invoice.buyer,
        "payments/email/suspended",
        {
            "buyer": invoice.buyer.name,
            "invoice": invoice.number,
            "due": format_money(amount_due(invoice), invoice.currency),
        },
    )
