"""The home page (/): the conversation list, newest first, grouped like ChatGPT's sidebar,
filtered by title as you type (/-/conversations answers the list alone), keyset-paged so
10,000 conversations cost what 100 do. An empty archive gets the first steps instead."""

import shlex
from datetime import datetime
from pathlib import Path

from datasette.utils.asgi import Forbidden, Response

from . import dates
from .auth import archive_database
from .common import can_read_all, render
from .links import transcript_url

PAGE = 100
FIRST_WORDS = 90


def list_conversations(conn, *, title=None, before=None, limit=PAGE):
    """One page of conversations, newest first: (rows, cursor of the next page or None).
    `before` is the cursor a previous page returned; `title` keeps titles containing it."""
    where, params = [], {"limit": limit + 1}
    if title:
        # A scan of the titles: 10,000 of them take a few milliseconds, and any part matches.
        where.append("instr(lower(c.title), lower(:title)) > 0")
        params["title"] = title
    if before:
        stamp, _, cid = before.partition("|")
        params["cid"] = cid
        if stamp:
            where.append("(c.update_time < :t OR (c.update_time = :t AND c.id < :cid) OR c.update_time IS NULL)")
            params["t"] = float(stamp)
        else:
            where.append("c.update_time IS NULL AND c.id < :cid")
    rows = conn.execute(
        f"""
        SELECT c.id, c.title, c.create_time, c.update_time, c.default_model_slug AS model, c.message_count,
               c.project_id, c.gizmo_id, c.gizmo_type, c.is_archived,
               EXISTS (SELECT 1 FROM chatgpt_public p WHERE p.conversation_id = c.id) AS published,
               CASE WHEN c.title IS NULL OR trim(c.title) = '' THEN (
                 SELECT substr(m.text, 1, {FIRST_WORDS * 2}) FROM chatgpt_message m
                 WHERE m.conversation_id = c.id AND m.author_role = 'user' AND trim(m.text) <> ''
                 ORDER BY m.is_current DESC, m.create_time LIMIT 1) END AS first_words
        FROM chatgpt_conversation c
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY c.update_time DESC, c.id DESC LIMIT :limit
        """,
        params,
    ).fetchall()
    keys = ("id", "title", "create_time", "update_time", "model", "message_count", "project_id", "gizmo_id",
            "gizmo_type", "is_archived", "published", "first_words")
    rows = [dict(zip(keys, row)) for row in rows]
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        cursor = f"{'' if last['update_time'] is None else repr(float(last['update_time']))}|{last['id']}"
    return rows, cursor


def label(row):
    """What the list shows for a conversation: its title, or the first words its user typed."""
    if row["title"] and row["title"].strip():
        return row["title"].strip()
    words = " ".join((row.get("first_words") or "").split())
    if words:
        return words if len(words) <= FIRST_WORDS else words[:FIRST_WORDS].rsplit(" ", 1)[0] + "…"
    return "Untitled conversation"


def grouped(rows, now=None):
    now = now or datetime.now()
    groups = []
    for row in rows:
        when = row["update_time"] if row["update_time"] is not None else row["create_time"]
        heading = dates.group(when, now)
        if not groups or groups[-1]["label"] != heading:
            groups.append({"label": heading, "rows": []})
        project = row["project_id"] or (row["gizmo_id"] if (row["gizmo_id"] or "").startswith("g-p-") else None)
        groups[-1]["rows"].append(dict(
            row, label=label(row), untitled=not (row["title"] or "").strip(), time=dates.time_tag(when, now),
            absolute=dates.absolute(when), project=project,
            gpt=None if project else row["gizmo_id"]))
    return groups


async def _page_data(datasette, request):
    if not await can_read_all(datasette, request):
        raise Forbidden("Sign in to see the archive")
    db = archive_database(datasette)
    title = request.args.get("title", "").strip()[:500]
    before = request.args.get("before") or None
    try:
        rows, cursor = await db.execute_fn(lambda conn: list_conversations(conn, title=title, before=before))
    except ValueError:  # a cursor nobody made: start at the top
        rows, cursor = await db.execute_fn(lambda conn: list_conversations(conn, title=title))
    groups = grouped(rows)
    for group in groups:
        for row in group["rows"]:
            row["url"] = transcript_url(datasette, row["id"])
    return db, {"groups": groups, "cursor": cursor, "title_filter": title, "before": before}


async def home_page(datasette, request):
    db, context = await _page_data(datasette, request)
    counts = (await db.execute(
        "SELECT (SELECT count(*) FROM chatgpt_conversation),"
        " (SELECT count(*) FROM archiver_token WHERE revoked_at IS NULL)")).rows[0]
    context.update(
        total=counts[0], tokens=counts[1], database=db.name,
        empty=counts[0] == 0, commands=first_run_commands(db.path),
    )
    return await render(datasette, request, "archiver_home.html", context)


async def conversations_fragment(datasette, request):
    """The list alone, for filter-as-you-type and "older conversations"."""
    _, context = await _page_data(datasette, request)
    html = await datasette.render_template("_archiver_list.html", context, request=request)
    return Response.html(html)


def first_run_commands(path):
    """The commands the empty home page prints, exactly as they work for this archive:
    `--db` is named unless the archive is archive.db in the folder the server runs in."""
    db = ""
    if path and Path(path).resolve() != (Path.cwd() / "archive.db").resolve():
        db = f" --db {shlex.quote(str(path))}"
    return {
        "token": f"chatgpt-archiver token create{db} --name browser",
        "import": f"chatgpt-archiver import{db} path/to/export.zip",
        "sample": "chatgpt-archiver sample",
    }
