"""Opening the archive and writing captures to it.

Two paths write a capture. The CLI's ``save_capture`` keeps the raw capture and merges its
rows in one transaction (inside ``write_transaction``). The server answers sooner: it commits
the raw capture with a pending mark (``save_received``), answers, then derives the rows on
Datasette's single write thread (``save_derived``), in capture order. Neither ever deletes a
message: later captures add and update.
"""

import hashlib
import json
import os
import secrets
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import sqlite_utils

from .capture import compress, decompress, prepare_capture, reshape_data  # noqa: F401 (prepare_capture: callers find it here)
from .indexing import ensure_search_index, trigram_caught_up
from .migrations import CAPTURE_WRITING, migrations
from .reshape import (
    ASSET_LINK_TABLE,
    CONVERSATION_COLUMNS,
    CONVERSATION_TABLE,
    MESSAGE_COLUMNS,
    MESSAGE_TABLE,
    ADMISSION_FIELDS,
    admission_row,
    conversation_key,
    parse_json,
    refuse_too_many_nodes,
    reshape_conversation,
    to_epoch,
)


class ArchiveError(Exception):
    """The archive cannot be opened or written (locked, read-only, full, not SQLite)."""


NEW_ARCHIVE_PAGE_SIZE = 16384


def open_db(path, *, migrate=True):
    """The one way to open an archive: WAL on, migrations applied, search index whole."""
    try:
        db = sqlite_utils.Database(path)
        db.conn.execute("PRAGMA busy_timeout = 10000")
        if migrate:
            new = not db.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone()
            if new:
                # A new archive (a page size is set before the first table, for life): 16 KB
                # pages waste less of each page on the message rows that do not fit (about 4 KB
                # each): the 500 MB import's archive 1.14 GB against 1.33 GB with 8 KB, and the
                # import faster; searches that read many rows pay a little (benchmarks/README.md).
                db.conn.execute(f"PRAGMA page_size = {NEW_ARCHIVE_PAGE_SIZE}")
            db.enable_wal()
            level = db.conn.execute("PRAGMA synchronous").fetchone()[0]
            if new:
                # Its schema is many small transactions: in WAL mode NORMAL syncs none of them
                # (only checkpoints), and never corrupts; a power cut can only leave fewer
                # migrations applied, which the next open applies (0.02 s of a new archive's 0.04).
                db.conn.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(db)
            db.conn.execute(f"PRAGMA synchronous = {level}")
            ensure_search_index(db.conn)
    except sqlite3.DatabaseError as e:
        raise ArchiveError(f"cannot open {path}: {e}") from None
    return db


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@contextmanager
def write_transaction(db):
    """BEGIN IMMEDIATE: take the write lock before reading what we will write against, so a
    concurrent writer (a running server) cannot slip in between."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


@dataclass
class SaveResult:
    conversation_id: str
    capture_id: int
    duplicate: bool
    messages: int
    new_messages: int
    unknown_content_types: dict = field(default_factory=dict)

    def as_dict(self):
        return {
            "conversation_id": self.conversation_id,
            "capture_id": self.capture_id,
            "duplicate": self.duplicate,
            "messages": self.messages,
            "new_messages": self.new_messages,
            "unknown_content_types": self.unknown_content_types,
        }


# Every writer of a raw capture: the CLI's save_capture, the server's save_received, a bulk
# load's save_new_captures.
_CAPTURE_INSERT = (
    "INSERT INTO chatgpt_capture (conversation_id, received_at, last_received_at, times_received, source,"
    " token_name, sha256, size, update_time, shape, body) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)"
)


def save_capture(conn, capture, *, source, token_name=None):
    """Keep the raw capture and merge its rows. Call inside one transaction.

    Identical bytes for the same conversation are recognised: the capture is counted again,
    nothing else is written. Takes a sqlite3 connection, so it runs as well on Datasette's
    write thread as in the CLI.
    """
    conversation = capture.conversation
    cid = conversation["id"]
    received = now_iso()
    existing = conn.execute(
        "SELECT id FROM chatgpt_capture WHERE conversation_id = ? AND sha256 = ?",
        [cid, capture.sha256],
    ).fetchone()
    messages = capture.rows[MESSAGE_TABLE]
    if existing:
        conn.execute(
            "UPDATE chatgpt_capture SET last_received_at = ?, times_received = times_received + 1"
            " WHERE id = ?",
            [received, existing[0]],
        )
        return SaveResult(cid, existing[0], True, len(messages), 0, _unknown(messages))
    capture_id = conn.execute(_CAPTURE_INSERT, [
        cid, received, received, source, token_name, capture.sha256, capture.size,
        conversation["update_time"], conversation["shape"], capture.compressed,
    ]).lastrowid
    new = save_rows(conn, capture.rows, captured_at=received)
    return SaveResult(cid, capture_id, False, len(messages), new, _unknown(messages))


_ID, _NODE, _ROLE, _CREATED, _UPDATED_AT, _TEXT = (MESSAGE_COLUMNS.index(c) for c in (
    "id", "node_id", "author_role", "create_time", "update_time", "text"))


def save_new_captures(conn, captures, *, source, index=False, written=None):
    """``save_capture`` for conversations the archive has never held, a batch at a time: a
    bulk load into a new archive (importer). Call inside one transaction, with each capture's
    id absent from chatgpt_conversation and from the batch's other captures (the caller
    checks). What is left to look up is only what another conversation could hold (row ids);
    each table gets one statement per batch, and the rows go positionally (``message_rows``),
    as they crossed from the preparing process. The rows are those ``save_capture`` writes
    (tests/test_bulk.py compares them). ``written``: a SeenIds holding every row id the table
    holds (a load into a table that held none, every row written here), asked first."""
    received = now_iso()
    bound = time_bound(received)
    captures_out, conversations, messages_out, links = [], [], [], []
    taken = set()
    # Which row ids the table holds already, for the whole batch in one look (one per
    # conversation was a tenth of the writing process's time at 500 MB).
    rows = [capture.message_rows for capture in captures]  # built once (a property of Capture)
    nodes = [[m[_NODE] for m in messages] for messages in rows]
    firsts = [node for mine in nodes for node in mine]
    held = ids_held(conn, written.maybe(firsts) if written is not None else firsts)
    # A node's second candidate (conversation:node) is looked up only where it can be needed:
    # its first is held, or two of the batch's nodes share it (a common root), or it has a
    # colon (so it may equal a second candidate given earlier). Half the lookups, in practice.
    seen, shared = set(), set()
    for node in firsts:
        (shared if node in seen else seen).add(node)
    seconds = [f"{capture.conversation['id']}:{node}" for capture, mine in zip(captures, nodes) for node in mine
               if node in held or node in shared or ":" in str(node)]
    if written is not None:
        seconds = written.maybe(seconds)
    if seconds:
        held |= ids_held(conn, seconds)
    with writing_as_capture(conn):
        for capture, messages, mine in zip(captures, rows, nodes):
            conversation = clamp_times(capture.conversation, bound)
            cid = conversation["id"]
            given = row_ids(conn, cid, mine, {}, taken, held)
            for m in messages:  # bound_times and _assign_row_ids, in place on this batch's own lists
                m[_ID] = given[m[_NODE]]
                if m[_CREATED] is not None and m[_CREATED] > bound:
                    m[_CREATED] = bound
                if m[_UPDATED_AT] is not None and m[_UPDATED_AT] > bound:
                    m[_UPDATED_AT] = bound
            captures_out.append([cid, received, received, source, None, capture.sha256, capture.size,
                                 capture.conversation["update_time"], capture.conversation["shape"],
                                 capture.compressed])
            count = sum(1 for m in messages if m[_ROLE] is not None)
            conversations.append([*(conversation[c] for c in CONVERSATION_COLUMNS), count, received])
            messages_out.extend(messages)
            links.extend(capture.link_rows)
        conn.executemany(_CAPTURE_INSERT, captures_out)
        conn.executemany(_NEW_CONVERSATION_INSERT, conversations)
        before = conn.execute("SELECT coalesce(max(rowid), 0) FROM chatgpt_message").fetchone()[0]
        conn.executemany(_MESSAGE_INSERT, messages_out)
        if written is not None:
            written.add(m[_ID] for m in messages_out)
        if index:  # the rows took the next rowids: nothing else writes meanwhile, no trigger
            # A statement per row, as the paused trigger would; no statement journal, so FTS5
            # keeps its pending terms in memory across them (INSERT ... SELECT per batch wrote
            # a small segment per batch, 500 MB: 21.1 s against 19.6 s for a rebuild).
            conn.executemany("INSERT INTO chatgpt_message_fts (rowid, text) VALUES (?, ?)",
                             zip(range(before + 1, before + 1 + len(messages_out)), (m[_TEXT] for m in messages_out)))
        conn.executemany(
            "INSERT OR IGNORE INTO chatgpt_message_asset (conversation_id, node_id, pointer, file_id)"
            " VALUES (?, ?, ?, ?)", links,
        )


@dataclass
class Received:
    """A capture checked enough to answer for: valid JSON shaped like a conversation, hashed
    and compressed. Its rows are derived later (``reshape_received``, ``save_derived``);
    ``data`` is its parsed form when the check had to parse it whole, else None;
    ``conversation`` the fields of its row the privacy settings judge (``admission_row``)."""

    raw: bytes
    data: dict | None
    conversation: dict
    conversation_id: str
    update_time: float
    shape: str
    sha256: str
    compressed: bytes


# The top level only: every nested value is checked to be well-formed JSON and kept as its
# bytes, unparsed (about 20x faster than parsing it all; the rows are derived after the answer).
_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])
_CHECKED = (*ADMISSION_FIELDS, "update_time")


def receive_capture(raw):
    """Bytes -> Received: what is checked before the server answers. Raises BadJSON or
    NotAConversation, as the reshaper would for the same bytes (deeper problems, rare:
    nesting beyond what can be re-serialised, surface when deriving, and leave the capture
    kept and marked failed). Pure: no database."""
    # Serial: the quick check takes a millisecond, and a hand-off to another thread for the
    # hash and compression costs more than it saves on a busy machine.
    data = None
    refuse_too_many_nodes(raw)  # before anything is parsed, as parse_json does
    quick = _quick_check(raw)
    if quick is None:  # anything off the common path: parsed whole, the reshaper's checks
        data = parse_json(raw)
        quick = data, _shape(data)
    top, shape = quick
    cid = conversation_key(top)
    return Received(raw, data, admission_row(top), cid, to_epoch(top.get("update_time")), shape,
                    hashlib.sha256(raw).hexdigest(), compress(raw))


def _quick_check(raw):
    """(top-level fields we need, shape) for a well-formed conversation, else None. Whatever
    passes here the full parser reads too: msgspec is stricter (nesting, lone surrogates)
    but does not check UTF-8 inside strings, so that is checked on its own."""
    try:
        top = _TOP_LEVEL.decode(raw)
        raw.decode("utf-8") if isinstance(raw, bytes) else None
        fields = {k: msgspec.json.decode(top[k]) for k in _CHECKED if k in top}
    except (msgspec.DecodeError, UnicodeDecodeError, TypeError, RecursionError):
        return None
    mapping, messages = bytes(top.get("mapping", b"null")), bytes(top.get("messages", b"null"))
    if mapping.startswith(b"{"):
        return fields, "tree"
    if mapping == b"null" and messages.startswith(b"["):
        return fields, "page"
    return None


def _shape(data):
    if not isinstance(data, dict):
        reshape_conversation(data)  # raises, naming the problem
    if data.get("mapping") is not None:
        if isinstance(data["mapping"], dict):
            return "tree"
    elif isinstance(data.get("messages"), list):
        return "page"
    reshape_conversation(data)  # raises, naming the problem
    raise AssertionError("reshape_conversation accepted what _shape refused")


def save_received(conn, received, *, source, token_name=None):
    """Keep the raw capture, marked pending, in the caller's transaction.
    Returns (capture id, duplicate, pending): identical bytes for the same conversation are
    counted again and not kept twice; ``pending``: its rows are not derived yet."""
    now = now_iso()
    existing = conn.execute(
        "SELECT id FROM chatgpt_capture WHERE conversation_id = ? AND sha256 = ?",
        [received.conversation_id, received.sha256],
    ).fetchone()
    if existing:
        conn.execute(
            "UPDATE chatgpt_capture SET last_received_at = ?, times_received = times_received + 1"
            " WHERE id = ?",
            [now, existing[0]],
        )
        pending = conn.execute("SELECT 1 FROM chatgpt_capture_pending WHERE capture_id = ?", [existing[0]]).fetchone()
        return existing[0], True, pending is not None
    capture_id = conn.execute(_CAPTURE_INSERT, [
        received.conversation_id, now, now, source, token_name, received.sha256, len(received.raw),
        received.update_time, received.shape, received.compressed,
    ]).lastrowid
    conn.execute("INSERT INTO chatgpt_capture_pending (capture_id) VALUES (?)", [capture_id])
    return capture_id, False, True


def pending_captures(conn, *, failed=False, limit=100):
    """Ids of kept captures whose rows are not derived yet, oldest first (with ``failed``,
    those that failed before too)."""
    where = "" if failed else " WHERE failed_at IS NULL"
    return [r[0] for r in conn.execute(
        f"SELECT capture_id FROM chatgpt_capture_pending{where} ORDER BY capture_id LIMIT ?", [limit])]


def read_capture(conn, capture_id):
    """A kept capture's raw bytes (None if it is gone)."""
    row = conn.execute("SELECT body FROM chatgpt_capture WHERE id = ?", [capture_id]).fetchone()
    return None if row is None else decompress(row[0])


