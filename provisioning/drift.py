"""Acting on drift: what staff decide about an open drift item, carried out by provisioning jobs.

Reconciliation (``provisioning.reconcile``) finds the differences; here staff settle them:

* **adopt** a Box user the portal has no seat for: a ``BoxUser`` is recorded for it and a
  ``user.adopt`` job gives it the seat's key at Box. Ordering calls this from
  ``orders.services.seat_adopt``, which makes the seat (and, with the buyer's consent, buys one
  more) so that the seat is billed like any other;
* **remove** such a user from Box (a ``user.delete`` job);
* **fix** a seat missing at Box (created again), a quota or a status that differs (Box is set
  to the portal's values);
* **ignore** an item: it stays open while it lasts but is not raised again.

Each function checks ``provisioning.manage`` on the customer, locks the item, refuses one that
is resolved or already decided, records the decision on the item and an audit row, all in one
transaction; the job starts after commit. The item is resolved by the reconciliation that no
longer finds the difference (the settle beat runs one soon after the job ends).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal import access
from portal.actors import Actor, person, require_actor
from portal.errors import Conflict
from portal.services import audit_record
from provisioning import services
from provisioning.models import (
    UNLIMITED,
    BoxUser,
    BoxUserRole,
    BoxUserStatus,
    DriftHandling,
    DriftItem,
    DriftKind,
    ProvisioningJob,
)

# What may be done with each kind of item (the console offers exactly these).
ACTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    DriftKind.UNKNOWN_IN_BOX: ("adopt", "remove", "ignore"),
    DriftKind.MISSING_IN_BOX: ("fix", "ignore"),
    DriftKind.QUOTA_MISMATCH: ("fix", "ignore"),
    DriftKind.STATUS_MISMATCH: ("fix", "ignore"),
}


def actionable(item: DriftItem, action: str) -> DriftItem:
    """``item`` locked and re-read; refused when it is resolved, already decided, or of a kind
    ``action`` does not apply to. Callers check the actor's right first."""
    item = (
        DriftItem.objects.select_for_update(of=("self",))
        .select_related("account__customer", "box_user")
        .get(pk=item.pk)
    )
    if item.resolved_at is not None:
        raise Conflict("This difference is gone already; nothing to do.")
    if item.handling:
        raise Conflict(f"This difference is already handled: {item.get_handling_display()}.")
    if action not in ACTIONS_BY_KIND.get(item.kind, ()):
        raise Conflict(f"“{item.get_kind_display()}” cannot be settled that way.")
    return item


def _check(actor: Actor, item: DriftItem) -> None:
    require_actor(actor)
    access.require(actor, "provisioning.manage", item.account.customer)


def _decide(item: DriftItem, handling: str, *, actor, job=None, note="", action: str) -> None:
    item.handling, item.job, item.note = handling, job, note
    item.handled_by, item.handled_at = person(actor), timezone.now()
    item.save(update_fields=["handling", "job", "note", "handled_by", "handled_at"])
    audit_record(
        actor=actor,
        organization=item.account.customer,
        action=action,
        obj=item,
        before={"kind": item.kind, "login": item.login, "key": item.key},
        after={"handling": handling, "job": job.pk if job else None, "note": note},
    )


@transaction.atomic
def drift_ignore(*, item: DriftItem, actor: Actor, note: str = "") -> DriftItem:
    """Leave the difference as it is (e.g. a Box user the customer's own admin keeps on
    purpose); it is not raised again while it lasts."""
    _check(actor, item)
    item = actionable(item, "ignore")
    _decide(
        item,
        DriftHandling.IGNORED,
        actor=actor,
        note=(note or "").strip()[:200],
        action="provisioning.drift_ignored",
    )
    return item


def _job_key(item: DriftItem, action: str) -> str:
    """A fresh key per decision: an item offered again after its job was cancelled gets a new
    job, while a repeated post is refused by the item's lock and decision."""
    prefix = f"drift.{action}:{item.pk}:"
    earlier = ProvisioningJob.objects.filter(idempotency_key__startswith=prefix).count()
    return f"{prefix}{earlier + 1}"


def _record_remote_user(item: DriftItem, *, external_app_user_id: str, name: str, status: str):
    """A ``BoxUser`` for the Box user ``item`` is about. Rows that hold the Box id without being
    a live user let go of it: a deleted user (Box kept the user the portal thought it had
    deleted) or an earlier decision's user whose job never went through."""
    BoxUser.objects.filter(
        account=item.account,
        box_user_id=item.key,
        status__in=(BoxUserStatus.DELETED, BoxUserStatus.PENDING, BoxUserStatus.FAILED),
    ).update(box_user_id=None, status=BoxUserStatus.DELETED)
    existing = BoxUser.objects.filter(
        account=item.account, external_app_user_id=external_app_user_id
    ).first()
    if existing is not None:
        existing.box_user_id, existing.status = item.key, status
        existing.save(update_fields=["box_user_id", "status", "updated_at"])
        return existing
    return BoxUser.objects.create(
        account=item.account,
        box_user_id=item.key,
        login=item.login,
        name=(name or item.actual.get("name") or item.login)[:50],
        space_amount=UNLIMITED,
        role=BoxUserRole.USER,
        status=status,
        external_app_user_id=external_app_user_id,
    )


