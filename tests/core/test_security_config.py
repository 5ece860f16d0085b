"""The security settings the composition root applies: the render budget keys and log redaction."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import smscore
from smscore import ConfigurationError, SMSConfig, SMSTemplate, TemplateRenderError
from smscore.budget import RenderBudget


class TestRenderBudgetKeys:
    def test_the_defaults_are_the_safe_budget(self) -> None:
        """Without the keys, every render gets the default budget."""
        assert SMSConfig().render_budget == RenderBudget()

    def test_the_keys_set_the_budget_and_strings_are_converted(self) -> None:
        """Values from the environment arrive as strings."""
        config = SMSConfig.from_mapping(
            {
                "render_timeout_seconds": "0.25",
                "render_max_length": "500",
                "render_max_iterations": 1000,
                "render_max_depth": 20,
            }
        )
        assert config.render_budget == RenderBudget(seconds=0.25, max_length=500, max_iterations=1000, max_depth=20)

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("render_timeout_seconds", 0),
            ("render_timeout_seconds", "soon"),
            ("render_max_length", -1),
            ("render_max_iterations", True),
            ("render_max_depth", 0),
        ],
    )
    def test_a_bad_value_names_its_key(self, key: str, value: Any) -> None:
        """A budget of nothing or of a non-number is a ConfigurationError naming the key."""
        with pytest.raises(ConfigurationError) as caught:
            SMSConfig.from_mapping({key: value})
        assert caught.value.key == key

    def test_a_built_service_renders_and_saves_within_the_configured_budget(self) -> None:
        """send_template and templates.save both apply the configured budget."""
        service = smscore.build_service({"render_max_length": 20, "render_max_depth": 5})
        service.templates.save(SMSTemplate(slug="long", body="{{ 'x' * n }}"))
        assert service.send_template("+420777123456", "long", {"n": 20}) is not None
        with pytest.raises(TemplateRenderError, match="repetition would be 21 characters"):
            service.send_template("+420777123456", "long", {"n": 21})
        with pytest.raises(TemplateRenderError, match="nests more than 5 levels"):
            service.templates.save(SMSTemplate(slug="deep", body="{{ " + "+".join(["1"] * 10) + " }}"))
        assert service.messages.count() == 1


class TestLogRedaction:
    def test_building_a_service_redacts_its_secrets_in_the_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        """The composition root registers the configuration's secrets with the log filter."""
        secret = "opt-secret-8d1e44"
        smscore.build_service({"storage": "memory", "storage_options": {"password": secret}})
        with caplog.at_level(logging.WARNING, logger="smscore"):
            logging.getLogger("smscore.anything").warning("connecting with %s", secret)
        assert caplog.messages == ["connecting with ***"]
