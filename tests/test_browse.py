"""The browsing pages, in-process: what they show, what they refuse, and that conversation
text never becomes markup."""

import json
import re

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app, root_login_path
from archiver.db import publish_conversation, write_transaction
from archiver.reshape import reshape_conversation
from archiver.web.citations import link_citations, mark_citations
from archiver.web.render import branch, fill_months, human_time, markdown, math_html
from archiver.web.turns import branch_rows, build_turns
from conftest import CORPUS, fixture_bytes, fixture_json, message_json

BRANCHED = fixture_json("branched.json")
RICH = fixture_json("rich_transcript.json")
# rich_transcript.json's node ids end in 00..21, in this order (tests/data/README.md).
R = {k: f"b7e3a9d0-0000-4000-8000-0000000000{i:02d}" for i, k in enumerate(
    "s1 u1 a1 t1 r1 a2 u2 c1 w1 a3 u3 a4 u5 a7 u6 d1 u4 a5 u4b a6 x6b a6b".split())}
MATHML = '<math xmlns="http://www.w3.org/1998/Math/MathML" display="{}">'

HOSTILE = fixture_json("hostile.json")
# Markup the payloads would become if any page let them through (escaped text is fine).
PAYLOAD = re.compile(r"<script>alert|<img [^>]*onerror|<svg [^>]*onload|<iframe|href=\"javascript:|<img [^>]*tracker", re.I)


@pytest.fixture
def loaded(client, auth):
    for name in ("branched.json", "every_content_type.json", "hostile.json"):
        assert client.post("/api/conversations", content=fixture_bytes(name), headers=auth).status_code == 201
    for conversation in fixture_json("export_list.json"):
        assert client.post("/api/conversations", json=conversation, headers=auth).status_code == 201
    return client


def test_markdown_is_rendered_and_raw_html_is_text():
    html = str(markdown("**bold** <script>alert(1)</script> [x](javascript:alert(1)) ![p](https://t/p.png)\n\n```python\nx = 1\n```"))
    assert "<strong>bold</strong>" in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert 'href="javascript:' not in html and "<img" not in html
    assert '<pre><code class="language-python">' in html and "x</span>" in html  # highlighted


def test_fill_months_spans_year_ends():
    assert fill_months([("2024-11", 3), ("2025-02", 1)]) == [
        ("2024-11", 3), ("2024-12", 0), ("2025-01", 0), ("2025-02", 1)]


def test_branch_follows_the_chosen_leaf():
    rows = [
        {"node_id": "r", "parent_id": None, "child_index": None, "create_time": None},
        {"node_id": "u", "parent_id": "r", "child_index": 0, "create_time": 1},
        {"node_id": "a1", "parent_id": "u", "child_index": 0, "create_time": 2},
        {"node_id": "a2", "parent_id": "u", "child_index": 1, "create_time": 3},
        {"node_id": "f", "parent_id": "a1", "child_index": 0, "create_time": 4},
    ]
    view = lambda leaf: [(row["node_id"], siblings, pos) for row, siblings, pos in branch(rows, leaf)]  # noqa: E731
    assert view("a2") == [("r", ["r"], 0), ("u", ["u"], 0), ("a2", ["a1", "a2"], 1)]
    assert view("a1") == [("r", ["r"], 0), ("u", ["u"], 0), ("a1", ["a1", "a2"], 0), ("f", ["f"], 0)]
    assert view("u") == view("a2")  # an interior node follows the newest child down
    assert view("missing") == []


def test_home_page_has_the_search_box(loaded):
    page = loaded.get("/")
    assert page.status_code == 200
    assert 'action="/-/search"' in page.text and "Dashboard" in page.text


def test_search_finds_code_citations_and_reasoning_with_links(loaded):
    page = loaded.get("/-/search?q=frobnicate_widgets")
    assert page.status_code == 200
    assert "<mark>frobnicate_widgets</mark>" in page.text
    assert "Synthetic fixture: every content type" in page.text
    assert re.search(r'href="/-/c/[0-9a-f-]+\?leaf=[0-9a-f-]+#m-[0-9a-f-]+"', page.text)
    for word in ("larkspur", "quixotic"):
        assert f"<mark>{word}</mark>" in loaded.get(f"/-/search?q={word}").text
    assert "0 conversations for" in loaded.get("/-/search?q=%22%28unbalanced").text


