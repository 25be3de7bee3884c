"""The notifier's outbound calls: the address checked is the address connected to (a resolver
that rebinds between check and connect gets nothing), internal addresses are refused in every
disguise, the original name still rides in Host, SNI and the certificate check, and redirects
are not followed."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from tests.gateway import gateway_world
from townsquare.gateway import notify, outbound
from townsquare.gateway.models import GatewayApp, Notification, NotificationState

PUBLIC = "93.184.216.34"


class Rebinding:
    """A DNS answer that changes between lookups: public to the first, internal afterwards."""

    def __init__(self, *answers: str) -> None:
        self.answers, self.asked = list(answers), []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


class Seen:
    """httpx's transport for the test: records where each request would connect, answers."""

    def __init__(self, answer: str = "success") -> None:
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)
        self.answer = answer

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, text=self.answer)


@pytest.mark.parametrize("address", [
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "64:ff9b::7f00:1", "2001:db8::1",
])
def test_internal_addresses_are_not_public(address):
    assert not outbound.is_public(ipaddress.ip_address(address))
    with pytest.raises(outbound.AddressRefused):
        outbound.checked_address("isv.example", 443, allow_private=False,
                                 resolve=lambda _h, _p: [address])


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address):
    assert outbound.is_public(ipaddress.ip_address(address))


def test_a_rebinding_name_is_connected_only_at_the_address_checked():
    resolver = Rebinding(PUBLIC, "127.0.0.1")
    seen = Seen()
    status, answer = outbound.post_form(
        "https://notify.isv.example/cb?x=1", {"a": "1"}, allow_private=False, timeout=5,
        resolve=resolver, transport=seen.transport)
    assert (status, answer) == (200, "success")
    [request] = seen.requests
    assert request.url.host == PUBLIC and request.url.path == "/cb"  # where it connects
    assert request.headers["host"] == "notify.isv.example"
    assert request.extensions["sni_hostname"] == "notify.isv.example"
    assert resolver.asked == [("notify.isv.example", 443)]  # resolved once, for the check
    # the next lookup answers an internal address: refused before anything is sent
    with pytest.raises(outbound.AddressRefused, match="127.0.0.1"):
        outbound.post_form("https://notify.isv.example/cb", {}, allow_private=False, timeout=5,
                           resolve=resolver, transport=seen.transport)
    assert len(seen.requests) == 1


def test_a_name_with_any_internal_address_is_refused_whole():
    seen = Seen()
    with pytest.raises(outbound.AddressRefused, match="10.0.0.7"):
        outbound.post_form("http://isv.example:8080/n", {}, allow_private=False, timeout=5,
                           resolve=lambda _h, _p: [PUBLIC, "10.0.0.7"],
                           transport=seen.transport)
    assert seen.requests == []


def test_the_port_and_an_ipv6_address_are_kept():
    seen = Seen()
    outbound.post_form("http://isv.example:8080/n", {}, allow_private=False, timeout=5,
                       resolve=lambda _h, _p: ["2606:4700:4700::1111"], transport=seen.transport)
    [request] = seen.requests
    assert request.url.host == "2606:4700:4700::1111" and request.url.port == 8080
    assert request.headers["host"] == "isv.example:8080"
    assert "sni_hostname" not in request.extensions  # plain http


class _Receiver(BaseHTTPRequestHandler):
    hits: list[tuple[str, str]]

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.hits.append((self.path, self.headers.get("host", "")))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("location", "/internal")
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"success")

    def log_message(self, *args):
        pass


def _serve(context: ssl.SSLContext | None = None):
    hits: list[tuple[str, str]] = []
    handler = type("Handler", (_Receiver,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


def test_over_real_sockets_the_checked_address_is_used_and_redirects_are_not_followed():
    server, hits = _serve()
    port = server.server_port
    try:  # a name the system cannot resolve: only the checked address can have been used
        status, answer = outbound.post_form(
            f"http://notify.isv.invalid:{port}/cb", {"a": "1"}, allow_private=True, timeout=5,
            resolve=lambda _h, _p: ["127.0.0.1"])
        assert (status, answer) == (200, "success")
        status, _ = outbound.post_form(
            f"http://notify.isv.invalid:{port}/redirect", {}, allow_private=True, timeout=5,
            resolve=lambda _h, _p: ["127.0.0.1"])
        assert status == 302
    finally:
        server.shutdown()
    assert hits == [("/cb", f"notify.isv.invalid:{port}"),
                    ("/redirect", f"notify.isv.invalid:{port}")]  # never /internal


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_sends_the_name_as_sni_and_checks_the_certificate_against_it(tmp_path):
    cert, key = _certificate(tmp_path, "notify.isv.test")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    client_context = ssl.create_default_context(cafile=str(cert))
    server, hits = _serve(server_context)
    port = server.server_port
    loopback = {"allow_private": True, "timeout": 5, "verify": client_context,
                "resolve": lambda _h, _p: ["127.0.0.1"]}
    try:
        assert outbound.post_form(f"https://notify.isv.test:{port}/cb", {}, **loopback) == (
            200, "success")
        with pytest.raises(httpx.ConnectError, match="(?i)certificate|hostname"):
            outbound.post_form(f"https://other.isv.test:{port}/cb", {}, **loopback)
    finally:
        server.shutdown()
    assert names[0] == "notify.isv.test" and "other.isv.test" in names
    assert hits == [("/cb", f"notify.isv.test:{port}")]


@pytest.fixture
def world(database, settings, make_user):
    return gateway_world.build(database, settings, make_user)


def test_the_notifier_refuses_a_name_that_rebinds_to_an_internal_address(
        database, settings, world):
    strict = settings.model_copy(update={"gateway_notify_private": False})
    with database.unit_of_work() as db:
        app = db.scalar(select(GatewayApp))
        row = notify.enqueue(db, app=app, url="https://notify.isv.example/cb",
                             notify_type="trade_status_sync", params={"out_trade_no": "T-1"})
        notification_id = row.id
    assert notify.deliver_due(database, strict, resolve=Rebinding("10.0.0.5")) == 1
    with database.unit_of_work() as db:
        row = db.get(Notification, notification_id)
        [attempt] = notify.attempts_of(db, [row.id])[row.id]
        assert row.state == NotificationState.PENDING and row.attempts == 1
        assert attempt.error.startswith("refused:") and "10.0.0.5" in attempt.error


class _Talker(BaseHTTPRequestHandler):
    """Answers with a body far too long (`/huge`) or one byte at a time forever (`/slow`)."""

    stop: threading.Event

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.end_headers()
        try:
            if self.path == "/huge":
                self.wfile.write(b"success" + b"x" * 10_000_000)
            else:
                while not self.stop.wait(0.05):
                    self.wfile.write(b"s")
                    self.wfile.flush()
        except OSError:  # the notifier hung up: what it should do
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("path", ["/huge", "/slow"])
def test_a_receiver_cannot_hold_the_notifier_with_its_answer(path):
    stop = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Talker,), {"stop": stop}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got: list[tuple[int, str]] = []
    caller = threading.Thread(target=lambda: got.append(outbound.post_form(
        f"http://127.0.0.1:{server.server_port}{path}", {}, allow_private=True, timeout=1)))
    try:
        caller.start()
        caller.join(60)
        assert not caller.is_alive()  # the slow one would never end by itself
    finally:
        stop.set()
        server.shutdown()
    [(status, answer)] = got
    assert status == 200 and 0 < len(answer) <= 200
    assert answer.startswith("success" if path == "/huge" else "s")
