"""The sandbox: a self-contained trial stack (``docker compose --profile sandbox``) with
production's hardening but Box and Stripe played by the Box simulator and localstripe.

Everything ``deployed.py`` requires is still required (secrets, database, broker, hosts, the
platform app, a shared rate limiter). What differs from production:

* the Box connector, the verification mailbox and Stripe may point at the local stand-ins; by
  default they point at the compose services ``boxsim`` and ``localstripe``;
* the stack is served over plain HTTP on a trial host, so HTTPS redirection, secure-only
  cookies and HSTS are off unless the environment turns them on.

Every process started with these settings logs ``SANDBOX_NOTICE`` as a warning when it starts
(``portal.apps``), and ``manage.py check`` repeats it (``portal.W001``), so that a sandbox is
never mistaken for production: nothing it does reaches Box or Stripe.
"""

from portal.settings.deployed import *  # noqa: F403
from portal.settings.deployed import env_bool, env_int, env_str

SANDBOX = True

BOX_API_BASE_URL = env_str("BOX_API_BASE_URL", "http://boxsim:8765")
BOX_UPLOAD_BASE_URL = env_str("BOX_UPLOAD_BASE_URL", BOX_API_BASE_URL + "/api")
BOX_OAUTH2_URL = env_str("BOX_OAUTH2_URL", BOX_API_BASE_URL + "/api/oauth2")
BOX_WEB_BASE_URL = env_str("BOX_WEB_BASE_URL", BOX_API_BASE_URL)
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "http://localstripe:8420")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)

SANDBOX_NOTICE = (
    "SANDBOX: portal.settings.sandbox is a trial stack, not production. Box is "
    f"{BOX_API_BASE_URL} (web {BOX_WEB_BASE_URL}), Stripe is {STRIPE_API_BASE}: nothing "
    "reaches Box or Stripe. Use portal.settings.production for real customers."
)