def reshape_received(raw, data=None):
    """A kept capture -> (rows, None), or (None, why it cannot be reshaped). Pure."""
    try:
        if data is None:
            data = parse_json(raw)
        return reshape_data(data), None
    except ValueError as e:  # BadJSON, NotAConversation
        return None, str(e)


def save_derived(conn, capture_id, rows, error=None):
    """Merge a pending capture's rows and clear its mark, in the caller's transaction; or,
    given the error that kept it from being reshaped, keep it marked failed. Returns False
    if the capture was not pending (already derived, say by a rebuild)."""
    row = conn.execute(
        "SELECT c.received_at FROM chatgpt_capture_pending p JOIN chatgpt_capture c ON c.id = p.capture_id"
        " WHERE p.capture_id = ?", [capture_id]).fetchone()
    if row is None:  # not pending; or its capture is gone (forgotten): nothing to derive
        conn.execute("DELETE FROM chatgpt_capture_pending WHERE capture_id = ?", [capture_id])
        return False
    if rows is None:
        mark_failed(conn, capture_id, error)
        return True
    # Exactly what save_capture does after keeping the bytes: the security marker and the
    # time bound (by when the capture arrived) are save_rows' own.
    save_rows(conn, rows, captured_at=row[0])
    note_capture_account(conn, capture_id, rows[CONVERSATION_TABLE][0]["id"])
    conn.execute("DELETE FROM chatgpt_capture_pending WHERE capture_id = ?", [capture_id])
    return True


