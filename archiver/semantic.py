"""Offline semantic search: message embeddings computed on this machine, stored in the archive.

The model is WordLlama's ``l2_supercat`` (256 dimensions): token embeddings averaged, no
network and no API key. Its weights and tokenizer ship inside the ``wordllama`` wheel; we read
those two files ourselves (tokenizers + safetensors), so nothing can fall back to a download
and wordllama's import-time logging setup never runs in our process.

Storage (m031): one row per embedded message in ``chatgpt_embedding`` with the vector twice:
32 bytes of sign bits (binary quantisation, searched in memory by Hamming distance) and 256
int8 values with a scale (read back only for the few hundred best candidates, to rank them
by cosine). A message whose text changes, or that is deleted, loses its row by trigger and is
embedded again by the next catch-up.
"""

import importlib.util
import json
import threading
from pathlib import Path

import numpy as np

MODEL = "wordllama-l2_supercat-256"
DIMS = 256
MAX_TOKENS = 512  # tokens averaged per message: the opening of a long message says what it is about
BATCH = 256
CANDIDATES = 400  # binary-search shortlist re-ranked with the int8 vectors
RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al.)
META_MODEL = "embedding_model"
ELIGIBLE = ("m.text IS NOT NULL AND length(m.text) > 0 AND m.is_hidden = 0"
            " AND m.author_role IN ('user', 'assistant')")


class SemanticUnavailable(Exception):
    pass


# ---- the model -----------------------------------------------------------------------


class Embedder:
    """Text -> unit vectors (float32, DIMS), from the files inside the wordllama wheel."""

    def __init__(self):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        spec = importlib.util.find_spec("wordllama")  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise SemanticUnavailable("the wordllama package is not installed")
        root = Path(spec.submodule_search_locations[0])
        weights = root / "weights" / "l2_supercat_256.safetensors"
        tokenizer = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
        if not weights.is_file() or not tokenizer.is_file():
            raise SemanticUnavailable(f"wordllama's bundled model files are missing under {root}")
        self.table = load_file(str(weights))["embedding.weight"].astype(np.float32)
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def embed(self, texts):
        out = np.zeros((len(texts), DIMS), dtype=np.float32)
        for i, encoding in enumerate(self.tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            ids = np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, len(self.table) - 1)
            if len(ids):
                out[i] = self.table[ids].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


_embedder = None
_embedder_lock = threading.Lock()


def embedder():
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            _embedder = Embedder()
        return _embedder


def quantize(vectors):
    """Unit vectors -> [(sign bits, int8 bytes, scale)]."""
    bits = np.packbits(vectors > 0, axis=1)
    scales = np.abs(vectors).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    q = np.round(vectors / scales[:, None]).astype(np.int8)
    return [(bits[i].tobytes(), q[i].tobytes(), float(scales[i])) for i in range(len(vectors))]


# ---- keeping embeddings up to date ---------------------------------------------------


def ensure_model(conn):
    """Embeddings made by another model are dropped (their vectors mean nothing to this one)."""
    row = conn.execute("SELECT value FROM archiver_meta WHERE key = ?", [META_MODEL]).fetchone()
    if row is None or row[0] != MODEL:
        conn.execute("DELETE FROM chatgpt_embedding")
        conn.execute("INSERT OR REPLACE INTO archiver_meta (key, value) VALUES (?, ?)", [META_MODEL, MODEL])


def pending_messages(conn, limit=BATCH, after=0):
    """Messages worth embedding that have no embedding yet, in rowid order after ``after``:
    [(rowid, message id, text)]. Callers walk forward with the last rowid, so a catch-up
    reads the table once instead of rescanning what it has just embedded."""
    return conn.execute(
        f"SELECT m.rowid, m.id, m.text FROM chatgpt_message m WHERE m.rowid > ? AND {ELIGIBLE}"
        " AND NOT EXISTS (SELECT 1 FROM chatgpt_embedding e WHERE e.message_id = m.id)"
        " ORDER BY m.rowid LIMIT ?",
        [after, limit],
    ).fetchall()


