"""Live capture of everything a conversation shows (issue 13): files (/api/assets), canvas
documents (/api/textdocs), accounts and complete lists (/api/conversations?account_id,
/api/conversations/listed), and the privacy settings the server enforces on all of them."""

import copy
import hashlib
import json

import pytest

from archiver.db import open_db, write_transaction
from archiver.privacy import add_exclusion, set_setting
from conftest import fixture_json

EVERY = fixture_json("every_content_type.json")
CID = EVERY["conversation_id"]
UPLOAD_ID = "file-7QmZr2XkLpV9aTnB4cWdYe"  # named by a message of EVERY
GENERATED_ID = "file_0a91456380dd222bf1a883dc03b5802d"  # also named by EVERY
PNG = b"\x89PNG\r\n\x1a\n" + b"synthetic image bytes" * 10
PNG_SHA = hashlib.sha256(PNG).hexdigest()
TEXTDOCS = json.loads((__import__("conftest").DATA / "textdocs.json").read_text())


def table(db_path, sql, *args):
    db = open_db(db_path)
    try:
        return [tuple(r) for r in db.execute(sql, args).fetchall()]
    finally:
        db.close()


def capture(client, auth, data=EVERY, account=None):
    url = "/api/conversations" + (f"?account_id={account}" if account else "")
    return client.post(url, content=json.dumps(data).encode(), headers=auth)


def post_asset(client, auth, file_id=UPLOAD_ID, cid=CID, body=PNG, name="packing-list.png", mime="image/png"):
    return client.post("/api/assets", params={"file_id": file_id, "conversation_id": cid, "name": name},
                       content=body, headers=auth | {"content-type": mime})


# Files


def test_assets_wanted_lists_what_has_no_bytes_in_order_once(client, auth):
    assert capture(client, auth).status_code == 201
    asked = {"file_ids": [GENERATED_ID, UPLOAD_ID, "file-Unknown1", UPLOAD_ID]}
    first = client.post("/api/assets/wanted", json=asked, headers=auth)
    assert (first.status_code, first.json()) == (
        200, {"ok": True, "wanted": [GENERATED_ID, UPLOAD_ID, "file-Unknown1"]})
    assert post_asset(client, auth).status_code == 201
    assert client.post("/api/assets/wanted", json=asked, headers=auth).json() == {
        "ok": True, "wanted": [GENERATED_ID, "file-Unknown1"]}


@pytest.mark.parametrize("body, error", [
    ({"file_ids": "file-a"}, 'expected {"file_ids": ["file-…", ...]}'),
    ({"ids": []}, 'expected {"file_ids": ["file-…", ...]}'),
    ({"file_ids": ["file-ok", "../etc/passwd"]}, "not a ChatGPT file id: '../etc/passwd' (expected file-… or file_…)"),
    ({"file_ids": [7]}, "not a ChatGPT file id: '7' (expected file-… or file_…)"),
    ({"file_ids": ["file-a"] * 10_001}, "at most 10000 file ids per request"),
])
def test_assets_wanted_refuses_what_is_not_a_list_of_file_ids(client, auth, body, error):
    response = client.post("/api/assets/wanted", json=body, headers=auth)
    assert (response.status_code, response.json()) == (422, {"ok": False, "error": error, "status": 422})


def test_asset_is_stored_once_by_hash_and_linked_like_an_import(client, auth, db_path):
    assert capture(client, auth).status_code == 201
    # The page's claim (text/html) is not what is stored: the bytes say PNG.
    first = post_asset(client, auth, mime="text/html")
    assert (first.status_code, first.json()) == (201, {
        "ok": True, "file_id": UPLOAD_ID, "sha256": PNG_SHA, "size": len(PNG), "duplicate": False})
    again = post_asset(client, auth)
    assert (again.status_code, again.json()) == (200, {
        "ok": True, "file_id": UPLOAD_ID, "sha256": PNG_SHA, "size": len(PNG), "duplicate": True})
    assert table(db_path, "select sha256, size, mime_type, data from chatgpt_asset") == [
        (PNG_SHA, len(PNG), "image/png", PNG)]
    assert table(db_path, "select path, file_id, name, sha256 from chatgpt_asset_file") == [
        (f"live/{UPLOAD_ID}", UPLOAD_ID, "packing-list.png", PNG_SHA)]
    # Served as the importer's files are: an image inline, from the transcript's link.
    served = client.get(f"/-/asset/{UPLOAD_ID}")
    assert (served.status_code, served.content, served.headers["content-type"]) == (200, PNG, "image/png")


