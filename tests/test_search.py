"""search_archive over a real SQLite archive: whole expected results for titles, every
branch, parts of words, text without spaces, filters, sorts, and queries it cannot use."""

import pytest

from archiver.db import open_db
from archiver.search import parse_query, plain_text, search_archive
from synthetic import conversation, save

DAY = 86400
T0 = 1.70e9


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    db = open_db(tmp_path_factory.mktemp("search") / "archive.db")
    save(db,
         conversation("c-pipe", "Data pipeline design", [
             ("p1", None, "user", "How should I design the ingestion **pipeline** for logs?"),
             ("p2", "p1", "assistant", "Use a queue:\n\n```python\nqueue = Queue()  # pipeline stage\n```\n\n"
                                       "- one worker per stage"),
         ], create_time=T0),
         conversation("c-auth", None, [
             ("a1", None, "user", "My GoogleAuthorizationCodeFlow keeps failing"),
             ("a2", "a1", "assistant", "# Fix\nRefresh the token, then rebuild the [pipeline](https://example.com/p)."),
         ], create_time=T0 + 10 * DAY, model="o3"),
         conversation("c-zh", "数据库笔记", [("z1", None, "user", "我们使用数据库存储日志")],
                      create_time=T0 + 20 * DAY, gizmo_id="g-p-notes"),
         conversation("c-branch", "Retry logic", [
             ("b1", None, "user", "Why did it stop?"),
             ("b2", "b1", "assistant", "The pipeline failed at stage two."),
             ("b3", "b1", "assistant", "Try again with backoff."),
         ], create_time=T0 + 30 * DAY, current="b3"),
         conversation("c-ctl", "Control characters", [
             ("k1", None, "user", "pipeline \x02<b>bold</b>\x03 <mark>x</mark>"),
         ], create_time=T0 + 40 * DAY),
         )
    with db.conn:
        db.conn.execute("INSERT INTO chatgpt_textdoc (path, title, content) VALUES"
                        " ('textdocs/a.json', 'Pipeline canvas', 'A canvas about the pipeline')")
    yield db.conn
    db.close()


def view(result):
    """The parts a reader sees: conversations in order, each with its messages."""
    return [(c["conversation_id"], c["title_highlights"],
             [(m["node_id"], m["role"], m["is_current"], m["snippet"], m["highlights"]) for m in c["messages"]])
            for c in result["conversations"]]


PIPE = [("p1", "user", True, "How should I design the ingestion pipeline for logs?", [[34, 42]]),
        ("p2", "assistant", True, "Use a queue: queue = Queue() # pipeline stage one worker per stage", [[31, 39]])]
BRANCH = ("b2", "assistant", False, "The pipeline failed at stage two.", [[4, 12]])
CONTROL = ("k1", "user", True, "pipeline <b>bold</b> <mark>x</mark>", [[0, 8]])
AUTH = ("a2", "assistant", True, "Fix Refresh the token, then rebuild the pipeline.", [[40, 48]])


def test_titles_first_then_every_branch_grouped_by_conversation(conn):
    result = search_archive(conn, "pipeline")
    assert view(result) == [
        ("c-pipe", [[5, 13]], PIPE),  # the title match first, both its messages under it
        ("c-branch", [], [BRANCH]),  # a message on a branch ChatGPT no longer shows
        ("c-ctl", [], [CONTROL]),
        ("c-auth", [], [AUTH]),
    ]
    assert (result["mode"], result["notice"], result["total"], result["has_more"]) == ("words", None, 4, False)
    assert result["documents"] == [{"path": "textdocs/a.json", "title": "Pipeline canvas",
                                    "snippet": "A canvas about the pipeline", "highlights": [[19, 27]]}]
    first = result["conversations"][0]
    assert {k: first[k] for k in ("title", "model", "project_id", "message_count", "title_match", "match_count")} == {
        "title": "Data pipeline design", "model": "gpt-4o", "project_id": None, "message_count": 2,
        "title_match": True, "match_count": 2}


def test_stemmed_words_and_newest_first(conn):
    assert [c["conversation_id"] for c in search_archive(conn, "pipelines", sort="newest")["conversations"]] == [
        "c-ctl", "c-branch", "c-auth", "c-pipe"]


