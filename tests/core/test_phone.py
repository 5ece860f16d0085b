"""Recipient normalisation to E.164."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscore import ConfigurationError, InvalidRecipientError
from smscore.phone import normalize_recipient, region_for


class TestNormalize:
    @pytest.mark.parametrize(
        ("raw", "region", "expected"),
        [
            ("+420 777 123 456", None, "+420777123456"),
            ("+420-777-123-456", None, "+420777123456"),
            ("00420777123456", None, "+420777123456"),
            ("777 123 456", "CZ", "+420777123456"),
            ("(202) 555-0143", "US", "+12025550143"),
            ("+44 20 7946 0958", "CZ", "+442079460958"),
        ],
    )
    def test_numbers_become_e164(self, raw: str, region: str | None, expected: str) -> None:
        """Spaces, dashes, 00 and national numbers with a default region all give E.164."""
        assert normalize_recipient(raw, default_region=region) == expected

    @pytest.mark.parametrize(
        "raw",
        ["", "hello", "1-800-FLOWERS", "+420 777", "+", "12", "+420777123456; DROP TABLE", "+9991234567", "7" * 60],
    )
    def test_non_numbers_are_refused(self, raw: str) -> None:
        """Letters, too short, unknown country codes and junk are InvalidRecipientError."""
        with pytest.raises(InvalidRecipientError):
            normalize_recipient(raw, default_region="CZ")

    def test_a_national_number_without_a_region_says_why(self) -> None:
        """Without a default region a national number cannot be read, and the error says so."""
        with pytest.raises(InvalidRecipientError, match="no default region"):
            normalize_recipient("777123456")

    def test_non_strings_are_refused(self) -> None:
        """An int is not a phone number, even if it looks like one."""
        with pytest.raises(InvalidRecipientError, match="must be a string"):
            normalize_recipient(420777123456)

    @given(st.text(max_size=80))
    def test_anything_either_normalises_or_raises_the_typed_error(self, raw: str) -> None:
        """Hostile input never raises anything but InvalidRecipientError, and output is E.164."""
        try:
            number = normalize_recipient(raw, default_region="CZ")
        except InvalidRecipientError:
            return
        assert number.startswith("+")
        assert number[1:].isdigit()
        assert normalize_recipient(number) == number


class TestRegion:
    @pytest.mark.parametrize(
        ("value", "region"), [("CZ", "CZ"), ("cz", "CZ"), ("+420", "CZ"), ("420", "CZ"), (None, None)]
    )
    def test_regions_and_calling_codes(self, value: str | None, region: str | None) -> None:
        """A region code or the ancestor's calling-code form both work."""
        assert region_for(value) == region

    @pytest.mark.parametrize("value", ["XX", "+999", "Czechia"])
    def test_unknown_regions_are_configuration_errors(self, value: str) -> None:
        """An unknown region is reported against the default_region key."""
        with pytest.raises(ConfigurationError) as info:
            region_for(value)
        assert info.value.key == "default_region"


def test_a_number_seen_recently_is_not_parsed_again() -> None:
    """send_template normalises the recipient for can_send and again when storing: the second time is a cache hit,
    with the same answer; a refusal is never remembered as an answer."""
    from smscore.phone import _normalized

    first = normalize_recipient("+420 608 111 222")
    hits = _normalized.cache_info().hits
    assert normalize_recipient("+420 608 111 222") == first == "+420608111222"
    assert _normalized.cache_info().hits == hits + 1
    for _ in range(2):
        with pytest.raises(InvalidRecipientError):
            normalize_recipient("+420 12")
