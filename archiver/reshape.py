"""Pure: conversation JSON -> rows per table. No I/O.

Accepts the three shapes ChatGPT hands out:

* a full tree, ``GET /backend-api/conversation/<id>`` (keyed ``conversation_id``),
* an official-export element (keyed ``id``), same tree,
* a page of the plural read, ``GET /backend-api/conversations/<id>`` (a flat ``messages``
  list of one branch; parents come from ``metadata.parent_id``).

Everything is iterative: a 100,000-node chain must not meet Python's recursion limit.
"""

import io
import json
import math
import re
from datetime import datetime, timezone

import ijson
import orjson

from .content import asset_pointers, render_content

CONVERSATION_TABLE = "chatgpt_conversation"
MESSAGE_TABLE = "chatgpt_message"
ASSET_LINK_TABLE = "chatgpt_message_asset"

MESSAGE_COLUMNS = (
    # the 2023 design's columns, same names and meaning
    "id",
    "conversation_id",
    "author_role",
    "author_metadata",
    "create_time",
    "content",
    "end_turn",
    "weight",
    "metadata",
    "recipient",
    # what a lossless tree needs
    "node_id",
    "message_id",
    "parent_id",
    "parent_derived",
    "child_index",
    "is_current",
    "is_hidden",
    "author_name",
    "content_type",
    "text",
    "model",
    "status",
    "channel",
    "update_time",
    "unknown_types",
    # The message as captured, less its content and metadata (their own columns): the virtual
    # column message_json splices them back (see _message_parts and migration m035).
    "message_rest",
)

CONVERSATION_COLUMNS = (
    "id",
    "title",
    "create_time",
    "moderation_results",
    "current_node",
    "plugin_ids",
    "update_time",
    "current_leaf",
    "default_model_slug",
    "gizmo_id",
    "gizmo_type",
    "project_id",
    "conversation_template_id",
    "is_archived",
    "is_starred",
    "is_temporary_chat",
    "conversation_origin",
    "async_status",
    "shape",
    "conversation_json",
)

# Keys of the conversation object that become rows of their own, not conversation_json.
_TREE_KEYS = ("mapping", "messages", "page_info")


class NotAConversation(ValueError):
    """Valid JSON that is not a conversation; the message says what is wrong."""


class ConversationTooLarge(NotAConversation):
    """More nodes than the archive takes in one conversation (answered 422, like any other
    conversation it refuses)."""


# Real conversations have hundreds of nodes, a few thousand at most. Above this, storing,
# showing and exporting one conversation would take memory out of proportion to anything real.
MAX_NODES = 200_000
TOO_MANY_NODES = f"conversation too large: more than {MAX_NODES:,} nodes, the archive's limit for one conversation"


class BadJSON(ValueError):
    """Bytes that do not parse as JSON."""


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def refuse_too_many_nodes(raw):
    """Raise ConversationTooLarge for bytes holding more than MAX_NODES nodes, before they are
    parsed: a million tiny nodes fit in a few tens of MB of JSON but take a gigabyte once
    parsed. Every key takes a colon, so bytes with fewer colons than MAX_NODES are let
    through at once; others are scanned as a stream (ijson), counting the nodes of the top
    level ``mapping`` or ``messages`` and stopping at the limit. Malformed JSON is left for
    the parser to report."""
    if not isinstance(raw, bytes) or raw.count(b":") <= MAX_NODES:
        return
    nodes = 0
    try:
        for prefix, event, _ in ijson.parse(io.BytesIO(raw)):
            if (prefix == "mapping" and event == "map_key") or (prefix == "messages.item" and event == "start_map"):
                nodes += 1
                if nodes > MAX_NODES:
                    raise ConversationTooLarge(TOO_MANY_NODES)
    except ijson.JSONError:
        return


