"""Issue 13 and 12.5 in real Chromium: files and canvas archived live, the account each capture
belongs to, background sync from one tab, no capture lost between tabs, and a hostile page that
cannot make the userscript post a conversation of its choosing. The userscript is the one the
real `chatgpt-archiver serve` hands out, posting to that server."""

import json
import os
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from archiver.db import open_db
from conftest import ArchiveServer
from fake_chatgpt import (
    ACCESS_TOKEN,
    CDN_HOST,
    CHROMIUM,
    FakeChatGPT,
    conversation_with_files,
    make_id,
    synthetic_conversation,
)
from userscript_harness import Manager, queued, scripted_context, wait_for

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="no /usr/bin/chromium")


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


@pytest.fixture
def manager(fake_port):
    return Manager(fake_port)


def stored_ids(archive):
    db = open_db(archive.db)
    try:
        return {r[0] for r in db.execute("select id from chatgpt_conversation")}
    finally:
        db.close()


def posted(manager, path):
    """Requests the userscript sent to the archive at `path`: [(query dict, headers, data)]."""
    out = []
    for entry in manager.requests(path=path):
        query = {k: v[0] for k, v in parse_qs(urlsplit(entry["url"]).query).items()}
        out.append((query, {k.lower(): v for k, v in entry["headers"].items()}, entry["data"], entry["status"]))
    return out


def test_files_and_canvas_are_archived_live_without_sending_credentials_to_the_cdn(browser, fake, archive, manager):
    cid = make_id("files", "live")
    tree, files = conversation_with_files(cid, fake, canvas=True)
    fake.add(tree)
    with scripted_context(browser, archive, manager) as context:
        page = context.new_page()
        page.goto(f"https://chatgpt.com/c/{cid}")  # the app opens it; the userscript reads the tree
        wait_for(page, lambda: len([p for p in posted(manager, "/api/assets") if p[3] in (200, 201)]) == len(files),
                 timeout=40, what="every file posted")
        wait_for(page, lambda: any(p[3] == 201 for p in posted(manager, "/api/textdocs")), what="canvas posted")
        wait_for(page, lambda: queued(page) == [], what="an empty queue")
    assert cid in stored_ids(archive)
    # Asked the archive first, with every file the conversation points at.
    (asked,) = [json.loads(p[2]) for p in posted(manager, "/api/assets/wanted")]
    assert sorted(asked["file_ids"]) == sorted(files)
    # Each file's exact bytes, under its id, with the conversation, a name and its MIME type.
    got = {q["file_id"]: (q, h, data) for q, h, data, status in posted(manager, "/api/assets")}
    assert set(got) == set(files)
    for file_id, data in files.items():
        query, headers, body = got[file_id]
        assert body == data, file_id
        assert query["conversation_id"] == cid
        assert headers["content-type"] == fake.files[file_id]["mime"]
        assert headers["authorization"] == f"Bearer {archive.token}"
    assert got[f"file-up{cid[:8]}"][0]["name"] == "trail.png"
    assert got[f"file-doc{cid[:8]}"][0]["name"] == "notes.pdf"
    # The lookups went to ChatGPT with the page's headers; sediment files by the attachment route.
    lookups = [r for r in fake.requests if "/download" in r["path"] and r["path"].startswith("/backend-api/")]
    assert {r["status"] for r in lookups} == {200} and len(lookups) == len(files)
    assert all(r["headers"]["authorization"] == f"Bearer {ACCESS_TOKEN}" and r["headers"]["chatgpt-account-id"] == "acct-test"
               for r in lookups)
    assert f"/backend-api/conversation/{cid}/attachment/file_00gen{cid[:8]}/download" in {r["path"] for r in lookups}
    # The CDN (another host name, signed URL, then a signed redirect) saw no credential at all.
    cdn = [r for r in fake.requests if r["headers"].get("host") == CDN_HOST]
    assert len(cdn) == 2 * len(files) and {r["status"] for r in cdn} == {200, 302}
    for request in cdn:
        assert not {"authorization", "cookie", "chatgpt-account-id", "oai-device-id"} & set(request["headers"]), request
    assert all(entry["anonymous"] and entry["headers"] == {} for entry in manager.requests(host=CDN_HOST))
    # Canvas: exactly what ChatGPT's textdocs answered.
    texts = [(q, json.loads(data)) for q, h, data, status in posted(manager, "/api/textdocs")]
    assert texts[-1] == ({"conversation_id": cid}, fake.textdocs[cid])
    # And the archive holds them: the bytes under each file id, the canvas document's text.
    db = open_db(archive.db)
    held = dict(db.execute("select f.file_id, a.data from chatgpt_asset_file f join chatgpt_asset a"
                           " using (sha256)").fetchall())
    docs = db.execute("select textdoc_id, content from chatgpt_textdoc where conversation_id = ?", [cid]).fetchall()
    db.close()
    assert {k: bytes(v) for k, v in held.items() if k in files} == files
    assert docs == [(f"td-{cid[:8]}", "# Trail plan\nNorth loop first.")]
    # Opening it again costs no lookup and no download: the archive has the files.
    before = len(fake.requests)
    with scripted_context(browser, archive, manager) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        page.evaluate("id => app.loadTree(id)", cid)
        wait_for(page, lambda: len(posted(manager, "/api/assets/wanted")) == 2, what="second wanted check")
        page.wait_for_timeout(500)
    assert [r for r in fake.requests[before:] if "/download" in r["path"] or r["headers"].get("host") == CDN_HOST] == []


