"""What every page needs: who may read everything, what is published, rendering."""

from datasette.resources import TableResource
from datasette.utils.asgi import Response
from markupsafe import Markup

from .auth import archive_database
from .render import pygments_css


async def can_read_all(datasette, request):
    db = archive_database(datasette)
    return await datasette.allowed(
        action="view-table", resource=TableResource(db.name, "chatgpt_message"), actor=request.actor
    )


async def is_published(db, cid):
    rows = await db.execute("SELECT 1 FROM chatgpt_public WHERE conversation_id = ?", [cid])
    return bool(rows.rows)


async def render(datasette, request, template, context):
    context = {"archiver_css": Markup(pygments_css()), **context}
    return Response.html(await datasette.render_template(template, context, request=request))
