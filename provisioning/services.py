"""Every write of the provisioning engine that a person or another app asks for.

Other apps (ordering first) call these to get Box accounts and users made, changed and removed;
each call records jobs that workers run after the transaction commits. The enqueuing functions
trust their caller to have checked who may order (the ordering rules live there); the operator
actions (``job_retry``, ``job_skip``, ``job_cancel``) check ``provisioning.manage`` themselves.
Every change made by a person is written to the audit log.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from portal import access
from portal.actors import Actor, person
from portal.actors import label as actor_label
from portal.errors import Conflict, ValidationError
from portal.models import Organization, OrgKind
from portal.services import audit_record
from provisioning import engine, hooks
from provisioning.models import (
    UNLIMITED,
    AccountStatus,
    BoxAccount,
    BoxUser,
    BoxUserRole,
    BoxUserStatus,
    JobState,
    ProvisioningJob,
)
from provisioning.operations import OPERATIONS

PLAN_CODES = ("individual", "starter", "business", "business_plus", "enterprise")
SIGNUP_STEPS = (
    "account.signup",
    "account.verify_email",
    "account.authorize_app",
    "account.link_admin",
)


def _check_email(value: str, field: str) -> str:
    value = (value or "").strip().lower()
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValidationError.for_field(field, f"'{value}' is not an e-mail address.") from None
    return value


def _check_plan(plan_code: str) -> str:
    if plan_code not in PLAN_CODES:
        raise ValidationError.for_field(
            "plan_code", f"Unknown Box plan '{plan_code}'; use one of {', '.join(PLAN_CODES)}."
        )
    return plan_code


def _check_seats(seats) -> int:
    try:
        seats = int(seats)
    except (TypeError, ValueError):
        raise ValidationError.for_field("seats", "The number of seats must be a number.") from None
    if seats < 1:
        raise ValidationError.for_field("seats", "An account needs at least one seat.")
    return seats


def _new_admin_password() -> str:
    # Box asks for 8 or more characters with a letter and a digit.
    return f"{secrets.token_urlsafe(18)}-7q"


def _subject(subject) -> tuple[str, str]:
    if not subject:
        return "", ""
    subject_type, subject_id = subject
    return str(subject_type)[:64], str(subject_id)[:64]


# --- jobs -----------------------------------------------------------------------------------------


@transaction.atomic
def job_enqueue(
    *,
    account: BoxAccount,
    operation: str,
    payload: dict,
    idempotency_key: str,
    actor: Actor,
    subject: tuple[str, object] | None = None,
    box_user: BoxUser | None = None,
) -> ProvisioningJob:
    """Add a job at the end of the account's queue; a worker runs it after commit. Enqueuing an
    ``idempotency_key`` again returns the job it made the first time."""
    if operation not in OPERATIONS:
        raise ValidationError.for_field("operation", f"Unknown operation '{operation}'.")
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationError.for_field(
            "idempotency_key", "An idempotency key of 1 to 200 characters is required."
        )
    existing = ProvisioningJob.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        # The account row's lock orders the account's jobs: sequence order is commit order.
        locked = BoxAccount.objects.select_for_update().get(pk=account.pk)
        existing = ProvisioningJob.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.account_id != account.pk:
            raise Conflict(
                "This idempotency key belongs to a job of another Box account.",
                code="idempotency_key_reused",
            )
        return existing
    sequence = locked.next_sequence
    BoxAccount.objects.filter(pk=account.pk).update(next_sequence=F("next_sequence") + 1)
    account.next_sequence = sequence + 1
    subject_type, subject_id = _subject(subject)
    try:
        with transaction.atomic():
            job = ProvisioningJob.objects.create(
                account=account,
                sequence=sequence,
                operation=operation,
                payload=payload or {},
                idempotency_key=idempotency_key,
                box_user=box_user,
                max_attempts=int(settings.BOX_JOB_MAX_ATTEMPTS),
                subject_type=subject_type,
                subject_id=subject_id,
                created_by=person(actor),
            )
    except IntegrityError:
        # Another account's transaction took the key at the same moment.
        raise Conflict(
            "This idempotency key belongs to another job.", code="idempotency_key_reused"
        ) from None
    audit_record(
        actor=actor,
        organization=account.customer,
        action="provisioning.job_enqueued",
        obj=job,
        after={"operation": operation, "account": account.pk, "sequence": sequence},
    )
    engine.dispatch_on_commit(account.pk)
    return job


def _lock_job(job: ProvisioningJob) -> ProvisioningJob:
    return (
        ProvisioningJob.objects.select_for_update(of=("self",))
        .select_related("account__customer", "box_user")
        .get(pk=job.pk)
    )


def _check_manage(actor: Actor, job: ProvisioningJob) -> None:
    access.require(actor, "provisioning.manage", job.account.customer)


def _who(actor: Actor) -> str:
    return actor_label(actor)


@transaction.atomic
def job_retry(*, job: ProvisioningJob, actor: Actor) -> ProvisioningJob:
    """Put a failed job back in the queue with a fresh set of attempts."""
    _check_manage(actor, job)
    job = _lock_job(job)
    if not engine.allowed("retry", job.state):
        raise Conflict(f"Only a failed job can be retried; job #{job.pk} is {job.state}.")
    before = {"state": job.state, "attempts": job.attempts}
    job.state = JobState.PENDING
    job.attempts = 0
    job.next_attempt_at = timezone.now()
    job.finished_at = None
    job.save(update_fields=["state", "attempts", "next_attempt_at", "finished_at", "updated_at"])
    OPERATIONS[job.operation].on_retried(job)
    engine.add_log(job, f"{_who(actor)} put the job back in the queue.")
    audit_record(
        actor=actor,
        organization=job.account.customer,
        action="provisioning.job_retried",
        obj=job,
        before=before,
        after={"state": job.state, "attempts": 0},
    )
    engine.dispatch_on_commit(job.account_id)
    return job


@transaction.atomic
def job_skip(*, job: ProvisioningJob, actor: Actor) -> ProvisioningJob:
    """Mark a failed or waiting job done without running it (staff did the step by hand, or it
    is no longer needed). The jobs after it go on; the caller's ``on_succeeded`` hook runs."""
    _check_manage(actor, job)
    job = _lock_job(job)
    if not engine.allowed("skip", job.state):
        raise Conflict(
            f"Only a failed or waiting job can be skipped; job #{job.pk} is {job.state}."
        )
    before = {"state": job.state}
    job.state = JobState.SUCCEEDED
    job.skipped = True
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "skipped", "finished_at", "updated_at"])
    engine.add_log(job, f"{_who(actor)} skipped the job; it was not carried out at Box.")
    hooks.fire(job, "succeeded")
    audit_record(
        actor=actor,
        organization=job.account.customer,
        action="provisioning.job_skipped",
        obj=job,
        before=before,
        after={"state": job.state, "skipped": True},
    )
    engine.dispatch_on_commit(job.account_id)
    return job


