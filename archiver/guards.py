"""ASGI guards in front of the whole app: which Host names are served, and how a request
body must arrive. Their refusals use the API's JSON error shape, for Datasette's paths too.

Cross-site writes need no guard of ours: the ingest API takes only Bearer tokens (never
cookies), and Datasette 1.0 refuses cross-origin unsafe requests that carry cookies.
"""

import asyncio
import ipaddress
import time

from datasette.utils.asgi import BadRequest
from starlette.responses import JSONResponse

def error_response(status, message, headers=None):
    """The one JSON error shape of our API."""
    return JSONResponse(
        {"ok": False, "error": message, "status": status}, status_code=status, headers=headers
    )


def host_name(header):
    """``127.0.0.1:8001`` -> ``127.0.0.1``; ``[::1]:8001`` -> ``::1``; lower-cased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def is_loopback_name(name):
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class LoopbackHostGuard:
    """On a loopback bind the archive is readable without signing in, so only requests
    addressed to a loopback name are served. Otherwise any web page could read it through
    DNS rebinding: its own domain, re-pointed at 127.0.0.1, is same-origin to the browser.
    (Starlette's TrustedHostMiddleware matches neither ``[::1]:port`` nor all of 127/8.)"""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            name = host_name(headers.get(b"host", b"").decode("latin-1"))
            if not is_loopback_name(name):
                response = error_response(
                    421, "this archive answers only to loopback names (127.0.0.1, localhost)"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyRefused(BadRequest):
    """Raised into the app when it reads a body the guard has refused. A Datasette 4xx, so
    Datasette's views end quietly (its own body reader asserts it never sees a disconnect);
    our API has a handler for it. Either way the guard has already answered the client."""


class BodyGuard:
    """Request bodies arrive within bounds: at most ``max_body`` bytes (413), no pause
    between chunks over ``idle`` seconds and the whole body within ``deadline`` seconds
    (408). A client trickling a byte at a time holds a connection for a bounded time.

    The body is checked as the app reads it, not read ahead: a request the app refuses
    first (no token, no permission) is never read at all, so nobody without a token can make
    the server hold a body. When a bound is crossed, the guard answers itself and the app
    gets BodyRefused from its read; anything it sends after that is dropped."""

    def __init__(self, app, *, max_body, idle=15.0, deadline=300.0):
        self.app, self.max_body, self.idle, self.deadline = app, max_body, idle, deadline

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._refuse(send, 413)
            return
        end = time.monotonic() + self.deadline
        size, body_done, refused, started = 0, False, False, False

        async def refuse(status):
            nonlocal refused
            refused = True
            if not started:  # the app has not begun answering: we answer for it
                await self._refuse(send, status)
            return BodyRefused(f"request body refused ({status})")

        async def guarded_receive():
            nonlocal size, body_done
            if refused:
                raise BodyRefused("request body refused")
            if body_done:
                return await receive()  # after the body: the wait for a disconnect, unbounded
            try:
                wait = min(self.idle, end - time.monotonic())
                if wait <= 0:
                    raise TimeoutError
                async with asyncio.timeout(wait):  # not wait_for: on 3.11 it can swallow a cancellation
                    message = await receive()
            except TimeoutError:
                raise await refuse(408) from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_body:
                    raise await refuse(413)
                body_done = not message.get("more_body", False)
            return message

        async def guarded_send(message):
            nonlocal started
            if refused:
                return  # we have answered for the app
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, guarded_receive, guarded_send)

    async def _refuse(self, send, status):
        message = {
            413: f"request body is over the {self.max_body} byte limit",
            408: f"request body did not arrive in time (a pause over {self.idle:g} s,"
            f" or over {self.deadline:g} s in all)",
        }[status]
        # Closing the connection: the rest of the body is never read.
        response = error_response(status, message, {"Connection": "close"})
        await response({"type": "http"}, None, send)
