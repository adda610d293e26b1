"""What every deployed stack shares, production and the sandbox trial stack alike: secrets and
service addresses come from the environment, debug is off, cookies and caches are hardened, and
the Box rate limiter is shared by every worker through Redis.

Not a settings module of its own: ``production.py`` adds the refusal of the local stand-ins for
Box and Stripe, ``sandbox.py`` allows them (and says so). The process refuses to start when a
required variable is missing rather than running with a local default.
"""

import os

from django.core.exceptions import ImproperlyConfigured

REQUIRED = (
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "ALLOWED_HOSTS",
    "FIELD_ENCRYPTION_KEY",
    "BOX_PLATFORM_CLIENT_ID",
    "BOX_PLATFORM_CLIENT_SECRET",
    "BOX_ADMIN_LOGIN_TEMPLATE",
)
_missing = [name for name in REQUIRED if not os.environ.get(name)]
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables: " + ", ".join(_missing)
    )

from portal.settings.base import *  # noqa: E402, F403
from portal.settings.base import (  # noqa: E402
    BOX_MAILBOX,
    BOX_MAILBOX_URL,
    BOX_RATE_LIMIT_PER_MINUTE,
    CELERY_BROKER_URL,
    env_bool,
    env_int,
    env_str,
)
from portal.stand_ins import redis_url_from_broker  # noqa: E402

DEBUG = False
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")

# One Redis serves the cache (login throttling, host lookups) and the Box rate limiter unless
# each is given its own: REDIS_URL, else the broker when it is Redis.
_redis = env_str("REDIS_URL") or redis_url_from_broker(CELERY_BROKER_URL)
if _redis:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis,
            "KEY_PREFIX": "portal",
            # A Redis that does not answer fails a request (and /readyz) in seconds, not hang.
            "OPTIONS": {"socket_connect_timeout": 3, "socket_timeout": 3},
        }
    }
# The limiter must be one per cluster: a per-machine lock file would let each machine spend
# the whole of Box's budget.
BOX_RATE_LIMIT_REDIS_URL = env_str("BOX_RATE_LIMIT_REDIS_URL") or _redis
if BOX_RATE_LIMIT_PER_MINUTE > 0 and not BOX_RATE_LIMIT_REDIS_URL:
    raise ImproperlyConfigured(
        "BOX_RATE_LIMIT_REDIS_URL is not set and cannot be derived: the Box rate limiter must "
        "be shared by every worker through Redis. Set BOX_RATE_LIMIT_REDIS_URL (or REDIS_URL, "
        "or use a redis:// CELERY_BROKER_URL), or turn the limiter off with "
        "BOX_RATE_LIMIT_PER_MINUTE=0."
    )
if BOX_MAILBOX.endswith(".ImapMailbox") and not BOX_MAILBOX_URL.startswith(("imap://", "imaps://")):
    raise ImproperlyConfigured(
        "BOX_MAILBOX_URL must be an imaps:// or imap:// URL (user, password, host and folder) "
        "for the IMAP mailbox, e.g. imaps://user:password@mail.example.com/INBOX."
    )

# Static files are collected with hashed names (`manage.py collectstatic`, run by the compose
# stack's migrate step) and served by the web process itself through WhiteNoise, right after the
# security middleware, with far-future caching. Uploaded media (logos) are not served by it.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
MIDDLEWARE = list(MIDDLEWARE)  # noqa: F405
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
