"""Settings for the notes service, read from the environment (12-factor).

Zero configuration serves SQLite from the data folder; production strictness
is switched on by environment variables, never by a second settings file.
Every variable is listed in the README.
"""

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured
from django.http.request import split_domain_port
from redis.connection import parse_url as parse_redis_url

from notesite.environment import env_bool, env_int, env_list, env_str

RATE_PATTERN = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")


def env_rate(name, default=None):
    """A request rate such as "600/min"; unset or empty gives `default`."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not RATE_PATTERN.fullmatch(value):
        raise ImproperlyConfigured(f"{name} must be a rate such as 600/min (per s, min, hour or day), not {value!r}.")
    return value


def env_origins(name):
    """Browser origins such as https://notes.example.com, comma-separated."""
    origins = env_list(name)
    for origin in origins:
        parts = urlsplit(origin)
        if not (parts.scheme and parts.netloc) or parts.path or parts.query or parts.fragment:
            raise ImproperlyConfigured(
                f"{name} lists origins such as https://notes.example.com (scheme, host, optional port, "
                f"nothing after), not {origin!r}."
            )
    return origins


def env_database(name, default):
    """One database from a dj-database-url URL; unset or empty gives `default`."""
    url = env_str(name).strip() or default
    try:
        return dj_database_url.parse(url, conn_max_age=env_int("CONN_MAX_AGE", 600), conn_health_checks=True)
    except dj_database_url.UnknownSchemeError as error:
        # dj-database-url's own message asks whether a backend was registered.
        raise ImproperlyConfigured(
            f"{name} must start with postgres:// or sqlite:// (e.g. postgres://user:password@host:5432/notes), "
            f"not {error.scheme}://."
        ) from None
    except ValueError:
        # Never the URL itself: it holds the password.
        raise ImproperlyConfigured(
            f"{name} cannot be read as a URL such as postgres://user:password@host:5432/notes "
            "(a port that is no number up to 65535, or a character such as [ or # left unencoded in the password)."
        ) from None


def env_hosts(name, default):
    """Host names as Django matches them against a request's Host header, comma-separated."""
    hosts = env_list(name, default)
    for host in hosts:
        # What Django compares a request's host with: lower-case, without its
        # port; an entry that is not already that (a scheme, a path, a port,
        # an IPv6 address without brackets) matches no request, and every
        # request would answer 400 while the health checks said ok.
        if host != "*" and split_domain_port(host) != (host.lower(), ""):
            raise ImproperlyConfigured(
                f"{name} lists host names as a request names them (notes.example.com, .example.com for it and its "
                f"subdomains, 127.0.0.1, [::1] or *), with no scheme, port, path or trailing dot, not {host!r}."
            )
    return hosts


BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("NOTES_DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


# Core

DEBUG = env_bool("DEBUG", default=False)

ALLOWED_HOSTS = env_hosts("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
if not ALLOWED_HOSTS and not DEBUG:
    # Set but empty: Django would answer every request 400 (with DEBUG on it
    # lets localhost in).
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is set but names no host, so every request would answer 400: list the host names the site "
        "answers to (e.g. notes.example.com), or unset it for the default 127.0.0.1,localhost,[::1]."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "notesite.apps.AdminConfig",  # django.contrib.admin, with the project's site (notesite/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "notes",
]

MIDDLEWARE = [
    # Outermost: a HEAD's body is dropped only once every other middleware
    # has set its headers (CommonMiddleware's Content-Length among them),
    # the health checks' answers included.
    "notesite.middleware.HeadMiddleware",
    # Then the headers every answer carries (docs/security.md), on the
    # answers of the middleware below too (the health checks, a CORS
    # preflight, a 400 or 413 before the view) and on SecurityMiddleware's
    # own HTTPS redirect. None of them reads the Host header, and the
    # redirect spares the health checks (SECURE_REDIRECT_EXEMPT).
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "notesite.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "notesite.health.HealthCheckMiddleware",
    "notesite.middleware.OptionalTrailingSlashMiddleware",
    "notesite.middleware.RequestLogMiddleware",
    # Before anything else that may answer: a preflight gets its CORS answer here.
    "notesite.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's session, login and messages middleware, passed by for requests
    # the API authenticates by token (notesite.browser_middleware). CSRF's
    # stays whole: `check --deploy` looks for it by name, and it costs little.
    "notesite.browser_middleware.BrowserSessionMiddleware",
    # Django's, without a Content-Length on a 304.
    "notesite.middleware.CommonMiddleware",
    # Inside the ones that add headers (and Content-Length), so its 413 has them too.
    "notesite.chunked.ChunkedBodyLimitMiddleware",
    "notesite.middleware.QueryStringMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "notesite.browser_middleware.BrowserAuthenticationMiddleware",
    "notesite.browser_middleware.BrowserMessageMiddleware",
]

ROOT_URLCONF = "notesite.urls"
WSGI_APPLICATION = "notesite.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
# API routes take an optional trailing slash without a redirect (see middleware).
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "notesite" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# Database: SQLite in the data folder unless DATABASE_URL says otherwise.

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{DATA_DIR / 'notes.sqlite3'}")}
DATABASE_IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if DATABASE_IS_SQLITE:
    # Django's SQLite backend, with the process's writers queued (notesite/sqlite).
    DATABASES["default"]["ENGINE"] = "notesite.sqlite"
    # The two the README offers; OFF (or EXTRA, or a typo) was written into
    # the PRAGMA as given, and OFF can lose answered writes in a power cut.
    sqlite_synchronous = env_str("NOTES_SQLITE_SYNCHRONOUS").strip() or "FULL"
    if sqlite_synchronous.upper() not in {"FULL", "NORMAL"}:
        raise ImproperlyConfigured(f"NOTES_SQLITE_SYNCHRONOUS must be FULL or NORMAL, not {sqlite_synchronous!r}.")
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock when their transaction starts, so two workers
        # never deadlock upgrading a read lock ("database is locked").
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("NOTES_SQLITE_BUSY_TIMEOUT", 20),
        # WAL lets readers run beside the writer; synchronous=FULL fsyncs the
        # WAL on every commit, so a note answered 201 survives a power cut.
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            f"PRAGMA synchronous={sqlite_synchronous.upper()};"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA cache_size=-32000;"
            "PRAGMA mmap_size=268435456;"
            "PRAGMA temp_store=MEMORY;"
            # What the query planner's statistics read per index (notesite/sqlite): milliseconds at any size.
            "PRAGMA analysis_limit=1000"
        ),
    }
else:
    # Django's PostgreSQL backend, its health check of a reused connection
    # made without a round trip when the server has not spoken (notesite/postgresql).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "notesite.postgresql"
    # Behind PgBouncer in transaction mode a server-side cursor (iterator())
    # may outlive the transaction its server connection was lent for.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("NOTES_PGBOUNCER")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# The secret key: generated once into the data folder for SQLite (one
# instance); set in the environment for PostgreSQL (many instances).


