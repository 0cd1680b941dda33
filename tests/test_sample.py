"""`chatgpt-archiver sample`: a synthetic archive a newcomer can browse without an account."""

import json
import time

from click.testing import CliRunner

from archiver.cli import cli
from archiver.db import open_db
from archiver.sample import png, sample_conversations
from conftest import DATA


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_sample_loads_into_sample_db_and_says_how_to_browse_it(tmp_path):
    result = run("sample")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Sample archive ready in sample.db: 27 conversations, 68 messages, 2 pictures and a canvas document.\n"
        "Browse it: chatgpt-archiver serve --db sample.db\n"
        "then open http://127.0.0.1:8001/ in your browser.\n"
    )
    assert not (tmp_path / "archive.db").exists()  # never the real archive
    db = open_db(tmp_path / "sample.db")
    assert json.loads(run("stats", "--db", "sample.db").output) == {
        "conversations": 27, "messages": 68, "nodes": 95, "captures": 27, "captures_pending": 0,
        "captures_failed": 0, "unknown_content_types": {}}
    # The pages have something to show for every feature: a fork, reasoning, code, a picture
    # linked to the message naming it, a generated picture, citations, a canvas, a project,
    # an archived and an untitled conversation, and dates from today back past a year.
    forks = db.execute(
        "SELECT count(*) FROM (SELECT parent_id FROM chatgpt_message GROUP BY conversation_id, parent_id"
        " HAVING count(*) > 1)").fetchone()[0]
    assert forks == 1
    types = {r[0] for r in db.execute("SELECT DISTINCT content_type FROM chatgpt_message")}
    assert {"text", "thoughts", "reasoning_recap", "code", "execution_output", "multimodal_text"} <= types
    linked = db.execute(
        "SELECT l.pointer, a.mime_type FROM chatgpt_message_asset l JOIN chatgpt_asset_file f ON f.file_id = l.file_id"
        " JOIN chatgpt_asset a ON a.sha256 = f.sha256 ORDER BY l.pointer").fetchall()
    kinds = [(p.split("://")[0] if "://" in p else "attachment", m) for p, m in linked]
    assert kinds == [("attachment", "image/png"), ("file-service", "image/png"), ("sediment", "image/png")]
    assert db.execute("SELECT title FROM chatgpt_textdoc").fetchall() == [("Spring newsletter",)]
    assert db.execute("SELECT count(*) FROM chatgpt_conversation WHERE gizmo_id LIKE 'g-p-%'").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM chatgpt_conversation WHERE is_archived = 1").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM chatgpt_conversation WHERE title = ''").fetchone()[0] == 1
    now = time.time()
    ages = [(now - t) / 86400 for (t,) in db.execute("SELECT update_time FROM chatgpt_conversation")]
    assert min(ages) < 1 and 1 < sorted(ages)[3] < 2 and max(ages) > 365
    assert all(age > 0 for age in ages)  # nothing in the future
    assert db.execute("SELECT count(*) FROM chatgpt_message_fts WHERE chatgpt_message_fts MATCH 'kingfisher'"
                      ).fetchone()[0] == 3  # the answer, the drawing's prompt and the reply


def test_sample_twice_changes_nothing_and_never_mixes_into_a_real_archive(tmp_path):
    assert run("sample").exit_code == 0
    again = run("sample")
    assert again.exit_code == 0
    assert open_db(tmp_path / "sample.db").execute("SELECT count(*) FROM chatgpt_capture").fetchone()[0] == 27
    assert run("import", "--db", "mine.db", DATA / "branched.json").exit_code == 0
    mixed = run("sample", "--db", "mine.db")
    assert (mixed.exit_code, mixed.output) == (1, (
        "Error: mine.db holds 1 conversations that are not the sample's; refusing to mix the sample into"
        " them (name another file with --db)\n"))
    assert open_db(tmp_path / "mine.db").execute("SELECT count(*) FROM chatgpt_conversation").fetchone()[0] == 1


def test_sample_ignores_the_archive_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATGPT_ARCHIVER_DB", str(tmp_path / "real.db"))
    assert run("sample").exit_code == 0
    assert (tmp_path / "sample.db").exists() and not (tmp_path / "real.db").exists()


def test_sample_is_deterministic_apart_from_its_dates():
    first, files_a = sample_conversations(1_800_000_000.0)
    second, files_b = sample_conversations(1_800_000_000.0 + 86400)
    assert [c["id"] for c in first] == [c["id"] for c in second]
    assert files_a == files_b
    assert first[0]["update_time"] + 86400 == second[0]["update_time"]


def test_sample_pictures_are_real_pngs():
    data = png(4, 3, (0, 0, 0), (255, 255, 255))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR" and int.from_bytes(data[16:20], "big") == 4
    assert int.from_bytes(data[20:24], "big") == 3
