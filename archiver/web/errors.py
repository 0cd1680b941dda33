"""Bad requests Datasette would answer with a 500, and the .json export's size limit.

A facet (``_facet``, ``_facet_array``, ``_facet_date``) on a column the table does not have
reaches SQLite as "no such column", and a JSON facet configuration Datasette cannot read fails
with a KeyError. Both are the caller's mistake: a 400 saying so, in Datasette's error shape."""

import sqlite3

from datasette import hookimpl
from datasette.handle_exception import handle_exception as datasette_handle_exception
from datasette.utils.asgi import BadRequest, Response

from .. import reshape


@hookimpl
def handle_exception(datasette, request, exception):
    facets = [(k, v) for k in request.args.keys() if k == "_facet" or k.startswith("_facet_")
              for v in request.args.getlist(k)]
    if not facets:
        return None
    if isinstance(exception, sqlite3.OperationalError) and str(exception).startswith("no such column"):
        message = f"cannot facet by that column: {exception}"
    elif isinstance(exception, (KeyError, TypeError)) and any(v.lstrip().startswith("{") for _, v in facets):
        # A JSON facet configuration Datasette does not understand ({"column": ...} lacks "simple").
        message = "cannot facet by that: a _facet given as JSON is not understood; give a column name"
    else:
        return None
    return datasette_handle_exception(datasette, request, BadRequest(message))


async def export_refusal(db, cid):
    """A conversation too large to export as one JSON document (only rows written through the
    insert API can make one: captures above reshape.MAX_NODES are refused) gets a 413 saying
    so, instead of the server building it all in memory. None when it may be exported."""
    (count,) = (await db.execute(
        "SELECT count(*) FROM chatgpt_message WHERE conversation_id = ?", [cid])).rows[0]
    if count <= reshape.MAX_NODES:
        return None
    message = (f"this conversation has {count:,} nodes; the .json export stops at {reshape.MAX_NODES:,}."
               " Its raw captures are listed on its transcript page")
    return Response.json({"ok": False, "error": message, "status": 413}, status=413)
