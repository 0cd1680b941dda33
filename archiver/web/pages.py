"""Datasette hooks and pages for browsing the archive: search, transcript, dashboard,
exports, raw captures, published conversations. Registered through archiver.web."""

import gzip
import json

from datasette import hookimpl
from datasette.resources import TableResource
from datasette.utils.asgi import Forbidden, NotFound, Response
from markupsafe import Markup

from ..db import archive_stats
from .auth import archive_database
from .render import (
    bar_chart,
    branch,
    children_of,
    fill_months,
    fts_query,
    highlighted_snippet,
    markdown,
    pygments_css,
    switch_targets,
    when,
)

JSON_COLUMNS = {
    "chatgpt_conversation": {"moderation_results", "plugin_ids", "conversation_json"},
    "chatgpt_message": {"author_metadata", "content", "metadata", "message_json"},
}
TEXT_PREVIEW = 300


async def can_read_all(datasette, request):
    db = archive_database(datasette)
    return await datasette.allowed(
        action="view-table", resource=TableResource(db.name, "chatgpt_message"), actor=request.actor
    )


async def is_published(db, cid):
    rows = await db.execute("SELECT 1 FROM chatgpt_public WHERE conversation_id = ?", [cid])
    return bool(rows.rows)


async def render(datasette, request, template, context):
    context = {"archiver_css": Markup(pygments_css()), **context}
    return Response.html(await datasette.render_template(template, context, request=request))


async def search_page(datasette, request):
    if not await can_read_all(datasette, request):
        raise Forbidden("Sign in to search the archive")
    db = archive_database(datasette)
    q = request.args.get("q", "").strip()
    results = []
    if fts_query(q):
        rows = await db.execute(
            """
            SELECT m.id, m.node_id, m.conversation_id, m.author_role, m.create_time, m.content_type,
                   c.title, snippet(chatgpt_message_fts, 0, char(2), char(3), '…', 24) AS snippet
            FROM chatgpt_message_fts
            JOIN chatgpt_message m ON m.rowid = chatgpt_message_fts.rowid
            LEFT JOIN chatgpt_conversation c ON c.id = m.conversation_id
            WHERE chatgpt_message_fts MATCH :q
            ORDER BY rank LIMIT 100
            """,
            {"q": fts_query(q)},
        )
        results = [
            dict(r, snippet=highlighted_snippet(r["snippet"]), when=when(r["create_time"])) for r in rows.dicts()
        ]
    return await render(datasette, request, "archiver_search.html", {"q": q, "results": results})


async def transcript_page(datasette, request):
    db = archive_database(datasette)
    cid = request.url_vars["cid"]
    fmt = request.url_vars.get("fmt")
    reader = await can_read_all(datasette, request)
    if not (reader or await is_published(db, cid)):
        raise Forbidden("This conversation is private")
    conversation = (await db.execute("SELECT * FROM chatgpt_conversation WHERE id = ?", [cid])).dicts()
    if not conversation:
        raise NotFound("No such conversation")
    conversation = conversation[0]
    rows = (await db.execute(
        "SELECT id, node_id, parent_id, child_index, create_time, author_role, author_name, content_type,"
        " text, model, status, is_hidden, recipient, message_json FROM chatgpt_message WHERE conversation_id = ?",
        [cid],
    )).dicts()
    if fmt == "json":
        return Response.json(export_json(conversation, rows), headers=_download(cid, "json"))
    leaf = request.args.get("leaf") or conversation["current_leaf"] or conversation["current_node"]
    children = children_of(rows)
    turns = []
    for row, siblings, position in branch(rows, leaf):
        if row["author_role"] is None:
            continue  # the root and other message-less nodes
        prev_leaf, next_leaf = switch_targets(siblings, position, children)
        turns.append(dict(row, siblings=len(siblings), position=position + 1,
                          prev_leaf=prev_leaf, next_leaf=next_leaf, when=when(row["create_time"])))
    if fmt == "md":
        return Response.text(export_markdown(conversation, turns), headers=_download(cid, "md"))
    captures = (await db.execute(
        "SELECT id, received_at, token_name, source, size, shape FROM chatgpt_capture"
        " WHERE conversation_id = ? ORDER BY id", [cid])).dicts()
    files = {}
    for row in (await db.execute(
        "SELECT l.node_id, l.file_id, f.name, a.mime_type, a.size FROM chatgpt_message_asset l"
        " JOIN chatgpt_asset_file f ON f.file_id = l.file_id JOIN chatgpt_asset a ON a.sha256 = f.sha256"
        " WHERE l.conversation_id = ? GROUP BY l.node_id, l.file_id", [cid])).dicts():
        files.setdefault(row["node_id"], []).append(row)
    for turn in turns:
        turn["html"] = markdown(turn["text"])
        turn["files"] = files.get(turn["node_id"], [])
    return await render(datasette, request, "archiver_transcript.html", {
        "conversation": conversation, "turns": turns, "captures": captures,
        "database": db.name, "when": when, "target": request.args.get("leaf"),
        "can_read_all": reader,
    })


