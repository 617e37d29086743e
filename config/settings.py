"""Brute's settings: one module, read from the environment through config.env (see .env.example)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from config.env import env
from config.shadow import state as _shadow_state

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env.path("BRUTE_VAR_DIR", BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

DJANGO_ENV = env.choice("DJANGO_ENV", "development", ("development", "production", "test"))
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.boolean("DJANGO_DEBUG", not PRODUCTION)
VERSION = "0.1.0"


def _local_secret(name: str, make: str) -> str:
    """A per-installation secret kept under var/ so a development checkout needs no set-up."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.string("DJANGO_SECRET_KEY", required=True)
    if len(SECRET_KEY) < 50:
        raise env.fail("DJANGO_SECRET_KEY", "must be at least 50 characters in production")
else:
    SECRET_KEY = env.optional("DJANGO_SECRET_KEY") or _local_secret(".secret_key", secrets.token_urlsafe(64))

ALLOWED_HOSTS = env.csv("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise env.fail("DJANGO_ALLOWED_HOSTS", "is required in production (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = env.csv("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "channels",
    "ninja",
    "axes",
    "config",
    "accounts",
    "accounts.notifications",
    "trading",
    "trading.sniper",
    "backups",
]

# config.browser_middleware's Session, CsrfView, Authentication, Message, CSP and Htmx middleware are
# Django's (django-csp's, django-htmx's), skipped by an API call authenticated by a Bearer token with no
# session cookie (config/browser_middleware.py).
MIDDLEWARE = [
    "config.logging.RequestIdMiddleware",
    "config.metrics_web.RequestMetricsMiddleware",
    "config.body_limit.BodyTooLargeMiddleware",  # a body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413
    "config.degraded.DegradedMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.browser_middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.browser_middleware.AuthenticationMiddleware",
    "config.access.RoleMiddleware",  # roles for every HTML route, from one table (config/access.py)
    "config.browser_middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.browser_middleware.CSPMiddleware",
    "config.browser_middleware.HtmxMiddleware",
    "accounts.htmx_login.HtmxLoginRedirectMiddleware",
    "axes.middleware.AxesMiddleware",
    "config.method_page.MethodNotAllowedPageMiddleware",  # innermost: a bare 405 becomes a page
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.brute",
            ],
        },
    }
]

# --- Database: an embedded SQLite file by default; a libsql:// or https:// URL for Turso or sqld.
DATABASE_URL = env.url(
    "DATABASE_URL", f"file:{VAR_DIR / 'brute.db'}", schemes=("file", "libsql", "http", "https", "ws", "wss")
)
assert DATABASE_URL is not None
# Shadow mode (config/shadow): once it is on, its state file names the primary; processes read it at start-up.
SHADOW_STATE_FILE = env.path("SHADOW_STATE_FILE", VAR_DIR / "shadow.json")
DATABASE_URL = _shadow_state.primary_url(SHADOW_STATE_FILE) or DATABASE_URL
LIBSQL_AUTH_TOKEN = env.optional("LIBSQL_AUTH_TOKEN")
LIBSQL_SYNC_URL = env.url("LIBSQL_SYNC_URL", schemes=("libsql", "http", "https", "ws", "wss"))
LIBSQL_SYNC_INTERVAL = env.integer("LIBSQL_SYNC_INTERVAL", 0, minimum=0)
# How long a write waits for another connection's write lock before failing (seconds).
DATABASE_BUSY_TIMEOUT = env.integer("DATABASE_BUSY_TIMEOUT", 30, minimum=1)
# 0 closes each connection at the end of its request: under ASGI every request may run on another
# thread, so a kept connection is one per thread that is never reused, and sqld refuses new ones
# (HTTP 429) once enough idle ones pile up. Opening a local file costs ~0.1 ms.
DATABASE_CONN_MAX_AGE = env.integer("DATABASE_CONN_MAX_AGE", 0, minimum=0)


