"""Console pages of the provisioning engine, under ``/console/<org>/provisioning/``: the queue
of jobs with filters, a job with its step log and the operator actions, the Box accounts and an
account with its users and drift.

Provider staff see every customer below the provider (agents: their assigned customers);
reseller staff see their own customers' accounts and jobs read-only. Only the provider's admins
and agents retry, skip or cancel jobs, ask for a reconciliation and settle drift.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from portal.errors import ApplicationError
from portal.models import Organization
from portal.params import clean_text, parse_id
from portal.views import render_console, seller_console
from provisioning import drift, engine, selectors, services
from provisioning.models import AccountStatus, BoxUserStatus, DriftHandling, DriftKind, JobState
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
    if parse_id(customer) is not None:
        accounts = accounts.filter(customer_id=parse_id(customer))
    drift = request.GET.get("drift", "")
    if drift == "1":  # accounts with open drift (the dashboards' to-do links here)
        accounts = accounts.filter(drift_count__gt=0)
    query = clean_text(request.GET.get("q", ""))
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
            "filters": {"status": status, "customer": customer, "q": query, "drift": drift},
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


DRIFT_SHOW = [
    ("todo", "To act on"),
    ("handled", "Being handled or ignored"),
    ("resolved", "Resolved"),
]
DRIFT_DONE = {
    "adopt": "{login} is being adopted as a seat; the item closes once Box confirms it.",
    "remove": "{login} is being removed from Box.",
    "fix": "Box is being put right for {login}.",
    "ignore": "The difference for {login} is ignored.",
}


@seller_console
def provisioning_drift(request, org):
    """Drift of every account the person may see: what is left to act on first."""
    base = selectors.visible_drift(request.user, within=org)
    show = request.GET.get("show", "todo")
    if show not in dict(DRIFT_SHOW):
        show = "todo"
    items = {
        "todo": base.filter(resolved_at__isnull=True, handling=DriftHandling.NONE),
        "handled": base.filter(resolved_at__isnull=True).exclude(handling=DriftHandling.NONE),
        "resolved": base.filter(resolved_at__isnull=False),
    }[show]
    kind = request.GET.get("kind", "")
    if kind in DriftKind.values:
        items = items.filter(kind=kind)
    counts = base.aggregate(
        todo=Count("pk", filter=Q(resolved_at__isnull=True, handling=DriftHandling.NONE)),
        handled=Count("pk", filter=Q(resolved_at__isnull=True) & ~Q(handling=DriftHandling.NONE)),
    )
    order = "-resolved_at" if show == "resolved" else "-detected_at"
    page = Paginator(items.order_by(order, "-pk"), 50).get_page(request.GET.get("page"))
    return render_console(
        request,
        "provisioning/drift_list.html",
        {
            "page": page,
            "shows": [(key, label, counts.get(key)) for key, label in DRIFT_SHOW],
            "kinds": DriftKind.choices,
            "filters": {"show": show, "kind": kind},
        },
    )


def _drift_act(request, item, action: str):
    return drift.drift_settle(
        item=item,
        actor=request.user,
        action=action,
        note=request.POST.get("note", ""),
        force=request.POST.get("force") == "1",
        add_seat=request.POST.get("add_seat") == "1",
    )


@seller_console
@require_http_methods(["GET", "POST"])
def provisioning_drift_item(request, org, item_id):
    """One drift item: what differs, and adopt / remove / fix / ignore with what each means
    (for an adoption, what the extra seat costs) before staff confirm it."""
    item = selectors.access_drift(request.user, item_id, within=org)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in drift.ACTIONS_BY_KIND.get(item.kind, ()):
            messages.error(request, "Unknown action.")
        else:
            try:
                _drift_act(request, item, action)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, DRIFT_DONE[action].format(login=item.login or item.key))
        return redirect("provisioning_drift_item", org_id=org.pk, item_id=item.pk)
    from orders.services import adoption_preview
    from orders.services.adoption import subscription_of

    can_manage = selectors.can_manage(request.user, item.account)
    actions = drift.ACTIONS_BY_KIND.get(item.kind, ()) if item.needs_action else ()
    subscription = subscription_of(item) if "adopt" in actions else None
    return render_console(
        request,
        "provisioning/drift_item.html",
        {
            "item": item,
            "can_manage": can_manage,
            "actions": actions if can_manage else (),
            "subscription": subscription,
            "cost": adoption_preview(subscription) if subscription is not None else None,
        },
    )
