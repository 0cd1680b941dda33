"""Offline semantic search: the bundled model loads with no network, embeddings are kept up
to date (CLI catch-up, changed text, deleted messages, serve's background embedder), and
searching by meaning finds what the words do not."""

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.db import open_db, prepare_capture, save_capture, write_transaction
from archiver.semantic import (
    DIMS,
    embed_pending,
    embedder,
    fuse,
    hybrid_search,
    quantize,
    semantic_message_ids,
)
from archiver.tokens import create_token
from conftest import ArchiveServer

# Each conversation's answer says it in other words than the query that should find it.
TOPICS = {
    "car": ("My car makes a knocking sound when I accelerate up hills.",
            "That is often engine pre-ignition; try higher octane fuel and check the spark plugs."),
    "garden": ("Why are the leaves on my tomato plants turning yellow?",
               "Yellowing foliage usually means the soil lacks nitrogen or the roots sit in water."),
    "money": ("How should I start putting money aside for retirement?",
              "Open a pension account and invest a fixed share of each salary in index funds."),
    "sleep": ("I keep waking up at 3am and cannot fall asleep again.",
              "Keep a regular bedtime, avoid caffeine after noon and dim screens in the evening."),
}
QUERIES = {"vehicle motor noise": "car", "vegetable garden foliage discoloured": "garden",
           "saving for when I stop working": "money", "insomnia at night": "sleep"}


def conversation(key, n, model="gpt-4o", update=1_700_000_000):
    question, answer = TOPICS[key]
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": [f"{key}-q"]}}
    for node, parent, role, text, child in ((f"{key}-q", "root", "user", question, f"{key}-a"),
                                            (f"{key}-a", f"{key}-q", "assistant", answer, None)):
        mapping[node] = {"id": node, "parent": parent, "children": [child] if child else [], "message": {
            "id": node, "author": {"role": role}, "create_time": update + n, "status": "finished_successfully",
            "content": {"content_type": "text", "parts": [text]}, "metadata": {"model_slug": model}}}
    return {"id": f"c-{key}", "title": f"Chat {n}", "create_time": update, "update_time": update + n,
            "mapping": mapping, "current_node": f"{key}-a", "default_model_slug": model}


def save(db, *conversations):
    with write_transaction(db) as conn:
        for c in conversations:
            save_capture(conn, prepare_capture(json.dumps(c).encode()), source="test")


@pytest.fixture
def topics(db):
    save(db, *(conversation(key, n, model="o3" if key == "sleep" else "gpt-4o") for n, key in enumerate(TOPICS)))
    return db


