"""create_app(): one Starlette app with the ingest API, Datasette mounted at /, scoped CORS.

All writes, ours and the insert API's, go through Datasette's single write thread, so they
never fight over SQLite's write lock.
"""

import logging
import os
import re
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path

from datasette.app import Datasette
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route, Router

from . import __version__
from .db import (
    archive_stats,
    ensure_secret,
    open_db,
    receive_capture,
    save_received,
    wanted_conversations,
)
from .deriving import Deriver
from .guards import BodyGuard, BodyRefused, LoopbackHostGuard, error_response
from .web.auth import WRITABLE_TABLES, authenticate
from .web.config import browse_config, browse_metadata
from .openapi import SPEC
from .reshape import BadJSON, NotAConversation, parse_json
from .scripts import USERSCRIPT_PATH, render_userscript
from .tokens import bearer_token

log = logging.getLogger("chatgpt_archiver")

DEFAULT_ORIGINS = ("https://chatgpt.com", "https://chat.openai.com")
DEFAULT_MAX_BODY = 100 * 1024 * 1024  # long conversations with tool output reach tens of MB


class ApiError(Exception):
    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class ScopedCORS:
    """CORS for the write endpoints only. Applying it to the whole app would let any script
    on chatgpt.com read the archive's pages with a cross-origin fetch."""

    def __init__(self, app, path_pattern, **cors_options):
        self.app = app
        self.pattern = re.compile(path_pattern)
        self.cors = CORSMiddleware(app, **cors_options)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.pattern.fullmatch(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(
    db_path,
    *,
    public=False,
    root=False,
    cors_origins=DEFAULT_ORIGINS,
    max_body=DEFAULT_MAX_BODY,
    body_idle=15.0,
    body_deadline=300.0,
    secret=None,
):
    """The whole server. ``public`` (bound beyond loopback) makes Datasette private: only
    the signed-in root user may read, through the login URL ``root_login_path()`` gives.
    Not public, it answers only requests addressed to a loopback name. Request bodies must
    arrive within ``body_idle`` seconds between chunks and ``body_deadline`` in all."""
    db_path = Path(db_path)
    setup = open_db(db_path)  # creates and migrates before Datasette opens the file
    setup.close()
    secret = secret or os.environ.get("DATASETTE_SECRET") or ensure_secret(db_path)
    name = db_path.stem
    config = browse_config(name, public)
    ds = Datasette(
        [str(db_path)],
        config=config,
        metadata=browse_metadata(name),
        secret=secret,
        settings={
            # A whole conversation must fit in one insert-API request.
            "max_insert_rows": 100_000,
            "max_post_body_bytes": max_body,
        },
    )
    ds.root_enabled = bool(root or public)
    archive = ds.get_database(name)
    deriver = Deriver(archive)

    async def require_token(request):
        token = bearer_token(request.headers.get("authorization"))
        challenge = {"WWW-Authenticate": 'Bearer realm="chatgpt-archiver"'}
        if token is None:
            raise ApiError(401, "missing token: send Authorization: Bearer <token>", challenge)
        token_name = await authenticate(archive, token)
        if token_name is None:
            challenge["WWW-Authenticate"] += ', error="invalid_token"'
            raise ApiError(401, "invalid or revoked token", challenge)
        return token_name

    async def ingest(request):
        token_name = await require_token(request)
        body = await request.body()  # read after the token check; BodyGuard bounds size and time
        # Answered once the raw capture is committed (checked to be JSON shaped like a
        # conversation first, so bad input is still a 4xx); its rows are derived right after,
        # in capture order.
        received = await run_in_threadpool(receive_capture, body)
        capture_id, duplicate, pending = await archive.execute_write_fn(
            lambda conn: save_received(conn, received, source="api", token_name=token_name)
        )
        done = None if duplicate else deriver.submit(capture_id, received.raw, received.data)
        return JSONResponse(
            {"ok": True, "conversation_id": received.conversation_id, "capture_id": capture_id,
             "duplicate": duplicate, "derived": not pending,
             "messages": None, "new_messages": None, "unknown_content_types": None},
            status_code=200 if duplicate else 201,
            # The answer is sent first; the request ends when the rows are in, so in-process
            # callers (and the access log) see the whole of it.
            background=BackgroundTask(deriver.wait, done) if done else None,
        )

    async def wanted(request):
        await require_token(request)
        body = await request.body()
        listed = parse_listing(body)
        ids = await archive.execute_fn(lambda conn: wanted_conversations(conn, listed))
        return JSONResponse({"ok": True, "wanted": ids})

    async def userscript(request):
        server = str(request.base_url).rstrip("/")
        return Response(render_userscript(server), media_type="text/javascript; charset=utf-8")

    async def health(request):
        return JSONResponse({"ok": True, "version": __version__})

    async def stats(request):
        await require_token(request)
        return JSONResponse({"ok": True, **await archive.execute_fn(archive_stats)})

    @asynccontextmanager
    async def lifespan(app):
        # Starlette does not pass lifespan events to mounted apps.
        await ds.invoke_startup()
        await deriver.start()  # captures a killed run acknowledged get their rows first
        yield
        await deriver.stop()
        await ds.invoke_shutdown()

    tables = "|".join(WRITABLE_TABLES)
    app = Starlette(
        routes=[
            # A router of its own, so a wrong method on an API path is a 405 here instead of
            # falling through to Datasette.
            Mount("/api", app=Router(routes=[
                Route("/conversations", ingest, methods=["POST"]),
                Route("/conversations/wanted", wanted, methods=["POST"]),
                Route("/health", health, methods=["GET"]),
                Route("/stats", stats, methods=["GET"]),
                Route("/openapi.json", lambda request: JSONResponse(SPEC), methods=["GET"]),
            ], default=api_not_found)),
            Route(USERSCRIPT_PATH, userscript, methods=["GET"]),
            Mount("/", app=ds.app()),
        ],
        middleware=[
            *([] if public else [Middleware(LoopbackHostGuard)]),
            # Outside BodyGuard, so its 408/413 carry CORS headers a page can read.
            Middleware(
                ScopedCORS,
                path_pattern=rf"/api/.*|/[^/]+/(?:{tables})/-/(?:insert|upsert)",
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            ),
            Middleware(BodyGuard, max_body=max_body, idle=body_idle, deadline=body_deadline),
        ],
        exception_handlers={
            ApiError: handle_api_error,
            ClientDisconnect: handle_disconnect,
            BodyRefused: handle_disconnect,
            HTTPException: handle_http_exception,
            BadJSON: handle_bad_json,
            NotAConversation: handle_not_a_conversation,
            sqlite3.Error: handle_archive_error,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.datasette = ds
    return app


def parse_listing(body):
    """``{"conversations": [{"id": str, "update_time": ...}, ...]}`` -> the list, or ApiError."""
    data = parse_json(body)
    items = data.get("conversations") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("id"), str) for i in items
    ):
        raise ApiError(422, "expected {\"conversations\": [{\"id\": ..., \"update_time\": ...}, ...]}")
    return items


async def api_not_found(scope, receive, send):
    await error_response(404, "no such API endpoint")(scope, receive, send)


async def handle_http_exception(request, exc):
    return error_response(exc.status_code, exc.detail, getattr(exc, "headers", None))


async def handle_disconnect(request, exc):
    # The client left mid-body, or BodyGuard cut it off and has answered already: what is
    # sent here goes nowhere. Handled, so it is not logged as a server error.
    return error_response(400, "the request body did not arrive whole")


async def handle_api_error(request, exc):
    return error_response(exc.status, exc.message, exc.headers)


async def handle_bad_json(request, exc):
    return error_response(400, str(exc))


async def handle_not_a_conversation(request, exc):
    return error_response(422, str(exc))


async def handle_archive_error(request, exc):
    # Disk full, read-only file, locked: the transaction rolled back, nothing was written,
    # and the client should keep the capture and retry later.
    log.error("archive write failed: %s", exc)
    return error_response(503, f"the archive cannot be written right now: {exc}")


async def handle_unexpected(request, exc):
    return error_response(500, "internal error; nothing was written")


def root_login_path(app):
    """Path of Datasette's one-time root login link (valid until used)."""
    ds = app.state.datasette
    return ds.urls.path(f"-/auth-token?token={ds._root_token}")