def count_pending(conn):
    return conn.execute(
        f"SELECT count(*) FROM chatgpt_message m WHERE {ELIGIBLE}"
        " AND NOT EXISTS (SELECT 1 FROM chatgpt_embedding e WHERE e.message_id = m.id)").fetchone()[0]


def reshape_embeddings(batch, vectors):
    return [(mid, *packed) for (_, mid, _), packed in zip(batch, quantize(vectors))]


def save_embeddings(conn, rows):
    """Store [(message id, bits, int8 bytes, scale)]; a message embedded meanwhile is kept."""
    conn.executemany(
        "INSERT OR IGNORE INTO chatgpt_embedding (message_id, bits, vector, scale) VALUES (?, ?, ?, ?)", rows)


def embed_pending(db, *, progress=None, batch=BATCH):
    """Catch up: embed every message that lacks an embedding, a batch per transaction, so
    an interrupted run keeps what it did. ``db`` is a sqlite-utils Database. Returns how many."""
    from .db import write_transaction

    with write_transaction(db) as conn:
        ensure_model(conn)
    total = count_pending(db.conn)
    done = 0
    model = embedder()
    after = 0
    while True:
        rows = pending_messages(db.conn, batch, after)
        if not rows:
            return done
        after = rows[-1][0]
        embedded = reshape_embeddings(rows, model.embed([text for _, _, text in rows]))
        with write_transaction(db) as conn:
            save_embeddings(conn, embedded)
        done += len(rows)
        if progress:
            progress(done, max(total, done))


# ---- searching -----------------------------------------------------------------------


class VectorIndex:
    """The sign bits of every embedding, in memory (32 bytes each: 32 MB per million
    messages), as four contiguous 64-bit columns (XOR and popcount run over each in one
    pass), brought up to date on each search: appended rows are read incrementally; a
    deletion (counted by trigger) reloads."""

    WORDS = DIMS // 64

    def __init__(self):
        self.lock = threading.Lock()
        self._clear()

    def _clear(self):
        self.ids = np.zeros(0, dtype=np.int64)
        self.columns = [np.zeros(0, dtype=np.uint64) for _ in range(self.WORDS)]
        self.max_id = 0

    def refresh(self, conn):
        with self.lock:
            (max_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM chatgpt_embedding").fetchone()
            row = conn.execute("SELECT value FROM archiver_meta WHERE key = 'embedding_deletions'").fetchone()
            deletions = row[0] if row else "0"
            if deletions != getattr(self, "deletions", None) or max_id < self.max_id:
                self._clear()
                self.deletions = deletions
            if max_id > self.max_id:
                rows = conn.execute("SELECT id, bits FROM chatgpt_embedding WHERE id > ? ORDER BY id",
                                    [self.max_id]).fetchall()
                if rows:
                    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                    bits = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.uint64).reshape(len(rows), -1)
                    self.ids = np.concatenate([self.ids, ids])
                    self.columns = [np.concatenate([c, bits[:, i]]) for i, c in enumerate(self.columns)]
                self.max_id = max_id
            return self.ids, self.columns


def hamming(columns, query_bits):
    """Distances (uint16) from the query's sign bits to every row."""
    words = np.frombuffer(query_bits, dtype=np.uint64)
    distance = np.bitwise_count(columns[0] ^ words[0]).astype(np.uint16)
    for column, word in zip(columns[1:], words[1:]):
        distance += np.bitwise_count(column ^ word)
    return distance


def nearest(distance, k):
    """Row positions of the k smallest distances (ties at the cut broken by position).
    Distances are small integers, so a histogram finds the cut faster than a partition."""
    counts = np.cumsum(np.bincount(distance, minlength=int(distance.max()) + 1))
    cut = int(np.searchsorted(counts, k))
    below = np.flatnonzero(distance < cut)
    at = np.flatnonzero(distance == cut)[: max(0, k - len(below))]
    return np.concatenate([below, at])


_indexes = {}
_indexes_lock = threading.Lock()


