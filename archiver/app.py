"""create_app(): one Starlette app with the ingest API, Datasette mounted at /, scoped CORS.

All writes, ours and the insert API's, go through Datasette's single write thread, so they
never fight over SQLite's write lock.
"""

import asyncio
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
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route, Router

from . import __version__
from .accounts import ACCOUNT_ID as QUERY_ID, MAX_LISTED, AccountConflict, check_account_id, save_listing
from .assets import BadFileId, Spooler, TooBig, check_file_id, wanted_assets
from .db import (
    archive_stats,
    ensure_secret,
    open_db,
    receive_capture,
    wanted_conversations,
)
from .deriving import Deriver
from .indexing import keep_trigram_indexed
from .guards import BodyGuard, BodyRefused, LoopbackHostGuard, error_response
from .web.auth import WRITABLE_TABLES, authenticate
from .web.config import browse_config, browse_metadata
from .openapi import SPEC
from .intake import (
    NotArchived,
    admit_file,
    save_admitted_asset,
    save_admitted_received,
    save_admitted_textdocs,
)
from .privacy import Refused, allowed_items
from .reshape import BadJSON, NotAConversation, parse_json
from .scripts import USERSCRIPT_PATH, render_userscript
from .semantic import keep_embedded
from .textdocs import NotTextdocs, reshape_textdocs
from .tokens import READ, WrongScope, bearer_token

log = logging.getLogger("chatgpt_archiver")

DEFAULT_ORIGINS = ("https://chatgpt.com", "https://chat.openai.com")
DEFAULT_MAX_BODY = 100 * 1024 * 1024  # long conversations with tool output reach tens of MB
DEFAULT_MAX_ASSET = 50 * 1024 * 1024  # ChatGPT's own upload limit for images is 20 MB; files reach more
MAX_WANTED_FILES = 10_000


