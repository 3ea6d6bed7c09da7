"""botportal settings: everything comes from the environment (and an optional `.env`).

With nothing set, botportal runs on embedded defaults: SQLite under `var/` and a Celery broker
and result store on the file system, so `make run` needs no server but itself. DEBUG is off unless
set, and then SECRET_KEY is required; `make run` sets DEBUG=true for itself.
"""

import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("BOTPORTAL_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Off unless asked for: a deployment that forgets the variable must not serve technical error pages.
# `make run` and the test settings (botportal/settings_test.py) turn it on for themselves.
DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """Production must set SECRET_KEY; a development machine (DEBUG=true) gets one generated once under var/."""
    configured = env.str("SECRET_KEY", default="")
    if configured:
        return configured
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is false (the default). "
            "For development, set DEBUG=true: a secret is then generated once under var/."
        )
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "botportal.api.protocols.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "corsheaders",
    "bots",
    "sessions_app",
    "sessions_app.protocols.einstein",
    "sessions_app.protocols.directline",
]

MIDDLEWARE = [
    # Django's middleware as botportal/middleware.py serves it: without thread hops under ASGI, the
    # browser's (session, CSRF, user, messages) stepping aside on the API paths. Django's deploy checks
    # look for its own dotted paths; botportal/checks.py makes them for these.
    "botportal.middleware.SecurityMiddleware",
    "botportal.middleware.RequestBodyLimitMiddleware",
    "botportal.middleware.StaticFilesMiddleware",  # WhiteNoise, async-capable
    "corsheaders.middleware.CorsMiddleware",
    "botportal.middleware.SessionMiddleware",
    "botportal.middleware.CommonMiddleware",
    "botportal.middleware.CsrfViewMiddleware",
    "botportal.middleware.AuthenticationMiddleware",
    "botportal.middleware.MessageMiddleware",
    "botportal.middleware.XFrameOptionsMiddleware",
]

# Django's "middleware not installed" deploy warnings look for its dotted paths only; botportal/checks.py
# checks the same for botportal/middleware.py's subclasses (botportal.W001-W003), and the settings
# those middlewares depend on, with Django's own messages.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "botportal.urls"
WSGI_APPLICATION = "botportal.wsgi.application"
ASGI_APPLICATION = "botportal.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'botportal.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the Celery worker share one SQLite file;
    # IMMEDIATE transactions take the write lock up front, so concurrent turns serialise as on PostgreSQL.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests that serve requests on several threads need a file: an in-memory database's shared cache
    # answers "table is locked" at once instead of waiting for the writer as the busy timeout does.
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", str(VAR_DIR / "test-botportal.sqlite3"))
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's, with a pool health check that makes no round trip for a connection just used.
        DATABASES["default"]["ENGINE"] = "botportal.pgbackend"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("DATABASE_POOL", default=True):
        # Under ASGI every request runs its synchronous part on a thread of its own, and each thread
        # would open a connection of its own: a bounded pool per process (psycopg_pool, through Django)
        # keeps the number of connections fixed whatever the number of requests in flight; a request
        # past the limit waits for a free connection. Django hands a connection back after each request
        # (CONN_MAX_AGE=0); the pool keeps it open, with the statements it has prepared.
        # By default the web processes share 40 connections: WEB_CONCURRENCY x DATABASE_POOL_MAX_SIZE.
        _web_processes = max(1, env.int("WEB_CONCURRENCY", default=os.cpu_count() or 1))
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=max(4, 40 // _web_processes)),
            # Seconds a request waits for a free connection before it fails.
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # PostgreSQL binds the parameters itself and each connection prepares a statement the second
        # time it runs it, so the few statements every request repeats are parsed and planned once per
        # connection (docs/performance.md). Turn off behind a pooler in transaction mode (PgBouncer
        # without max_prepared_statements), where a connection's prepared statements are not its own.
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 1})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default=env.str("REDIS_URL", default="locmemcache://"))}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # The same backend, its connection pools shared by the process's requests (botportal/cache.py).
    CACHES["default"]["BACKEND"] = "botportal.cache.RedisCache"
    # Shared by every thread of a process (each request's own, the database phases'): past its size a
    # thread waits for a connection to come back rather than failing (redis-py's default pool refuses
    # the 101st at once, and a few hundred visitors arriving together need more).
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {
            "pool_class": "redis.BlockingConnectionPool",
            "max_connections": env.int("CACHE_MAX_CONNECTIONS", default=200),
            "timeout": env.float("CACHE_POOL_TIMEOUT", default=10.0),
        }
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "botportal.staticfiles.ManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Wire protocols ------------------------------------------------------------------------------
# Each protocol package's `Protocol` (botportal.api.protocols): its mounts, the paths it owns, its errors.
BOTPORTAL_PROTOCOLS = [
    "sessions_app.protocols.chatbotkit.protocol.CHATBOTKIT",
    "sessions_app.protocols.einstein.protocol.EINSTEIN",
    "sessions_app.protocols.directline.protocol.DIRECTLINE",
]