def test_asset_bytes_that_change_are_kept_beside_never_over(client, auth, db_path):
    capture(client, auth)
    post_asset(client, auth)
    other = b"\xff\xd8\xff a jpeg now"
    response = post_asset(client, auth, body=other, name=None, mime="image/jpeg; charset=x")
    sha = hashlib.sha256(other).hexdigest()
    assert (response.status_code, response.json()["duplicate"]) == (201, False)
    assert table(db_path, "select path, name, sha256 from chatgpt_asset_file order by path") == [
        (f"live/{UPLOAD_ID}", "packing-list.png", PNG_SHA), (f"live/{UPLOAD_ID}/{sha}", UPLOAD_ID, sha)]
    assert table(db_path, "select mime_type from chatgpt_asset where sha256 = ?", sha) == [("image/jpeg",)]


@pytest.mark.parametrize("name, mime, expected", [
    (None, "Text/Plain; charset=utf-8", "text/plain"),
    ("notes.pdf", "image/png", "application/pdf"),
    (None, "<script>", "application/octet-stream"),
    (None, None, "application/octet-stream"),
])
def test_asset_type_is_sniffed_or_normalised_never_trusted(client, auth, db_path, name, mime, expected):
    capture(client, auth)
    headers = auth | ({"content-type": mime} if mime else {})
    params = {"file_id": UPLOAD_ID, "conversation_id": CID} | ({"name": name} if name else {})
    assert client.post("/api/assets", params=params, content=b"plain words", headers=headers).status_code == 201
    assert table(db_path, "select mime_type from chatgpt_asset") == [(expected,)]


def test_only_files_an_archived_message_names_are_stored(client, auth, db_path):
    # A token holder must not plant arbitrary files: only a file a conversation names is kept.
    not_yet = post_asset(client, auth)
    assert (not_yet.status_code, not_yet.json()) == (409, {
        "ok": False, "status": 409,
        "error": f"conversation {CID} is not in the archive; post it first"})
    capture(client, auth)
    stranger = post_asset(client, auth, file_id="file-Planted123")
    assert (stranger.status_code, stranger.json()) == (409, {
        "ok": False, "status": 409,
        "error": f"no message of conversation {CID} names file-Planted123; post the conversation first"})
    assert table(db_path, "select count(*) from chatgpt_asset") == [(0,)]


@pytest.mark.parametrize("params, error", [
    ({"file_id": "file-a/../../b", "conversation_id": CID}, "not a ChatGPT file id: 'file-a/../../b' (expected file-… or file_…)"),
    ({"file_id": "", "conversation_id": CID}, "not a ChatGPT file id: '' (expected file-… or file_…)"),
    ({"conversation_id": CID}, "not a ChatGPT file id: '' (expected file-… or file_…)"),
    ({"file_id": UPLOAD_ID}, "conversation_id is required: the conversation's id"),
])
def test_asset_refuses_malformed_ids(client, auth, params, error):
    response = client.post("/api/assets", params=params, content=PNG, headers=auth)
    assert (response.status_code, response.json()) == (422, {"ok": False, "error": error, "status": 422})


def test_asset_over_the_limit_is_refused_before_it_is_read(db_path, token, auth):
    from starlette.testclient import TestClient

    from archiver.app import create_app
    from conftest import LOCAL

    with TestClient(create_app(db_path, max_asset=100), base_url=LOCAL) as client:
        capture(client, auth)
        response = post_asset(client, auth, body=b"x" * 101)
        assert (response.status_code, response.json()) == (
            413, {"ok": False, "error": "file is over the 100 byte limit", "status": 413})
        chunks = client.post("/api/assets", params={"file_id": UPLOAD_ID, "conversation_id": CID},
                             content=iter([b"x" * 60, b"x" * 60]), headers=auth)  # no Content-Length
        assert chunks.status_code == 413
        assert post_asset(client, auth, body=b"x" * 100).status_code == 201
    assert table(db_path, "select size from chatgpt_asset") == [(100,)]


def test_asset_needs_a_token(client):
    response = client.post("/api/assets", params={"file_id": UPLOAD_ID, "conversation_id": CID}, content=PNG)
    assert response.status_code == 401