def test_files_above_the_size_limit_are_not_downloaded(browser, fake, archive, manager):
    cid = make_id("files", "limit")
    tree, files = conversation_with_files(cid, fake)
    fake.add(tree)
    limit = 5000
    big = {fid for fid, data in files.items() if len(data) > limit}
    assert big == {f"file-up{cid[:8]}"}
    with scripted_context(browser, archive, manager, settings={"maxAssetMiB": limit / 1024 / 1024}) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        page.evaluate("id => app.loadTree(id)", cid)
        wait_for(page, lambda: len(posted(manager, "/api/assets")) == len(files) - 1, timeout=30, what="small files")
        wait_for(page, lambda: queued(page) == [], what="an empty queue")
        badge = page.evaluate("document.getElementById('chatgpt-archiver-badge').dataset")
        assert (badge["tooLarge"], badge["assets"]) == ("1", "3")
    assert {q["file_id"] for q, *_ in posted(manager, "/api/assets")} == set(files) - big
    assert not [r for r in fake.requests if f"file-up{cid[:8]}" in r["path"]]


def test_captures_carry_the_account_and_a_workspace_switch_drops_the_old_headers(browser, fake, archive, manager):
    ids = [fake.add(synthetic_conversation(make_id("account", n), turns=1)) for n in range(4)]
    with scripted_context(browser, archive, manager) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        page.evaluate("id => app.loadTree(id)", ids[0])  # workspace acct-test
        page.evaluate("() => app.switchAccount(null)")
        page.evaluate("id => app.loadTree(id)", ids[1])  # personal account
        page.evaluate("() => app.switchAccount('acct-2', 'g-p-trails')")
        page.evaluate("id => app.open(id)", ids[2])  # the plural read: our own tree read follows
        page.evaluate("() => app.switchAccount('acct-3')")
        page.evaluate("id => app.open(id)", ids[3])
        wait_for(page, lambda: set(ids) <= stored_ids(archive), what="four conversations")
    accounts = {}
    for query, headers, data, status in posted(manager, "/api/conversations"):
        accounts[json.loads(data)["conversation_id"]] = query["account_id"]
    assert [accounts[i] for i in ids] == ["acct-test", "personal", "acct-2", "acct-3"]
    db = open_db(archive.db)
    held = dict(db.execute("select id, account_id from chatgpt_conversation").fetchall())
    db.close()
    assert [held[i] for i in ids] == ["acct-test", "personal", "acct-2", "acct-3"]
    ours = {r["path"].rsplit("/", 1)[1]: r["headers"] for r in fake.requests
            if r["path"] in {f"/backend-api/conversation/{i}" for i in ids[2:]}}
    assert (ours[ids[2]]["chatgpt-account-id"], ours[ids[2]]["chatgpt-project-id"]) == ("acct-2", "g-p-trails")
    assert ours[ids[3]]["chatgpt-account-id"] == "acct-3" and "chatgpt-project-id" not in ours[ids[3]]


