"""Sliced's fused kernels: each sample's slice key mapped to its slot and its pair counted, in one pass.

``Sliced`` counts a batch of class pairs (Multiclass and Binary labels, unweighted) with one
integer key per sample into ``cm[slot, y_true, y_pred]``. These kernels do the key -> slot
mapping and the count together, block by block, so no (N,) array of slots is written and read
back:

- ``count_pairs_by_lookup``: the slot is ``lookup[key - lo]`` (a dense array over the span of
  the keys held: integer keys in a small range, or a pandas categorical's codes with the
  categories' slots);
- ``count_pairs_by_table``: the slot is found in ``_slice_keys.IntTable``'s open-addressing hash
  table (integer keys spread too widely for a dense array).

``count_pairs_pending`` is the first counting into pending byte counters,
added to the int64 counts when they are read (``_slice_fused``): for batches large for the state.

Each checks a block (keys known, labels in [0, n), ``ignore`` skipped) before counting it, and
returns ``DONE``, ``UNKNOWN_KEY`` (a key that has no slot: a new key, or a missing categorical
code) or ``BAD_LABEL``; on either failure the blocks counted before are subtracted back, so the
counts are exactly what they were. The caller then takes the general path (``_slice_keys`` and
the slotted kernels), which adds new keys or names the bad sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .counting import INT64_PER_LINE, _label_ok, jit, prefetch_read
from .pairs import _block_ok, _index

Array = np.ndarray

DONE, UNKNOWN_KEY, BAD_LABEL = -1, -2, -3
BLOCK_KEYS = 512  # samples per block: their keys, labels and cell indices stay in L1
# count_pairs_pending's block (its cells: 64 KB, in L2): the random increments run longer between
# the block's checks (measured, 1M samples into 10,000 slices, one thread, the check fused with
# the cells: 512 samples 1.4 ms, 4096 1.05 ms, 8192 0.98 ms, 32768 0.96 ms); the next block
# prefetched during the increments: 1.04-1.05 -> 0.99 ms (in one process, AMD EPYC)
PENDING_BLOCK = 8192
PENDING_CELLS = 1 << 32  # pending counters hold at most this many cells: a cell's index is a uint32 (5% faster)


@jit
def _undo(keys: Array, lo: Any, lookup: Array, y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool,
          flat: Array, stop: int) -> None:
    """Subtract the counts of samples 0..stop - 1 (all of them valid and known)."""
    nn = n * n
    for j in range(stop):
        if not (use_ignore and y_true[j] == ignore):
            flat[lookup[np.uint64(keys[j] - lo)] * nn + np.int64(y_true[j]) * n + np.int64(y_pred[j])] -= 1


@jit
def _lookup_block(k: Array, t: Array, p: Array, lo: Any, lookup: Array, n: int, ignore: Any, use_ignore: bool,
                  cells: Array) -> int:
    """Check a block (keys in the lookup's span and with a slot, labels in [0, n) or ignored) and
    write each sample's flat cell into cells: DONE, UNKNOWN_KEY or BAD_LABEL."""
    span = np.uint64(lookup.shape[0])
    in_span = True
    labels_ok = True
    for j in range(k.shape[0]):  # branch-free checks first: they vectorize
        in_span &= np.uint64(k[j] - lo) < span
        labels_ok &= (use_ignore & (t[j] == ignore)) | (_label_ok(t[j], n) & _label_ok(p[j], n))
    if not in_span:
        return UNKNOWN_KEY
    known = True
    nn = n * n
    for j in range(k.shape[0]):
        slot = lookup[np.uint64(k[j] - lo)]
        known &= slot >= 0
        cells[j] = slot * nn + np.int64(t[j]) * n + np.int64(p[j])
    if not known:
        return UNKNOWN_KEY
    return DONE if labels_ok else BAD_LABEL


@jit
def _add_block(flat: Array, cells: Array, t: Array, ignore: Any, use_ignore: bool) -> None:
    """flat[cells[j]] += 1 for each sample j of a checked block whose y_true is not ignore."""
    if use_ignore:
        for j in range(t.shape[0]):
            if t[j] != ignore:
                flat[cells[j]] += 1
    else:
        for j in range(t.shape[0]):
            flat[cells[j]] += 1


@jit
def count_pairs_by_lookup(keys: Array, lo: Any, lookup: Array, y_true: Array, y_pred: Array, n: int, ignore: Any,
                          use_ignore: bool, cm: Array) -> int:
    """cm[lookup[keys[i] - lo], y_true[i], y_pred[i]] += 1 for each sample whose y_true is not
    ``ignore``; DONE, or UNKNOWN_KEY / BAD_LABEL with cm unchanged (lookup: -1 for no slot)."""
    size = keys.shape[0]
    flat = cm.reshape(-1)
    cells = np.empty(BLOCK_KEYS, np.uint64)  # unsigned: no negative-index test on the counters
    for start in range(0, size, BLOCK_KEYS):
        stop = min(start + BLOCK_KEYS, size)
        k = keys[start:stop]  # views from index 0: no wraparound check in the loops below
        t = y_true[start:stop]
        p = y_pred[start:stop]
        status = _lookup_block(k, t, p, lo, lookup, n, ignore, use_ignore, cells)
        if status != DONE:
            _undo(keys, lo, lookup, y_true, y_pred, n, ignore, use_ignore, flat, start)
            return status
        _add_block(flat, cells, t, ignore, use_ignore)
    return DONE


@jit
def _table_slot(key: Any, table_keys: Array, table_slots: Array, shift: int) -> Any:
    """The slot of key in _slice_keys.IntTable's arrays, or -1 (the table is at most half full)."""
    mask = table_keys.shape[0] - 1
    h = np.int64((np.uint64(np.int64(key)) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(shift))
    while True:
        slot = table_slots[h]
        if slot == -1 or table_keys[h] == key:
            return slot
        h = (h + 1) & mask


@jit
def count_pairs_by_table(keys: Array, table_keys: Array, table_slots: Array, shift: int, y_true: Array,
                         y_pred: Array, n: int, ignore: Any, use_ignore: bool, cm: Array) -> int:
    """count_pairs_by_lookup with each key's slot found in a hash table (integer keys spread widely)."""
    size = keys.shape[0]
    flat = cm.reshape(-1)
    nn = n * n
    cells = np.empty(BLOCK_KEYS, np.uint64)  # unsigned: no negative-index test on the counters
    for start in range(0, size, BLOCK_KEYS):
        stop = min(start + BLOCK_KEYS, size)
        k = keys[start:stop]
        t = y_true[start:stop]
        p = y_pred[start:stop]
        labels_ok = _block_ok(t, p, n, ignore, use_ignore)
        known = True
        for j in range(k.shape[0]):
            slot = _table_slot(k[j], table_keys, table_slots, shift)
            known &= slot >= 0
            cells[j] = slot * nn + np.int64(t[j]) * n + np.int64(p[j])
        status = UNKNOWN_KEY if not known else DONE if labels_ok else BAD_LABEL
        if status != DONE:
            for j in range(start):
                if not (use_ignore and y_true[j] == ignore):
                    slot = _table_slot(keys[j], table_keys, table_slots, shift)
                    flat[slot * nn + np.int64(y_true[j]) * n + np.int64(y_pred[j])] -= 1
            return status
        _add_block(flat, cells, t, ignore, use_ignore)
    return DONE


@jit
def _key_block(k: Array, t: Array, p: Array, lo: Any, span: int, n: int, ignore: Any, use_ignore: bool,
               cells: Array) -> int:
    """_lookup_block for keys whose every value in [lo, lo + span) has a slot: the cell's row is
    key - lo (no lookup read; ``settle_pending`` maps rows to slots), and the check and the cells
    are one vectorized loop with one flag (a bad key or label: UNKNOWN_KEY either way, the general
    path tells them apart). An ignored sample's cell is written too, and not counted."""
    uspan, un, unn = np.uint64(span), np.uint64(n), np.uint64(n * n)
    ok = True
    if use_ignore:  # (two loops: the compiler does not take a loop-invariant test out by itself)
        for j in range(k.shape[0]):
            row = np.uint64(k[j] - lo)
            ok &= (row < uspan) & ((t[j] == ignore) | (_label_ok(t[j], n) & _label_ok(p[j], n)))
            cells[j] = row * unn + _index(t[j]) * un + _index(p[j])
    else:
        for j in range(k.shape[0]):
            row = np.uint64(k[j] - lo)
            ok &= (row < uspan) & _label_ok(t[j], n) & _label_ok(p[j], n)
            cells[j] = row * unn + _index(t[j]) * un + _index(p[j])
    return DONE if ok else UNKNOWN_KEY


@jit
def count_pairs_pending(keys: Array, lo: Any, lookup: Array, by_key: bool, y_true: Array, y_pred: Array, n: int,
                        ignore: Any, use_ignore: bool, low: Array, high: Array) -> int:
    """count_pairs_by_lookup into pending byte counters: cell c's count is low[c] + 256 * high[c]
    (uint8, uint32), to be added to the int64 counts by ``settle_pending``. The random increments
    touch one byte per cell (10,000 slices of 10 x 10 cells: 1 MB rather than 8 MB, which stays
    in a core's cache) and the high word only on a carry. by_key: every key of the lookup's span
    has a slot, and a cell's row is key - lo rather than its slot (``_key_block``: no lookup read).
    The caller bounds what the counters hold (2**40 - 1 per cell). DONE, or UNKNOWN_KEY /
    BAD_LABEL with the counters unchanged."""
    size = keys.shape[0]
    cells = np.empty(PENDING_BLOCK, np.uint32)  # unsigned: no negative-index test; 32 bits: PENDING_CELLS
    for start in range(0, size, PENDING_BLOCK):
        stop = min(start + PENDING_BLOCK, size)
        k = keys[start:stop]
        t = y_true[start:stop]
        p = y_pred[start:stop]
        if by_key:
            status = _key_block(k, t, p, lo, lookup.shape[0], n, ignore, use_ignore, cells)
        else:
            status = _lookup_block(k, t, p, lo, lookup, n, ignore, use_ignore, cells)
        if status != DONE:
            undo_pending(keys[:start], lo, lookup, by_key, y_true, y_pred, n, ignore, use_ignore, low, high)
            return status
        block = cells[:k.shape[0]]
        ahead = min(size, stop + PENDING_BLOCK)  # the next block, asked for while this one is counted
        _add_pending(block, t if use_ignore else t[:0], ignore, low, high, keys[stop:ahead], y_true[stop:ahead],
                     y_pred[stop:ahead])
    return DONE


@jit
def _add_pending(cells: Array, t: Array, ignore: Any, low: Array, high: Array, next_keys: Array, next_t: Array,
                 next_p: Array) -> None:
    """low[c] += 1 for each block cell (a carry into high when it wraps), skipping the samples
    whose label t is ignore; t empty: none ignored (a loop with no test: the compiler does not
    take a loop-invariant test out by itself). The next block's keys and labels are asked for a
    cache line at a time as the cells are counted (see pairs.py's PREFETCH)."""
    if t.shape[0] == 0:
        for j in range(cells.shape[0]):
            if j % INT64_PER_LINE == 0 and j < next_keys.shape[0]:
                prefetch_read(next_keys, (j,))
                prefetch_read(next_t, (j,))
                prefetch_read(next_p, (j,))
            c = cells[j]
            v = np.uint8(low[c] + np.uint8(1))
            low[c] = v
            if v == 0:
                high[c] += 1
        return
    for j in range(cells.shape[0]):
        if j % INT64_PER_LINE == 0 and j < next_keys.shape[0]:
            prefetch_read(next_keys, (j,))
            prefetch_read(next_t, (j,))
            prefetch_read(next_p, (j,))
        if t[j] != ignore:
            c = cells[j]
            v = np.uint8(low[c] + np.uint8(1))
            low[c] = v
            if v == 0:
                high[c] += 1


@jit
def undo_pending(keys: Array, lo: Any, lookup: Array, by_key: bool, y_true: Array, y_pred: Array, n: int,
                 ignore: Any, use_ignore: bool, low: Array, high: Array) -> None:
    """Take back count_pairs_pending's counts of these samples (all of them counted): exactly, as
    low + 256 * high is one number and each byte wraps back as it wrapped on."""
    nn = n * n
    for j in range(keys.shape[0]):
        if not (use_ignore and y_true[j] == ignore):
            row = np.uint64(keys[j] - lo)
            c = (np.int64(row) if by_key else lookup[row]) * nn + np.int64(y_true[j]) * n + np.int64(y_pred[j])
            v = low[c]
            if v == 0:
                high[c] -= 1
            low[c] = np.uint8(v - np.uint8(1))


@jit
def settle_pending(flat: Array, low: Array, high: Array, row_slots: Array, nn: int) -> None:
    """flat += low + 256 * high for each row of pending counters, which are zeroed: cell by cell,
    or with row_slots (counters by key) row r of nn cells into slot row_slots[r]."""
    for r in range(low.shape[0]):
        lo_row = low[r]
        hi_row = high[r]
        if row_slots.shape[0] == 0:
            for c in range(flat.shape[0]):
                flat[c] += np.int64(lo_row[c]) + (np.int64(hi_row[c]) << 8)
                lo_row[c] = 0
                hi_row[c] = 0
            continue
        for row in range(row_slots.shape[0]):
            src = row * nn
            dst = row_slots[row] * nn
            to, lo_cells, hi_cells = flat[dst:dst + nn], lo_row[src:src + nn], hi_row[src:src + nn]  # views from 0
            for c in range(nn):
                to[c] += np.int64(lo_cells[c]) + (np.int64(hi_cells[c]) << 8)
                lo_cells[c] = 0
                hi_cells[c] = 0
