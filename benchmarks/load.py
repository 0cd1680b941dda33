"""Load: concurrent clients posting real-sized conversations while Datasette is being
browsed, against a real `chatgpt-archiver serve` on loopback. Bounded in count and time.

Reports ingest latency p50/p99 and throughput, browse latency, and every error, with
"database is locked" counted on its own (there must be none: all writes go through one writer).

Run by hand: python benchmarks/load.py [--clients 8] [--posts 20] [--nodes 200]
"""

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import ArchiveServer  # noqa: E402
from ingest import make_conversation  # noqa: E402

DEADLINE_SECONDS = 300  # every loop below stops by itself


def trimmed(conversation, nodes):
    """A real-sized conversation: the generator's first ``nodes`` nodes, links kept whole."""
    keep = list(conversation["mapping"])[:nodes]
    mapping = {k: dict(conversation["mapping"][k]) for k in keep}
    for node in mapping.values():
        node["children"] = [c for c in node["children"] if c in mapping]
    return dict(conversation, mapping=mapping, current_node=keep[-1])


def poster(url, token, client_id, posts, nodes, results):
    base = make_conversation(client_id)
    latencies, errors = [], []
    deadline = time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for i in range(posts):
            if time.monotonic() > deadline:
                break
            body = trimmed(base, nodes)
            body["conversation_id"] = f"load-{client_id}-{i}"
            raw = json.dumps(body).encode()
            start = time.perf_counter()
            response = client.post("/api/conversations", content=raw)
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code not in (200, 201):
                errors.append(f"{response.status_code} {response.text[:200]}")
    results.put(("post", latencies, errors, len(raw)))


def browser(url, database, stop, results):
    paths = [f"/{database}/chatgpt_conversation.json", f"/{database}/chatgpt_message.json?_search=the",
             "/-/search?q=function", "/-/dashboard", f"/{database}/chatgpt_message.json?author_role=user"]
    latencies, errors = [], []
    deadline = time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(base_url=url, timeout=60) as client:
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            start = time.perf_counter()
            response = client.get(paths[i % len(paths)])
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                errors.append(f"{response.status_code} {paths[i % len(paths)]}")
            i += 1
    results.put(("browse", latencies, errors, 0))


def percentile(values, p):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 1) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--posts", type=int, default=20, help="conversations each client posts")
    parser.add_argument("--nodes", type=int, default=200, help="nodes per conversation")
    args = parser.parse_args()
    server = ArchiveServer(Path(tempfile.mkdtemp()) / "load.db")
    token = server.cli("token", "create", server.db, "--name", "load").strip()
    server.start()
    results, stop = multiprocessing.Queue(), multiprocessing.Event()
    started = time.perf_counter()
    posters = [multiprocessing.Process(target=poster, args=(server.url, token, c, args.posts, args.nodes, results))
               for c in range(args.clients)]
    reader = multiprocessing.Process(target=browser, args=(server.url, "load", stop, results))
    for p in posters + [reader]:
        p.start()
    collected = [results.get(timeout=DEADLINE_SECONDS + 60) for _ in posters]
    elapsed = time.perf_counter() - started
    # Captures are answered once kept; their rows follow. Throughput counts rows in, too.
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        while (stats := client.get("/api/stats").json())["captures_pending"]:
            time.sleep(0.05)
    derived = time.perf_counter() - started
    stop.set()
    collected.append(results.get(timeout=60))
    for p in posters + [reader]:
        p.join(timeout=30)
    _, log = server.stop()
    posts = [v for kind, lat, _, _ in collected if kind == "post" for v in lat]
    browse = [v for kind, lat, _, _ in collected if kind == "browse" for v in lat]
    errors = [e for _, _, errs, _ in collected for e in errs]
    size = next(s for kind, _, _, s in collected if kind == "post")
    print(json.dumps({
        "clients": args.clients, "conversations posted": len(posts), "nodes each": args.nodes,
        "bytes each": size, "seconds": round(elapsed, 1),
        "ingest p50 ms": percentile(posts, 0.5), "ingest p99 ms": percentile(posts, 0.99),
        "ingest throughput conversations/s": round(len(posts) / elapsed, 1),
        "all rows derived after s": round(derived, 1), "captures failed": stats["captures_failed"],
        "throughput with rows conversations/s": round(len(posts) / derived, 1),
        "ingest throughput MB/s": round(len(posts) * size / elapsed / 1e6, 2),
        "browse requests": len(browse), "browse p50 ms": percentile(browse, 0.5),
        "browse p99 ms": percentile(browse, 0.99),
        "errors": len(errors), "database is locked": sum("locked" in e for e in errors) + log.count("database is locked"),
        "first errors": errors[:5],
    }, indent=2))


if __name__ == "__main__":
    main()