# Canvas documents


def test_textdocs_keep_every_version_and_are_searchable(client, auth, db_path):
    capture(client, auth)
    response = client.post(f"/api/textdocs?conversation_id={CID}", json=TEXTDOCS, headers=auth)
    assert (response.status_code, response.json()) == (201, {"ok": True, "stored": 3})
    assert table(db_path, "select path, conversation_id, textdoc_id, version, textdoc_type, title, content"
                          " from chatgpt_textdoc order by path") == [
        (f"live/{CID}/6851c3f0aa/v1", CID, "6851c3f0aa", 1, "document", "Trail notes", "Pack the quinoa."),
        (f"live/{CID}/6851c3f0aa/v2", CID, "6851c3f0aa", 2, "document", "Trail notes",
         "Pack the quinoa and a headlamp."),
        (f"live/{CID}/6851c3f0bb/v4", CID, "6851c3f0bb", 4, "code/python", "heron.py", "print('heron')"),
    ]
    db = open_db(db_path)
    assert sorted(r["path"] for r in db["chatgpt_textdoc"].search("headlamp")) == [f"live/{CID}/6851c3f0aa/v2"]
    # Posting the same again changes nothing.
    assert client.post(f"/api/textdocs?conversation_id={CID}", json=TEXTDOCS, headers=auth).json() == {
        "ok": True, "stored": 3}
    assert table(db_path, "select count(*) from chatgpt_textdoc") == [(3,)]


def test_textdocs_empty_list_stores_nothing(client, auth):
    capture(client, auth)
    response = client.post(f"/api/textdocs?conversation_id={CID}", json=[], headers=auth)
    assert (response.status_code, response.json()) == (201, {"ok": True, "stored": 0})


@pytest.mark.parametrize("body, status, error", [
    ({"id": "x"}, 422, "expected the textdocs endpoint's JSON array"),
    ([{"id": "ok", "version": 1}, {"title": "no id"}], 422,
     "item 1 is not a canvas document (an object with a string id)"),
    ([{"id": "x" * 201}], 422, "item 0 is not a canvas document (an object with a string id)"),
    (b"[{", 400, None),
])
def test_textdocs_refuse_what_is_not_the_endpoint_array_and_write_nothing(client, auth, db_path, body, status, error):
    capture(client, auth)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(f"/api/textdocs?conversation_id={CID}", content=content, headers=auth)
    assert response.status_code == status
    if error:
        assert response.json() == {"ok": False, "error": error, "status": status}
    assert table(db_path, "select count(*) from chatgpt_textdoc") == [(0,)]


def test_textdocs_of_a_conversation_not_archived_are_refused(client, auth):
    response = client.post("/api/textdocs?conversation_id=nope", json=TEXTDOCS, headers=auth)
    assert (response.status_code, response.json()) == (409, {
        "ok": False, "error": "conversation nope is not in the archive; post it first", "status": 409})


# Accounts and complete lists


def test_account_is_recorded_and_workspaces_never_merge(client, auth, db_path):
    assert capture(client, auth, account="acct-team").status_code == 201
    newer = copy.deepcopy(EVERY)
    newer["update_time"] += 10
    newer["title"] = "A stranger's title"
    clash = capture(client, auth, newer, account="acct-personal")
    assert (clash.status_code, clash.json()) == (409, {
        "ok": False, "status": 409,
        "error": f"conversation {CID} is archived under another account; workspaces never merge"})
    # No account named (an export, an older userscript): merged, the account kept.
    newer["title"] = "Renamed on ChatGPT"
    assert capture(client, auth, newer).status_code == 201
    assert table(db_path, "select title, account_id from chatgpt_conversation") == [("Renamed on ChatGPT", "acct-team")]
    assert table(db_path, "select id, account_id from chatgpt_capture order by id") == [(1, "acct-team"), (2, None)]


def test_account_id_must_look_like_one(client, auth):
    response = client.post("/api/conversations?account_id=a%20b", json=EVERY, headers=auth)
    assert (response.status_code, response.json()) == (422, {
        "ok": False, "error": "account_id must be 1-200 printable characters without spaces", "status": 422})


