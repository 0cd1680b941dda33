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
    db = tmp_path / "a.db"
    run("import", db, DATA / "every_content_type.json", DATA / "export_list.json")
    with open_db(db).conn as conn:
        conn.execute("update chatgpt_message set text = null")
    assert run("rebuild", db).output == "Rebuilt from 4 captures\n"
    stats = json.loads(run("stats", db).output)
    assert stats == {"conversations": 4, "messages": 49, "nodes": 53, "captures": 4,
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
