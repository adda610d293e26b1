"""Every write of the tenancy core. Views, the API, commands and tests all come through here
(STYLE.md, habit 1). Each function checks the actor's right to act, validates, writes inside a
transaction, records an audit event and starts side effects only after commit."""

from __future__ import annotations

import contextvars
import hashlib
import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from portal import access, clock
from portal.actors import SystemActor, is_system, person, require_actor, system
from portal.errors import Conflict, NotFound, PermissionDenied, ValidationError
from portal.mail import send_branded_email
from portal.models import (
    ROLES_BY_KIND,
    ApiToken,
    AuditEvent,
    Brand,
    BrandDomain,
    Invitation,
    Membership,
    Organization,
    OrgKind,
    OrgStatus,
    Role,
    User,
    domain_validator,
)
from portal.money import CURRENCY_EXPONENTS
from portal.selectors import brand_cache_bump, brand_for_organization

# The client address of the request being served, recorded on audit events. Set by
# ``portal.middleware.AuditContextMiddleware``; empty in tasks and commands.
current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_ip", default=None)

ORG_DETAIL_FIELDS = (
    "name",
    "contact_name",
    "contact_email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "tax_id",
    "currency",
    "language",
)
BRAND_FIELDS = (
    "name",
    "primary_color",
    "accent_color",
    "tagline",
    "support_email",
    "support_phone",
    "legal_name",
    "legal_address",
    "invoice_footer",
    "invoice_payment_terms_days",
)


# --- audit ----------------------------------------------------------------------------------------


