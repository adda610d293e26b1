"""Settings read from the environment, with defaults that run the whole portal on one laptop.

The embedded default (no environment at all) is what ``make demo`` runs: a SQLite file in WAL
mode, Celery's filesystem broker, the local Box simulator and localstripe. ``production.py``
refuses to start without real secrets; ``test.py`` makes tests fast and deterministic.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Runtime files of the embedded default: database, broker folders, media, captured e-mail.
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
# Only for local use; production.py refuses to start without SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY", "local-only-insecure-key-never-used-in-production")
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [".localhost", "localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "portal",
    "catalog",
    "orders",
    "provisioning",
    "billing",
    "payments",
    "resellers",
    "consoles",
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before host checks and HTTPS redirection (portal/health.py)
    "portal.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.BrandMiddleware",
    "portal.middleware.LanguageMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.brand",
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

# --- database -----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "portal.sqlite3",
            "OPTIONS": {
                # WAL lets the web process read while the worker writes; IMMEDIATE makes a
                # transaction take the write lock up front instead of failing half-way.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (login throttling, brand lookups) ------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

ACCOUNT_ADAPTER = "portal.auth.AccountAdapter"
ACCOUNT_FORMS = {"signup": "portal.forms.CustomerSignupForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# A duplicate e-mail at sign-up is answered with a clear message rather than a silent e-mail to
# the existing owner; login throttling (below) limits what that reveals.
ACCOUNT_PREVENT_ENUMERATION = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}
ACCOUNT_SESSION_REMEMBER = None

# --- sessions and CSRF --------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- i18n ---------------------------------------------------------------------------------------
# English and German (locale/); an organization's ``language`` picks one (docs/i18n.md).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- static and media ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Private files (invoice and credit note PDFs): never under MEDIA_ROOT, never given a URL;
# served only by views that check who is asking (portal/storage.py).
PRIVATE_MEDIA_ROOT = Path(env_str("PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private")))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- e-mail -------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "no-reply@northwind.localhost")

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token_obtain": "10/min"},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Box broker portal API",
    "DESCRIPTION": (
        "Everything the consoles do, for integrations. Authenticate with a session or with "
        "`Authorization: Token <key>`. Every list is scoped to what the caller may see; an "
        "object outside that scope answers 404. Errors share one shape: "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Choice sets that share a field name get a name of their own (not "Status678Enum").
    "ENUM_NAME_OVERRIDES": {
        "OrgStatusEnum": "portal.models.OrgStatus",
        "OrgRoleEnum": "portal.models.Role",
        "OrderStateEnum": "orders.models.OrderState",
        "SubscriptionStatusEnum": "orders.models.SubscriptionStatus",
        "ChangeStateEnum": "orders.models.ChangeState",
        "TimingEnum": "orders.models.ChangeTiming",
        "SeatStatusEnum": "orders.models.SeatStatus",
        "SeatRoleEnum": "orders.models.SeatRole",
        "DriftKindEnum": "provisioning.models.DriftKind",
        "DriftHandlingEnum": "provisioning.models.DriftHandling",
        "TermEnum": "catalog.models.Term",
        "AccountStatusEnum": "provisioning.models.AccountStatus",
        "BoxUserStatusEnum": "provisioning.models.BoxUserStatus",
        "BoxUserRoleEnum": "provisioning.models.BoxUserRole",
        "JobStateEnum": "provisioning.models.JobState",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # Nothing is fetched from the web at run time: the docs page is rendered from local files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Billing's choice sets share field names (state, kind) with others: each gets a name.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "InvoiceStateEnum": "billing.models.InvoiceState",
        "InvoiceLineKindEnum": "billing.models.LineKind",
        "BillingRunStateEnum": "billing.models.RunState",
        "BillingIssueKindEnum": "billing.models.IssueKind",
    }
)
# Payments' too (source, state and trigger are names other apps use; invoices have a source).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "PaymentSourceEnum": "payments.models.PaymentSource",
        "InvoiceSourceEnum": "billing.models.InvoiceSource",
        "OfflinePaymentSourceEnum": "payments.api.serializers.OFFLINE_SOURCES",
        "PaymentStateEnum": "payments.models.PaymentState",
        "PaymentTriggerEnum": "payments.models.PaymentTrigger",
        "RefundStateEnum": "payments.models.RefundState",
        "DunningStageEnum": "payments.models.DunningStage",
    }
)

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # Broadcast commands (the worker's pidbox) live here too, not in the working directory.
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [
    Queue(name) for name in ("default", "provisioning", "billing", "pdf", "payments")
]
CELERY_TASK_ROUTES = {
    "provisioning.tasks.*": {"queue": "provisioning"},
    "billing.tasks.pdf_*": {"queue": "pdf"},
    "billing.tasks.payment_*": {"queue": "payments"},
    "payments.tasks.*": {"queue": "payments"},
    "billing.tasks.*": {"queue": "billing"},
}
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# django-celery-beat's DatabaseScheduler installs these entries in its tables at start.
CELERY_BEAT_SCHEDULE = {
    "provisioning-jobs-sweep": {
        "task": "provisioning.tasks.jobs_sweep",
        "schedule": float(env_str("BOX_JOBS_SWEEP_SECONDS", "15")),
    },
    # Renewal and billing are one step: the run renews every subscription whose period
    # ended and bills it, after the night's usage collection (docs/billing.md).
    "billing-run-nightly": {
        "task": "billing.tasks.billing_run_nightly",
        "schedule": crontab(hour=3, minute=30),
    },
    "payments-dunning-nightly": {
        "task": "payments.tasks.payment_dunning_tick",
        "schedule": crontab(hour=4, minute=30),
    },
    "payments-open-sweep": {
        "task": "payments.tasks.payment_open_sweep",
        "schedule": 600.0,
    },
    # Accounts whose jobs all ended since their last reconciliation (docs/drift.md).
    "provisioning-reconcile-settled": {
        "task": "provisioning.tasks.reconcile_settled",
        "schedule": float(env_str("BOX_RECONCILE_SETTLED_SECONDS", "300")),
    },
    "provisioning-reconcile-nightly": {
        "task": "provisioning.tasks.reconcile_all",
        "schedule": crontab(hour=2, minute=30),
    },
    # The day's usage of every live Box account, late in the day it is for (docs/usage.md).
    "billing-usage-collect-nightly": {
        "task": "billing.tasks.usage_collect_nightly",
        "schedule": crontab(hour=23, minute=15),
    },
    # Retries of failed collections when their back-off is over; lost or stalled ones.
    "billing-usage-sweep": {
        "task": "billing.tasks.usage_collections_sweep",
        "schedule": float(env_str("USAGE_SWEEP_SECONDS", "120")),
    },
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- the Box connector and payments (used by later subsystems) ---------------------------------
BOX_API_BASE_URL = env_str("BOX_API_BASE_URL", "http://127.0.0.1:8765")
BOX_UPLOAD_BASE_URL = env_str("BOX_UPLOAD_BASE_URL", "http://127.0.0.1:8765/api")
BOX_OAUTH2_URL = env_str("BOX_OAUTH2_URL", "http://127.0.0.1:8765/api/oauth2")
BOX_WEB_BASE_URL = env_str("BOX_WEB_BASE_URL", "http://127.0.0.1:8765")
# The provider's platform app (client-credentials grant), authorised in every customer's Box
# enterprise. The local default exists only in the simulator (the demo registers it there);
# production sets its own (docs/connector.md).
BOX_PLATFORM_CLIENT_ID = env_str("BOX_PLATFORM_CLIENT_ID", "portal-local-platform-app")
BOX_PLATFORM_CLIENT_SECRET = env_str(
    "BOX_PLATFORM_CLIENT_SECRET", "local-only-simulator-platform-secret"
)
BOX_PLATFORM_APP_NAME = env_str("BOX_PLATFORM_APP_NAME", "Box broker portal")
BOX_CONNECTOR = env_str("BOX_CONNECTOR", "provisioning.connector.BoxConnector")
BOX_API_TIMEOUT_SECONDS = float(env_str("BOX_API_TIMEOUT_SECONDS", "30"))
# API calls per minute and Box account (Box's limit is per user: the app's service account).
# 0 turns the portal's limiter off. Shared through Redis when there is one, else per machine.
BOX_RATE_LIMIT_PER_MINUTE = env_int("BOX_RATE_LIMIT_PER_MINUTE", 1000)
BOX_RATE_LIMIT_REDIS_URL = env_str("BOX_RATE_LIMIT_REDIS_URL", REDIS_URL)
BOX_RATE_LIMIT_KEY_PREFIX = env_str("BOX_RATE_LIMIT_KEY_PREFIX", "boxrate")
# Calls are spaced this much wider than the limit allows, so that calls reaching Box a few
# milliseconds late never make a window hold one call too many.
BOX_RATE_LIMIT_MARGIN = float(env_str("BOX_RATE_LIMIT_MARGIN", "0.02"))
# A worker waits at most this long for its turn; beyond it the job goes back to the queue.
BOX_RATE_LIMIT_MAX_WAIT_SECONDS = float(env_str("BOX_RATE_LIMIT_MAX_WAIT_SECONDS", "5"))
BOX_JOB_MAX_ATTEMPTS = env_int("BOX_JOB_MAX_ATTEMPTS", 8)
BOX_JOB_BACKOFF_BASE_SECONDS = float(env_str("BOX_JOB_BACKOFF_BASE_SECONDS", "2"))
BOX_JOB_BACKOFF_MAX_SECONDS = float(env_str("BOX_JOB_BACKOFF_MAX_SECONDS", "600"))
# A running job's lease: after it, jobs_sweep gives the job to another worker.
BOX_JOB_LEASE_SECONDS = env_int("BOX_JOB_LEASE_SECONDS", 120)
BOX_BROWSER_JOB_LEASE_SECONDS = env_int("BOX_BROWSER_JOB_LEASE_SECONDS", 900)
# How long one worker task keeps running an account's jobs before handing it back.
BOX_ENGINE_RUN_BUDGET_SECONDS = float(env_str("BOX_ENGINE_RUN_BUDGET_SECONDS", "60"))
# A retry due within this many seconds is waited for in the worker instead of re-queued.
BOX_ENGINE_INLINE_WAIT_SECONDS = float(env_str("BOX_ENGINE_INLINE_WAIT_SECONDS", "2"))
BOX_BROWSER_EXECUTABLE = env_str(
    "BOX_BROWSER_EXECUTABLE", env_str("CHROMIUM_PATH", "/usr/bin/chromium")
)
BOX_BROWSER_ARGS = env_list(
    "BOX_BROWSER_ARGS",
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ],
)
BOX_BROWSER_TIMEOUT_SECONDS = float(env_str("BOX_BROWSER_TIMEOUT_SECONDS", "30"))
BOX_SCREENSHOT_DIR = Path(env_str("BOX_SCREENSHOT_DIR", str(VAR_DIR / "provisioning-screenshots")))
# Where the browser driver reads the verification mail Box sends to new admins.
BOX_MAILBOX = env_str("BOX_MAILBOX", "provisioning.connector.mailbox.SimulatorMailbox")
BOX_MAILBOX_URL = env_str("BOX_MAILBOX_URL", "")
# The nightly reconciliation leaves out accounts reconciled this recently (usage collection
# reconciles every live account from its own listing an evening before); 0 reconciles all.
BOX_RECONCILE_FRESH_HOURS = float(env_str("BOX_RECONCILE_FRESH_HOURS", "12"))
# Usage collection (docs/usage.md): attempts per account and day, back-off between them
# (base * 2^(attempt-1), capped, times a random factor between ½ and 1), and how long a
# collection may stay running before the sweeper takes it as lost.
USAGE_COLLECTION_MAX_ATTEMPTS = env_int("USAGE_COLLECTION_MAX_ATTEMPTS", 5)
USAGE_COLLECTION_BACKOFF_BASE_SECONDS = float(
    env_str("USAGE_COLLECTION_BACKOFF_BASE_SECONDS", "300")
)
USAGE_COLLECTION_BACKOFF_MAX_SECONDS = float(
    env_str("USAGE_COLLECTION_BACKOFF_MAX_SECONDS", "3600")
)
USAGE_COLLECTION_LEASE_SECONDS = env_int("USAGE_COLLECTION_LEASE_SECONDS", 600)
# The login of each Box enterprise's primary admin: an address the provider controls (the
# browser driver reads Box's verification e-mail there). {subscription} and {customer} are ids.
BOX_ADMIN_LOGIN_TEMPLATE = env_str(
    "BOX_ADMIN_LOGIN_TEMPLATE", "box-admin-{subscription}@admins.northwind.localhost"
)
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "http://127.0.0.1:8420")
# Where pages load Stripe.js from: Stripe's own address in production (it must come from
# Stripe), localstripe's fake one locally.
STRIPE_JS_URL = env_str(
    "STRIPE_JS_URL",
    "https://js.stripe.com/v3/"
    if "api.stripe.com" in STRIPE_API_BASE
    else f"{STRIPE_API_BASE.rstrip('/')}/js.stripe.com/v3/",
)
# Real Stripe wants off-session payments marked as such when they are confirmed; localstripe
# refuses the parameter there (payments.services.stripe_api).
STRIPE_CONFIRM_OFF_SESSION = env_bool(
    "STRIPE_CONFIRM_OFF_SESSION",
    "127.0.0.1" not in STRIPE_API_BASE and "localstripe" not in STRIPE_API_BASE,
)
# The portal's address as localstripe reaches it, to send webhooks to (the demo and tests).
# Empty with real Stripe, where each seller enters its endpoint in Stripe's dashboard.
STRIPE_WEBHOOK_BASE_URL = env_str("STRIPE_WEBHOOK_BASE_URL", "")
# Seconds a Stripe call may take.
STRIPE_TIMEOUT_SECONDS = int(env_str("STRIPE_TIMEOUT_SECONDS", "20"))
# Key that encrypts stored credentials (Box app secrets, resellers' payment keys). The local
# default is derived from SECRET_KEY; production requires its own.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY")

# --- logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One INFO line per Stripe request and response drowns what matters.
        "stripe": {"level": "WARNING"},
    },
}

# Portal-specific knobs.
INVITATION_EXPIRE_DAYS = env_int("INVITATION_EXPIRE_DAYS", 7)
BRAND_CACHE_SECONDS = env_int("BRAND_CACHE_SECONDS", 300)
# Anonymous storefront pages are kept this long at most (changes clear them at once; 0: off).
STOREFRONT_CACHE_SECONDS = env_int("STOREFRONT_CACHE_SECONDS", 600)
# Absolute links in e-mails sent outside a request (invitations, notices) are built from the
# brand's primary domain with this template.
PORTAL_BASE_URL_TEMPLATE = env_str("PORTAL_BASE_URL_TEMPLATE", "http://{host}:8000")
