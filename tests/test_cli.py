import json

from click.testing import CliRunner

from archiver.cli import cli
from archiver.db import open_db
from conftest import DATA


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_token_create_list_revoke(tmp_path):
    db = tmp_path / "a.db"
    created = run("token", "create", db, "--name", "laptop")
    assert created.exit_code == 0
    secret = created.stdout.strip()
    assert secret.startswith("cga_") and len(secret) > 40
    stored = open_db(db).execute("select token_hash from archiver_token").fetchone()[0]
    assert secret not in stored
    listing = run("token", "list", db)
    assert "laptop" in listing.output and "active" in listing.output and secret not in listing.output
    duplicate = run("token", "create", db, "--name", "laptop")
    assert duplicate.exit_code == 1
    assert duplicate.output == (
        "Error: a token named 'laptop' exists; revoke it first or pick another name\n")
    assert run("token", "revoke", db, "laptop").output == "Token 'laptop' revoked.\n"
    assert "revoked" in run("token", "list", db).output
    missing = run("token", "revoke", db, "laptop")
    assert (missing.exit_code, missing.output) == (1, "Error: no active token named 'laptop'\n")


def test_default_database_is_archive_db(tmp_path):
    assert run("token", "create", "--name", "x").exit_code == 0
    assert (tmp_path / "archive.db").exists()


def test_import_list_and_single_files_idempotently(tmp_path):
    db = tmp_path / "a.db"
    files = [DATA / "export_list.json", DATA / "branched.json"]
    first = run("import", db, *files)
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        f"Imported 4 conversations into {db}: 4 new, 0 updated, 0 unchanged; 19 messages stored (19 new).\n")
    # The summary counts messages as `stats` does: not the message-less root nodes.
    assert json.loads(run("stats", db).output)["messages"] == 19
    again = run("import", db, *files)
    assert again.stdout == f"Nothing changed: 4 conversations were already in {db}.\n"
    database = open_db(db)
    assert database.execute("select count(*) from chatgpt_conversation").fetchone()[0] == 4
    assert database.execute("select count(*), min(source) from chatgpt_capture").fetchone() == (
        4, "import:branched.json")


def test_import_without_db_argument_uses_archive_db(tmp_path):
    result = run("import", DATA / "branched.json")
    assert result.exit_code == 0
    assert open_db(tmp_path / "archive.db").execute("select count(*) from chatgpt_conversation").fetchone()[0] == 1