def read_or_create_secret_key(path):
    """Return the key kept in the data folder, creating it once (race-safe)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as key_file:
        key_file.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY and not DATABASE_IS_SQLITE:
    # Each instance would generate a key of its own into its own data folder,
    # and sessions and page cursors signed by one would fail on the others.
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DATABASE_URL is not SQLite: every instance sharing the database needs the same "
        "key. Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
SECRET_KEY = SECRET_KEY or read_or_create_secret_key(DATA_DIR / "secret_key")
# The same rules as `check --deploy` (security.W009), enforced at start.
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured(
        "SECRET_KEY must be at least 50 random characters and must not start with "
        "'django-insecure-'. Generate one with: python -c 'import secrets; "
        "print(secrets.token_urlsafe(50))'"
    )


# Cache: shared by every worker (throttle counts). The database cache needs no
# extra service; Redis is shared by many app instances.

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # Django's cache reads a comma- or semicolon-separated list of servers,
    # each a URL redis-py takes. Anything else passed every check and /readyz,
    # then failed each throttled request with a 500.
    for redis_server in re.split("[;,]", REDIS_URL):
        shown = redis_server.rsplit("@", 1)[-1]  # never a password in the log
        if not redis_server.startswith(("redis://", "rediss://", "unix://")):
            raise ImproperlyConfigured(
                f"REDIS_URL must start with redis://, rediss:// or unix:// (e.g. redis://host:6379/0), not {shown!r}."
            )
        # A port or an option redis-py cannot read failed at the first
        # request instead; a database that is no number was taken as 0.
        try:
            parse_redis_url(redis_server)
        except ValueError as error:
            raise ImproperlyConfigured(f"REDIS_URL {shown!r} cannot be read: {error}") from None
        database = urlsplit(redis_server).path.strip("/") if redis_server.startswith("redis") else ""
        if database and not (database.isascii() and database.isdigit()):
            raise ImproperlyConfigured(f"REDIS_URL {shown!r} names a database that is not a number: {database!r}.")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            # Django's, with an incr() that is atomic, as the throttles need.
            "BACKEND": "notesite.cache.DatabaseCache",
            "LOCATION": "notes_cache",
            # Culling at the default 300 entries would forget throttle counts.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }


# Passwords and sessions

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "rest_framework:login"
LOGIN_REDIRECT_URL = "/api/"


# Internationalisation

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True


# Static files, served by the app itself (whitenoise) so every page is styled
# under gunicorn with DEBUG off.

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "notesite" / "static"]
# Files served at the site's root: /favicon.ico, which browsers ask for.
WHITENOISE_ROOT = BASE_DIR / "notesite" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    # Attachments (README, "Attachments and public links"): the data folder,
    # or an S3-compatible bucket when NOTES_S3_BUCKET is set. Never served
    # as files: downloads go through the API, which checks the owner.
    "attachments": {
        "BACKEND": "notes.attachments.storage.FileSystemAttachmentStorage",
        "OPTIONS": {"location": DATA_DIR / "attachments", "base_url": None},
    },
}
NOTES_S3_BUCKET = env_str("NOTES_S3_BUCKET")
# Seconds to wait for the bucket to answer, and at most 5 of them to connect.
# botocore's defaults (60 s each, and retries) held a worker thread for
# minutes per request to a bucket that hangs, until none was left.
NOTES_S3_TIMEOUT = env_int("NOTES_S3_TIMEOUT", 20)
if NOTES_S3_TIMEOUT < 1:
    raise ImproperlyConfigured(f"NOTES_S3_TIMEOUT must be at least 1 second, not {NOTES_S3_TIMEOUT}.")
if NOTES_S3_BUCKET:
    NOTES_S3_ADDRESSING_STYLE = env_str("NOTES_S3_ADDRESSING_STYLE") or None
    STORAGES["attachments"] = {
        "BACKEND": "notes.attachments.storage.S3AttachmentStorage",
        "OPTIONS": {
            "bucket_name": NOTES_S3_BUCKET,
            # Empty: AWS itself; else MinIO, Ceph, R2, ... (https://host:port).
            "endpoint_url": env_str("NOTES_S3_ENDPOINT_URL") or None,
            "region_name": env_str("NOTES_S3_REGION") or None,
            # Empty: boto3's own chain (AWS_* variables, an instance role, ...).
            "access_key": env_str("NOTES_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("NOTES_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("NOTES_S3_PREFIX", "attachments"),
            "addressing_style": NOTES_S3_ADDRESSING_STYLE,
            # Given a client config, django-storages ignores its addressing_style
            # option: the style goes in here too. One retry at most: a request
            # waits about twice NOTES_S3_TIMEOUT, then answers 503.
            "client_config": Config(
                connect_timeout=min(5, NOTES_S3_TIMEOUT),
                read_timeout=NOTES_S3_TIMEOUT,
                retries={"mode": "standard", "total_max_attempts": 2},
                s3={"addressing_style": NOTES_S3_ADDRESSING_STYLE},
            ),
            "default_acl": None,
            "querystring_auth": True,
            # Names are unique per stored file: no existence check before a write.
            "file_overwrite": True,
        },
    }


# Security. NOTES_HTTPS is for deployments behind a TLS-terminating proxy.

NOTES_HTTPS = env_bool("NOTES_HTTPS", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Everything the pages load comes from this site: no inline or remote script
# (the docs' init script is served as a file), no plugins, no framing, forms
# post only here. Inline styles are allowed: the admin, Swagger UI and ReDoc
# (which styles itself at run time) need them. data: images are Swagger
# UI's icons; ReDoc runs its search in a blob: worker.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SESSION_COOKIE_HTTPONLY = True
if NOTES_HTTPS:
    # No SECURE_PROXY_SSL_HEADER: Django would take X-Forwarded-Proto from
    # anyone who reaches gunicorn. gunicorn takes it from FORWARDED_ALLOW_IPS
    # only (notesite/gunicorn.py) and says so in wsgi.url_scheme, which
    # Django reads when that setting is unset.
    SECURE_SSL_REDIRECT = True
    # Probes come over plain HTTP (notesite.health); matched against the path
    # without its first slash.
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz)/?$"]
    SECURE_HSTS_SECONDS = env_int("NOTES_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("NOTES_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("NOTES_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True


# CORS: browser apps on the origins listed in NOTES_CORS_ORIGINS may call the
# API with a token (never with the session cookie); none by default.

CORS_ALLOWED_ORIGINS = env_origins("NOTES_CORS_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "if-match", "if-none-match", "range", "if-range"]
# Headers a browser app may read from an answer (conditional requests, 201,
# 429, and downloads of attachments).
CORS_EXPOSE_HEADERS = ["etag", "location", "retry-after", "content-range", "content-disposition", "accept-ranges"]


# Django REST framework

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns a missing login into 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "notesite.parsers.JSONParser",
        "notesite.parsers.FormParser",
        "notesite.parsers.MultiPartParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "notesite.negotiation.ContentNegotiation",
    "DEFAULT_RENDERER_CLASSES": [
        "notesite.renderers.JSONRenderer",
        "notesite.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "notesite.schema.AutoSchema",
    "EXCEPTION_HANDLER": "notesite.exceptions.exception_handler",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    # Every view counts each user's requests against NOTES_USER_RATE (when
    # set); the login and register views count per address instead.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttles.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "login": env_rate("NOTES_LOGIN_RATE", "10/min"),
        "register": env_rate("NOTES_REGISTER_RATE", "10/hour"),
        # Password checks behind a token (password change, account deletion) and the admin's password change.
        "password": env_rate("NOTES_LOGIN_RATE", "10/min"),
    },
    # Client addresses for throttling: REMOTE_ADDR unless a trusted proxy
    # count says how many X-Forwarded-For hops to skip.
    "NUM_PROXIES": env_int("NOTES_NUM_PROXIES", 0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

NOTES_TOKEN_TTL_DAYS = env_int("NOTES_TOKEN_TTL_DAYS", 30)
if not 1 <= NOTES_TOKEN_TTL_DAYS <= 36_500:
    # 0 handed out tokens already expired; a million days overflowed every login (500).
    raise ImproperlyConfigured(f"NOTES_TOKEN_TTL_DAYS must be from 1 to 36500, not {NOTES_TOKEN_TTL_DAYS}.")
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=NOTES_TOKEN_TTL_DAYS),
    "AUTH_HEADER_PREFIX": "Token",
}
KNOX_TOKEN_MODEL = "accounts.AuthToken"
# knox's migrations create its own token table even when the model is swapped
# for accounts.AuthToken; without them no such orphan table exists.
MIGRATION_MODULES = {"knox": None}

SPECTACULAR_SETTINGS = {
    "TITLE": "Notes API",
    "DESCRIPTION": (
        "A self-hosted notes service. REST clients authenticate with "
        "`Authorization: Token <token>` from `POST /api/auth/token/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "notesite.schema.drop_defaults_from_partial_updates",
        "notesite.schema.drop_unicode_word_patterns",
    ],
}


# The notes service's own knobs (README, "Configuration").

NOTES_ALLOW_SIGNUP = env_bool("NOTES_ALLOW_SIGNUP", default=False)
# Requests per user over the whole API, e.g. "600/min"; unset: no limit.
NOTES_USER_RATE = env_rate("NOTES_USER_RATE")
NOTES_MAX_BODY_BYTES = env_int("NOTES_MAX_BODY_BYTES", 1024 * 1024)
NOTES_MAX_CONTENT_CHARS = env_int("NOTES_MAX_CONTENT_CHARS", 100_000)
# A search ranks at most this many of the newest matching notes (README,
# "Finding notes").
NOTES_SEARCH_WINDOW = env_int("NOTES_SEARCH_WINDOW", 1000)
if not 1 <= NOTES_SEARCH_WINDOW <= 1_000_000_000:
    # 0 or less ranked nothing: every search answered []. Past 64 bits the
    # database could not take it as a LIMIT (a 500 on every search).
    raise ImproperlyConfigured(f"NOTES_SEARCH_WINDOW must be from 1 to 1000000000, not {NOTES_SEARCH_WINDOW}.")
# Form and multipart bodies (browsable API, admin) obey the same limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = NOTES_MAX_BODY_BYTES
# Nothing lost (README, "Nothing lost"): revisions kept per note, days in the
# trash before `purge_trash` deletes forever, and the caps on an API import
# (larger imports go through `manage.py import_notes`).
NOTES_REVISIONS_KEPT = env_int("NOTES_REVISIONS_KEPT", 100)
NOTES_TRASH_DAYS = env_int("NOTES_TRASH_DAYS", 30)
NOTES_IMPORT_MAX_BYTES = env_int("NOTES_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
NOTES_IMPORT_MAX_ENTRIES = env_int("NOTES_IMPORT_MAX_ENTRIES", 10_000)
if NOTES_REVISIONS_KEPT < 1:
    raise ImproperlyConfigured("NOTES_REVISIONS_KEPT must be at least 1.")
if NOTES_TRASH_DAYS < 0:
    raise ImproperlyConfigured("NOTES_TRASH_DAYS must not be negative.")
# The change feed (README, "Keeping an offline copy"): days the tombstone of a
# note deleted forever is kept for clients that have not synced since;
# `purge_trash` forgets older ones, and an older cursor must re-sync (410).
NOTES_FEED_TOMBSTONE_DAYS = env_int("NOTES_FEED_TOMBSTONE_DAYS", 365)
if NOTES_FEED_TOMBSTONE_DAYS < 0:
    raise ImproperlyConfigured("NOTES_FEED_TOMBSTONE_DAYS must not be negative.")
# Attachments and public links (README, "Attachments and public links"): the
# largest file, the bytes a user may keep (distinct files, the trash's
# included), and requests per address to public links.
NOTES_ATTACHMENT_MAX_BYTES = env_int("NOTES_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024)
NOTES_USER_QUOTA_BYTES = env_int("NOTES_USER_QUOTA_BYTES", 1024 * 1024 * 1024)
NOTES_PUBLIC_LINK_RATE = env_rate("NOTES_PUBLIC_LINK_RATE", "120/min")
if NOTES_ATTACHMENT_MAX_BYTES < 1 or NOTES_USER_QUOTA_BYTES < 0:
    raise ImproperlyConfigured("NOTES_ATTACHMENT_MAX_BYTES must be positive and NOTES_USER_QUOTA_BYTES not negative.")


# Logging: one JSON line per request on stderr, for any log collector.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "notesite.logs.JSONFormatter"}},
    "filters": {
        "public_link_tokens": {"()": "notesite.logs.PublicLinkTokenFilter"},
        "suspicious_requests": {"()": "notesite.logs.SuspiciousRequestFilter"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["public_link_tokens", "suspicious_requests"],
        }
    },
    "root": {"handlers": ["stderr"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Requests are logged once, by RequestLogMiddleware.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
    },
}
