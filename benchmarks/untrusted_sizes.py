"""Hostile sizes against the real server (`chatgpt-archiver serve` on loopback): a
1,000,000-node conversation (refused), one at the 200,000-node limit (stored, its transcript
and .json export answered), with the server's status codes, seconds and memory (VmHWM peak,
VmRSS after). Standard library only; run from the repository with its virtualenv:

    python benchmarks/untrusted_sizes.py [--json]
"""

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def memory(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def request(url, body=None, headers=None):
    started = time.monotonic()
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=600) as response:
            size = len(response.read())
            status = response.status
    except urllib.error.HTTPError as e:
        size, status = len(e.read()), e.code
    except urllib.error.URLError as e:  # the server answered early (413) and closed
        size, status = 0, f"closed: {e.reason}"
    return {"status": status, "seconds": round(time.monotonic() - started, 2), "bytes": size}


def chain(cid, n, bare=False):
    """A one-branch conversation of n nodes; ``bare`` nodes carry no message (the smallest
    body that many nodes can have, to stay under --max-body and meet the node limit)."""
    mapping = {f"n{i}": {"id": f"n{i}", "parent": f"n{i - 1}" if i else None,
                         "children": [f"n{i + 1}"] if i + 1 < n else [],
                         "message": None if bare else {"id": f"n{i}", "author": {"role": "user" if i % 2 else "assistant"},
                                     "create_time": 1714585000 + i,
                                     "content": {"content_type": "text", "parts": [f"turn {i}"]}}}
               for i in range(n)}
    return json.dumps({"conversation_id": cid, "title": cid, "current_node": f"n{n - 1}",
                       "mapping": mapping}).encode()


def main():
    folder = Path(tempfile.mkdtemp())
    db = folder / "archive.db"
    token = subprocess.run([sys.executable, "-m", "archiver", "token", "create", str(db), "--name", "bench"],
                           capture_output=True, text=True, check=True).stdout.strip()
    port = 8765
    server = subprocess.Popen([sys.executable, "-m", "archiver", "serve", str(db), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/api/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    results = {"idle": memory(server.pid)}
    try:
        for name, n in (("million", 1_000_000), ("limit", 200_000)):
            body = chain(name, n, bare=n > 200_000)
            results[name] = {"nodes": n, "body_mb": round(len(body) / 2**20, 1),
                             "ingest": request(base + "/api/conversations", body, auth), **memory(server.pid)}
            del body
        for path in ("/-/c/limit", "/-/c/limit.json", "/-/c/limit.md"):
            results[path] = {**request(base + path), **memory(server.pid)}
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    if "--json" in sys.argv:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
