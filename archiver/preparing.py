"""Preparing an export's conversations for the archive, in this process or a second one.

Preparing a conversation (cutting it out of the file, parsing, reshaping, hashing and
gzipping it) needs no database, and took about a third of a big import's time in the one
process that also wrote; SQLite takes one writer. So when an import's conversations files
are big (together: a split export's small files count as one), a second process prepares
batches while this one writes the previous batch, and the two cores work at once. Batches
come back in the file's order with every problem in its place, so an import reads the same
either way (tests/test_bulk.py compares them).

Batches cross between the processes as msgpack (msgspec): rows as lists in column order,
the gzipped bytes as they are. It decodes in about a third of pickle's time, and decoding is
on the writing process's side, the one the import waits for.
"""

import gc
import json
import os
import pickle
import queue
import sys
import threading
import zipfile
import zlib
from contextlib import contextmanager
from functools import cached_property

import msgspec

from .capture import LINK_COLUMNS, prepare_capture
from .jsonsplit import split_array
from .reshape import (
    ASSET_LINK_TABLE,
    CONVERSATION_TABLE,
    MESSAGE_COLUMNS,
    MESSAGE_TABLE,
    BadJSON,
    NotAConversation,
    parse_json,
)

# A batch: up to 200 conversations or 512 KB of the export's JSON, whichever comes first, so
# memory on both sides stays bounded whatever the conversations' sizes (one of 200 conversations
# of a few hundred nodes each held a process at 205 MB). The first is small: the writing
# process waits for it.
BATCH = 200
BATCH_BYTES = 512 * 1024
FIRST_BATCH_BYTES = 128 * 1024
# What a file can do wrong while it is read; recorded as that file skipped, never raised.
READ_PROBLEMS = (OSError, zipfile.BadZipFile, zlib.error)


# Per-file limits, so one file in an export (a zip's 1 MB can hold 1 GB of zeros) can neither
# exhaust memory nor stop the rest of the import: it is skipped with a line naming it.
# Files are streamed through a temporary file into SQLite, never held whole in memory;
# SQLite's own limit on one value is 1,000,000,000 bytes.
MAX_FILE_BYTES = 512 * 1024 * 1024
# Conversations, textdocs and the export's tables are parsed whole: a smaller bound.
MAX_JSON_BYTES = 100 * 1024 * 1024


@contextmanager
def fewer_collections():
    """Python's cycle collector run rarely, for the length of a load: both processes allocate
    a list or dict per row, and every 700 allocations started a collection that walks the
    young objects (most of them rows, alive until their batch is written). Objects made
    before the load are frozen out of the walk. Rows hold no cycles, so memory stays flat
    (peak RSS unchanged at 50 and 500 MB). A small gain at 50 MB, none at 500 MB
    (benchmarks/README.md)."""
    before, freezing = gc.get_threshold(), gc.get_freeze_count() == 0  # a caller's freeze stays
    if freezing:
        gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freezing:
            gc.unfreeze()


def read_bounded(stream, limit):
    """All of a stream, or ImportProblem if it holds more than ``limit`` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImportProblem(f"too large: over {limit:,} bytes; skipped")
    return data


class ImportProblem(Exception):
    """A whole input could not be read (corrupt zip, not JSON, not an export)."""


def json_start(head):
    """``b"["`` (a conversation list), ``b"{"`` (one conversation) or None, from a file's first bytes."""
    first = head.lstrip()[:1]
    return first if first in (b"[", b"{") else None


def iter_conversations(stream):
    """Yield (index, exact bytes) of each conversation in a conversations file: a JSON array,
    cut element by element, or one conversation object."""
    head = stream.read(64)
    first = json_start(head)
    rest = _Prefixed(head, stream)
    if first == b"[":
        yield from enumerate(split_array(rest))
    elif first == b"{":
        raw = read_bounded(rest, MAX_JSON_BYTES).strip()
        json.loads(raw)  # one conversation: malformed is said of the file, as for an array
        yield 0, raw
    else:
        raise ImportProblem("not JSON: expected a conversation list or object")


class _Prefixed:
    """A stream with bytes already read put back in front (we peeked to detect the shape)."""

    def __init__(self, head, stream):
        self.head, self.stream = head, stream

    def read(self, size=-1):
        if self.head:
            if size < 0:
                data, self.head = self.head + self.stream.read(), b""
                return data
            data, self.head = self.head[:size], self.head[size:]
            if len(data) < size:
                data += self.stream.read(size - len(data))
            return data
        return self.stream.read(size)


# The top level alone, its values kept as bytes: names a conversation refused before parsing.
_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])


def raw_label(raw, index):
    try:
        top = _TOP_LEVEL.decode(raw)
        return label({k: msgspec.json.decode(top[k]) for k in ("conversation_id", "id") if k in top}, index)
    except (msgspec.DecodeError, RecursionError):
        return f"item {index}"


