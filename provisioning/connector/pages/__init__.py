"""Page objects: one class per Box web page the browser driver uses.

Each knows its page's address, finds fields by their visible labels and buttons by their names
(as a person would, and as Box's pages are built), and reports what the page says. They raise
``PageRefused`` when the page shows an error to the person (an element with ``role="alert"``);
Playwright's own ``TimeoutError`` means the page did not load or did not show what was expected.
"""

from provisioning.connector.pages.admin_console import AdminConsolePage
from provisioning.connector.pages.base import BoxPage, PageRefused
from provisioning.connector.pages.billing import BillingPage, CancelAccountPage
from provisioning.connector.pages.login import LoginPage, LoginResult
from provisioning.connector.pages.platform_apps import PlatformAppsPage, ReviewAppPage
from provisioning.connector.pages.signup import CheckEmailPage, SignupPage
from provisioning.connector.pages.verify import VerificationPage

__all__ = [
    "AdminConsolePage",
    "BillingPage",
    "BoxPage",
    "CancelAccountPage",
    "CheckEmailPage",
    "LoginPage",
    "LoginResult",
    "PageRefused",
    "PlatformAppsPage",
    "ReviewAppPage",
    "SignupPage",
    "VerificationPage",
]
