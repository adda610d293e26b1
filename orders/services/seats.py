"""Seats: people holding a subscription's seats and their Box users; CSV import."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.db import transaction

from orders.models import (
    SeatAssignment,
    SeatRole,
    SeatStatus,
    Subscription,
    SubscriptionStatus,
)
from orders.services._base import (
    GB,
    _lock_subscription,
    holding_seats,
)
from portal import access, clock
from portal.actors import Actor, person
from portal.errors import Conflict, NotFound, ValidationError
from portal.services import audit_record, clean_email
from provisioning import services as provisioning
from provisioning.models import UNLIMITED

# --- seats ----------------------------------------------------------------------------------


def _quota_bytes(sub: Subscription, quota_gb) -> int | None:
    if quota_gb in (None, ""):
        return None
    try:
        gb = int(quota_gb)
    except (TypeError, ValueError):
        raise ValidationError.for_field("quota_gb", "The quota is a whole number of GB.") from None
    if gb < 1:
        raise ValidationError.for_field("quota_gb", "The quota is at least 1 GB.")
    limit = sub.plan.storage_gb if sub.plan.storage_mode != "unlimited" else None
    if limit is not None and gb > limit:
        raise ValidationError.for_field(
            "quota_gb", f"{sub.plan.name} allows at most {limit} GB per person."
        )
    return gb * GB


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ValidationError.for_field("name", "A name of 1 to 50 characters is required.")
    return name


def _clean_role(role: str) -> str:
    role = role or SeatRole.USER
    if role not in SeatRole.values:
        raise ValidationError.for_field(
            "role", f"'{role}' is not a seat role; choose one of: {', '.join(SeatRole.values)}."
        )
    return role


def _seat_subscription(sub: Subscription, actor: Actor) -> Subscription:
    sub = _lock_subscription(sub)
    access.require(actor, "seats.manage", sub.customer)
    if (
        sub.status
        not in (SubscriptionStatus.PENDING, SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE)
        or sub.box_account_id is None
    ):
        raise Conflict(
            f"Subscription {sub.number} is {sub.get_status_display().lower()}; seats "
            "cannot be changed now."
        )
    return sub


@transaction.atomic
def seat_assign(
    *,
    actor: Actor,
    subscription: Subscription,
    email: str,
    name: str,
    quota_gb=None,
    role: str = SeatRole.USER,
) -> SeatAssignment:
    """Give a person one of the subscription's seats: a Box user is created for them."""
    sub = _seat_subscription(subscription, actor)
    email, name, role = clean_email(email), _clean_name(name), _clean_role(role)
    quota = _quota_bytes(sub, quota_gb)
    held = holding_seats(sub)
    if held >= sub.quantity:
        raise Conflict(
            f"All {sub.quantity} seats are assigned; buy more seats or unassign someone first."
        )
    if (
        SeatAssignment.objects.filter(subscription=sub, email=email)
        .exclude(status=SeatStatus.REMOVED)
        .exists()
    ):
        raise Conflict.for_field("email", f"{email} already has a seat.")
    seat = SeatAssignment.objects.create(
        subscription=sub,
        email=email,
        name=name,
        quota_bytes=quota,
        role=role,
        assigned_by=person(actor),
    )
    job = provisioning.box_user_create(
        account=sub.box_account,
        login=email,
        name=name,
        external_app_user_id=f"seat-{seat.pk}",
        space_amount=UNLIMITED if quota is None else quota,
        role=role,
        actor=actor,
        subject=("orders.seatassignment", seat.pk),
    )
    seat.box_user = job.box_user
    seat.save(update_fields=["box_user", "updated_at"])
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="seat.assigned",
        obj=seat,
        after={"email": email, "quota_gb": seat.quota_gb, "role": role},
    )
    return seat


def _lock_seat(seat: SeatAssignment) -> SeatAssignment:
    return (
        SeatAssignment.objects.select_for_update(of=("self",))
        .select_related(
            "subscription__customer", "subscription__plan", "subscription__box_account", "box_user"
        )
        .get(pk=seat.pk)
    )


@transaction.atomic
def seat_update(
    *,
    actor: Actor,
    seat: SeatAssignment,
    name: str | None = None,
    quota_gb=...,
    role: str | None = None,
) -> SeatAssignment:
    """Change a person's name, storage quota (None: the plan's default) or role."""
    sub = _seat_subscription(seat.subscription, actor)
    seat = _lock_seat(seat)
    if seat.status not in (SeatStatus.ACTIVE, SeatStatus.FAILED, SeatStatus.UPDATING):
        raise Conflict(f"The seat of {seat.email} is {seat.get_status_display().lower()}.")
    changes, before = {}, {}
    if name is not None and _clean_name(name) != seat.name:
        before["name"], changes["name"] = seat.name, _clean_name(name)
    if quota_gb is not ...:
        quota = _quota_bytes(sub, quota_gb)
        if quota != seat.quota_bytes:
            before["quota_gb"], changes["quota_bytes"] = seat.quota_gb, quota
    if role is not None and _clean_role(role) != seat.role:
        before["role"], changes["role"] = seat.role, role
    if not changes:
        return seat
    for field, value in changes.items():
        setattr(seat, field, value)
    seat.status = SeatStatus.UPDATING
    seat.save()
    quota_change = changes.get("quota_bytes", ...)
    provisioning.box_user_update(
        account=sub.box_account,
        box_user=seat.box_user,
        name=changes.get("name"),
        space_amount=None
        if quota_change is ...
        else (UNLIMITED if quota_change is None else quota_change),
        role=changes.get("role"),
        actor=actor,
        subject=("orders.seatassignment", seat.pk),
    )
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="seat.updated",
        obj=seat,
        before=before,
        after={k: v for k, v in changes.items() if k != "quota_bytes"}
        | ({"quota_gb": seat.quota_gb} if "quota_bytes" in changes else {}),
    )
    return seat


