"""Settings come from environment variables; every one has an embedded default so that the
same code runs on a laptop (SQLite, filesystem broker) and on a cluster (PostgreSQL, Redis)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import orjson
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from aiplatform.credentials import load_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AIP_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Profile and signing key ------------------------------------------------------------------
# AIP_ENV=production: HTTPS only (HSTS, SSL redirect, secure cookies), never DEBUG, and a signing key
# that must be given. The embedded default (development) writes a random key to var/secret-key once
# and every process of `make run` reads it: no key published anywhere signs for a running server.
AIP_ENV = os.environ.get("AIP_ENV", "development").strip().lower()
if AIP_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"AIP_ENV is {AIP_ENV!r}; set it to 'development' (the default) or 'production'.")
PRODUCTION = AIP_ENV == "production"
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("AIP_ENV=production refuses DEBUG=true: debug pages show settings, code and "
                               "queries to anyone. Unset DEBUG.")
if os.environ.get("SECRET_KEY_FILE"):
    _secret_key_file = Path(os.environ["SECRET_KEY_FILE"])
else:  # production never uses a key one host made for itself: the others would not share it
    _secret_key_file = None if PRODUCTION else VAR_DIR / "secret-key"
SECRET_KEY = load_secret_key(
    value=os.environ.get("SECRET_KEY", "").strip(), key_file=_secret_key_file, generate=not PRODUCTION, debug=DEBUG,
)
# Where the key was read from, if a file (the local backend's sandboxes cover it).
SECRET_KEY_FILE = _secret_key_file
# Former keys, still accepted on signed values (links, tokens, sessions) while a new key rolls out.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "axes",
    "csp",
    "aiplatform",
    "resourcepools",
    "training",
    "inference",
    "notebooks",
    "datasets",
    "k8s",
    "billing",
    "gateway",
    "console",
]

MIDDLEWARE = [
    "aiplatform.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "aiplatform.audit.AuditMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: it answers for locked-out logins
]

ROOT_URLCONF = "aiplatform.urls"
WSGI_APPLICATION = "aiplatform.wsgi.application"
ASGI_APPLICATION = "aiplatform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context.console",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'aiplatform.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
SILENCED_SYSTEM_CHECKS = []
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database is shared by the API, the worker and beat: wait for locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    # Covering indexes (billing's usage_runs) are PostgreSQL's; SQLite builds them without the
    # included columns, which is all the embedded database needs.
    SILENCED_SYSTEM_CHECKS.append("models.W040")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: a locked-out login is refused before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security -----------------------------------------------------------------------------------
# The largest documented request, a batch of 1,000 samples, is about 8 MB; larger bodies get a 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(16 * 1024 * 1024)))
# Proxies in front of the API that append the client's address to X-Forwarded-For (0: the peer's
# address is the client's). Rate limits, login lockouts and the audit trail use that address.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# The networks those proxies connect from: X-Forwarded-For is read only on requests whose peer is
# one of them (comma-separated CIDRs; empty: never). Anyone else reaching the API directly — the
# local backend's workloads come from loopback — cannot choose the address it is counted under.
TRUSTED_PROXY_NETWORKS = env_list("TRUSTED_PROXY_NETWORKS", "")
# Live (unrevoked, unexpired) API keys a user may hold at once (0: no bound).
API_KEYS_PER_USER = int(os.environ.get("API_KEYS_PER_USER", "50"))
# "Header: value" that a TLS-terminating proxy sets on requests that reached it over HTTPS, e.g.
# "X-Forwarded-Proto: https": only where that proxy fronts every request and overwrites the header.
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    _header, _, _value = os.environ["SECURE_PROXY_SSL_HEADER"].partition(":")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _header.strip().upper().replace("-", "_"), _value.strip())
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # the admin, the browsable API and Swagger UI take the token from the page
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # orchestrators probe a pod over plain HTTP
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# Every page (console, admin, API docs) runs scripts from this origin only. Inline styles are
# allowed: Swagger UI's page has a style block, and style injection cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Session logins (the admin, the console) through django-axes: after LOGIN_FAILURE_LIMIT failures
# for one user name from one address, that pair is locked out for LOGIN_COOLOFF_MINUTES (by pair,
# so that nobody locks an operator out from elsewhere by failing with their name).
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "aiplatform.network.client_address"
AXES_RESET_ON_SUCCESS = True

# --- Console ----------------------------------------------------------------------------------
# The tenants' web pages (console/): session logins through django-axes, invitations and password
# resets by Django's set-password links, which work once and die after INVITATION_LINK_HOURS.
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"
PASSWORD_RESET_TIMEOUT = int(float(os.environ.get("INVITATION_LINK_HOURS", "72")) * 3600)
# Mail invited people their set-password link (else the admin who invited them hands it over).
INVITATION_EMAILS = env_bool("INVITATION_EMAILS", False)
# The chat playground calls the gateway, which takes API keys only: the console gives the page a key
# of the signed-in user that expires after this many minutes (and is revoked at sign-out).
CONSOLE_PLAYGROUND_KEY_MINUTES = int(os.environ.get("CONSOLE_PLAYGROUND_KEY_MINUTES", "15"))
# Nodes of `make run`'s public pool 'local' (bootstrap_local_pool): a job, a service and its benchmark at once.
LOCAL_POOL_NODES = int(os.environ.get("LOCAL_POOL_NODES", "3"))
# How often the console's live parts (progress, logs, curves, queues) ask the API again.
CONSOLE_POLL_SECONDS = float(os.environ.get("CONSOLE_POLL_SECONDS", "2"))

# --- Celery -----------------------------------------------------------------------------------
# The embedded default is kombu's filesystem transport: no broker server to install.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange tables (broadcasts, the workers' pidbox), which otherwise land in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "admit-workloads": {
        "task": "resourcepools.tasks.admit_workloads",
        "schedule": timedelta(seconds=float(os.environ.get("ADMISSION_INTERVAL_SECONDS", "5"))),
    },
    "read-trainer-logs": {
        "task": "training.tasks.read_trainer_logs",
        "schedule": timedelta(seconds=60),
    },
    "reconcile-workloads": {
        "task": "k8s.tasks.reconcile_workloads",
        "schedule": timedelta(seconds=float(os.environ.get("RECONCILE_INTERVAL_SECONDS", "10"))),
    },
    "purge-expired-idempotency-keys": {
        "task": "aiplatform.tasks.purge_expired_idempotency_keys",
        "schedule": timedelta(minutes=10),
    },
    "billing-meter-usage": {"task": "billing.tasks.meter_usage", "schedule": timedelta(minutes=5)},
    "billing-rate-usage": {"task": "billing.tasks.rate_usage", "schedule": timedelta(minutes=5)},
    "billing-process-subscriptions": {"task": "billing.tasks.process_subscriptions", "schedule": timedelta(minutes=1)},
    "billing-enforce-arrears": {"task": "billing.tasks.enforce_arrears", "schedule": timedelta(minutes=5)},
    "billing-check-packages": {"task": "billing.tasks.check_packages", "schedule": timedelta(hours=1)},
    "billing-generate-bills": {"task": "billing.tasks.generate_bills", "schedule": timedelta(hours=1)},
}
BROKER_HEALTH_TIMEOUT = float(os.environ.get("BROKER_HEALTH_TIMEOUT", "2"))
# /readyz names the failed check and its error to everyone (else only to operators and the log).
READYZ_DETAILS = env_bool("READYZ_DETAILS", False)
# Where tasks go and workers take them from (`celery worker -Q`); installations sharing a broker
# keep apart by it.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Redis gives a message that a worker took but did not acknowledge (acks_late: until its task
# ends) to another worker this long after delivery: what a killed worker held runs again. It must
# exceed the longest task, or a task still running is handed out a second time. Dataset imports,
# exports and publications do not wait for it: the reaper requeues them once their heartbeat stops.
BROKER_VISIBILITY_TIMEOUT = int(os.environ.get("BROKER_VISIBILITY_TIMEOUT", "3600"))
if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sentinel://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
        # A broker that is down fails a send within this, not after the system's TCP timeout.
        "socket_connect_timeout": BROKER_HEALTH_TIMEOUT,
    }
# How long a request trusts the last word on whether the broker is reachable; while it is not,
# requests that would enqueue work answer 503 with this Retry-After and create nothing.
BROKER_CHECK_INTERVAL_SECONDS = float(os.environ.get("BROKER_CHECK_INTERVAL_SECONDS", "5"))
UNAVAILABLE_RETRY_AFTER_SECONDS = int(os.environ.get("UNAVAILABLE_RETRY_AFTER_SECONDS", "5"))
# The outbox relay sends the messages that could not be sent when their transaction committed.
OUTBOX_RELAY_INTERVAL_SECONDS = float(os.environ.get("OUTBOX_RELAY_INTERVAL_SECONDS", "10"))
# A message the broker refuses for a reason of its own (not an outage) is tried this many times.
OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "20"))
# A long task's worker shows it is alive this often; silent this long, the reaper (every
# TASK_REAPER_INTERVAL_SECONDS) requeues the task, and after TASK_MAX_ATTEMPTS runs fails it.
TASK_HEARTBEAT_SECONDS = float(os.environ.get("TASK_HEARTBEAT_SECONDS", "10"))
TASK_STALLED_AFTER_SECONDS = float(os.environ.get("TASK_STALLED_AFTER_SECONDS", "120"))
TASK_REAPER_INTERVAL_SECONDS = float(os.environ.get("TASK_REAPER_INTERVAL_SECONDS", "60"))
TASK_MAX_ATTEMPTS = int(os.environ.get("TASK_MAX_ATTEMPTS", "3"))
CELERY_BEAT_SCHEDULE.update({
    # Expiring with their interval: after an outage, one relay and one reaper run, not a backlog.
    "relay-outbox": {
        "task": "aiplatform.tasks.relay_outbox",
        "schedule": timedelta(seconds=OUTBOX_RELAY_INTERVAL_SECONDS),
        "options": {"expires": OUTBOX_RELAY_INTERVAL_SECONDS},
    },
    "reap-stalled-dataset-tasks": {
        "task": "datasets.tasks.reap_stalled_tasks",
        "schedule": timedelta(seconds=TASK_REAPER_INTERVAL_SECONDS),
        "options": {"expires": TASK_REAPER_INTERVAL_SECONDS},
    },
})

# --- Scheduling ------------------------------------------------------------------------------
# Queued workloads considered per pool per admission pass (the head of each queue).
ADMISSION_LOOKAHEAD = int(os.environ.get("ADMISSION_LOOKAHEAD", "2000"))
# A gang blocked this long holds its flavors against same-priority work behind it.
ADMISSION_STARVATION_SECONDS = float(os.environ.get("ADMISSION_STARVATION_SECONDS", "600"))
# A blocked gang holds its flavors' nodes at most this long at a time, then lets other work use
# them for ADMISSION_HOLD_COOLDOWN_SECONDS before it may hold again.
ADMISSION_MAX_HOLD_SECONDS = float(os.environ.get("ADMISSION_MAX_HOLD_SECONDS", "3600"))
ADMISSION_HOLD_COOLDOWN_SECONDS = float(os.environ.get("ADMISSION_HOLD_COOLDOWN_SECONDS", "3600"))
# Admitted work not running after ADMISSION_START_TIMEOUT_SECONDS (image pull, node trouble) is
# evicted and queued again, admitted no sooner than a backoff (doubling from
# ADMISSION_EVICTION_BACKOFF_SECONDS); admitted ADMISSION_MAX_TRIES times without starting, it fails.
ADMISSION_START_TIMEOUT_SECONDS = float(os.environ.get("ADMISSION_START_TIMEOUT_SECONDS", "900"))
ADMISSION_EVICTION_BACKOFF_SECONDS = float(os.environ.get("ADMISSION_EVICTION_BACKOFF_SECONDS", "60"))
ADMISSION_MAX_TRIES = int(os.environ.get("ADMISSION_MAX_TRIES", "3"))
# Workload priorities tenants may set: from the floor (below 0: scavenger work) to the top, which
# an account's plan (Account.max_priority) overrides; operators may go up to the hard cap.
WORKLOAD_MIN_PRIORITY = int(os.environ.get("WORKLOAD_MIN_PRIORITY", "-10"))
WORKLOAD_MAX_PRIORITY = int(os.environ.get("WORKLOAD_MAX_PRIORITY", "10"))
WORKLOAD_OPERATOR_MAX_PRIORITY = int(os.environ.get("WORKLOAD_OPERATOR_MAX_PRIORITY", "1000"))

# --- Training ----------------------------------------------------------------------------------
# Where job runtimes reach the API (metrics reports with their job token).
PLATFORM_URL = os.environ.get("PLATFORM_URL", "http://127.0.0.1:8000")
TRAINING_JOB_TOKEN_MAX_AGE = int(os.environ.get("TRAINING_JOB_TOKEN_MAX_AGE", str(7 * 24 * 3600)))
BENCHMARK_TOKEN_MAX_AGE = int(os.environ.get("BENCHMARK_TOKEN_MAX_AGE", str(7 * 24 * 3600)))
# Fractions of logged steps dropped at the start and end of a throughput window.
TRAINING_THROUGHPUT_WARMUP = float(os.environ.get("TRAINING_THROUGHPUT_WARMUP", "0.1"))
TRAINING_THROUGHPUT_TAIL = float(os.environ.get("TRAINING_THROUGHPUT_TAIL", "0.1"))
# Failure reasons of a job's workload that are the infrastructure's, not the job's: a job with
# retries left runs again from its latest checkpoint (out of memory and the job's own errors are not).
TRAINING_RETRY_REASONS = tuple(r.strip() for r in os.environ.get(
    "TRAINING_RETRY_REASONS", "ReplicaLost,ObjectsVanished,Evicted,Preempted,NodeLost").split(",") if r.strip())
TRAINING_MAX_RETRIES = int(os.environ.get("TRAINING_MAX_RETRIES", "10"))
# Where LLM jobs keep converted weights and preprocessed data for reuse, under the workspace's location.
TRAINING_LLM_CACHE_PATH = os.environ.get("TRAINING_LLM_CACHE_PATH", "llm-cache/")
# TensorBoard visualization jobs: their image, their share of a CPU node, and the idle time after
# which they stop (checked every VISUALIZATION_IDLE_CHECK_SECONDS).
VISUALIZATION_IMAGE = os.environ.get("VISUALIZATION_IMAGE",
                                     "swr.cn-southwest-2.myhuaweicloud.com/aiplatform/llm-finetune:3.0.0")
VISUALIZATION_VCPUS = int(os.environ.get("VISUALIZATION_VCPUS", "1"))
VISUALIZATION_MEMORY_GIB = int(os.environ.get("VISUALIZATION_MEMORY_GIB", "2"))
VISUALIZATION_IDLE_TIMEOUT_SECONDS = int(os.environ.get("VISUALIZATION_IDLE_TIMEOUT_SECONDS", "3600"))
VISUALIZATION_IDLE_CHECK_SECONDS = float(os.environ.get("VISUALIZATION_IDLE_CHECK_SECONDS", "60"))
CELERY_BEAT_SCHEDULE["stop-idle-visualizations"] = {
    "task": "training.tasks.stop_idle_visualizations",
    "schedule": timedelta(seconds=VISUALIZATION_IDLE_CHECK_SECONDS),
    "options": {"expires": VISUALIZATION_IDLE_CHECK_SECONDS},
}

# --- Notebooks ---------------------------------------------------------------------------------
# JupyterLab development environments: their storage's largest size, their idle timeout (default
# and range, checked every NOTEBOOK_IDLE_CHECK_SECONDS against Jupyter's /api/status) and lifetime range.
NOTEBOOK_MAX_STORAGE_GIB = int(os.environ.get("NOTEBOOK_MAX_STORAGE_GIB", "500"))
NOTEBOOK_IDLE_TIMEOUT_SECONDS = int(os.environ.get("NOTEBOOK_IDLE_TIMEOUT_SECONDS", "3600"))
NOTEBOOK_IDLE_TIMEOUT_RANGE = (60, 7 * 24 * 3600)
NOTEBOOK_MAX_LIFETIME_RANGE = (600, 90 * 24 * 3600)
NOTEBOOK_STATUS_TIMEOUT_SECONDS = float(os.environ.get("NOTEBOOK_STATUS_TIMEOUT_SECONDS", "5"))
NOTEBOOK_IDLE_CHECK_SECONDS = float(os.environ.get("NOTEBOOK_IDLE_CHECK_SECONDS", "60"))
CELERY_BEAT_SCHEDULE["stop-idle-notebooks"] = {
    "task": "notebooks.tasks.stop_idle_notebooks",
    "schedule": timedelta(seconds=NOTEBOOK_IDLE_CHECK_SECONDS),
    "options": {"expires": NOTEBOOK_IDLE_CHECK_SECONDS},
}

# --- Inference ---------------------------------------------------------------------------------
# Memory a serving runtime keeps per card beyond weights and KV cache (activations, graphs).
INFERENCE_RUNTIME_RESERVE_GIB = float(os.environ.get("INFERENCE_RUNTIME_RESERVE_GIB", "2"))
# Serving images carry the platform's launcher (inference/runtime/Dockerfile builds vLLM's) that
# brings a model to a local path before the runtime starts.
INFERENCE_RUNTIME_IMAGES = {
    "vllm": os.environ.get("INFERENCE_IMAGE_VLLM", "aiplatform/vllm-serve:0.32.0"),
    "sglang": os.environ.get("INFERENCE_IMAGE_SGLANG", "lmsysorg/sglang:v0.5.4"),
    "mindie": os.environ.get("INFERENCE_IMAGE_MINDIE", "swr.cn-south-1.myhuaweicloud.com/ascendhub/mindie:2.1.RC1"),
    "tgi": os.environ.get("INFERENCE_IMAGE_TGI", "ghcr.io/huggingface/text-generation-inference:3.3.6"),
    "builtin": os.environ.get("INFERENCE_IMAGE_BUILTIN", "python:3.11-slim"),
}
# The quantization job's image (llm-compressor; inference/runtime/Dockerfile.quantize).
INFERENCE_QUANTIZATION_IMAGE = os.environ.get("INFERENCE_QUANTIZATION_IMAGE", "aiplatform/quantize:0.14")
# --- Compute backends (k8s app) ----------------------------------------------------------------
COMPUTE_BACKEND = os.environ.get("COMPUTE_BACKEND", "local")  # local | kubernetes
# Empty: in-cluster config when running in a pod, else ~/.kube/config.
KUBECONFIG = os.environ.get("KUBECONFIG", "")
K8S_CONTEXT = os.environ.get("K8S_CONTEXT", "")
K8S_NAMESPACE_PREFIX = os.environ.get("K8S_NAMESPACE_PREFIX", "aip-ws-")
K8S_POOL_LABEL = os.environ.get("K8S_POOL_LABEL", "aiplatform.io/pool")
K8S_DEDICATED_TAINT = os.environ.get("K8S_DEDICATED_TAINT", "aiplatform.io/dedicated")
K8S_GPU_RESOURCE = os.environ.get("K8S_GPU_RESOURCE", "nvidia.com/gpu")
K8S_NPU_RESOURCE = os.environ.get("K8S_NPU_RESOURCE", "huawei.com/Ascend910")
K8S_REQUEST_TIMEOUT = float(os.environ.get("K8S_REQUEST_TIMEOUT", "30"))
# Each workspace namespace's NetworkPolicy admits traffic from its own pods and from namespaces with
# these labels (where the gateway and the platform run), and sends nowhere in other workspaces.
K8S_PLATFORM_NAMESPACE_LABELS = os.environ.get("K8S_PLATFORM_NAMESPACE_LABELS",
                                               "kubernetes.io/metadata.name=aiplatform")
# The cluster's pod and service CIDRs (comma-separated): left out of the rule that lets workloads
# reach addresses outside the cluster, for network plugins that apply CIDR rules to pods too.
K8S_CLUSTER_CIDRS = os.environ.get("K8S_CLUSTER_CIDRS", "")
LOCAL_BACKEND_DIR = Path(os.environ.get("LOCAL_BACKEND_DIR", VAR_DIR / "local-backend"))
# Local replicas run sandboxed by bubblewrap; where it cannot sandbox, workloads are refused unless
# the installation says it is single-tenant (then they run unsandboxed).
LOCAL_BACKEND_BWRAP = os.environ.get("LOCAL_BACKEND_BWRAP", "bwrap")
LOCAL_BACKEND_SINGLE_TENANT = env_bool("LOCAL_BACKEND_SINGLE_TENANT", False)
# When the platform runs as root, each workspace's sandboxed commands run as a user (and group) of
# their own from this range, which no account of the machine may use (systemd leaves it unused).
LOCAL_BACKEND_SANDBOX_UIDS = os.environ.get("LOCAL_BACKEND_SANDBOX_UIDS", "1879048192-1879113727")
# A replica's /tmp (memory) holds at most its memory share, or this many MiB if less (empty: its share).
LOCAL_BACKEND_SANDBOX_TMP_MIB = int(os.environ["LOCAL_BACKEND_SANDBOX_TMP_MIB"]) \
    if os.environ.get("LOCAL_BACKEND_SANDBOX_TMP_MIB") else None
LOCAL_BACKEND_SANDBOX_NOFILE = int(os.environ.get("LOCAL_BACKEND_SANDBOX_NOFILE", "65536"))
LOCAL_BACKEND_SANDBOX_NPROC = int(os.environ.get("LOCAL_BACKEND_SANDBOX_NPROC", "4096"))
# auto: a cgroup v2 per replica under /sys/fs/cgroup/aiplatform where the machine has one; a path:
# a delegated cgroup v2 folder; off: prlimit only.
LOCAL_BACKEND_CGROUP = os.environ.get("LOCAL_BACKEND_CGROUP", "auto")
# Objects of a finished workload stay this long (their logs stay readable), then go.
FINISHED_OBJECTS_RETENTION_SECONDS = float(os.environ.get("FINISHED_OBJECTS_RETENTION_SECONDS", "3600"))
# --- Billing ----------------------------------------------------------------------------------
# Hours an expired subscription's pool keeps running work (frozen: no new work) before it is stopped.
BILLING_SUBSCRIPTION_GRACE_HOURS = float(os.environ.get("BILLING_SUBSCRIPTION_GRACE_HOURS", "24"))
# Days after expiry that an unrenewed dedicated pool is released.
BILLING_SUBSCRIPTION_RETENTION_DAYS = float(os.environ.get("BILLING_SUBSCRIPTION_RETENTION_DAYS", "7"))
# Hours an account in arrears keeps running pay-per-use work before it is stopped.
BILLING_ARREARS_GRACE_HOURS = float(os.environ.get("BILLING_ARREARS_GRACE_HOURS", "24"))
# Hours after a month ends before its bills are closed (final).
BILLING_BILL_SETTLE_HOURS = float(os.environ.get("BILLING_BILL_SETTLE_HOURS", "24"))
# Mail billing notifications to account admins through Django's email backend.
BILLING_EMAIL_NOTIFICATIONS = env_bool("BILLING_EMAIL_NOTIFICATIONS", False)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "billing@aiplatform.local")

# --- API --------------------------------------------------------------------------------------
API_KEY_PREFIX = "aip"
# The default cache holds the rate-limit counters: Redis with CACHE_URL, shared by every process and
# host; without it each process counts in its own memory (the embedded default: `make run`'s two
# gunicorn workers count apart).
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL:
    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL, "KEY_PREFIX": "aip",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }}
elif PRODUCTION:
    raise ImproperlyConfigured("AIP_ENV=production needs CACHE_URL (e.g. redis://host:6379/1): rate limits "
                               "counted in each process's memory are no limit across workers and hosts.")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Requests per minute per API key (per user for session callers; an account's plan may set its
# own), for operators, and bad API keys per client address; 0: no limit.
API_RATE_LIMIT_PER_MINUTE = int(os.environ.get("API_RATE_LIMIT_PER_MINUTE", "600"))
API_RATE_LIMIT_OPERATOR_PER_MINUTE = int(os.environ.get("API_RATE_LIMIT_OPERATOR_PER_MINUTE", "6000"))
API_KEY_FAILURES_PER_MINUTE = int(os.environ.get("API_KEY_FAILURES_PER_MINUTE", "30"))
IDEMPOTENCY_KEY_TTL = timedelta(hours=int(os.environ.get("IDEMPOTENCY_KEY_TTL_HOURS", "24")))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "aiplatform.authentication.ApiKeyAuthentication",
        "aiplatform.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "aiplatform.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "aiplatform.pagination.Pagination",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "aiplatform.negotiation.ContentNegotiation",
    "DEFAULT_FILTER_BACKENDS": [
        "aiplatform.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "aiplatform.schema.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    # orjson renders in a tenth of the time of the json module; UTC times still end in Z.
    "DEFAULT_RENDERER_CLASSES": [
        "drf_orjson_renderer.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_UTC_Z,),
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "aiplatform.errors.ExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "429", "500",
                                   "503"],
    "ERROR_SCHEMAS": {
        "409": "aiplatform.errors.ConflictErrorResponseSerializer",
        "413": "aiplatform.errors.PayloadTooLargeErrorResponseSerializer",
        "503": "aiplatform.errors.ServiceUnavailableErrorResponseSerializer",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AI Platform API",
    "DESCRIPTION": (
        "Datasets and annotation, training, inference services, resource pools and billing. "
        "Authenticate with `Authorization: Bearer <api key>`. Every error has the shape "
        "`{type, errors: [{code, detail, attr}]}`. Creating POSTs accept an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No badge from the online validator: it would send the schema's address elsewhere (and the
    # content security policy blocks its image).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "MembershipRoleEnum": "aiplatform.models.Role.choices",
        "WorkloadPhaseEnum": "resourcepools.models.Phase.choices",
        "PoolStatusEnum": "resourcepools.models.PoolStatus.choices",
        "ServiceStateEnum": "inference.models.ServiceState.choices",
        "DeploymentModeEnum": "inference.models.DeploymentMode.choices",
        "BenchmarkModeEnum": "inference.models.BenchmarkMode.choices",
        "BenchmarkStatusEnum": "inference.models.BenchmarkStatus.choices",
        "DatasetStatusEnum": "datasets.models.DatasetStatus.choices",
        "SampleStatusEnum": "datasets.models.SampleStatus.choices",
        "DatasetVersionStatusEnum": "datasets.models.VersionStatus.choices",
        "TaskStatusEnum": "datasets.models.TaskStatus.choices",
        "AnnotationTaskStatusEnum": "datasets.models.AnnotationTaskStatus.choices",
        "AnnotationItemStatusEnum": "datasets.models.AnnotationItemStatus.choices",
        "PredictionStateEnum": "datasets.models.PredictionState.choices",
        "SubscriptionStatusEnum": "billing.models.SubscriptionStatus.choices",
    },
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Gateway (the ASGI serving path: gateway/) -----------------------------------------------
# Where the gateway passes the requests it does not serve itself (everything but service calls
# and log follows): the API, e.g. http://127.0.0.1:8001 under `make run`; empty: those answer 404
# (production: the load balancer sends only the gateway's paths to it).
GATEWAY_API_URL = os.environ.get("GATEWAY_API_URL", "").rstrip("/")
# Redis shared by every gateway process (limits' counters, metering, cache invalidation); empty:
# each process counts in its own memory and writes its own metering to the database.
GATEWAY_REDIS_URL = os.environ.get("GATEWAY_REDIS_URL", CACHE_URL)
# API keys, memberships and services are re-read at least this often (a revoked key stops within
# it; changes published through Redis apply at once); while the database is unreachable, what was
# read is used up to GATEWAY_CACHE_STALE_SECONDS old.
GATEWAY_CACHE_SECONDS = float(os.environ.get("GATEWAY_CACHE_SECONDS", "5"))
GATEWAY_CACHE_STALE_SECONDS = float(os.environ.get("GATEWAY_CACHE_STALE_SECONDS", "60"))
GATEWAY_ENDPOINTS_REFRESH_SECONDS = float(os.environ.get("GATEWAY_ENDPOINTS_REFRESH_SECONDS", "2"))
GATEWAY_DB_THREADS = int(os.environ.get("GATEWAY_DB_THREADS", "4"))
GATEWAY_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("GATEWAY_CONNECT_TIMEOUT_SECONDS", "5"))
# An instance silent this long (before its answer or between two chunks of it) has hung.
GATEWAY_READ_TIMEOUT_SECONDS = float(os.environ.get("GATEWAY_READ_TIMEOUT_SECONDS", "300"))
# Limits per minute (0: none): each API key's requests and tokens over all services, and each
# service's (a service's own limits, PUT …/services/{id}/limits/, replace these).
GATEWAY_KEY_REQUESTS_PER_MINUTE = int(os.environ.get("GATEWAY_KEY_REQUESTS_PER_MINUTE", "600"))
GATEWAY_KEY_TOKENS_PER_MINUTE = int(os.environ.get("GATEWAY_KEY_TOKENS_PER_MINUTE", "0"))
GATEWAY_SERVICE_REQUESTS_PER_MINUTE = int(os.environ.get("GATEWAY_SERVICE_REQUESTS_PER_MINUTE", "0"))
GATEWAY_SERVICE_TOKENS_PER_MINUTE = int(os.environ.get("GATEWAY_SERVICE_TOKENS_PER_MINUTE", "0"))
GATEWAY_MAX_STREAMS_PER_INSTANCE = int(os.environ.get("GATEWAY_MAX_STREAMS_PER_INSTANCE", "0"))
# Outlier ejection: an instance that refuses connections, or answers this many 5xx in a row, is
# set aside for GATEWAY_EJECT_SECONDS (doubling while it keeps failing).
GATEWAY_EJECT_AFTER_ERRORS = int(os.environ.get("GATEWAY_EJECT_AFTER_ERRORS", "5"))
GATEWAY_EJECT_SECONDS = float(os.environ.get("GATEWAY_EJECT_SECONDS", "10"))
# Prefix-aware routing (a service's option): prompts are hashed in blocks of this many characters;
# the instance that served a prefix gets it again unless it has this many more requests in
# flight than the least busy one.
GATEWAY_PREFIX_BLOCK_CHARS = int(os.environ.get("GATEWAY_PREFIX_BLOCK_CHARS", "256"))
GATEWAY_PREFIX_MAX_IMBALANCE = int(os.environ.get("GATEWAY_PREFIX_MAX_IMBALANCE", "8"))
# Metering: each process adds its requests up and hands the sums to Redis this often; the sums go
# to the database (traffic, billing's token usage) this often, in one transaction per batch.
GATEWAY_METER_PUSH_SECONDS = float(os.environ.get("GATEWAY_METER_PUSH_SECONDS", "1"))
GATEWAY_METER_FLUSH_SECONDS = float(os.environ.get("GATEWAY_METER_FLUSH_SECONDS", "10"))

# --- object storage ---------------------------------------------------------------------------
# s3:// and obs:// URIs go to this S3-compatible endpoint (empty: AWS); file:// URIs to a directory.
OBJECT_STORAGE_ENDPOINT_URL = os.environ.get("OBJECT_STORAGE_ENDPOINT_URL", "")
OBJECT_STORAGE_REGION = os.environ.get("OBJECT_STORAGE_REGION", "us-east-1")
OBJECT_STORAGE_ACCESS_KEY_ID = os.environ.get("OBJECT_STORAGE_ACCESS_KEY_ID", "")
OBJECT_STORAGE_SECRET_ACCESS_KEY = os.environ.get("OBJECT_STORAGE_SECRET_ACCESS_KEY", "")
OBJECT_STORAGE_PATH_STYLE = env_bool("OBJECT_STORAGE_PATH_STYLE", False)
LOCAL_STORAGE_ROOT = Path(os.environ.get("LOCAL_STORAGE_ROOT", VAR_DIR / "storage"))
# Where the platform keeps each workspace's managed location: `file://` (a bucket `ws-<id>` of the
# embedded storage each) or `s3://bucket/prefix` / `obs://bucket/prefix` (a prefix `ws-<id>/` each).
PLATFORM_STORAGE_URI = os.environ.get("PLATFORM_STORAGE_URI", "file://")
# A role the platform assumes to hand workloads short-lived credentials for their workspace's
# prefix of an s3:// or obs:// PLATFORM_STORAGE_URI (empty: such workloads get none).
PLATFORM_STORAGE_ROLE_ARN = os.environ.get("PLATFORM_STORAGE_ROLE_ARN", "")
# The external id the platform sends when it assumes that role: only the platform knows it, so a
# tenant's storage connection naming the same role (assumed with the connection's own external id)
# is refused by the role's trust policy, which must require this one.
PLATFORM_STORAGE_ROLE_EXTERNAL_ID = os.environ.get("PLATFORM_STORAGE_ROLE_EXTERNAL_ID", "")
# Endpoints storage connections may name besides the platform's own (no other hosts are dialled).
STORAGE_CONNECTION_ENDPOINTS = env_list("STORAGE_CONNECTION_ENDPOINTS", "")
# Fernet keys for secrets at rest, the first encrypting (empty: one derived from SECRET_KEY).
STORAGE_ENCRYPTION_KEYS = env_list("STORAGE_ENCRYPTION_KEYS", "")
# Lifetime of download links and of workloads' short-lived storage credentials, in seconds.
STORAGE_DOWNLOAD_LINK_SECONDS = int(os.environ.get("STORAGE_DOWNLOAD_LINK_SECONDS", "900"))
STORAGE_CREDENTIALS_SECONDS = int(os.environ.get("STORAGE_CREDENTIALS_SECONDS", "3600"))

# --- SDK / uploads ------------------------------------------------------------------------------
# Uploads in parts into a workspace's locations (POST /api/v1/workspaces/{id}/uploads/): the largest
# object, the smallest part (larger for objects that would need over 1,000 parts; S3 refuses parts
# under 5 MiB), how long an upload may be resumed (the embedded storage's staging folders are
# swept after it), and the lifetime of the presigned links for S3/OBS parts.
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(50 * 1024**3)))
UPLOAD_PART_BYTES = max(5 * 1024**2, int(os.environ.get("UPLOAD_PART_BYTES", str(8 * 1024**2))))
UPLOAD_SESSION_SECONDS = int(os.environ.get("UPLOAD_SESSION_SECONDS", str(24 * 3600)))
UPLOAD_LINK_SECONDS = int(os.environ.get("UPLOAD_LINK_SECONDS", "3600"))