@transaction.atomic
def job_cancel(*, job: ProvisioningJob, actor: Actor) -> ProvisioningJob:
    """Abandon a failed or waiting job. The jobs after it go on; the caller's ``on_failed``
    hook runs."""
    _check_manage(actor, job)
    job = _lock_job(job)
    if not engine.allowed("cancel", job.state):
        raise Conflict(
            f"Only a failed or waiting job can be cancelled; job #{job.pk} is {job.state}."
        )
    before = {"state": job.state}
    job.state = JobState.CANCELLED
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "finished_at", "updated_at"])
    engine.add_log(job, f"{_who(actor)} cancelled the job.")
    OPERATIONS[job.operation].on_failed(job)
    hooks.fire(job, "failed")
    audit_record(
        actor=actor,
        organization=job.account.customer,
        action="provisioning.job_cancelled",
        obj=job,
        before=before,
        after={"state": job.state},
    )
    engine.dispatch_on_commit(job.account_id)
    return job


# --- accounts -------------------------------------------------------------------------------------


def _check_customer(customer: Organization) -> None:
    if customer.kind != OrgKind.CUSTOMER:
        raise ValidationError.for_field("customer", "Box accounts belong to customers.")


@transaction.atomic
def box_account_open(
    *,
    customer: Organization,
    plan_code: str,
    seats: int,
    admin_email: str,
    admin_name: str,
    actor: Actor,
    reference: str = "",
    subject: tuple[str, object] | None = None,
) -> BoxAccount:
    """Open a new Box enterprise for the customer: sign up at Box, verify the admin's e-mail,
    authorise the provider's platform app, record the primary admin. With a ``reference`` the
    call is idempotent: the same customer and reference return the same account. ``subject``
    is carried by every sign-up job, so its hooks hear how opening goes."""
    _check_customer(customer)
    plan_code = _check_plan(plan_code)
    seats = _check_seats(seats)
    admin_email = _check_email(admin_email, "admin_email")
    admin_name = (admin_name or "").strip()[:50] or admin_email
    reference = (reference or "").strip()[:120]
    if reference:
        existing = BoxAccount.objects.filter(customer=customer, reference=reference).first()
        if existing is not None:
            return existing
    account = BoxAccount.objects.create(
        customer=customer,
        reference=reference,
        plan_code=plan_code,
        seats=seats,
        admin_login=admin_email,
        admin_name=admin_name,
        admin_password=_new_admin_password(),
    )
    audit_record(
        actor=actor,
        organization=customer,
        action="provisioning.account_opened",
        obj=account,
        after={"plan_code": plan_code, "seats": seats, "admin_login": admin_email},
    )
    for operation in SIGNUP_STEPS:
        job_enqueue(
            actor=actor,
            account=account,
            operation=operation,
            payload={},
            idempotency_key=f"account:{account.pk}:{operation}",
            subject=subject,
        )
    return account