def _download(cid, ext):
    return {"content-disposition": f'attachment; filename="conversation-{cid}.{ext}"'}


def export_json(conversation, rows):
    """The conversation in ChatGPT's own shape, rebuilt from every node ever captured."""
    data = json.loads(conversation["conversation_json"] or "{}")
    mapping = {}
    children = children_of(rows)
    for row in rows:
        mapping[row["node_id"]] = {
            "id": row["node_id"],
            "message": json.loads(row["message_json"]) if row["message_json"] else None,
            "parent": row["parent_id"],
            "children": children.get(row["node_id"], []),
        }
    data["mapping"] = mapping
    data["current_node"] = conversation["current_node"] or conversation["current_leaf"]
    return data


def export_markdown(conversation, turns):
    lines = [f"# {conversation['title'] or 'Untitled conversation'}", ""]
    for turn in turns:
        if turn["is_hidden"]:
            continue
        who = turn["author_role"] + (f" ({turn['model']})" if turn["model"] else "")
        lines += [f"## {who} · {turn['when']}", "", turn["text"] or "", ""]
    return "\n".join(lines)


async def capture_json(datasette, request):
    db = archive_database(datasette)
    rows = (await db.execute("SELECT conversation_id, body FROM chatgpt_capture WHERE id = ?",
                             [int(request.url_vars["capture_id"])])).rows
    if not rows:
        raise NotFound("No such capture")
    cid, body = rows[0]
    if not (await can_read_all(datasette, request) or await is_published(db, cid)):
        raise Forbidden("This capture is private")
    return Response(gzip.decompress(body), content_type="application/json; charset=utf-8")


async def asset_file(datasette, request):
    """An archived file. Served so it cannot act as a page of this site: a sandboxing CSP,
    no MIME sniffing, and anything but an image as a download."""
    db = archive_database(datasette)
    rows = (await db.execute(
        "SELECT f.name, a.mime_type, a.data, (SELECT group_concat(DISTINCT conversation_id)"
        " FROM chatgpt_message_asset l WHERE l.file_id = f.file_id) FROM chatgpt_asset_file f"
        " JOIN chatgpt_asset a ON a.sha256 = f.sha256 WHERE f.file_id = ? LIMIT 1",
        [request.url_vars["file_id"]])).rows
    if not rows:
        raise NotFound("No such file")
    name, mime, data, conversations = rows[0]
    if not await can_read_all(datasette, request):
        published = [c for c in (conversations or "").split(",") if c and await is_published(db, c)]
        if not published:
            raise Forbidden("This file is private")
    image = (mime or "").startswith("image/") and mime != "image/svg+xml"
    headers = {"content-security-policy": "sandbox; default-src 'none'", "x-content-type-options": "nosniff"}
    if not image:
        headers["content-disposition"] = 'attachment; filename="{}"'.format(name.replace('"', ""))
    return Response(data, content_type=mime if image else "application/octet-stream", headers=headers)


