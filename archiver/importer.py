"""Importing OpenAI's data export (ZIP, extracted folder, conversations.json or the split
conversations-NNN.json files) through the same reshape-and-save path as live captures.

Conversations are cut out of the export one at a time as their exact bytes (jsonsplit), so
memory stays flat however large the export and each is kept exactly as the export wrote it;
they are prepared in batches (archiver.preparing: in a second process for big files) and
written a transaction per batch, or, into a new archive, in one transaction for the whole
load. Assets are stored once by content hash; other export files land in tables; nothing
unknown is fatal.
"""

import hashlib
import json
import os
import re
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import sqlite_utils

from .assets import TooBig, export_file_id, save_asset, sniff_mime, spool_stream
from .bulk import bulk_loading, search_index_paused, triggers_lifted
from .db import ids_held, now_iso, save_capture, save_new_captures, write_transaction
from .preparing import (
    MAX_FILE_BYTES,
    MAX_JSON_BYTES,
    READ_PROBLEMS,
    Apart,
    ImportProblem,
    fewer_collections,
    json_start,
    prepared_batches,
    read_bounded,
)
from .exportfiles import entries
from .privacy import Judge
from .reshape import to_json
from .textdocs import export_textdoc_columns

CONVERSATION_FILE = re.compile(r"^conversations(?:-\d+)?\.json$")
# Files the export ships whose rows we keep as tables of their own.
TABLE_FILES = {
    "user.json": "chatgpt_export_user",
    "message_feedback.json": "chatgpt_message_feedback",
    "shared_conversations.json": "chatgpt_shared_conversation",
    "model_comparisons.json": "chatgpt_model_comparison",
}
KNOWN_IGNORED = {"chat.html"}  # the export's own viewer: everything in it is in the JSON
ASSET_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".heic", ".dat", ".wav", ".mp3",
    ".m4a", ".webm", ".ogg", ".mp4", ".pdf", ".txt", ".csv", ".docx", ".xlsx", ".pptx", ".zip",
}


@dataclass
class Summary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    messages: int = 0
    new_messages: int = 0
    assets: int = 0
    assets_known: int = 0
    textdocs: int = 0
    excluded: int = 0  # left out by the archive's privacy settings
    tables: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    bytes_done: int = 0

    @property
    def conversations(self):
        return self.new + self.updated + self.unchanged

    @property
    def changed_anything(self):
        return bool(self.new or self.updated or self.new_messages or self.assets or self.textdocs or self.tables)


def kind_of(entry):
    parts = PurePosixPath(entry.path).parts
    name = entry.name
    if CONVERSATION_FILE.match(name) or entry.explicit:  # a file named on its own: checked to be JSON
        return "conversations"
    if "textdocs" in parts[:-1]:
        return "textdoc"
    if name in TABLE_FILES:
        return "table"
    if name in KNOWN_IGNORED or name.startswith("."):
        return "ignored"
    if (
        PurePosixPath(name).suffix.lower() in ASSET_SUFFIXES
        or export_file_id(name)
        or any(part == "dalle-generations" or part.startswith("user-") for part in parts[:-1])
    ):
        return "asset"
    return "unknown"


# What only an export holds (a folder of pictures is not one).
EXPORT_KINDS = {"conversations", "textdoc", "table"}
NOT_AN_EXPORT = ("not a ChatGPT export (expected the export's .zip, its extracted folder,"
                 " conversations.json or a conversation's JSON)")


def check_import_path(path):
    """The entries of an import argument, or ImportProblem when it cannot be an export at all:
    missing, unreadable, or holding nothing an export holds. Cheap: reads a few bytes per
    named file, nothing of a folder or zip but its listing."""
    p = Path(path)
    if not p.exists():
        raise ImportProblem("no such file or folder")
    try:
        found = entries(path)
        if len(found) == 1 and found[0].explicit:  # a file on its own, not a zip: JSON or nothing
            with found[0].open() as f:
                head = f.read(64)
            if json_start(head) is None:
                raise ImportProblem(NOT_AN_EXPORT if head.strip() else "empty file: " + NOT_AN_EXPORT)
            return found
    except OSError as e:
        raise ImportProblem(f"cannot read it: {e.strerror or e}") from None
    if not any(kind_of(e) in EXPORT_KINDS for e in found):
        raise ImportProblem(f"nothing in it looks like an export: {NOT_AN_EXPORT}")
    return found


