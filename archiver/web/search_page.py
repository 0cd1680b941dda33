"""The search page (/-/search): archiver.search's grouped results, with filters and sort.
Every query string is answered with a page (never a 500): what search_archive cannot use
comes back as its notice."""

import time
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from datasette.utils.asgi import Forbidden
from markupsafe import Markup, escape

from ..search import MAX_QUERY_CHARS, search_archive
from ..semantic import hybrid_search
from . import dates
from .auth import archive_database
from .common import can_read_all, render
from .home import label
from .links import transcript_url

PAGE = 20
ROLES = ("user", "assistant", "tool", "system")
SEARCH_MODES = {"keyword": "words", "substring": "parts of words", "semantic": "meaning",
                "hybrid": "words and meaning"}


def marked(text, spans):
    """Plain text and [start, end) highlights -> escaped HTML with <mark> around each."""
    out, at = [], 0
    for start, end in spans:
        if start < at or end <= start:
            continue
        out.append(escape(text[at:start]))
        out.append(Markup("<mark>{}</mark>").format(text[start:end]))
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


def _day(value, *, end=False):
    """'2024-05-31' -> Unix seconds at the start of that local day (or of the next one)."""
    day = datetime.strptime(value, "%Y-%m-%d")
    return (day + timedelta(days=1 if end else 0)).timestamp()


_OPTIONS = {}
OPTIONS_SECONDS = 30


def _options(conn, path=None):
    """The models and projects the filters offer: a scan of every conversation, so kept for
    half a minute per archive (a new model appears in the list that much later)."""
    cached = _OPTIONS.get(path)
    if path and cached and time.monotonic() - cached[0] < OPTIONS_SECONDS:
        return cached[1]
    models = [r[0] for r in conn.execute(
        "SELECT default_model_slug FROM chatgpt_conversation WHERE default_model_slug IS NOT NULL"
        " GROUP BY 1 ORDER BY count(*) DESC LIMIT 50")]
    projects = [r[0] for r in conn.execute(
        "SELECT coalesce(project_id, gizmo_id) AS p FROM chatgpt_conversation WHERE p IS NOT NULL"
        " GROUP BY 1 ORDER BY count(*) DESC LIMIT 50")]
    _OPTIONS[path] = (time.monotonic(), (models, projects))
    return models, projects


def _first_words(conn, ids):
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT c.id, (SELECT substr(m.text, 1, 200) FROM chatgpt_message m WHERE m.conversation_id = c.id"
        " AND m.author_role = 'user' AND trim(m.text) <> '' ORDER BY m.is_current DESC, m.create_time LIMIT 1)"
        f" FROM chatgpt_conversation c WHERE c.id IN ({','.join('?' * len(ids))})", ids)
    return dict(rows.fetchall())


async def search_page(datasette, request):
    if not await can_read_all(datasette, request):
        raise Forbidden("Sign in to search the archive")
    db = archive_database(datasette)
    args = request.args
    q = args.get("q", "")
    form = {key: args.get(key, "") for key in ("since", "until", "role", "model", "project", "sort", "mode")}
    form["current"] = args.get("current") == "1"
    notices = []
    since = until = None
    for key in ("since", "until"):
        if form[key]:
            try:
                value = _day(form[key], end=key == "until")
            except ValueError:
                notices.append(f"“{form[key][:40]}” is not a date like 2024-05-31; that filter is ignored.")
                form[key] = ""
                continue
            since, until = (value, until) if key == "since" else (since, value)
    role = form["role"] if form["role"] in ROLES else None
    sort = "newest" if form["sort"] == "newest" else "relevance"
    # keyword (the default: words as typed), substring (parts of words), semantic (by meaning,
    # archiver/semantic.py) or hybrid (both, fused). One parameter, so old links keep working.
    mode = form["mode"] if form["mode"] in SEARCH_MODES else "keyword"
    form["mode"] = mode
    try:
        offset = max(0, min(int(args.get("page", "1")) - 1, 500)) * PAGE
    except ValueError:
        offset = 0

    def run(conn):
        filters = dict(since=since, until=until, role=role, model=form["model"] or None,
                       project=form["project"] or None, current_only=form["current"], sort=sort,
                       limit=PAGE, offset=offset)
        if mode in ("semantic", "hybrid"):
            result = hybrid_search(conn, q, mode=mode, **filters)
        else:
            result = search_archive(conn, q, mode="substring" if mode == "substring" else "auto", **filters)
        untitled = [c["conversation_id"] for c in result["conversations"] if not (c["title"] or "").strip()]
        return result, _options(conn, db.path), _first_words(conn, untitled)

    result, (models, projects), first_words = await db.execute_fn(run)
    if result["notice"]:
        notices.append(result["notice"])
    conversations = []
    for c in result["conversations"]:
        url = transcript_url(datasette, c["conversation_id"])
        title = (c["title"] or "").strip()
        conversations.append(dict(
            c, url=url,
            heading=marked(c["title"], c["title_highlights"]) if title else label(
                {"title": None, "first_words": first_words.get(c["conversation_id"])}),
            untitled=not title, when=dates.time_tag(c["update_time"]), absolute=dates.absolute(c["update_time"]),
            hits=[dict(m, url=transcript_url(datasette, c["conversation_id"], m["node_id"]), html=marked(m["snippet"], m["highlights"]),
                       when=dates.absolute(m["create_time"])) for m in c["messages"]],
        ))
    documents = [dict(d, html=marked(d["snippet"], d["highlights"]),
                      url=datasette.urls.row(db.name, "chatgpt_textdoc", d["path"])) for d in result["documents"]]
    page = offset // PAGE + 1
    return await render(datasette, request, "archiver_search.html", {
        "q": q[:MAX_QUERY_CHARS], "searched": bool(q.strip()), "form": form, "notices": notices,
        "result": result, "conversations": conversations, "documents": documents,
        "roles": ROLES, "search_modes": SEARCH_MODES, "models": models, "projects": projects, "page": page,
        "prev_url": _page_url(request, page - 1) if page > 1 else None,
        "next_url": _page_url(request, page + 1) if result["has_more"] else None,
    })


def _page_url(request, page):
    args = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True) if k != "page"]
    return "?" + urlencode(args + [("page", str(page))])
