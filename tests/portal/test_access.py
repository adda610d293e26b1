"""Who sees what in the tenancy tree (ARCHITECTURE.md, Tenancy)."""

import pytest

from portal import access
from portal.errors import NotFound, PermissionDenied

pytestmark = pytest.mark.django_db

ALL_ORGS = ["P", "PC1", "PC2", "R1", "C11", "C12", "S1", "S1C1", "R2", "C21", "C22"]

VISIBLE = {
    "P.admin": ALL_ORGS,
    "P.sales": ALL_ORGS,
    "P.billing": ALL_ORGS,
    "P.agent": ["P", "PC1"],
    "R1.admin": ["R1", "C11", "C12", "S1", "S1C1"],
    "R1.sales": ["R1", "C11", "C12", "S1", "S1C1"],
    "R2.billing": ["R2", "C21", "C22"],
    "S1.admin": ["S1", "S1C1"],
    "C11.admin": ["C11"],
    "C11.member": ["C11"],
    "C21.billing": ["C21"],
    "S1C1.admin": ["S1C1"],
    "PC2.admin": ["PC2"],
}


@pytest.mark.parametrize("user_key", sorted(VISIBLE))
def test_visible_organizations_follow_the_tree(tree, user_key):
    user = tree[user_key]
    visible = set(access.visible_organizations(user).values_list("pk", flat=True))
    expected = {tree[k].pk for k in VISIBLE[user_key]}
    assert visible == expected


@pytest.mark.parametrize("user_key", sorted(VISIBLE))
def test_access_organization_gives_404_outside_the_visible_part(tree, user_key):
    user = tree[user_key]
    for key in ALL_ORGS:
        if key in VISIBLE[user_key]:
            assert access.access_organization(user, tree[key].pk) == tree[key]
        else:
            with pytest.raises(NotFound):
                access.access_organization(user, tree[key].pk)


def test_missing_and_malformed_ids_are_404(tree):
    with pytest.raises(NotFound):
        access.access_organization(tree["P.admin"], 999999)
    with pytest.raises(NotFound):
        access.access_organization(tree["P.admin"], "abc")


@pytest.mark.parametrize(
    ("user_key", "action", "org_key", "allowed"),
    [
        ("P.admin", "reseller.create", "P", True),
        ("P.admin", "reseller.create", "R1", True),  # a sub-reseller, by the provider
        ("P.sales", "reseller.create", "P", False),
        ("R1.admin", "reseller.create", "R1", False),  # resellers are created by the provider
        ("R1.admin", "customer.create", "R1", True),
        ("R1.sales", "customer.create", "R1", True),
        ("R1.billing", "customer.create", "R1", False),
        ("P.agent", "customer.create", "P", True),
        ("P.agent", "members.manage", "PC1", True),
        ("P.sales", "members.manage", "C11", True),
        ("P.sales", "members.manage", "R1", False),
        ("R1.admin", "members.manage", "S1C1", True),
        ("C11.admin", "members.manage", "C11", True),
        ("C11.billing", "members.manage", "C11", False),
        ("C11.member", "org.edit", "C11", False),
        ("R1.admin", "brand.manage", "R1", True),
        ("R1.admin", "brand.manage", "S1", True),
        ("S1.admin", "brand.manage", "S1", True),
        ("R1.sales", "brand.manage", "R1", False),
        ("P.billing", "audit.view", "C21", True),
        ("R1.sales", "audit.view", "R1", False),
    ],
)
def test_actions_need_the_right_role(tree, user_key, action, org_key, allowed):
    assert access.can(tree[user_key], action, tree[org_key]) is allowed
    if not allowed:
        with pytest.raises(PermissionDenied):
            access.require(tree[user_key], action, tree[org_key])


def test_a_deactivated_member_loses_access(tree):
    from portal import services
    from portal.models import Membership

    membership = Membership.objects.get(user=tree["C11.member"])
    services.membership_deactivate(actor=tree["C11.admin"], membership=membership)
    user = type(tree["C11.member"]).objects.get(pk=tree["C11.member"].pk)
    assert list(access.visible_organizations(user)) == []


def test_agent_sees_a_customer_once_assigned(tree):
    from portal import services

    agent = tree["P.agent"]
    with pytest.raises(NotFound):
        access.access_organization(agent, tree["PC2"].pk)
    services.organization_assign_agent(actor=tree["P.admin"], organization=tree["PC2"], agent=agent)
    access.forget(agent)
    assert access.access_organization(agent, tree["PC2"].pk) == tree["PC2"]
