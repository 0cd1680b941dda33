"""Import a whole OpenAI data export: our importer against a bare sqlite3 loop and chatgpt-to-sqlite.

A synthetic export folder (``conversations.json`` in the export shape, format reference §3-7 and
§12; seeded, cached by size) is imported by three programs, each a fresh process writing a
fresh database: ``chatgpt-archiver import``; a raw baseline (the same split of the array,
orjson and ``reshape_conversation``, rows ``executemany``'d into one plain table: no FTS, no
raw capture, no index but the primary key); and ``chatgpt-to-sqlite`` (``json.load`` of the
whole file, current branch only). ``chatgpt-archiver import`` also imports the same export
split into files of 100 conversations (``conversations-000.json``, ...), as 2026 exports may
come. The floor writes nothing: it cuts the array into each conversation's exact bytes,
parses, hashes and gzips each, the least an importer that keeps every conversation as
exported must do. Messages per second use one count for all: the export's nodes that carry
a message. CPU time (user + system, from the kernel) is printed beside wall time: on a
shared machine a process also waits for a core.

    /work/venv/bin/python benchmarks/import_export.py [--sizes 50,500] [--json]
"""

import argparse
import json
import os
import shutil
import sys
import platform
import random
import sqlite3
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from time import perf_counter

from ingest import CODE, FINISHED, MODEL, markdown, prose  # the ingest benchmark's text makers

GENERATOR = 1  # part of the cache key: bump it when the generated export changes
EPOCH = 1_672_531_200.0  # 2023-01-01; conversations start anywhere in the two years after
# This project's virtualenv is the one running the benchmark. chatgpt-to-sqlite goes in a
# virtualenv of its own (it pins its own dependencies): pass its command with --c2s.
VENV = Path(sys.executable).parent
C2S = Path(os.environ.get("CHATGPT_TO_SQLITE", shutil.which("chatgpt-to-sqlite") or "/tmp/c2s/bin/chatgpt-to-sqlite"))
CACHE = Path(tempfile.gettempdir()) / "archiver-bench-exports"

# The raw baseline, run as its own process like the other two. Untyped columns: the values
# arrive already typed from Python, so declared types would change nothing stored.
BASELINE = """
import sqlite3, sys, orjson
from archiver.jsonsplit import split_array
from archiver.reshape import MESSAGE_COLUMNS, reshape_conversation
export, db = sys.argv[1:]
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")  # as our archive
# Every root is 'client-created-root': node ids are unique per conversation only.
conn.execute(f"CREATE TABLE message ({', '.join(MESSAGE_COLUMNS)}, PRIMARY KEY (conversation_id, node_id))")
insert = f"INSERT INTO message VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})"
n = rows = 0
conn.execute("BEGIN")
with open(export, "rb") as f:
    for n, raw in enumerate(split_array(f), 1):
        messages = reshape_conversation(orjson.loads(raw))["chatgpt_message"]
        conn.executemany(insert, [[m[c] for c in MESSAGE_COLUMNS] for m in messages])
        rows += len(messages)
        if n % 1000 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
conn.execute("COMMIT")
print(f"{n} conversations, {rows} rows")
"""

# The floor: the least any importer keeping each conversation's exact bytes must do, done the
# fastest way found: cut the array into each element's bytes (msgspec, as our importer does),
# parse each (orjson), hash it and gzip it (level 1, ISA-L); no reshaping, no database. If
# even this is slower than a target, no schema or SQLite tuning can reach that target.
FLOOR = """
import hashlib, sys, orjson
from isal import igzip
from archiver.jsonsplit import split_array
export = sys.argv[1]
n = size = 0
with open(export, "rb") as f:
    for n, raw in enumerate(split_array(f), 1):
        orjson.loads(raw)
        hashlib.sha256(raw).digest()
        size += len(igzip.compress(raw, compresslevel=1, mtime=0))
print(f"{n} conversations, {size} bytes gzipped")
"""