def note_capture_account(conn, capture_id, conversation_id):
    """The account a capture came with (intake.record_account noted it on the capture when it
    was kept) goes on its conversation once that has rows, if none is noted yet."""
    conn.execute(
        "UPDATE chatgpt_conversation SET account_id = (SELECT account_id FROM chatgpt_capture WHERE id = ?1)"
        " WHERE id = ?2 AND account_id IS NULL"
        " AND (SELECT account_id FROM chatgpt_capture WHERE id = ?1) IS NOT NULL", [capture_id, conversation_id])


def save_derived_unsynced(conn, capture_id, rows, error=None):
    """``save_derived`` in a transaction of its own that does not wait for the disk (WAL,
    synchronous=NORMAL: never corrupts). The raw capture was synced when kept; if a power cut
    loses these rows, their pending mark is lost with them, so the next start derives them
    again. The connection's sync level is put back for the writes that must be durable."""
    level = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        with conn:
            return save_derived(conn, capture_id, rows, error)
    finally:
        conn.execute(f"PRAGMA synchronous = {int(level)}")


def mark_failed(conn, capture_id, error):
    conn.execute("UPDATE chatgpt_capture_pending SET failed_at = ?, error = ? WHERE capture_id = ?",
                 [now_iso(), error, capture_id])


