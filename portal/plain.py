"""Plain words for customers: what the portal's internal names (provisioning steps, audit
actions, order states) mean to the person who bought the subscription.

Staff pages keep the exact names (they search and filter by them); the customer portal shows
these sentences instead, so a customer never meets ``account.signup`` or ``seat.assigned``."""

from __future__ import annotations

from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from orders.models import ChangeState, ChangeTiming, Order, OrderKind, OrderState

# What each provisioning step does, as the customer would say it.
STEP_WORDS = {
    "account.signup": _("Open your Box account"),
    "account.verify_email": _("Confirm the Box administrator's e-mail address"),
    "account.authorize_app": _("Connect your Box account to the portal"),
    "account.link_admin": _("Set up your Box administrator"),
    "account.change_plan": _("Move your Box account to the new plan"),
    "account.change_seats": _("Change the number of seats at Box"),
    "account.cancel": _("Close your Box account"),
    "account.suspend": _("Pause your people's access to Box"),
    "account.resume": _("Give your people their access to Box back"),
    "user.create": _("Create a person's Box user"),
    "user.update": _("Update a person's Box user"),
    "user.suspend": _("Pause a person's Box user"),
    "user.resume": _("Give a person their Box user back"),
    "user.delete": _("Remove a person's Box user"),
}

STEP_STATE_WORDS = {
    "pending": _("Waiting"),
    "running": _("In progress"),
    "succeeded": _("Done"),
    "failed": _("Could not be done"),
    "cancelled": _("Not needed"),
}

# Audit actions a customer can meet in its activity log. Anything not listed reads through
# NOUNS and VERBS below, still without a code.
ACTION_WORDS = {
    "order.created": "Placed an order",
    "order.updated": "Updated an order",
    "order.submitted": "Submitted an order",
    "order.awaiting_approval": "An order went to the seller for approval",
    "order.awaiting_payment": "An order waits for its payment",
    "order.provisioning": "An order is being set up at Box",
    "order.completed": "An order was completed",
    "order.failed": "An order could not be completed",
    "order.cancelled": "Cancelled an order",
    "subscription.created": "A subscription started",
    "subscription.active": "A subscription became active",
    "subscription.trial": "A trial started",
    "subscription.suspended": "A subscription was suspended",
    "subscription.cancelled": "A subscription ended",
    "subscription.changed": "Changed a subscription",
    "subscription.change_withdrawn": "Withdrew a scheduled change",
    "subscription.cancel_scheduled": "Scheduled the end of a subscription",
    "subscription.cancel_withdrawn": "Kept a subscription that was due to end",
    "subscription.renewed": "A subscription renewed",
    "subscription.price_move_scheduled": "A new price was announced",
    "subscription.price_move_withdrawn": "An announced price was withdrawn",
    "seat.assigned": "Gave someone a seat",
    "seat.unassigned": "Freed a seat",
    "seat.updated": "Changed a seat",
    "seatassignment.active": "A seat is ready at Box",
    "seatassignment.failed": "A seat could not be set up at Box",
    "seatassignment.removed": "A seat's Box user was removed",
    "invoice.issued": "An invoice was issued",
    "invoice.emailed": "An invoice was e-mailed",
    "invoice.paid": "An invoice was paid",
    "invoice.void": "An invoice was cancelled",
    "invoice.void_reason": "An invoice was cancelled",
    "invoice.uncollectible": "An invoice was marked as not collectable",
    "invoice.pdf_stored": "An invoice's PDF is ready",
    "credit_note.issued": "A credit note was issued",
    "credit_note.emailed": "A credit note was e-mailed",
    "credit_note.pdf_stored": "A credit note's PDF is ready",
    "credit_note.refund_requested": "A refund was requested",
    "credit_note.to_balance": "A credit note went to your credit balance",
    "payment.started": "A payment started",
    "payment.succeeded": "A payment went through",
    "payment.failed": "A payment failed",
    "payment.recorded": "A payment was recorded",
    "refund.succeeded": "A refund was paid",
    "refund.failed": "A refund failed",
    "refund.pending": "A refund is on its way",
    "card.saved": "Saved a card",
    "card.default": "Chose the card to pay with",
    "card.removed": "Removed a card",
    "payments.autopay_on": "Turned automatic payment on",
    "payments.autopay_off": "Turned automatic payment off",
    "payments.terms_changed": "Payment terms changed",
    "dunning.started": "Payment reminders started",
    "dunning.resolved": "Payment reminders ended: the invoice is paid",
    "dunning.cancelled": "Payment reminders stopped",
    "dunning.suspended": "Service paused for an unpaid invoice",
    "customer.signed_up": "Signed up",
    "customer.approved": "The seller approved your company",
    "organization.created": "Your company was created",
    "organization.updated": "Changed the company details",
    "membership.created": "Someone joined the team",
    "membership.deactivated": "Someone left the team",
    "membership.reactivated": "Someone rejoined the team",
    "membership.role_changed": "Changed someone's role",
    "invitation.created": "Invited someone",
    "invitation.accepted": "An invitation was accepted",
    "invitation.revoked": "Withdrew an invitation",
    "api_token.created": "Created an API token",
    "api_token.revoked": "Revoked an API token",
    "trial.started": "A trial started",
    "promotion.redeemed": "A promotion code was used",
    "provisioning.account_opened": "Your Box account is being opened",
    "provisioning.account_linked": "Your Box account was connected",
    "provisioning.job_enqueued": "Work at Box was queued",
    "provisioning.job_retried": "Work at Box was tried again",
    "provisioning.job_cancelled": "Work at Box was called off",
    "provisioning.job_skipped": "Work at Box was skipped",
    "provisioning.reconcile_requested": "Your Box account was checked",
    "provisioning.user_requested": "Asked Box to create a person's user",
    "provisioning.user_change_requested": "Asked Box to update a person's user",
    "provisioning.user_delete_requested": "Asked Box to remove a person's user",
    "provisioning.user_suspend_requested": "Asked Box to pause a person's user",
    "provisioning.user_resume_requested": "Asked Box to give a person their user back",
    "provisioning.seat_change_requested": "Asked Box to change the number of seats",
    "provisioning.plan_change_requested": "Asked Box to move to the new plan",
    "provisioning.cancel_requested": "Asked Box to close the account",
    "provisioning.suspend_requested": "Asked Box to pause your people's access",
    "provisioning.resume_requested": "Asked Box to give your people their access back",
    "usage.collection_requested": "Usage was measured again",
    "usage.collection_retried": "Usage was measured again",
    "usage.reaggregated": "Usage was recounted",
}