def audit_record(
    *,
    actor,
    organization: Organization | None,
    action: str,
    obj,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """One audit row. ``actor`` is a person or the system actor; without one nothing is
    recorded and the caller's transaction fails (no anonymous changes)."""
    row = audit_row(
        actor=actor, organization=organization, action=action, obj=obj, before=before, after=after
    )
    row.save(force_insert=True)
    return row


AUDIT_COLUMNS = (
    "at",
    "actor_id",
    "system_process",
    "organization_id",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
    "ip_address",
)


def audit_rows_insert(rows: list[AuditEvent | tuple]) -> None:
    """Insert many unsaved audit rows (``audit_row``, or ``audit_values``) in one statement."""
    from portal import bulk

    bulk.insert(
        AuditEvent,
        columns=AUDIT_COLUMNS,
        rows=[
            row if isinstance(row, tuple) else tuple(getattr(row, c) for c in AUDIT_COLUMNS)
            for row in rows
        ],
    )


def audit_values(
    *,
    actor,
    organization: Organization | None,
    action: str,
    obj,
    before: dict | None = None,
    after: dict | None = None,
) -> tuple:
    """The row ``audit_row`` makes, as values in the order of ``AUDIT_COLUMNS`` (for
    ``audit_rows_insert``): writers of thousands of rows skip making model instances."""
    who = person(actor)
    return (
        timezone.now(),
        None if who is None else who.pk,
        actor.process if who is None else "",
        None if organization is None else organization.pk,
        action,
        obj._meta.label_lower,
        str(obj.pk),
        str(obj)[:200],
        before or {},
        after or {},
        current_ip.get(),
    )


def audit_row(
    *,
    actor,
    organization: Organization | None,
    action: str,
    obj,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """An unsaved audit row, for writers that insert many at once (``bulk_create``)."""
    who = person(actor)
    return AuditEvent(
        actor=who,
        system_process=actor.process if who is None else "",
        organization=organization,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before or {},
        after=after or {},
        ip_address=current_ip.get(),
    )


def _changes(obj, fields, new_values: dict) -> tuple[dict, dict]:
    before, after = {}, {}
    for field in fields:
        if field in new_values and getattr(obj, field) != new_values[field]:
            before[field] = _jsonable(getattr(obj, field))
            after[field] = _jsonable(new_values[field])
    return before, after


def _jsonable(value):
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def validate_model(obj, exclude=None) -> None:
    """Run the model's field validation and raise it as the project's ``ValidationError``."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        first = next(iter(fields.values()))[0] if fields else "Invalid input."
        raise ValidationError(first, fields=fields) from None


# --- organizations --------------------------------------------------------------------------------


def _set_path(org: Organization) -> None:
    parent_path = org.parent.path if org.parent_id else "/"
    org.path = f"{parent_path}{org.pk}/"
    org.depth = 0 if org.parent_id is None else org.parent.depth + 1
    Organization.objects.filter(pk=org.pk).update(path=org.path, depth=org.depth)


@transaction.atomic
def provider_create(
    *, actor: SystemActor, name: str, brand_name: str | None = None, domains=(), **details
):
    """Bootstrap the root of the tree (done once, by ``manage.py bootstrap`` or the demo
    seed): only the system does this."""
    if not is_system(require_actor(actor)):
        raise PermissionDenied("The provider is created when the portal is set up.")
    if Organization.objects.filter(kind=OrgKind.PROVIDER).exists():
        raise Conflict("A provider already exists; there is exactly one.")
    org = Organization(kind=OrgKind.PROVIDER, name=name, **details)
    validate_model(org, exclude=["path"])
    org.save()
    _set_path(org)
    brand = Brand.objects.create(organization=org, name=brand_name or name)
    for i, domain in enumerate(domains):
        _domain_create(brand, domain, is_primary=i == 0)
    audit_record(
        actor=actor,
        organization=org,
        action="organization.created",
        obj=org,
        after={"kind": org.kind, "name": org.name},
    )
    transaction.on_commit(brand_cache_bump)
    return org


@transaction.atomic
def organization_create(
    *,
    actor,
    parent: Organization,
    kind: str,
    name: str,
    agent: User | None = None,
    brand_name: str | None = None,
    sandbox: bool = False,
    **details,
) -> Organization:
    """Create a reseller or a customer under ``parent``. A ``sandbox`` customer lives on its
    own day, starting today (docs/sandbox-clock.md); that is decided here, once."""
    if kind not in (OrgKind.RESELLER, OrgKind.CUSTOMER):
        raise ValidationError.for_field("kind", "Only resellers and customers can be created.")
    if sandbox and kind != OrgKind.CUSTOMER:
        raise ValidationError.for_field("sandbox", "Only a customer can be a sandbox.")
    if not parent.is_seller:
        raise ValidationError.for_field(
            "parent", "Only the provider or a reseller can have customers or resellers."
        )
    access.require(
        actor, "reseller.create" if kind == OrgKind.RESELLER else "customer.create", parent
    )
    unknown = set(details) - set(ORG_DETAIL_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    name = (name or "").strip()
    if not name:
        raise ValidationError.for_field("name", "A name is required.")
    # An agent who creates a customer looks after it.
    if (
        not is_system(actor)
        and agent is None
        and kind == OrgKind.CUSTOMER
        and any(
            g.role == Role.AGENT and g.relation == access.SELF for g in access.grants(actor, parent)
        )
    ):
        agent = actor
    if agent is not None:
        _check_agent(parent, agent)
    org = Organization(kind=kind, parent=parent, name=name, agent=agent, **details)
    if sandbox:
        org.sandbox, org.sandbox_today = True, clock.today()
    if not org.currency:
        org.currency = parent.currency
    _check_currency(org.currency)
    validate_model(org, exclude=["path"])
    org.save()
    _set_path(org)
    if kind == OrgKind.RESELLER:
        Brand.objects.create(
            organization=org,
            name=brand_name or name,
            support_email=details.get("contact_email", ""),
        )
    audit_record(
        actor=actor,
        organization=org,
        action="organization.created",
        obj=org,
        after={
            "kind": kind,
            "name": name,
            "parent": parent.pk,
            **({"sandbox": True} if sandbox else {}),
        },
    )
    return org


def _check_currency(currency: str) -> None:
    if currency not in CURRENCY_EXPONENTS:
        raise ValidationError.for_field(
            "currency",
            f"{currency!r} is not a currency the portal can bill in; use one of: "
            f"{', '.join(sorted(CURRENCY_EXPONENTS))}.",
        )


def _check_agent(parent: Organization, agent: User) -> None:
    root = parent.ancestor_ids[0]
    if not Membership.objects.filter(
        user=agent, organization_id=root, role=Role.AGENT, is_active=True
    ).exists():
        raise ValidationError.for_field("agent", "The assigned agent must be a provider agent.")


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, **fields) -> Organization:
    access.require(actor, "org.edit", organization)
    unknown = set(fields) - set(ORG_DETAIL_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    before, after = _changes(org, fields, fields)
    if not after:
        return org
    for field, value in fields.items():
        setattr(org, field, value)
    _check_currency(org.currency)
    validate_model(org, exclude=["path"])
    org.save()
    audit_record(
        actor=actor,
        organization=org,
        action="organization.updated",
        obj=org,
        before=before,
        after=after,
    )
    return org


@transaction.atomic
def organization_assign_agent(
    *, actor: User, organization: Organization, agent: User | None
) -> Organization:
    if not organization.is_customer:
        raise ValidationError("Only customers are assigned to agents.")
    access.require(actor, "members.manage", organization.parent)
    if agent is not None:
        _check_agent(organization.parent, agent)
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    before = {"agent": org.agent_id}
    org.agent = agent
    org.save(update_fields=["agent", "updated_at"])
    audit_record(
        actor=actor,
        organization=org,
        action="organization.agent_assigned",
        obj=org,
        before=before,
        after={"agent": agent.pk if agent else None},
    )
    return org


@transaction.atomic
def customer_signup(
    *, user: User, seller: Organization, company_name: str, full_name: str = ""
) -> Organization:
    """A visitor signed up on ``seller``'s storefront: a new customer under that seller, with the
    visitor as its admin."""
    if not seller.is_seller or seller.status != OrgStatus.ACTIVE:
        raise ValidationError("This storefront does not accept sign-ups.")
    company_name = (company_name or "").strip()
    if not company_name:
        raise ValidationError.for_field("company_name", "Enter your company's name.")
    if full_name:
        user.full_name = full_name.strip()
        user.save(update_fields=["full_name"])
    org = organization_create(
        actor=system("storefront-signup"),
        parent=seller,
        kind=OrgKind.CUSTOMER,
        name=company_name,
        contact_name=user.full_name,
        contact_email=user.email,
    )
    if seller.approve_new_customers:
        # The seller approves new customers: this one waits (its orders too).
        org.status = OrgStatus.PENDING
        org.save(update_fields=["status"])
    membership = Membership.objects.create(user=user, organization=org, role=Role.ADMIN)
    access.forget(user)
    audit_record(
        actor=user,
        organization=org,
        action="customer.signed_up",
        obj=org,
        after={"seller": seller.pk, "admin": user.email, "status": org.status},
    )
    audit_record(
        actor=user,
        organization=org,
        action="membership.created",
        obj=membership,
        after={"user": user.email, "role": Role.ADMIN},
    )
    return org


# --- users and memberships ------------------------------------------------------------------------


def _validate_role(org: Organization, role: str) -> None:
    allowed = ROLES_BY_KIND[org.kind]
    if role not in allowed:
        raise ValidationError.for_field(
            "role",
            f"'{role}' is not a role in a {org.kind} organization; "
            f"choose one of: {', '.join(allowed)}.",
        )


@transaction.atomic
def user_create(
    *, email: str, password: str | None, full_name: str = "", verified: bool = True
) -> User:
    """Create a person with a verified e-mail address (seeding, invitations)."""
    email = clean_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict.for_field("email", "A user with this e-mail address already exists.")
    if password is not None:
        _validate_password(password, email=email, full_name=full_name)
    user = User.objects.create_user(email=email, password=password, full_name=full_name)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=verified)
    return user


def _validate_password(password: str, *, email: str, full_name: str = "") -> None:
    from django.contrib.auth import password_validation

    try:
        password_validation.validate_password(password, User(email=email, full_name=full_name))
    except DjangoValidationError as exc:
        raise ValidationError(" ".join(exc.messages), fields={"password": exc.messages}) from None


def clean_email(email: str) -> str:
    """Lower-cased and checked, or a ``ValidationError`` on the ``email`` field."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationError.for_field("email", "Enter a valid e-mail address.") from None
    return email


@transaction.atomic
def membership_create(*, actor, organization: Organization, user: User, role: str) -> Membership:
    """Add (or re-activate) a person in an organization. Used by invitations and seeding."""
    _validate_role(organization, role)
    access.require(actor, "members.manage", organization)
    membership = (
        Membership.objects.select_for_update().filter(user=user, organization=organization).first()
    )
    if membership is not None and membership.is_active:
        raise Conflict(f"{user.email} is already a member of {organization.name}.")
    if membership is None:
        membership = Membership.objects.create(user=user, organization=organization, role=role)
        before = {}
    else:
        before = {"role": membership.role, "is_active": False}
        membership.role, membership.is_active = role, True
        membership.save(update_fields=["role", "is_active", "updated_at"])
    audit_record(
        actor=actor,
        organization=organization,
        action="membership.created",
        obj=membership,
        before=before,
        after={"user": user.email, "role": role, "is_active": True},
    )
    access.forget(user)
    return membership


def _lock_admins(organization: Organization) -> list[Membership]:
    # Lock the organization's admin rows in a fixed order so two concurrent demotions cannot both
    # see "another admin remains".
    return list(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.ADMIN, is_active=True)
        .order_by("pk")
    )


@transaction.atomic
def membership_change_role(*, actor: User, membership: Membership, role: str) -> Membership:
    access.require(actor, "members.manage", membership.organization)
    _validate_role(membership.organization, role)
    admins = _lock_admins(membership.organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.role == Role.ADMIN and membership.is_active and len(admins) <= 1:
        raise Conflict(
            f"{membership.user.email} is the last admin of {membership.organization.name}; "
            "make someone else an admin first."
        )
    before = {"role": membership.role}
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        actor=actor,
        organization=membership.organization,
        action="membership.role_changed",
        obj=membership,
        before=before,
        after={"role": role},
    )
    access.forget(membership.user)
    return membership


@transaction.atomic
def membership_deactivate(*, actor: User, membership: Membership) -> Membership:
    access.require(actor, "members.manage", membership.organization)
    admins = _lock_admins(membership.organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not membership.is_active:
        return membership
    if membership.role == Role.ADMIN and len(admins) <= 1:
        raise Conflict(
            f"{membership.user.email} is the last admin of {membership.organization.name}; "
            "make someone else an admin first."
        )
    membership.is_active = False
    membership.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor,
        organization=membership.organization,
        action="membership.deactivated",
        obj=membership,
        before={"is_active": True},
        after={"is_active": False},
    )
    access.forget(membership.user)
    return membership


@transaction.atomic
def membership_reactivate(*, actor: User, membership: Membership) -> Membership:
    access.require(actor, "members.manage", membership.organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.is_active:
        return membership
    membership.is_active = True
    membership.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor,
        organization=membership.organization,
        action="membership.reactivated",
        obj=membership,
        before={"is_active": False},
        after={"is_active": True},
    )
    access.forget(membership.user)
    return membership


# --- invitations ----------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(token: str, organization: Organization) -> str:
    brand = brand_for_organization(organization)
    domain = None
    if brand is not None:
        primary = brand.domains.order_by("-is_primary", "domain").first()
        domain = primary.domain if primary else None
    path = reverse("invitation_accept", kwargs={"token": token})
    base = settings.PORTAL_BASE_URL_TEMPLATE.format(host=domain or "localhost")
    return base.rstrip("/") + path


@transaction.atomic
def invitation_create(
    *, actor: User, organization: Organization, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite a person by e-mail. Returns the invitation and its one-time token (e-mailed)."""
    access.require(actor, "members.manage", organization)
    email = clean_email(email)
    _validate_role(organization, role)
    if Membership.objects.filter(
        organization=organization, user__email__iexact=email, is_active=True
    ).exists():
        raise Conflict.for_field("email", f"{email} is already a member of {organization.name}.")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organization=organization,
        email=email,
        role=role,
        token_hash=_hash(token),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_EXPIRE_DAYS),
    )
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        raise Conflict.for_field(
            "email", f"{email} already has an open invitation to {organization.name}."
        ) from None
    audit_record(
        actor=actor,
        organization=organization,
        action="invitation.created",
        obj=invitation,
        after={"email": email, "role": role},
    )
    url = invitation_url(token, organization)
    send_branded_email(
        organization=organization,
        to=[email],
        template="portal/email/invitation",
        context={
            "organization_name": organization.name,
            "inviter": actor.get_full_name(),
            "role": Role(role).label,
            "url": url,
            "expires_at": invitation.expires_at,
        },
    )
    return invitation, token


def invitation_by_token(token: str) -> Invitation:
    invitation = (
        Invitation.objects.filter(token_hash=_hash(token or ""))
        .select_related("organization")
        .first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid.")
    return invitation


@transaction.atomic
def invitation_accept(
    *, token: str, user: User | None = None, password: str | None = None, full_name: str = ""
) -> Membership:
    """Accept an invitation, either as the signed-in ``user`` (whose e-mail must match) or as a
    new person who sets ``password`` here (the e-mail is proven by the link)."""
    invitation = invitation_by_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    state = invitation.state
    if state != "open":
        raise Conflict(f"This invitation is {state}; ask for a new one.")
    if user is None:
        existing = User.objects.filter(email__iexact=invitation.email).first()
        if existing is not None:
            raise Conflict(f"{invitation.email} already has an account; sign in to accept.")
        if not password:
            raise ValidationError.for_field("password", "Choose a password.")
        user = user_create(email=invitation.email, password=password, full_name=full_name)
    elif user.email.lower() != invitation.email.lower():
        raise Conflict(
            f"This invitation was sent to {invitation.email}; sign in with that address."
        )
    else:
        EmailAddress.objects.filter(user=user, email__iexact=invitation.email).update(verified=True)
    # The invitation is the authority: whoever sent it was allowed to.
    membership = membership_create(
        actor=system("invitation"),
        organization=invitation.organization,
        user=user,
        role=invitation.role,
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        actor=user,
        organization=invitation.organization,
        action="invitation.accepted",
        obj=invitation,
        after={"user": user.email},
    )
    return membership


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    access.require(actor, "members.manage", invitation.organization)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != "open":
        raise Conflict(f"This invitation is already {invitation.state}.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        organization=invitation.organization,
        action="invitation.revoked",
        obj=invitation,
    )
    return invitation


# --- brands ---------------------------------------------------------------------------------------


@transaction.atomic
def brand_update(*, actor: User, brand: Brand, logo=None, clear_logo=False, **fields) -> Brand:
    access.require(actor, "brand.manage", brand.organization)
    unknown = set(fields) - set(BRAND_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    brand = Brand.objects.select_for_update().select_related("organization").get(pk=brand.pk)
    before, after = _changes(brand, fields, fields)
    for field, value in fields.items():
        setattr(brand, field, value)
    if logo is not None:
        brand.logo = logo
        after["logo"] = getattr(logo, "name", "uploaded")
    elif clear_logo and brand.logo:
        brand.logo = ""
        after["logo"] = ""
    validate_model(brand)
    brand.save()
    if after:
        audit_record(
            actor=actor,
            organization=brand.organization,
            action="brand.updated",
            obj=brand,
            before=before,
            after=after,
        )
    transaction.on_commit(brand_cache_bump)
    return brand


def _domain_create(brand: Brand, domain: str, *, is_primary: bool) -> BrandDomain:
    # Validate what was typed (a scheme, port or path is an error, not something to strip).
    domain = (domain or "").strip().lower().rstrip(".")
    try:
        domain_validator(domain)
    except DjangoValidationError as exc:
        raise ValidationError.for_field("domain", exc.messages[0]) from None
    try:
        with transaction.atomic():
            return BrandDomain.objects.create(brand=brand, domain=domain, is_primary=is_primary)
    except IntegrityError:
        raise Conflict.for_field("domain", f"{domain} is already used by a storefront.") from None


@transaction.atomic
def brand_domain_add(
    *, actor: User, brand: Brand, domain: str, is_primary: bool = False
) -> BrandDomain:
    access.require(actor, "brand.manage", brand.organization)
    if not brand.domains.exists():
        is_primary = True
    if is_primary:
        brand.domains.update(is_primary=False)
    created = _domain_create(brand, domain, is_primary=is_primary)
    audit_record(
        actor=actor,
        organization=brand.organization,
        action="brand.domain_added",
        obj=created,
        after={"domain": created.domain, "is_primary": is_primary},
    )
    transaction.on_commit(brand_cache_bump)
    return created


@transaction.atomic
def brand_domain_remove(*, actor: User, domain: BrandDomain) -> None:
    organization = domain.brand.organization
    access.require(actor, "brand.manage", organization)
    audit_record(
        actor=actor,
        organization=organization,
        action="brand.domain_removed",
        obj=domain,
        before={"domain": domain.domain},
    )
    brand = domain.brand
    was_primary = domain.is_primary
    domain.delete()
    if was_primary:
        successor = brand.domains.order_by("domain").first()
        if successor:
            successor.is_primary = True
            successor.save(update_fields=["is_primary"])
    transaction.on_commit(brand_cache_bump)


# --- API tokens -----------------------------------------------------------------------------------


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    name = (name or "").strip()
    if not name:
        raise ValidationError.for_field("name", "Give the token a name.")
    if len(name) > 100:
        raise ValidationError.for_field("name", "Keep the name under 100 characters.")
    key = "bbp_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:10], key_hash=_hash(key))
    audit_record(
        actor=user,
        organization=None,
        action="api_token.created",
        obj=token,
        after={"name": name, "prefix": token.prefix},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, user: User, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=user, organization=None, action="api_token.revoked", obj=token)
    return token


def api_token_authenticate(key: str) -> ApiToken | None:
    token = (
        ApiToken.objects.filter(key_hash=_hash(key or ""), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
