"""Alert webhooks against real local servers: retries, timeouts, redirects, TLS and refusals."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import orjson
import pytest

from shipyard.__about__ import __version__
from shipyard.errors import MonitoringError, UnsafeUrlError
from shipyard.monitoring._webhook import (
    WebhookResult,
    check_webhook_url,
    post_webhook,
    refusal_reason,
)

# --- servers ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": self.headers, "body": body})
        status, headers, payload = (
            self.server.answers.pop(0) if self.server.answers else (200, {}, b"")
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class _Recorder(ThreadingHTTPServer):
    """Records every request; answers with the scripted (status, headers, body), then 200."""

    daemon_threads = True

    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.requests: list[dict] = []
        self.answers = list(answers)
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def serve() -> Iterator:
    started: list[_Recorder] = []

    def start(*answers, tls: ssl.SSLContext | None = None) -> _Recorder:
        server = _Recorder(list(answers))
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def dripping_port() -> Iterator[int]:
    """A server that answers a status line, then one header byte every 0.1 s for 10 s:
    a per-read timeout alone would never end."""
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)

    def drip() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            with client:
                try:
                    client.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    for _ in range(100):
                        if stop.wait(0.1):
                            break
                        client.sendall(b"a")
                except OSError:
                    pass

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


@pytest.fixture
def hanging_up_port() -> Iterator[int]:
    """A server that accepts each connection and closes it without a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def hang_up() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            client.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, payload: dict | None = None, **options) -> WebhookResult:
    options.setdefault("allow_private_addresses", True)  # the test servers are on 127.0.0.1
    options.setdefault("backoff_s", 0.01)
    return post_webhook(url, payload or {"event": "drift"}, **options)


# --- posting ---------------------------------------------------------------------------------


def test_a_post_sends_json_with_the_headers(serve):
    server = serve()
    payload = {
        "event": "drift",
        "share": np.float64(0.75),
        "at": dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC),
        "columns": ["age", "plan"],
    }
    result = _post(
        f"http://127.0.0.1:{server.port}/hooks/abc?x=1", payload, headers={"X-Api-Key": "k1"}
    )
    assert result.ok and result.status == 200 and result.attempts == 1 and result.error is None
    assert 0 < result.elapsed_s < 5
    (request,) = server.requests
    assert request["path"] == "/hooks/abc?x=1"
    assert orjson.loads(request["body"]) == {
        "event": "drift",
        "share": 0.75,
        "at": "2024-05-01T12:00:00+00:00",
        "columns": ["age", "plan"],
    }
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"shipyard/{__version__}"
    assert headers["X-Api-Key"] == "k1"
    assert headers["Host"] == f"127.0.0.1:{server.port}"


def test_a_name_is_resolved_and_pinned_with_its_host_header_kept(serve):
    server = serve()
    result = _post(f"http://localhost:{server.port}/hook")
    assert result.ok
    assert server.requests[0]["headers"]["Host"] == f"localhost:{server.port}"


def test_a_caller_may_replace_the_content_type_but_not_the_framing(serve):
    server = serve()
    url = f"http://127.0.0.1:{server.port}/"
    assert _post(url, headers={"content-type": "application/vnd.alert+json"}).ok
    assert server.requests[0]["headers"].get_all("Content-Type") == ["application/vnd.alert+json"]
    for name in ("Host", "content-length", "Transfer-Encoding"):
        with pytest.raises(MonitoringError, match="set by Shipyard"):
            _post(url, headers={name: "x"})
    assert len(server.requests) == 1


def test_a_header_value_that_would_inject_a_line_is_refused_without_showing_it(serve):
    server = serve()
    with pytest.raises(MonitoringError) as caught:
        _post(f"http://127.0.0.1:{server.port}/", headers={"X-Token": "s3cr3t\r\nX-Evil: 1"})
    assert "X-Token" in caught.value.message
    assert "s3cr3t" not in caught.value.describe() and "Evil" not in caught.value.describe()
    with pytest.raises(MonitoringError, match="not an HTTP header name"):
        _post(f"http://127.0.0.1:{server.port}/", headers={"Bad Name": "x"})
    assert server.requests == []


def test_a_payload_that_is_not_json_is_an_error(serve):
    server = serve()
    with pytest.raises(MonitoringError, match="cannot be written as JSON"):
        _post(f"http://127.0.0.1:{server.port}/", {"model": object()})
    assert server.requests == []


def test_a_server_error_is_retried_until_it_answers(serve):
    server = serve((500, {}, b"boom"))
    result = _post(f"http://127.0.0.1:{server.port}/", retries=2)
    assert result == WebhookResult(True, 200, 2, None, result.elapsed_s)
    assert len(server.requests) == 2


def test_retries_stop_after_the_last_one_with_backoff_between(serve):
    server = serve(*[(503, {}, b"busy")] * 5)
    result = _post(f"http://127.0.0.1:{server.port}/", retries=2, backoff_s=0.1)
    assert not result.ok and result.status == 503 and result.attempts == 3
    assert result.error.startswith("HTTP 503 Service Unavailable: busy")
    assert len(server.requests) == 3
    assert result.elapsed_s >= 0.1 + 0.2  # backoff doubles


