"""Small synthetic conversations in ChatGPT's shape, for tests that need exact contents
(search, the conversation list). Saved through the same path as a live capture."""

import json

from archiver.db import prepare_capture, save_capture, write_transaction


def conversation(cid, title, turns, *, create_time=1.7e9, model="gpt-4o", gizmo_id=None,
                 is_archived=False, current=None):
    """turns: (node_id, parent_id or None, role, text[, create_time]) in any order; a node's
    create_time defaults to the conversation's plus its position. The root is added."""
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
    last = "root"
    for i, turn in enumerate(turns):
        node, parent, role, text = turn[:4]
        when = turn[4] if len(turn) > 4 else create_time + i + 1
        mapping[node] = {
            "id": node, "parent": parent or "root", "children": [],
            "message": {"id": node, "author": {"role": role, "name": None, "metadata": {}},
                        "create_time": when, "content": {"content_type": "text", "parts": [text]},
                        "status": "finished_successfully", "weight": 1.0, "recipient": "all",
                        "metadata": {"model_slug": model} if role == "assistant" else {}},
        }
        last = node
    for node, entry in mapping.items():
        if entry["parent"]:
            mapping[entry["parent"]]["children"].append(node)
    times = [m["message"]["create_time"] for m in mapping.values() if m["message"]]
    data = {"id": cid, "conversation_id": cid, "title": title, "create_time": create_time,
            "update_time": max(times, default=create_time), "mapping": mapping,
            "current_node": current or last, "default_model_slug": model, "is_archived": is_archived}
    if gizmo_id:
        data["gizmo_id"] = gizmo_id
        data["gizmo_type"] = "snorlax" if gizmo_id.startswith("g-p-") else "gpt"
    return data


def save(db, *conversations):
    for data in conversations:
        capture = prepare_capture(json.dumps(data).encode())
        with write_transaction(db) as conn:
            save_capture(conn, capture, source="test")
