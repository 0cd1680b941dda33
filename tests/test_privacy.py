"""Privacy controls from the command line (settings, exclude, forget), the importer honouring
them, and the importer and live capture converging on one stored copy of a file."""

import copy
import hashlib
import json

from click.testing import CliRunner
from starlette.testclient import TestClient

from archiver.app import create_app
from archiver.cli import cli
from archiver.db import open_db, write_transaction
from archiver.privacy import set_setting
from archiver.search import search_archive
from conftest import LOCAL, fixture_json
from test_import import EVERY, GENERATED_ID, PNG, UPLOAD_ID, write_export

CID = EVERY["conversation_id"]
PLOT_ID = "file-Pw3sK8vNqR2tYx6LmC9dHa"  # EVERY's code-interpreter image, named by no other conversation
TITLE_WORD = EVERY["title"].split()[-1]
PLOT = b"\x89PNG\r\n\x1a\n a plot only this conversation shows"


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="chatgpt-archiver")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def rows(db_path, sql, *args):
    db = open_db(db_path)
    try:
        return [tuple(r) for r in db.execute(sql, args).fetchall()]
    finally:
        db.close()


# settings


def test_settings_show_and_set(tmp_path):
    db = tmp_path / "a.db"
    assert run("settings", "--db", db) == (1, f"Error: no archive at {db}: start one with `chatgpt-archiver serve`"
                                              " or `chatgpt-archiver import EXPORT`, or name yours with --db\n")
    assert run("settings", "--db", db, "archive-temporary-chats", "on") == (0, "archive-temporary-chats = on\n")
    assert run("settings", "--db", db) == (0, (
        "archive-temporary-chats = on  (default off) keeps temporary chats, which ChatGPT itself deletes\n"
        "archive-do-not-remember-chats = on  (default on) keeps chats marked \"do not remember\""
        " (kept out of ChatGPT's memory, not out of its history)\n"))
    assert run("settings", db, "archive-do-not-remember-chats") == (0, "on\n")
    assert run("settings", "--db", db, "archive-everything", "on") == (2, (
        "Error: Invalid value for '[SETTING': 'archive-everything' is not one of 'archive-temporary-chats',"
        " 'archive-do-not-remember-chats'. (see chatgpt-archiver settings --help)\n"))
    assert run("settings", "--db", db, "archive-temporary-chats", "maybe") == (2, (
        "Error: Invalid value for '[on|off]]': 'maybe' is not one of 'on', 'off'."
        " (see chatgpt-archiver settings --help)\n"))
    assert rows(db, "select key, value from archiver_setting") == [("archive-temporary-chats", "on")]


# exclude


def test_exclude_add_list_remove(tmp_path):
    db = tmp_path / "a.db"
    assert run("exclude", "list", "--db", db)[0] == 1  # no archive: not created by a read
    assert run("exclude", "add", "project", "g-p-6851", "--db", db) == (
        0, "Excluded project g-p-6851: it will not be archived from now on.\n")
    assert run("exclude", "add", "project", "g-p-6851", "--db", db) == (
        1, "Error: project g-p-6851 is already excluded\n")
    assert run("exclude", "add", "gpt", "g-Heron", "--db", db)[0] == 0
    code, listing = run("exclude", "list", "--db", db)
    assert code == 0
    assert [line.split("  (since ")[0] for line in listing.splitlines()] == [
        "gpt           g-Heron", "project       g-p-6851"]
    assert run("exclude", "add", "folder", "x", "--db", db) == (2, (
        "Error: Invalid value for 'KIND': 'folder' is not one of 'project', 'gpt', 'conversation'."
        " (see chatgpt-archiver exclude add --help)\n"))
    assert run("exclude", "remove", "gpt", "g-Heron", "--db", db) == (0, "Gpt g-Heron is no longer excluded.\n")
    assert run("exclude", "remove", "gpt", "g-Heron", "--db", db) == (1, "Error: gpt g-Heron is not excluded\n")
    assert rows(db, "select kind, value from archiver_exclusion") == [("project", "g-p-6851")]


