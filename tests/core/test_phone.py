"""Recipient normalisation to E.164."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smscore import ConfigurationError, InvalidRecipientError, phone
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

    def test_a_national_number_without_a_region_names_the_key_that_fixes_it(self) -> None:
        """Without a default region a national number cannot be read: the error says so and names the key to set,
        in its text and as ``key`` (an adapter names its own setting from it)."""
        with pytest.raises(
            InvalidRecipientError, match=r"no international prefix and default_region is not set$"
        ) as info:
            normalize_recipient("777123456")
        assert info.value.key == "default_region"

    def test_other_refusals_name_no_key(self) -> None:
        """A number that no setting would make valid names no key."""
        with pytest.raises(InvalidRecipientError) as info:
            normalize_recipient("+9991234567")
        assert info.value.key is None

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


# The fast path must give the answer phonenumbers.parse gives, so it is checked against the slow path itself.
_REGIONS = [None, "CZ", "US", "DE", "IT", "AR", "GB", "RU", "001", "cz"]
_SEPARATORS = " ().-/"
_CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_digits = st.text(alphabet="0123456789", min_size=4, max_size=15)


def _outcome(read: Callable[[str, str | None], str], raw: str, region: str | None) -> tuple[str, str]:
    try:
        return ("number", read(raw, region))
    except InvalidRecipientError as exc:
        return ("refused", str(exc))


def _assert_same_as_slow_path(raw: str, region: str | None) -> None:
    phone._normalized.cache_clear()
    fast = _outcome(lambda r, d: normalize_recipient(r, default_region=d), raw, region)
    assert fast == _outcome(phone._parsed_slowly, raw, region)


@st.composite
def _realistic(draw: st.DrawFn) -> str:
    """+ (or 00), a real calling code and 4 to 15 digits, often led by a national prefix or a 0, spaced at will."""
    code = str(draw(st.sampled_from(_CALLING_CODES)))
    lead = draw(st.sampled_from(["", "", "", "0", "00", "1", "8", "06", "9", "15"]))
    digits = code + lead + draw(_digits)
    spaced = "".join(
        c + draw(st.sampled_from(["", "", "", " ", "-"])) if i < len(digits) - 1 else c for i, c in enumerate(digits)
    )
    return draw(st.sampled_from(["+", "+", "00"])) + (spaced if draw(st.booleans()) else digits)


class TestFastPathAgreesWithPhonenumbers:
    @given(
        st.sampled_from(["+", "00", ""]),
        st.text(alphabet="0123456789" + _SEPARATORS, max_size=30),
        st.sampled_from(_REGIONS),
    )
    @example("+", "420 777 123 456", None)
    @example("+", "1 1202 555 0143", "US")
    @example("+", "39 06 1234 5678", "IT")
    @example("00", "800 1234 5678", "001")
    def test_any_digits_and_separators(self, prefix: str, rest: str, region: str | None) -> None:
        """Whatever a caller types from digits and separators, the answer or the refusal is the slow path's."""
        _assert_same_as_slow_path(prefix + rest, region)

    @given(_realistic(), st.sampled_from(_REGIONS))
    def test_real_calling_codes(self, raw: str, region: str | None) -> None:
        """Numbers of every country, national prefixes and leading zeros included, read as the slow path reads them."""
        _assert_same_as_slow_path(raw, region)


@pytest.fixture
def slow_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The numbers _normalized hands to the slow path, with the cache cleared so every call reaches it."""
    calls: list[str] = []
    slowly = phone._parsed_slowly

    def counted(raw: str, default_region: str | None) -> str:
        calls.append(raw)
        return slowly(raw, default_region)

    monkeypatch.setattr(phone, "_parsed_slowly", counted)
    phone._normalized.cache_clear()
    yield calls
    phone._normalized.cache_clear()


class TestFastPath:
    @pytest.mark.parametrize(
        ("raw", "region", "expected"),
        [
            ("+420 777 123 456", None, "+420777123456"),
            ("00420777123456", "CZ", "+420777123456"),
            ("+1 (202) 555-0143", "DE", "+12025550143"),
            ("+44 20 7946 0958", "GB", "+442079460958"),
            ("+49 30 1234567", None, "+49301234567"),
        ],
    )
    def test_international_numbers_skip_parse(
        self, slow_calls: list[str], raw: str, region: str | None, expected: str
    ) -> None:
        """The bulk-send case, + or 00 and a national number without a prefix, never reaches phonenumbers.parse."""
        assert normalize_recipient(raw, default_region=region) == expected
        assert slow_calls == []

    def test_an_impossible_international_number_is_refused_without_parse(self, slow_calls: list[str]) -> None:
        """Too few digits for Czechia: the same refusal the slow path gives, from the fast path."""
        with pytest.raises(InvalidRecipientError, match="not a possible phone number"):
            normalize_recipient("+420 777 123")
        assert slow_calls == []

    @pytest.mark.parametrize(
        ("raw", "region"),
        [
            ("777 123 456", "CZ"),  # national: read in the default region
            ("+39 06 1234 5678", None),  # Italian leading zero
            ("+49 030 1234567", None),  # German trunk prefix written after the country code
            ("+1 1 202 555 0143", None),  # NANPA national prefix
            ("+7 8 912 345 67 89", None),  # Russian national prefix
            ("+999 1234 5678", "CZ"),  # no such calling code
            ("+420 7" + "1" * 20, None),  # longer than any national number
        ],
    )
    def test_anything_parse_might_read_differently_goes_to_parse(
        self, slow_calls: list[str], raw: str, region: str | None
    ) -> None:
        """National numbers, leading zeros, national prefixes and odd lengths are left to phonenumbers."""
        with contextlib.suppress(InvalidRecipientError):
            normalize_recipient(raw, default_region=region)
        assert slow_calls == [raw]
