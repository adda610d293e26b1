"""The API driver: user-level operations through Box's official SDK (``box_sdk_gen``).

It authenticates with the client-credentials grant of the provider's platform app in the
customer's enterprise (``BoxCCGAuth`` with ``enterprise_id``), and talks to the base URLs from
settings, so production points at ``https://api.box.com`` and tests at the simulator.

Retries belong to the engine, not to the SDK: the SDK's own retry strategy is replaced by one
that only renews an expired token (a 401) once, so every 429, 5xx or timeout comes back to the
engine, which records it in the job's step log and schedules the next try with back-off (and
``Retry-After``). Every API call (but the token request, which Box does not count) first takes a
slot from the shared rate limiter.

Errors leave as ``provisioning.connector.base`` errors whose messages are built here from the
status, Box's error code and message and the request id — never from the SDK's exception text,
which can hold request headers and bodies (and so tokens and client secrets).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

import requests
from box_sdk_gen import BaseUrls, BoxCCGAuth, BoxClient, CCGConfig, NetworkSession
from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError
from box_sdk_gen.networking.box_network_client import BoxNetworkClient
from box_sdk_gen.networking.retries import RetryStrategy
from box_sdk_gen.networking.timeout_config import TimeoutConfig
from django.conf import settings

from provisioning.connector.base import (
    ApiCredentials,
    ConflictError,
    ConnectorError,
    NotFoundError,
    PermanentError,
    RateLimited,
    RemoteUser,
    TransientError,
    UnknownOutcome,
    UserConnector,
    UserSpec,
    normalise_space,
    note_call,
)
from provisioning.ratelimit import RateLimiter, get_limiter

USER_FIELDS = [
    "id",
    "name",
    "login",
    "status",
    "role",
    "space_amount",
    "space_used",
    "external_app_user_id",
]
PAGE_SIZE = 1000


class TokenRenewalOnly(RetryStrategy):
    """Repeat a call once after renewing the access token on a 401; nothing else."""

    def should_retry(self, fetch_options, fetch_response, attempt_number) -> bool:
        if fetch_response.status == 401 and fetch_options.auth is not None and attempt_number < 2:
            fetch_options.auth.refresh_token(network_session=fetch_options.network_session)
            return True
        return False

    def retry_after(self, fetch_options, fetch_response, attempt_number) -> float:
        return 0.0


class LimitedSession(requests.Session):
    """A requests session that takes a rate-limit slot before every API call."""

    def __init__(self, limiter: RateLimiter, key: str, max_wait: float) -> None:
        super().__init__()
        self.limiter = limiter
        self.key = key
        self.max_wait = max_wait

    def request(self, method, url, *args, **kwargs):
        is_token = str(url).rstrip("/").endswith("/oauth2/token")
        if not is_token:
            self.limiter.acquire(self.key, max_wait=self.max_wait)
        note_call(token=is_token)
        return super().request(method, url, *args, **kwargs)


class ApiDriver(UserConnector):
    def __init__(
        self,
        *,
        base_url: str | None = None,
        upload_url: str | None = None,
        oauth2_url: str | None = None,
        timeout: float | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.base_url = (base_url or settings.BOX_API_BASE_URL).rstrip("/")
        self.upload_url = upload_url or settings.BOX_UPLOAD_BASE_URL
        self.oauth2_url = oauth2_url or settings.BOX_OAUTH2_URL
        self.timeout = timeout if timeout is not None else settings.BOX_API_TIMEOUT_SECONDS
        self.limiter = limiter or get_limiter()
        self.max_wait = float(settings.BOX_RATE_LIMIT_MAX_WAIT_SECONDS)

    # --- clients ----------------------------------------------------------------------------

    def client(self, creds: ApiCredentials) -> BoxClient:
        """A client per (Box, app, enterprise), kept for the process so its token is reused."""
        if not (creds.client_id and creds.client_secret):
            raise PermanentError(
                "No platform app is configured: set BOX_PLATFORM_CLIENT_ID and "
                "BOX_PLATFORM_CLIENT_SECRET.",
                code="not_configured",
            )
        if not creds.enterprise_id:
            raise PermanentError("The Box account has no enterprise id yet.", code="no_enterprise")
        digest = hashlib.sha256(creds.client_secret.encode()).hexdigest()[:16]
        cache_key = (
            self.base_url,
            creds.client_id,
            digest,
            creds.enterprise_id,
            self.timeout,
            id(self.limiter),
        )
        return _CLIENTS.get(cache_key, lambda: self._build_client(creds))

    def _build_client(self, creds: ApiCredentials) -> BoxClient:
        session = LimitedSession(
            self.limiter, self.limiter.key(creds.client_id, creds.enterprise_id), self.max_wait
        )
        network_session = NetworkSession(
            base_urls=BaseUrls(
                base_url=self.base_url, upload_url=self.upload_url, oauth_2_url=self.oauth2_url
            ),
            network_client=BoxNetworkClient(requests_session=session),
            retry_strategy=TokenRenewalOnly(),
            timeout_config=TimeoutConfig(
                connection_timeout_ms=int(min(self.timeout, 10) * 1000),
                read_timeout_ms=int(self.timeout * 1000),
            ),
        )
        auth = BoxCCGAuth(
            CCGConfig(
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                enterprise_id=str(creds.enterprise_id),
            )
        )
        return BoxClient(auth=auth, network_session=network_session)

    def _call(self, creds: ApiCredentials, what: str, fn):
        client = self.client(creds)
        try:
            return fn(client)
        except BoxAPIError as exc:
            raise translate_api_error(exc, what) from None
        except BoxSDKError as exc:
            raise translate_sdk_error(exc, what) from None

    # --- operations -------------------------------------------------------------------------

    def user_create(self, creds: ApiCredentials, spec: UserSpec) -> RemoteUser:
        try:
            user = self._call(
                creds,
                "create the user",
                lambda c: c.users.create_user(
                    spec.name,
                    login=spec.login,
                    role=spec.role if spec.role in ("coadmin", "user") else "user",
                    # -1 means "the plan's default": unlimited where the plan is, the plan's
                    # storage where it is limited (Box refuses -1 there).
                    space_amount=spec.space_amount if spec.space_amount >= 0 else None,
                    status=spec.status,
                    external_app_user_id=spec.external_app_user_id,
                    fields=USER_FIELDS,
                ),
            )
            return to_remote(user)
        except ConflictError as exc:
            # Most often an earlier try whose answer was lost: the user is there with our key.
            found = self.user_find(creds, external_app_user_id=spec.external_app_user_id)
            if found is not None:
                found.adopted = True
                return found
            if exc.code == "user_login_already_used":
                raise ConflictError(
                    f"The login {spec.login} is already used by a Box user the portal did not "
                    "create (in this enterprise or another one).",
                    status=409,
                    code=exc.code,
                    request_id=exc.request_id,
                ) from None
            raise

    def user_update(self, creds: ApiCredentials, user_id: str, **changes) -> RemoteUser:
        allowed = {"name", "login", "role", "space_amount", "status", "external_app_user_id"}
        unknown = set(changes) - allowed
        if unknown:
            raise PermanentError(f"Cannot change {', '.join(sorted(unknown))} through the API.")
        user = self._call(
            creds,
            "update the user",
            lambda c: c.users.update_user_by_id(user_id, fields=USER_FIELDS, **changes),
        )
        return to_remote(user)

    def user_suspend(self, creds: ApiCredentials, user_id: str) -> RemoteUser:
        return self.user_update(creds, user_id, status="inactive")

    def user_resume(self, creds: ApiCredentials, user_id: str) -> RemoteUser:
        return self.user_update(creds, user_id, status="active")

    def user_delete(self, creds: ApiCredentials, user_id: str, *, force: bool = False) -> bool:
        try:
            self._call(
                creds,
                "delete the user",
                lambda c: c.users.delete_user_by_id(user_id, force=force, notify=False),
            )
        except NotFoundError:
            return False
        return True

    def user_find(
        self, creds: ApiCredentials, *, external_app_user_id: str = "", login: str = ""
    ) -> RemoteUser | None:
        if external_app_user_id:
            page = self._call(
                creds,
                "look the user up",
                lambda c: c.users.get_users(
                    external_app_user_id=external_app_user_id, fields=USER_FIELDS, limit=10
                ),
            )
            for entry in page.entries or []:
                if entry.external_app_user_id == external_app_user_id:
                    return to_remote(entry)
        if login:
            page = self._call(
                creds,
                "look the user up",
                lambda c: c.users.get_users(
                    filter_term=login, user_type="managed", fields=USER_FIELDS, limit=100
                ),
            )
            for entry in page.entries or []:
                if (entry.login or "").lower() == login.lower():
                    return to_remote(entry)
        return None

    def users_list(self, creds: ApiCredentials) -> Iterator[RemoteUser]:
        marker = None
        while True:
            page = self._call(
                creds,
                "list the users",
                lambda c, m=marker: c.users.get_users(
                    user_type="managed",
                    fields=USER_FIELDS,
                    usemarker=True,
                    marker=m,
                    limit=PAGE_SIZE,
                ),
            )
            for entry in page.entries or []:
                yield to_remote(entry)
            marker = page.next_marker
            if not marker:
                return


class _ClientCache:
    """A small LRU of SDK clients, safe across threads."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, build):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        client = build()
        with self._lock:
            self._items[key] = client
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return client

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CLIENTS = _ClientCache()