def test_complete_list_marks_missing_once_and_clears_listed(client, auth, db_path):
    other = fixture_json("branched.json")
    capture(client, auth, account="acct-1")
    capture(client, auth, other, account="acct-1")
    capture(client, auth, fixture_json("paged.json"), account="acct-2")
    listed = lambda ids: client.post(  # noqa: E731
        "/api/conversations/listed", json={"account_id": "acct-1", "complete": True, "ids": ids}, headers=auth)
    first = listed([other["id"], "not-archived"])
    assert (first.status_code, first.json()) == (200, {"ok": True, "missing": 1, "newly_missing": 1})
    (since,) = table(db_path, "select missing_since from chatgpt_conversation where id = ?", CID)[0]
    assert since is not None
    assert listed([other["id"]]).json() == {"ok": True, "missing": 1, "newly_missing": 0}
    assert table(db_path, "select missing_since from chatgpt_conversation where id = ?", CID) == [(since,)]
    assert listed([CID, other["id"]]).json() == {"ok": True, "missing": 0, "newly_missing": 0}
    # Another account's conversations are never touched by this list.
    assert table(db_path, "select count(*) from chatgpt_conversation where missing_since is not null") == [(0,)]


@pytest.mark.parametrize("body, error", [
    ({"account_id": "a", "ids": []}, 'only a complete list marks conversations missing: send "complete": true'),
    ({"account_id": "a", "complete": "yes", "ids": []},
     'only a complete list marks conversations missing: send "complete": true'),
    ({"complete": True, "ids": []}, 'expected {"account_id": "...", "complete": true, "ids": ["...", ...]}'),
    ({"account_id": "a", "complete": True, "ids": [1]},
     'expected {"account_id": "...", "complete": true, "ids": ["...", ...]}'),
])
def test_listed_refuses_incomplete_or_malformed_lists(client, auth, body, error):
    response = client.post("/api/conversations/listed", json=body, headers=auth)
    assert (response.status_code, response.json()) == (422, {"ok": False, "error": error, "status": 422})


# Privacy settings, enforced by the server


def temporary(cid="tmp-chat-1"):
    data = copy.deepcopy(EVERY)
    data["conversation_id"] = cid
    data["is_temporary_chat"] = True
    return data


SKIP_TEMPORARY = {"ok": True, "skipped": True,
                  "reason": "temporary chats are not archived (setting archive-temporary-chats is off)"}


def test_temporary_chats_are_skipped_unless_allowed(client, auth, db, db_path):
    response = capture(client, auth, temporary())
    assert (response.status_code, response.json()) == (200, SKIP_TEMPORARY)
    assert table(db_path, "select count(*) from chatgpt_capture") == [(0,)]
    with write_transaction(db) as conn:
        set_setting(conn, "archive-temporary-chats", "on")
    assert capture(client, auth, temporary()).status_code == 201


def test_do_not_remember_chats_are_kept_unless_turned_off(client, auth, db):
    data = copy.deepcopy(EVERY)
    data["is_do_not_remember"] = True
    assert capture(client, auth, data).status_code == 201
    with write_transaction(db) as conn:
        set_setting(conn, "archive-do-not-remember-chats", "off")
    data["conversation_id"] = "dnr-2"
    response = capture(client, auth, data)
    assert response.json() == {"ok": True, "skipped": True, "reason": '"do not remember" chats are not archived'
                               " (setting archive-do-not-remember-chats is off)"}


@pytest.mark.parametrize("kind, value, field", [
    ("conversation", CID, None),
    ("project", "g-p-0123456789abcdef", "gizmo_id"),
    ("project", "g-p-0123456789abcdef", "conversation_template_id"),
    ("gpt", "g-Heron", "gizmo_id"),
])
def test_excluded_conversations_files_and_textdocs_are_skipped(client, auth, db, db_path, kind, value, field):
    data = copy.deepcopy(EVERY)
    if field:
        data[field] = value
    with write_transaction(db) as conn:
        add_exclusion(conn, kind, value)
    response = capture(client, auth, data)
    reason = f"{kind} {value} is excluded from the archive"
    assert (response.status_code, response.json()) == (200, {"ok": True, "skipped": True, "reason": reason})
    assert table(db_path, "select count(*) from chatgpt_conversation") == [(0,)]
    if kind == "conversation":  # known by id alone: what comes about it is skipped too
        for extra in (client.post(f"/api/textdocs?conversation_id={CID}", json=TEXTDOCS, headers=auth),
                      post_asset(client, auth)):
            assert (extra.status_code, extra.json()) == (200, {"ok": True, "skipped": True, "reason": reason})


