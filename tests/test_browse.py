"""The browsing pages, in-process: what they show, what they refuse, and that conversation
text never becomes markup."""

import re

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app, root_login_path
from archiver.db import publish_conversation, write_transaction
from archiver.web.render import branch, fill_months, fts_query, highlighted_snippet, markdown
from conftest import fixture_bytes, fixture_json

BRANCHED = fixture_json("branched.json")
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


def test_snippet_highlight_escapes_everything_but_marks():
    assert str(highlighted_snippet("a \x02<b>hit</b>\x03 z")) == "a <mark>&lt;b&gt;hit&lt;/b&gt;</mark> z"


def test_fts_query_quotes_words():
    assert fts_query('frobnicate_widgets AND "x" OR (') == '"frobnicate_widgets" "AND" "x" "OR"'
    assert fts_query("  ") == ""


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
    assert '<details class="turn system hidden"' in page.text  # hidden nodes collapsed
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