def test_transcript_shows_the_current_branch_and_switches(loaded):
    cid = BRANCHED["id"]
    page = loaded.get(f"/-/c/{cid}")
    assert page.status_code == 200
    current = BRANCHED["current_node"]
    assert f'id="m-{current}"' in page.text
    assert page.text.count('class="switcher"') >= 1
    other = re.findall(r'class="prev" href="\?leaf=([^"#]+)', page.text)[0]
    switched = loaded.get(f"/-/c/{cid}?leaf={other}")
    assert f'id="m-{other}"' in switched.text and f'id="m-{current}"' not in switched.text
    assert '<details class="turn empty system hidden hidden-row"' in page.text  # hidden nodes collapsed
    assert "/-/capture/1.json" in page.text


def test_exports_markdown_and_json(loaded):
    cid = BRANCHED["id"]
    md = loaded.get(f"/-/c/{cid}.md")
    assert md.status_code == 200 and md.text.startswith(f"# {BRANCHED['title']}")
    assert md.headers["content-disposition"] == f'attachment; filename="conversation-{cid}.md"'
    exported = loaded.get(f"/-/c/{cid}.json").json()
    assert set(exported["mapping"]) == set(BRANCHED["mapping"])
    for key, node in BRANCHED["mapping"].items():
        assert exported["mapping"][key]["parent"] == node["parent"]
        assert exported["mapping"][key]["children"] == node["children"]
        assert exported["mapping"][key]["message"] == node["message"]
    assert exported["current_node"] == BRANCHED["current_node"]
    raw = loaded.get("/-/capture/1.json")
    assert raw.content == fixture_bytes("branched.json")


def test_dashboard_has_charts_and_drift(loaded):
    page = loaded.get("/-/dashboard")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 2
    assert "hologram_v9" in page.text and "part:smell_pointer" in page.text


@pytest.mark.parametrize("path", [
    "/-/c/0badc0de-0000-4000-8000-00000000dead", "/-/search?q=alert", "/-/dashboard", "/-/published",
    "/archive/chatgpt_conversation", "/archive/chatgpt_message?conversation_id=0badc0de-0000-4000-8000-00000000dead",
    "/archive/chatgpt_message/x-1", "/archive/chatgpt_conversation/0badc0de-0000-4000-8000-00000000dead",
    "/-/c/0badc0de-0000-4000-8000-00000000dead.md",
])
def test_hostile_content_is_inert_everywhere(loaded, db, path):
    with write_transaction(db) as conn:
        publish_conversation(conn, HOSTILE["conversation_id"])
    page = loaded.get(path)
    assert page.status_code == 200
    if path.endswith(".md"):
        assert page.headers["content-type"].startswith("text/plain")
        return
    assert not PAYLOAD.search(page.text), PAYLOAD.search(page.text)


def test_public_bind_shows_published_conversations_only(db_path, db, auth):
    with TestClient(create_app(db_path, public=True)) as client:
        for name in ("branched.json", "hostile.json"):
            client.post("/api/conversations", content=fixture_bytes(name), headers=auth)
        with write_transaction(db) as conn:
            publish_conversation(conn, HOSTILE["conversation_id"])
        hostile, private = HOSTILE["conversation_id"], BRANCHED["id"]
        assert client.get(f"/-/c/{hostile}").status_code == 200
        assert client.get(f"/-/c/{hostile}.json").status_code == 200
        assert client.get("/-/published").status_code == 200
        assert client.get("/archive/public_conversations.json").json()["rows"][0]["id"] == hostile
        assert {r["conversation_id"] for r in client.get("/archive/public_messages.json").json()["rows"]} == {hostile}
        for path in [f"/-/c/{private}", f"/-/c/{private}.md", f"/-/c/{private}.json", "/-/search?q=sourdough",
                     "/-/dashboard", "/archive/chatgpt_message.json", "/archive/chatgpt_public.json",
                     "/archive/-/query.json?sql=select+*+from+chatgpt_message"]:
            assert client.get(path).status_code == 403, path
        capture_of_private = db.execute("select id from chatgpt_capture where conversation_id = ?", [private]).fetchone()[0]
        assert client.get(f"/-/capture/{capture_of_private}.json").status_code == 403
        client.get(root_login_path(client.app))
        assert client.get(f"/-/c/{private}").status_code == 200
        assert client.get("/-/dashboard").status_code == 200


