"""Browsing figures on a large archive: the conversation list (home page), grouped search
(the library function and the page) and a transcript, against a real `chatgpt-archiver serve`.

Builds (once, cached by size) an archive with N synthetic messages in 10,000 conversations
(one of 1,000 nodes, the rest about 100), user/assistant text from a fixed vocabulary, written
with plain executemany and the search indexes (stemmed and trigram) rebuilt once at the end
(how a bulk load should fill FTS5). Baselines in the same run: the same FTS5 MATCH straight on
sqlite3, and the bare keyset query behind the list.

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
from archiver.search import search_archive  # noqa: E402
from conftest import ArchiveServer  # noqa: E402

CONVERSATIONS = 10_000
LONGEST = 1000  # conversation 0, for the transcript figure
# A vocabulary with a natural (Zipf-like) spread: a few words in most messages, most words
# in few, as in real text. Queries use words from the middle of that range.
_SYLLABLES = "ka lo mi ne ru sa te vi wo za bri cho dra fle gru plo sta tri".split()
WORDS = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES][:5000]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]
QUERY_WORDS = WORDS[200:2000]
MODELS = ["gpt-4o", "gpt-4o", "gpt-4o", "o3", "gpt-5", "gpt-4"]


def sizes(messages):
    """Messages per conversation: one of LONGEST nodes, the rest shared out evenly."""
    rest, count = messages - LONGEST, CONVERSATIONS - 1
    return [LONGEST] + [rest // count + (1 if i < rest % count else 0) for i in range(count)]


def build(path, messages):
    rng = random.Random(7)
    db = open_db(path)
    conn = db.conn
    # Bulk load: drop the index triggers while loading, rebuild the indexes once afterwards.
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER [{name}]")
    insert = "INSERT INTO chatgpt_message ({}) VALUES ({})".format(
        ", ".join(MESSAGE_COLUMNS), ", ".join("?" for _ in MESSAGE_COLUMNS))
    now = time.time()
    for c, nodes in enumerate(sizes(messages)):
        cid = f"conv-{c:06d}"
        # Newest first by number, spread over about two years back from today.
        start = now - c * 6000 - 3000
        model = MODELS[c % len(MODELS)]
        gizmo = f"g-p-{c % 7:04d}project" if c % 5 == 0 else None
        title = None if c % 50 == 7 else " ".join(rng.choices(WORDS, WEIGHTS, k=4))
        conn.execute(
            "INSERT INTO chatgpt_conversation (id, title, create_time, update_time, current_node,"
            " current_leaf, message_count, shape, default_model_slug, gizmo_id, project_id, is_archived)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'tree', ?, ?, ?, ?)",
            [cid, title, start, start + nodes, f"{cid}-{nodes - 1}", f"{cid}-{nodes - 1}", nodes,
             model, gizmo, gizmo, int(c % 31 == 3)])
        rows = []
        for i in range(nodes):
            role = "user" if i % 2 == 0 else "assistant"
            text = " ".join(rng.choices(WORDS, WEIGHTS, k=30 if role == "user" else 120))
            content = json.dumps({"content_type": "text", "parts": [text]})
            row = dict.fromkeys(MESSAGE_COLUMNS)
            row.update(id=f"{cid}-{i}", node_id=f"{cid}-{i}", conversation_id=cid, author_role=role,
                       create_time=start + i, content=content, content_type="text", text=text,
                       parent_id=f"{cid}-{i - 1}" if i else None, child_index=0, is_current=1, is_hidden=0,
                       model=model if role == "assistant" else None, status="finished_successfully",
                       message_rest=json.dumps({"id": f"{cid}-{i}", "author": {"role": role},
                                                "content": json.loads(content)}))
            rows.append([row[k] for k in MESSAGE_COLUMNS])
        conn.executemany(insert, rows)
        conn.commit()
    sizes_before = {}
    for table in ("chatgpt_message", "chatgpt_conversation"):
        for index in (f"{table}_fts", f"{table}_trigram"):
            started = time.perf_counter()
            conn.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
            conn.commit()
            sizes_before[index] = round(time.perf_counter() - started, 1)
    for _, sql in triggers:
        conn.execute(sql)
    conn.commit()
    conn.execute("ANALYZE")
    db.close()
    print(f"index rebuild seconds: {sizes_before}", file=sys.stderr)


def index_sizes(path):
    """Bytes each search index takes in the file (dbstat), and the file's size."""
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    conn.close()
    out = {}
    for name, size in rows:
        for index in ("chatgpt_message_fts", "chatgpt_message_trigram", "chatgpt_message"):
            if name == index or name.startswith(index + "_"):
                if index == "chatgpt_message" and (name.startswith("chatgpt_message_fts")
                                                   or name.startswith("chatgpt_message_trigram")):
                    continue
                out[index] = out.get(index, 0) + size
                break
    out = {k: f"{v / 1e6:,.0f} MB" for k, v in out.items()}
    out["whole file"] = f"{Path(path).stat().st_size / 1e6:,.0f} MB"
    return out


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
    n = args.queries
    rng = random.Random(1)
    words = [rng.choice(QUERY_WORDS) for _ in range(n)]
    # Parts of words: four letters from inside a mid-frequency word (the trigram index).
    parts = [w[1:5] for w in words]
    quote = urllib.request.quote
    conn = sqlite3.connect(path)
    deep = conn.execute("SELECT update_time, id FROM chatgpt_conversation ORDER BY update_time DESC, id DESC"
                        " LIMIT 1 OFFSET 9000").fetchone()
    cursor = f"{deep[0]!r}|{deep[1]}"
    results = {"messages": args.messages, "conversations": conn.execute(
        "SELECT count(*) FROM chatgpt_conversation").fetchone()[0]}

    def cycle(items):
        iterator = iter(items * 3)
        return lambda: next(iterator)

    # Library and baselines, straight on sqlite3. One untimed pass first, so every figure is
    # taken with the file in the page cache (the first reads of a 3 GB file measure the disk).
    for w in words:
        search_archive(conn, w)
        search_archive(conn, w, sort="newest")
    word = cycle(words)
    results["baseline: raw FTS5 MATCH ORDER BY rank LIMIT 20"] = timed(lambda: conn.execute(
        "SELECT rowid FROM chatgpt_message_fts WHERE chatgpt_message_fts MATCH ? ORDER BY rank LIMIT 20",
        [word()]).fetchall(), n)
    word = cycle(words)
    results["search_archive(conn, word): 20 conversations, grouped, snippets"] = timed(
        lambda: search_archive(conn, word()), n)
    word = cycle(words)
    results["search_archive(conn, word, sort='newest')"] = timed(lambda: search_archive(conn, word(), sort="newest"), n)
    word = cycle(words)
    results["search_archive(conn, word, role='user', since=a year ago)"] = timed(
        lambda: search_archive(conn, word(), role="user", since=time.time() - 365 * 86400), n)
    word = cycle(words)
    results["search_archive(conn, word, model='o3')"] = timed(lambda: search_archive(conn, word(), model="o3"), n)
    part = cycle(parts)
    results["search_archive(conn, part, mode='substring') (trigram)"] = timed(
        lambda: search_archive(conn, part(), mode="substring"), n)
    results["baseline: bare keyset query for the list (100 rows)"] = timed(lambda: conn.execute(
        "SELECT id, title, update_time FROM chatgpt_conversation ORDER BY update_time DESC, id DESC LIMIT 101"
    ).fetchall(), n)
    conn.close()

    server = ArchiveServer(path)
    server.start()
    get = lambda p: urllib.request.urlopen(server.url + p, timeout=120).read()  # noqa: E731
    try:
        get("/")  # warm up: Datasette's first request introspects the database
        for w in words[:10]:
            get("/-/search?q=" + quote(w))
        results["home page / (newest 100 of 10,000, grouped)"] = timed(lambda: get("/"), n)
        results["home page, 9,000 conversations down (?before=)"] = timed(
            lambda: get("/?before=" + quote(cursor)), n)
        title = cycle(words)
        results["title filter /-/conversations?title=word"] = timed(
            lambda: get("/-/conversations?title=" + quote(title())), n)
        word = cycle(words)
        results["search page /-/search?q=word"] = timed(lambda: get("/-/search?q=" + quote(word())), n)
        word = cycle(words)
        results["search, Datasette JSON API (?_search=, 20 rows)"] = timed(
            lambda: get(f"/{path.stem}/chatgpt_message.json?_search=" + quote(word()) + "&_size=20&_col=text"), n)
        results[f"transcript /-/c/<id> ({LONGEST} nodes)"] = timed(lambda: get("/-/c/conv-000000"), 20)
    finally:
        server.stop()
    results["sizes"] = index_sizes(path)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
