"""Security against the real server (uvicorn on loopback): what it logs, which files it
serves, and request bodies that trickle."""

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from conftest import ArchiveServer, fixture_bytes


def call(url, data=None, headers=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def archive(tmp_path):
    server = ArchiveServer(tmp_path / "archive.db")
    yield server
    if server.process and server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def test_tokens_are_never_logged(archive):
    good = archive.cli("token", "create", archive.db, "--name", "laptop").strip()
    gone = archive.cli("token", "create", archive.db, "--name", "old").strip()
    archive.cli("token", "revoke", archive.db, "old")
    archive.start("--root")
    url = archive.url
    for token in (good, gone, good + "x", "cga_" + "A" * 43):
        bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        call(url + "/api/conversations", fixture_bytes("branched.json"), bearer)
        call(url + "/api/conversations", b"{not json", bearer)
        call(url + "/api/conversations", b'{"valid": "json, not a conversation"}', bearer)
        call(url + "/api/stats", headers=bearer)
        call(url + "/archive/chatgpt_message/-/insert", b"{not json", bearer)
        call(url + "/archive/chatgpt_message/-/insert", b'{"rows": 5}', bearer)
        call(url + "/archive/chatgpt_capture/-/insert", b'{"row": {"id": 1}}', bearer)
        call(url + "/archive/no_such_table/-/insert", b'{"row": {"id": 1}}', bearer)
        call(url + "/archive/chatgpt_message.json?_sort=nope", headers=bearer)
        call(url + "/archive/public_messages/-/autocomplete?q=x", headers=bearer)
    returncode, output = archive.stop()
    assert returncode == 0
    assert "POST /api/conversations HTTP/1.1\" 201" in output  # the log is there, and read
    for token in (good, gone):
        assert token not in output and token[4:20] not in output
    assert "Traceback" not in output


# Paths that try to leave the folders the server serves files from (Datasette's static
# folders, our plugin's) or reach the files beside the archive.
ESCAPES = [
    "/-/static/../../../../../etc/passwd", "/-/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/-/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/-/static/....//....//etc/passwd",
    "/-/static/%252e%252e/%252e%252e/etc/passwd", "/-/static/..\\..\\..\\..\\etc\\passwd",
    "/-/static//etc/passwd", "/-/static/%2fetc%2fpasswd",
    "/-/static-plugins/chatgpt_archiver/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/-/static-plugins/chatgpt-archiver/../../../../../../etc/passwd",
    "/-/asset/..%2f..%2farchive.db.secret", "/-/asset/../archive.db.secret", "/-/asset/%2e%2e%2fnotes.txt",
    "/userscript.user.js/../archive.db.secret", "/userscript.user.js%2f..%2f..%2fnotes.txt",
    "/archive.db.secret", "/notes.txt", "/archive/../notes.txt", "/..%2fnotes.txt", "//etc/passwd",
    "/-/c/..%2f..%2fnotes.txt", "/-/c/..%2f..%2farchive.db.secret.md", "/%2e%2e/notes.txt",
]


def raw_get(port, path, hops=3):
    """A GET sent byte for byte (HTTP libraries would tidy the dots away), following
    redirects (Datasette redirects %-escaped paths to its ~-escaped form)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    location = [line[9:].strip() for line in head.decode("latin-1").split("\r\n") if line.lower().startswith("location:")]
    if status in (301, 302) and location and hops:
        return raw_get(port, location[0], hops - 1)
    return status, body


def test_files_served_cannot_escape_their_folders(archive, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("PRIVATE-NOTES-7f3a beside the archive")
    archive.start()
    secret = (tmp_path / "archive.db.secret").read_text().strip()
    served = {}
    for path in ESCAPES:
        status, body = raw_get(archive.port, path)
        served[path] = status
        assert b"PRIVATE-NOTES-7f3a" not in body, path
        assert secret.encode() not in body, path
        assert b"root:x:0:0" not in body, path
        assert not body.startswith(b"SQLite format 3"), path
    assert {p: s for p, s in served.items() if s not in (400, 403, 404, 421)} == {}
    # The files meant to be served are.
    assert raw_get(archive.port, "/userscript.user.js")[0] == 200
    assert raw_get(archive.port, "/-/static/app.css")[0] == 200


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def trickle(port, path, token, every, stall=False):
    """POST announcing a 50 MB body, then a byte every ``every`` seconds (or nothing, when
    ``stall``) until the server answers. Returns (status, seconds to the answer)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                   "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{").encode())
        s.settimeout(every)
        answer = b""
        while True:
            try:
                answer += s.recv(4096)
                break
            except TimeoutError:
                if not stall:
                    try:
                        s.sendall(b" ")
                    except OSError:
                        break
            if time.monotonic() - start > 30:
                break
    status = int(answer.split()[1]) if answer.startswith(b"HTTP/1.1") else None
    return status, time.monotonic() - start


