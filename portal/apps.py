import logging

from django.apps import AppConfig
from django.conf import settings


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal and tenancy"

    def ready(self) -> None:
        from portal import checks, navigation  # noqa: F401 - checks registers itself

        navigation.register_portal_items()
        if getattr(settings, "SANDBOX", False):
            # Loud, in every process's log: a sandbox must never be mistaken for production.
            logging.getLogger("portal.sandbox").warning(settings.SANDBOX_NOTICE)
