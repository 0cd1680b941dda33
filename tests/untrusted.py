"""Builders for the untrusted-input tests (tests/test_untrusted_*.py): small synthetic
conversations shaped after the format reference, with every field a test wants to forge."""

import json
import time


def message(node, role, text, *, t=None, ctype="text", hidden=False, recipient="all", **extra):
    metadata = {"is_visually_hidden_from_conversation": True} if hidden else {}
    content = {"content_type": ctype, "parts": [text]}
    if ctype == "user_editable_context":
        content = {"content_type": ctype, "user_profile": text, "user_instructions": text}
    return {"id": f"msg-{node}", "author": {"role": role, "name": None, "metadata": {}},
            "create_time": time.time() - 3600 if t is None else t, "update_time": None, "content": content,
            "status": "finished_successfully", "end_turn": True, "weight": 1.0, "metadata": metadata,
            "recipient": recipient, "channel": None, **extra}


def conversation(cid, turns, *, title="A chat", update_time=None, create_time=None, current=None,
                 root="client-created-root"):
    """``turns``: [(node, parent or None for the root's child, message or None), ...]."""
    now = time.time() - 3600
    mapping = {root: {"id": root, "message": None, "parent": None, "children": []}}
    for node, parent, msg in turns:
        parent = parent or root
        mapping[node] = {"id": node, "message": msg, "parent": parent, "children": []}
        mapping[parent]["children"].append(node)
    leaf = current or turns[-1][0]
    return {"title": title, "create_time": now if create_time is None else create_time,
            "update_time": now if update_time is None else update_time, "mapping": mapping,
            "current_node": leaf, "conversation_id": cid, "id": cid, "default_model_slug": "gpt-4o"}


def chain(cid, texts, **kwargs):
    """A single-branch conversation alternating user/assistant, nodes ``<cid>-n<i>``."""
    turns, parent = [], None
    for i, text in enumerate(texts):
        node = f"{cid}-n{i}"
        turns.append((node, parent, message(node, "user" if i % 2 == 0 else "assistant", text)))
        parent = node
    return conversation(cid, turns, **kwargs)


def raw(data):
    return json.dumps(data).encode()