@transaction.atomic
def box_account_link(
    *,
    customer: Organization,
    box_enterprise_id: str,
    plan_code: str,
    seats: int,
    admin_login: str,
    admin_name: str,
    actor: Actor,
    reference: str = "",
    admin_password: str = "",
    api_client_id: str = "",
    api_client_secret: str = "",
) -> BoxAccount:
    """Take over a Box enterprise that exists already and has authorised the platform app (or
    the app given here): the account is active at once and its primary admin is recorded."""
    _check_customer(customer)
    box_enterprise_id = str(box_enterprise_id).strip()
    if not box_enterprise_id.isdigit():
        raise ValidationError.for_field("box_enterprise_id", "A Box enterprise id is a number.")
    existing = BoxAccount.objects.filter(box_enterprise_id=box_enterprise_id).first()
    if existing is not None:
        if existing.customer_id != customer.pk:
            raise Conflict("This Box enterprise belongs to another customer's account.")
        return existing
    account = BoxAccount.objects.create(
        customer=customer,
        reference=(reference or "").strip()[:120],
        plan_code=_check_plan(plan_code),
        seats=_check_seats(seats),
        status=AccountStatus.ACTIVE,
        box_enterprise_id=box_enterprise_id,
        admin_login=_check_email(admin_login, "admin_login"),
        admin_name=(admin_name or admin_login)[:50],
        admin_password=admin_password,
        api_client_id=api_client_id,
        api_client_secret=api_client_secret,
        authorized_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        organization=customer,
        action="provisioning.account_linked",
        obj=account,
        after={"box_enterprise_id": box_enterprise_id, "plan_code": plan_code, "seats": seats},
    )
    job_enqueue(
        actor=actor,
        account=account,
        operation="account.link_admin",
        payload={},
        idempotency_key=f"account:{account.pk}:account.link_admin",
    )
    return account


def _open_account(account: BoxAccount) -> BoxAccount:
    account = BoxAccount.objects.select_related("customer").get(pk=account.pk)
    if account.status == AccountStatus.CANCELLED:
        raise Conflict(f"{account} is cancelled; nothing more can be done in it.")
    return account


def _key(idempotency_key: str | None, operation: str, account: BoxAccount) -> str:
    return idempotency_key or f"{operation}:{account.pk}:{uuid.uuid4().hex}"


def _audit_request(actor, account, action, obj, after):
    audit_record(actor=actor, organization=account.customer, action=action, obj=obj, after=after)


@transaction.atomic
def box_account_change_plan(
    *,
    account: BoxAccount,
    plan_code: str,
    seats: int | None = None,
    actor: Actor,
    subject=None,
    idempotency_key: str | None = None,
) -> ProvisioningJob:
    account = _open_account(account)
    payload = {"plan_code": _check_plan(plan_code)}
    if seats is not None:
        payload["seats"] = _check_seats(seats)
    job = job_enqueue(
        actor=actor,
        account=account,
        operation="account.change_plan",
        payload=payload,
        idempotency_key=_key(idempotency_key, "account.change_plan", account),
        subject=subject,
    )
    _audit_request(actor, account, "provisioning.plan_change_requested", account, payload)
    return job


