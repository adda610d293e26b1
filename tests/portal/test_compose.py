"""docker-compose.yml and the .env examples agree with the settings (Docker itself is not run):
the production example starts ``portal.settings.production`` once its secrets are filled in, the
sandbox example starts ``portal.settings.sandbox``, the examples hold no secrets, and the stack's
health checks use the portal's probes."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from portal.health import PROBES
from tests.portal.test_settings import clean_environment

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")
STAND_INS = ("boxsim", "localstripe")
# What portal/settings/deployed.py requires (importing it would apply it to this process).
REQUIRED = (
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "ALLOWED_HOSTS",
    "FIELD_ENCRYPTION_KEY",
    "BOX_PLATFORM_CLIENT_ID",
    "BOX_PLATFORM_CLIENT_SECRET",
    "BOX_ADMIN_LOGIN_TEMPLATE",
)
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|_KEY$)")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def read_env_file(name: str) -> dict[str, str]:
    values = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default}, ${NAME:?error} and $$."""

    def one(match):
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name, "")
        if op == ":-":
            return current or arg
        if op == ":?" and not current:
            raise AssertionError(f"compose would stop: {arg}")
        return current

    value = re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)
    return value.replace("$$", "$")


def service_environment(service: str, env_file: dict[str, str]) -> dict[str, str]:
    """What a service's process sees: the .env file, then the service's `environment`."""
    spec = compose()["services"][service]
    assert spec["env_file"] == ".env"
    env = dict(env_file)
    for key, value in spec.get("environment", {}).items():
        env[key] = interpolate(str(value), env_file)
    return env


def fill_secrets(values: dict[str, str]) -> dict[str, str]:
    return {
        key: (value or f"filled-in-{key.lower()}-0123456789abcdef")
        if SECRET_NAME.search(key) or key in REQUIRED
        else value
        for key, value in values.items()
    }


def check(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env={**clean_environment(), **env, "PORTAL_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_app_services_share_one_definition_and_the_stand_ins_are_sandbox_only():
    services = compose()["services"]
    for name in APP_SERVICES:
        assert "profiles" not in services[name], name
        assert services[name]["environment"]["DJANGO_SETTINGS_MODULE"] == (
            "${DJANGO_SETTINGS_MODULE:-portal.settings.production}"
        )
    for name in STAND_INS:
        assert services[name]["profiles"] == ["sandbox"], name


def test_the_health_checks_use_the_probes():
    services = compose()["services"]
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in web_check and "/readyz" in PROBES
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("postgres", "redis", *STAND_INS):
        assert services[name]["healthcheck"]["test"], name


@pytest.mark.parametrize("example", [".env.example", ".env.sandbox.example"])
def test_the_examples_hold_no_secrets(example):
    values = read_env_file(example)
    secrets = {key: value for key, value in values.items() if SECRET_NAME.search(key)}
    assert secrets, "the example should name its secrets"
    assert all(value == "" for value in secrets.values()), secrets
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_the_production_example_names_every_required_variable(tmp_path):
    values = read_env_file(".env.example")
    env = service_environment("web", fill_secrets(values))
    for name in (*REQUIRED, "BOX_MAILBOX", "BOX_MAILBOX_URL", "STRIPE_API_BASE"):
        assert name in env, name
    for name in ("PORTAL_PROVIDER_NAME", "PORTAL_PROVIDER_DOMAIN", "PORTAL_ADMIN_EMAIL"):
        assert values[name], name  # bootstrap's input
    # with the secrets filled in (a mailbox URL included), production starts
    env["BOX_MAILBOX_URL"] = "imaps://box-admins%40example.com:pw@imap.example.com/INBOX"
    assert env["DJANGO_SETTINGS_MODULE"] == "portal.settings.production"
    result = check(env, tmp_path)
    assert result.returncode == 0, result.stderr
    # as written, with no secrets: compose stops without the database password...
    with pytest.raises(AssertionError, match=r"set POSTGRES_PASSWORD in \.env"):
        service_environment("web", values)
    # ...and the portal without its own secrets
    result = check(service_environment("web", {**values, "POSTGRES_PASSWORD": "pw"}), tmp_path)
    assert result.returncode != 0
    assert (
        "Production settings need these environment variables: SECRET_KEY, "
        "FIELD_ENCRYPTION_KEY, BOX_PLATFORM_CLIENT_ID, BOX_PLATFORM_CLIENT_SECRET"
    ) in result.stderr


def test_the_sandbox_example_starts_the_sandbox(tmp_path):
    values = read_env_file(".env.sandbox.example")
    assert values["COMPOSE_PROFILES"] == "sandbox"
    env = service_environment("web", fill_secrets(values))
    assert env["DJANGO_SETTINGS_MODULE"] == "portal.settings.sandbox"
    result = check(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SANDBOX: portal.settings.sandbox is a trial stack" in result.stderr
    # the same environment under production settings is refused: it points at the stand-ins
    result = check({**env, "DJANGO_SETTINGS_MODULE": "portal.settings.production"}, tmp_path)
    assert result.returncode != 0
    assert "Production refuses local stand-ins" in result.stderr


SERVE_STATIC = (
    "import django; django.setup(); "
    "from django.templatetags.static import static; from django.test import Client; "
    "url = static('css/portal.css'); "
    "r = Client().get(url, HTTP_HOST='portal.example.com', secure=True); "
    "print(url, r.status_code, r.get('Cache-Control', ''))"
)


def test_the_web_process_serves_the_collected_static_files(tmp_path):
    # given: the production example, as the migrate step runs it (collectstatic included)
    values = fill_secrets(read_env_file(".env.example"))
    values["BOX_MAILBOX_URL"] = "imaps://box-admins%40example.com:pw@imap.example.com/INBOX"
    env = {**service_environment("web", values), "STATIC_ROOT": str(tmp_path / "static")}
    command = compose()["services"]["migrate"]["command"][-1]
    assert "collectstatic --noinput" in command
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**clean_environment(), **env, "PORTAL_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collect.returncode == 0, collect.stderr
    # when: a page asks for a stylesheet
    served = subprocess.run(
        [sys.executable, "-c", SERVE_STATIC],
        cwd=ROOT,
        env={**clean_environment(), **env, "PORTAL_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then: a hashed name, served by the web process with long caching
    assert served.returncode == 0, served.stderr
    url, status, cache_control = served.stdout.split(maxsplit=2)
    assert re.fullmatch(r"/static/css/portal\.[0-9a-f]{12}\.css", url), url
    assert status == "200"
    assert "max-age=315360000" in cache_control
