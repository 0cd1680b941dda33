"""The userscript, unchanged, in real headless Chromium on a fake https://chatgpt.com (strict
CSP), posting to a real `chatgpt-archiver serve`. The test provides the userscript manager's
GM_* functions: GM_xmlhttpRequest goes through Python, as a manager's request goes through
the extension, outside the page's CSP, CORS and Local Network Access."""

import json
import os
from pathlib import Path

import httpx
import pytest

from archiver.db import open_db
from conftest import ArchiveServer
from userscript_harness import Manager, queued, wait_for
from userscript_harness import scripted_context as harness_context
from fake_chatgpt import (
    ACCESS_TOKEN,
    CHROMIUM,
    FakeChatGPT,
    current_branch,
    make_id,
    new_context,
    synthetic_conversation,
)

# CI installs Chromium; only a developer machine without it may skip.
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="no /usr/bin/chromium")

USERSCRIPT = (Path(__file__).parent.parent / "userscript" / "chatgpt-archiver.user.js").read_text()

@pytest.fixture(scope="module")
def fake():
    return FakeChatGPT()


@pytest.fixture
def archive(tmp_path):
    server = ArchiveServer(tmp_path / "archive.db")
    server.token = server.cli("token", "create", server.db, "--name", "browser").strip()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


PORT = {}


@pytest.fixture(autouse=True)
def _port(fake_port):
    PORT["fake"] = fake_port


def scripted_context(browser, archive, script=True, pace_ms=50, manager=None, **kw):
    manager = manager or Manager(PORT["fake"])
    return harness_context(browser, archive, manager, script=script, pace_ms=pace_ms, **kw)


def messages_in_archive(archive, conversation_id):
    db = open_db(archive.db)
    try:
        return {r[0] for r in db.execute(
            "select node_id from chatgpt_message where conversation_id = ?", [conversation_id])}
    finally:
        db.close()


def add(fake, name, **kw):
    tree = synthetic_conversation(make_id("browser", name), **kw)
    fake.add(tree)
    return tree


@pytest.mark.parametrize("host", ["chatgpt.com", "chat.openai.com"])
def test_singular_tree_read_is_archived_whole(browser, fake, archive, host):
    tree = add(fake, f"singular-{host}", turns=3, branch=True)
    cid = tree["conversation_id"]
    with scripted_context(browser, archive) as context:
        page = context.new_page()
        page.goto(f"https://{host}/")
        page.evaluate("id => app.loadTree(id)", cid)
        wait_for(page, lambda: messages_in_archive(archive, cid) == set(tree["mapping"]), what="tree rows")
        assert page.evaluate("document.getElementById('chatgpt-archiver-badge').dataset.state") == "archived"


def test_paged_read_fetches_the_full_tree_with_the_pages_headers(browser, fake, archive):
    tree = add(fake, "paged", turns=4, branch=True)
    cid = tree["conversation_id"]
    with scripted_context(browser, archive) as context:
        page = context.new_page()
        page.goto(f"https://chatgpt.com/c/{cid}")  # the app opens it with the plural read
        wait_for(page, lambda: messages_in_archive(archive, cid) == set(tree["mapping"]), what="tree rows")
    reads = fake.requests_to(f"/backend-api/conversation/{cid}", "GET")
    assert len(reads) == 1
    headers = reads[0]["headers"]
    assert (headers["authorization"], headers["chatgpt-account-id"], headers["oai-device-id"]) == (
        f"Bearer {ACCESS_TOKEN}", "acct-test", "device-test")
    # The archiver only reads: nothing it sent could change the conversation.
    ours = [r for r in fake.requests if cid in r["path"] and r["method"] != "GET"]
    assert ours == []


def test_paged_fallback_when_the_tree_read_fails(browser, fake, archive):
    tree = add(fake, "long", turns=7)
    cid = tree["conversation_id"]
    fake.singular_fails.add(cid)
    branch = {m["id"] for m in current_branch(tree)}
    with scripted_context(browser, archive) as context:
        page = context.new_page()
        page.goto(f"https://chatgpt.com/c/{cid}")
        wait_for(page, lambda: messages_in_archive(archive, cid) == branch, what="all pages")
    older = [r for r in fake.requests if r["path"] == f"/backend-api/conversations/{cid}/messages"]
    assert len(older) >= 3  # followed page_info through every older page
    db = open_db(archive.db)
    assert db.execute("select shape from chatgpt_capture where conversation_id = ?", [cid]).fetchall() == [("page",)]


