"""The FastAPI example (``examples/fastapi_app.py``) sends, stores and receives Twilio's callbacks on the asyncio
service, run in-process with its lifespan, as uvicorn runs it (tests/asgi_client.py).

Messages go out through the real ``twilio`` client to the loopback fake Twilio and are kept in a SQLite file;
callbacks and inbound SMS are signed with twilio's own ``RequestValidator`` over the public URLs Twilio was given,
and posted to the smscore webhook application the example mounts at ``/sms``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

import smscore
from smscore import InboundQuery, SMSState
from tests.asgi_client import running
from tests.providers.fake_twilio import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "fastapi_app.py"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fastapi-example-auth-token-5d0e"
SENDER = "+15005550006"
PERSON = "+420777123456"
PUBLIC = "https://sms.example.com/sms"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example imported as uvicorn imports it (a module of ``sys.modules``, where pydantic reads the names of
    its annotations)."""
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def signed(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


@pytest.fixture
def config(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A SQLite file and a Twilio provider named ``default`` talking to the loopback fake."""
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        http = fake.http_client()
        options = {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_": SENDER,
            "http_client": http,
            "async_http_client": fake.async_http_client(),
        }
        yield {
            "storage": "sqlalchemy",
            "database_url": f"sqlite:///{tmp_path / 'sms.sqlite3'}",
            "providers": {"default": {"backend": "twilio", "options": options}},
            "public_base_url": PUBLIC,
            "inbound_keywords": {"stop": {"reply": "You will get no more SMS from us."}},
        }
        http.close()


def test_send_store_and_receive_a_signed_status_callback(example: ModuleType, config: dict[str, Any]) -> None:
    """POST /messages sends through Twilio and answers the stored message; Twilio's callback, signed over
    <public>/status/default/ and posted to the mounted /sms application, moves it to DELIVERED."""
    with running(example.create_app(config)) as client:
        answer = client.post(
            "/messages", json={"recipient": "+420 777 123 456", "content": "Your parcel is on its way"}
        )
        assert answer.status_code == 201
        sent = answer.json()
        assert (sent["recipient"], sent["state"], sent["provider"]) == (PERSON, "SENDING", "default")
        assert client.get(f"/messages/{sent['id']}").json() == sent

        report = {"AccountSid": ACCOUNT_SID, "MessageSid": sent["provider_ref"], "MessageStatus": "delivered"}
        callback = client.post("/sms/status/default/", data=report, headers=signed(f"{PUBLIC}/status/default/", report))
        assert (callback.status_code, callback.content) == (200, b"")
        assert client.get(f"/messages/{sent['id']}").json()["state"] == "DELIVERED"
    with smscore.build_service(config) as reader:  # the record outlives the application
        assert reader.messages.get(sent["id"]).state is SMSState.DELIVERED


def test_bad_requests_are_refused_and_change_nothing(example: ModuleType, config: dict[str, Any]) -> None:
    """A forged callback: 403; GET on the webhook: 405; an unknown provider: 404; a bad recipient: 422."""
    with running(example.create_app(config)) as client:
        sent = client.post("/messages", json={"recipient": PERSON, "content": "Your parcel is on its way"}).json()
        report = {"AccountSid": ACCOUNT_SID, "MessageSid": sent["provider_ref"], "MessageStatus": "delivered"}
        public_url = f"{PUBLIC}/status/default/"
        forged = client.post("/sms/status/default/", data=report, headers=signed(public_url, report, "not-our-token"))
        assert (forged.status_code, forged.content) == (403, b"invalid signature\n")
        local = client.post(
            "/sms/status/default/", data=report, headers=signed("http://testserver/sms/status/default/", report)
        )
        assert local.status_code == 403
        assert client.get("/sms/status/default/").status_code == 405
        assert client.post("/sms/status/other/", data=report, headers=signed(public_url, report)).status_code == 404
        assert client.get(f"/messages/{sent['id']}").json()["state"] == "SENDING"
        assert client.post("/messages", json={"recipient": "not a number", "content": "x"}).status_code == 422
        assert client.get("/messages/999").status_code == 404


def test_an_inbound_stop_opts_the_sender_out(example: ModuleType, config: dict[str, Any]) -> None:
    """Twilio's messaging webhook posts a STOP to /sms/inbound/default/: empty TwiML, the SMS stored, the sender
    on the opt-out list, the configured confirmation sent; a later send to them is refused (409)."""
    inbound = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "f" * 32, "From": PERSON, "To": SENDER, "Body": "STOP"}
    with running(example.create_app(config)) as client:
        answer = client.post(
            "/sms/inbound/default/", data=inbound, headers=signed(f"{PUBLIC}/inbound/default/", inbound)
        )
        assert (answer.status_code, answer.headers["content-type"]) == (200, "text/xml")
        assert client.post("/messages", json={"recipient": PERSON, "content": "Sale!"}).status_code == 409
    with smscore.build_service(config) as reader:
        assert reader.inbound.count(InboundQuery()) == 1
        assert PERSON in reader.opt_outs
        assert [m.content for m in reader.messages.find(recipient=PERSON)] == ["You will get no more SMS from us."]


def test_shutdown_closes_the_service(
    example: ModuleType, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lifespan builds the service at startup and awaits its aclose() at shutdown, not before."""
    built: list[smscore.AsyncSMSService] = []
    closed: list[smscore.AsyncSMSService] = []
    build = smscore.build_async_service

    def recording(*args: Any, **kwargs: Any) -> smscore.AsyncSMSService:
        service = build(*args, **kwargs)
        aclose = service.aclose

        async def spy() -> None:
            closed.append(service)
            await aclose()

        service.aclose = spy  # type: ignore[method-assign]
        built.append(service)
        return service

    monkeypatch.setattr(smscore, "build_async_service", recording)
    app = example.create_app(config)
    assert built == []
    with running(app) as client:
        assert len(built) == 1
        assert client.post("/messages", json={"recipient": PERSON, "content": "x"}).status_code == 201
        assert closed == []
    assert closed == built


def test_the_documented_command_serves_it(tmp_path: Path) -> None:
    """``uvicorn --app-dir examples fastapi_app:app`` with SMSCORE_* variables (a SQLite file, the dummy provider)
    serves the API; stopped, it shuts the lifespan down and the message stays in the file."""
    database = tmp_path / "sms.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMSCORE_")},
        "SMSCORE_STORAGE": "sqlalchemy",
        "SMSCORE_DATABASE_URL": f"sqlite:///{database}",
        "SMSCORE_PROVIDER": "dummy",
        # This checkout's smscore, whichever one the environment has installed.
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "examples"), "fastapi_app:app", "--port", "0"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        lines = []
        while not (lines and "Uvicorn running on" in lines[-1]):
            lines.append(process.stderr.readline())
            assert lines[-1], "".join(lines)
        url = re.search(r"http://[\d.]+:\d+", lines[-1])
        assert url is not None, lines[-1]
        answer = httpx.post(f"{url[0]}/messages", json={"recipient": PERSON, "content": "Hello"})
        assert (answer.status_code, answer.json()["state"]) == (201, "DEBUG")
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=20)
    assert "Application shutdown complete" in errors
    with smscore.build_service({"storage": "sqlalchemy", "database_url": f"sqlite:///{database}"}) as reader:
        assert reader.messages.get(answer.json()["id"]).content == "Hello"
