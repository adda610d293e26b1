from __future__ import annotations

from provisioning.connector.pages.base import BoxPage


class BillingPage(BoxPage):
    """Admin Console > Account & Billing: the plan and the number of seats."""

    path = "/master/billing"

    def current_plan(self) -> str:
        return self.page.locator("#current-plan").get_attribute("data-plan") or ""

    def current_seats(self) -> int:
        return int(self.page.locator("#current-seats").inner_text().strip())

    def update(self, *, plan_code: str | None = None, seats: int | None = None) -> str:
        page = self.page
        if plan_code is not None:
            page.get_by_label("Plan").select_option(plan_code)
        if seats is not None:
            page.get_by_label("Number of seats").fill(str(seats))
        page.get_by_role("button", name="Update subscription").click()
        page.wait_for_load_state()
        self.raise_alert()
        page.get_by_role("status").wait_for()
        return self.status()


class CancelAccountPage(BoxPage):
    path = "/master/billing/cancel"

    def cancel_account(self) -> None:
        page = self.page
        page.get_by_label("I understand that cancelling closes this account").check()
        page.get_by_role("button", name="Cancel account").click()
        page.wait_for_load_state()
        self.raise_alert()
        page.locator("#cancelled").wait_for()
