"""Schemathesis over the whole OpenAPI schema (``/api/schema/``, as drf-spectacular generates
it), against the Django app in-process (WSGI), as a provider admin and as a customer admin.

For every operation, valid (positive) and invalid (negative) requests are generated from the
schema; ids in paths, bodies and query strings are mostly steered onto real objects of the
world (``tests/api/conftest.py``: two of every kind of organization, a priced catalog, running
subscriptions with seats and Box accounts), visible to the caller or not. Every answer must:

- never be a 5xx;
- have a documented status code, a documented content type, and a body matching the schema.

Each request runs in a savepoint that is rolled back, so every example sees the same world and
the run is deterministic (Hypothesis derandomized, no example database, no shrinking). Bounded:
``FUZZ_EXAMPLES`` examples per operation, caller and mode (default 6).

    .venv/bin/pytest tests/api/test_fuzz.py -s          # prints what it ran
    FUZZ_EXAMPLES=50 .venv/bin/pytest tests/api/test_fuzz.py -s   # a longer hunt
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Offer, Plan, Price, Promotion, TaxRate
from orders.models import Order, SeatAssignment, Subscription
from portal.models import (
    ApiToken,
    AuditEvent,
    BrandDomain,
    Invitation,
    Membership,
    Organization,
    User,
)
from provisioning.models import BoxAccount, ProvisioningJob
from tests.api.conftest import CALLERS

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The resource a path's {id} names, by the path's first segment after /api/v1/.
PATH_MODELS = {
    "organizations": Organization,
    "memberships": Membership,
    "invitations": Invitation,
    "brand-domains": BrandDomain,
    "audit-events": AuditEvent,
    "tokens": ApiToken,
    "plans": Plan,
    "prices": Price,
    "offers": Offer,
    "price-lists": Organization,
    "promotions": Promotion,
    "tax-rates": TaxRate,
    "sellers": Organization,
    "orders": Order,
    "subscriptions": Subscription,
    "seats": SeatAssignment,
    "jobs": ProvisioningJob,
    "accounts": BoxAccount,
}
# Ids in bodies and query strings, by field name.
FIELD_MODELS = {
    "customer": Organization,
    "parent": Organization,
    "seller": Organization,
    "buyer": Organization,
    "organization": Organization,
    "available_to": Organization,
    "agent": User,
    "offer": Offer,
    "account": BoxAccount,
}


class World:
    """Real ids, so most generated ids name an object (visible to the caller or not)."""

    def __init__(self):
        models = {*PATH_MODELS.values(), *FIELD_MODELS.values()}
        self.ids = {m: list(m.objects.order_by("pk").values_list("pk", flat=True)) for m in models}
        self.plan_codes = list(Plan.objects.order_by("pk").values_list("code", flat=True))

    def steer(self, model, value):
        """A small generated integer becomes a real id; anything else is left as generated."""
        pool = self.ids.get(model)
        if pool and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**4:
            return pool[value % len(pool)]
        return value

    def steer_fields(self, data):
        if not isinstance(data, dict):
            return data
        for name, model in FIELD_MODELS.items():
            if name in data:
                value = data[name]
                if isinstance(value, list):
                    data[name] = [self.steer(model, v) for v in value]
                else:
                    data[name] = self.steer(model, value)
        if isinstance(data.get("plan"), str) and len(data["plan"]) <= 2 and self.plan_codes:
            data["plan"] = self.plan_codes[len(data["plan"]) % len(self.plan_codes)]
        return data

    def steer_case(self, case):
        segments = [s for s in case.operation.path.split("/") if s and s not in ("api", "v1")]
        if segments and segments[0] == "provisioning":
            segments = segments[1:]
        model = PATH_MODELS.get(segments[0]) if segments else None
        if case.path_parameters and "id" in case.path_parameters and model:
            case.path_parameters["id"] = self.steer(model, case.path_parameters["id"])
        if case.query:
            self.steer_fields(case.query)
        if isinstance(case.body, dict):
            self.steer_fields(case.body)


@contextmanager
def in_process_requests():
    """Requests reach Django in this thread, inside the test's transaction: Django must not
    close that connection between requests, as it would for a real server. Its log of every
    4xx is silenced (thousands of them); the report names the failures."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    log = logging.getLogger("django.request")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
    cache.clear()


class ServerErrors:
    """Exceptions raised inside a request, for the report."""

    def __init__(self):
        self.last = None

    def __call__(self, sender, request=None, **kwargs):
        self.last = traceback.format_exc(limit=-6)


def fuzz_settings():
    return settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
    )


def test_the_api_conforms_to_its_schema_and_never_fails(world):
    """Every generated request is sent twice, as each caller (a provider admin, a customer
    admin), each time in a savepoint rolled back after."""
    with in_process_requests():
        schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
        steer = World()
        auths = {key: {"Authorization": f"Token {world.tokens[key]}"} for key in CALLERS}
        errors = ServerErrors()
        got_request_exception.connect(errors)
        failures: dict[str, str] = {}
        operations = skipped = 0
        counts = {"cases": 0, "requests": 0}
        started = time.monotonic()
        try:
            for result in schema.get_all_operations():
                operation = result.ok()
                operations += 1
                label = f"{operation.method.upper()} {operation.path}"
                for mode in MODES:

                    @fuzz_settings()
                    @given(case=operation.as_strategy(generation_mode=mode))
                    def run(case):
                        steer.steer_case(case)
                        counts["cases"] += 1
                        for caller, auth in auths.items():
                            errors.last = None
                            with rolled_back():
                                response = case.call(headers=auth)
                            counts["requests"] += 1
                            try:
                                case.validate_response(response, checks=CHECKS, headers=auth)
                            except BaseException as exc:  # schemathesis' FailureGroup among them
                                sent = f"{case.method} {case.formatted_path} as {caller}"
                                raise AssertionError(
                                    f"{sent} -> {response.status_code}\n{exc}\n"
                                    f"{response.text[:500]}\n{errors.last or ''}"
                                ) from None

                    try:
                        run()
                    except Unsatisfiable:
                        # Nothing to make invalid (no parameters, no body): nothing to send.
                        assert mode == GenerationMode.NEGATIVE, label
                        skipped += 1
                    except (KeyboardInterrupt, SystemExit):
                        raise
                    except BaseException as exc:  # one report per operation and mode
                        failures[f"{label} [{mode.value}]"] = str(exc)[:3000]
        finally:
            got_request_exception.disconnect(errors)
    elapsed = time.monotonic() - started
    print(  # noqa: T201 - the figures of the run, shown with -s
        f"\nfuzz: {operations} operations, {counts['cases']} generated requests sent as "
        f"{len(auths)} callers = {counts['requests']} requests ({EXAMPLES} examples per "
        f"operation and mode; {skipped} runs with nothing to make invalid), {elapsed:.0f}s"
    )
    assert operations >= 70
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in sorted(failures.items()))
