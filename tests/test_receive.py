"""What the server checks before answering a capture (``receive_capture``) refuses exactly
what the full path (parse, then reshape) refuses, with the same error, although it parses only
the top level. The one thing only deriving finds is nesting too deep to re-serialise
(tests/test_app.py: the capture is kept and reported)."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from archiver.db import receive_capture
from archiver.reshape import BadJSON, NotAConversation, parse_json, reshape_conversation
from conftest import fixture_bytes


def full_path(raw):
    """('ok', id, shape) or (error class, message), by the reshaper."""
    try:
        conversation = reshape_conversation(parse_json(raw))["chatgpt_conversation"][0]
    except (BadJSON, NotAConversation) as e:
        return type(e).__name__, str(e)
    return "ok", conversation["id"], conversation["shape"], conversation["update_time"]


def quick_path(raw):
    try:
        received = receive_capture(raw)
    except (BadJSON, NotAConversation) as e:
        return type(e).__name__, str(e)
    return "ok", received.conversation_id, received.shape, received.update_time


ids = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.just(" "), st.just("c-1"))
values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
tops = st.fixed_dictionaries({}, optional={
    "conversation_id": ids, "id": ids, "mapping": values, "messages": values,
    "update_time": st.one_of(values, st.just("2025-01-01T00:00:00Z")), "title": values})


@settings(max_examples=400, deadline=None)
@given(top=st.one_of(tops, values))
def test_quick_check_agrees_with_the_full_path(top):
    raw = json.dumps(top).encode()
    assert quick_path(raw) == full_path(raw)


@pytest.mark.parametrize("raw", [
    b"", b"{", b"[]", b"null", b'{"id": "x", "mapping": {}} x', b'{"id": "x", "mapping": {"a": [1,]}}',
    b'{"id": "x", "mapping": {"a": "\xff"}}',  # not UTF-8 inside a nested string
    b'{"id": "x", "mapping": {"a": "\\ud800"}}',  # a lone surrogate: kept, replaced
    b'\xef\xbb\xbf{"id": "x", "mapping": {}}',  # a byte-order mark
    b'{"id": "x", "mapping": {"a": 1e999}}', b'{"id": "x", "mapping": {"a": NaN}}',
    b'{"id": "x", "mapping": {"a": 123456789012345678901234567890}}',
    b'{"id": "x", "id": "y", "mapping": {}}', b'{"id": "x", "mapping": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"conversation_id": "", "id": "y", "messages": []}', b'{"id": "x", "mapping": null, "messages": []}',
    *(fixture_bytes(n) for n in ("branched.json", "every_content_type.json", "paged.json", "hostile.json")),
])
def test_edge_cases_agree(raw):
    assert quick_path(raw) == full_path(raw)
