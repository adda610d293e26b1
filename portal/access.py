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

from portal.actors import is_system, require_actor
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
from portal.params import parse_id

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
    # Usage collection (billing): the provider's staff watch every customer's nightly
    # collections (an agent: the customers assigned to them); its admins, agents and billing
    # staff send a failed one again. A subscription's usage itself is read with "orders.view".
    "usage.collections": lambda g, org: (
        org.kind == OrgKind.CUSTOMER and g.via_kind == OrgKind.PROVIDER
    ),
    "usage.retry": lambda g, org: (
        org.kind == OrgKind.CUSTOMER
        and g.via_kind == OrgKind.PROVIDER
        and g.role in (Role.ADMIN, Role.AGENT, Role.BILLING)
    ),
    # Ordering: a customer's admins, and seller staff who sell (admins, sales people, the
    # assigned agent) for the customers below them.
    "orders.place": lambda g, org: org.is_customer and _places_orders(g),
    "orders.view": lambda g, org: org.is_customer,
    "orders.approve": lambda g, org: org.is_seller and g.role in (Role.ADMIN, Role.SALES),
    "orders.policy": lambda g, org: org.is_seller and g.relation == SELF and g.role == Role.ADMIN,
    "subscriptions.manage": lambda g, org: org.is_customer and _places_orders(g),
    "seats.manage": lambda g, org: org.is_customer and _places_orders(g),
    # Billing: a customer's admins and billing people see its invoices; the staff of every
    # seller above it see them too (agents only for their customers). A reseller's own
    # admins and billing people see the wholesale invoices it receives.
    "billing.view": lambda g, org: (
        g.role in (Role.ADMIN, Role.BILLING)
        if g.relation == SELF
        else g.role in (Role.ADMIN, Role.BILLING, Role.SALES) or g.relation == ASSIGNED
    ),
    # Credit notes, voiding, numbering: the issuing seller's own admins and billing staff.
    "billing.manage": lambda g, org: (
        org.is_seller and g.relation == SELF and g.role in (Role.ADMIN, Role.BILLING)
    ),
    # Payments. A buyer's admins and billing people pay its invoices (so do its sellers'
    # admins and billing staff, charging a saved card on its behalf); only the buyer's own
    # people handle its cards. A seller's own admins and billing staff record offline
    # payments, refund, grant invoice terms and set its policy; only its admins enter its
    # Stripe keys.
    "payments.pay": lambda g, org: g.role in (Role.ADMIN, Role.BILLING),
    "payments.cards": lambda g, org: g.relation == SELF and g.role in (Role.ADMIN, Role.BILLING),
    "payments.manage": lambda g, org: (
        org.is_seller and g.relation == SELF and g.role in (Role.ADMIN, Role.BILLING)
    ),
    "payments.account": lambda g, org: (
        org.is_seller and g.relation == SELF and g.role == Role.ADMIN
    ),
    # Billing runs are the provider's operations.
    "billing.run": lambda g, org: (
        org.is_provider and g.relation == SELF and g.role in (Role.ADMIN, Role.BILLING)
    ),
    # A sandbox customer's clock is moved by the staff of the sellers above it who look after
    # customers (an agent: the customers assigned to it), never by its own people.
    "sandbox.advance": lambda g, org: (
        org.is_customer
        and g.relation != SELF
        and g.role in (Role.ADMIN, Role.SALES, Role.BILLING, Role.AGENT)
    ),
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
    "billing.view": "Only admins and billing people may see invoices here.",
    "billing.manage": "Only this seller's admins and billing staff may correct its invoices.",
    "billing.run": "Only the provider's admins and billing staff may run billing.",
    "sandbox.advance": "Only the staff of the sellers above a sandbox customer may move its clock.",
    "payments.pay": "Only admins and billing people may pay invoices.",
    "payments.cards": "Only this organization's admins and billing people manage its cards.",
    "payments.manage": "Only this seller's admins and billing staff manage its payments.",
    "payments.account": "Only this seller's admins may change its payment account.",
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
    "usage.collections": "Only the provider's staff may see usage collections.",
    "usage.retry": "Only the provider's admins, agents and billing staff may collect usage again.",
}


