"""System checks of the portal's own settings (``manage.py check``)."""

from django.conf import settings
from django.core.checks import Warning, register


@register("portal")
def sandbox_check(app_configs, **kwargs):
    if getattr(settings, "SANDBOX", False):
        return [
            Warning(
                settings.SANDBOX_NOTICE,
                hint="Run real customers with DJANGO_SETTINGS_MODULE=portal.settings.production.",
                id="portal.W001",
            )
        ]
    return []
