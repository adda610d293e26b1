"""Plain words for customers: what the portal's internal names (provisioning steps, audit
actions, order states) mean to the person who bought the subscription.

Staff pages keep the exact names (they search and filter by them); the customer portal shows
these sentences instead, so a customer never meets ``account.signup`` or ``seat.assigned``."""

from __future__ import annotations

from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext, pgettext_lazy
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

# A subscription's or an order's term as the pages print it in a sentence ("Per seat, monthly").
TERM_WORDS = {"monthly": _("monthly"), "annual": _("annual")}

# Choice labels with a wording of their own in one context (``choice_words``), listed here for
# the catalog: a cancelled subscription has ended, a cancelled order was called off.
CONTEXT_WORDS = (pgettext_lazy("subscription", "Cancelled"),)

# Audit actions a customer can meet in its activity log. Anything not listed reads through
# NOUNS and VERBS below, still without a code.
ACTION_WORDS = {
    "order.created": _("Placed an order"),
    "order.updated": _("Updated an order"),
    "order.submitted": _("Submitted an order"),
    "order.awaiting_approval": _("An order went to the seller for approval"),
    "order.awaiting_payment": _("An order waits for its payment"),
    "order.provisioning": _("An order is being set up at Box"),
    "order.completed": _("An order was completed"),
    "order.failed": _("An order could not be completed"),
    "order.cancelled": _("Cancelled an order"),
    "subscription.created": _("A subscription started"),
    "subscription.active": _("A subscription became active"),
    "subscription.trial": _("A trial started"),
    "subscription.suspended": _("A subscription was suspended"),
    "subscription.cancelled": _("A subscription ended"),
    "subscription.changed": _("Changed a subscription"),
    "subscription.change_withdrawn": _("Withdrew a scheduled change"),
    "subscription.cancel_scheduled": _("Scheduled the end of a subscription"),
    "subscription.cancel_withdrawn": _("Kept a subscription that was due to end"),
    "subscription.renewed": _("A subscription renewed"),
    "subscription.price_move_scheduled": _("A new price was announced"),
    "subscription.price_move_withdrawn": _("An announced price was withdrawn"),
    "seat.assigned": _("Gave someone a seat"),
    "seat.unassigned": _("Freed a seat"),
    "seat.updated": _("Changed a seat"),
    "seatassignment.active": _("A seat is ready at Box"),
    "seatassignment.failed": _("A seat could not be set up at Box"),
    "seatassignment.removed": _("A seat's Box user was removed"),
    "invoice.issued": _("An invoice was issued"),
    "sandbox.advanced": _("The sandbox clock was moved on"),
    "invoice.emailed": _("An invoice was e-mailed"),
    "invoice.paid": _("An invoice was paid"),
    "invoice.void": _("An invoice was cancelled"),
    "invoice.void_reason": _("An invoice was cancelled"),
    "invoice.uncollectible": _("An invoice was marked as not collectable"),
    "invoice.pdf_stored": _("An invoice's PDF is ready"),
    "credit_note.issued": _("A credit note was issued"),
    "credit_note.emailed": _("A credit note was e-mailed"),
    "credit_note.pdf_stored": _("A credit note's PDF is ready"),
    "credit_note.refund_requested": _("A refund was requested"),
    "credit_note.to_balance": _("A credit note went to your credit balance"),
    "payment.started": _("A payment started"),
    "payment.succeeded": _("A payment went through"),
    "payment.failed": _("A payment failed"),
    "payment.recorded": _("A payment was recorded"),
    "refund.succeeded": _("A refund was paid"),
    "refund.failed": _("A refund failed"),
    "refund.pending": _("A refund is on its way"),
    "card.saved": _("Saved a card"),
    "card.default": _("Chose the card to pay with"),
    "card.removed": _("Removed a card"),
    "payments.autopay_on": _("Turned automatic payment on"),
    "payments.autopay_off": _("Turned automatic payment off"),
    "payments.terms_changed": _("Payment terms changed"),
    "dunning.started": _("Payment reminders started"),
    "dunning.resolved": _("Payment reminders ended: the invoice is paid"),
    "dunning.cancelled": _("Payment reminders stopped"),
    "dunning.suspended": _("Service paused for an unpaid invoice"),
    "customer.signed_up": _("Signed up"),
    "customer.approved": _("The seller approved your company"),
    "organization.created": _("Your company was created"),
    "organization.updated": _("Changed the company details"),
    "membership.created": _("Someone joined the team"),
    "membership.deactivated": _("Someone left the team"),
    "membership.reactivated": _("Someone rejoined the team"),
    "membership.role_changed": _("Changed someone's role"),
    "invitation.created": _("Invited someone"),
    "invitation.accepted": _("An invitation was accepted"),
    "invitation.revoked": _("Withdrew an invitation"),
    "api_token.created": _("Created an API token"),
    "api_token.revoked": _("Revoked an API token"),
    "trial.started": _("A trial started"),
    "promotion.redeemed": _("A promotion code was used"),
    "provisioning.account_opened": _("Your Box account is being opened"),
    "provisioning.account_linked": _("Your Box account was connected"),
    "provisioning.job_enqueued": _("Work at Box was queued"),
    "provisioning.job_retried": _("Work at Box was tried again"),
    "provisioning.job_cancelled": _("Work at Box was called off"),
    "provisioning.job_skipped": _("Work at Box was skipped"),
    "provisioning.reconcile_requested": _("Your Box account was checked"),
    "provisioning.user_requested": _("Asked Box to create a person's user"),
    "provisioning.user_change_requested": _("Asked Box to update a person's user"),
    "provisioning.user_delete_requested": _("Asked Box to remove a person's user"),
    "provisioning.user_suspend_requested": _("Asked Box to pause a person's user"),
    "provisioning.user_resume_requested": _("Asked Box to give a person their user back"),
    "provisioning.seat_change_requested": _("Asked Box to change the number of seats"),
    "provisioning.plan_change_requested": _("Asked Box to move to the new plan"),
    "provisioning.cancel_requested": _("Asked Box to close the account"),
    "provisioning.suspend_requested": _("Asked Box to pause your people's access"),
    "provisioning.resume_requested": _("Asked Box to give your people their access back"),
    "usage.collection_requested": _("Usage was measured again"),
    "usage.collection_retried": _("Usage was measured again"),
    "usage.reaggregated": _("Usage was recounted"),
}

