"""The guards on the in-memory storage, the pure checks behind them, and their configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smscore
from smscore import ConfigurationError, SMSConfig, Storage
from smscore.guards import RecipientLimit, allowed_countries, country_allowed
from smscore.testing import memory_storage
from tests.contracts.guarded_service import GuardedServiceContract


class TestGuardsOnMemory(GuardedServiceContract):
    @pytest.fixture
    def storage(self) -> Storage:
        return memory_storage(SMSConfig())


def _example(region: str) -> str | None:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if _example(r) is not None)


class TestAllowedCountries:
    @settings(max_examples=300, deadline=None)
    @given(
        destination=st.sampled_from(_REGIONS),
        regions=st.lists(st.sampled_from(_REGIONS), max_size=4),
        codes=st.lists(st.sampled_from(_REGIONS), max_size=2),
    )
    def test_a_number_is_allowed_exactly_when_its_region_or_calling_code_is(
        self, destination: str, regions: list[str], codes: list[str]
    ) -> None:
        """Over every region's numbers: allowed iff phonenumbers puts the number in an allowed region, or its
        calling code is allowed (+1 numbers of the US and Canada told apart); nothing listed allows all."""
        number = _example(destination)
        assert number is not None
        entries = regions + [f"+{phonenumbers.country_code_for_region(r)}" for r in codes]
        allowed = allowed_countries(entries, "allowed_countries")
        parsed = phonenumbers.parse(number)
        expected = (
            not entries
            or phonenumbers.region_code_for_number(parsed) in regions
            or parsed.country_code in {phonenumbers.country_code_for_region(r) for r in codes}
        )
        assert country_allowed(number, allowed) is expected

    def test_nothing_configured_allows_everything(self) -> None:
        """An empty list is no restriction."""
        assert country_allowed("+4915112345678", ())

    def test_entries_are_read_as_regions_or_calling_codes(self) -> None:
        """ "cz", "420", "+420" and a comma-separated string are accepted; anything else names the key."""
        assert allowed_countries("cz, 421, +1", "allowed_countries") == ("CZ", "+421", "+1")
        with pytest.raises(ConfigurationError) as info:
            SMSConfig.from_mapping({"allowed_countries": ["CZ", "Bohemia"]})
        assert info.value.key == "allowed_countries"
        with pytest.raises(ConfigurationError):
            SMSConfig.from_mapping({"allowed_countries": ["+999"]})


class TestRecipientLimitsConfiguration:
    def test_a_table_per_tag(self) -> None:
        """``{tag: {count, per}}`` with ``per`` a duration; the environment's text is read too."""
        config = SMSConfig.from_mapping({"recipient_limits": {"otp": {"count": "5", "per": "1h"}}})
        assert config.recipient_limits == {"otp": RecipientLimit(5, timedelta(hours=1))}

    @pytest.mark.parametrize(
        ("value", "key"),
        [
            ({"otp": {"count": 0, "per": "1h"}}, "recipient_limits.otp.count"),
            ({"otp": {"count": 1.5, "per": "1h"}}, "recipient_limits.otp.count"),
            ({"otp": {"count": 5, "per": "an hour"}}, "recipient_limits.otp.per"),
            ({"otp": {"count": 5, "per": "400d"}}, "recipient_limits.otp.per"),
            ({"otp": {"count": 5}}, "recipient_limits.otp"),
            ({"o t p": {"count": 5, "per": "1h"}}, "recipient_limits.o t p"),
            (["otp"], "recipient_limits"),
        ],
    )
    def test_a_wrong_value_names_its_key(self, value: object, key: str) -> None:
        """Every refusal names the exact key to fix."""
        with pytest.raises(ConfigurationError) as info:
            SMSConfig.from_mapping({"recipient_limits": value})
        assert info.value.key == key

    def test_environment_variables_reach_every_new_key(self) -> None:
        """Nested keys join with ``__``; lists are comma-separated."""
        from smscore import load_config

        config = load_config(
            environ={
                "SMSCORE_RECIPIENT_LIMITS__OTP__COUNT": "5",
                "SMSCORE_RECIPIENT_LIMITS__OTP__PER": "1h",
                "SMSCORE_ALLOWED_COUNTRIES": "CZ,+421",
                "SMSCORE_OPT_OUT_EXEMPT_TAGS": "otp,security",
                "SMSCORE_REFUSAL_SUBSCRIBERS": "logging.warning",
            },
            path=None,
        )
        assert config.recipient_limits == {"otp": RecipientLimit(5, timedelta(hours=1))}
        assert config.allowed_countries == ("CZ", "+421")
        assert config.opt_out_exempt_tags == ("otp", "security")
        assert config.refusal_subscribers == ("logging.warning",)


class TestOptOutList:
    @pytest.fixture
    def service(self, flavoured: Callable[[smscore.SMSService], Any]) -> smscore.SMSService:
        """The synchronous service, and its asyncio twin."""
        return flavoured(smscore.build_service({"default_region": "CZ"}))  # type: ignore[no-any-return]

    def test_numbers_are_read_as_recipients(self, service: smscore.SMSService) -> None:
        """National, spaced, 00-prefixed and E.164 spellings are one entry; non-numbers are never on the list."""
        entry = service.opt_outs.add("00420 777 123 456", reason="STOP")
        assert entry.recipient == "+420777123456"
        assert "777123456" in service.opt_outs
        assert "call me" not in service.opt_outs
        assert service.opt_outs.add("+420777123456", reason="again") == entry
        assert service.opt_outs.count() == 1
        with pytest.raises(smscore.InvalidRecipientError):
            service.opt_outs.add("call me")

    def test_an_import_reports_what_it_could_not_use(self, service: smscore.SMSService) -> None:
        """A header after a comment is still a header; a reason too long refuses its line; duplicates count as
        already listed; the default reason fills lines without one."""
        report = service.opt_outs.import_lines(
            [
                "# stop list\n",
                "recipient,reason\n",
                "+420777000001\n",
                f"+420777000002,{'x' * 201}\n",
                "777000001\n",
                "+420 777 000 003, moved abroad\n",
            ],
            reason="imported",
        )
        assert (report.read, report.added, report.already, report.refused_count) == (4, 2, 1, 1)
        assert [line for line, _ in report.refused] == [4]
        entries = {e.recipient: e for e in service.opt_outs.list()}
        assert entries["+420777000001"].reason == "imported"
        assert entries["+420777000003"].reason == "moved abroad"
        assert entries["+420777000001"].source == "import"

    def test_the_list_pages_in_number_order(self, service: smscore.SMSService) -> None:
        """list(limit, after) is keyset paging over the numbers."""
        for number in ("+420777000003", "+420777000001", "+420777000002"):
            service.opt_outs.add(number)
        first = service.opt_outs.list(limit=2)
        assert [e.recipient for e in first] == ["+420777000001", "+420777000002"]
        rest = service.opt_outs.list(after=first[-1].recipient)
        assert [e.recipient for e in rest] == ["+420777000003"]

    def test_a_storage_that_cannot_count_refusals_does_not_hide_the_refusal(self) -> None:
        """The refusal stands and is raised; the counting failure is only logged."""
        from smscore import StorageError
        from smscore.testing import InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider

        class BrokenCounter:
            def add(self, counts: object) -> None:
                raise StorageError("database unavailable")

            def totals(self) -> dict[tuple[str, str | None], int]:
                return {}

        service = smscore.SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(),
            providers={"default": ScriptedProvider()},
            refusals=BrokenCounter(),
        )
        service.opt_outs.add("+420777123456")
        with pytest.raises(smscore.RecipientOptedOutError):
            service.send("+420777123456", "Hello")