def test_too_many_requests_is_retried(serve):
    server = serve((429, {}, b""))
    result = _post(f"http://127.0.0.1:{server.port}/", retries=1)
    assert result.ok and result.attempts == 2


def test_a_client_error_is_not_retried_and_keeps_the_path_secret(serve):
    server = serve((404, {}, b"no such hook\n\x00here"))
    result = _post(f"http://127.0.0.1:{server.port}/services/T0/S3CR3T", retries=3)
    assert not result.ok and result.status == 404 and result.attempts == 1
    assert result.error == "HTTP 404 Not Found: no such hook here"
    assert len(server.requests) == 1


def test_a_redirect_is_not_followed(serve):
    server = serve((302, {"Location": "http://169.254.169.254/latest/meta-data"}, b""))
    result = _post(f"http://127.0.0.1:{server.port}/", retries=2)
    assert not result.ok and result.status == 302 and result.attempts == 1
    assert "redirect to http://169.254.169.254" in result.error
    assert "not followed" in result.error
    assert len(server.requests) == 1


def test_a_server_that_never_answers_fails_within_the_timeout(silent_port):
    timeout_s, retries, backoff_s = 0.5, 1, 0.05
    result = _post(
        f"http://127.0.0.1:{silent_port}/", timeout_s=timeout_s, retries=retries, backoff_s=0.05
    )
    assert not result.ok and result.status is None and result.attempts == 2
    assert result.error == "no answer within 0.5s"
    attempts = retries + 1
    assert timeout_s * attempts <= result.elapsed_s < timeout_s * attempts + backoff_s + 1.0


def test_a_server_answering_a_byte_at_a_time_fails_within_the_timeout(dripping_port):
    result = _post(f"http://127.0.0.1:{dripping_port}/", timeout_s=0.6, retries=0)
    assert not result.ok and result.attempts == 1
    assert result.error == "no answer within 0.6s"
    assert 0.6 <= result.elapsed_s < 1.6


def test_a_refused_connection_is_retried_then_reported():
    port = _closed_port()
    result = _post(f"http://127.0.0.1:{port}/secret-path", retries=1)
    assert not result.ok and result.status is None and result.attempts == 2
    assert result.error == f"connection refused (http://127.0.0.1:{port})"


def test_a_server_hanging_up_is_retried_then_reported(hanging_up_port):
    result = _post(f"http://127.0.0.1:{hanging_up_port}/", retries=2)
    assert not result.ok and result.status is None and result.attempts == 3
    assert result.error == (
        f"the server closed the connection without answering (http://127.0.0.1:{hanging_up_port})"
    )


def test_a_host_that_does_not_resolve_is_a_failed_attempt_not_an_error():
    result = _post("http://no-such-host.invalid/", retries=1)
    assert not result.ok and result.attempts == 2
    assert result.error.startswith("cannot resolve http://no-such-host.invalid:80")
    with pytest.raises(MonitoringError, match="cannot be resolved") as caught:
        check_webhook_url("http://no-such-host.invalid/")
    assert not isinstance(caught.value, UnsafeUrlError)


# --- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A CA and a certificate it signed for localhost: (ca.pem, cert.pem, key.pem)."""
    pytest.importorskip("cryptography")
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)

    def build(subject, issuer, key, signer, *, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("Shipyard test CA", "Shipyard test CA", ca_key, ca_key, ca=True)
    cert = build("localhost", "Shipyard test CA", key, ca_key, ca=False)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def tls_server(serve, certificates):
    _, cert, key = certificates
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server = serve(tls=context)
    server.server_names = names
    return server


def test_https_verifies_the_certificate_against_the_url_host(tls_server, certificates, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates[0]))  # trust the test CA
    result = _post(f"https://localhost:{tls_server.port}/hook")
    assert result.ok and result.status == 200
    assert tls_server.server_names == ["localhost"]  # the URL's host, not the pinned address
    assert tls_server.requests[0]["headers"]["Host"] == f"localhost:{tls_server.port}"