HOSTILE = r"""
([victim, swapped]) => {
  // A script on chatgpt.com, running after the userscript, tries every way to make it post a
  // conversation of the script's choosing under an id of the script's choosing.
  const forgedTree = {conversation_id: victim, title: "FORGED", create_time: 1, update_time: 2,
    current_node: "n1", mapping: {n1: {id: "n1", parent: null, children: [], message: {id: "n1",
    author: {role: "user"}, content: {content_type: "text", parts: ["forged"]}, metadata: {}}}}};
  const forged = JSON.stringify(forgedTree);
  const realParse = JSON.parse, realApply = Reflect.apply, realStringify = JSON.stringify;
  const looksLikeConversation = (v) => typeof v === "string" && v.includes('"mapping"');
  const swap = (v) => looksLikeConversation(v) ? forged : v;
  Response.prototype.clone = function () { return new Response(forged, {status: 200}); };
  Response.prototype.text = function () { return Promise.resolve(forged); };
  Response.prototype.json = function () { return Promise.resolve(realParse(forged)); };
  Response.prototype.arrayBuffer = function () { return Promise.resolve(new TextEncoder().encode(forged).buffer); };
  Object.defineProperty(Response.prototype, "url", {get() { return "https://chatgpt.com/backend-api/conversation/" + victim; }});
  Object.defineProperty(Response.prototype, "ok", {get() { return true; }});
  JSON.parse = function (text, reviver) {
    const value = realApply(realParse, JSON, [swap(text), reviver]);
    return value;
  };
  JSON.stringify = function (value, ...rest) {
    if (value && typeof value === "object" && value.mapping) return forged;
    return realApply(realStringify, JSON, [value, ...rest]);
  };
  const realThen = Promise.prototype.then;
  Promise.prototype.then = function (onOk, onErr) {
    const wrap = typeof onOk === "function" ? (v) => onOk(swap(v)) : onOk;
    return realApply(realThen, this, [wrap, onErr]);
  };
  const realCall = Function.prototype.call, realFnApply = Function.prototype.apply;
  Function.prototype.call = function (self, ...args) { return realApply(this, self, args.map(swap)); };
  Function.prototype.apply = function (self, args) { return realApply(this, self, Array.from(args || [], swap)); };
  const realExec = RegExp.prototype.exec;
  RegExp.prototype.exec = function (s) {
    const m = realApply(realExec, this, [s]);
    if (m && typeof m[1] === "string" && /^[0-9a-f]{8}-/.test(m[1])) m[1] = victim;
    return m;
  };
  // (Object.keys, Array.isArray and String.prototype.indexOf are replaced in the node test:
  // here they would break the test's own bridge to Python, which a real manager keeps in an
  // isolated world.)
  window.__hostile = {forged, swapped};
}
"""