EMBEDDER_GRACE = 5.0  # seconds shutdown waits for the cancelled embedder before going on
DERIVE_GRACE = 30.0  # seconds shutdown waits for rows of captures already answered


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
    max_asset=DEFAULT_MAX_ASSET,
    base_url=None,
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
    new_text = asyncio.Event()  # set after each capture's rows are derived: the embedder has work
    deriver = Deriver(archive, on_derived=new_text.set)

    async def require_token(request):
        token = bearer_token(request.headers.get("authorization"))
        challenge = {"WWW-Authenticate": 'Bearer realm="chatgpt-archiver"'}
        if token is None:
            raise ApiError(401, "missing token: send Authorization: Bearer <token>", challenge)
        try:
            token_name = await authenticate(archive, token)
        except WrongScope as e:
            raise ApiError(403, str(e)) from None
        if token_name is None:
            challenge["WWW-Authenticate"] += ', error="invalid_token"'
            raise ApiError(401, "invalid or revoked token", challenge)
        return token_name

    async def ingest(request):
        token_name = await require_token(request)
        account_id = query_account(request)
        body = await request.body()  # read after the token check; BodyGuard bounds size and time
        # Answered once the raw capture is committed (checked to be JSON shaped like a
        # conversation first, so bad input is still a 4xx, and admitted by the privacy settings
        # and its account, so a refusal is still a skip and a conflict a 409, nothing written);
        # its rows are derived right after, in capture order.
        received = await run_in_threadpool(receive_capture, body)
        capture_id, duplicate, pending = await write_or_refuse(archive, lambda conn: save_admitted_received(
            conn, received, token_name=token_name, account_id=account_id))
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
        ids = await archive.execute_fn(lambda conn: wanted_conversations(conn, allowed_items(conn, listed)))
        return JSONResponse({"ok": True, "wanted": ids})

    async def listed(request):
        await require_token(request)
        account_id, ids = parse_listed(await request.body())
        missing, newly = await archive.execute_write_fn(lambda conn: save_listing(conn, account_id, ids))
        return JSONResponse({"ok": True, "missing": missing, "newly_missing": newly})

    async def assets_wanted(request):
        await require_token(request)
        file_ids = parse_file_ids(await request.body())
        return JSONResponse({"ok": True, "wanted": await archive.execute_fn(lambda conn: wanted_assets(conn, file_ids))})

    async def asset(request):
        await require_token(request)
        file_id, cid = query_file_id(request), query_conversation_id(request)
        name = request.query_params.get("name", "")[:255]
        name = name if name.isprintable() and name.strip() else None  # a label, never a path
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_asset:
            raise ApiError(413, f"file is over the {max_asset} byte limit", {"Connection": "close"})
        await archive.execute_fn(lambda conn: admit_file(conn, cid, file_id))
        upload = await spool_body(request, max_asset)
        try:
            duplicate = await write_or_refuse(archive, lambda conn: save_admitted_asset(
                conn, cid, file_id, upload, name=name, declared_mime=request.headers.get("content-type")))
        finally:
            upload.file.close()
        return JSONResponse({"ok": True, "file_id": file_id, "sha256": upload.sha256, "size": upload.size,
                             "duplicate": duplicate}, status_code=200 if duplicate else 201)

    async def textdocs(request):
        await require_token(request)
        cid = query_conversation_id(request)
        body = await request.body()
        try:
            rows = reshape_textdocs(cid, parse_json(body))
        except NotTextdocs as e:
            raise ApiError(422, str(e)) from None
        stored = await write_or_refuse(archive, lambda conn: save_admitted_textdocs(conn, cid, rows))
        return JSONResponse({"ok": True, "stored": stored}, status_code=201)

    async def userscript(request):
        server = str(request.base_url).rstrip("/")
        return Response(render_userscript(server), media_type="text/javascript; charset=utf-8")

    async def health(request):
        return JSONResponse({"ok": True, "version": __version__})

    async def stats(request):
        await require_token(request)
        return JSONResponse({"ok": True, **await archive.execute_fn(archive_stats)})

    mcp_endpoint, mcp_sessions = mcp_app(archive, base_url)

    @asynccontextmanager
    async def lifespan(app):
        # Starlette does not pass lifespan events to mounted apps: Datasette's startup and
        # the MCP session manager run from here, and the semantic-search embedder beside them.
        await ds.invoke_startup()
        await deriver.start()  # captures a killed run acknowledged get their rows first
        embedding = asyncio.create_task(keep_embedded(
            archive.execute_fn, lambda fn: archive.execute_write_fn(fn), new_text, log=log), name="embedder")
        # After a bulk import, parts-of-words search catches up here (archiver.indexing).
        trigram = asyncio.create_task(keep_trigram_indexed(
            lambda fn: archive.execute_write_fn(fn, transaction=False), log=log), name="trigram index")
        try:
            async with mcp_sessions.run():
                yield
        finally:
            await deriver.finish(DERIVE_GRACE)  # what was answered gets its rows
            if deriver.task is not None:
                await stop_background(deriver.task, EMBEDDER_GRACE)
                deriver.task = None
            await stop_background(embedding, EMBEDDER_GRACE)
            await stop_background(trigram, EMBEDDER_GRACE)
            await ds.invoke_shutdown()

    tables = "|".join(WRITABLE_TABLES)
    app = Starlette(
        routes=[
            # A router of its own, so a wrong method on an API path is a 405 here instead of
            # falling through to Datasette.
            Mount("/api", app=Router(routes=[
                Route("/conversations", ingest, methods=["POST"]),
                Route("/conversations/wanted", wanted, methods=["POST"]),
                Route("/conversations/listed", listed, methods=["POST"]),
                Route("/assets", asset, methods=["POST"]),
                Route("/assets/wanted", assets_wanted, methods=["POST"]),
                Route("/textdocs", textdocs, methods=["POST"]),
                Route("/health", health, methods=["GET"]),
                Route("/stats", stats, methods=["GET"]),
                Route("/openapi.json", lambda request: JSONResponse(SPEC), methods=["GET"]),
            ], default=api_not_found)),
            Route(USERSCRIPT_PATH, userscript, methods=["GET"]),
            Route("/mcp", mcp_endpoint),
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
            AccountConflict: handle_conflict,
            NotArchived: handle_conflict,
            Refused: handle_refused,
            sqlite3.Error: handle_archive_error,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.datasette = ds
    return app


async def stop_background(task, grace):
    """Cancel a background task and wait at most ``grace`` seconds for it to end: a task
    that does not stop (one that swallowed its cancellation) must never keep the server, or
    a test's TestClient, from shutting down. Its failure is logged, never raised."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.warning("%s did not stop within %s s of being cancelled; shutting down without it",
                    task.get_name(), grace)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("%s failed: %r", task.get_name(), task.exception())


class _ASGI:
    """Starlette treats a plain function as a request handler; this marks an ASGI app."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


def mcp_app(archive, base_url):
    """The read-only MCP server at /mcp, for a token of scope ``read`` only: a write token
    (a browser's capture token) must not read the archive, a read token never writes."""
    from .mcp_server import build_server, http_endpoint

    async def authorize(scope):
        token = bearer_token(dict(Headers(scope=scope)).get("authorization"))
        challenge = {"WWW-Authenticate": 'Bearer realm="chatgpt-archiver"'}
        if token is None:
            return error_response(401, "missing token: send Authorization: Bearer <read token>", challenge)
        try:
            name = await authenticate(archive, token, READ)
        except WrongScope as e:
            return error_response(403, str(e))
        if name is None:
            challenge["WWW-Authenticate"] += ', error="invalid_token"'
            return error_response(401, "invalid or revoked token", challenge)
        return None

    server = build_server(archive.execute_fn, base_url=base_url or "http://127.0.0.1:8001")
    endpoint, sessions = http_endpoint(server, authorize)
    return _ASGI(endpoint), sessions


def parse_listing(body):
    """``{"conversations": [{"id": str, "update_time": ...}, ...]}`` -> the list, or ApiError."""
    data = parse_json(body)
    items = data.get("conversations") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("id"), str) for i in items
    ):
        raise ApiError(422, "expected {\"conversations\": [{\"id\": ..., \"update_time\": ...}, ...]}")
    return items


