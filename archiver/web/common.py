"""What every page needs: who may read everything, what is published, rendering."""

from datasette.resources import TableResource
from datasette.utils.asgi import Response
from markupsafe import Markup
from pygments.formatters import HtmlFormatter

from .auth import archive_database
from .render import pygments_css

# Code highlighting for a dark page (prefers-color-scheme: dark).
_DARK_CODE = HtmlFormatter(style="monokai", nowrap=True).get_style_defs(".md pre")


async def can_read_all(datasette, request):
    db = archive_database(datasette)
    return await datasette.allowed(
        action="view-table", resource=TableResource(db.name, "chatgpt_message"), actor=request.actor
    )


async def render(datasette, request, template, context):
    context = {"archiver_css": Markup(pygments_css()), "archiver_css_dark": Markup(_DARK_CODE), **context}
    return Response.html(await datasette.render_template(template, context, request=request))
