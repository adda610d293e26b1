"""Who may see and do what in the tenancy tree.

Every view and API endpoint fetches tenant data through these helpers: an object is looked up
*inside* what the actor may see, so a missing object and a forbidden one answer the same 404
(STYLE.md, habit 2). An object the actor may see but not act on raises ``PermissionDenied``
with a message saying why.

Rules (ARCHITECTURE.md, Tenancy):
- a membership in a customer gives access to that customer only;
- a membership in a provider or reseller gives access to it and everything below it, except
- a provider ``agent`` acts only for the customers assigned to them (and sees the provider itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from portal.errors import NotFound, PermissionDenied
from portal.models import (
    ApiToken,
    AuditEvent,
    Brand,
    BrandDomain,
    Invitation,
    Membership,
    Organization,
    OrgKind,
    Role,
    User,
)

SELF = "self"  # the membership is in the organization itself
ANCESTOR = "ancestor"  # the membership is in a seller above it
ASSIGNED = "assigned"  # a provider agent acting for a customer assigned to them


@dataclass(frozen=True)
class Grant:
    """One reason the actor may act for an organization."""

    role: str
    relation: str
    via_kind: str  # kind of the organization the membership is in


def active_memberships(user: User) -> list[Membership]:
    """The user's active memberships (with their organizations), memoised on the user object."""
    cache = _request_cache(user)
    if "memberships" not in cache:
        cache["memberships"] = list(
            Membership.objects.filter(user=user, is_active=True)
            .exclude(organization__status="closed")
            .select_related("organization")
        )
    return cache["memberships"]


def _request_cache(user: User) -> dict:
    # Lives as long as the user object: one request, one task, one test step.
    cache = getattr(user, "_portal_access_cache", None)
    if cache is None:
        cache = {}
        user._portal_access_cache = cache
    return cache


def forget(user: User) -> None:
    """Drop what was memoised about the user's access (after their memberships change)."""
    if hasattr(user, "_portal_access_cache"):
        del user._portal_access_cache


def visible_organizations_q(user: User) -> Q:
    condition = Q(pk__in=[])
    for membership in active_memberships(user):
        org = membership.organization
        if org.kind == OrgKind.CUSTOMER:
            condition |= Q(pk=org.pk)
        elif membership.role == Role.AGENT:
            condition |= Q(pk=org.pk) | Q(
                path__startswith=org.path, kind=OrgKind.CUSTOMER, agent=user
            )
        else:
            condition |= Q(path__startswith=org.path)
    return condition


def visible_organizations(user: User) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(visible_organizations_q(user))


def grants(user: User, org: Organization) -> list[Grant]:
    """The memberships through which ``user`` may act for ``org``."""
    if not user.is_authenticated:
        return []
    ancestors = set(org.ancestor_ids)
    result = []
    for membership in active_memberships(user):
        if membership.organization_id not in ancestors:
            continue
        relation = SELF if membership.organization_id == org.pk else ANCESTOR
        if membership.role == Role.AGENT and relation == ANCESTOR:
            if not (org.kind == OrgKind.CUSTOMER and org.agent_id == user.pk):
                continue
            relation = ASSIGNED
        result.append(Grant(membership.role, relation, membership.organization.kind))
    return result


def _seller_staff_on_customer(grant: Grant, org: Organization) -> bool:
    return (
        org.kind == OrgKind.CUSTOMER
        and grant.role in (Role.SALES, Role.AGENT)
        and (grant.relation != SELF)
    )


def _places_orders(grant: Grant) -> bool:
    if grant.relation == SELF:
        return grant.role == Role.ADMIN
    if grant.relation == ASSIGNED:
        return True
    return grant.role in (Role.ADMIN, Role.SALES)