NOUNS = {
    "order": "An order",
    "subscription": "A subscription",
    "seat": "A seat",
    "seatassignment": "A seat",
    "invoice": "An invoice",
    "credit_note": "A credit note",
    "payment": "A payment",
    "refund": "A refund",
    "card": "A card",
    "payments": "Payment settings",
    "dunning": "Payment reminders",
    "membership": "A team membership",
    "invitation": "An invitation",
    "organization": "The company",
    "customer": "The company",
    "provisioning": "Work at Box",
    "usage": "Usage",
}

# Which kinds of audited objects a customer may see named (others are internal records).
NAMED_OBJECTS = {
    "orders.order",
    "orders.subscription",
    "orders.seatassignment",
    "billing.invoice",
    "billing.creditnote",
    "portal.organization",
    "portal.invitation",
}

# Customer-facing filter of the activity log: label -> action prefixes.
ACTIVITY_GROUPS = {
    "orders": ("Orders", ("order.",)),
    "subscriptions": ("Subscriptions", ("subscription.", "trial.", "promotion.")),
    "seats": ("Seats", ("seat.", "seatassignment.")),
    "billing": (
        "Invoices and payments",
        ("invoice.", "credit_note.", "payment.", "refund.", "card.", "payments.", "dunning."),
    ),
    "team": ("Team and company", ("membership.", "invitation.", "organization.", "customer.")),
}


def step_words(operation: str) -> str:
    return str(STEP_WORDS.get(operation) or gettext("Work at Box"))


def step_state_words(state: str) -> str:
    return str(STEP_STATE_WORDS.get(state) or gettext("Waiting"))


def action_words(action: str) -> str:
    """A sentence for an audit action; never the action's code."""
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    noun, _, verb = action.partition(".")
    subject = NOUNS.get(noun, "Something")
    return f"{subject}: {verb.replace('_', ' ')}" if verb else subject


def object_words(event) -> str:
    """What the audited object is called, when a customer may see it named."""
    if event.object_type in NAMED_OBJECTS:
        return event.object_repr
    return ""


def order_status(order: Order, today: date) -> tuple[str, str]:
    """The order's state as the customer should read it: ``(words, badge class)``.

    A change or cancellation at the end of the term completes its order at once (the change
    is recorded); until the day comes it reads as scheduled, and a withdrawn one as
    withdrawn, never as "Completed"."""
    if order.state == OrderState.COMPLETED and order.timing == ChangeTiming.END_OF_TERM:
        when = (
            date_format(order.effective_on, "j M Y")
            if order.effective_on
            else gettext("the end of the term")
        )
        scheduled = gettext("Scheduled for %(when)s") % {"when": when}
        if order.kind == OrderKind.CHANGE:
            change = getattr(order, "change", None)
            if change is not None and change.state == ChangeState.SCHEDULED:
                return scheduled, "scheduled"
            if change is not None and change.state == ChangeState.CANCELLED:
                return gettext("Withdrawn"), "cancelled"
        elif order.kind == OrderKind.CANCEL and order.subscription is not None:
            sub = order.subscription
            if sub.cancel_at_period_end and (
                order.effective_on is None or order.effective_on > today
            ):
                return scheduled, "scheduled"
            if not sub.cancel_at_period_end and sub.status != "cancelled":
                return gettext("Withdrawn"), "cancelled"
    return order.get_state_display(), order.state
