"""One webhook POST that cannot be steered into the network smsdesk runs in (DESIGN §6).

The URL is checked as written (``check_callback_url``), its host resolved once and every answer
checked (``resolve_public``), and the connection then goes to that checked address — never to a
second lookup of the name, which a hostile DNS server could answer with 127.0.0.1 (DNS rebinding).
The pinning is done in ``_PinnedAdapter``: the connection pool is keyed by the checked IP, while TLS
still sends the host name (SNI) and verifies the certificate against it, and the Host header keeps
the name. Redirects are never followed (a 3xx is the receiver's answer), proxies and .netrc from the
environment are ignored (a proxy would resolve the name itself), and only the first KiB of the
response is read, whatever its status. Logs name the host and the outcome, never the body,
headers or query string.
"""
from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError

from app.services.errors import Invalid
from app.services.webhook_urls import (
    Address,
    UnresolvableHost,
    check_callback_url,
    resolve_public,
)

log = logging.getLogger(__name__)

EXCERPT_BYTES = 1024
USER_AGENT = "smsdesk-webhooks/1"
DEFAULT_PORTS = {"http": 80, "https": 443}
Timeout = float | tuple[float, float]


@dataclass(frozen=True)
class PostResult:
    """What one attempt got. ``status`` is None when no response came; then ``error`` says why:
    ``refused`` (URL or address not allowed), ``unresolvable``, ``timeout``, ``tls`` or ``connection``."""
    status: int | None
    latency_ms: int
    excerpt: str = ""
    truncated: bool = False
    error: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post_json(url: str, body: bytes, headers: dict[str, str], *, timeout: Timeout,
              allowed_hosts: frozenset[str], allow_http: bool, ca_bundle: str | None = None) -> PostResult:
    """POST ``body`` (JSON bytes) to ``url``. ``timeout`` is seconds, or (connect, read) seconds;
    ``ca_bundle`` replaces the system trust store (tests, private CAs)."""
    _check_timeout(timeout)
    started = time.monotonic()
    try:
        check_callback_url(url, allow_http=allow_http, allowed_hosts=allowed_hosts)
        request = _prepare(url, body, headers)
        host, port = _host_port(request.url)
        addresses = resolve_public(host, port, allowed_hosts)
    except UnresolvableHost as error:
        return _failed(started, "", "unresolvable", error.message)
    except (Invalid, requests.RequestException) as error:
        return _failed(started, "", "refused", getattr(error, "message", "invalid callback URL"))
    try:
        status, excerpt, truncated = _post_pinned(request, host, addresses, timeout, ca_bundle)
    except requests.Timeout:
        return _failed(started, host, "timeout", f"no answer from {host} within {_seconds(timeout)}")
    except requests.exceptions.SSLError as error:
        return _failed(started, host, "tls", f"TLS with {host} failed: {_reason(error)}")
    except requests.RequestException as error:
        return _failed(started, host, "connection", f"could not connect to {host}: {_reason(error)}")
    result = PostResult(status, _ms(started), excerpt, truncated)
    log.info("webhook POST to %s: HTTP %s in %d ms", host, result.status, result.latency_ms)
    return result


def _post_pinned(request: requests.PreparedRequest, host: str, addresses: list[Address], timeout: Timeout,
                 ca_bundle: str | None) -> tuple[int, str, bool]:
    """Try the checked addresses in the resolver's order (``localhost`` may answer ::1 first), moving
    on only when no connection could be opened at all, so nothing is ever sent twice."""
    for index, address in enumerate(addresses):
        try:
            return _post_to(request, host, address, timeout, ca_bundle)
        except requests.ConnectionError as error:
            last = index == len(addresses) - 1
            if last or isinstance(error, requests.Timeout) or not _never_connected(error):
                raise
    raise AssertionError("resolve_public returns at least one address")


def _post_to(request: requests.PreparedRequest, host: str, address: Address, timeout: Timeout,
             ca_bundle: str | None) -> tuple[int, str, bool]:
    # The adapter directly, not a Session: no proxies or .netrc from the environment (a proxy would
    # resolve the name itself), no cookies, and no redirect handling, which would read a 3xx body whole.
    adapter = _PinnedAdapter(host, address)
    try:
        response = adapter.send(request, stream=True, timeout=timeout, verify=ca_bundle or True, proxies={})
        with response:
            return (response.status_code, *_excerpt(response))
    finally:
        adapter.close()


class _PinnedAdapter(HTTPAdapter):
    """Opens connections to ``address`` for requests to ``host``, whatever the name resolves to now."""

    def __init__(self, host: str, address: Address):
        self._host, self._address = host, address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if (host_params["host"] or "").rstrip(".") != self._host:
            raise ValueError("this connection is pinned to another host")  # requests reports InvalidURL
        host_params["host"] = str(self._address)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self._host  # SNI
            pool_kwargs["assert_hostname"] = self._host  # certificate checked against the name, not the IP
        return host_params, pool_kwargs


def _prepare(url: str, body: bytes, headers: dict[str, str]) -> requests.PreparedRequest:
    sent = {k: v for k, v in headers.items() if k.lower() != "host"}
    sent.setdefault("Content-Type", "application/json")
    sent.setdefault("User-Agent", USER_AGENT)
    request = requests.Request("POST", url, headers=sent, data=body).prepare()
    # The pool connects to an IP, so the name must travel in Host (http.client would send the IP).
    request.headers["Host"] = urlsplit(request.url).netloc.rpartition("@")[2]
    return request


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "").rstrip("."), parts.port or DEFAULT_PORTS[parts.scheme]


def _excerpt(response: requests.Response) -> tuple[str, bool]:
    """The first KiB of the body, read without downloading the rest."""
    try:
        data = response.raw.read(EXCERPT_BYTES + 1, decode_content=True) or b""
    except (Urllib3Error, OSError):  # the status arrived; a body cut short or too slow is not a failure
        return "", False
    return data[:EXCERPT_BYTES].decode("utf-8", errors="replace"), len(data) > EXCERPT_BYTES


def _reason(error: BaseException) -> str:
    """The innermost OS or TLS reason, without the URL (its path or query may carry a token)."""
    for current in _chain(error):
        if isinstance(current, ssl.SSLCertVerificationError):
            return getattr(current, "verify_message", None) or str(current) or "certificate verify failed"
        if isinstance(current, ssl.SSLError):
            return current.reason or "TLS error"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
    return type(error).__name__


def _never_connected(error: BaseException) -> bool:
    return any(isinstance(e, NewConnectionError) for e in _chain(error))


def _chain(error: BaseException):
    """``error`` and everything it wraps: requests and urllib3 nest the socket error in args,
    ``reason`` and ``__cause__``."""
    seen: list[BaseException] = []
    todo: list[object] = [error]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        yield current
        todo.extend([*current.args, getattr(current, "reason", None), current.__cause__, current.__context__])


def _failed(started: float, host: str, error: str, detail: str) -> PostResult:
    result = PostResult(None, _ms(started), error=error, detail=detail)
    log.warning("webhook POST to %s failed (%s) after %d ms", host or "?", error, result.latency_ms)
    return result


def _check_timeout(timeout: Timeout) -> None:
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if isinstance(timeout, tuple) and len(timeout) != 2 or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 for v in values):
        raise ValueError("timeout is positive seconds, or a (connect, read) pair of them")


def _seconds(timeout: Timeout) -> str:
    return f"{max(timeout) if isinstance(timeout, tuple) else timeout:g} s"


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
