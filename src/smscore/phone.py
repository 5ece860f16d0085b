"""Recipient numbers, normalised to E.164 with ``phonenumbers``.

>>> normalize_recipient("+420 777 123 456")
'+420777123456'
>>> normalize_recipient("777 123 456", default_region="CZ")
'+420777123456'
"""

from __future__ import annotations

import functools
import re
from typing import Final

from smscore.errors import ConfigurationError, InvalidRecipientError

__all__ = ["normalize_recipient", "region_for"]


#: Only what people type into a phone field: digits, a leading + or 00, spaces and the usual separators.
#: phonenumbers would turn letters into digits ("1-800-FLOWERS"), which is never what a caller meant here.
_ALLOWED: Final = re.compile(r"^\+?[0-9 ().\-/]{3,40}$")


def region_for(default: str | None) -> str | None:
    """Turn a default region setting into a region code.

    Accepts an ISO 3166 region (``"CZ"``) or, like the ancestor's ``DEFAULT_PHONE_CODE``, a calling code
    (``"+420"`` or ``"420"``). Raises :class:`~smscore.errors.ConfigurationError` for anything else.
    """
    if default is None or default == "":
        return None
    value = default.strip()
    import phonenumbers  # imported on first use: its metadata is large (keeps `import smscore` fast)

    if value.lstrip("+").isdigit():
        region = phonenumbers.region_code_for_country_code(int(value.lstrip("+")))
        if region == phonenumbers.UNKNOWN_REGION:
            raise ConfigurationError(f"default_region {default!r} is not a known calling code", key="default_region")
        return str(region)
    region = value.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigurationError(f"default_region {default!r} is not a known region code", key="default_region")
    return region


def normalize_recipient(raw: object, *, default_region: str | None = None) -> str:
    """Return ``raw`` as an E.164 number (``+420777123456``).

    A number without an international prefix is read in ``default_region`` (a region code such as ``"CZ"``;
    see :func:`region_for`). ``00`` is read as ``+``.

    Raises :class:`~smscore.errors.InvalidRecipientError` when ``raw`` is not a string, contains anything but
    digits, ``+`` and separators, or is not a possible phone number.
    """
    if not isinstance(raw, str):
        raise InvalidRecipientError(f"recipient must be a string, not {type(raw).__name__}")
    return _normalized(raw, default_region)


# Parsing costs about 20 us, and the same numbers come back (a code resent, a template's recipient checked by
# can_send and then stored): recent answers are kept. Refusals raise, so they are never cached.
@functools.lru_cache(maxsize=4096)
def _normalized(raw: str, default_region: str | None) -> str:
    text = raw.strip()
    if not _ALLOWED.match(text):
        raise InvalidRecipientError(f"recipient {raw[:40]!r} is not a phone number")
    import phonenumbers  # see region_for

    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if text.startswith("+") or default_region else " (no international prefix and no default region)"
        raise InvalidRecipientError(f"recipient {raw!r} is not a phone number{hint}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidRecipientError(f"recipient {raw!r} is not a possible phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
