"""Bulk loads (a big import): how they write faster than one capture at a time, and what
each way risks. An archive that held anything is only ever written the safe way (WAL); the
faster ways are for a new, empty archive, which a load cut short leaves as empty as it was.
"""

import os
import sqlite3
import threading
from contextlib import contextmanager

from .indexing import ensure_search_index, pause_search_index
from .seen import SeenIds


class Indexing:
    """How a bulk load keeps the stemmed index: ``direct`` while every message row it wrote
    was indexed with it (save_new_captures), so nothing is left to rebuild at the end. While
    ``direct``, every message row is also one save_new_captures wrote into a table that held
    none, so ``written`` (its row ids) answers which ids are free without the index."""

    def __init__(self, direct):
        self.direct = direct
        self.written = SeenIds()


@contextmanager
def search_index_paused(conn, direct=False):
    """For bulk loads: the message search triggers paused, then the stemmed index rebuilt
    once (FTS5's rebuild is far cheaper than a trigger per row), unless the load indexed each
    row as it wrote it (``direct``: a new archive, one transaction; the yielded Indexing's flag
    is cleared when a row is written another way); the trigram index catches up afterwards
    (archiver.indexing)."""
    pause_search_index(conn)
    state = Indexing(direct)
    try:
        yield state
    except BaseException:
        state.direct = False  # rolled back, or cut short: whatever is there gets a rebuild
        raise
    finally:
        ensure_search_index(conn, rebuild=not state.direct)


# Tables whose rows make an archive worth protecting; a bulk load into an archive with none
# of them may skip the write-ahead log and disk syncs (redone from the export if cut off).
_HOLDS_DATA = ("chatgpt_capture", "chatgpt_conversation", "chatgpt_message", "chatgpt_asset",
               "chatgpt_textdoc", "archiver_token")
BULK_CACHE_KIB = 32 * 1024  # page cache for bulk loads: at 500 MB, 16 MB took 29.3 s, 32 MB 27.1 s, 64 MB 27.7 s (and 30 MB more RSS)


class Loading:
    """What ``bulk_loading`` yields: whether the fast way is in use, and the way to say every
    row is written."""

    def __init__(self, fast, path):
        self.fast, self.path = fast, path  # path: the archive's file (empty in memory)
        self._writing_out = None

    def rows_written(self):
        """Every row is written; the transaction is about to end. Loading the fast way, the
        pages the file holds so far start going to disk now, in a thread, while the
        transaction ends, so the sync the load ends with waits only for the rest (50 MB: the
        import 0.05 s shorter; benchmarks/README.md). It promises nothing: that sync does."""
        if self.fast and self.path and self._writing_out is None:
            self._writing_out = threading.Thread(target=_sync_file, args=(self.path, False), daemon=True)
            self._writing_out.start()

    def _done(self):
        if self._writing_out is not None:
            self._writing_out.join()


def _sync_file(path, must=True):
    """fsync, or (not ``must``: a head start only) fdatasync with its failure left to the
    fsync that follows."""
    fd = os.open(path, os.O_RDONLY)
    try:
        (os.fsync if must else os.fdatasync)(fd)
    except OSError:
        if must:
            raise
    finally:
        os.close(fd)


@contextmanager
def bulk_loading(conn):
    """For big imports. Always: a bigger page cache, and syncs only at checkpoints (WAL with
    synchronous=NORMAL never corrupts; a power cut may lose the last batch, which a second
    run redoes). Into a new, empty archive also: a rollback journal instead of WAL and no disk
    syncs at all (about a tenth less CPU, see benchmarks/README.md), then WAL back on and
    the file synced before returning. A power cut meanwhile can leave that new archive
    unreadable; it held nothing, and the import is run again. An archive that held anything
    is never loaded this way. Yields a Loading."""
    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    conn.execute("PRAGMA synchronous = NORMAL")
    fast = not any(conn.execute(f"SELECT 1 FROM [{t}] LIMIT 1").fetchone() for t in _HOLDS_DATA
                   if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [t]).fetchone())
    if fast:
        try:
            # A rollback journal in a file, not synced: ROLLBACK works and a killed process is
            # rolled back at the next open, as with WAL; only a power cut can hurt. (In memory,
            # the journal of a batch's scattered index pages grew peak RSS by 30 MB at 500 MB.)
            conn.execute("PRAGMA journal_mode = TRUNCATE")
        except sqlite3.OperationalError:  # another connection has it open (a server): the safe way
            fast = False
        else:
            conn.execute("PRAGMA synchronous = OFF")
    loading = Loading(fast, conn.execute("PRAGMA database_list").fetchone()[2])
    try:
        yield loading
    finally:
        try:
            if fast:
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA journal_mode = WAL")
                if loading.path:  # what was written unsynced reaches the disk before we say done
                    _sync_file(loading.path)
            conn.execute("PRAGMA cache_size = -2000")
        finally:
            loading._done()


# A bulk load into a new archive lifts every trigger on the two tables it fills, inside its one
# transaction: the guards against other writers (m015, m016: times in range, captured rows kept;
# m021: the privacy refusals, which the importer applies itself, privacy.Judge), the title
# indexes, and text_from_content (m007: it fills ``text`` for rows sent without it, which
# reshaping never gives; tests/test_properties.py). Nobody else can write meanwhile (the load
# holds the write lock throughout), its rows are bounded and shaped as the guards demand, and
# DDL is transactional: a load cut short puts them back with everything else.
# Any trigger on a table makes each INSERT into it keep a statement journal, which SQLite
# writes to a temporary file once one has outgrown 64 KB: at 50 MB, 143,000 pages (1.2 GB)
# written and thrown away for 130 MB of rows (benchmarks/README.md).
_LIFTED_FROM = ("chatgpt_message", "chatgpt_conversation")


@contextmanager
def triggers_lifted(conn):
    """Inside the one transaction of a bulk load into a new archive (see _LIFTED_FROM)."""
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (?, ?)", _LIFTED_FROM,
    ).fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER [{name}]")
    yield
    for _, sql in triggers:
        conn.execute(sql)
    for index in ("chatgpt_conversation_fts", "chatgpt_conversation_trigram"):
        conn.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
