"""Issue 12, class 6: sizes are untrusted. Export files stream into the archive in bounded
memory, one too large is skipped by name while the rest lands; conversations have a node
limit (422); the .json export refuses above it (413); a facet on a missing column is a 400."""

import json
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest

import archiver.reshape
from archiver.db import open_db
from archiver.importer import MAX_FILE_BYTES, import_paths
from archiver.indexing import trigram_behind
from archiver.semantic import count_pending

from conftest import ArchiveServer, fixture_bytes
from untrusted import chain, raw

MB = 1024 * 1024


PEAK_OF_IMPORT = """
import sys
from archiver.cli import cli
try:
    cli(["import", *sys.argv[1:]])
finally:
    sys.stdout.flush()
    print([l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0], end="")
"""


def zeros(f, size):
    block = b"\0" * MB
    for _ in range(size // MB):
        f.write(block)


def test_a_zip_bomb_asset_is_skipped_by_name_in_bounded_memory_and_the_rest_lands(tmp_path):
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("conversations.json", b"[" + fixture_bytes("branched.json") + b"]")
        with z.open("file-Bomb123-zeros.dat", "w", force_zip64=True) as f:
            zeros(f, MAX_FILE_BYTES + MB)  # over the limit
        with z.open("file-Big456-zeros.dat", "w", force_zip64=True) as f:
            zeros(f, 160 * MB)  # under it: stored, streamed
        z.writestr("file-Small789-note.txt", b"a small file")
    assert export.stat().st_size < 4 * MB  # 700 MB inside
    db = tmp_path / "archive.db"
    # The import's own peak memory: VmHWM, which a new program starts afresh (ru_maxrss would
    # also count the test process the child was forked from, whatever its size).
    process = subprocess.run([sys.executable, "-c", PEAK_OF_IMPORT, str(db), str(export)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, peak_line = process.stdout.rsplit("VmHWM:", 1)
    peak_mb = int(peak_line.split()[0]) / 1024
    assert process.returncode == 1, output  # one problem, said so
    problems = [line for line in output.splitlines() if "file-Bomb123-zeros.dat" in line]
    assert len(problems) == 1 and "too large" in problems[0], output
    assert peak_mb < 200, peak_mb  # measured 91 MB; the old reader held each file whole, twice
    archive = open_db(db)
    sizes = dict(archive.execute("select f.file_id, a.size from chatgpt_asset_file f join chatgpt_asset a using (sha256)"))
    assert sizes == {"file-Big456": 160 * MB, "file-Small789": 12}
    assert archive.execute("select count(*) from chatgpt_conversation").fetchone()[0] == 1
    assert archive.execute("select length(data) from chatgpt_asset where size = 12").fetchone() == (12,)
    archive.close()
    # Served back a chunk at a time: the server's peak memory stays far below the file.
    server = ArchiveServer(db).start()

    def peak_mb():
        with open(f"/proc/{server.process.pid}/status") as status:
            return int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024

    try:
        # The server's own background work done first (its memory is not the file's): the
        # imported messages embedded and taken into the parts-of-words index.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            watching = open_db(db)
            try:
                busy = count_pending(watching.conn) + trigram_behind(watching.conn)
            finally:
                watching.close()
            if not busy:
                break
            time.sleep(0.2)
        assert not busy
        urllib.request.urlopen(server.url + "/-/asset/file-Small789").read()  # warm: the route's code loaded
        before = peak_mb()
        with urllib.request.urlopen(server.url + "/-/asset/file-Big456") as response:
            received = 0
            while chunk := response.read(MB):
                assert chunk.count(0) == len(chunk)
                received += len(chunk)
        growth = peak_mb() - before
    finally:
        server.stop()
    assert received == 160 * MB
    assert growth < 40, growth  # a server reading the file whole would grow by 160 MB or more


def test_a_conversation_over_the_node_limit_is_refused_clearly(client, auth, db, tmp_path):
    n = archiver.reshape.MAX_NODES + 1
    mapping = {f"n{i}": {"parent": f"n{i - 1}" if i else None, "children": [], "message": None} for i in range(n)}
    body = json.dumps({"conversation_id": "huge", "mapping": mapping}).encode()
    response = client.post("/api/conversations", content=body, headers=auth)
    assert response.status_code == 422
    too_many = f"conversation too large: more than {n - 1:,} nodes, the archive's limit for one conversation"
    assert response.json() == {"ok": False, "status": 422, "error": too_many}
    paged = json.dumps({"conversation_id": "huge", "messages": [{"id": f"m{i}"} for i in range(n)]}).encode()
    assert client.post("/api/conversations", content=paged, headers=auth).status_code == 422
    assert db.execute("select count(*) from chatgpt_message").fetchone()[0] == 0
    # In an export, it is skipped by name and the rest lands.
    (tmp_path / "conversations.json").write_bytes(b"[" + body + b"," + fixture_bytes("branched.json") + b"]")
    summary = import_paths(db, [tmp_path / "conversations.json"])
    assert summary.new == 1 and summary.skipped == [f"{tmp_path / 'conversations.json'}: conversation huge: {too_many}"]


def test_the_json_export_refuses_above_the_limit(client, auth, db, monkeypatch):
    data = chain("big", ["q", "a", "q2", "a2"])
    assert client.post("/api/conversations", content=raw(data), headers=auth).status_code == 201
    assert client.get("/-/c/big.json").status_code == 200
    monkeypatch.setattr(archiver.reshape, "MAX_NODES", 3)  # rows the insert API added could pass it
    response = client.get("/-/c/big.json")
    assert response.status_code == 413
    assert response.json()["error"].startswith("this conversation has 5 nodes; the .json export stops at 3")
    assert client.get("/-/c/big").status_code == 200


@pytest.mark.parametrize("query", ["_facet=nope", "_facet_array=nope", "_facet_date=nope", "_facet=text&_facet=nope",
                                   '_facet={"column":"nope"}', "_facet_size=max&_facet=nope"])
@pytest.mark.parametrize("table", ["chatgpt_message", "chatgpt_conversation", "public_messages"])
def test_a_facet_on_a_missing_column_is_a_400(client, query, table):
    for suffix in ("", ".json"):
        response = client.get(f"/archive/{table}{suffix}?{query}")
        assert response.status_code == 400, (table, suffix, query, response.text[:200])
        assert "cannot facet by that" in response.text
    assert client.get(f"/archive/{table}?_facet=conversation_id").status_code in (200, 400)


@pytest.mark.parametrize("name", ["branched.json", "every_content_type.json", "paged.json", "hostile.json"])
def test_the_streamed_json_export_is_the_whole_export(client, auth, db, name):
    from archiver.export import reshape_chatgpt_json as export_json

    assert client.post("/api/conversations", content=fixture_bytes(name), headers=auth).status_code == 201
    (cid,) = db.execute("select id from chatgpt_conversation").fetchone()
    db.conn.row_factory = __import__("sqlite3").Row
    conversation = dict(db.execute("select * from chatgpt_conversation").fetchone())
    rows = [dict(r) for r in db.execute("select * from chatgpt_message where conversation_id = ?", [cid])]
    db.conn.row_factory = None
    response = client.get(f"/-/c/{cid}.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="conversation-{cid}.json"'
    assert response.json() == export_json(conversation, rows)


def test_a_big_conversation_is_not_cut_off_by_the_page_time_limit(client, auth, db):
    """Datasette stops a page's queries after sql_time_limit_ms (1 s): reading every row of a
    200,000-node conversation takes longer. Here the limit is 15 ms and the conversation
    3,000 turns of long text, the same race in miniature: transcript, .md and .json answer."""
    data = chain("long", [f"turn {i} " + "words " * 400 for i in range(3000)])
    assert client.post("/api/conversations", content=raw(data), headers=auth).status_code == 201
    client.app.state.datasette.sql_time_limit_ms = 15
    for path in ["/-/c/long", "/-/c/long.md", "/-/c/long.json"]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:200])
    assert "turn 2999" in client.get("/-/c/long.md").text