def derive_pending(conn, *, failed=True):
    """Derive every pending capture, oldest first, each in a transaction of its own (the
    server's start-up: what a killed server acknowledged but had not derived). Returns
    (derived, failed)."""
    done = failures = 0
    last = 0
    while True:
        ids = [i for i in pending_captures(conn, failed=failed, limit=1000) if i > last]
        if not ids:
            return done, failures
        for capture_id in ids:
            last = capture_id
            rows, error = reshape_received(read_capture(conn, capture_id))
            with conn:
                save_derived(conn, capture_id, rows, error)
            done, failures = (done + 1, failures) if rows is not None else (done, failures + 1)


def _unknown(messages):
    counts = {}
    for m in messages:
        for t in (m["unknown_types"] or "").split(","):
            if t:
                counts[t] = counts.get(t, 0) + 1
    return counts


_MESSAGE_INSERT = "INSERT INTO chatgpt_message ({}) VALUES ({})".format(
    ", ".join(f"[{c}]" for c in MESSAGE_COLUMNS), ", ".join("?" for _ in MESSAGE_COLUMNS)
)
# Structure is never replaced by weaker structure: a paged read (one branch, parents
# sometimes inferred) must not erase the parent or sibling order a full tree gave us.
_KEEP_STRUCTURE = {
    "parent_id": "CASE WHEN excluded.parent_derived = 1 AND chatgpt_message.parent_id IS NOT NULL"
    " THEN chatgpt_message.parent_id ELSE excluded.parent_id END",
    "parent_derived": "CASE WHEN excluded.parent_derived = 1 AND chatgpt_message.parent_id IS NOT NULL"
    " THEN chatgpt_message.parent_derived ELSE excluded.parent_derived END",
    "child_index": "coalesce(excluded.child_index, chatgpt_message.child_index)",
}
_UPDATED = [c for c in MESSAGE_COLUMNS if c not in ("id", "node_id", "conversation_id")]
# Re-captures repeat most messages unchanged: the WHERE skips those rows entirely (no write,
# no full-text re-index), which is most of the cost of storing a re-capture.
_MESSAGE_UPSERT = (
    _MESSAGE_INSERT
    + " ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"[{c}] = {_KEEP_STRUCTURE.get(c, f'excluded.[{c}]')}" for c in _UPDATED)
    # Never another conversation's row, nor another node's (defence in depth: ids are given so
    # that this cannot happen, see _assign_row_ids).
    + " WHERE chatgpt_message.conversation_id IS excluded.conversation_id"
    + " AND chatgpt_message.node_id IS excluded.node_id"
    + " AND ({}) IS NOT ({})".format(
        ", ".join(f"chatgpt_message.[{c}]" for c in _UPDATED), ", ".join(f"excluded.[{c}]" for c in _UPDATED)
    )
)
_MESSAGE_INSERT_MISSING = _MESSAGE_INSERT + " ON CONFLICT DO NOTHING"

