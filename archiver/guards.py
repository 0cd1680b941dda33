"""ASGI guards in front of the whole app: which Host names are served, and how a request
body must arrive. Both answer in the API's JSON error shape and never reach Datasette.

Cross-site writes need no guard of ours: the ingest API takes only Bearer tokens (never
cookies), and Datasette 1.0 refuses cross-origin unsafe requests that carry cookies.
"""

import asyncio
import ipaddress
import time

from starlette.responses import JSONResponse

LOOPBACK_NAMES = ("localhost",)


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
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
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


class BodyGuard:
    """Every request body is read here, before any handler, within bounds: at most
    ``max_body`` bytes (413), no pause between chunks over ``idle`` seconds and the whole
    body within ``deadline`` seconds (408). A client trickling a byte at a time therefore
    holds a connection for a bounded time and the server never holds more than ``max_body``
    for it. The body is then replayed to the app in one piece."""

    def __init__(self, app, *, max_body, idle=15.0, deadline=300.0):
        self.app, self.max_body, self.idle, self.deadline = app, max_body, idle, deadline

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._refuse(scope, receive, send, 413)
            return
        chunks, size, more = [], 0, True
        end = time.monotonic() + self.deadline
        try:
            while more:
                wait = min(self.idle, end - time.monotonic())
                if wait <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), wait)
                if message["type"] == "http.disconnect":
                    return  # nobody is left to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    await self._refuse(scope, receive, send, 413)
                    return
                if chunk:
                    chunks.append(chunk)
                more = message.get("more_body", False)
        except TimeoutError:
            await self._refuse(scope, receive, send, 408)
            return
        body = b"".join(chunks)
        chunks.clear()
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as usual

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send, status):
        message = {
            413: f"request body is over the {self.max_body} byte limit",
            408: f"request body did not arrive in time (a pause over {self.idle:g} s,"
            f" or over {self.deadline:g} s in all)",
        }[status]
        # Closing the connection: the rest of the body is never read.
        await error_response(status, message, {"Connection": "close"})(scope, receive, send)
