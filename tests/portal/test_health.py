"""/healthz answers without touching anything; /readyz names what is not ready."""

import pytest
from django.db.migrations.recorder import MigrationRecorder

from portal import health


@pytest.fixture(autouse=True)
def _fresh_migration_check():
    health.forget_migrations()
    yield
    health.forget_migrations()


def test_healthz_answers_ok_without_the_database(client):
    # no `db` fixture: pytest-django fails any database access in this test
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_reports_every_check(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "broker": "ok", "cache": "ok"},
    }


@pytest.mark.django_db
def test_the_probes_ignore_the_host_and_https_redirection(client, settings):
    # given: production's HTTPS redirection, and a probe calling the container by its address
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    # when
    live = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    ready = client.get("/readyz/", HTTP_HOST="10.0.0.7:8000")
    other = client.get("/", HTTP_HOST="10.0.0.7:8000")
    # then: the probes answer; everything else is still refused
    assert (live.status_code, ready.status_code) == (200, 200)
    assert other.status_code == 400


@pytest.mark.django_db
def test_readyz_is_503_with_an_unreachable_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"].startswith("failed: ")
    assert "127.0.0.1" not in response.content.decode()  # no addresses in the answer
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_with_an_unapplied_migration(client):
    # given: the newest migration of the portal app is not recorded as applied
    newest = MigrationRecorder.Migration.objects.filter(app="portal").latest("id")
    newest.delete()
    # when
    response = client.get("/readyz")
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == "failed: 1 migration(s) not applied"


@pytest.mark.django_db
def test_readyz_is_503_with_an_unreachable_cache(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache"]


def test_readyz_is_503_without_a_database(client, monkeypatch):
    def refuse():
        raise ConnectionError("database down")

    monkeypatch.setitem(health.CHECKS, "database", refuse)
    monkeypatch.setitem(health.CHECKS, "broker", lambda: "ok")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "failed: ConnectionError"
    assert body["checks"]["migrations"] == "skipped: no database"
    assert body["failed"] == ["database", "migrations"]
