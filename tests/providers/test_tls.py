"""The providers' HTTP clients verify TLS: a gateway whose certificate no trusted authority signed is refused, one
signed by an authority ``SSL_CERT_FILE`` names is accepted, and every client of the process shares that one
verifying context."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from providers._deadline import bounded_async_client, bounded_client, deadline, default_tls

TIMEOUT = httpx.Timeout(5.0)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: the certificate file and the key file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smscore test gateway")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "gateway.pem", directory / "gateway.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate: its URL and its certificate file."""
    cert_file, key_file = _self_signed(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", cert_file
    server.shutdown()
    server.server_close()


@pytest.fixture
def fresh_tls(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The shared context rebuilt for the test (it reads the environment once) and again after it."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    default_tls.cache_clear()
    yield monkeypatch
    default_tls.cache_clear()


def _get(url: str) -> int:
    with bounded_client(timeout=TIMEOUT) as client, deadline(5.0):
        return client.get(url).status_code


async def _get_async(url: str) -> int:
    async with bounded_async_client(timeout=TIMEOUT) as client:
        with deadline(5.0):
            return (await client.get(url)).status_code


def test_a_certificate_no_trusted_authority_signed_is_refused(
    tls_gateway: tuple[str, Path], fresh_tls: pytest.MonkeyPatch
) -> None:
    url, _ = tls_gateway
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(url)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(_get_async(url))


def test_the_authorities_ssl_cert_file_names_are_trusted(
    tls_gateway: tuple[str, Path], fresh_tls: pytest.MonkeyPatch
) -> None:
    url, cert_file = tls_gateway
    fresh_tls.setenv("SSL_CERT_FILE", str(cert_file))
    assert _get(url) == 200
    assert asyncio.run(_get_async(url)) == 200


def test_every_client_shares_one_verifying_context(fresh_tls: pytest.MonkeyPatch) -> None:
    """Loading the authorities is what building a client costs: it is done once per process, not per client."""
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):  # each route through a proxy has its own transport
        fresh_tls.delenv(proxy, raising=False)
        fresh_tls.delenv(proxy.lower(), raising=False)
    for _ in range(3):
        bounded_client(timeout=TIMEOUT).close()
        asyncio.run(bounded_async_client(timeout=TIMEOUT).aclose())
    built = default_tls.cache_info()
    assert (built.misses, built.hits) == (1, 5)
    context = default_tls()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
