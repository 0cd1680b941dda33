import json
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app
from archiver.db import open_db, write_transaction
from archiver.tokens import create_token

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).parent.parent.parent / "shared" / "corpus"


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
    with TestClient(create_app(db_path)) as test_client:
        yield test_client
