"""The consoles as people use them: what each sees, what a form does, what an error says."""

import re

import pytest
from django.core import mail

from portal.actors import system
from portal.models import AuditEvent, BrandDomain, Invitation, Membership, Organization, User

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db


def test_storefront_follows_the_host(tree, client):
    r1 = client.get("/", HTTP_HOST="r1.test")
    r2 = client.get("/", HTTP_HOST="r2.test")
    unknown = client.get("/", HTTP_HOST="nobody.localhost")
    assert 'data-brand="Reseller R1"' in r1.content.decode()
    assert 'data-brand="Reseller R2"' in r2.content.decode()
    assert 'data-brand="Provider Co"' in unknown.content.decode()


def test_host_outside_allowed_hosts_is_refused(tree, client):
    assert client.get("/", HTTP_HOST="evil.example.com").status_code == 400


def test_dashboard_routes_a_single_membership(tree, client):
    client.force_login(tree["C11.member"])
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == f"/portal/{tree['C11'].pk}/"


def test_dashboard_offers_a_choice_with_several_memberships(tree, client):
    from portal import services

    user = tree["C11.billing"]
    services.membership_create(actor=SYSTEM, organization=tree["C12"], user=user, role="member")
    client.force_login(user)
    body = client.get("/dashboard/").content.decode()
    assert f"/portal/{tree['C11'].pk}/" in body and f"/portal/{tree['C12'].pk}/" in body


@pytest.mark.parametrize(
    ("user_key", "url_name", "org_key", "brand_name", "must_show", "must_not_show"),
    [
        ("P.admin", "console", "P", "Provider Co", ["Reseller R1", "Customer C21"], []),
        (
            "R1.admin",
            "console",
            "R1",
            "Reseller R1",
            ["Customer C11", "Customer S1C1"],
            ["Customer C21", "Direct One"],
        ),
        ("R2.sales", "console", "R2", "Reseller R2", ["Customer C21"], ["Customer C11"]),
        ("S1.admin", "console", "S1", "Sub-reseller S1", ["Customer S1C1"], ["Customer C11"]),
        ("C11.member", "portal", "C11", "Reseller R1", ["Customer C11"], ["Customer C12"]),
        ("S1C1.admin", "portal", "S1C1", "Sub-reseller S1", ["Customer S1C1"], []),
    ],
)
def test_each_console_on_its_brand_shows_only_its_part(
    tree, client, user_key, url_name, org_key, brand_name, must_show, must_not_show
):
    client.force_login(tree[user_key])
    org = tree[org_key]
    url = f"/{url_name}/{org.pk}/" + ("customers/" if url_name == "console" else "")
    body = client.get(url).content.decode()
    assert f'data-brand="{brand_name}"' in body
    for text in must_show:
        assert text in body
    for text in must_not_show:
        assert text not in body


def test_agent_sees_only_assigned_customers(tree, client):
    client.force_login(tree["P.agent"])
    body = client.get(f"/console/{tree['P'].pk}/customers/").content.decode()
    assert "Direct One" in body
    assert "Direct Two" not in body and "Customer C11" not in body


def test_provider_admin_creates_a_reseller_with_a_domain(tree, client):
    client.force_login(tree["P.admin"])
    response = client.post(
        f"/console/{tree['P'].pk}/resellers/new/",
        {
            "name": "Cobalt Cloud",
            "brand_name": "Cobalt",
            "domain": "cobalt.test",
            "contact_email": "hi@cobalt.test",
            "parent": tree["P"].pk,
        },
    )
    cobalt = Organization.objects.get(name="Cobalt Cloud")
    assert response.status_code == 302
    assert response["Location"] == f"/console/{tree['P'].pk}/orgs/{cobalt.pk}/"
    assert (cobalt.kind, cobalt.parent) == ("reseller", tree["P"])
    assert BrandDomain.objects.get(domain="cobalt.test").brand.name == "Cobalt"
    assert 'data-brand="Cobalt"' in client.get("/", HTTP_HOST="cobalt.test").content.decode()


def test_reseller_creation_with_a_taken_domain_shows_the_error_and_writes_nothing(tree, client):
    client.force_login(tree["P.admin"])
    before = Organization.objects.count()
    response = client.post(
        f"/console/{tree['P'].pk}/resellers/new/", {"name": "Copycat", "domain": "r1.test"}
    )
    assert response.status_code == 200
    assert "r1.test is already used by a storefront." in response.content.decode()
    assert Organization.objects.count() == before


