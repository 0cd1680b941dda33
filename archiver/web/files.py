"""Raw captures (/-/capture/<id>.json) and archived files (/-/asset/<file id>)."""

import gzip

from datasette.utils.asgi import Forbidden, NotFound, Response

from .auth import archive_database
from .common import can_read_all, is_published


async def capture_json(datasette, request):
    db = archive_database(datasette)
    rows = (await db.execute("SELECT conversation_id, body FROM chatgpt_capture WHERE id = ?",
                             [int(request.url_vars["capture_id"])])).rows
    if not rows:
        raise NotFound("No such capture")
    cid, body = rows[0]
    if not (await can_read_all(datasette, request) or await is_published(db, cid)):
        raise Forbidden("This capture is private")
    return Response(gzip.decompress(body), content_type="application/json; charset=utf-8")


async def asset_file(datasette, request):
    """An archived file. Served so it cannot act as a page of this site: a sandboxing CSP,
    no MIME sniffing, and anything but an image as a download."""
    db = archive_database(datasette)
    rows = (await db.execute(
        "SELECT f.name, a.mime_type, a.data, (SELECT group_concat(DISTINCT conversation_id)"
        " FROM chatgpt_message_asset l WHERE l.file_id = f.file_id) FROM chatgpt_asset_file f"
        " JOIN chatgpt_asset a ON a.sha256 = f.sha256 WHERE f.file_id = ? LIMIT 1",
        [request.url_vars["file_id"]])).rows
    if not rows:
        raise NotFound("No such file")
    name, mime, data, conversations = rows[0]
    if not await can_read_all(datasette, request):
        published = [c for c in (conversations or "").split(",") if c and await is_published(db, c)]
        if not published:
            raise Forbidden("This file is private")
    image = (mime or "").startswith("image/") and mime != "image/svg+xml"
    headers = {"content-security-policy": "sandbox; default-src 'none'", "x-content-type-options": "nosniff"}
    if not image:
        headers["content-disposition"] = 'attachment; filename="{}"'.format(name.replace('"', ""))
    return Response(data, content_type=mime if image else "application/octet-stream", headers=headers)
