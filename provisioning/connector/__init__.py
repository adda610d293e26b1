"""The Box connector: the interface (``base``), the API driver, the browser driver and the
mailbox the browser driver reads verification mail from.

``get_connector()`` returns the connector the settings name (``BOX_CONNECTOR``); the default,
``BoxConnector``, sends user-level operations to the API driver and account-level ones to the
browser driver.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from provisioning.connector.base import Connector


class BoxConnector(Connector):
    def __init__(self, *, api=None, browser=None) -> None:
        from provisioning.connector.api_driver import ApiDriver
        from provisioning.connector.browser_driver import BrowserDriver

        self.api = api or ApiDriver()
        self.browser = browser or BrowserDriver()

    # account level: the browser
    def account_signup(self, request):
        return self.browser.account_signup(request)

    def account_verify_email(self, admin):
        return self.browser.account_verify_email(admin)

    def account_authorize_app(self, admin, client_id):
        return self.browser.account_authorize_app(admin, client_id)

    def account_change_plan(self, admin, plan_code, seats=None):
        return self.browser.account_change_plan(admin, plan_code, seats)

    def account_change_seats(self, admin, seats):
        return self.browser.account_change_seats(admin, seats)

    def account_cancel(self, admin):
        return self.browser.account_cancel(admin)

    # user level: the API
    def user_create(self, creds, spec):
        return self.api.user_create(creds, spec)

    def user_update(self, creds, user_id, **changes):
        return self.api.user_update(creds, user_id, **changes)

    def user_suspend(self, creds, user_id):
        return self.api.user_suspend(creds, user_id)

    def user_resume(self, creds, user_id):
        return self.api.user_resume(creds, user_id)

    def user_delete(self, creds, user_id, *, force=False):
        return self.api.user_delete(creds, user_id, force=force)

    def user_find(self, creds, *, external_app_user_id="", login=""):
        return self.api.user_find(creds, external_app_user_id=external_app_user_id, login=login)

    def users_list(self, creds):
        return self.api.users_list(creds)


def get_connector() -> Connector:
    return import_string(settings.BOX_CONNECTOR)()
