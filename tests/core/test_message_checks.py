"""The checks of the caller's values that become a message: typed errors for anything no storage can keep."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscore import InvalidExtraDataError, InvalidMessageError, RelatedObject
from smscore.message import (
    MAX_EXTRA_DATA_BYTES,
    MAX_EXTRA_DATA_DEPTH,
    check_extra_data,
    check_idempotency_key,
    check_sender,
)


def nested(depth: int) -> dict[str, Any]:
    """A mapping nested ``depth`` levels deep, built without recursion."""
    data: dict[str, Any] = {}
    for _ in range(depth - 1):
        data = {"a": data}
    return data


class TestExtraData:
    def test_data_nested_100000_deep_is_a_typed_error(self) -> None:
        """No RecursionError: the shape is walked with a stack of its own."""
        with pytest.raises(InvalidExtraDataError, match=f"nests more than {MAX_EXTRA_DATA_DEPTH} levels"):
            check_extra_data(nested(100_000))

    def test_lists_count_as_levels_too(self) -> None:
        """A list in a list is a level, like a mapping in a mapping."""
        value: list[Any] = []
        for _ in range(MAX_EXTRA_DATA_DEPTH + 1):
            value = [value]
        with pytest.raises(InvalidExtraDataError, match="nests"):
            check_extra_data({"a": value})

    def test_data_at_the_depth_limit_is_kept(self) -> None:
        """The limit itself is allowed, and the copy equals the data."""
        data = nested(MAX_EXTRA_DATA_DEPTH)
        assert check_extra_data(data) == data

    @pytest.mark.parametrize(
        "data",
        [{"a": "x\ud800"}, {"x\udfff": 1}, {"a": ["ok", {"b": "\x00"}]}, {"a": ("t", "\x00")}],
    )
    def test_a_nul_or_lone_surrogate_anywhere_is_a_typed_error(self, data: dict[str, Any]) -> None:
        """In keys and in strings at any depth: InvalidExtraDataError, not UnicodeEncodeError or StorageError."""
        with pytest.raises(InvalidExtraDataError, match="extra data contains"):
            check_extra_data(data)

    @pytest.mark.parametrize("data", [[1, 2], "ab", 5, None])
    def test_anything_but_a_mapping_is_a_typed_error(self, data: object) -> None:
        """extra_data=[1, 2] is refused by name, not with TypeError."""
        with pytest.raises(InvalidExtraDataError, match="must be a mapping"):
            check_extra_data(data)

    @pytest.mark.parametrize("data", [{"a": object()}, {"a": math.nan}, {"a": {1, 2}}, {"a": 10**5000}])
    def test_values_that_are_not_json_are_refused(self, data: dict[str, Any]) -> None:
        """Objects, NaN, sets and numbers JSON cannot carry."""
        with pytest.raises(InvalidExtraDataError, match="not JSON-serialisable"):
            check_extra_data(data)

    def test_too_much_data_is_refused_before_it_is_encoded(self) -> None:
        """Over the item count or the byte size: refused with the limit named."""
        with pytest.raises(InvalidExtraDataError, match="keys and values"):
            check_extra_data({"a": [0] * (MAX_EXTRA_DATA_BYTES + 1)})
        with pytest.raises(InvalidExtraDataError, match=f"larger than {MAX_EXTRA_DATA_BYTES} bytes"):
            check_extra_data({"a": "é" * MAX_EXTRA_DATA_BYTES})

    def test_the_copy_is_what_json_gives_back(self) -> None:
        """Tuples become lists, number keys become strings: what a storage would give back."""
        assert check_extra_data({"a": (1, 2), 3: None}) == {"a": [1, 2], "3": None}

    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
            lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
            max_leaves=30,
        )
    )
    def test_any_data_is_copied_or_refused_with_a_typed_error(self, value: Any) -> None:
        """Random nested data, strings with surrogates and controls included: a storable copy or the typed error."""
        try:
            copy = check_extra_data({"v": value})
        except InvalidExtraDataError:
            return
        json.dumps(copy, ensure_ascii=False).encode("utf-8")


class TestSenderAndKey:
    @pytest.mark.parametrize("sender", ["", "x" * 21, 5, "a\ud800", "a\x00", "a\x1b"])
    def test_bad_senders_are_a_typed_error(self, sender: object) -> None:
        """Empty, too long, not text, a lone surrogate or a control character: InvalidMessageError."""
        with pytest.raises(InvalidMessageError, match="sender"):
            check_sender(sender)

    @pytest.mark.parametrize("key", ["", "x" * 256, 5, "a\ud800", "a\x00"])
    def test_bad_idempotency_keys_are_a_typed_error(self, key: object) -> None:
        """Empty, too long, not text, a lone surrogate or a NUL: InvalidMessageError."""
        with pytest.raises(InvalidMessageError, match="idempotency_key"):
            check_idempotency_key(key)

    def test_good_values_and_none_pass(self) -> None:
        """The values are returned as given."""
        assert check_sender(None) is None
        assert check_sender("Shop") == "Shop"
        assert check_idempotency_key(None) is None
        assert check_idempotency_key("order-7\n") == "order-7\n"


class TestRelatedObjects:
    @pytest.mark.parametrize(("content_type", "object_id"), [("shop.order", "1\x00"), ("shop\ud800", 1)])
    def test_text_no_storage_keeps_is_refused(self, content_type: str, object_id: object) -> None:
        """A NUL or lone surrogate in a related object is a typed error (also a ValueError)."""
        with pytest.raises(InvalidMessageError, match="related object"):
            RelatedObject(content_type, object_id)  # type: ignore[arg-type]
