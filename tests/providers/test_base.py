"""The base class of backends: the seed's custom-backend API."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from providers.base import SMSBackend, without_secrets
from smscore import Outcome, SMSMessage, SMSState
from tests.contracts.providers import wire_message


class CountingBackend(SMSBackend):
    """Answers from a list, remembering which messages it was asked to publish."""

    def __init__(self, answers: list[Outcome]) -> None:
        self.answers = answers
        self.asked: list[int | None] = []

    def publish_message(self, message: SMSMessage) -> Outcome:
        self.asked.append(message.id)
        return self.answers.pop(0)


def test_publish_messages_goes_one_by_one_and_stops_at_an_outage() -> None:
    """After a transient outcome the rest of the batch is not tried, and stays WAITING with the reason."""
    backend = CountingBackend([Outcome.accepted(SMSState.SENT), Outcome.transient("HTTP 503", error_code="503")])
    messages = [wire_message(f"m{i}") for i in range(4)]
    outcomes = backend.publish(messages)
    assert backend.asked == [messages[0].id, messages[1].id]
    assert [o.state for o in outcomes] == [SMSState.SENT] + [SMSState.WAITING] * 3
    assert outcomes[3].error == "not tried: HTTP 503"
    assert outcomes[3].error_code == "503"


def test_the_repr_shows_no_options() -> None:
    """A backend's repr never shows what it was built with (credentials)."""
    assert repr(CountingBackend([])) == "<CountingBackend>"


def test_without_secrets_cleans_every_text_of_an_outcome() -> None:
    """Error, code, reference and nested provider data lose every secret; other values stay."""
    dirty = Outcome.rejected(
        "auth failed for pw=hunter2",
        error_code="hunter2",
        provider_ref="ref-hunter2",
        extra_sender_data={"echo": {"body": "<password>hunter2</password>"}, "n": 3},
    )
    clean = without_secrets(dirty, {"hunter2", ""})
    assert "hunter2" not in repr(clean)
    assert clean.error == "auth failed for pw=***"
    assert clean.extra_sender_data == {"echo": {"body": "<password>***</password>"}, "n": 3}
    assert without_secrets(dirty, set()) is dirty


def test_an_outcome_without_secrets_is_returned_as_it_is() -> None:
    """Nothing is copied when no text holds a secret: the outcome itself comes back."""
    outcome = Outcome.accepted(
        SMSState.SENDING,
        provider_ref="42",
        extra_sender_data={"state": "ok", "n": 1, "nested": {"list": ["a", 2, None]}, "view": MappingProxyType({})},
    )
    assert without_secrets(outcome, ("hunter2",)) is outcome


def test_secrets_in_any_nesting_are_replaced_and_containers_become_plain() -> None:
    """A secret in a tuple or a read-only mapping is found; the container holding it comes back as a list or dict,
    its siblings unchanged."""
    sibling = {"kept": "yes"}
    outcome = Outcome.accepted(
        SMSState.SENDING,
        extra_sender_data={"echo": ("x", MappingProxyType({"pw": "hunter2"})), "other": sibling},
    )
    clean = without_secrets(outcome, ("hunter2",))
    assert clean.extra_sender_data == {"echo": ["x", {"pw": "***"}], "other": {"kept": "yes"}}
    assert clean.extra_sender_data["other"] is sibling


# Letters only: numbers are not texts and are never scrubbed.
_SECRET = st.text("abcdefghXYZ", min_size=4, max_size=12)
# Keys are the backends' own names, never scrubbed: shorter than any secret here.
_KEY = st.text(max_size=3)
_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEY, inner, max_size=4),
    max_leaves=20,
)


@given(secret=_SECRET, data=st.dictionaries(_KEY, _JSON, max_size=4), where=st.data())
def test_no_secret_survives_in_any_provider_data(secret: str, data: dict[str, Any], where: st.DataObject) -> None:
    """Whatever the provider data holds, a secret planted in a string anywhere in it, or in the error, is gone
    afterwards; data that never held it comes back as it is."""
    untouched = Outcome.accepted(SMSState.SENDING, extra_sender_data=data)
    if secret not in repr(data):
        assert without_secrets(untouched, (secret,)) is untouched
    planted = where.draw(st.text(max_size=10)) + secret + where.draw(st.text(max_size=10))
    dirty = Outcome.rejected(planted, extra_sender_data={**data, "echo": [data, {"body": planted}]})
    clean = without_secrets(dirty, (secret,))
    assert secret not in repr((clean.error, clean.extra_sender_data))