def test_the_payload_pattern_catches_the_raw_payloads():
    texts = [HOSTILE["title"]] + [n["message"]["content"]["parts"][0] for n in HOSTILE["mapping"].values() if n["message"]]
    assert all(PAYLOAD.search(t) for t in texts)


# --- the transcript's pure renderers -------------------------------------------------------

def test_math_becomes_mathml_and_prices_stay_text():
    assert str(markdown("Area $\\pi r^2$, costs $5 or $10")) == (
        '<p>Area <span class="math inline">' + MATHML.format("inline")
        + "<mrow><mi>π</mi><msup><mi>r</mi><mn>2</mn></msup></mrow></math></span>, costs $5 or $10</p>\n")
    assert str(markdown("\\[\nx_1\n\\]")) == (
        '<div class="math block">' + MATHML.format("block")
        + "<mrow><msub><mi>x</mi><mn>1</mn></msub></mrow></math></div>\n")
    # \\( survives Markdown's backslash escapes (it used to come out as "( x )").
    assert MATHML.format("inline") + "<mrow><mi>x</mi></mrow></math>" in str(markdown("so \\( x \\) holds"))


def test_hostile_latex_stays_inert():
    # latex2mathml itself would emit href= and style= attributes and pass <b> through.
    assert str(math_html("\\href{javascript:alert(1)}{x}\\style{color:red}{y}\\text{<b>z</b>}")) == (
        '<span class="math inline">' + MATHML.format("inline")
        + "<mrow><mrow><mrow><mi>x</mi></mrow></mrow><mrow><mi>y</mi></mrow><mtext>z</mtext></mrow></math></span>")
    assert str(math_html("\\text{<img src=x onerror=alert(1)>}")) == (
        '<code class="math-source inline">\\text{&lt;img src=x onerror=alert(1)&gt;}</code>')
    assert str(math_html("\\frac{a}{", display=True)) == '<code class="math-source block">\\frac{a}{</code>'


def test_2023_citations_become_numbered_links_and_unsafe_urls_do_not():
    text, sources = mark_citations("Opened Friday【3:0†source】, closed【3:1†source】 and【9†source】.", {"citations": [
        {"start_ix": 13, "end_ix": 25, "metadata": {"title": "News <b>", "url": "https://n.example/x"}},
        {"start_ix": 32, "end_ix": 44, "metadata": {"title": "Bad", "url": "javascript:alert(1)"}}]})
    assert str(link_citations(markdown(text), sources)) == (
        '<p>Opened Friday<sup class="cite"><a href="https://n.example/x" title="News &lt;b&gt;"'
        ' rel="noopener noreferrer nofollow" target="_blank">1</a></sup>, closed<sup class="cite" title="Bad">2</sup>'
        " and.</p>\n")
    assert sources.items == [
        {"n": 1, "title": "News <b>", "url": "https://n.example/x", "shown_url": "https://n.example/x",
         "domain": "n.example", "snippet": ""},
        {"n": 2, "title": "Bad", "url": None, "shown_url": "javascript:alert(1)", "domain": "", "snippet": ""}]