def index_for(conn):
    """One in-memory index per archive file, shared by every connection to it."""
    path = conn.execute("PRAGMA database_list").fetchone()[2] or f":memory:{id(conn)}"
    with _indexes_lock:
        return _indexes.setdefault(path, VectorIndex())


def semantic_message_ids(conn, query, *, limit=50, allowed=None):
    """The embedding rows most similar to ``query``: [(message id, cosine)], best first.
    ``allowed``: SQL selecting the embedding ids a filter allows (None: all)."""
    if not (query or "").strip():
        return []
    ids, columns = index_for(conn).refresh(conn)
    if not len(ids):
        return []
    vector = embedder().embed([query])[0]
    distance = hamming(columns, np.packbits(vector > 0).tobytes())
    if allowed is not None:
        keep = np.isin(ids, np.fromiter((r[0] for r in conn.execute(*allowed)), dtype=np.int64))
        if not keep.any():
            return []
        distance[~keep] = DIMS + 1
        available = int(keep.sum())
    else:
        available = len(ids)
    shortlist = nearest(distance, min(max(CANDIDATES, limit * 8), available))
    shortlist = shortlist[distance[shortlist] <= DIMS]
    rows = conn.execute(
        "SELECT message_id, vector, scale FROM chatgpt_embedding WHERE id IN (SELECT value FROM json_each(?))",
        [json.dumps(ids[shortlist].tolist())],
    ).fetchall()
    if not rows:
        return []
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.int8).reshape(len(rows), DIMS)
    scores = (matrix.astype(np.float32) @ vector) * np.array([r[2] for r in rows], dtype=np.float32)
    order = np.argsort(-scores)[:limit]
    return [(rows[i][0], float(scores[i])) for i in order]


def fuse(*rankings, k=RRF_K):
    """Reciprocal-rank fusion of ranked lists of keys -> [(key, score)], best first."""
    scores = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda item: -item[1])


# ---- hybrid: keyword ranking from archiver/search.py, fused with vectors -------------

MODES = ("hybrid", "keyword", "semantic")
FUSE_DEPTH = 50  # conversations taken from each ranking before fusing


def _allowed(filters):
    """search.Filters -> SQL selecting the embedding ids the filters allow (None: all)."""
    if not filters.any:
        return None
    where = " AND ".join(filters.message)
    return (f"SELECT e.id FROM chatgpt_embedding e JOIN chatgpt_message m ON m.id = e.message_id"
            f" JOIN chatgpt_conversation c ON c.id = m.conversation_id WHERE {where}", filters.params)


