"""Faults: the server killed mid-ingest, a full disk, a read-only file. An acknowledged capture is never
lost, the database never corrupts, and a write that cannot happen leaves nothing behind."""

import json
import random
import signal
import threading

import httpx
import pytest
from starlette.testclient import TestClient

from archiver.app import create_app
from archiver.db import open_db
from conftest import LOCAL, ArchiveServer, fixture_bytes, fixture_json

ROUNDS = 20


def small_conversation(n):
    return {
        "conversation_id": f"kill-{n:05d}", "title": f"capture {n}", "update_time": 1790000000.0 + n,
        "current_node": "b", "mapping": {
            "a": {"parent": None, "children": ["b"], "message": None},
            "b": {"parent": "a", "children": [], "message": {
                "id": "b", "author": {"role": "user"}, "content": {"content_type": "text", "parts": [f"word{n}"]}}},
        },
    }


def test_sigkill_mid_ingest_loses_no_acknowledged_capture(tmp_path):
    server = ArchiveServer(tmp_path / "archive.db")
    token = server.cli("token", "create", server.db, "--name", "kill").strip()
    headers = {"Authorization": f"Bearer {token}"}
    acknowledged, counter, rng = [], iter(range(10**6)), random.Random(5)
    left_pending = 0
    for _ in range(ROUNDS):
        server.start()
        # The server answers once a capture is committed and derives its rows after: what a
        # killed run left underived gets its rows at start-up, before the server serves.
        assert pending(server.db) == 0
        stop = threading.Event()

        def post_until_killed():
            with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
                while not stop.is_set():
                    n = next(counter)
                    try:
                        response = client.post("/api/conversations", json=small_conversation(n))
                    except httpx.HTTPError:
                        return  # the server died under us: this capture was never acknowledged
                    if response.status_code in (200, 201):
                        acknowledged.append(f"kill-{n:05d}")

        writers = [threading.Thread(target=post_until_killed) for _ in range(2)]
        for w in writers:
            w.start()
        threading.Event().wait(rng.uniform(0.2, 0.6))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        stop.set()
        for w in writers:
            w.join(timeout=10)
        db = open_db(server.db)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in db.execute("select conversation_id from chatgpt_capture")}
        assert set(acknowledged) <= stored, set(acknowledged) - stored
        db.close()
        left_pending += pending(server.db)
    server.start()  # a last restart derives what the last kill left
    server.stop()
    db = open_db(server.db)
    derived = dict(db.execute(
        "select conversation_id, count(*) from chatgpt_message group by conversation_id").fetchall())
    titles = dict(db.execute("select id, title from chatgpt_conversation").fetchall())
    # Every acknowledged capture has its rows: the conversation and both of its nodes.
    assert {c: (derived.get(c), titles.get(c)) for c in acknowledged} == {
        c: (2, f"capture {int(c[5:])}") for c in acknowledged}
    assert pending(server.db) == 0
    db.close()
    assert len(acknowledged) > ROUNDS  # the rounds really did ingest
    # README figure
    print(f"{ROUNDS} SIGKILLs, {len(acknowledged)} acknowledged captures, all present with their rows"
          f" ({left_pending} were acknowledged but not yet derived when killed)")


def pending(path):
    db = open_db(path)
    try:
        return db.execute("select count(*) from chatgpt_capture_pending").fetchone()[0]
    finally:
        db.close()


def fill_the_disk(conn):
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page


def make_read_only(conn):
    # What SQLite answers when the file cannot be written (SQLITE_READONLY): as root, the
    # tests cannot take write permission away from a file, so the connection refuses instead.
    conn.execute("PRAGMA query_only = 1")


@pytest.mark.parametrize("fault, error", [
    (fill_the_disk, "database or disk is full"),
    (make_read_only, "attempt to write a readonly database"),
])
def test_a_full_disk_or_read_only_file_is_a_503_and_writes_nothing(db_path, token, auth, fault, error):
    app = create_app(db_path)
    with TestClient(app, base_url=LOCAL) as client:
        assert client.post("/api/conversations", content=fixture_bytes("branched.json"), headers=auth).status_code == 201
        archive = app.state.datasette.get_database("archive")
        client.portal.call(lambda: archive.execute_write_fn(fault, transaction=False))
        big = fixture_json("every_content_type.json")
        # More than the free room a page holds (16 KB): its raw bytes need new pages.
        big["unknown_field"] = random.Random(7).randbytes(100_000).hex()
        response = client.post("/api/conversations", content=json.dumps(big).encode(), headers=auth)
        assert (response.status_code, response.json()) == (503, {
            "ok": False, "status": 503, "error": f"the archive cannot be written right now: {error}"})
        assert client.get("/api/health").status_code == 200  # still serving
    db = open_db(db_path)
    assert db.execute("select count(*) from chatgpt_capture").fetchone()[0] == 1
    assert db.execute("select count(*) from chatgpt_conversation where id = ?", [big["conversation_id"]]).fetchone()[0] == 0
    assert db.execute("select count(*) from chatgpt_message where conversation_id = ?", [big["conversation_id"]]).fetchone()[0] == 0
