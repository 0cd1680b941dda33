"""One test against the real thing: `chatgpt-archiver serve` under uvicorn on a free port."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import fixture_bytes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    db = tmp_path / "live.db"
    cli = [sys.executable, "-m", "archiver"]
    token = subprocess.run(cli + ["token", "create", str(db), "--name", "test"],
                           capture_output=True, text=True, check=True).stdout.strip()
    port = free_port()
    process = subprocess.Popen(cli + ["serve", str(db), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(base + "/api/health", timeout=1)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("server did not start:\n" + process.stdout.read())
            time.sleep(0.1)
    yield base, token
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output


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
    assert (status, body["messages"], body["new_messages"]) == (201, 40, 40)
    status, found = request(base + "/live/chatgpt_message.json?_search=zephyrine&_shape=array&_col=author_role")
    assert (status, [r["author_role"] for r in found]) == (200, ["user"])
    status, conversations = request(base + "/live/chatgpt_conversation.json?_shape=array&_col=title")
    assert [c["title"] for c in conversations] == [json.loads(fixture_bytes("every_content_type.json"))["title"]]
    status, body = request(base + "/api/conversations", b"[]", {"Authorization": f"Bearer {token}"})
    assert (status, body["status"]) == (422, 422)