@transaction.atomic
def drift_remove(*, item: DriftItem, actor: Actor, force: bool = False) -> ProvisioningJob:
    """Delete a Box user the portal has no seat for. Box refuses when the user still owns
    files, unless ``force`` (the files are deleted with the user)."""
    _check(actor, item)
    item = actionable(item, "remove")
    user = _record_remote_user(
        item,
        external_app_user_id=f"drift-{item.pk}",
        name="",
        status=BoxUserStatus.ACTIVE,
    )
    job = services.box_user_delete(
        account=item.account,
        box_user=user,
        force=force,
        actor=actor,
        idempotency_key=_job_key(item, "remove"),
    )
    _decide(
        item, DriftHandling.REMOVING, actor=actor, job=job, action="provisioning.drift_removing"
    )
    return job


@transaction.atomic
def drift_adopt(
    *,
    item: DriftItem,
    actor: Actor,
    external_app_user_id: str,
    name: str = "",
    subject=None,
) -> ProvisioningJob:
    """Make a Box user the portal has no seat for one of its users, under the caller's key
    (a seat's ``seat-<id>``). The ``user.adopt`` job writes the key to Box and records what
    Box has (status, quota). Ordering's ``seat_adopt`` is the way in: it makes the seat."""
    _check(actor, item)
    item = actionable(item, "adopt")
    user = _record_remote_user(
        item,
        external_app_user_id=external_app_user_id,
        name=name,
        status=BoxUserStatus.PENDING,
    )
    job = services.job_enqueue(
        actor=actor,
        account=item.account,
        operation="user.adopt",
        payload={"login": user.login},
        idempotency_key=_job_key(item, "adopt"),
        subject=subject,
        box_user=user,
    )
    _decide(
        item, DriftHandling.ADOPTING, actor=actor, job=job, action="provisioning.drift_adopting"
    )
    return job


def _last_subject(user: BoxUser):
    job = (
        ProvisioningJob.objects.filter(box_user=user)
        .exclude(subject_type="")
        .order_by("-pk")
        .only("subject_type", "subject_id")
        .first()
    )
    return (job.subject_type, job.subject_id) if job else None


@transaction.atomic
def drift_fix(*, item: DriftItem, actor: Actor) -> ProvisioningJob:
    """Put Box right from the portal's record: create a missing user again (its seat follows
    the new job), set the quota, or set the status."""
    _check(actor, item)
    item = actionable(item, "fix")
    user = item.box_user
    if user is None:
        raise Conflict("The portal no longer holds this user; ignore the difference instead.")
    key = _job_key(item, "fix")
    if item.kind == DriftKind.MISSING_IN_BOX:
        user = BoxUser.objects.select_for_update().get(pk=user.pk)
        user.box_user_id, user.status = None, BoxUserStatus.PENDING
        user.save(update_fields=["box_user_id", "status", "updated_at"])
        job = services.job_enqueue(
            actor=actor,
            account=item.account,
            operation="user.create",
            payload={"login": user.login},
            idempotency_key=key,
            subject=_last_subject(user),
            box_user=user,
        )
    elif item.kind == DriftKind.QUOTA_MISMATCH:
        job = services.box_user_update(
            account=item.account,
            box_user=user,
            space_amount=user.space_amount,
            actor=actor,
            idempotency_key=key,
        )
    else:
        change = (
            services.box_user_suspend
            if user.status == BoxUserStatus.INACTIVE
            else services.box_user_resume
        )
        job = change(account=item.account, box_user=user, actor=actor, idempotency_key=key)
    _decide(item, DriftHandling.FIXING, actor=actor, job=job, action="provisioning.drift_fixing")
    return job


def drift_settle(
    *,
    item: DriftItem,
    actor: Actor,
    action: str,
    note: str = "",
    force: bool = False,
    add_seat: bool = False,
):
    """One of the item's actions by name, as the console page and the API offer them."""
    require_actor(actor)
    if action == "ignore":
        return drift_ignore(item=item, actor=actor, note=note)
    if action == "remove":
        return drift_remove(item=item, actor=actor, force=force)
    if action == "fix":
        return drift_fix(item=item, actor=actor)
    if action == "adopt":
        from orders.services import seat_adopt  # ordering owns seats; it builds on provisioning

        return seat_adopt(actor=actor, item=item, add_seat=add_seat)
    raise Conflict("Unknown action.")