ATTACKS = r"""
async ([victim, genuine, swapped]) => {
  const h = {headers: {Authorization: 'Bearer fake-access-token'}};
  const blob = URL.createObjectURL(new Blob([window.__hostile.forged], {type: 'application/json'}));
  const results = [];
  const attempt = async (fn) => { try { await fn(); results.push('ok'); } catch (e) { results.push(String(e)); } };
  // 1. The app's genuine read of a real conversation, with every built-in above replaced.
  await attempt(() => app.loadTree(genuine));
  // 2. A URL object whose string is the victim's conversation once, then a blob full of forgery.
  let n = 0;
  await attempt(() => fetch({toString() { n++; return n === 1 ? '/backend-api/conversation/' + victim : blob; },
                             href: '/backend-api/conversation/' + victim}, h));
  // 3. A Request whose url getter lies about the blob it really fetches.
  class Lying extends Request { get url() { return 'https://chatgpt.com/backend-api/conversation/' + victim; } }
  await attempt(() => fetch(new Lying(blob)));
  // 4. The blob itself, and a data: URL.
  await attempt(() => fetch(blob));
  await attempt(() => fetch('data:application/json,' + encodeURIComponent(window.__hostile.forged)));
  // 5. One conversation's URL answered with another conversation (as a service worker could).
  await attempt(() => fetch('/backend-api/conversation/' + swapped, h));
  // 6. A batch read answered with a tree the request did not ask for.
  await attempt(() => fetch('/backend-api/conversations/batch', {method: 'POST', headers: h.headers,
    body: JSON.stringify({conversation_ids: [swapped]})}));
  return results;
}
"""


def test_a_hostile_page_cannot_make_it_post_a_conversation_of_its_choosing(browser, fake, archive, manager):
    genuine = fake.add(synthetic_conversation(make_id("hostile", "genuine"), turns=2))
    other = fake.add(synthetic_conversation(make_id("hostile", "other"), turns=1))
    swapped = make_id("hostile", "swapped")
    fake.swap[swapped] = other
    victim = make_id("hostile", "victim")
    with scripted_context(browser, archive, manager) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/plain/")  # no CSP: blob: and data: fetches work too
        page.evaluate(HOSTILE, [victim, swapped])
        page.evaluate(ATTACKS, [victim, genuine, swapped])
        wait_for(page, lambda: genuine in stored_ids(archive), what="the genuine conversation")
        page.wait_for_timeout(2500)  # time for any forged capture to be posted too
        dropped = page.evaluate("Number(document.getElementById('chatgpt-archiver-badge').dataset.dropped)")
    assert stored_ids(archive) == {genuine}
    bodies = [json.loads(data) for q, h, data, status in posted(manager, "/api/conversations")]
    assert [b["conversation_id"] for b in bodies] == [genuine]
    assert bodies[0] == fake.conversations[genuine]  # byte for byte what ChatGPT sent
    assert dropped >= 2  # the swapped answers (single and batch) were seen and refused


def test_two_tabs_with_200_captures_each_lose_nothing_while_the_archive_is_down(browser, fake, archive, manager):
    ids = [[fake.add(synthetic_conversation(make_id("tabs", tab, n), turns=1)) for n in range(200)] for tab in "ab"]
    with scripted_context(browser, archive, manager) as context:
        archive.stop()
        pages = [context.new_page() for _ in ids]
        for page in pages:
            page.goto("https://chatgpt.com/")
        # Both tabs capture at once: each load is a capture, queued while the archive is down.
        for page, tab_ids in zip(pages, ids):
            page.evaluate("ids => { window.__loads = Promise.all(ids.map(id => app.loadTree(id))); }", tab_ids)
        for page in pages:
            page.evaluate("() => window.__loads.then(() => null)")
        wait_for(pages[0], lambda: len(queued(pages[0])) == 400, timeout=60, what="400 queued")
        archive.start()
        wait_for(pages[0], lambda: len(stored_ids(archive)) == 400, timeout=120, what="400 stored")
        wait_for(pages[0], lambda: queued(pages[0]) == [], what="an empty queue")
        leftovers = pages[0].evaluate("Object.keys(localStorage).filter(k => k.startsWith('gm:b:'))")
    assert stored_ids(archive) == set(ids[0]) | set(ids[1])
    assert leftovers == []
    db = open_db(archive.db)
    received = db.execute("select conversation_id, count(*), sum(times_received) from chatgpt_capture"
                          " group by conversation_id").fetchall()
    db.close()
    assert len(received) == 400 and {r[1] for r in received} == {1}
    ok_posts = [p for p in posted(manager, "/api/conversations") if p[3] == 201]
    assert len(ok_posts) == 400  # each once: no tab posted what another tab had posted


