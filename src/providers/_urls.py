"""Gateway URLs from configuration: the check they must pass, and the form of them that logs may show."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from smscore.errors import ConfigurationError

__all__ = ["check_url", "safe_url"]

log = logging.getLogger(__name__)


def safe_url(url: str) -> str:
    """``url`` reduced to scheme, host, port and path: what may appear in logs and reprs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(url: object, *, key: str = "url") -> str:
    """Validate a gateway URL from configuration: ``http`` or ``https``, a host, no credentials in it.

    Raises :class:`~smscore.errors.ConfigurationError` keyed by ``key``.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"option {key!r} must be a URL", key=key)
    url = url.strip()
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise ConfigurationError(f"option {key!r} is not a valid URL", key=key) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(f"option {key!r} must be an http:// or https:// URL with a host", key=key)
    if parts.username is not None or parts.password is not None:
        # They would end up in logs; the gateways take credentials in the body anyway.
        raise ConfigurationError(f"option {key!r} must not contain credentials: use username and password", key=key)
    if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        log.warning("%s is plain HTTP: the password and every SMS text cross the network unencrypted", safe_url(url))
    return url