async def dashboard_page(datasette, request):
    if not await can_read_all(datasette, request):
        raise Forbidden("Sign in to see the dashboard")
    db = archive_database(datasette)

    async def dicts(sql):
        return (await db.execute(sql)).dicts()

    per_month = await dicts(
        "SELECT strftime('%Y-%m', create_time, 'unixepoch') AS month, count(*) AS n"
        " FROM chatgpt_message WHERE author_role IN ('user', 'assistant') AND create_time IS NOT NULL"
        " GROUP BY month ORDER BY month")
    conversations_per_month = await dicts(
        "SELECT strftime('%Y-%m', create_time, 'unixepoch') AS month, count(*) AS n"
        " FROM chatgpt_conversation WHERE create_time IS NOT NULL GROUP BY month ORDER BY month")
    context = {
        "messages_chart": bar_chart(fill_months([(r["month"], r["n"]) for r in per_month]), label="messages"),
        "conversations_chart": bar_chart(
            fill_months([(r["month"], r["n"]) for r in conversations_per_month]), label="conversations"),
        "models": await dicts(
            "SELECT model, count(*) AS n FROM chatgpt_message WHERE model IS NOT NULL"
            " GROUP BY model ORDER BY n DESC LIMIT 20"),
        "largest": await dicts(
            "SELECT id, title, message_count FROM chatgpt_conversation ORDER BY message_count DESC LIMIT 10"),
        "latest": await dicts(
            "SELECT k.id, k.conversation_id, k.received_at, k.token_name, k.source, k.size, c.title"
            " FROM chatgpt_capture k LEFT JOIN chatgpt_conversation c ON c.id = k.conversation_id"
            " ORDER BY k.id DESC LIMIT 10"),
        "drift": (await db.execute_fn(archive_stats))["unknown_content_types"],
        "database": db.name,
    }
    return await render(datasette, request, "archiver_dashboard.html", context)


async def published_page(datasette, request):
    db = archive_database(datasette)
    rows = (await db.execute(
        "SELECT c.id, c.title, c.update_time, c.message_count, p.published_at FROM chatgpt_public p"
        " JOIN chatgpt_conversation c ON c.id = p.conversation_id ORDER BY p.published_at DESC")).dicts()
    for row in rows:
        row["when"] = when(row["update_time"])
    return await render(datasette, request, "archiver_published.html", {"conversations": rows})


@hookimpl
def register_routes(datasette):
    return [
        (r"^/-/search$", search_page),
        (r"^/-/dashboard$", dashboard_page),
        (r"^/-/published$", published_page),
        (r"^/-/c/(?P<cid>[^/]+?)(?:\.(?P<fmt>md|json))?$", transcript_page),
        (r"^/-/capture/(?P<capture_id>\d+)\.json$", capture_json),
        (r"^/-/asset/(?P<file_id>[^/]+)$", asset_file),
    ]


@hookimpl
def render_cell(row, value, column, table, database, datasette, request):
    if table in JSON_COLUMNS and column in JSON_COLUMNS[table] and isinstance(value, str) and value:
        try:
            pretty = json.dumps(json.loads(value), indent=2, ensure_ascii=False)
        except ValueError:
            return None
        return Markup('<details class="json"><summary>{} · {:,} bytes</summary><pre>{}</pre></details>').format(
            "JSON", len(value), pretty)
    if table == "chatgpt_conversation" and column == "id" and value:
        return Markup('<a href="{}">{}</a> · <a href="{}">transcript</a>').format(
            datasette.urls.row(database, table, value), value, datasette.urls.path(f"-/c/{value}"))
    if table == "chatgpt_message" and column == "text" and isinstance(value, str) and len(value) > TEXT_PREVIEW:
        return Markup('<span title="{} characters">{}…</span>').format(len(value), value[:TEXT_PREVIEW])
    if table == "chatgpt_message" and column == "id" and value and "conversation_id" in row.keys():
        node = row["node_id"] if "node_id" in row.keys() else value
        return Markup('<a href="{}">{}</a> · <a href="{}#m-{}">in transcript</a>').format(
            datasette.urls.row(database, table, value), value,
            datasette.urls.path(f"-/c/{row['conversation_id']}"), node)
    return None


@hookimpl
def top_homepage(datasette, request):
    return Markup(
        '<form class="archiver-search" action="{}" method="get">'
        '<input type="search" name="q" placeholder="Search every message" aria-label="Search every message">'
        ' <button type="submit">Search</button></form>'
        '<p><a href="{}">Dashboard</a> · <a href="{}">Published conversations</a></p>'
    ).format(datasette.urls.path("-/search"), datasette.urls.path("-/dashboard"),
             datasette.urls.path("-/published"))


@hookimpl
def menu_links(datasette, actor, request):
    return [
        {"href": datasette.urls.path("-/search"), "label": "Search the archive"},
        {"href": datasette.urls.path("-/dashboard"), "label": "Archive dashboard"},
    ]
