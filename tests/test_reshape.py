import json

import pytest

from archiver.reshape import (
    BadJSON,
    NotAConversation,
    parse_json,
    reshape_conversation,
    to_epoch,
)
from conftest import fixture_json

SMALL = {
    "title": "Tiny",
    "create_time": 1700000000.5,
    "update_time": 1700000100.25,
    "conversation_id": "conv-1",
    "current_node": "a1",
    "moderation_results": [],
    "plugin_ids": None,
    "default_model_slug": "gpt-4o",
    "gizmo_id": "g-p-123",
    "is_archived": False,
    "mapping": {
        "root": {"id": "root", "message": None, "parent": None, "children": ["u1"]},
        "u1": {
            "id": "u1", "parent": "root", "children": ["a1"],
            "message": {
                "id": "u1", "author": {"role": "user", "name": None, "metadata": {}},
                "create_time": 1700000001.0, "update_time": None,
                "content": {"content_type": "text", "parts": ["Hello?"]},
                "status": "finished_successfully", "end_turn": None, "weight": 1.0,
                "metadata": {}, "recipient": "all", "channel": None,
            },
        },
        "a1": {
            "id": "a1", "parent": "u1", "children": [],
            "message": {
                "id": "a1", "author": {"role": "assistant", "name": None, "metadata": {}},
                "create_time": 1700000002.0, "update_time": None,
                "content": {"content_type": "text", "parts": ["Hi!"]},
                "status": "finished_successfully", "end_turn": True, "weight": 1,
                "metadata": {"model_slug": "gpt-4o-mini"}, "recipient": "all",
            },
        },
    },
}


def test_small_conversation_whole_rows():
    rows = reshape_conversation(SMALL)
    conversation_json = {k: v for k, v in SMALL.items() if k != "mapping"}
    assert rows["chatgpt_conversation"] == [
        {
            "id": "conv-1", "title": "Tiny", "create_time": 1700000000.5, "moderation_results": "[]",
            "current_node": "a1", "plugin_ids": None, "update_time": 1700000100.25, "current_leaf": "a1",
            "default_model_slug": "gpt-4o", "gizmo_id": "g-p-123", "gizmo_type": None,
            "project_id": "g-p-123", "conversation_template_id": None, "is_archived": 0,
            "is_starred": None, "is_temporary_chat": None, "conversation_origin": None,
            "async_status": None, "shape": "tree",
            "conversation_json": json.dumps(conversation_json, separators=(",", ":")),
        }
    ]
    root, user, assistant = rows["chatgpt_message"]
    empty = dict.fromkeys(user)
    assert root == dict(empty, id="root", node_id="root", conversation_id="conv-1", parent_id=None,
                        parent_derived=0, child_index=None, is_current=1, is_hidden=1)
    assert assistant == {
        "id": "a1", "conversation_id": "conv-1", "author_role": "assistant", "author_metadata": "{}",
        "create_time": 1700000002.0, "content": '{"content_type":"text","parts":["Hi!"]}',
        "end_turn": 1, "weight": 1.0, "metadata": '{"model_slug":"gpt-4o-mini"}', "recipient": "all",
        "node_id": "a1", "message_id": "a1", "parent_id": "u1", "parent_derived": 0, "child_index": 0,
        "is_current": 1, "is_hidden": 0, "author_name": None, "content_type": "text", "text": "Hi!",
        "model": "gpt-4o-mini", "status": "finished_successfully", "channel": None, "update_time": None,
        "unknown_types": None,
        # content and metadata are their own columns: marks stand in their place (\x01, \x02)
        "message_rest": '{"id":"a1","author":{"role":"assistant","name":null,"metadata":{}},'
                        '"create_time":1700000002.0,"update_time":null,"content":\x01,'
                        '"status":"finished_successfully","end_turn":true,"weight":1,"metadata":\x02,'
                        '"recipient":"all"}',
    }
    assert (user["text"], user["end_turn"], user["is_hidden"]) == ("Hello?", None, 0)


def test_export_element_keyed_by_id():
    data = dict(SMALL)
    del data["conversation_id"]
    data["id"] = "export-1"
    rows = reshape_conversation(data)
    assert rows["chatgpt_conversation"][0]["id"] == "export-1"
    assert {m["conversation_id"] for m in rows["chatgpt_message"]} == {"export-1"}


def _by_id(rows):
    return {m["id"]: m for m in rows["chatgpt_message"]}


def test_branches_edit_and_regenerate():
    data = fixture_json("branched.json")
    rows = reshape_conversation(data)
    messages = _by_id(rows)
    assert len(messages) == len(data["mapping"])
    # An independent walk up from current_node.
    branch, key = set(), data["current_node"]
    while key:
        branch.add(key)
        key = data["mapping"][key]["parent"]
    assert {k for k, m in messages.items() if m["is_current"]} == branch
    for key, node in data["mapping"].items():
        for i, child in enumerate(node["children"]):
            assert messages[child]["child_index"] == i
            assert messages[child]["parent_id"] == key
    # The 2023 system message whose message id differs from its node key.
    differing = [m for m in messages.values() if m["message_id"] and m["message_id"] != m["node_id"]]
    assert [m["author_role"] for m in differing] == ["system"]


def test_missing_current_node_falls_back_to_newest_leaf():
    rows = reshape_conversation(fixture_json("missing_current_node.json"))
    newest = "c1d42e42-4321-521a-9fc5-64e80726f3b1"
    assert rows["chatgpt_conversation"][0]["current_node"] is None
    assert rows["chatgpt_conversation"][0]["current_leaf"] == newest
    assert _by_id(rows)[newest]["is_current"] == 1
    assert _by_id(rows)["4f531225-4346-5178-a53f-3edc23d838ef"]["is_current"] == 0


