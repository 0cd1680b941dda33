"""``message_json`` is a virtual column (migration m035): stored is the message without its
content and metadata, which are their own columns, and reading splices them back. Every
reader must still get the message exactly as captured, new archives and old ones alike."""

import json

import pytest
import sqlite_utils

from archiver.db import open_db, prepare_capture, save_capture, save_rows, write_transaction
from archiver.migrations import migrations
from archiver.reshape import reshape_conversation, to_json
from conftest import fixture_bytes, message_json

FIXTURES = ["branched.json", "dangling.json", "every_content_type.json", "hostile.json",
            "missing_current_node.json", "rich_transcript.json"]


def messages_of(data):
    return {key: node.get("message") for key, node in data["mapping"].items()
            if isinstance(node, dict)}


def stored(db, cid):
    return {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT node_id, message_json, message_rest FROM chatgpt_message WHERE conversation_id = ?", [cid])}


@pytest.mark.parametrize("name", FIXTURES)
def test_message_json_reads_back_byte_for_byte(db, name):
    data = json.loads(fixture_bytes(name))
    with write_transaction(db) as conn:
        cid = save_capture(conn, prepare_capture(fixture_bytes(name)), source="test").conversation_id
    rows = stored(db, cid)
    expected = {key: to_json(message) for key, message in messages_of(data).items()}
    assert {key: rows[key][0] for key in expected} == expected
    # conftest.message_json, the same splice for rows not yet stored, agrees.
    reshaped = reshape_conversation(data)["chatgpt_message"]
    assert {r["node_id"]: message_json(r) for r in reshaped if r["node_id"] in expected} == expected
    # ...while what is stored leaves out every message's content and metadata.
    for key, message in messages_of(data).items():
        if isinstance(message, dict) and ("content" in message or "metadata" in message):
            assert to_json(message.get("content") or message.get("metadata")) not in rows[key][1]


def test_content_and_metadata_of_null_and_missing(db):
    data = {"id": "c", "mapping": {
        "a": {"id": "a", "parent": None, "children": ["b"],
              "message": {"id": "a", "content": None, "metadata": None, "author": {"role": "user"}}},
        "b": {"id": "b", "parent": "a", "children": ["c"], "message": {"id": "b", "status": "x"}},
        "c": {"id": "c", "parent": "b", "children": [], "message": "not an object"},
        "d": {"id": "d", "parent": "c", "children": [], "message": None},
        "e": {"id": "e", "parent": "c", "children": [],
              "message": {"id": "e", "content": {"t": "\x01\x02 marks inside a string"},
                          "metadata": {"n": 0.1}, "author": {"name": "\x01"}}},
    }}
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(json.dumps(data).encode()), source="test")
    rows = stored(db, "c")
    assert {k: v[0] for k, v in rows.items()} == {
        "a": '{"id":"a","content":null,"metadata":null,"author":{"role":"user"}}',
        "b": '{"id":"b","status":"x"}',
        "c": '"not an object"',
        "d": None,
        "e": '{"id":"e","content":{"t":"\\u0001\\u0002 marks inside a string"},'
             '"metadata":{"n":0.1},"author":{"name":"\\u0001"}}',
    }
    assert {k: json.loads(v[0]) if v[0] else None for k, v in rows.items()} == {
        k: n["message"] for k, n in data["mapping"].items()}


def test_a_message_orjson_cannot_write_is_stored_whole(db):
    # Reshaped straight from Python values (a capture's parser reads such integers as floats):
    # an integer beyond 64 bits outside content and metadata sends the rest to the fallback.
    big = {"id": "m", "author": {"n": 10 ** 30}, "content": {"parts": [10 ** 30]}, "metadata": {"k": 1}}
    rows = reshape_conversation({"id": "c", "mapping": {"m": {"id": "m", "message": big}}})
    assert rows["chatgpt_message"][0]["message_rest"] == to_json(big)
    with write_transaction(db) as conn:
        save_rows(conn, rows)
    expected = '{"id":"m","author":{"n":%d},"content":{"parts":[%d]},"metadata":{"k":1}}' % (10 ** 30, 10 ** 30)
    assert stored(db, "c") == {"m": (expected, expected)}


