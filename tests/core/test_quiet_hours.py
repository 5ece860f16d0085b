"""Quiet hours: the allowed window, the next allowed moment (across midnight, daylight-saving changes and the date
line), the zone of a number, and the configuration keys."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscore import ConfigurationError, SMSConfig
from smscore.quiet_hours import AllowedHours, defer, next_allowed, zone_for_number

PRAGUE = ZoneInfo("Europe/Prague")
#: Zones with daylight saving (both hemispheres, a 30-minute change), a date-line jump (Apia skipped
#: 30 December 2011), far east and far west of UTC, and none.
ZONES = [
    "Europe/Prague",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "America/St_Johns",
    "UTC",
]

#: Clock changes: spring forward and fall back in Prague, Lord Howe's 30 minutes, Newfoundland, Samoa's skipped day.
CHANGES = [
    ("Europe/Prague", datetime(2026, 3, 29, 1, tzinfo=UTC)),
    ("Europe/Prague", datetime(2026, 10, 25, 1, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
    ("America/St_Johns", datetime(2026, 3, 8, 5, 30, tzinfo=UTC)),
    ("Pacific/Apia", datetime(2011, 12, 30, 10, tzinfo=UTC)),
]

minutes_of_day = st.integers(0, 24 * 60 - 1).map(lambda m: time(m // 60, m % 60))
windows = st.tuples(minutes_of_day, minutes_of_day).filter(lambda w: w[0] != w[1]).map(lambda w: AllowedHours(*w))
moments = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


def allowed_at(hours: AllowedHours, moment: datetime, zone: ZoneInfo) -> bool:
    return hours.allows(moment.astimezone(zone).time())


def check_next_allowed(due: datetime, hours: AllowedHours, zone: ZoneInfo, probe: float) -> None:
    """The properties of :func:`next_allowed` at ``due``; ``probe`` picks a moment between due and the result."""
    result = next_allowed(due, hours, zone)
    assert result >= due
    assert allowed_at(hours, result, zone)
    assert (result == due) == allowed_at(hours, due, zone)
    assert result - due <= timedelta(days=2, hours=1)
    if result > due:
        for moment in (due + (result - due) * probe, result - timedelta(seconds=1)):
            moment = min(max(moment, due), result - timedelta(microseconds=1))
            repeated = moment.astimezone(zone).fold == 1
            assert repeated or not allowed_at(hours, moment, zone)


class TestAllowedHours:
    def test_a_window_reads_and_prints_as_written(self) -> None:
        """HH:MM-HH:MM, end excluded; 24:00 ends a window at midnight."""
        hours = AllowedHours.parse("09:00-20:00")
        assert [hours.allows(time(*t)) for t in [(8, 59), (9, 0), (19, 59), (20, 0)]] == [False, True, True, False]
        assert str(hours) == "09:00-20:00"
        assert str(AllowedHours.parse("20:00-24:00")) == "20:00-24:00"

    def test_a_window_may_cross_midnight(self) -> None:
        """22:00-06:00 allows the night and not the day."""
        night = AllowedHours.parse("22:00-06:00")
        assert [night.allows(time(*t)) for t in [(23, 0), (5, 59), (6, 0), (12, 0)]] == [True, True, False, False]

    @pytest.mark.parametrize("text", ["9-20", "09:00", "25:00-26:00", "09:00-24:30", "10:00-10:00", "", "ab"])
    def test_anything_else_is_refused(self, text: str) -> None:
        """Malformed and empty windows are a ValueError."""
        with pytest.raises(ValueError, match=r"HH:MM|start where"):
            AllowedHours.parse(text)


class TestNextAllowed:
    @given(due=moments, hours=windows, zone=st.sampled_from(ZONES), probe=st.floats(0, 1, exclude_max=True))
    def test_the_next_allowed_moment_is_allowed_and_nothing_allowed_comes_before_it(
        self, due: datetime, hours: AllowedHours, zone: str, probe: float
    ) -> None:
        """The result is never before the due time, is allowed, is the due time itself when that is allowed, and no
        moment in between is allowed (but for hours that come round again when the clocks go back)."""
        check_next_allowed(due, hours, ZoneInfo(zone), probe)

    @given(
        change=st.sampled_from(CHANGES),
        offset=st.integers(-2 * 86400, 2 * 86400),
        hours=windows,
        probe=st.floats(0, 1, exclude_max=True),
    )
    def test_the_same_holds_around_clock_changes(
        self, change: tuple[str, datetime], offset: int, hours: AllowedHours, probe: float
    ) -> None:
        """Due times drawn within two days of a clock change (forward, back, 30 minutes, over the date line)."""
        zone, moment = change
        check_next_allowed(moment + timedelta(seconds=offset), hours, ZoneInfo(zone), probe)

    def test_evening_in_prague_waits_for_the_morning(self) -> None:
        """21:00 UTC in winter is 22:00 in Prague: 09:00-20:00 opens at 08:00 UTC the next day."""
        result = next_allowed(datetime(2026, 12, 24, 21, 0, tzinfo=UTC), AllowedHours.parse("09:00-20:00"), PRAGUE)
        assert result == datetime(2026, 12, 25, 8, 0, tzinfo=UTC)

    def test_a_start_the_clocks_skip_opens_when_they_jump(self) -> None:
        """On 29 March 2026 Prague jumps from 02:00 to 03:00: a window opening at 02:30 opens at 03:00 local."""
        result = next_allowed(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), AllowedHours.parse("02:30-20:00"), PRAGUE)
        assert result == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
        assert result.astimezone(PRAGUE).time() == time(3, 0)

    def test_the_day_after_daylight_saving_ends_opens_an_hour_later_in_utc(self) -> None:
        """25 October 2026: Prague goes back to UTC+1, so 09:00 local is 08:00 UTC instead of 07:00."""
        hours = AllowedHours.parse("09:00-20:00")
        before = next_allowed(datetime(2026, 10, 24, 20, 0, tzinfo=UTC), hours, PRAGUE)
        after = next_allowed(datetime(2026, 10, 25, 20, 0, tzinfo=UTC), hours, PRAGUE)
        assert (before, after) == (datetime(2026, 10, 25, 8, 0, tzinfo=UTC), datetime(2026, 10, 26, 8, 0, tzinfo=UTC))

    def test_a_day_skipped_at_the_date_line_is_stepped_over(self) -> None:
        """Samoa skipped 30 December 2011, moving from UTC-10 to UTC+14: a message due in its evening of the 29th
        waits for 09:00 on the 31st there."""
        apia = ZoneInfo("Pacific/Apia")
        due = datetime(2011, 12, 30, 7, 0, tzinfo=UTC)  # 21:00 on the 29th in Apia
        result = next_allowed(due, AllowedHours.parse("09:00-20:00"), apia)
        assert result.astimezone(apia).replace(tzinfo=None) == datetime(2011, 12, 31, 9, 0)

    def test_the_same_moment_is_a_different_day_on_either_side_of_the_date_line(self) -> None:
        """At 23:30 UTC it is already the next morning in Kiritimati (UTC+14) and still the previous noon in
        American Samoa (UTC-11): one recipient gets it now, the other waits a few hours."""
        due = datetime(2030, 6, 1, 23, 30, tzinfo=UTC)
        hours = AllowedHours.parse("14:00-20:00")
        assert next_allowed(due, hours, ZoneInfo("Pacific/Pago_Pago")) == datetime(2030, 6, 2, 1, 0, tzinfo=UTC)
        assert next_allowed(due, hours, ZoneInfo("Pacific/Kiritimati")) == datetime(2030, 6, 2, 0, 0, tzinfo=UTC)


class TestZones:
    def test_a_number_is_read_in_its_region_s_zone(self) -> None:
        """A Czech number is in Prague, a New York one in New York."""
        at = datetime(2030, 1, 1, tzinfo=UTC)
        assert zone_for_number("+420777123456", at, ZoneInfo("UTC")).key == "Europe/Prague"
        assert zone_for_number("+12125550100", at, ZoneInfo("UTC")).key == "America/New_York"

    def test_a_region_of_several_zones_is_read_in_its_westernmost(self) -> None:
        """A Russian mobile number spans many zones: the one furthest behind is used, so nobody is messaged
        before the window opens where they are."""
        at = datetime(2030, 1, 1, tzinfo=UTC)
        zone = zone_for_number("+79161234567", at, ZoneInfo("UTC"))
        offset = at.astimezone(zone).utcoffset()
        assert offset is not None
        assert offset <= at.astimezone(ZoneInfo("Europe/Moscow")).utcoffset()  # type: ignore[operator]

    def test_a_number_without_a_known_zone_uses_the_fallback(self) -> None:
        """American Samoa's +1 684 numbers have no zone in the data: the configured fallback applies."""
        zone = zone_for_number("+16845551234", datetime(2030, 1, 1, tzinfo=UTC), PRAGUE)
        assert zone is PRAGUE

    def test_defer_names_the_tag_window_and_zone(self) -> None:
        """The reason recorded on a deferred message says which rule moved it."""
        due = datetime(2030, 1, 2, 21, 0, tzinfo=UTC)
        moved, reason = defer(due, "+420777123456", "marketing", AllowedHours.parse("09:00-20:00"), PRAGUE)
        assert moved == datetime(2030, 1, 3, 8, 0, tzinfo=UTC)
        assert reason == "quiet hours of tag 'marketing': allowed 09:00-20:00 in Europe/Prague"
        assert defer(moved, "+420777123456", "marketing", AllowedHours.parse("09:00-20:00"), PRAGUE) == (moved, None)


