from __future__ import annotations

from provisioning.connector.pages.base import BoxPage


class SignupPage(BoxPage):
    """Box's sign-up form: name, e-mail, password, company, plan and number of users."""

    path = "/signup"

    def open_for_plan(self, plan_code: str) -> SignupPage:
        return self.open(f"plan={plan_code}")

    def sign_up(
        self, *, name: str, email: str, password: str, company: str, plan_code: str, seats: int
    ) -> CheckEmailPage:
        page = self.page
        page.get_by_label("Full name").fill(name)
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_label("Company name").fill(company)
        page.get_by_label("Plan").select_option(plan_code)
        page.get_by_label("Number of users").fill(str(seats))
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_load_state()
        self.raise_alert()
        check = CheckEmailPage(page, self.base_url)
        check.wait()
        return check


class CheckEmailPage(BoxPage):
    """ "Check your email": the address the verification link was sent to."""

    path = "/signup/check-email"

    def wait(self) -> None:
        self.page.locator("#signup-email").wait_for()

    def address(self) -> str:
        return self.page.locator("#signup-email").inner_text().strip()
