"""Issue 12, class 4: a published conversation shows anyone exactly what the public views
show (current branch, no hidden node, no custom instructions), no more: not through ?leaf=,
the .md or .json exports, raw captures, token names, or files another capture links."""

import hashlib

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app, root_login_path
from archiver.db import open_db, publish_conversation, write_transaction
from archiver.tokens import create_token

from untrusted import conversation, message, raw

SECRETS = ["custom instructions: I live at 12 Hidden Lane", "the other branch answer", "hidden tool output",
           "private-token-name", "a private conversation's words", "system prompt words"]


def attached(msg, *file_ids):
    msg["metadata"]["attachments"] = [{"id": f, "name": f"{f}.png"} for f in file_ids]
    return msg


def published_capture():
    return conversation("pub", [
        ("sys", None, message("sys", "system", "system prompt words", hidden=True)),
        ("ci", "sys", message("ci", "user", SECRETS[0], ctype="user_editable_context")),
        ("u1", "ci", attached(message("u1", "user", "a public question"), "file-shown")),
        ("other", "u1", attached(message("other", "assistant", SECRETS[1]), "file-other-branch")),
        ("a1", "u1", message("a1", "assistant", "a public answer")),
        ("tool", "a1", message("tool", "tool", SECRETS[2])),
        ("a2", "tool", message("a2", "assistant", "a public follow-up")),
    ], current="a2")


def private_capture():
    return conversation("priv", [("p1", None, attached(message("p1", "user", SECRETS[4]), "file-private"))])


def add_file(conn, file_id):
    data = b"\x89PNG\r\n\x1a\n" + file_id.encode()
    digest = hashlib.sha256(data).hexdigest()
    conn.execute("insert into chatgpt_asset values (?, ?, 'image/png', ?)", [digest, len(data), data])
    conn.execute("insert into chatgpt_asset_file values (?, ?, ?, ?)", [f"{file_id}.png", file_id, f"{file_id}.png", digest])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = tmp_path_factory.mktemp("published") / "archive.db"
    db = open_db(path)
    with write_transaction(db) as conn:
        token = create_token(conn, SECRETS[3])
        for f in ("file-shown", "file-other-branch", "file-private", "file-orphan"):
            add_file(conn, f)
    auth = {"Authorization": f"Bearer {token}"}
    app = create_app(path, public=True)
    with TestClient(app, base_url="http://archive.example:8001", raise_server_exceptions=False) as anonymous:
        for data in (published_capture(), private_capture()):
            assert anonymous.post("/api/conversations", content=raw(data), headers=auth).status_code == 201
        with write_transaction(db) as conn:
            publish_conversation(conn, "pub")
        yield anonymous, auth, db
    db.close()


def public_texts(client):
    rows = client.get("/archive/public_messages.json?_shape=array&_size=max").json()
    return sorted(r["text"] for r in rows if r["conversation_id"] == "pub")


def test_the_views_themselves_hold_only_the_current_visible_branch(site):
    client, _, _ = site
    assert public_texts(client) == ["a public answer", "a public follow-up", "a public question"]


@pytest.mark.parametrize("path", ["/-/c/pub", "/-/c/pub?leaf=other", "/-/c/pub?leaf=ci", "/-/c/pub?leaf=tool",
                                  "/-/c/pub.md", "/-/c/pub.md?leaf=other", "/-/c/pub.json", "/-/c/pub.json?leaf=other"])
def test_a_published_conversation_shows_nothing_more(site, path):
    client, _, _ = site
    response = client.get(path)
    assert response.status_code == 200
    for secret in SECRETS:
        assert secret not in response.text, (path, secret)
    for shown in public_texts(client):
        assert shown in response.text
    assert "/-/capture/" not in response.text


def test_the_json_export_is_the_public_view_in_chatgpts_shape(site):
    client, _, _ = site
    data = client.get("/-/c/pub.json").json()
    texts = sorted(part for node in data["mapping"].values() for part in node["message"]["content"]["parts"])
    assert texts == public_texts(client)
    chain, node = [], data["current_node"]
    while node:
        chain.append(node)
        node = data["mapping"][node]["parent"]
    assert chain == ["a2", "a1", "u1"]
    assert set(data) == {"id", "conversation_id", "title", "create_time", "update_time", "current_node", "mapping"}


def test_raw_captures_are_never_public(site):
    client, _, db = site
    for (capture_id,) in db.execute("select id from chatgpt_capture"):
        assert client.get(f"/-/capture/{capture_id}.json").status_code == 403


def test_only_files_its_public_messages_link_are_public(site):
    client, auth, _ = site
    assert client.get("/-/asset/file-shown").status_code == 200
    for file_id in ("file-other-branch", "file-private", "file-orphan"):
        assert client.get(f"/-/asset/{file_id}").status_code == 403, file_id
    # A capture posted into the published conversation names the private conversation's file,
    # and an orphan's: neither becomes public.
    forged = published_capture()
    forged["mapping"]["a3"] = {"id": "a3", "parent": "a2", "children": [],
                               "message": attached(message("a3", "user", "look"), "file-private", "file-orphan")}
    forged["mapping"]["a2"]["children"] = ["a3"]
    forged["current_node"] = "a3"
    assert client.post("/api/conversations", content=raw(forged), headers=auth).status_code == 201
    assert client.get("/-/asset/file-private").status_code == 403


def test_root_still_sees_everything(site):
    client, _, _ = site
    client.get(root_login_path(client.app))
    try:
        assert SECRETS[1] in client.get("/-/c/pub?leaf=other").text
        assert SECRETS[0] in client.get("/-/c/pub.json").text and SECRETS[3] in client.get("/-/c/pub").text
        assert client.get("/-/asset/file-private").status_code == 200
    finally:
        client.cookies.clear()
