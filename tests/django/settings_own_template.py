"""The test project with a template model of its own (``PYMESS_SMS_TEMPLATE_MODEL``), on an SQLite file named by
``SMSCORE_TEST_DB``. Used in subprocesses: the template model is fixed when Django starts."""

from __future__ import annotations

import os

from tests.django.settings import *  # noqa: F403

PYMESS_SMS_TEMPLATE_MODEL = "testapp.GuardedSMSTemplate"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SMSCORE_TEST_DB"]}}
