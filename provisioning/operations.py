"""What each job operation does: its remote part (``run``, outside any transaction) and its
local part (``apply``, inside the transaction that marks the job succeeded).

``run`` returns a JSON-able outcome; ``apply`` writes what the outcome means to the portal's
rows, so a remote id is stored in the same transaction that marks the step done. Operations are
written so that running them again after a crash or a lost answer changes nothing more at Box
(see the drivers: a creation finds what an earlier try made, a page change compares first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from provisioning.connector.base import (
    UNLIMITED_SPACE,
    ApiCredentials,
    Connector,
    NotFoundError,
    PermanentError,
    SignupRequest,
    UserSpec,
    WebLogin,
)
from provisioning.models import (
    AccountStatus,
    BoxAccount,
    BoxUser,
    BoxUserRole,
    BoxUserStatus,
    ProvisioningJob,
)

ADMIN_EXTERNAL_ID = "account-admin"  # the portal's key for the account's primary admin


@dataclass
class JobContext:
    job: ProvisioningJob
    connector: Connector
    entries: list[tuple[str, str, dict]] = field(default_factory=list)

    @property
    def account(self) -> BoxAccount:
        return self.job.account

    def log(self, message: str, level: str = "info", **data) -> None:
        self.entries.append((level, message, data))

    def credentials(self) -> ApiCredentials:
        account = self.account
        return ApiCredentials(
            enterprise_id=account.box_enterprise_id,
            client_id=account.client_id,
            client_secret=account.client_secret,
        )

    def admin(self) -> WebLogin:
        account = self.account
        if not account.admin_password:
            raise PermanentError("The account has no stored admin password.", code="no_password")
        return WebLogin(account.admin_login, account.admin_password)

    def box_user(self) -> BoxUser:
        if self.job.box_user is None:
            raise PermanentError("The job names no Box user.", code="no_user")
        return self.job.box_user

    def remote_user_id(self) -> str:
        user = self.box_user()
        if not user.box_user_id:
            raise PermanentError(
                f"{user.login} was never created in Box (its creation failed or was skipped).",
                code="not_created",
            )
        return user.box_user_id


class Operation:
    name = ""
    label = ""
    kind = "api"  # "api" or "browser": which lease applies

    @property
    def lease_seconds(self) -> int:
        if self.kind == "browser":
            return int(settings.BOX_BROWSER_JOB_LEASE_SECONDS)
        return int(settings.BOX_JOB_LEASE_SECONDS)

    def run(self, ctx: JobContext) -> dict:
        raise NotImplementedError

    def apply(self, job: ProvisioningJob, outcome: dict) -> None:
        """Record the outcome (inside the completing transaction)."""

    def on_started(self, job: ProvisioningJob) -> None:
        """Called inside the claiming transaction."""

    def on_failed(self, job: ProvisioningJob) -> None:
        """Called inside the transaction that fails or cancels the job."""

    def on_retried(self, job: ProvisioningJob) -> None:
        """Called when staff put a failed job back in the queue."""


def _save_account(account: BoxAccount, **changes) -> None:
    for name, value in changes.items():
        setattr(account, name, value)
    account.save(update_fields=[*changes, "updated_at"])


def _state_dict(state) -> dict:
    return {
        "enterprise_id": state.enterprise_id,
        "enterprise_name": state.enterprise_name,
        "plan_code": state.plan_code,
        "seats": state.seats,
        "seats_used": state.seats_used,
        "status": state.status,
    }


# --- account level (browser) ----------------------------------------------------------------------


class SignupFlowOperation(Operation):
    """The steps that open an account: a failure marks the account failed, a retry resumes."""

    kind = "browser"

    def on_started(self, job):
        if job.account.status in (AccountStatus.PENDING, AccountStatus.FAILED):
            _save_account(job.account, status=AccountStatus.SIGNING_UP)

    def on_failed(self, job):
        if job.account.status in (AccountStatus.PENDING, AccountStatus.SIGNING_UP):
            _save_account(job.account, status=AccountStatus.FAILED)

    def on_retried(self, job):
        if job.account.status == AccountStatus.FAILED:
            _save_account(job.account, status=AccountStatus.SIGNING_UP)


class AccountSignup(SignupFlowOperation):
    name = "account.signup"
    label = "Sign up at Box"

    def run(self, ctx):
        account = ctx.account
        result = ctx.connector.account_signup(
            SignupRequest(
                admin=ctx.admin(),
                admin_name=account.admin_name,
                company=account.customer.name,
                plan_code=account.plan_code,
                seats=account.seats,
            )
        )
        if result.already_signed_up:
            ctx.log("The account already exists at Box; it was not signed up again.")
        else:
            ctx.log(f"Signed up {account.admin_login} on the {account.plan_code} plan.")
        return {"already_signed_up": result.already_signed_up, "verified": result.verified}


class AccountVerifyEmail(SignupFlowOperation):
    name = "account.verify_email"
    label = "Verify the admin's e-mail"

    def run(self, ctx):
        state = ctx.connector.account_verify_email(ctx.admin())
        ctx.log(f"The address is verified; Box enterprise {state.enterprise_id}.")
        return _state_dict(state)

    def apply(self, job, outcome):
        _save_account(
            job.account,
            box_enterprise_id=outcome.get("enterprise_id") or job.account.box_enterprise_id,
            enterprise_name=outcome.get("enterprise_name") or job.account.enterprise_name,
        )


class AccountAuthorizeApp(SignupFlowOperation):
    name = "account.authorize_app"
    label = "Authorise the platform app"

    def run(self, ctx):
        state = ctx.connector.account_authorize_app(ctx.admin(), ctx.account.client_id)
        ctx.log(f"The platform app {ctx.account.client_id} is authorised in the enterprise.")
        return _state_dict(state)

    def apply(self, job, outcome):
        account = job.account
        _save_account(
            account,
            box_enterprise_id=outcome.get("enterprise_id") or account.box_enterprise_id,
            enterprise_name=outcome.get("enterprise_name") or account.enterprise_name,
            authorized_at=timezone.now(),
            status=AccountStatus.ACTIVE,
        )


class AccountChangePlan(Operation):
    name = "account.change_plan"
    label = "Change the plan"
    kind = "browser"

    def run(self, ctx):
        plan_code = ctx.job.payload["plan_code"]
        seats = ctx.job.payload.get("seats")
        state = ctx.connector.account_change_plan(ctx.admin(), plan_code, seats)
        ctx.log(f"Box shows the {state.plan_code} plan with {state.seats} seats.")
        return _state_dict(state)

    def apply(self, job, outcome):
        _save_account(
            job.account,
            plan_code=outcome.get("plan_code") or job.payload["plan_code"],
            seats=outcome.get("seats") or job.account.seats,
        )


class AccountChangeSeats(Operation):
    name = "account.change_seats"
    label = "Change the number of seats"
    kind = "browser"

    def run(self, ctx):
        state = ctx.connector.account_change_seats(ctx.admin(), int(ctx.job.payload["seats"]))
        ctx.log(f"Box shows {state.seats} seats ({state.seats_used} in use).")
        return _state_dict(state)

    def apply(self, job, outcome):
        _save_account(job.account, seats=outcome.get("seats") or job.payload["seats"])


class AccountCancel(Operation):
    name = "account.cancel"
    label = "Cancel the account"
    kind = "browser"

    def run(self, ctx):
        ctx.connector.account_cancel(ctx.admin())
        ctx.log("The account is cancelled at Box.")
        return {"status": "cancelled"}

    def apply(self, job, outcome):
        _save_account(job.account, status=AccountStatus.CANCELLED)


# --- account level (API) --------------------------------------------------------------------------


class AccountLinkAdmin(Operation):
    name = "account.link_admin"
    label = "Record the primary admin"

    def run(self, ctx):
        account = ctx.account
        remote = ctx.connector.user_find(ctx.credentials(), login=account.admin_login)
        if remote is None:
            raise PermanentError(
                f"Box has no user {account.admin_login} in enterprise {account.box_enterprise_id}.",
                code="admin_not_found",
            )
        ctx.log(f"The primary admin is Box user {remote.id}.")
        return {
            "id": remote.id,
            "login": remote.login,
            "name": remote.name,
            "space_amount": remote.space_amount,
            "space_used": remote.space_used,
            "status": remote.status,
        }

    def apply(self, job, outcome):
        BoxUser.objects.update_or_create(
            account=job.account,
            external_app_user_id=ADMIN_EXTERNAL_ID,
            defaults={
                "box_user_id": outcome["id"],
                "login": outcome["login"],
                "name": (outcome.get("name") or job.account.admin_name)[:50],
                "space_amount": outcome["space_amount"],
                "space_used": outcome.get("space_used") or 0,
                "role": BoxUserRole.ADMIN,
                "status": BoxUserStatus.ACTIVE,
                "last_seen_at": timezone.now(),
            },
        )


class AccountSuspend(Operation):
    """Suspension: every active user the portal manages becomes inactive (the primary admin
    cannot be, and keeps the account reachable)."""

    name = "account.suspend"
    label = "Suspend the account's users"

    def run(self, ctx):
        creds = ctx.credentials()
        done = []
        users = ctx.account.users.filter(
            status=BoxUserStatus.ACTIVE, box_user_id__isnull=False
        ).exclude(role=BoxUserRole.ADMIN)
        for user in users:
            try:
                ctx.connector.user_suspend(creds, user.box_user_id)
            except NotFoundError:
                ctx.log(f"{user.login} is no longer in Box; left as it is.", "warning")
                continue
            done.append(user.pk)
        ctx.log(f"{len(done)} users set inactive.")
        return {"suspended": done}

    def apply(self, job, outcome):
        BoxUser.objects.filter(pk__in=outcome["suspended"]).update(
            status=BoxUserStatus.INACTIVE, suspended_with_account=True, updated_at=timezone.now()
        )
        _save_account(job.account, status=AccountStatus.SUSPENDED)


class AccountResume(Operation):
    name = "account.resume"
    label = "Resume the account's users"

    def run(self, ctx):
        creds = ctx.credentials()
        done = []
        users = ctx.account.users.filter(suspended_with_account=True, box_user_id__isnull=False)
        for user in users:
            try:
                ctx.connector.user_resume(creds, user.box_user_id)
            except NotFoundError:
                ctx.log(f"{user.login} is no longer in Box; left as it is.", "warning")
                continue
            done.append(user.pk)
        ctx.log(f"{len(done)} users active again.")
        return {"resumed": done}

    def apply(self, job, outcome):
        BoxUser.objects.filter(pk__in=outcome["resumed"]).update(
            status=BoxUserStatus.ACTIVE, suspended_with_account=False, updated_at=timezone.now()
        )
        _save_account(job.account, status=AccountStatus.ACTIVE)


# --- user level (API) -----------------------------------------------------------------------------


def _remote_dict(remote) -> dict:
    return {
        "id": remote.id,
        "login": remote.login,
        "status": remote.status,
        "space_amount": remote.space_amount,
        "space_used": remote.space_used,
    }


class UserCreate(Operation):
    name = "user.create"
    label = "Create a user"

    def run(self, ctx):
        user = ctx.box_user()
        if user.box_user_id:
            ctx.log(f"{user.login} already has Box id {user.box_user_id}; nothing to create.")
            return {"id": user.box_user_id, "adopted": True, "status": user.status}
        remote = ctx.connector.user_create(
            ctx.credentials(),
            UserSpec(
                login=user.login,
                name=user.name,
                external_app_user_id=user.external_app_user_id,
                space_amount=user.space_amount,
                role=user.role,
                status=ctx.job.payload.get("status", "active"),
            ),
        )
        if remote.adopted:
            ctx.log(f"Found {user.login} made by an earlier try: Box user {remote.id}.")
        else:
            ctx.log(f"Created {user.login}: Box user {remote.id}.")
        return {**_remote_dict(remote), "adopted": remote.adopted}

    def apply(self, job, outcome):
        user = job.box_user
        user.box_user_id = outcome["id"]
        if outcome.get("status") in (BoxUserStatus.ACTIVE, BoxUserStatus.INACTIVE):
            user.status = outcome["status"]
        else:
            user.status = BoxUserStatus.ACTIVE
        if user.space_amount == UNLIMITED_SPACE and outcome.get("space_amount") is not None:
            # The plan's default was asked for; record what Box set.
            user.space_amount = outcome["space_amount"]
        user.last_seen_at = timezone.now()
        user.save(
            update_fields=["box_user_id", "status", "space_amount", "last_seen_at", "updated_at"]
        )

    def on_failed(self, job):
        user = job.box_user
        if user is not None and not user.box_user_id:
            user.status = BoxUserStatus.FAILED
            user.save(update_fields=["status", "updated_at"])

    def on_retried(self, job):
        user = job.box_user
        if user is not None and user.status == BoxUserStatus.FAILED:
            user.status = BoxUserStatus.PENDING
            user.save(update_fields=["status", "updated_at"])


class UserAdopt(Operation):
    """Make an existing Box user (found by reconciliation) one of the portal's: give it the
    portal's key at Box, so later creations and reconciliations find it, and record what Box
    has. Setting the key again is harmless, so a retry does no harm."""

    name = "user.adopt"
    label = "Adopt a Box user"

    def run(self, ctx):
        user = ctx.box_user()
        remote = ctx.connector.user_update(
            ctx.credentials(),
            ctx.remote_user_id(),
            external_app_user_id=user.external_app_user_id,
        )
        ctx.log(f"Adopted {remote.login} (Box user {remote.id}) as {user.external_app_user_id}.")
        return _remote_dict(remote)

    def apply(self, job, outcome):
        user = job.box_user
        user.status = (
            BoxUserStatus.INACTIVE if outcome.get("status") == "inactive" else BoxUserStatus.ACTIVE
        )
        if outcome.get("space_amount") is not None:
            user.space_amount = outcome["space_amount"]
        user.space_used = outcome.get("space_used") or 0
        user.last_seen_at = timezone.now()
        user.save(
            update_fields=["status", "space_amount", "space_used", "last_seen_at", "updated_at"]
        )


class UserUpdate(Operation):
    name = "user.update"
    label = "Change a user"

    def run(self, ctx):
        changes = dict(ctx.job.payload.get("changes") or {})
        remote = ctx.connector.user_update(ctx.credentials(), ctx.remote_user_id(), **changes)
        ctx.log(f"Changed {', '.join(sorted(changes)) or 'nothing'} of {remote.login}.")
        return _remote_dict(remote)

    def apply(self, job, outcome):
        user = job.box_user
        changes = job.payload.get("changes") or {}
        for name in ("name", "login", "role", "space_amount"):
            if name in changes:
                setattr(user, name, changes[name])
        user.last_seen_at = timezone.now()
        user.save()


class UserSuspend(Operation):
    name = "user.suspend"
    label = "Suspend a user"

    def run(self, ctx):
        remote = ctx.connector.user_suspend(ctx.credentials(), ctx.remote_user_id())
        ctx.log(f"{remote.login} is inactive.")
        return _remote_dict(remote)

    def apply(self, job, outcome):
        user = job.box_user
        user.status = BoxUserStatus.INACTIVE
        user.suspended_with_account = False
        user.save(update_fields=["status", "suspended_with_account", "updated_at"])


class UserResume(Operation):
    name = "user.resume"
    label = "Resume a user"

    def run(self, ctx):
        remote = ctx.connector.user_resume(ctx.credentials(), ctx.remote_user_id())
        ctx.log(f"{remote.login} is active again.")
        return _remote_dict(remote)

    def apply(self, job, outcome):
        user = job.box_user
        user.status = BoxUserStatus.ACTIVE
        user.suspended_with_account = False
        user.save(update_fields=["status", "suspended_with_account", "updated_at"])


class UserDelete(Operation):
    name = "user.delete"
    label = "Delete a user"

    def run(self, ctx):
        user = ctx.box_user()
        if not user.box_user_id:
            ctx.log(f"{user.login} was never created in Box; nothing to delete.")
            return {"deleted": False}
        force = bool(ctx.job.payload.get("force"))
        deleted = ctx.connector.user_delete(ctx.credentials(), user.box_user_id, force=force)
        ctx.log(
            f"Deleted {user.login} from Box."
            if deleted
            else f"{user.login} was already gone from Box."
        )
        return {"deleted": deleted}

    def apply(self, job, outcome):
        user = job.box_user
        user.status = BoxUserStatus.DELETED
        user.save(update_fields=["status", "updated_at"])


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        AccountSignup(),
        AccountVerifyEmail(),
        AccountAuthorizeApp(),
        AccountLinkAdmin(),
        AccountChangePlan(),
        AccountChangeSeats(),
        AccountCancel(),
        AccountSuspend(),
        AccountResume(),
        UserCreate(),
        UserAdopt(),
        UserUpdate(),
        UserSuspend(),
        UserResume(),
        UserDelete(),
    )
}

OPERATION_CHOICES = [(name, op.label) for name, op in OPERATIONS.items()]
