"""Importing OpenAI's data export: synthetic exports built here (folder and zip, one file and
split files, with assets, canvas documents and the other export files)."""

import copy
import gzip
import hashlib
import json
import sys
import zipfile

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.db import open_db
from archiver import importer
from archiver.importer import import_paths
from conftest import CORPUS, LOCAL, fixture_bytes, fixture_json
from test_bulk import write_export as write_copies

EVERY = fixture_json("every_content_type.json")
UPLOAD_ID = "file-7QmZr2XkLpV9aTnB4cWdYe"  # the uploaded image in every_content_type.json
GENERATED_ID = "file_0a91456380dd222bf1a883dc03b5802d"  # its generated (sediment://) image
PNG = b"\x89PNG\r\n\x1a\n" + b"synthetic image bytes" * 10


def conversations():
    items = [EVERY, fixture_json("branched.json")] + fixture_json("export_list.json")
    for item in items:
        item.setdefault("id", item.get("conversation_id"))
    return items


def write_export(folder, split=False):
    """A synthetic export folder, shaped like OpenAI's: conversations, assets, textdocs, tables."""
    folder.mkdir(parents=True, exist_ok=True)
    items = conversations()
    if split:
        (folder / "conversations-000.json").write_text(json.dumps(items[:2]))
        (folder / "conversations-001.json").write_text(json.dumps(items[2:]))
    else:
        (folder / "conversations.json").write_text(json.dumps(items))
    (folder / f"{UPLOAD_ID}-packing-list.png").write_bytes(PNG)
    (folder / "user-abc123").mkdir(exist_ok=True)
    (folder / "user-abc123" / f"{GENERATED_ID}-1f2e3d4c.webp").write_bytes(b"RIFF generated heron")
    (folder / "dalle-generations").mkdir(exist_ok=True)
    (folder / "dalle-generations" / "same-bytes-again.png").write_bytes(PNG)  # stored once
    (folder / "textdocs").mkdir(exist_ok=True)
    (folder / "textdocs" / "6851c3f0.json").write_text(json.dumps(
        {"id": "6851c3f0", "title": "Trail notes", "content": "Pack the quinoa and a headlamp."}))
    (folder / "user.json").write_text(json.dumps({"id": "user-abc123", "email": "someone@example.com"}))
    (folder / "message_feedback.json").write_text(json.dumps(
        [{"id": "fb-1", "conversation_id": EVERY["conversation_id"], "rating": "thumbsUp"}]))
    (folder / "shared_conversations.json").write_text(json.dumps(
        [{"id": "share-1", "conversation_id": EVERY["conversation_id"], "title": "t", "is_anonymous": True}]))
    (folder / "chat.html").write_text("<html>the export's own viewer</html>")
    (folder / "mystery.bin").write_bytes(b"\x00\x01")
    return folder


def zip_folder(folder, target):
    with zipfile.ZipFile(target, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    return target


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def counts(db):
    return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in (
        "chatgpt_conversation", "chatgpt_message", "chatgpt_capture", "chatgpt_asset", "chatgpt_asset_file",
        "chatgpt_textdoc")}


NODES = sum(len(c["mapping"]) for c in conversations())
# What the summary calls messages, as `stats` does: nodes that carry one.
MESSAGES = sum(1 for c in conversations() for n in c["mapping"].values() if n.get("message"))


# Big conversations files (8 MB and more) are prepared by a second process: every test here
# runs both ways.
@pytest.fixture(params=[False, True], ids=["prepared-here", "prepared-apart"])
def apart(request, monkeypatch):
    monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0 if request.param else 1 << 60)
    return request.param


