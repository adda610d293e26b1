"""The provider's billing runs (with "Run billing now") and the billing issues a run flags
to the sellers' staff (with "Fixed, bill it again")."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from billing import listing, selectors
from billing.models import RunState
from billing.services.run import billing_issue_resolve, due_subscriptions
from portal import access, clock
from portal.errors import NotFound
from portal.params import parse_id
from portal.views import render_console, seller_console

# A run that has not finished after this long was most likely stopped (a killed worker); the
# next run finishes its work, and the page stops refreshing for it.
STALE_AFTER = timedelta(hours=2)
REFRESH_SECONDS = 5


@seller_console
@require_http_methods(["GET", "POST"])
def console_runs(request, org):
    if not org.is_provider:
        raise NotFound("No such page.")
    access.require(request.user, "billing.run", org)
    if request.method == "POST":
        from billing.tasks import billing_run_now

        user_id = request.user.pk
        transaction.on_commit(lambda: billing_run_now.delay(user_id))
        messages.success(
            request,
            f"Billing for {clock.today():%d %b %Y} has started; this page follows its progress.",
        )
        return redirect("billing_console_runs", org_id=org.pk)
    page = Paginator(selectors.runs_for(request.user), 20).get_page(request.GET.get("page"))
    now = clock.now()
    running, still_due = [], None
    for run in page:
        run.stale = run.state == RunState.RUNNING and now - run.started_at > STALE_AFTER
        if run.state == RunState.RUNNING and not run.stale:
            running.append(run)
    if running:
        still_due = due_subscriptions(max(r.day for r in running)).count()
    return render_console(
        request,
        "billing/runs.html",
        {
            "page": page,
            "running": running,
            "still_due": still_due,
            "refresh": REFRESH_SECONDS if running else None,
            "today": clock.today(),
        },
    )


@seller_console
@require_http_methods(["GET", "POST"])
def console_issues(request, org):
    issues = listing.issues_for(request.user).filter(
        subscription__customer__path__startswith=org.path
    )
    if request.method == "POST":
        # The issue named is looked up first: another tenant's is a 404 whoever asks.
        issue = issues.filter(pk=parse_id(request.POST.get("issue"))).first()
        if issue is None:
            raise NotFound("No such billing issue.")
        access.require(request.user, "billing.view", org)
        billing_issue_resolve(actor=request.user, issue=issue)
        messages.success(
            request,
            f"Marked fixed: the next billing run bills {issue.subscription.number} of "
            f"{issue.subscription.customer.name} again.",
        )
        return redirect("billing_console_issues", org_id=org.pk)
    access.require(request.user, "billing.view", org)
    open_issues = list(issues.filter(resolved_at__isnull=True).order_by("opened_at", "pk"))
    for issue in open_issues:
        issue.can_resolve = access.can(request.user, "billing.manage", issue.subscription.seller)
    resolved = list(issues.filter(resolved_at__isnull=False).order_by("-resolved_at", "-pk")[:20])
    return render_console(
        request,
        "billing/issues.html",
        {"open_issues": open_issues, "resolved": resolved},
    )
