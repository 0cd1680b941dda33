"""Issue 12, class 1: timestamps are untrusted. A capture's claimed times can neither take a
conversation over (title, fields, current branch, /wanted, rebuild) nor break a page."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

import archiver.db
from archiver.app import create_app
from archiver.db import open_db, prepare_capture, rebuild, save_capture, write_transaction
from archiver.reshape import to_epoch

from conftest import LOCAL
from untrusted import chain, message, conversation, raw

CID = "conv-times"


def post_received_at(db, data, seconds_ago, monkeypatch):
    """A capture as the server stores it, received ``seconds_ago`` (the clock is the one input
    a test cannot wait for)."""
    received = archiver.db.datetime.fromtimestamp(time.time() - seconds_ago, archiver.db.timezone.utc)
    monkeypatch.setattr(archiver.db, "now_iso", lambda: received.isoformat(timespec="milliseconds"))
    with write_transaction(db) as conn:
        result = save_capture(conn, prepare_capture(raw(data)), source="api", token_name="t")
    monkeypatch.undo()
    return result


def stored(db, cid=CID):
    return db.execute("select title, update_time, current_leaf from chatgpt_conversation where id = ?",
                      [cid]).fetchone()


@pytest.mark.parametrize("claimed", [4e9, 1e10, 9.9e10, 1.7e12 * 1.1, "2999-01-01T00:00:00Z"])
def test_a_future_update_time_does_not_take_the_conversation_over(db, monkeypatch, claimed):
    now = time.time()
    hostile = chain(CID, ["hello", "forged answer"], title="forged title", update_time=claimed)
    post_received_at(db, hostile, 3600, monkeypatch)
    # A genuine capture an hour later: a new branch off the first message, a new title.
    genuine = chain(CID, ["hello", "forged answer"], title="genuine title", update_time=now - 60)
    genuine["mapping"][f"{CID}-n1"]["children"] = []
    genuine["mapping"]["fresh"] = {"id": "fresh", "parent": f"{CID}-n0", "children": [],
                                   "message": message("fresh", "assistant", "genuine answer")}
    genuine["mapping"][f"{CID}-n0"]["children"].append("fresh")
    genuine["current_node"] = "fresh"
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(raw(genuine)), source="api")
    title, update_time, leaf = stored(db)
    assert (title, leaf) == ("genuine title", "fresh")
    assert update_time == pytest.approx(now - 60, abs=1)
    current = {r[0] for r in db.execute(
        "select node_id from chatgpt_message where conversation_id = ? and is_current = 1", [CID])}
    assert current == {"client-created-root", f"{CID}-n0", "fresh"}
    # ChatGPT lists a newer change: the archive asks for it.
    listed = [{"id": CID, "update_time": now}]
    assert archiver.db.wanted_conversations(db.conn, listed) == [CID]
    # Rebuild replays in trusted order, and lands where live capture did.
    with write_transaction(db) as conn:
        rebuild(conn)
    assert stored(db)[:1] == ("genuine title",) and stored(db)[2] == "fresh"


def test_a_future_capture_alone_is_asked_for_again(db, monkeypatch):
    post_received_at(db, chain(CID, ["a", "b"], update_time=1e20), 3600, monkeypatch)
    post_received_at(db, chain("other", ["a", "b"], update_time=4e9), 3600, monkeypatch)
    listed = [{"id": CID, "update_time": time.time()}, {"id": "other", "update_time": time.time()}]
    assert archiver.db.wanted_conversations(db.conn, listed) == [CID, "other"]


def test_rebuild_repairs_a_takeover_an_old_archive_holds(db):
    """An archive written before the fix: the future capture's claim stored as is."""
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(raw(chain(CID, ["a", "b"], title="forged", update_time=5e9))),
                     source="api")
        genuine = chain(CID, ["a", "b", "c"], title="genuine", update_time=time.time() - 60)
        save_capture(conn, prepare_capture(raw(genuine)), source="api")
        # What the old code left behind: the forged time and title kept winning. The forged
        # capture arrived an hour before the genuine one. (No range triggers then.)
        for name in ("insert", "update"):
            conn.execute(f"drop trigger chatgpt_conversation_times_{name}")
        conn.execute("drop trigger chatgpt_conversation_keeps_capture")  # nor m016's guards
        conn.execute("update chatgpt_capture set update_time = 5e9, received_at = ? where id = 1",
                     [archiver.db.datetime.fromtimestamp(time.time() - 3600, archiver.db.timezone.utc).isoformat()])
        conn.execute("update chatgpt_conversation set title = 'forged', update_time = 5e9")
    with write_transaction(db) as conn:
        rebuild(conn)
    title, update_time, _ = stored(db)
    assert title == "genuine" and update_time < time.time()


# Every kind of value a capture may carry where a time belongs.
hostile_times = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.sampled_from([1e20, -1e20, 1.7e12, 1.7e15, -1, 0, 253402300800, "NaN", "nan", "Infinity", "-inf",
                     "1e20", "1.7e12", "-5", "0001-01-01T00:00:00", "9999-12-31T23:59:59Z", "2024-13-45",
                     True, None, [], {}]),
    st.text(max_size=12),
)


