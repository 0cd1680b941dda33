"""Who may read and write what, in-process: Host names, tokens, cross-site requests, and
every route Datasette and we serve, crawled anonymously on a public bind."""

import json
import re
import time

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app, root_login_path
from archiver.db import publish_conversation, write_transaction
from conftest import LOCAL, fixture_bytes, fixture_json

BRANCHED = fixture_json("branched.json")  # stays private
EVERY = fixture_json("every_content_type.json")  # gets published
# Words only the private conversation holds (its title and messages).
PRIVATE = re.compile(r"sourdough|slight dome|Dutch oven|in the fridge is typical", re.I)


def dump(db):
    """Every row of every table: what must not change when a write is refused. Token use
    stamps ``last_used_at``, which is bookkeeping, not a write by the caller."""
    tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table' order by name")]
    columns = {"archiver_token": "name, token_hash, created_at, revoked_at"}
    return {t: sorted(map(repr, db.execute(f"select {columns.get(t, '*')} from [{t}]"))) for t in tables}


@pytest.mark.parametrize("host", ["127.0.0.1:8001", "127.0.0.1", "localhost:8001", "[::1]:8001",
                                  "127.9.9.9", "app.localhost:8001", "LOCALHOST"])
def test_loopback_names_are_served(client, host):
    assert client.get("/api/health", headers={"Host": host}).status_code == 200
    assert client.get("/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8001", "127.0.0.1.evil.example",
                                  "192.168.1.20:8001", "[::ffff:10.0.0.1]", ""])
@pytest.mark.parametrize("path", ["/", "/archive/chatgpt_message.json", "/-/search?q=x", "/api/health"])
def test_other_host_names_are_refused_on_loopback(client, host, path):
    # A page whose domain was re-pointed at 127.0.0.1 (DNS rebinding) is same-origin to
    # the browser; the Host header it sends is the only tell.
    response = client.get(path, headers={"Host": host})
    assert (response.status_code, response.json()) == (421, {
        "ok": False, "status": 421,
        "error": "this archive answers only to loopback names (127.0.0.1, localhost)"})


def test_any_host_name_is_served_beyond_loopback(db_path):
    with TestClient(create_app(db_path, public=True), base_url="http://archive.home.lan:8001") as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/archive/chatgpt_message.json").status_code == 403  # private, not refused


def test_token_tables_are_for_root_only_even_on_loopback(client, auth):
    for path in ["/archive/archiver_token", "/archive/archiver_token.json", "/archive/archiver_meta.json"]:
        assert client.get(path).status_code == 403, path
    assert client.get("/archive/chatgpt_message.json").status_code == 200


def test_the_cookie_secret_is_not_in_the_archive(client, db, db_path):
    rows = client.get("/archive/-/query.json?sql=select+key+from+archiver_meta&_shape=arrays").json()["rows"]
    assert ["datasette_secret"] not in rows
    secret_file = db_path.parent / "archive.db.secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert len(secret_file.read_text().strip()) == 64


def test_an_archive_that_held_the_secret_loses_it_on_open(db_path):
    from archiver.db import open_db

    db = open_db(db_path)  # as an archive made before m004: the secret in archiver_meta
    db.execute("insert into archiver_meta (key, value) values ('datasette_secret', 'old')")
    db.execute("delete from _sqlite_migrations where name = 'm004_secret_out_of_the_archive'")
    db.conn.commit()
    db.close()
    db = open_db(db_path)
    assert db.execute("select count(*) from archiver_meta where key = 'datasette_secret'").fetchone()[0] == 0
    db.close()


WRITES = [
    ("/archive/-/create", {"table": "new_table", "row": {"id": 1}}),
    ("/archive/-/execute-write", {"sql": "delete from chatgpt_message"}),
    ("/archive/-/queries/store", {"name": "q", "sql": "select 1"}),
    ("/archive/chatgpt_message/-/drop", {"confirm": True}),
    ("/archive/chatgpt_message/-/alter", {"add_column": {"name": "x", "type": "text"}}),
    ("/archive/chatgpt_message/-/set-column-type", {"column": "text", "type": "integer"}),
    ("/archive/chatgpt_conversation/-/drop", {"confirm": True}),
]
OTHER_TABLES = ["chatgpt_capture", "archiver_token", "archiver_meta", "chatgpt_public", "chatgpt_asset",
                "chatgpt_asset_file", "chatgpt_message_asset", "chatgpt_textdoc", "_sqlite_migrations",
                "chatgpt_message_fts", "chatgpt_embedding"]
