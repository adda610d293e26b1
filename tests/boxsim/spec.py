"""Checking the simulator's answers against Box's OpenAPI description (box-openapi.json).

The description is used as published, with two corrections that Box's own documentation
requires, both listed in docs/simulator.md:

* `ClientError.code` is an enum that leaves out error codes Box documents and returns
  (for instance `user_login_already_used` with a 409 and `rate_limit_exceeded` with a 429).
  The enum is extended with exactly those codes the simulator answers, plus the one code the
  simulator had to choose itself (`seat_limit_exceeded`).
* `EventSourceResource` is a `oneOf` whose last member (`GenericSource`) accepts any object,
  so a user as an event's source (Box's shape for user events) matches two members and fails
  `oneOf`; it is checked as `anyOf`.
"""

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

# Vendored byte for byte from box/box-openapi (boxsim/spec/README.md: source, commit, licence).
SPEC_PATH = Path(__file__).resolve().parents[2] / "boxsim" / "spec" / "box-openapi.json"
SPEC_SHA256 = "70adf696ed3955729f9c75d11f34658477c0ee143d9ff6252928f5bc0fa6d499"
BOX_HOST = "https://api.box.com"

# Codes from Box's error guide (guides/api-calls/permissions-and-errors/common-errors).
BOX_DOCUMENTED_CODES = (
    "user_login_already_used",
    "rate_limit_exceeded",
    "invalid_limit",
    "invalid_offset",
    "access_denied_insufficient_permissions",
)
# A code the simulator chose where Box documents none (the seat limit).
SIMULATOR_CODES = ("seat_limit_exceeded",)

OPERATIONS = (
    ("post", "/oauth2/token"),
    ("post", "/oauth2/revoke"),
    ("get", "/users"),
    ("post", "/users"),
    ("get", "/users/me"),
    ("get", "/users/{user_id}"),
    ("put", "/users/{user_id}"),
    ("delete", "/users/{user_id}"),
    ("get", "/users/{user_id}/memberships"),
    ("get", "/groups"),
    ("post", "/groups"),
    ("get", "/groups/{group_id}"),
    ("put", "/groups/{group_id}"),
    ("delete", "/groups/{group_id}"),
    ("get", "/groups/{group_id}/memberships"),
    ("post", "/group_memberships"),
    ("get", "/group_memberships/{group_membership_id}"),
    ("put", "/group_memberships/{group_membership_id}"),
    ("delete", "/group_memberships/{group_membership_id}"),
    ("get", "/events"),
)


class SpecViolation(AssertionError):
    pass


class _Request:
    """An openapi-core request for a call made to the simulator, placed on Box's host."""

    def __init__(self, prepared: requests.PreparedRequest):
        url = urlsplit(prepared.url)
        self.host_url = BOX_HOST
        self.path = url.path
        self.method = prepared.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(url.query, keep_blank_values=True)),
            header=Headers(dict(prepared.headers)),
            cookie=ImmutableMultiDict(),
        )
        body = prepared.body
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = prepared.headers.get("Content-Type", "")


class _Response:
    def __init__(self, response: requests.Response):
        self.data = response.content
        self.status_code = response.status_code
        self.content_type = response.headers.get("Content-Type", "")
        self.headers = Headers(dict(response.headers))


class BoxSpec:
    def __init__(self):
        raw = SPEC_PATH.read_bytes()
        if hashlib.sha256(raw).hexdigest() != SPEC_SHA256:
            raise RuntimeError(
                f"{SPEC_PATH} is not the vendored description (sha256 differs); "
                "see boxsim/spec/README.md."
            )
        spec = json.loads(raw)
        schemas = spec["components"]["schemas"]
        codes = schemas["ClientError"]["properties"]["code"]["enum"]
        codes.extend(c for c in (*BOX_DOCUMENTED_CODES, *SIMULATOR_CODES) if c not in codes)
        source = schemas["EventSourceResource"]
        source["anyOf"] = source.pop("oneOf")
        self.raw = spec
        self.client_error_schema = schemas["ClientError"]
        self.openapi = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
        self._routes = []
        for method, path in OPERATIONS:
            operation = spec["paths"][path][method]
            prefix = "" if path.startswith("/oauth2/") else "/2.0"
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", prefix + path)
            self._routes.append((method, re.compile(f"^{pattern}$"), operation["operationId"]))
        # literal paths (/users/me) before templated ones (/users/{user_id})
        self._routes.sort(key=lambda route: route[1].pattern.count("[^/]+"))

    def operation_id(self, method: str, path: str) -> str | None:
        for route_method, pattern, operation_id in self._routes:
            if route_method == method.lower() and pattern.match(path):
                return operation_id
        return None

    def validate(self, response: requests.Response) -> tuple[str, int]:
        """Check one response; return its (operationId, status)."""
        request = _Request(response.request)
        operation_id = self.operation_id(request.method, request.path)
        if operation_id is None:
            raise SpecViolation(f"{request.method.upper()} {request.path} is no Box operation")
        try:
            self.openapi.validate_response(request, _Response(response))
        except Exception as error:
            detail = getattr(error, "__cause__", None) or error
            raise SpecViolation(
                f"{operation_id} {response.status_code}: {error}; {detail}; "
                f"body: {response.text[:500]}"
            ) from error
        return operation_id, response.status_code

    def validate_client_error(self, body) -> None:
        """Check a body against the ClientError schema (for paths Box does not describe)."""
        errors = list(OAS30Validator(self.client_error_schema).iter_errors(body))
        if errors:
            raise SpecViolation(f"not a ClientError: {errors[0].message}")


class Recorder:
    """Records every response of a requests session, to check them all against the spec."""

    def __init__(self):
        self.session = requests.Session()
        self.responses: list[requests.Response] = []
        self.session.hooks["response"].append(self._record)

    def _record(self, response, *args, **kwargs):
        response.content  # noqa: B018 - read the body now; the SDK streams it
        self.responses.append(response)

    def calls(self) -> list[tuple[str, str, int]]:
        return [
            (r.request.method, urlsplit(r.request.url).path, r.status_code) for r in self.responses
        ]
