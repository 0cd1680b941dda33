"""After a bulk import, the trigram index (parts of words) catches up a chunk at a time, and is
exactly right at every commit: rows it holds follow their edits, the rest wait their turn."""

import json
import time

from starlette.testclient import TestClient

from archiver.app import create_app
from archiver.db import open_db, writing_as_capture
from archiver.importer import import_paths
from archiver.indexing import TRIGRAM_UPTO, index_trigram_step, trigram_behind
from archiver.search import search_archive
from conftest import LOCAL, fixture_json

WORDS = ("xylophonic", "tangerine", "heliotrope", "wombat", "burlap")


def write_export(path, n, prefix, word):
    base = fixture_json("every_content_type.json")
    items = []
    for i in range(n):
        item = json.loads(json.dumps(base))
        item["id"] = item["conversation_id"] = f"{prefix}-{i:03d}"
        item["mapping"][item["current_node"]]["message"]["content"]["parts"] = [f"{word} number {i}"]
        items.append(item)
    path.write_text(json.dumps(items))


def trigram_rows(db, word):
    return sorted(r[0] for r in db.execute(
        "SELECT rowid FROM chatgpt_message_trigram WHERE chatgpt_message_trigram MATCH ?", [word[1:-1]]))


def text_rows(db, word):
    return sorted(r[0] for r in db.execute("SELECT rowid FROM chatgpt_message WHERE text LIKE ?", [f"%{word[1:-1]}%"]))


def assert_whole(db):
    for word in WORDS:
        assert trigram_rows(db, word) == text_rows(db, word), word
    db.execute("INSERT INTO chatgpt_message_trigram (chatgpt_message_trigram, rank) VALUES ('integrity-check', 1)")


def trigger_sql(db):
    return dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'chatgpt_message_trigram%'"))


def bulk_archive(tmp_path):
    """An archive holding 3 conversations indexed as they came, then a bulk import of 6 more."""
    db = open_db(tmp_path / "a.db")
    write_export(tmp_path / "first.json", 3, "old", "xylophonic")
    import_paths(db, [tmp_path / "first.json"])
    old_last = db.execute("SELECT max(rowid) FROM chatgpt_message").fetchone()[0]
    write_export(tmp_path / "second.json", 6, "new", "tangerine")
    import_paths(db, [tmp_path / "second.json"], bulk=True)
    return db, old_last


def test_a_bulk_import_leaves_parts_of_words_behind_and_words_ready(tmp_path):
    db, old_last = bulk_archive(tmp_path)
    fresh = trigger_sql(open_db(tmp_path / "fresh.db"))
    total = db.execute("SELECT count(*) FROM chatgpt_message").fetchone()[0]
    assert db.execute("SELECT value FROM archiver_meta WHERE key = ?", [TRIGRAM_UPTO]).fetchone() == (str(old_last),)
    assert trigram_behind(db.conn) == total - old_last > 0
    # Whole words find the new conversations at once; parts of words only the old ones, and say so.
    words = search_archive(db.conn, "tangerine", mode="words")
    assert sorted(c["conversation_id"] for c in words["conversations"]) == [f"new-{i:03d}" for i in range(6)]
    parts = search_archive(db.conn, "angeri", mode="substring")
    assert parts["conversations"] == []
    assert parts["notice"] == (f"About {total - old_last:,} recently imported messages are not indexed for parts"
                               " of words yet (the server indexes them in the background); they are not searched"
                               " this way.")
    assert [c["conversation_id"] for c in search_archive(db.conn, "ylopho", mode="substring")["conversations"]
            ] == ["old-002", "old-001", "old-000"]
    # Caught up: the same triggers as a fresh archive, the mark gone, every part of a word found.
    while index_trigram_step(db.conn, limit=7):
        db.conn.commit()
    db.conn.commit()
    assert trigger_sql(db) == fresh
    assert db.execute("SELECT count(*) FROM archiver_meta WHERE key = ?", [TRIGRAM_UPTO]).fetchone() == (0,)
    assert trigram_behind(db.conn) == 0
    found = search_archive(db.conn, "angeri", mode="substring")
    assert (found["notice"], len(found["conversations"])) == (None, 6)
    assert_whole(db)


