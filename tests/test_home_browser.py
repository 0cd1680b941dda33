"""The conversation list, search, dark theme and a 390 px phone, in real headless Chromium
against a real `chatgpt-archiver serve`. Screenshots go to pytest's temporary folder (or
ARCHIVER_SCREENSHOTS); look at them."""

import os
from datetime import datetime, timedelta

import pytest

from archiver.accounts import save_listing
from archiver.db import open_db, write_transaction
from conftest import DATA, ArchiveServer
from fake_chatgpt import CHROMIUM
from synthetic import conversation, save

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="no /usr/bin/chromium")
FIXTURES = ["branched.json", "every_content_type.json", "hostile.json", "export_list.json", "paged.json"]


def ago(days, hours=0):
    return (datetime.now() - timedelta(days=days, hours=hours)).timestamp()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("home") / "archive.db"
    db = open_db(path)
    midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    save(db,
         conversation("c-today", "Data pipeline design", [
             ("t1", None, "user", "How do I design a **pipeline** for logs?"),
             ("t2", "t1", "assistant", "Use a queue:\n```python\nqueue = Queue()  # pipeline\n```")],
             create_time=max(midnight + 1, ago(0, 1))),
         conversation("c-today-2", "Pipeline retries", [("r1", None, "user", "Retry the pipeline stage")],
                      create_time=max(midnight + 1, ago(0, 2))),
         conversation("c-yesterday", None, [("y1", None, "user", "How long should green tea steep?")],
                      create_time=midnight - 3 * 3600),
         conversation("c-week", "Trip plan", [("w1", None, "user", "Plan a trip to Kyoto")], create_time=ago(4),
                      gizmo_id="g-p-travel"),
         conversation("c-month", "Old pipeline notes", [
             ("m1", None, "user", "the pipeline again"),
             ("m2", "m1", "assistant", "The pipeline failed at stage two."),
             ("m3", "m1", "assistant", "Try the pipeline with backoff.")], create_time=ago(20), is_archived=True),
         )
    db.close()
    server = ArchiveServer(path)
    server.cli("import", path, *[DATA / f for f in FIXTURES])
    server.start()
    yield server
    server.stop()


def open_page(chromium, **options):
    context = chromium.new_context(**{"viewport": {"width": 1100, "height": 900}, **options})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    return context, page


@pytest.fixture
def page(chromium):
    context, page = open_page(chromium)
    yield page
    assert page.errors == []
    context.close()


def texts(page, css):
    """Texts of the elements `css` selects. Through the DOM's own querySelectorAll: Datasette's
    <navigation-search> element has a `matches` property, which breaks Playwright's CSS engine
    on descendant selectors whose last part (h2, li, ...) also occurs inside it."""
    return page.evaluate("css => Array.from(document.querySelectorAll(css)).map(e => e.innerText)", css)


def titles(page):
    return page.evaluate("""Array.from(document.querySelectorAll('#conversation-list li'))
        .filter(li => !li.hidden && !li.closest('section').hidden)
        .map(li => li.querySelector('.title').textContent)""")


