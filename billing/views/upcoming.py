"""The upcoming invoice of each of a customer's subscriptions: what the next boundary bills,
from the same gathering and rating as the billing run (reads only)."""

from __future__ import annotations

from billing.services.preview import upcoming_for_customer
from portal import access
from portal.views import customer_console, render_console


@customer_console
def customer_upcoming(request, org):
    access.require(request.user, "billing.view", org)
    return render_console(
        request,
        "billing/upcoming.html",
        {"upcoming": upcoming_for_customer(org), "tab": "upcoming"},
    )