def test_an_untrusted_certificate_fails_without_retrying(tls_server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    result = _post(f"https://localhost:{tls_server.port}/hook", retries=2)
    assert not result.ok and result.status is None and result.attempts == 1
    assert "certificate verify failed" in result.error.lower()
    assert tls_server.requests == []


def test_https_to_a_plain_http_port_is_a_failed_result(serve):
    server = serve()
    result = _post(f"https://127.0.0.1:{server.port}/", retries=2, timeout_s=2)
    assert not result.ok and result.status is None
    assert result.error.startswith("TLS with https://127.0.0.1:")


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "scheme 'file:'"),
        ("ftp://x", "scheme 'ftp:'"),
        ("gopher://x:70/_GET", "scheme 'gopher:'"),
        ("data:text/plain,hi", "scheme 'data:'"),
        ("hooks.example.com/alert", "no http(s)://"),
        ("//hooks.example.com/alert", "no http(s)://"),
        ("http:///alert", "has no host"),
        ("http://example.com:99999/", "malformed"),
        ("http://user:pw@example.com/", "user:password@"),
        ("http://example.com/a b", "spaces or control characters"),
        ("http://169.254.169.254/latest/meta-data", "a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "a cloud metadata address"),
        ("http://100.100.100.200/", "a cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/", "a cloud metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
        ("http://METADATA.Google.Internal./", "cloud metadata service"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://169.254.10.1/", "a link-local address"),
        ("http://0.0.0.0:8080/", "the unspecified address"),
        ("http://[::]/", "the unspecified address"),
        ("http://224.0.0.1/", "multicast"),
        ("http://127.0.0.1/", "a loopback address"),
        ("http://[::1]/", "a loopback address"),
        ("http://10.0.0.1/", "a private address"),
        ("http://192.168.1.20/", "a private address"),
        ("http://100.64.0.1/", "non-public"),
        # spellings the resolver turns into addresses
        ("http://2852039166/", "resolves to 169.254.169.254, a cloud metadata address"),
        ("http://0251.0376.0251.0376/", "resolves to 169.254.169.254, a cloud metadata"),
        ("http://localhost:8080/", "resolves to 127.0.0.1, a loopback address"),
    ],
)
def test_a_refused_url_raises_before_any_connection(url, words):
    with pytest.raises(UnsafeUrlError) as caught:
        check_webhook_url(url)
    assert words in caught.value.message
    assert caught.value.hint
    with pytest.raises(UnsafeUrlError):
        post_webhook(url, {"event": "drift"})


def test_the_local_server_is_refused_unless_private_addresses_are_allowed(serve):
    server = serve()
    url = f"http://127.0.0.1:{server.port}/hook"
    with pytest.raises(UnsafeUrlError, match="loopback") as caught:
        post_webhook(url, {"event": "drift"})
    assert "allow_private_addresses: true" in caught.value.hint
    assert server.requests == []  # refused before any connection
    assert post_webhook(url, {"event": "drift"}, allow_private_addresses=True).ok
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/",
        "http://2852039166/",
        "http://0.0.0.0/",
        "http://[ff02::1]/",
        "ftp://x",
    ],
)
def test_metadata_unspecified_multicast_and_other_schemes_stay_refused_when_allowed(url):
    with pytest.raises(UnsafeUrlError) as caught:
        check_webhook_url(url, allow_private_addresses=True)
    # the usual hint would suggest the flag that was already given
    assert "allow_private_addresses" not in caught.value.hint


def test_allowed_private_and_link_local_addresses_pass():
    for url in (
        "http://127.0.0.1:9/",
        "http://localhost/",
        "http://10.0.0.1/",
        "http://[fe80::1]/",
    ):
        check_webhook_url(url, allow_private_addresses=True)


def test_without_resolving_only_the_form_and_literal_addresses_are_checked():
    check_webhook_url("https://no-such-host.invalid/hook", resolve=False)
    with pytest.raises(UnsafeUrlError, match="metadata"):
        check_webhook_url("http://169.254.169.254/", resolve=False)


@pytest.mark.parametrize(
    ("address", "default", "allowed"),
    [
        ("8.8.8.8", None, None),
        ("2606:4700:4700::1111", None, None),
        ("169.254.169.254", "a cloud metadata address", "a cloud metadata address"),
        ("169.254.170.2", "a cloud metadata address", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address", "a cloud metadata address"),
        ("::ffff:169.254.169.254", "a cloud metadata address", "a cloud metadata address"),
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address", "a cloud metadata address"),
        ("2002:a9fe:a9fe::", "a cloud metadata address", "a cloud metadata address"),
        ("::a9fe:a9fe", "a cloud metadata address", "a cloud metadata address"),
        ("0.0.0.0", "the unspecified address", "the unspecified address"),
        ("::", "the unspecified address", "the unspecified address"),
        ("224.0.0.251", "a multicast or broadcast address", "a multicast or broadcast address"),
        ("ff02::1", "a multicast or broadcast address", "a multicast or broadcast address"),
        ("255.255.255.255", "a multicast or broadcast address", "a multicast or broadcast address"),
        ("127.0.0.1", "a loopback address", None),
        ("127.8.9.10", "a loopback address", None),
        ("::1", "a loopback address", None),
        ("::ffff:127.0.0.1", "a loopback address", None),
        ("169.254.1.1", "a link-local address", None),
        ("fe80::1", "a link-local address", None),
        ("fe80::1%1", "a link-local address", None),
        ("10.1.2.3", "a private address", None),
        ("172.16.0.1", "a private address", None),
        ("192.168.0.1", "a private address", None),
        ("fd12:3456::1", "a private address", None),
        ("100.64.0.1", "a reserved, non-public address", None),
        ("64:ff9b::a00:1", "a private address", None),  # NAT64 to 10.0.0.1
    ],
)
def test_refusal_reason_of_addresses(address, default, allowed):
    assert refusal_reason(address) == default
    assert refusal_reason(address, allow_private_addresses=True) == allowed
