from __future__ import annotations

from provisioning.connector.pages.base import BoxPage


class VerificationPage(BoxPage):
    """The page the verification mail's link opens."""

    path = "/signup/verify"

    def open_link(self, link: str) -> VerificationPage:
        self.page.goto(link)
        return self

    def verified(self) -> bool:
        return self.heading() == "Email verified"

    def link_not_valid(self) -> bool:
        return self.heading() == "Link not valid"