def export_conversation(seed):
    """One element of ``conversations.json``. Most chats are a few turns (4-20 nodes), one in
    twenty runs to hundreds of nodes; one in ten has a regeneration or an edit."""
    rng = random.Random(seed)
    clock = [EPOCH + rng.uniform(0, 2 * 365 * 86_400)]
    root = "client-created-root"
    mapping = {root: {"id": root, "message": None, "parent": None, "children": []}}

    def new_id():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def node(parent, role, content, *, name=None, recipient="all", end_turn=None, **meta):
        clock[0] += rng.uniform(2, 90)
        timeless = role == "system" or meta.get("is_user_system_message")  # §4: no timestamp
        key = new_id()
        meta = {**(MODEL if role == "assistant" else {}), **meta, "parent_id": parent,
                "request_id": new_id(), "timestamp_": "absolute"}
        message = {"id": key, "author": {"role": role, "name": name, "metadata": {}},
                   "create_time": None if timeless else clock[0], "update_time": None,
                   "content": content, "status": "finished_successfully", "end_turn": end_turn,
                   "weight": 0.0 if role == "system" else 1.0, "metadata": meta,
                   "recipient": recipient, "channel": None}
        mapping[key] = {"id": key, "message": message, "parent": parent, "children": []}
        mapping[parent]["children"].append(key)
        return key

    def ask(parent):  # ~200 characters
        return node(parent, "user", {"content_type": "text",
                                     "parts": [prose(rng, max(30, int(rng.gauss(200, 80))))]})

    def answer(parent, kind="next"):  # ~1,500 characters of markdown
        return node(parent, "assistant", {"content_type": "text", "parts": [markdown(rng)]},
                    end_turn=True, message_type=kind, citations=[], content_references=[],
                    **FINISHED)

    def code(parent):  # code interpreter: call, hidden tool output, answer
        call = {"content_type": "code", "language": "python", "response_format_name": None,
                "text": CODE.format(rng.choice("abcxyz"), rng.randint(0, 9))}
        call = node(ask(parent), "assistant", call, recipient="python", end_turn=False)
        output = {"content_type": "execution_output", "text": str(rng.randint(0, 99_999))}
        result = {"status": "success", "run_id": new_id(), "messages": [], "jupyter_messages": []}
        return answer(node(call, "tool", output, name="python", aggregate_result=result))

    def reasoned(parent):  # hidden thoughts and "Thought for Ns", then the answer (§6.2)
        thoughts = [{"summary": prose(rng, 30), "content": prose(rng, 400),
                     "chunks": [prose(rng, 80)], "finished": True} for _ in range(2)]
        step = node(ask(parent), "assistant", {"content_type": "thoughts", "thoughts": thoughts,
                    "source_analysis_msg_id": new_id()}, reasoning_status="is_reasoning")
        seconds = rng.randint(3, 40)
        step = node(step, "assistant", {"content_type": "reasoning_recap",
                    "content": f"Thought for {seconds}s"}, finished_duration_sec=seconds)
        return answer(step)

    def image(parent):  # an uploaded image: a pointer in a multimodal_text part (§6.3)
        file_id = f"file-{rng.getrandbits(96):024x}"
        pointer = {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{file_id}",
                   "size_bytes": rng.randint(50_000, 900_000), "width": 1024, "height": 768,
                   "fovea": None, "metadata": {"dalle": None, "gizmo": None, "generation": None,
                                               "sanitized": True}}
        attachment = {"id": file_id, "name": "photo.png", "size": pointer["size_bytes"],
                      "mime_type": "image/png", "width": 1024, "height": 768}
        content = {"content_type": "multimodal_text", "parts": [pointer, prose(rng, 200)]}
        return answer(node(parent, "user", content, attachments=[attachment]))

    def branched(parent):  # the first try stays as a dead-end leaf (§4)
        if rng.random() < 0.5:  # regeneration: assistant siblings
            user = ask(parent)
            answer(user)
            return answer(user, "variant")
        answer(ask(parent))  # edited prompt: user siblings
        return answer(ask(parent))

    leaf = node(root, "system", {"content_type": "text", "parts": [""]}, end_turn=True,
                is_visually_hidden_from_conversation=True)
    if rng.random() < 0.25:  # custom instructions, hidden
        leaf = node(leaf, "user", {"content_type": "user_editable_context", "user_profile": prose(rng, 150),
                    "user_instructions": prose(rng, 250)}, is_visually_hidden_from_conversation=True,
                    is_user_system_message=True)
    turns = rng.randint(40, 160) if rng.random() < 0.05 else rng.randint(1, 8)
    forks = set(rng.sample(range(turns), min(turns, rng.randint(1, 3)))) if rng.random() < 0.1 else ()
    start = clock[0]
    for turn in range(turns):
        roll = rng.random()
        kind = (branched if turn in forks else code if roll < 0.06 else reasoned if roll < 0.14
                else image if roll < 0.19 else lambda p: answer(ask(p)))
        leaf = kind(leaf)
    cid = new_id()
    return {"title": prose(rng, 30), "create_time": start, "update_time": clock[0],
            "mapping": mapping, "moderation_results": [], "current_node": leaf,
            "plugin_ids": None, "conversation_id": cid, "conversation_template_id": None,
            "gizmo_id": None, "gizmo_type": None, "is_archived": False, "is_starred": None,
            "safe_urls": [], "blocked_urls": [], "default_model_slug": "gpt-4o",
            "conversation_origin": None, "voice": None, "async_status": None,
            "disabled_tool_ids": [], "is_do_not_remember": False, "memory_scope": "global_enabled",
            "id": cid}


