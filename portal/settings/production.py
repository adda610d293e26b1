"""Production settings: everything that matters comes from the environment, and nothing may
point at a local stand-in.

On top of the shared deployed layer (``deployed.py``: required secrets, hardening, the shared
rate limiter), production refuses to start when the Box connector points at the Box simulator
(``BOX_API_BASE_URL``, ``BOX_UPLOAD_BASE_URL``, ``BOX_OAUTH2_URL``, ``BOX_WEB_BASE_URL`` on this
machine, on port 8765 or at the host ``boxsim``; unset, they are the simulator), when
``BOX_MAILBOX`` is the simulator's mailbox, or when ``STRIPE_API_BASE`` is localstripe (this
machine, port 8420 or the host ``localstripe``). A self-contained trial stack that uses them on
purpose runs ``portal.settings.sandbox`` instead.
"""

from django.core.exceptions import ImproperlyConfigured

from portal.settings.deployed import *  # noqa: F403
from portal.settings.deployed import (
    BOX_API_BASE_URL,
    BOX_MAILBOX,
    BOX_OAUTH2_URL,
    BOX_UPLOAD_BASE_URL,
    BOX_WEB_BASE_URL,
    STRIPE_API_BASE,
)
from portal.stand_ins import stand_ins

_stand_ins = stand_ins(
    {
        "BOX_API_BASE_URL": BOX_API_BASE_URL,
        "BOX_UPLOAD_BASE_URL": BOX_UPLOAD_BASE_URL,
        "BOX_OAUTH2_URL": BOX_OAUTH2_URL,
        "BOX_WEB_BASE_URL": BOX_WEB_BASE_URL,
        "BOX_MAILBOX": BOX_MAILBOX,
        "STRIPE_API_BASE": STRIPE_API_BASE,
    }
)
if _stand_ins:
    raise ImproperlyConfigured(
        "Production refuses local stand-ins: "
        + "; ".join(why for _, why in _stand_ins)
        + ". Set "
        + ", ".join(name for name, _ in _stand_ins)
        + " to the real services (docs/operations.md), or run a trial stack with "
        "DJANGO_SETTINGS_MODULE=portal.settings.sandbox."
    )