def test_exclusion_after_capture_stops_later_captures_files_and_textdocs(client, auth, db, db_path):
    data = copy.deepcopy(EVERY)
    data["gizmo_id"] = "g-Heron"
    capture(client, auth, data)
    with write_transaction(db) as conn:
        assert add_exclusion(conn, "gpt", "g-Heron") == 1  # already held: forget removes it
    skip = {"ok": True, "skipped": True, "reason": "gpt g-Heron is excluded from the archive"}
    data["update_time"] += 1
    assert capture(client, auth, data).json() == skip
    assert post_asset(client, auth).json() == skip
    assert client.post(f"/api/textdocs?conversation_id={CID}", json=TEXTDOCS, headers=auth).json() == skip
    assert table(db_path, "select count(*) from chatgpt_capture") == [(1,)]


def test_insert_api_cannot_bypass_exclusions(client, auth, db, db_path):
    with write_transaction(db) as conn:
        add_exclusion(conn, "conversation", "conv-2023")
        add_exclusion(conn, "project", "g-p-secret")
        set_setting(conn, "archive-do-not-remember-chats", "off")
    for row in ({"id": "conv-2023", "title": "excluded by id"},
                {"id": "conv-proj", "title": "in an excluded project", "gizmo_id": "g-p-secret"},
                {"id": "conv-tmpl", "title": "in an excluded project", "conversation_template_id": "g-p-secret"},
                {"id": "conv-tmp", "title": "temporary", "is_temporary_chat": 1},
                {"id": "conv-dnr", "title": "do not remember", "conversation_json": '{"is_do_not_remember": true}'}):
        response = client.post("/archive/chatgpt_conversation/-/insert", json={"row": row}, headers=auth)
        assert response.status_code == 400, response.text
        assert "refused by the archive's privacy settings" in response.text
    message = {"id": "m-1", "conversation_id": "conv-2023", "content": json.dumps({"parts": ["secret"]})}
    response = client.post("/archive/chatgpt_message/-/insert", json={"row": message}, headers=auth)
    assert response.status_code == 400, response.text
    assert table(db_path, "select count(*) from chatgpt_conversation") == [(0,)]
    assert table(db_path, "select count(*) from chatgpt_message") == [(0,)]
    allowed = client.post("/archive/chatgpt_conversation/-/insert", json={"row": {"id": "ok", "title": "fine"}},
                          headers=auth)
    assert allowed.status_code == 201, allowed.text


def test_real_server_refuses_an_oversized_file_while_it_streams(tmp_path):
    """`serve --max-asset`: a chunked upload (no length declared) is answered 413 as soon as it
    passes the limit, before the client has sent the rest; a declared length over it at once."""
    import socket

    import httpx

    from conftest import ArchiveServer

    server = ArchiveServer(tmp_path / "archive.db")
    token = server.cli("token", "create", server.db, "--name", "stream").strip()
    server.start("--max-asset", "1000")
    try:
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.post(server.url + "/api/conversations", json=EVERY, headers=auth).status_code == 201
        path = f"/api/assets?file_id={UPLOAD_ID}&conversation_id={CID}"
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                      "Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            for _ in range(3):  # 1,200 bytes of a body that would go on much longer
                s.sendall(b"190\r\n" + b"x" * 400 + b"\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413 ")
        assert json.loads(body) == {"ok": False, "error": "file is over the 1000 byte limit", "status": 413}
        declared = httpx.post(server.url + path, content=b"x" * 1001, headers=auth)
        assert (declared.status_code, declared.json()["error"]) == (413, "file is over the 1000 byte limit")
        fits = httpx.post(server.url + path, content=PNG + b"x" * (1000 - len(PNG)), headers=auth)
        assert (fits.status_code, fits.json()["size"]) == (201, 1000)
    finally:
        server.stop()
    assert table(server.db, "select size from chatgpt_asset") == [(1000,)]