# --- REST framework and OpenAPI -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sessions_app.access.authentication.BearerAuthentication"],
    # Closed by default: a view that declares nothing needs an owner's API secret; open ones list
    # botportal.api.permissions.Public (see tests/security/test_closed_by_default.py).
    "DEFAULT_PERMISSION_CLASSES": ["sessions_app.access.permissions.OwnerRequired"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["botportal.api.parsers.JsonParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # No AnonymousUser: without credentials request.user is None, which no permission mistakes for an owner.
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "botportal.api.errors.chatbotkit_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "botportal.api.throttles.ApiSecretThrottle",
        "sessions_app.access.throttles.SessionTokenThrottle",
    ],
    # Rates are "<count>/<second|minute|hour|day>"; see .env.example.
    "DEFAULT_THROTTLE_RATES": {
        "session_create_ip": env.str("BOTPORTAL_THROTTLE_SESSION_CREATE_IP", default="20/minute"),
        "session_create_bot": env.str("BOTPORTAL_THROTTLE_SESSION_CREATE_BOT", default="600/minute"),
        "session_token": env.str("BOTPORTAL_THROTTLE_SESSION_TOKEN", default="60/minute"),
        "api_secret": env.str("BOTPORTAL_THROTTLE_API_SECRET", default="1200/minute"),
        "failed_auth": env.str("BOTPORTAL_THROTTLE_FAILED_AUTH", default="30/minute"),
        # Direct Line polling reads, per conversation: directlinejs polls once a second and stops for good
        # at its first 429, so this only stops a client polling far faster than any real one.
        "directline_poll": env.str("BOTPORTAL_THROTTLE_DIRECTLINE_POLL", default="600/minute"),
        # Typing and events posted to Direct Line (Web Chat sends typing as the person types): no turn.
        "directline_signal": env.str("BOTPORTAL_THROTTLE_DIRECTLINE_SIGNAL", default="120/minute"),
    },
    # How many proxies in front of botportal append to X-Forwarded-For; 0 trusts none of it.
    "NUM_PROXIES": env.int("BOTPORTAL_TRUSTED_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "botportal API",
    "DESCRIPTION": "Bot sessions and conversations: the ChatBotKit v1 format under /api/v1 and the "
    "Einstein Bots Runtime API v5.0.0 under /v5.0.0.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page are public: they describe the API, they hold no data.
    "SERVE_PERMISSIONS": ["botportal.api.permissions.Public"],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "botportal.api.schema_hooks.document_limits",
    ],
}

# --- CORS: per-bot origins are decided in code; nothing is allowed globally ---------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(api/)?v1/.*$"

