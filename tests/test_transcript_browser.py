"""The transcript page in real headless Chromium against a real `chatgpt-archiver serve`: at
1280 and 390 px, light and dark. Math is MathML, citations are links, lists have numbers,
a branch switch keeps the fork in view, the copy button copies. Screenshots go to pytest's
temporary folder, or to the one ARCHIVER_SCREENSHOTS names."""

import os

import pytest

from conftest import DATA, ArchiveServer, fixture_json
from fake_chatgpt import CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="no /usr/bin/chromium")

RICH = fixture_json("rich_transcript.json")
CID = RICH["conversation_id"]
NODE = {k: f"b7e3a9d0-0000-4000-8000-0000000000{i:02d}" for i, k in enumerate(
    "s1 u1 a1 t1 r1 a2 u2 c1 w1 a3 u3 a4 u5 a7 u6 d1 u4 a5 u4b a6 x6b a6b".split())}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    server = ArchiveServer(tmp_path_factory.mktemp("transcript") / "archive.db")
    server.cli("import", server.db, DATA / "rich_transcript.json", DATA / "hostile.json")
    server.start()
    yield server
    server.stop()


def open_page(chromium, width, scheme, **kwargs):
    context = chromium.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme, **kwargs)
    page = context.new_page()
    page.dialogs, page.requests, page.failed = [], [], []
    page.on("response", lambda r: r.status >= 400 and page.failed.append(r.url))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: page.requests.append(r.url))
    return context, page


def in_viewport(page, selector):
    return page.eval_on_selector(selector, """el => { const r = el.getBoundingClientRect();
        return r.bottom > 0 && r.top < window.innerHeight; }""")


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_transcript_reads_like_chatgpt(chromium, archive, shots, width, scheme):
    context, page = open_page(chromium, width, scheme)
    try:
        page.goto(f"{archive.url}/-/c/{CID}")
        # Nothing from anywhere but the archive itself.
        assert all(u.startswith(archive.url) for u in page.requests), page.requests
        assert page.failed == []  # every stylesheet and script loads
        assert page.evaluate("getComputedStyle(document.body).fontFamily") != '"Times New Roman"'
        # The user's text as typed: no heading, line breaks kept.
        user = page.locator(f"#m-{NODE['u1']} .bubble")
        assert user.locator("h1").count() == 0
        assert user.inner_text().splitlines()[:2] == [
            "# comment: keep this line as typed", "line two stays on its own line"]
        answer = page.locator(f"#m-{NODE['a2']}")
        # Math is MathML, drawn by the browser.
        # Four formulas, plus the hostile \href one as plain MathML; the one whose \text holds
        # markup is not well-formed MathML, so it is shown as its source, as text.
        assert answer.locator("math").count() == 5
        assert answer.locator("code.math-source").inner_text().startswith("\\text{<img")
        assert answer.locator("math [href], math [style]").count() == 0
        assert answer.locator("math[display=block]").count() == 2
        assert answer.locator("math mfrac").count() >= 2
        # Lists show their numbers and bullets.
        assert answer.locator("ol > li").evaluate_all(
            "items => items.map(li => getComputedStyle(li).listStyleType)") == ["decimal"] * 3
        assert answer.locator("ul > li").first.evaluate("li => getComputedStyle(li).listStyleType") == "disc"
        assert answer.locator("ol").evaluate("ol => parseFloat(getComputedStyle(ol).paddingLeft)") > 10
        # Citations: numbered links, both marker generations, and a source list.
        new_cites = page.locator(f"#m-{NODE['a3']} sup.cite a")
        assert new_cites.all_inner_texts() == ["1", "2"]
        assert new_cites.first.get_attribute("href") == "https://huts.example.org/opening"
        old_cites = page.locator(f"#m-{NODE['a4']} sup.cite")
        assert old_cites.all_inner_texts() == ["1", "2", "3", "4"]
        assert page.locator(f"#m-{NODE['a4']} sup.cite a").count() == 2  # javascript:/data: URLs: no link
        assert "【" not in page.locator(f"#m-{NODE['a4']}").inner_text()
        # Empty turns and hidden system rows are out of the way.
        for key in ("s1", "a1", "x6b"):
            assert page.locator(f"#m-{NODE[key]}").evaluate("a => a.classList.contains('anchor')")
        assert page.locator(".hidden-row").first.is_hidden()
        # Reasoning as "Thought for 7s", collapsed.
        reasoning = page.locator(f"#m-{NODE['t1']}")
        assert reasoning.locator("summary").inner_text().startswith("Thought for 7s")
        assert reasoning.get_attribute("open") is None
        # An interrupted reply says so in words (on the other branch, below); the Deep Research
        # report renders; voice shows its transcription.
        assert "Hut history report" in page.locator(f"#m-{NODE['d1']} h1").inner_text()
        assert "wood stove" in page.locator(f"#m-{NODE['a7']}").inner_text()
        assert page.locator(f"#m-{NODE['u2']} .asset.missing").inner_text().startswith("Image not archived")
        # The switcher sits on a message that is shown, with 44 px targets.
        switcher = page.locator(f"#m-{NODE['a6b']} .switcher")
        assert switcher.locator(".count").inner_text() == "2/2"
        assert page.locator(".hidden-row .switcher").count() == 0
        box = switcher.locator("a.prev").bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44
        # Dates for people, ISO on hover.
        assert page.locator(f"#m-{NODE['u1']} time").inner_text() == "3 Mar 2025, 14:02"
        assert page.locator(f"#m-{NODE['u1']} time").get_attribute("title") == "2025-03-03T14:02:00+00:00"
        # No sideways scrolling at phone width.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(33, 33, 33)") == (scheme == "dark"), background
        page.screenshot(path=shots / f"transcript-{width}-{scheme}.png", full_page=True)
        assert page.dialogs == []
    finally:
        context.close()


