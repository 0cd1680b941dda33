import copy
import gzip
import json
import sqlite3

import pytest

from archiver.db import open_db, prepare_capture, rebuild, save_capture, write_transaction, writing_as_capture
from archiver.migrations import migrations
from conftest import fixture_bytes, fixture_json


def save(db, data, source="test"):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with write_transaction(db) as conn:
        return save_capture(conn, prepare_capture(raw), source=source)


def current(db, cid):
    return {r[0] for r in db.execute(
        "select node_id from chatgpt_message where conversation_id = ? and is_current = 1", [cid])}


def test_save_keeps_raw_bytes_and_rows(db):
    raw = fixture_bytes("every_content_type.json")
    result = save(db, raw)
    data = json.loads(raw)
    cid = data["conversation_id"]
    assert result.as_dict() == {
        "conversation_id": cid, "capture_id": 1, "duplicate": False,
        "messages": len(data["mapping"]), "new_messages": len(data["mapping"]),
        "unknown_content_types": {"hologram_v9": 1, "part:smell_pointer": 1},
    }
    body, size, sha, source = db.execute(
        "select body, size, sha256, source from chatgpt_capture").fetchone()
    assert gzip.decompress(body) == raw and size == len(raw) and source == "test"
    assert db.execute("select count(*) from chatgpt_message").fetchone()[0] == len(data["mapping"])
    assert db.execute("select message_count, title from chatgpt_conversation").fetchone() == (
        len(data["mapping"]) - 1, data["title"])


def test_identical_repost_is_recognised(db):
    raw = fixture_bytes("branched.json")
    first = save(db, raw)
    again = save(db, raw)
    assert (again.duplicate, again.capture_id, again.new_messages) == (True, first.capture_id, 0)
    assert db.execute("select count(*), max(times_received) from chatgpt_capture").fetchone() == (1, 2)


def test_newer_capture_adds_a_branch_and_deletes_nothing(db):
    data = fixture_json("missing_current_node.json")
    data["current_node"] = "4f531225-4346-5178-a53f-3edc23d838ef"
    cid = data["conversation_id"]
    save(db, data)
    before = current(db, cid)
    later = copy.deepcopy(data)
    later["update_time"] += 100
    parent = later["mapping"][later["current_node"]]
    later["mapping"]["new-node"] = {
        "id": "new-node", "parent": later["current_node"], "children": [],
        "message": {"id": "new-node", "author": {"role": "user"}, "create_time": later["update_time"],
                    "content": {"content_type": "text", "parts": ["a follow-up about gannets"]}},
    }
    parent["children"] = ["new-node"]
    later["current_node"] = "new-node"
    # This capture also lacks a node the first one had.
    dropped = next(k for k, n in later["mapping"].items() if n["children"] == [] and k != "new-node")
    del later["mapping"][dropped]
    result = save(db, later)
    assert (result.messages, result.new_messages) == (len(later["mapping"]), 1)
    assert current(db, cid) == before | {"new-node"}
    assert db.execute("select count(*) from chatgpt_message where node_id = ?", [dropped]).fetchone()[0] == 1
    assert db.execute("select count(*) from chatgpt_capture").fetchone()[0] == 2
    assert [r["node_id"] for r in db["chatgpt_message"].search("gannets")] == ["new-node"]


def test_older_capture_only_adds_missing_nodes(db):
    data = fixture_json("branched.json")
    cid = data["conversation_id"]
    save(db, data)
    leaf = data["current_node"]
    older = copy.deepcopy(data)
    older["update_time"] -= 1000
    older["title"] = "An old title"
    older["mapping"][leaf]["message"]["content"]["parts"] = ["old words"]
    older["mapping"]["only-old"] = {"id": "only-old", "parent": leaf, "children": [], "message": None}
    older["current_node"] = "only-old"
    result = save(db, older)
    assert result.new_messages == 1
    assert db.execute("select title from chatgpt_conversation").fetchone()[0] == data["title"]
    assert db.execute("select text from chatgpt_message where node_id = ?", [leaf]).fetchone()[0] != "old words"
    assert "only-old" not in current(db, cid)


