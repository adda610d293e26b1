"""Benchmark settings: the test settings (eager tasks, captured e-mail, fast hashing), on
PostgreSQL when DATABASE_URL is set."""

from portal.settings.test import *  # noqa: F403

# Sign-ups hash passwords the way production does (the tests use a fast hasher).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]

LOGGING = {**LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}  # noqa: F405
# The storefront benchmark calls the API without credentials on purpose: no line per 401.
LOGGING["loggers"] = {**LOGGING["loggers"], "django.request": {"level": "ERROR"}}
