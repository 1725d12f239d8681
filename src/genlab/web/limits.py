"""ASGI middleware: check the Host and Origin, cap request bodies, send the security headers.

Plain ASGI (not Starlette's BaseHTTPMiddleware) so a too-large body is refused while it
streams in, whether or not the client declared a Content-Length: a declared length over
the cap is answered at once, a counted one raises :class:`BodyTooLarge` inside the read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from genlab.errors import GenlabError

MAX_BODY = 64 * 1024  # bytes: the largest form the app accepts is a few hundred bytes

# Everything the pages load comes from this server: no inline script, no external fonts or CSS.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class BodyTooLarge(GenlabError):
    """A request body over the limit, found while reading it (the app answers 413)."""

    status = 413


async def _send_413(send, limit: int) -> None:
    body = f"request body too large: at most {limit} bytes".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 (declared or counted while reading)."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                too_big = True  # a malformed length is refused like an oversized one
            if too_big:
                await _send_413(send, self.limit)
                return
        seen, started = 0, False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(f"request body too large: at most {self.limit} bytes")
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:  # raised outside a route (the routes' handler answers it otherwise)
            if not started:
                await _send_413(send, self.limit)


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {
                    **message,
                    "headers": [*message.get("headers", []), *(h for h in SECURITY_HEADERS if h[0] not in names)],
                }
            await send(message)

        await self.app(scope, receive, with_headers)


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(host_header: str) -> str:
    """The host name of a ``Host`` header (``[::1]:8000`` -> ``::1``, ``Example.COM.`` -> ``example.com``)."""
    host = host_header.strip().lower()
    if host.startswith("["):  # an IPv6 literal, maybe with a port
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


async def _refuse(send, status: int, message: str) -> None:
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HostAndOrigin:
    """Answer only requests addressed to an allowed host name, and refuse cross-site writes.

    DNS rebinding: a page on ``attacker.example`` whose name is re-pointed at 127.0.0.1
    talks to this app from the browser with ``Host: attacker.example``; that is a 400 here.
    A POST (or any unsafe method) whose ``Origin`` is not this very host, or whose
    ``Sec-Fetch-Site`` says cross-site, is a 403 (the survey's cookie is SameSite=Strict too).
    """

    def __init__(self, app: Any, allowed_hosts: frozenset[str] = LOOPBACK_HOSTS) -> None:
        self.app, self.allowed = app, frozenset(h.lower().rstrip(".") for h in allowed_hosts)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get(b"host", "")
        if host_name(host) not in self.allowed:
            shown = host[:80] or "none"
            await _refuse(
                send,
                400,
                f"unknown Host header {shown!r}: this app answers to {', '.join(sorted(self.allowed))} "
                "(genlab serve --allow-host NAME adds one)",
            )
            return
        if scope.get("method", "GET") not in SAFE_METHODS:
            origin = headers.get(b"origin")
            site = headers.get(b"sec-fetch-site", "")
            # Our pages send Referrer-Policy: no-referrer, under which a browser's form POST carries
            # "Origin: null"; the browser's own Sec-Fetch-Site: same-origin then vouches for it.
            vouched = origin == "null" and site == "same-origin"
            cross = site in ("cross-site", "same-site")
            if cross or (origin is not None and not vouched and not _same_origin(origin, host)):
                await _refuse(send, 403, "cross-site request refused: submit the form from this app's own pages")
                return
        await self.app(scope, receive, send)


def _same_origin(origin: str, host: str) -> bool:
    """Whether an ``Origin`` header names this host (and port), as the browser addressed it."""
    try:
        return origin != "null" and urlsplit(origin).netloc.lower() == host.strip().lower()
    except ValueError:  # "http://[::1" and other malformed origins
        return False