def import_paths(db, paths, progress=None, bulk=False):
    """Import every argument; returns a Summary. Problems are recorded, never raised.
    ``bulk`` indexes for search once at the end instead of row by row (big imports)."""
    # An import can simply be run again, so it need not wait for the disk at every commit:
    # in WAL mode NORMAL still never corrupts, it only may lose the last batch on power loss.
    db.conn.execute("PRAGMA synchronous = NORMAL")
    if not bulk:
        return _import_all(db, paths, progress, held=False)
    with bulk_loading(db.conn) as loading, search_index_paused(db.conn, direct=loading.fast) as indexing, \
            fewer_collections():
        # Into a new, empty archive: one transaction for the whole load. Each commit writes
        # back every index page the batch touched (message ids are random), so at 500 MB a
        # commit per batch cost 37.5 s against 29.3 s for one (benchmarks/README.md); a load
        # cut short leaves the archive as empty as it was, and is run again.
        try:
            if loading.fast:
                db.conn.execute("BEGIN IMMEDIATE")
                with triggers_lifted(db.conn):
                    summary = _import_all(db, paths, progress, held=indexing)
                    loading.rows_written()
            else:
                summary = _import_all(db, paths, progress, held=False)
        except BaseException:
            if db.conn.in_transaction:
                db.conn.rollback()
            raise
        if db.conn.in_transaction:
            db.conn.commit()
        return summary


@contextmanager
def _transaction(db, held, savepoint=True):
    """One piece of an import (a batch, a file): a transaction of its own, or, ``held`` (the
    load's bulk.Indexing, when the whole load into a new archive is one transaction), a
    savepoint inside that transaction; either way all of it or none. A batch of
    conversations needs no savepoint: nothing it raises is caught short of import_paths,
    which rolls the whole load back (and a savepoint journals every index page it touches
    again: 34.0 s against 27.1 s at 500 MB)."""
    if not held:
        with write_transaction(db) as conn:
            yield conn
        return
    conn = db.conn
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    if not savepoint:
        yield conn
        return
    conn.execute("SAVEPOINT piece")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK TO piece")
        conn.execute("RELEASE piece")
        raise
    conn.execute("RELEASE piece")


def _import_all(db, paths, progress, held):
    summary = Summary()
    listed = []  # (import argument, its entries or the problem listing it)
    for path in paths:
        try:
            listed.append((path, entries(path)))
        except ImportProblem as e:
            listed.append((path, e))
    with Apart(prepared_apart([(path, found) for path, found in listed if isinstance(found, list)])) as apart:
        for path, found in listed:
            if not isinstance(found, list):
                summary.skipped.append(f"{path}: {found}")
                continue
            for entry in _in_order(found):
                where = _where(path, entry)
                kind = kind_of(entry)
                try:
                    if kind == "conversations":
                        _import_conversations(db, apart.batches(entry, where), where, summary, progress, held)
                    elif kind == "asset":
                        _import_asset(db, entry, summary, held)
                    elif kind == "textdoc":
                        _import_textdoc(db, entry, summary, held)
                    elif kind == "table":
                        _import_table(db, entry, summary, held)
                    elif kind == "unknown":
                        summary.unknown.append(where)
                except (*READ_PROBLEMS, ImportProblem) as e:
                    summary.skipped.append(f"{where}: {e}")
                summary.bytes_done += entry.size
                if progress:
                    progress(summary)
    return summary


def _in_order(found):
    # Conversations first, so assets and textdocs find the messages they belong to.
    return sorted(found, key=lambda e: {"conversations": 0}.get(kind_of(e), 1))


def _where(path, entry):
    """How reports name an entry."""
    return str(path) if entry.explicit else f"{Path(path).name}:{entry.path}"


# Conversations files this big together are prepared by a second process while this one
# writes (archiver.preparing.Apart): below it, starting that process costs more than it saves.
PREPARE_APART_ABOVE = 8 * 1024 * 1024


def prepared_apart(found):
    """[(import argument, its entries)] -> the conversations files (import argument, entry
    path, name in reports) a second process will prepare, in the order the import reaches
    them: all of them, if together they are big enough and the machine has a second core,
    else none. The command gives them to a process before it opens the archive
    (``workers.ahead``); the import takes that process (``Apart``)."""
    files = [(entry, path) for path, its in found for entry in _in_order(its)
             if kind_of(entry) == "conversations" and entry.source is not None]
    if not files or sum(entry.size for entry, _ in files) < PREPARE_APART_ABOVE or (os.cpu_count() or 1) < 2:
        return ()
    return tuple((entry.source, entry.path, _where(path, entry)) for entry, path in files)


def _import_conversations(db, batches, where, summary, progress, held):
    # Closed here, not whenever it is collected: a file left part way must be known as such
    # (preparing.Apart) before the next file's batches are asked for.
    with closing(batches):
        for batch in batches:
            _save_batch(db, batch, where, summary, held)
            if progress:
                progress(summary)