class TestConfiguration:
    def test_the_keys_are_read_from_a_mapping_and_the_environment(self) -> None:
        """quiet_hours per tag and the fallback zone, also as SMSCORE_ variables."""
        from smscore import load_config

        config = load_config(
            environ={
                "SMSCORE_QUIET_HOURS__MARKETING__ALLOWED": "09:00-20:00",
                "SMSCORE_QUIET_HOURS_ZONE": "America/New_York",
            },
            overrides={"storage": "memory"},
        )
        assert config.quiet_hours == {"marketing": AllowedHours(time(9), time(20))}
        assert config.quiet_hours_zone == "America/New_York"
        assert SMSConfig().quiet_hours == {}
        assert SMSConfig().quiet_hours_zone == "UTC"

    @pytest.mark.parametrize(
        ("mapping", "key"),
        [
            ({"quiet_hours": {"marketing": {"allowed": "9-20"}}}, "quiet_hours.marketing.allowed"),
            ({"quiet_hours": {"marketing": {"from": "09:00"}}}, "quiet_hours.marketing"),
            ({"quiet_hours": {"marketing": "09:00-20:00"}}, "quiet_hours.marketing"),
            ({"quiet_hours": ["marketing"]}, "quiet_hours"),
            ({"quiet_hours_zone": "Mars/Olympus"}, "quiet_hours_zone"),
        ],
    )
    def test_a_wrong_value_names_its_key(self, mapping: dict[str, object], key: str) -> None:
        """Each mistake is a ConfigurationError naming the exact key."""
        with pytest.raises(ConfigurationError) as info:
            SMSConfig.from_mapping(mapping)
        assert info.value.key == key