def test_to_epoch_gives_seconds_in_range_or_none():
    @settings(max_examples=400, deadline=None)
    @given(hostile_times)
    def check(value):
        t = to_epoch(value)
        assert t is None or (isinstance(t, float) and 0 <= t < 1e11)

    check()
    assert to_epoch(1.7e12) == 1.7e9  # milliseconds are read as such
    assert to_epoch("2024-05-01T00:00:00Z") == 1714521600.0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from archiver.tokens import create_token

    path = tmp_path_factory.mktemp("times") / "archive.db"
    db = open_db(path)
    with write_transaction(db) as conn:
        token = create_token(conn, "t")
    db.close()
    with TestClient(create_app(path), base_url=LOCAL, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def test_no_time_a_capture_claims_breaks_a_page(served):
    """Whatever a capture says its times are, it is stored and every page that shows it answers."""
    client, auth = served
    counter = iter(range(10 ** 6))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(hostile_times, hostile_times, hostile_times, hostile_times)
    def check(conv_create, conv_update, msg_create, msg_update):
        cid = f"t{next(counter)}"
        turns = [("u", None, message("u", "user", "zebrafish question", t=msg_create)),
                 ("a", "u", dict(message("a", "assistant", "zebrafish answer"), update_time=msg_update))]
        data = conversation(cid, turns, create_time=conv_create, update_time=conv_update)
        body = json.dumps(data, allow_nan=True).encode()
        response = client.post("/api/conversations", content=body, headers=auth)
        assert response.status_code in (200, 201), response.text
        for path in ["/-/dashboard", "/-/search?q=zebrafish", f"/-/c/{cid}", f"/-/c/{cid}.md",
                     f"/-/c/{cid}.json", "/archive/chatgpt_message?_search=zebrafish", "/-/published"]:
            assert client.get(path).status_code == 200, (path, client.get(path).text[:300])

    check()


def test_the_insert_api_cannot_store_a_time_a_page_cannot_show(served):
    client, auth = served
    good = {"id": "ins-ok", "conversation_id": "ins", "node_id": "ins-ok", "text": "quokka", "create_time": 1714585000}
    assert client.post("/archive/chatgpt_conversation/-/insert", json={"row": {"id": "ins", "title": "x"}},
                       headers=auth).status_code == 201
    assert client.post("/archive/chatgpt_message/-/insert", json={"row": good}, headers=auth).status_code == 201
    for bad in [1e20, -5, 1.7e15, "soon", time.time() + 86400]:
        for column in ("create_time", "update_time"):
            row = dict(good, id=f"ins-{column}-{bad}", node_id=f"n-{column}-{bad}", **{column: bad})
            response = client.post("/archive/chatgpt_message/-/insert", json={"row": row}, headers=auth)
            assert response.status_code == 400, (bad, response.text)
            assert "Unix seconds" in response.text
            response = client.post("/archive/chatgpt_message/ins-ok/-/update", json={"update": {column: bad}},
                                   headers=auth)
            assert response.status_code == 400, (bad, response.text)
            response = client.post("/archive/chatgpt_conversation/-/upsert",
                                   json={"rows": [{"id": "ins", column: bad}]}, headers=auth)
            assert response.status_code == 400, (bad, response.text)
    for path in ["/-/dashboard", "/-/search?q=quokka", "/-/c/ins", "/-/c/ins.md", "/-/c/ins.json"]:
        assert client.get(path).status_code == 200, path


def test_an_old_archive_with_bad_times_is_repaired_on_open(db_path):
    db = open_db(db_path)
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(raw(chain(CID, ["a", "b", "c"]))), source="api")
        for name in ("insert", "update"):
            for table in ("chatgpt_message", "chatgpt_conversation"):
                conn.execute(f"drop trigger {table}_times_{name}")
        conn.execute("delete from _sqlite_migrations where name = 'm015_times_in_range'")
        for name in ("chatgpt_message_keeps_identity", "chatgpt_message_keeps_capture",
                     "chatgpt_conversation_keeps_capture"):
            conn.execute(f"drop trigger {name}")  # m016 comes later; keep it from refusing the damage
        # What the old code stored from hostile captures, and a 2023 client's milliseconds.
        conn.execute("update chatgpt_conversation set create_time = 1e20, update_time = -3")
        conn.execute(f"update chatgpt_message set create_time = 1714585000123 where node_id = '{CID}-n0'")
        conn.execute(f"update chatgpt_message set create_time = 'NaN', update_time = 9e99 where node_id = '{CID}-n1'")
    db.close()
    db = open_db(db_path)
    assert db.execute("select create_time, update_time from chatgpt_conversation").fetchone() == (None, None)
    times = dict(db.execute("select node_id, create_time from chatgpt_message where node_id like '%-n_'"))
    assert times[f"{CID}-n0"] == pytest.approx(1714585000.123)
    assert times[f"{CID}-n1"] is None
    assert db.execute("select update_time from chatgpt_message where node_id = ?", [f"{CID}-n1"]).fetchone() == (None,)
    db.close()
