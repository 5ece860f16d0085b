"""The plain-WSGI example (``examples/wsgi_status_callbacks.py``) receives signed Twilio status callbacks; the ASGI
twin of its application (``asgi_webhook_app``) is held to the same assertions in-process.

Messages are sent through the real ``twilio`` client to the loopback fake Twilio; callbacks are signed with
twilio's own ``RequestValidator`` over the public URL Twilio was given, and posted over HTTP to the example's
``wsgiref`` server: in this process (to see the stored state change), and as the documented command.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

import smscore
from smscore import SMSService, SMSState
from smscore.webhooks import asgi_webhook_app
from tests.asgi_client import BlockingASGITransport, exchange
from tests.async_twin import async_twin
from tests.providers.fake_twilio import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "wsgi_status_callbacks.py"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "wsgi-example-auth-token-81c3"
SENDER = "+15005550006"
PUBLIC = "https://sms.example.com"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wsgi_status_callbacks", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report(sid: str, status: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "MessageSid": sid, "MessageStatus": status, "To": "+420777123456"}


def signed(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def service(fake: FakeTwilio) -> Iterator[SMSService]:
    http = fake.http_client()
    options = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_": SENDER, "http_client": http}
    with smscore.build_service(
        {"storage": "memory", "providers": {"us": {"backend": "twilio", "options": options}}, "public_base_url": PUBLIC}
    ) as built:
        yield built
    http.close()


@pytest.fixture(params=["wsgi", "asgi"])
def served(request: pytest.FixtureRequest, service: SMSService) -> Iterator[tuple[httpx.Client, str]]:
    """An HTTP client and the base URL of the application of the kind under test: the example's server, in this
    process, on a free port; or the ASGI twin of its application (``asgi_webhook_app`` on the asyncio twin of
    ``service``), in-process."""
    if request.param == "asgi":
        async_service = async_twin(service)
        with httpx.Client(transport=BlockingASGITransport(asgi_webhook_app(async_service))) as client:
            yield client, "http://10.0.0.5:8000"
        asyncio.run(async_service.aclose())
        return
    server = load_example().serve(service, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    with httpx.Client() as client:
        yield client, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def client(served: tuple[httpx.Client, str]) -> httpx.Client:
    return served[0]


@pytest.fixture
def base_url(served: tuple[httpx.Client, str]) -> str:
    return served[1]


class TestInProcess:
    def test_a_signed_callback_moves_the_message(
        self, service: SMSService, fake: FakeTwilio, client: httpx.Client, base_url: str
    ) -> None:
        """Twilio was told <public>/status/us/; a callback signed over it, posted to the server, is applied."""
        message = service.send("+420777123456", "Your parcel is on its way")
        assert message.state is SMSState.SENDING
        public_url = f"{PUBLIC}/status/us/"
        assert fake.creates[-1].field("StatusCallback") == public_url
        params = report(message.provider_ref or "", "delivered")
        answer = client.post(f"{base_url}/status/us/", data=params, headers=signed(public_url, params))
        assert answer.status_code == 200
        assert service.messages.get(message.id or 0).state is SMSState.DELIVERED

    def test_bad_requests_change_nothing(self, service: SMSService, client: httpx.Client, base_url: str) -> None:
        """A wrong token or the local URL signed: 403; GET: 405; another path or provider: 404; nothing changed."""
        message = service.send("+420777123456", "Your parcel is on its way")
        params = report(message.provider_ref or "", "delivered")
        public_url = f"{PUBLIC}/status/us/"
        local_url = f"{base_url}/status/us/"
        assert client.post(local_url, data=params, headers=signed(public_url, params, "other")).status_code == 403
        assert client.post(local_url, data=params, headers=signed(local_url, params)).status_code == 403
        assert client.get(local_url).status_code == 405
        for path in ("/status/other/", "/status/us", "/"):
            assert client.post(f"{base_url}{path}", data=params, headers=signed(public_url, params)).status_code == 404
        assert service.messages.get(message.id or 0) == message


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_mounted_under_a_path_the_public_base_url_stands_for_the_mount_point(fake: FakeTwilio, kind: str) -> None:
    """Public base https://example.com/sms, served with SCRIPT_NAME=/sms (ASGI: root_path=/sms): the URL checked is
    the one Twilio was given, not one with the prefix twice."""
    http = fake.http_client()
    options = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_": SENDER, "http_client": http}
    config = {
        "storage": "memory",
        "providers": {"us": {"backend": "twilio", "options": options}},
        "public_base_url": "https://example.com/sms",
    }
    with smscore.build_service(config) as service:
        message = service.send("+420777123456", "Your parcel is on its way")
        public_url = fake.creates[-1].field("StatusCallback")
        assert public_url == "https://example.com/sms/status/us/"
        params = report(message.provider_ref or "", "delivered")
        body = urlencode(params).encode()
        signature = signed(public_url, params)["X-Twilio-Signature"]
        if kind == "asgi":
            headers = [("Host", "10.0.0.5:8000"), ("Content-Type", "application/x-www-form-urlencoded")]
            headers += [("Content-Length", str(len(body))), ("X-Twilio-Signature", signature)]
            async_service = async_twin(service)
            app = asgi_webhook_app(async_service)
            answer = asyncio.run(exchange(app, "/sms/status/us/", root_path="/sms", chunks=[body], headers=headers))
            asyncio.run(async_service.aclose())
            assert answer.status == 200
        else:
            environ = {
                "REQUEST_METHOD": "POST",
                "SCRIPT_NAME": "/sms",
                "PATH_INFO": "/status/us/",
                "QUERY_STRING": "",
                "CONTENT_TYPE": "application/x-www-form-urlencoded",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_HOST": "10.0.0.5:8000",
                "HTTP_X_TWILIO_SIGNATURE": signature,
                "wsgi.input": io.BytesIO(body),
                "wsgi.url_scheme": "http",
            }
            statuses: list[str] = []
            load_example().make_app(service)(environ, lambda status, headers: statuses.append(status))
            assert statuses == ["200 OK"]
        assert service.messages.get(message.id or 0).state is SMSState.DELIVERED
    http.close()


def test_the_documented_command_serves_callbacks(tmp_path: Path) -> None:
    """``python examples/wsgi_status_callbacks.py --port 0`` with SMSCORE_* variables prints its URL and answers
    a signed callback (for a sid its empty store does not know) with 200 and a forged one with 403."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMSCORE_")},
        "SMSCORE_STORAGE": "memory",
        "SMSCORE_PROVIDER": "twilio",
        "SMSCORE_PROVIDER_OPTIONS__ACCOUNT_SID": ACCOUNT_SID,
        "SMSCORE_PROVIDER_OPTIONS__AUTH_TOKEN": AUTH_TOKEN,
        "SMSCORE_PROVIDER_OPTIONS__FROM_": SENDER,
        "SMSCORE_PUBLIC_BASE_URL": PUBLIC,
    }
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0"],
        cwd=tmp_path,  # no smscore.toml there
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("status callbacks of 'default': http://127.0.0.1:"), line
        local_url = line.split(": ", 1)[1].strip()
        params = report("SM" + "0" * 32, "delivered")
        public_url = f"{PUBLIC}/status/default/"
        assert httpx.post(local_url, data=params, headers=signed(public_url, params)).status_code == 200
        assert httpx.post(local_url, data=params, headers=signed(local_url, params)).status_code == 403
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=10)
    assert AUTH_TOKEN not in errors


def test_without_a_callback_provider_the_command_says_so(tmp_path: Path) -> None:
    """With only the dummy provider there is nothing to serve: a clear message and exit status 2."""
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("SMSCORE_")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--port", "0"],
        cwd=tmp_path,
        env={**env, "SMSCORE_PROVIDER": "dummy"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no configured provider takes status callbacks" in result.stderr
