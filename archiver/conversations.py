"""Reading the archive as an AI tool or a note-taker does: recent conversations, one
conversation as Markdown (any branch, paged), one message with its neighbours. Fixed,
read-only queries over a sqlite3 connection; the MCP server is a thin face over these.
Nothing here touches the token tables or anything secret."""

from .export import DEFAULT_BASE_URL, iso, load_conversation, reshape_markdown, transcript_link
from .tree import branch, current_leaf

MAX_LIST = 100
PAGE_CHARS = 40_000  # about 10k tokens: long conversations come in pages an AI client can hold
MAX_CONTEXT = 20


class NotFound(Exception):
    pass


def _filters(since=None, until=None, model=None, project=None):
    where, params = [], {}
    if since is not None:
        where.append("coalesce(c.update_time, c.create_time) >= :since")
        params["since"] = float(since)
    if until is not None:
        where.append("c.create_time < :until")
        params["until"] = float(until)
    if model:
        where.append("(c.default_model_slug = :model OR EXISTS (SELECT 1 FROM chatgpt_message m"
                     " WHERE m.conversation_id = c.id AND m.model = :model))")
        params["model"] = model
    if project:
        where.append("(c.project_id = :project OR c.gizmo_id = :project)")
        params["project"] = project
    return where, params


def conversation_summary(row, base_url):
    return {
        "conversation_id": row["id"],
        "title": row["title"] or "Untitled conversation",
        "created": iso(row["create_time"]),
        "updated": iso(row["update_time"]),
        "model": row["default_model_slug"],
        "project": row["project_id"] or row["gizmo_id"],
        "messages": row["message_count"],
        "link": transcript_link(base_url, row["id"]),
    }


def list_conversations(conn, *, order="updated", limit=20, offset=0, since=None, until=None, model=None,
                       project=None, base_url=DEFAULT_BASE_URL):
    """Conversations, most recently updated (or created) first, with links."""
    if order not in ("updated", "created"):
        raise ValueError("order is 'updated' or 'created'")
    limit = max(1, min(int(limit), MAX_LIST))
    offset = max(0, int(offset))
    where, params = _filters(since, until, model, project)
    key = "coalesce(c.update_time, c.create_time)" if order == "updated" else "c.create_time"
    cursor = conn.execute(
        "SELECT c.id, c.title, c.create_time, c.update_time, c.default_model_slug, c.project_id, c.gizmo_id,"
        " c.message_count FROM chatgpt_conversation c"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY {key} DESC NULLS LAST, c.id LIMIT :limit OFFSET :offset",
        {**params, "limit": limit + 1, "offset": offset},
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor]
    return {
        "conversations": [conversation_summary(r, base_url) for r in rows[:limit]],
        "has_more": len(rows) > limit,
        "next_offset": offset + limit if len(rows) > limit else None,
    }


def _pages(text, size):
    """Split Markdown into pages of at most ~size characters, at message headings."""
    blocks, current = [], ""
    for part in text.split("\n### "):
        piece = part if not current and not blocks else "\n### " + part
        if current and len(current) + len(piece) > size:
            blocks.append(current)
            current = piece.lstrip("\n")
        else:
            current += piece
    blocks.append(current)
    # A single message longer than a page is cut into page-sized pieces.
    pages = []
    for block in blocks:
        pages += [block[i:i + size] for i in range(0, max(len(block), 1), size)]
    return pages


def read_conversation(conn, conversation_id, *, leaf=None, page=1, page_chars=PAGE_CHARS,
                      base_url=DEFAULT_BASE_URL):
    """One conversation as Markdown: the current branch, or the branch through ``leaf`` (a
    node id, e.g. from a search hit), paged. Returns {"conversation_id", "title", "link",
    "branch", "page", "pages", "markdown"}."""
    conversation, rows = load_conversation(conn, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id!r} in the archive")
    if leaf is not None and leaf not in {r["node_id"] for r in rows}:
        raise NotFound(f"conversation {conversation_id!r} has no message {leaf!r}")
    leaf = leaf or current_leaf(conversation, rows)
    text = reshape_markdown(conversation, rows, base_url=base_url, leaf=leaf)
    pages = _pages(text, page_chars)
    page = int(page)
    if not 1 <= page <= len(pages):
        raise NotFound(f"page {page} does not exist; this conversation has {len(pages)} page(s)")
    return {
        "conversation_id": conversation["id"],
        "title": conversation["title"] or "Untitled conversation",
        "link": transcript_link(base_url, conversation["id"]),
        "branch": leaf,
        "page": page,
        "pages": len(pages),
        "markdown": pages[page - 1],
    }