@transaction.atomic
def seat_unassign(*, actor: Actor, seat: SeatAssignment) -> SeatAssignment:
    """Take the seat back: the person's Box user is deleted and the seat is free at once."""
    sub = _seat_subscription(seat.subscription, actor)
    seat = _lock_seat(seat)
    if seat.status in (SeatStatus.REMOVING, SeatStatus.REMOVED):
        raise Conflict(f"The seat of {seat.email} is already being removed.")
    seat.status = SeatStatus.REMOVING
    seat.save(update_fields=["status", "updated_at"])
    provisioning.box_user_delete(
        account=sub.box_account,
        box_user=seat.box_user,
        actor=actor,
        subject=("orders.seatassignment", seat.pk),
    )
    audit_record(
        actor=actor,
        organization=sub.customer,
        action="seat.unassigned",
        obj=seat,
        before={"email": seat.email},
    )
    return seat


@transaction.atomic
def seat_reassign(
    *, actor: Actor, seat: SeatAssignment, email: str, name: str, quota_gb=None
) -> SeatAssignment:
    """Give a seat to someone else: the old person's Box user goes, a new one comes."""
    sub = seat.subscription
    seat_unassign(actor=actor, seat=seat)
    return seat_assign(
        actor=actor, subscription=sub, email=email, name=name, quota_gb=quota_gb, role=seat.role
    )


@dataclass
class ImportRow:
    line: int
    email: str
    ok: bool
    message: str


CSV_COLUMNS = ("email", "name", "quota_gb", "role")


def seats_import(*, actor: Actor, subscription: Subscription, text: str) -> list[ImportRow]:
    """Assign seats from CSV text with the columns ``email,name[,quota_gb][,role]``; each row
    succeeds or fails on its own and the report says which and why."""
    if len(text) > 1_000_000:
        raise ValidationError("The file is too large; import at most 1 MB at a time.")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "email" not in fields or "name" not in fields:
        raise ValidationError("The first line must name the columns: email,name,quota_gb,role.")
    reader.fieldnames = fields
    report = []
    for row in reader:
        line = reader.line_num
        email = (row.get("email") or "").strip()
        try:
            with transaction.atomic():
                seat_assign(
                    actor=actor,
                    subscription=subscription,
                    email=email,
                    name=(row.get("name") or "").strip(),
                    quota_gb=(row.get("quota_gb") or "").strip() or None,
                    role=(row.get("role") or "").strip() or SeatRole.USER,
                )
        except (ValidationError, Conflict, NotFound) as exc:
            report.append(ImportRow(line, email, False, exc.message))
        else:
            report.append(ImportRow(line, email, True, "Assigned."))
    return report


def on_seat_job_succeeded(job) -> None:
    seat = SeatAssignment.objects.select_for_update(of=("self",)).get(pk=int(job.subject_id))
    if job.operation == "user.delete":
        seat.status, seat.removed_at = SeatStatus.REMOVED, clock.now()
    elif job.operation in ("user.create", "user.adopt", "user.update", "user.resume"):
        seat.status = SeatStatus.ACTIVE
    elif job.operation == "user.suspend":
        seat.status = SeatStatus.SUSPENDED
    seat.last_error = ""
    seat.save(update_fields=["status", "removed_at", "last_error", "updated_at"])


def _seat_failure_message(job) -> str:
    """Says the team was told only when a staff alert went out (see fulfilment)."""
    from consoles.models import AlertKind
    from consoles.services import staff_told

    if staff_told(AlertKind.JOB_FAILED, job.pk):
        return "Box did not accept this yet; our team has been told and will fix it."
    return "Box did not accept this yet; it is on our team's list to fix."


def on_seat_job_failed(job) -> None:
    seat = SeatAssignment.objects.select_for_update(of=("self",)).get(pk=int(job.subject_id))
    if job.operation in ("user.create", "user.adopt") and job.state == "cancelled":
        seat.status, seat.removed_at = SeatStatus.REMOVED, clock.now()
        seat.last_error = "Cancelled by our team."
    elif job.operation == "user.delete":
        seat.last_error = "Removing this person at Box did not work yet; our team will finish it."
    else:
        seat.status = SeatStatus.FAILED
        seat.last_error = _seat_failure_message(job)
    seat.save(update_fields=["status", "removed_at", "last_error", "updated_at"])