@pytest.mark.parametrize("split", [False, True], ids=["one-file", "split"])
@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_export_imports_everything(tmp_path, split, packed, apart):
    source = write_export(tmp_path / "export", split=split)
    if packed:
        source = zip_folder(source, tmp_path / "export.zip")
    db_path = tmp_path / "a.db"
    result = run("import", db_path, source)
    assert result.exit_code == 0, result.output
    where = "export.zip" if packed else "export"
    assert result.stdout == (
        f"Imported 5 conversations into {db_path}: 5 new, 0 updated, 0 unchanged; {MESSAGES} messages stored"
        f" ({MESSAGES} new).\n"
        "Assets: 2 stored, 1 already there.\n"
        "Canvas documents: 1.\n"
        "Export files kept as tables: message_feedback.json, shared_conversations.json, user.json.\n")
    assert result.stderr == f"Not recognised, left out: {where}:mystery.bin\n"
    db = open_db(db_path)
    assert counts(db) == {"chatgpt_conversation": 5, "chatgpt_message": NODES, "chatgpt_capture": 5,
                          "chatgpt_asset": 2, "chatgpt_asset_file": 3, "chatgpt_textdoc": 1}
    # Assets are linked to the messages that name them.
    linked = db.execute(
        "select l.file_id, a.size, m.content_type from chatgpt_message_asset l"
        " join chatgpt_asset_file f on f.file_id = l.file_id join chatgpt_asset a on a.sha256 = f.sha256"
        " join chatgpt_message m on m.conversation_id = l.conversation_id and m.node_id = l.node_id"
        " order by l.file_id").fetchall()
    assert (UPLOAD_ID, len(PNG), "multimodal_text") in linked
    assert (GENERATED_ID, len(b"RIFF generated heron"), "multimodal_text") in linked
    # Canvas documents are searchable; other export files are tables.
    assert [r["title"] for r in db["chatgpt_textdoc"].search("quinoa")] == ["Trail notes"]
    assert db.execute("select email from chatgpt_export_user").fetchall() == [("someone@example.com",)]
    assert db.execute("select rating from chatgpt_message_feedback").fetchall() == [("thumbsUp",)]
    # The same rows as a live capture of the same conversations would give.
    again = run("import", db_path, source)
    assert again.stdout == f"Nothing changed: 5 conversations were already in {db_path}.\n"
    assert counts(open_db(db_path)) == counts(db)


