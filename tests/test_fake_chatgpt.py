"""The fake chatgpt.com harness itself, with a plain page (no userscript)."""

import json
import os

import httpx
import pytest
from starlette.testclient import TestClient

from fake_chatgpt import CHROMIUM, CSP, FakeChatGPT, current_branch, make_id, new_context, synthetic_conversation

AUTH = {"Authorization": "Bearer fake-access-token"}
LINEAR = make_id("test", "linear")
BRANCHED = make_id("test", "branched")
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")


@pytest.fixture(scope="module")
def fake():
    return FakeChatGPT([synthetic_conversation(LINEAR, turns=3),
                        synthetic_conversation(BRANCHED, turns=4, branch=True, update_time=1791000500.0)])


@pytest.fixture(scope="module")
def port(fake_port):
    return fake_port


@pytest.fixture
def page(browser):
    context = new_context(browser)
    yield context.new_page()
    context.close()


def test_synthetic_conversation_shape():
    tree = synthetic_conversation(BRANCHED, turns=2, branch=True)
    mapping = tree["mapping"]
    assert mapping["client-created-root"]["message"] is None
    first_user = next(n for n in mapping.values() if n["message"] and n["message"]["author"]["role"] == "user")
    assert f"marker-{BRANCHED[:8]}" in first_user["message"]["content"]["parts"][0]
    assert len(first_user["children"]) == 2
    branch = [m["id"] for m in current_branch(tree)]
    assert first_user["children"][1] in branch and first_user["children"][0] not in branch
    for node in mapping.values():
        if node["message"]:
            assert node["message"]["metadata"]["parent_id"] == node["parent"]
    assert synthetic_conversation(BRANCHED, turns=2, branch=True) == tree  # deterministic


def test_plural_pages_cover_the_current_branch():
    fake = FakeChatGPT([synthetic_conversation(BRANCHED, turns=4, branch=True)])
    client = TestClient(fake.app, headers=AUTH)
    first = client.get(f"/backend-api/conversations/{BRANCHED}?num_turns=10&include_has_versions=true").json()
    assert "mapping" not in first and first["conversation_id"] == BRANCHED
    assert len(first["messages"]) == 4 and first["page_info"]["has_previous_page"]
    assert first["current_node"] == first["messages"][-1]["id"]
    pages = [first]
    while pages[-1]["page_info"]["has_previous_page"]:
        cursor = pages[-1]["page_info"]["start_cursor"]
        older = client.get(f"/backend-api/conversations/{BRANCHED}/messages?before={cursor}").json()
        assert set(older) == {"messages", "page_info"}
        pages.append(older)
    records = [m for page in reversed(pages) for m in page["messages"]]
    assert records == current_branch(fake.conversations[BRANCHED])
    assert len(records) == 1 + 2 * 4  # hidden system + 4 turns; the dead answer is not there


def test_server_knobs():
    fake = FakeChatGPT([synthetic_conversation(LINEAR, update_time=1791000100.0),
                        synthetic_conversation(BRANCHED)])
    client = TestClient(fake.app, headers=AUTH)
    archived = fake.add(synthetic_conversation(make_id("test", "archived")), archived=True)
    in_project = fake.add(synthetic_conversation(make_id("test", "project")), project="g-p-hike")
    listed = client.get("/backend-api/conversations?offset=0&limit=28&order=updated").json()
    assert [i["id"] for i in listed["items"]] == [LINEAR, BRANCHED] and listed["total"] == 2
    assert listed["items"][0]["update_time"].endswith("+00:00")
    assert [i["id"] for i in client.get("/backend-api/conversations?is_archived=true").json()["items"]] == [archived]
    assert client.get("/backend-api/conversations?limit=101").status_code == 422
    sidebar = client.get("/backend-api/gizmos/snorlax/sidebar?owned_only=true&conversations_per_gizmo=0").json()
    assert sidebar["items"][0]["gizmo"]["gizmo"]["id"] == "g-p-hike"
    project = client.get("/backend-api/gizmos/g-p-hike/conversations?cursor=").json()
    assert [i["id"] for i in project["items"]] == [in_project]
    fake.singular_fails.add(LINEAR)
    assert client.get(f"/backend-api/conversation/{LINEAR}").json() == {"detail": "timeout"}
    fake.rate_limit = (2, 30)
    assert [client.get(f"/backend-api/conversation/{BRANCHED}").status_code for _ in range(3)] == [200, 200, 429]
    assert fake.requests[-1]["status"] == 429 and fake.requests[-1]["query"] == ""


