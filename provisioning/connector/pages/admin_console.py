from __future__ import annotations

from provisioning.connector.base import AccountState
from provisioning.connector.pages.base import BoxPage


class AdminConsolePage(BoxPage):
    """The Admin Console's account summary."""

    path = "/master"

    def state(self) -> AccountState:
        page = self.page
        page.locator("#enterprise-id").wait_for()
        seats = page.locator("#account-seats")
        return AccountState(
            enterprise_id=page.locator("#enterprise-id").inner_text().strip(),
            enterprise_name=page.locator("#enterprise-name").inner_text().strip(),
            plan_code=page.locator("#account-plan").get_attribute("data-plan") or "",
            seats=int(seats.get_attribute("data-seats") or 0),
            seats_used=int(seats.get_attribute("data-seats-used") or 0),
            status=page.locator("#account-status").inner_text().strip(),
        )