_CONVERSATION_INSERT = "INSERT INTO chatgpt_conversation ({}) VALUES ({})".format(
    ", ".join(f"[{c}]" for c in CONVERSATION_COLUMNS), ", ".join("?" for _ in CONVERSATION_COLUMNS)
)
_CONVERSATION_UPSERT = _CONVERSATION_INSERT + " ON CONFLICT(id) DO UPDATE SET " + ", ".join(
    f"[{c}] = excluded.[{c}]" for c in CONVERSATION_COLUMNS if c != "id"
)
_CONVERSATION_INSERT_MISSING = _CONVERSATION_INSERT + " ON CONFLICT DO NOTHING"
_NEW_CONVERSATION_INSERT = "INSERT INTO chatgpt_conversation ({}, message_count, last_captured_at) VALUES ({})".format(
    ", ".join(f"[{c}]" for c in CONVERSATION_COLUMNS), ", ".join("?" for _ in range(len(CONVERSATION_COLUMNS) + 2))
)


def save_rows(conn, rows, *, captured_at=None, authoritative=False, received_at=None):
    """Merge one conversation's reshaped rows; returns how many messages are new.

    A capture at least as new as what is stored (by the conversation's ``update_time``)
    updates every field and decides the current branch. An older one (say, an export
    imported after live captures) only adds the nodes we did not have. Nothing is deleted.
    ``authoritative`` treats the capture as newest whatever its time (used by rebuild).
    No time is trusted beyond when the capture arrived (``received_at``, else
    ``captured_at``, else now) plus TRUST_MARGIN: see bound_times.
    """
    rows = bound_times(rows, received_at or captured_at)
    with writing_as_capture(conn):
        return _save_rows(conn, rows, captured_at, authoritative)


@contextmanager
def writing_as_capture(conn):
    """Tells the database guards (migrations.m016) that a capture writes: the marker lives
    only inside this uncommitted transaction, so no other writer ever sees it."""
    conn.execute("INSERT OR REPLACE INTO archiver_meta (key, value) VALUES (?, '1')", [CAPTURE_WRITING])
    try:
        yield
    finally:
        conn.execute("DELETE FROM archiver_meta WHERE key = ?", [CAPTURE_WRITING])