def test_a_reseller_admin_cannot_create_resellers(tree, client):
    client.force_login(tree["R1.admin"])
    response = client.post(
        f"/console/{tree['R1'].pk}/resellers/new/", {"name": "Sneaky"}, follow=True
    )
    assert "Only the provider&#x27;s admins may create resellers." in response.content.decode()
    assert not Organization.objects.filter(name="Sneaky").exists()


def test_reseller_sales_creates_a_customer(tree, client):
    client.force_login(tree["R1.sales"])
    response = client.post(
        f"/console/{tree['R1'].pk}/customers/new/", {"name": "Fresh Customer", "country": "de"}
    )
    fresh = Organization.objects.get(name="Fresh Customer")
    assert response.status_code == 302
    assert (fresh.parent, fresh.country) == (tree["R1"], "DE")


def test_customer_form_errors_are_shown_per_field(tree, client):
    client.force_login(tree["R1.admin"])
    response = client.post(
        f"/console/{tree['R1'].pk}/customers/new/",
        {"name": "", "contact_email": "nope", "country": "Germany"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in body
    assert "Enter a valid email address." in body
    assert "Ensure this value has at most 2 characters" in body


def test_invite_change_role_and_deactivate_from_the_customer_portal(tree, client):
    client.force_login(tree["C11.admin"])
    url = f"/portal/{tree['C11'].pk}/team/"
    response = client.post(
        url, {"action": "invite", "email": "colleague@c11.test", "role": "member"}
    )
    assert response.status_code == 302
    assert Invitation.objects.get(email="colleague@c11.test").role == "member"
    member = Membership.objects.get(user=tree["C11.member"])
    client.post(url, {"action": "change_role", "membership": member.pk, "role": "billing"})
    member.refresh_from_db()
    assert member.role == "billing"
    client.post(url, {"action": "deactivate", "membership": member.pk})
    member.refresh_from_db()
    assert member.is_active is False


def test_an_invalid_role_in_the_team_form_says_so(tree, client):
    client.force_login(tree["C11.admin"])
    member = Membership.objects.get(user=tree["C11.member"])
    response = client.post(
        f"/portal/{tree['C11'].pk}/team/",
        {"action": "change_role", "membership": member.pk, "role": "agent"},
        follow=True,
    )
    assert (
        "&#x27;agent&#x27; is not a role in a customer organization; choose one of: admin, "
        "billing, member."
    ) in response.content.decode()
    member.refresh_from_db()
    assert member.role == "member"


def test_invite_form_errors_keep_the_page(tree, client):
    client.force_login(tree["C11.admin"])
    response = client.post(
        f"/portal/{tree['C11'].pk}/team/", {"action": "invite", "email": "bad", "role": "member"}
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert Invitation.objects.count() == 0


def test_a_member_sees_the_team_but_no_actions(tree, client):
    client.force_login(tree["C11.member"])
    body = client.get(f"/portal/{tree['C11'].pk}/team/").content.decode()
    assert "c11.admin@example.test" in body
    assert "Deactivate" not in body and "Send invitation" not in body
    response = client.post(
        f"/portal/{tree['C11'].pk}/team/",
        {"action": "invite", "email": "x@c11.test", "role": "admin"},
        follow=True,
    )
    assert "Only an admin may manage the people of this organization." in response.content.decode()
    assert Invitation.objects.count() == 0


def test_last_admin_message_in_the_page(tree, client):
    client.force_login(tree["C11.admin"])
    own = Membership.objects.get(user=tree["C11.admin"])
    response = client.post(
        f"/portal/{tree['C11'].pk}/team/",
        {"action": "deactivate", "membership": own.pk},
        follow=True,
    )
    assert "is the last admin of Customer C11" in response.content.decode()
    own.refresh_from_db()
    assert own.is_active


def test_brand_page_saves_colours_and_rejects_bad_ones(tree, client):
    client.force_login(tree["R2.admin"])
    url = f"/console/{tree['R2'].pk}/brand/"
    data = {
        "action": "save",
        "name": "R2 Cloud",
        "primary_color": "#123456",
        "accent_color": "#abcdef",
        "invoice_payment_terms_days": 30,
    }
    assert client.post(url, data).status_code == 302
    tree["R2"].brand.refresh_from_db()
    assert (tree["R2"].brand.name, tree["R2"].brand.primary_color) == ("R2 Cloud", "#123456")
    response = client.post(url, {**data, "primary_color": "red"})
    assert "Use a colour like #1a73e8." in response.content.decode()
    tree["R2"].brand.refresh_from_db()
    assert tree["R2"].brand.primary_color == "#123456"


def test_brand_logo_upload(tree, client, settings, tmp_path):
    import io

    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "#ff0000").save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "logo.png"
    client.force_login(tree["R1.admin"])
    client.post(
        f"/console/{tree['R1'].pk}/brand/",
        {
            "action": "save",
            "name": "Reseller R1",
            "primary_color": "#123456",
            "accent_color": "#abcdef",
            "invoice_payment_terms_days": 14,
            "logo": buffer,
        },
    )
    tree["R1"].brand.refresh_from_db()
    assert tree["R1"].brand.logo.name.startswith("brands/logo")
    assert '<img src="/media/brands/logo' in client.get("/", HTTP_HOST="r1.test").content.decode()


def test_invitation_page_flow_for_a_new_person(tree, client, django_capture_on_commit_callbacks):
    from portal import services

    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            actor=tree["R2.admin"], organization=tree["R2"], email="newbie@r2.test", role="sales"
        )
    path = re.search(r"https?://[^/]+(/invitations/[^/]+/)", mail.outbox[0].body).group(1)
    page = client.get(path, HTTP_HOST="r2.test")
    assert "Join Reseller R2" in page.content.decode()
    weak = client.post(path, {"full_name": "New Bie", "password": "short"}, HTTP_HOST="r2.test")
    assert "too short" in weak.content.decode()
    assert not User.objects.filter(email="newbie@r2.test").exists()
    done = client.post(
        path, {"full_name": "New Bie", "password": "a-good-long-passphrase"}, HTTP_HOST="r2.test"
    )
    assert done.status_code == 302 and done["Location"] == f"/console/{tree['R2'].pk}/"
    assert Membership.objects.get(user__email="newbie@r2.test").role == "sales"


def test_unknown_invitation_link(client, tree):
    assert client.get("/invitations/forged-token/").status_code == 404


def test_audit_log_page_lists_changes(tree, client):
    client.force_login(tree["R1.admin"])
    body = client.get(f"/console/{tree['R1'].pk}/audit/").content.decode()
    assert "organization.created" in body and "Customer C11" in body
    assert "Customer C21" not in body
    client.force_login(tree["R1.sales"])
    response = client.get(f"/console/{tree['R1'].pk}/audit/", follow=True)
    assert "Only admins and billing staff may read the audit log." in response.content.decode()


def test_profile_creates_and_revokes_an_api_token(tree, client):
    client.force_login(tree["C11.admin"])
    body = client.post("/me/", {"action": "create_token", "name": "ci"}).content.decode()
    key = re.search(r"<code>(bbp_[^<]+)</code>", body).group(1)
    token = tree["C11.admin"].api_tokens.get()
    assert token.name == "ci" and key.startswith(token.prefix)
    client.post("/me/", {"action": "revoke_token", "token": token.pk})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_pages_need_a_login(tree, client):
    response = client.get(f"/console/{tree['P'].pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_audit_rows_carry_the_client_address(tree, client):
    client.force_login(tree["C11.admin"])
    client.post(
        f"/portal/{tree['C11'].pk}/company/", {"name": "C11 Renamed"}, REMOTE_ADDR="203.0.113.7"
    )
    event = AuditEvent.objects.get(action="organization.updated")
    assert event.ip_address == "203.0.113.7"


def test_a_page_the_role_may_not_use_answers_403_with_the_reason(tree, client):
    client.force_login(tree["R1.sales"])
    response = client.get(f"/console/{tree['R1'].pk}/brand/")
    assert response.status_code == 403
    assert "Only an admin may change this brand." in response.content.decode()


def test_the_longest_matching_nav_item_is_the_active_one(tree, client):
    client.force_login(tree["R1.admin"])
    body = client.get(f"/console/{tree['R1'].pk}/customers/new/").content.decode()
    assert body.count('class="active"') == 1
    assert f'href="/console/{tree["R1"].pk}/customers/" class="active"' in body


def test_a_customer_signed_in_on_another_sellers_host_is_sent_to_its_own(client, tree):
    # given: C11 buys from R1 (r1.test); its admin is signed in on R2's storefront host
    client.force_login(tree["C11.admin"])
    url = f"/portal/{tree['C11'].pk}/"
    # when: it opens its portal there
    response = client.get(url, HTTP_HOST="r2.test")
    # then: it is sent to the same page on R1's host, and sees nothing under R2's brand
    assert response.status_code == 302
    assert response["Location"] == f"http://r1.test{url}"
    # on its own seller's host (and on a host no seller claims) the portal opens
    assert client.get(url, HTTP_HOST="r1.test").status_code == 200
    assert client.get(url).status_code == 200
    # someone else's portal is still a 404 on any host, never a redirect naming a host
    assert client.get(f"/portal/{tree['C21'].pk}/", HTTP_HOST="r1.test").status_code == 404
    assert client.get(f"/portal/{tree['C21'].pk}/", HTTP_HOST="r2.test").status_code == 404
