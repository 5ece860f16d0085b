"""Message text: accent stripping, GSM-7 / UCS-2 detection and segment counting. Pure functions.

GSM-7 (3GPP TS 23.038) carries 160 septets in one SMS, 153 per part of a concatenated SMS; characters of the
extension table (``^ { } [ ] ~ \\ | €`` and form feed) take two septets and are never split across parts.
Anything outside the GSM-7 tables is sent as UCS-2 (really UTF-16): 70 code units in one SMS, 67 per part,
characters outside the Basic Multilingual Plane (most emoji) take two units and are never split.

Control characters are refused in content, with accents on or off, on every storage: a NUL or an escape in an
SMS is a bug upstream (binary data, a C string), and dropping it silently would hide it. Tab, line feed, vertical
tab, form feed and carriage return are text and stay. Lone surrogates (half of a UTF-16 pair, which no storage
or gateway can encode) are refused in every text smscore stores.

>>> prepare_text("Příliš žluťoučký kůň", use_accent=False)
PreparedText(content='Prilis zlutoucky kun', encoding='GSM-7', segments=1)
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal, NoReturn

import attrs
from unidecode import unidecode

from smscore.errors import InvalidContentError, InvalidMessageError

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Encoding",
    "PreparedText",
    "check_sendable",
    "check_storable",
    "count_segments",
    "detect_encoding",
    "is_gsm7",
    "prepare_text",
    "strip_accents",
]

Encoding = Literal["GSM-7", "UCS-2"]

#: The GSM 03.38 default alphabet (one septet each).
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The GSM 03.38 extension table (two septets each: an escape and the character).
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

_GSM7_ALL: Final = GSM7_BASIC | GSM7_EXTENSION

#: ASCII characters outside GSM-7 and what they become when accents are stripped.
_ASCII_FALLBACK: Final = {"`": "'", "\t": " ", "\v": " "}

# One compiled search each, so that checking a text costs one pass in C, not a Python loop per character.
#: Refused in text that is sent: C0 controls but tab, line breaks, vertical tab and form feed; DEL; C1
#: controls; lone surrogates.
_UNSENDABLE: Final = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: Refused in any text that is stored: NUL (PostgreSQL text and jsonb cannot hold it) and lone surrogates.
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")


def _refuse(found: re.Match[str], what: str, error: type[InvalidMessageError]) -> NoReturn:
    kind = "a lone surrogate" if "\ud800" <= found.group() <= "\udfff" else "a control character"
    raise error(f"{what} contains {kind} (U+{ord(found.group()):04X}) at position {found.start()}")


def check_sendable(text: str, what: str, error: type[InvalidMessageError] = InvalidContentError) -> None:
    """Raise ``error`` naming ``what`` when ``text`` holds a control character other than tab, line breaks,
    vertical tab and form feed, or a lone surrogate (see the module docstring)."""
    found = _UNSENDABLE.search(text)
    if found is not None:
        _refuse(found, what, error)


def check_storable(text: str, what: str, error: type[InvalidMessageError] = InvalidMessageError) -> None:
    """Raise ``error`` naming ``what`` when ``text`` holds a NUL or a lone surrogate, which no storage keeps."""
    found = _UNSTORABLE.search(text)
    if found is not None:
        _refuse(found, what, error)


@attrs.frozen
class PreparedText:
    """Content ready to store: the final text, its encoding and how many SMS parts it takes."""

    content: str
    encoding: Encoding
    segments: int


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 default or extension table."""
    return all(char in _GSM7_ALL for char in text)


def detect_encoding(text: str) -> Encoding:
    """``"GSM-7"`` when the text fits the GSM alphabet, ``"UCS-2"`` otherwise."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def strip_accents(text: str) -> str:
    """Transliterate ``text`` to plain GSM-7 (``"Příliš"`` -> ``"Prilis"``, ``"Москва"`` -> ``"Moskva"``).

    Unidecode gives ASCII; the few ASCII characters GSM-7 lacks (the backtick, tabs) are replaced and other
    control characters except line breaks are removed. Characters with no transliteration (most emoji) vanish.
    """
    ascii_text = unidecode(unicodedata.normalize("NFC", text))
    out = []
    for char in ascii_text:
        if char in _GSM7_ALL:
            out.append(char)
        elif char in _ASCII_FALLBACK:
            out.append(_ASCII_FALLBACK[char])
    return "".join(out)


def _costs(text: str, encoding: Encoding) -> list[int]:
    if encoding == "GSM-7":
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def count_segments(text: str, encoding: Encoding | None = None) -> int:
    """How many SMS parts ``text`` takes in ``encoding`` (detected when not given). Empty text takes one."""
    encoding = encoding or detect_encoding(text)
    single, per_part = (160, 153) if encoding == "GSM-7" else (70, 67)
    costs = _costs(text, encoding)
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        # A two-unit character (GSM escape pair, UTF-16 surrogate pair) never straddles two parts.
        if used + cost > per_part:
            parts += 1
            used = 0
        used += cost
    return parts


def prepare_text(content: str, *, use_accent: bool, max_segments: int | None = None) -> PreparedText:
    """Turn the caller's content into what is stored and sent.

    With ``use_accent=False`` the content is transliterated (:func:`strip_accents`); otherwise it is kept as
    given and sent as UCS-2 when it does not fit GSM-7.

    Raises :class:`~smscore.errors.InvalidContentError` when the content is not a string, holds a control
    character or a lone surrogate (:func:`check_sendable`), is empty or only whitespace (before or after
    transliteration), or takes more than ``max_segments`` parts.
    """
    if not isinstance(content, str):
        raise InvalidContentError(f"content must be a string, not {type(content).__name__}")
    check_sendable(content, "content")
    if not content.strip():
        raise InvalidContentError("content is empty")
    text = content if use_accent else strip_accents(content)
    if not text.strip():
        raise InvalidContentError("content is empty once accents and unsupported characters are removed")
    encoding = detect_encoding(text)
    segments = count_segments(text, encoding)
    if max_segments is not None and segments > max_segments:
        raise InvalidContentError(f"content takes {segments} SMS parts in {encoding}; the limit is {max_segments}")
    return PreparedText(text, encoding, segments)
