"""The tenant-isolation matrix: every page and API endpoint of the tenancy core, requested by a
user of one organization for an object of another, answers 404 and changes nothing."""

import pytest
from rest_framework.test import APIClient

from portal import services
from portal.models import (
    ApiToken,
    AuditEvent,
    Brand,
    BrandDomain,
    Invitation,
    Membership,
    Organization,
)

pytestmark = pytest.mark.django_db

# (who asks, whose objects): two resellers, their customers, a sub-reseller, a provider agent.
PAIRS = [
    ("R2.admin", "R1"),
    ("R2.admin", "C11"),
    ("R2.admin", "S1"),
    ("R1.admin", "C21"),
    ("R1.admin", "R2"),
    ("S1.admin", "R1"),
    ("S1.admin", "C12"),
    ("C21.admin", "C11"),
    ("C21.admin", "C22"),
    ("C11.admin", "R1"),
    ("S1C1.admin", "C11"),
    ("P.agent", "PC2"),
    ("P.agent", "C11"),
]


def snapshot():
    return (
        list(Organization.objects.order_by("pk").values_list("pk", "name", "status", "agent_id")),
        list(Membership.objects.order_by("pk").values_list("pk", "role", "is_active")),
        list(Invitation.objects.order_by("pk").values_list("pk", "revoked_at", "accepted_at")),
        list(Brand.objects.order_by("pk").values_list("pk", "name", "primary_color")),
        list(BrandDomain.objects.order_by("pk").values_list("pk", "domain")),
        list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def victim_objects(tree):
    """For each organization: an invitation, a member, a brand domain, an API token."""

    def build(victim_key):
        victim = tree[victim_key]
        admin = tree[f"{victim_key}.admin"]
        invitation, _ = services.invitation_create(
            actor=admin,
            organization=victim,
            email=f"invitee-{victim_key}@example.test",
            role="billing",
        )
        membership = Membership.objects.filter(organization=victim).exclude(
            user=admin
        ).first() or Membership.objects.get(organization=victim, user=admin)
        token, _ = services.api_token_create(user=admin, name="victim token")
        domain = BrandDomain.objects.filter(brand__organization=victim).first()
        return {
            "org": victim,
            "invitation": invitation,
            "membership": membership,
            "token": token,
            "domain": domain,
        }

    return build


def page_requests(actor_org, objects):
    """(method, url, data) of every console page that names an object."""
    v = objects["org"]
    m = objects["membership"]
    i = objects["invitation"]
    reqs = []
    # Opening the victim's console directly.
    if v.is_seller:
        for suffix in (
            "",
            "customers/",
            "customers/new/",
            "resellers/",
            "resellers/new/",
            "team/",
            "brand/",
            "audit/",
        ):
            reqs.append(("get", f"/console/{v.pk}/{suffix}", None))
        reqs.append(
            ("post", f"/console/{v.pk}/team/", {"action": "deactivate", "membership": m.pk})
        )
        reqs.append(("post", f"/console/{v.pk}/customers/new/", {"name": "Planted"}))
    else:
        for suffix in ("", "team/", "company/", "audit/"):
            reqs.append(("get", f"/portal/{v.pk}/{suffix}", None))
        reqs.append(("post", f"/portal/{v.pk}/company/", {"name": "Hijacked"}))
        reqs.append(("post", f"/portal/{v.pk}/team/", {"action": "deactivate", "membership": m.pk}))
    # From the actor's own console, naming the victim's objects.
    if actor_org.is_seller:
        base = f"/console/{actor_org.pk}"
        reqs += [
            ("get", f"{base}/orgs/{v.pk}/", None),
            ("post", f"{base}/orgs/{v.pk}/", {"action": "edit", "name": "Hijacked"}),
            (
                "post",
                f"{base}/orgs/{v.pk}/",
                {"action": "invite", "email": "x@evil.test", "role": "admin"},
            ),
            ("get", f"{base}/orgs/{v.pk}/brand/", None),
            (
                "post",
                f"{base}/team/",
                {"action": "change_role", "membership": m.pk, "role": "admin"},
            ),
            ("post", f"{base}/team/", {"action": "deactivate", "membership": m.pk}),
            ("post", f"{base}/team/", {"action": "revoke", "invitation": i.pk}),
        ]
        if objects["domain"] is not None:
            reqs.append(
                (
                    "post",
                    f"{base}/brand/",
                    {"action": "remove_domain", "domain": objects["domain"].pk},
                )
            )
    else:
        base = f"/portal/{actor_org.pk}"
        reqs += [
            (
                "post",
                f"{base}/team/",
                {"action": "change_role", "membership": m.pk, "role": "admin"},
            ),
            ("post", f"{base}/team/", {"action": "deactivate", "membership": m.pk}),
            ("post", f"{base}/team/", {"action": "reactivate", "membership": m.pk}),
            ("post", f"{base}/team/", {"action": "revoke", "invitation": i.pk}),
        ]
    reqs.append(("post", "/me/", {"action": "revoke_token", "token": objects["token"].pk}))
    return reqs


def api_requests(objects):
    v = objects["org"]
    m = objects["membership"]
    i = objects["invitation"]
    reqs = [
        ("get", f"/api/v1/organizations/{v.pk}/", None),
        ("patch", f"/api/v1/organizations/{v.pk}/", {"name": "Hijacked"}),
        ("get", f"/api/v1/organizations/{v.pk}/memberships/", None),
        ("get", f"/api/v1/organizations/{v.pk}/invitations/", None),
        (
            "post",
            f"/api/v1/organizations/{v.pk}/invitations/",
            {"email": "x@evil.test", "role": "admin"},
        ),
        ("post", "/api/v1/organizations/", {"kind": "customer", "parent": v.pk, "name": "Planted"}),
        ("get", f"/api/v1/memberships/{m.pk}/", None),
        ("patch", f"/api/v1/memberships/{m.pk}/", {"role": "admin"}),
        ("post", f"/api/v1/memberships/{m.pk}/deactivate/", None),
        ("post", f"/api/v1/memberships/{m.pk}/reactivate/", None),
        ("get", f"/api/v1/invitations/{i.pk}/", None),
        ("post", f"/api/v1/invitations/{i.pk}/revoke/", None),
        ("get", f"/api/v1/audit-events/?organization={v.pk}", None),
        ("delete", f"/api/v1/tokens/{objects['token'].pk}/", None),
    ]
    if v.is_seller:
        reqs += [
            ("get", f"/api/v1/organizations/{v.pk}/brand/", None),
            ("patch", f"/api/v1/organizations/{v.pk}/brand/", {"name": "Hijacked"}),
            ("post", f"/api/v1/organizations/{v.pk}/brand/domains/", {"domain": "evil.test"}),
        ]
    if objects["domain"] is not None:
        reqs.append(("delete", f"/api/v1/brand-domains/{objects['domain'].pk}/", None))
    return reqs


def _actor_org(tree, actor_key):
    return tree[actor_key.split(".")[0]]


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_pages_answer_404_and_change_nothing(tree, victim_objects, client, actor_key, victim_key):
    # given
    objects = victim_objects(victim_key)
    client.force_login(tree[actor_key])
    before = snapshot()
    # when / then
    for method, url, data in page_requests(_actor_org(tree, actor_key), objects):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url, response.status_code)
    assert snapshot() == before


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_api_answers_404_and_changes_nothing(tree, victim_objects, actor_key, victim_key):
    # given
    objects = victim_objects(victim_key)
    api = APIClient()
    api.force_authenticate(tree[actor_key])
    before = snapshot()
    # when / then
    for method, url, data in api_requests(objects):
        response = getattr(api, method)(url, data, format="json")
        assert response.status_code == 404, (method, url, response.status_code, response.data)
        assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_lists_do_not_leak(tree, actor_key, victim_key):
    api = APIClient()
    api.force_authenticate(tree[actor_key])
    victim = tree[victim_key]
    ids = {o["id"] for o in api.get("/api/v1/organizations/?page_size=500").json()["results"]}
    assert victim.pk not in ids
    events = api.get("/api/v1/audit-events/?page_size=500").json()["results"]
    assert all(e["organization"] != victim.pk for e in events)
