"""A logging filter that removes the secrets of open backends from the records of an SDK's own loggers.

SDKs log requests at DEBUG, and some of what they log (a session token in a header, say) is a credential. A
backend registers its secrets while it is open and withdraws them when it closes; the same secret registered by
two backends stays until both have closed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from providers.base import scrub

__all__ = ["LoggerScrubber"]


class LoggerScrubber(logging.Filter):
    """Removes the registered secrets from the message of every record of the loggers named ``loggers``.

    The filter is attached to those loggers at the first :meth:`add` of a secret.
    """

    def __init__(self, loggers: Sequence[str]) -> None:
        super().__init__()
        self._loggers = tuple(loggers)
        self._secrets: dict[str, int] = {}

    def add(self, secrets: Iterable[str]) -> None:
        """Scrub ``secrets`` (empty strings are ignored) until they are discarded as often as added."""
        wanted = [secret for secret in secrets if secret]
        if not wanted:
            return
        for secret in wanted:
            self._secrets[secret] = self._secrets.get(secret, 0) + 1
        for name in self._loggers:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)

    def discard(self, secrets: Iterable[str]) -> None:
        """Withdraw one registration of each of ``secrets``."""
        for secret in secrets:
            left = self._secrets.get(secret, 0) - 1
            if left > 0:
                self._secrets[secret] = left
            else:
                self._secrets.pop(secret, None)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record``'s message without the secrets; never drops a record."""
        secrets = tuple(self._secrets)
        if not secrets:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is the logging module's business, not ours
            return True
        if any(secret in text for secret in secrets):
            record.msg = scrub(text, secrets)
            record.args = None
        return True
