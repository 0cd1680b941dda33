"""How long does the server take to ingest one large conversation capture?

Times what the ingest endpoint does with a posted body: ``prepare_capture`` (parse + reshape,
outside the write lock) and ``save_capture`` inside ``write_transaction`` (the store step,
commit included), for a synthetic 1,000-node conversation in the live API shape. Two
scenarios, because they run different SQL: re-capturing the same conversation (first
iteration inserts, later ones upsert every row) and a new conversation each time (inserts
only, into a growing archive). A raw ``sqlite3`` ``executemany`` of the same message rows is
the floor the store step is compared with.

    /work/venv/bin/python benchmarks/ingest.py [--iterations 50] [--json]
"""

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from time import perf_counter

from archiver.db import open_db, prepare_capture, save_capture, write_transaction
from archiver.reshape import MESSAGE_COLUMNS, MESSAGE_TABLE

NODES = 1000
WORDS = (
    "the a of to and in is for that with on as it be by are can from or your when this "
    "data table query index value function request cache trail schema thread branch latency "
    "parser merge capture archive token sourdough hike weather budget recipe deploy error"
).split()
MODEL = {"model_slug": "gpt-4o", "default_model_slug": "gpt-4o"}
FINISHED = {"finish_details": {"type": "stop", "stop_tokens": [200002]}, "is_complete": True}


def prose(rng, chars):
    """Words up to about ``chars`` characters; content, not meaning, is what costs."""
    words, size = [], 0
    while size < chars:
        words.append(rng.choice(WORDS))
        size += len(words[-1]) + 1
    return " ".join(words).capitalize() + "."


def code_snippet(rng):
    name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}"
    return f"def {name}(rows):\n    total = 0\n    for row in rows:\n        total += row[{rng.randint(0, 9)}]\n    return total\n\nprint({name}([[1, 2, 3]] * {rng.randint(2, 99)}))"


def assistant_markdown(rng):
    """About 1,500 characters: heading, paragraphs, a bullet list, sometimes a code fence."""
    target = max(400, int(rng.gauss(1500, 350)))
    parts = [f"## {prose(rng, 30)}", prose(rng, 300)]
    parts.append("\n".join(f"- **{rng.choice(WORDS)}**: {prose(rng, 60)}" for _ in range(3)))
    if rng.random() < 0.4:
        parts.append(f"```python\n{code_snippet(rng)}\n```")
    while sum(map(len, parts)) < target:
        parts.append(prose(rng, 250))
    return "\n\n".join(parts)


