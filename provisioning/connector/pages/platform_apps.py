from __future__ import annotations

from urllib.parse import urlencode

from provisioning.connector.pages.base import BoxPage


class PlatformAppsPage(BoxPage):
    """Admin Console > Platform Apps Manager: the authorised apps and "Add Platform App"."""

    path = "/master/platform-apps"

    def is_authorized(self, client_id: str) -> bool:
        self.page.get_by_role("heading", level=1).wait_for()
        return self.page.locator(f'tr[data-client-id="{client_id}"]').count() > 0

    def add_app(self, client_id: str) -> ReviewAppPage:
        self.page.get_by_label("Client ID").fill(client_id)
        self.page.get_by_role("button", name="Next").click()
        self.page.wait_for_load_state()
        self.raise_alert()
        review = ReviewAppPage(self.page, self.base_url)
        review.wait()
        return review

    def authorized_client_id(self) -> str:
        return self.page.locator("#authorized-client-id").inner_text().strip()

    def authorized_enterprise_id(self) -> str:
        return self.page.locator("#authorized-enterprise-id").inner_text().strip()


class ReviewAppPage(BoxPage):
    """ "Authorize App": the app's name and access, and the Authorize button."""

    path = "/master/platform-apps/review"

    def open_for(self, client_id: str) -> ReviewAppPage:
        return self.open(urlencode({"client_id": client_id}))

    def wait(self) -> None:
        self.page.locator("#review-app-name").wait_for()

    def app_name(self) -> str:
        return self.page.locator("#review-app-name").inner_text().strip()

    def authorize(self) -> PlatformAppsPage:
        self.page.get_by_role("button", name="Authorize").click()
        self.page.wait_for_load_state()
        self.raise_alert()
        apps = PlatformAppsPage(self.page, self.base_url)
        self.page.locator("#authorized-client-id").wait_for()
        return apps