# --- WebSockets (Django Channels): Direct Line's stream -----------------------------------------
# A conversation's activities reach a socket held by any web process: through Redis when REDIS_URL is
# set; otherwise (the embedded default, one process) no layer is needed, as a process's own sockets are
# woken directly (sessions_app/protocols/directline/fanout.py).
_channels_redis = env.str("CHANNEL_LAYER_URL", default=env.str("REDIS_URL", default=""))
# A process's listener waits in Redis for up to 5 s at a time (channels_redis's BZPOPMIN), so the
# client's read timeout must be longer than that (redis-py's default, 5 s, races it and kills the
# listener). max_connections is a bound, not a size: channels_redis opens one per command in flight.
_channel_layer_host = {
    "address": _channels_redis,
    "socket_timeout": env.int("CHANNEL_LAYER_SOCKET_TIMEOUT", default=15),
    "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=1000),
}
# channels_redis drops (logging at INFO only) what is sent to a process's queue past `capacity` (100
# by default). Notices go in batches, but a listener that falls behind should not lose them; the
# database look (directline/fanout.py) covers any still lost.
_channel_layer_capacity = env.int("CHANNEL_LAYER_CAPACITY", default=10_000)
CHANNEL_LAYERS = (
    {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Direct Line's listeners renew their membership every 10 minutes (directline/fanout.py): a
            # process that died leaves the group after 30, not channels_redis's default of a day.
            "CONFIG": {"hosts": [_channel_layer_host], "capacity": _channel_layer_capacity, "group_expiry": 1800},
        }
    }
    if _channels_redis
    else {}
)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND",
    default="redis" in CELERY_BROKER_URL and CELERY_BROKER_URL or f"file://{VAR_DIR / 'celery-results'}",
)
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery-broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery-results").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# --- Bot sessions and their lifecycle ---------------------------------------------------------
BOTPORTAL = {
    "SESSION_DURATION_MIN": 1800,
    "SESSION_DURATION_MAX": 86400,
    "SESSION_DURATION_DEFAULT": 3600,
    # A refreshed token never lives beyond this long after its session was first issued.
    "SESSION_MAX_LIFETIME": env.int("BOTPORTAL_SESSION_MAX_LIFETIME", default=7 * 86400),
    # Conversations idle for longer are ended with reason Expiration (the Einstein runtime's default).
    "IDLE_TIMEOUT": env.int("BOTPORTAL_IDLE_TIMEOUT", default=3 * 86400),
    "SESSION_RETENTION": env.int("BOTPORTAL_SESSION_RETENTION", default=3 * 86400),
    # None keeps conversations forever; a bot may override it.
    "CONVERSATION_RETENTION": env.int("BOTPORTAL_CONVERSATION_RETENTION", default=None),
    "PRUNE_BATCH_SIZE": env.int("BOTPORTAL_PRUNE_BATCH_SIZE", default=5000),
    "MAX_BODY_BYTES": env.int("BOTPORTAL_MAX_BODY_BYTES", default=256 * 1024),
    "MAX_MESSAGE_CHARS": env.int("BOTPORTAL_MAX_MESSAGE_CHARS", default=10000),
    # At a graceful shutdown, turns still answering (a Direct Line post's reply goes on after its answer)
    # get this long to store their replies: inside gunicorn's graceful_timeout (30 s).
    "BACKGROUND_DRAIN_SECONDS": env.float("BOTPORTAL_BACKGROUND_DRAIN_SECONDS", default=25.0),
    # Region assumed for contact phone numbers written without a country code (e.g. "US"); none: required.
    "PHONE_DEFAULT_REGION": env.str("BOTPORTAL_PHONE_DEFAULT_REGION", default=None),
}
DATA_UPLOAD_MAX_MEMORY_SIZE = BOTPORTAL["MAX_BODY_BYTES"]

# --- Security (production, DEBUG false) --------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_REDIRECT_EXEMPT = [r"^status$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Bot engine ----------------------------------------------------------------------------------
# Language model providers (OpenAI-compatible chat completions) a bot names in its `model` as
# "<provider>/<model>": BOTPORTAL_LLM_PROVIDERS is a JSON object {"<provider>": {"base_url", "api_key",
# "model"?, "timeout"?}}; LLM_BASE_URL and LLM_API_KEY add one more provider, named LLM_PROVIDER_NAME.
_llm_providers = env.json("BOTPORTAL_LLM_PROVIDERS", default={})
if env.str("LLM_BASE_URL", default=""):
    _llm_providers[env.str("LLM_PROVIDER_NAME", default="llm")] = {
        "base_url": env.str("LLM_BASE_URL"),
        "api_key": env.str("LLM_API_KEY", default=""),
        "model": env.str("LLM_MODEL", default=""),
    }
BOTPORTAL.update(
    {
        "LLM_PROVIDERS": _llm_providers,
        # Webhook abilities: HTTPS only, and never to private, loopback or link-local addresses unless
        # allowed (a development machine; plain HTTP is then accepted for those addresses only).
        "WEBHOOK_ALLOW_PRIVATE": env.bool("BOTPORTAL_WEBHOOK_ALLOW_PRIVATE", default=False),
        "WEBHOOK_TIMEOUT": env.float("BOTPORTAL_WEBHOOK_TIMEOUT", default=5.0),
        "WEBHOOK_MAX_BYTES": env.int("BOTPORTAL_WEBHOOK_MAX_BYTES", default=64 * 1024),
        # One deadline for a language model's whole answer: connecting, the headers and every token
        # (a provider's own "timeout" overrides it).
        "LLM_TIMEOUT": env.float("BOTPORTAL_LLM_TIMEOUT", default=30.0),
        # A turn claimed by a process that died frees its conversation after this many seconds; keep it
        # above the language model and webhook deadlines.
        "TURN_TIMEOUT": env.float("BOTPORTAL_TURN_TIMEOUT", default=120.0),
        # Region assumed for phone numbers written without a country code.
        "PHONE_REGION": env.str("BOTPORTAL_PHONE_REGION", default="US"),
    }
)