def test_paging(conn):
    page = search_archive(conn, "pipeline", limit=2, offset=1)
    assert [c["conversation_id"] for c in page["conversations"]] == ["c-branch", "c-ctl"]
    assert (page["total"], page["has_more"]) == (4, True)


def test_filters(conn):
    assert view(search_archive(conn, "pipeline", role="user")) == [("c-ctl", [], [CONTROL]), ("c-pipe", [], PIPE[:1])]
    assert [c["conversation_id"] for c in search_archive(conn, "pipeline", current_only=True)["conversations"]] == [
        "c-pipe", "c-ctl", "c-auth"]
    assert view(search_archive(conn, "pipeline", since=T0 + 5 * DAY, until=T0 + 35 * DAY)) == [
        ("c-branch", [], [BRANCH]), ("c-auth", [], [AUTH])]
    assert view(search_archive(conn, "pipeline", model="o3")) == [("c-auth", [], [AUTH])]
    assert view(search_archive(conn, "数据库", project="g-p-notes")) == [
        ("c-zh", [[0, 3]], [("z1", "user", True, "我们使用数据库存储日志", [[4, 7]])])]
    assert search_archive(conn, "pipeline", project="g-p-notes")["conversations"] == []


def test_part_of_a_word_and_text_without_spaces(conn):
    result = search_archive(conn, "AuthorizationCode")
    assert view(result) == [
        ("c-auth", [], [("a1", "user", True, "My GoogleAuthorizationCodeFlow keeps failing", [[9, 26]])])]
    assert (result["mode"], result["notice"]) == (
        "substring", "No whole words matched; showing text that contains what you typed.")
    assert view(search_archive(conn, "数据库")) == [
        ("c-zh", [[0, 3]], [("z1", "user", True, "我们使用数据库存储日志", [[4, 7]])])]
    # On request, parts of words even where whole words would match: title matches first,
    # then the newest stored matches (parts of words are not ranked).
    assert [c["conversation_id"] for c in search_archive(conn, "ipelin", mode="substring")["conversations"]] == [
        "c-pipe", "c-ctl", "c-branch", "c-auth"]
    assert search_archive(conn, "ipelin", mode="words")["conversations"] == []


def test_quoted_phrase(conn):
    assert [c["conversation_id"] for c in search_archive(conn, '"pipeline failed"')["conversations"]] == ["c-branch"]
    assert [c["conversation_id"] for c in search_archive(conn, '"failed pipeline"')["conversations"]] == []


@pytest.mark.parametrize("q, notice", [
    ("", None),
    ("   ", None),
    ('"(', "Nothing to search for: type some words or part of a word."),
    # Operators are plain words here; none matches, and "OR" is too short to be part of a word.
    ("AND OR NOT * ^ : (", "No whole words matched. Parts of words need at least 3 characters: “OR” is too short."),
    ("word " * 30_000, "That search is 150,000 characters long; searches are limited to 1,000 characters."
                       " Search for a few words you remember."),
    ("x" * 1_000_000, "That search is 1,000,000 characters long; searches are limited to 1,000 characters."
                      " Search for a few words you remember."),
    ("a " * 40, "That search has 40 words; searches are limited to 32. Search for a few words you remember."),
    ("zz", "No whole words matched. Parts of words need at least 3 characters: “zz” is too short."),
])
def test_unusable_queries_get_a_notice_not_an_error(conn, q, notice):
    result = search_archive(conn, q)
    assert (result["conversations"], result["notice"]) == ([], notice)


def test_parse_query():
    assert parse_query('pipe "data  flow" x-y') == (["pipe", "data flow", "x y"], None)


def test_plain_text_strips_markdown_and_control_characters():
    assert plain_text("# Title\n\n**bold** and *it* `code` [link](http://x) ![alt](http://i)\n"
                      "```py\nx = 1\n```\n> quoted\n| a | b |\n|---|---|\n\x02snake_case_name\x03") == (
        "Title bold and it code link alt x = 1 quoted a b snake_case_name")