def test_streamed_reply_gets_archived(browser, fake, archive):
    tree = add(fake, "reply", turns=2)
    cid = tree["conversation_id"]
    with scripted_context(browser, archive) as context:
        page = context.new_page()
        page.goto(f"https://chatgpt.com/c/{cid}")
        wait_for(page, lambda: len(messages_in_archive(archive, cid)) == len(tree["mapping"]))
        sse = page.evaluate("id => app.send(id, 'what about otters?')", cid)
        assert "[DONE]" in sse
        grown = set(fake.conversations[cid]["mapping"])
        wait_for(page, lambda: messages_in_archive(archive, cid) == grown, what="the reply")
        db = open_db(archive.db)
        found = db.execute("select author_role, text from chatgpt_message where conversation_id = ?"
                           " and is_current = 1 order by create_time desc limit 2", [cid]).fetchall()
        assert found == [("assistant", "Reply to: what about otters?"), ("user", "what about otters?")]


def test_reply_without_a_batch_read_is_fetched_after_the_stream(browser, fake, archive):
    tree = add(fake, "reply-nobatch", turns=1)
    cid = tree["conversation_id"]
    with scripted_context(browser, archive) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        page.evaluate("""id => fetch('/backend-api/f/conversation', {method: 'POST',
            headers: {Authorization: 'Bearer fake-access-token', 'Content-Type': 'application/json'},
            body: JSON.stringify({action: 'next', conversation_id: id, parent_message_id: null,
              messages: [{id: 'u-new', author: {role: 'user'}, content: {content_type: 'text', parts: ['hi']}}]})
        }).then(r => r.text())""", cid)
        grown = set(fake.conversations[cid]["mapping"])
        wait_for(page, lambda: messages_in_archive(archive, cid) == grown, what="tree after stream")


def test_the_page_sees_exactly_what_it_would_without_the_script(browser, fake, archive):
    tree = add(fake, "identical", turns=3, branch=True)
    cid = tree["conversation_id"]
    results = []
    for script in (False, True):
        with scripted_context(browser, archive, script=script) as context:
            page = context.new_page()
            page.goto("https://chatgpt.com/")
            results.append(page.evaluate("""async id => [
                ...(await app.fetchVariants(id)), await app.loadTree(id),
                await (await fetch('/backend-api/conversation/' + id + '/textdocs',
                                   {headers: {Authorization: 'Bearer fake-access-token'}})).text(),
                await (await fetch('/backend-api/conversation/' + id)).text()]""", cid))
    assert results[0] == results[1]
    assert json.loads(results[0][4]) == tree


def test_sub_resources_are_never_archived(browser, fake, archive):
    tree = add(fake, "subresources", turns=1)
    cid = tree["conversation_id"]
    with scripted_context(browser, archive) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        page.evaluate("""async id => {
            const h = {headers: {Authorization: 'Bearer fake-access-token'}};
            for (const p of ['/textdocs', '/stream_status']) await (await fetch('/backend-api/conversation/' + id + p, h)).text();
            await (await fetch('/backend-api/conversation/gen_title/' + id, h)).text();
            await (await fetch('/backend-api/conversation/init', {...h, method: 'POST', body: '{}'})).text();
            await (await fetch('/backend-api/conversations?offset=0&limit=28&order=updated', h)).text();
        }""", cid)
        page.wait_for_timeout(1500)
    db = open_db(archive.db)
    assert db.execute("select count(*) from chatgpt_capture").fetchone()[0] == 0
    assert fake.requests_to(f"/backend-api/conversation/{cid}", "GET") == []


def test_captures_queue_while_the_archive_is_down_and_arrive_after_restart(browser, fake, archive):
    tree = add(fake, "offline", turns=2)
    cid = tree["conversation_id"]
    with scripted_context(browser, archive) as context:
        archive.stop()
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        page.evaluate("id => app.loadTree(id)", cid)
        wait_for(page, lambda: page.evaluate(
            "document.getElementById('chatgpt-archiver-badge')?.dataset.queued") == "1", what="queued badge")
        assert len(queued(page)) == 1
        page.reload()  # the queue is in the manager's storage, not the tab
        page.wait_for_timeout(500)
        archive.start()
        wait_for(page, lambda: messages_in_archive(archive, cid) == set(tree["mapping"]), timeout=40,
                 what="queued capture after restart")
        wait_for(page, lambda: queued(page) == [])


