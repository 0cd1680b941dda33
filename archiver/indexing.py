"""Keeping the message search indexes whole around bulk loads.

Two FTS5 indexes follow ``chatgpt_message.text`` through triggers: the stemmed one (``_fts``)
and the trigram one (``_trigram``, parts of words). A bulk import pauses both:

- the stemmed index is rebuilt once at the end of the import (``ensure_search_index``): a
  rebuild is far cheaper than a trigger per row, and whole-word search works the moment the
  import returns. A load into a new archive indexes each batch's rows as it writes them
  instead (db.save_new_captures), without re-reading them, mostly while it waits for the
  next batch;
- the trigram index is brought up to date afterwards, a chunk at a time
  (``index_trigram_step``), by the server's background worker or ``ensure_trigram_index``.
  Building it took 40% of a 500 MB import (30 of 61 s with the stemmed rebuild), for a kind
  of search that can wait a minute. Until it catches up, ``trigram_indexed_upto`` in
  archiver_meta says which rows it holds: every row at or below that rowid, with its current
  text. Its triggers keep exactly those rows right (the conditional triggers below), and the
  catch-up indexes the rest in rowid order, moving the mark in the same transaction.

Any interrupted state is whole at every commit, so a killed import or server leaves nothing
to repair but work to finish.
"""

import json

_PAUSED = "paused_search_triggers"  # the stemmed triggers a bulk load dropped
TRIGRAM = "chatgpt_message_trigram"
TRIGRAM_UPTO = "trigram_indexed_upto"  # rows at or below this rowid are in the trigram index
_TRIGRAM_TRIGGERS = "trigram_triggers"  # their unconditional definitions, restored when caught up
TRIGRAM_CHUNK = 1000  # rows per catch-up transaction: about 0.1 s, so captures wait little

_UPTO = (f"coalesce((SELECT CAST(value AS INTEGER) FROM archiver_meta WHERE key = '{TRIGRAM_UPTO}'),"
         " 9223372036854775807)")
# While the index is behind: the same work as m010's triggers, for the rows it holds only.
_CONDITIONAL = (
    f"""CREATE TRIGGER [{TRIGRAM}_ai] AFTER INSERT ON [chatgpt_message]
    WHEN new.rowid <= {_UPTO} BEGIN
      INSERT INTO [{TRIGRAM}] (rowid, [text]) VALUES (new.rowid, new.[text]);
    END""",
    f"""CREATE TRIGGER [{TRIGRAM}_ad] AFTER DELETE ON [chatgpt_message]
    WHEN old.rowid <= {_UPTO} BEGIN
      INSERT INTO [{TRIGRAM}] ([{TRIGRAM}], rowid, [text]) VALUES ('delete', old.rowid, old.[text]);
    END""",
    f"""CREATE TRIGGER [{TRIGRAM}_au] AFTER UPDATE OF [text] ON [chatgpt_message]
    WHEN old.[text] IS NOT new.[text] AND old.rowid <= {_UPTO} BEGIN
      INSERT INTO [{TRIGRAM}] ([{TRIGRAM}], rowid, [text]) VALUES ('delete', old.rowid, old.[text]);
      INSERT INTO [{TRIGRAM}] (rowid, [text]) VALUES (new.rowid, new.[text]);
    END""",
)


# How the stemmed index is written during a bulk load: FTS5 gathers 8 MB of new terms in
# memory before it writes them out as a segment (1 MB by default) and merges segments 16 at a
# time (4): fewer, bigger merges. Its share of a 500 MB load fell from 3.9 to 3.2 s, the index
# came out no bigger and a search as fast (benchmarks/README.md). FTS5 keeps them in the
# index's config table; ensure_search_index puts its defaults back.
BULK_SETTINGS = {"hashsize": 8 * 1024 * 1024, "automerge": 16}
DEFAULT_SETTINGS = {"hashsize": 1024 * 1024, "automerge": 4}


def _apply(conn, settings):
    for name, value in settings.items():
        conn.execute("INSERT INTO chatgpt_message_fts (chatgpt_message_fts, rank) VALUES (?, ?)", [name, value])


def pause_search_index(conn):
    """Before a bulk load: drop the stemmed triggers (kept in archiver_meta until restored, so
    an interrupted load is repaired by the next open_db()), write the stemmed index the bulk
    way (BULK_SETTINGS) and leave the trigram index behind."""
    with conn:
        _apply(conn, BULK_SETTINGS)
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'chatgpt_message'"
            " AND name LIKE 'chatgpt_message_a_'"
        ).fetchall()
        conn.execute(
            "INSERT OR REPLACE INTO archiver_meta (key, value) VALUES (?, ?)", [_PAUSED, json.dumps(triggers)]
        )
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER [{name}]")
        _leave_trigram_behind(conn)