def test_import_merges_with_live_capture(tmp_path, client, auth, db_path):
    live = copy.deepcopy(EVERY)
    live["update_time"] += 500
    live["title"] = "Renamed later"
    leaf = live["current_node"]
    live["mapping"][leaf]["children"] = ["live-only"]
    live["mapping"]["live-only"] = {"id": "live-only", "parent": leaf, "children": [], "message": {
        "id": "live-only", "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["later"]}}}
    live["current_node"] = "live-only"
    assert client.post("/api/conversations", json=live, headers=auth).status_code == 201
    export = tmp_path / "conversations.json"
    older = copy.deepcopy(EVERY)
    older["mapping"]["export-only"] = {"id": "export-only", "parent": "client-created-root", "children": [],
                                       "message": None}
    export.write_text(json.dumps([older]))
    summary = import_paths(open_db(db_path), [export])
    assert (summary.new, summary.updated, summary.unchanged, summary.skipped) == (0, 1, 0, [])
    db = open_db(db_path)
    cid = EVERY["conversation_id"]
    nodes = {r[0] for r in db.execute("select node_id from chatgpt_message where conversation_id = ?", [cid])}
    assert nodes == set(EVERY["mapping"]) | {"live-only", "export-only"}
    assert db.execute("select title, current_node from chatgpt_conversation").fetchone() == ("Renamed later", "live-only")
    assert db.execute("select source from chatgpt_capture order by id").fetchall() == [
        ("api",), ("import:conversations.json",)]


def test_bad_inputs_are_named_and_the_rest_lands(tmp_path, apart):
    folder = write_export(tmp_path / "export", split=True)
    # A truncated split file: the conversations before the cut still land.
    items = conversations()[2:]
    text = json.dumps(items)
    (folder / "conversations-001.json").write_text(text[: text.index(items[-1]["id"]) + 10])
    (tmp_path / "not-export.json").write_text(json.dumps({"hello": "world"}))
    bad = copy.deepcopy(EVERY)
    bad["id"] = bad["conversation_id"] = "bad-mapping"
    bad["mapping"] = ["not", "an", "object"]
    (tmp_path / "one-bad.json").write_text(json.dumps([bad, fixture_json("branched.json")]))
    db_path = tmp_path / "a.db"
    result = run("import", db_path, folder, tmp_path / "not-export.json",
                 tmp_path / "one-bad.json")
    assert result.exit_code == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("Skipped: ")]
    assert problems == [
        "Skipped: export:conversations-001.json: truncated or malformed JSON after 2 conversations"
        " (the array is cut off inside an element)",
        f"Skipped: {tmp_path}/not-export.json: item 0: not a conversation: no 'mapping' object (full tree) or"
        " 'messages' list (paged read)",
        f"Skipped: {tmp_path}/one-bad.json: conversation bad-mapping: 'mapping' must be an object, got an array",
    ]
    assert result.stderr.endswith("Error: 3 problem(s), see above; everything else was imported\n")
    assert "Traceback" not in result.output
    db = open_db(db_path)
    assert db.execute("select count(*) from chatgpt_conversation").fetchone()[0] == 4


EXPORT_FILES = [p for p in sorted(CORPUS.glob("*.json")) if p.read_bytes().lstrip()[:1] == b"["] if CORPUS.is_dir() else []


@pytest.mark.skipif(not EXPORT_FILES, reason="../shared/corpus is not present")
def test_corpus_exports_import_with_every_node(tmp_path):
    db = open_db(tmp_path / "a.db")
    summary = import_paths(db, EXPORT_FILES)
    assert summary.skipped == []
    expected = set()
    for path in EXPORT_FILES:
        for conversation in json.loads(path.read_bytes()):
            cid = conversation.get("conversation_id") or conversation["id"]
            expected |= {(cid, node) for node in conversation["mapping"]}
    stored = set(db.execute("select conversation_id, node_id from chatgpt_message").fetchall())
    assert stored == expected


def test_each_conversation_is_kept_as_the_exact_bytes_the_export_holds(tmp_path):
    # Not a re-serialisation: the export's own spacing, escapes and key order, byte for byte.
    items = [fixture_json("branched.json"), EVERY]
    texts = [json.dumps(items[0], indent=1, ensure_ascii=True), json.dumps(items[1], ensure_ascii=False)]
    export = tmp_path / "conversations.json"
    export.write_bytes(("[\n" + " ,\n".join(texts) + "\n]\n").encode())
    db = open_db(tmp_path / "a.db")
    summary = import_paths(db, [export])
    assert (summary.new, summary.skipped) == (2, [])
    kept = [gzip.decompress(body) for (body,) in db.execute("select body from chatgpt_capture order by id")]
    assert kept == [t.encode() for t in texts]
    assert [hashlib.sha256(t.encode()).hexdigest() for t in texts] == [
        r[0] for r in db.execute("select sha256 from chatgpt_capture order by id")]


def test_single_conversation_object_file(tmp_path):
    path = tmp_path / "one.json"
    path.write_bytes(fixture_bytes("every_content_type.json"))
    summary = import_paths(open_db(tmp_path / "a.db"), [path])
    # Messages as `stats` counts them: every node but the message-less root.
    assert (summary.new, summary.messages, summary.skipped) == (1, len(EVERY["mapping"]) - 1, [])


def test_transcript_shows_archived_files_served_safely(tmp_path, token):
    from starlette.testclient import TestClient

    from archiver.app import create_app

    source = write_export(tmp_path / "export")
    (source / "file-HtmlTrap123-page.html").write_text("<script>alert('asset')</script>")
    db_path = tmp_path / "archive.db"
    import_paths(open_db(db_path), [source])
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        page = client.get(f"/-/c/{EVERY['conversation_id']}").text
        assert f'<img src="/-/asset/{UPLOAD_ID}"' in page
        image = client.get(f"/-/asset/{UPLOAD_ID}")
        assert (image.status_code, image.content, image.headers["content-type"]) == (200, PNG, "image/png")
        assert image.headers["content-security-policy"] == "sandbox; default-src 'none'"
        trap = client.get("/-/asset/file-HtmlTrap123")
        assert trap.headers["content-type"] == "application/octet-stream"
        assert trap.headers["content-disposition"] == 'attachment; filename="file-HtmlTrap123-page.html"'
        assert client.get("/-/asset/file-nope").status_code == 404


def test_bulk_import_indexes_once_and_an_interrupted_one_is_repaired(tmp_path):
    source = write_export(tmp_path / "export")
    db_path = tmp_path / "a.db"
    db = open_db(db_path)
    summary = import_paths(db, [source], bulk=True)
    assert summary.new == 5
    triggers = lambda d: {r[0] for r in d.execute(  # noqa: E731
        "select name from sqlite_master where type = 'trigger' and tbl_name = 'chatgpt_message'")}
    # Every trigger back after the load: the search ones and the guards (m015 and later).
    assert {"chatgpt_message_ai", "chatgpt_message_ad", "chatgpt_message_au"} <= triggers(db)
    assert triggers(db) == triggers(open_db(tmp_path / "fresh.db"))
    assert [r["content_type"] for r in db["chatgpt_message"].search("zephyrine")] == ["text"]
    db.execute("insert into chatgpt_message_fts(chatgpt_message_fts, rank) values ('integrity-check', 1)")
    # FTS5's own settings, written the bulk way during the load, are its defaults again.
    settings = lambda d: dict(d.execute(  # noqa: E731
        "select k, v from chatgpt_message_fts_config where k in ('hashsize', 'automerge')").fetchall())
    assert settings(db) == {"hashsize": 1024 * 1024, "automerge": 4}
    # An import killed while the triggers were paused: the next open restores and re-indexes.
    from archiver.db import writing_as_capture
    from archiver.indexing import pause_search_index

    pause_search_index(db.conn)
    assert settings(db) == {"hashsize": 8 * 1024 * 1024, "automerge": 16}
    with db.conn, writing_as_capture(db.conn):
        db.conn.execute("update chatgpt_message set text = 'a brand new wombat' where node_id = ?",
                        [EVERY["current_node"]])
    db.close()  # and the process died before restoring them
    reopened = open_db(db_path)
    assert triggers(reopened) == triggers(open_db(tmp_path / "fresh.db"))
    assert [r["node_id"] for r in reopened["chatgpt_message"].search("wombat")] == [EVERY["current_node"]]
    assert settings(reopened) == {"hashsize": 1024 * 1024, "automerge": 4}
    # Parts of words catch up after a bulk load (the server does it in the background).
    from archiver.indexing import ensure_trigram_index

    ensure_trigram_index(reopened.conn)
    assert reopened.execute("select rowid from chatgpt_message_trigram where chatgpt_message_trigram match 'ombat'"
                            ).fetchall() == reopened.execute("select rowid from chatgpt_message where text like '%wombat%'"
                                                             ).fetchall()


def test_a_conversations_file_that_fails_while_read_is_named_and_what_came_before_lands(tmp_path, apart):
    # A zip member whose bytes are damaged after the first conversations: the read fails part
    # way (here or in the preparing process), the file is named, the rest of the export lands.
    items = [dict(copy.deepcopy(EVERY), id=f"c-{i:03d}", conversation_id=f"c-{i:03d}") for i in range(300)]
    packed = tmp_path / "export.zip"
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("conversations.json", json.dumps(items))
        archive.writestr(f"{UPLOAD_ID}-packing-list.png", PNG)
    data = bytearray(packed.read_bytes())
    cut = data.index(b'"c-250"')
    data[cut:cut + 8] = b"XXXXXXXX"  # the CRC check fails at the end of the member
    packed.write_bytes(bytes(data))
    db_path = tmp_path / "a.db"
    result = run("import", db_path, packed)
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("Skipped: ")] == [
        "Skipped: export.zip:conversations.json: Bad CRC-32 for file 'conversations.json'"]
    assert "Traceback" not in result.output
    db = open_db(db_path)
    # The conversations read before the damage was found (the check comes at the member's end,
    # so what was read in its last chunks is lost): the same either way.
    landed = db.execute("select count(*) from chatgpt_conversation").fetchone()[0]
    assert landed == 208
    assert db.execute("select count(*) from chatgpt_asset").fetchone()[0] == 1


