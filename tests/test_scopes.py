"""Token scopes: a read token (for AI tools over MCP) is refused by every write endpoint, a
write token keeps doing what tokens always did. (MCP's side: tests/test_mcp.py.)"""

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.db import write_transaction
from archiver.tokens import TokenError, WrongScope, check_token, create_token
from conftest import fixture_bytes


@pytest.fixture
def reader(db):
    with write_transaction(db) as conn:
        return {"Authorization": f"Bearer {create_token(conn, 'claude', 'read')}"}


WRITES = [
    ("/api/conversations", {"content": fixture_bytes("branched.json")}),
    ("/api/conversations/wanted", {"json": {"conversations": [{"id": "x"}]}}),
    ("/api/conversations/listed", {"json": {"account_id": "a", "complete": True, "ids": []}}),
    ("/api/assets?file_id=file-1&conversation_id=c1", {"content": b"bytes"}),
    ("/api/assets/wanted", {"json": {"file_ids": ["file-1"]}}),
    ("/api/textdocs?conversation_id=c1", {"json": [{"id": "t1", "content": "x"}]}),
]


@pytest.mark.parametrize("path,body", WRITES, ids=["ingest", "wanted", "listed", "assets", "assets-wanted",
                                                    "textdocs"])
def test_a_read_token_cannot_use_the_write_api(client, reader, db, path, body):
    response = client.post(path, headers=reader, **body)
    assert response.status_code == 403
    assert response.json() == {"ok": False, "status": 403,
                               "error": "token 'claude' is a read token; this needs a write token"}
    for table in ("chatgpt_capture", "chatgpt_asset", "chatgpt_textdoc"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_a_read_token_cannot_use_the_insert_api(client, reader, db):
    for table, row in (("chatgpt_conversation", {"id": "c1", "title": "t"}),
                       ("chatgpt_message", {"id": "m1", "conversation_id": "c1"})):
        response = client.post(f"/archive/{table}/-/insert", json={"row": row}, headers=reader)
        assert response.status_code == 403
    assert db.execute("SELECT count(*) FROM chatgpt_conversation").fetchone()[0] == 0
    assert client.get("/api/stats", headers=reader).status_code == 403


def test_a_write_token_still_writes(client, auth):
    assert client.post("/api/conversations", content=fixture_bytes("branched.json"), headers=auth).status_code == 201


def test_scope_checks_and_defaults(db):
    with write_transaction(db) as conn:
        read = create_token(conn, "r", "read")
        # A token from before scopes existed is a write token.
        conn.execute("INSERT INTO archiver_token (name, token_hash, created_at) VALUES ('old', 'h', 'now')")
        with pytest.raises(TokenError, match="scope is one of write, read, not 'admin'"):
            create_token(conn, "x", "admin")
    assert check_token(db.conn, read, "read") == "r"
    with pytest.raises(WrongScope):
        check_token(db.conn, read)
    assert db.execute("SELECT scope FROM archiver_token WHERE name = 'old'").fetchone() == ("write",)


def test_cli_creates_and_lists_scoped_tokens(db_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["token", "create", "--db", str(db_path), "--name", "claude", "--scope", "read"]).exit_code == 0
    listed = runner.invoke(cli, ["token", "list", "--db", str(db_path)]).output.splitlines()
    assert listed[0].split() == ["name", "scope", "created", "last", "used", "status"]
    assert listed[1].split()[:2] == ["claude", "read"]
    bad = runner.invoke(cli, ["token", "create", "--db", str(db_path), "--name", "x", "--scope", "admin"])
    assert bad.exit_code == 2 and "'admin' is not one of 'write', 'read'" in bad.output
