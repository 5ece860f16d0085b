"""The composition root finds declared roles: a storage factory's schema management, a renderer's validation."""

from __future__ import annotations

import pytest

from smscore import ConfigurationError, SMSConfig, Storage, TemplateRenderError
from smscore.bootstrap import build_storage, storage_schema
from smscore.ports import SchemaManager, TemplateRenderer
from smscore.templates import JinjaRenderer
from smscore.testing import memory_storage


class SchemaStorage:
    """A custom storage factory that declares the schema role."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, config: SMSConfig) -> Storage:
        return memory_storage(config)

    def upgrade_database(self, config: SMSConfig) -> str:
        self.calls.append("upgrade")
        return "upgraded"

    def check_database(self, config: SMSConfig) -> str:
        self.calls.append("check")
        return "checked"


SCHEMA_STORAGE = SchemaStorage()


class TestStorageSchema:
    def test_a_storage_without_a_schema_has_no_schema_role(self) -> None:
        """The in-memory storage manages no schema: None, and nothing is built."""
        assert storage_schema(SMSConfig(storage="memory")) is None

    def test_a_factory_that_declares_the_role_is_the_schema_manager(self) -> None:
        """A dotted path to a factory with upgrade_database/check_database: those run, no storage is built."""
        config = SMSConfig(storage=f"{__name__}:SCHEMA_STORAGE")
        schema = storage_schema(config)
        assert schema is SCHEMA_STORAGE
        assert isinstance(schema, SchemaManager)
        assert (schema.upgrade_database(config), schema.check_database(config)) == ("upgraded", "checked")
        assert SCHEMA_STORAGE.calls == ["upgrade", "check"]
        assert isinstance(build_storage(config), Storage)

    def test_a_storage_that_is_not_callable_is_refused_by_name(self) -> None:
        """The key is named, for the schema role as for building."""
        config = SMSConfig(storage=f"{__name__}:__doc__")
        with pytest.raises(ConfigurationError, match="not callable") as info:
            storage_schema(config)
        assert info.value.key == "storage"


class TestRendererPort:
    def test_the_default_renderer_validates_a_body_without_rendering_it(self) -> None:
        """validate refuses a syntax error and accepts a body whose variables are not known yet."""
        renderer: TemplateRenderer = JinjaRenderer()
        renderer.validate("Hello {{ name }}")
        with pytest.raises(TemplateRenderError):
            renderer.validate("Hello {{ name ")
