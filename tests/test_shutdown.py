"""The server always stops: shutting down while its background embedder is busy or just being
woken ends the embedder and closes Datasette, and a background task that will not stop can delay
shutdown by a bounded grace only. Every wait here is bounded, so a regression fails, not hangs."""

import asyncio
import logging
import time

from datasette.app import Datasette

from archiver.app import stop_background
from archiver.db import prepare_capture, save_capture, write_transaction
from archiver.semantic import count_pending, keep_embedded
from conftest import fixture_bytes

BOUND = 10.0  # seconds: far beyond what a healthy step takes, even on a loaded machine


class AnnouncedEvent(asyncio.Event):
    """The embedder's wake event, telling the test when the embedder has started waiting on it."""

    def __init__(self):
        super().__init__()
        self.waited = asyncio.Event()

    async def wait(self):
        self.waited.set()
        return await super().wait()


async def bounded(awaitable, what):
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=BOUND)
    assert done, f"{what} did not happen within {BOUND} s"
    return task.result()


def test_embedder_stops_when_cancelled_just_as_a_capture_wakes_it(db, db_path):
    # The hang seen at a TestClient's teardown: a capture had set the wake event, and the
    # cancellation arrived before the embedder resumed. asyncio.wait_for (Python 3.11)
    # returned the event's result instead of raising, the embedder went back to sleep for
    # its idle period, and the lifespan waited for it forever.
    with write_transaction(db) as conn:
        for name in ("branched.json", "every_content_type.json"):
            save_capture(conn, prepare_capture(fixture_bytes(name)), source="test")
    eligible = count_pending(db.conn)
    assert eligible > 0

    async def scenario():
        ds = Datasette([str(db_path)])
        await ds.invoke_startup()
        archive = ds.get_database("archive")
        wake = AnnouncedEvent()
        embedder = asyncio.create_task(keep_embedded(archive.execute_fn, archive.execute_write_fn, wake))
        try:
            await bounded(wake.waited.wait(), "the embedder catching up")
            embedded = await archive.execute_fn(
                lambda conn: conn.execute("SELECT count(*) FROM chatgpt_embedding").fetchone()[0])
            wake.set()  # a capture arrives ...
            await asyncio.sleep(0)  # ... the embedder's wait sees it ...
            embedder.cancel()  # ... and shutdown cancels before the embedder runs again
            done, _ = await asyncio.wait({embedder}, timeout=BOUND)
            return embedded, embedder in done and embedder.cancelled()
        finally:
            embedder.cancel()
            await ds.invoke_shutdown()

    assert asyncio.run(scenario()) == (eligible, True)


def test_shutdown_goes_on_without_a_task_that_will_not_stop(caplog):
    async def stubborn(stopped):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # swallowed, as the embedder's wait once did
        await stopped.wait()

    async def scenario():
        stopped = asyncio.Event()
        task = asyncio.create_task(stubborn(stopped), name="stubborn")
        await asyncio.sleep(0)
        started = time.monotonic()
        await bounded(stop_background(task, grace=0.2), "stop_background")
        waited = time.monotonic() - started
        still_running = not task.done()
        stopped.set()
        await task
        return still_running, waited >= 0.2

    with caplog.at_level(logging.WARNING, logger="chatgpt_archiver"):
        assert asyncio.run(scenario()) == (True, True)
    assert [r.getMessage() for r in caplog.records] == [
        "stubborn did not stop within 0.2 s of being cancelled; shutting down without it"]


def test_a_failed_background_task_is_logged_at_shutdown_not_raised(caplog):
    async def failing():
        raise OSError("disk gone")

    async def scenario():
        task = asyncio.create_task(failing(), name="embedder")
        await asyncio.sleep(0)
        await bounded(stop_background(task, grace=1), "stop_background")

    with caplog.at_level(logging.WARNING, logger="chatgpt_archiver"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records] == ["embedder failed: OSError('disk gone')"]


def test_no_module_waits_with_wait_for():
    # The whole class: asyncio.wait_for on Python 3.11 (our floor) can swallow a cancellation
    # (CPython gh-86296); asyncio.timeout around the await cannot.
    from pathlib import Path

    import archiver

    users = [str(p.relative_to(Path(archiver.__file__).parent)) for p in Path(archiver.__file__).parent.rglob("*.py")
             if "wait_for(" in p.read_text()]
    assert users == []