class _Refusal:
    def __init__(self, error):
        self.error = error


async def write_or_refuse(archive, fn):
    """execute_write_fn for writes that may be refused (privacy, account, unknown file): the
    refusal rolls back and comes back as a value to raise here, so Datasette's write thread
    does not log an expected answer as a failure."""

    def run(conn):
        try:
            return fn(conn)
        except (Refused, AccountConflict, NotArchived) as e:
            conn.rollback()
            return _Refusal(e)

    result = await archive.execute_write_fn(run)
    if isinstance(result, _Refusal):
        raise result.error
    return result


async def spool_body(request, limit):
    """The body as an Upload, refused with 413 as soon as it passes ``limit``: never held
    whole in memory, never read beyond the limit."""
    spooler = Spooler(limit)
    try:
        async for chunk in request.stream():
            spooler.feed(chunk)
    except TooBig as e:
        raise ApiError(413, str(e), {"Connection": "close"}) from None
    except BaseException:
        spooler.file.close()
        raise
    return spooler.upload()


async def handle_refused(request, exc):
    # A 2xx, so a client does not keep retrying what the archive will never take.
    return JSONResponse({"ok": True, "skipped": True, "reason": str(exc)})


def query_account(request):
    try:
        return check_account_id(request.query_params.get("account_id"))
    except ValueError as e:
        raise ApiError(422, str(e)) from None


def query_conversation_id(request):
    cid = request.query_params.get("conversation_id", "")
    if not QUERY_ID.fullmatch(cid):
        raise ApiError(422, "conversation_id is required: the conversation's id")
    return cid


def query_file_id(request):
    try:
        return check_file_id(request.query_params.get("file_id", ""))
    except BadFileId as e:
        raise ApiError(422, str(e)) from None


def parse_file_ids(body):
    data = parse_json(body)
    ids = data.get("file_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list):
        raise ApiError(422, 'expected {"file_ids": ["file-…", ...]}')
    if len(ids) > MAX_WANTED_FILES:
        raise ApiError(422, f"at most {MAX_WANTED_FILES} file ids per request")
    try:
        return [check_file_id(i) for i in ids]
    except BadFileId as e:
        raise ApiError(422, str(e)) from None


def parse_listed(body):
    """``{"account_id", "complete": true, "ids": [...]}`` -> (account id, ids), or ApiError."""
    data = parse_json(body)
    if not isinstance(data, dict) or data.get("complete") is not True:
        raise ApiError(422, "only a complete list marks conversations missing: send \"complete\": true")
    try:
        account_id = check_account_id(data.get("account_id"))
    except (ValueError, TypeError):
        account_id = None
    ids = data.get("ids")
    if account_id is None or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(422, 'expected {"account_id": "...", "complete": true, "ids": ["...", ...]}')
    if len(ids) > MAX_LISTED:
        raise ApiError(422, f"at most {MAX_LISTED} ids per list")
    return account_id, ids


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


async def handle_conflict(request, exc):
    return error_response(409, str(exc))


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
