"""The ``django`` storage: the core's ``{"storage": "django"}`` resolves to :func:`build_storage`."""

from __future__ import annotations

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS

from smscore import ConfigurationError, SMSConfig
from smscore.ports import Storage

__all__ = ["build_storage"]


def build_storage(config: SMSConfig) -> Storage:
    """Repositories (messages, templates, opt-outs, refusal totals, inbound SMS) and a rate limiter over the Django ORM, on the database alias ``storage_options["database"]``
    (``"default"``).

    Raises :class:`~smscore.ConfigurationError` when Django is not set up (``django.setup()`` not called, or
    ``adapters_django`` missing from ``INSTALLED_APPS``) or when the alias is not a configured database.
    """
    if not apps.ready:
        raise ConfigurationError(
            "storage 'django' needs a set-up Django project: call django.setup() first", key="storage"
        )
    if not apps.is_installed("adapters_django"):
        raise ConfigurationError("storage 'django' needs 'adapters_django' in INSTALLED_APPS", key="storage")
    from django.db import connections

    from adapters_django.guards import DjangoOptOutRepository, DjangoRefusalCounter
    from adapters_django.inbound import DjangoInboundRepository
    from adapters_django.rate_limit import DjangoRateLimiter
    from adapters_django.repositories import DjangoMessageRepository
    from adapters_django.template_repository import DjangoTemplateRepository

    database = config.storage_options.get("database", DEFAULT_DB_ALIAS)
    if database not in connections.settings:
        raise ConfigurationError(
            f"storage_options.database: {database!r} is not in DATABASES", key="storage_options.database"
        )
    return Storage(
        messages=DjangoMessageRepository(using=database),
        templates=DjangoTemplateRepository(using=database),
        rate_limiter=DjangoRateLimiter(using=database),
        opt_outs=DjangoOptOutRepository(using=database),
        refusals=DjangoRefusalCounter(using=database),
        inbound=DjangoInboundRepository(using=database),
    )