def test_private_use_citations_resolve_through_references_and_search_results():
    metadata = {
        "content_references": [
            {"matched_text": "\ue203", "type": "hidden"}, {"matched_text": "\ue204", "type": "hidden"},
            {"matched_text": "\ue200cite\ue202turn0search0\ue201", "type": "webpage", "title": "A", "url": "https://a.example/"}],
        "search_result_groups": [{"domain": "b.example", "entries": [
            {"url": "https://b.example/1", "title": "B", "snippet": "s", "ref_id": {"turn_index": 0, "ref_type": "search", "ref_index": 1}}]}],
    }
    text, sources = mark_citations(
        "\ue203Fact.\ue204 \ue200cite\ue202turn0search0\ue201 More \ue200cite\ue202turn0search1\ue202turn0search9\ue201\uf8f07\uf8f1.", metadata)
    assert text == "Fact. \uf8f01\uf8f1 More \uf8f02\uf8f17."  # a forged placeholder is stripped first
    assert [(s["n"], s["title"], s["url"]) for s in sources.items] == [(1, "A", "https://a.example/"), (2, "B", "https://b.example/1")]
    # Grouped references cite several pages at once; other kinds show their own alt text.
    grouped = {"content_references": [
        {"matched_text": "\ue200cite\ue202turn0search3\ue201", "type": "grouped_webpages", "items": [
            {"title": "C", "url": "https://c.example/"}, {"title": "D", "url": "vbscript:x"}]},
        {"matched_text": "\ue200navlist\ue202Walks\ue201", "type": "nav_list", "alt": "[Walks](https://w.example/)"}]}
    text, sources = mark_citations("See \ue200cite\ue202turn0search3\ue201 and \ue200navlist\ue202Walks\ue201.", grouped)
    assert str(link_citations(markdown(text), sources)) == (
        '<p>See <sup class="cite"><a href="https://c.example/" title="C" rel="noopener noreferrer nofollow"'
        ' target="_blank">1</a></sup><sup class="cite" title="D">2</sup> and <a href="https://w.example/">Walks</a>.</p>\n')


def test_human_time():
    assert str(human_time(1741010520.5)) == (
        '<time datetime="2025-03-03T14:02:00+00:00" title="2025-03-03T14:02:00+00:00">3 Mar 2025, 14:02</time>')
    assert str(human_time("2025-03-03T15:02:00+01:00")) == str(human_time(1741010520))
    assert str(human_time("<b>soon</b>")) == "<time>&lt;b&gt;soon&lt;/b&gt;</time>"
    assert str(human_time(None)) == ""


def rich_views(leaf=None, target=None, files=None, page=None):
    rows = with_message_json(reshape_conversation(RICH)["chatgpt_message"])
    return build_turns(branch_rows(rows, leaf or RICH["current_node"]), files or {},
                       asset_url=lambda f: f"/-/asset/{f}", target=target, page=page)


def summary(views):
    by_id = {v: k for k, v in R.items()}
    return [(by_id[v["node_id"]], v["kind"], v["shown"], v["label"] if v["kind"] != "empty" else "",
             [(s["position"], s["count"], s["prev"], s["next"]) for s in v["switchers"]],
             [s["n"] for s in v["sources"]], len(v["results"]), len(v["media"]), v["note"]) for v in views]


def test_turns_show_what_chatgpt_shows():
    prev = lambda leaf, fork: f"?leaf={R[leaf]}#m-{R[fork]}"  # noqa: E731
    assert summary(rich_views()) == [
        ("s1", "empty", False, "", [], [], 0, 0, None),
        ("u1", "user", True, "", [], [], 0, 0, None),
        ("a1", "empty", False, "", [], [], 0, 0, None),
        ("t1", "reasoning", True, "Thought for 7s", [], [], 0, 0, None),
        ("r1", "recap", False, "Thought for 7s", [], [], 0, 0, None),  # its words name t1
        ("a2", "assistant", True, "", [], [], 0, 0, None),
        ("u2", "user", True, "", [], [], 0, 1, None),
        ("c1", "call", True, "Searched the web: mountain huts open in june", [], [], 0, 0, None),
        ("w1", "tool", True, "Searched the web · 3 results", [], [], 3, 0, None),
        ("a3", "assistant", True, "", [], [1, 2, 3], 0, 0, None),
        ("u3", "user", True, "", [], [], 0, 0, None),
        ("a4", "assistant", True, "", [], [1, 2, 3, 4], 0, 0, None),
        ("u5", "user", True, "", [], [], 0, 1, None),
        ("a7", "assistant", True, "", [], [], 0, 1, None),
        ("u6", "user", True, "", [], [], 0, 0, None),
        ("d1", "assistant", True, "", [], [1], 0, 0, None),
        # The edited prompt forks here; the regenerated answer forks at an empty placeholder,
        # so its switcher moves down to the answer that is shown, and links land on the fork.
        ("u4b", "user", True, "", [(2, 2, prev("a5", "u4"), None)], [], 0, 0, None),
        ("x6b", "empty", False, "", [], [], 0, 0, None),
        ("a6b", "assistant", True, "", [(2, 2, prev("a6", "a6"), None)], [], 0, 0, None),
    ]
    other = summary(rich_views(leaf=R["a5"], page=2))
    assert other[-2:] == [
        ("u4", "user", True, "", [(1, 2, None, f"?leaf={R['a6b']}&page=2#m-{R['u4b']}")], [], 0, 0, None),
        ("a5", "assistant", True, "", [], [], 0, 0, "Stopped before it finished (the reply was interrupted)."),
    ]