def test_wanted_conversations_leave_out_what_the_settings_refuse(client, auth, db):
    with write_transaction(db) as conn:
        add_exclusion(conn, "conversation", "c-excluded")
        add_exclusion(conn, "project", "g-p-secret")
        set_setting(conn, "archive-do-not-remember-chats", "off")
    listing = {"conversations": [
        {"id": "c-excluded", "update_time": 1.0},
        {"id": "c-project", "update_time": 1.0, "gizmo_id": "g-p-secret"},
        {"id": "c-template", "update_time": 1.0, "conversation_template_id": "g-p-secret"},
        {"id": "c-dnr", "update_time": 1.0, "is_do_not_remember": True},
        {"id": "c-temporary", "update_time": 1.0, "is_temporary_chat": True},
        {"id": "c-fine", "update_time": "2025-06-11T10:00:00Z", "gizmo_id": "g-OtherGpt", "is_do_not_remember": None},
    ]}
    response = client.post("/api/conversations/wanted", json=listing, headers=auth)
    assert (response.status_code, response.json()) == (200, {"ok": True, "wanted": ["c-fine"]})


def test_a_conversation_first_held_without_an_account_takes_the_first_one_named(client, auth, db_path):
    assert capture(client, auth).status_code == 201  # an older userscript: no account
    newer = copy.deepcopy(EVERY)
    newer["update_time"] += 10
    assert capture(client, auth, newer, account="acct-team").status_code == 201
    newer["update_time"] += 10
    assert capture(client, auth, newer, account="acct-other").status_code == 409
    assert table(db_path, "select account_id from chatgpt_conversation") == [("acct-team",)]
    assert table(db_path, "select id, account_id from chatgpt_capture order by id") == [(1, None), (2, "acct-team")]


@pytest.mark.parametrize("size", [0, 3 * 1024 * 1024 + 7], ids=["empty", "spooled-to-disk"])
def test_asset_bytes_arrive_whole_whatever_the_size(client, auth, db_path, size):
    import random

    body = random.Random(size).randbytes(size)
    capture(client, auth)
    response = post_asset(client, auth, body=body, name="recording.wav", mime="audio/wav")
    assert (response.status_code, response.json()) == (201, {
        "ok": True, "file_id": UPLOAD_ID, "sha256": hashlib.sha256(body).hexdigest(), "size": size,
        "duplicate": False})
    assert table(db_path, "select size, mime_type, data = ? from chatgpt_asset", body) == [(size, "audio/x-wav", 1)]


@pytest.mark.parametrize("path, body", [
    (f"/api/assets?file_id={UPLOAD_ID}&conversation_id={CID}", {"content": PNG}),
    ("/api/assets/wanted", {"json": {"file_ids": [UPLOAD_ID]}}),
    (f"/api/textdocs?conversation_id={CID}", {"json": TEXTDOCS}),
    ("/api/conversations/listed", {"json": {"account_id": "a", "complete": True, "ids": []}}),
], ids=["asset", "assets-wanted", "textdocs", "listed"])
def test_a_read_token_cannot_use_the_live_capture_api(client, auth, db, db_path, path, body):
    from archiver.tokens import create_token

    capture(client, auth)
    with write_transaction(db) as conn:
        reader = {"Authorization": f"Bearer {create_token(conn, 'claude', 'read')}"}
    response = client.post(path, headers=reader, **body)
    assert (response.status_code, response.json()) == (403, {
        "ok": False, "status": 403, "error": "token 'claude' is a read token; this needs a write token"})
    assert table(db_path, "select (select count(*) from chatgpt_asset), (select count(*) from chatgpt_textdoc)") == [
        (0, 0)]


def test_files_and_textdocs_may_arrive_before_the_rows_are_derived(client, auth, db, db_path):
    """A capture is kept before its rows are derived; what arrives between the two counts
    against the raw capture (simulated here by removing the derived rows)."""
    capture(client, auth)
    with write_transaction(db) as conn:
        for sql in ("DELETE FROM chatgpt_message_asset", "DELETE FROM chatgpt_message", "DELETE FROM chatgpt_conversation"):
            conn.execute(sql)
    assert post_asset(client, auth).status_code == 201
    assert post_asset(client, auth, file_id="file-Planted123").status_code == 409
    assert client.post(f"/api/textdocs?conversation_id={CID}", json=TEXTDOCS, headers=auth).status_code == 201
    assert table(db_path, "select file_id from chatgpt_asset_file") == [(UPLOAD_ID,)]


def test_file_ids_take_what_the_userscript_sends_and_nothing_path_like():
    from archiver.assets import BadFileId, check_file_id

    for good in ("file-7QmZr2XkLpV9aTnB4cWdYe", "file_0a91456380dd222bf1a883dc03b5802d", "file-a_b-c", "file_" + "f" * 200):
        assert check_file_id(good) == good
    for bad in ("file-", "file_" + "f" * 201, "file-a.png", "file-a/b", "../file-a", "File-a", "file-a\n", "file-é"):
        with pytest.raises(BadFileId):
            check_file_id(bad)


