"""The base class of backends: the seed's custom-backend API."""

from __future__ import annotations

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
