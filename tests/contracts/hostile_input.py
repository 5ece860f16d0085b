"""Contract suite for hostile input through the service, run over every storage.

Subclass :class:`HostileInputContract` in a storage's tests and provide a ``service`` fixture: an
:class:`~smscore.SMSService` over a fresh, empty storage with a dummy provider and accents kept
(:data:`SERVICE_CONFIG`). Every bad input must raise a typed :class:`~smscore.SMSError` and leave no row behind,
whatever the storage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smscore import (
    InvalidContentError,
    InvalidExtraDataError,
    InvalidMessageError,
    InvalidTagError,
    SMSError,
    SMSService,
    SMSTemplate,
    TemplateRenderError,
)

RECIPIENT = "+420777123456"
#: The configuration of the service under test (with the storage's own keys added).
SERVICE_CONFIG: dict[str, Any] = {"provider": "dummy", "use_accent": True}


def nested(depth: int) -> dict[str, Any]:
    """A mapping nested ``depth`` levels deep, built without recursion."""
    data: dict[str, Any] = {}
    for _ in range(depth - 1):
        data = {"a": data}
    return data


Attempt = Callable[[SMSService], object]

#: Each bad input, and the typed error it must raise.
CASES: dict[str, tuple[Attempt, type[SMSError]]] = {
    "lone surrogate in content": (lambda s: s.send(RECIPIENT, "ahoj \ud83d"), InvalidContentError),
    "NUL in content": (lambda s: s.send(RECIPIENT, "a\x00b"), InvalidContentError),
    "escape in content": (lambda s: s.send(RECIPIENT, "a\x1b[31mb"), InvalidContentError),
    "lone surrogate in sender": (lambda s: s.send(RECIPIENT, "hi", sender="Shop\udc00"), InvalidMessageError),
    "NUL in sender": (lambda s: s.send(RECIPIENT, "hi", sender="Sh\x00p"), InvalidMessageError),
    "lone surrogate in idempotency key": (
        lambda s: s.send(RECIPIENT, "hi", idempotency_key="k\ud800"),
        InvalidMessageError,
    ),
    "NUL in idempotency key": (lambda s: s.send(RECIPIENT, "hi", idempotency_key="k\x00"), InvalidMessageError),
    "lone surrogate in extra data": (lambda s: s.send(RECIPIENT, "hi", note="x\ud800"), InvalidExtraDataError),
    "NUL in extra data": (lambda s: s.send(RECIPIENT, "hi", note={"deep": ["\x00"]}), InvalidExtraDataError),
    "extra data nested 100000 deep": (lambda s: s.send(RECIPIENT, "hi", note=nested(100_000)), InvalidExtraDataError),
    "trailing newline in tag": (lambda s: s.send(RECIPIENT, "hi", tag="abc\n"), InvalidTagError),
    "context that is not a mapping": (
        lambda s: s.send_template(RECIPIENT, "otp", [1, 2]),  # type: ignore[arg-type]
        InvalidMessageError,
    ),
    "template extra data that is not a mapping": (
        lambda s: s.send_template(RECIPIENT, "otp", {"code": "1"}, extra_data=[1, 2]),  # type: ignore[arg-type]
        InvalidExtraDataError,
    ),
    "lone surrogate in a context value": (
        lambda s: s.send_template(RECIPIENT, "otp", {"code": "\udfff"}),
        InvalidContentError,
    ),
    "hostile template body": (lambda s: s.send_template(RECIPIENT, "hostile", {"code": "1"}), TemplateRenderError),
    "one bad item of send_many": (
        lambda s: s.send_many([RECIPIENT, {"recipient": RECIPIENT, "content": "a\x00"}], "hi"),
        InvalidContentError,
    ),
    "send_many extra data nested 100000 deep": (
        lambda s: s.send_many([RECIPIENT], "hi", note=nested(100_000)),
        InvalidExtraDataError,
    ),
}


class HostileInputContract:
    """Typed errors for all input, nothing stored; the storage-specific subclasses provide ``service``."""

    #: A body in the storage's template language that asks for a gigabyte of padding.
    HOSTILE_BODY = "{{ code|center(1000000000) }}"

    @pytest.fixture
    def service(self) -> SMSService:
        raise NotImplementedError("a storage's test class provides the service fixture")

    @pytest.fixture
    def seeded(self, service: SMSService) -> SMSService:
        """The service with two templates stored: a plain one and one that asks for a gigabyte."""
        service.templates.save(SMSTemplate(slug="otp", body="Code {{ code }}"))
        service.templates.save(SMSTemplate(slug="hostile", body=self.HOSTILE_BODY))
        return service

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_bad_input_is_a_typed_error_and_nothing_is_stored(self, seeded: SMSService, case: str) -> None:
        """Each case of the hostile-input list raises its SMSError subclass; no message row appears."""
        attempt, error = CASES[case]
        with pytest.raises(error):
            attempt(seeded)
        assert seeded.messages.count() == 0

    @pytest.mark.parametrize(
        "make",
        [
            lambda: SMSTemplate(slug="otp\n", body="x"),
            lambda: SMSTemplate(slug="b", body=5),  # type: ignore[arg-type]
            lambda: SMSTemplate(slug="b", body="Code \ud800"),
        ],
        ids=["slug with a trailing newline", "body that is not text", "body with a lone surrogate"],
    )
    def test_a_template_no_storage_can_keep_is_refused_before_it_is_saved(
        self, service: SMSService, make: Callable[[], SMSTemplate]
    ) -> None:
        """The template value itself refuses, so nothing reaches the storage."""
        with pytest.raises(InvalidMessageError):
            service.templates.save(make())
        assert service.templates.list() == []

    def test_a_body_with_a_syntax_error_is_refused_when_saved(self, service: SMSService) -> None:
        """templates.save checks the body as the CLI does: a broken body is never stored."""
        with pytest.raises(TemplateRenderError, match="syntax"):
            service.templates.save(SMSTemplate(slug="broken", body="Code {% if %}"))
        assert service.templates.list() == []

    def test_good_input_is_still_stored(self, seeded: SMSService) -> None:
        """The same paths with clean input store exactly what was given."""
        message = seeded.send(RECIPIENT, "Příliš\tžluťoučký\n", sender="Shop", idempotency_key="k-1", note="ok")
        stored = seeded.messages.get(message.id or 0)
        assert (stored.content, stored.sender, stored.extra_data) == ("Příliš\tžluťoučký\n", "Shop", {"note": "ok"})
