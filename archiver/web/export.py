"""The ``.json`` export for readers, streamed: a conversation of 200,000 nodes is sent a page of
rows at a time, never built whole in memory, and its queries are not cut off by Datasette's
time limit for pages (they run through execute_fn, page by page)."""

import json

from datasette.utils.asgi import AsgiStream

from .render import children_of

PAGE = 2000


async def export_response(db, conversation, headers):
    """The conversation in ChatGPT's own shape, rebuilt from every node ever captured."""
    cid = conversation["id"]
    skeleton = await db.execute_fn(lambda conn: conn.execute(
        "SELECT rowid, node_id, parent_id, child_index, create_time FROM chatgpt_message"
        " WHERE conversation_id = ? ORDER BY rowid", [cid]).fetchall())
    children = children_of([{"node_id": n, "parent_id": p, "child_index": i, "create_time": t}
                            for _, n, p, i, t in skeleton])
    data = json.loads(conversation["conversation_json"] or "{}")
    data.pop("mapping", None)
    data["current_node"] = conversation["current_node"] or conversation["current_leaf"]
    head = json.dumps(data, ensure_ascii=False)[:-1] + ', "mapping": {'

    async def send(writer):
        await writer.write(head)
        for start in range(0, len(skeleton), PAGE):
            rowids = json.dumps([r[0] for r in skeleton[start:start + PAGE]])
            page = await db.execute_fn(lambda conn, ids=rowids: conn.execute(
                "SELECT node_id, parent_id, message_json FROM chatgpt_message"
                " WHERE rowid IN (SELECT value FROM json_each(?)) ORDER BY rowid", [ids]).fetchall())
            entries = (
                json.dumps(node) + ": " + json.dumps({
                    "id": node, "message": json.loads(message) if message else None,
                    "parent": parent, "children": children.get(node, []),
                }, ensure_ascii=False)
                for node, parent, message in page
            )
            await writer.write(("" if start == 0 else ", ") + ", ".join(entries))
        await writer.write("}}")

    return AsgiStream(send, headers=headers, content_type="application/json; charset=utf-8")
