"""The REST API of the tenancy core: the same operations and rules as the consoles."""

import pytest
from rest_framework.test import APIClient

from portal import services
from portal.models import AuditEvent, BrandDomain, Invitation, Membership, Organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as(tree):
    def make(user_key, *, token=False):
        api = APIClient()
        user = tree[user_key]
        if token:
            _, key = services.api_token_create(user=user, name="test")
            api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        else:
            api.force_login(user)
        return api

    return make


def test_anonymous_requests_are_refused_in_the_error_shape(tree):
    response = APIClient().get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "fields": {},
        }
    }


def test_token_authentication_and_me(api_as, tree):
    api = api_as("R1.admin", token=True)
    body = api.get("/api/v1/me/").json()
    assert body["email"] == "r1.admin@example.test"
    assert [(m["organization"]["id"], m["role"]) for m in body["memberships"]] == [
        (tree["R1"].pk, "admin")
    ]


def test_a_bad_token_is_refused(tree):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token bbp_forged")
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The token is unknown or revoked."


def test_organization_list_is_tree_scoped_and_filterable(api_as, tree):
    api = api_as("R1.sales")
    names = [o["name"] for o in api.get("/api/v1/organizations/").json()["results"]]
    assert sorted(names) == sorted(
        ["Reseller R1", "Customer C11", "Customer C12", "Sub-reseller S1", "Customer S1C1"]
    )
    direct = api.get(f"/api/v1/organizations/?parent={tree['R1'].pk}&kind=customer").json()
    assert [o["name"] for o in direct["results"]] == ["Customer C11", "Customer C12"]
    assert direct["count"] == 2


def test_create_customer_and_reseller_through_the_api(api_as, tree):
    api = api_as("P.admin", token=True)
    customer = api.post(
        "/api/v1/organizations/",
        {"kind": "customer", "parent": tree["R2"].pk, "name": "API Customer", "country": "FR"},
    )
    assert customer.status_code == 201, customer.json()
    assert customer.json()["parent"] == tree["R2"].pk
    reseller = api.post(
        "/api/v1/organizations/",
        {
            "kind": "reseller",
            "parent": tree["P"].pk,
            "name": "API Reseller",
            "domain": "api-reseller.test",
        },
    )
    assert reseller.status_code == 201
    assert (
        BrandDomain.objects.get(domain="api-reseller.test").brand.organization_id
        == reseller.json()["id"]
    )


def test_bad_input_answers_400_with_fields_and_writes_nothing(api_as, tree):
    api = api_as("P.admin")
    before = (Organization.objects.count(), AuditEvent.objects.count())
    response = api.post("/api/v1/organizations/", {"kind": "planet", "parent": tree["P"].pk})
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert set(body["fields"]) == {"kind", "name"}
    assert body["message"] == 'kind: "planet" is not a valid choice.'
    taken = api.post(
        "/api/v1/organizations/",
        {"kind": "reseller", "parent": tree["P"].pk, "name": "Dup", "domain": "r1.test"},
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["message"] == "r1.test is already used by a storefront."
    assert (Organization.objects.count(), AuditEvent.objects.count()) == before


def test_reseller_cannot_create_a_reseller_via_api(api_as, tree):
    response = api_as("R1.admin").post(
        "/api/v1/organizations/", {"kind": "reseller", "parent": tree["R1"].pk, "name": "Nope"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "permission_denied",
        "fields": {},
        "message": "Only the provider's admins may create resellers.",
    }
    assert not Organization.objects.filter(name="Nope").exists()


def test_members_invitations_and_roles_through_the_api(api_as, tree):
    api = api_as("C11.admin", token=True)
    members = api.get(f"/api/v1/organizations/{tree['C11'].pk}/memberships/").json()
    assert sorted(m["user"]["email"] for m in members["results"]) == [
        "c11.admin@example.test",
        "c11.billing@example.test",
        "c11.member@example.test",
    ]
    invite = api.post(
        f"/api/v1/organizations/{tree['C11'].pk}/invitations/",
        {"email": "new@c11.test", "role": "billing"},
    )
    assert invite.status_code == 201
    assert invite.json()["state"] == "open"
    bad_role = api.post(
        f"/api/v1/organizations/{tree['C11'].pk}/invitations/",
        {"email": "other@c11.test", "role": "agent"},
    )
    assert bad_role.status_code == 400
    assert bad_role.json()["error"]["fields"] == {
        "role": [
            "'agent' is not a role in a customer organization; choose one of: admin, billing, "
            "member."
        ]
    }
    revoke = api.post(f"/api/v1/invitations/{invite.json()['id']}/revoke/")
    assert revoke.json()["state"] == "revoked"
    member = Membership.objects.get(user=tree["C11.member"])
    assert (
        api.patch(f"/api/v1/memberships/{member.pk}/", {"role": "billing"}).json()["role"]
        == "billing"
    )
    assert api.post(f"/api/v1/memberships/{member.pk}/deactivate/").json()["is_active"] is False
    own = Membership.objects.get(user=tree["C11.admin"])
    last = api.post(f"/api/v1/memberships/{own.pk}/deactivate/")
    assert last.status_code == 409
    assert "last admin" in last.json()["error"]["message"]
    assert Invitation.objects.filter(email="other@c11.test").count() == 0


def test_brand_through_the_api(api_as, tree):
    api = api_as("R1.admin")
    brand = api.get(f"/api/v1/organizations/{tree['R1'].pk}/brand/").json()
    assert brand["name"] == "Reseller R1"
    assert [d["domain"] for d in brand["domains"]] == ["r1.test"]
    changed = api.patch(
        f"/api/v1/organizations/{tree['R1'].pk}/brand/",
        {"primary_color": "#000000", "tagline": "Hello"},
    )
    assert changed.json()["primary_color"] == "#000000"
    bad = api.patch(f"/api/v1/organizations/{tree['R1'].pk}/brand/", {"primary_color": "#00"})
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"primary_color": ["Use a colour like #1a73e8."]}
    domain = api.post(
        f"/api/v1/organizations/{tree['R1'].pk}/brand/domains/", {"domain": "store.r1.test"}
    )
    assert domain.status_code == 201
    assert api.delete(f"/api/v1/brand-domains/{domain.json()['id']}/").status_code == 204
    customer_brand = api.get(f"/api/v1/organizations/{tree['C11'].pk}/brand/")
    assert customer_brand.status_code == 404
    sales = api_as("R1.sales").patch(
        f"/api/v1/organizations/{tree['R1'].pk}/brand/", {"name": "Sales"}
    )
    assert sales.status_code == 403


def test_audit_events_and_tokens(api_as, tree):
    api = api_as("R2.billing")
    events = api.get(f"/api/v1/audit-events/?organization={tree['C21'].pk}").json()
    assert events["count"] >= 4
    assert {e["organization"] for e in events["results"]} == {tree["C21"].pk}
    created = api.post("/api/v1/tokens/", {"name": "nightly"})
    assert created.status_code == 201 and created.json()["key"].startswith("bbp_")
    listed = api.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["nightly"] and "key" not in listed[0]
    assert api.delete(f"/api/v1/tokens/{created.json()['id']}/").status_code == 204


def test_schema_and_docs_are_served(client, tree):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in (
        "/api/v1/organizations/",
        "/api/v1/memberships/{id}/deactivate/",
        "/api/v1/organizations/{id}/invitations/",
        "/api/v1/me/",
    ):
        assert path in body
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.content.decode()
    assert "cdn.jsdelivr" not in docs.content.decode()  # nothing fetched from the web
