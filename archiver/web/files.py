"""Raw captures (/-/capture/<id>.json) and archived files (/-/asset/<file id>)."""

import gzip

from datasette.utils.asgi import Forbidden, NotFound, Response

from .auth import archive_database
from .common import can_read_all
from .published import is_public_file


async def capture_json(datasette, request):
    db = archive_database(datasette)
    rows = (await db.execute("SELECT conversation_id, body FROM chatgpt_capture WHERE id = ?",
                             [int(request.url_vars["capture_id"])])).rows
    if not rows:
        raise NotFound("No such capture")
    cid, body = rows[0]
    if not await can_read_all(datasette, request):
        raise Forbidden("Raw captures are private, even of a published conversation")
    return Response(gzip.decompress(body), content_type="application/json; charset=utf-8")


async def asset_file(datasette, request):
    """An archived file. Served so it cannot act as a page of this site: a sandboxing CSP,
    no MIME sniffing, and anything but an image as a download."""
    db = archive_database(datasette)
    file_id = request.url_vars["file_id"]
    rows = (await db.execute(
        "SELECT f.name, a.mime_type, a.data FROM chatgpt_asset_file f"
        " JOIN chatgpt_asset a ON a.sha256 = f.sha256 WHERE f.file_id = ? LIMIT 1", [file_id])).rows
    if not rows:
        raise NotFound("No such file")
    name, mime, data = rows[0]
    if not await can_read_all(datasette, request) and not await is_public_file(db, file_id):
        raise Forbidden("This file is private")
    image = (mime or "").startswith("image/") and mime != "image/svg+xml"
    headers = {"content-security-policy": "sandbox; default-src 'none'", "x-content-type-options": "nosniff"}
    if not image:
        headers["content-disposition"] = 'attachment; filename="{}"'.format(name.replace('"', ""))
    return Response(data, content_type=mime if image else "application/octet-stream", headers=headers)
