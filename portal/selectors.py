"""Reads of the tenancy core that do not depend on who is asking (those live in ``access``)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from portal.models import Brand, BrandDomain, Membership, Organization, OrgKind, OrgStatus

_BRAND_VERSION_KEY = "portal:brand-version"


def provider() -> Organization | None:
    return Organization.objects.filter(kind=OrgKind.PROVIDER).first()


def suspended_customers_q() -> Q:
    """Customers that cannot use Box now: suspended themselves, or with a suspended
    subscription (dunning suspends subscriptions, not organizations). The customer list's
    ``?status=suspended`` and the dashboard's count both use it."""
    with_suspended = Organization.objects.filter(subscriptions__status="suspended").values("pk")
    return Q(kind=OrgKind.CUSTOMER) & (Q(status=OrgStatus.SUSPENDED) | Q(pk__in=with_suspended))


def normalise_host(host: str) -> str:
    """``Skyline.Localhost:8000`` -> ``skyline.localhost``."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.split(":")[0].rstrip(".")


def _brand_version() -> int:
    return cache.get_or_set(_BRAND_VERSION_KEY, 1, timeout=None)


def brand_cache_bump() -> None:
    """Forget every cached host -> brand answer (after a brand or a domain changes)."""
    try:
        cache.incr(_BRAND_VERSION_KEY)
    except ValueError:
        cache.set(_BRAND_VERSION_KEY, 2, timeout=None)


def brand_for_host(host: str) -> Brand | None:
    """The brand whose storefront answers on ``host``; the provider's for an unknown host."""
    host = normalise_host(host)
    key = f"portal:brand-for-host:{_brand_version()}:{host}"
    brand = cache.get(key)
    if brand is None:
        domain = (
            BrandDomain.objects.filter(domain=host).select_related("brand__organization").first()
        )
        if domain is not None and domain.brand.organization.status != "closed":
            brand = domain.brand
        else:
            brand = (
                Brand.objects.filter(organization__kind=OrgKind.PROVIDER)
                .select_related("organization")
                .first()
            )
        if brand is None:
            return None
        cache.set(key, brand, timeout=settings.BRAND_CACHE_SECONDS)
    return brand


def host_is_claimed(host: str) -> bool:
    """Whether ``host`` is a domain some seller's brand claims (not a stranger's host that
    falls back to the provider's brand)."""
    host = normalise_host(host)
    key = f"portal:host-claimed:{_brand_version()}:{host}"
    claimed = cache.get(key)
    if claimed is None:
        claimed = BrandDomain.objects.filter(domain=host).exists()
        cache.set(key, claimed, timeout=settings.BRAND_CACHE_SECONDS)
    return claimed


def home_url(brand: Brand, request) -> str | None:
    """The same page on ``brand``'s primary domain, keeping the request's scheme and port."""
    domain = primary_domain(brand)
    if domain is None:
        return None
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    netloc = domain if port in ("", default) else f"{domain}:{port}"
    return f"{request.scheme}://{netloc}{request.get_full_path()}"


def brand_for_organization(org: Organization) -> Brand | None:
    """The brand an organization appears under: its own, or that of its nearest seller above."""
    return (
        Brand.objects.filter(organization_id__in=org.ancestor_ids)
        .select_related("organization")
        .order_by("-organization__depth")
        .first()
    )


def primary_domain(brand: Brand) -> str | None:
    domains = sorted(brand.domains.all(), key=lambda d: (not d.is_primary, d.domain))
    return domains[0].domain if domains else None


def organization_members(org: Organization):
    return (
        Membership.objects.filter(organization=org)
        .select_related("user")
        .order_by("-is_active", "user__email")
    )


def organization_admin_count(org: Organization) -> int:
    return Membership.objects.filter(organization=org, role="admin", is_active=True).count()


def provider_agents(org: Organization):
    """The active agents of the provider at the root of ``org``'s tree."""
    from portal.models import Membership, Role, User

    root = org.ancestor_ids[0]
    return User.objects.filter(
        pk__in=Membership.objects.filter(
            organization_id=root, role=Role.AGENT, is_active=True
        ).values("user_id")
    )
