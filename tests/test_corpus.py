"""Real conversations from public repositories, read in place from ../shared/corpus (never
copied here: they hold real people's words). Skipped when the folder is absent."""

import json

import pytest

from archiver.db import prepare_capture, save_capture, write_transaction
from archiver.reshape import to_json
from conftest import CORPUS

FILES = sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason="../shared/corpus is not present")


def conversations(path):
    data = json.loads(path.read_bytes())
    return data if isinstance(data, list) else [data]


# Keys whose values are labels, not words a person wrote or read.
LABELS = {"content_type", "language", "response_format_name", "direction", "format", "expiry_datetime",
          "source_analysis_msg_id"}


def strings_in(value):
    stack, found = [value], []
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(v for k, v in item.items() if k not in LABELS)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def independent_branch(conversation):
    """Walk up from current_node by the mapping's parent links."""
    mapping, key, seen = conversation["mapping"], conversation.get("current_node"), set()
    while key in mapping and key not in seen:
        seen.add(key)
        key = mapping[key].get("parent")
    return seen


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_imports_losslessly(db, path):
    for conversation in conversations(path):
        raw = json.dumps(conversation).encode()
        with write_transaction(db) as conn:
            result = save_capture(conn, prepare_capture(raw), source="corpus")
        cid = result.conversation_id
        stored = {
            r[0]: r[1:]
            for r in db.execute(
                "select node_id, is_current, text, author_role from chatgpt_message where conversation_id = ?",
                [cid],
            )
        }
        mapping = conversation["mapping"]
        # Every node with a message is stored (and the message-less ones too).
        assert set(stored) == set(mapping)
        # The current branch matches a walk from current_node, when current_node is there.
        if conversation.get("current_node") in mapping:
            assert {k for k, v in stored.items() if v[0]} == independent_branch(conversation)
        else:
            assert sum(v[0] for v in stored.values()) >= 1
        # No message with words in its content ends up with empty text.
        for key, node in mapping.items():
            message = node.get("message")
            if message and any(s.strip() for s in strings_in(message.get("content"))):
                assert stored[key][1], f"{path.name}: {key} has content but no text"
        # message_json (a computed column since m035) reads back as each message was captured.
        json_of = dict(db.execute("select node_id, message_json from chatgpt_message where conversation_id = ?", [cid]))
        assert {k: json.loads(v) if v else None for k, v in json_of.items()} == {
            k: node.get("message") for k, node in mapping.items()}
        assert json_of == {k: to_json(node.get("message")) for k, node in mapping.items()}