for _table in OTHER_TABLES:
    WRITES += [(f"/archive/{_table}/-/insert", {"row": {"id": "x"}}),
               (f"/archive/{_table}/-/upsert", {"rows": [{"id": "x"}]}),
               (f"/archive/{_table}/-/drop", {"confirm": True})]


def settled(db, seconds=60):
    """Wait until the server has embedded every message: its own writes, not a token's."""
    from archiver.semantic import pending_messages

    deadline = time.monotonic() + seconds
    while pending_messages(db.conn, 1) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pending_messages(db.conn, 1)


def _message_pk(db):
    return db.execute("select id from chatgpt_message where author_role = 'user' limit 1").fetchone()[0]


def test_a_token_cannot_write_outside_the_two_tables(client, auth, db):
    assert client.post("/api/conversations", content=fixture_bytes("branched.json"), headers=auth).status_code == 201
    settled(db)  # the server's own background work (embeddings) is not the token's
    before = dump(db)
    pk = _message_pk(db)
    writes = WRITES + [(f"/archive/chatgpt_message/{pk}/-/delete", {}),
                       ("/archive/chatgpt_capture/1/-/update", {"update": {"source": "x"}}),
                       ("/archive/chatgpt_capture/1/-/delete", {})]
    refused = {path: client.post(path, json=body, headers=auth).status_code for path, body in writes}
    assert refused == {path: 403 for path, _ in writes}
    assert dump(db) == before
    # What it may do: update a row of the two tables (here, setting what is already there).
    response = client.post(f"/archive/chatgpt_message/{pk}/-/update", json={"update": {"weight": 1.0}}, headers=auth)
    assert response.status_code == 200, response.text


def test_nobody_without_a_token_writes_anything_on_loopback(client, auth, db):
    assert client.post("/api/conversations", content=fixture_bytes("branched.json"), headers=auth).status_code == 201
    settled(db)  # the server's own background work (embeddings) is not the token's
    before = dump(db)
    pk = _message_pk(db)
    writes = WRITES + [(f"/archive/{t}/-/insert", {"row": {"id": "x", "conversation_id": "c"}})
                       for t in ("chatgpt_message", "chatgpt_conversation")]
    writes += [(f"/archive/chatgpt_message/{pk}/-/delete", {}),
               (f"/archive/chatgpt_message/{pk}/-/update", {"update": {"text": "changed"}})]
    statuses = {path: client.post(path, json=body).status_code for path, body in writes}
    assert statuses == {path: 403 for path, _ in writes}
    assert client.post("/api/conversations", content=fixture_bytes("branched.json")).status_code == 401
    assert dump(db) == before


