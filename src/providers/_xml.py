"""XML for the XML gateways (ATS, SMS-operator): writing values escaped exactly once, reading answers safely.

Writing. Requests are assembled from literal markup and values passed through :func:`escape_text` (element
content) or :func:`escape_attribute` (attribute values, always written between double quotes). Each escapes a
value once, so ``&`` becomes ``&amp;`` and never ``&amp;amp;``. Characters that XML 1.0 cannot carry at all (C0
control characters other than tab, line feed and carriage return; unpaired surrogates; U+FFFE and U+FFFF) are
removed first: no escape exists for them, and a document holding them is rejected by every conforming parser.
Carriage returns, and tabs and line feeds inside attributes, are written as character references, because an
XML parser would otherwise normalise them away (``\\r\\n`` to ``\\n``; whitespace in attributes to spaces).
The document is returned as UTF-8 bytes with an XML declaration saying so (:func:`document`).

Reading. Answers come from the network and are parsed by :func:`parse_xml` with the standard library's expat,
hardened: the size is capped before parsing, a document type declaration or an entity declaration is refused
(no entity can be defined, so none can be expanded: no "billion laughs", no external entities), and nesting is
bounded. Every failure is raised as the caller's :class:`~smscore.errors.ProviderError` subclass.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Final, NoReturn
from xml.parsers import expat

from smscore.errors import ProviderError

__all__ = [
    "MAX_DEPTH",
    "MAX_RESPONSE_BYTES",
    "XML_DECLARATION",
    "document",
    "element_text",
    "escape_attribute",
    "escape_text",
    "illegal_characters",
    "local_name",
    "parse_xml",
    "strip_illegal",
]

#: The declaration every request starts with: the body is always UTF-8.
XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'

#: Largest answer read from a gateway. A status line per message is some 50 bytes, so this is ample.
MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024

#: Deepest element nesting accepted in an answer (real answers nest two or three levels).
MAX_DEPTH: Final = 32

# Characters outside the XML 1.0 ``Char`` production.
_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES: Final = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
)
# Declarations that could define entities. Checked on the raw bytes first (cheap, and before expat sees
# anything), then again by expat handlers, which also catch documents in encodings the byte scan cannot see.
_DECLARATIONS: Final = re.compile(rb"<!\s*(?:doctype|entity)", re.IGNORECASE)


def illegal_characters(text: str) -> int:
    """How many characters of ``text`` XML 1.0 cannot carry (and :func:`strip_illegal` removes)."""
    return len(_ILLEGAL.findall(text))


def strip_illegal(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry; everything else is kept as it is."""
    return _ILLEGAL.sub("", text)


def escape_text(value: str) -> str:
    """``value`` as element content: illegal characters removed, ``& < >`` and carriage return escaped once.

    >>> escape_text('a < b & "c"\\r\\n')
    'a &lt; b &amp; "c"&#13;\\n'
    """
    return strip_illegal(value).translate(_TEXT_ESCAPES)


def escape_attribute(value: str) -> str:
    """``value`` for an attribute written between double quotes: illegal characters removed, markup, quotes and
    whitespace that attribute normalisation would change escaped once."""
    return strip_illegal(value).translate(_ATTRIBUTE_ESCAPES)


def document(body: str) -> bytes:
    """The request ``body`` (markup with values already escaped) behind the XML declaration, as UTF-8 bytes."""
    return (XML_DECLARATION + body).encode("utf-8")


def local_name(tag: str) -> str:
    """An element name without namespace prefix or URI, in lower case (gateways are not consistent about case)."""
    return tag.rpartition("}")[2].rpartition(":")[2].lower()


def element_text(element: ET.Element) -> str:
    """All text inside ``element``, stripped of surrounding whitespace."""
    return "".join(element.itertext()).strip()


class _Refused(Exception):
    """Raised inside expat handlers to stop parsing; turned into the caller's error type."""


def _refuse(what: str) -> Any:
    def handler(*_args: object) -> NoReturn:
        raise _Refused(what)

    return handler


def parse_xml(body: bytes, *, error: type[ProviderError], max_bytes: int = MAX_RESPONSE_BYTES) -> ET.Element:
    """Parse an answer from a gateway into an element tree, refusing anything hostile.

    Raises ``error`` (a :class:`~smscore.errors.ProviderError` subclass) and nothing else: for an empty or
    oversized body, a DOCTYPE or ENTITY declaration, nesting deeper than :data:`MAX_DEPTH`, an encoding expat
    cannot read, or a document that is not well-formed (truncated, say). The message names the problem, never
    the content.
    """
    if len(body) > max_bytes:
        raise error(f"answer of {len(body)} bytes is larger than the {max_bytes} bytes accepted")
    if not body.strip():
        raise error("answer is empty")
    if _DECLARATIONS.search(body):
        raise error("answer holds a DOCTYPE or ENTITY declaration, which is refused")
    builder = ET.TreeBuilder()
    depth = 0

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise _Refused(f"elements nested deeper than {MAX_DEPTH} levels")
        builder.start(tag, attributes)

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(tag)

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = _refuse("a DOCTYPE declaration")
    parser.EntityDeclHandler = _refuse("an ENTITY declaration")
    parser.UnparsedEntityDeclHandler = _refuse("an ENTITY declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity")
    try:
        parser.Parse(body, True)
        root = builder.close()
    except _Refused as exc:
        raise error(f"answer refused: it holds {exc}") from None
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) if exc.code is not None else "unreadable"
        raise error(f"answer is not well-formed XML ({reason}, line {exc.lineno}, column {exc.offset})") from None
    except (ValueError, LookupError, AssertionError) as exc:
        # expat reports a few problems (an encoding Python cannot map, say) with built-in exception types.
        raise error(f"answer is not readable XML ({type(exc).__name__})") from None
    return root
