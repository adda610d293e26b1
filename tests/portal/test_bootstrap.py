"""``manage.py bootstrap``: the first run creates exactly one provider, brand, domain, admin and
membership; a second run creates nothing and says so; bad input fails clearly and writes
nothing. Pointed at the Box simulator, it registers the platform app there."""

import io
import re
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command

from boxsim.testing import SimulatorError
from portal import services
from portal.actors import system
from portal.models import AuditEvent, Brand, BrandDomain, Membership, Organization, Role, User

pytestmark = pytest.mark.django_db

ENV = {
    "PORTAL_PROVIDER_NAME": "Example Cloud",
    "PORTAL_PROVIDER_DOMAIN": "portal.example.com",
    "PORTAL_ADMIN_EMAIL": "Admin@Example.com",
    "PORTAL_ADMIN_PASSWORD": "a-long-bootstrap-passphrase",
}


@pytest.fixture
def env(monkeypatch, settings):
    """The bootstrap variables, and a connector pointed at Box (not the simulator)."""
    for name in ("PORTAL_ADMIN_NAME", *ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    settings.BOX_API_BASE_URL = "https://api.box.com"
    return monkeypatch


def bootstrap() -> str:
    out = io.StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Organization, Brand, BrandDomain, User, Membership, EmailAddress, AuditEvent)
    }


NOTHING = {
    "Organization": 0,
    "Brand": 0,
    "BrandDomain": 0,
    "User": 0,
    "Membership": 0,
    "EmailAddress": 0,
    "AuditEvent": 0,
}


def test_the_first_run_creates_one_of_each(env):
    # when
    output = bootstrap()
    # then: one provider with its brand and primary domain, one admin with a verified address
    provider = Organization.objects.get()
    assert (provider.kind, provider.name, provider.parent_id) == ("provider", "Example Cloud", None)
    assert provider.brand.name == "Example Cloud"
    domain = BrandDomain.objects.get()
    assert (domain.brand, domain.domain, domain.is_primary) == (
        provider.brand,
        "portal.example.com",
        True,
    )
    admin = User.objects.get()
    assert admin.email == "admin@example.com"
    assert admin.check_password(ENV["PORTAL_ADMIN_PASSWORD"])
    membership = Membership.objects.get()
    assert (membership.user, membership.organization, membership.role, membership.is_active) == (
        admin,
        provider,
        Role.ADMIN,
        True,
    )
    address = EmailAddress.objects.get()
    assert (address.user, address.email, address.verified, address.primary) == (
        admin,
        "admin@example.com",
        True,
        True,
    )
    # done by the system, as the bootstrap process, and recorded
    assert set(AuditEvent.objects.values_list("action", "system_process", "actor")) == {
        ("organization.created", "bootstrap", None),
        ("membership.created", "bootstrap", None),
    }
    assert "Created the provider 'Example Cloud'" in output
    assert "Created the provider admin admin@example.com" in output
    assert "shown once" not in output  # the password was given, so it is not printed
    assert "client ID portal-local-platform-app is configured for https://api.box.com" in output


def test_a_second_run_creates_nothing_and_says_so(env):
    bootstrap()
    before = counts()
    # when
    output = bootstrap()
    # then
    assert counts() == before
    assert "Nothing to do: the portal is already set up; nothing changed." in output
    assert "Created" not in output


