"""Posting alert webhooks without opening a way into the network around the monitor.

A webhook URL comes from ``monitoring.yml``, so whoever can change the config can make the
monitor send requests from inside the network (server-side request forgery): to the cloud
metadata service, which hands out the machine's credentials, or to an admin port on
localhost. Before any connection, therefore:

* the scheme must be ``http`` or ``https`` (no ``file:``, ``ftp:``, ``gopher:``, ``data:``,
  no URL without a scheme), and the URL must not carry ``user:password@``;
* the host is resolved (every address ``getaddrinfo`` gives) and every address checked:

  ====================  ==============================================================
  always refused        cloud metadata (169.254.169.254, 169.254.170.2, fd00:ec2::254,
                        100.100.100.200, the name metadata.google.internal), unspecified
                        (0.0.0.0, ::), multicast and broadcast
  refused unless        loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12,
  allowed               192.168/16, fc00::/7), link-local (169.254/16, fe80::/10),
                        shared (100.64/10) and every other non-public range
  ====================  ==============================================================

  An in-house alert receiver on a private address is legitimate, so
  ``allow_private_addresses=True`` (``allow_private_addresses: true`` on the alert) lets
  the second group through; it has to be asked for, because a receiver on a private
  address is exactly what a forged URL would aim at. The first group stays refused even
  then: no alert receiver lives at a metadata address, and "unspecified" reaches
  localhost on Linux under another name. IPv4 addresses carried inside IPv6 ones
  (``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo) are checked
  as the IPv4 address they reach, and so are the decimal and octal spellings
  (``http://2852039166/``) that the resolver turns into an address.
* The connection goes to the address that was checked (pinned), with the URL's host in
  the ``Host`` header and as the TLS server name (its certificate is verified against it),
  so a DNS answer that changes between the check and the connection (rebinding) cannot
  move it. The addresses are resolved once per call and reused by its retries.
* Redirects are never followed (a redirect to the metadata address would bypass every
  check above): a 3xx is a failure, reported with the host it pointed to.
* An attempt has one deadline, ``timeout_s``, for connecting, TLS, sending and reading the
  status and headers: a server that accepts and never answers, or answers a byte at a time,
  fails after ``timeout_s``. Only name resolution is outside it (the system resolver has
  no timeout to give).
* Failures are retried with exponential backoff (``backoff_s``, doubled each time) after
  connection errors, timeouts, 5xx, 408 and 429 ("try again later"); never after another
  4xx, a 3xx, or a TLS certificate or protocol error, which the next attempt would repeat.

Network failures are returned as a :class:`WebhookResult`, never raised; a refused URL is
an :class:`~shipyard.errors.UnsafeUrlError`, raised before any connection. Messages name
the scheme, host and port only: a webhook's path often is its secret (Slack, Teams).

The standard library's ``http.client`` does the HTTP: one POST needs no client library,
and httpx is a test-only dependency.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson

from shipyard.__about__ import __version__
from shipyard.errors import MonitoringError, UnsafeUrlError

__all__ = ["WebhookResult", "check_webhook_url", "post_webhook", "refusal_reason"]

logger = logging.getLogger("shipyard.monitoring")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, OpenStack
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_METADATA_NAMES = frozenset({"metadata.google.internal"})
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Headers that frame the request or name its host: set here only, never by a caller.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_RETRIED_STATUSES = frozenset({408, 429})
_MAX_BACKOFF_S = 30.0
_SNIPPET_BYTES = 512


@dataclass(frozen=True)
class WebhookResult:
    """How a post went: ``ok`` for a 2xx answer; ``status`` is the last HTTP status (None
    when no answer came), ``error`` says what went wrong last, ``elapsed_s`` covers every
    attempt and the waits between them."""

    ok: bool
    status: int | None
    attempts: int
    error: str | None
    elapsed_s: float


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower case, IDNA-encoded, no brackets
    port: int
    path: str  # path and query, never empty

    @property
    def display(self) -> str:
        """Scheme, host and port: what messages may show (the path may be a secret)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    error: str | None
    retry: bool


