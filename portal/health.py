"""Liveness and readiness for load balancers and container health checks.

* ``GET /healthz``: the process is up and serving. Touches nothing (no database, no cache):
  200 ``ok``.
* ``GET /readyz``: the process can do its work: the database answers, every migration is
  applied, the Celery broker and the cache answer. 200 with ``{"status": "ok", "checks":
  {...}}``; 503 with the same shape, ``"status": "unavailable"`` and the failing checks named.

Both are answered by ``HealthCheckMiddleware``, first in ``MIDDLEWARE``, before anything reads the
request's host or session: a probe that calls the container by its IP, over plain HTTP, gets an
answer rather than a 400 for an unknown host or a redirect to HTTPS. No login, no tenant data;
failures are named by the exception's class only (no URLs, hosts or credentials). Each check
is bounded by a few seconds' timeout.
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, JsonResponse

BROKER_TIMEOUT_SECONDS = 3.0
# Once every migration is applied, a process keeps knowing it for this long (new migrations
# arrive only with new code, that is a new process); until then, every probe looks again.
MIGRATIONS_OK_CACHE_SECONDS = 60.0
_migrations_ok_until = 0.0


def _failure(exc: BaseException) -> str:
    return f"failed: {type(exc).__name__}"


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_migrations() -> str:
    global _migrations_ok_until
    if time.monotonic() < _migrations_ok_until:
        return "ok"
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return f"failed: {len(plan)} migration(s) not applied"
    _migrations_ok_until = time.monotonic() + MIGRATIONS_OK_CACHE_SECONDS
    return "ok"


def forget_migrations() -> None:
    """Look at the migrations again on the next probe (tests, after ``migrate``)."""
    global _migrations_ok_until
    _migrations_ok_until = 0.0


def check_broker() -> str:
    from kombu import Connection

    url = settings.CELERY_BROKER_URL
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {})
    with Connection(
        url, connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options
    ) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
    return "ok"


def check_cache() -> str:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    found = cache.get(key)
    cache.delete(key)
    if found != "1":
        return "failed: the cache did not keep a value"
    return "ok"


CHECKS = {
    "database": check_database,
    "migrations": check_migrations,
    "broker": check_broker,
    "cache": check_cache,
}


def readiness() -> tuple[bool, dict[str, str]]:
    results = {}
    for name, check in CHECKS.items():
        if name == "migrations" and results.get("database") != "ok":
            results[name] = "skipped: no database"
            continue
        try:
            results[name] = check()
        except Exception as exc:  # a probe reports every failure; it never raises
            results[name] = _failure(exc)
    return all(value == "ok" for value in results.values()), results


def healthz(request) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def readyz(request) -> JsonResponse:
    ready, checks = readiness()
    failed = sorted(name for name, value in checks.items() if value != "ok")
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=200 if ready else 503)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """Answers the probes before host validation, HTTPS redirection, sessions and brands."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info.rstrip("/") or "/")
        if probe is not None and request.method in ("GET", "HEAD"):
            response = probe(request)
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)
