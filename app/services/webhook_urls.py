"""Which URLs smsdesk agrees to call back (``callback_url`` now, keyword webhooks later).

At send time the URL is checked as written: https (http only when configured), a host, a valid
port, and no address that points inside the network running smsdesk — loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, unspecified, and the same addresses
disguised as IPv4-mapped, 6to4 or NAT64 IPv6 or as legacy IPv4 spellings (``2130706433``).
Host names are checked again after DNS resolution when a webhook is delivered
(``resolve_public``), since a name can resolve anywhere. ``WEBHOOK_ALLOWED_HOSTS`` lists hosts
exempt from the address rules (local development and tests).
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.services.errors import Invalid

LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def check_callback_url(url: str | None, *, allow_http: bool, allowed_hosts: frozenset[str]) -> None:
    if url is None:
        return
    schemes = ("https", "http") if allow_http else ("https",)
    host = _host(url, schemes)
    if host is None:
        _refuse("callback_url must be an https:// URL")
    if host not in allowed_hosts and is_internal_host(host):
        _refuse(f"callback_url may not point at '{host}': loopback, private and link-local "
                "addresses are refused")


def _refuse(message: str):
    raise Invalid(message, code="invalid_callback_url",
                  fields=[{"loc": ["body", "callback_url"], "msg": message, "type": "value_error"}])


def _host(url: str, schemes: tuple[str, ...]) -> str | None:
    """The URL's host if it is an absolute URL with one of ``schemes`` and a valid, non-zero port.
    Whitespace and control characters are refused outright: urlsplit keeps them."""
    if not isinstance(url, str) or len(url) > 2048 or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port out of range
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if parts.scheme not in schemes or not parts.hostname or port == 0:
        return None
    return parts.hostname.lower().rstrip(".")


def is_internal_host(host: str) -> bool:
    """True for a local name or an IP literal that is not a public unicast address."""
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    address = _ip_literal(host)
    if address is None:
        return False  # a name: judged after resolution, at delivery
    return is_internal_address(address)


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, including the legacy IPv4 forms that resolvers still accept
    (``2130706433``, ``0177.0.0.1``, ``0x7f.1``) although ipaddress refuses them."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or any(c not in "0123456789abcdefx." for c in host) or not host[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def is_internal_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None)
        if embedded is not None:
            return is_internal_address(embedded)
    return not address.is_global or address.is_multicast


class RefusedAddress(Invalid):
    code = "refused_address"


class UnresolvableHost(Invalid):
    code = "unresolvable_host"


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def resolve_public(host: str, port: int, allowed_hosts: frozenset[str]) -> list[Address]:
    """The addresses ``host`` resolves to, in the resolver's order, refusing the host when ANY of
    them is internal: a name with one public and one private answer could be connected to either.
    Allow-listed hosts are resolved but not judged. Connect only to an address returned here
    (see webhook_http): resolving again could give another answer (DNS rebinding)."""
    host = host.lower().rstrip(".")
    allowed = host in allowed_hosts
    if not allowed and is_internal_host(host):
        raise RefusedAddress(f"'{host}' is a loopback, private or link-local address and is refused")
    addresses = _resolve(host, port)
    if not allowed:
        internal = [str(a) for a in addresses if is_internal_address(a)]
        if internal:
            raise RefusedAddress(f"'{host}' resolves to {', '.join(internal)}: loopback, private and "
                                 "link-local addresses are refused")
    return addresses


def _resolve(host: str, port: int) -> list[Address]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:  # socket.gaierror is an OSError; bad IDNA a UnicodeError
        raise UnresolvableHost(f"'{host}' could not be resolved ({error})") from None
    addresses: list[Address] = []
    for family, *_, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableHost(f"'{host}' has no IPv4 or IPv6 address")
    return addresses
