import copy
import gzip
import json

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app, root_login_path
from archiver.db import rebuild, write_transaction
from archiver.tokens import revoke_token
from conftest import LOCAL, fixture_bytes, fixture_json

CHATGPT = "https://chatgpt.com"


def post(client, body, headers):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/api/conversations", content=content, headers=headers)


def rows(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def counts(db):
    return tuple(db.execute(f"select count(*) from {t}").fetchone()[0]
                 for t in ("chatgpt_capture", "chatgpt_conversation", "chatgpt_message"))


def test_ingest_then_repost_then_newer_branch(client, auth):
    data = fixture_json("branched.json")
    first = post(client, data, auth)
    assert first.status_code == 201
    # Answered once the raw capture is committed: the rows are derived after the answer.
    assert first.json() == {
        "ok": True, "conversation_id": data["id"], "capture_id": 1, "duplicate": False, "derived": False,
        "messages": None, "new_messages": None, "unknown_content_types": None,
    }
    again = post(client, data, auth)
    assert again.status_code == 200
    assert again.json() == first.json() | {"duplicate": True, "derived": True}

    newer = copy.deepcopy(data)
    newer["update_time"] += 60
    leaf = newer["current_node"]
    newer["mapping"][leaf]["children"] = ["regen-2"]
    newer["mapping"]["regen-2"] = {
        "id": "regen-2", "parent": leaf, "children": [],
        "message": {"id": "regen-2", "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["one more about puffins"]}},
    }
    newer["current_node"] = "regen-2"
    third = post(client, newer, auth)
    assert (third.status_code, third.json()["capture_id"]) == (201, 2)

    current = rows(client, f"/archive/chatgpt_message.json?conversation_id={data['id']}"
                           "&is_current=1&_shape=array&_col=node_id&_size=max")
    assert "regen-2" in {r["node_id"] for r in current}
    found = rows(client, "/archive/chatgpt_message.json?_search=puffins&_shape=array&_col=node_id")
    assert [r["node_id"] for r in found] == ["regen-2"]
    conversation = rows(client, f"/archive/chatgpt_conversation/{data['id']}.json?_shape=array")
    assert conversation[0]["current_node"] == "regen-2" and conversation[0]["message_count"] == 10


def test_full_text_search_reaches_code_citations_and_reasoning(client, auth):
    assert post(client, fixture_bytes("every_content_type.json"), auth).status_code == 201
    for word, content_type in [("frobnicate_widgets", "code"), ("larkspur", "text"),
                               ("quixotic", "thoughts"), ("nebulous", "hologram_v9")]:
        found = rows(client, f"/archive/chatgpt_message.json?_search={word}&_shape=array&_col=content_type")
        assert [r["content_type"] for r in found] == [content_type], word


def test_stats_counts_drift(client, auth):
    post(client, fixture_bytes("every_content_type.json"), auth)
    response = client.get("/api/stats", headers=auth)
    assert response.json() == {
        "ok": True, "conversations": 1, "messages": 39, "nodes": 40, "captures": 1,
        "captures_pending": 0, "captures_failed": 0, "unknown_content_types": {"hologram_v9": 1, "part:smell_pointer": 1},
    }
    assert client.get("/api/stats").status_code == 401
    assert client.get("/api/health").json()["ok"] is True


def test_insert_api_with_token(client, auth, db):
    conversation = {"id": "c-2023", "title": "From the 2023 snippet", "create_time": 1680000000.0,
                    "moderation_results": "[]", "current_node": "m-2", "plugin_ids": None}
    response = client.post("/archive/chatgpt_conversation/-/insert", json={"row": conversation}, headers=auth)
    assert response.status_code == 201, response.text
    messages = [
        {"id": f"m-{i}", "conversation_id": "c-2023", "author_role": role, "author_metadata": "{}",
         "create_time": 1680000000.0 + i, "end_turn": None, "weight": 1.0, "metadata": "{}",
         "recipient": "all", "content": json.dumps({"content_type": "text", "parts": [text]})}
        for i, (role, text) in enumerate([("user", "tell me about capybaras"), ("assistant", "They are large.")], 1)
    ]
    response = client.post("/archive/chatgpt_message/-/insert",
                           json={"rows": messages, "replace": True}, headers=auth)
    assert response.status_code == 201, response.text
    # Replace again (the 2023 client re-posts whole conversations).
    response = client.post("/archive/chatgpt_message/-/insert",
                           json={"rows": messages, "replace": True}, headers=auth)
    assert response.status_code == 201
    found = rows(client, "/archive/chatgpt_message.json?_search=capybaras&_shape=array&_col=text&_col=content_type")
    assert found == [{"id": "m-1", "text": "tell me about capybaras", "content_type": "text"}]
    db.execute("insert into chatgpt_message_fts(chatgpt_message_fts, rank) values ('integrity-check', 1)")


def test_insert_api_refused_without_token_or_outside_the_two_tables(client, auth):
    row = {"row": {"id": "x", "conversation_id": "c"}}
    assert client.post("/archive/chatgpt_message/-/insert", json=row).status_code == 403
    bad = {"Authorization": "Bearer cga_not-a-real-token"}
    assert client.post("/archive/chatgpt_message/-/insert", json=row, headers=bad).status_code == 403
    for table in ("chatgpt_capture", "archiver_token"):
        response = client.post(f"/archive/{table}/-/insert", json={"row": {"id": 5}}, headers=auth)
        assert response.status_code == 403, table
    # A token writes; it does not read.
    assert client.get("/archive/chatgpt_message.json", headers=auth).status_code == 403
    assert client.get("/archive/-/query.json?sql=select+1", headers=auth).status_code == 403


def test_insert_api_takes_a_whole_conversation(client, auth):
    big = [{"id": f"n{i}", "conversation_id": "c", "content": "{}"} for i in range(5000)]
    response = client.post("/archive/chatgpt_message/-/insert", json={"rows": big}, headers=auth)
    assert response.status_code == 201, response.text[:200]


@pytest.mark.parametrize("path", ["/api/conversations", "/archive/chatgpt_message/-/insert",
                                  "/archive/chatgpt_conversation/-/upsert"])
@pytest.mark.parametrize("origin", [CHATGPT, "https://chat.openai.com"])
def test_cors_preflight_allowed_for_chatgpt(client, path, origin):
    response = client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_cors_refused_for_other_origins_and_for_reading(client, auth):
    response = client.options("/api/conversations", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    posted = post(client, fixture_bytes("branched.json"), auth | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in posted.headers
    ok = post(client, fixture_bytes("branched.json"), auth | {"Origin": CHATGPT})
    assert ok.headers["access-control-allow-origin"] == CHATGPT
    # The archive's pages are not readable cross-origin, not even from chatgpt.com.
    page = client.get("/archive/chatgpt_message.json", headers={"Origin": CHATGPT})
    assert page.status_code == 200 and "access-control-allow-origin" not in page.headers


@pytest.mark.parametrize(
    "body,status,error",
    [
        (b"{not json", 400, "malformed JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b"", 400, "malformed JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"[]", 422, "not a conversation: expected a JSON object, got an array"),
        (b'{"status":"COMPLETE"}', 422,
         "not a conversation: no 'mapping' object (full tree) or 'messages' list (paged read)"),
        (b'{"conversation_id":"x","mapping":[1]}', 422, "'mapping' must be an object, got an array"),
        (b'{"mapping":{}}', 422, "not a conversation: no 'conversation_id' or 'id' string"),
    ],
)
def test_bad_bodies(client, auth, db, body, status, error):
    response = post(client, body, auth)
    assert (response.status_code, response.json()) == (status, {"ok": False, "error": error, "status": status})
    assert counts(db) == (0, 0, 0)


def test_tokens_missing_wrong_and_revoked(client, auth, db):
    body = fixture_bytes("branched.json")
    for headers, error in [({}, "missing token: send Authorization: Bearer <token>"),
                           ({"Authorization": "Basic abc"}, "missing token: send Authorization: Bearer <token>"),
                           ({"Authorization": "Bearer cga_wrong"}, "invalid or revoked token")]:
        response = post(client, body, headers)
        assert (response.status_code, response.json()["error"]) == (401, error)
        assert response.headers["www-authenticate"].startswith('Bearer realm="chatgpt-archiver"')
    assert post(client, body, auth).status_code == 201
    row = {"row": {"id": "before-revoke", "conversation_id": "c"}}
    assert client.post("/archive/chatgpt_message/-/insert", json=row, headers=auth).status_code == 201
    db.execute("delete from chatgpt_message where id = 'before-revoke'")
    db.conn.commit()
    with write_transaction(db) as conn:
        revoke_token(conn, "laptop")
    response = post(client, fixture_bytes("every_content_type.json"), auth)
    assert (response.status_code, response.json()["error"]) == (401, "invalid or revoked token")
    # The insert API, which had just accepted it, refuses it too: no cache outlives a revoke.
    row = {"row": {"id": "after-revoke", "conversation_id": "c"}}
    assert client.post("/archive/chatgpt_message/-/insert", json=row, headers=auth).status_code == 403
    assert counts(db) == (1, 1, len(fixture_json("branched.json")["mapping"]))


def test_oversize_body(db_path, auth, db):
    with TestClient(create_app(db_path, max_body=1000), base_url=LOCAL) as client:
        response = post(client, fixture_bytes("branched.json"), auth)
        assert (response.status_code, response.json()) == (
            413, {"ok": False, "error": "request body is over the 1000 byte limit", "status": 413})
        # Without a Content-Length, the limit holds while streaming.
        chunks = iter([b"{" + b" " * 600, b" " * 600 + b"}"])
        response = client.post("/api/conversations", content=chunks, headers=auth)
        assert response.status_code == 413
    assert counts(db) == (0, 0, 0)


def test_rows_that_cannot_be_written_leave_the_capture_kept_and_counted(client, auth, db):
    # The raw capture is committed before the answer; its rows come after. When they cannot
    # be written, the capture stays, marked failed, and /api/stats says so. (A capture that
    # cannot be kept at all is a 503: tests/test_faults.py.)
    db.execute("create trigger fail before insert on chatgpt_message begin select raise(abort, 'disk I/O error'); end")
    db.conn.commit()
    response = post(client, fixture_bytes("branched.json"), auth)
    assert response.status_code == 201
    assert counts(db) == (1, 0, 0)
    assert db.execute("select capture_id, error from chatgpt_capture_pending").fetchall() == [
        (1, "cannot write rows: disk I/O error")]
    stats = client.get("/api/stats", headers=auth).json()
    assert (stats["captures"], stats["captures_pending"], stats["captures_failed"]) == (1, 0, 1)
    # Later captures are not held up by it...
    db.execute("drop trigger fail")
    db.conn.commit()
    assert post(client, fixture_bytes("every_content_type.json"), auth).status_code == 201
    assert counts(db) == (2, 1, 40)
    # ...and a rebuild derives it once it can be written.
    with write_transaction(db) as conn:
        assert rebuild(conn) == (2, 0)
    assert counts(db) == (2, 2, 50)
    assert db.execute("select count(*) from chatgpt_capture_pending").fetchone()[0] == 0


def test_a_capture_that_cannot_be_reshaped_after_the_answer_is_kept_and_reported(client, auth, db):
    # Parsing and the top-level shape are checked before the answer; nesting too deep to
    # re-serialise (about 1,000 levels: orjson parses it, no JSON writer in Python writes it)
    # shows only when deriving. The capture is kept as posted, marked failed, and reported.
    deep = '"x"'
    for _ in range(1000):
        deep = '{"a":' + deep + '}'
    raw = ('{"conversation_id":"deep","mapping":{"a":{"parent":null,"children":[],"message":{"id":"a",'
           '"author":{"role":"user"},"content":{"content_type":"text","parts":["hi"]},"metadata":'
           + deep + '}}}}').encode()
    response = post(client, raw, auth)
    assert (response.status_code, response.json()["conversation_id"]) == (201, "deep")
    assert counts(db) == (1, 0, 0)
    assert db.execute("select error from chatgpt_capture_pending").fetchall() == [("not a conversation: nested too deeply",)]
    kept = db.execute("select body from chatgpt_capture").fetchone()[0]

    assert gzip.decompress(kept) == raw
    stats = client.get("/api/stats", headers=auth).json()
    assert (stats["captures"], stats["captures_pending"], stats["captures_failed"]) == (1, 0, 1)


def test_public_bind_is_private_until_root_signs_in(db_path, auth):
    with TestClient(create_app(db_path, public=True)) as client:
        for path in ["/", "/archive", "/archive/chatgpt_message", "/archive/chatgpt_message.json",
                     "/archive/-/query.json?sql=select+*+from+chatgpt_message", "/archive/chatgpt_capture.json"]:
            assert client.get(path).status_code == 403, path
        assert post(client, fixture_bytes("branched.json"), auth).status_code == 201
        row = {"row": {"id": "p1", "conversation_id": "c"}}
        assert client.post("/archive/chatgpt_message/-/insert", json=row, headers=auth).status_code == 201
        assert client.get(root_login_path(client.app), follow_redirects=False).status_code == 302
        assert client.get("/archive/chatgpt_message.json").status_code == 200


def test_userscript_is_served_prefilled_without_a_token(client, auth):
    response = client.get("/userscript.user.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    body = response.text
    assert body.startswith("// ==UserScript==")
    assert 'var ARCHIVER_SERVER = "http://127.0.0.1";' in body
    assert 'var ARCHIVER_TOKEN = "__ARCHIVER_TOKEN__";' in body
    assert "// @connect      127.0.0.1" in body
    assert auth["Authorization"].split()[1] not in body


def test_wanted_lists_missing_and_outdated_conversations(client, auth):
    data = fixture_json("branched.json")
    post(client, data, auth)
    from datetime import datetime, timezone

    iso = lambda t: datetime.fromtimestamp(t, timezone.utc).isoformat()  # noqa: E731
    listing = {"conversations": [
        {"id": data["id"], "update_time": iso(data["update_time"])},          # same: not wanted
        {"id": "new-one", "update_time": iso(1790000000)},                     # missing
        {"id": data["id"] + "x", "update_time": None},                         # missing, no time
    ]}
    response = client.post("/api/conversations/wanted", json=listing, headers=auth)
    assert response.json() == {"ok": True, "wanted": ["new-one", data["id"] + "x"]}
    listing["conversations"][0]["update_time"] = data["update_time"] + 5      # changed since
    response = client.post("/api/conversations/wanted", json=listing, headers=auth)
    assert response.json()["wanted"] == [data["id"], "new-one", data["id"] + "x"]
    assert client.post("/api/conversations/wanted", json=listing).status_code == 401
    bad = client.post("/api/conversations/wanted", json={"conversations": [{"id": 3}]}, headers=auth)
    assert (bad.status_code, bad.json()["status"]) == (422, 422)


def test_api_paths_answer_wrong_methods_and_unknown_paths_in_json(client):
    response = client.get("/api/conversations")
    assert (response.status_code, response.json()) == (405, {"ok": False, "error": "Method Not Allowed", "status": 405})
    response = client.get("/api/nope")
    assert (response.status_code, response.json()) == (404, {"ok": False, "error": "no such API endpoint", "status": 404})