def _semantic_groups(conn, q, filters, depth, per_conversation):
    """Conversations by their best-matching message: [(conversation id, [message dicts])];
    the messages carry their text, made into a snippet only if shown."""
    hits = semantic_message_ids(conn, q, limit=depth * per_conversation, allowed=_allowed(filters))
    if not hits:
        return []
    score = dict(hits)
    rows = conn.execute(
        "SELECT id, conversation_id, node_id, author_role, create_time, is_current, text FROM chatgpt_message"
        " WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(score))]).fetchall()
    groups = {}
    for mid, cid, node, role, created, current, text in sorted(rows, key=lambda r: -score[r[0]]):
        messages = groups.setdefault(cid, [])
        if len(messages) < per_conversation:
            messages.append({"node_id": node, "role": role, "create_time": created, "is_current": bool(current),
                             "text": text, "highlights": [], "similarity": round(score[mid], 4)})
    return list(groups.items())[:depth]


def _with_snippet(message):
    from .search import _clip, plain_text

    message = dict(message)
    message["snippet"], _ = _clip(plain_text((message.pop("text") or "")[:2000]), [])
    return message


def hybrid_search(conn, q, *, mode="hybrid", since=None, until=None, role=None, model=None, project=None,
                  current_only=False, sort="relevance", match="auto", limit=20, offset=0, per_conversation=3):
    """search_archive's answer (conversations, best first, with matching messages), ranked by
    words (``keyword``: archiver/search.py as it is), by meaning (``semantic``: message
    embeddings), or both fused by reciprocal rank (``hybrid``). Same shape as
    search_archive's, plus ``search_mode``; semantic message hits carry ``similarity``.
    ``sort`` ("relevance" or "newest") and ``match`` (search_archive's mode: "auto", "words",
    "substring") are passed to the keyword side; "newest" orders fused results by update."""
    from .search import Filters, _conversations, search_archive

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    filters = dict(since=since, until=until, role=role, model=model, project=project, current_only=current_only)
    if mode == "keyword":
        return dict(search_archive(conn, q, **filters, sort=sort, mode=match, limit=limit, offset=offset,
                                   per_conversation=per_conversation), search_mode=mode)
    if sort not in ("relevance", "newest"):
        raise ValueError("sort must be 'relevance' or 'newest'")
    depth = max(FUSE_DEPTH, offset + limit)
    keyword = {"conversations": [], "notice": None, "documents": []}
    if mode == "hybrid":
        keyword = search_archive(conn, q, **filters, mode=match, limit=depth, per_conversation=per_conversation)
    semantic = _semantic_groups(conn, q, Filters(since, until, role, model, project, current_only), depth,
                                per_conversation)
    by_keyword = {c["conversation_id"]: c for c in keyword["conversations"]}
    by_meaning = dict(semantic)
    fused = fuse([c["conversation_id"] for c in keyword["conversations"]], [cid for cid, _ in semantic])
    if sort == "newest":
        times = {cid: c["update_time"] for cid, c in _conversations(conn, [cid for cid, _ in fused]).items()}
        fused.sort(key=lambda item: -(times.get(item[0]) or 0))
    page = [cid for cid, _ in fused[offset:offset + limit]]
    details = _conversations(conn, [cid for cid in page if cid not in by_keyword])
    conversations = []
    for cid, fusion in fused[offset:offset + limit]:
        conversation = dict(by_keyword.get(cid) or details[cid])
        conversation.pop("rowid", None)
        conversation.setdefault("title_highlights", [])
        conversation.setdefault("title_match", False)
        messages = list(conversation.get("messages", []))
        seen = {m["node_id"] for m in messages}
        messages += [_with_snippet(m) for m in by_meaning.get(cid, []) if m["node_id"] not in seen]
        conversation["messages"] = messages[:per_conversation]
        conversation["match_count"] = max(conversation.get("match_count", 0), len(conversation["messages"]))
        conversation["score"] = round(fusion, 6)
        conversations.append(conversation)
    return {
        "query": q or "", "mode": keyword.get("mode"), "search_mode": mode, "notice": keyword.get("notice"),
        "total": len(fused), "has_more": len(fused) > offset + limit, "conversations": conversations,
        "documents": keyword.get("documents", []),
    }


# ---- in the server: embedding after ingest, off the request path ---------------------


async def keep_embedded(read, write, wake, *, idle=300.0, log=None):
    """Embed new and changed messages until cancelled. ``read(fn)``/``write(fn)`` run
    ``fn(conn)`` on the server's read connections / single write thread; ``wake`` (an
    asyncio.Event) is set after each capture. The model runs in a worker thread, so requests
    are never kept waiting for it; each batch is written in one short transaction."""
    import asyncio

    model_checked = False
    after = 0  # each pass walks the table once, from the start
    while True:
        try:
            if not model_checked:
                await write(ensure_model)
                model_checked = True
            rows = await read(lambda conn: pending_messages(conn, BATCH, after))
            if rows:
                after = rows[-1][0]
                model = await asyncio.to_thread(embedder)
                vectors = await asyncio.to_thread(model.embed, [text for _, _, text in rows])
                embedded = reshape_embeddings(rows, vectors)
                await write(lambda conn: save_embeddings(conn, embedded))
                continue
            after = 0
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a read-only or full disk: try again later, never crash serve
            if log:
                log.warning("embedding paused: %s", e)
        # Not wait_for: on Python 3.11 it returns, swallowing the cancellation, when cancelled
        # just as the event is set (CPython gh-86296), and the server's shutdown waited forever.
        try:
            async with asyncio.timeout(idle):
                await wake.wait()
        except TimeoutError:
            pass
        wake.clear()