@transaction.atomic
def box_account_change_seats(
    *,
    account: BoxAccount,
    seats: int,
    actor: Actor,
    subject=None,
    idempotency_key: str | None = None,
) -> ProvisioningJob:
    account = _open_account(account)
    payload = {"seats": _check_seats(seats)}
    job = job_enqueue(
        actor=actor,
        account=account,
        operation="account.change_seats",
        payload=payload,
        idempotency_key=_key(idempotency_key, "account.change_seats", account),
        subject=subject,
    )
    _audit_request(actor, account, "provisioning.seat_change_requested", account, payload)
    return job


def _account_job(operation, action, *, account, actor, subject, idempotency_key):
    account = _open_account(account)
    job = job_enqueue(
        actor=actor,
        account=account,
        operation=operation,
        payload={},
        idempotency_key=_key(idempotency_key, operation, account),
        subject=subject,
    )
    _audit_request(actor, account, action, account, {"operation": operation})
    return job


@transaction.atomic
def box_account_cancel(
    *, account: BoxAccount, actor: Actor, subject=None, idempotency_key=None
) -> ProvisioningJob:
    return _account_job(
        "account.cancel",
        "provisioning.cancel_requested",
        account=account,
        actor=actor,
        subject=subject,
        idempotency_key=idempotency_key,
    )


@transaction.atomic
def box_account_suspend(
    *, account: BoxAccount, actor: Actor, subject=None, idempotency_key=None
) -> ProvisioningJob:
    return _account_job(
        "account.suspend",
        "provisioning.suspend_requested",
        account=account,
        actor=actor,
        subject=subject,
        idempotency_key=idempotency_key,
    )


@transaction.atomic
def box_account_resume(
    *, account: BoxAccount, actor: Actor, subject=None, idempotency_key=None
) -> ProvisioningJob:
    return _account_job(
        "account.resume",
        "provisioning.resume_requested",
        account=account,
        actor=actor,
        subject=subject,
        idempotency_key=idempotency_key,
    )


# --- users ----------------------------------------------------------------------------------------


def _check_space(space_amount) -> int:
    try:
        value = int(space_amount)
    except (TypeError, ValueError):
        raise ValidationError.for_field("space_amount", "The quota is a number of bytes.") from None
    if value < UNLIMITED:
        raise ValidationError.for_field(
            "space_amount", "The quota is a number of bytes, or -1 for unlimited."
        )
    return value


def _check_role(role: str) -> str:
    if role not in (BoxUserRole.USER, BoxUserRole.COADMIN):
        raise ValidationError.for_field("role", "A user's role is 'user' or 'coadmin'.")
    return role


@transaction.atomic
def box_user_create(
    *,
    account: BoxAccount,
    login: str,
    name: str,
    external_app_user_id: str,
    space_amount: int = UNLIMITED,
    role: str = BoxUserRole.USER,
    actor: Actor,
    subject=None,
) -> ProvisioningJob:
    """Record a user and enqueue its creation in Box. ``external_app_user_id`` is the caller's
    stable key for the user (e.g. "seat-42"): calling again with it returns the same job."""
    account = _open_account(account)
    external_app_user_id = (external_app_user_id or "").strip()
    if not external_app_user_id or len(external_app_user_id) > 255:
        raise ValidationError.for_field(
            "external_app_user_id", "A key of 1 to 255 characters is required."
        )
    login = _check_email(login, "login")
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ValidationError.for_field("name", "A name of 1 to 50 characters is required.")
    space_amount = _check_space(space_amount)
    role = _check_role(role)
    user = BoxUser.objects.filter(
        account=account, external_app_user_id=external_app_user_id
    ).first()
    if user is not None and user.status == BoxUserStatus.DELETED:
        raise Conflict(
            f"The user with key {external_app_user_id} was deleted; use a new key for a new user."
        )
    if user is None:
        user = BoxUser.objects.create(
            account=account,
            login=login,
            name=name,
            space_amount=space_amount,
            role=role,
            external_app_user_id=external_app_user_id,
        )
    job = job_enqueue(
        actor=actor,
        account=account,
        operation="user.create",
        payload={"login": user.login},
        idempotency_key=f"user.create:{account.pk}:{external_app_user_id}",
        subject=subject,
        box_user=user,
    )
    _audit_request(
        actor, account, "provisioning.user_requested", user, {"login": login, "role": role}
    )
    return job


