"""The simulator's WSGI application: Box's API, Box's web pages and the /_sim/ test controls."""

import logging
import time
from dataclasses import dataclass

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from boxsim import api, auth, control, web
from boxsim.errors import ApiError, new_request_id
from boxsim.faults import Faults, RateLimiter
from boxsim.store import Store

log = logging.getLogger("boxsim")


@dataclass
class Settings:
    rate_limit: int = 1000  # API calls per window and service account; 0 turns limiting off
    rate_window: float = 60.0  # seconds
    token_ttl: float = 3600.0  # seconds an access token lives
    seed: int = 0  # default seed of fault rules


def _api(path: str, methods: dict[str, str]) -> list[Rule]:
    return [Rule(path, methods=[m], endpoint=("api", op)) for m, op in methods.items()]


API_RULES = [
    Rule("/oauth2/token", methods=["POST"], endpoint=("token", "post_oauth2_token")),
    Rule("/oauth2/revoke", methods=["POST"], endpoint=("token", "post_oauth2_revoke")),
    *_api("/2.0/users", {"GET": "get_users", "POST": "post_users"}),
    *_api("/2.0/users/me", {"GET": "get_users_me"}),
    *_api(
        "/2.0/users/<user_id>",
        {"GET": "get_users_id", "PUT": "put_users_id", "DELETE": "delete_users_id"},
    ),
    *_api("/2.0/users/<user_id>/memberships", {"GET": "get_users_id_memberships"}),
    *_api("/2.0/groups", {"GET": "get_groups", "POST": "post_groups"}),
    *_api(
        "/2.0/groups/<group_id>",
        {"GET": "get_groups_id", "PUT": "put_groups_id", "DELETE": "delete_groups_id"},
    ),
    *_api("/2.0/groups/<group_id>/memberships", {"GET": "get_groups_id_memberships"}),
    *_api("/2.0/group_memberships", {"POST": "post_group_memberships"}),
    *_api(
        "/2.0/group_memberships/<group_membership_id>",
        {
            "GET": "get_group_memberships_id",
            "PUT": "put_group_memberships_id",
            "DELETE": "delete_group_memberships_id",
        },
    ),
    *_api("/2.0/events", {"GET": "get_events"}),
]


class Simulator:
    def __init__(self, store: Store, settings: Settings | None = None):
        self.store = store
        self.settings = settings or Settings()
        self.limiter = RateLimiter(self.settings.rate_limit, self.settings.rate_window)
        self.faults = Faults()
        self.url_map = Map(
            [*API_RULES, *web.RULES, *control.RULES],
            strict_slashes=False,
            merge_slashes=False,
        )
        for rule in self.url_map.iter_rules():
            rule.provide_automatic_options = False

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = ApiError(500, "internal_server_error").response(new_request_id())
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            (kind, name), args = adapter.match()
        except MethodNotAllowed:
            return ApiError(405, "method_not_allowed").response(new_request_id())
        except (NotFound, RequestRedirect):
            return ApiError(404, "not_found").response(new_request_id())
        except HTTPException as error:
            return error.get_response(request.environ)
        if kind == "web":
            return web.handle(self, request, name, args)
        if kind == "sim":
            return control.handle(self, request, name, args)
        return self.api_call(request, kind, name, args)

    def api_call(self, request: Request, kind: str, operation: str, args: dict) -> Response:
        request_id = new_request_id()
        rule = self.faults.rule_for(operation)
        if rule is not None and rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        fault = None
        try:
            if kind == "token":
                fault = self._fault_before(rule)
                if operation == "post_oauth2_token":
                    response = auth.token_endpoint(request, self.store, self.settings.token_ttl)
                else:
                    response = auth.revoke_endpoint(request, self.store)
            else:
                token, client_id, enterprise_id, user_id = auth.authenticate(request, self.store)
                wait = self.limiter.hit(user_id)
                if wait is not None:
                    raise ApiError(
                        429,
                        "rate_limit_exceeded",
                        "Request rate limit exceeded, please try again later",
                        headers={"Retry-After": str(wait)},
                    )
                if request.headers.get("As-User"):
                    raise ApiError(
                        403,
                        "access_denied_insufficient_permissions",
                        "This app may not make calls as another user",
                    )
                fault = self._fault_before(rule)
                ctx = api.Context(request, self.store, token, client_id, enterprise_id, user_id)
                try:
                    response = api.HANDLERS[operation](ctx, **args)
                except ApiError as error:
                    response = error.response(request_id)
            if fault is not None:  # a fault injected after the call's change was committed
                raise self._fault_error(rule, fault)
        except ApiError as error:
            response = error.response(request_id)
        response.headers["box-request-id"] = request_id
        return response

    def _fault_before(self, rule) -> str | None:
        """Draw this call's fault; raise it now unless it is meant for after the commit."""
        if rule is None:
            return None
        fault = rule.draw()
        if fault is None:
            return None
        if fault == "error_429" or rule.when == "before":
            raise self._fault_error(rule, fault)
        return fault

    @staticmethod
    def _fault_error(rule, fault: str) -> ApiError:
        if fault == "error_429":
            return ApiError(
                429,
                "rate_limit_exceeded",
                "Request rate limit exceeded, please try again later",
                headers={"Retry-After": str(rule.retry_after)},
            )
        if fault == "timeout":
            time.sleep(rule.timeout_seconds)
            return ApiError(504, "unavailable", "Gateway Timeout")
        return ApiError(500, "internal_server_error", "Internal Server Error")

    def reset(self) -> None:
        self.store.reset()
        self.faults.clear()
        self.limiter.reset()
