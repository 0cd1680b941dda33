"""Raw captures (/-/capture/<id>.json) and archived files (/-/asset/<file id>)."""

import gzip

from datasette.utils.asgi import AsgiStream, Forbidden, NotFound, Response

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
        "SELECT f.name, a.mime_type, length(a.data), a.rowid FROM chatgpt_asset_file f"
        " JOIN chatgpt_asset a ON a.sha256 = f.sha256 WHERE f.file_id = ? LIMIT 1", [file_id])).rows
    if not rows:
        raise NotFound("No such file")
    name, mime, size, rowid = rows[0]
    if not await can_read_all(datasette, request) and not await is_public_file(db, file_id):
        raise Forbidden("This file is private")
    image = (mime or "").startswith("image/") and mime != "image/svg+xml"
    headers = {"content-security-policy": "sandbox; default-src 'none'", "x-content-type-options": "nosniff",
               "content-length": str(size or 0)}
    if not image:
        headers["content-disposition"] = 'attachment; filename="{}"'.format(name.replace('"', ""))

    # Files run to hundreds of megabytes: sent a chunk at a time, never read whole.
    async def send_chunks(writer):
        for offset in range(0, size or 0, CHUNK):
            chunk = await db.execute_fn(lambda conn, at=offset: _read(conn, rowid, at))
            # AsgiWriter.write takes text only: bytes go to the ASGI send it wraps.
            await writer.send({"type": "http.response.body", "body": chunk, "more_body": True})

    return AsgiStream(send_chunks, headers=headers, content_type=mime if image else "application/octet-stream")


CHUNK = 1024 * 1024


def _read(conn, rowid, offset):
    with conn.blobopen("chatgpt_asset", "data", rowid, readonly=True) as blob:
        blob.seek(offset)
        return blob.read(CHUNK)