def test_a_signed_in_cookie_cannot_write_cross_site(db_path, db):
    row = {"row": {"id": "cross-site", "conversation_id": "c"}}
    with TestClient(create_app(db_path, root=True), base_url=LOCAL) as client:
        client.get(root_login_path(client.app))  # root's cookie is now in the client
        cross_site = [
            # fetch() with credentials from another site: the browser sends Origin and Sec-Fetch-Site.
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
            # A <form enctype="text/plain"> post shaped as JSON.
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
            # Older browsers: Origin only. A sandboxed frame: Origin null.
            {"Origin": "https://evil.example", "Content-Type": "application/json"},
            {"Origin": "null", "Content-Type": "application/json"},
            # Even chatgpt.com, which CORS admits for token-carrying posts, gets nothing with cookies.
            {"Origin": "https://chatgpt.com", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
        ]
        for headers in cross_site:
            response = client.post("/archive/chatgpt_message/-/insert", content=json.dumps(row), headers=headers)
            assert response.status_code == 403, (headers, response.text)
            response = client.post("/api/conversations", content=fixture_bytes("branched.json"), headers=headers)
            assert response.status_code == 401, headers  # cookies never authorise ingest
        assert db.execute("select count(*) from chatgpt_message").fetchone()[0] == 0
        # The same cookie from the archive's own page does write: the refusals above are
        # about the origin, not a cookie that could not have worked anyway.
        same_site = {"Origin": LOCAL, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
        response = client.post("/archive/chatgpt_message/-/insert", content=json.dumps(row), headers=same_site)
        assert response.status_code == 201, response.text


def anonymous_urls(db, published, private):
    """Every GET route Datasette and this package serve, filled in for this archive."""
    tables = [r[0] for r in db.execute("select name from sqlite_master where type in ('table', 'view')")]
    capture = db.execute("select id from chatgpt_capture where conversation_id = ?", [private]).fetchone()[0]
    pk = _message_pk_of(db, private)
    urls = ["/", "/.json", "/-/", "/-/.json", "/archive", "/archive.json", "/archive.db",
            "/archive/-/query?sql=select+*+from+chatgpt_message", "/archive/-/query.json?sql=select+*+from+chatgpt_message",
            "/archive/-/query.csv?sql=select+*+from+chatgpt_capture", "/archive/-/schema", "/archive/-/schema.json",
            "/archive/-/schema.md", "/archive/-/queries.json", "/archive/-/foreign-key-targets",
            "/-/schema", "/-/schema.json", "/-/schema.md", "/-/databases.json", "/-/jump.json?q=c",
            "/-/search?q=proof", "/-/search?q=oven", "/-/dashboard", "/-/published", f"/-/c/{private}",
            f"/-/c/{private}.md", f"/-/c/{private}.json", f"/-/capture/{capture}.json", "/-/asset/file-x",
            "/-/metadata.json", "/-/config.json", "/-/settings.json", "/-/threads.json", "/-/tasks.json",
            "/-/actor.json", "/-/actions.json", "/-/queries.json", "/-/permissions", "/-/allowed.json?action=view-table",
            "/-/rules.json?action=view-table", "/-/check.json?action=view-table", "/-/messages", "/-/allow-debug",
            "/-/patterns", "/-/debug/autocomplete", "/-/api", "/-/create-token",
            f"/-/c/{published}", f"/-/c/{published}.json", "/archive/public_conversations.json",
            "/archive/public_messages.json"]
    for table in tables:
        urls += [f"/archive/{table}", f"/archive/{table}.json", f"/archive/{table}.csv",
                 f"/archive/{table}.json?_search=proof", f"/archive/{table}/-/schema.json",
                 f"/archive/{table}/-/count", f"/archive/{table}/-/fragment", f"/archive/{table}/-/autocomplete?q=s",
                 f"/archive/{table}/-/foreign-key-suggestions"]
    urls += [f"/archive/chatgpt_message/{pk}", f"/archive/chatgpt_message/{pk}.json",
             f"/archive/chatgpt_conversation/{private}.json", f"/archive/chatgpt_capture/{capture}.json"]
    return urls


def _message_pk_of(db, cid):
    return db.execute("select id from chatgpt_message where conversation_id = ? and author_role = 'user'"
                      " limit 1", [cid]).fetchone()[0]


def test_beyond_loopback_nothing_private_is_readable_anonymously(db_path, db, auth):
    published, private = EVERY["conversation_id"], BRANCHED["id"]
    app = create_app(db_path, public=True)
    with TestClient(app, base_url="http://archive.home.lan:8001", raise_server_exceptions=False) as client:
        for name in ("branched.json", "every_content_type.json"):
            assert client.post("/api/conversations", content=fixture_bytes(name), headers=auth).status_code == 201
        with write_transaction(db) as conn:
            publish_conversation(conn, published)
        readable, leaks = [], []
        for url in anonymous_urls(db, published, private):
            response = client.get(url, follow_redirects=False)
            assert response.status_code < 500, url
            if response.status_code == 200:
                readable.append(url)
            if PRIVATE.search(response.text):
                leaks.append(url)
        assert leaks == []
        # Readable: the published conversation, the public views, and pages that list only
        # what this visitor may see (empty schema and query lists, the jump menu's public views)
        # or hold nothing of the archive (who am I, the permission debugger's form).
        views = [f"/archive/{v}{suffix}" for v in ("public_conversations", "public_messages")
                 for suffix in ("", ".json", ".csv", ".json?_search=proof", "/-/schema.json", "/-/fragment")]
        assert sorted(set(readable)) == sorted([
            f"/-/c/{published}", f"/-/c/{published}.json", "/-/published", "/-/actor.json",
            "/-/allow-debug", "/-/jump.json?q=c", "/-/queries.json", "/archive/-/queries.json",
            "/-/schema", "/-/schema.json", "/-/schema.md", *views])
        assert client.get("/-/schema.json").json()["schemas"] == []
        # ...and signed in, the private ones are: the crawl would have seen a leak.
        client.get(root_login_path(client.app))
        assert PRIVATE.search(client.get(f"/-/c/{private}").text)
        assert PRIVATE.search(client.get("/archive/chatgpt_message.json?_size=max").text)