# What each action needs. A rule receives one grant and the target organization.
RULES = {
    "org.view": lambda g, org: True,
    "org.edit": lambda g, org: g.role == Role.ADMIN or _seller_staff_on_customer(g, org),
    "members.view": lambda g, org: True,
    "members.manage": lambda g, org: g.role == Role.ADMIN or _seller_staff_on_customer(g, org),
    "customer.create": lambda g, org: (
        org.is_seller
        and (g.role in (Role.ADMIN, Role.SALES) or (g.role == Role.AGENT and g.relation == SELF))
    ),
    "reseller.create": lambda g, org: (
        org.is_seller and g.role == Role.ADMIN and g.via_kind == OrgKind.PROVIDER
    ),
    "brand.manage": lambda g, org: org.is_seller and g.role == Role.ADMIN,
    "audit.view": lambda g, org: g.role in (Role.ADMIN, Role.BILLING),
    # Catalog: any of a seller's staff (and the staff of the sellers above it) may read its
    # catalog; only its own admins and sales people decide what it sells and at what price.
    "catalog.view": lambda g, org: org.is_seller,
    "catalog.manage": lambda g, org: (
        org.is_seller and g.relation == SELF and g.role in (Role.ADMIN, Role.SALES)
    ),
    "catalog.plans": lambda g, org: org.is_provider and g.relation == SELF and g.role == Role.ADMIN,
    "catalog.tax": lambda g, org: (
        org.is_seller and g.relation == SELF and g.role in (Role.ADMIN, Role.BILLING)
    ),
    "catalog.currencies": lambda g, org: (
        org.is_seller and g.relation == SELF and g.role == Role.ADMIN
    ),
    # A customer's people browse their seller's offers and ask for estimates.
    "offers.browse": lambda g, org: org.is_customer,
    # Box accounts and provisioning jobs of a customer: every seller staff member above it may
    # look (resellers support their customers); only the provider's admins and agents act.
    "provisioning.view": lambda g, org: (
        org.kind == OrgKind.CUSTOMER and g.via_kind in (OrgKind.PROVIDER, OrgKind.RESELLER)
    ),
    "provisioning.manage": lambda g, org: (
        org.kind == OrgKind.CUSTOMER
        and g.via_kind == OrgKind.PROVIDER
        and g.role in (Role.ADMIN, Role.AGENT)
    ),
    # Ordering: a customer's admins, and seller staff who sell (admins, sales people, the
    # assigned agent) for the customers below them.
    "orders.place": lambda g, org: org.is_customer and _places_orders(g),
    "orders.view": lambda g, org: org.is_customer,
    "orders.approve": lambda g, org: org.is_seller and g.role in (Role.ADMIN, Role.SALES),
    "orders.policy": lambda g, org: org.is_seller and g.relation == SELF and g.role == Role.ADMIN,
    "subscriptions.manage": lambda g, org: org.is_customer and _places_orders(g),
    "seats.manage": lambda g, org: org.is_customer and _places_orders(g),
    # Suspending and resuming is the seller's business (unpaid invoices, abuse).
    "subscriptions.suspend": lambda g, org: (
        org.is_customer and g.relation != SELF and g.role in (Role.ADMIN, Role.BILLING)
    ),
}

DENIED_MESSAGES = {
    "orders.place": "Only the customer's admins and its seller's admins and sales people may "
    "order for it.",
    "orders.approve": "Only the seller's admins and sales people may approve orders.",
    "orders.policy": "Only the seller's admins may change how it takes orders.",
    "subscriptions.manage": "Only the customer's admins and its seller's admins and sales "
    "people may change this subscription.",
    "seats.manage": "Only the customer's admins may assign seats.",
    "subscriptions.suspend": "Only the seller's admins and billing staff may suspend or resume "
    "a subscription.",
    "org.edit": "Only an admin may change this organization's details.",
    "members.manage": "Only an admin may manage the people of this organization.",
    "customer.create": "Your role does not allow creating customers here.",
    "reseller.create": "Only the provider's admins may create resellers.",
    "brand.manage": "Only an admin may change this brand.",
    "audit.view": "Only admins and billing staff may read the audit log.",
    "catalog.view": "Only a seller's staff may see its catalog.",
    "catalog.manage": "Only this seller's admins and sales people may change its offers, "
    "prices and promotions.",
    "catalog.plans": "Only the provider's admins may create or change plans.",
    "catalog.tax": "Only this seller's admins and billing staff may change its tax rates.",
    "catalog.currencies": "Only this seller's admins may change the currencies it sells in.",
    "offers.browse": "Only a customer's people may browse its offers.",
    "provisioning.view": "Only the seller's staff may see this customer's Box provisioning.",
    "provisioning.manage": "Only the provider's admins and agents may act on provisioning jobs.",
}


