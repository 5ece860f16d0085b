"""Settings of a project written against django-pymess's documented SMS API (SQLite in ``$SAMPLE_DATABASE``)."""

import os

SECRET_KEY = "sample-project-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Prague"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "pymess",
    "eshop",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SAMPLE_DATABASE"]}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

PYMESS_SMS_TEMPLATE_MODEL = "pymess.SMSTemplate"
PYMESS_SMS_USE_ACCENT = False
PYMESS_SMS_DEFAULT_PHONE_CODE = "+420"
PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME = "default"
PYMESS_SMS_BACKENDS = {"default": {"backend": "pymess.backend.sms.dummy.DummySMSBackend"}}
