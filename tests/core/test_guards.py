"""The guards on the in-memory storage, the pure checks behind them, and their configuration."""

from __future__ import annotations

from datetime import timedelta

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