def as_python(monkeypatch, path, script):
    """The preparing process started as a shell script says (it replaces sys.executable)."""
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(path))


def test_without_a_second_process_the_import_prepares_here_and_one_dying_part_way_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0)
    python = sys.executable
    source = write_export(tmp_path / "export")
    # No Python to start, one that dies before it sends anything, one whose output is not
    # frames (something printed to it): this process prepares the conversations, and all lands.
    for name, script in {"no-such-python": None,
                         "dying": "echo 'MemoryError: out of memory' >&2\nexit 1\n",
                         "chatty": f"echo 'a library says hello'\nexec {python} \"$@\"\n"}.items():
        if script is None:
            monkeypatch.setattr("sys.executable", str(tmp_path / name))
        else:
            as_python(monkeypatch, tmp_path / name, script)
        result = run("import", tmp_path / f"{name}.db", source)
        assert result.exit_code == 0, (name, result.output)
        assert counts(open_db(tmp_path / f"{name}.db"))["chatgpt_conversation"] == len(conversations()), name
    # One that dies part way through a file (its first 2 MB of output reach us): the file is
    # named with the last line it said; what came before is kept, and the rest of the export lands.
    (source / "conversations.json").unlink()
    copies = write_copies(source / "conversations.json", 210)  # over 8 MB: far more than 2 MB of frames
    as_python(monkeypatch, tmp_path / "cut", f"{python} \"$@\" | head -c 2000000\n"
              "echo 'MemoryError: out of memory' >&2\nexit 1\n")
    result = run("import", tmp_path / "c.db", source)
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("Skipped: ")] == [
        "Skipped: export:conversations.json: the process preparing it stopped: MemoryError: out of memory"]
    assert "Traceback" not in result.output
    db = open_db(tmp_path / "c.db")
    assert 0 < db.execute("select count(*) from chatgpt_conversation").fetchone()[0] < len(copies)
    assert db.execute("select count(*) from chatgpt_asset").fetchone()[0] == 2  # the rest of the export landed


