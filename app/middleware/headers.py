"""Who the client is and what every answer says about itself: trusted proxies, the public
origin, and security headers."""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The dashboard and the docs page load their script and styles from files and set no inline
# style either; a forest plot fetched with a reader key is shown from a blob: URL (an image,
# which cannot run script).
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data: blob:; object-src 'none'; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_PAGE_TYPES = (b"text/html", b"image/svg+xml")


class SecurityHeaders:
    """`nosniff` on every answer; on pages and images that a browser renders as documents (HTML,
    SVG), a content security policy without inline script or style and a refusal to be
    framed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                extra = [(b"x-content-type-options", b"nosniff")]
                if content_type.lower().startswith(_PAGE_TYPES):
                    extra += [(b"content-security-policy", PAGE_POLICY.encode()),
                              (b"x-frame-options", b"DENY")]
                message = {**message,
                           "headers": headers + [h for h in extra if h[0] not in names]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PublicOrigin:
    """Requests seen as if made to the configured public base URL, so every link the service
    writes names it, never a Host header a client chose."""

    def __init__(self, app: ASGIApp, *, base_url: str) -> None:
        self.app = app
        self.scheme, _, host = base_url.partition("://")
        self.host = host.encode()
        port = host.rpartition(":")[2] if host.rpartition(":")[2].isdigit() else None
        self.server = (host.rsplit(":", 1)[0] if port else host,
                       int(port) if port else {"http": 80, "https": 443}[self.scheme])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(n, v) for n, v in scope["headers"] if n != b"host"]
            scope = {**scope, "scheme": self.scheme, "server": self.server,
                     "headers": [(b"host", self.host), *headers]}
        await self.app(scope, receive, send)


class TrustedProxies:
    """The client address (and scheme) as a trusted proxy reports it.

    Only when the connection's peer is in EVIDENCEDB_TRUSTED_PROXIES is `X-Forwarded-For`
    read: from its right end, skipping trusted proxies, the first other address is the
    client. Anyone else's X-Forwarded-For is ignored, so a client cannot name itself anew on
    every request. (The server must not rewrite the peer itself: uvicorn runs with
    --no-proxy-headers.)
    """

    def __init__(self, app: ASGIApp, *, networks: list[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and self.trusted(client[0]):
            scope = self._as_forwarded(scope)
        await self.app(scope, receive, send)

    def _as_forwarded(self, scope: Scope) -> Scope:
        hops: list[str] = []
        proto = None
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                hops += [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
        address = scope["client"][0]
        for hop in reversed(hops):
            address = hop
            if not self.trusted(hop):
                break
        scheme = proto if proto in ("http", "https") else scope.get("scheme", "http")
        return {**scope, "client": (address[:64], 0), "scheme": scheme}
