"""Bulk imports: the fast journal only for a new, empty archive; an archive that held data
survives an import killed at any moment, whole and searchable."""

import gzip
import json
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from archiver.db import open_db, write_transaction
from archiver import bulk, importer
from archiver.importer import import_paths
from archiver.privacy import add_exclusion, set_setting
from archiver.reshape import CONVERSATION_COLUMNS
from archiver.tokens import create_token
from conftest import fixture_json


def write_export(path, n, prefix="bulk"):
    base = fixture_json("every_content_type.json")
    items = []
    for i in range(n):
        item = json.loads(json.dumps(base))
        item["id"] = item["conversation_id"] = f"{prefix}-{i:05d}"
        item["title"] = f"bulk conversation {i}"
        items.append(item)
    path.write_text(json.dumps(items))
    return items


def journal_modes_during_import(db, export):
    seen = set()
    import_paths(db, [export], progress=lambda s: seen.add(db.execute("PRAGMA journal_mode").fetchone()[0]),
                 bulk=True)
    return seen


@pytest.fixture
def writing_out(monkeypatch):
    """The threads a load started to send the file to disk early (bulk.Loading.rows_written)."""
    started = []
    real = bulk.Loading.rows_written

    def rows_written(self):
        real(self)
        started.append(self._writing_out)

    monkeypatch.setattr(bulk.Loading, "rows_written", rows_written)
    return started


def test_a_new_empty_archive_loads_without_the_log_then_is_wal_and_whole(tmp_path, writing_out):
    export = tmp_path / "conversations.json"
    write_export(export, 30)
    db = open_db(tmp_path / "a.db")
    assert journal_modes_during_import(db, export) == {"truncate"}
    # Once every row was written, the file started on its way to disk, and that was over
    # before the load returned.
    assert len(writing_out) == 1 and not writing_out[0].is_alive()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("select count(*) from chatgpt_conversation").fetchone()[0] == 30
    found = db.execute("select count(*) from chatgpt_message_fts where chatgpt_message_fts match 'larkspur'")
    assert found.fetchone()[0] == 30


def test_an_archive_holding_anything_keeps_the_log(tmp_path, writing_out):
    export = tmp_path / "conversations.json"
    write_export(export, 5)
    db = open_db(tmp_path / "a.db")
    with write_transaction(db) as conn:
        create_token(conn, "laptop")  # even a token alone is worth protecting
    assert journal_modes_during_import(db, export) == {"wal"}
    assert writing_out == []  # WAL syncs at its checkpoints: nothing to send ahead


def test_killing_a_bulk_import_never_harms_what_the_archive_held(tmp_path):
    db_path = tmp_path / "a.db"
    first = tmp_path / "first.json"
    write_export(first, 3, prefix="kept")
    import_paths(open_db(db_path), [first])
    export = tmp_path / "conversations.json"
    write_export(export, 400)  # about 12 MB: a bulk import
    command = [sys.executable, "-m", "archiver", "import", "--quiet", "--db"]
    # How long a whole import takes here (into a copy), so the kills land inside one on a
    # quiet machine and a busy one alike.
    shutil.copy(db_path, tmp_path / "timing.db")
    started = time.monotonic()
    subprocess.run([*command, str(tmp_path / "timing.db"), str(export)], check=True, capture_output=True)
    whole = time.monotonic() - started
    rng, interrupted = random.Random(7), 0
    for _ in range(3):
        process = subprocess.Popen([*command, str(db_path), str(export)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.4, 0.8) * whole)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        db = open_db(db_path)  # also restores the search triggers an interrupted import paused
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        kept = db.execute("select id from chatgpt_conversation where id like 'kept-%' order by id").fetchall()
        assert kept == [("kept-00000",), ("kept-00001",), ("kept-00002",)]
        found = db.execute("select count(*) from chatgpt_message_fts where chatgpt_message_fts match 'larkspur'")
        messages = db.execute("select count(*) from chatgpt_message where text like '%larkspur%'").fetchone()[0]
        assert found.fetchone()[0] == messages >= 3
        interrupted += db.execute("select count(*) from chatgpt_conversation").fetchone()[0] < 403
        db.close()
    assert interrupted  # the kills did land mid-import