def _message(row, conversation_id, base_url):
    return {
        "node_id": row["node_id"],
        "role": row["author_role"],
        "model": row["model"],
        "created": iso(row["create_time"]),
        "text": row["text"] or "",
        "link": transcript_link(base_url, conversation_id, row["node_id"]),
    }


def message_in_context(conn, message_id, *, conversation_id=None, before=2, after=2, base_url=DEFAULT_BASE_URL):
    """A message (by node id, or row id) with up to ``before``/``after`` visible messages
    around it on its branch (the branch through it, continued to its newest leaf)."""
    before = max(0, min(int(before), MAX_CONTEXT))
    after = max(0, min(int(after), MAX_CONTEXT))
    sql = "SELECT conversation_id, node_id FROM chatgpt_message WHERE (node_id = :id OR id = :id)"
    params = {"id": message_id}
    if conversation_id:
        sql += " AND conversation_id = :cid"
        params["cid"] = conversation_id
    found = conn.execute(sql + " LIMIT 2", params).fetchall()
    if not found:
        raise NotFound(f"no message {message_id!r} in the archive")
    if len(found) > 1:
        raise NotFound(f"message id {message_id!r} is in more than one conversation; name the conversation_id")
    cid, node = found[0]
    conversation, rows = load_conversation(conn, cid)
    # The branch ChatGPT shows when the message is on it, else the newest one through it.
    current = [row for row, _, _ in branch(rows, current_leaf(conversation, rows) or node)]
    on_current = any(r["node_id"] == node for r in current)
    path = current if on_current else [row for row, _, _ in branch(rows, node)]
    visible = [r for r in path if r["author_role"] is not None and not r["is_hidden"] or r["node_id"] == node]
    at = next(i for i, r in enumerate(visible) if r["node_id"] == node)
    return {
        "conversation_id": cid,
        "title": conversation["title"] or "Untitled conversation",
        "link": transcript_link(base_url, cid, node),
        "message": _message(visible[at], cid, base_url),
        "before": [_message(r, cid, base_url) for r in visible[max(0, at - before):at]],
        "after": [_message(r, cid, base_url) for r in visible[at + 1:at + 1 + after]],
    }


def search_conversations(conn, query, *, mode="hybrid", since=None, until=None, model=None, project=None,
                         limit=10, base_url=DEFAULT_BASE_URL):
    """Search for an AI client: conversations best first, each with its matching messages,
    every one with its transcript link and the ids get_conversation / get_message take."""
    from .semantic import hybrid_search

    found = hybrid_search(conn, query, mode=mode, since=since, until=until, model=model, project=project,
                          limit=max(1, min(int(limit), 50)))
    notice = found.get("notice")
    if mode != "keyword" and conn.execute("SELECT 1 FROM chatgpt_embedding LIMIT 1").fetchone() is None:
        notice = ("No message is embedded yet, so only words were matched: run `chatgpt-archiver embed`"
                  " (a running `chatgpt-archiver serve` does it by itself).")
    return {
        "query": query,
        "mode": mode,
        "notice": notice,
        "total": found["total"],
        "conversations": [{
            "conversation_id": c["conversation_id"],
            "title": c["title"] or "Untitled conversation",
            "updated": iso(c["update_time"]),
            "model": c["model"],
            "project": c["project_id"] or c["gizmo_id"],
            "link": transcript_link(base_url, c["conversation_id"]),
            "messages": [{
                "node_id": m["node_id"],
                "role": m["role"],
                "created": iso(m["create_time"]),
                "on_current_branch": m["is_current"],
                "snippet": m["snippet"],
                "link": transcript_link(base_url, c["conversation_id"], m["node_id"]),
            } for m in c["messages"]],
        } for c in found["conversations"]],
    }