def make_conversation(seed):
    """A deterministic ``GET /backend-api/conversation/<id>`` body (format reference §3-6)."""
    rng = random.Random(seed)
    new_id = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
    start = t = 1_749_687_799.5 + seed * 86_400
    root = "client-created-root"  # shared by every 2025 conversation, as in real captures
    mapping = {root: {"id": root, "message": None, "parent": None, "children": []}}

    def node(parent, role, content, *, name=None, recipient="all", end_turn=None, timed=True, **meta):
        nonlocal t
        t += rng.uniform(2, 60)  # timestamps ascend in tree order
        key = new_id()
        meta = {**(MODEL if role != "user" else {}), **meta, "timestamp_": "absolute", "parent_id": parent}
        mapping[key] = {"id": key, "parent": parent, "children": [], "message": {
            "id": key, "author": {"role": role, "name": name, "metadata": {}},
            "create_time": t if timed else None, "update_time": None, "content": content,
            "status": "finished_successfully", "end_turn": end_turn, "weight": 1.0 if timed else 0.0,
            "metadata": meta, "recipient": recipient, "channel": None}}
        mapping[parent]["children"].append(key)
        return key

    text = lambda s: {"content_type": "text", "parts": [s]}  # noqa: E731
    answer = lambda parent, kind="next": node(  # noqa: E731
        parent, "assistant", text(assistant_markdown(rng)), end_turn=True, message_type=kind, **FINISHED)
    ask = lambda parent: node(parent, "user", text(prose(rng, max(40, int(rng.gauss(200, 60))))))  # noqa: E731

    leaf = node(root, "system", text(""), end_turn=True, timed=False, is_visually_hidden_from_conversation=True)
    turn = 0
    while NODES - len(mapping) > 8:  # every turn below adds at most 4 nodes
        turn += 1
        roll = rng.random()
        if turn % 20 == 0:  # a regenerated answer: the older one stays as a dead-end leaf
            user = ask(leaf)
            answer(user)
            leaf = answer(user, "variant")
        elif roll < 0.08:  # code interpreter: call, output, then the answer
            call = node(ask(leaf), "assistant", {"content_type": "code", "language": "python",
                        "response_format_name": None, "text": code_snippet(rng)}, recipient="python", end_turn=False)
            out = node(call, "tool", {"content_type": "execution_output", "text": str(rng.randint(2, 9999))},
                       name="python", aggregate_result={"status": "success", "messages": []})
            leaf = answer(out)
        elif roll < 0.16:  # reasoning: hidden thoughts before the answer
            thoughts = [{"summary": prose(rng, 30), "content": prose(rng, 400), "chunks": [prose(rng, 80)],
                         "finished": True} for _ in range(2)]
            leaf = answer(node(ask(leaf), "assistant", {"content_type": "thoughts", "thoughts": thoughts,
                               "source_analysis_msg_id": new_id()}, end_turn=False, reasoning_status="is_reasoning"))
        elif roll < 0.22:  # an uploaded image
            file_id = f"file-{rng.getrandbits(64):016x}"
            image = {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{file_id}",
                     "size_bytes": rng.randint(50_000, 900_000), "width": 1024, "height": 768, "fovea": None,
                     "metadata": {"dalle": None, "gizmo": None, "generation": None, "sanitized": True}}
            user = node(leaf, "user", {"content_type": "multimodal_text", "parts": [image, prose(rng, 200)]},
                        attachments=[{"id": file_id, "name": "photo.png", "mime_type": "image/png"}])
            leaf = answer(user)
        else:
            leaf = answer(ask(leaf))
    while NODES - len(mapping):  # land on exactly NODES: a 3-node regeneration if an odd count is left
        if (NODES - len(mapping)) % 2:
            user = ask(leaf)
            answer(user)
            leaf = answer(user, "variant")
        else:
            leaf = answer(ask(leaf))
    return {"title": prose(rng, 40), "create_time": start, "update_time": t, "mapping": mapping,
            "moderation_results": [], "current_node": leaf, "plugin_ids": None,
            "conversation_id": new_id(), "conversation_template_id": None, "gizmo_id": None,
            "gizmo_type": None, "is_archived": False, "is_starred": None, "safe_urls": [],
            "default_model_slug": "gpt-4o", "async_status": None, "memory_scope": "global_enabled"}