def test_backend_api_needs_the_page_token(fake, port):
    url = f"https://127.0.0.1:{port}/backend-api/conversation/{LINEAR}"
    with httpx.Client(verify=False) as client:
        assert client.get(url).status_code == 401
        assert client.get(url, headers=AUTH).json()["conversation_id"] == LINEAR
        assert client.get(f"https://127.0.0.1:{port}/c/{LINEAR}").headers["content-security-policy"] == CSP
        assert "content-security-policy" not in client.get(f"https://127.0.0.1:{port}/plain/c/{LINEAR}").headers


@needs_chromium
def test_opening_a_chat_uses_the_plural_read(fake, page):
    before = len(fake.requests)
    page.goto(f"https://chatgpt.com/c/{LINEAR}")
    assert json.loads(page.evaluate("app.ready"))["conversation_id"] == LINEAR
    assert page.evaluate("location.origin") == "https://chatgpt.com"
    assert page.locator(".message").last.text_content() == "Answer 3: follow the blue markers"
    log = fake.requests[before:]
    assert log[0]["headers"]["host"] == "chatgpt.com"
    paths = [r["path"] for r in log if r["path"].startswith("/backend-api/")]
    assert paths == [f"/backend-api/conversations/{LINEAR}", f"/backend-api/conversation/{LINEAR}/textdocs",
                     f"/backend-api/conversation/{LINEAR}/stream_status"]
    plural = fake.requests_to(f"/backend-api/conversations/{LINEAR}")[-1]
    assert plural["headers"]["authorization"] == "Bearer fake-access-token"
    assert plural["headers"]["chatgpt-account-id"] == "acct-test" and plural["status"] == 200
    assert "num_turns=10" in plural["query"]


@needs_chromium
def test_load_tree_send_and_variants(fake, page):
    page.goto(f"https://chatgpt.com/c/{BRANCHED}")
    page.evaluate("app.ready")
    assert "mapping" in json.loads(page.evaluate("id => app.loadTree(id)", BRANCHED))
    size = len(fake.conversations[BRANCHED]["mapping"])
    batches = len(fake.requests_to("/backend-api/conversations/batch", "POST"))
    sse = page.evaluate("id => app.send(id, 'Is the ridge open?')", BRANCHED)
    assert sse.startswith("event: delta_encoding") and sse.rstrip().endswith("data: [DONE]")
    tree = fake.conversations[BRANCHED]
    assert len(tree["mapping"]) == size + 2
    assert current_branch(tree)[-1]["content"]["parts"] == ["Reply to: Is the ridge open?"]
    assert len(fake.requests_to("/backend-api/conversations/batch", "POST")) == batches + 1
    texts = page.evaluate("id => app.fetchVariants(id)", BRANCHED)
    assert len(texts) == 4 and all(json.loads(t)["current_node"] == tree["current_node"] for t in texts)
    durations = page.evaluate("id => app.timeFetches(id, 3)", BRANCHED)
    assert len(durations) == 3 and all(d >= 0 for d in durations)


@needs_chromium
def test_new_chat_on_the_plain_page(fake, page):
    page.goto("https://chatgpt.com/plain/")
    page.evaluate("app.send(null, 'Fresh start')")
    created = fake.requests_to("/backend-api/conversations/batch", "POST")[-1]
    assert created["status"] == 200
    new_ids = [cid for cid in fake.conversations if cid not in (LINEAR, BRANCHED)]
    assert len(new_ids) == 1
    assert current_branch(fake.conversations[new_ids[0]])[-1]["content"]["parts"] == ["Reply to: Fresh start"]
