"""What goes into the tables comes back the same, and is stored in the form other tools can read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters_sqlalchemy import SQLAlchemyMessageRepository, SQLAlchemyTemplateRepository, tables
from smscore import MessageNotFoundError, RelatedObject, SMSState, SMSTemplate
from smscore.rows import READ_FIELDS
from tests.contracts.repositories import T0, make_message


@pytest.fixture
def repo(engine: Engine) -> SQLAlchemyMessageRepository:
    return SQLAlchemyMessageRepository(engine)


def test_the_message_table_has_a_column_per_field_of_the_shared_list() -> None:
    """The table is laid out from the one field list: the id, then every row field in order."""
    assert tuple(tables.messages.c.keys()) == READ_FIELDS


class TestDatetimes:
    @pytest.mark.parametrize("offset_hours", [-11, -3.5, 0, 2, 5.75, 14])
    def test_aware_datetimes_come_back_aware_and_equal_in_utc(
        self, repo: SQLAlchemyMessageRepository, offset_hours: float
    ) -> None:
        """Whatever the zone given, the same instant comes back, in UTC, to the microsecond."""
        zone = timezone(timedelta(hours=offset_hours))
        when = datetime(2031, 3, 30, 1, 59, 59, 999999, tzinfo=zone)
        stored = repo.add(make_message(created_at=when, changed_at=when, sent_at=when, next_attempt_at=when))
        loaded = repo.get(stored.id or 0)
        for value in (loaded.created_at, loaded.changed_at, loaded.sent_at, loaded.next_attempt_at):
            assert value == when
            assert value is not None
            assert value.tzinfo is UTC

    def test_naive_datetimes_are_refused_before_anything_is_stored(self, repo: SQLAlchemyMessageRepository) -> None:
        """A naive datetime has no defined instant: ValueError, and the table stays empty."""
        with pytest.raises(ValueError, match="timezone-aware"):
            repo.add(make_message(sent_at=datetime(2030, 1, 1, 12, 0)))
        assert repo.count() == 0

    def test_datetime_filters_compare_instants_not_wall_clocks(self, repo: SQLAlchemyMessageRepository) -> None:
        """scan's sent_before / sent_after work on instants given in any zone."""
        stored = repo.add(make_message(state=SMSState.SENT, sent_at=T0))
        plus_two = timezone(timedelta(hours=2))
        just_after = (T0 + timedelta(microseconds=1)).astimezone(plus_two)
        assert repo.scan(states={SMSState.SENT}, limit=5, sent_before=just_after) == [stored]
        assert repo.scan(states={SMSState.SENT}, limit=5, sent_after=just_after) == []
        assert repo.scan(states={SMSState.SENT}, limit=5, sent_after=T0.astimezone(plus_two)) == [stored]

    @pytest.mark.parametrize(
        "written",
        [
            "2031-03-30 01:59:59.999999",  # as smscore writes it: naive UTC
            "2031-03-30 01:59:59",  # another tool, without microseconds
            "2031-03-30T01:59:59.999999",  # ISO 8601 with T
            "2031-03-30T03:59:59.999999+02:00",  # with an offset
        ],
    )
    def test_sqlite_reads_datetime_text_other_tools_wrote(self, sqlite_file_engine: Engine, written: str) -> None:
        """Text in the forms SQLite tools write is read as the instant it names, aware and in UTC; naive text
        is UTC."""
        repo = SQLAlchemyMessageRepository(sqlite_file_engine)
        stored = repo.add(make_message())
        with sqlite_file_engine.begin() as conn:
            conn.exec_driver_sql("UPDATE smscore_message SET sent_at = ? WHERE id = ?", (written, stored.id))
        sent_at = repo.get(stored.id or 0).sent_at
        assert sent_at is not None
        assert sent_at.tzinfo is UTC
        assert sent_at.replace(microsecond=0) == datetime(2031, 3, 30, 1, 59, 59, tzinfo=UTC)