def test_shared_root_ids_do_not_collide(db):
    first = fixture_json("every_content_type.json")
    second = copy.deepcopy(first)
    second["conversation_id"] = "11111111-2222-3333-4444-555555555555"
    for node in second["mapping"].values():  # a different conversation, same root key
        if node["message"]:
            node["message"]["id"] = node["id"] = "x" + node["id"][1:]
    second["mapping"] = {("x" + k[1:] if k != "client-created-root" else k): v
                         for k, v in second["mapping"].items()}
    for node in second["mapping"].values():
        node["parent"] = node["parent"] and ("x" + node["parent"][1:] if node["parent"] != "client-created-root" else node["parent"])
        node["children"] = ["x" + c[1:] for c in node["children"]]
    second["current_node"] = "x" + first["current_node"][1:]
    save(db, first)
    save(db, second)
    roots = db.execute(
        "select id, conversation_id from chatgpt_message where node_id = 'client-created-root' order by rowid"
    ).fetchall()
    assert roots == [
        ("client-created-root", first["conversation_id"]),
        (f"{second['conversation_id']}:client-created-root", second["conversation_id"]),
    ]
    # Re-saving keeps the ids already given.
    save(db, dict(second, update_time=second["update_time"] + 1))
    assert db.execute("select count(*) from chatgpt_message where node_id = 'client-created-root'").fetchone()[0] == 2


def test_rebuild_rederives_rows_from_captures(db):
    save(db, fixture_bytes("branched.json"))
    save(db, fixture_bytes("every_content_type.json"))
    snapshot = db.execute("select * from chatgpt_message order by id").fetchall()
    conversations = db.execute("select * from chatgpt_conversation order by id").fetchall()
    with writing_as_capture(db.conn):  # stale rows, as an older reshaper left them
        db.execute("update chatgpt_message set text = 'stale', is_current = 0, model = null")
        db.execute("update chatgpt_conversation set title = 'stale'")
    db.conn.commit()
    with write_transaction(db) as conn:
        assert rebuild(conn) == (2, 0)
    assert db.execute("select * from chatgpt_message order by id").fetchall() == snapshot
    assert db.execute("select * from chatgpt_conversation order by id").fetchall() == [
        tuple(c) for c in conversations]
    assert [r["content_type"] for r in db["chatgpt_message"].search("zephyrine")] == ["text"]


def test_failed_save_leaves_nothing(db):
    capture = prepare_capture(fixture_bytes("branched.json"))
    # A value SQLite cannot bind makes the fourth message's insert fail mid-capture.
    capture.rows["chatgpt_message"][3]["parent_derived"] = object()
    with pytest.raises(sqlite3.ProgrammingError):
        with write_transaction(db) as conn:
            save_capture(conn, capture, source="test")
    for table in ("chatgpt_capture", "chatgpt_conversation", "chatgpt_message"):
        assert db.execute(f"select count(*) from {table}").fetchone()[0] == 0


def test_open_db_enables_wal(db_path):
    assert open_db(db_path).execute("pragma journal_mode").fetchone()[0] == "wal"


def test_a_new_archive_is_made_without_a_sync_per_migration_and_its_connection_syncs_as_before(tmp_path, monkeypatch):
    seen = []
    real = migrations.apply

    def apply(db, **kwargs):
        seen.append(db.execute("PRAGMA synchronous").fetchone()[0])
        return real(db, **kwargs)

    monkeypatch.setattr(migrations, "apply", apply)
    new = open_db(tmp_path / "new.db")
    again = open_db(tmp_path / "new.db")
    assert seen == [1, 2]  # NORMAL while the new archive's schema is made; an existing one as it was
    assert new.execute("PRAGMA synchronous").fetchone() == again.execute("PRAGMA synchronous").fetchone() == (2,)
    assert new.execute("select count(*) from _sqlite_migrations").fetchone()[0] == len(migrations._migrations)


def test_a_new_archive_gets_16_kb_pages_and_an_old_one_keeps_its_own(tmp_path):
    assert open_db(tmp_path / "new.db").execute("PRAGMA page_size").fetchone() == (16384,)
    old = sqlite3.connect(tmp_path / "old.db")  # made by an earlier version: 4 KB pages, a table
    old.execute("CREATE TABLE chatgpt_conversation (id TEXT PRIMARY KEY, title TEXT)")
    old.commit()
    old.close()
    reopened = open_db(tmp_path / "old.db")
    assert reopened.execute("PRAGMA page_size").fetchone() == (4096,)
    assert reopened.execute("PRAGMA integrity_check").fetchone() == ("ok",)
