"""Property-based tests: whatever JSON arrives, reshaping gives rows or a clean
NotAConversation, the rows can be stored, and the API answers 2xx/400/422, never 5xx."""

import copy
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from archiver.app import create_app
from archiver.db import open_db, prepare_capture, save_capture, write_transaction
from archiver.reshape import MESSAGE_COLUMNS, BadJSON, NotAConversation, parse_json, reshape_conversation

from conftest import LOCAL

DATA = Path(__file__).parent / "data"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
ids = st.sampled_from(["a", "b", "c", "d", "client-created-root", ""]) | st.text(max_size=6)
content = st.one_of(
    json_values,
    st.fixed_dictionaries({"content_type": st.sampled_from(
        ["text", "multimodal_text", "code", "thoughts", "execution_output", "tether_quote", "mystery"]) | json_values,
        "parts": st.lists(json_values | st.text(), max_size=3), "text": json_values},
        optional={"thoughts": json_values, "content": json_values}),
)
messages = st.one_of(json_values, st.fixed_dictionaries({
    "id": json_values | ids,
    "author": json_values | st.fixed_dictionaries({"role": json_values | st.sampled_from(["user", "assistant", "tool"])}),
    "content": content,
    "create_time": json_values,
    "metadata": json_values | st.fixed_dictionaries({"parent_id": ids, "model_slug": json_values,
                                                     "content_references": json_values,
                                                     "aggregate_result": json_values}),
    "recipient": json_values, "status": json_values, "weight": json_values, "end_turn": json_values,
}))
nodes = st.one_of(json_values, st.fixed_dictionaries({
    "parent": ids | json_values, "children": st.lists(ids, max_size=4) | json_values, "message": messages,
}))
trees = st.fixed_dictionaries(
    {"conversation_id": ids.filter(bool), "mapping": st.dictionaries(ids, nodes, max_size=8)},
    optional={"current_node": ids | json_values, "title": json_values, "update_time": json_values,
              "create_time": json_values},
)
pages = st.fixed_dictionaries(
    {"conversation_id": ids.filter(bool), "messages": st.lists(messages, max_size=6)},
    optional={"current_node": ids, "page_info": json_values},
)


def check_rows(data):
    try:
        rows = reshape_conversation(data)
    except NotAConversation:
        return None
    for row in rows["chatgpt_message"]:
        assert tuple(row) == MESSAGE_COLUMNS
        # What lets a bulk load lift the text_from_content trigger (bulk._LIFTED_FROM): it fires
        # only for a row with content and no text, which reshaping never gives.
        assert row["text"] is not None or row["content"] is None
    assert len(rows["chatgpt_conversation"]) == 1
    return rows


@SETTINGS
@given(json_values)
def test_any_json_gives_rows_or_not_a_conversation(value):
    check_rows(value)


@SETTINGS
@given(trees | pages)
def test_odd_trees_give_storable_rows(tmp_path_factory, data):
    rows = check_rows(data)
    if rows is None:
        return
    keys = data.get("mapping") or {}
    if "mapping" in data:
        assert {m["node_id"] for m in rows["chatgpt_message"]} == set(keys)
    db = open_db(tmp_path_factory.mktemp("p") / "a.db")
    raw = json.dumps(data).encode()
    with write_transaction(db) as conn:
        result = save_capture(conn, prepare_capture(raw), source="hypothesis")
    assert result.messages == len(rows["chatgpt_message"])
    db.close()


@SETTINGS
@given(st.text(max_size=40))
def test_lone_surrogates_are_storable(tmp_path_factory, text):
    # JSON may carry \ud800 escapes that are not valid Unicode; SQLite needs UTF-8.
    raw = json.dumps({"conversation_id": "s", "title": text + "\ud800",
                      "mapping": {"n": {"message": {"content": {"content_type": "text",
                                                                "parts": ["\udfff" + text]}}}}}).encode()
    db = open_db(tmp_path_factory.mktemp("s") / "a.db")
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(raw), source="hypothesis")
    assert db.execute("select count(*) from chatgpt_message").fetchone()[0] == 1
    db.close()


@SETTINGS
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_parse_json_either_parses_or_says_bad_json(raw):
    try:
        parse_json(raw)
    except BadJSON:
        pass


