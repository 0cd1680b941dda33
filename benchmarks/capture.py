"""Capture-side figures, in real Chromium against the fake chatgpt.com of the test suite.

1. What the fetch hook adds to the page's own fetches: the median time of a fetch + read in
   the page without the userscript, with it paused (the hook alone: it still classifies,
   clones, parses and queues), and live (also posting each capture to the archive, whose work
   shares this machine's two cores), for a request it ignores (a sub-resource) and for one it
   captures (a full conversation tree).
2. "Archive all" of N conversations end to end (list, ask the archive, read each tree at the
   configured pace, post): requests per second to ChatGPT and the total time.

Run by hand: python benchmarks/capture.py [--conversations 200] [--pace-ms 1000]
Needs /usr/bin/chromium and the test extra (playwright, httpx).
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402

from conftest import ArchiveServer  # noqa: E402
from fake_chatgpt import (  # noqa: E402
    FakeChatGPT,
    launch,
    make_certificate,
    make_id,
    serve_fake_chatgpt,
    synthetic_conversation,
)
from test_userscript_browser import messages_in_archive, scripted_context  # noqa: E402

TIME_TREE = """async ([id, n]) => {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await (await fetch('/backend-api/conversation/' + id, {headers: {Authorization: 'Bearer fake-access-token'}})).text();
    out.push(performance.now() - t);
  }
  return out;
}"""


def hook_overhead(browser, archive, fake, samples):
    tree = synthetic_conversation(make_id("bench", "overhead"), turns=40, branch=True)
    cid = fake.add(tree)
    medians = {}
    for script in ("none", "paused", "live"):
        with scripted_context(browser, archive, script=script != "none") as context:
            page = context.new_page()
            page.goto("https://chatgpt.com/")
            if script == "paused":  # the hook alone: captures are queued, nothing is posted
                page.evaluate("() => { if (!GM_getValue('paused', false)) window.__gmMenu['Pause / resume archiving'](); }")
            page.evaluate("([id, n]) => app.timeFetches(id, n)", [cid, 20])  # warm up
            ignored = page.evaluate("([id, n]) => app.timeFetches(id, n)", [cid, samples])
            captured = page.evaluate(TIME_TREE, [cid, samples])
            medians[script] = (statistics.median(ignored), statistics.median(captured))
    return {
        "samples": samples,
        "tree size bytes": len(json.dumps(tree)),
        **{f"median ms, {name}: sub-resource / tree": [round(v, 2) for v in medians[name]] for name in medians},
    }


def backfill(browser, archive, fake, count, pace_ms):
    fake.conversations.clear()
    fake.requests.clear()
    ids = [fake.add(synthetic_conversation(make_id("bench", str(i)), turns=3, update_time=1791000000.0 + i))
           for i in range(count)]
    with scripted_context(browser, archive, pace_ms=pace_ms) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        start = time.monotonic()
        page.evaluate("() => { window.__gmMenu['Archive all conversations'](); }")
        while not all(messages_in_archive(archive, cid) for cid in ids[-1:]) or not page.evaluate(
                "(JSON.parse(localStorage.getItem('gm:backfill')) || {}).finished === true"):
            page.wait_for_timeout(250)
        total = time.monotonic() - start
    reads = [r for r in fake.requests if r["path"].startswith("/backend-api/") and r["method"] == "GET"]
    missing = [cid for cid in ids if not messages_in_archive(archive, cid)]
    span = reads[-1]["time"] - reads[0]["time"]
    return {
        "conversations": count,
        "pace ms": pace_ms,
        "reads of ChatGPT": len(reads),
        "reads per second": round((len(reads) - 1) / span, 3),
        "total seconds": round(total, 1),
        "missing after backfill": len(missing),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--pace-ms", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    fake = FakeChatGPT()
    certfile, keyfile = make_certificate(tmp)
    archive = ArchiveServer(tmp / "bench.db")
    archive.token = archive.cli("token", "create", archive.db, "--name", "bench").strip()
    archive.start()
    try:
        with serve_fake_chatgpt(fake, certfile, keyfile) as port, sync_playwright() as playwright:
            browser = launch(playwright, port)
            results = {"hook": hook_overhead(browser, archive, fake, args.samples),
                       "archive all": backfill(browser, archive, fake, args.conversations, args.pace_ms)}
            browser.close()
    finally:
        archive.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