def test_edits_while_behind_keep_the_index_exact_at_every_step(tmp_path):
    db, old_last = bulk_archive(tmp_path)
    conn = db.conn
    rowids = [r[0] for r in conn.execute("SELECT rowid FROM chatgpt_message WHERE text IS NOT NULL ORDER BY rowid")]
    edits = iter([
        # (an old row indexed from the start, a new one not yet reached, a word) each step
        ("UPDATE chatgpt_message SET text = 'heliotrope edited' WHERE rowid = ?", rowids[0]),
        ("UPDATE chatgpt_message SET text = 'wombat edited' WHERE rowid = ?", rowids[-1]),
        ("DELETE FROM chatgpt_message WHERE rowid = ?", rowids[1]),
        ("DELETE FROM chatgpt_message WHERE rowid = ?", rowids[-2]),
    ])
    steps = 0
    while True:
        with conn, writing_as_capture(conn):
            for sql, rowid in [next(edits, (None, None))]:
                if sql:
                    conn.execute(sql, [rowid])
            if steps == 2:  # a capture arriving meanwhile: indexed by the catch-up, once
                conn.execute("INSERT INTO chatgpt_message (id, conversation_id, node_id, text)"
                             " VALUES ('late', 'new-000', 'late', 'burlap arrives late')")
            more = index_trigram_step(conn, limit=5)
        steps += 1
        # At every commit: rows up to the mark are indexed with their current text, no others.
        upto = conn.execute("SELECT CAST(value AS INTEGER) FROM archiver_meta WHERE key = ?", [TRIGRAM_UPTO]).fetchone()
        for word in WORDS:
            expected = [r for r in text_rows(db, word) if upto is None or r <= upto[0]]
            assert trigram_rows(db, word) == expected, (steps, word)
        if not more:
            break
    assert steps > 4
    assert_whole(db)
    assert trigram_rows(db, "wombat") == [rowids[-1]]
    assert trigram_rows(db, "heliotrope") == [rowids[0]]


def test_the_server_catches_up_in_the_background(tmp_path):
    db, _ = bulk_archive(tmp_path)
    db.close()
    with TestClient(create_app(tmp_path / "a.db"), base_url=LOCAL):
        deadline = time.monotonic() + 10
        while trigram_behind(open_db(tmp_path / "a.db").conn) and time.monotonic() < deadline:
            time.sleep(0.05)
    db = open_db(tmp_path / "a.db")
    assert trigram_behind(db.conn) == 0
    assert trigger_sql(db) == trigger_sql(open_db(tmp_path / "fresh.db"))
    assert_whole(db)


def test_a_rebuild_while_behind_leaves_the_index_whole_and_nothing_to_catch_up(tmp_path):
    from archiver.db import rebuild

    db, _ = bulk_archive(tmp_path)
    with db.conn:
        rebuild(db.conn)
    assert trigram_behind(db.conn) == 0
    assert trigger_sql(db) == trigger_sql(open_db(tmp_path / "fresh.db"))
    assert_whole(db)


def test_the_idle_check_takes_no_lock(tmp_path):
    # Caught up: the server's check every 30 s only reads, so an import holding the write lock
    # in another process never makes the server's write thread wait.
    import sqlite3

    from archiver.indexing import index_trigram_chunk

    db = open_db(tmp_path / "a.db")
    importing = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    importing.execute("BEGIN IMMEDIATE")
    db.conn.execute("PRAGMA busy_timeout = 5000")
    started = time.monotonic()
    assert index_trigram_chunk(db.conn) is False
    assert time.monotonic() - started < 1
    importing.execute("ROLLBACK")