def test_exclude_names_what_is_already_held(tmp_path):
    db = tmp_path / "a.db"
    run("import", "--db", db, write_export(tmp_path / "export"))
    project = next(c for c in fixture_json("export_list.json") if (c.get("gizmo_id") or "").startswith("g-p-"))
    assert run("exclude", "add", "project", project["gizmo_id"], "--db", db) == (0, (
        f"Excluded project {project['gizmo_id']}: it will not be archived from now on.\n"
        "The archive already holds 1 conversation(s) of it; remove them with chatgpt-archiver forget"
        " CONVERSATION_ID.\n"))


def test_import_leaves_out_excluded_and_temporary_conversations_and_counts_them(tmp_path):
    db = tmp_path / "a.db"
    export = write_export(tmp_path / "export")
    items = json.loads((export / "conversations.json").read_text())
    temporary = copy.deepcopy(items[1])
    temporary.update(id="tmp-1", conversation_id="tmp-1", is_temporary_chat=True)
    (export / "conversations.json").write_text(json.dumps(items + [temporary]))
    assert run("exclude", "add", "conversation", CID, "--db", db)[0] == 0
    code, output = run("import", "--db", db, export)
    assert code == 0, output
    assert output.splitlines()[0].startswith("Imported 4 conversations into")
    assert "Left out by the archive's privacy settings (exclusions, temporary chats): 2 conversations.\n" in output
    assert rows(db, "select count(*) from chatgpt_conversation where id in (?, 'tmp-1')", CID) == [(0,)]
    assert rows(db, "select count(*) from chatgpt_capture where conversation_id in (?, 'tmp-1')", CID) == [(0,)]


def test_do_not_remember_flags_the_trigger_refuses_are_left_out_not_fatal(tmp_path):
    """The import judges a "do not remember" flag as the archive's insert trigger does (true,
    1 and 1.0; not "1"): a flag of 1 once passed the import's check, was refused by the
    trigger, and stopped the whole import."""
    db = tmp_path / "a.db"
    export = write_export(tmp_path / "export")
    items = json.loads((export / "conversations.json").read_text())
    flagged = []
    for n, flag in enumerate([True, 1, 1.0, "1", 0, False]):
        item = copy.deepcopy(items[1])
        item.update(id=f"dnr-{n}", conversation_id=f"dnr-{n}", is_do_not_remember=flag)
        flagged.append(item)
    (export / "conversations.json").write_text(json.dumps(items + flagged))
    assert run("settings", "--db", db, "archive-do-not-remember-chats", "off")[0] == 0
    code, output = run("import", "--db", db, export)
    assert code == 0, output
    assert "Left out by the archive's privacy settings (exclusions, temporary chats): 3 conversations.\n" in output
    assert rows(db, "select id from chatgpt_conversation where id like 'dnr-%' order by id") == [
        ("dnr-3",), ("dnr-4",), ("dnr-5",)]


# forget


def sharer():
    """A second conversation that names EVERY's generated image too (an attachment)."""
    return {"conversation_id": "conv-sharer", "title": "Sharer", "create_time": 1.0, "update_time": 2.0,
            "current_node": "s1", "mapping": {
                "s0": {"id": "s0", "message": None, "parent": None, "children": ["s1"]},
                "s1": {"id": "s1", "parent": "s0", "children": [], "message": {
                    "id": "s1", "author": {"role": "user"}, "create_time": 1.5,
                    "content": {"content_type": "text", "parts": ["look at the heron again"]},
                    "metadata": {"attachments": [{"id": GENERATED_ID, "name": "heron.webp"}]}}}}}