def _user_of(account: BoxAccount, box_user: BoxUser) -> BoxUser:
    if box_user.account_id != account.pk:
        raise ValidationError.for_field("box_user", "The user is not in this account.")
    if box_user.status == BoxUserStatus.DELETED:
        raise Conflict(f"{box_user.login} has been deleted.")
    return box_user


@transaction.atomic
def box_user_update(
    *,
    account: BoxAccount,
    box_user: BoxUser,
    name: str | None = None,
    login: str | None = None,
    space_amount: int | None = None,
    role: str | None = None,
    actor: Actor,
    subject=None,
    idempotency_key: str | None = None,
) -> ProvisioningJob:
    account = _open_account(account)
    user = _user_of(account, box_user)
    changes = {}
    if name is not None:
        if not name.strip() or len(name.strip()) > 50:
            raise ValidationError.for_field("name", "A name of 1 to 50 characters is required.")
        changes["name"] = name.strip()
    if login is not None:
        changes["login"] = _check_email(login, "login")
    if space_amount is not None:
        changes["space_amount"] = _check_space(space_amount)
    if role is not None:
        changes["role"] = _check_role(role)
    if not changes:
        raise ValidationError("Nothing to change.")
    job = job_enqueue(
        actor=actor,
        account=account,
        operation="user.update",
        payload={"changes": changes},
        idempotency_key=_key(idempotency_key, "user.update", account),
        subject=subject,
        box_user=user,
    )
    _audit_request(actor, account, "provisioning.user_change_requested", user, changes)
    return job


def _user_job(operation, action, *, account, box_user, actor, subject, idempotency_key, payload):
    account = _open_account(account)
    user = _user_of(account, box_user)
    job = job_enqueue(
        actor=actor,
        account=account,
        operation=operation,
        payload=payload,
        idempotency_key=_key(idempotency_key, operation, account),
        subject=subject,
        box_user=user,
    )
    _audit_request(actor, account, action, user, {"operation": operation, **payload})
    return job


@transaction.atomic
def box_user_suspend(
    *, account, box_user, actor: Actor, subject=None, idempotency_key=None
) -> ProvisioningJob:
    return _user_job(
        "user.suspend",
        "provisioning.user_suspend_requested",
        account=account,
        box_user=box_user,
        actor=actor,
        subject=subject,
        idempotency_key=idempotency_key,
        payload={},
    )


@transaction.atomic
def box_user_resume(
    *, account, box_user, actor: Actor, subject=None, idempotency_key=None
) -> ProvisioningJob:
    return _user_job(
        "user.resume",
        "provisioning.user_resume_requested",
        account=account,
        box_user=box_user,
        actor=actor,
        subject=subject,
        idempotency_key=idempotency_key,
        payload={},
    )


@transaction.atomic
def box_user_delete(
    *, account, box_user, force: bool = False, actor: Actor, subject=None, idempotency_key=None
) -> ProvisioningJob:
    """Delete the user from Box. Box refuses to delete a user who still owns content unless
    ``force`` is set (the content is then deleted too)."""
    return _user_job(
        "user.delete",
        "provisioning.user_delete_requested",
        account=account,
        box_user=box_user,
        actor=actor,
        subject=subject,
        idempotency_key=idempotency_key,
        payload={"force": bool(force)},
    )


@transaction.atomic
def account_reconcile_request(*, account: BoxAccount, actor: Actor) -> None:
    """Staff ask for a reconciliation now rather than tonight."""
    access.require(actor, "provisioning.manage", account.customer)
    audit_record(
        actor=actor,
        organization=account.customer,
        action="provisioning.reconcile_requested",
        obj=account,
    )

    def run():
        from provisioning.tasks import account_reconcile

        account_reconcile.delay(account.pk)

    transaction.on_commit(run)