def parse_json(raw):
    """Parse a capture's bytes. Lone UTF-16 surrogates (legal in JSON, illegal in SQLite's
    UTF-8) are replaced, so one bad character cannot make a conversation unstorable.
    Bytes with more nodes than the archive takes are refused before parsing."""
    refuse_too_many_nodes(raw)
    try:
        # orjson is several times faster on big conversations; what it refuses (lone
        # surrogates, huge integers, deep nesting, bad input) goes to the standard library,
        # which either manages or gives the error message we report.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
            raise BadJSON(f"malformed JSON: {e}") from None
    if _SURROGATE_ESCAPE.search(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")):
        data = _scrub_surrogates(data)
    return data


def _fix(s):
    return s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _scrub_surrogates(root):
    if isinstance(root, str):
        return _fix(root)
    stack = [root] if isinstance(root, (list, dict)) else []
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            for i, v in enumerate(item):
                if isinstance(v, str):
                    item[i] = _fix(v)
                elif isinstance(v, (list, dict)):
                    stack.append(v)
        else:
            for k in list(item):
                v = item[k]
                if isinstance(v, str):
                    v = _fix(v)
                elif isinstance(v, (list, dict)):
                    stack.append(v)
                fk = _fix(k)
                if fk != k:
                    del item[k]
                item[fk] = v
    return root


def conversation_key(data):
    """The conversation's id: ``conversation_id`` (live API) or ``id`` (export)."""
    cid = data.get("conversation_id") or data.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise NotAConversation("not a conversation: no 'conversation_id' or 'id' string")
    if len(cid) > 200:
        raise NotAConversation("not a conversation: the id is longer than 200 characters")
    return cid


def reshape_conversation(data):
    """Conversation JSON -> ``{"chatgpt_conversation": [row], "chatgpt_message": [rows]}``.

    Raises NotAConversation, naming the problem, for JSON that is not a conversation.
    """
    if not isinstance(data, dict):
        raise NotAConversation(f"not a conversation: expected a JSON object, got {_kind(data)}")
    tree = data.get("mapping") if data.get("mapping") is not None else data.get("messages")
    if isinstance(tree, (dict, list)) and len(tree) > MAX_NODES:
        raise ConversationTooLarge(TOO_MANY_NODES)
    if "mapping" in data and data["mapping"] is not None:
        if not isinstance(data["mapping"], dict):
            raise NotAConversation(f"'mapping' must be an object, got {_kind(data['mapping'])}")
        shape, nodes = "tree", _tree_nodes(data["mapping"])
    elif "messages" in data:
        if not isinstance(data["messages"], list):
            raise NotAConversation(f"'messages' must be a list, got {_kind(data['messages'])}")
        shape, nodes = "page", _page_nodes(data["messages"])
    else:
        raise NotAConversation(
            "not a conversation: no 'mapping' object (full tree) or 'messages' list (paged read)"
        )
    cid = conversation_key(data)
    leaf = current_leaf(nodes, data.get("current_node"))
    on_branch = branch_ids(nodes, leaf)
    messages = [_message_row(cid, key, node, key in on_branch) for key, node in nodes.items()]
    conversation = _conversation_row(cid, data, shape, leaf)
    links = [
        {"conversation_id": cid, "node_id": key, "pointer": pointer, "file_id": fid}
        for (key, node), row in zip(nodes.items(), messages)
        if isinstance(node.message, dict)
        for pointer, fid in asset_pointers(node.message.get("content"), node.message.get("metadata"), row["content"])
    ]
    return {CONVERSATION_TABLE: [conversation], MESSAGE_TABLE: messages, ASSET_LINK_TABLE: links}


def _kind(value):
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


class _Node:
    __slots__ = ("message", "parent", "children", "child_index", "parent_derived", "raw")

    def __init__(self, message, parent, children, raw, parent_derived=False):
        self.message = message
        self.parent = parent
        self.children = children
        self.child_index = None
        self.parent_derived = parent_derived
        self.raw = raw


def _tree_nodes(mapping):
    nodes = {}
    for key, node in mapping.items():
        if not isinstance(node, dict):
            nodes[key] = _Node(None, None, [], node)
            continue
        parent = node.get("parent")
        children = node.get("children")
        children = [c for c in children if isinstance(c, str)] if isinstance(children, list) else []
        nodes[key] = _Node(
            node.get("message"), parent if isinstance(parent, str) else None, children, node
        )
    for key, node in nodes.items():
        for i, child in enumerate(node.children):
            target = nodes.get(child)
            if target is not None and target.parent == key and target.child_index is None:
                target.child_index = i
    return nodes


def _page_nodes(records):
    """A paged read is one branch, oldest first. A record without ``metadata.parent_id``
    hangs under the record before it, flagged as derived."""
    nodes, previous = {}, None
    for record in records:
        if not isinstance(record, dict):
            continue
        # P1 accepts a node-wrapped form {id, message}; no capture shows it, but it is cheap.
        message = record["message"] if isinstance(record.get("message"), dict) else record
        key = record.get("id") if isinstance(record.get("id"), str) else message.get("id")
        if not isinstance(key, str) or key in nodes:
            continue
        meta = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
        parent, derived = meta.get("parent_id"), False
        if not isinstance(parent, str):
            parent, derived = previous, previous is not None
        nodes[key] = _Node(message, parent, [], record, parent_derived=derived)
        previous = key
    for key, node in nodes.items():
        if node.parent in nodes:
            nodes[node.parent].children.append(key)
    return nodes


def current_leaf(nodes, current_node):
    """``current_node`` when it names a node we have; else the newest leaf."""
    if isinstance(current_node, str) and current_node in nodes:
        return current_node
    leaves = [k for k, n in nodes.items() if not any(c in nodes for c in n.children)]
    if not leaves:
        return None
    # max() keeps the first of equal keys; reversing makes ties go to the last leaf in order.
    return max(reversed(leaves), key=lambda k: _message_time(nodes[k].message))


def _message_time(message):
    if not isinstance(message, dict):
        return -math.inf
    t = to_epoch(message.get("create_time"))
    return -math.inf if t is None else t


def branch_ids(nodes, leaf):
    """Ids from ``leaf`` up to its root, stopping at a missing parent or a cycle."""
    seen = set()
    key = leaf
    while key is not None and key in nodes and key not in seen:
        seen.add(key)
        key = nodes[key].parent
    return seen


def _message_row(cid, key, node, is_current):
    msg = node.message if isinstance(node.message, dict) else None
    if msg is None:
        row = dict.fromkeys(MESSAGE_COLUMNS)
        row.update(
            id=key,
            node_id=key,
            conversation_id=cid,
            parent_id=node.parent,
            parent_derived=int(node.parent_derived),
            child_index=node.child_index,
            is_current=int(is_current),
            is_hidden=1,
            message_rest=to_json(node.message),
        )
        return row
    author = msg.get("author") if isinstance(msg.get("author"), dict) else {}
    metadata = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
    content = msg.get("content")
    recipient = msg.get("recipient")
    text, unknown = render_content(content, recipient=recipient, metadata=metadata)
    ctype = content.get("content_type") if isinstance(content, dict) else None
    content_json, metadata_json, rest = _message_parts(msg)
    # A literal in MESSAGE_COLUMNS order (this runs once per node of every capture).
    return {
        "id": key,
        "conversation_id": cid,
        "author_role": _str_or_none(author.get("role")),
        "author_metadata": to_json(author.get("metadata")),
        "create_time": to_epoch(msg.get("create_time")),
        "content": content_json,
        "end_turn": _bool_int(msg.get("end_turn")),
        "weight": _number(msg.get("weight")),
        "metadata": metadata_json,
        "recipient": _str_or_none(recipient),
        "node_id": key,
        "message_id": _str_or_none(msg.get("id")),
        "parent_id": node.parent,
        "parent_derived": int(node.parent_derived),
        "child_index": node.child_index,
        "is_current": int(is_current),
        "is_hidden": int(_is_hidden(author, metadata, content, recipient)),
        "author_name": _str_or_none(author.get("name")),
        "content_type": _str_or_none(ctype),
        "text": text,
        "model": _model(metadata),
        "status": _str_or_none(msg.get("status")),
        "channel": _str_or_none(msg.get("channel")),
        "update_time": to_epoch(msg.get("update_time")),
        "unknown_types": ",".join(sorted(set(unknown))) or None,
        "message_rest": rest,
    }


def _model(metadata):
    # The slug has lived under several names; the first present wins.
    for key in ("model_slug", "resolved_model_slug", "default_model_slug", "requested_model_slug"):
        if isinstance(metadata.get(key), str) and metadata[key]:
            return metadata[key]
    return None


def _is_hidden(author, metadata, content, recipient):
    """What ChatGPT's own UI does not show (format reference §6.1); kept, but flagged."""
    ctype = content.get("content_type") if isinstance(content, dict) else None
    role = author.get("role")
    if metadata.get("is_visually_hidden_from_conversation") is True:
        return True
    if role == "system" or ctype in (
        "user_editable_context",
        "model_editable_context",
        "thoughts",
        "reasoning_recap",
    ):
        return True
    if recipient not in (None, "all"):
        return True
    if role == "tool":
        # Tool output a person sees: images (code-interpreter plots, generated images).
        return not _has_image(content, metadata)
    return False


def _has_image(content, metadata):
    result = metadata.get("aggregate_result")
    outputs = result.get("messages") if isinstance(result, dict) else None
    if isinstance(outputs, list) and any(isinstance(m, dict) and m.get("message_type") == "image" for m in outputs):
        return True
    parts = content.get("parts") if isinstance(content, dict) else None
    return isinstance(parts, list) and any(
        isinstance(p, dict) and p.get("content_type") == "image_asset_pointer" for p in parts
    )


def admission_row(data):
    """The fields of a conversation's row that the privacy settings judge (id, GPT, project,
    flags), from its top-level fields alone, with the values ``reshape_conversation`` gives
    them: the server admits a capture by these before it keeps it and derives the rows.
    Raises NotAConversation without an id. Pure."""
    gizmo_id, template_id, project = _placement(data)
    return {"id": conversation_key(data), "gizmo_id": gizmo_id, "project_id": project,
            "conversation_template_id": template_id,
            "is_temporary_chat": _bool_int(data.get("is_temporary_chat")),
            "conversation_json": to_json({"is_do_not_remember": data.get("is_do_not_remember")})}


# The top-level fields admission_row reads.
ADMISSION_FIELDS = ("conversation_id", "id", "gizmo_id", "conversation_template_id", "is_temporary_chat",
                    "is_do_not_remember")


def _placement(data):
    gizmo_id = _str_or_none(data.get("gizmo_id"))
    template_id = _str_or_none(data.get("conversation_template_id"))
    project = next((p for p in (gizmo_id, template_id) if p and p.startswith("g-p-")), None)
    return gizmo_id, template_id, project


def _conversation_row(cid, data, shape, leaf):
    gizmo_id, template_id, project = _placement(data)
    row = dict.fromkeys(CONVERSATION_COLUMNS)
    row.update(
        id=cid,
        title=_str_or_none(data.get("title")),
        create_time=to_epoch(data.get("create_time")),
        update_time=to_epoch(data.get("update_time")),
        moderation_results=to_json(data.get("moderation_results")),
        current_node=_str_or_none(data.get("current_node")),
        plugin_ids=to_json(data.get("plugin_ids")),
        current_leaf=leaf,
        default_model_slug=_str_or_none(data.get("default_model_slug")),
        gizmo_id=gizmo_id,
        gizmo_type=_str_or_none(data.get("gizmo_type")),
        project_id=project,
        conversation_template_id=template_id,
        is_archived=_bool_int(data.get("is_archived")),
        is_starred=_bool_int(data.get("is_starred")),
        is_temporary_chat=_bool_int(data.get("is_temporary_chat")),
        conversation_origin=_str_or_none(data.get("conversation_origin")),
        async_status=data.get("async_status") if isinstance(data.get("async_status"), int) else None,
        shape=shape,
        conversation_json=to_json({k: v for k, v in data.items() if k not in _TREE_KEYS}),
    )
    return row


# Where content and metadata stood in the message's JSON. JSON text never holds a raw control
# character (inside strings they are escaped), so these two can mark nothing else; the column
# message_json replaces them with the content and metadata columns.
CONTENT_MARK, METADATA_MARK = "\x01", "\x02"
_MARKS = {"content": orjson.Fragment(CONTENT_MARK.encode()),
          "metadata": orjson.Fragment(METADATA_MARK.encode())}


def _message_parts(msg):
    """-> (content column, metadata column, message_rest): the message's compact JSON with its
    content and metadata left out as marks, each part written once (storing the message whole
    repeated its two largest parts, a quarter of a load's bytes).

    message_json must read back exactly as to_json(msg), so every part is written by orjson
    at the depth it has in the message (orjson refuses nesting past 254 levels), or, if any
    part cannot be, the message is kept whole with no marks and the columns written apart,
    as before. A null part is no mark but the literal null: a mark would read whatever later
    filled its empty column (the insert API may fill empty columns)."""
    rest = dict(msg)
    parts = []
    try:
        for key, mark in _MARKS.items():
            value = msg.get(key)
            if value is None:
                parts.append(None)
                continue
            parts.append(orjson.dumps([value])[1:-1].decode())  # one level deeper, as in msg
            rest[key] = mark
        return parts[0], parts[1], orjson.dumps(rest).decode()
    except (TypeError, orjson.JSONEncodeError):  # as to_json: kept whole, with no marks
        return to_json(msg.get("content")), to_json(msg.get("metadata")), to_json(msg)


def to_json(value):
    """Compact JSON text, UTF-8 kept as is."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. integers beyond 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Times a capture may carry: Unix seconds from 1970 up to (not including) 1e11, about the year
# 5138. Larger values up to 1e14 are read as milliseconds (some clients send those); anything
# else (negative, NaN, infinite, 1e20, unparseable) is no time at all. A capture still cannot
# claim a time after it arrived: db.save_rows clamps to the receive time plus a margin.
MAX_EPOCH = 1e11
_MAX_MILLISECONDS = 1e14


def to_epoch(value):
    """Float seconds from what ChatGPT sends: float/int seconds (detail API, export) or
    ISO-8601 strings (list API; naive ones are UTC). Anything else, or out of range -> None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            value = float(value)
        except OverflowError:  # an integer beyond any float
            return None
        if not math.isfinite(value) or value < 0:
            return None
        if value >= MAX_EPOCH:
            value = value / 1000 if value < _MAX_MILLISECONDS else None
        return value
    if isinstance(value, str):
        if len(value) > 64:
            return None
        try:
            return to_epoch(float(value))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        try:
            return to_epoch(parsed.timestamp())
        except (OverflowError, ValueError, OSError):
            return None
    return None


def _str_or_none(value):
    return value if isinstance(value, str) else None


def _bool_int(value):
    return int(value) if isinstance(value, bool) else None


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