def test_import_bad_inputs_report_one_line_each_and_import_the_rest(tmp_path):
    (tmp_path / "broken.json").write_text('{"truncated": [')
    (tmp_path / "mixed.json").write_text(json.dumps(
        [{"status": "COMPLETE"}, json.loads((DATA / "branched.json").read_text()), {"id": "x", "mapping": 3}]))
    db = tmp_path / "a.db"
    result = CliRunner().invoke(cli, ["import", str(db), "broken.json", "mixed.json"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Skipped: broken.json: malformed JSON (Expecting value: line 1 column 16 (char 15))",
        "Skipped: mixed.json: item 0: not a conversation: no 'mapping' object (full tree) or 'messages' list (paged read)",
        "Skipped: mixed.json: conversation x: 'mapping' must be an object, got a number",
        "Error: 3 problem(s), see above; everything else was imported",
    ]
    assert "Traceback" not in result.output
    assert open_db(db).execute("select count(*) from chatgpt_conversation").fetchone()[0] == 1


def test_not_an_archive_is_a_clean_error(tmp_path):
    (tmp_path / "notes.db").write_text("this is not sqlite " * 100)
    result = CliRunner().invoke(cli, ["token", "list", str(tmp_path / "notes.db")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot open ") and "Traceback" not in result.output


def test_rebuild_and_stats(tmp_path):
    from archiver.db import writing_as_capture

    db = tmp_path / "a.db"
    run("import", db, DATA / "every_content_type.json", DATA / "export_list.json")
    with open_db(db).conn as conn, writing_as_capture(conn):  # what an older reshaper left
        conn.execute("update chatgpt_message set text = null")
    assert run("rebuild", db).output == "Rebuilt from 4 captures\nEmbedded 27 messages for semantic search.\n"
    stats = json.loads(run("stats", db).output)
    assert stats == {"conversations": 4, "messages": 49, "nodes": 53, "captures": 4,
                     "captures_pending": 0, "captures_failed": 0,
                     "unknown_content_types": {"hologram_v9": 1, "part:smell_pointer": 1}}
    # Only the message-less nodes (roots) are without text again.
    assert open_db(db).execute(
        "select count(*) from chatgpt_message where text is null and author_role is not null").fetchone()[0] == 0


def test_schema_command_matches_schema_sql():
    from test_schema import SCHEMA_SQL

    assert run("schema").output.strip() == SCHEMA_SQL.read_text().strip()


def test_python_dash_m(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "archiver", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "Usage: chatgpt-archiver" in result.stdout


def test_locked_archive_is_a_one_line_error(tmp_path, monkeypatch):
    db = tmp_path / "a.db"
    run("token", "create", db, "--name", "x")
    holder = open_db(db)
    holder.conn.execute("BEGIN IMMEDIATE")  # another writer holds the lock

    def impatient(path, **kwargs):
        database = open_db(path, **kwargs)
        database.execute("PRAGMA busy_timeout = 0")
        return database

    monkeypatch.setattr("archiver.cli.open_db", impatient)
    try:
        result = CliRunner().invoke(cli, ["import", str(db), str(DATA / "branched.json")])
    finally:
        holder.conn.rollback()
    assert (result.exit_code, result.output) == (1, "Error: archive error: database is locked\n")


def test_snippet_carries_url_and_a_new_token(tmp_path):
    db = tmp_path / "a.db"
    result = run("snippet", db, "--token-name", "console", "--url", "http://127.0.0.1:9999/")
    assert result.exit_code == 0
    assert 'var ARCHIVER_SERVER = "http://127.0.0.1:9999";' in result.stdout
    token_line = [line for line in result.stdout.splitlines() if line.startswith("var ARCHIVER_TOKEN")]
    assert len(token_line) == 1 and '"cga_' in token_line[0]
    secret = token_line[0].split('"')[1]
    from archiver.tokens import check_token

    assert check_token(open_db(db).conn, secret) == "console"


def test_publish_and_unpublish(tmp_path):
    db = tmp_path / "a.db"
    run("import", db, DATA / "branched.json")
    cid = json.loads((DATA / "branched.json").read_text())["id"]
    assert run("publish", db, cid).output == f"Conversation {cid} published.\n"
    assert run("publish", db, cid).exit_code == 0  # idempotent
    assert open_db(db).execute("select count(*) from public_conversations").fetchone()[0] == 1
    assert run("unpublish", db, cid).output == f"Conversation {cid} unpublished.\n"
    again = run("unpublish", db, cid)
    assert (again.exit_code, again.output) == (1, f"Error: conversation {cid!r} is not published\n")
    missing = run("publish", db, "nope")
    assert (missing.exit_code, missing.output) == (1, "Error: no conversation 'nope' in the archive\n")


NO_ARCHIVE = ("no archive at {}: start one with `chatgpt-archiver serve` or `chatgpt-archiver import EXPORT`,"
              " or name yours with --db")


def one_line_error(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="chatgpt-archiver")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def files_here(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir())


def test_read_only_commands_never_create_an_archive(tmp_path):
    for args in (["stats"], ["token", "list"], ["token", "revoke", "console"], ["publish", "abc"],
                 ["unpublish", "abc"], ["rebuild"]):
        assert one_line_error(*args) == (1, f"Error: {NO_ARCHIVE.format('archive.db')}\n"), args
    assert one_line_error("stats", "nosuch.db") == (1, f"Error: {NO_ARCHIVE.format('nosuch.db')}\n")
    assert one_line_error("stats", "--db", "other.db") == (1, f"Error: {NO_ARCHIVE.format('other.db')}\n")
    assert files_here(tmp_path) == []


def test_import_refuses_missing_and_non_export_paths_before_touching_the_archive(tmp_path):
    (tmp_path / "hostname").write_text("my-laptop\n")
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "cat.png").write_bytes(b"\x89PNG")
    (tmp_path / "fake.zip").write_bytes(b"PK\x03\x04 not really a zip")
    not_export = ("not a ChatGPT export (expected the export's .zip, its extracted folder,"
                  " conversations.json or a conversation's JSON)")
    assert one_line_error("import", "nope.zip") == (1, "Error: nope.zip: no such file or folder\n")
    assert one_line_error("import", "hostname") == (1, f"Error: hostname: {not_export}\n")
    assert one_line_error("import", "empty.json") == (1, f"Error: empty.json: empty file: {not_export}\n")
    assert one_line_error("import", "pictures") == (
        1, f"Error: pictures: nothing in it looks like an export: {not_export}\n")
    assert one_line_error("import", "fake.zip") == (1, "Error: fake.zip: corrupt zip: not a zip file\n")
    # A good file beside a bad one: nothing is imported, the bad one is named.
    assert one_line_error("import", DATA / "branched.json", "nope.json") == (
        1, "Error: nope.json: no such file or folder\n")
    assert files_here(tmp_path) == ["empty.json", "fake.zip", "hostname", "pictures"]


def test_an_import_that_stores_nothing_leaves_no_archive(tmp_path):
    (tmp_path / "not-export.json").write_text('{"hello": "world"}')
    code, output = one_line_error("import", "not-export.json")
    assert code == 1 and output.endswith("Error: 1 problem(s), see above; everything else was imported\n")
    assert files_here(tmp_path) == ["not-export.json"]


def test_usage_errors_are_one_line():
    assert one_line_error("serve", "--port", "80000") == (
        2, "Error: Invalid value for '-p' / '--port': 80000 is not in the range 1<=x<=65535."
           " (see chatgpt-archiver serve --help)\n")
    assert one_line_error("frobnicate") == (2, "Error: No such command 'frobnicate'. (see chatgpt-archiver --help)\n")
    assert one_line_error("token", "create") == (
        2, "Error: Missing option '-n' / '--name'. (see chatgpt-archiver token create --help)\n")


def test_serve_on_a_busy_port_is_one_line_and_prints_no_banner(tmp_path):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert one_line_error("serve", "--port", port) == (
            1, f"Error: port {port} is already in use on 127.0.0.1; stop what uses it or pick another with --port\n")
    assert one_line_error("serve", "--host", "no-such-host.invalid", "--port", "8001")[0] == 1
    assert files_here(tmp_path) == []


def test_the_archive_is_named_the_same_way_by_every_command(tmp_path, monkeypatch):
    run("token", "create", "--db", "a.db", "--name", "one")
    run("token", "create", "a.db", "--name", "two")  # the older positional form
    monkeypatch.setenv("CHATGPT_ARCHIVER_DB", "a.db")
    run("token", "create", "--name", "three")
    assert [r["name"] for r in __import__("archiver.tokens").tokens.list_tokens(open_db("a.db").conn)] == [
        "one", "two", "three"]
    # A first argument that is not a database is the command's own argument, as printed.
    assert run("token", "revoke", "two").output == "Token 'two' revoked.\n"
    assert run("token", "revoke", "-d", "a.db", "three").output == "Token 'three' revoked.\n"
    assert "archive.db" not in files_here(tmp_path)
