"""The demo seed: the organizations and people the README promises, and seeding twice is safe."""

import pytest

from portal.demo import seed
from portal.models import BrandDomain, Membership, Organization, User

pytestmark = pytest.mark.django_db


def test_demo_seed_is_complete_and_idempotent():
    world = seed()
    counts = (Organization.objects.count(), User.objects.count(), Membership.objects.count())
    seed()
    assert (
        Organization.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
    ) == counts
    assert world.provider.name == "Northwind Cloud"
    assert set(BrandDomain.objects.values_list("domain", flat=True)) == {
        "northwind.localhost",
        "skyline.localhost",
        "harbor.localhost",
        "summit.localhost",
    }
    assert Organization.objects.filter(kind="reseller").count() == 3
    for seller in Organization.objects.filter(kind__in=["provider", "reseller"]):
        if seller.name != "Summit Data Partners":
            assert seller.children.filter(kind="customer").count() >= 2
    roles = set(Membership.objects.values_list("organization__kind", "role"))
    assert roles >= {("provider", r) for r in ("admin", "sales", "agent", "billing")} | {
        ("reseller", r) for r in ("admin", "sales", "billing")
    } | {("customer", r) for r in ("admin", "billing", "member")}
    assert User.objects.get(email="admin@northwind.localhost").check_password("northwind-demo-2026")
