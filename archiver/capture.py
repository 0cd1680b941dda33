"""A capture prepared for the archive: parsed, reshaped into rows, hashed and compressed.

Pure, and light to import (no database code): the preparing process (archiver.preparing)
loads this and the reshaper only, so it starts in half the time and a little over half the
memory it took when it loaded the whole database module to reach ``prepare_capture``.
"""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

# ISA-L's gzip: the same format as the standard library's (old captures stay readable, and
# gzip.decompress reads these), about 4x faster at level 1, which ingest waits for.
from isal import igzip

from .reshape import (
    ASSET_LINK_TABLE,
    CONVERSATION_TABLE,
    MESSAGE_COLUMNS,
    MESSAGE_TABLE,
    NotAConversation,
    parse_json,
    reshape_conversation,
)

LINK_COLUMNS = ("conversation_id", "node_id", "pointer", "file_id")
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="archiver-capture")


@dataclass
class Capture:
    """A parsed, reshaped capture, ready to save. Built outside the write lock."""

    raw: bytes | None  # None once it crossed from the preparing process (archiver.preparing)
    rows: dict
    sha256: str
    compressed: bytes
    size: int = None  # of the raw bytes

    def __post_init__(self):
        if self.size is None:
            self.size = len(self.raw)

    @property
    def conversation(self):
        return self.rows[CONVERSATION_TABLE][0]

    @property
    def message_rows(self):
        """The message rows as lists in MESSAGE_COLUMNS order (new lists: callers may change them)."""
        return [[m[c] for c in MESSAGE_COLUMNS] for m in self.rows[MESSAGE_TABLE]]

    @property
    def link_rows(self):
        return [[link[c] for c in LINK_COLUMNS] for link in self.rows.get(ASSET_LINK_TABLE, [])]

    @property
    def messages_carrying(self):
        """Nodes with a message (``stats`` counts these; the message-less roots are not)."""
        return sum(1 for m in self.rows[MESSAGE_TABLE] if m["author_role"] is not None)


PARALLEL_ABOVE = 256 * 1024


def decompress(body):
    return igzip.decompress(body)


def compress(raw):
    """How a raw capture is stored: gzip, level 1 (about 4x smaller than the JSON), no timestamp."""
    return igzip.compress(raw, compresslevel=1, mtime=0)


def reshape_data(data):
    """reshape_conversation, with nesting too deep for it said as NotAConversation."""
    try:
        return reshape_conversation(data)
    except RecursionError:
        raise NotAConversation("not a conversation: nested too deeply") from None


def prepare_capture(raw, data=None):
    """Bytes (and their parsed form, if already at hand) -> Capture.

    Raises BadJSON or NotAConversation. Pure: no database.
    """
    if len(raw) < PARALLEL_ABOVE:
        # Small captures (most of an export): a thread hand-off would cost more than it saves.
        if data is None:
            data = parse_json(raw)
        rows = reshape_data(data)
        digest_value = hashlib.sha256(raw).hexdigest()
        compressed_value = compress(raw)
        return Capture(raw=raw, rows=rows, sha256=digest_value, compressed=compressed_value)
    # Hashing and compressing release the GIL: for big captures they run on another core
    # while we reshape. Level 1 makes the JSON about 4x smaller at a fifth of level 6's time.
    digest = _pool.submit(lambda: hashlib.sha256(raw).hexdigest())
    compressed = _pool.submit(compress, raw)
    try:
        if data is None:
            data = parse_json(raw)
        rows = reshape_data(data)
    finally:
        # Never leave work behind on the pool for a capture we reject.
        digest_value, compressed_value = digest.result(), compressed.result()
    return Capture(raw=raw, rows=rows, sha256=digest_value, compressed=compressed_value)
