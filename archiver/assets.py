"""Files conversations show (uploads, generated images, voice, code-interpreter plots): one
module that stores them, used by the export importer and the live ``POST /api/assets`` alike,
so both converge on the same rows.

Bytes are stored once by SHA-256 in ``chatgpt_asset``; ``chatgpt_asset_file`` says which file
(a path in an export, or ``live/<file id>``) holds them and for which ChatGPT file id;
``chatgpt_message_asset`` (written with the messages) says which messages name that id.
"""

import hashlib
import json
import mimetypes
import re
import tempfile
from dataclasses import dataclass

# ChatGPT's file ids: ``file-<base62>`` (uploads until 2025) and ``file_<hex>`` (sediment, 2025+);
# dashes and underscores allowed after the prefix, as the userscript does. Never a dot or a
# slash: an id is a key and a URL segment, never a path.
FILE_ID = re.compile(r"file[-_][A-Za-z0-9_-]{1,200}")
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


@dataclass
class Upload:
    """A file's bytes as they arrived (posted, or read from an export): spooled to a temporary
    file so a big one is never held in memory, hashed and measured on the way, with its first
    bytes for sniffing."""

    file: object  # binary, seekable
    size: int
    sha256: str
    head: bytes


BLOB_CHUNK = 1024 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # bigger files go to a temporary file (mode 0600, deleted on close)


class TooBig(Exception):
    pass


class Spooler:
    """Takes a file's bytes as they arrive (an upload's chunks, an export file's reads), keeps
    them in a temporary file, hashes and measures them, and refuses them (TooBig) as soon as
    they pass ``limit``. ``upload()`` hands them over; close the Upload's file when done."""

    def __init__(self, limit=None):
        self.limit, self.file, self.digest, self.size, self.head = (
            limit, tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY), hashlib.sha256(), 0, b"")

    def feed(self, chunk):
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            self.file.close()
            raise TooBig(f"file is over the {self.limit} byte limit")
        self.head += chunk[:64 - len(self.head)]
        self.file.write(chunk)
        self.digest.update(chunk)

    def upload(self):
        return Upload(self.file, self.size, self.digest.hexdigest(), self.head)


def spool_stream(stream, limit=None):
    """A readable binary stream (a file of an export) -> Upload, or TooBig past ``limit``."""
    spooler = Spooler(limit)
    try:
        while chunk := stream.read(BLOB_CHUNK):
            spooler.feed(chunk)
    except BaseException:
        spooler.file.close()
        raise
    return spooler.upload()


def save_asset(conn, upload, *, path, name, file_id, mime):
    """Store an Upload's bytes once by hash and record the file holding them. Returns True
    when the bytes were new to the archive. Call inside the caller's transaction."""
    # Room first, then the bytes a chunk at a time through SQLite's incremental blob I/O.
    cursor = conn.execute(
        "INSERT OR IGNORE INTO chatgpt_asset (sha256, size, mime_type, data) VALUES (?, ?, ?, zeroblob(?))",
        [upload.sha256, upload.size, mime, upload.size],
    )
    stored = cursor.rowcount
    if stored and upload.size:
        upload.file.seek(0)
        with conn.blobopen("chatgpt_asset", "data", cursor.lastrowid) as blob:
            while chunk := upload.file.read(BLOB_CHUNK):
                blob.write(chunk)
    conn.execute(
        "INSERT OR REPLACE INTO chatgpt_asset_file (path, file_id, name, sha256) VALUES (?, ?, ?, ?)",
        [path, file_id, name, upload.sha256],
    )
    return bool(stored)


def export_file_id(file_name):
    """The ChatGPT file id an export's file name starts with, or None."""
    match = FILE_ID_PREFIX.match(file_name)
    return match.group(1) if match else None


def save_live_asset(conn, upload, *, file_id, name, declared_mime):
    """One file posted by the userscript. Returns ``(duplicate, path)``: duplicate when these
    bytes are already held for this file id (by an import or an earlier post), then nothing is
    written. Otherwise the file is ``live/<file id>``; should different bytes arrive later for
    the same id, they are kept beside it (``live/<file id>/<sha256>``), never over it."""
    sha256 = upload.sha256
    if conn.execute(
        "SELECT 1 FROM chatgpt_asset_file WHERE file_id = ? AND sha256 = ?", [file_id, sha256]
    ).fetchone():
        return True, None
    path = LIVE_PREFIX + file_id
    if conn.execute("SELECT 1 FROM chatgpt_asset_file WHERE path = ?", [path]).fetchone():
        path = f"{path}/{sha256}"
    mime = sniff_mime(upload.head, name, declared_mime)
    save_asset(conn, upload, path=path, name=name or file_id, file_id=file_id, mime=mime)
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