def can(user: User, action: str, org: Organization) -> bool:
    rule = RULES[action]
    return any(rule(grant, org) for grant in grants(user, org))


def require(user: User, action: str, org: Organization) -> None:
    if not can(user, action, org):
        raise PermissionDenied(DENIED_MESSAGES.get(action, "You may not do that here."))


def access_organization(user: User, org_id, *, action: str = "org.view") -> Organization:
    org = visible_organizations(user).filter(pk=_int_or_none(org_id)).first()
    if org is None:
        raise NotFound("No such organization.")
    require(user, action, org)
    return org


def membership_of(user: User, org: Organization) -> Membership | None:
    """The user's own active membership in exactly this organization."""
    for membership in active_memberships(user):
        if membership.organization_id == org.pk:
            return membership
    return None


def access_console(user: User, org_id) -> tuple[Organization, Membership]:
    """A console is opened for an organization the user is a member of."""
    for membership in active_memberships(user):
        if membership.organization_id == _int_or_none(org_id):
            return membership.organization, membership
    raise NotFound("No such organization.")


def access_membership(user: User, membership_id, *, action="members.view") -> Membership:
    membership = (
        Membership.objects.filter(
            pk=_int_or_none(membership_id),
            organization__in=visible_organizations(user),
        )
        .select_related("user", "organization")
        .first()
    )
    if membership is None:
        raise NotFound("No such member.")
    require(user, action, membership.organization)
    return membership


def access_invitation(user: User, invitation_id, *, action="members.view") -> Invitation:
    invitation = (
        Invitation.objects.filter(
            pk=_int_or_none(invitation_id), organization__in=visible_organizations(user)
        )
        .select_related("organization")
        .first()
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    require(user, action, invitation.organization)
    return invitation


def access_brand(user: User, org_id, *, action="org.view") -> Brand:
    org = access_organization(user, org_id)
    brand = Brand.objects.filter(organization=org).select_related("organization").first()
    if brand is None:
        raise NotFound("This organization has no brand of its own.")
    require(user, action, org)
    return brand


def access_brand_domain(user: User, domain_id, *, action="brand.manage") -> BrandDomain:
    domain = (
        BrandDomain.objects.filter(
            pk=_int_or_none(domain_id), brand__organization__in=visible_organizations(user)
        )
        .select_related("brand__organization")
        .first()
    )
    if domain is None:
        raise NotFound("No such domain.")
    require(user, action, domain.brand.organization)
    return domain


def visible_audit_events(user: User) -> QuerySet[AuditEvent]:
    """Events about organizations where the actor is admin or billing staff (self or above)."""
    condition = Q(pk__in=[])
    for membership in active_memberships(user):
        if membership.role not in (Role.ADMIN, Role.BILLING):
            continue
        condition |= Q(organization__path__startswith=membership.organization.path)
    return AuditEvent.objects.filter(condition).select_related("actor", "organization")


def access_api_token(user: User, token_id) -> ApiToken:
    token = ApiToken.objects.filter(pk=_int_or_none(token_id), user=user).first()
    if token is None:
        raise NotFound("No such token.")
    return token


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
