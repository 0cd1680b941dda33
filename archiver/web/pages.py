"""Datasette hooks for browsing the archive: the routes of our pages (home, search,
transcript, dashboard, exports, raw captures, published conversations), table cells, the
stylesheet on every page and the menu. Registered through archiver.web; each page lives in a
module of its own."""

import json
from datetime import datetime

from datasette import hookimpl
from markupsafe import Markup

from ..reshape import CONTENT_MARK, METADATA_MARK
from . import dates
from .dashboard import dashboard_page, published_page
from .files import asset_file, capture_json
from .home import conversations_fragment, home_page
from .links import transcript_url
from .search_page import search_page
from .transcript import transcript_page

PLUGIN_STATIC = "chatgpt-archiver"
JSON_COLUMNS = {
    "chatgpt_conversation": {"moderation_results", "plugin_ids", "conversation_json"},
    "chatgpt_message": {"author_metadata", "content", "metadata", "message_json"},
}
# Unix seconds, shown as dates.
EPOCH_COLUMNS = {
    "chatgpt_conversation": {"create_time", "update_time"},
    "chatgpt_message": {"create_time", "update_time"},
    "chatgpt_capture": {"update_time"},
    "public_conversations": {"create_time", "update_time"},
    "public_messages": {"create_time"},
}
# ISO 8601 strings (UTC), shown as dates.
ISO_COLUMNS = {"last_captured_at", "received_at", "last_received_at", "published_at", "created_at",
               "last_used_at", "revoked_at", "imported_at"}
TEXT_PREVIEW = 300
JSON_PREVIEW = 50_000


@hookimpl
def register_routes(datasette):
    return [
        (r"^/$", home_page),
        (r"^/-/conversations$", conversations_fragment),
        (r"^/-/search$", search_page),
        (r"^/-/dashboard$", dashboard_page),
        (r"^/-/published$", published_page),
        (r"^/-/c/(?P<cid>[^/]+?)(?:\.(?P<fmt>md|json))?$", transcript_page),
        (r"^/-/capture/(?P<capture_id>\d+)\.json$", capture_json),
        (r"^/-/asset/(?P<file_id>[^/]+)$", asset_file),
    ]


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.static_plugins(PLUGIN_STATIC, "archiver.css")]


def _field(row, key):
    """A row's value, whichever shape Datasette passes: sqlite3.Row, dict, or a dict whose
    foreign keys are expanded to {"value": ..., "label": ...} (the row page)."""
    try:
        value = row[key]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(value, dict):
        value = value.get("value")
    return value


@hookimpl
def render_cell(row, value, column, table, database, datasette, request):
    if table in JSON_COLUMNS and column in JSON_COLUMNS[table] and isinstance(value, str):
        return _json_cell(value)
    if table == "chatgpt_message" and column == "message_rest" and isinstance(value, str):
        # message_json's stored part: its two marks (raw control characters) shown as words.
        return _json_cell(value.replace(CONTENT_MARK, '"(the content column)"')
                          .replace(METADATA_MARK, '"(the metadata column)"'), size=len(value.encode()))
    if table in EPOCH_COLUMNS and column in EPOCH_COLUMNS[table] and isinstance(value, (int, float)):
        moment = dates.local(value)
        if moment is None:
            return None
        return Markup('<time datetime="{}" title="{} ({})">{}</time>').format(
            moment.isoformat(timespec="seconds"), dates.relative(value), value, dates.absolute(value))
    if table and column in ISO_COLUMNS and isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return Markup('<time datetime="{}" title="{}">{}</time>').format(
            value, value, dates.absolute(moment.timestamp()))
    if table in ("chatgpt_conversation", "public_conversations") and column == "title":
        cid = _field(row, "id")
        if not cid:
            return None
        return Markup('<a class="transcript-link" href="{}">{}</a>').format(
            transcript_url(datasette, cid), value if (value or "").strip() else "Untitled conversation")
    if table == "chatgpt_conversation" and column == "id" and value:
        return Markup('<a class="transcript-link" href="{}">transcript</a> <a class="cell-id" href="{}">{}</a>').format(
            transcript_url(datasette, value), datasette.urls.row(database, table, value), value)
    if table == "chatgpt_message" and column in ("id", "node_id") and value:
        cid, node = _field(row, "conversation_id"), _field(row, "node_id") or value
        if not cid:
            return None
        link = Markup('<a class="transcript-link" href="{}">in transcript</a>').format(
            transcript_url(datasette, cid, node))
        if column == "id":
            return Markup('<a class="cell-id" href="{}">{}</a> · {}').format(
                datasette.urls.row(database, table, value), value, link)
        return Markup('<span class="cell-id">{}</span> · {}').format(value, link)
    if table == "chatgpt_message" and column == "text" and isinstance(value, str) and len(value) > TEXT_PREVIEW:
        return Markup('<span title="{:,} characters">{}…</span>').format(len(value), value[:TEXT_PREVIEW])
    return None


def _json_cell(value, size=None):
    """Raw JSON columns: empty ones as a dash, others collapsed with their size (``size``:
    the stored value's, when ``value`` is a rendering of it)."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if data in (None, {}, [], ""):
        return Markup('<span class="cell-empty" title="{}">–</span>').format(value)
    pretty = json.dumps(data, indent=2, ensure_ascii=False)
    if len(pretty) > JSON_PREVIEW:
        pretty = pretty[:JSON_PREVIEW] + "\n… (cut here; the row's .json link has all of it)"
    size = len(value.encode()) if size is None else size
    size = f"{size / 1024:,.1f} KB" if size >= 1024 else f"{size} bytes"
    return Markup('<details class="cell-json json"><summary>{} {}</summary><pre>{}</pre></details>').format(
        "{…}" if isinstance(data, dict) else "[…]", size, pretty)


@hookimpl
def top_homepage(datasette, request):
    # Datasette's own list of databases (/-/): a way back to the conversations.
    return Markup('<p><a href="{}">Conversations</a> · <a href="{}">Search</a> · <a href="{}">Dashboard</a></p>').format(
        datasette.urls.path(""), datasette.urls.path("-/search"), datasette.urls.path("-/dashboard"))


@hookimpl
def menu_links(datasette, actor, request):
    return [
        {"href": datasette.urls.path(""), "label": "Conversations"},
        {"href": datasette.urls.path("-/search"), "label": "Search the archive"},
        {"href": datasette.urls.path("-/dashboard"), "label": "Archive dashboard"},
    ]
