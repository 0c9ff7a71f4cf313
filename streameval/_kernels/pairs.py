"""count_pairs: Multiclass and Binary labels into a confusion matrix, checked a block at a time.

The check of a block (every kept label integral and in [0, n)) is its own branch-free loop, which
vectorizes: an integer label is one unsigned comparison (``np.uint64(v) < n`` folds both bounds).
The scatter that follows has no check left in it. On a bad block, the first bad sample is found
in it and the blocks counted before it are subtracted back: the counts are exactly what they were.
Same results and rules as count_pairs_in_slots (counting.py), which keeps the slotted case.

A large batch into a small matrix (at least ``SPREAD_MIN`` samples, at most ``SPREAD_CELLS``
cells) is counted by ``_count_spread`` into four private copies of the matrix, sample j into copy
j % 4, and added to cm once every block is valid (so a bad block needs no undo). A classifier's
pairs are mostly on the diagonal: with one table, consecutive increments of the same few cells
wait on each other's store; with four they do not (measured, 1M pairs, K = 10, 67% on the
diagonal: 0.51 -> 0.41 ms, against 1.5 ms for ``np.bincount``).

PREFETCH. A block is checked (its labels read from memory or L3) and then counted (from L1);
the reads of the check do not overlap the increments, and the hardware prefetcher, seeing no
reads of the labels while a block is counted, stops running ahead. So the increments of a
block ask for the next block's labels, a cache line at a time (measured, 1M int64 pairs, K =
10, one thread, with blocks of 8192 rather than 1024: 0.40-0.43 -> 0.32 ms; the labels' read
by numpy's ``max()``: 0.16-0.18 ms).

PAIRED. Up to K = 11 (PAIRED_MAX_K), ``_count_paired`` counts two samples with one increment. The
check loop writes the cell of each two samples, c1 * width + c2 (width = K * K + 1: a sample's
cells and a spare one for ignored samples); the scatter increments a table of width ** 2 pair
cells; at the end each pair cell's count goes to both its cells. Half the increments, the
scatter's cost, for one fold of the table. The table has four copies up to K = 8 and two above:
four of K = 10's 40 KiB tables spill from L1. One copy is fastest on varied pairs, but on a
stream of one pair an increment waits on the last one's store. Measured, 1M int64 pairs, one
thread, in one process, ms (numpy's ``max()`` of both arrays: 0.16-0.18):

  ====  ==================  =============================  ======  ======  ======
  K     pairs               four copies of the matrix      paired  1 copy  4 copies
  ====  ==================  =============================  ======  ======  ======
  10    70% diagonal        0.31-0.34                      0.29    0.28    0.33-0.35
  10    99% one pair        0.57-0.59                      0.52    0.78    0.41-0.43
  8     99% one pair        0.55-0.58                      0.38    0.74    (paired)
  2     70% diagonal        0.37-0.38                      0.23    0.29    (paired)
  2     99% one pair        0.47                           0.35    0.56    (paired)
  11    70% diagonal        0.32-0.33                      0.30    0.29    0.34
  ====  ==================  =============================  ======  ======  ======
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.core import types
from numba.extending import overload

from .counting import (INT64_PER_LINE, _block_of, _kept, _label_ok, _plain, _weight_at, _weight_ok,
                       count_pairs_weighted_in_slots, jit, prefetch_read)

Array = np.ndarray

BLOCK_PAIRS = 1 << 15  # samples checked per block (both label blocks stay in L2 for the scatter; 1024: ~7% slower)
SPREAD_MIN = 1 << 14  # samples: below, zeroing and adding four copies of the matrix costs more than it saves
SPREAD_CELLS = 1 << 12  # cells (K <= 64): the four copies stay in L1 or L2
# _count_spread's block: checked and its cells written in one loop, then counted from them, the
# next block's labels prefetched meanwhile (1M int64 pairs, K = 10, one thread, in one process:
# 1024 pairs 0.43 ms without prefetch, 0.38 with; 2048 0.36, 4096 0.34, 8192 0.32, 16384 0.32;
# without prefetch, blocks of 2048-8192 measured within the noise of 1024)
SPREAD_BLOCK = 8192
PAIRED_MAX_K = 11  # _count_paired up to K = 11: a table of (K * K + 1) ** 2 pair cells, 59 KiB of uint32 a copy
FOUR_TABLES_MAX_K = 8  # four copies of the pair table up to K = 8 (67 KiB); two above (see PAIRED)
PAIRED_BLOCK = 1 << 14  # samples checked per block (1M pairs, K = 10: 8192 0.277 ms, 16384 0.269)
PAIRED_CHUNK = 1 << 31  # samples counted into the uint32 tables between two folds: no cell can overflow


@jit
def _block_ok(y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool) -> bool:
    ok = True
    for i in range(y_true.shape[0]):
        ok &= (use_ignore & (y_true[i] == ignore)) | (_label_ok(y_true[i], n) & _label_ok(y_pred[i], n))
    return ok


@jit
def _first_bad(t: Array, p: Array, n: int, ignore: Any, use_ignore: bool) -> int:
    """The index of the first bad sample of a block that failed _block_ok."""
    bad = 0
    while (use_ignore and t[bad] == ignore) or (_label_ok(t[bad], n) and _label_ok(p[bad], n)):
        bad += 1
    return bad


@jit
def _first_bad_pair(y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool) -> int:
    """The index of the first bad sample of a batch, checked a block at a time, or -1."""
    size = y_true.shape[0]
    for start in range(0, size, BLOCK_PAIRS):
        stop = min(start + BLOCK_PAIRS, size)
        t = y_true[start:stop]
        p = y_pred[start:stop]
        if not _block_ok(t, p, n, ignore, use_ignore):
            return start + _first_bad(t, p, n, ignore, use_ignore)
    return -1


def _index(v: Any) -> Any:
    """v as an unsigned index (numba picks the form for v's type); meaningful for labels that
    pass _label_ok only."""
    return np.uint64(v)


@overload(_index)
def _index_overload(v: Any) -> Any:
    if isinstance(v, (types.Integer, types.Boolean)):
        def index(v: Any) -> Any:
            return np.uint64(v)
    else:
        def index(v: Any) -> Any:  # NaN or out of range: 0, not the conversion's undefined value
            return np.uint64(v) if (v >= 0) & (v < 2.0**63) else np.uint64(0)
    return index


@jit
def _checked_cells(t: Array, p: Array, n: int, ignore: Any, use_ignore: bool, skip: Any, cells: Array) -> bool:
    """_block_ok, writing each sample's flat cell t * n + p into cells as it checks (skip, a
    spare cell, for an ignored sample): one vectorized loop."""
    un = np.uint64(n)
    ok = True
    if use_ignore:  # (two loops: the compiler does not take the test out of one)
        for j in range(t.shape[0]):
            kept = t[j] != ignore
            ok &= ~kept | (_label_ok(t[j], n) & _label_ok(p[j], n))
            cells[j] = _index(t[j]) * un + _index(p[j]) if kept else skip
    else:
        for j in range(t.shape[0]):
            ok &= _label_ok(t[j], n) & _label_ok(p[j], n)
            cells[j] = _index(t[j]) * un + _index(p[j])
    return ok


@jit
def _count_spread(y_true: Array, y_pred: Array, weight: Array | None, n: int, ignore: Any, use_ignore: bool,
                  cm: Array) -> int:
    """count_pairs (weight None) or count_pairs_weighted through four private copies of cm (see
    the module), each with a spare cell for ignored samples; added to cm when every block is
    valid. A block's labels and cells are checked in one vectorized loop, its weights in another
    (an ignored sample's weight is not checked, and goes to the spare cell)."""
    size = y_true.shape[0]
    cells = n * n
    width = cells + 1
    copies = np.zeros(4 * width, cm.dtype)
    c0, c1, c2, c3 = copies[:width], copies[width:2 * width], copies[2 * width:3 * width], copies[3 * width:]
    at = np.empty(SPREAD_BLOCK, np.uint16)  # cells < SPREAD_CELLS
    for start in range(0, size, SPREAD_BLOCK):
        stop = min(start + SPREAD_BLOCK, size)
        t = y_true[start:stop]
        p = y_pred[start:stop]
        w = _block_of(weight, start, stop)  # views from index 0: no wraparound check in the loops below
        ok = _checked_cells(t, p, n, ignore, use_ignore, np.uint64(cells), at)
        if weight is not None:
            for j in range(t.shape[0]):
                ok &= _weight_ok(w, j) | (use_ignore & (t[j] == ignore))
        if not ok:
            for j in range(t.shape[0]):
                if _kept(t[j], ignore, use_ignore) and not (_label_ok(t[j], n) and _label_ok(p[j], n)
                                                            and _weight_ok(w, j)):
                    return start + j
        m = stop - start
        whole = m - m % 4
        next_t = y_true[stop:min(size, stop + SPREAD_BLOCK)]  # the next block's labels: see PREFETCH
        next_p = y_pred[stop:min(size, stop + SPREAD_BLOCK)]
        for j in range(0, whole, 4):  # unrolled by hand: four independent chains of increments
            if j % INT64_PER_LINE == 0 and j < next_t.shape[0]:
                prefetch_read(next_t, (j,))
                prefetch_read(next_p, (j,))
            c0[at[j]] += _weight_at(w, j)
            c1[at[j + 1]] += _weight_at(w, j + 1)
            c2[at[j + 2]] += _weight_at(w, j + 2)
            c3[at[j + 3]] += _weight_at(w, j + 3)
        for j in range(whole, m):
            c0[at[j]] += _weight_at(w, j)
    for a in range(n):
        for b in range(n):
            c = a * n + b
            cm[a, b] += (c0[c] + c1[c]) + (c2[c] + c3[c])
    return -1


@jit
def _checked_pair_cells(t: Array, p: Array, n: int, ignore: Any, use_ignore: bool, width: int, cells: Array) -> bool:
    """_block_ok for a block of even length, writing the cell of each two samples into cells: (t[2j] * n + p[2j]) *
    width + t[2j+1] * n + p[2j+1], a sample's own cell replaced by the spare cell n * n when ignored. One vectorized
    loop (two: the compiler does not take the test of use_ignore out of one)."""
    un, spare, uw = np.uint64(n), np.uint64(n * n), np.uint64(width)
    ok = True
    if use_ignore:
        for j in range(t.shape[0] // 2):
            a, b, c, d = t[2 * j], p[2 * j], t[2 * j + 1], p[2 * j + 1]
            first, second = a != ignore, c != ignore
            ok &= (~first | (_label_ok(a, n) & _label_ok(b, n))) & (~second | (_label_ok(c, n) & _label_ok(d, n)))
            one = _index(a) * un + _index(b) if first else spare
            two = _index(c) * un + _index(d) if second else spare
            cells[j] = np.uint32(one * uw + two)
    else:
        for j in range(t.shape[0] // 2):
            a, b, c, d = t[2 * j], p[2 * j], t[2 * j + 1], p[2 * j + 1]
            ok &= _label_ok(a, n) & _label_ok(b, n) & _label_ok(c, n) & _label_ok(d, n)
            cells[j] = np.uint32((_index(a) * un + _index(b)) * uw + _index(c) * un + _index(d))
    return ok


@jit
def _count_paired(y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool, cm: Array,
                  chunk: int = PAIRED_CHUNK) -> int:
    """count_pairs for K <= PAIRED_MAX_K, two samples an increment (see PAIRED): into two or four private copies of
    the pair table, folded every chunk samples (a multiple of PAIRED_BLOCK; smaller in tests) and added to cm when
    every block is valid."""
    size = y_true.shape[0]
    width = n * n + 1  # a sample's cells and the spare one
    area = width * width
    copies = 4 if n <= FOUR_TABLES_MAX_K else 2
    tables = np.empty(copies * area, np.uint32)
    second, third, fourth = area * (1 % copies), area * (2 % copies), area * (3 % copies)
    totals = np.zeros(width, np.int64)
    at = np.empty(PAIRED_BLOCK // 2, np.uint32)
    for first in range(0, size, chunk):
        tables[:] = 0
        end = min(first + chunk, size)
        for start in range(first, end, PAIRED_BLOCK):
            stop = min(start + PAIRED_BLOCK, end)
            t = y_true[start:stop]  # views from index 0: no wraparound check in the loops below
            p = y_pred[start:stop]
            m = stop - start
            ok = _checked_pair_cells(t, p, n, ignore, use_ignore, width, at)
            if m % 2:  # the batch's last sample, on its own
                ok &= _block_ok(t[m - 1:], p[m - 1:], n, ignore, use_ignore)
            if not ok:
                return start + _first_bad(t, p, n, ignore, use_ignore)
            if m % 2 and _kept(t[m - 1], ignore, use_ignore):
                totals[_index(t[m - 1]) * np.uint64(n) + _index(p[m - 1])] += 1
            half = m // 2
            whole = half - half % 4
            next_t = y_true[stop:min(size, stop + PAIRED_BLOCK)]  # the next block's labels: see PREFETCH
            next_p = y_pred[stop:min(size, stop + PAIRED_BLOCK)]
            for j in range(0, whole, 4):  # four pairs: a line of int64 labels
                if 2 * j < next_t.shape[0]:
                    prefetch_read(next_t, (2 * j,))
                    prefetch_read(next_p, (2 * j,))
                tables[at[j]] += np.uint32(1)
                tables[second + at[j + 1]] += np.uint32(1)
                tables[third + at[j + 2]] += np.uint32(1)
                tables[fourth + at[j + 3]] += np.uint32(1)
            for j in range(whole, half):
                tables[at[j]] += np.uint32(1)
        _fold_pairs(tables, copies, width, totals)
    for a in range(n):
        for b in range(n):
            cm[a, b] += totals[a * n + b]
    return -1


@jit
def _fold_pairs(tables: Array, copies: int, width: int, totals: Array) -> None:
    """totals[c] += the count of every pair whose first or second cell is c, summed over the copies."""
    area = width * width
    for c in range(1, copies):
        tables[:area] += tables[c * area:(c + 1) * area]
    for first in range(width):
        row = tables[first * width:(first + 1) * width]
        totals[first] += row.sum()
        totals += row


@jit
def count_pairs_weighted(y_true: Array, y_pred: Array, weight: Array, n: int, ignore: Any, use_ignore: bool,
                         cm: Array, slots: Array | None = None) -> int:
    """cm[y_true[i], y_pred[i]] += weight[i] for each sample whose y_true is not ``ignore``; -1,
    or the first bad sample's index (a bad label or weight) with cm unchanged. A large batch into
    a small matrix is added through four copies (measured, 1M pairs, K = 10, one thread: 2.8 ms
    checked then added in one table, 1.0 ms)."""
    if slots is None and y_true.shape[0] >= SPREAD_MIN and n * n <= SPREAD_CELLS:
        return _count_spread(y_true, y_pred, weight, n, ignore, use_ignore, _plain(cm, slots))
    return count_pairs_weighted_in_slots(y_true, y_pred, weight, n, ignore, use_ignore, cm, slots)


@jit
def count_pairs(y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool, cm: Array) -> int:
    """cm[y_true[i], y_pred[i]] += 1 for each sample whose y_true is not ``ignore``; -1, or the
    first bad sample's index with cm unchanged."""
    size = y_true.shape[0]
    if size >= SPREAD_MIN and n <= PAIRED_MAX_K:
        return _count_paired(y_true, y_pred, n, ignore, use_ignore, cm)
    if size >= SPREAD_MIN and n * n <= SPREAD_CELLS:
        return _count_spread(y_true, y_pred, None, n, ignore, use_ignore, cm)
    for start in range(0, size, BLOCK_PAIRS):
        stop = min(start + BLOCK_PAIRS, size)
        t = y_true[start:stop]  # views from index 0: no wraparound check in the loops below
        p = y_pred[start:stop]
        if not _block_ok(t, p, n, ignore, use_ignore):
            bad = _first_bad(t, p, n, ignore, use_ignore)
            for j in range(start):
                if not (use_ignore and y_true[j] == ignore):
                    cm[np.uint64(y_true[j]), np.uint64(y_pred[j])] -= 1
            return start + bad
        if use_ignore:
            for j in range(t.shape[0]):
                if t[j] != ignore:
                    cm[np.uint64(t[j]), np.uint64(p[j])] += 1
        else:
            for j in range(t.shape[0]):
                cm[np.uint64(t[j]), np.uint64(p[j])] += 1
    return -1


OVERFLOW = -2  # count_pairs_ring: a slot would pass its bound


@jit
def count_pairs_ring(y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool, ring: Array,
                     first_slot: int, first_end: int, width: int, skipped: int, n_empty: int, empty_slot: int,
                     limit: int) -> int:
    """A window's batch of pairs in one call (streameval._window_pairs), all or nothing: every
    label checked (-1, else the first bad sample's index), every slot's total after the batch
    checked against limit (else OVERFLOW), both before anything changes; then the n_empty slots
    from empty_slot on (the buckets the ring moves on to) emptied, and the samples from skipped
    on counted a piece per bucket: piece r ends at first_end + r * width (the batch's end at
    most), into slot (first_slot + r) % slots."""
    size = y_true.shape[0]
    bad = _first_bad_pair(y_true, y_pred, n, ignore, use_ignore)
    if bad >= 0:
        return bad
    slots = ring.shape[0]
    pos, r = skipped, 0
    while pos < size:  # each touched slot: its total (0 once emptied) plus its piece within limit
        end = min(first_end + r * width, size)
        slot = (first_slot + r) % slots
        emptied = (slot - empty_slot) % slots < n_empty
        if (0 if emptied else ring[slot].sum()) + (end - pos) > limit:
            return OVERFLOW
        pos, r = end, r + 1
    for e in range(n_empty):
        ring[(empty_slot + e) % slots] = 0
    pos, r = skipped, 0
    while pos < size:
        end = min(first_end + r * width, size)
        cm = ring[(first_slot + r) % slots]
        for i in range(pos, end):
            if not (use_ignore and y_true[i] == ignore):
                cm[np.uint64(y_true[i]), np.uint64(y_pred[i])] += 1
        pos, r = end, r + 1
    return -1
