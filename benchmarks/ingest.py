"""Time the ingest of one large conversation capture by a real server.

``chatgpt-archiver serve`` (uvicorn, loopback) is posted a synthetic 1,000-node conversation in
the live API shape, one capture at a time, as the userscript posts them. Two figures per capture:
the answer (the client's POST round trip: the server parses, checks the shape, hashes,
compresses and commits the raw capture, then answers 201) and the rows (from the POST until the
capture's rows are committed, read from the archive file: reshape and merge, derived after the
answer). Two scenarios, as their SQL differs: re-capturing one conversation (first insert, then
upserts of every row) and a new conversation each time (inserts into a growing archive). A plain
``sqlite3`` ``executemany`` of the same message rows into a bare table, in this process, is the
baseline the answer and the rows are compared with.

    /work/venv/bin/python benchmarks/ingest.py [--iterations 50] [--json]
"""

import argparse
import json
import os
import platform
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from time import perf_counter

import httpx

from archiver.reshape import MESSAGE_COLUMNS, MESSAGE_TABLE, reshape_conversation

NODES = 1000
WORDS = (
    "the a of to and in is for that with on as it be by are can from or your when this data "
    "table query index value function request cache trail schema thread branch latency parser "
    "merge capture archive token sourdough hike weather budget recipe deploy error"
).split()
MODEL = {"model_slug": "gpt-4o", "default_model_slug": "gpt-4o"}
FINISHED = {"finish_details": {"type": "stop", "stop_tokens": [200002]}, "is_complete": True}
CODE = "def sum_{0}(rows):\n    total = 0\n    for row in rows:\n        total += row[{1}]\n"


def prose(rng, chars):
    """Words up to about ``chars`` characters: size and mix are what cost, not meaning."""
    return " ".join(rng.choices(WORDS, k=max(1, round(chars / 5.4)))).capitalize() + "."


def markdown(rng):
    """About 1,500 characters: heading, paragraph, bullet list, sometimes a code fence."""
    target = max(400, int(rng.gauss(1400, 350)))
    parts = [f"## {prose(rng, 30)}", prose(rng, 300)]
    parts.append("\n".join(f"- **{rng.choice(WORDS)}**: {prose(rng, 60)}" for _ in range(3)))
    if rng.random() < 0.4:
        parts.append(f"```python\n{CODE.format(rng.choice(WORDS), rng.randint(0, 9))}\n```")
    while sum(map(len, parts)) < target:
        parts.append(prose(rng, 250))
    return "\n\n".join(parts)


