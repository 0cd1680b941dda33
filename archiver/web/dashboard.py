"""The dashboard (/-/dashboard) and the list of published conversations (/-/published)."""

from datasette.utils.asgi import Forbidden

from ..db import archive_stats
from .auth import archive_database
from .common import can_read_all, render
from .render import bar_chart, fill_months, when


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
        "database": db.name,
    }
    return await render(datasette, request, "archiver_dashboard.html", context)


async def published_page(datasette, request):
    db = archive_database(datasette)
    rows = (await db.execute(
        "SELECT c.id, c.title, c.update_time, c.message_count, p.published_at FROM chatgpt_public p"
        " JOIN chatgpt_conversation c ON c.id = p.conversation_id ORDER BY p.published_at DESC")).dicts()
    for row in rows:
        row["when"] = when(row["update_time"])
    return await render(datasette, request, "archiver_published.html", {"conversations": rows})
