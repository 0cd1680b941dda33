"""Which row ids a bulk load has written, kept in memory, so that most of its "is this id
taken?" questions need no index lookup.

A load into a new archive gives each node its own id as row id unless the table holds it
already (db.row_ids). At 500 MB, asking SQLite for every node took 0.74 s of the writing
process: 340,000 probes scattered over an index larger than its page cache. The table held
nothing before the load, so an id this filter has never been given is certainly free; one it
may have been given is asked of SQLite as before. So a false "maybe" costs one probe, and a
"no" is never wrong.

A Bloom filter (16 bits and 4 probes per id: about one "maybe" in 400 for an id never
given) that adds a filter twice the size whenever the newest is full, so memory follows the
number of ids (2 bytes each, 0.7 MB at 500 MB) and nothing has to be sized in advance.
Python's hash of a string is fixed for the life of the process, which is all this lives.
"""

import numpy as np

_PROBES = 4
_BITS_PER_ID = 16
_FIRST_CAPACITY = 1 << 16


class SeenIds:
    def __init__(self):
        self._filters = []  # (bits, mask, capacity); ids are added to the last
        self._count = 0

    def add(self, ids):
        ids = list(ids)
        while ids:
            if not self._filters or self._count >= self._filters[-1][2]:
                capacity = _FIRST_CAPACITY << len(self._filters)
                size = capacity * _BITS_PER_ID  # a power of two, so a mask picks a position
                self._filters.append((np.zeros(size // 8, dtype=np.uint8), size - 1, capacity))
                self._count = 0
            bits, mask, capacity = self._filters[-1]
            room, ids = ids[:capacity - self._count], ids[capacity - self._count:]
            positions = _positions(_hashes(room), mask)
            # .at, not bits[...] |= ...: two ids in one byte would otherwise keep only one bit.
            np.bitwise_or.at(bits, positions >> 3, (1 << (positions & 7)).astype(np.uint8))
            self._count += len(room)

    def maybe(self, ids):
        """The ids among ``ids`` that may have been added (every one that was, and a few more)."""
        ids = list(ids)
        if not ids or not self._filters:
            return []
        found, hashes = np.zeros(len(ids), dtype=bool), _hashes(ids)  # hashed once for all filters
        for bits, mask, _ in self._filters:
            positions = _positions(hashes, mask)
            found |= ((bits[positions >> 3] >> (positions & 7)) & 1).astype(bool).all(axis=0)
        return [i for i, hit in zip(ids, found) if hit]


def _hashes(ids):
    return np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids)).view(np.uint64)


def _positions(h, mask):
    """Each hash's probe positions, shape (probes, len(h)): its two halves combined (Kirsch
    and Mitzenmacher), which is as good as independent hashes here."""
    low, high = h & np.uint64(0xFFFFFFFF), (h >> np.uint64(32)) | np.uint64(1)
    steps = np.arange(_PROBES, dtype=np.uint64)[:, None]
    return ((low + steps * high) & np.uint64(mask)).astype(np.int64)