def test_switching_a_branch_keeps_the_fork_in_view(chromium, archive, shots):
    context, page = open_page(chromium, 390, "light")
    try:
        page.goto(f"{archive.url}/-/c/{CID}")
        page.locator(f"#m-{NODE['u4b']}").scroll_into_view_if_needed()
        # The edited prompt: 2/2, switch to the first version.
        switcher = page.locator(f"#m-{NODE['u4b']} .switcher")
        assert "2/2" in switcher.inner_text()
        switcher.locator("a.prev").click()
        page.wait_for_url(f"**#m-{NODE['u4']}")
        assert page.evaluate("window.scrollY") > 500  # not the top of a long page...
        assert in_viewport(page, f"#m-{NODE['u4']}")  # ...the fork, in view
        assert "1/2" in page.locator(f"#m-{NODE['u4']} .switcher").inner_text()
        assert page.locator(f"#m-{NODE['a5']} .note").inner_text().startswith("Stopped before it finished")
        page.screenshot(path=shots / "transcript-switched.png")
        # Back, then the regenerated answer whose fork is an empty placeholder: the switcher
        # is on the answer that is shown, and the page lands there.
        page.locator(f"#m-{NODE['u4']} .switcher a.next").click()
        page.wait_for_url(f"**#m-{NODE['u4b']}")
        assert in_viewport(page, f"#m-{NODE['u4b']}")
        page.locator(f"#m-{NODE['a6b']} .switcher a.prev").click()
        page.wait_for_url(f"**#m-{NODE['a6']}")
        assert in_viewport(page, f"#m-{NODE['a6']}")
        assert "first version" in page.locator(f"#m-{NODE['a6']}").inner_text()
    finally:
        context.close()


def test_copy_button_copies_the_code(chromium, archive):
    context, page = open_page(chromium, 1280, "light", permissions=["clipboard-read", "clipboard-write"])
    try:
        page.goto(f"{archive.url}/-/c/{CID}")
        button = page.locator(f"#m-{NODE['a2']} pre button.copy")
        assert button.inner_text() == "Copy"
        assert page.locator(f"#m-{NODE['a2']} pre .code-language").inner_text() == "python"
        button.click()
        from playwright.sync_api import expect
        # Polled from Playwright's side: the page's CSP forbids the eval wait_for_function uses.
        expect(page.locator("pre button.copy").first).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == "def pitch(rise, run):\n    return rise / run  # quillwort\n"
    finally:
        context.close()


def test_show_all_reveals_hidden_rows(chromium, archive):
    context, page = open_page(chromium, 1280, "light")
    try:
        page.goto(f"{archive.url}/-/c/{CID}")
        hidden = page.locator(".hidden-row")
        count = hidden.count()
        assert count >= 3 and all(not hidden.nth(i).is_visible() for i in range(count))
        page.click("label.show-all-label")
        assert all(hidden.nth(i).is_visible() for i in range(count))
    finally:
        context.close()


def test_hostile_transcript_runs_nothing(chromium, archive):
    context, page = open_page(chromium, 1280, "dark")
    try:
        page.goto(f"{archive.url}/-/c/{CID}")
        page.click("label.show-all-label")
        page.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")
        page.wait_for_timeout(300)
        hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href') || '')")
        assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:"))]
        assert page.locator(".archiver-transcript script, .archiver-transcript img[onerror]").count() == 0
        assert page.dialogs == []
    finally:
        context.close()
