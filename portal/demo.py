"""Demo data: a provider, two branded resellers (one with a sub-reseller), customers under each
seller and people in every role. Each app that has demo data of its own provides
``<app>/demo.py`` with ``seed(world: DemoWorld) -> None``; they run in ``SEEDERS`` order after
this one, through the apps' own services.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from portal import clock, services
from portal.actors import system
from portal.models import Brand, Organization, OrgKind, Role, User

SEED = system("demo-seed")

DEMO_PASSWORD = "northwind-demo-2026"  # noqa: S105 - printed for the demo logins
SEEDERS = ["catalog", "resellers", "payments", "orders", "provisioning", "billing"]
# The demo's story starts this many days ago; billing/demo.py plays it forward to today.
HISTORY_DAYS = 64


@dataclass
class DemoWorld:
    provider: Organization
    resellers: dict[str, Organization] = field(default_factory=dict)
    customers: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (who, e-mail, where)
    start: date | None = None  # the first day of the demo's story
    sandbox: Organization | None = None  # the sandbox customer, seeded after the story


SELLERS = [
    # key, name, parent key, brand, domain, primary, accent, tagline
    (
        "skyline",
        "Skyline IT Services",
        None,
        "Skyline IT",
        "skyline.localhost",
        "#0f766e",
        "#f97316",
        "Cloud storage your team will actually use",
    ),
    (
        "harbor",
        "Harbor Networks",
        None,
        "Harbor Networks",
        "harbor.localhost",
        "#7c2d12",
        "#38bdf8",
        "Safe harbour for your business files",
    ),
    (
        "summit",
        "Summit Data Partners",
        "skyline",
        "Summit Data",
        "summit.localhost",
        "#4338ca",
        "#facc15",
        "Box for growing teams, from Summit",
    ),
]
CUSTOMERS = [
    # key, name, seller key (None = the provider), country, city
    ("acme", "Acme Manufacturing", None, "US", "Chicago"),
    ("blueriver", "Blue River Bank", None, "US", "Denver"),
    ("contoso", "Contoso Dental", "skyline", "GB", "Leeds"),
    ("delta", "Delta Freight", "skyline", "GB", "Bristol"),
    ("evergreen", "Evergreen Law", "harbor", "US", "Portland"),
    ("fjord", "Fjord Design Studio", "harbor", "NO", "Bergen"),
    ("granite", "Granite Labs", "summit", "US", "Austin"),
]


def _user(world: DemoWorld, email: str, name: str, where: str, *, staff=False) -> User:
    user = User.objects.filter(email=email).first() or services.user_create(
        email=email, password=DEMO_PASSWORD, full_name=name
    )
    if staff and not user.is_staff:
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    world.users[email] = user
    world.logins.append((name, email, where))
    return user


def _member(org: Organization, user: User, role: str) -> None:
    if not org.memberships.filter(user=user).exists():
        services.membership_create(actor=SEED, organization=org, user=user, role=role)


@transaction.atomic
def seed_portal() -> DemoWorld:
    provider = Organization.objects.filter(kind=OrgKind.PROVIDER).first()
    if provider is None:
        provider = services.provider_create(
            actor=SEED,
            name="Northwind Cloud",
            brand_name="Northwind Cloud",
            domains=["northwind.localhost"],
            contact_email="sales@northwind.localhost",
            address_line1="1 Harbour Street",
            city="Seattle",
            postal_code="98101",
            region="WA",
            country="US",
            tax_id="US-91-1234567",
        )
        Brand.objects.filter(organization=provider).update(
            primary_color="#1f3a8a",
            accent_color="#f2a900",
            tagline="Box for every business, delivered by Northwind Cloud",
            support_email="support@northwind.localhost",
            support_phone="+1 206 555 0100",
            legal_name="Northwind Cloud Inc.",
            legal_address="1 Harbour Street\nSeattle, WA 98101\nUnited States",
            invoice_footer="Northwind Cloud Inc. · Registered in Washington · EIN 91-1234567",
        )
    world = DemoWorld(provider=provider)
    host = "http://northwind.localhost:8000"
    admin = _user(
        world, "admin@northwind.localhost", "Nora Admin", f"{host} (provider admin)", staff=True
    )
    _member(provider, admin, Role.ADMIN)
    for role, name in (("sales", "Sam Sales"), ("agent", "Alex Agent"), ("billing", "Bea Billing")):
        user = _user(world, f"{role}@northwind.localhost", name, f"{host} (provider {role})")
        _member(provider, user, role)

    for key, name, parent_key, brand_name, domain, primary, accent, tagline in SELLERS:
        parent = world.resellers[parent_key] if parent_key else provider
        org = Organization.objects.filter(kind=OrgKind.RESELLER, name=name).first()
        if org is None:
            org = services.organization_create(
                actor=SEED,
                parent=parent,
                kind=OrgKind.RESELLER,
                name=name,
                brand_name=brand_name,
                contact_email=f"hello@{domain}",
                country="US",
            )
            services.brand_domain_add(actor=admin, brand=org.brand, domain=domain)
            Brand.objects.filter(organization=org).update(
                primary_color=primary,
                accent_color=accent,
                tagline=tagline,
                support_email=f"support@{domain}",
                legal_name=name,
                legal_address="100 Main Street\nSpringfield",
                invoice_footer=f"{name} · Thank you for your business.",
            )
        world.resellers[key] = org
        where = f"http://{domain}:8000"
        user = _user(world, f"admin@{domain}", f"{brand_name} Admin", f"{where} (reseller admin)")
        _member(org, user, Role.ADMIN)
        if key != "summit":
            for role in ("sales", "billing"):
                user = _user(
                    world,
                    f"{role}@{domain}",
                    f"{brand_name} {role.title()}",
                    f"{where} (reseller {role})",
                )
                _member(org, user, role)

    for key, name, seller_key, country, city in CUSTOMERS:
        seller = world.resellers[seller_key] if seller_key else provider
        org = Organization.objects.filter(kind=OrgKind.CUSTOMER, name=name).first()
        if org is None:
            org = services.organization_create(
                actor=SEED,
                parent=seller,
                kind=OrgKind.CUSTOMER,
                name=name,
                contact_name=f"{name} IT",
                contact_email=f"it@{key}.example",
                address_line1="42 Market Road",
                city=city,
                postal_code="10001",
                country=country,
                agent=world.users["agent@northwind.localhost"] if key == "acme" else None,
            )
        world.customers[key] = org
        domain = seller.brand.domains.first().domain
        where = f"http://{domain}:8000 (customer admin)"
        user = _user(world, f"admin@{key}.example", f"{name.split()[0]} Admin", where)
        _member(org, user, Role.ADMIN)
        if key in ("acme", "contoso", "evergreen"):
            for role in ("billing", "member"):
                user = _user(
                    world,
                    f"{role}@{key}.example",
                    f"{name.split()[0]} {role.title()}",
                    f"http://{domain}:8000 (customer {role})",
                )
                _member(org, user, role)
    return world


def seed() -> DemoWorld:
    start = timezone.localdate() - timedelta(days=HISTORY_DAYS)
    with clock.frozen_today(start, move_now=True):
        world = seed_portal()
        world.start = start
        _seed_apps(world)
    world.sandbox = seed_sandbox(world)
    return world


@transaction.atomic
def seed_sandbox(world: DemoWorld) -> Organization:
    """A sandbox customer of Skyline, on today's date, with an admin (docs/sandbox-clock.md):
    made after the story, outside its calendar, and left out of ``world.customers`` so the
    apps' seeders and the played history never touch it."""
    seller = world.resellers["skyline"]
    name = "Sandbox Trading"
    org = Organization.objects.filter(kind=OrgKind.CUSTOMER, name=name, sandbox=True).first()
    if org is None:
        org = services.organization_create(
            actor=SEED,
            parent=seller,
            kind=OrgKind.CUSTOMER,
            name=name,
            sandbox=True,
            contact_name="Sandbox Trading IT",
            contact_email="it@sandbox.example",
            city="York",
            country="GB",
        )
    domain = seller.brand.domains.first().domain
    user = _user(
        world,
        "admin@sandbox.example",
        "Sandbox Admin",
        f"http://{domain}:8000 (sandbox customer admin)",
    )
    _member(org, user, Role.ADMIN)
    _sandbox_order(world, org)
    return org