def _leave_trigram_behind(conn):
    if conn.execute("SELECT 1 FROM archiver_meta WHERE key = ?", [TRIGRAM_UPTO]).fetchone():
        return  # already behind: its mark stands
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?", [f"{TRIGRAM}_a_"]
    ).fetchall()
    upto = conn.execute("SELECT coalesce(max(rowid), 0) FROM chatgpt_message").fetchone()[0]
    conn.executemany("INSERT OR REPLACE INTO archiver_meta (key, value) VALUES (?, ?)",
                     [[_TRIGRAM_TRIGGERS, json.dumps(triggers)], [TRIGRAM_UPTO, str(upto)]])
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER [{name}]")
    for sql in _CONDITIONAL:
        conn.execute(sql)


def ensure_search_index(conn, rebuild=True):
    """Restore the stemmed triggers paused by a bulk load, re-index what came in meanwhile
    (not ``rebuild``: the load indexed every row it wrote) and put FTS5's settings back. (An
    archive paused by an older version has the trigram triggers in the same list: both are
    restored and rebuilt.)"""
    row = conn.execute("SELECT value FROM archiver_meta WHERE key = ?", [_PAUSED]).fetchone()
    if row is None:
        return
    with conn:
        paused = json.loads(row[0])
        for name, sql in paused:
            conn.execute(f"DROP TRIGGER IF EXISTS [{name}]")
            conn.execute(sql)
        if rebuild:
            conn.execute("INSERT INTO chatgpt_message_fts (chatgpt_message_fts) VALUES ('rebuild')")
        if any(name.startswith(TRIGRAM) for name, _ in paused):
            conn.execute(f"INSERT INTO {TRIGRAM} ({TRIGRAM}) VALUES ('rebuild')")
        _apply(conn, DEFAULT_SETTINGS)
        conn.execute("DELETE FROM archiver_meta WHERE key = ?", [_PAUSED])


def _upto(conn):
    """The trigram index's mark, or None when it holds every row."""
    row = conn.execute("SELECT CAST(value AS INTEGER) FROM archiver_meta WHERE key = ?", [TRIGRAM_UPTO]).fetchone()
    return None if row is None else row[0]


def trigram_behind(conn):
    """About how many messages the trigram index does not hold yet (0 when it is whole): rows
    past its mark, by rowid (dense after an import; counting them would read the whole table)."""
    upto = _upto(conn)
    if upto is None:
        return 0
    last = conn.execute("SELECT max(rowid) FROM chatgpt_message").fetchone()[0] or 0
    return max(0, last - upto)


def index_trigram_step(conn, limit=TRIGRAM_CHUNK):
    """Index the next ``limit`` rows the trigram index lacks; call inside a write transaction.
    Returns True while more remain; once none do, the plain triggers are back and the mark
    is gone."""
    upto = _upto(conn)
    if upto is None:
        return False
    last = conn.execute(
        "SELECT max(rowid) FROM (SELECT rowid FROM chatgpt_message WHERE rowid > ? ORDER BY rowid LIMIT ?)",
        [upto, limit],
    ).fetchone()[0]
    if last is None:
        trigram_caught_up(conn)
        return False
    conn.execute(f"INSERT INTO {TRIGRAM} (rowid, [text]) SELECT rowid, text FROM chatgpt_message"
                 " WHERE rowid > ? AND rowid <= ?", [upto, last])
    conn.execute("UPDATE archiver_meta SET value = ? WHERE key = ?", [str(last), TRIGRAM_UPTO])
    return True


def trigram_caught_up(conn):
    """The trigram index holds every row (caught up, or just rebuilt): its plain triggers
    back, the mark gone. Call inside a write transaction."""
    row = conn.execute("SELECT value FROM archiver_meta WHERE key = ?", [_TRIGRAM_TRIGGERS]).fetchone()
    if row is None:
        return
    for name, sql in json.loads(row[0]):
        conn.execute(f"DROP TRIGGER IF EXISTS [{name}]")
        conn.execute(sql)
    conn.execute("DELETE FROM archiver_meta WHERE key IN (?, ?)", [_TRIGRAM_TRIGGERS, TRIGRAM_UPTO])


def index_trigram_chunk(conn, limit=TRIGRAM_CHUNK):
    """One catch-up step in a write transaction of its own, taken before the mark is read, so
    two processes (a server and a CLI) never index the same rows. True while more remain.
    With nothing to catch up it only reads: the server's idle check never waits for, or
    holds, the write lock (another process may be importing)."""
    if _upto(conn) is None:
        return False
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        return index_trigram_step(conn, limit)


def ensure_trigram_index(conn):
    """Bring the trigram index up to date now, a chunk per transaction (the server does the
    same in the background)."""
    while index_trigram_chunk(conn):
        pass


async def keep_trigram_indexed(write, *, idle=30.0, log=None):
    """The server's catch-up, until cancelled: ``write(fn)`` runs ``fn(conn)`` on the single
    write thread, one chunk at a time, so captures queue behind a chunk (about 0.1 s), never
    behind the whole index. When whole, it looks again every ``idle`` seconds (a CLI import
    beside the server leaves work behind)."""
    import asyncio

    while True:
        try:
            if await write(index_trigram_chunk):
                await asyncio.sleep(0)  # what queued on the write thread meanwhile goes next
                continue
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a read-only or full disk: try again later, never crash serve
            if log:
                log.warning("parts-of-words indexing paused: %s", e)
        await asyncio.sleep(idle)
