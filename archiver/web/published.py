"""What a published conversation shows to someone who may not read the whole archive:
exactly what the ``public_messages`` and ``public_conversations`` views hold (the current
branch, no hidden node, so no custom instructions, tool plumbing or other branches), nothing
more. No raw captures, no token names, no other branch through ``?leaf=``, and the same limits
on the ``.md`` and ``.json`` exports. Files: only those its public messages link, and only
when no unpublished conversation links them too (a capture could name another's file id)."""

# The columns the transcript reads, filled from what the public view shows; the rest blank.
_ROW = ("id", "node_id", "parent_id", "child_index", "create_time", "author_role", "author_name",
        "content_type", "text", "model", "status", "is_hidden", "recipient", "message_json")


async def published_view(db, cid):
    """-> (conversation, rows, leaf) as the public views show them, or None if not published.

    Rows are the public messages of the current branch, root first, each one's parent the
    public message before it (the hidden ones between are left out, not just blanked)."""
    conversation = (await db.execute(
        "SELECT id, title, create_time, update_time, message_count, published_at FROM public_conversations"
        " WHERE id = ?", [cid])).dicts()
    if not conversation:
        return None
    public = {r["node_id"]: r for r in (await db.execute(
        "SELECT node_id, parent_id, author_role, create_time, content_type, model, text FROM public_messages"
        " WHERE conversation_id = ?", [cid])).dicts()}
    # The tree's shape (ids only) to find each public message's nearest public ancestor.
    parents = dict((await db.execute(
        "SELECT node_id, parent_id FROM chatgpt_message WHERE conversation_id = ?", [cid])).rows)
    rows = []
    for node, row in public.items():
        parent, seen = row["parent_id"], set()
        while parent is not None and parent not in public and parent not in seen:
            seen.add(parent)
            parent = parents.get(parent)
        rows.append({**dict.fromkeys(_ROW), **row, "id": node, "parent_id": parent if parent in public else None,
                     "is_hidden": 0})
    has_child = {r["parent_id"] for r in rows}
    leaves = [r for r in rows if r["node_id"] not in has_child]
    leaf = max(leaves, key=lambda r: (r["create_time"] or 0, r["node_id"]))["node_id"] if leaves else None
    return dict(conversation[0], current_leaf=leaf, current_node=leaf), rows, leaf


def public_json(conversation, rows):
    """The ``.json`` export of a published conversation: ChatGPT's shape, holding only what
    the public views show."""
    children = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row["node_id"])
    mapping = {
        row["node_id"]: {
            "id": row["node_id"],
            "parent": row["parent_id"],
            "children": children.get(row["node_id"], []),
            "message": {
                "id": row["node_id"],
                "author": {"role": row["author_role"]},
                "create_time": row["create_time"],
                "content": {"content_type": row["content_type"], "parts": [row["text"] or ""]},
                "metadata": {"model_slug": row["model"]} if row["model"] else {},
            },
        }
        for row in rows
    }
    return {
        "id": conversation["id"], "conversation_id": conversation["id"], "title": conversation["title"],
        "create_time": conversation["create_time"], "update_time": conversation["update_time"],
        "current_node": conversation["current_leaf"], "mapping": mapping,
    }


async def is_public_file(db, file_id):
    """Linked by a public message of a published conversation, and by no unpublished one."""
    rows = (await db.execute(
        "SELECT EXISTS (SELECT 1 FROM chatgpt_message_asset l JOIN public_messages m"
        "  ON m.conversation_id = l.conversation_id AND m.node_id = l.node_id WHERE l.file_id = ?1)"
        " AND NOT EXISTS (SELECT 1 FROM chatgpt_message_asset l WHERE l.file_id = ?1"
        "  AND l.conversation_id NOT IN (SELECT conversation_id FROM chatgpt_public))", [file_id])).rows
    return bool(rows[0][0])