def make_conversation(seed):
    """A deterministic ``GET /backend-api/conversation/<id>`` body (format reference §3-6)."""
    rng = random.Random(seed)
    clock = [1_749_687_799.5 + seed * 86_400]
    root = "client-created-root"  # every 2025 conversation's root: ids collide, as live
    mapping = {root: {"id": root, "message": None, "parent": None, "children": []}}

    def new_id():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def node(parent, role, content, *, name=None, recipient="all", end_turn=None, **meta):
        clock[0] += rng.uniform(2, 60)  # timestamps ascend along the tree
        system = role == "system"  # 2024+: hidden, no timestamp, weight 0 (§4)
        key = new_id()
        meta = {**(MODEL if role != "user" else {}), **meta, "timestamp_": "absolute",
                "parent_id": parent}
        message = {"id": key, "author": {"role": role, "name": name, "metadata": {}},
                   "create_time": None if system else clock[0], "update_time": None,
                   "content": content, "status": "finished_successfully", "end_turn": end_turn,
                   "weight": 0.0 if system else 1.0, "metadata": meta, "recipient": recipient,
                   "channel": None}
        mapping[key] = {"id": key, "message": message, "parent": parent, "children": []}
        mapping[parent]["children"].append(key)
        return key

    def ask(parent):  # ~200 characters
        text = prose(rng, max(40, int(rng.gauss(200, 60))))
        return node(parent, "user", {"content_type": "text", "parts": [text]})

    def answer(parent, kind="next"):  # ~1,500 characters
        content = {"content_type": "text", "parts": [markdown(rng)]}
        return node(parent, "assistant", content, end_turn=True, message_type=kind, **FINISHED)

    def regenerated(parent):  # a second answer; the first stays as a dead-end leaf
        user = ask(parent)
        answer(user)
        return answer(user, "variant")

    def tool_call(parent):  # code interpreter: call, output, answer
        code = {"content_type": "code", "language": "python", "response_format_name": None,
                "text": CODE.format(rng.choice(WORDS), rng.randint(0, 9))}
        call = node(ask(parent), "assistant", code, recipient="python", end_turn=False)
        output = {"content_type": "execution_output", "text": str(rng.randint(0, 9999))}
        result = {"status": "success", "messages": []}
        return answer(node(call, "tool", output, name="python", aggregate_result=result))

    def reasoned(parent):  # hidden thoughts, then the answer
        thoughts = [{"summary": prose(rng, 30), "content": prose(rng, 400),
                     "chunks": [prose(rng, 80)], "finished": True} for _ in range(2)]
        content = {"content_type": "thoughts", "thoughts": thoughts,
                   "source_analysis_msg_id": new_id()}
        return answer(node(ask(parent), "assistant", content, end_turn=False,
                           reasoning_status="is_reasoning"))

    def image(parent):  # an uploaded image, as a pointer (§6.3)
        file_id = f"file-{rng.getrandbits(64):016x}"
        pointer = {"content_type": "image_asset_pointer", "width": 1024, "height": 768,
                   "asset_pointer": f"file-service://{file_id}",
                   "size_bytes": rng.randint(50_000, 900_000),
                   "metadata": {"dalle": None, "generation": None, "sanitized": True}}
        content = {"content_type": "multimodal_text", "parts": [pointer, prose(rng, 200)]}
        attachment = {"id": file_id, "name": "photo.png", "mime_type": "image/png"}
        return answer(node(parent, "user", content, attachments=[attachment]))

    def chat(parent):
        return answer(ask(parent))

    start = clock[0]
    leaf = node(root, "system", {"content_type": "text", "parts": [""]}, end_turn=True,
                is_visually_hidden_from_conversation=True)
    turn = 0
    while len(mapping) < NODES - 8:  # a turn adds at most 4 nodes
        turn += 1
        roll = rng.random()
        kind = (regenerated if turn % 20 == 0 else tool_call if roll < 0.08 else
                reasoned if roll < 0.16 else image if roll < 0.22 else chat)
        leaf = kind(leaf)
    while left := NODES - len(mapping):  # land on exactly NODES: 3 nodes if odd, else 2
        leaf = regenerated(leaf) if left % 2 else chat(leaf)
    return {"title": prose(rng, 40), "create_time": start, "update_time": clock[0],
            "mapping": mapping, "moderation_results": [], "current_node": leaf,
            "plugin_ids": None, "conversation_id": new_id(), "gizmo_id": None,
            "is_archived": False, "is_starred": None, "default_model_slug": "gpt-4o"}