def test_the_model_loads_from_the_wheel_with_no_network(tmp_path):
    # A fresh home (no cache), the hub offline, and no proxy that could reach anything.
    env = {**os.environ, "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    code = ("import sys; from archiver.semantic import embedder; v = embedder().embed(['hello world']);"
            " print(v.shape, round(float((v * v).sum()), 4), 'wordllama' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Unit length, and wordllama's own code (with its hub fallback) was never imported.
    assert done.stdout.strip() == f"(1, {DIMS}) 1.0 False"
    assert not any(tmp_path.rglob("*"))  # nothing cached or downloaded


def test_quantised_vectors_keep_the_ranking():
    vectors = embedder().embed(["bread baking", "sourdough loaf", "tax return forms"])
    (bits, int8, scale), = quantize(vectors[:1])
    assert len(bits) == DIMS // 8 and len(int8) == DIMS
    import numpy as np

    restored = np.frombuffer(int8, dtype=np.int8).astype(np.float32) * scale
    assert abs(float(restored @ vectors[0]) - 1.0) < 0.01


def test_catch_up_is_incremental_and_follows_changes(topics, db_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["embed", "--db", str(db_path)]).output == "Embedded 8 messages.\n"
    assert runner.invoke(cli, ["embed", "--db", str(db_path)]).output == "Every message is embedded already.\n"
    changed = conversation("car", 9)
    changed["mapping"]["car-a"]["message"]["content"]["parts"] = ["Replace the timing belt."]
    save(topics, changed)
    assert runner.invoke(cli, ["embed", "--db", str(db_path)]).output == "Embedded 1 messages.\n"
    with write_transaction(topics) as conn:
        conn.execute("DELETE FROM chatgpt_message WHERE node_id = 'garden-a'")
    assert topics.execute("SELECT count(*) FROM chatgpt_embedding").fetchone() == (7,)


def test_meaning_finds_what_words_do_not(topics):
    embed_pending(topics)
    for query, key in QUERIES.items():
        keyword = hybrid_search(topics.conn, query, mode="keyword")
        semantic = hybrid_search(topics.conn, query, mode="semantic", limit=1)
        assert keyword["conversations"] == [], query  # no shared words
        assert [c["conversation_id"] for c in semantic["conversations"]] == [f"c-{key}"], query
        hybrid = hybrid_search(topics.conn, query, mode="hybrid", limit=1)
        assert hybrid["conversations"][0]["conversation_id"] == f"c-{key}"
        message = semantic["conversations"][0]["messages"][0]
        assert message["node_id"].startswith(key) and message["similarity"] > 0


def test_hybrid_keeps_keyword_hits_and_filters_apply(topics):
    embed_pending(topics)
    # "octane" is a word only the car answer has: keyword finds it, hybrid keeps it first.
    hybrid = hybrid_search(topics.conn, "octane", mode="hybrid")
    assert hybrid["conversations"][0]["conversation_id"] == "c-car"
    assert hybrid["conversations"][0]["messages"][0]["snippet"].startswith("That is often engine")
    # The sleep conversation is the only o3 one: a model filter leaves nothing else.
    only = hybrid_search(topics.conn, "vehicle motor noise", mode="semantic", model="o3")
    assert [c["conversation_id"] for c in only["conversations"]] == ["c-sleep"]
    assert hybrid_search(topics.conn, "anything", mode="semantic", since=2_000_000_000)["conversations"] == []
    with pytest.raises(ValueError):
        hybrid_search(topics.conn, "x", mode="vibes")
    # Newest first: the fused conversations ordered by their last update.
    newest = hybrid_search(topics.conn, "household advice", mode="semantic", sort="newest")["conversations"]
    assert [c["update_time"] for c in newest] == sorted((c["update_time"] for c in newest), reverse=True)
    assert len(newest) == 4


def test_fuse_is_reciprocal_rank():
    assert fuse(["a", "b"], ["b", "c"], k=1) == [("b", 1 / 3 + 1 / 2), ("a", 1 / 2), ("c", 1 / 3)]


def test_index_follows_new_and_deleted_embeddings(topics):
    embed_pending(topics)
    assert semantic_message_ids(topics.conn, "insomnia at night", limit=1)[0][0].startswith("sleep-")
    with write_transaction(topics) as conn:
        conn.execute("DELETE FROM chatgpt_message WHERE node_id LIKE 'sleep-%'")
    assert not semantic_message_ids(topics.conn, "insomnia at night", limit=8)[0][0].startswith("sleep")


def test_serve_embeds_new_captures_in_the_background(db_path, db):
    with write_transaction(db) as conn:
        token = create_token(conn, "browser")
    server = ArchiveServer(db_path).start()
    try:
        import urllib.request

        request = urllib.request.Request(
            server.url + "/api/conversations", data=json.dumps(conversation("garden", 1)).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert urllib.request.urlopen(request, timeout=30).status == 201
        deadline = time.monotonic() + 60
        while db.execute("SELECT count(*) FROM chatgpt_embedding").fetchone()[0] < 2:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
    finally:
        server.stop()
    assert hybrid_search(db.conn, "vegetable garden foliage discoloured", mode="semantic")[
        "conversations"][0]["conversation_id"] == "c-garden"


def test_the_search_page_searches_by_meaning(client, db):
    save(db, *(conversation(key, n) for n, key in enumerate(TOPICS)))
    embed_pending(db)
    page = lambda **args: client.get("/-/search", params={"q": "insomnia at night", **args})  # noqa: E731
    assert "c-sleep" not in page().text  # words alone find nothing
    meaning = page(mode="semantic")
    assert meaning.status_code == 200 and "/-/c/c-sleep" in meaning.text
    assert "Keep a regular bedtime" in meaning.text  # the matching message's snippet
    assert '<option value="semantic" selected>meaning</option>' in meaning.text
    assert "/-/c/c-sleep" in page(mode="hybrid").text
    assert '<option value="keyword" selected>words</option>' in page(mode="vibes").text  # unknown: words