def test_turn_bodies():
    views = {v["node_id"]: v for v in rich_views(target=R["c1"])}
    # User text exactly as typed: no Markdown, escaped.
    assert str(views[R["u1"]]["html"]) == (
        '<div class="plain"># comment: keep this line as typed\nline two stays on its own line\n'
        "    indented four spaces\n**not bold** and &lt;b&gt;not html&lt;/b&gt;</div>")
    assert views[R["c1"]]["open"]  # the message a link points at is open
    assert "search(&quot;mountain huts open in june&quot;)" in str(views[R["c1"]]["html"])
    assert [(r["title"], r["url"], r["domain"]) for r in views[R["w1"]]["results"]] == [
        ("Hut opening dates", "https://huts.example.org/opening", "huts.example.org"),
        ("The alpine club", "https://huts.example.org/club", "huts.example.org"),
        ("<script>alert(4)</script>Evil result", None, "evil.example")]
    assert str(views[R["u2"]]["media"][0]) == (
        '<div class="asset missing" title="file-service://file-RtHutPhoto0000000000"><strong>Image</strong>'
        " not archived · 800×600</div>")
    assert str(views[R["u5"]]["html"]) == '<div class="plain">Is the hut warm at night?</div>' and views[R["u5"]]["voice"]
    assert '<h1>Hut history report</h1>' in str(views[R["d1"]]["html"])
    archived = {R["u2"]: [{"file_id": "file-RtHutPhoto0000000000", "name": "hut.jpg", "mime_type": "image/jpeg", "size": 9}]}
    image = {v["node_id"]: v for v in rich_views(files=archived)}[R["u2"]]["media"]
    assert [str(m) for m in image] == [
        '<a class="asset image" href="/-/asset/file-RtHutPhoto0000000000">'
        '<img src="/-/asset/file-RtHutPhoto0000000000" alt="hut.jpg" loading="lazy"></a>']


# --- the transcript page, in-process -------------------------------------------------------

def test_rich_transcript_page(client, auth):
    assert client.post("/api/conversations", content=fixture_bytes("rich_transcript.json"), headers=auth).status_code == 201
    page = client.get(f"/-/c/{RICH['conversation_id']}")
    assert page.status_code == 200
    html = page.text
    assert not PAYLOAD.search(html), PAYLOAD.search(html)
    assert "<script>alert" not in html and "javascript:" not in html and 'href="data:' not in html
    assert html.count("<math ") == 5  # four formulas in a2 and its hostile \href one, as plain MathML
    # Our one script, from a static file (the page's CSP gives template scripts a nonce).
    assert re.search(r'<script nonce="[^"]+" src="/-/static-plugins/chatgpt-archiver/transcript.js" defer></script>', html)
    assert '<link rel="stylesheet" href="/-/static-plugins/chatgpt-archiver/transcript.css">' in html
    assert client.get("/-/static-plugins/chatgpt-archiver/transcript.js").status_code == 200
    assert "Show 4 hidden messages" in html
    assert f'<span class="anchor" id="m-{R["x6b"]}"></span>' in html
    assert "in_progress" not in html and "【" not in html and "\ue200" not in html and "[image:" not in html


def test_search_finds_web_results_and_deep_research(client, auth):
    assert client.post("/api/conversations", content=fixture_bytes("rich_transcript.json"), headers=auth).status_code == 201
    for word, node in (("edelweiss", "w1"), ("cairn", "d1")):
        page = client.get(f"/-/search?q={word}")
        assert f"<mark>{word}</mark>" in page.text, word
        assert f"#m-{R[node]}" in page.text