def encode(data):  # compact UTF-8, as a browser posts it
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class Server:
    """``chatgpt-archiver serve`` on a free loopback port, with a token."""

    def __init__(self, db):
        self.db = db
        run = lambda *a: subprocess.run([sys.executable, "-m", "archiver", *map(str, a)],  # noqa: E731
                                        capture_output=True, text=True, check=True).stdout
        self.token = run("token", "create", db, "--name", "bench").strip()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, "-m", "archiver", "serve", str(db), "--port", str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30,
                                   headers={"Authorization": f"Bearer {self.token}"})
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client.get("/api/health")
                break
            except httpx.HTTPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
        self.reader = sqlite3.connect(db)  # reads the archive file, as a browsing client would see it

    def ingest(self, raw):
        """POST one capture: (seconds to the answer, seconds until its rows are committed)."""
        t0 = perf_counter()
        response = self.client.post("/api/conversations", content=raw, headers={"Content-Type": "application/json"})
        answered = perf_counter() - t0
        assert response.status_code == 201, response.text  # else it timed a no-op or an error
        capture_id = response.json()["capture_id"]
        while self.reader.execute("SELECT 1 FROM chatgpt_capture_pending WHERE capture_id = ?",
                                  [capture_id]).fetchone():
            time.sleep(0.001)
        derived = perf_counter() - t0
        failed = self.reader.execute("SELECT count(*) FROM chatgpt_capture_pending").fetchone()[0]
        assert failed == 0, "a capture failed to derive"
        return answered, derived

    def close(self):
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def open_baseline(path, types):
    """Same columns and declared types, TEXT primary key; no other index, no FTS, no trigger."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    cols = ", ".join(f"[{c}] {types[c]}" + (" PRIMARY KEY" if c == "id" else "")
                     for c in MESSAGE_COLUMNS)
    conn.execute(f"CREATE TABLE message ({cols})")
    return conn


BASELINE_INSERT = f"INSERT OR REPLACE INTO message VALUES ({','.join('?' * len(MESSAGE_COLUMNS))})"


def baseline(conn, rows):
    t0 = perf_counter()
    conn.execute("BEGIN")
    # Building the parameter lists counts: save_rows builds them inside the store step too.
    conn.executemany(BASELINE_INSERT, [[m[c] for c in MESSAGE_COLUMNS] for m in rows])
    conn.execute("COMMIT")
    return perf_counter() - t0


def summary(seconds):
    ms = [s * 1000 for s in seconds]
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[-1]
    figures = {"p50": statistics.median(ms), "p95": p95, "mean": statistics.fmean(ms)}
    return {k: round(v, 3) for k, v in figures.items()}


def run(iterations, tmp):
    same = make_conversation(0)
    parts = same["mapping"][same["current_node"]]["message"]["content"]["parts"]
    original, results = parts[0], {}
    for n, scenario in enumerate(("re-capture", "new conversation")):
        server = Server(tmp / f"archive{n}.db")
        types = {r[1]: r[2] for r in server.reader.execute(f"PRAGMA table_info({MESSAGE_TABLE})")}
        bconn = open_baseline(tmp / f"baseline{n}.db", types)
        times = {"answer": [], "rows": [], "baseline": []}
        try:
            for i in range(iterations):
                if scenario == "re-capture":  # the same conversation, a little newer, one edit
                    same["update_time"] += 1
                    parts[0] = f"{original} (revision {i})"
                    data = same
                else:  # another conversation (ids, text) of the same size and mix
                    data = make_conversation(i + 1)
                raw = encode(data)
                answered, derived = server.ingest(raw)
                times["answer"].append(answered)
                times["rows"].append(derived)
                rows = reshape_conversation(json.loads(raw))[MESSAGE_TABLE]
                times["baseline"].append(baseline(bconn, rows))  # interleaved: drift hits both alike
        finally:
            server.close()
            bconn.close()
        stats = {k: summary(v) for k, v in times.items()}
        stats["first_answer_ms"] = round(times["answer"][0] * 1000, 3)
        for key in ("answer", "rows"):
            stats[f"{key}_over_baseline_p50"] = round(stats[key]["p50"] / stats["baseline"]["p50"], 2)
        results[scenario] = stats
    return len(encode(same)), results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=50, help="captures per scenario (>= 2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.iterations < 2:
        parser.error("--iterations must be at least 2 (a p95 needs two samples)")
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        size, results = run(args.iterations, Path(tmp))
    env = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
           "cpu_count": os.cpu_count(), "platform": platform.platform(),
           "tmpdir": tempfile.gettempdir()}
    report = {"environment": env, "nodes": NODES, "capture_bytes": size,
              "iterations": args.iterations, "scenarios": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"Ingest of a {NODES:,}-node conversation ({size:,} bytes), {args.iterations} iterations")
    print(f"Python {env['python']}, SQLite {env['sqlite']}, {env['cpu_count']} CPUs, "
          f"{env['platform']}; archives in {env['tmpdir']}\n")
    print(f"{'scenario':<18}{'step (ms)':<31}{'p50':>8}{'p95':>8}{'mean':>8}")
    labels = {"answer": "answer (POST to 201)", "rows": "rows committed (from POST)",
              "baseline": "baseline executemany"}
    for scenario, stats in results.items():
        for i, (key, label) in enumerate(labels.items()):
            p50, p95, mean = stats[key].values()
            print(f"{'' if i else scenario:<18}{label:<31}{p50:>8.1f}{p95:>8.1f}{mean:>8.1f}")
    print()
    for scenario, stats in results.items():
        print(f"{scenario}: answer p50 / baseline p50 = {stats['answer_over_baseline_p50']:.2f}x,"
              f" rows p50 / baseline p50 = {stats['rows_over_baseline_p50']:.2f}x"
              f" (first answer: {stats['first_answer_ms']:.1f} ms)")


if __name__ == "__main__":
    main()
