"""The SMS app's management commands (in ``commands``) and the argument types they share."""

from __future__ import annotations

__all__ = ["positive_int"]


def positive_int(value: str) -> int:
    """An argparse ``type``: a whole number of at least 1 (anything else is refused with the usual message)."""
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number
