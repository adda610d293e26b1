"""The connector interface: everything the engine asks of Box, with typed results and errors.

Account-level operations (Box has no API for them) are done through Box's web pages by the
browser driver; user-level operations through Box's API by the API driver. ``BoxConnector`` in
``provisioning.connector`` puts the two together behind this one interface.

Errors say what the engine should do next, not where they came from:

* ``TransientError``: try again later (5xx, timeouts, lost connections, pages that did not load);
  ``UnknownOutcome`` is one whose change may or may not have happened at Box, so the next try
  must look before it creates; ``RateLimited`` carries how long to wait.
* ``PermanentError``: trying again will not help (400, 401/403, a login taken by someone else,
  a seat limit); the job fails and holds its account's queue until staff act.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

UNLIMITED_SPACE = -1
# Box reads an unlimited quota back as this number (or any larger one).
BOX_UNLIMITED_THRESHOLD = 999_999_999_999_999


def normalise_space(value: int | None) -> int:
    if value is None or value < 0 or value >= BOX_UNLIMITED_THRESHOLD:
        return UNLIMITED_SPACE
    return int(value)


# --- counting the calls made to Box ---------------------------------------------------------------


@dataclass
class CallCount:
    """HTTP requests the API driver sent to Box inside a ``count_calls()`` block: API calls
    (each took a slot of the rate limiter) and token requests (which Box does not count)."""

    api: int = 0
    token: int = 0

    @property
    def total(self) -> int:
        return self.api + self.token


_call_counts: ContextVar[tuple[CallCount, ...]] = ContextVar("box_call_counts", default=())


@contextmanager
def count_calls() -> Iterator[CallCount]:
    """Count the requests sent to Box by this thread (or task) until the block ends, e.g. the
    calls one usage collection spent. Blocks nest; each counts what happened inside it."""
    count = CallCount()
    token = _call_counts.set((*_call_counts.get(), count))
    try:
        yield count
    finally:
        _call_counts.reset(token)


def note_call(*, token: bool = False) -> None:
    """Called by the API driver for every request it sends (before sending it)."""
    for count in _call_counts.get():
        if token:
            count.token += 1
        else:
            count.api += 1


# --- errors ---------------------------------------------------------------------------------------


class ConnectorError(Exception):
    """A remote step that did not succeed. ``message`` is safe to show and store: it never holds
    a credential."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        request_id: str = "",
        retry_after: float | None = None,
        screenshot: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        self.screenshot = screenshot

    def describe(self) -> dict:
        data = {"status": self.status, "code": self.code, "request_id": self.request_id}
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        if self.screenshot:
            data["screenshot"] = self.screenshot
        return {k: v for k, v in data.items() if v not in (None, "")}


class TransientError(ConnectorError):
    retryable = True


class UnknownOutcome(TransientError):
    """The request may have been carried out (a timeout, a lost answer)."""


class RateLimited(TransientError):
    """Box (429) or the portal's own limiter asked to wait ``retry_after`` seconds. Waiting for
    the rate limit does not use up one of the job's attempts."""


class PermanentError(ConnectorError):
    retryable = False


class NotFoundError(PermanentError):
    pass


class ConflictError(PermanentError):
    pass


# --- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCredentials:
    """What the API driver needs for one Box account: the platform app's client credentials and
    the enterprise it is authorised in. ``repr`` leaves the secret out."""

    enterprise_id: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class WebLogin:
    """The account admin's Box login for the browser driver. ``repr`` leaves the password out."""

    login: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SignupRequest:
    admin: WebLogin
    admin_name: str
    company: str
    plan_code: str
    seats: int


@dataclass
class SignupResult:
    already_signed_up: bool = False
    verified: bool = False


@dataclass
class AccountState:
    """What Box's Admin Console says about the enterprise."""

    enterprise_id: str = ""
    enterprise_name: str = ""
    plan_code: str = ""
    seats: int | None = None
    seats_used: int | None = None
    status: str = ""
    authorized: bool = False


@dataclass(frozen=True)
class UserSpec:
    login: str
    name: str
    external_app_user_id: str
    space_amount: int = UNLIMITED_SPACE
    role: str = "user"
    status: str = "active"


@dataclass
class RemoteUser:
    id: str
    login: str
    name: str
    status: str = "active"
    role: str = "user"
    space_amount: int = UNLIMITED_SPACE
    space_used: int = 0
    external_app_user_id: str | None = None
    # True when a create found the user an earlier try had already made.
    adopted: bool = False


# --- the interface --------------------------------------------------------------------------------


class AccountConnector(ABC):
    """Account-level operations: what a person does on Box's website."""

    @abstractmethod
    def account_signup(self, request: SignupRequest) -> SignupResult: ...

    @abstractmethod
    def account_verify_email(self, admin: WebLogin) -> AccountState: ...

    @abstractmethod
    def account_authorize_app(self, admin: WebLogin, client_id: str) -> AccountState: ...

    @abstractmethod
    def account_change_plan(
        self, admin: WebLogin, plan_code: str, seats: int | None = None
    ) -> AccountState: ...

    @abstractmethod
    def account_change_seats(self, admin: WebLogin, seats: int) -> AccountState: ...

    @abstractmethod
    def account_cancel(self, admin: WebLogin) -> AccountState: ...


class UserConnector(ABC):
    """User-level operations: Box's API with an authorised app's credentials."""

    @abstractmethod
    def user_create(self, creds: ApiCredentials, spec: UserSpec) -> RemoteUser: ...

    @abstractmethod
    def user_update(self, creds: ApiCredentials, user_id: str, **changes) -> RemoteUser: ...

    @abstractmethod
    def user_suspend(self, creds: ApiCredentials, user_id: str) -> RemoteUser: ...

    @abstractmethod
    def user_resume(self, creds: ApiCredentials, user_id: str) -> RemoteUser: ...

    @abstractmethod
    def user_delete(self, creds: ApiCredentials, user_id: str, *, force: bool = False) -> bool:
        """Delete the user; False when Box had no such user (already deleted)."""

    @abstractmethod
    def user_find(
        self, creds: ApiCredentials, *, external_app_user_id: str = "", login: str = ""
    ) -> RemoteUser | None: ...

    @abstractmethod
    def users_list(self, creds: ApiCredentials) -> Iterator[RemoteUser]:
        """Every managed user of the enterprise with its usage (``space_used``)."""


class Connector(AccountConnector, UserConnector):
    """The whole interface the engine uses."""