def export_folder(size_mb):
    """The export folder for a size, generated once (streamed: one conversation in memory)."""
    folder = CACHE / f"v{GENERATOR}-{size_mb}mb"
    meta_path = CACHE / f"v{GENERATOR}-{size_mb}mb.json"  # outside the folder: not an export file
    if meta_path.exists():
        return folder, json.loads(meta_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "conversations.json.partial"
    meta = {"conversations": 0, "messages": 0, "branched": 0, "bytes": 0}
    with open(partial, "wb") as f:
        f.write(b"[")
        while meta["bytes"] < size_mb * 1_000_000:
            conversation = export_conversation(meta["conversations"])
            chunk = (b"," if meta["conversations"] else b"") + json.dumps(
                conversation, ensure_ascii=False, separators=(",", ":")).encode()
            f.write(chunk)
            meta["bytes"] += len(chunk)
            meta["conversations"] += 1
            meta["messages"] += len(conversation["mapping"]) - 1  # all but the message-less root
            meta["branched"] += any(len(n["children"]) > 1 for n in conversation["mapping"].values())
        f.write(b"]")
    partial.rename(folder / "conversations.json")  # a killed run leaves no half export behind
    meta["bytes"] += 2
    meta_path.write_text(json.dumps(meta))
    return folder, meta


# 2026 exports may come split into conversations-000.json, conversations-001.json, ...: the same
# export cut into files of this many conversations, to show a split export imports as fast.
SPLIT_EVERY = 100


def split_folder(folder, size_mb):
    """The export's conversations cut into files of SPLIT_EVERY, made once (each element's
    bytes as they were: the same conversations, captures and rows)."""
    from archiver.jsonsplit import split_array  # this project's Python runs the benchmark

    split = CACHE / f"v{GENERATOR}-{size_mb}mb-split"
    if split.exists():
        return split
    partial = CACHE / f"v{GENERATOR}-{size_mb}mb-split.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    chunk, n = [], 0
    with open(folder / "conversations.json", "rb") as f:
        for raw in split_array(f):
            chunk.append(raw)
            if len(chunk) == SPLIT_EVERY:
                (partial / f"conversations-{n:03d}.json").write_bytes(b"[" + b",".join(chunk) + b"]")
                chunk, n = [], n + 1
    if chunk:
        (partial / f"conversations-{n:03d}.json").write_bytes(b"[" + b",".join(chunk) + b"]")
    partial.rename(split)
    return split


def run(argv):
    """Run one importer; its wall time, its CPU time (user + system, its helper processes'
    included), its peak RSS (MB) and its output. On a shared machine wall time includes
    waiting for a core; CPU time does not.

    os.wait4 reaps this one child and returns its rusage (with that of the processes it
    started and reaped), so ru_maxrss is the largest of those processes' peaks, not of every
    child this benchmark has run. The RSS of the process and every process under it,
    summed, is also sampled every 20 ms: an importer using two processes holds both."""
    with tempfile.TemporaryFile() as out:  # a file, not a pipe: a chatty child cannot block
        t0 = perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        peak = [0]
        done = threading.Event()
        sampler = threading.Thread(target=_sample_tree_rss, args=(proc.pid, peak, done), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    if proc.returncode:
        raise SystemExit(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{output[-3000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, peak[0] / 1024, output  # kB


def _sample_tree_rss(pid, peak, done):
    def tree(p):
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            children = []
        return [p, *(q for c in children for q in tree(int(c)))]

    def rss(p):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    while not done.wait(0.02):
        peak[0] = max(peak[0], sum(rss(p) for p in tree(pid)))


def measure(size_mb, tmp):
    folder, meta = export_folder(size_mb)
    export = folder / "conversations.json"
    script = tmp / "baseline.py"
    script.write_text(BASELINE)
    floor = tmp / "floor.py"
    floor.write_text(FLOOR)
    split = split_folder(folder, size_mb)
    importers = {
        "chatgpt-archiver": lambda db: [VENV / "chatgpt-archiver", "import", "--quiet", "--db", db, folder],
        "chatgpt-archiver, split export": lambda db: [VENV / "chatgpt-archiver", "import", "--quiet", "--db", db,
                                                      split],
        "raw sqlite3": lambda db: [VENV / "python", script, export, db],
        "chatgpt-to-sqlite": lambda db: [C2S, "export", export, db],
        "floor (split+parse+hash+gzip)": lambda db: [VENV / "python", floor, export],
    }
    results = {}
    for name, argv in importers.items():
        workdir = Path(tempfile.mkdtemp(dir=tmp))  # a fresh database each time
        db = workdir / "archive.db"
        seconds, cpu, rss, tree_rss, output = run(argv(db))
        on_disk = sum(p.stat().st_size for p in workdir.iterdir())  # with -wal/-shm, if left
        if name.startswith("chatgpt-archiver"):  # messages as `stats` counts them: the roots are not
            expected = f"{meta['messages']:,} messages stored"
            assert expected in output, f"expected '{expected}' in: {output[-500:]}"
        results[name] = {"seconds": round(seconds, 2), "messages_per_s": round(meta["messages"] / seconds),
                         "cpu_seconds": round(cpu, 2),
                         "peak_rss_mb": round(rss, 1), "peak_rss_all_processes_mb": round(tree_rss, 1),
                         "db_mb": round(on_disk / 1e6, 1)}
        for p in workdir.iterdir():
            p.unlink()
        workdir.rmdir()
    c2s = results["chatgpt-to-sqlite"]
    ratios = {}
    for name in ("chatgpt-archiver", "chatgpt-archiver, split export", "raw sqlite3", "floor (split+parse+hash+gzip)"):
        ratios[f"{name} / chatgpt-to-sqlite"] = {
            "wall": round(results[name]["messages_per_s"] / c2s["messages_per_s"], 2),
            "cpu": round(c2s["cpu_seconds"] / results[name]["cpu_seconds"], 2)}
    return {"export": meta, "importers": results, "speed_ratios": ratios}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,500", help="export sizes in MB (10^6 bytes), comma-separated")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        report = {f"{size} MB": measure(size, Path(tmp)) for size in sizes}
    env = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
           "cpu_count": os.cpu_count(), "platform": platform.platform(),
           "tmpdir": tempfile.gettempdir(), "export_cache": str(CACHE)}
    if args.json:
        print(json.dumps({"environment": env, "sizes": report}, indent=2))
        return
    print(f"Python {env['python']}, SQLite {env['sqlite']}, {env['cpu_count']} CPUs, {env['platform']};"
          f" databases in {env['tmpdir']}, exports cached in {env['export_cache']}\n")
    print(f"{'size':<8}{'importer':<31}{'seconds':>9}{'CPU s':>8}{'messages/s':>12}{'peak RSS MB':>13}"
          f"{'all procs':>11}{'DB MB':>9}")
    for size, figures in report.items():
        for i, (name, r) in enumerate(figures["importers"].items()):
            print(f"{'' if i else size:<8}{name:<31}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}"
                  f"{r['messages_per_s']:>12,}{r['peak_rss_mb']:>13,.0f}{r['peak_rss_all_processes_mb']:>11,.0f}"
                  f"{r['db_mb']:>9,.1f}")
    print()
    for size, figures in report.items():
        e = figures["export"]
        print(f"{size}: {e['bytes'] / 1e6:,.1f} MB, {e['conversations']:,} conversations"
              f" ({e['branched']:,} branched), {e['messages']:,} messages. Speed against chatgpt-to-sqlite"
              f" (messages/s by wall time; by CPU time):")
        for name, ratio in figures["speed_ratios"].items():
            print(f"  {name:<45}{ratio['wall']:>6.2f}x wall{ratio['cpu']:>8.2f}x CPU")


if __name__ == "__main__":
    main()
