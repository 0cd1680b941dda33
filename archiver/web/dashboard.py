"""The dashboard (/-/dashboard) and the list of published conversations (/-/published)."""

from datetime import datetime

from datasette.utils.asgi import Forbidden
from markupsafe import Markup, escape

from ..db import archive_stats
from . import dates
from .auth import archive_database
from .common import can_read_all, render
from .render import fill_months

MAX_LABELS = 12


def bar_chart(series, *, label):
    """Bars per month: the bars an SVG stretched to the page's width, the month names HTML
    text under them (real font sizes at any width: an SVG's own text shrinks with it on a
    phone). At most 12 names, half of them below 576 px (CSS), rotated."""
    if not series:
        return Markup('<p class="empty">Nothing archived yet.</p>')
    top = max(v for _, v in series) or 1
    n = len(series)
    step = max(1, -(-n // MAX_LABELS))
    bars = [f'<svg class="chart" role="img" viewBox="0 0 {n * 10} 100" preserveAspectRatio="none"'
            f' xmlns="http://www.w3.org/2000/svg"><title>{escape(label)} per month</title>']
    names = []
    for i, (month, value) in enumerate(series):
        h = 100 * value / top
        bars.append(f'<rect x="{i * 10 + 1}" y="{100 - h:.2f}" width="8" height="{h:.2f}">'
                    f"<title>{escape(_month(month))}: {value:,} {escape(label)}</title></rect>")
        shown = i % step == 0
        css = "" if not shown else (' class="label"' if (i // step) % 2 == 0 else ' class="label minor"')
        names.append(f"<li{css}><span>{escape(_month(month)) if shown else ''}</span></li>")
    bars.append("</svg>")
    return Markup(
        f'<figure class="bar-chart"><figcaption>{escape(label.capitalize())} per month; the tallest bar is'
        f' {top:,}.</figcaption>{"".join(bars)}<ol class="chart-labels" aria-hidden="true">{"".join(names)}</ol>'
        "</figure>")


def _month(key):
    try:
        return datetime.strptime(key, "%Y-%m").strftime("%b %Y")
    except ValueError:
        return key


async def dashboard_page(datasette, request):
    if not await can_read_all(datasette, request):
        raise Forbidden("Sign in to see the dashboard")
    db = archive_database(datasette)

    async def dicts(sql):
        return (await db.execute(sql)).dicts()

    per_month = await dicts(
        "SELECT strftime('%Y-%m', create_time, 'unixepoch') AS month, count(*) AS n"
        " FROM chatgpt_message WHERE author_role IN ('user', 'assistant') AND create_time IS NOT NULL"
        " GROUP BY month ORDER BY month")
    conversations_per_month = await dicts(
        "SELECT strftime('%Y-%m', create_time, 'unixepoch') AS month, count(*) AS n"
        " FROM chatgpt_conversation WHERE create_time IS NOT NULL GROUP BY month ORDER BY month")
    def received(iso):
        try:
            return dates.absolute(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
        except (AttributeError, ValueError):
            return iso or ""

    context = {
        "messages_chart": bar_chart(fill_months([(r["month"], r["n"]) for r in per_month]), label="messages"),
        "conversations_chart": bar_chart(
            fill_months([(r["month"], r["n"]) for r in conversations_per_month]), label="conversations"),
        "models": await dicts(
            "SELECT model, count(*) AS n FROM chatgpt_message WHERE model IS NOT NULL"
            " GROUP BY model ORDER BY n DESC LIMIT 20"),
        "largest": await dicts(
            "SELECT id, title, message_count FROM chatgpt_conversation ORDER BY message_count DESC LIMIT 10"),
        "latest": await dicts(
            "SELECT k.id, k.conversation_id, k.received_at, k.token_name, k.source, k.size, c.title"
            " FROM chatgpt_capture k LEFT JOIN chatgpt_conversation c ON c.id = k.conversation_id"
            " ORDER BY k.id DESC LIMIT 10"),
        "drift": (await db.execute_fn(archive_stats))["unknown_content_types"],
        "received": received,
        "database": db.name,
    }
    return await render(datasette, request, "archiver_dashboard.html", context)


async def published_page(datasette, request):
    db = archive_database(datasette)
    rows = (await db.execute(
        "SELECT c.id, c.title, c.update_time, c.message_count, p.published_at FROM chatgpt_public p"
        " JOIN chatgpt_conversation c ON c.id = p.conversation_id ORDER BY p.published_at DESC")).dicts()
    for row in rows:
        row["when"] = dates.time_tag(row["update_time"])
    return await render(datasette, request, "archiver_published.html", {"conversations": rows})