def _database(url: str) -> dict[str, object]:
    remote = not url.startswith("file:")
    # One test database per test process, so two runs in one checkout never clobber each other.
    test_name = env.optional("DATABASE_TEST_NAME") or str(VAR_DIR / f"test-{os.getpid()}.db")
    common = {"CONN_MAX_AGE": DATABASE_CONN_MAX_AGE, "CONN_HEALTH_CHECKS": True, "TEST": {"NAME": test_name}}
    if not remote and not LIBSQL_SYNC_URL:
        # The embedded file on the standard library's sqlite3, which releases the GIL (config/sqlite).
        path = str(Path(url.removeprefix("file:")).expanduser())
        embedded = {"timeout": DATABASE_BUSY_TIMEOUT, "transaction_mode": "IMMEDIATE"}
        return {"ENGINE": "config.sqlite", "NAME": path, "OPTIONS": embedded, **common}
    options: dict[str, object] = {"timeout": DATABASE_BUSY_TIMEOUT}
    if LIBSQL_AUTH_TOKEN:
        options["auth_token"] = LIBSQL_AUTH_TOKEN
    if LIBSQL_SYNC_URL:
        if remote:
            raise env.fail("LIBSQL_SYNC_URL", "only applies to an embedded file DATABASE_URL (file:...)")
        options["sync_url"] = LIBSQL_SYNC_URL
        options["sync_interval"] = LIBSQL_SYNC_INTERVAL
    name = url if remote else str(Path(url.removeprefix("file:")).expanduser())
    return {"ENGINE": "config.libsql", "NAME": name, "OPTIONS": options, **common}


DATABASES: dict[str, dict[str, object]] = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Serving (issue 18): gunicorn (WSGI) answers pages, the API and static files; one ASGI process
# (uvicorn, the "live" role) serves the WebSockets on LIVE_WS_PORT. LIVE_WS_PUBLIC: browsers connect
# to that port on the page's host directly (`make run`, no proxy); otherwise a proxy routes /ws/ to it.
LIVE_WS_PORT = env.integer("LIVE_WS_PORT", 8001, minimum=1, maximum=65535)
PORT = env.integer("PORT", 8000, minimum=1, maximum=65535)  # `manage.py runbrute`'s pages and API port
LIVE_WS_PUBLIC = env.boolean("LIVE_WS_PUBLIC", False)
# How often a live socket re-reads its session, closing (4401) once it has signed out (trading/consumers.py).
WS_SESSION_CHECK_S = env.integer("WS_SESSION_CHECK_S", 10, minimum=1)
# Without Redis the other processes hand their live events to the live process over loopback HTTP.
# `make run` sets LIVE_FORWARD in every process but the live one when there is no Redis.
LIVE_FORWARD = env.boolean("LIVE_FORWARD", False)
LIVE_INTERNAL_URL = env.url(
    "LIVE_INTERNAL_URL", f"http://127.0.0.1:{LIVE_WS_PORT}", schemes=("http", "https")
)

# --- Redis: when set it carries the channel layer, the Celery broker, the cache and rate limits.
REDIS_URL: str | None = env.url("REDIS_URL", schemes=("redis", "rediss", "unix"))

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        # redis-py gives up on a read after 5 s, exactly how long channels_redis blocks waiting for a
        # message: an idle page socket then died with 1011. A longer socket timeout keeps it open.
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
        }
    }
else:
    # A file cache is shared by the web and worker processes of a one-machine install.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery: Redis when configured; otherwise a filesystem broker under var/ (memory:// does not reach a
# separate worker process): config/broker.py, kombu's filesystem transport with atomic writes and claims.
CELERY_TASK_ALWAYS_EAGER = env.boolean("CELERY_TASK_ALWAYS_EAGER", False)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
else:
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("out", "processed", "results", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "brutefs://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "out"),
        "data_folder_out": str(_celery_dir / "out"),
        "processed_folder": str(_celery_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_celery_dir / "control"),
        # The folder is polled: 0.5 s (1 s by default) picks a task up sooner and lets a worker stop sooner.
        "polling_interval": 0.5,
    }
    CELERY_RESULT_BACKEND = f"file://{_celery_dir / 'results'}"
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# Celery logs through LOGGING (JSON lines in production) instead of replacing the root logger's handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "config.celery:BeatScheduler"  # writes the beat role's heartbeat

