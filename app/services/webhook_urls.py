"""Which webhook URLs a saved search may name: HTTPS to public addresses only.

A webhook makes the server send requests to an address a client chose, so an address inside
the server's own networks (loopback, private, link-local, …) would let any key holder probe
or call services that trust the server. Such addresses are refused unless they fall in
`webhook_allowed_networks`; plain HTTP is allowed for loopback hosts only; credentials in
the URL are refused, since they would be stored and sent beside every delivery.

The host is resolved when the URL is saved (`check`) and again before each delivery
(`resolve_allowed`), since what a name resolves to can change after it was checked.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.config import Settings
from app.errors import UnprocessableContent

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedUrl(Exception):
    """Why a webhook URL cannot be used."""


def _address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone is not an address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _internal(address: Address) -> bool:
    return (address.is_private or address.is_loopback or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified
            or not address.is_global)


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` stands for (itself when it is an address)."""
    try:
        return [_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedUrl(f"the host {host!r} does not resolve") from None
    addresses = [_address(str(info[4][0])) for info in found]
    if not addresses:
        raise RefusedUrl(f"the host {host!r} does not resolve")
    return addresses


def refusal(url: str, settings: Settings) -> str | None:
    """Why the URL cannot receive webhooks now (None when it can)."""
    try:
        check_url(url, settings)
    except RefusedUrl as problem:
        return str(problem)
    return None


def check_url(url: str, settings: Settings) -> None:
    """Raise RefusedUrl, saying why, unless the URL may receive webhooks now."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as problem:
        raise RefusedUrl(f"the URL is malformed: {problem}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise RefusedUrl("a webhook URL must be https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise RefusedUrl("a webhook URL cannot hold a user name or password")
    host = parts.hostname
    if not host:
        raise RefusedUrl("a webhook URL must name a host")
    addresses = resolve(host, port or (443 if scheme == "https" else 80))
    if scheme == "http" and not all(a.is_loopback for a in addresses):
        raise RefusedUrl("a webhook URL must be https (plain http only to a loopback host)")
    allowed: list[Network] = [ipaddress.ip_network(n, strict=False)
                              for n in settings.webhook_allowed_networks]
    for address in addresses:
        if _internal(address) and not any(address in network for network in allowed
                                          if network.version == address.version):
            raise RefusedUrl(f"the host {host!r} resolves to {address}, an address that is "
                             "not public (private, loopback, link-local, multicast, reserved "
                             "or unspecified) and not in the allowed webhook networks")


def check(url: str, settings: Settings) -> None:
    """A 422 problem naming the `url` field unless the URL may receive webhooks."""
    reason = refusal(url, settings)
    if reason is not None:
        raise UnprocessableContent(
            f"url: {reason}",
            errors=[{"loc": ["body", "url"], "msg": reason, "type": "value_error"}])


def resolve_allowed(url: str, settings: Settings) -> bool:
    """Whether the URL may receive a webhook now: the check of `check`, resolving its host
    again (for the delivery worker, just before it sends)."""
    return refusal(url, settings) is None