def test_a_value_msgpack_cannot_carry_crosses_all_the_same(tmp_path, apart):
    # An integer beyond 64 bits (msgpack's limit) in a field that becomes a column: the batch
    # crosses from the preparing process another way, and lands as it does prepared here.
    item = dict(copy.deepcopy(EVERY), async_status=10**30)
    (tmp_path / "conversations.json").write_text(json.dumps([item]))
    result = run("import", tmp_path / "a.db", tmp_path / "conversations.json")
    assert result.exit_code == 0, result.output
    db = open_db(tmp_path / "a.db")
    assert db.execute("select id, async_status from chatgpt_conversation").fetchall() == [(EVERY["id"], None)]
    assert db.execute("select count(*) from chatgpt_message").fetchone()[0] == len(EVERY["mapping"])


@pytest.mark.parametrize("bulk", [False, True], ids=["plain", "bulk"])
def test_the_same_conversation_twice_in_one_batch_is_new_then_updated_then_unchanged(tmp_path, bulk):
    first = copy.deepcopy(EVERY)
    later = dict(copy.deepcopy(EVERY), title="renamed", update_time=EVERY["update_time"] + 60)
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps([first, later, later]))
    db = open_db(tmp_path / "a.db")
    summary = import_paths(db, [export], bulk=bulk)
    carrying = db.execute("select count(*) from chatgpt_message where author_role is not null").fetchone()[0]
    assert (summary.new, summary.updated, summary.unchanged, summary.messages, summary.new_messages) == (
        1, 1, 1, 3 * carrying, carrying)
    assert db.execute("select title from chatgpt_conversation").fetchall() == [("renamed",)]