def _save_rows(conn, rows, captured_at, authoritative):
    conversation = rows[CONVERSATION_TABLE][0]
    cid = conversation["id"]
    stored = conn.execute(
        "SELECT update_time FROM chatgpt_conversation WHERE id = ?", [cid]
    ).fetchone()
    newest = (
        authoritative
        or stored is None
        or stored[0] is None
        or (conversation["update_time"] or 0) >= stored[0]
    )
    known = dict(
        conn.execute("SELECT node_id, id FROM chatgpt_message WHERE conversation_id = ?", [cid]).fetchall()
    )
    messages = _assign_row_ids(conn, cid, rows[MESSAGE_TABLE], known)
    if newest:
        conn.execute(_CONVERSATION_UPSERT, [conversation[c] for c in CONVERSATION_COLUMNS])
        # Only the nodes that leave the current branch change here; the upsert sets the rest.
        conn.execute(
            "UPDATE chatgpt_message SET is_current = 0 WHERE conversation_id = ? AND is_current = 1"
            " AND node_id NOT IN (SELECT value FROM json_each(?))",
            [cid, json.dumps([m["node_id"] for m in messages if m["is_current"]])],
        )
        sql = _MESSAGE_UPSERT
    else:
        conn.execute(_CONVERSATION_INSERT_MISSING, [conversation[c] for c in CONVERSATION_COLUMNS])
        messages = [dict(m, is_current=0) for m in messages]
        sql = _MESSAGE_INSERT_MISSING
    conn.executemany(sql, [[m[c] for c in MESSAGE_COLUMNS] for m in messages])
    conn.executemany(
        "INSERT OR IGNORE INTO chatgpt_message_asset (conversation_id, node_id, pointer, file_id)"
        " VALUES (:conversation_id, :node_id, :pointer, :file_id)",
        rows.get(ASSET_LINK_TABLE, []),
    )
    conn.execute(
        "UPDATE chatgpt_conversation SET message_count = (SELECT count(*) FROM chatgpt_message"
        " WHERE conversation_id = ?1 AND author_role IS NOT NULL),"
        " last_captured_at = coalesce(?2, last_captured_at) WHERE id = ?1",
        [cid, captured_at],
    )
    return sum(1 for m in messages if m["node_id"] not in known)


# How far past its arrival a capture's times are believed: ChatGPT's clock and ours may
# differ by a little. A capture claiming a later time is clamped to this bound, so a forged
# future update_time wins for at most this long, and never outlives a genuine later capture.
TRUST_MARGIN = 600.0


def epoch_of(iso):
    """Seconds of one of our own ISO receive times (``now_iso()``); None if unreadable."""
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return None


def bound_times(rows, received_at=None):
    """The rows with every time clamped to ``received_at`` (ISO) + TRUST_MARGIN. Pure."""
    bound = time_bound(received_at)
    return dict(rows, **{
        CONVERSATION_TABLE: [clamp_times(r, bound) for r in rows[CONVERSATION_TABLE]],
        MESSAGE_TABLE: [clamp_times(m, bound) for m in rows[MESSAGE_TABLE]],
    })


def time_bound(received_at=None):
    """The latest time a capture received at ``received_at`` (ISO; else now) may claim."""
    received = epoch_of(received_at) if received_at else None
    return (received if received is not None else datetime.now(timezone.utc).timestamp()) + TRUST_MARGIN


def clamp_times(row, bound):
    """A row (dict) with its times no later than ``bound``: the same row if none is."""
    late = [c for c in ("create_time", "update_time") if row[c] is not None and row[c] > bound]
    return dict(row, **dict.fromkeys(late, bound)) if late else row


def _assign_row_ids(conn, cid, messages, mine, taken=None):
    """Message rows are keyed by node id, as in the 2023 design. Node ids are not always
    unique across conversations (every 2025 root is ``client-created-root``), so a node whose
    id is taken gets ``<conversation id>:<node id>``, and should that be taken too (ids may
    hold colons, so ``a`` + ``b:c`` and ``a:b`` + ``c`` meet), ``...:2``, ``...:3``, then a
    random suffix.
    A candidate is used only when no row at all has it, so a new node never lands in a row
    another conversation, or another node, owns. Ids, once given, are kept (``mine``: this
    conversation's node id -> row id). ``taken``: ids given to rows not written yet (a batch
    of new conversations), updated with this conversation's."""
    given = row_ids(conn, cid, [m["node_id"] for m in messages], mine, taken)
    return [m if given[m["node_id"]] == m["id"] else dict(m, id=given[m["node_id"]]) for m in messages]


