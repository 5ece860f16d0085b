"""Text preparation: transliteration, encoding detection and segment counting."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscore import InvalidContentError
from smscore.text import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    count_segments,
    detect_encoding,
    is_gsm7,
    prepare_text,
    strip_accents,
)

gsm_basic = st.text(alphabet=sorted(GSM7_BASIC), max_size=1200)
gsm_any = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=1200)
bmp_non_gsm = st.text(alphabet=st.characters(min_codepoint=0x100, max_codepoint=0xD7FF), min_size=1, max_size=600)


def reference_segments(costs: list[int], single: int, per_part: int) -> int:
    """Independent count: greedy packing, a two-unit character never split across parts."""
    if sum(costs) <= single:
        return 1
    parts = [0]
    for cost in costs:
        if parts[-1] + cost > per_part:
            parts.append(0)
        parts[-1] += cost
    return len(parts)


class TestTransliteration:
    def test_czech_accents_become_plain_letters(self) -> None:
        """The seed's example: accents are replaced, not dropped."""
        assert strip_accents("Příliš žluťoučký kůň") == "Prilis zlutoucky kun"

    def test_other_scripts_are_transliterated_not_dropped(self) -> None:
        """Cyrillic and the euro sign survive as readable text (the ancestor dropped them)."""
        assert strip_accents("Москва") == "Moskva"
        assert strip_accents("5 €") == "5 EUR"

    @given(st.text(max_size=300))
    def test_output_is_always_gsm7(self, text: str) -> None:
        """Whatever goes in, what comes out fits the GSM-7 alphabet."""
        assert is_gsm7(strip_accents(text))

    @given(gsm_basic)
    def test_plain_ascii_gsm_text_is_kept(self, text: str) -> None:
        """Text of ASCII GSM characters goes through unchanged."""
        ascii_only = "".join(c for c in text if c.isascii())
        assert strip_accents(ascii_only) == ascii_only


class TestSegments:
    @given(gsm_basic)
    def test_gsm7_basic_text_follows_160_and_153(self, text: str) -> None:
        """GSM-7 without extension characters: 160 in one SMS, 153 per part beyond."""
        expected = 1 if len(text) <= 160 else math.ceil(len(text) / 153)
        assert count_segments(text, "GSM-7") == expected

    @given(gsm_any)
    def test_extension_characters_count_twice_and_never_split(self, text: str) -> None:
        """Extension characters take two septets and stay whole within a part."""
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        assert count_segments(text) == reference_segments(costs, 160, 153)

    @given(bmp_non_gsm)
    def test_ucs2_follows_70_and_67(self, text: str) -> None:
        """Text outside GSM-7 is UCS-2: 70 units in one SMS, 67 per part."""
        assert detect_encoding(text) == "UCS-2"
        expected = 1 if len(text) <= 70 else math.ceil(len(text) / 67)
        assert count_segments(text) == expected

    @given(st.text(alphabet=st.sampled_from("a😀é漢"), min_size=1, max_size=400))
    def test_astral_characters_take_two_units(self, text: str) -> None:
        """Emoji outside the BMP take two UTF-16 units and are never split."""
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
        assert count_segments(text, "UCS-2") == reference_segments(costs, 70, 67)

    @pytest.mark.parametrize(
        ("text", "segments"),
        [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("€" * 80, 1), ("€" * 81, 2), ("ř" * 70, 1)],
    )
    def test_boundaries(self, text: str, segments: int) -> None:
        """The exact limits of one and two parts."""
        encoding = detect_encoding(text)
        assert count_segments(text, encoding) == segments


class TestPrepareText:
    def test_accents_kept_when_asked_and_encoding_becomes_ucs2(self) -> None:
        """With accents on, Czech text is kept and needs UCS-2."""
        prepared = prepare_text("Příliš", use_accent=True)
        assert (prepared.content, prepared.encoding, prepared.segments) == ("Příliš", "UCS-2", 1)

    @pytest.mark.parametrize("content", ["", "   ", "\n\t"])
    def test_empty_content_is_refused(self, content: str) -> None:
        """Empty or whitespace content is an InvalidContentError."""
        with pytest.raises(InvalidContentError, match="empty"):
            prepare_text(content, use_accent=False)

    def test_content_that_vanishes_in_transliteration_is_refused(self) -> None:
        """Only emoji with accents off: nothing is left to send, so it is refused."""
        with pytest.raises(InvalidContentError, match="empty once"):
            prepare_text("🎉🎉", use_accent=False)

    def test_too_many_segments_is_refused_with_the_numbers(self) -> None:
        """Over the limit names the count and the limit."""
        with pytest.raises(InvalidContentError, match="takes 3 SMS parts in GSM-7; the limit is 2"):
            prepare_text("a" * 307, use_accent=False, max_segments=2)

    def test_non_string_content_is_refused(self) -> None:
        """A number is not content."""
        with pytest.raises(InvalidContentError, match="must be a string"):
            prepare_text(42, use_accent=False)  # type: ignore[arg-type]


class TestControlCharacters:
    @pytest.mark.parametrize("use_accent", [True, False])
    @pytest.mark.parametrize(
        ("content", "code"),
        [("a\x00b", "U+0000"), ("a\x1bb", "U+001B"), ("a\x7fb", "U+007F"), ("a\x85b", "U+0085"), ("a\x08", "U+0008")],
    )
    def test_control_characters_are_refused_with_accents_on_and_off(
        self, content: str, code: str, use_accent: bool
    ) -> None:
        """One treatment on every storage: refused, naming the character and its position."""
        with pytest.raises(InvalidContentError, match=re.escape(f"control character ({code}) at position")):
            prepare_text(content, use_accent=use_accent)

    @pytest.mark.parametrize("use_accent", [True, False])
    def test_a_lone_surrogate_is_refused(self, use_accent: bool) -> None:
        """Half of a UTF-16 pair cannot be encoded by any storage or gateway: a typed error, not UnicodeEncodeError."""
        with pytest.raises(InvalidContentError, match="lone surrogate \\(U\\+D83D\\) at position 2"):
            prepare_text("ab\ud83d", use_accent=use_accent)

    @pytest.mark.parametrize("use_accent", [True, False])
    def test_whitespace_controls_are_text(self, use_accent: bool) -> None:
        """Tab, line breaks, vertical tab and form feed stay allowed."""
        assert prepare_text("a\tb\nc\rd\fe\vf", use_accent=use_accent).content.startswith("a")

    @given(st.text(max_size=200), st.booleans())
    def test_any_text_is_prepared_or_refused_with_a_typed_error(self, text: str, use_accent: bool) -> None:
        """Whatever the text (surrogates and controls included), the only error is InvalidContentError, and what
        is accepted can be encoded as UTF-8."""
        try:
            prepared = prepare_text(text, use_accent=use_accent)
        except InvalidContentError:
            return
        prepared.content.encode("utf-8")
        assert "\x00" not in prepared.content
