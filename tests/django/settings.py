"""Django settings for the adapter's tests: SQLite as ``default`` and, when reachable (always under CI), the
PostgreSQL server on 127.0.0.1:5432 as ``postgres``."""

from __future__ import annotations

import os
import socket
import tempfile

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
# Not UTC, so a wrong time-zone conversion shows.
TIME_ZONE = "Europe/Prague"
ALLOWED_HOSTS = ["testserver", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "adapters_django",
    "tests.django.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.django.urlconf"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES: dict[str, dict[str, object]] = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    # A file, not memory: several connections (threads) really compete for SQLite's write lock.
    "sqlite_file": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(tempfile.gettempdir(), f"smscore-django-{os.getpid()}.sqlite3"),
        "OPTIONS": {"timeout": 30},
        "TEST": {
            "NAME": os.path.join(tempfile.gettempdir(), f"smscore-django-test-{os.getpid()}.sqlite3"),
            "DEPENDENCIES": [],
        },
    },
}


def _postgres_wanted() -> bool:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return True  # CI must fail loudly when the server is missing, never skip
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


if _postgres_wanted():
    DATABASES["postgres"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "test",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        # One test database per process: two test runs on one machine must not drop each other's.
        "TEST": {"NAME": f"test_smscore_django_{os.getpid()}", "DEPENDENCIES": []},
    }