def test_slow_bodies_are_cut_off_in_bounded_time_and_memory(archive):
    from concurrent.futures import ThreadPoolExecutor

    token = archive.cli("token", "create", archive.db, "--name", "laptop").strip()
    archive.start("--body-idle", "1", "--body-deadline", "3")
    before = rss_mb(archive.process.pid)
    paths = ["/api/conversations", "/archive/chatgpt_message/-/insert"]
    with ThreadPoolExecutor(42) as pool:
        trickling = [pool.submit(trickle, archive.port, paths[i % 2], token, 0.4) for i in range(40)]
        stalled = [pool.submit(trickle, archive.port, p, token, 5, stall=True) for p in paths]
        time.sleep(1)
        # Meanwhile, a normal capture goes through.
        status, body = call(archive.url + "/api/conversations", fixture_bytes("branched.json"),
                            {"Authorization": f"Bearer {token}"})
        assert status == 201, body
        peak = rss_mb(archive.process.pid)
        results = [f.result() for f in trickling]
        stalls = [f.result() for f in stalled]
    assert {status for status, _ in results} == {408}
    assert max(seconds for _, seconds in results) < 3 + 1.5  # the deadline, and some slack
    assert {status for status, _ in stalls} == {408}
    assert max(seconds for _, seconds in stalls) < 1 + 1.5  # the idle limit
    assert peak - before < 30, (before, peak)  # 42 open requests hold a few bytes each
    assert call(archive.url + "/api/health")[0] == 200
    status, body = call(archive.url + "/api/stats", headers={"Authorization": f"Bearer {token}"})
    assert json.loads(body)["captures"] == 1
    # Without a valid token the body is never read: refused at once, not at a deadline.
    for path, refusal in [("/api/conversations", 401), ("/archive/chatgpt_message/-/insert", 403),
                          ("/archive/chatgpt_capture/-/insert", 403)]:
        status, seconds = trickle(archive.port, path, "cga_" + "x" * 43, 0.2)
        assert (status, seconds < 0.9) == (refusal, True), (path, status, seconds)
    _, log = archive.stop()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def test_slow_or_missing_headers_are_cut_off(archive):
    archive.start("--header-timeout", "1")

    def held(send_first, trickle_every=None, after_a_request=False):
        """Seconds until the server closes a connection that sends ``send_first`` and then,
        every ``trickle_every`` seconds, one more header byte (or nothing). With
        ``after_a_request``, a complete request is answered on the connection first."""
        with socket.create_connection(("127.0.0.1", archive.port), timeout=10) as s:
            if after_a_request:
                s.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{archive.port}\r\n\r\n".encode())
                assert s.recv(4096).startswith(b"HTTP/1.1 200")
            s.settimeout(0.25)
            start = time.monotonic()
            s.sendall(send_first)
            while time.monotonic() - start < 10:
                try:
                    if s.recv(4096) == b"":
                        return time.monotonic() - start
                except ConnectionResetError:  # closed with our trickled bytes unread: a reset
                    return time.monotonic() - start
                except TimeoutError:
                    if trickle_every:
                        try:
                            s.sendall(b"x")
                        except OSError:
                            return time.monotonic() - start
        return None

    slow_headers = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    assert held(b"") < 2.5  # connects, says nothing
    assert held(slow_headers, trickle_every=0.25) < 2.5
    # A complete request is answered as usual, and its keep-alive connection then gets the
    # same deadline for the next request's headers.
    assert held(slow_headers, trickle_every=0.25, after_a_request=True) < 5, "a trickled second request was never cut off"
