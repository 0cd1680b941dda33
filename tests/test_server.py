"""One test against the real thing: `chatgpt-archiver serve` under uvicorn on a free port."""

import json
import time
import urllib.error
import urllib.request

import pytest

from conftest import ArchiveServer, fixture_bytes


@pytest.fixture
def server(tmp_path):
    archive = ArchiveServer(tmp_path / "live.db")
    token = archive.cli("token", "create", archive.db, "--name", "test").strip()
    archive.start()
    yield archive.url, token
    returncode, output = archive.stop()
    assert returncode == 0, output


def request(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_real_server_ingests_and_datasette_shows_it(server):
    base, token = server
    status, body = request(base + "/api/conversations", fixture_bytes("every_content_type.json"),
                           {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert (status, body["capture_id"], body["derived"]) == (201, 1, False)
    # The answer comes once the capture is kept; its rows are searchable within a second.
    answered, found = time.monotonic(), []
    while not found and time.monotonic() - answered < 1:
        status, found = request(base + "/live/chatgpt_message.json?_search=zephyrine&_shape=array&_col=author_role")
    assert (status, [r["author_role"] for r in found]) == (200, ["user"])
    status, stats = request(base + "/api/stats", headers={"Authorization": f"Bearer {token}"})
    assert (stats["messages"], stats["captures_pending"], stats["captures_failed"]) == (39, 0, 0)
    status, conversations = request(base + "/live/chatgpt_conversation.json?_shape=array&_col=title")
    assert [c["title"] for c in conversations] == [json.loads(fixture_bytes("every_content_type.json"))["title"]]
    status, body = request(base + "/api/conversations", b"[]", {"Authorization": f"Bearer {token}"})
    assert (status, body["status"]) == (422, 422)