def test_forget_removes_a_conversation_and_only_what_nobody_else_uses(tmp_path, db_path, token):
    auth = {"Authorization": f"Bearer {token}"}
    run("import", "--db", db_path, write_export(tmp_path / "export"))  # holds EVERY, its upload and generated image
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        assert client.post("/api/conversations", json=sharer(), headers=auth).status_code == 201
        assert client.post("/api/assets", params={"file_id": PLOT_ID, "conversation_id": CID},
                           content=PLOT, headers=auth).status_code == 201
        assert client.post(f"/api/textdocs?conversation_id={CID}", headers=auth,
                           json=[{"id": "doc1", "version": 1, "title": "Kestrel", "content": "zephyrine draft"}]
                           ).status_code == 201
    run("publish", "--db", db_path, CID)
    db = open_db(db_path)
    assert [r["conversation_id"] for r in db["chatgpt_message"].search("zephyrine")] == [CID]
    found = search_archive(db.conn, "ephyrin")  # part of a word: the trigram index
    assert ([c["conversation_id"] for c in found["conversations"]], [d["path"] for d in found["documents"]]) == (
        [CID], [f"live/{CID}/doc1/v1"])
    assert CID in {r["id"] for r in db["chatgpt_conversation"].search(TITLE_WORD)}
    links = rows(db_path, "select count(*) from chatgpt_message_asset where conversation_id = ?", CID)[0][0]
    assert links == 9
    before = {t: rows(db_path, f"select count(*) from {t}")[0][0] for t in (
        "chatgpt_conversation", "chatgpt_message", "chatgpt_capture", "chatgpt_asset", "chatgpt_asset_file")}

    code, output = run("forget", "--db", db_path, CID)
    assert (code, output) == (0, f"Forgot {CID}: 1 conversation, 40 messages, 1 capture, 1 canvas document,"
                                 f" 9 file links, 2 files, 1 stored blob ({len(PLOT):,} bytes), 2 other rows.\n")
    after = {t: rows(db_path, f"select count(*) from {t}")[0][0] for t in before}
    assert after == {"chatgpt_conversation": before["chatgpt_conversation"] - 1,
                     "chatgpt_message": before["chatgpt_message"] - 40,
                     "chatgpt_capture": before["chatgpt_capture"] - 1,
                     "chatgpt_asset": before["chatgpt_asset"] - 1,
                     "chatgpt_asset_file": before["chatgpt_asset_file"] - 2}
    for table in ("chatgpt_message", "chatgpt_capture", "chatgpt_message_asset", "chatgpt_textdoc",
                  "chatgpt_public", "chatgpt_message_feedback", "chatgpt_shared_conversation"):
        assert rows(db_path, f"select count(*) from {table} where conversation_id = ?", CID) == [(0,)], table
    # The search index follows: no message, title or canvas document of it is found.
    db = open_db(db_path)
    assert list(db["chatgpt_message"].search("zephyrine")) == []
    assert list(db["chatgpt_textdoc"].search("zephyrine")) == []
    assert CID not in {r["id"] for r in db["chatgpt_conversation"].search(TITLE_WORD)}
    for fts in ("chatgpt_message_fts", "chatgpt_conversation_fts", "chatgpt_textdoc_fts"):
        db.execute(f"insert into {fts}({fts}, rank) values ('integrity-check', 1)")
    # As the search page finds things (stemmed and trigram indexes, canvas documents).
    for query in ("zephyrine", "ephyrin"):
        found = search_archive(db.conn, query)
        assert (found["total"], found["documents"]) == (0, []), query
    # Files: the plot and the upload only it named are gone; the upload's bytes stay, as another
    # export file (dalle-generations/same-bytes-again.png) holds the same bytes; the generated
    # image stays, as the sharer names it.
    assert rows(db_path, "select file_id from chatgpt_asset_file where file_id is not null") == [(GENERATED_ID,)]
    held = {r[0] for r in rows(db_path, "select sha256 from chatgpt_asset")}
    assert hashlib.sha256(PNG).hexdigest() in held
    assert hashlib.sha256(PLOT).hexdigest() not in held
    assert UPLOAD_ID not in {r[0] for r in rows(db_path, "select file_id from chatgpt_message_asset")}

    assert run("forget", "--db", db_path, CID) == (1, f"Error: no conversation {CID!r} in the archive\n")


