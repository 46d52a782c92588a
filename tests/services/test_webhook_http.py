"""The webhook sender (DESIGN §6): no internal address reachable, before or after DNS, and the
connection goes to the address that was checked. Real HTTP(S) servers on 127.0.0.1; DNS is
simulated by replacing ``socket.getaddrinfo``, the one lookup both the guard and urllib3 use."""
from __future__ import annotations

import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

from app.services import webhook_signing
from app.services.errors import Invalid
from app.services.webhook_http import EXCERPT_BYTES, post_json
from app.services.webhook_urls import RefusedAddress, UnresolvableHost, resolve_public
from tests.quiet_server import QuietHTTPServer

PUBLIC = "93.184.216.34"  # stands for any public address; the fake route sends it to 127.0.0.1
BODY = json.dumps({"event": "sms.status", "message_id": "m1", "status": "DELIVERED"}).encode()
NONE = frozenset()


class Receiver(BaseHTTPRequestHandler):
    """/ok answers 200, /redirect 302 to /ok, /slow sleeps, /big sends 5 KB, /bytes invalid UTF-8."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append({"path": self.path, "headers": dict(self.headers),
                                 "body": self.rfile.read(length)})
        if self.path.startswith("/slow"):
            time.sleep(2)
        if self.path.startswith("/redirect"):
            return self._answer(302, b"moved", [("Location", "/ok")])
        payload = {"/big": b"x" * 5000, "/bytes": b"ok \xff\xfe"}.get(self.path, b'{"received": true}')
        self._answer(200, payload)

    def _answer(self, status, payload, extra=()):
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def _serve(context: ssl.SSLContext | None = None):
    server = QuietHTTPServer(("127.0.0.1", 0), Receiver)
    server.seen = []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server


@pytest.fixture
def server():
    server = _serve()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def dns(monkeypatch):
    """Scripted answers per name (one answer list per lookup, the last repeating) and a route that
    lands connections to PUBLIC on 127.0.0.1. Every lookup is recorded."""
    real = socket.getaddrinfo
    answers: dict[str, list[list[str]]] = {}
    lookups: list[str] = []

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        lookups.append(name)
        if name == PUBLIC:
            return real("127.0.0.1", port, family, type, proto, flags)
        if name not in answers:
            return real(host, port, family, type, proto, flags)
        script = answers[name]
        ips = script.pop(0) if len(script) > 1 else script[0]
        if not ips:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                 (ip, port, 0, 0) if ":" in ip else (ip, port)) for ip in ips]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    fake.answers, fake.lookups = answers, lookups
    return fake


def _post(url, *, allowed=NONE, allow_http=True, timeout=2.0, headers=None, **kwargs):
    return post_json(url, BODY, headers or {}, timeout=timeout, allowed_hosts=allowed,
                     allow_http=allow_http, **kwargs)


# -- refused before anything is sent ------------------------------------------------------------

DNS_ANSWERS = {
    "rebind.example": [["127.0.0.1"]],
    "metadata.example": [["169.254.169.254"]],
    "mixed.example": [[PUBLIC, "10.0.0.7"]],
    "mixed6.example": [[PUBLIC, "::1"]],
    "mapped.example": [["::ffff:127.0.0.1"]],
    "nat64.example": [["64:ff9b::7f00:1"]],
    "zero.example": [["0.0.0.0"]],
    "cgnat.example": [["100.64.0.1"]],
}
REFUSED = [
    "http://127.0.0.1:{port}/ok", "http://10.0.0.1:{port}/ok", "http://169.254.169.254/latest/meta-data",
    "http://[::1]:{port}/ok", "http://[::ffff:127.0.0.1]:{port}/ok", "http://0.0.0.0:{port}/ok",
    "http://localhost:{port}/ok", "http://2130706433:{port}/ok", "http://0177.0.0.1:{port}/ok",
    "http://0x7f.0.0.1:{port}/ok", "http://0x7f000001:{port}/ok", "http://127.1:{port}/ok",
    *(f"http://{name}:{{port}}/ok" for name in DNS_ANSWERS),
    "https://[fe80::1]/ok", "ftp://example.com/", "http://exa mple.com/", "not a url",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_and_never_sent(url, server, dns):
    dns.answers.update({name: list(script) for name, script in DNS_ANSWERS.items()})
    result = _post(url.format(port=server.server_port))
    assert (result.status, result.error) == (None, "refused")
    assert result.detail and not result.ok
    assert server.seen == []


def test_http_is_refused_unless_allowed(server):
    result = _post(f"http://127.0.0.1:{server.server_port}/ok", allowed=frozenset({"127.0.0.1"}), allow_http=False)
    assert result.error == "refused" and "https" in result.detail
    assert server.seen == []


def test_refusal_names_the_internal_answer(dns):
    dns.answers["mixed.example"] = [[PUBLIC, "10.0.0.7"]]
    result = _post("https://mixed.example/hook")
    assert "mixed.example" in result.detail and "10.0.0.7" in result.detail


def test_unresolvable_host(dns):
    dns.answers["nowhere.example"] = [[]]
    result = _post("https://nowhere.example/hook")
    assert (result.status, result.error) == (None, "unresolvable")
    assert "nowhere.example" in result.detail


# -- resolve_public on its own ------------------------------------------------------------------

@pytest.mark.parametrize("host,answers,allowed,expected", [
    ("hooks.example", [PUBLIC], NONE, [PUBLIC]),
    ("hooks.example", [PUBLIC, "2606:4700::1111", PUBLIC], NONE, [PUBLIC, "2606:4700::1111"]),
    ("HOOKS.example.", [PUBLIC], NONE, [PUBLIC]),
    ("dev.example", ["127.0.0.1"], frozenset({"dev.example"}), ["127.0.0.1"]),
    ("localhost", ["::1", "127.0.0.1"], frozenset({"localhost"}), ["::1", "127.0.0.1"]),
])
def test_resolve_public_returns_checked_addresses(dns, host, answers, allowed, expected):
    dns.answers[host.lower().rstrip(".")] = [answers]
    assert [str(a) for a in resolve_public(host, 443, allowed)] == expected


@pytest.mark.parametrize("host,answers,error", [
    ("rebind.example", ["127.0.0.1"], RefusedAddress),
    ("mixed.example", [PUBLIC, "192.168.1.10"], RefusedAddress),
    ("v6.example", ["fd00::1"], RefusedAddress),
    ("sixtofour.example", ["2002:a9fe:a9fe::"], RefusedAddress),  # 6to4 around 169.254.169.254
    ("localhost", None, RefusedAddress),  # refused by name, never looked up
    ("127.0.0.1", None, RefusedAddress),
    ("nowhere.example", [], UnresolvableHost),
])
def test_resolve_public_refuses(dns, host, answers, error):
    if answers is not None:
        dns.answers[host] = [answers]
    with pytest.raises(error) as refused:
        resolve_public(host, 443, NONE)
    assert isinstance(refused.value, Invalid) and host in refused.value.message
    if answers is None:
        assert dns.lookups == []


# -- delivered ----------------------------------------------------------------------------------

def test_allow_listed_local_receiver_is_reached_with_body_and_headers(server):
    signed = webhook_signing.headers("whsec_" + "a" * 32, "msg_1", int(time.time()), BODY)
    result = _post(f"http://127.0.0.1:{server.server_port}/ok", allowed=frozenset({"127.0.0.1"}), headers=signed)
    assert (result.status, result.ok, result.error) == (200, True, None)
    assert result.excerpt == '{"received": true}' and not result.truncated
    assert result.latency_ms >= 0
    (seen,) = server.seen
    assert seen["body"] == BODY
    assert seen["headers"]["Host"] == f"127.0.0.1:{server.server_port}"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert webhook_signing.verify("whsec_" + "a" * 32, seen["headers"], seen["body"])


def test_localhost_falls_back_to_the_next_checked_address(server, dns):
    dns.answers["localhost"] = [["::1", "127.0.0.1"]]  # nothing listens on ::1
    result = _post(f"http://localhost:{server.server_port}/ok", allowed=frozenset({"localhost"}))
    assert result.status == 200
    assert server.seen[0]["headers"]["Host"] == f"localhost:{server.server_port}"


def test_connection_goes_to_the_checked_address_not_a_second_lookup(server, dns):
    # First answer public (checked, pinned); every later answer is the metadata address (rebinding).
    dns.answers["hooks.example"] = [[PUBLIC], ["169.254.169.254"]]
    result = _post(f"http://hooks.example:{server.server_port}/ok")
    assert result.status == 200
    assert server.seen[0]["headers"]["Host"] == f"hooks.example:{server.server_port}"
    assert dns.lookups.count("hooks.example") == 1
    assert set(dns.lookups) == {"hooks.example", PUBLIC}


def test_environment_proxies_are_ignored(server, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # a proxy would resolve the name itself
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = _post(f"http://127.0.0.1:{server.server_port}/ok", allowed=frozenset({"127.0.0.1"}))
    assert result.status == 200


def test_redirect_is_reported_not_followed(server):
    result = _post(f"http://127.0.0.1:{server.server_port}/redirect", allowed=frozenset({"127.0.0.1"}))
    assert (result.status, result.ok, result.excerpt) == (302, False, "moved")
    assert [s["path"] for s in server.seen] == ["/redirect"]


def test_timeout_is_a_failure_within_the_timeout(server):
    started = time.monotonic()
    result = _post(f"http://127.0.0.1:{server.server_port}/slow", allowed=frozenset({"127.0.0.1"}), timeout=0.3)
    assert (result.status, result.error) == (None, "timeout")
    assert time.monotonic() - started < 1.5 and result.latency_ms < 1500
    assert "127.0.0.1" in result.detail


def test_connect_and_read_timeouts_as_a_pair(server):
    result = _post(f"http://127.0.0.1:{server.server_port}/slow", allowed=frozenset({"127.0.0.1"}),
                   timeout=(1.0, 0.3))
    assert result.error == "timeout"


@pytest.mark.parametrize("timeout", [0, -1, (1, 0), (1,), (1, 2, 3), "5", None, True])
def test_timeout_is_required_and_positive(timeout):
    with pytest.raises(ValueError):
        _post("https://hooks.example/", timeout=timeout)


def test_connection_refused_is_a_failure():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _post(f"http://127.0.0.1:{port}/ok", allowed=frozenset({"127.0.0.1"}))
    assert (result.status, result.error) == (None, "connection")
    assert "refused" in result.detail.lower()


@pytest.mark.parametrize("path,excerpt,truncated", [
    ("/big", "x" * EXCERPT_BYTES, True),
    ("/bytes", "ok \ufffd\ufffd", False),
])
def test_response_excerpt(server, path, excerpt, truncated):
    result = _post(f"http://127.0.0.1:{server.server_port}{path}", allowed=frozenset({"127.0.0.1"}))
    assert (result.status, result.excerpt, result.truncated) == (200, excerpt, truncated)


def test_logs_name_the_host_but_never_secrets_or_bodies(server, caplog):
    caplog.set_level(logging.DEBUG, logger="app")
    secret_header = {"webhook-signature": "v1,SIGNATURE-VALUE", "Authorization": "Bearer TOKEN-VALUE"}
    _post(f"http://127.0.0.1:{server.server_port}/ok?token=QUERY-VALUE", allowed=frozenset({"127.0.0.1"}),
          headers=secret_header)
    _post("https://169.254.169.254/?token=QUERY-VALUE")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("app."))
    assert "127.0.0.1" in ours
    for leak in ("SIGNATURE-VALUE", "TOKEN-VALUE", "QUERY-VALUE", "DELIVERED"):
        assert leak not in ours


# -- TLS: SNI and certificate checked against the name, connection to the pinned address ---------

@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    if shutil.which("openssl") is None:  # make test installs it (Debian's openssl) when root
        pytest.fail("the openssl command is needed to issue test certificates: apt-get install openssl")
    folder = tmp_path_factory.mktemp("tls")
    for name in ("hooks.example", "other.example"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", folder / f"{name}.key", "-out", folder / f"{name}.pem", "-subj", f"/CN={name}",
                        "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    return folder


def _tls_server(certificates, name):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / f"{name}.pem", certificates / f"{name}.key")
    sni: list[str | None] = []
    context.sni_callback = lambda sock, server_name, ctx: sni.append(server_name)
    server = _serve(context)
    server.sni = sni
    return server


def test_https_pinned_address_keeps_sni_and_verifies_the_name(certificates, dns):
    server = _tls_server(certificates, "hooks.example")
    try:
        dns.answers["hooks.example"] = [[PUBLIC], ["127.0.0.1"]]
        result = _post(f"https://hooks.example:{server.server_port}/ok", allow_http=False,
                       ca_bundle=str(certificates / "hooks.example.pem"))
        assert (result.status, result.error) == (200, None)
        assert server.sni == ["hooks.example"]
        assert dns.lookups.count("hooks.example") == 1
    finally:
        server.shutdown()
        server.server_close()


def test_https_certificate_for_another_name_is_refused(certificates, dns):
    server = _tls_server(certificates, "other.example")
    try:
        dns.answers["hooks.example"] = [[PUBLIC]]
        result = _post(f"https://hooks.example:{server.server_port}/ok", allow_http=False,
                       ca_bundle=str(certificates / "other.example.pem"))
        assert (result.status, result.error) == (None, "tls")
        assert "hooks.example" in result.detail
        assert server.seen == []
    finally:
        server.shutdown()
        server.server_close()