def test_list_groups_filters_as_you_type_and_keys_move_and_open(page, archive, shots):
    page.goto(archive.url + "/")
    headings = texts(page, ".conv-group h2")
    assert headings[:4] == ["TODAY", "YESTERDAY", "PREVIOUS 7 DAYS", "PREVIOUS 30 DAYS"]  # CSS upper-cases them
    assert titles(page)[:5] == ["Data pipeline design", "Pipeline retries", "How long should green tea steep?",
                                "Trip plan", "Old pipeline notes"]
    page.screenshot(path=shots / "home.png", full_page=True)

    page.locator("form.title-filter input").press_sequentially("pipel", delay=40)
    from playwright.sync_api import expect
    # Polled from Playwright's side: the pages' CSP forbids the eval wait_for_function uses.
    expect(page.locator("#conversation-list")).to_have_attribute("data-filtered", "pipel")
    assert titles(page) == ["Data pipeline design", "Pipeline retries", "Old pipeline notes"]
    assert page.url.endswith("/?title=pipel")
    page.screenshot(path=shots / "home-filtered.png")

    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.querySelector('.title').textContent") == "Data pipeline design"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.querySelector('.title').textContent") == "Pipeline retries"
    page.keyboard.press("Enter")
    page.wait_for_url("**/-/c/c-today-2")
    assert "Retry the pipeline stage" in page.inner_text("body")

    page.goto(archive.url + "/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("backoff")
    page.keyboard.press("Enter")
    page.wait_for_url("**/-/search?q=backoff")


def test_search_groups_by_conversation_and_filters(page, archive, shots):
    page.goto(archive.url + "/-/search?q=pipeline")
    assert texts(page, "li.conversation-result h2") == ["Old pipeline notes", "Pipeline retries", "Data pipeline design"]
    hits = texts(page, "li.conversation-result:first-child .hits li")
    assert len(hits) == 3  # every branch, under one heading
    assert [("other branch" in h) for h in hits].count(True) == 1  # m2 or m3: the branch not shown
    assert "```" not in page.inner_text("ol.results") and "**" not in page.inner_text("ol.results")
    page.screenshot(path=shots / "search.png", full_page=True)

    page.select_option("select[name=role]", "assistant")
    page.select_option("select[name=sort]", "newest")
    page.click("fieldset.search-filters button")
    page.wait_for_url("**role=assistant**")
    assert texts(page, "li.conversation-result h2") == ["Data pipeline design", "Old pipeline notes"]
    page.click(".hits a >> nth=0")
    page.wait_for_url("**/-/c/c-today?leaf=t2#m-t2")
    assert page.evaluate("location.hash") == "#m-t2"


def luminance(rgb):
    r, g, b = [int(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("path, name", [
    ("/", "home"), ("/-/search?q=pipeline", "search"), ("/-/dashboard", "dashboard"),
    ("/archive/chatgpt_conversation", "conversation-table"), ("/-/c/c-month", "transcript"),
    ("/nothing-here", "not-found"),
])
def test_dark_theme_and_a_390px_phone(chromium, archive, shots, path, name):
    context, page = open_page(chromium, viewport={"width": 390, "height": 844}, color_scheme="dark",
                              device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page.goto(archive.url + path)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        ink = page.evaluate("getComputedStyle(document.querySelector('h1') || document.body).color")
        assert luminance(background) < 0.15 and luminance(ink) > 0.7, (background, ink)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 392, f"{path} is {width}px wide at 390"
        height = page.evaluate("document.documentElement.scrollHeight")
        if name == "conversation-table":
            # Datasette's card-per-field layout made this table 35,000 px tall; rows stay rows.
            assert height < 4000, height
            assert page.locator("table.rows-and-columns td").first.evaluate("e => getComputedStyle(e).display") == "table-cell"
        if name == "not-found":
            assert page.locator("a", has_text="Back to your conversations").count() == 1
        if name == "dashboard":
            sizes = page.evaluate("""Array.from(document.querySelector('ol.chart-labels').querySelectorAll('span'))
                .filter(e => e.offsetParent !== null && e.textContent).map(e => getComputedStyle(e).fontSize)""")
            assert 2 <= len(sizes) <= 6 and all(float(s.rstrip("px")) >= 12 for s in sizes), sizes
        page.screenshot(path=shots / f"dark-390-{name}.png", full_page=True)
        expected = ["Failed to load resource: the server responded with a status of 404 (Not Found)"]
        assert page.errors == (expected if name == "not-found" else [])  # the page itself is the 404
    finally:
        context.close()


def test_dashboard_labels_readable_on_a_wide_screen(page, archive, shots):
    page.goto(archive.url + "/-/dashboard")
    boxes = page.evaluate("""Array.from(document.querySelector('ol.chart-labels').querySelectorAll('span'))
        .filter(e => e.offsetParent !== null && e.textContent).map(e => e.getBoundingClientRect().toJSON())""")
    assert 2 <= len(boxes) <= 12
    assert all(a["right"] <= b["left"] + 1 for a, b in zip(boxes, boxes[1:]))  # no label overlaps the next
    page.screenshot(path=shots / "dashboard.png", full_page=True)


def test_a_pasted_30000_word_query_gets_a_clear_answer(page, archive):
    page.goto(archive.url + "/-/search")
    page.fill("form.archiver-search input[name=q]", "word " * 30_000)  # the box keeps 1,000 characters
    page.click("form.archiver-search button")
    page.wait_for_url("**/-/search?q=**")
    assert page.locator("p.notice").inner_text() == (
        "That search has 200 words; searches are limited to 32. Search for a few words you remember.")


@pytest.fixture
def two_accounts(tmp_path):
    """A personal account and a Team workspace; ChatGPT's listing of the personal account no
    longer holds "Deleted tea chat"."""
    path = tmp_path / "accounts.db"
    db = open_db(path)
    save(db,
         conversation("c-mine", "My tea notes", [("a", None, "user", "oolong")], create_time=ago(0, 1)),
         conversation("c-gone", "Deleted tea chat", [("b", None, "user", "oolong again")], create_time=ago(1)),
         conversation("c-team", "Team tea budget", [("c", None, "user", "oolong for the office")], create_time=ago(3)))
    with write_transaction(db) as conn:
        conn.execute("UPDATE chatgpt_conversation SET account_id = 'personal' WHERE id IN ('c-mine', 'c-gone')")
        conn.execute("UPDATE chatgpt_conversation SET account_id = 'account-team' WHERE id = 'c-team'")
        save_listing(conn, "personal", ["c-mine"])
    db.close()
    server = ArchiveServer(path).start()
    yield server
    server.stop()


def test_deleted_badge_shows_and_the_account_select_filters(page, two_accounts, shots):
    from playwright.sync_api import expect

    page.goto(two_accounts.url + "/")
    assert titles(page) == ["My tea notes", "Deleted tea chat", "Team tea budget"]
    badge = page.locator("#conversation-list li", has_text="Deleted tea chat").locator(".badge.deleted")
    expect(badge).to_be_visible()
    assert badge.inner_text() == "deleted on ChatGPT"
    assert page.locator("#conversation-list .badge.deleted").count() == 1
    page.screenshot(path=shots / "home-accounts.png", full_page=True)

    page.select_option("form.title-filter select[name=account]", "account-team")
    expect(page.locator("#conversation-list")).to_have_attribute("data-account", "account-team")
    assert titles(page) == ["Team tea budget"]
    assert page.url.endswith("/?account=account-team")
    page.locator("form.title-filter input").press_sequentially("tea", delay=40)
    expect(page.locator("#conversation-list")).to_have_attribute("data-filtered", "tea")
    assert titles(page) == ["Team tea budget"] and page.url.endswith("/?title=tea&account=account-team")
    page.select_option("form.title-filter select[name=account]", "personal")
    expect(page.locator("#conversation-list")).to_have_attribute("data-account", "personal")
    assert titles(page) == ["My tea notes", "Deleted tea chat"]
    page.screenshot(path=shots / "home-account-personal.png")

    page.goto(two_accounts.url + "/-/c/c-gone")
    note = page.locator("p.deleted-note")
    expect(note).to_be_visible()
    assert note.inner_text().startswith("Deleted on ChatGPT since ") and note.inner_text().endswith(" — kept here.")
    page.screenshot(path=shots / "transcript-deleted.png")


def test_deleted_badge_and_account_select_in_the_dark(chromium, two_accounts, shots):
    context, page = open_page(chromium, viewport={"width": 390, "height": 844}, color_scheme="dark",
                              device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page.goto(two_accounts.url + "/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 392
        select = page.locator("form.title-filter select[name=account]")
        assert luminance(select.evaluate("e => getComputedStyle(e).backgroundColor")) < 0.2
        page.screenshot(path=shots / "dark-390-home-accounts.png", full_page=True)
        page.goto(two_accounts.url + "/-/c/c-gone")
        page.screenshot(path=shots / "dark-390-transcript-deleted.png")
        assert page.errors == []
    finally:
        context.close()
