from __future__ import annotations


class PageRefused(Exception):
    """The page showed an error message to the person (``message`` is its text)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BoxPage:
    path = "/"

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")

    def url(self, path: str | None = None) -> str:
        return self.base_url + (path if path is not None else self.path)

    def open(self, query: str = ""):
        self.page.goto(self.url() + (f"?{query}" if query else ""))
        return self

    def alert(self) -> str:
        alert = self.page.get_by_role("alert")
        return alert.first.inner_text().strip() if alert.count() else ""

    def status(self) -> str:
        status = self.page.get_by_role("status")
        return status.first.inner_text().strip() if status.count() else ""

    def raise_alert(self) -> None:
        text = self.alert()
        if text:
            raise PageRefused(text)

    def heading(self) -> str:
        heading = self.page.get_by_role("heading", level=1)
        return heading.first.inner_text().strip() if heading.count() else ""