def label(item, index):
    if isinstance(item, dict):
        cid = item.get("conversation_id") or item.get("id")
        if isinstance(cid, str):
            return f"conversation {cid}"
    return f"item {index}"


def prepared_batches(entry, where):
    """Batches of ("capture", Capture) and ("skip", line) items, in the file's order.

    A file cut off or malformed part way is a "skip" line after the conversations before the
    cut. A file that cannot be read on (READ_PROBLEMS, ImportProblem) ends there: what was
    read before is prepared and yielded, then the problem is raised."""
    batch, seen, size, limit = [], 0, 0, FIRST_BATCH_BYTES
    try:
        with entry.open() as stream:
            for index, raw in iter_conversations(stream):
                seen += 1
                batch.append((index, raw))
                size += len(raw)
                if len(batch) >= BATCH or size >= limit:
                    yield prepare_batch(batch, where, MAX_JSON_BYTES)
                    batch, size, limit = [], 0, BATCH_BYTES
    except ValueError as e:  # SplitError: the file is cut off or malformed past this point
        reason = str(e).splitlines()[0].strip() if str(e).strip() else type(e).__name__
        if seen:
            line = f"{where}: truncated or malformed JSON after {seen} conversations ({reason})"
        else:
            line = f"{where}: malformed JSON ({reason})"
        yield [("skip", line)]
    except (*READ_PROBLEMS, ImportProblem):
        if batch:
            yield prepare_batch(batch, where, MAX_JSON_BYTES)
        raise
    if batch:
        yield prepare_batch(batch, where, MAX_JSON_BYTES)


def prepare_batch(batch, where, limit):
    """[(index, exact bytes)] -> items; every problem named as the import reports it. Pure."""
    items = []
    for index, raw in batch:
        try:
            if len(raw) > limit:
                raise NotAConversation(f"conversation too large: {len(raw):,} bytes, over {limit:,}")
            data = parse_json(raw)
        except BadJSON as e:
            items.append(("skip", f"{where}: item {index}: {e}"))
            continue
        except NotAConversation as e:  # too large: refused before it is parsed
            items.append(("skip", f"{where}: {raw_label(raw, index)}: {e}"))
            continue
        try:
            items.append(("capture", prepare_capture(raw, data=data)))
        except NotAConversation as e:
            items.append(("skip", f"{where}: {label(data, index)}: {e}"))
    return items


# ---- the second process ------------------------------------------------------------


# A frame is a batch: at most 512 KB of the export's JSON, or one conversation of up to
# MAX_JSON_BYTES, as rows. A length beyond this is not one (something else wrote to the output).
_MOST_A_FRAME_HOLDS = 1 << 31


class Apart:
    """The conversations files an import has a second process prepare (``specs``: import
    argument, entry path and name in reports of each, in the order the import reaches them,
    as ``exportfiles.entries`` finds them again there), one process for them all: a split
    export (conversations-000.json, ...) of small files gets it too, and no file waits for a
    process to start. The process is the one ``workers.ahead`` started for the same specs,
    else a new one, taken when the first file is reached; a use of this is a ``with`` block,
    which stops it.

    A plain ``python -m archiver.preparing`` child, frames on its stdout: not
    multiprocessing, whose spawn re-imports the caller's main module (a script without a
    ``__name__`` guard would run twice) and whose fork would copy open SQLite handles."""

    def __init__(self, specs):
        self.specs, self._next, self._worker, self._lost = tuple(specs), 0, None, False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self, wait=10):
        if self._worker is not None:
            self._worker.stop(wait)
            self._worker = None

    def batches(self, entry, where):
        """``prepared_batches(entry, where)``, from the second process when the file is the
        next it prepares, else from this one. A process that cannot be started, or has ended
        before it sent anything of this file, leaves the rest to this one. One that ends part
        way through a file is an ImportProblem naming the file, with what it said last (its
        batches before that are kept, as for a file cut off)."""
        spec = (entry.source, entry.path, where)
        if self._lost or self._next >= len(self.specs) or self.specs[self._next] != spec:
            return prepared_batches(entry, where)
        if self._worker is None:
            from .workers import take

            try:
                self._worker = take(self.specs)
            except OSError:  # no second process to be had: this one prepares
                self._lost = True
                return prepared_batches(entry, where)
        self._next += 1
        return self._frames(entry, where)

    def _frames(self, entry, where):
        stdout, sent, done = self._worker.process.stdout, False, False
        try:
            while True:
                head = stdout.read(8)
                size = int.from_bytes(head, "big") if len(head) == 8 else 0
                frame = stdout.read(size) if 0 < size <= _MOST_A_FRAME_HOLDS else b""
                try:
                    kind, payload = _decode(frame) if frame and len(frame) == size else (None, None)
                except Exception:  # noqa: BLE001 (not a frame: something else wrote to its output)
                    kind = None
                if kind not in ("batch", "end", "problem"):  # it ended (or was ended) short of a frame
                    self._lost = True
                    last, self._worker = self._worker.stop(wait=1), None
                    if not sent:
                        done = True
                        yield from prepared_batches(entry, where)
                        return
                    raise ImportProblem("the process preparing it stopped" + (f": {last}" if last else ""))
                sent = True
                if kind == "batch":
                    yield payload
                    continue
                done = True
                if self._next == len(self.specs):  # its last file: it has ended
                    self.close()
                if kind == "problem":
                    raise ImportProblem(payload)
                return
        finally:
            if not done:  # left part way (the import failed): its output is not ours to read on
                self._lost = True
                self.close(wait=1)