def test_the_api_never_answers_5xx(tmp_path, token, auth):
    with TestClient(create_app(tmp_path / "archive.db"), base_url=LOCAL, raise_server_exceptions=False) as client:
        @SETTINGS
        @given(trees | pages | json_values | st.binary(max_size=100))
        def post(body):
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            response = client.post("/api/conversations", content=content, headers=auth)
            assert response.status_code in (200, 201, 400, 422), (response.status_code, response.text)
            assert response.json()["ok"] is (response.status_code < 300)

        post()


def test_huge_and_cyclic_shapes_finish(tmp_path):
    """Shapes too big for hypothesis to draw: a 100,000-node cycle, a root with 100,000
    children, a 10 MB message and a 1 MB title. Each gives rows (or a clean error) and is
    stored; SIGALRM turns a hang into a failure instead of a stuck test run."""
    import signal

    def hung(signum, frame):
        raise AssertionError("reshaping hung")

    n = 100_000
    cycle = {f"n{i}": {"parent": f"n{(i - 1) % n}", "children": [f"n{(i + 1) % n}"],
                       "message": {"id": f"n{i}", "author": {"role": "user"},
                                   "content": {"content_type": "text", "parts": [str(i)]}}} for i in range(n)}
    wide = {"root": {"parent": None, "children": [f"c{i}" for i in range(n)], "message": None}}
    wide |= {f"c{i}": {"parent": "root", "children": [], "message": None} for i in range(n)}
    huge = {"r": {"parent": None, "children": [], "message": {"id": "r", "author": {"role": "assistant"},
            "content": {"content_type": "text", "parts": ["x" * 10_000_000]}}}}
    shapes = [("cycle", {"conversation_id": "cycle", "current_node": "n5", "mapping": cycle}, n),
              ("wide", {"conversation_id": "wide", "mapping": wide}, n + 1),
              ("huge", {"conversation_id": "huge", "title": "t" * 1_000_000, "mapping": huge}, 1)]
    db = open_db(tmp_path / "archive.db")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        for name, data, nodes in shapes:
            with write_transaction(db) as conn:
                result = save_capture(conn, prepare_capture(json.dumps(data).encode()), source="test")
            assert (name, result.messages) == (name, nodes)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert db.execute("select length(text) from chatgpt_message where conversation_id = 'huge'").fetchone()[0] == 10_000_000
    db.close()


# Values a capture can put where a known shape expects something else.
HOSTILE = [None, 7, -1.5, True, "x", [], {}, [None, 3], ["a", {"b": []}], {"content_type": []},
           [{"content_type": []}]]


def _paths(value, prefix=()):
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


def test_every_field_of_every_content_type_survives_hostile_values():
    """Each value inside each message of the every-content-type fixture (content, its parts,
    metadata, author), replaced in turn by each HOSTILE value: reshaping still gives rows, with
    text a string. Fields were typed as the renderers expect (a list for ``thoughts``, a
    string for ``content_type``); a capture need not be. Paths repeated across messages are
    tried once."""
    conversation = json.loads((DATA / "every_content_type.json").read_text())
    tried, seen = 0, set()
    for key, node in conversation["mapping"].items():
        message = node.get("message")
        if not isinstance(message, dict):
            continue
        ctype = (message.get("content") or {}).get("content_type")
        for path in _paths(message):
            shape = (ctype, *(p if isinstance(p, str) else 0 for p in path))
            if shape in seen:
                continue
            seen.add(shape)
            for value in HOSTILE:
                hostile = copy.deepcopy(conversation)
                target = hostile["mapping"][key]["message"]
                for step in path[:-1]:
                    target = target[step]
                target[path[-1]] = value
                rows = reshape_conversation(hostile)
                tried += 1
                assert all(isinstance(m["text"], str) or m["content"] is None for m in rows["chatgpt_message"])
                row = next(m for m in rows["chatgpt_message"] if m["node_id"] == key)
                assert row["message_rest"] is not None
    assert tried > 1000  # the fixture still reaches every renderer's fields


def test_a_content_type_that_is_not_a_string_is_drift_not_a_crash():
    rows = reshape_conversation({"id": "c", "mapping": {"n": {"message": {
        "id": "n", "author": {"role": "user"}, "content": {"content_type": ["text"], "parts": ["kept words"]}}}}})
    assert [(m["text"], m["unknown_types"]) for m in rows["chatgpt_message"]] == [("kept words", "list")]
