"""Reads of the provisioning engine, always inside what the asking person may see.

Provider staff see the Box accounts and jobs of every customer below the provider (an agent only
those of the customers assigned to them); reseller staff see, read-only, those of the customers
below their reseller. Customers' own people do not see the provisioning console. An account or
job outside that answers 404 (``NotFound``), like a missing one.
"""

from __future__ import annotations

from django.db.models import Count, Min, Q, QuerySet

from portal import access
from portal.models import Membership, Organization, OrgKind, Role, User
from portal.params import clean_text, parse_id
from provisioning.models import (
    BoxAccount,
    BoxUser,
    DriftItem,
    JobLogEntry,
    JobState,
    ProvisioningJob,
)


def provisioning_customers_q(user: User, prefix: str = "customer__") -> Q:
    """Customers whose provisioning the user may see, as a condition on ``prefix``."""
    condition = Q(pk__in=[])
    if not user.is_authenticated:
        return condition
    memberships = (
        Membership.objects.filter(
            user=user,
            is_active=True,
            organization__kind__in=(OrgKind.PROVIDER, OrgKind.RESELLER),
        )
        .exclude(organization__status="closed")
        .select_related("organization")
    )
    for membership in memberships:
        org = membership.organization
        if membership.role == Role.AGENT:
            condition |= Q(**{f"{prefix}path__startswith": org.path, f"{prefix}agent": user})
        else:
            condition |= Q(**{f"{prefix}path__startswith": org.path})
    return condition & Q(**{f"{prefix}kind": OrgKind.CUSTOMER})


def visible_accounts(user: User, *, within: Organization | None = None) -> QuerySet[BoxAccount]:
    qs = BoxAccount.objects.filter(provisioning_customers_q(user)).select_related("customer")
    if within is not None:
        qs = qs.filter(customer__path__startswith=within.path)
    return qs


def visible_jobs(user: User, *, within: Organization | None = None) -> QuerySet[ProvisioningJob]:
    qs = ProvisioningJob.objects.filter(provisioning_customers_q(user, "account__customer__"))
    if within is not None:
        qs = qs.filter(account__customer__path__startswith=within.path)
    return qs.select_related("account__customer", "box_user")


def access_account(
    user: User, account_id, *, action: str = "provisioning.view", within=None
) -> BoxAccount:
    return access.get_visible(
        visible_accounts(user, within=within),
        account_id,
        user=user,
        action=action,
        owner=lambda a: a.customer,
        message="No such Box account.",
    )


def access_job(
    user: User, job_id, *, action: str = "provisioning.view", within=None
) -> ProvisioningJob:
    return access.get_visible(
        visible_jobs(user, within=within),
        job_id,
        user=user,
        action=action,
        owner=lambda j: j.account.customer,
        message="No such provisioning job.",
    )


def can_manage(user: User, account: BoxAccount) -> bool:
    return access.can(user, "provisioning.manage", account.customer)


def jobs_filtered(qs: QuerySet[ProvisioningJob], params) -> QuerySet[ProvisioningJob]:
    """The queue's filters: state (or "blocked"), operation, account, customer, search."""
    state = (params.get("state") or "").strip()
    if state == "blocked":
        qs = qs.filter(state=JobState.PENDING, pk__in=_blocked_job_ids(qs))
    elif state == "open":
        qs = qs.filter(state__in=(JobState.PENDING, JobState.RUNNING, JobState.FAILED))
    elif state in JobState.values:
        qs = qs.filter(state=state)
    operation = clean_text(params.get("operation") or "")
    if operation:
        qs = qs.filter(operation=operation)
    account = parse_id(params.get("account"))
    if account is not None:
        qs = qs.filter(account_id=account)
    customer = parse_id(params.get("customer"))
    if customer is not None:
        qs = qs.filter(account__customer_id=customer)
    return qs


def _blocked_job_ids(qs: QuerySet[ProvisioningJob]) -> list[int]:
    failed = dict(
        ProvisioningJob.objects.filter(
            state=JobState.FAILED, account_id__in=qs.values("account_id")
        )
        .values_list("account_id")
        .annotate(first=Min("sequence"))
    )
    ids: list[int] = []
    for account_id, sequence in failed.items():
        ids += ProvisioningJob.objects.filter(
            account_id=account_id, state=JobState.PENDING, sequence__gt=sequence
        ).values_list("pk", flat=True)
    return ids


def blocking_jobs(account_ids) -> dict[int, tuple[int, int]]:
    """For each account with a failed job: (sequence, id) of its first failed job."""
    result = {}
    rows = (
        ProvisioningJob.objects.filter(state=JobState.FAILED, account_id__in=list(account_ids))
        .order_by("account_id", "sequence")
        .values_list("account_id", "sequence", "pk")
    )
    for account_id, sequence, pk in rows:
        result.setdefault(account_id, (sequence, pk))
    return result


def annotate_blocked(jobs) -> list[ProvisioningJob]:
    """Set ``blocked_by`` (the id of the failed job holding it, or None) on each job."""
    jobs = list(jobs)
    blockers = blocking_jobs({job.account_id for job in jobs})
    for job in jobs:
        blocker = blockers.get(job.account_id)
        job.blocked_by = (
            blocker[1]
            if blocker and job.state == JobState.PENDING and job.sequence > blocker[0]
            else None
        )
    return jobs


def job_log(job: ProvisioningJob) -> QuerySet[JobLogEntry]:
    return JobLogEntry.objects.filter(job=job).order_by("at", "pk")


def account_users(account: BoxAccount) -> QuerySet[BoxUser]:
    return BoxUser.objects.filter(account=account).order_by("login")


def visible_drift(user: User, *, within: Organization | None = None) -> QuerySet[DriftItem]:
    """Drift items of the Box accounts ``user`` may see (``within`` a console's tree)."""
    return DriftItem.objects.filter(
        account__in=visible_accounts(user, within=within).values("pk")
    ).select_related("account__customer", "job", "handled_by")


def access_drift(user: User, item_id, *, within=None) -> DriftItem:
    return access.get_visible(
        visible_drift(user, within=within),
        item_id,
        user=user,
        action="provisioning.view",
        owner=lambda i: i.account.customer,
        message="No such drift item.",
    )


def account_open_drift(account: BoxAccount) -> QuerySet[DriftItem]:
    return DriftItem.objects.filter(account=account, resolved_at__isnull=True).order_by(
        "kind", "login"
    )


def account_job_counts(account: BoxAccount) -> dict[str, int]:
    rows = (
        ProvisioningJob.objects.filter(account=account).values_list("state").annotate(n=Count("pk"))
    )
    return {state: n for state, n in rows}


def queue_counts(qs: QuerySet[ProvisioningJob]) -> dict[str, int]:
    rows = qs.order_by().values_list("state").annotate(n=Count("pk"))
    counts = {state: 0 for state in JobState.values}
    counts.update({state: n for state, n in rows})
    counts["blocked"] = len(_blocked_job_ids(qs))
    return counts
