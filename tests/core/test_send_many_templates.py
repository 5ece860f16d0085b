"""``send_many`` items that name a stored template: checked, metered and rendered as ``send_template`` does it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import smscore
from smscore import (
    InvalidMessageError,
    SMSService,
    SMSTemplate,
    TemplateInactiveError,
    TemplateNotFoundError,
    TemplateRenderError,
)


@pytest.fixture
def service(flavoured: Callable[[SMSService], Any]) -> SMSService:
    """The synchronous service, and its asyncio twin."""
    service = smscore.build_service(
        {"storage": "memory", "provider": "dummy", "default_region": "CZ", "render_max_iterations": 1000}
    )
    service.templates.save(SMSTemplate(slug="welcome", body="Hello {{ name }}"))
    return flavoured(service)  # type: ignore[no-any-return]


def test_an_item_renders_its_template_and_records_the_slug(service: SMSService) -> None:
    sent = service.send_many(
        [
            {"recipient": "777 123 456", "template": "welcome", "context": {"name": "Eva"}},
            {"recipient": "+420777000111", "content": "plain"},
        ]
    )
    assert [(m.recipient, m.content, m.template_slug) for m in sent] == [
        ("+420777123456", "Hello Eva", "welcome"),
        ("+420777000111", "plain", None),
    ]
    assert service.messages.get(sent[0].id).template_slug == "welcome"


@pytest.mark.parametrize(
    ("item", "error"),
    [
        ({"template": "welcome", "context": {}}, TemplateRenderError),  # a missing variable
        ({"template": "nope", "context": {"name": "Eva"}}, TemplateNotFoundError),
        ({"template": "welcome", "context": {"name": "Eva"}, "content": "both"}, InvalidMessageError),
        ({"template": "welcome", "context": [1, 2]}, InvalidMessageError),
        ({"template": "off", "context": {"name": "Eva"}}, TemplateInactiveError),
        ({"template": "loop", "context": {}}, TemplateRenderError),  # over the render budget
    ],
)
def test_a_bad_template_item_refuses_the_whole_call(
    service: SMSService, item: dict[str, object], error: type[Exception]
) -> None:
    service.templates.save(SMSTemplate(slug="off", body="Hello {{ name }}", is_active=False))
    service.templates.save(SMSTemplate(slug="loop", body="{% for i in range(100000) %}{% endfor %}"))
    with pytest.raises(error):
        service.send_many(["+420777000111", {"recipient": "+420777000222", **item}], content="first")
    assert service.messages.count() == 0
