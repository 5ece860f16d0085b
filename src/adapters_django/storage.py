"""The ``django`` storage: the core's ``{"storage": "django"}`` resolves to :data:`build_storage`, for the sync
service and, through ``build_async``, for the asyncio one.

Under asyncio the repositories are the same, and each call of one of their methods runs whole through
``asgiref.sync.sync_to_async(method, thread_sensitive=True)``, rather than on Django's ``a*`` queryset methods
(``aget``, ``acreate``...):

- those are themselves ``sync_to_async`` wrappers around the sync queries, one thread hop per query, so nothing
  is gained by calling them one by one;
- ``transaction.atomic`` cannot be used from async code, and every repository method is atomic (the port's
  promise: a batch stored whole, a compare-and-set save, a claim and its lease in one transaction). Run whole in
  one sync call, each method keeps its ``atomic`` block, its savepoints and its error translation.

``thread_sensitive=True`` runs the calls in the thread Django's async views run their sync code in (the main
thread under an ASGI server, one shared thread elsewhere), where the connections of ``DATABASES`` live as Django
expects. ``aclose`` closes the storage database's connection in that thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.apps import apps
from django.db import DEFAULT_DB_ALIAS

from smscore import ConfigurationError, SMSConfig
from smscore.async_ports import AsyncStorage
from smscore.ports import Storage

__all__ = ["DjangoStorageFactory", "build_storage", "run_in_django_thread"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class DjangoStorageFactory:
    """The factory ``{"storage": "django"}`` names (:data:`build_storage`)."""

    def __call__(self, config: SMSConfig) -> Storage:
        """Repositories (messages, templates, opt-outs, refusal totals, inbound SMS) and a rate limiter over the
        Django ORM, on the database alias ``storage_options["database"]`` (``"default"``).

        Raises :class:`~smscore.ConfigurationError` when Django is not set up (``django.setup()`` not called, or
        ``adapters_django`` missing from ``INSTALLED_APPS``) or when the alias is not a configured database.
        """
        if not apps.ready:
            raise ConfigurationError(
                "storage 'django' needs a set-up Django project: call django.setup() first", key="storage"
            )
        if not apps.is_installed("adapters_django"):
            raise ConfigurationError("storage 'django' needs 'adapters_django' in INSTALLED_APPS", key="storage")
        from adapters_django.guards import DjangoOptOutRepository, DjangoRefusalCounter
        from adapters_django.inbound import DjangoInboundRepository
        from adapters_django.rate_limit import DjangoRateLimiter
        from adapters_django.repositories import DjangoMessageRepository
        from adapters_django.template_repository import DjangoTemplateRepository

        database = _database(config)
        return Storage(
            messages=DjangoMessageRepository(using=database),
            templates=DjangoTemplateRepository(using=database),
            rate_limiter=DjangoRateLimiter(using=database),
            opt_outs=DjangoOptOutRepository(using=database),
            refusals=DjangoRefusalCounter(using=database),
            inbound=DjangoInboundRepository(using=database),
        )

    def build_async(self, config: SMSConfig) -> AsyncStorage:
        """The same repositories for the asyncio service, each method call run by :func:`run_in_django_thread`.
        Raises as :meth:`__call__` does."""
        storage = self(config)
        aclose = functools.partial(run_in_django_thread, _close_connection, _database(config))
        return AsyncStorage(storage=storage, run=run_in_django_thread, aclose=aclose)


#: Build the Django storage for a config: ``build_storage(config)``; see :class:`DjangoStorageFactory`.
build_storage = DjangoStorageFactory()


async def run_in_django_thread(fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """The :class:`~smscore.async_ports.BlockingRunner` of the Django storage: the whole call in
    ``sync_to_async(thread_sensitive=True)``, so that it stays one atomic ORM call (see the module's text)."""
    return await sync_to_async(fn, thread_sensitive=True)(*args, **kwargs)


def _close_connection(database: str) -> None:
    """Close this thread's connection to ``database`` (connections are per thread: run in the storage's)."""
    from django.db import connections

    connections[database].close()


def _database(config: SMSConfig) -> str:
    """The configured database alias; raises :class:`~smscore.ConfigurationError` when it is not in DATABASES."""
    from django.db import connections

    database: str = config.storage_options.get("database", DEFAULT_DB_ALIAS)
    if database not in connections.settings:
        raise ConfigurationError(
            f"storage_options.database: {database!r} is not in DATABASES", key="storage_options.database"
        )
    return database
