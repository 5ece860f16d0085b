"""Secrets kept out of the logs: one filter that redacts the configured secrets in every record of smscore's
loggers, of the adapters' and of the SDK loggers the providers enable.

:func:`protect_logs` registers secrets (the composition root does it with :func:`secrets_in` when it builds a
service) and hooks the log record factory once, so that every record of the loggers named, and of their
children made at any time, is redacted when it is made: before any logger filter, handler or formatter sees
it. The message and its arguments, the exception text with its traceback and the stack text are redacted;
each secret is matched as given, percent-encoded and as ``repr`` shows it. When an exception's text held a
secret, the record keeps only the redacted text (``exc_text``) and drops the exception itself, so that no
handler can format it again.

>>> import logging
>>> secrets = protect_logs(["s3cr3t-token"])
>>> record = logging.getLogger("smscore").makeRecord("smscore", logging.INFO, __file__, 1, "token %s", ("s3cr3t-token",), None)
>>> record.getMessage()
'token ***'
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from smscore.config import SMSConfig

__all__ = ["LOGGERS", "MIN_SECRET_LENGTH", "SecretFilter", "protect_logs", "secrets_in"]

#: The loggers whose records are redacted (with their children): smscore's own, the adapters', and those of
#: the SDKs and HTTP clients the providers use.
LOGGERS: Final = (
    "smscore",
    "providers",
    "adapters_django",
    "adapters_sqlalchemy",
    "adapters_celery",
    "twilio",
    "boto3",
    "botocore",
    "httpx",
    "httpcore",
    "urllib3",
)

#: Shorter secrets are not redacted: replacing every "abc" in every log line would make logs unreadable, and a
#: secret that short protects nothing anyway.
MIN_SECRET_LENGTH: Final = 4

_MASK: Final = "***"
_FORMATTER: Final = logging.Formatter()


def _forms(secret: str) -> set[str]:
    """How a secret may appear in a log line: as given, percent-encoded, and as ``repr`` escapes it."""
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), repr(secret)[1:-1]}


class SecretFilter(logging.Filter):
    """A :class:`logging.Filter` that redacts secrets in a record and lets it through.

    Add secrets with :meth:`add`; attach the filter to a handler of your own with ``handler.addFilter(...)``
    when records of other loggers may carry them too.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Redact ``secrets`` from now on (those shorter than :data:`MIN_SECRET_LENGTH` are ignored)."""
        with self._lock:
            forms = set(self._secrets)
            for secret in secrets:
                if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
                    forms |= _forms(secret)
            if forms != self._secrets:
                self._secrets = forms
                # Longest first, so that no form is cut by a shorter one it contains.
                alternatives = sorted(forms, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, alternatives)))

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        pattern = self._pattern
        return text if pattern is None else pattern.sub(_MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message, exception text and stack text in place; always keep the record."""
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format: logging reports it when the record is emitted, with what is left here
            message = f"{record.msg} {record.args!r}"
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            text = _FORMATTER.formatException(record.exc_info)
            clean = self.redact(text)
            if clean != text:
                record.exc_text, record.exc_info = clean, None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FILTER: Final = SecretFilter()


class _Scope:
    """The loggers whose records the process-wide filter sees, read by the record factory on every record."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.roots: frozenset[str] = frozenset()
        self.children: tuple[str, ...] = ()

    def widen(self, names: Iterable[str]) -> bool:
        """Add ``names``; True when this is the first widening (the factory is still to be hooked)."""
        with self.lock:
            first = not self.roots
            self.roots = self.roots | set(names)
            self.children = tuple(f"{name}." for name in sorted(self.roots))
            return first

    def covers(self, name: object) -> bool:
        # logging.makeLogRecord makes its records nameless first, then fills them in.
        return isinstance(name, str) and (name in self.roots or name.startswith(self.children))


_SCOPE: Final = _Scope()


def protect_logs(secrets: Iterable[str], loggers: Iterable[str] = LOGGERS) -> SecretFilter:
    """Redact ``secrets`` in every record of ``loggers`` and their children, from now on, in this process.

    Secrets add up: two services built with different credentials both stay redacted. Returns the process-wide
    filter (to attach to handlers of your own).
    """
    _FILTER.add(secrets)
    if _SCOPE.widen(loggers):
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _SCOPE.covers(record.name):
                _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
    return _FILTER


def secrets_in(config: SMSConfig) -> set[str]:
    """The secrets of ``config``: provider and storage options named like secrets, and the password of
    ``database_url``."""
    from smscore.config import SECRET_OPTION_NAMES

    found: set[str] = set()
    tables = [provider.options for provider in config.providers.values()]
    tables.append(config.storage_options)
    for options in tables:
        for key, value in options.items():
            if str(key).lower() in SECRET_OPTION_NAMES and isinstance(value, str):
                found.add(value)
    if config.database_url:
        password = urllib.parse.urlsplit(config.database_url).password
        if password:
            found.update({password, urllib.parse.unquote(password)})
    return found
