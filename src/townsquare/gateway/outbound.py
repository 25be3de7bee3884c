"""Calls the platform makes to addresses an app chose (its `notify_url`), safe against SSRF and
DNS rebinding: the name is resolved once, every address it resolves to must be public (unless
the deployment allows private ones), and the connection goes to the very address that was
checked, so a resolver that answers a public address to the check and an internal one to the
connect has nothing to swap.

The request is made to the checked IP with the original `Host` header and, for https, the
original name as TLS SNI and as the name the certificate must match (httpx's `sni_hostname`
extension: the certificate is still verified, against the name, not the IP). Redirects are not
followed, and proxy settings from the environment are ignored (a proxy would connect for us).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Mapping

import httpx

Resolver = Callable[[str, int], list[str]]  # (host, port) → its addresses, in preference order
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
ANSWER_BYTES = 800  # read of a receiver's answer (the attempt keeps 200 characters of it)


class AddressRefused(Exception):
    """The address resolves to something the notifier must not reach."""


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses as the operating system resolves them (one lookup)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise AddressRefused(f"cannot resolve {host}") from exc
    found: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast: not private, loopback, link-local, shared (CGNAT),
    multicast, reserved or unspecified, also when wrapped in IPv6 (mapped or NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in _NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
        or address.is_loopback or address.is_link_local or address.is_private
    )


def checked_address(host: str, port: int, *, allow_private: bool,
                    resolve: Resolver = system_resolver) -> str:
    """Resolve `host` once and answer the address to connect to. A name with any non-public
    address is refused whole (unless allowed): which of its addresses a connect would pick is
    not ours to predict."""
    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = (
            ipaddress.ip_address(host))
    except ValueError:
        literal = None
    addresses = [host] if literal is not None else resolve(host, port)
    if not addresses:
        raise AddressRefused(f"{host} has no address")
    parsed = []
    for text in addresses:
        try:
            parsed.append(ipaddress.ip_address(text.split("%", 1)[0]))  # no zone ids
        except ValueError:
            raise AddressRefused(f"{host} resolves to {text!r}") from None
    if not allow_private:
        for address in parsed:
            if not is_public(address):
                raise AddressRefused(f"{host} resolves to a non-public address {address}")
    return str(parsed[0])


def post_form(
    url: str, form: Mapping[str, str], *, allow_private: bool, timeout: float,
    resolve: Resolver = system_resolver, verify: ssl.SSLContext | bool = True,
    transport: httpx.BaseTransport | None = None,
) -> tuple[int, str]:
    """POST `form` to `url`, connecting only to the address checked here; answers the status
    and the start of the body. Raises AddressRefused, or httpx.HTTPError when the call fails."""
    target = httpx.URL(url)
    host = target.host
    port = target.port or (443 if target.scheme == "https" else 80)
    address = checked_address(host, port, allow_private=allow_private, resolve=resolve)
    host_header = host if target.port is None else f"{host}:{target.port}"
    if ":" in host and not host.startswith("["):  # an IPv6 literal in the Host header
        host_header = f"[{host}]" if target.port is None else f"[{host}]:{target.port}"
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout, verify=verify,
                      transport=transport) as client, client.stream(
            "POST", target.copy_with(host=address), data=dict(form),
            headers={"Host": host_header, "Accept-Encoding": "identity"},
            extensions=extensions) as response:
        # only the start of the answer matters ("success"): a receiver that sends a huge body,
        # or sends it a byte at a time, holds the notifier no longer than `timeout` per read
        # and one `timeout` in all for the body
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= ANSWER_BYTES or time.monotonic() > deadline:
                break
    return response.status_code, body[:ANSWER_BYTES].decode("utf-8", "replace")[:200]
