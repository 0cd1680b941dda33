"""The transcript page (/-/c/<id>) and its Markdown and JSON exports."""

from datasette.utils.asgi import Forbidden, NotFound, Response

from .auth import archive_database
from .common import can_read_all, render
from .errors import export_refusal
from .export import export_response
from .published import public_json, published_view
from .render import human_time, pygments_dark_css, when
from .turns import branch_rows, build_turns

PAGE_SIZE = 500  # messages per page: thousands of turns would make one slow, huge page


async def transcript_page(datasette, request):
    db = archive_database(datasette)
    cid = request.url_vars["cid"]
    fmt = request.url_vars.get("fmt")
    reader = await can_read_all(datasette, request)
    public = None if reader else await published_view(db, cid)  # what anyone else sees (published.py)
    if not (reader or public):
        raise Forbidden("This conversation is private")
    if fmt == "json" and (refusal := await export_refusal(db, cid)):
        return refusal  # above the node limit (errors.py)
    conversation = (await db.execute("SELECT * FROM chatgpt_conversation WHERE id = ?", [cid])).dicts()
    if not conversation:
        raise NotFound("No such conversation")
    conversation = conversation[0]
    if fmt == "json" and not public:
        return await export_response(db, conversation, _download(cid, "json"))  # streamed (export.py)
    rows = (await db.execute(
        "SELECT id, node_id, parent_id, child_index, create_time, author_role, author_name, content_type,"
        " text, model, status, is_hidden, recipient, message_json FROM chatgpt_message WHERE conversation_id = ?",
        [cid],
    )).dicts()
    if public:
        conversation, rows = public[0], public[1]
    if fmt == "json":
        return Response.json(public_json(conversation, rows), headers=_download(cid, "json"))
    leaf = public[2] if public else request.args.get("leaf") or conversation["current_leaf"] or conversation["current_node"]
    turns = branch_rows(rows, leaf)
    if fmt == "md":
        turns = [dict(t, when=when(t["create_time"])) for t in turns if t["author_role"] is not None]
        return Response.text(export_markdown(conversation, turns), headers=_download(cid, "md"))
    pages = max(1, -(-len(turns) // PAGE_SIZE))
    page = _page_number(request.args.get("page"), pages, turns, request.args.get("leaf"))
    shown = turns[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    captures = [] if public else (await db.execute(
        "SELECT id, received_at, token_name, source, size, shape FROM chatgpt_capture"
        " WHERE conversation_id = ? ORDER BY id", [cid])).dicts()
    files = {}
    for row in (await db.execute(
        "SELECT l.node_id, l.file_id, f.name, a.mime_type, a.size FROM chatgpt_message_asset l"
        " JOIN chatgpt_asset_file f ON f.file_id = l.file_id JOIN chatgpt_asset a ON a.sha256 = f.sha256"
        " WHERE l.conversation_id = ? GROUP BY l.node_id, l.file_id", [cid])).dicts():
        files.setdefault(row["node_id"], []).append(row)
    views = build_turns(shown, files, asset_url=lambda f: datasette.urls.path(f"-/asset/{f}"),
                        target=request.args.get("leaf"), page=page if pages > 1 else None)
    return await render(datasette, request, "archiver_transcript.html", {
        "conversation": conversation, "turns": views, "captures": captures,
        "database": db.name, "when": human_time, "can_read_all": reader,
        "page": page, "pages": pages, "leaf": request.args.get("leaf"),
        "hidden_count": sum(1 for v in views if not v["shown"]), "dark_code_css": pygments_dark_css(),
        "transcript_static": lambda path: datasette.urls.static_plugins("chatgpt-archiver", path),
    })


def _page_number(asked, pages, turns, leaf):
    """The page asked for; else the one holding the linked message; else the first."""
    if asked and asked.isdigit():
        return min(max(1, int(asked)), pages)
    for i, turn in enumerate(turns):
        if leaf and turn["node_id"] == leaf:
            return i // PAGE_SIZE + 1
    return 1


def _download(cid, ext):
    return {"content-disposition": f'attachment; filename="conversation-{cid}.{ext}"'}


def export_markdown(conversation, turns):
    lines = [f"# {conversation['title'] or 'Untitled conversation'}", ""]
    for turn in turns:
        if turn["is_hidden"]:
            continue
        who = turn["author_role"] + (f" ({turn['model']})" if turn["model"] else "")
        lines += [f"## {who} · {turn['when']}", "", turn["text"] or "", ""]
    return "\n".join(lines)