def long_conversation(n):
    """A linear conversation of ``n`` messages, alternating user and assistant."""
    ids = [f"long-{i:05d}" for i in range(n)]
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": [ids[0]]}}
    for i, nid in enumerate(ids):
        role = "user" if i % 2 == 0 else "assistant"
        mapping[nid] = {"id": nid, "parent": ids[i - 1] if i else "root", "children": [ids[i + 1]] if i + 1 < n else [],
                        "message": {"id": nid, "author": {"role": role}, "create_time": 1.7e9 + i, "status": "finished_successfully",
                                    "content": {"content_type": "text", "parts": [f"message number {i} says *hello* $x_{{{i}}}$"]},
                                    "metadata": {}, "recipient": "all"}}
    return {"conversation_id": "long-conversation", "title": "Long", "mapping": mapping, "current_node": ids[-1]}


def test_long_transcripts_come_in_pages(client, auth):
    assert client.post("/api/conversations", json=long_conversation(1201), headers=auth).status_code == 201
    first = client.get("/-/c/long-conversation")
    assert first.status_code == 200 and "Page 1 of 3" in first.text
    assert 'id="m-long-00000"' in first.text and 'id="m-long-00498"' in first.text
    assert 'id="m-long-00499"' not in first.text  # the root is the first of 500 rows
    last = client.get("/-/c/long-conversation?page=3")
    assert 'id="m-long-01200"' in last.text and 'id="m-long-00998"' not in last.text
    # A link to a message (as search results make) opens the page that holds it.
    linked = client.get("/-/c/long-conversation?leaf=long-00700")
    assert "Page 2 of 3" in linked.text and 'id="m-long-00700"' in linked.text
    for odd in ("0", "99", "-1", "x", "٣"):
        assert client.get(f"/-/c/long-conversation?page={odd}").status_code == 200
    assert client.get("/-/c/long-conversation.md").text.count("message number") == 1201


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no shared corpus of real conversations")
def test_real_conversations_render_without_raw_markers(client, auth):
    """Real exports (read in place, never copied): every transcript renders, and no message
    shows the raw citation markers, asset pointers or status words the issue reported."""
    seen = 0
    for path in sorted(CORPUS.glob("*.json")):
        data = json.loads(path.read_bytes())
        for conversation in data if isinstance(data, list) else [data]:
            response = client.post("/api/conversations", json=conversation, headers=auth)
            assert response.status_code in (200, 201), (path.name, response.text)
            cid = response.json()["conversation_id"]
            page = client.get(f"/-/c/{cid}")
            assert page.status_code == 200, (path.name, cid)
            # What reads as the conversation: the messages shown outside collapsible blocks
            # (a tool block may quote a browsed page's own 【n†link】 text, as the tool saw it).
            visible = "".join(re.findall(r'<section class="turn (?:user|assistant)[^"]*" id=.*?</section>', page.text, re.S))
            for raw in ("【", "\ue200", "\ue203", "[image: file-service", "[audio: sediment", "· in_progress"):
                assert raw not in visible, (path.name, cid, raw)
            seen += 1
    assert seen >= 30


def test_turns_survive_fields_of_the_wrong_type():
    """Every field of every message in the fixtures, swapped for each other JSON type: the
    transcript still builds, and nothing becomes markup."""
    rows = reshape_conversation(fixture_json("every_content_type.json"))["chatgpt_message"]
    rows += reshape_conversation(RICH)["chatgpt_message"]
    rows = with_message_json(rows)
    odd_values = ["<b>x</b>", 7, None, ["<i>", {"a": 1}], {"content_type": "<svg onload=1>"}]
    built = 0
    for row in rows:
        if not row["message_json"] or row["message_json"] == "null":
            continue
        message = json.loads(row["message_json"])
        for section in ("content", "metadata"):
            for key in list(message.get(section) or {}):
                for value in odd_values:
                    changed = json.loads(row["message_json"])
                    changed[section][key] = value
                    bad = dict(row, message_json=json.dumps(changed), siblings=1, position=1,
                               prev_leaf=None, next_leaf=None)
                    for view in build_turns([bad], {}, asset_url=lambda f: f"/a/{f}"):
                        html = str(view["html"]) + "".join(map(str, view["media"]))
                        assert "<b>x" not in html and "<svg" not in html and "<i>" not in html, (key, value)
                        built += 1
    assert built > 1000


def with_message_json(rows):
    """Reshaped rows as the database reads them back (message_json is a computed column)."""
    return [dict(row, message_json=message_json(row)) for row in rows]
