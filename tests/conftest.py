import json
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app
from archiver.db import open_db, write_transaction
from archiver.reshape import CONTENT_MARK, METADATA_MARK
from archiver.tokens import create_token

DATA = Path(__file__).parent / "data"
# In-process requests are addressed to a loopback name, as the server answers only those.
LOCAL = "http://127.0.0.1"
CORPUS = Path(__file__).parent.parent.parent / "shared" / "corpus"


def message_json(row):
    """A reshaped message row's whole message JSON, as the computed column message_json reads
    it once stored (the splice of migrations.MESSAGE_JSON, for rows not in a database)."""
    rest = row["message_rest"]
    if rest is None:
        return None
    return (rest.replace(CONTENT_MARK, row["content"] or "null")
            .replace(METADATA_MARK, row["metadata"] or "null"))


def fixture_bytes(name):
    return (DATA / name).read_bytes()


def fixture_json(name):
    return json.loads(fixture_bytes(name))


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    # Tests never see the developer's own archive or settings.
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("DATASETTE_"):
            monkeypatch.delenv(key)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "archive.db"


@pytest.fixture
def db(db_path):
    database = open_db(db_path)
    yield database
    database.close()


@pytest.fixture
def token(db):
    with write_transaction(db) as conn:
        return create_token(conn, "laptop")


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(db_path, token):
    with TestClient(create_app(db_path), base_url=LOCAL) as test_client:
        yield test_client


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ArchiveServer:
    """`chatgpt-archiver serve` as a user runs it: a real uvicorn process on loopback."""

    def __init__(self, db, port=None):
        self.db, self.port = db, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def cli(self, *args):
        import subprocess
        import sys

        return subprocess.run([sys.executable, "-m", "archiver", *map(str, args)],
                              capture_output=True, text=True, check=True).stdout

    def start(self, *extra):
        import subprocess
        import sys
        import time
        import urllib.request

        import tempfile

        # A file, not a pipe: a server that logs a lot must never block on a full pipe.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "archiver", "serve", str(self.db), "--port", str(self.port), *extra],
            stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.url + "/api/health", timeout=1)
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    self.process.wait()
                    raise RuntimeError("server did not start:\n" + self.output())
                time.sleep(0.1)

    def stop(self):
        import signal

        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=10)
        return self.process.returncode, self.output()

    def output(self):
        self.log.seek(0)
        return self.log.read()


# A fake https://chatgpt.com (tests/fake_chatgpt.py) and Chromium pointed at it, for the
# browser tests. Each module provides its own `fake` fixture (a FakeChatGPT).


@pytest.fixture(scope="module")
def fake_port(fake, tmp_path_factory):
    from fake_chatgpt import make_certificate, serve_fake_chatgpt

    certfile, keyfile = make_certificate(tmp_path_factory.mktemp("cert"))
    with serve_fake_chatgpt(fake, certfile, keyfile) as port:
        yield port


@pytest.fixture(scope="module")
def browser(fake_port):
    from fake_chatgpt import CHROMIUM, launch

    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip("no /usr/bin/chromium")  # CI installs it, so only a developer may skip
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # The fake site counts as public, so Local Network Access applies as on the real one.
        browser = launch(playwright, fake_port, f"--ip-address-space-overrides=127.0.0.1:{fake_port}=public")
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, headless, for a browser test module (no browser download)."""
    from playwright.sync_api import sync_playwright

    from fake_chatgpt import CHROMIUM

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: pytest's temporary folder, or the one ARCHIVER_SCREENSHOTS names
    (e.g. docs/, to refresh the README's pictures)."""
    folder = Path(os.environ["ARCHIVER_SCREENSHOTS"]).resolve() if os.environ.get("ARCHIVER_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
