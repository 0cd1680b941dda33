"""Browsing the archive in real headless Chromium against a real `chatgpt-archiver serve`.

Screenshots of the transcript, search and dashboard go to a temporary folder (or the one
ARCHIVER_SCREENSHOTS names), so a test run never changes tracked files. The README's pictures
come from tests/test_home_browser.py and tests/test_transcript_browser.py."""

import json
import os

import pytest

from conftest import DATA, ArchiveServer, fixture_json
from fake_chatgpt import CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="no /usr/bin/chromium")

BRANCHED = fixture_json("branched.json")
HOSTILE = fixture_json("hostile.json")
FIXTURES = ["branched.json", "every_content_type.json", "hostile.json", "export_list.json", "paged.json"]


def serve(tmp_path, *extra):
    server = ArchiveServer(tmp_path / "archive.db")
    server.cli("import", server.db, *[DATA / f for f in FIXTURES])
    server.start(*extra)
    return server


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    server = serve(tmp_path_factory.mktemp("browse"))
    yield server
    server.stop()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


def test_search_from_the_home_page_finds_a_word_inside_code(page, archive, shots):
    page.goto(archive.url + "/")
    page.fill("form.archiver-search input[name=q]", "frobnicate_widgets")
    page.click("form.archiver-search button")
    page.wait_for_url("**/-/search?q=frobnicate_widgets")
    assert page.locator(".results mark").first.inner_text() == "frobnicate_widgets"
    assert page.locator(".hits .meta").first.inner_text().startswith("assistant · code")
    page.screenshot(path=shots / "search.png")
    page.click(".hits a")
    page.wait_for_url("**/-/c/**#m-*")
    anchor = page.url.split("#")[1]
    assert "frobnicate_widgets" in page.locator(f"#{anchor}").inner_text()


def test_transcript_branch_switch_changes_the_visible_messages(page, archive, shots):
    page.goto(f"{archive.url}/-/c/{BRANCHED['id']}")
    visible = lambda: page.locator("section.turn .md").all_inner_texts()  # noqa: E731
    before = visible()
    current_text = BRANCHED["mapping"][BRANCHED["current_node"]]["message"]["content"]["parts"][0]
    assert before[-1].strip() == current_text
    switcher = page.locator(".switcher").first
    assert "2/2" in switcher.inner_text()
    page.screenshot(path=shots / "transcript.png", full_page=True)
    switcher.locator("a.prev").click()
    page.wait_for_load_state()
    after = visible()
    assert after != before
    assert "1/2" in page.locator(".switcher").first.inner_text()
    assert page.locator("details.turn.hidden").count() >= 1  # the hidden system message, collapsed


def test_dashboard_has_a_chart(page, archive, shots):
    page.goto(archive.url + "/-/dashboard")
    assert page.locator("svg.chart").count() == 2
    assert page.locator("svg.chart rect").count() > 3
    assert "hologram_v9" in page.inner_text("body")
    page.screenshot(path=shots / "dashboard.png", full_page=True)


@pytest.mark.parametrize("path", [
    f"/-/c/{HOSTILE['conversation_id']}", "/-/search?q=alert", "/archive/chatgpt_conversation",
    f"/archive/chatgpt_message?conversation_id={HOSTILE['conversation_id']}", "/-/dashboard",
])
def test_hostile_content_runs_nothing(page, archive, path):
    page.goto(archive.url + path)
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.locator("iframe").count() == 0
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href') || '')")
    assert not [h for h in hrefs if h.lower().startswith("javascript:")]


def test_public_bind_refuses_anonymous_reads_but_shows_published(chromium, tmp_path):
    server = serve(tmp_path, "--host", "0.0.0.0")  # beyond loopback; reached at 127.0.0.1
    try:
        server.cli("publish", server.db, HOSTILE["conversation_id"])
        context = chromium.new_context()
        page = context.new_page()
        for path in ["/", f"/-/c/{BRANCHED['id']}", "/-/search?q=sourdough", "/archive/chatgpt_message.json"]:
            assert page.goto(server.url + path).status == 403, path
        response = page.goto(f"{server.url}/-/c/{HOSTILE['conversation_id']}")
        assert response.status == 200 and "Hostile one" in page.inner_text("body")
        published = json.loads(page.goto(server.url + "/archive/public_conversations.json?_shape=array").text())
        assert [c["id"] for c in published] == [HOSTILE["conversation_id"]]
        context.close()
    finally:
        server.stop()


EVIL_PAGE = """<!doctype html><meta charset=utf-8><title>another site</title>
<form id=form method=POST action="{archive}/archive/chatgpt_message/-/insert" enctype="text/plain" target=sink>
<input name='{{"row": {{"id": "csrf-form", "conversation_id": "c", "pad": "' value='"}}}}'></form>
<iframe name=sink></iframe>
<script>
const A = "{archive}";
window.attack = async () => {{
  const results = {{}};
  const row = (id) => JSON.stringify({{row: {{id, conversation_id: "c"}}}});
  try {{
    const r = await fetch(A + "/archive/chatgpt_message/-/insert", {{method: "POST", credentials: "include",
      headers: {{"Content-Type": "application/json"}}, body: row("csrf-fetch-json")}});
    results.json = r.status;
  }} catch (e) {{ results.json = "refused by the browser"; }}
  for (const path of ["/archive/chatgpt_message/-/insert", "/api/conversations"]) {{
    await fetch(A + path, {{method: "POST", mode: "no-cors", credentials: "include",
      headers: {{"Content-Type": "text/plain"}}, body: row("csrf-fetch-plain")}});
  }}
  document.getElementById("form").submit();
  return results;
}};
</script>"""


def test_another_site_cannot_write_with_the_signed_in_cookie(chromium, tmp_path):
    import http.server
    import re
    import sqlite3
    import threading

    archive = serve(tmp_path, "--root")
    sign_in = re.search(r"Sign in:\s+(\S+)", archive.output()).group(1)
    page_html = EVIL_PAGE.format(archive=archive.url).encode()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *args):
            pass

    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(sign_in)  # root is signed in: the cookie is in this browser
        assert page.evaluate("fetch('/-/actor.json').then(r => r.json())")["actor"]["id"] == "root"
        # "localhost" is another site than "127.0.0.1": same machine, same Local Network Access zone.
        page.goto(f"http://localhost:{evil.server_address[1]}/")
        results = page.evaluate("attack()")
        assert results == {"json": "refused by the browser"}  # no CORS for that origin: no preflight passes
        page.wait_for_timeout(1500)  # the form's navigation and the no-cors posts land
        page.goto(archive.url + "/")
        status = page.evaluate("""fetch('/archive/chatgpt_message/-/insert', {method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({row: {id: 'same-origin', conversation_id: 'c'}})}).then(r => r.status)""")
        assert status == 201  # the cookie does write, from the archive's own pages
    finally:
        context.close()
        evil.shutdown()
        _, log = archive.stop()
    # The cross-site posts did reach the server, and were refused there.
    assert log.count('"POST /archive/chatgpt_message/-/insert HTTP/1.1" 403') == 2, log  # no-cors, form
    assert log.count('"POST /api/conversations HTTP/1.1" 401') == 1, log
    db = sqlite3.connect(archive.db)
    written = [r[0] for r in db.execute("select id from chatgpt_message where conversation_id = 'c'")]
    db.close()
    assert written == ["same-origin"]