class TestValues:
    def test_unicode_json_round_trips(self, repo: SQLAlchemyMessageRepository) -> None:
        """Extra data keeps non-ASCII text, nesting and JSON scalars."""
        data = {"jméno": "Žofie 🐎", "ceny": [1, 2.5, None, True, False], "vnořené": {"ключ": "значение"}}
        stored = repo.add(make_message(extra_data=data, extra_sender_data={"uniq": "app-1", "ok": "✓"}))
        loaded = repo.get(stored.id or 0)
        assert loaded.extra_data == data
        assert loaded.extra_sender_data == {"uniq": "app-1", "ok": "✓"}

    def test_every_loaded_message_has_json_dicts_of_its_own(self, repo: SQLAlchemyMessageRepository) -> None:
        """Changing one loaded message's data never shows in another's (empty data included)."""
        first = repo.add(make_message())
        one, two = repo.get(first.id or 0), repo.get(first.id or 0)
        assert one.extra_data == {}
        assert one.extra_data is not two.extra_data
        assert one.extra_sender_data is not two.extra_sender_data
        assert one.extra_data is not one.extra_sender_data

    def test_our_engines_store_json_as_readable_text(self, sqlite_file_engine: Engine) -> None:
        """An engine built by smscore stores empty data as ``{}`` and non-ASCII text as itself."""
        repo = SQLAlchemyMessageRepository(sqlite_file_engine)
        repo.add(make_message())
        repo.add(make_message(extra_data={"jméno": "Žofie"}))
        with sqlite_file_engine.connect() as conn:
            texts = conn.exec_driver_sql("SELECT extra_data, extra_sender_data FROM smscore_message ORDER BY id")
            assert [tuple(row) for row in texts] == [("{}", "{}"), ('{"jméno": "Žofie"}', "{}")]

    def test_related_objects_with_integer_and_text_ids_keep_their_order(
        self, repo: SQLAlchemyMessageRepository, engine: Engine
    ) -> None:
        """Related objects come back in order; integer ids are also stored in the indexed integer column."""
        related = (
            RelatedObject("shop.order", 9_000_000_000),
            RelatedObject("auth.user", "3f2a-uuid"),
            RelatedObject("shop.order", -7),
            RelatedObject("blog.post", "čeština"),
        )
        stored = repo.add(make_message(related_objects=related))
        assert repo.get(stored.id or 0).related_objects == related
        r = tables.related_objects
        with engine.connect() as conn:
            rows = conn.execute(select(r.c.content_type, r.c.object_id, r.c.object_id_int).order_by(r.c.position)).all()
        assert [tuple(row) for row in rows] == [
            ("shop.order", "9000000000", 9_000_000_000),
            ("auth.user", "3f2a-uuid", None),
            ("shop.order", "-7", -7),
            ("blog.post", "čeština", None),
        ]

    @pytest.mark.parametrize("state", list(SMSState))
    def test_state_is_stored_as_the_enum_value(
        self, repo: SQLAlchemyMessageRepository, engine: Engine, state: SMSState
    ) -> None:
        """The state column holds the lower-case value (readable by SQL), and comes back as the member."""
        stored = repo.add(make_message(state=state))
        m = tables.messages
        with engine.connect() as conn:
            raw = conn.execute(select(m.c.state).where(m.c.id == stored.id)).scalar_one()
        assert raw == state.value
        assert repo.get(stored.id or 0).state is state

    @pytest.mark.parametrize("price", ["0.00750", "12345678901234.123456789", "0", "-0.05"])
    def test_prices_keep_every_digit(self, repo: SQLAlchemyMessageRepository, price: str) -> None:
        """A Decimal price comes back digit for digit, never through a float."""
        stored = repo.add(make_message(price=Decimal(price), price_unit="EUR"))
        loaded = repo.get(stored.id or 0)
        assert isinstance(loaded.price, Decimal)
        assert str(loaded.price) == price

    def test_every_save_bumps_the_version_column(self, repo: SQLAlchemyMessageRepository) -> None:
        """The version counts writes: add keeps the given one, each save and claim adds one."""
        stored = repo.add(make_message())
        assert stored.version == 0
        (claimed,) = repo.claim(now=T0, lease_until=T0 + timedelta(minutes=1), limit=1)
        saved = repo.save(claimed.transition(SMSState.SENT, at=T0))
        assert (claimed.version, saved.version, repo.get(saved.id or 0).version) == (1, 2, 2)

    def test_purge_removes_related_objects_too(self, repo: SQLAlchemyMessageRepository, engine: Engine) -> None:
        """Purged messages leave no related-object rows behind."""
        old = T0 - timedelta(days=400)
        doomed = repo.add(
            make_message(state=SMSState.DELIVERED, changed_at=old, related_objects=(RelatedObject("a.b", 1),))
        )
        kept = repo.add(make_message(related_objects=(RelatedObject("a.b", 2),)))
        assert repo.purge(states={SMSState.DELIVERED}, changed_before=T0, limit=10) == 1
        with pytest.raises(MessageNotFoundError):
            repo.get(doomed.id or 0)
        r = tables.related_objects
        with engine.connect() as conn:
            assert conn.execute(select(r.c.message_id)).scalars().all() == [kept.id]

    def test_ids_are_never_reused_after_a_purge(self, repo: SQLAlchemyMessageRepository) -> None:
        """Gateways know messages by our id: purging the newest row must not hand its id out again."""
        last = repo.add(make_message(state=SMSState.DELIVERED, changed_at=T0 - timedelta(days=1)))
        assert repo.purge(states={SMSState.DELIVERED}, changed_before=T0, limit=10) == 1
        assert (repo.add(make_message()).id or 0) > (last.id or 0)


class TestTemplates:
    def test_a_subclass_comes_back_as_the_configured_class(self, engine: Engine) -> None:
        """template_class decides what get and list return (for templates that override can_send)."""

        class Quiet(SMSTemplate):
            def can_send(self, recipient: str, context: Mapping[str, Any]) -> bool:
                return False

        templates = SQLAlchemyTemplateRepository(engine, template_class=Quiet)
        templates.save(SMSTemplate(slug="otp", body="Kód {{ code }} ✓"))
        loaded = templates.get("otp")
        assert type(loaded) is Quiet
        assert loaded.body == "Kód {{ code }} ✓"
        assert [type(t) for t in templates.list()] == [Quiet]

    def test_timestamps_come_from_the_clock_and_created_at_is_kept(self, engine: Engine) -> None:
        """created_at is set once (or taken from the template); changed_at follows the clock."""
        times = iter([T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)])
        templates = SQLAlchemyTemplateRepository(engine, clock=lambda: next(times))
        first = templates.save(SMSTemplate(slug="otp", body="a"))
        second = templates.save(SMSTemplate(slug="otp", body="b"))
        assert (first.created_at, first.changed_at) == (T0, T0)
        assert (second.created_at, second.changed_at) == (T0, T0 + timedelta(hours=1))
        given = datetime(2020, 5, 5, tzinfo=UTC)
        third = templates.save(SMSTemplate(slug="otp", body="c", created_at=given))
        assert templates.get("otp") == third
        assert third.created_at == given