def test_a_capture_the_archive_cannot_write_stays_queued_until_it_can(browser, fake, archive):
    tree = add(fake, "disk-full", turns=1)
    cid = tree["conversation_id"]
    db = open_db(archive.db)  # a trigger the server's own writes run into, as into a full disk
    db.execute("create trigger full before insert on chatgpt_capture"
               " begin select raise(abort, 'database or disk is full'); end")
    db.conn.commit()
    with scripted_context(browser, archive) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        page.evaluate("id => app.loadTree(id)", cid)
        wait_for(page, lambda: [q["error"] for q in queued(page)] == ["HTTP 503"],
                 what="a 503 kept in the queue")
        assert messages_in_archive(archive, cid) == set()
        db.execute("drop trigger full")
        db.conn.commit()
        wait_for(page, lambda: queued(page) == [], what="the queued capture sent")
    db.close()
    assert messages_in_archive(archive, cid) == set(tree["mapping"])


def test_minutes_of_downtime_and_a_reload_lose_nothing(browser, fake, archive):
    # Playwright's fake clock stands in for the minutes: the userscript's timers and
    # Date.now() run on it, while its posts are real requests to the real (stopped) server.
    first, second = add(fake, "down-1", turns=2), add(fake, "down-2", turns=1)
    with scripted_context(browser, archive) as context:
        archive.stop()
        page = context.new_page()
        page.clock.install()
        page.goto("https://chatgpt.com/")
        page.evaluate("id => app.loadTree(id)", first["conversation_id"])
        wait_for(page, lambda: len(queued(page)) == 1, what="first capture queued")
        for _ in range(40):  # 6 minutes 40 seconds of retries against a dead port
            page.clock.run_for(10_000)
            page.wait_for_timeout(25)  # the failed post's answer comes back through Python
        down = queued(page)
        assert len(down) == 1 and down[0]["attempts"] >= 6 and down[0]["error"] == "archive unreachable", down
        page.reload()
        page.evaluate("id => app.loadTree(id)", second["conversation_id"])
        wait_for(page, lambda: len(queued(page)) == 2, what="second capture queued after the reload")
        for _ in range(4):  # two more minutes down
            page.clock.run_for(30_000)
            page.wait_for_timeout(25)
        archive.start()
        # Back: both arrive within seconds of the next try, not at the end of a long backoff.
        for _ in range(100):
            if not queued(page):
                break
            page.clock.run_for(1_000)
            page.wait_for_timeout(50)
        assert queued(page) == []
    assert messages_in_archive(archive, first["conversation_id"]) == set(first["mapping"])
    assert messages_in_archive(archive, second["conversation_id"]) == set(second["mapping"])


