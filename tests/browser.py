"""Launching the system Chromium through Playwright, shared by every browser test and driver."""

import os
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)


# --- helpers of the page tests ------------------------------------------------------------------

SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", Path(__file__).parent.parent / "var"))
PHONE, DESKTOP = 390, 1280


def sign_in(page, live_server, user) -> None:
    """Open a session for ``user`` in the page's browser context without going through the
    sign-in form (whose look is not what these tests are about)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


def screenshot(page, name: str) -> Path:
    """A full-page screenshot kept under ``var/`` (or ``$BROWSER_SCREENSHOTS``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextmanager
def screenshots_on_failure(page, name: str):
    """Keep a screenshot of the page when the block fails, named after the test's step."""
    try:
        yield
    except BaseException:
        try:
            screenshot(page, f"failed-{name}")
        finally:
            raise


def cut_off(page, selector: str) -> list[str]:
    """The texts of the elements matching ``selector`` that do not fit the viewport's width
    (hidden past the right edge, or clipped by a scrolling box): what a person on a phone
    would not see without hunting for it."""
    return page.evaluate(
        """(selector) => {
          const width = document.documentElement.clientWidth;
          const clipped = (el) => {
            const box = el.getBoundingClientRect();
            if (box.width === 0 && box.height === 0) return false;
            if (box.left < 0 || box.right > width + 0.5) return true;
            for (let p = el.parentElement; p; p = p.parentElement) {
              const style = getComputedStyle(p);
              if (style.overflowX === 'visible') continue;
              const outer = p.getBoundingClientRect();
              if (box.left < outer.left - 0.5 || box.right > outer.right + 0.5) return true;
            }
            return false;
          };
          return [...document.querySelectorAll(selector)].filter(clipped)
            .map((el) => el.innerText.trim() || el.outerHTML.slice(0, 80));
        }""",
        selector,
    )
