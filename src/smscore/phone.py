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

__all__ = ["REGION_KEY", "normalize_recipient", "region_for"]

#: The configuration key that says how national numbers (no international prefix) are read.
REGION_KEY: Final = "default_region"


#: Only what people type into a phone field: digits, a leading + or 00, spaces and the usual separators.
#: phonenumbers would turn letters into digits ("1-800-FLOWERS"), which is never what a caller meant here.
_ALLOWED: Final = re.compile(r"^\+?[0-9 ().\-/]{3,40}$")


def region_for(default: str | None) -> str | None:
    """Turn a default region setting into a region code.

    Accepts an ISO 3166 region (``"CZ"``) or, like django-pymess's ``DEFAULT_PHONE_CODE``, a calling code
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
    digits, ``+`` and separators, or is not a possible phone number; for a national number read without a default
    region, its ``key`` is :data:`REGION_KEY`, the setting that fixes it.
    """
    if not isinstance(raw, str):
        raise InvalidRecipientError(f"recipient must be a string, not {type(raw).__name__}")
    return _normalized(raw, default_region)


# Reading a number costs 3 to 20 us, and the same numbers come back (a code resent, a template's recipient checked
# by can_send and then stored): recent answers are kept. Refusals raise, so they are never cached.
@functools.lru_cache(maxsize=4096)
def _normalized(raw: str, default_region: str | None) -> str:
    text = _prepared(raw)
    if text.startswith("+"):
        quick = _international_quickly(text, raw, default_region)
        if quick is not None:
            return quick
    return _parsed_slowly(raw, default_region)


def _prepared(raw: str) -> str:
    """``raw`` stripped and checked against :data:`_ALLOWED`, with ``00`` read as ``+``."""
    text = raw.strip()
    if not _ALLOWED.match(text):
        raise InvalidRecipientError(f"recipient {raw[:40]!r} is not a phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    return text


def _parsed_slowly(raw: str, default_region: str | None) -> str:
    """The full ``phonenumbers`` reading of ``raw``: the reference :func:`_international_quickly` must agree with."""
    text = _prepared(raw)
    import phonenumbers  # see region_for

    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        if text.startswith("+") or default_region:
            raise InvalidRecipientError(f"recipient {raw!r} is not a phone number") from exc
        raise InvalidRecipientError(
            f"recipient {raw!r} is not a phone number: it has no international prefix and {REGION_KEY} is not set",
            key=REGION_KEY,
        ) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidRecipientError(f"recipient {raw!r} is not a possible phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


#: The separators _ALLOWED lets through; phonenumbers ignores them all, so they go in one pass.
_SEPARATORS: Final = str.maketrans("", "", " ().-/")

#: The national significant number lengths parse accepts (its _MIN_LENGTH_FOR_NSN and _MAX_LENGTH_FOR_NSN, private,
#: hence repeated here); outside them parse refuses, and the refusal and its wording are left to it.
_NSN_LENGTHS: Final = range(2, 18)


@functools.cache
def _calling_codes() -> dict[str, int]:
    """phonenumbers' calling codes by their digits, so the fast path slices and looks up instead of calling int."""
    import phonenumbers  # see region_for

    return {str(code): code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}


@functools.cache
def _country(country_code: int) -> tuple[str, re.Pattern[str] | None, frozenset[int]] | None:
    """What the fast path needs of calling code ``country_code``, read once from phonenumbers' metadata: its main
    region, its national_prefix_for_parsing pattern (None without one) and the national number lengths
    is_possible_number accepts. None when phonenumbers has no metadata for it.

    For a number of a known calling code, is_possible_number looks at nothing but the length of its national
    number (phonenumbers' _test_number_length), so one sample number per length answers it for all of them.
    """
    import phonenumbers  # see region_for

    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    lengths = frozenset(
        length
        for length in _NSN_LENGTHS
        if phonenumbers.is_possible_number(
            phonenumbers.PhoneNumber(country_code=country_code, national_number=int("9" * length))
        )
    )
    return str(region), re.compile(prefix) if prefix else None, lengths


def _international_quickly(text: str, raw: str, default_region: str | None) -> str | None:
    """E.164 for ``text`` (a prepared number starting with ``+``), without ``phonenumbers.parse``.

    Bulk sends normalise thousands of distinct numbers, and parse spends most of its 17 us on generality these
    numbers do not need (unicode digits, letters, extensions, RFC 3966). This repeats only the steps parse takes
    for "+", digits and separators, and returns None, leaving the answer to :func:`_parsed_slowly`, wherever
    parse would do anything more: no known country code, a national number starting with 0 (Italian leading
    zeros), a length parse refuses, or a national prefix that parse might strip. A number it reads to the end
    but that is not possible gets the slow path's refusal, word for word.
    """
    digits = text[1:]
    if not digits.isdigit():  # most stored numbers have no separators: translate only when needed
        digits = digits.translate(_SEPARATORS)
    if not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    # Like parse, the shortest leading digits that are a calling code.
    codes = _calling_codes()
    country_code = codes.get(digits[:1]) or codes.get(digits[:2]) or codes.get(digits[:3])
    if country_code is None:
        return None
    national = digits[len(str(country_code)) :]
    if len(national) not in _NSN_LENGTHS or national[0] == "0":
        return None
    known = _country(country_code)
    if known is None:
        return None
    region, prefix, possible = known
    # parse keeps the default region's metadata when the number is from that region and otherwise looks it up
    # by calling code. The two differ only for a default region of "001" (non-geographic), where the first finds
    # nothing: that rare case goes to parse rather than being reasoned about here.
    if region == default_region == "001":
        return None
    # A match, even an empty one, sends parse into stripping and viability checks: not repeated here.
    if prefix is not None and prefix.match(national):
        return None
    if len(national) not in possible:
        raise InvalidRecipientError(f"recipient {raw!r} is not a possible phone number")
    # Neither part has a leading zero, so this is exactly format_number(..., E164): "+", the code, the NSN.
    return "+" + digits
