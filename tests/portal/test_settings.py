"""Production settings refuse to start without their secrets; the local default needs none."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_check(settings_module: str, env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "ALLOWED_HOSTS",
            "FIELD_ENCRYPTION_KEY",
            "BOX_PLATFORM_CLIENT_ID",
            "BOX_PLATFORM_CLIENT_SECRET",
            "BOX_ADMIN_LOGIN_TEMPLATE",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": settings_module, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_secrets(tmp_path):
    result = run_check("portal.settings.production", {"PORTAL_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert (
        "Production settings need these environment variables: SECRET_KEY, DATABASE_URL, "
        "CELERY_BROKER_URL, ALLOWED_HOSTS, FIELD_ENCRYPTION_KEY, BOX_PLATFORM_CLIENT_ID, "
        "BOX_PLATFORM_CLIENT_SECRET, BOX_ADMIN_LOGIN_TEMPLATE"
    ) in result.stderr


def test_production_starts_with_its_secrets(tmp_path):
    result = run_check(
        "portal.settings.production",
        {
            "SECRET_KEY": "production-secret-" + "abcdefghij" * 5,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "ALLOWED_HOSTS": "portal.example.com,.shops.example.com",
            "FIELD_ENCRYPTION_KEY": "k" * 44,
            "BOX_PLATFORM_CLIENT_ID": "platform-app",
            "BOX_PLATFORM_CLIENT_SECRET": "platform-secret",
            "BOX_ADMIN_LOGIN_TEMPLATE": "box-{subscription}@admins.example.com",
            "PORTAL_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr


def test_the_local_default_needs_no_environment(tmp_path):
    result = run_check("portal.settings.base", {"PORTAL_VAR_DIR": str(tmp_path)})
    # Deployment warnings are expected locally; errors are not.
    assert result.returncode == 0, result.stderr
