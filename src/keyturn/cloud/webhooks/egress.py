"""Where webhook deliveries may connect: public addresses only, unless the operator allows more.

A manager chooses the URL, so without this the server could be made to post into its own
network (databases, cloud metadata at 169.254.169.254). Each request's host is resolved
once, every address checked, and the connection pinned to the checked address, so a DNS
answer that changes between the check and the connect (rebinding) cannot slip through.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address

import httpx

# host, port → the addresses it resolves to (socket.getaddrinfo's shape, trimmed).
Resolver = Callable[[str, int], list[str]]
LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain"})


class PrivateTarget(httpx.ConnectError):
    """The delivery's host is, or resolves to, an address webhooks may not reach."""


def is_public(address: IPv4Address | IPv6Address) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local, …)."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def literal_is_private(host: str) -> bool:
    """Whether host is a name or IP literal that is certainly not public, without DNS."""
    if host.lower().rstrip(".") in LOCALHOST_NAMES:
        return True
    try:
        return not is_public(ip_address(host.strip("[]")))
    except ValueError:
        return False


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the operating system's resolver."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from None
    return [str(info[4][0]) for info in found]


class PinnedTransport(httpx.BaseTransport):
    """Resolve each request's host once, refuse non-public answers, connect to that address.

    TLS still verifies the certificate against the host name (the `sni_hostname` request
    extension), and the Host header keeps the name, so receivers see an ordinary request.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        addresses = [ip_address(found) for found in self._resolver(host, port)]
        if not addresses:
            raise httpx.ConnectError(f"{host} has no address")
        refused = [str(a) for a in addresses if not is_public(a)]
        # Any private answer refuses the host: a mixed answer is how rebinding is staged.
        if refused and not self._allow_private:
            raise PrivateTarget(
                f"refused: {host} resolves to {', '.join(refused)}, not a public address"
            )
        request.url = request.url.copy_with(host=str(addresses[0]))
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def webhook_client(
    *, allow_private: bool, timeout_s: float, resolver: Resolver = system_resolver
) -> httpx.Client:
    """The HTTP client deliveries go through, pinned to addresses this policy allows."""
    transport = PinnedTransport(allow_private=allow_private, resolver=resolver)
    return httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=False)