def test_dangling_current_node_and_parents():
    data = fixture_json("dangling.json")
    rows = reshape_conversation(data)
    messages = _by_id(rows)
    assert set(messages) == set(data["mapping"])
    leaf = rows["chatgpt_conversation"][0]["current_leaf"]
    assert leaf in data["mapping"] and leaf != data["current_node"]
    orphan = [m for m in messages.values() if m["parent_id"] == "fd6ed8c8-3e21-5c18-9eee-7d8553cf35bf"]
    assert len(orphan) == 1  # the dangling parent is kept as given
    assert all(m["text"] for m in messages.values() if m["author_role"] in ("user", "assistant"))


def test_paged_read_derives_missing_parents():
    data = fixture_json("paged.json")
    rows = reshape_conversation(data)
    records = data["messages"]
    messages = rows["chatgpt_message"]
    assert [m["id"] for m in messages] == [r["id"] for r in records]
    assert rows["chatgpt_conversation"][0]["shape"] == "page"
    for i, (record, row) in enumerate(zip(records, messages)):
        given = record["metadata"].get("parent_id")
        if given:
            assert (row["parent_id"], row["parent_derived"]) == (given, 0)
        else:
            assert (row["parent_id"], row["parent_derived"]) == (records[i - 1]["id"], 1)
    assert all(m["is_current"] == 1 for m in messages)


def test_deep_chain_does_not_recurse():
    n = 100_000
    mapping = {
        f"n{i}": {
            "id": f"n{i}", "parent": f"n{i - 1}" if i else None,
            "children": [f"n{i + 1}"] if i < n - 1 else [],
            "message": {"id": f"n{i}", "author": {"role": "user" if i % 2 else "assistant"},
                        "content": {"content_type": "text", "parts": [f"m{i}"]}, "create_time": i},
        }
        for i in range(n)
    }
    rows = reshape_conversation({"conversation_id": "deep", "mapping": mapping})
    assert len(rows["chatgpt_message"]) == n
    assert sum(m["is_current"] for m in rows["chatgpt_message"]) == n
    assert rows["chatgpt_conversation"][0]["current_leaf"] == f"n{n - 1}"


def test_cycles_and_self_parents_terminate():
    mapping = {
        "a": {"parent": "b", "children": ["b"], "message": None},
        "b": {"parent": "a", "children": ["a"], "message": None},
        "c": {"parent": "c", "children": ["c"], "message": None},
    }
    rows = reshape_conversation({"conversation_id": "loop", "mapping": mapping, "current_node": "a"})
    assert {m["id"]: m["is_current"] for m in rows["chatgpt_message"]} == {"a": 1, "b": 1, "c": 0}


def test_wrong_types_everywhere_still_give_rows():
    data = {
        "conversation_id": "odd", "title": 5, "create_time": "yesterday", "update_time": True,
        "current_node": ["x"], "mapping": {
            "x": "not a node",
            "y": {"parent": 7, "children": "nope", "message": "a string"},
            "z": {"parent": None, "children": [], "message": {
                "author": "me", "content": ["parts?"], "metadata": [], "weight": "heavy",
                "end_turn": "yes", "create_time": float("nan"), "status": 3}},
        },
    }
    rows = reshape_conversation(data)
    conversation = rows["chatgpt_conversation"][0]
    assert (conversation["title"], conversation["create_time"], conversation["update_time"]) == (None, None, None)
    z = _by_id(rows)["z"]
    assert (z["author_role"], z["text"], z["weight"], z["end_turn"], z["create_time"], z["status"]) == (
        None, "parts?", None, None, None, None)
    assert _by_id(rows)["y"]["message_rest"] == '"a string"'


@pytest.mark.parametrize(
    "data,message",
    [
        ([], "not a conversation: expected a JSON object, got an array"),
        ({"status": "COMPLETE"}, "not a conversation: no 'mapping' object (full tree) or 'messages' list (paged read)"),
        ({"conversation_id": "x", "mapping": []}, "'mapping' must be an object, got an array"),
        ({"conversation_id": "x", "messages": {}}, "'messages' must be a list, got an object"),
        ({"mapping": {}}, "not a conversation: no 'conversation_id' or 'id' string"),
        ({"id": 12, "mapping": {}}, "not a conversation: no 'conversation_id' or 'id' string"),
        ("text", "not a conversation: expected a JSON object, got a string"),
    ],
)
def test_not_a_conversation(data, message):
    with pytest.raises(NotAConversation) as e:
        reshape_conversation(data)
    assert str(e.value) == message


def test_parse_json_replaces_lone_surrogates():
    data = parse_json(b'{"title": "bad \\ud800 char", "ok": "\\ud83d\\ude00"}')
    assert data["title"].encode("utf-8")  # storable as UTF-8
    assert "\ud800" not in data["title"] and data["ok"] == "\U0001F600"


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000])
def test_parse_json_errors(raw):
    with pytest.raises(BadJSON):
        parse_json(raw)


@pytest.mark.parametrize(
    "value,expected",
    [
        (1700000000.25, 1700000000.25), (1684681527, 1684681527.0), ("1684681527.5", 1684681527.5),
        ("2023-12-06T02:41:14.616844+00:00", 1701830474.616844), ("2023-04-06T12:05:36", 1680782736.0),
        ("2023-12-06T02:41:14Z", 1701830474.0), (None, None), (True, None), ("soon", None),
        (float("inf"), None), ([], None),
    ],
)
def test_to_epoch(value, expected):
    assert to_epoch(value) == expected


def test_message_rows_have_every_column_in_order():
    from archiver.reshape import MESSAGE_COLUMNS

    for row in reshape_conversation(fixture_json("every_content_type.json"))["chatgpt_message"]:
        assert tuple(row) == MESSAGE_COLUMNS