NOUNS = {
    "order": _("An order"),
    "subscription": _("A subscription"),
    "seat": _("A seat"),
    "seatassignment": _("A seat"),
    "invoice": _("An invoice"),
    "credit_note": _("A credit note"),
    "payment": _("A payment"),
    "refund": _("A refund"),
    "card": _("A card"),
    "payments": _("Payment settings"),
    "dunning": _("Payment reminders"),
    "membership": _("A team membership"),
    "invitation": _("An invitation"),
    "organization": _("The company"),
    "customer": _("The company"),
    "provisioning": _("Work at Box"),
    "usage": _("Usage"),
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
    "orders": (_("Orders"), ("order.",)),
    "subscriptions": (_("Subscriptions"), ("subscription.", "trial.", "promotion.")),
    "seats": (_("Seats"), ("seat.", "seatassignment.")),
    "billing": (
        _("Invoices and payments"),
        ("invoice.", "credit_note.", "payment.", "refund.", "card.", "payments.", "dunning."),
    ),
    "team": (_("Team and company"), ("membership.", "invitation.", "organization.", "customer.")),
}


def step_words(operation: str) -> str:
    return str(STEP_WORDS.get(operation) or gettext("Work at Box"))


def step_state_words(state: str) -> str:
    return str(STEP_STATE_WORDS.get(state) or gettext("Waiting"))


def term_words(term: str) -> str:
    return str(TERM_WORDS.get(term, term))


def choice_words(label: str, context: str = "") -> str:
    """A model choice's label (marked for the catalog with ``gettext_noop``) in the active
    language; ``context`` picks a wording marked with ``pgettext_noop`` where one word needs
    two (a cancelled subscription has ended, a cancelled order was called off)."""
    if not label:
        return label
    if context:
        words = pgettext(context, label)
        if words != label:
            return words
    return gettext(label)


def action_words(action: str) -> str:
    """A sentence for an audit action; never the action's code."""
    if action in ACTION_WORDS:
        return str(ACTION_WORDS[action])
    noun, _dot, verb = action.partition(".")
    subject = str(NOUNS.get(noun) or gettext("Something"))
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
    return choice_words(order.get_state_display()), order.state
