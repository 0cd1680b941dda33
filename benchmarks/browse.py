"""Browsing figures on a large archive: full-text search through Datasette's JSON API and the
transcript page of a 1,000-node conversation, against a real `chatgpt-archiver serve`.

Builds (once, cached by size) an archive with N synthetic messages: 1,000-node conversations
of user/assistant text from a fixed vocabulary, written with plain executemany and the search
index rebuilt once at the end (how a bulk load should fill FTS5). Baseline for search: the same
FTS5 MATCH straight on sqlite3, in the same run.

Run by hand: python benchmarks/browse.py [--messages 1000000] [--queries 50]
"""

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from archiver.db import open_db  # noqa: E402
from archiver.reshape import MESSAGE_COLUMNS  # noqa: E402
from conftest import ArchiveServer  # noqa: E402

NODES_PER_CONVERSATION = 1000
# A vocabulary with a natural (Zipf-like) spread: a few words in most messages, most words
# in few, as in real text. Queries use words from the middle of that range.
_SYLLABLES = "ka lo mi ne ru sa te vi wo za bri cho dra fle gru plo sta tri".split()
WORDS = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES][:5000]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]
QUERY_WORDS = WORDS[200:2000]


def build(path, messages):
    rng = random.Random(7)
    db = open_db(path)
    conn = db.conn
    # Bulk load: drop the FTS triggers while loading, rebuild the index once afterwards.
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER [{name}]")
    insert = "INSERT INTO chatgpt_message ({}) VALUES ({})".format(
        ", ".join(MESSAGE_COLUMNS), ", ".join("?" for _ in MESSAGE_COLUMNS))
    conversations = messages // NODES_PER_CONVERSATION
    for c in range(conversations):
        cid = f"conv-{c:06d}"
        start = 1.69e9 + c * 3600
        conn.execute(
            "INSERT INTO chatgpt_conversation (id, title, create_time, update_time, current_node,"
            " current_leaf, message_count, shape) VALUES (?, ?, ?, ?, ?, ?, ?, 'tree')",
            [cid, " ".join(rng.choices(WORDS, WEIGHTS, k=4)), start, start + 3000,
             f"{cid}-{NODES_PER_CONVERSATION - 1}", f"{cid}-{NODES_PER_CONVERSATION - 1}", NODES_PER_CONVERSATION])
        rows = []
        for i in range(NODES_PER_CONVERSATION):
            role = "user" if i % 2 == 0 else "assistant"
            text = " ".join(rng.choices(WORDS, WEIGHTS, k=30 if role == "user" else 120))
            content = json.dumps({"content_type": "text", "parts": [text]})
            row = dict.fromkeys(MESSAGE_COLUMNS)
            row.update(id=f"{cid}-{i}", node_id=f"{cid}-{i}", conversation_id=cid, author_role=role,
                       create_time=start + i, content=content, content_type="text", text=text,
                       parent_id=f"{cid}-{i - 1}" if i else None, child_index=0, is_current=1, is_hidden=0,
                       model="gpt-4o" if role == "assistant" else None, status="finished_successfully",
                       message_json=json.dumps({"id": f"{cid}-{i}", "author": {"role": role}, "content": json.loads(content)}))
            rows.append([row[k] for k in MESSAGE_COLUMNS])
        conn.executemany(insert, rows)
        conn.commit()
    for table in ("chatgpt_message", "chatgpt_conversation"):
        conn.execute(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('rebuild')")
    for _, sql in triggers:
        conn.execute(sql)
    conn.commit()
    conn.execute("ANALYZE")
    db.close()


def timed(fn, n):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {"p50 ms": round(statistics.median(times), 1), "p95 ms": round(sorted(times)[int(n * 0.95) - 1], 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    path = Path(tempfile.gettempdir()) / f"chatgpt-archiver-bench-{args.messages}.db"
    if not path.exists():
        started = time.perf_counter()
        build(path, args.messages)
        print(f"built {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    server = ArchiveServer(path)
    server.start()
    rng = random.Random(1)
    words = [rng.choice(QUERY_WORDS) for _ in range(args.queries)]
    get = lambda p: urllib.request.urlopen(server.url + p, timeout=60).read()  # noqa: E731
    try:
        iterator = iter(words * 2)
        api = timed(lambda: get(f"/{path.stem}/chatgpt_message.json?_search="
                                + urllib.request.quote(next(iterator)) + "&_size=20&_col=text"), args.queries)
        iterator = iter(words * 2)
        page = timed(lambda: get("/-/search?q=" + urllib.request.quote(next(iterator))), args.queries)
        middle = f"conv-{args.messages // NODES_PER_CONVERSATION // 2:06d}"
        transcript = timed(lambda: get(f"/-/c/{middle}"), 20)
    finally:
        server.stop()
    conn = sqlite3.connect(path)
    iterator = iter(words * 2)
    raw = timed(lambda: conn.execute(
        "SELECT rowid FROM chatgpt_message_fts WHERE chatgpt_message_fts MATCH ? ORDER BY rank LIMIT 20",
        [next(iterator)]).fetchall(), args.queries)
    print(json.dumps({
        "messages": args.messages,
        "search, Datasette JSON API (?_search=, 20 rows)": api,
        "search page /-/search (100 results with snippets)": page,
        "baseline: raw FTS5 MATCH on sqlite3 (20 rows)": raw,
        f"transcript /-/c/<id> ({NODES_PER_CONVERSATION} nodes)": transcript,
    }, indent=2))


if __name__ == "__main__":
    main()
