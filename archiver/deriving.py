"""The server's deferred half of ingest: rows derived from captures already kept.

The ingest handler commits a capture's raw bytes with a pending mark and answers; one
``Deriver`` per server then reshapes pending captures, oldest first, and merges their rows
on Datasette's single write thread. Reshaping runs on a worker thread, so the write thread
is held only for the SQL. Order comes from the archive (pending capture ids, ascending), not
from the order handlers happened to run in. The parsed JSON the handler already has is
handed over (bytes, and the parsed form if the check had to parse it), so nothing is read
back from the archive unless the server restarted.
"""

import asyncio
import logging
import sqlite3

from starlette.concurrency import run_in_threadpool

from .db import derive_pending, mark_failed, pending_captures, read_capture, reshape_received, save_derived_unsynced

log = logging.getLogger("chatgpt_archiver")


class Deriver:
    def __init__(self, database, on_derived=None):
        self.database = database  # a Datasette Database
        self.on_derived = on_derived  # called after each capture's rows are in (wakes the embedder)
        self.parsed = {}  # capture id -> (raw bytes, parsed JSON or None), until derived
        self.waiters = {}  # capture id -> Event set once it is derived (or failed)
        self.wake = asyncio.Event()
        self.task = None

    async def start(self):
        """Derive what a previous run kept but did not derive (killed), then start serving."""
        derived, failed = await self.database.execute_write_fn(derive_pending, transaction=False)
        if derived or failed:
            log.warning("derived %d captures left pending by the last run (%d could not be reshaped)",
                        derived, failed)
            if self.on_derived:
                self.on_derived()
        self.task = asyncio.create_task(self._run())

    async def finish(self, grace):
        """Wait at most ``grace`` seconds for the captures already submitted to be derived (the
        caller then cancels ``task``; what is left stays pending and is derived at the next start)."""
        if self.task is None or not self.waiters:
            return
        waits = [asyncio.create_task(e.wait()) for e in self.waiters.values()]
        try:
            await asyncio.wait(waits, timeout=grace)
        finally:
            for w in waits:
                w.cancel()

    def submit(self, capture_id, raw, data=None):
        """A capture committed as pending: derive it soon. Returns an Event set when done."""
        self.parsed[capture_id] = raw, data
        event = self.waiters.setdefault(capture_id, asyncio.Event())
        if self.task is None:  # an app run without its lifespan: the worker starts here
            self.task = asyncio.create_task(self._run())
        self.wake.set()
        return event

    async def wait(self, event, timeout=60):
        """Until ``event`` is set, or ``timeout`` seconds (the rows still come; nobody waits)."""
        try:
            # Not wait_for: on Python 3.11 it can swallow a cancellation (see test_shutdown).
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass

    async def _run(self):
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                while ids := await self.database.execute_fn(pending_captures):
                    # The next capture is reshaped (a worker thread) while this one's rows are
                    # written (the write thread): two cores, as when prepare and store overlapped.
                    upcoming = asyncio.ensure_future(self._reshape(ids[0]))
                    for i, capture_id in enumerate(ids):
                        reshaped, upcoming = upcoming, None
                        try:
                            rows, error = await reshaped
                            if i + 1 < len(ids):
                                upcoming = asyncio.ensure_future(self._reshape(ids[i + 1]))
                            await self._save(capture_id, rows, error)
                        except BaseException:
                            if upcoming is not None:
                                upcoming.cancel()
                            raise
            except Exception as e:  # never let the worker die: later captures still need it
                # Disk full, read-only: the capture stays pending, its raw bytes safe, and is
                # retried on the next capture or the next start (read back from the archive).
                log.error("deriving rows failed, will retry: %r", e)
                self.parsed.clear()
                for event in self.waiters.values():
                    event.set()
                self.waiters.clear()

    async def _reshape(self, capture_id):
        raw, data = self.parsed.get(capture_id, (None, None))
        if raw is None:
            raw = await self.database.execute_fn(lambda conn: read_capture(conn, capture_id))
        if raw is None:  # gone (say, deleted through Datasette): nothing to derive
            return None, "the capture is gone"
        return await run_in_threadpool(reshape_received, raw, data)

    async def _save(self, capture_id, rows, error):
        try:
            await self.database.execute_write_fn(
                lambda conn: save_derived_unsynced(conn, capture_id, rows, error), transaction=False)
        except sqlite3.Error as e:
            # The rows cannot be written (a trigger refused them, the disk is full): keep the
            # capture, marked failed, so one capture cannot hold up every later one.
            reason = f"cannot write rows: {e}"  # bound here: `e` is unbound once the except ends
            await self.database.execute_write_fn(lambda conn: mark_failed(conn, capture_id, reason))
            log.error("capture %d kept but not derived: %s", capture_id, e)
        else:
            if rows is not None and self.on_derived:
                self.on_derived()
        finally:
            self.parsed.pop(capture_id, None)
            event = self.waiters.pop(capture_id, None)
            if event:
                event.set()
        if error:
            log.warning("capture %d kept but cannot be reshaped: %s", capture_id, error)
