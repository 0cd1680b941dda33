"""Datasette hooks for browsing the archive: the routes of our pages (search, transcript,
dashboard, exports, raw captures, published conversations), table cells, the home page and
the menu. Registered through archiver.web; each page lives in a module of its own."""

import json

from datasette import hookimpl
from markupsafe import Markup

from .dashboard import dashboard_page, published_page
from .files import asset_file, capture_json
from .search_page import search_page
from .transcript import transcript_page

JSON_COLUMNS = {
    "chatgpt_conversation": {"moderation_results", "plugin_ids", "conversation_json"},
    "chatgpt_message": {"author_metadata", "content", "metadata", "message_json"},
}
TEXT_PREVIEW = 300


@hookimpl
def register_routes(datasette):
    return [
        (r"^/-/search$", search_page),
        (r"^/-/dashboard$", dashboard_page),
        (r"^/-/published$", published_page),
        (r"^/-/c/(?P<cid>[^/]+?)(?:\.(?P<fmt>md|json))?$", transcript_page),
        (r"^/-/capture/(?P<capture_id>\d+)\.json$", capture_json),
        (r"^/-/asset/(?P<file_id>[^/]+)$", asset_file),
    ]


@hookimpl
def render_cell(row, value, column, table, database, datasette, request):
    if table in JSON_COLUMNS and column in JSON_COLUMNS[table] and isinstance(value, str) and value:
        try:
            pretty = json.dumps(json.loads(value), indent=2, ensure_ascii=False)
        except ValueError:
            return None
        return Markup('<details class="json"><summary>{} · {:,} bytes</summary><pre>{}</pre></details>').format(
            "JSON", len(value), pretty)
    if table == "chatgpt_conversation" and column == "id" and value:
        return Markup('<a href="{}">{}</a> · <a href="{}">transcript</a>').format(
            datasette.urls.row(database, table, value), value, datasette.urls.path(f"-/c/{value}"))
    if table == "chatgpt_message" and column == "text" and isinstance(value, str) and len(value) > TEXT_PREVIEW:
        return Markup('<span title="{} characters">{}…</span>').format(len(value), value[:TEXT_PREVIEW])
    if table == "chatgpt_message" and column == "id" and value and "conversation_id" in row.keys():
        node = row["node_id"] if "node_id" in row.keys() else value
        return Markup('<a href="{}">{}</a> · <a href="{}#m-{}">in transcript</a>').format(
            datasette.urls.row(database, table, value), value,
            datasette.urls.path(f"-/c/{row['conversation_id']}"), node)
    return None


@hookimpl
def top_homepage(datasette, request):
    return Markup(
        '<form class="archiver-search" action="{}" method="get">'
        '<input type="search" name="q" placeholder="Search every message" aria-label="Search every message">'
        ' <button type="submit">Search</button></form>'
        '<p><a href="{}">Dashboard</a> · <a href="{}">Published conversations</a></p>'
    ).format(datasette.urls.path("-/search"), datasette.urls.path("-/dashboard"),
             datasette.urls.path("-/published"))


@hookimpl
def menu_links(datasette, actor, request):
    return [
        {"href": datasette.urls.path("-/search"), "label": "Search the archive"},
        {"href": datasette.urls.path("-/dashboard"), "label": "Archive dashboard"},
    ]