def list_reads(fake):
    return [r for r in fake.requests if r["path"] == "/backend-api/conversations" and "order=updated" in r["query"]]


def test_background_sync_runs_in_one_tab_and_hands_over(browser, fake, archive, manager):
    fake.conversations.clear()
    for n in range(30):
        tree = synthetic_conversation(make_id("sync", n), turns=1, update_time=1791000000.0 + n)
        fake.add(tree)
        httpx.post(archive.url + "/api/conversations", json=tree,
                   headers={"Authorization": f"Bearer {archive.token}"}).raise_for_status()
    fake.requests.clear()

    def advance(pages, ms, step=30_000):
        # The fake clock belongs to the context: every tab's Date.now() and timers move together.
        for _ in range(ms // step):
            pages[0].clock.run_for(step)
            for page in pages:
                page.wait_for_timeout(30)

    with scripted_context(browser, archive, manager) as context:
        pages = [context.new_page() for _ in range(2)]
        pages[0].clock.install(time=1_800_000_000)
        pages[0].clock.pause_at(1_800_000_001)  # only run_for moves time: an hour is an hour
        for page in pages:
            page.goto("https://chatgpt.com/")
        # Both tabs want the lease at their first heartbeat. Storage reaches the other tab's
        # process a moment later, so the first minute goes in 1 s steps with real time between
        # heartbeats, as in a browser; then an hour with nothing new, 30 s at a time.
        advance(pages, 60_000, step=1_000)
        advance(pages, 58 * 60_000 + 30_000)
        reads = list_reads(fake)
        leases = [p.evaluate("document.getElementById('chatgpt-archiver-badge').dataset.lease") for p in pages]
        assert sorted(leases) == ["held", "other"]
        assert len(reads) == 6, [r["query"] for r in reads]  # one list read per 10 minutes, one tab
        assert all("offset=0" in r["query"] for r in reads)  # stopped at the first page
        assert [r for r in fake.requests if r["path"].startswith("/backend-api/conversation/")] == []
        holder = pages[leases.index("held")]
        other = pages[1 - leases.index("held")]
        assert "synced" in holder.evaluate("document.getElementById('chatgpt-archiver-badge').textContent")
        # The holder goes away: the other tab takes the lease and syncs, and archives what changed.
        holder.close()
        new = fake.add(synthetic_conversation(make_id("sync", "new"), turns=1, update_time=1791009999.0))
        advance([other], 3 * 60_000)
        for _ in range(60):
            if new in stored_ids(archive):
                break
            advance([other], 1_000, step=1_000)
        assert new in stored_ids(archive)
        assert other.evaluate("document.getElementById('chatgpt-archiver-badge').dataset.lease") == "held"
        # That sync found something on the first page, so it looked at the next one too.
        assert [r["query"] for r in list_reads(fake)[6:]] == [
            "offset=0&limit=28&order=updated", "offset=28&limit=28&order=updated"]
    # Sync reads only the first page and never declares conversations deleted.
    assert posted(manager, "/api/conversations/listed") == []


@pytest.mark.parametrize("partial", [False, True])
def test_archive_all_reports_what_chatgpt_listed_only_after_a_complete_listing(browser, fake, archive, manager,
                                                                               partial):
    fake.conversations.clear()
    fake.projects.clear()
    fake.archived.clear()
    trees = [synthetic_conversation(make_id("listed", partial, n), turns=1, update_time=1791000000.0 + n)
             for n in range(4)]
    for n, tree in enumerate(trees):
        fake.add(tree, archived=(n == 1), project="g-p-listed" if n == 2 else None)
    fake.sidebar_fails = partial
    try:
        with scripted_context(browser, archive, manager) as context:
            page = context.new_page()
            page.goto("https://chatgpt.com/")
            page.evaluate("id => app.loadTree(id)", trees[0]["conversation_id"])  # the app's own read
            page.evaluate("() => { window.__gmMenu['Archive all conversations'](); }")
            wait_for(page, lambda: page.evaluate(
                "(JSON.parse(localStorage.getItem('gm:backfill')) || {}).finished === true"), timeout=40,
                what="archive all finished")
            wait_for(page, lambda: queued(page) == [], what="an empty queue")
    finally:
        fake.sidebar_fails = False
    listed = [json.loads(data) for q, h, data, status in posted(manager, "/api/conversations/listed")]
    if partial:  # the project list failed: some conversations may exist unlisted, so say nothing
        assert listed == []
    else:
        assert [status for *_, status in posted(manager, "/api/conversations/listed")] == [200]
        assert len(listed) == 1
        assert {**listed[0], "ids": sorted(listed[0]["ids"])} == {
            "account_id": "acct-test", "complete": True, "ids": sorted(t["conversation_id"] for t in trees)}


def test_a_conversation_the_archive_refuses_is_done_with_its_files(browser, fake, archive, manager):
    cid = make_id("files", "temporary")
    tree, files = conversation_with_files(cid, fake)
    tree["is_temporary_chat"] = True  # the archive keeps no temporary chats unless told to
    fake.add(tree)
    before = len(fake.requests)
    with scripted_context(browser, archive, manager) as context:
        page = context.new_page()
        page.goto("https://chatgpt.com/")
        page.evaluate("id => app.loadTree(id)", cid)
        wait_for(page, lambda: page.evaluate(
            "document.getElementById('chatgpt-archiver-badge').dataset.skipped") == "1", what="skipped badge")
        wait_for(page, lambda: queued(page) == [], what="an empty queue")
        page.wait_for_timeout(1500)
        assert "skipped 1 (privacy settings)" in page.evaluate(
            "document.getElementById('chatgpt-archiver-badge').textContent")
    answers = [(status, json.loads(data)["conversation_id"]) for q, h, data, status in posted(manager, "/api/conversations")]
    assert answers == [(200, cid)]  # once: a refusal is an answer, not a failure to retry
    assert cid not in stored_ids(archive)
    assert posted(manager, "/api/assets") == []
    assert [r for r in fake.requests[before:] if "/download" in r["path"] or r["headers"].get("host") == CDN_HOST] == []


@pytest.mark.parametrize("base", ["https://intranet.example/files/", "http://files.oaiusercontent.com/file/",
                                  "https://127.0.0.1:8001/api/"])
def test_a_download_url_off_chatgpts_file_hosts_is_never_fetched(browser, fake, archive, manager, base):
    cid = make_id("files", "steered", base)
    tree, files = conversation_with_files(cid, fake)
    fake.add(tree)
    fake.download_base = base
    try:
        with scripted_context(browser, archive, manager) as context:
            page = context.new_page()
            page.goto("https://chatgpt.com/")
            page.evaluate("id => app.loadTree(id)", cid)
            wait_for(page, lambda: cid in stored_ids(archive), what="the conversation")
            wait_for(page, lambda: queued(page) == [], timeout=30, what="an empty queue")
    finally:
        fake.download_base = None
    lookups = [r for r in fake.requests if cid[:8] in r["path"] and "/download" in r["path"]]
    assert lookups  # ChatGPT was asked; what it answered was not followed
    assert [e["url"] for e in manager.log if not e["url"].startswith(archive.url)] == []
    assert posted(manager, "/api/assets") == []
