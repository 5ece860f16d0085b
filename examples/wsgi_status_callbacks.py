"""Receive Twilio delivery reports (status callbacks) in a plain WSGI application, without a web framework.

:func:`make_app` serves :func:`smscore.webhooks.status_callback_app` at ``/status/<name>/`` for every configured
provider that takes status callbacks: the path ``public_base_url`` gives providers at send time
(``<public_base_url>/status/<name>/``). Every report is verified (Twilio's ``X-Twilio-Signature`` over the public
URL), its message found by the Twilio sid and moved through the transition table; replays and late reports are
harmless. Answers: 200 applied (or an unknown sid), 403 bad signature, 400 not a report, 405 not POST, 404 any
other path. SMS people send to the numbers are received at ``/inbound/<name>/`` the same way (set
``<public_base_url>/inbound/<name>/`` as the number's messaging webhook at Twilio).

Run it with the configuration the sending application uses (same database, same ``public_base_url``, so that
every Twilio message it sends carries ``StatusCallback = https://sms.example.com/status/default/``)::

    export SMSCORE_STORAGE=sqlalchemy SMSCORE_DATABASE_URL=sqlite:///sms.sqlite3
    export SMSCORE_PROVIDER=twilio
    export SMSCORE_PROVIDER_OPTIONS__ACCOUNT_SID=AC... SMSCORE_PROVIDER_OPTIONS__FROM_=+15005550006
    export SMSCORE_PROVIDER_OPTIONS__AUTH_TOKEN=...       # verifies the callbacks; only ever from the environment
    export SMSCORE_PUBLIC_BASE_URL=https://sms.example.com
    python examples/wsgi_status_callbacks.py --host 127.0.0.1 --port 8000

and let the TLS proxy of ``sms.example.com`` forward to port 8000. The application rebuilds the URL Twilio signed
from ``public_base_url`` and the request's path, so the proxy may change host, scheme and port freely. When the
public base URL has a path (``https://example.com/sms``), that path is where the application is mounted: the
proxy strips it, or the WSGI server takes it as ``SCRIPT_NAME`` (gunicorn: ``SCRIPT_NAME=/sms``); either way the
application routes ``/status/default/``. ``wsgiref`` serves one request at a time and is meant for trying things out; for real
traffic run the same application under a production WSGI server::

    gunicorn --chdir examples --workers 4 'wsgi_status_callbacks:make_app()'
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

import smscore
from smscore import InboundReceiver, SMSService, StatusCallbackReceiver
from smscore.webhooks import webhook_app

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_app(service: SMSService | None = None) -> WSGIApp:
    """The WSGI application (:func:`smscore.webhooks.webhook_app`): ``POST /status/<name>/`` for each provider of
    ``service`` that takes status callbacks, ``POST /inbound/<name>/`` for each that receives SMS.

    ``service`` defaults to :func:`smscore.build_service` from ``smscore.toml`` and ``SMSCORE_*`` variables.
    """
    return webhook_app(service if service is not None else smscore.build_service())


def serve(service: SMSService, host: str = "127.0.0.1", port: int = 8000) -> WSGIServer:
    """A ``wsgiref`` server bound to ``host:port`` (0: any free port) serving :func:`make_app`; call
    ``serve_forever()`` on it, and ``server_close()`` when done."""
    return make_server(host, port, make_app(service))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve status callbacks until interrupted. Prints the local URL of each provider's callbacks."""
    parser = argparse.ArgumentParser(description="Receive SMS status callbacks (Twilio) over plain WSGI.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one (8000)")
    args = parser.parse_args(argv)
    try:
        service = smscore.build_service()
    except smscore.ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    names = [name for name, p in service.providers.items() if isinstance(p, StatusCallbackReceiver)]
    if not names:
        print("no configured provider takes status callbacks (configure a twilio provider)", file=sys.stderr)
        service.close()
        return 2
    if not service.config.public_base_url:
        print("warning: public_base_url is not set; providers are not told where to post", file=sys.stderr)
    with service, serve(service, args.host, args.port) as server:
        host, port = args.host, server.server_port
        for name in names:
            print(f"status callbacks of {name!r}: http://{host}:{port}/status/{name}/", flush=True)
        for name, provider in service.providers.items():
            if isinstance(provider, InboundReceiver):
                print(f"inbound SMS of {name!r}: http://{host}:{port}/inbound/{name}/", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is stopped
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
