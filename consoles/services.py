"""Writes of the consoles app: staff alerts and each person's choice to receive them.

An alert is raised in the transaction that records its event (a job failing for good, an order
starting to wait for approval). Each recipient gets a ``StaffAlert`` row, unique per event and
person, and its e-mail is handed to the mail task only when that row is new, so an event seen
twice never e-mails twice. People who turned alerts off get no row and no e-mail.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from consoles.models import AlertKind, AlertSetting, StaffAlert
from portal import access
from portal.actors import Actor, person, require_actor
from portal.errors import PermissionDenied
from portal.mail import send_branded_email
from portal.models import Membership, Organization, OrgKind, Role, User
from portal.selectors import brand_for_organization
from portal.services import audit_record


def _wants_alerts(users: list[User]) -> list[User]:
    off = set(
        AlertSetting.objects.filter(user__in=users, email_alerts=False).values_list(
            "user_id", flat=True
        )
    )
    return [u for u in users if u.pk not in off and u.is_active]


def console_link(seller: Organization, url_name: str, **kwargs) -> str:
    """An absolute link into ``seller``'s console, on its brand's primary domain."""
    brand = brand_for_organization(seller)
    primary = brand.domains.order_by("-is_primary", "domain").first() if brand else None
    base = settings.PORTAL_BASE_URL_TEMPLATE.format(host=primary.domain if primary else "localhost")
    return base.rstrip("/") + reverse(url_name, kwargs={"org_id": seller.pk, **kwargs})


def console_link_profile(seller: Organization) -> str:
    """Where a person turns alerts off (their profile page), on the seller's domain."""
    link = console_link(seller, "console_dashboard")
    return link.split("/console/")[0] + reverse("profile")


def _raise(*, kind, subject_id, recipients: list[Membership], template: str, context, link):
    """Write one row per recipient and send the e-mail of each new row (after commit)."""
    told = 0
    users = _wants_alerts([m.user for m in recipients])
    wanted = {u.pk for u in users}
    for membership in recipients:
        if membership.user_id not in wanted:
            continue
        try:
            with transaction.atomic():
                StaffAlert.objects.create(
                    user=membership.user,
                    seller=membership.organization,
                    kind=kind,
                    subject_id=subject_id,
                )
        except IntegrityError:
            continue  # this person was told about this event already
        seller = membership.organization
        name, kwargs = link
        send_branded_email(
            organization=seller,
            to=[membership.user.email],
            template=template,
            context={
                **context,
                "seller": seller,
                "url": console_link(seller, name, **kwargs),
                "settings_url": console_link_profile(seller),
            },
        )
        told += 1
    return told


def job_failure_recipients(customer: Organization) -> list[Membership]:
    """Who hears of a customer's job failing for good: the provider's staff who may act on it
    (its admins, and the agent assigned to the customer), and the admins of the customer's own
    seller when that is a reseller (they answer to the customer)."""
    members = (
        Membership.objects.filter(
            organization_id__in=customer.ancestor_ids[:-1],
            organization__kind__in=(OrgKind.PROVIDER, OrgKind.RESELLER),
            is_active=True,
        )
        .select_related("user", "organization")
        .order_by("organization__depth", "user__email")
    )
    return [
        m
        for m in members
        if access.can(m.user, "provisioning.manage", customer)
        or (
            m.organization_id == customer.parent_id
            and m.organization.kind == OrgKind.RESELLER
            and m.role == Role.ADMIN
        )
    ]


def approval_recipients(seller: Organization) -> list[Membership]:
    """Who hears of an order waiting for approval: the seller's admins and sales people (the
    roles that may approve it, rule ``orders.approve``)."""
    return list(
        Membership.objects.filter(
            organization=seller, is_active=True, role__in=(Role.ADMIN, Role.SALES)
        )
        .select_related("user", "organization")
        .order_by("user__email")
    )


def staff_alert_job_failed(*, actor: Actor, job) -> int:
    """Tell the staff concerned that ``job`` failed for good; answers how many were told."""
    require_actor(actor)
    if job.state != "failed":
        return 0
    account = job.account
    customer = account.customer
    return _raise(
        kind=AlertKind.JOB_FAILED,
        subject_id=job.pk,
        recipients=job_failure_recipients(customer),
        template="consoles/email/job_failed",
        context={"job": job, "customer": customer, "account": account},
        link=("provisioning_job", {"job_id": job.pk}),
    )


def staff_alert_order_waiting(*, actor: Actor, order) -> int:
    """Tell the seller's staff that ``order`` waits for their approval."""
    require_actor(actor)
    if order.state != "awaiting_approval":
        return 0
    return _raise(
        kind=AlertKind.ORDER_APPROVAL,
        subject_id=order.pk,
        recipients=approval_recipients(order.seller),
        template="consoles/email/order_approval",
        context={"order": order, "customer": order.customer},
        link=("orders_console_order", {"order_id": order.pk}),
    )


def staff_told(kind: str, subject_id: int) -> bool:
    """Whether anyone was told of this event, so a customer is only told so when it is true."""
    return StaffAlert.objects.filter(kind=kind, subject_id=subject_id).exists()


@transaction.atomic
def alert_setting_update(*, actor: Actor, email_alerts: bool) -> AlertSetting:
    """A person turns their own staff alert e-mails on or off (nobody else may)."""
    user = person(require_actor(actor))
    if user is None:
        raise PermissionDenied("Only a person may choose their own alerts.")
    setting, _ = AlertSetting.objects.select_for_update().get_or_create(user=user)
    before = setting.email_alerts
    setting.email_alerts = bool(email_alerts)
    setting.save()
    if before != setting.email_alerts:
        audit_record(
            actor=user,
            organization=None,
            action="alerts.email_changed",
            obj=setting,
            before={"email_alerts": before},
            after={"email_alerts": setting.email_alerts},
        )
    return setting


def alerts_enabled(user: User) -> bool:
    setting = AlertSetting.objects.filter(user=user).first()
    return setting is None or setting.email_alerts
