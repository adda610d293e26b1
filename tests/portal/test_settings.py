"""Production settings refuse to start without their secrets and with any local stand-in for Box
or Stripe; the sandbox allows the stand-ins and says so; the local default needs nothing.

Each case starts a fresh ``manage.py`` process, since settings are read once per process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Variables of the developer's or CI's shell that would leak into the settings under test.
CLEARED_PREFIXES = ("BOX_", "STRIPE_", "PORTAL_", "CELERY_", "DJANGO_", "REDIS_", "EMAIL_")
CLEARED = {
    "SECRET_KEY",
    "DATABASE_URL",
    "ALLOWED_HOSTS",
    "FIELD_ENCRYPTION_KEY",
    "REDIS_URL",
    "SECURE_SSL_REDIRECT",
}

# A production environment as docs/operations.md describes it: every service is the real one.
PRODUCTION = {
    "SECRET_KEY": "production-secret-" + "abcdefghij" * 5,
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "portal.example.com,.shops.example.com",
    "FIELD_ENCRYPTION_KEY": "k" * 44,
    "BOX_PLATFORM_CLIENT_ID": "platform-app",
    "BOX_PLATFORM_CLIENT_SECRET": "platform-secret",
    "BOX_ADMIN_LOGIN_TEMPLATE": "box-{subscription}@admins.example.com",
    "BOX_API_BASE_URL": "https://api.box.com",
    "BOX_UPLOAD_BASE_URL": "https://upload.box.com/api",
    "BOX_OAUTH2_URL": "https://account.box.com/api/oauth2",
    "BOX_WEB_BASE_URL": "https://account.box.com",
    "BOX_MAILBOX": "provisioning.connector.mailbox.ImapMailbox",
    "BOX_MAILBOX_URL": "imaps://box-admins%40provider.example:secret@imap.provider.example/INBOX",
    "STRIPE_API_BASE": "https://api.stripe.com",
}

SHOW_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({k: str(getattr(s, k, '')) for k in "
    "('BOX_RATE_LIMIT_REDIS_URL', 'CACHES', 'DEBUG', 'BOX_API_BASE_URL', 'STRIPE_API_BASE')}))"
)


def clean_environment() -> dict:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in CLEARED and not k.startswith(CLEARED_PREFIXES)
    }


def run(settings_module: str, env: dict, argv=None) -> subprocess.CompletedProcess:
    argv = argv or ["manage.py", "check", "--deploy", "--fail-level", "ERROR"]
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**clean_environment(), "DJANGO_SETTINGS_MODULE": settings_module, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def production(tmp_path, **changes) -> dict:
    env = {
        **PRODUCTION,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    env.update(changes)
    return {k: v for k, v in env.items() if v is not None}


def test_production_refuses_to_start_without_secrets(tmp_path):
    result = run("portal.settings.production", {"PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert (
        "Production settings need these environment variables: SECRET_KEY, DATABASE_URL, "
        "CELERY_BROKER_URL, ALLOWED_HOSTS, FIELD_ENCRYPTION_KEY, BOX_PLATFORM_CLIENT_ID, "
        "BOX_PLATFORM_CLIENT_SECRET, BOX_ADMIN_LOGIN_TEMPLATE"
    ) in result.stderr


def test_a_correct_production_environment_starts(tmp_path):
    result = run("portal.settings.production", production(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "SANDBOX" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("BOX_API_BASE_URL", "http://127.0.0.1:8765", "points at the local Box simulator"),
        ("BOX_API_BASE_URL", None, "points at the local Box simulator"),  # unset: the default
        ("BOX_UPLOAD_BASE_URL", "http://localhost:9000/api", "points at the local Box simulator"),
        ("BOX_OAUTH2_URL", "http://[::1]/api/oauth2", "points at the local Box simulator"),
        ("BOX_WEB_BASE_URL", "http://boxsim:8765", "points at the local Box simulator"),
        ("BOX_WEB_BASE_URL", "https://box.internal:8765", "points at the local Box simulator"),
        ("BOX_WEB_BASE_URL", "", "is empty; it must be Box's address"),
        (
            "BOX_MAILBOX",
            "provisioning.connector.mailbox.SimulatorMailbox",
            "reads the Box simulator's mail",
        ),
        ("STRIPE_API_BASE", "http://localstripe:8420", "points at localstripe"),
        ("STRIPE_API_BASE", "http://127.0.0.1:9999", "points at localstripe"),
        ("STRIPE_API_BASE", "https://stripe.internal:8420", "points at localstripe"),
    ],
    ids=[
        "box-api-loopback",
        "box-api-unset",
        "box-upload-localhost",
        "box-oauth2-ipv6-loopback",
        "box-web-boxsim-host",
        "box-web-simulator-port",
        "box-web-empty",
        "simulator-mailbox",
        "localstripe-host",
        "localstripe-loopback",
        "localstripe-port",
    ],
)
def test_production_refuses_a_stand_in(tmp_path, variable, value, reason):
    result = run("portal.settings.production", production(tmp_path, **{variable: value}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Production refuses local stand-ins" in result.stderr
    assert variable in result.stderr and reason in result.stderr
    assert f"Set {variable} to the real services" in result.stderr


def test_production_refuses_to_start_without_a_shared_rate_limiter(tmp_path):
    result = run(
        "portal.settings.production",
        production(tmp_path, CELERY_BROKER_URL="amqp://rabbit.internal:5672//"),
    )
    assert result.returncode != 0
    assert "BOX_RATE_LIMIT_REDIS_URL is not set and cannot be derived" in result.stderr


def test_production_refuses_an_imap_mailbox_without_its_url(tmp_path):
    result = run("portal.settings.production", production(tmp_path, BOX_MAILBOX_URL=None))
    assert result.returncode != 0
    assert "BOX_MAILBOX_URL must be an imaps:// or imap:// URL" in result.stderr


def show(settings_module: str, env: dict) -> dict:
    result = run(settings_module, env, argv=["-c", SHOW_SETTINGS])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_shares_the_rate_limiter_through_the_brokers_redis(tmp_path):
    values = show("portal.settings.production", production(tmp_path))
    assert values["BOX_RATE_LIMIT_REDIS_URL"] == "redis://redis.internal:6379/0"
    assert "RedisCache" in values["CACHES"] and values["DEBUG"] == "False"
    # an explicit limiter Redis (or REDIS_URL) comes first
    values = show(
        "portal.settings.production",
        production(tmp_path, REDIS_URL="redis://cache.internal:6379/1"),
    )
    assert values["BOX_RATE_LIMIT_REDIS_URL"] == "redis://cache.internal:6379/1"
    values = show(
        "portal.settings.production",
        production(
            tmp_path,
            REDIS_URL="redis://cache.internal:6379/1",
            BOX_RATE_LIMIT_REDIS_URL="redis://limits.internal:6379/2",
        ),
    )
    assert values["BOX_RATE_LIMIT_REDIS_URL"] == "redis://limits.internal:6379/2"


def test_the_sandbox_allows_the_stand_ins_and_says_so(tmp_path):
    env = production(
        tmp_path,
        BOX_API_BASE_URL=None,
        BOX_UPLOAD_BASE_URL=None,
        BOX_OAUTH2_URL=None,
        BOX_WEB_BASE_URL=None,
        BOX_MAILBOX=None,
        BOX_MAILBOX_URL=None,
        STRIPE_API_BASE=None,
    )
    result = run("portal.settings.sandbox", env)
    assert result.returncode == 0, result.stderr
    assert "SANDBOX: portal.settings.sandbox is a trial stack, not production" in result.stderr
    assert "portal.W001" in result.stderr
    values = show("portal.settings.sandbox", env)
    assert values["BOX_API_BASE_URL"] == "http://boxsim:8765"
    assert values["STRIPE_API_BASE"] == "http://localstripe:8420"
    assert values["BOX_RATE_LIMIT_REDIS_URL"] == "redis://redis.internal:6379/0"
    # the sandbox still needs production's secrets
    result = run("portal.settings.sandbox", {"PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "Production settings need these environment variables" in result.stderr


def test_the_local_default_needs_no_environment(tmp_path):
    result = run("portal.settings.base", {"PORTAL_VAR_DIR": str(tmp_path)})
    # Deployment warnings are expected locally; errors are not.
    assert result.returncode == 0, result.stderr
