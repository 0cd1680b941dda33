"""The transcript page (/-/c/<id>) and its Markdown and JSON exports."""

from datasette.utils.asgi import Forbidden, NotFound, Response

from ..export import reshape_chatgpt_json as export_json
from .auth import archive_database
from .common import can_read_all, is_published, render
from .render import branch, children_of, markdown, switch_targets, when


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


def export_markdown(conversation, turns):
    lines = [f"# {conversation['title'] or 'Untitled conversation'}", ""]
    for turn in turns:
        if turn["is_hidden"]:
            continue
        who = turn["author_role"] + (f" ({turn['model']})" if turn["model"] else "")
        lines += [f"## {who} · {turn['when']}", "", turn["text"] or "", ""]
    return "\n".join(lines)