def test_filling_an_empty_content_or_metadata_column_leaves_message_json_as_captured(db):
    # A write token may fill a captured row's empty columns (m016); a null content or metadata
    # is stored as the literal null, not as a mark that would read what was filled in.
    data = {"id": "c", "mapping": {"a": {"id": "a", "parent": None, "children": [], "message": {
        "id": "a", "author": {"role": "user"}, "content": None, "metadata": None}}}}
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(json.dumps(data).encode()), source="test")
    before = stored(db, "c")["a"][0]
    with db.conn:
        db.execute("UPDATE chatgpt_message SET content = ?, metadata = ? WHERE node_id = 'a'",
                   ['{"content_type":"text","parts":["INJECTED"]}', '{"x":1}'])
    assert db.execute("SELECT content FROM chatgpt_message").fetchone()[0] is not None  # filled
    assert stored(db, "c")["a"][0] == before == '{"id":"a","author":{"role":"user"},"content":null,"metadata":null}'


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("message", [
    # orjson writes this content alone but not one level deeper, inside the message
    {"id": "m", "content": nested(254), "metadata": {"k": 1}, "weight": 1e-05},
    # an integer beyond 64 bits in the content, NaN and a small float elsewhere
    {"id": "m", "content": {"n": 10 ** 30}, "weight": 1e-05, "end_turn": float("nan")},
    {"id": "m", "content": {"k": 1}, "metadata": {"n": 10 ** 30}, "weight": 1e-05},
], ids=["deep-content", "huge-int-in-content", "huge-int-in-metadata"])
def test_parts_orjson_cannot_write_in_place_keep_the_message_whole(db, message):
    rows = reshape_conversation({"id": "c", "mapping": {"m": {"id": "m", "message": message}}})
    with write_transaction(db) as conn:
        save_rows(conn, rows)
    assert stored(db, "c")["m"] == (to_json(message), to_json(message))


def test_an_archive_from_before_m035_keeps_every_message_json(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m035_message_json_spliced")
    whole = '{"id":"m","content":{"content_type":"text","parts":["kept"]},"metadata":{}}'
    old["chatgpt_conversation"].insert({"id": "c", "title": "old"})
    old["chatgpt_message"].insert({"id": "m", "conversation_id": "c", "node_id": "m", "is_current": 1,
                                   "is_hidden": 0, "content": '{"content_type":"text","parts":["kept"]}',
                                   "metadata": "{}", "text": "kept", "message_json": whole})
    old.close()
    db = open_db(path)
    assert db.execute("SELECT message_json, message_rest FROM chatgpt_message").fetchall() == [(whole, whole)]
    assert db.execute("SELECT sql FROM sqlite_master WHERE sql LIKE '%message_json%' AND name != "
                      "'chatgpt_message'").fetchall() == []
    assert open_db(path).schema == open_db(tmp_path / "new.db").schema


def test_the_stored_rest_is_a_fraction_of_the_message(db):
    with write_transaction(db) as conn:
        for name in FIXTURES:
            save_capture(conn, prepare_capture(fixture_bytes(name)), source="test")
    rest, whole = db.execute(
        "SELECT sum(length(message_rest)), sum(length(message_json)) FROM chatgpt_message").fetchone()
    assert rest < whole * 0.5


def test_the_table_page_shows_message_json_whole_and_the_stored_part_readably(db, client):
    data = {"id": "c", "mapping": {"a": {"id": "a", "parent": None, "children": [], "message": {
        "id": "a", "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["pelican"]},
        "metadata": {"k": 1}}}}}
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(json.dumps(data).encode()), source="test")
    rest = db.execute("SELECT message_rest FROM chatgpt_message").fetchone()[0]
    rows = client.get("/archive/chatgpt_message.json?_shape=array").json()
    assert [r["message_json"] for r in rows] == [to_json(data["mapping"]["a"]["message"])]
    page = client.get("/archive/chatgpt_message?_col=message_rest")
    assert page.status_code == 200
    cell = page.text[page.text.index('<td class="col-message_rest'):]
    cell = cell[:cell.index("</td>")]
    # The marks shown as words, the size that of what is stored; no raw control character.
    assert "&#34;(the content column)&#34;" in cell and "&#34;(the metadata column)&#34;" in cell
    assert f"{len(rest.encode())} bytes" in cell and "\x01" not in page.text and "\x02" not in page.text
