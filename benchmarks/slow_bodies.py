"""Slow bodies: many clients trickling request bodies (a byte a second, announcing 50 MB
each) at a real `chatgpt-archiver serve`, while one honest client posts conversations.

Reports how long the server let each trickler hold its connection (bounded by
--body-deadline), the server's RSS before, at peak and after (bounded: no body is held
beyond what arrived), and the honest client's ingest latency during the attack against the
same client's latency just before it (the baseline, same run).

Run by hand: python benchmarks/slow_bodies.py [--tricklers 200] [--deadline 10] [--posts 30]
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import ArchiveServer  # noqa: E402
from ingest import make_conversation  # noqa: E402
from load import trimmed  # noqa: E402
from test_security_server import rss_mb, trickle  # noqa: E402


def honest_posts(url, token, posts, tag):
    base = trimmed(make_conversation(7), 200)
    latencies = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for i in range(posts):
            raw = json.dumps(dict(base, conversation_id=f"{tag}-{i}")).encode()
            start = time.perf_counter()
            response = client.post("/api/conversations", content=raw)
            latencies.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 201, response.text[:200]
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tricklers", type=int, default=200)
    parser.add_argument("--deadline", type=float, default=10.0, help="the server's --body-deadline")
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="archiver-slow-") as tmp:
        server = ArchiveServer(Path(tmp) / "archive.db")
        token = server.cli("token", "create", server.db, "--name", "bench").strip()
        server.start("--body-idle", "2", "--body-deadline", str(args.deadline))
        pid = server.process.pid
        try:
            baseline = honest_posts(server.url, token, args.posts, "before")
            before = rss_mb(pid)
            peak, stop = [before], threading.Event()

            def sample():
                while not stop.wait(0.2):
                    peak.append(rss_mb(pid))

            sampler = threading.Thread(target=sample)
            sampler.start()
            with ThreadPoolExecutor(args.tricklers) as pool:
                started = time.monotonic()
                attack = [pool.submit(trickle, server.port, "/api/conversations", token, 1.0)
                          for _ in range(args.tricklers)]
                time.sleep(1)
                during = honest_posts(server.url, token, args.posts, "during")
                cut = [f.result() for f in attack]
                attack_seconds = time.monotonic() - started
            stop.set()
            sampler.join()
            after = rss_mb(pid)
        finally:
            server.stop()
    p50 = statistics.median
    report = {
        "tricklers": args.tricklers, "deadline_s": args.deadline,
        "answers": {str(s): sum(1 for status, _ in cut if status == s) for s in sorted({s for s, _ in cut}, key=str)},
        "longest_hold_s": round(max(seconds for _, seconds in cut), 2), "attack_s": round(attack_seconds, 2),
        "rss_mb": {"before": round(before, 1), "peak": round(max(peak), 1), "after": round(after, 1)},
        "honest_ingest_p50_ms": {"baseline": round(p50(baseline), 1), "during_attack": round(p50(during), 1)},
        "slowdown": round(p50(during) / p50(baseline), 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.tricklers} connections trickling a byte a second, server --body-deadline {args.deadline:g} s:")
    print(f"  answers: {report['answers']}; longest hold {report['longest_hold_s']} s")
    r = report["rss_mb"]
    print(f"  server RSS: {r['before']} MB before, {r['peak']} MB at peak, {r['after']} MB after")
    h = report["honest_ingest_p50_ms"]
    print(f"  honest 305 KB ingest p50: {h['baseline']} ms before, {h['during_attack']} ms during"
          f" ({report['slowdown']}x)")


if __name__ == "__main__":
    main()