def _save_batch(db, batch, where, summary, held):
    source = f"import:{PurePosixPath(where).name}"
    with _transaction(db, held, savepoint=False) as conn:
        new = {}  # held (a new archive): conversations it has never held, written together
        # The settings, and which of the batch's conversations the archive holds, read once.
        refusal = Judge(conn)
        held_ids = ids_held(conn, [item.conversation["id"] for what, item in batch if what == "capture"],
                            "chatgpt_conversation")
        for what, item in batch:
            if what == "skip":
                summary.skipped.append(item)
                continue
            capture = item
            cid = capture.conversation["id"]
            if refusal(capture.conversation):
                summary.excluded += 1
                continue
            existed = cid in held_ids
            if held and not existed and cid not in new:
                new[cid] = capture
                continue
            if new:  # written in the file's order, as the plain path writes them
                _save_new(conn, list(new.values()), source, summary, held)
                existed = existed or cid in new  # the same conversation twice in one batch
                held_ids.update(new)
                new = {}
            if held:  # a row written past save_new_captures: the stemmed index is rebuilt at the end
                held.direct = False
            result = save_capture(conn, capture, source=source)
            held_ids.add(cid)  # a later copy in this batch finds it, as a query would
            if result.duplicate:
                summary.unchanged += 1
            elif existed:
                summary.updated += 1
            else:
                summary.new += 1
            # Messages as `stats` counts them, not nodes (result.messages, the API's count): the
            # message-less roots are not messages. Every node of a new conversation is new.
            carrying = capture.messages_carrying
            summary.messages += carrying
            summary.new_messages += result.new_messages if existed else carrying
        if new:
            _save_new(conn, list(new.values()), source, summary, held)


def _save_new(conn, captures, source, summary, held):
    # Once a row was written another way (held.direct cleared), ids are asked of the table.
    save_new_captures(conn, captures, source=source, index=held.direct,
                      written=held.written if held.direct else None)
    for capture in captures:
        carrying = capture.messages_carrying
        summary.new += 1
        summary.messages += carrying
        summary.new_messages += carrying


def _import_asset(db, entry, summary, held):
    with entry.open() as stream:
        try:  # a video in an export is never held in memory whole, and has a size limit
            upload = spool_stream(stream, limit=MAX_FILE_BYTES)
        except TooBig:
            raise ImportProblem(f"too large: over {MAX_FILE_BYTES:,} bytes; skipped") from None
    with upload.file, _transaction(db, held) as conn:
        stored = save_asset(
            conn, upload, path=entry.path, name=entry.name, file_id=export_file_id(entry.name),
            mime=sniff_mime(upload.head, entry.name),
        )
    if stored:
        summary.assets += 1
    else:
        summary.assets_known += 1


def _import_textdoc(db, entry, summary, held):
    with entry.open() as stream:
        raw = read_bounded(stream, MAX_JSON_BYTES)
    text = raw.decode("utf-8", "replace")
    with _transaction(db, held) as conn:
        same = conn.execute("SELECT raw FROM chatgpt_textdoc WHERE path = ?", [entry.path]).fetchone()
    if same and same[0] == text:
        return
    title = None
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        title = doc.get("title") or doc.get("name")
        body = doc.get("content") or doc.get("text")
        text = body if isinstance(body, str) else text
    with _transaction(db, held) as conn:
        row = {"path": entry.path, "title": title if isinstance(title, str) else None, "content": text,
               "raw": raw.decode("utf-8", "replace"), "imported_at": now_iso(), **export_textdoc_columns(doc)}
        conn.execute(
            "INSERT OR REPLACE INTO chatgpt_textdoc ({}) VALUES ({})".format(
                ", ".join(row), ", ".join(f":{c}" for c in row)),
            row,
        )
    summary.textdocs += 1


def _import_table(db, entry, summary, held):
    with entry.open() as stream:
        raw = read_bounded(stream, MAX_JSON_BYTES)
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ImportProblem(f"malformed JSON: {e}") from None
    rows = data if isinstance(data, list) else [data]
    rows = [r for r in rows if isinstance(r, dict)]
    table = TABLE_FILES[entry.name]
    marker = f"export-file:{table}"
    digest = hashlib.sha256(raw).hexdigest()
    with _transaction(db, held) as conn:
        seen = conn.execute("SELECT value FROM archiver_meta WHERE key = ?", [marker]).fetchone()
        if seen and seen[0] == digest:
            return  # this very file was imported before
        target = sqlite_utils.Database(conn)[table]
        if not all(isinstance(r.get("id"), (str, int)) for r in rows):
            # No ids to key on: key each row by its content, so a re-import adds nothing.
            rows = [{"sha256": hashlib.sha256(to_json(r).encode()).hexdigest(), "json": to_json(r)} for r in rows]
        # Values that are objects or lists are stored as JSON text by sqlite-utils.
        target.insert_all(rows, pk="id" if rows and "id" in rows[0] else "sha256", alter=True, replace=True)
        conn.execute("INSERT OR REPLACE INTO archiver_meta (key, value) VALUES (?, ?)", [marker, digest])
    summary.tables.append(entry.name)
