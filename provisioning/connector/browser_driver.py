"""The browser driver: account-level operations through Box's web pages, in Chromium.

Box has no API to open an account, verify its e-mail, authorise an app, change the plan or the
number of seats, or cancel; a person does those on Box's website. This driver does them the same
way with Playwright and the system Chromium (``BOX_BROWSER_EXECUTABLE``, ``BOX_BROWSER_ARGS``),
one page object per Box page (``provisioning.connector.pages``).

Every operation first finds out where the account stands and only then acts, so a retried step
never repeats a change: sign-up first tries to log in with the account's credentials (an account
that exists, verified or not, is not signed up again), verification logs in before opening the
link, authorisation looks for the app in the list of authorised apps, a plan change compares the
billing page with what is wanted, and a cancelled account is recognised at login.

Each operation runs in a fresh browser context in a thread of its own (Playwright's synchronous
API cannot run in a thread with an event loop, which a caller may have). On failure the page is
saved as a PNG under ``BOX_SCREENSHOT_DIR`` and the path travels with the error into the job's
step log. Password fields are masked in screenshots; messages never contain the password.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from provisioning.connector.base import (
    AccountConnector,
    AccountState,
    ConnectorError,
    PermanentError,
    SignupRequest,
    SignupResult,
    TransientError,
    WebLogin,
)
from provisioning.connector.mailbox import Mailbox, get_mailbox
from provisioning.connector.pages import (
    AdminConsolePage,
    BillingPage,
    CancelAccountPage,
    LoginPage,
    PageRefused,
    PlatformAppsPage,
    SignupPage,
    VerificationPage,
)


class BrowserDriver(AccountConnector):
    def __init__(
        self,
        *,
        base_url: str | None = None,
        mailbox: Mailbox | None = None,
        timeout: float | None = None,
        executable: str | None = None,
        args: list[str] | None = None,
        screenshot_dir: str | Path | None = None,
    ) -> None:
        self.base_url = (base_url or settings.BOX_WEB_BASE_URL).rstrip("/")
        self._mailbox = mailbox
        self.timeout = timeout if timeout is not None else settings.BOX_BROWSER_TIMEOUT_SECONDS
        self.executable = executable or settings.BOX_BROWSER_EXECUTABLE
        self.args = list(args if args is not None else settings.BOX_BROWSER_ARGS)
        self.screenshot_dir = Path(screenshot_dir or settings.BOX_SCREENSHOT_DIR)

    @property
    def mailbox(self) -> Mailbox:
        if self._mailbox is None:
            self._mailbox = get_mailbox()
        return self._mailbox

    # --- running a browser session ----------------------------------------------------------

    def _run(self, name: str, steps: Callable):
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="box-browser") as pool:
            return pool.submit(self._session, name, steps).result()

    def _session(self, name: str, steps: Callable):
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=self.executable, args=self.args
                )
                try:
                    context = browser.new_context()
                    context.set_default_timeout(self.timeout * 1000)
                    context.set_default_navigation_timeout(self.timeout * 1000)
                    page = context.new_page()
                    try:
                        return steps(page)
                    except PageRefused as exc:
                        raise PermanentError(
                            f"Box refused to {name}: {exc.message}",
                            code="page_refused",
                            screenshot=self._screenshot(page, name),
                        ) from None
                    except ConnectorError as exc:
                        if not exc.screenshot:
                            exc.screenshot = self._screenshot(page, name)
                        raise
                    except PlaywrightError as exc:
                        first_line = (str(exc).splitlines() or [""])[0][:300]
                        raise TransientError(
                            f"Box's pages did not respond as expected while trying to {name}: "
                            f"{first_line}",
                            code="browser",
                            screenshot=self._screenshot(page, name),
                        ) from None
                finally:
                    browser.close()
        except PlaywrightError as exc:
            # The browser itself could not start.
            first_line = (str(exc).splitlines() or [""])[0][:300]
            raise TransientError(
                f"The browser could not be started to {name}: {first_line}", code="browser"
            ) from None

    def _screenshot(self, page, name: str) -> str:
        try:
            self.screenshot_dir.mkdir(parents=True, exist_ok=True)
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
            slug = name.replace(" ", "-")[:40]
            path = self.screenshot_dir / f"{stamp}-{slug}-{uuid.uuid4().hex[:8]}.png"
            page.screenshot(path=str(path), full_page=True)
            return str(path)
        except Exception:  # a failed screenshot must not hide the real error
            return ""

    def _log_in(self, page, admin: WebLogin) -> None:
        result = LoginPage(page, self.base_url).log_in(admin.login, admin.password)
        if not result.ok:
            raise PageRefused(result.message)

    def _state(self, page) -> AccountState:
        return AdminConsolePage(page, self.base_url).open().state()

    # --- operations ---------------------------------------------------------------------------

    def account_signup(self, request: SignupRequest) -> SignupResult:
        def steps(page):
            login = LoginPage(page, self.base_url).log_in(
                request.admin.login, request.admin.password
            )
            if login.ok:
                return SignupResult(already_signed_up=True, verified=True)
            if login.unverified:
                return SignupResult(already_signed_up=True)
            if login.cancelled:
                raise PermanentError(
                    f"The Box account of {request.admin.login} has been cancelled.",
                    code="cancelled",
                )
            if not login.invalid_credentials:
                raise PageRefused(login.message)
            SignupPage(page, self.base_url).open_for_plan(request.plan_code).sign_up(
                name=request.admin_name,
                email=request.admin.login,
                password=request.admin.password,
                company=request.company,
                plan_code=request.plan_code,
                seats=request.seats,
            )
            return SignupResult()

        return self._run("sign up", steps)

    def account_verify_email(self, admin: WebLogin) -> AccountState:
        def steps(page):
            login = LoginPage(page, self.base_url).log_in(admin.login, admin.password)
            if login.ok:
                return self._state(page)
            if not login.unverified:
                raise PageRefused(login.message)
            link = self.mailbox.verification_link(admin.login)
            VerificationPage(page, self.base_url).open_link(link)
            login = LoginPage(page, self.base_url).log_in(admin.login, admin.password)
            if not login.ok:
                raise TransientError(
                    "The address is still not verified after opening the newest link.",
                    code="not_verified",
                )
            return self._state(page)

        return self._run("verify the e-mail address", steps)

    def account_authorize_app(self, admin: WebLogin, client_id: str) -> AccountState:
        def steps(page):
            self._log_in(page, admin)
            apps = PlatformAppsPage(page, self.base_url).open()
            if not apps.is_authorized(client_id):
                apps = apps.add_app(client_id).authorize()
                if apps.authorized_client_id() != client_id:
                    raise TransientError("Box did not confirm the app's authorisation.")
            state = self._state(page)
            state.authorized = True
            return state

        return self._run("authorise the platform app", steps)

    def account_change_plan(
        self, admin: WebLogin, plan_code: str, seats: int | None = None
    ) -> AccountState:
        def steps(page):
            self._log_in(page, admin)
            billing = BillingPage(page, self.base_url).open()
            if billing.current_plan() != plan_code or (
                seats is not None and billing.current_seats() != seats
            ):
                billing.update(plan_code=plan_code, seats=seats)
            return self._state(page)

        return self._run("change the plan", steps)

    def account_change_seats(self, admin: WebLogin, seats: int) -> AccountState:
        def steps(page):
            self._log_in(page, admin)
            billing = BillingPage(page, self.base_url).open()
            if billing.current_seats() != seats:
                billing.update(seats=seats)
            return self._state(page)

        return self._run("change the number of seats", steps)

    def account_cancel(self, admin: WebLogin) -> AccountState:
        def steps(page):
            login = LoginPage(page, self.base_url).log_in(admin.login, admin.password)
            if login.cancelled:
                return AccountState(status="cancelled")
            if not login.ok:
                raise PageRefused(login.message)
            CancelAccountPage(page, self.base_url).open().cancel_account()
            return AccountState(status="cancelled")

        return self._run("cancel the account", steps)
