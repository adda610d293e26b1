"""A connector that records calls and fails on request, for tests of the engine's rules."""

from __future__ import annotations

import itertools

from provisioning.connector.base import AccountState, Connector, RemoteUser, SignupResult


class FakeConnector(Connector):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.failures: dict[str, list[Exception]] = {}
        self._ids = itertools.count(30_000_000_001)

    def fail(self, key: str, *errors: Exception) -> None:
        """Raise these errors, one per call, on the next calls for ``key`` (an operation name,
        or "user.create:<login>")."""
        self.failures.setdefault(key, []).extend(errors)

    def _record(self, operation: str, subject: str = "") -> None:
        self.calls.append((operation, subject))
        for key in (f"{operation}:{subject}", operation):
            queue = self.failures.get(key)
            if queue:
                raise queue.pop(0)

    def account_signup(self, request):
        self._record("account.signup", request.admin.login)
        return SignupResult()

    def account_verify_email(self, admin):
        self._record("account.verify_email", admin.login)
        return AccountState(enterprise_id="60000999", enterprise_name="Fake")

    def account_authorize_app(self, admin, client_id):
        self._record("account.authorize_app", admin.login)
        return AccountState(enterprise_id="60000999", authorized=True)

    def account_change_plan(self, admin, plan_code, seats=None):
        self._record("account.change_plan", plan_code)
        return AccountState(plan_code=plan_code, seats=seats)

    def account_change_seats(self, admin, seats):
        self._record("account.change_seats", str(seats))
        return AccountState(seats=seats)

    def account_cancel(self, admin):
        self._record("account.cancel", admin.login)
        return AccountState(status="cancelled")

    def user_create(self, creds, spec):
        self._record("user.create", spec.login)
        return RemoteUser(id=str(next(self._ids)), login=spec.login, name=spec.name)

    def user_update(self, creds, user_id, **changes):
        self._record("user.update", user_id)
        return RemoteUser(id=user_id, login="", name="")

    def user_suspend(self, creds, user_id):
        self._record("user.suspend", user_id)
        return RemoteUser(id=user_id, login="", name="", status="inactive")

    def user_resume(self, creds, user_id):
        self._record("user.resume", user_id)
        return RemoteUser(id=user_id, login="", name="")

    def user_delete(self, creds, user_id, *, force=False):
        self._record("user.delete", user_id)
        return True

    def user_find(self, creds, *, external_app_user_id="", login=""):
        self._record("user.find", login or external_app_user_id)
        return RemoteUser(id="30000000000", login=login, name="Admin", role="admin")

    def users_list(self, creds):
        self._record("users.list", creds.enterprise_id)
        return iter([])