def test_archive_all_is_paced_survives_429_and_resumes_after_reload(browser, fake, archive):
    fake.conversations.clear()
    fake.requests.clear()
    trees = [synthetic_conversation(make_id("backfill", str(i)), turns=1, update_time=1791000000.0 + i)
             for i in range(12)]
    for i, tree in enumerate(trees):
        fake.add(tree, archived=(i == 3), project="g-p-backfill" if i in (4, 5) else None)
    # Two are archived already and unchanged: the server says they are not wanted.
    for tree in trees[:2]:
        httpx.post(archive.url + "/api/conversations", json=tree,
                   headers={"Authorization": f"Bearer {archive.token}"}).raise_for_status()
    fake.rate_limit = (2, 1)  # two reads a second, then 429 with Retry-After: 1
    pace = 300
    try:
        with scripted_context(browser, archive, pace_ms=pace) as context:
            page = context.new_page()
            page.goto("https://chatgpt.com/")
            page.evaluate("() => { window.__gmMenu['Archive all conversations'](); }")
            wait_for(page, lambda: len(fake.requests_to("/backend-api/conversation/", "GET")) >= 3,
                     what="backfill under way")
            page.reload()  # resumes from the manager's storage
            wanted = {t["conversation_id"] for t in trees[2:]}
            wait_for(page, lambda: all(messages_in_archive(archive, c) for c in wanted), timeout=60,
                     what="every wanted conversation")
            assert page.evaluate("JSON.parse(localStorage.getItem('gm:backfill')).finished") is True
    finally:
        fake.rate_limit = None
    reads = [r for r in fake.requests if r["path"].startswith("/backend-api/") and r["method"] == "GET"
             and "/conversation/" in r["path"]]
    fetched = {r["path"].rsplit("/", 1)[1] for r in reads if r["status"] == 200}
    assert fetched == wanted  # the two unchanged ones were never read
    statuses = [r["status"] for r in reads]
    assert 429 in statuses
    # Pacing: reads started at least `pace` apart (a little slack for timers).
    starts = sorted(r["time"] for r in fake.requests
                    if r["path"].startswith("/backend-api/") and r["method"] == "GET"
                    and r["headers"].get("authorization") and not r["path"].endswith(("/textdocs", "/stream_status")))
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # Measured where the requests arrive, so network and scheduling jitter on a loaded machine
    # (two cores shared by many test runs) can bring two arrivals closer than their starts were.
    assert min(gaps) >= pace / 1000 * 0.75, gaps
    # After a 429 the next read waited for Retry-After.
    i = statuses.index(429)
    assert reads[i + 1]["time"] - reads[i]["time"] >= 0.95
    listed = {r["path"] + "?" + r["query"] for r in fake.requests if r["path"].startswith("/backend-api/conversations")
              and "is_archived=true" in r["query"]}
    assert listed, "archived conversations were listed"
    assert fake.requests_to("/backend-api/gizmos/g-p-backfill/conversations", "GET")


def test_console_snippet_archives_through_cors(browser, fake, archive, tmp_path):
    tree = add(fake, "snippet", turns=2)
    cid = tree["conversation_id"]
    snippet = archive.cli("snippet", archive.db, "--token-name", "console", "--url", archive.url)
    with new_context(browser, permissions=["local-network-access"]) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/plain/")  # no CSP: a pasted snippet can only use fetch
        page.evaluate(snippet)
        page.evaluate("id => app.open(id)", cid)
        wait_for(page, lambda: messages_in_archive(archive, cid) == set(tree["mapping"]), what="snippet capture")
        # Issue 12.5: the token lives in the snippet's closure, nowhere a page script can read.
        token = [line for line in snippet.splitlines() if line.startswith("var ARCHIVER_TOKEN")][0].split('"')[1]
        exposed = page.evaluate("""token => [
            typeof ARCHIVER_TOKEN, typeof ARCHIVER_SERVER,
            Object.getOwnPropertyNames(window).filter(k => {
                try { const v = window[k]; return (typeof v === 'string' || (v && typeof v === 'object' && !(v instanceof Node)))
                        && JSON.stringify(v).includes(token); } catch (e) { return false; } }),
            JSON.stringify(localStorage).includes(token), JSON.stringify(sessionStorage).includes(token)]""", token)
        assert exposed == ["undefined", "undefined", [], False, False]
    db = open_db(archive.db)
    assert db.execute("select token_name from chatgpt_capture where conversation_id = ?", [cid]).fetchall() == [
        ("console",)]


def test_without_local_network_access_a_page_fetch_cannot_reach_the_archive(browser, fake, archive):
    """Why the userscript posts with GM_xmlhttpRequest: the same post from the page is refused
    by Chromium's Local Network Access when the user has not allowed it."""
    tree = add(fake, "no-lna", turns=1)
    cid = tree["conversation_id"]
    snippet = archive.cli("snippet", archive.db, "--token-name", "denied", "--url", archive.url)
    with new_context(browser) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/plain/")
        page.evaluate(snippet)
        page.evaluate("id => app.loadTree(id)", cid)
        wait_for(page, lambda: page.evaluate(
            "document.getElementById('chatgpt-archiver-badge')?.dataset.state") == "error", what="error badge")
        assert page.evaluate("document.getElementById('chatgpt-archiver-badge').dataset.queued") == "1"
    assert messages_in_archive(archive, cid) == set()
