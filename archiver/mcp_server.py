"""The archive as memory for AI tools: a read-only MCP server (the official ``mcp`` SDK),
a thin face over archiver/conversations.py and archiver/search.py, like the CLI.

Two transports: stdio (``chatgpt-archiver mcp``, for desktop clients that start the server
themselves) and streamable HTTP at ``/mcp`` on the ``serve`` process, behind a token of
scope ``read``. Every tool runs fixed queries; there is no SQL tool, so nothing can reach
the token tables or any other table the tools do not name.
"""

import sqlite3
import threading
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.responses import JSONResponse

from . import __version__
from .conversations import (
    NotFound,
    list_conversations,
    message_in_context,
    read_conversation,
    search_conversations,
)
from .export import DEFAULT_BASE_URL

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)
INSTRUCTIONS = (
    "The user's own archive of their ChatGPT conversations. Search it before answering questions"
    " about what they discussed, decided or wrote earlier; read a whole conversation with"
    " get_conversation. Cite conversations by their link."
)

Epoch = Annotated[float | None, Field(description="Unix seconds (UTC)")]


def build_server(run, *, base_url=DEFAULT_BASE_URL):
    """An MCPServer whose tools call ``await run(fn)``, ``fn(conn)`` being a read-only query
    on a sqlite3 connection to the archive."""
    server = MCPServer("chatgpt-archiver", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    async def call(fn):
        try:
            return await run(fn)
        except (NotFound, ValueError) as e:
            raise ToolError(str(e)) from None

    @server.tool(annotations=READ_ONLY)
    async def list_recent_conversations(
        order: Annotated[Literal["updated", "created"], Field(description="Sort by last update or by creation")] = "updated",
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
        since: Epoch = None,
        until: Epoch = None,
        model: Annotated[str | None, Field(description="A model slug, e.g. gpt-4o")] = None,
        project: Annotated[str | None, Field(description="A project or custom GPT id (g-...)")] = None,
    ) -> dict:
        """Conversations in the archive, most recently updated (or created) first, with their
        ids, titles, dates, model, project and a link to the transcript."""
        return await call(lambda conn: list_conversations(
            conn, order=order, limit=limit, offset=offset, since=since, until=until, model=model,
            project=project, base_url=base_url))

    @server.tool(annotations=READ_ONLY)
    async def get_conversation(
        conversation_id: str,
        leaf: Annotated[str | None, Field(
            description="A message (node) id: read the branch through it instead of the current one")] = None,
        page: Annotated[int, Field(ge=1, description="Long conversations come in pages")] = 1,
    ) -> str:
        """One conversation as Markdown: front matter (id, title, dates, model, link), then the
        branch ChatGPT shows (or the one through ``leaf``), each message with its link. Long
        conversations come in pages: the text ends by naming the next page."""
        found = await call(lambda conn: read_conversation(conn, conversation_id, leaf=leaf, page=page,
                                                          base_url=base_url))
        text = found["markdown"]
        if found["pages"] > 1:
            text += f"\n\n[Page {found['page']} of {found['pages']}"
            text += (f"; call get_conversation with page={found['page'] + 1} for more.]"
                     if found["page"] < found["pages"] else ".]")
        return text

    @server.tool(annotations=READ_ONLY)
    async def get_message(
        message_id: Annotated[str, Field(description="A message (node) id, as search results give")],
        conversation_id: str | None = None,
        before: Annotated[int, Field(ge=0, le=20, description="Messages to include before it")] = 2,
        after: Annotated[int, Field(ge=0, le=20, description="Messages to include after it")] = 2,
    ) -> dict:
        """One message with the messages around it on its branch, each with a link."""
        return await call(lambda conn: message_in_context(
            conn, message_id, conversation_id=conversation_id, before=before, after=after, base_url=base_url))

    @server.tool(annotations=READ_ONLY)
    async def search(
        query: str,
        mode: Annotated[Literal["hybrid", "keyword", "semantic"], Field(
            description="keyword: the words as written (part of a word works too); semantic: by"
                        " meaning, finds other words for the same thing; hybrid: both, fused")] = "hybrid",
        since: Epoch = None,
        until: Epoch = None,
        model: Annotated[str | None, Field(description="A model slug, e.g. gpt-4o")] = None,
        project: Annotated[str | None, Field(description="A project or custom GPT id (g-...)")] = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> dict:
        """Search every message of every conversation, on every branch. Results are
        conversations, best first, with their matching messages (node ids for get_message or
        get_conversation's leaf) and links to the transcript."""
        return await call(lambda conn: search_conversations(
            conn, query, mode=mode, since=since, until=until, model=model, project=project, limit=limit,
            base_url=base_url))

    return server


# ---- stdio ---------------------------------------------------------------------------


def open_read_only(path):
    """A connection that cannot write, whatever a query says (SQLite's own read-only mode)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no archive at {path}")
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA query_only = 1")
    return conn


def serve_stdio(db_path, *, base_url=DEFAULT_BASE_URL):
    """Answer MCP over standard input and output until the client closes them."""
    conn = open_read_only(db_path)
    lock = threading.Lock()

    def locked(fn):
        with lock:
            return fn(conn)

    async def run(fn):
        return await anyio.to_thread.run_sync(locked, fn)

    try:
        anyio.run(build_server(run, base_url=base_url).run_stdio_async)
    finally:
        conn.close()


# ---- streamable HTTP inside serve ----------------------------------------------------


def http_endpoint(server, authorize):
    """(ASGI app for /mcp, session manager). ``authorize(scope)`` is awaited first and
    returns an ASGI response to send instead, or None to let the request through. The
    session manager must run in the host app's lifespan (``async with manager.run()``):
    Starlette does not run a mounted app's own lifespan."""
    # The SDK builds its session manager with its own app; we route to the manager ourselves,
    # so /mcp needs no trailing slash and our token check comes first.
    server.streamable_http_app(
        stateless_http=True,  # no per-client state to keep or leak; survives restarts
        json_response=True,
        # Hosts are checked for every path by our LoopbackHostGuard, before this.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager

    async def endpoint(scope, receive, send):
        refusal = await authorize(scope)
        if refusal is None and scope["method"] != "POST":
            # The server never speaks first, so there is no GET event stream to hold open
            # (the SDK would keep one idle forever), and no session to DELETE: the
            # transport's spec lets a server answer 405 to both.
            refusal = JSONResponse({"ok": False, "error": "MCP here takes POST only", "status": 405},
                                   status_code=405, headers={"Allow": "POST"})
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await manager.handle_request(scope, receive, send)

    return endpoint, manager