def row_ids(conn, cid, nodes, mine, taken=None, held=None):
    """_assign_row_ids's choice, as node id -> row id for ``nodes``. ``held``: which of the
    candidates (``id_candidates``) the table already holds, at least of those it can need, if
    the caller looked them up."""
    fresh = [node for node in nodes if node not in mine]
    if not fresh:
        return mine
    if held is None:
        held = ids_held(conn, id_candidates(cid, fresh))
    # An id is used if the table holds it, the batch gave it, or this conversation has it; the
    # three sets are asked apart (a union per conversation copied the batch's ids each time).
    taken = set() if taken is None else taken
    kept = set(mine.values())
    given = dict(mine)
    for node in fresh:
        if node not in held and node not in taken and node not in kept:
            row_id = node  # nearly always
        else:
            row_id, attempt = f"{cid}:{node}", 2
            while row_id in held or row_id in taken or row_id in kept or (attempt > 2 and conn.execute(
                    "SELECT 1 FROM chatgpt_message WHERE id = ?", [row_id]).fetchone() is not None):
                # Rare: only when someone chose ids to collide. After two tries an unguessable
                # suffix: rows made in advance cannot make this long.
                row_id = f"{cid}:{node}:{attempt if attempt < 4 else secrets.token_hex(8)}"
                attempt += 1
        taken.add(row_id)
        given[node] = row_id
    taken |= kept
    return given


def id_candidates(cid, nodes):
    """The row ids row_ids may give these nodes before it has to try further ones."""
    return [c for node in nodes for c in (node, f"{cid}:{node}")]