# --- Accounts and security.
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = env.integer("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env.integer("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.forms.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"  # accounts/locked_out.html, with Retry-After
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.integer("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14, minimum=60)
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token rides in hx-headers on <body>
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy (django-csp), in every environment so development meets what production
# enforces: scripts and styles only from our own static files, no inline script, no eval (htmx runs
# with allowEval off, see _base.html). Inline style *attributes* stay allowed (style-src-attr): the
# depth and allocation bars set a CSS variable per row; <style> elements are refused.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # The one <style> element allowed: lightweight-charts' attribution-logo rule (by its hash;
        # re-hash when the vendored library is upgraded, the browser test names a mismatch).
        "style-src-elem": ["'self'", "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        # 'self' includes ws(s): to this host (CSP Level 3); the live port is added below when public.
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

if LIVE_WS_PUBLIC:
    # CSP has no syntax for IPv6 literals: a page on [::1] reaches the live port only through 'self'.
    _live_hosts = [
        "*" if h == "*" else f"*{h}" if h.startswith(".") else h
        for h in ALLOWED_HOSTS
        if "[" not in h and ":" not in h
    ]
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] += [
        f"{scheme}://{host}:{LIVE_WS_PORT}" for host in _live_hosts for scheme in ("ws", "wss")
    ]

if PRODUCTION:
    SECURE_SSL_REDIRECT = env.boolean("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.integer("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.boolean("DJANGO_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

# Secrets stored in the database (users' MEXC API keys) are encrypted with this Fernet key.
if PRODUCTION:
    FIELD_ENCRYPTION_KEY = env.string("BRUTE_FIELD_KEY", required=True)
else:
    FIELD_ENCRYPTION_KEY = env.optional("BRUTE_FIELD_KEY") or _local_secret(
        ".field_key", Fernet.generate_key().decode()
    )
try:
    Fernet(FIELD_ENCRYPTION_KEY)
except ValueError:
    raise env.fail("BRUTE_FIELD_KEY", "must be a Fernet key: 32 url-safe base64-encoded bytes") from None

# --- Email: the console by default, SMTP when EMAIL_HOST is set.
EMAIL_HOST = env.optional("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env.integer("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env.optional("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = env.optional("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "Brute <brute@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation.
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files.
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("BRUTE_STATIC_ROOT", VAR_DIR / "staticfiles")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", VAR_DIR / "media")
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- MEXC. The real exchange by default; `make run` with no internet falls back to the bundled server.
MEXC_BASE_URL: str | None = env.url("MEXC_BASE_URL", "https://api.mexc.com", schemes=("http", "https"))
MEXC_WS_URL = env.url("MEXC_WS_URL", "wss://wbs-api.mexc.com/ws", schemes=("ws", "wss"))
MEXC_SIMULATED: bool = env.boolean("MEXC_SIMULATED", False)

# --- Market feed: always-streamed symbols and candle intervals, beside whatever pages are showing.
MARKET_FEED_SYMBOLS = env.csv("MARKET_FEED_SYMBOLS", ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "MXUSDT"])
MARKET_FEED_INTERVALS = env.csv("MARKET_FEED_INTERVALS", ["1m"])

# --- The sniper (new listings, rules, position monitor).
MEXC_CALENDAR_URL = env.url(
    "MEXC_CALENDAR_URL", "https://www.mexc.com/api/operation/new_coin_calendar", schemes=("http", "https")
)
SNIPER_CALENDAR_TIMEOUT = float(env.integer("SNIPER_CALENDAR_TIMEOUT", 20, minimum=1))
SNIPER_CALENDAR_EVERY_S = env.integer("SNIPER_CALENDAR_EVERY_S", 300, minimum=10)
SNIPER_WATCH_EVERY_S = env.integer("SNIPER_WATCH_EVERY_S", 5, minimum=1)
SNIPER_PROBE_MS = env.integer("SNIPER_PROBE_MS", 75, minimum=10)
SNIPER_ARM_EVERY_S = env.integer("SNIPER_ARM_EVERY_S", 1, minimum=1)
SNIPER_PROBE_LEAD_S = float(env.integer("SNIPER_PROBE_LEAD_S", 5, minimum=0))
SNIPER_PROBE_TAIL_S = float(env.integer("SNIPER_PROBE_TAIL_S", 120, minimum=1))
SNIPER_RETRY_S = float(env.integer("SNIPER_RETRY_S", 10, minimum=1))
SNIPER_RETRY_INTERVAL_MS = env.integer("SNIPER_RETRY_INTERVAL_MS", 75, minimum=10)
SNIPER_LIMIT_SLIPPAGE_PCT = env.string("SNIPER_LIMIT_SLIPPAGE_PCT", "2")
SNIPER_MONITOR_MS = env.integer("SNIPER_MONITOR_MS", 300, minimum=50)
SNIPER_ARM_LEAD_S = env.integer("SNIPER_ARM_LEAD_S", 30, minimum=1)
SNIPER_WINDOW_BEFORE_MS = env.integer("SNIPER_WINDOW_BEFORE_MS", 500, minimum=0)
SNIPER_WINDOW_AFTER_MS = env.integer("SNIPER_WINDOW_AFTER_MS", 2000, minimum=100)
SNIPER_RETRY_EVERY_MS = env.integer("SNIPER_RETRY_EVERY_MS", 10, minimum=2)
# An exit order still resting after this long is cancelled and sent again at the current book.
SNIPER_EXIT_REPRICE_MS = env.integer("SNIPER_EXIT_REPRICE_MS", 5000, minimum=100)

# --- The JSON API.
API_ACCESS_TOKEN_TTL = env.integer("API_ACCESS_TOKEN_TTL", 15 * 60, minimum=30)
API_REFRESH_TOKEN_TTL = env.integer("API_REFRESH_TOKEN_TTL", 14 * 24 * 60 * 60, minimum=60)
API_RATE_LIMIT_IP = env.string("API_RATE_LIMIT_IP", "600/min")
API_RATE_LIMIT_TOKEN = env.string("API_RATE_LIMIT_TOKEN", "300/min")
API_RATE_LIMIT_LOGIN = env.string("API_RATE_LIMIT_LOGIN", "20/min")
API_NUM_PROXIES = env.integer("API_NUM_PROXIES", 0, minimum=0)
# Seconds a process trusts a checked personal token or a JWT's user before asking the database again:
# a revoked token, a deactivated user or "sign out everywhere" takes effect within this time in every
# process (at once in the process that made the change). 0 checks on every request.
API_AUTH_CACHE_TTL = env.integer("API_AUTH_CACHE_TTL", 5, minimum=0, maximum=60)
API_IDEMPOTENCY_TTL = env.integer("API_IDEMPOTENCY_TTL", 24 * 60 * 60, minimum=60)
API_PAGE_SIZE = env.integer("API_PAGE_SIZE", 50, minimum=1)
API_PAGE_MAX = env.integer("API_PAGE_MAX", 200, minimum=1)

# --- Notifications.
TELEGRAM_API_BASE = env.url("TELEGRAM_API_BASE", "https://api.telegram.org", schemes=("http", "https"))
NOTIFY_MAX_ATTEMPTS = env.integer("NOTIFY_MAX_ATTEMPTS", 6, minimum=1)
NOTIFY_RETRY_BACKOFF = float(env.integer("NOTIFY_RETRY_BACKOFF", 10, minimum=1))
NOTIFY_RETRY_BACKOFF_MAX = float(env.integer("NOTIFY_RETRY_BACKOFF_MAX", 900, minimum=1))
NOTIFY_HTTP_TIMEOUT = float(env.integer("NOTIFY_HTTP_TIMEOUT", 10, minimum=1))
# Webhook, Slack and Telegram destinations that are or resolve to loopback, private, link-local or other
# non-public addresses are refused (a URL a user types must not reach the server's own network), in every
# environment unless this is on: a receiver on the LAN, or tests posting to a local server.
NOTIFY_ALLOW_PRIVATE_URLS = env.boolean("NOTIFY_ALLOW_PRIVATE_URLS", False)
# Sends per minute per channel type, over accounts.notifications.services.DEFAULT_RATE_LIMITS (tests).
NOTIFY_RATE_LIMITS: dict[str, int] = {}
# Every Slack channel's URL must start with this (scheme, host, port and path prefix).
SLACK_WEBHOOK_BASE = env.url("SLACK_WEBHOOK_BASE", "https://hooks.slack.com/", schemes=("http", "https"))
if not urlsplit(SLACK_WEBHOOK_BASE).hostname or not SLACK_WEBHOOK_BASE.endswith("/"):
    raise env.fail("SLACK_WEBHOOK_BASE", f"must be a URL with a host, ending in /: {SLACK_WEBHOOK_BASE!r}")

# --- Backups.
BACKUP_DIR = env.path("BACKUP_DIR", VAR_DIR / "backups")
BACKUP_DATABASE = env.optional("BACKUP_DATABASE")  # a path or URL; default: the DATABASES default
# Shared backup storage: required once more than one host runs Brute (a backup made by a worker must be
# listed, downloaded, verified and restored from any host). BACKUP_S3_BUCKET selects S3 or any
# S3-compatible store (MinIO, R2, ...) through django-storages; credentials come from the usual
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the instance's role).
BACKUP_S3_BUCKET = env.optional("BACKUP_S3_BUCKET")
if BACKUP_S3_BUCKET:
    STORAGES["backups"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BACKUP_S3_BUCKET,
            "location": env.string("BACKUP_S3_PREFIX", "brute-backups"),
            "endpoint_url": env.url("BACKUP_S3_ENDPOINT_URL", schemes=("http", "https")),
            "region_name": env.optional("BACKUP_S3_REGION"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,  # a name taken twice is refused (backups/storage.py), never replaced
        },
    }
# An alias in STORAGES or a storage class path; default: "backups" with a bucket, else BACKUP_DIR.
BACKUP_STORAGE = env.optional("BACKUP_STORAGE") or ("backups" if BACKUP_S3_BUCKET else None)
BACKUP_COMPRESSION = env.choice("BACKUP_COMPRESSION", "gzip", ("gzip", "zstd", "none"))
BACKUP_ENCRYPT = env.boolean("BACKUP_ENCRYPT", False)
BACKUP_ENCRYPTION_KEY = env.optional("BACKUP_ENCRYPTION_KEY")
BACKUP_ENCRYPTION_KEY_FILE = env.optional("BACKUP_ENCRYPTION_KEY_FILE")
BACKUP_KEEP_LAST = env.integer("BACKUP_KEEP_LAST", 7, minimum=1)
BACKUP_KEEP_DAILY = env.integer("BACKUP_KEEP_DAILY", 7, minimum=0)
BACKUP_KEEP_WEEKLY = env.integer("BACKUP_KEEP_WEEKLY", 4, minimum=0)
BACKUP_KEEP_MONTHLY = env.integer("BACKUP_KEEP_MONTHLY", 6, minimum=0)
BACKUP_FULL_CRON = env.cron("BACKUP_FULL_CRON", "0 3 * * *")
BACKUP_INCREMENTAL_CRON = env.cron("BACKUP_INCREMENTAL_CRON", "15 * * * *")
BACKUP_PRUNE_CRON = env.cron("BACKUP_PRUNE_CRON", "30 4 * * *")
BACKUP_VERIFY_CRON = env.cron("BACKUP_VERIFY_CRON", "0 5 * * 0")

# --- Metrics (config/metrics.py): /metrics needs this bearer token; unset, it answers loopback only.
METRICS_TOKEN = env.optional("METRICS_TOKEN")

# --- Logging: JSON lines in production, readable lines in development; every line carries a request id.
LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOG_FORMAT = env.choice("LOG_FORMAT", "json" if PRODUCTION else "text", ("json", "text"))
# The libsql driver's Rust side logs through `tracing` straight to stderr, in colour, bypassing LOGGING
# (an INFO "Attempting to perform handshake with primary." per embedded-replica connection). It reads
# RUST_LOG when the driver loads, after these settings: off where every line must be JSON.
os.environ.setdefault("RUST_LOG", "off" if LOG_FORMAT == "json" else "warn")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.logging.RequestIdFilter"},
        "repeats": {"()": "config.logging.RepeatFilter", "window_s": 10.0, "burst": 3},
        "refusal": {"()": "config.logging.RefusalWithoutTraceback"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "repeats"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's defaults give "django" a console handler of its own (and mail_admins): with DEBUG on,
        # every line of Django's went to stderr twice. Here its lines go to the root's handler only.
        "django": {"handlers": []},
        "django.request": {"filters": ["refusal"]},
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
