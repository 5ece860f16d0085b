"""SNS's own opt-out list, read page by page (``ListPhoneNumbersOptedOut`` and its ``nextToken``), on moto.

moto 5 answers ``ListPhoneNumbersOptedOut`` with its whole list and never a ``nextToken``, where SNS serves at most
100 numbers a page. So the pages here are cut from moto's real answer by a botocore event hook on the backend's own
client, the SDK's seam: each request still goes to moto and each answer is parsed by botocore; the hook only keeps
the slice the request's token asks for and adds the token of the next slice, as SNS does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

import smscore
from providers._sns_wire import opted_out_page
from providers.sns import SNSSMSBackend
from smscore import OptOutSource, ProviderError

REGION = "eu-west-1"
SECRET = "sns-test-secret"
NUMBERS = [f"+4477009{i:05d}" for i in range(250)]


class MotoPages:
    """Cuts moto's ``ListPhoneNumbersOptedOut`` answers into pages of ``size`` numbers (see the module docstring)
    and records the token of every request."""

    def __init__(self, client: Any, size: int = 100) -> None:
        self.size = size
        self.tokens: list[str | None] = []
        client.meta.events.register("provide-client-params.sns.ListPhoneNumbersOptedOut", self._request)
        client.meta.events.register("after-call.sns.ListPhoneNumbersOptedOut", self._answer)

    def _request(self, params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        token = params.get("nextToken")
        self.tokens.append(token)
        context["page"] = int(token or 0)

    def _answer(self, parsed: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        page = context["page"]
        everything = parsed.get("phoneNumbers", [])
        parsed["phoneNumbers"] = everything[page * self.size : (page + 1) * self.size]
        if (page + 1) * self.size < len(everything):
            parsed["nextToken"] = str(page + 1)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's in-process AWS with 250 opted-out numbers."""
    with mock_aws():
        sns_backends[DEFAULT_ACCOUNT_ID][REGION].opt_out_numbers = list(NUMBERS)
        yield


def _options() -> dict[str, Any]:
    return {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": SECRET, "region": REGION}


@pytest.fixture
def backend(aws: None) -> Iterator[SNSSMSBackend]:
    backend = SNSSMSBackend.from_options(_options())
    yield backend
    backend.close()


class TestOptedOutNumbers:
    def test_every_page_is_read_in_order(self, backend: SNSSMSBackend) -> None:
        """250 numbers come in three requests, each sending the token the previous answer gave."""
        pages = MotoPages(backend.client)
        assert list(backend.opted_out_numbers()) == NUMBERS
        assert pages.tokens == [None, "1", "2"]

    def test_the_backend_declares_the_role(self, backend: SNSSMSBackend) -> None:
        """SNS plays OptOutSource; the sync finds it by the role, not by probing."""
        assert isinstance(backend, OptOutSource)

    def test_a_refused_request_is_a_provider_error_without_credentials(self, backend: SNSSMSBackend) -> None:
        """An SNS error answer becomes ProviderError naming SNS's code; the secret appears nowhere."""
        with Stubber(backend.client) as stub:
            stub.add_client_error(
                "list_phone_numbers_opted_out", "AuthorizationError", f"denied for {SECRET}", http_status_code=403
            )
            with pytest.raises(ProviderError) as info:
                list(backend.opted_out_numbers())
        assert "AuthorizationError" in str(info.value)
        assert SECRET not in str(info.value)

    def test_an_empty_list_is_one_empty_page(self, backend: SNSSMSBackend) -> None:
        """No numbers and no token: one request, nothing yielded."""
        with Stubber(backend.client) as stub:
            stub.add_response("list_phone_numbers_opted_out", {"phoneNumbers": []}, {})
            assert list(backend.opted_out_numbers()) == []

    @pytest.mark.parametrize(
        "answer", [None, {"phoneNumbers": "+15555550100"}, {"phoneNumbers": [1, 2]}, {"phoneNumbers": ["+1"] * 10_001}]
    )
    def test_an_answer_that_is_not_a_page_is_refused(self, answer: object) -> None:
        """The wire reader refuses what is not a page of numbers, and a page larger than SNS ever serves."""
        with pytest.raises(ProviderError):
            opted_out_page(answer)

    def test_a_page_and_its_token(self) -> None:
        """The numbers and the next token; an empty token means the last page."""
        assert opted_out_page({"phoneNumbers": ["+15555550100"], "nextToken": "t"}) == (["+15555550100"], "t")
        assert opted_out_page({"phoneNumbers": [], "nextToken": ""}) == ([], None)


class TestSync:
    def test_the_service_copies_the_list_and_a_second_sync_adds_nothing(self, aws: None) -> None:
        """service.opt_outs.sync reads every page into the opt-out list, marked with the provider's name."""
        with smscore.build_service({"provider": "sns", "provider_options": _options()}) as service:
            provider = service.providers["default"]
            assert isinstance(provider, SNSSMSBackend)
            MotoPages(provider.client)
            first = service.opt_outs.sync("default")
            assert (first.read, first.added, first.already, first.refused_count) == (250, 250, 0, 0)
            assert service.opt_outs.count() == 250
            entry = service.opt_outs.get(NUMBERS[123])
            assert entry is not None
            assert entry.source == "sync:default"
            again = service.opt_outs.sync("default")
            assert (again.added, again.already) == (0, 250)
            with pytest.raises(smscore.RecipientOptedOutError):
                service.send(NUMBERS[249], "Sale")

    def test_a_provider_without_a_list_is_a_configuration_error(self) -> None:
        """The dummy provider keeps no opt-out list: the sync says so, naming the provider."""
        service = smscore.build_service({"provider": "dummy"})
        with pytest.raises(smscore.ConfigurationError, match="keeps no opt-out list"):
            service.opt_outs.sync("default")
        with pytest.raises(smscore.ConfigurationError, match="not configured"):
            service.opt_outs.sync("sns")
