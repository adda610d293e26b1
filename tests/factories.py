"""Test data built through the real services (as the product builds it).

``build_tree()`` makes the isolation-matrix world every subsystem's tests reuse:

    provider P (admin, sales, agent, billing)
    |- direct customers PC1 (assigned to the agent), PC2
    |- reseller R1 (admin, sales, billing)
    |   |- customers C11, C12
    |   `- sub-reseller S1 (admin)
    |       `- customer S1C1
    `- reseller R2 (admin, sales, billing)
        |- customers C21, C22

Every customer has an admin, a billing contact and a member.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import factory

from portal import services
from portal.actors import system
from portal.models import BrandDomain, Organization, OrgKind, User

SYSTEM = system("tests")

PASSWORD = "correct-horse-battery-9"
_seq = itertools.count(1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    full_name = factory.Faker("name")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.user_create(
            email=kwargs["email"],
            password=kwargs.get("password", PASSWORD),
            full_name=kwargs.get("full_name", ""),
        )


def make_user(email: str | None = None, *, name: str = "") -> User:
    email = email or f"user{next(_seq)}@example.test"
    return services.user_create(email=email, password=PASSWORD, full_name=name or email)


def make_provider(name: str = "Provider Co", domain: str = "provider.test") -> Organization:
    return services.provider_create(actor=SYSTEM, name=name, domains=[domain])


def make_org(
    parent: Organization, kind: str, name: str, *, domain: str | None = None, **details
) -> Organization:
    org = services.organization_create(actor=SYSTEM, parent=parent, kind=kind, name=name, **details)
    if domain:
        BrandDomain.objects.create(brand=org.brand, domain=domain, is_primary=True)
    return org


def add_member(org: Organization, role: str, email: str | None = None) -> User:
    user = make_user(email)
    services.membership_create(actor=SYSTEM, organization=org, user=user, role=role)
    return user


@dataclass
class Tree:
    provider: Organization
    orgs: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def __getitem__(self, key: str):
        return self.orgs.get(key) or self.users[key]


def build_tree() -> Tree:
    provider = make_provider()
    tree = Tree(provider=provider)
    tree.orgs["P"] = provider
    for role in ("admin", "sales", "agent", "billing"):
        tree.users[f"P.{role}"] = add_member(provider, role, f"p.{role}@example.test")
    tree.orgs["PC1"] = make_org(
        provider, OrgKind.CUSTOMER, "Direct One", agent=tree.users["P.agent"]
    )
    tree.orgs["PC2"] = make_org(provider, OrgKind.CUSTOMER, "Direct Two")
    for r in ("R1", "R2"):
        tree.orgs[r] = make_org(
            provider, OrgKind.RESELLER, f"Reseller {r}", domain=f"{r.lower()}.test"
        )
        for role in ("admin", "sales", "billing"):
            tree.users[f"{r}.{role}"] = add_member(
                tree.orgs[r], role, f"{r.lower()}.{role}@example.test"
            )
        for n in ("1", "2"):
            key = f"C{r[1]}{n}"
            tree.orgs[key] = make_org(tree.orgs[r], OrgKind.CUSTOMER, f"Customer {key}")
    tree.orgs["S1"] = make_org(
        tree.orgs["R1"], OrgKind.RESELLER, "Sub-reseller S1", domain="s1.test"
    )
    tree.users["S1.admin"] = add_member(tree.orgs["S1"], "admin", "s1.admin@example.test")
    tree.orgs["S1C1"] = make_org(tree.orgs["S1"], OrgKind.CUSTOMER, "Customer S1C1")
    for key, org in list(tree.orgs.items()):
        if org.kind == OrgKind.CUSTOMER:
            for role in ("admin", "billing", "member"):
                tree.users[f"{key}.{role}"] = add_member(
                    org, role, f"{key.lower()}.{role}@example.test"
                )
            # The tree's customers pay on 14-day invoice terms, so their orders are
            # provisioned at once; the payment tests use customers without terms.
            from payments.services.accounts import invoice_terms_set

            invoice_terms_set(actor=SYSTEM, buyer=org, days=14)
    return tree