def can(user, action: str, org: Organization) -> bool:
    """Whether ``user`` may do ``action`` for ``org``. The system actor may do everything
    (only code makes one); no actor at all is refused, never allowed."""
    rule = RULES[action]
    if is_system(require_actor(user)):
        return True
    return any(rule(grant, org) for grant in grants(user, org))


def require(user, action: str, org: Organization) -> None:
    if not can(user, action, org):
        raise PermissionDenied(DENIED_MESSAGES.get(action, "You may not do that here."))


def access_organization(user: User, org_id, *, action: str = "org.view") -> Organization:
    return get_visible(
        visible_organizations(user),
        org_id,
        user=user,
        action=action,
        message="No such organization.",
    )


def membership_of(user: User, org: Organization) -> Membership | None:
    """The user's own active membership in exactly this organization."""
    for membership in active_memberships(user):
        if membership.organization_id == org.pk:
            return membership
    return None


def access_console(user: User, org_id) -> tuple[Organization, Membership]:
    """A console is opened for an organization the user is a member of."""
    for membership in active_memberships(user):
        if membership.organization_id == parse_id(org_id):
            return membership.organization, membership
    raise NotFound("No such organization.")


def visible_memberships(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(organization__in=visible_organizations(user)).select_related(
        "user", "organization"
    )


def access_membership(user: User, membership_id, *, action="members.view") -> Membership:
    return get_visible(
        visible_memberships(user),
        membership_id,
        user=user,
        action=action,
        owner=lambda m: m.organization,
        message="No such member.",
    )


def visible_invitations(user: User) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization__in=visible_organizations(user)).select_related(
        "organization", "invited_by"
    )


def access_invitation(user: User, invitation_id, *, action="members.view") -> Invitation:
    return get_visible(
        visible_invitations(user),
        invitation_id,
        user=user,
        action=action,
        owner=lambda i: i.organization,
        message="No such invitation.",
    )


def access_brand(user: User, org_id, *, action="org.view") -> Brand:
    org = access_organization(user, org_id)
    brand = Brand.objects.filter(organization=org).select_related("organization").first()
    if brand is None:
        raise NotFound("This organization has no brand of its own.")
    require(user, action, org)
    return brand


def visible_brand_domains(user: User) -> QuerySet[BrandDomain]:
    return BrandDomain.objects.filter(
        brand__organization__in=visible_organizations(user)
    ).select_related("brand__organization")


def access_brand_domain(user: User, domain_id, *, action="brand.manage") -> BrandDomain:
    return get_visible(
        visible_brand_domains(user),
        domain_id,
        user=user,
        action=action,
        owner=lambda d: d.brand.organization,
        message="No such domain.",
    )


def visible_audit_events(user: User) -> QuerySet[AuditEvent]:
    """Events about organizations where the actor is admin or billing staff (self or above)."""
    condition = Q(pk__in=[])
    for membership in active_memberships(user):
        if membership.role not in (Role.ADMIN, Role.BILLING):
            continue
        condition |= Q(organization__path__startswith=membership.organization.path)
    return AuditEvent.objects.filter(condition).select_related("actor", "organization")


def own_api_tokens(user: User) -> QuerySet[ApiToken]:
    """A person's own tokens: nobody else's are visible, whatever their role."""
    return ApiToken.objects.filter(user=user)


def access_api_token(user: User, token_id) -> ApiToken:
    return get_visible(own_api_tokens(user), token_id, message="No such token.")


def get_visible(
    queryset: QuerySet,
    pk,
    *,
    user=None,
    action: str | None = None,
    owner=None,
    message: str = "Not found.",
):
    """The object ``pk`` of ``queryset`` (what the actor may see), or ``NotFound``: a missing
    object, a forbidden one and an id that cannot be one (``abc``, ``-1``, ``²``) all answer the
    same. With ``action``, the rule is then checked on ``owner(obj)`` (the organization the
    object belongs to): visible but not allowed is ``PermissionDenied`` with the reason."""
    obj = queryset.filter(pk=parse_id(pk)).first()
    if obj is None:
        raise NotFound(message)
    if action:
        require(user, action, owner(obj) if owner else obj)
    return obj
