"""``smscore db upgrade|check``: the database schema of the configured storage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from smscore.cli.app import CLIError, Context, command

if TYPE_CHECKING:
    from smscore.config import SMSConfig

__all__ = ["db_check", "db_upgrade"]


def _storage_tool(config: SMSConfig, name: str) -> Callable[[SMSConfig], str]:
    """The function ``name`` of the module that holds the configured storage factory, if it has one."""
    from smscore.bootstrap import STORAGE_ALIASES, resolve

    factory = resolve(STORAGE_ALIASES.get(config.storage, config.storage), key="storage")
    module = sys.modules.get(getattr(factory, "__module__", ""))
    tool = getattr(module, name, None)
    if not callable(tool):
        raise CLIError(f"storage {config.storage!r} has no database schema to manage")
    return cast(Callable[["SMSConfig"], str], tool)


@command("db upgrade", help="create or upgrade the database schema")
def db_upgrade(ctx: Context, args: argparse.Namespace) -> int:
    """Apply the storage's migrations to the configured database."""
    ctx.echo(_storage_tool(ctx.config, "upgrade_database")(ctx.config))
    return 0


@command("db check", help="fail when the database schema differs from the code's")
def db_check(ctx: Context, args: argparse.Namespace) -> int:
    """Check that the configured database is at the newest revision and matches the models."""
    ctx.echo(_storage_tool(ctx.config, "check_database")(ctx.config))
    return 0