# Ingest answers once the raw capture is kept and derives rows afterwards (issue 15): the
# admission above must hold between the two, when only the raw capture exists.

def _received(data, db, account=None, token_name="t"):
    from archiver.db import receive_capture
    from archiver.intake import save_admitted_received

    with write_transaction(db) as conn:
        return save_admitted_received(conn, receive_capture(json.dumps(data).encode()),
                                      token_name=token_name, account_id=account)


def _derive(db):
    from archiver.db import derive_pending

    return derive_pending(db.conn)


def test_account_of_a_kept_capture_not_yet_derived_is_held_and_reaches_its_conversation(db):
    from archiver.accounts import AccountConflict

    capture_id, duplicate, pending = _received(EVERY, db, account="account-a")
    assert (duplicate, pending) == (False, True)
    assert db.execute("select count(*) from chatgpt_conversation").fetchone()[0] == 0
    other = dict(EVERY, title="posted from the other workspace")
    with pytest.raises(AccountConflict):
        _received(other, db, account="account-b")
    assert db.execute("select count(*) from chatgpt_capture").fetchone()[0] == 1  # nothing written
    assert _derive(db) == (1, 0)
    assert db.execute("select account_id from chatgpt_conversation where id = ?", [CID]).fetchall() == [("account-a",)]
    assert db.execute("select id, account_id from chatgpt_capture").fetchall() == [(capture_id, "account-a")]
    assert db.execute("select count(*) from chatgpt_capture_pending").fetchone()[0] == 0


@pytest.mark.parametrize("setting, data", [
    (None, dict(EVERY, is_temporary_chat=True)),
    ("archive-do-not-remember-chats", dict(EVERY, is_do_not_remember=True)),
])
def test_a_refused_capture_is_refused_before_it_is_kept(db, setting, data):
    from archiver.privacy import Refused

    if setting:
        with write_transaction(db) as conn:
            set_setting(conn, setting, "off")
    with pytest.raises(Refused):
        _received(data, db)
    assert db.execute("select (select count(*) from chatgpt_capture) + (select count(*) from chatgpt_capture_pending)"
                      ).fetchone()[0] == 0


@pytest.mark.parametrize("kind, value, field", [
    ("project", "g-p-67a1b2c3d4e5f6", "gizmo_id"), ("gpt", "g-5Xy9AbCdEf", "gizmo_id"),
    ("project", "g-p-1234abcd", "conversation_template_id"), ("conversation", CID, None),
])
def test_an_excluded_capture_is_refused_before_it_is_kept(db, kind, value, field):
    from archiver.privacy import Refused

    with write_transaction(db) as conn:
        add_exclusion(conn, kind, value)
    with pytest.raises(Refused):
        _received(dict(EVERY, **({field: value} if field else {})), db)
    assert db.execute("select count(*) from chatgpt_capture").fetchone()[0] == 0


def test_admission_judges_the_same_fields_the_rows_get():
    from archiver.reshape import CONVERSATION_TABLE, admission_row, reshape_conversation

    for data in (EVERY, dict(EVERY, gizmo_id="g-p-abc", is_temporary_chat=True, is_do_not_remember=True),
                 dict(EVERY, conversation_template_id="g-p-x", gizmo_id=7)):
        row = reshape_conversation(copy.deepcopy(data))[CONVERSATION_TABLE][0]
        admitted = admission_row(data)
        assert {k: admitted[k] for k in admitted if k != "conversation_json"} == {
            k: row[k] for k in admitted if k != "conversation_json"}
        assert json.loads(admitted["conversation_json"])["is_do_not_remember"] == json.loads(
            row["conversation_json"]).get("is_do_not_remember")


def test_forgetting_a_conversation_whose_rows_are_pending_leaves_nothing_to_derive(db):
    from archiver.privacy import forget_conversation

    _received(EVERY, db)
    with write_transaction(db) as conn:
        forget_conversation(conn, CID)
    assert db.execute("select count(*) from chatgpt_capture_pending").fetchone()[0] == 0
    assert _derive(db) == (0, 0)
    assert db.execute("select count(*) from chatgpt_message").fetchone()[0] == 0