@pytest.mark.parametrize("apart", [False, True], ids=["prepared-here", "prepared-by-a-second-process"])
def test_a_bulk_import_stores_the_same_captures_counts_and_problems_as_a_plain_one(tmp_path, monkeypatch, apart):
    # Conversations files of 8 MB and more are prepared by a second process (archiver.preparing).
    monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0 if apart else 1 << 60)
    export = tmp_path / "conversations.json"
    items = write_export(export, 60)
    items.insert(30, {"id": "bad", "mapping": 3})
    # The same conversation twice (as it was, and changed later) in the same batch.
    changed = json.loads(json.dumps(items[8]))
    changed["update_time"] += 60
    changed["title"] = "renamed later"
    items[40:40] = [json.loads(json.dumps(items[5])), changed]
    # What the privacy settings keep out: the load into a new archive lifts their triggers
    # and must leave out the same conversations by its own check (bulk._LIFTED_FROM).
    kept_out = [dict(json.loads(json.dumps(items[1])), id=f"private-{n}", conversation_id=f"private-{n}", **flag)
                for n, flag in enumerate([{"is_temporary_chat": True}, {"is_do_not_remember": 1}, {}])]
    items[20:20] = kept_out
    text = json.dumps(items)
    export.write_text(text[: text.rindex(items[-1]["id"]) + 5])  # cut off in the last one
    results, tables = {}, {}
    for bulk in (False, True):  # a bulk load into a new archive writes new conversations batched
        db = open_db(tmp_path / f"{bulk}.db")
        with write_transaction(db) as conn:
            add_exclusion(conn, "conversation", "private-2")
            set_setting(conn, "archive-do-not-remember-chats", "off")
        with monkeypatch.context() as inline:
            if not bulk:
                inline.setattr(importer, "PREPARE_APART_ABOVE", 1 << 60)
            summary = import_paths(db, [export], bulk=bulk)
        bodies = db.execute("select conversation_id, sha256, body from chatgpt_capture order by id").fetchall()
        results[bulk] = (summary.new, summary.updated, summary.unchanged, summary.messages, summary.skipped,
                         summary.excluded,
                         [(c, s, gzip.decompress(b)) for c, s, b in bodies])
        # Every row the same, but for when it was written.
        tables[bulk] = {
            "messages": db.execute("select rowid, * from chatgpt_message order by rowid").fetchall(),
            "links": db.execute("select rowid, * from chatgpt_message_asset order by rowid").fetchall(),
            "conversations": db.execute(f"select rowid, {', '.join(CONVERSATION_COLUMNS)}, message_count, account_id,"
                                        " missing_since from chatgpt_conversation order by rowid").fetchall(),
            "captures": db.execute("select id, conversation_id, times_received, source, sha256, size, update_time,"
                                   " shape from chatgpt_capture order by id").fetchall(),
            "fts": db.execute("select rowid from chatgpt_message_fts where chatgpt_message_fts match 'larkspur'"
                              " order by rowid").fetchall(),
            "titles": [db.execute(f"select rowid from chatgpt_conversation_{index} where chatgpt_conversation_{index}"
                                  " match 'conversation' order by rowid").fetchall() for index in ("fts", "trigram")],
        }
    assert tables[True] == tables[False]
    assert len(tables[True]["messages"]) == 59 * 40 and len(tables[True]["fts"]) == 59
    assert [len(found) for found in tables[True]["titles"]] == [58, 58]  # one renamed later
    # The triggers a new archive's load lifts are all back, as a new archive has them (the
    # trigram one for messages, and its mark, wait for the catch-up; archiver.indexing).
    from archiver.indexing import ensure_trigram_index

    ensure_trigram_index(db.conn)
    assert db.execute("select name, sql from sqlite_master where type = 'trigger' order by name").fetchall() == (
        open_db(tmp_path / "fresh.db").execute("select name, sql from sqlite_master where type = 'trigger' order by name"
                                               ).fetchall())
    assert results[True] == results[False]
    assert results[True][:6] == (59, 1, 1, 61 * 39, [  # in the file's order
        f"{export}: conversation bad: 'mapping' must be an object, got a number",
        f"{export}: truncated or malformed JSON after 65 conversations (the array is cut off inside an element)"], 3)
    assert db.execute("select count(*) from chatgpt_conversation where id like 'private-%'").fetchone() == (0,)