def ids_held(conn, ids, table="chatgpt_message"):
    """Which of ``ids`` the table (message or conversation) holds, in one query."""
    return {r[0] for r in conn.execute(
        f"SELECT id FROM {table} WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])}


def rebuild(conn, *, progress=None):
    """Re-derive every conversation and message row from the raw captures.

    Captures replay per conversation in ``update_time`` order, each treated as newest in
    turn, so every node ends up derived by today's reshaper from the newest capture that
    holds it, and the newest capture decides the current branch. Rows with no capture
    behind them (written straight through the insert API) are left as they are.
    Returns (captures replayed, captures skipped).
    """
    replayed = skipped = 0
    nodes = set()  # (conversation, node) of every capture replayed
    # Each capture's claimed time counts only up to when it arrived (plus the margin), as it
    # did live: a capture that lied about the future cannot end up last.
    ids = [
        capture_id
        for _, _, capture_id in sorted(
            (cid or "", _trusted_time(update_time, received), capture_id)
            for capture_id, cid, update_time, received in conn.execute(
                "SELECT id, conversation_id, update_time, received_at FROM chatgpt_capture"
            )
        )
    ]
    for capture_id in ids:
        body, received = conn.execute(
            "SELECT body, received_at FROM chatgpt_capture WHERE id = ?", [capture_id]
        ).fetchone()
        try:
            capture = prepare_capture(decompress(body))
        except ValueError as e:
            if conn.execute("SELECT 1 FROM chatgpt_capture_pending WHERE capture_id = ?", [capture_id]).fetchone():
                mark_failed(conn, capture_id, str(e))
            skipped += 1
            continue
        save_rows(conn, capture.rows, authoritative=True, received_at=received)
        cid = capture.conversation["id"]
        nodes.update((cid, m["node_id"]) for m in capture.rows[MESSAGE_TABLE])
        if conn.execute("DELETE FROM chatgpt_capture_pending WHERE capture_id = ?", [capture_id]).rowcount:
            note_capture_account(conn, capture_id, cid)
        replayed += 1
        if progress:
            progress(replayed + skipped, len(ids))
    _drop_strays(conn, nodes)
    for table in ("chatgpt_message", "chatgpt_conversation"):
        for index in (f"{table}_fts", f"{table}_trigram"):
            conn.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
    trigram_caught_up(conn)  # rebuilt whole: a catch-up left pending would index rows twice
    return replayed, skipped


def _drop_strays(conn, nodes):
    """Before the insert API was held back (m016), a token could move a captured message into
    another conversation. Replaying has put every captured node back where its captures say;
    a row left in a captured conversation that none of its captures holds, but another
    conversation's captures do, is such a moved copy, and goes."""
    by_node = {}
    for cid, node in nodes:
        by_node.setdefault(node, set()).add(cid)
    captured = {cid for cid, _ in nodes}
    strays = [
        row_id
        for row_id, cid, node in conn.execute("SELECT id, conversation_id, node_id FROM chatgpt_message")
        if cid in captured and (cid, node) not in nodes and by_node.get(node, set()) - {cid}
    ]
    with writing_as_capture(conn):
        conn.executemany("DELETE FROM chatgpt_message WHERE id = ?", [[r] for r in strays])
        conn.execute(
            "UPDATE chatgpt_conversation SET message_count = (SELECT count(*) FROM chatgpt_message m"
            " WHERE m.conversation_id = chatgpt_conversation.id AND m.author_role IS NOT NULL)"
        )


def _trusted_time(update_time, received_at):
    claimed = to_epoch(update_time) or 0.0
    received = epoch_of(received_at)
    return claimed if received is None else min(claimed, received + TRUST_MARGIN)


def archive_stats(conn):
    """Counts, and the content types the reshaper did not know (format drift)."""
    drift = {}
    for (types,) in conn.execute(
        "SELECT unknown_types FROM chatgpt_message WHERE unknown_types IS NOT NULL"
    ):
        for t in types.split(","):
            drift[t] = drift.get(t, 0) + 1
    count = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "conversations": count("SELECT count(*) FROM chatgpt_conversation"),
        "messages": count("SELECT count(*) FROM chatgpt_message WHERE author_role IS NOT NULL"),
        "nodes": count("SELECT count(*) FROM chatgpt_message"),
        "captures": count("SELECT count(*) FROM chatgpt_capture"),
        # Kept, but rows not derived yet (the server derives them right after answering)...
        "captures_pending": count("SELECT count(*) FROM chatgpt_capture_pending WHERE failed_at IS NULL"),
        # ...or kept, but they could not be reshaped: `chatgpt-archiver rebuild` retries them.
        "captures_failed": count("SELECT count(*) FROM chatgpt_capture_pending WHERE failed_at IS NOT NULL"),
        "unknown_content_types": dict(sorted(drift.items())),
    }


def ensure_secret(db_path):
    """The secret Datasette signs login cookies with, kept in ``<archive>.secret`` (mode
    0600) so a restart does not sign everyone out. Not in the archive: on loopback anyone
    may run SQL on it, and with the secret they could forge a root sign-in. Created once."""
    path = Path(f"{db_path}.secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) >= 32:
            return secret
        raise ArchiveError(f"{path} is not a secret this tool wrote; delete it to make a new one")
    secret = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def wanted_conversations(conn, listed):
    """Of ``[{"id", "update_time"}, ...]`` (ChatGPT's conversation list), the ids the archive
    lacks or holds at an older ``update_time``, in the order given. Times may be ISO strings
    (the list endpoint) or epoch seconds."""
    ids = [item["id"] for item in listed]
    stored = dict(
        conn.execute(
            "SELECT id, update_time FROM chatgpt_conversation WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(ids)],
        ).fetchall()
    )
    wanted = []
    for item in listed:
        have = stored.get(item["id"], "missing")
        listed_time = to_epoch(item.get("update_time"))
        # A millisecond of slack: the list's ISO strings and the tree's floats round differently.
        if have == "missing" or have is None or (listed_time is not None and listed_time > have + 0.001):
            wanted.append(item["id"])
    return wanted


class NoSuchConversation(Exception):
    pass


def publish_conversation(conn, conversation_id):
    """Share one conversation: readable by anyone when the server is bound beyond loopback."""
    if conn.execute("SELECT 1 FROM chatgpt_conversation WHERE id = ?", [conversation_id]).fetchone() is None:
        raise NoSuchConversation(f"no conversation {conversation_id!r} in the archive")
    conn.execute(
        "INSERT OR IGNORE INTO chatgpt_public (conversation_id, published_at) VALUES (?, ?)",
        [conversation_id, now_iso()],
    )


def unpublish_conversation(conn, conversation_id):
    if conn.execute("DELETE FROM chatgpt_public WHERE conversation_id = ?", [conversation_id]).rowcount == 0:
        raise NoSuchConversation(f"conversation {conversation_id!r} is not published")
