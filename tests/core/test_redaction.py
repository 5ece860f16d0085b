"""Secrets scrubbed from logs: what a handler writes never holds a configured secret."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import pytest

from smscore import SMSConfig, redaction
from smscore.redaction import SecretFilter, protect_logs, secrets_in

TOKEN = "tok-5e3c7a1f9b2d4e6a"


@pytest.fixture(autouse=True)
def no_other_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from a process-wide filter that knows no secret: services built by other tests register
    theirs ("secret", "token"...), and secrets add up for the life of the process."""
    monkeypatch.setattr(redaction._FILTER, "_secrets", set())
    monkeypatch.setattr(redaction._FILTER, "_pattern", None)


@pytest.fixture
def output() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A fresh child logger of smscore writing to a string, formatted as a typical handler does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(f"smscore.tests.redaction.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    protect_logs([TOKEN])
    yield logger, stream
    logger.removeHandler(handler)


def _fail_with(secret: str) -> None:
    try:
        raise ConnectionError(f"connect to https://user:{secret}@gateway.example failed")
    except ConnectionError as exc:
        raise RuntimeError(f"request with auth token {secret} failed") from exc


class TestRecordsOfProjectLoggers:
    def test_message_args_and_traceback_are_redacted_in_the_handler_output(
        self, output: tuple[logging.Logger, io.StringIO]
    ) -> None:
        """A secret in the message, in an argument and in a chained exception's traceback never reaches the
        output; the rest of the record does."""
        logger, stream = output
        try:
            _fail_with(TOKEN)
        except RuntimeError:
            logger.exception(f"sending with {TOKEN} failed for %s (token %r)", "message 7", TOKEN)
        written = stream.getvalue()
        assert TOKEN not in written
        assert "sending with *** failed for message 7 (token '***')" in written
        assert "Traceback (most recent call last)" in written
        assert "ConnectionError: connect to https://user:***@gateway.example failed" in written
        assert "RuntimeError: request with auth token *** failed" in written

    def test_a_record_whose_exception_held_a_secret_keeps_only_the_redacted_text(
        self, output: tuple[logging.Logger, io.StringIO]
    ) -> None:
        """No later handler can format the raw exception again: it is dropped once redacted into exc_text."""
        logger, _ = output
        seen: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = seen.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        try:
            _fail_with(TOKEN)
        except RuntimeError:
            logger.exception("failed")
        finally:
            logger.removeHandler(handler)
        (record,) = seen
        assert record.exc_info is None
        assert record.exc_text is not None
        assert "auth token ***" in record.exc_text

    def test_an_exception_without_secrets_is_left_to_the_handlers(
        self, output: tuple[logging.Logger, io.StringIO]
    ) -> None:
        """Records that hold no secret keep their exception, for handlers that format it their own way."""
        logger, stream = output
        try:
            raise ValueError("nothing secret")
        except ValueError:
            logger.exception("failed")
        assert "ValueError: nothing secret" in stream.getvalue()

    def test_percent_encoded_and_stack_text_are_redacted(self, output: tuple[logging.Logger, io.StringIO]) -> None:
        """A secret in a URL is redacted in its encoded form; stack_info is redacted too."""
        secret = "p@ss/w0rd secret"
        protect_logs([secret])
        logger, stream = output
        logger.warning("url %s", "postgresql://u:p%40ss%2Fw0rd%20secret@db/x", stack_info=True)
        assert "postgresql://u:***@db/x" in stream.getvalue()
        assert "p%40ss" not in stream.getvalue()
        assert "Stack (most recent call last)" in stream.getvalue()

    def test_records_logged_from_worker_threads_are_redacted(self, output: tuple[logging.Logger, io.StringIO]) -> None:
        """Redaction happens when the record is made, in whatever thread logs."""
        logger, stream = output
        thread = threading.Thread(target=logger.error, args=("token %s", TOKEN))
        thread.start()
        thread.join()
        assert stream.getvalue() == "ERROR " + logger.name + " token ***\n"


class TestScope:
    @pytest.mark.parametrize(
        "name", ["smscore", "providers.twilio", "twilio.http_client", "botocore.endpoint", "httpx"]
    )
    def test_project_and_sdk_loggers_and_their_children_are_covered(self, name: str) -> None:
        """Every record of the loggers named, and of children made later, is redacted when it is made."""
        protect_logs([TOKEN])
        logger = logging.getLogger(f"{name}.made.later")
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "token %s", (TOKEN,), None)
        assert record.getMessage() == "token ***"

    def test_records_made_from_a_dict_are_not_disturbed(self) -> None:
        """logging.makeLogRecord (used by formatters that copy a record) makes a nameless record first."""
        protect_logs([TOKEN])
        record = logging.makeLogRecord({"name": "smscore.cli", "msg": "copied %s", "args": ("x",)})
        assert record.getMessage() == "copied x"

    def test_other_loggers_are_left_alone(self) -> None:
        """An application's own loggers are not touched (attach the filter to its handlers for that)."""
        protect_logs([TOKEN])
        record = logging.getLogger("shop").makeRecord("shop", logging.INFO, __file__, 1, "%s", (TOKEN,), None)
        assert record.getMessage() == TOKEN

    def test_short_secrets_are_not_redacted(self) -> None:
        """Replacing every "abc" in every line would make the logs unreadable."""
        assert SecretFilter(["abc"]).redact("abcdef") == "abcdef"
        assert SecretFilter(["abcd"]).redact("abcdef") == "***ef"

    def test_the_filter_can_guard_a_handler_of_the_application(self) -> None:
        """The same filter, attached to a handler, redacts records of any logger."""
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(protect_logs([TOKEN]))
        logger = logging.getLogger("shop.payments")
        logger.addHandler(handler)
        try:
            logger.warning("token %s", TOKEN)
        finally:
            logger.removeHandler(handler)
        assert stream.getvalue() == "token ***\n"


class TestSecretsOfTheConfiguration:
    def test_secret_options_and_the_database_password_are_found(self) -> None:
        """Provider options named like secrets and the password of database_url (raw and decoded)."""
        config = SMSConfig.from_mapping(
            {
                "storage": "sqlalchemy",
                "database_url": "postgresql://smscore:pa%40ssword@db/sms",
                "providers": {
                    "ats": {"backend": "ats", "options": {"username": "u", "password": "ats-password"}},
                    "twilio": {"backend": "twilio", "options": {"account_sid": "AC1", "auth_token": TOKEN}},
                },
                "default_provider": "ats",
            }
        )
        assert secrets_in(config) == {"ats-password", TOKEN, "pa%40ssword", "pa@ssword"}

    def test_a_configuration_without_secrets_has_none(self) -> None:
        """The dummy provider and memory storage carry no secrets."""
        assert secrets_in(SMSConfig()) == set()
