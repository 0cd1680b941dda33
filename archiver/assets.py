"""Files conversations show (uploads, generated images, voice, code-interpreter plots): one
module that stores them, used by the export importer and the live ``POST /api/assets`` alike,
so both converge on the same rows.

Bytes are stored once by SHA-256 in ``chatgpt_asset``; ``chatgpt_asset_file`` says which file
(a path in an export, or ``live/<file id>``) holds them and for which ChatGPT file id;
``chatgpt_message_asset`` (written with the messages) says which messages name that id.
"""

import json
import mimetypes
import re

# ChatGPT's file ids: ``file-<base62>`` (uploads until 2025) and ``file_<hex>`` (sediment, 2025+).
FILE_ID = re.compile(r"file[-_][A-Za-z0-9]{1,128}")
# An export names its files after the id, with the original name or a hash after a dash.
FILE_ID_PREFIX = re.compile(r"^(file-[A-Za-z0-9]+|file_[0-9a-f]+)")
LIVE_PREFIX = "live/"

# Magic numbers of the kinds ChatGPT shows, so the stored type says what the bytes are, not
# what a page or a file name claimed.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"\x1aE\xdf\xa3", "video/webm"),
)
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
GENERIC = "application/octet-stream"


class BadFileId(ValueError):
    pass


def check_file_id(value):
    """A ChatGPT file id, or BadFileId."""
    if not isinstance(value, str) or not FILE_ID.fullmatch(value):
        raise BadFileId(f"not a ChatGPT file id: {str(value)[:80]!r} (expected file-… or file_…)")
    return value


def sniff_mime(head, name=None, declared=None):
    """The MIME type to store: from the bytes where they say, else the file name's extension,
    else a well-formed declared type (lower-cased, parameters dropped), else generic. Only a
    label for browsing: the asset route serves anything but raster images as a download."""
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if head[8:12] == b"WEBP" else "audio/wav"
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:11] == b"M4A" else "video/mp4"
    guessed = mimetypes.guess_type(name)[0] if name else None
    if guessed:
        return guessed
    declared = (declared or "").split(";", 1)[0].strip().lower()
    return declared if _MIME.fullmatch(declared) else GENERIC


def save_asset(conn, data, *, path, name, file_id, sha256, mime):
    """Store bytes once by hash and record the file holding them. Returns True when the bytes
    were new to the archive. Call inside the caller's transaction."""
    stored = conn.execute(
        "INSERT OR IGNORE INTO chatgpt_asset (sha256, size, mime_type, data) VALUES (?, ?, ?, ?)",
        [sha256, len(data), mime, data],
    ).rowcount
    conn.execute(
        "INSERT OR REPLACE INTO chatgpt_asset_file (path, file_id, name, sha256) VALUES (?, ?, ?, ?)",
        [path, file_id, name, sha256],
    )
    return bool(stored)


def export_file_id(file_name):
    """The ChatGPT file id an export's file name starts with, or None."""
    match = FILE_ID_PREFIX.match(file_name)
    return match.group(1) if match else None


def save_live_asset(conn, data, *, sha256, file_id, name, declared_mime):
    """One file posted by the userscript. Returns ``(duplicate, path)``: duplicate when these
    bytes are already held for this file id (by an import or an earlier post), then nothing is
    written. Otherwise the file is ``live/<file id>``; should different bytes arrive later for
    the same id, they are kept beside it (``live/<file id>/<sha256>``), never over it."""
    if conn.execute(
        "SELECT 1 FROM chatgpt_asset_file WHERE file_id = ? AND sha256 = ?", [file_id, sha256]
    ).fetchone():
        return True, None
    path = LIVE_PREFIX + file_id
    if conn.execute("SELECT 1 FROM chatgpt_asset_file WHERE path = ?", [path]).fetchone():
        path = f"{path}/{sha256}"
    mime = sniff_mime(bytes(data[:64]), name, declared_mime)
    save_asset(conn, data, path=path, name=name or file_id, file_id=file_id, sha256=sha256, mime=mime)
    return False, path


def is_named_by(conn, conversation_id, file_id):
    """Does an archived message of this conversation name this file id?"""
    return conn.execute(
        "SELECT 1 FROM chatgpt_message_asset WHERE conversation_id = ? AND file_id = ? LIMIT 1",
        [conversation_id, file_id],
    ).fetchone() is not None


def wanted_assets(conn, file_ids):
    """Of these file ids, those the archive holds no bytes for; order kept, duplicates dropped."""
    unique = list(dict.fromkeys(file_ids))
    held = {
        r[0]
        for r in conn.execute(
            "SELECT f.file_id FROM chatgpt_asset_file f JOIN chatgpt_asset a ON a.sha256 = f.sha256"
            " WHERE f.file_id IN (SELECT value FROM json_each(?))",
            [json.dumps(unique)],
        )
    }
    return [f for f in unique if f not in held]