def _sandbox_order(world: DemoWorld, org: Organization) -> None:
    """Skyline's sales person orders Business for the sandbox on 30-day terms, so staff can
    advance its clock through renewals, invoices and reminders at once (the worker sets its
    Box account up at the simulator)."""
    from allauth.account.models import EmailAddress

    from catalog.models import Offer
    from orders import services as orders
    from orders.models import Order, OrderState
    from payments.services.accounts import invoice_terms_set

    if Order.objects.filter(customer=org).exists():
        return
    EmailAddress.objects.filter(user__email="admin@sandbox.example").update(verified=True)
    offer = Offer.objects.filter(seller=org.parent, plan__code="business", is_active=True).first()
    if offer is None:
        return
    invoice_terms_set(actor=SEED, buyer=org, days=30)
    order = orders.order_create(
        actor=world.users["sales@skyline.localhost"],
        customer=org,
        offer=offer,
        quantity=3,
        term="monthly",
        submit=True,
    )
    if order.state == OrderState.AWAITING_APPROVAL:
        orders.order_approve(actor=world.users["admin@skyline.localhost"], order=order)


def _seed_apps(world: DemoWorld) -> None:
    for app in SEEDERS:
        try:
            module = importlib.import_module(f"{app}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.demo":
                raise
            continue
        module.seed(world)