def test_without_a_password_one_is_generated_and_printed_once(env):
    env.delenv("PORTAL_ADMIN_PASSWORD")
    output = bootstrap()
    (password,) = re.findall(r"\(shown once; change it after logging in\): (\S+)", output)
    assert len(password) >= 20
    assert User.objects.get().check_password(password)
    assert password not in bootstrap()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"PORTAL_PROVIDER_NAME": None, "PORTAL_ADMIN_EMAIL": None},
            "bootstrap needs these environment variables: PORTAL_PROVIDER_NAME, "
            "PORTAL_ADMIN_EMAIL.",
        ),
        (
            {"PORTAL_ADMIN_EMAIL": "not-an-address"},
            "PORTAL_ADMIN_EMAIL='not-an-address' is not a valid e-mail address.",
        ),
        (
            {"PORTAL_PROVIDER_DOMAIN": "https://portal.example.com/"},
            "PORTAL_PROVIDER_DOMAIN='https://portal.example.com/': Enter a host name",
        ),
        ({"PORTAL_ADMIN_PASSWORD": "short"}, "PORTAL_ADMIN_PASSWORD: This password is too short"),
    ],
    ids=["missing-variables", "invalid-email", "invalid-domain", "weak-password"],
)
def test_bad_input_fails_clearly_and_writes_nothing(env, changes, message):
    for name, value in changes.items():
        if value is None:
            env.delenv(name)
        else:
            env.setenv(name, value)
    with pytest.raises(CommandError) as failed:
        bootstrap()
    assert message in str(failed.value)
    assert counts() == NOTHING


def test_missing_platform_app_settings_fail_before_anything_is_written(env, settings):
    settings.BOX_PLATFORM_CLIENT_SECRET = ""
    with pytest.raises(CommandError) as failed:
        bootstrap()
    assert "BOX_PLATFORM_CLIENT_ID and BOX_PLATFORM_CLIENT_SECRET must be set" in str(failed.value)
    assert counts() == NOTHING


def test_an_existing_person_is_not_made_admin(env):
    # given: someone already uses the address, outside the provider
    services.user_create(email="admin@example.com", password=None)
    before = counts()
    # when
    with pytest.raises(CommandError) as failed:
        bootstrap()
    # then: the provider made in the same run is rolled back too
    assert "already has an account but is not an admin of the provider" in str(failed.value)
    assert counts() == before
    assert not Organization.objects.exists()


def test_an_existing_provider_is_kept_and_only_the_admin_added(env):
    # given: a provider made earlier under another name
    provider = services.provider_create(
        actor=system("tests"), name="Older Name", domains=["old.example.com"]
    )
    # when
    output = bootstrap()
    # then
    assert Organization.objects.get() == provider
    assert provider.name == "Older Name"
    assert Membership.objects.get().organization == provider
    assert "The provider exists as 'Older Name'; bootstrap does not rename it." in output
    assert "add portal.example.com in the console" in output
    assert "Created the provider admin admin@example.com" in output


def test_the_platform_app_is_registered_in_the_simulator(env, settings, boxsim):
    # given: the connector points at the Box simulator (the sandbox stack)
    client_id = f"bootstrap-{uuid.uuid4().hex[:8]}"
    settings.BOX_API_BASE_URL = boxsim.url
    settings.BOX_PLATFORM_CLIENT_ID = client_id
    settings.BOX_PLATFORM_CLIENT_SECRET = "sandbox-secret"
    # when
    first = bootstrap()
    second = bootstrap()
    # then: the app exists in the simulator (making it again is refused), registered once
    assert f"Box platform app {client_id}: registered in the simulator" in first
    assert f"Box platform app {client_id}: already registered in the simulator" in second
    with pytest.raises(SimulatorError, match="409"):
        boxsim.control.create_app("again", client_id=client_id)
    # and an enterprise can authorise it by its client ID
    enterprise = boxsim.control.create_enterprise(name="Sandbox Co", client_id=client_id)
    assert client_id in boxsim.control.enterprise(enterprise["enterprise_id"])["authorized_apps"]


def test_a_simulator_that_does_not_answer_fails_before_anything_is_written(env, settings):
    settings.BOX_API_BASE_URL = "http://127.0.0.1:1"
    with pytest.raises(CommandError) as failed:
        call_command("bootstrap", "--simulator-wait", "0", stdout=io.StringIO())
    assert "is the Box simulator, which does not answer" in str(failed.value)
    assert counts() == NOTHING