def test_a_bulk_import_into_a_new_archive_killed_midway_leaves_it_empty_and_whole(tmp_path):
    # A new archive loads in one transaction: killed at any moment, it is as empty as it was,
    # opens, and the same import then runs to the end.
    export = tmp_path / "conversations.json"
    write_export(export, 400)
    command = [sys.executable, "-m", "archiver", "import", "--quiet", "--db"]
    started = time.monotonic()
    subprocess.run([*command, str(tmp_path / "timing.db"), str(export)], check=True, capture_output=True)
    whole = time.monotonic() - started
    db_path = tmp_path / "a.db"
    open_db(db_path).close()
    process = subprocess.Popen([*command, str(db_path), str(export)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    journal = tmp_path / "a.db-journal"
    deadline = time.monotonic() + 5 * whole + 10
    open_since = None  # the load's one transaction: its journal holds pages for a while
    while time.monotonic() < deadline and process.poll() is None:
        hot = journal.exists() and journal.stat().st_size > 0
        open_since = (open_since or time.monotonic()) if hot else None
        if open_since and time.monotonic() - open_since > 0.1:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert hot and process.returncode == -signal.SIGKILL  # killed with its transaction open
    db = open_db(db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [db.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("chatgpt_conversation", "chatgpt_message", "chatgpt_capture")] == [0, 0, 0]
    db.close()
    done = subprocess.run([*command, str(db_path), str(export)], check=True, capture_output=True, text=True)
    assert done.stdout.splitlines() == [
        f"Imported 400 conversations into {db_path}: 400 new, 0 updated, 0 unchanged; 15,600 messages stored"
        " (15,600 new).",
        "Search by whole words is ready; search by parts of words takes in the new messages in the background"
        " while the server runs."]
    db = open_db(db_path)
    assert db.execute("select count(*) from chatgpt_conversation").fetchone()[0] == 400
    found = db.execute("select count(*) from chatgpt_message_fts where chatgpt_message_fts match 'larkspur'")
    assert found.fetchone()[0] == db.execute("select count(*) from chatgpt_message where text like '%larkspur%'").fetchone()[0]


@pytest.mark.parametrize("repeat", [False, True], ids=["each-once", "one-conversation-twice"])
def test_a_load_into_a_new_archive_indexes_each_row_as_it_writes_it(tmp_path, repeat):
    """The stemmed index of a load into a new archive is written with the rows (no rebuild at
    the end); a conversation met twice is written the other way, and the index is then rebuilt.
    Either way FTS5 finds it whole against the table, and it answers as a rebuilt index does."""
    export = tmp_path / "conversations.json"
    items = write_export(export, 30)
    if repeat:
        export.write_text(json.dumps(items + [items[3]]))
    db = open_db(tmp_path / "a.db")
    import_paths(db, [export], bulk=True)
    db.execute("INSERT INTO chatgpt_message_fts (chatgpt_message_fts, rank) VALUES ('integrity-check', 1)")
    words = ["larkspur", "conversation", "python", "image", "search"]

    def found():
        return {w: db.execute("SELECT rowid FROM chatgpt_message_fts WHERE chatgpt_message_fts MATCH ?"
                              " ORDER BY rowid", [w]).fetchall() for w in words}

    loaded = found()
    assert len(loaded["larkspur"]) == 30
    with write_transaction(db) as conn:
        conn.execute("INSERT INTO chatgpt_message_fts (chatgpt_message_fts) VALUES ('rebuild')")
    assert found() == loaded
    assert db.execute("SELECT count(*) FROM chatgpt_message_fts_docsize").fetchone() == (
        db.execute("SELECT count(*) FROM chatgpt_message").fetchone())


def test_a_bulk_import_gives_back_the_cycle_collectors_settings(tmp_path):
    import gc

    export = tmp_path / "conversations.json"
    write_export(export, 5)
    before = gc.get_threshold()
    summary = import_paths(open_db(tmp_path / "a.db"), [export], bulk=True)
    assert (summary.new, gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == (5, before, 0, True)
