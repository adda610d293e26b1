"""Test settings: the base settings with fast hashing, captured e-mail and eager tasks.

``DATABASE_URL`` selects PostgreSQL (as CI does); without it tests run on SQLite.
Tests that need a real worker start one themselves with their own broker settings.
"""

import os

from portal.settings.base import *  # noqa: F403
from portal.settings.base import VAR_DIR, env_bool

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
MEDIA_ROOT = VAR_DIR / "test-media"
PRIVATE_MEDIA_ROOT = VAR_DIR / "test-private"
# Throttling is exercised by its own tests, which set their own rates.
ACCOUNT_RATE_LIMITS = {}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = [".localhost", "localhost", "127.0.0.1", "testserver", ".test"]

# A file, not memory, so that a real Celery worker started by a test can open the same test
# database (pytest-django creates and destroys it around the run).
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-portal.sqlite3")}  # noqa: F405

# A real Celery worker started by a test (``celery_worker`` in tests/conftest.py) is told by
# its environment which broker (Redis, with a per-run key prefix), which test database and
# which rate-limiter namespace to share with the test that started it.
_worker_broker = os.environ.get("PORTAL_TEST_BROKER_URL")
if _worker_broker:
    CELERY_BROKER_URL = _worker_broker
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "global_keyprefix": os.environ.get("PORTAL_TEST_BROKER_PREFIX", "")
    }
    CELERY_TASK_ALWAYS_EAGER = False
if os.environ.get("PORTAL_TEST_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = os.environ["PORTAL_TEST_DATABASE_NAME"]  # noqa: F405
# Tests keep the rate limiter off the developer's and CI's Redis databases unless a test asks
# for one (the limiter then falls back to files under var/).
BOX_RATE_LIMIT_REDIS_URL = os.environ.get("PORTAL_TEST_RATE_LIMIT_REDIS_URL", "")
BOX_RATE_LIMIT_KEY_PREFIX = os.environ.get("PORTAL_TEST_RATE_LIMIT_PREFIX", f"test-{os.getpid()}")
BOX_SCREENSHOT_DIR = VAR_DIR / "test-screenshots"
# A worker started by an end-to-end test writes its e-mail to files the test reads.
if os.environ.get("PORTAL_TEST_EMAIL_DIR"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["PORTAL_TEST_EMAIL_DIR"]
