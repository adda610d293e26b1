from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from provisioning.connector.pages.base import BoxPage

INVALID = "Invalid login credentials"
UNVERIFIED = "Verify your email address"
CANCELLED = "This account has been cancelled"


@dataclass
class LoginResult:
    ok: bool
    message: str = ""

    @property
    def invalid_credentials(self) -> bool:
        return self.message.startswith(INVALID)

    @property
    def unverified(self) -> bool:
        return self.message.startswith(UNVERIFIED)

    @property
    def cancelled(self) -> bool:
        return self.message.startswith(CANCELLED)


class LoginPage(BoxPage):
    path = "/login"

    def log_in(self, login: str, password: str, *, next_path: str = "/master") -> LoginResult:
        page = self.page
        self.open(urlencode({"next": next_path}))
        page.get_by_label("Email address").fill(login)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log In").click()
        page.wait_for_load_state()
        message = self.alert()
        if message:
            return LoginResult(ok=False, message=message)
        return LoginResult(ok=True)