def encode(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()  # as a browser posts it


def ingest(db, raw):
    """One capture, timed the way the server runs it: prepare outside the lock, then store."""
    t0 = perf_counter()
    capture = prepare_capture(raw)
    t1 = perf_counter()
    with write_transaction(db) as conn:
        result = save_capture(conn, capture, source="bench")
    t2 = perf_counter()
    # A duplicate would be a no-op and make the figures meaningless.
    assert not result.duplicate and result.messages == NODES, result
    return capture.rows[MESSAGE_TABLE], t1 - t0, t2 - t1


def open_baseline(path, types):
    """Same columns (declared types from the archive), TEXT primary key; no indexes, FTS or triggers."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    cols = ", ".join(f"[{c}] {'TEXT PRIMARY KEY' if c == 'id' else types[c]}" for c in MESSAGE_COLUMNS)
    conn.execute(f"CREATE TABLE message ({cols})")
    return conn


BASELINE_INSERT = "INSERT OR REPLACE INTO message VALUES ({})".format(", ".join("?" * len(MESSAGE_COLUMNS)))


def baseline(conn, rows):
    t0 = perf_counter()
    conn.execute("BEGIN")
    # Building the parameter lists is counted, as save_rows builds them inside the store step too.
    conn.executemany(BASELINE_INSERT, [[m[c] for c in MESSAGE_COLUMNS] for m in rows])
    conn.execute("COMMIT")
    return perf_counter() - t0


def run(iterations, tmp):
    base = make_conversation(0)
    leaf_parts = base["mapping"][base["current_node"]]["message"]["content"]["parts"]
    original = leaf_parts[0]
    results = {}
    for scenario in ("re-capture", "new conversation"):
        db = open_db(tmp / f"{scenario[:3]}-archive.db")
        types = {name: kind for _, name, kind, *_ in db.conn.execute(f"PRAGMA table_info({MESSAGE_TABLE})")}
        bconn = open_baseline(tmp / f"{scenario[:3]}-baseline.db", types)
        times = {"total": [], "prepare": [], "store": [], "baseline": []}
        for i in range(iterations):
            if scenario == "re-capture":  # same conversation, a little newer each time
                base["update_time"] += 1
                leaf_parts[0] = f"{original} (revision {i})"
                raw = encode(base)
            else:  # a different conversation (ids, text) of the same size and mix
                raw = encode(make_conversation(i + 1))
            rows, prepare, store = ingest(db, raw)
            times["prepare"].append(prepare)
            times["store"].append(store)
            times["total"].append(prepare + store)
            times["baseline"].append(baseline(bconn, rows))  # interleaved, so drift hits both alike
        db.conn.close()
        bconn.close()
        stats = {k: summary(v) for k, v in times.items()}
        stats["first_total_ms"] = times["total"][0] * 1000
        stats["store_over_baseline_p50"] = stats["store"]["p50"] / stats["baseline"]["p50"]
        results[scenario] = stats
    return len(encode(base)), results


def summary(seconds):
    ms = [s * 1000 for s in seconds]
    return {"p50": statistics.median(ms), "p95": statistics.quantiles(ms, n=20, method="inclusive")[-1],
            "mean": statistics.fmean(ms)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=50, help="captures per scenario (>= 2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.iterations < 2:
        parser.error("--iterations must be at least 2 (p95 needs two samples)")
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        size, results = run(args.iterations, Path(tmp))
    env = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
           "cpu_count": os.cpu_count(), "platform": platform.platform(), "tmpdir": tempfile.gettempdir()}
    report = {"environment": env, "nodes": NODES, "capture_bytes": size,
              "iterations": args.iterations, "scenarios": results}
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    print(f"Ingest of a {NODES:,}-node conversation ({size:,} bytes), {args.iterations} iterations")
    print(f"Python {env['python']}, SQLite {env['sqlite']}, {env['cpu_count']} CPUs, {env['platform']}")
    print(f"archives in {env['tmpdir']}; times in ms\n")
    print(f"{'scenario':<18}{'step':<30}{'p50':>9}{'p95':>9}{'mean':>9}")
    steps = {"total": "total ingest", "prepare": "prepare (parse + reshape)",
             "store": "store (save_capture + commit)", "baseline": "baseline executemany"}
    for scenario, stats in results.items():
        for i, (key, label) in enumerate(steps.items()):
            s = stats[key]
            print(f"{scenario if i == 0 else '':<18}{label:<30}{s['p50']:>9.1f}{s['p95']:>9.1f}{s['mean']:>9.1f}")
    print()
    for scenario, stats in results.items():
        print(f"{scenario}: store p50 / baseline p50 = {stats['store_over_baseline_p50']:.1f}x;"
              f" first iteration total {stats['first_total_ms']:.1f} ms")


if __name__ == "__main__":
    main()
