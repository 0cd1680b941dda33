"""Posting files to a real server (`chatgpt-archiver serve`): time per file and the server's
peak memory, against two baselines measured in the same run: the bytes written into a bare
SQLite table in this process (time), and the file's own size (memory, as a server that held
the body whole would need at least that much more).

    python benchmarks/assets.py                  # 1, 10 and 50 MiB
    python benchmarks/assets.py --sizes 5 --json

Standard library only. The archive and its server live in a temporary directory.
"""

import argparse
import json
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

FILE_IDS = tuple(f"file-Bench{i}" for i in range(8))  # the first warms the server up, unreported


def conversation(cid, file_ids):
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": ["m1"]},
               "m1": {"id": "m1", "parent": "root", "children": [], "message": {
                   "id": "m1", "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["files"]},
                   "metadata": {"attachments": [{"id": f, "name": f"{f}.bin"} for f in file_ids]}}}}
    return {"conversation_id": cid, "title": "bench", "update_time": 1.0, "mapping": mapping, "current_node": "m1"}


def post(url, body, token, content_type="application/json"):
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.status, json.loads(response.read())


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def baseline_seconds(data, folder):
    (folder / "baseline.db").unlink(missing_ok=True)
    conn = sqlite3.connect(folder / "baseline.db")
    conn.execute("CREATE TABLE blob (id INTEGER PRIMARY KEY, data BLOB)")
    started = time.perf_counter()
    with conn:
        conn.execute("INSERT INTO blob (data) VALUES (?)", [data])
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50", help="file sizes in MiB, comma-separated")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(float(s) * 1024 * 1024) for s in args.sizes.split(",")][:len(FILE_IDS) - 1]
    folder = Path(tempfile.mkdtemp(prefix="archiver-bench-assets-"))
    db = folder / "archive.db"
    run = lambda *a: subprocess.run([sys.executable, "-m", "archiver", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, check=True).stdout
    token = run("token", "create", "--db", db, "--name", "bench").strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "archiver", "serve", "--db", db, "--port", str(port),
                               "--max-asset", str(max(sizes) + 1)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/api/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        post(base + "/api/conversations", json.dumps(conversation("bench-1", FILE_IDS)).encode(), token)
        warm_up = random.Random(-1).randbytes(2 * 1024 * 1024)  # first-request imports are not the upload's cost
        post(f"{base}/api/assets?file_id={FILE_IDS[0]}&conversation_id=bench-1", warm_up, token)
        for index, (file_id, size) in enumerate(zip(FILE_IDS[1:], sizes)):
            data = random.Random(index).randbytes(size)  # different bytes each time: none is a duplicate
            before = peak_rss_mib(server.pid)
            started = time.perf_counter()
            status, answer = post(f"{base}/api/assets?file_id={file_id}&conversation_id=bench-1", data, token,
                                  "application/octet-stream")
            seconds = time.perf_counter() - started
            assert (status, answer["size"]) == (201, size), answer
            growth = max(0.0, peak_rss_mib(server.pid) - before)
            baseline = baseline_seconds(data, folder)
            results.append({"mib": size / 2**20, "seconds": seconds, "baseline_seconds": baseline,
                            "peak_rss_growth_mib": growth, "growth_per_file_size": growth / (size / 2**20)})
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| file | post | bare SQLite insert | post / baseline | server peak RSS growth | growth / file size |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['mib']:g} MiB | {r['seconds']:.2f} s | {r['baseline_seconds']:.2f} s |"
              f" {r['seconds'] / r['baseline_seconds']:.1f}x | {r['peak_rss_growth_mib']:.1f} MiB |"
              f" {r['growth_per_file_size']:.2f} |")


if __name__ == "__main__":
    main()
