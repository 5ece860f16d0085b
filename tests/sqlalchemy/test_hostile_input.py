"""Hostile input through the service on SQLAlchemy storage, SQLite and PostgreSQL: the contract suite of
tests/contracts, and a property test that feeds random text and nested data through every send path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smscore
from smscore import SMSError, SMSService, SMSTemplate
from tests.contracts.hostile_input import RECIPIENT, SERVICE_CONFIG, HostileInputContract


class TestSQLAlchemyStorage(HostileInputContract):
    @pytest.fixture
    def service(self, database_url: str) -> Iterator[SMSService]:
        with smscore.build_service(
            {**SERVICE_CONFIG, "storage": "sqlalchemy", "database_url": database_url}
        ) as service:
            yield service


#: Text of every kind: any code point (lone surrogates included) and, often, the control characters that matter.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=()) | st.sampled_from("\x00\x1b\x7f\x85\ud800\udfff\n\t"),
    max_size=40,
)
JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
NESTED = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=20,
)
RECIPIENTS = st.sampled_from([RECIPIENT, "+420 777 000 111", "00420777123457"]) | TEXT
OPTIONAL_TEXT = st.none() | TEXT
EXTRA = st.dictionaries(st.sampled_from(["a", "note", "order"]) | TEXT, NESTED, max_size=3)


@pytest.fixture(params=["memory", "sqlite"])
def any_service(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[SMSService]:
    """A service with accents kept, on memory and on an SQLite file."""
    storage: dict[str, Any] = {"storage": "memory"}
    if request.param == "sqlite":
        storage = {"storage": "sqlalchemy", "database_url": f"sqlite:///{tmp_path / 'sms.db'}"}
    with smscore.build_service({**SERVICE_CONFIG, **storage}) as service:
        yield service


def attempt(service: SMSService, call: Any) -> None:
    """Run ``call``: it may succeed, or fail with an SMSError that leaves no new row."""
    before = service.messages.count()
    try:
        call()
    except SMSError:
        assert service.messages.count() == before


# The storage is shared by the examples of one test: each example checks that its own failure added nothing.
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class TestRandomInput:
    @PROPERTY
    @given(
        recipient=RECIPIENTS,
        content=TEXT,
        sender=OPTIONAL_TEXT,
        key=OPTIONAL_TEXT,
        tag=OPTIONAL_TEXT,
        extra=EXTRA,
    )
    def test_send_raises_only_sms_errors_and_stores_nothing_on_error(
        self, any_service: SMSService, recipient: str, content: str, sender: Any, key: Any, tag: Any, extra: Any
    ) -> None:
        """send with random text everywhere and random nested extra data."""
        attempt(
            any_service,
            lambda: any_service.send(recipient, content, tag=tag, sender=sender, idempotency_key=key, extra=extra),
        )

    @PROPERTY
    @given(body=TEXT, context=NESTED, extra=NESTED, recipient=RECIPIENTS)
    def test_send_template_raises_only_sms_errors_and_stores_nothing_on_error(
        self, any_service: SMSService, body: str, context: Any, extra: Any, recipient: str
    ) -> None:
        """A random body saved and sent with a random context and extra data (often not even mappings)."""

        def save_and_send() -> None:
            any_service.templates.save(SMSTemplate(slug="random", body="{{ v }} " + body))
            any_service.send_template(recipient, "random", {"v": context}, extra_data=extra)

        attempt(any_service, save_and_send)
        attempt(any_service, lambda: any_service.send_template(recipient, "random", context))

    @PROPERTY
    @given(
        items=st.lists(
            RECIPIENTS | st.fixed_dictionaries({"recipient": RECIPIENTS}, optional={"content": TEXT, "tag": TEXT}),
            max_size=4,
        ),
        content=TEXT,
        extra=EXTRA,
    )
    def test_send_many_raises_only_sms_errors_and_stores_nothing_on_error(
        self, any_service: SMSService, items: list[Any], content: str, extra: Any
    ) -> None:
        """A batch of random items: all stored, or none."""
        attempt(any_service, lambda: any_service.send_many(items, content, extra=extra))
