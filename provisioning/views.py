"""Console pages of the provisioning engine, under ``/console/<org>/provisioning/``: the queue
of jobs with filters, a job with its step log and the operator actions, the Box accounts and an
account with its users and drift.

Provider staff see every customer below the provider (agents: their assigned customers);
reseller staff see their own customers' accounts and jobs read-only. Only the provider's admins
and agents retry, skip or cancel jobs and ask for a reconciliation.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from portal.errors import ApplicationError
from portal.models import Organization
from portal.views import render_console, seller_console
from provisioning import engine, selectors, services
from provisioning.models import AccountStatus, BoxUserStatus, DriftKind, JobState
from provisioning.operations import OPERATION_CHOICES

STATE_FILTERS = [
    ("", "All states"),
    ("open", "Open (pending, running, failed)"),
    ("pending", "Pending"),
    ("blocked", "Blocked by a failed job"),
    ("running", "Running"),
    ("failed", "Failed"),
    ("succeeded", "Succeeded"),
    ("cancelled", "Cancelled"),
]
JOB_ACTIONS = {
    "retry": (services.job_retry, "Job #{pk} is back in the queue."),
    "skip": (services.job_skip, "Job #{pk} was skipped; the jobs after it go on."),
    "cancel": (services.job_cancel, "Job #{pk} was cancelled; the jobs after it go on."),
}


def _customers_with_accounts(request, org):
    return (
        Organization.objects.filter(
            pk__in=selectors.visible_accounts(request.user, within=org).values("customer_id")
        )
        .order_by("name")
        .only("pk", "name")
    )


@seller_console
def provisioning_home(request, org):
    return redirect("provisioning_queue", org_id=org.pk)


@seller_console
def provisioning_queue(request, org):
    base = selectors.visible_jobs(request.user, within=org)
    jobs = selectors.jobs_filtered(base, request.GET).order_by("-pk")
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    page.object_list = selectors.annotate_blocked(page.object_list)
    counts = selectors.queue_counts(base)
    return render_console(
        request,
        "provisioning/queue.html",
        {
            "page": page,
            "state_counts": [
                (key, label, counts[key]) for key, label in STATE_FILTERS if key not in ("", "open")
            ],
            "states": STATE_FILTERS,
            "operations": OPERATION_CHOICES,
            "customers": _customers_with_accounts(request, org),
            "filters": {
                key: request.GET.get(key, "")
                for key in ("state", "operation", "account", "customer")
            },
        },
    )


@seller_console
@require_http_methods(["GET", "POST"])
def provisioning_job(request, org, job_id):
    job = selectors.access_job(request.user, job_id, within=org)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in JOB_ACTIONS:
            messages.error(request, "Unknown action.")
        else:
            service, done = JOB_ACTIONS[action]
            try:
                service(job=job, actor=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, done.format(pk=job.pk))
        return redirect("provisioning_job", org_id=org.pk, job_id=job.pk)
    job = selectors.annotate_blocked([job])[0]
    can_manage = selectors.can_manage(request.user, job.account)
    return render_console(
        request,
        "provisioning/job.html",
        {
            "job": job,
            "log": selectors.job_log(job),
            "can_manage": can_manage,
            "can_retry": can_manage and engine.allowed("retry", job.state),
            "can_skip": can_manage and engine.allowed("skip", job.state),
            "can_cancel": can_manage and engine.allowed("cancel", job.state),
        },
    )


@seller_console
def provisioning_accounts(request, org):
    accounts = (
        selectors.visible_accounts(request.user, within=org)
        .annotate(
            user_count=Count(
                "users", filter=~Q(users__status=BoxUserStatus.DELETED), distinct=True
            ),
            drift_count=Count("drift", filter=Q(drift__resolved_at__isnull=True), distinct=True),
        )
        .order_by("-created_at", "-pk")
    )
    status = request.GET.get("status", "")
    if status in AccountStatus.values:
        accounts = accounts.filter(status=status)
    customer = request.GET.get("customer", "")
    if customer.isdigit():
        accounts = accounts.filter(customer_id=int(customer))
    query = request.GET.get("q", "").strip()
    if query:
        accounts = accounts.filter(
            Q(customer__name__icontains=query)
            | Q(admin_login__icontains=query)
            | Q(box_enterprise_id=query)
            | Q(reference__icontains=query)
        )
    page = Paginator(accounts, 25).get_page(request.GET.get("page"))
    return render_console(
        request,
        "provisioning/accounts.html",
        {
            "page": page,
            "statuses": AccountStatus.choices,
            "customers": _customers_with_accounts(request, org),
            "filters": {"status": status, "customer": customer, "q": query},
        },
    )


@seller_console
@require_http_methods(["GET", "POST"])
def provisioning_account(request, org, account_id):
    account = selectors.access_account(request.user, account_id, within=org)
    if request.method == "POST":
        if request.POST.get("action") == "reconcile":
            try:
                services.account_reconcile_request(account=account, actor=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "A reconciliation was requested; refresh in a moment.")
        else:
            messages.error(request, "Unknown action.")
        return redirect("provisioning_account", org_id=org.pk, account_id=account.pk)
    users = selectors.account_users(account)
    totals = users.exclude(status=BoxUserStatus.DELETED).aggregate(
        users=Count("pk"),
        active=Count("pk", filter=Q(status=BoxUserStatus.ACTIVE)),
        space_used=Sum("space_used"),
    )
    page = Paginator(users, 100).get_page(request.GET.get("page"))
    recent = selectors.annotate_blocked(
        selectors.visible_jobs(request.user, within=org)
        .filter(account=account)
        .order_by("-pk")[:15]
    )
    return render_console(
        request,
        "provisioning/account.html",
        {
            "account": account,
            "page": page,
            "totals": totals,
            "drift": selectors.account_open_drift(account),
            "drift_kinds": DriftKind,
            "recent_jobs": recent,
            "job_counts": selectors.account_job_counts(account),
            "can_manage": selectors.can_manage(request.user, account),
            "failed_state": JobState.FAILED,
        },
    )
