"""The shared XML helpers of the XML gateways: escaping exactly once, and reading hostile answers safely."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers._http import Redactor
from providers._urls import safe_url
from providers._xml import (
    MAX_DEPTH,
    document,
    escape_attribute,
    escape_text,
    illegal_characters,
    local_name,
    parse_xml,
    strip_illegal,
)
from smscore.errors import ProviderError


class AnswerError(ProviderError):
    """The typed error of the tests."""


class TestEscaping:
    """Values are escaped exactly once; what XML cannot carry is removed."""

    def test_text(self) -> None:
        """Markup characters and carriage return are escaped; quotes need not be in element content."""
        assert escape_text("a<b>&c \"d\" 'e'\r\n") == "a&lt;b&gt;&amp;c \"d\" 'e'&#13;\n"

    def test_already_escaped_text_is_escaped_again_not_kept(self) -> None:
        """``&amp;`` in a value is a literal: it becomes ``&amp;amp;`` on the wire and ``&amp;`` after parsing."""
        assert escape_text("&amp;") == "&amp;amp;"

    def test_attribute(self) -> None:
        """In attributes quotes and whitespace that normalisation would change are escaped too."""
        assert escape_attribute('a"b\tc\nd\re<&>') == "a&quot;b&#9;c&#10;d&#13;e&lt;&amp;&gt;"

    def test_illegal_characters_are_removed(self) -> None:
        """C0 controls (but tab, LF, CR), lone surrogates, U+FFFE and U+FFFF are dropped; DEL and the rest kept."""
        text = "a\x00b\x07c\x1bd\x7fe\ud800f\ufffeg\uffffh\tx\ny\rz"
        assert illegal_characters(text) == 6
        assert strip_illegal(text) == "abcd\x7fefgh\tx\ny\rz"

    def test_a_document_is_declared_utf8_bytes(self) -> None:
        """Documents are UTF-8 bytes behind an XML declaration that says so."""
        body = document("<a>ž</a>\n")
        assert body == '<?xml version="1.0" encoding="UTF-8"?>\n<a>ž</a>\n'.encode()

    @given(st.text())
    def test_any_text_round_trips(self, text: str) -> None:
        """What a parser reads back is the text less the characters XML cannot carry."""
        root = ET.fromstring(document(f'<a b="{escape_attribute(text)}">{escape_text(text)}</a>'))
        assert (root.text or "") == strip_illegal(text)
        assert root.get("b") == strip_illegal(text)

    @given(st.text())
    def test_stripping_is_complete_and_idempotent(self, text: str) -> None:
        """Nothing illegal is left, and stripping twice changes nothing more."""
        once = strip_illegal(text)
        assert illegal_characters(once) == 0
        assert strip_illegal(once) == once
        once.encode("utf-8")


class TestParsing:
    """``parse_xml`` reads answers and refuses hostile ones with the caller's typed error."""

    def test_a_plain_answer(self) -> None:
        """Elements, attributes and text are read; names can be compared without case or prefix."""
        root = parse_xml(
            b'<?xml version="1.0"?><s:Status xmlns:s="urn:x"><Code UNIQ="a">0</Code></s:Status>', error=AnswerError
        )
        assert local_name(root.tag) == "status"
        (code,) = list(root)
        assert local_name(code.tag) == "code"
        assert code.attrib == {"UNIQ": "a"}
        assert code.text == "0"

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            (b"", "empty"),
            (b"   \n", "empty"),
            (b"<a>", "not well-formed"),
            (b"<a></b>", "not well-formed"),
            (b"<a>&undefined;</a>", "not well-formed"),
            (b"<!DOCTYPE a><a/>", "DOCTYPE"),
            (b'<!doctype a [<!ENTITY x "y">]><a>&x;</a>', "DOCTYPE"),
            (b'<!ENTITY x "y"><a/>', "DOCTYPE"),
            ('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode("utf-16"), "DOCTYPE"),
            ('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode("utf-16-be"), None),
            (b'<?xml version="1.0" encoding="no-such-encoding"?><a/>', None),
            (b"<a>" * (MAX_DEPTH + 1) + b"</a>" * (MAX_DEPTH + 1), "nested deeper"),
        ],
    )
    def test_refusals(self, body: bytes, problem: str | None) -> None:
        """Empty, broken, entity-declaring, undecodable and too deeply nested documents are refused."""
        with pytest.raises(AnswerError, match=problem):
            parse_xml(body, error=AnswerError)

    def test_the_size_is_capped_before_parsing(self) -> None:
        """An answer over the cap is refused without being parsed."""
        with pytest.raises(AnswerError, match="larger than"):
            parse_xml(b"<a>" + b"x" * 100 + b"</a>", error=AnswerError, max_bytes=50)

    def test_nesting_up_to_the_limit_is_read(self) -> None:
        """Real answers nest two or three levels; up to the limit is fine."""
        body = b"<a>" * MAX_DEPTH + b"</a>" * MAX_DEPTH
        assert local_name(parse_xml(body, error=AnswerError).tag) == "a"

    @given(st.binary(max_size=2048))
    def test_arbitrary_bytes_raise_only_the_typed_error(self, body: bytes) -> None:
        """Whatever the bytes: an element, or the caller's error type."""
        with contextlib.suppress(AnswerError):
            parse_xml(body, error=AnswerError)


class TestSecretsHelpers:
    """Helpers that keep secrets out of logs."""

    def test_the_redactor_removes_raw_and_escaped_forms(self) -> None:
        """Secrets are replaced raw and in their XML-escaped forms; the repr shows nothing."""
        redact = Redactor(['p<&>"', ""])
        assert redact('a p<&>" b p&lt;&amp;&gt;" c p&lt;&amp;&gt;&quot;') == "a *** b *** c ***"
        assert repr(redact) == "<Redactor>"

    def test_safe_url_drops_credentials_and_query(self) -> None:
        """Only scheme, host, port and path are shown."""
        assert safe_url("https://user:pw@example.com:8443/path?token=x#f") == "https://example.com:8443/path"
