"""``smscore db upgrade|check``: the database schema of the configured storage."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from smscore.cli.app import CLIError, Context, command

if TYPE_CHECKING:
    from smscore.config import SMSConfig
    from smscore.ports import SchemaManager

__all__ = ["db_check", "db_upgrade"]


def _schema(config: SMSConfig) -> SchemaManager:
    """The configured storage's schema role; a CLI error when it has none."""
    from smscore.bootstrap import storage_schema

    schema = storage_schema(config)
    if schema is None:
        raise CLIError(f"storage {config.storage!r} has no database schema to manage")
    return schema


@command("db upgrade", help="create or upgrade the database schema")
def db_upgrade(ctx: Context, args: argparse.Namespace) -> int:
    """Apply the storage's migrations to the configured database."""
    ctx.echo(_schema(ctx.config).upgrade_database(ctx.config))
    return 0


@command("db check", help="fail when the database schema differs from the code's")
def db_check(ctx: Context, args: argparse.Namespace) -> int:
    """Check that the configured database is at the newest revision and matches the models."""
    ctx.echo(_schema(ctx.config).check_database(ctx.config))
    return 0