def refusal_reason(
    address: str | IPAddress, *, allow_private_addresses: bool = False
) -> str | None:
    """Why a webhook may not be posted to ``address``, or ``None`` if it may.

    >>> refusal_reason("169.254.169.254")
    'a cloud metadata address'
    >>> refusal_reason("10.0.0.7"), refusal_reason("10.0.0.7", allow_private_addresses=True)
    ('a private address', None)
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            candidates.insert(0, embedded)  # the address it reaches says most
    for candidate in candidates:
        reason = _reason(candidate, allow_private_addresses)
        if reason is not None:
            return reason
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (and may reach through a gateway), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


_METADATA = "a cloud metadata address"
# Checked in order; the first group is refused even when private addresses are allowed.
_ALWAYS_REFUSED = (
    (lambda ip: ip in _METADATA_ADDRESSES, _METADATA),
    (lambda ip: ip.is_unspecified, "the unspecified address"),
    (lambda ip: ip.is_multicast or ip == _BROADCAST, "a multicast or broadcast address"),
)
_PRIVATE = (
    (lambda ip: ip.is_loopback, "a loopback address"),
    (lambda ip: ip.is_link_local, "a link-local address"),
    (lambda ip: ip.is_private, "a private address"),
    (lambda ip: not ip.is_global, "a reserved, non-public address"),
)


def _reason(ip: IPAddress, allow_private: bool) -> str | None:
    rules = _ALWAYS_REFUSED if allow_private else _ALWAYS_REFUSED + _PRIVATE
    return next((reason for test, reason in rules if test(ip)), None)


def check_webhook_url(
    url: str, *, allow_private_addresses: bool = False, resolve: bool = True
) -> None:
    """Refuse ``url`` with an :class:`UnsafeUrlError` unless it is http(s) and every address
    its host resolves to is allowed (see the module docstring). ``resolve=False`` checks
    the scheme, the form and a literal address only, without asking the resolver (for
    reading config); a host that cannot be resolved is a :class:`MonitoringError`.
    """
    target = _parse_url(url, allow_private_addresses)
    if resolve:
        try:
            _resolve(target, allow_private_addresses)
        except OSError as exc:
            raise MonitoringError(
                f"Webhook host {target.display} cannot be resolved: {exc}.",
                hint="Check the host name in the alert's webhook URL and the network's DNS.",
            ) from None


def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
    retries: int = 2,
    allow_private_addresses: bool = False,
    backoff_s: float = 0.5,
) -> WebhookResult:
    """POST ``payload`` as JSON to ``url``, trying ``retries`` more times after a failure
    that may pass (see the module docstring).

    Raises :class:`UnsafeUrlError` for a refused URL (before any connection) and
    :class:`MonitoringError` for headers or a payload that cannot be sent; every network
    failure is in the returned :class:`WebhookResult`.
    """
    if not timeout_s > 0 or retries < 0 or backoff_s < 0:
        raise ValueError("timeout_s must be more than 0, retries and backoff_s 0 or more")
    target = _parse_url(url, allow_private_addresses)
    request_headers = _request_headers(target, headers)
    try:
        body = orjson.dumps(dict(payload), option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise MonitoringError(
            f"The webhook payload cannot be written as JSON: {exc}.",
            hint="Pass plain values: text, numbers, booleans, lists and mappings.",
        ) from None
    started = time.monotonic()
    addresses: tuple[str, ...] | None = None
    outcome = _Outcome(None, "not attempted", retry=False)
    attempts = 0
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S))
        attempts += 1
        if addresses is None:  # resolved once, then pinned for every retry
            try:
                addresses = _resolve(target, allow_private_addresses)
            except OSError as exc:  # the resolver failed; it may answer next time
                outcome = _Outcome(None, f"cannot resolve {target.display}: {exc}", retry=True)
        if addresses is not None:
            outcome = _attempt(target, addresses, body, request_headers, timeout_s)
        if outcome.error is None or not outcome.retry:
            break
        if attempt < retries:
            logger.warning(
                "Webhook %s: %s; trying again (%d of %d).",
                target.display,
                outcome.error,
                attempt + 1,
                retries,
            )
    return WebhookResult(
        ok=outcome.error is None,
        status=outcome.status,
        attempts=attempts,
        error=outcome.error,
        elapsed_s=time.monotonic() - started,
    )


# --- checks ----------------------------------------------------------------------------------


_FORM_HINT = "Write the receiver's http:// or https:// URL, e.g. https://hooks.example.com/..."


def _refuse(problem: str, *, hint: str | None = _FORM_HINT) -> UnsafeUrlError:
    return UnsafeUrlError(f"Webhook URL refused: {problem}.", hint=hint)


def _refuse_address(problem: str, reason: str) -> UnsafeUrlError:
    if any(reason == always for _, always in _ALWAYS_REFUSED):
        # allow_private_addresses does not help here: say so instead of suggesting it.
        return _refuse(
            problem, hint=f"An alert receiver is never at {reason}; write your receiver's own URL."
        )
    return _refuse(problem, hint=None)  # UnsafeUrlError's own hint: allow_private_addresses


def _parse_url(url: str, allow_private: bool) -> _Target:
    if not isinstance(url, str) or not url:
        raise _refuse(f"expected an http(s) URL, got {url!r}")
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise _refuse("it contains spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _refuse(
            f"the scheme '{scheme}:' is not http or https" if scheme else "it has no http(s)://"
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise _refuse(f"the host or port of this {scheme} URL is malformed") from None
    if not host:
        raise _refuse(f"this {scheme} URL has no host")
    if parts.username is not None or parts.password is not None:
        raise _refuse(
            "it carries user:password@; send credentials as headers "
            "(headers_credentials on the alert)"
        )
    try:
        host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise _refuse("its host name is not a valid domain name") from None
    target = _Target(
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    )
    if host in _METADATA_NAMES:
        raise _refuse_address(f"{target.display} is a cloud metadata service", _METADATA)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return target  # a name: its addresses are checked once it is resolved
    reason = refusal_reason(literal, allow_private_addresses=allow_private)
    if reason is not None:
        raise _refuse_address(f"{target.display} is {reason}", reason)
    return target


def _resolve(target: _Target, allow_private: bool) -> tuple[str, ...]:
    """Every address ``target.host`` resolves to, each one checked; OSError if none."""
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        reason = refusal_reason(address, allow_private_addresses=allow_private)
        if reason is not None:
            raise _refuse_address(f"{target.display} resolves to {address}, {reason}", reason)
    return addresses


def _request_headers(target: _Target, headers: Mapping[str, str] | None) -> dict[str, str]:
    merged = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": f"shipyard/{__version__}",
        "Connection": "close",
    }
    by_lower = {name.lower(): name for name in merged}
    hint = "Fix the entry named by headers_credentials in conf/local/credentials.yml."
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise MonitoringError(f"{name!r} is not an HTTP header name.", hint=hint)
        if name.lower() in _RESERVED_HEADERS:
            raise MonitoringError(f"The header '{name}' is set by Shipyard.", hint=hint)
        # The value may be a secret: it is never part of a message.
        if (
            not isinstance(value, str)
            or any(char in value for char in "\r\n\0")
            or not value.isascii()
        ):
            raise MonitoringError(
                f"The value of header '{name}' is not single-line ASCII text.", hint=hint
            )
        merged.pop(by_lower.get(name.lower(), name), None)
        merged[name] = value
    return merged


# --- one attempt -----------------------------------------------------------------------------


class _Deadline:
    """Shuts the attempt's socket down when its time is up, so that a read blocked on a
    server that stopped answering returns at once instead of waiting per byte."""

    def __init__(self, timeout_s: float) -> None:
        self.end = time.monotonic() + timeout_s
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout_s, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shutdown()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            # The plain socket's shutdown, also for a TLS socket: it unblocks the reader
            # without touching the TLS state another thread is using. OSError: not
            # connected yet, or already closed.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)


def _attempt(
    target: _Target,
    addresses: tuple[str, ...],
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> _Outcome:
    connection = http.client.HTTPConnection(target.host, target.port)
    with _Deadline(timeout_s) as deadline:
        try:
            connection.sock = _connect(target, addresses, deadline)  # pinned: http.client
            # sends on this socket and never connects by itself
            connection.request("POST", target.path, body=body, headers=dict(headers))
            response = connection.getresponse()
            if deadline.expired:  # cut off mid-answer: what was read is not an answer
                return _Outcome(None, f"no answer within {timeout_s:g}s", retry=True)
            return _judge(target, response)
        except ssl.SSLError as exc:
            if deadline.expired:
                return _Outcome(None, f"no answer within {timeout_s:g}s", retry=True)
            # A certificate or protocol error comes back the same; a cut connection may not.
            transient = isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError)
            error = f"TLS with {target.display} failed: {_reason_of(exc)}"
            return _Outcome(None, error, retry=transient)
        except (OSError, http.client.HTTPException) as exc:
            if deadline.expired or isinstance(exc, TimeoutError):
                return _Outcome(None, f"no answer within {timeout_s:g}s", retry=True)
            return _Outcome(None, f"{_describe(exc)} ({target.display})", retry=True)
        finally:
            connection.close()  # the socket and any response


def _connect(target: _Target, addresses: tuple[str, ...], deadline: _Deadline) -> socket.socket:
    """A socket connected to one of the checked ``addresses`` (in the resolver's order),
    TLS-wrapped for https with the URL's host as the server name."""
    error: OSError = ConnectionError("no address to connect to")
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            deadline.watch(sock)
            sock.settimeout(deadline.remaining())
            sock.connect((address, target.port))
        except OSError as exc:
            sock.close()
            error = exc
            if deadline.expired or isinstance(exc, TimeoutError):
                raise
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.scheme == "https":
            context = ssl.create_default_context()
            sock = context.wrap_socket(
                sock, server_hostname=target.host, do_handshake_on_connect=False
            )
            deadline.watch(sock)
            sock.settimeout(deadline.remaining())
            sock.do_handshake()
        return sock
    raise error


def _judge(target: _Target, response: http.client.HTTPResponse) -> _Outcome:
    status = response.status
    if 200 <= status < 300:
        return _Outcome(status, None, retry=False)
    if 300 <= status < 400:
        location = response.getheader("Location")
        where = "nowhere"
        if location:
            pointed = urlsplit(urljoin(f"{target.display}{target.path}", location))
            where = f"{pointed.scheme}://{pointed.netloc.rpartition('@')[2]}"
        return _Outcome(
            status,
            f"HTTP {status} redirect to {where}: redirects are not followed; "
            "configure the final URL",
            retry=False,
        )
    error = f"HTTP {status} {response.reason}".rstrip()
    snippet = _snippet(response)
    if snippet:
        error += f": {snippet}"
    return _Outcome(status, error, retry=status >= 500 or status in _RETRIED_STATUSES)


def _snippet(response: http.client.HTTPResponse) -> str:
    """The start of an error answer's body, on one line, for the message."""
    try:
        raw = response.read(_SNIPPET_BYTES)
    except (OSError, http.client.HTTPException):
        return ""
    text = raw.decode("utf-8", errors="replace")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:200]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError):
        return "the server closed the connection without answering"
    if isinstance(exc, http.client.HTTPException):
        return f"malformed answer ({type(exc).__name__})"
    return _reason_of(exc)


def _reason_of(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        detail = getattr(exc, "verify_message", None)
        return exc.reason.replace("_", " ").lower() + (f" ({detail})" if detail else "")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
