"""Issue 12, class 3: a token's insert API may create rows, never take over stored ones: no
moving a message to another conversation or node, no changing which messages are shown, no
erasing or rewriting what a capture wrote."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from archiver.app import create_app
from archiver.db import open_db, publish_conversation, write_transaction
from archiver.tokens import create_token

from conftest import LOCAL
from untrusted import conversation, message, raw

PRIVATE_TEXT = "the private pelican secret"


def captures():
    private = conversation("private", [
        ("p-ci", None, message("p-ci", "user", "custom instructions", ctype="user_editable_context")),
        ("p-1", "p-ci", message("p-1", "user", PRIVATE_TEXT)),
        ("p-2", "p-1", message("p-2", "assistant", "a private answer")),
    ])
    published = conversation("public", [
        ("q-1", None, message("q-1", "user", "a public question")),
        ("q-2", "q-1", message("q-2", "assistant", "a public answer")),
    ])
    return private, published


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    path = tmp_path_factory.mktemp("insert") / "archive.db"
    db = open_db(path)
    with write_transaction(db) as conn:
        token = create_token(conn, "t")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(path), base_url=LOCAL, raise_server_exceptions=False) as client:
        for data in captures():
            assert client.post("/api/conversations", content=raw(data), headers=auth).status_code == 201
        with write_transaction(db) as conn:
            publish_conversation(conn, "public")
        yield client, auth, db
    db.close()


def dump(db):
    return {t: db.execute(f"select * from {t} order by 1").fetchall()
            for t in ("chatgpt_message", "chatgpt_conversation")}


def public_text(client):
    rows = client.get("/archive/public_messages.json?_shape=array&_size=max").json()
    return " ".join(r["text"] or "" for r in rows)


def row_id(db, node):
    return db.execute("select id from chatgpt_message where node_id = ?", [node]).fetchone()[0]


TAKEOVERS = [
    {"conversation_id": "public"}, {"node_id": "elsewhere"}, {"is_current": 0}, {"is_hidden": 1}, {"parent_id": "q-2"}, {"child_index": 7}, {"text": None}, {"text": "rewritten"},
    {"message_rest": None}, {"message_rest": "{}"}, {"content": None}, {"author_role": "assistant"}, {"create_time": None},
]


@pytest.mark.parametrize("change", TAKEOVERS, ids=lambda c: json.dumps(c))
def test_a_token_cannot_take_over_a_captured_message(api, change):
    client, auth, db = api
    before = dump(db)
    pk = row_id(db, "p-1")
    attempts = [
        (f"/archive/chatgpt_message/{pk}/-/update", {"update": change}),
        ("/archive/chatgpt_message/-/upsert", {"rows": [{"id": pk, **change}]}),
        ("/archive/chatgpt_message/-/insert", {"rows": [{"id": pk, "conversation_id": "private",
                                                         "node_id": "p-1", **change}], "replace": True}),
    ]
    for path, body in attempts:
        response = client.post(path, json=body, headers=auth)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["ok"] is False and "capture" in response.text
    assert dump(db) == before
    assert PRIVATE_TEXT not in public_text(client)


def test_message_json_is_computed_and_no_route_writes_it(api):
    client, auth, db = api
    before = dump(db)
    pk = row_id(db, "p-1")
    for path, body in [
        (f"/archive/chatgpt_message/{pk}/-/update", {"update": {"message_json": "{}"}}),
        ("/archive/chatgpt_message/-/upsert", {"rows": [{"id": pk, "message_json": "{}"}]}),
        ("/archive/chatgpt_message/-/insert", {"rows": [{"id": "new", "conversation_id": "private",
                                                         "node_id": "new", "message_json": "{}"}]}),
    ]:
        response = client.post(path, json=body, headers=auth)
        assert (response.status_code, response.json()["ok"]) == (400, False), (path, response.text)
        assert "generated column" in response.json()["error"]
    assert dump(db) == before


def test_a_token_cannot_move_a_message_into_a_published_conversation_by_any_route(api):
    client, auth, db = api
    before = dump(db)
    hidden = row_id(db, "p-ci")
    for pk in (row_id(db, "p-1"), hidden):
        for body in ({"conversation_id": "public", "is_hidden": 0, "is_current": 1},
                     {"conversation_id": "public"}):
            assert client.post(f"/archive/chatgpt_message/{pk}/-/update", json={"update": body},
                               headers=auth).status_code == 400
    # Replacing the published conversation's node row with a private one's id.
    response = client.post("/archive/chatgpt_message/-/insert", headers=auth, json={
        "rows": [{"id": "other", "conversation_id": "public", "node_id": "q-1", "text": "x"}], "replace": True})
    assert response.status_code == 400
    assert dump(db) == before
    assert PRIVATE_TEXT not in public_text(client) and "custom instructions" not in public_text(client)


def test_a_token_cannot_rewrite_a_captured_conversation(api):
    client, auth, db = api
    before = dump(db)
    for path, body in [
        ("/archive/chatgpt_conversation/private/-/update", {"update": {"title": None}}),
        ("/archive/chatgpt_conversation/private/-/update", {"update": {"current_leaf": "p-ci"}}),
        ("/archive/chatgpt_conversation/private/-/update", {"update": {"id": "renamed"}}),
        ("/archive/chatgpt_conversation/-/upsert", {"rows": [{"id": "private", "title": "x"}]}),
        ("/archive/chatgpt_conversation/-/insert", {"rows": [{"id": "private", "title": "x"}], "replace": True}),
    ]:
        response = client.post(path, json=body, headers=auth)
        assert response.status_code == 400, (path, response.text)
    assert dump(db) == before


def test_what_a_token_may_still_do(api):
    client, auth, db = api
    pk = row_id(db, "p-2")
    # Set what is there already, fill in an empty column of a captured row.
    assert client.post(f"/archive/chatgpt_message/{pk}/-/update", json={"update": {"weight": 1.0}},
                       headers=auth).status_code == 200
    assert client.post(f"/archive/chatgpt_message/{pk}/-/update", json={"update": {"channel": "final"}},
                       headers=auth).status_code == 200
    assert db.execute("select channel from chatgpt_message where id = ?", [pk]).fetchone() == ("final",)
    # Create rows, 2023-style, and then change their own content (no capture is behind them).
    assert client.post("/archive/chatgpt_conversation/-/insert", json={"row": {"id": "mine", "title": "t"}},
                       headers=auth).status_code == 201
    row = {"id": "m-1", "conversation_id": "mine", "content": json.dumps({"content_type": "text", "parts": ["hi"]})}
    assert client.post("/archive/chatgpt_message/-/insert", json={"row": row}, headers=auth).status_code == 201
    assert db.execute("select node_id, text from chatgpt_message where id = 'm-1'").fetchone() == ("m-1", "hi")
    assert client.post("/archive/chatgpt_message/m-1/-/update", json={"update": {"text": "hello"}},
                       headers=auth).status_code == 200
    assert client.post("/archive/chatgpt_message/-/upsert", json={"rows": [{"id": "m-1", "text": "hey"}]},
                       headers=auth).status_code == 200
    assert client.post("/archive/chatgpt_conversation/mine/-/update", json={"update": {"title": "new"}},
                       headers=auth).status_code == 200
    # ...but not move them into another conversation either.
    assert client.post("/archive/chatgpt_message/m-1/-/update", json={"update": {"conversation_id": "public"}},
                       headers=auth).status_code == 400


columns = st.sampled_from(["conversation_id", "node_id", "is_current", "is_hidden", "parent_id", "child_index",
                           "text", "content", "message_json", "author_role", "model", "weight", "channel", "id"])
values = st.none() | st.sampled_from(["public", "private", "q-1", "p-1", "x", 0, 1, 2, 1.5])


def test_no_sequence_of_insert_api_writes_changes_what_captures_wrote(tmp_path):
    path = tmp_path / "archive.db"
    db = open_db(path)
    with write_transaction(db) as conn:
        token = create_token(conn, "t")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(path), base_url=LOCAL, raise_server_exceptions=False) as client:
        for data in captures():
            client.post("/api/conversations", content=raw(data), headers=auth)
        captured = {r[0]: r for r in db.execute("select * from chatgpt_message")}
        conversations = db.execute("select * from chatgpt_conversation order by id").fetchall()
        names = [d[1] for d in db.execute("pragma table_info(chatgpt_message)")]

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.sampled_from(sorted(captured) + ["new-row"]), st.dictionaries(columns, values, min_size=1, max_size=4),
               st.sampled_from(["update", "upsert", "replace", "insert"]))
        def write(pk, change, how):
            if how == "update":
                response = client.post(f"/archive/chatgpt_message/{pk}/-/update", json={"update": change}, headers=auth)
            else:
                body = {"rows": [{"id": pk, **change}]}
                if how == "replace":
                    body["replace"] = True
                response = client.post(f"/archive/chatgpt_message/-/{'upsert' if how == 'upsert' else 'insert'}",
                                       json=body, headers=auth)
            assert response.status_code < 500, response.text
            for row_id, row in captured.items():
                now = db.execute("select * from chatgpt_message where id = ?", [row_id]).fetchone()
                assert now is not None, row_id
                for name, old, new in zip(names, row, now):
                    assert old is None or new == old, (row_id, name, old, new)
            assert db.execute("select * from chatgpt_conversation where id in ('private', 'public') order by id"
                              ).fetchall() == conversations

        write()
    db.close()


def test_rebuild_repairs_what_a_token_could_do_before(tmp_path):
    """An archive from before the guards: a token moved a private message and a hidden one
    into the published conversation, unhid and re-branched messages, erased a title."""
    from archiver.db import rebuild

    path = tmp_path / "archive.db"
    db = open_db(path)
    with write_transaction(db) as conn:
        token = create_token(conn, "t")
        for name in ("chatgpt_message_keeps_identity", "chatgpt_message_keeps_capture",
                     "chatgpt_message_insert_keeps_rows", "chatgpt_conversation_keeps_capture",
                     "chatgpt_conversation_insert_keeps_rows"):
            conn.execute(f"drop trigger {name}")  # the archive as it was before m016
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(path), base_url=LOCAL, raise_server_exceptions=False) as client:
        for data in captures():
            assert client.post("/api/conversations", content=raw(data), headers=auth).status_code == 201
        expected = dump(db)
        with write_transaction(db) as conn:
            publish_conversation(conn, "public")
        for pk, change in [("p-1", {"conversation_id": "public", "parent_id": "q-2"}),
                           ("p-ci", {"conversation_id": "public", "is_hidden": 0}),
                           ("q-2", {"text": None, "is_current": 0}), ("p-2", {"text": "rewritten"})]:
            response = client.post(f"/archive/chatgpt_message/{pk}/-/update", json={"update": change}, headers=auth)
            assert response.status_code == 200, response.text
        assert client.post("/archive/chatgpt_conversation/private/-/update", json={"update": {"title": None}},
                           headers=auth).status_code == 200
        assert PRIVATE_TEXT in public_text(client)  # the damage the issue describes
        with write_transaction(db) as conn:
            rebuild(conn)
        assert PRIVATE_TEXT not in public_text(client)
        repaired = dump(db)
        moved = {r[0] for r in repaired["chatgpt_message"]} - {r[0] for r in expected["chatgpt_message"]}
        # Every captured node is back in its conversation with what its capture says (the
        # two moved ones under new row ids, as their old ones were taken).
        strip = lambda rows: sorted((r[1:] for r in rows), key=repr)  # noqa: E731 (all but the row id)
        assert strip(repaired["chatgpt_message"]) == strip(expected["chatgpt_message"])
        assert moved == {"private:p-1", "private:p-ci"}
        assert repaired["chatgpt_conversation"] == expected["chatgpt_conversation"]
    db.close()
