from pathlib import Path

import sqlite_utils

from archiver.db import open_db

SCHEMA_SQL = Path(__file__).parent.parent / "schema.sql"

# The columns of the 2023 design, which archives and clients from it rely on.
CONVERSATION_2023 = {
    "id": "TEXT",
    "title": "TEXT",
    "create_time": "REAL",
    "moderation_results": "TEXT",
    "current_node": "TEXT",
    "plugin_ids": "TEXT",
}
MESSAGE_2023 = {
    "id": "TEXT",
    "conversation_id": "TEXT",
    "author_role": "TEXT",
    "author_metadata": "TEXT",
    "create_time": "REAL",
    "content": "TEXT",
    "end_turn": "INTEGER",
    "weight": "REAL",
    "metadata": "TEXT",
    "recipient": "TEXT",
}


def test_schema_sql_matches_a_migrated_database(tmp_path):
    db = open_db(tmp_path / "fresh.db")
    assert db.schema.strip() == SCHEMA_SQL.read_text().strip(), (
        "schema.sql is stale: run `chatgpt-archiver schema > schema.sql`"
    )


def test_migrations_are_idempotent(tmp_path):
    path = tmp_path / "again.db"
    first = open_db(path).schema
    assert open_db(path).schema == first


def test_2023_columns_kept_with_their_types(db):
    conversation = {c.name: c.type for c in db["chatgpt_conversation"].columns}
    message = {c.name: c.type for c in db["chatgpt_message"].columns}
    assert {k: conversation[k] for k in CONVERSATION_2023} == CONVERSATION_2023
    assert {k: message[k] for k in MESSAGE_2023} == MESSAGE_2023
    assert db["chatgpt_conversation"].pks == ["id"]
    assert db["chatgpt_message"].pks == ["id"]
    assert [(fk.column, fk.other_table, fk.other_column) for fk in db["chatgpt_message"].foreign_keys] == [
        ("conversation_id", "chatgpt_conversation", "id")
    ]


def test_archive_from_2023_design_opens_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    old["chatgpt_conversation"].insert(
        {"id": "c-2023", "title": "Old chat", "create_time": 1680000000.5,
         "moderation_results": "[]", "current_node": "m2", "plugin_ids": None},
        pk="id",
    )
    old["chatgpt_message"].insert_all(
        [
            {"id": "m1", "conversation_id": "c-2023", "author_role": "user", "author_metadata": "{}",
             "create_time": 1680000001.0, "content": '{"content_type": "text", "parts": ["hello quokka"]}',
             "end_turn": None, "weight": 1.0, "metadata": "{}", "recipient": "all"},
        ],
        pk="id",
    )
    old.close()
    db = open_db(path)
    assert "text" in db["chatgpt_message"].columns_dict
    assert db.execute("select id, conversation_id, node_id, author_role from chatgpt_message").fetchall() == [
        ("m1", "c-2023", "m1", "user")
    ]
    assert db.execute("select title, current_node from chatgpt_conversation").fetchall() == [("Old chat", "m2")]
    assert db.execute("select text, content_type from chatgpt_message").fetchall() == [("hello quokka", "text")]
    assert [r["id"] for r in db["chatgpt_message"].search("quokka")] == ["m1"]