def test_forget_needs_an_archive(tmp_path):
    assert run("forget", "--db", tmp_path / "a.db", "x")[0] == 1
    assert not (tmp_path / "a.db").exists()


# importer and live capture converge


def test_import_then_live_post_of_the_same_file_is_one_asset(tmp_path, db_path, token):
    auth = {"Authorization": f"Bearer {token}"}
    from test_import import zip_folder

    source = zip_folder(write_export(tmp_path / "export"), tmp_path / "export.zip")
    assert run("import", "--db", db_path, source)[0] == 0
    before = rows(db_path, "select sha256, size, mime_type from chatgpt_asset order by sha256")
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        wanted = client.post("/api/assets/wanted", json={"file_ids": [UPLOAD_ID, PLOT_ID]}, headers=auth)
        assert wanted.json() == {"ok": True, "wanted": [PLOT_ID]}
        response = client.post("/api/assets", params={"file_id": UPLOAD_ID, "conversation_id": CID},
                               content=PNG, headers=auth | {"content-type": "image/png"})
    assert (response.status_code, response.json()) == (200, {
        "ok": True, "file_id": UPLOAD_ID, "sha256": hashlib.sha256(PNG).hexdigest(), "size": len(PNG),
        "duplicate": True})
    assert rows(db_path, "select sha256, size, mime_type from chatgpt_asset order by sha256") == before
    assert rows(db_path, "select count(*) from chatgpt_asset where sha256 = ?", hashlib.sha256(PNG).hexdigest()) == [
        (1,)]
    assert rows(db_path, "select path from chatgpt_asset_file where file_id = ?", UPLOAD_ID) == [
        (f"{UPLOAD_ID}-packing-list.png",)]


def test_live_file_then_import_is_one_asset(tmp_path, db_path, token):
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        client.post("/api/conversations", json=EVERY, headers=auth)
        client.post("/api/assets", params={"file_id": UPLOAD_ID, "conversation_id": CID}, content=PNG, headers=auth)
    run("import", "--db", db_path, write_export(tmp_path / "export"))
    assert rows(db_path, "select count(*) from chatgpt_asset where sha256 = ?", hashlib.sha256(PNG).hexdigest()) == [
        (1,)]
    assert rows(db_path, "select path from chatgpt_asset_file where file_id = ? order by path", UPLOAD_ID) == [
        (f"{UPLOAD_ID}-packing-list.png",), (f"live/{UPLOAD_ID}",)]


def test_setting_changes_apply_to_a_running_server(db_path, db, token):
    auth = {"Authorization": f"Bearer {token}"}
    data = copy.deepcopy(EVERY)
    data["is_temporary_chat"] = True
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        assert client.post("/api/conversations", json=data, headers=auth).json()["skipped"] is True
        with write_transaction(db) as conn:
            set_setting(conn, "archive-temporary-chats", "on")
        assert client.post("/api/conversations", json=data, headers=auth).status_code == 201


def test_commands_that_only_read_or_remove_never_create_an_archive(tmp_path):
    missing = ("Error: no archive at archive.db: start one with `chatgpt-archiver serve` or"
               " `chatgpt-archiver import EXPORT`, or name yours with --db\n")
    for args in (["forget", "abc"], ["exclude", "list"], ["exclude", "remove", "gpt", "g-x"], ["settings"],
                 ["settings", "archive-temporary-chats"]):
        assert run(*args) == (1, missing), args
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_exports_canvas_document_gets_the_columns_a_live_one_has(tmp_path, db_path):
    run("import", "--db", db_path, write_export(tmp_path / "export"))
    assert rows(db_path, "select path, conversation_id, textdoc_id, version, textdoc_type, title, content"
                         " from chatgpt_textdoc") == [
        ("textdocs/6851c3f0.json", None, "6851c3f0", None, None, "Trail notes", "Pack the quinoa and a headlamp.")]
