"""Sliced's fused counting: a batch of known keys mapped to slots and counted in one pass.

``count_known`` takes the batches ``Sliced._fused_count`` finds fit (class-label pairs without
weights, every key known, integers or a pandas categorical's codes: ``_slice_keys.fused_keys``)
and picks the kernel of ``_kernels.sliced``: a hash table's for integer keys spread widely, else
the dense lookup's, straight into the counts or, for a batch large for the state, through
pending byte counters.

Pending counts. A Sliced of 10,000 slices of Multiclass(10) holds 1M int64 cells (8 MB). A batch
of 1M samples with uniformly spread keys increments them at random, and most increments would
miss the core's cache. ``PendingCounts`` counts such batches into a uint8 counter per cell (1 MB,
which stays in the cache) with a uint32 carry word touched once in 256 increments; the exact
count of a cell is ``counts + low + 256 * high``. The pending counts are added to the int64 counts
(``settle``) before anything reads the state (Sliced's ``_storage`` does it), so queries,
merges, serialization and the general counting path never see them.

A batch of at least ``SPLIT_MIN`` samples is split over the idle cores (``_threads``), each
chunk counted into its own row of counters: no shared writes. A failed chunk takes its own
counts back, and the chunks that succeeded are taken back too: the counters are exactly as they
were.

Keys with no gap: when every key of the dense lookup's span has a slot (integer ids 0..S-1 all
seen, a categorical whose categories are all slices), the counters are kept by key (row key -
lo) rather than by slot, so the kernel reads no lookup, and ``settle`` adds each row to its slot.

Bounds: ``rows x cells x 5`` bytes (rows: the most threads a batch used, at most the cores),
allocated on the first large batch, for states of at most ``PENDING_CELLS`` (2**32) cells (a
larger state is counted straight into its int64 counts). A cell holds at most ``LIMIT`` pending
counts: the counters are settled before a batch that could exceed it, and a batch larger than it
is counted straight into the int64 counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _threads
from ._kernels import sliced as kernels
from ._slice_keys import IntTable

BY_SLOT = np.zeros(0, np.int64)  # PendingCounts.rows when the counters' rows are the slots
# low byte + 32-bit carry: the most a cell holds before the counts take it. (A 16-bit carry made
# a 1M-sample batch settle every 16 batches, 2 ms each with the counters out of the cache.)
LIMIT = (1 << 40) - 1
SPLIT_MIN = 1 << 17  # a sliced sample costs ~2 ns: from here, half a batch on another core repays the hand-off


class PendingCounts:
    """Byte counters for one count array of ``cells`` cells, nn per slot (see the module)."""

    def __init__(self, cells: int, nn: int):
        self.cells, self.nn = cells, nn
        self.low = np.zeros((0, cells), np.uint8)
        self.high = np.zeros((0, cells), np.uint32)
        self.samples = 0  # counted since the last settle: bounds what any cell holds
        self.rows = BY_SLOT  # the counters' rows: slots, or keys - lo with this row -> slot array
        self._complete: tuple[Any, bool] = (None, False)  # (a lookup, whether each key of its span has a slot)

    def count(self, flat: np.ndarray, keys: np.ndarray, lo: Any, lookup: np.ndarray, y_true: np.ndarray,
              y_pred: np.ndarray, pairs: tuple[int, Any, bool]) -> int:
        """count_pairs_pending over the batch (split over idle cores when large); the kernels'
        DONE, or UNKNOWN_KEY / BAD_LABEL with nothing counted. ``flat`` (the int64 counts)
        takes the pending counts first when this batch could overflow a counter or counts by
        other rows."""
        n = keys.shape[0]
        by_key = self._each_key_has_a_slot(lookup)
        rows = lookup if by_key else BY_SLOT
        if self.samples + n > LIMIT or rows is not self.rows:
            self.settle(flat)
        self.rows = rows
        threads = _threads.threads_for(n, SPLIT_MIN)
        self._grow(threads)
        bounds = np.linspace(0, n, threads + 1).astype(np.int64).tolist()

        def chunk(c: int, kernel: Any) -> Any:
            a, b = bounds[c], bounds[c + 1]
            return kernel(keys[a:b], lo, lookup, by_key, y_true[a:b], y_pred[a:b], *pairs, self.low[c], self.high[c])

        count = kernels.count_pairs_pending
        # The calling thread takes the first chunk itself: one thread hand-off fewer.
        futures = [_threads.pool().submit(chunk, c, count) for c in range(1, threads)]
        statuses = [chunk(0, count)] + [f.result() for f in futures]
        failed = [s for s in statuses if s != kernels.DONE]
        if failed:
            for c, status in enumerate(statuses):
                if status == kernels.DONE:
                    chunk(c, kernels.undo_pending)
            return int(failed[0])
        self.samples += n
        return kernels.DONE

    def settle(self, flat: np.ndarray) -> None:
        """Add the pending counts to flat (the int64 counts) and zero them."""
        if self.samples:
            kernels.settle_pending(flat, self.low, self.high, self.rows, self.nn)
            self.samples = 0

    def _each_key_has_a_slot(self, lookup: np.ndarray) -> bool:
        """Whether every key of the lookup's span has a slot (integer ids 0..S-1 all seen, a
        categorical whose categories are all slices): then the counters' rows are keys - lo and
        the kernel reads no lookup (measured: ~35% of the sliced update). Kept per lookup array
        (a key index makes a new one only when keys are added)."""
        seen, complete = self._complete
        if seen is not lookup:
            complete = bool(lookup.shape[0] * self.nn <= self.cells and (lookup >= 0).all())
            self._complete = (lookup, complete)
        return complete

    def _grow(self, threads: int) -> None:
        """At least one row of counters per thread (zeros, kept from batch to batch)."""
        rows = self.low.shape[0]
        if rows < threads:
            self.low = np.concatenate([self.low, np.zeros((threads - rows, self.cells), np.uint8)])
            self.high = np.concatenate([self.high, np.zeros((threads - rows, self.cells), np.uint32)])


def count_known(cm: np.ndarray, found: tuple[np.ndarray, Any, Any], y_true: np.ndarray, y_pred: np.ndarray,
                pairs: tuple[int, Any, bool], owner: dict[str, Any]) -> bool:
    """Count the batch into cm (slots x n x n) with the keys' (keys, lo, lookup); large batches
    through ``owner["_pending"]`` (made here). True when counted; False with nothing changed for
    a new key or a bad sample (the general path then adds the key or names the sample)."""
    keys, lo, lookup = found
    n = keys.shape[0]
    if isinstance(lookup, IntTable):
        status = kernels.count_pairs_by_table(keys, lookup.keys, lookup.slots, lookup.shift, y_true, y_pred, *pairs, cm)
    elif 4 * n >= cm.size and n <= LIMIT and cm.size <= kernels.PENDING_CELLS:  # large for the state: bytes first
        pending = owner.get("_pending")
        if pending is None or pending.cells != cm.size:
            pending = owner["_pending"] = PendingCounts(cm.size, pairs[0] ** 2)
        status = pending.count(cm.reshape(-1), keys, lo, lookup, y_true, y_pred, pairs)
    else:
        status = kernels.count_pairs_by_lookup(keys, lo, lookup, y_true, y_pred, *pairs, cm)
    return bool(status == kernels.DONE)