# Frames the preparing process may hold ready beyond what the pipe holds: it runs ahead
# while the writing process opens the archive, and evens out batches that take one side
# longer than the other. About 1.2 MB each; 3 and 8 were as fast at 50 MB (8 held 5 MB more).
READ_AHEAD = 4


def _work():
    """The child's side: the files on stdin (a JSON list of import argument, entry path, name
    in reports), then for each its frames (8-byte length, payload) on stdout, ending with
    "end" or "problem" (a file that cannot be read is its own problem, and the next file
    follows). Sent by a thread of their own, so preparing never waits for the pipe (up to
    READ_AHEAD)."""
    from .exportfiles import entries  # it imports this module

    given = sys.stdin.buffer.read()  # waits here, modules loaded, until it is given its files
    if not given:
        return  # started ahead and not needed
    out = sys.stdout.buffer
    frames = queue.Queue(READ_AHEAD)

    def sending():
        try:
            while (frame := frames.get()) is not None:
                out.write(len(frame).to_bytes(8, "big"))
                out.write(frame)
                if frames.empty():  # a file's last frame is not left in the buffer till the next
                    out.flush()
            out.flush()
        except BrokenPipeError:
            os._exit(0)  # the writing process has gone: nothing to tell, nothing to flush

    sender = threading.Thread(target=sending, daemon=True)
    sender.start()
    listed = {}  # import argument -> its files by path, in order (a zip is opened once)
    try:
        with fewer_collections():
            for source, path, where in json.loads(given):
                try:
                    if source not in listed:
                        listed[source] = {}
                        for e in entries(source):
                            listed[source].setdefault(e.path, []).append(e)
                    # A zip can hold two members of one name: each is given once, in order.
                    entry = listed[source][path].pop(0) if listed[source].get(path) else None
                    if entry is None:
                        raise ImportProblem("no longer there")
                    for batch in prepared_batches(entry, where):
                        frames.put(_encode("batch", batch))
                    frames.put(_encode("end", None))
                except (*READ_PROBLEMS, ImportProblem) as e:
                    frames.put(_encode("problem", str(e)))
    finally:
        # Whatever ends it (even an error no file explains), the frames of the files it
        # finished are sent whole first: a file's problem is never said of the one before.
        frames.put(None)
        sender.join()


def _encode(kind, payload):
    if kind == "batch":
        payload = [(what, _capture_out(item) if what == "capture" else item) for what, item in payload]
    try:
        return b"m" + msgspec.msgpack.encode((kind, payload))
    except (OverflowError, TypeError):  # an integer msgpack cannot hold (beyond 64 bits)
        return b"p" + pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)


def _decode(data):
    kind, payload = msgspec.msgpack.decode(data[1:]) if data[:1] == b"m" else pickle.loads(data[1:])
    if kind == "batch":
        payload = [(what, Crossed(*item) if what == "capture" else item) for what, item in payload]
    return kind, payload


def _capture_out(capture):
    return (capture.sha256, capture.compressed, capture.size, capture.conversation, capture.message_rows,
            capture.link_rows)


_ROLE = MESSAGE_COLUMNS.index("author_role")


class Crossed:
    """A prepared capture as it crossed from the preparing process: its message and link rows
    positional (as ``save_new_captures`` writes them), the dict form built only if asked for
    (``save_capture``, for a conversation the archive already holds)."""

    def __init__(self, sha256, compressed, size, conversation, message_rows, link_rows):
        self.sha256, self.compressed, self.size = sha256, compressed, size
        self.conversation, self.message_rows, self.link_rows = conversation, message_rows, link_rows

    @cached_property
    def rows(self):
        return {CONVERSATION_TABLE: [self.conversation],
                MESSAGE_TABLE: [dict(zip(MESSAGE_COLUMNS, m)) for m in self.message_rows],
                ASSET_LINK_TABLE: [dict(zip(LINK_COLUMNS, link)) for link in self.link_rows]}

    @property
    def messages_carrying(self):
        return sum(1 for m in self.message_rows if m[_ROLE] is not None)


if __name__ == "__main__":
    _work()
