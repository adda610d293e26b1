"""The tenancy core's write paths: rules, audit rows, and nothing written on bad input."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal import services
from portal.actors import system
from portal.errors import ApplicationError, Conflict, NotFound, PermissionDenied, ValidationError
from portal.models import (
    AuditEvent,
    Brand,
    BrandDomain,
    Invitation,
    Membership,
    Organization,
    OrgKind,
    User,
)
from tests.factories import PASSWORD, make_user

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db


def counts():
    return (
        Organization.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
        User.objects.count(),
        BrandDomain.objects.count(),
        AuditEvent.objects.count(),
    )


# --- organizations --------------------------------------------------------------------------


def test_provider_creates_a_reseller_with_a_brand_and_an_audit_row(tree):
    # when
    reseller = services.organization_create(
        actor=tree["P.admin"],
        parent=tree["P"],
        kind=OrgKind.RESELLER,
        name="Cobalt",
        brand_name="Cobalt Cloud",
        contact_email="hi@cobalt.test",
    )
    # then
    assert reseller.parent == tree["P"]
    assert reseller.path == f"{tree['P'].path}{reseller.pk}/"
    assert reseller.depth == 1
    assert Brand.objects.get(organization=reseller).name == "Cobalt Cloud"
    event = AuditEvent.objects.get(action="organization.created", object_id=str(reseller.pk))
    assert event.actor == tree["P.admin"]
    assert event.after == {"kind": "reseller", "name": "Cobalt", "parent": tree["P"].pk}


def test_sub_reseller_path_and_depth(tree):
    assert tree["S1"].depth == 2
    assert tree["S1C1"].ancestor_ids == [
        tree["P"].pk,
        tree["R1"].pk,
        tree["S1"].pk,
        tree["S1C1"].pk,
    ]


@pytest.mark.parametrize(
    ("actor", "parent", "kind", "message"),
    [
        ("R1.admin", "R1", "reseller", "Only the provider's admins may create resellers."),
        ("R1.billing", "R1", "customer", "Your role does not allow creating customers here."),
        ("C11.admin", "C11", "customer", "Only the provider or a reseller can have customers"),
        ("P.admin", "P", "provider", "Only resellers and customers can be created."),
    ],
)
def test_organization_create_refusals_write_nothing(tree, actor, parent, kind, message):
    before = counts()
    with pytest.raises(ApplicationError, match=message):
        services.organization_create(actor=tree[actor], parent=tree[parent], kind=kind, name="Nope")
    assert counts() == before


def test_organization_create_refuses_a_blank_name_and_a_bad_country(tree):
    before = counts()
    with pytest.raises(ValidationError, match="A name is required"):
        services.organization_create(
            actor=tree["P.admin"], parent=tree["P"], kind="customer", name="  "
        )
    with pytest.raises(ValidationError) as exc:
        services.organization_create(
            actor=tree["P.admin"], parent=tree["P"], kind="customer", name="X", country="usa"
        )
    assert "country" in exc.value.fields
    assert counts() == before


def test_an_agent_creating_a_customer_is_assigned_to_it(tree):
    customer = services.organization_create(
        actor=tree["P.agent"], parent=tree["P"], kind="customer", name="Agent's own"
    )
    assert customer.agent == tree["P.agent"]


def test_there_is_only_one_provider(tree):
    with pytest.raises(Conflict):
        services.provider_create(actor=SYSTEM, name="Second")
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.create(kind="provider", name="Sneaky", path="/x/")


def test_organization_update_records_before_and_after(tree):
    services.organization_update(
        actor=tree["C11.admin"], organization=tree["C11"], city="Leeds", name="Customer C11 Ltd"
    )
    event = AuditEvent.objects.filter(action="organization.updated").get()
    assert event.before == {"name": "Customer C11", "city": ""}
    assert event.after == {"name": "Customer C11 Ltd", "city": "Leeds"}


def test_a_member_cannot_edit_the_company(tree):
    with pytest.raises(PermissionDenied):
        services.organization_update(
            actor=tree["C11.member"], organization=tree["C11"], name="Hijacked"
        )
    tree["C11"].refresh_from_db()
    assert tree["C11"].name == "Customer C11"


# --- sign-up --------------------------------------------------------------------------------


def test_customer_signup_places_the_customer_under_the_seller(tree):
    user = make_user("founder@newco.test")
    customer = services.customer_signup(
        user=user, seller=tree["R2"], company_name="NewCo", full_name="Fran Founder"
    )
    assert customer.parent == tree["R2"]
    assert customer.kind == "customer"
    assert customer.contact_email == "founder@newco.test"
    membership = Membership.objects.get(user=user)
    assert (membership.organization, membership.role) == (customer, "admin")
    assert set(
        AuditEvent.objects.filter(organization=customer).values_list("action", flat=True)
    ) == {"organization.created", "customer.signed_up", "membership.created"}


def test_signup_refused_on_a_suspended_seller(tree):
    Organization.objects.filter(pk=tree["R2"].pk).update(status="suspended")
    tree["R2"].refresh_from_db()
    user = make_user()
    before = counts()
    with pytest.raises(ValidationError, match="does not accept sign-ups"):
        services.customer_signup(user=user, seller=tree["R2"], company_name="X")
    assert counts() == before


# --- memberships ----------------------------------------------------------------------------


def test_role_must_exist_for_the_kind_of_organization(tree):
    user = make_user()
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.membership_create(
            actor=tree["C11.admin"], organization=tree["C11"], user=user, role="agent"
        )
    assert exc.value.message == (
        "'agent' is not a role in a customer organization; choose one of: admin, billing, member."
    )
    assert exc.value.fields == {"role": [exc.value.message]}
    with pytest.raises(ValidationError, match="'wizard' is not a role in a reseller"):
        services.membership_create(
            actor=tree["R1.admin"], organization=tree["R1"], user=user, role="wizard"
        )
    assert counts() == before


def test_change_role_and_its_audit_row(tree):
    membership = Membership.objects.get(user=tree["C11.member"])
    services.membership_change_role(actor=tree["C11.admin"], membership=membership, role="billing")
    membership.refresh_from_db()
    assert membership.role == "billing"
    event = AuditEvent.objects.get(action="membership.role_changed")
    assert (event.actor, event.before, event.after) == (
        tree["C11.admin"],
        {"role": "member"},
        {"role": "billing"},
    )


def test_the_last_admin_cannot_be_demoted_or_deactivated(tree):
    admin_membership = Membership.objects.get(user=tree["C11.admin"])
    before = counts()
    with pytest.raises(Conflict, match="last admin"):
        services.membership_change_role(
            actor=tree["C11.admin"], membership=admin_membership, role="member"
        )
    with pytest.raises(Conflict, match="last admin"):
        services.membership_deactivate(actor=tree["R1.admin"], membership=admin_membership)
    admin_membership.refresh_from_db()
    assert (admin_membership.role, admin_membership.is_active) == ("admin", True)
    assert counts() == before


def test_deactivate_and_reactivate(tree):
    membership = Membership.objects.get(user=tree["C21.billing"])
    services.membership_deactivate(actor=tree["R2.admin"], membership=membership)
    membership.refresh_from_db()
    assert membership.is_active is False
    services.membership_reactivate(actor=tree["R2.admin"], membership=membership)
    membership.refresh_from_db()
    assert membership.is_active is True
    assert list(
        AuditEvent.objects.filter(object_id=str(membership.pk), action__startswith="membership.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["membership.created", "membership.deactivated", "membership.reactivated"]


def test_another_resellers_admin_cannot_manage_members(tree):
    membership = Membership.objects.get(user=tree["C11.member"])
    with pytest.raises(PermissionDenied):
        services.membership_deactivate(actor=tree["R2.admin"], membership=membership)
    membership.refresh_from_db()
    assert membership.is_active


# --- invitations ----------------------------------------------------------------------------


def test_invite_then_accept_as_a_new_person(tree, django_capture_on_commit_callbacks):
    # given
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invitation_create(
            actor=tree["C11.admin"],
            organization=tree["C11"],
            email="New.Person@Example.test",
            role="billing",
        )
    # then an e-mail went out under the seller's brand with the link
    assert invitation.email == "new.person@example.test"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.test"]
    assert message.subject == "[Reseller R1] You are invited to Customer C11"
    assert f"/invitations/{token}/" in message.body
    assert "http://r1.test:8000/invitations/" in message.body
    assert Invitation.objects.get().token_hash != token  # only the hash is stored
    # when
    membership = services.invitation_accept(
        token=token, password="a-long-passphrase-77", full_name="New Person"
    )
    # then
    assert (membership.organization, membership.role) == (tree["C11"], "billing")
    assert membership.user.check_password("a-long-passphrase-77")
    invitation.refresh_from_db()
    assert invitation.state == "accepted"
    with pytest.raises(Conflict, match="accepted"):
        services.invitation_accept(token=token, password="another-passphrase-1")


def test_invitation_errors_write_nothing(tree):
    before = counts()
    with pytest.raises(ValidationError, match="valid e-mail"):
        services.invitation_create(
            actor=tree["C11.admin"], organization=tree["C11"], email="not-an-email", role="member"
        )
    with pytest.raises(ValidationError, match="not a role"):
        services.invitation_create(
            actor=tree["C11.admin"], organization=tree["C11"], email="a@b.test", role="sales"
        )
    with pytest.raises(Conflict, match="already a member"):
        services.invitation_create(
            actor=tree["C11.admin"],
            organization=tree["C11"],
            email="c11.member@example.test",
            role="member",
        )
    with pytest.raises(PermissionDenied):
        services.invitation_create(
            actor=tree["C11.admin"], organization=tree["C12"], email="a@b.test", role="member"
        )
    with pytest.raises(PermissionDenied):
        services.invitation_create(
            actor=tree["R2.admin"], organization=tree["C11"], email="a@b.test", role="member"
        )
    assert counts() == before


def test_a_second_open_invitation_is_refused(tree):
    services.invitation_create(
        actor=tree["C11.admin"], organization=tree["C11"], email="twice@example.test", role="member"
    )
    with pytest.raises(Conflict, match="already has an open invitation"):
        services.invitation_create(
            actor=tree["C11.admin"],
            organization=tree["C11"],
            email="twice@example.test",
            role="billing",
        )
    assert Invitation.objects.filter(email="twice@example.test").count() == 1


def test_expired_and_revoked_invitations_cannot_be_accepted(tree):
    inv, token = services.invitation_create(
        actor=tree["C11.admin"], organization=tree["C11"], email="late@example.test", role="member"
    )
    Invitation.objects.filter(pk=inv.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(Conflict, match="expired"):
        services.invitation_accept(token=token, password="a-long-passphrase-77")
    inv2, token2 = services.invitation_create(
        actor=tree["C12.admin"], organization=tree["C12"], email="gone@example.test", role="member"
    )
    services.invitation_revoke(actor=tree["C12.admin"], invitation=inv2)
    with pytest.raises(Conflict, match="revoked"):
        services.invitation_accept(token=token2, password="a-long-passphrase-77")
    assert not User.objects.filter(email__in=["late@example.test", "gone@example.test"]).exists()
    with pytest.raises(NotFound):
        services.invitation_accept(token="forged", password="a-long-passphrase-77")


def test_accepting_needs_the_invited_address(tree):
    _inv, token = services.invitation_create(
        actor=tree["C11.admin"],
        organization=tree["C11"],
        email="c21.member@example.test",
        role="member",
    )
    with pytest.raises(Conflict, match="sign in with that address"):
        services.invitation_accept(token=token, user=tree["C22.member"])
    with pytest.raises(Conflict, match="already has an account"):
        services.invitation_accept(token=token, password="a-long-passphrase-77")
    membership = services.invitation_accept(token=token, user=tree["C21.member"])
    assert membership.organization == tree["C11"]


def test_weak_password_on_acceptance_is_refused(tree):
    _, token = services.invitation_create(
        actor=tree["C11.admin"], organization=tree["C11"], email="weak@example.test", role="member"
    )
    with pytest.raises(ValidationError, match=r"too short|too common"):
        services.invitation_accept(token=token, password="12345")
    assert not User.objects.filter(email="weak@example.test").exists()


# --- brands ---------------------------------------------------------------------------------


def test_brand_update_and_domains(tree):
    brand = tree["R1"].brand
    services.brand_update(
        actor=tree["R1.admin"], brand=brand, name="R1 Cloud", primary_color="#112233"
    )
    brand.refresh_from_db()
    assert (brand.name, brand.primary_color) == ("R1 Cloud", "#112233")
    added = services.brand_domain_add(actor=tree["R1.admin"], brand=brand, domain="Shop.R1.Test")
    assert added.domain == "shop.r1.test"
    with pytest.raises(Conflict, match="already used"):
        services.brand_domain_add(actor=tree["R1.admin"], brand=brand, domain="r2.test")
    with pytest.raises(ValidationError, match="host name"):
        services.brand_domain_add(actor=tree["R1.admin"], brand=brand, domain="https://x.test/path")
    with pytest.raises(ValidationError) as exc:
        services.brand_update(actor=tree["R1.admin"], brand=brand, primary_color="blue")
    assert "primary_color" in exc.value.fields
    brand.refresh_from_db()
    assert brand.primary_color == "#112233"
    with pytest.raises(PermissionDenied):
        services.brand_update(actor=tree["R1.sales"], brand=brand, name="Sales Cloud")


# --- audit log ------------------------------------------------------------------------------


def test_audit_events_are_append_only(tree):
    event = AuditEvent.objects.first()
    with pytest.raises(RuntimeError, match="append-only"):
        event.save()
    with pytest.raises(RuntimeError, match="append-only"):
        event.delete()
    if connection.vendor == "postgresql":
        # The database itself refuses, whatever the caller.
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    event.refresh_from_db()
    assert event.action != "tampered"


# --- API tokens -----------------------------------------------------------------------------


def test_api_token_is_stored_hashed_and_can_be_revoked(tree):
    token, key = services.api_token_create(user=tree["R1.admin"], name="sync")
    assert key.startswith("bbp_") and token.key_hash != key and token.prefix == key[:10]
    assert services.api_token_authenticate(key).user == tree["R1.admin"]
    services.api_token_revoke(user=tree["R1.admin"], token=token)
    assert services.api_token_authenticate(key) is None


def test_password_of_seeded_users(tree):
    assert tree["C11.admin"].check_password(PASSWORD)


def test_unknown_currencies_are_refused(tree):
    before = counts()
    with pytest.raises(ValidationError, match="'XYZ' is not a currency the portal can bill in"):
        services.organization_create(
            actor=tree["P.admin"],
            parent=tree["P"],
            kind="customer",
            name="Odd money",
            currency="XYZ",
        )
    with pytest.raises(ValidationError) as exc:
        services.organization_update(
            actor=tree["C11.admin"], organization=tree["C11"], currency="ABC"
        )
    assert list(exc.value.fields) == ["currency"]
    assert counts() == before
    tree["C11"].refresh_from_db()
    assert tree["C11"].currency == "USD"
