"""The search page (/-/search)."""

from datasette.utils.asgi import Forbidden

from .auth import archive_database
from .common import can_read_all, render
from .render import fts_query, highlighted_snippet, when


async def search_page(datasette, request):
    if not await can_read_all(datasette, request):
        raise Forbidden("Sign in to search the archive")
    db = archive_database(datasette)
    q = request.args.get("q", "").strip()
    results = []
    if fts_query(q):
        rows = await db.execute(
            """
            SELECT m.id, m.node_id, m.conversation_id, m.author_role, m.create_time, m.content_type,
                   c.title, snippet(chatgpt_message_fts, 0, char(2), char(3), '…', 24) AS snippet
            FROM chatgpt_message_fts
            JOIN chatgpt_message m ON m.rowid = chatgpt_message_fts.rowid
            LEFT JOIN chatgpt_conversation c ON c.id = m.conversation_id
            WHERE chatgpt_message_fts MATCH :q
            ORDER BY rank LIMIT 100
            """,
            {"q": fts_query(q)},
        )
        results = [
            dict(r, snippet=highlighted_snippet(r["snippet"]), when=when(r["create_time"])) for r in rows.dicts()
        ]
    return await render(datasette, request, "archiver_search.html", {"q": q, "results": results})