def to_remote(user) -> RemoteUser:
    def text(value, default=""):
        if value is None:
            return default
        return getattr(value, "value", value)

    return RemoteUser(
        id=str(user.id),
        login=user.login or "",
        name=user.name or "",
        status=str(text(getattr(user, "status", None), "active")),
        role=str(text(getattr(user, "role", None), "user")),
        space_amount=normalise_space(getattr(user, "space_amount", None)),
        space_used=int(getattr(user, "space_used", None) or 0),
        external_app_user_id=getattr(user, "external_app_user_id", None),
    )


def translate_api_error(exc: BoxAPIError, what: str) -> ConnectorError:
    info = exc.response_info
    status = info.status_code
    body = info.body if isinstance(info.body, dict) else {}
    code = info.code or body.get("error") or ""
    request_id = info.request_id or ""
    detail = body.get("message") or body.get("error_description") or ""
    url = getattr(exc.request_info, "url", "") or ""
    if url.rstrip("/").endswith("/oauth2/token"):
        message = f"Box refused the platform app's token request ({status} {code}): {detail}"
        if status >= 500:
            return TransientError(message, status=status, code=code, request_id=request_id)
        if status == 429:
            return RateLimited(message, status=status, code=code, retry_after=_retry_after(info))
        return PermanentError(message, status=status, code=code, request_id=request_id)
    message = f"Box could not {what}: {status} {code}".rstrip() + (f" ({detail})" if detail else "")
    kwargs = {"status": status, "code": code, "request_id": request_id}
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(info), **kwargs)
    if status >= 500:
        # Box may have made the change before failing (or the answer may have been lost).
        return UnknownOutcome(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 409:
        return ConflictError(message, **kwargs)
    return PermanentError(message, **kwargs)


def _retry_after(info) -> float | None:
    headers = {k.lower(): v for k, v in (info.headers or {}).items()}
    try:
        return float(headers["retry-after"])
    except (KeyError, TypeError, ValueError):
        return None


def translate_sdk_error(exc: BoxSDKError, what: str) -> ConnectorError:
    cause = getattr(exc, "error", None)
    if isinstance(cause, requests.Timeout):
        return UnknownOutcome(f"Box did not answer in time when trying to {what}.", code="timeout")
    if isinstance(cause, requests.ConnectionError):
        return UnknownOutcome(
            f"The connection to Box failed when trying to {what}.", code="network"
        )
    if isinstance(cause, requests.RequestException):
        return UnknownOutcome(f"The request to Box failed when trying to {what}.", code="network")
    return TransientError(f"Box's SDK failed to {what}.", code="sdk_error")
