"""count_pairs: Multiclass and Binary labels into a confusion matrix, checked a block at a time.

The check of a block (every kept label integral and in [0, n)) is its own branch-free loop, which
vectorizes: an integer label is one unsigned comparison (``np.uint64(v) < n`` folds both bounds).
The scatter that follows has no check left in it. On a bad block, the first bad sample is found
in it and the blocks counted before it are subtracted back: the counts are exactly what they were.
Same results and rules as count_pairs_in_slots (counting.py), which keeps the slotted case.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.core import types
from numba.extending import overload

from .counting import jit

Array = np.ndarray

BLOCK_PAIRS = 1024  # samples checked per block (both label blocks stay in L1 for the scatter)


def _label_ok(v: Any, n: int) -> bool:
    """v is an integral value in [0, n) (numba picks the form for v's type)."""
    return bool(v >= 0 and v < n and np.floor(v) == v)


@overload(_label_ok)
def _label_ok_overload(v: Any, n: Any) -> Any:
    if isinstance(v, (types.Integer, types.Boolean)):
        def ok(v: Any, n: Any) -> Any:
            return np.uint64(v) < np.uint64(n)
    else:
        def ok(v: Any, n: Any) -> Any:
            return (v >= 0) & (v < n) & (np.floor(v) == v)  # NaN fails every comparison
    return ok


@jit
def _block_ok(y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool) -> bool:
    ok = True
    for i in range(y_true.shape[0]):
        ok &= (use_ignore & (y_true[i] == ignore)) | (_label_ok(y_true[i], n) & _label_ok(y_pred[i], n))
    return ok


@jit
def count_pairs(y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool, cm: Array) -> int:
    """cm[y_true[i], y_pred[i]] += 1 for each sample whose y_true is not ``ignore``; -1, or the
    first bad sample's index with cm unchanged."""
    size = y_true.shape[0]
    for start in range(0, size, BLOCK_PAIRS):
        stop = min(start + BLOCK_PAIRS, size)
        t = y_true[start:stop]  # views from index 0: no wraparound check in the loops below
        p = y_pred[start:stop]
        if not _block_ok(t, p, n, ignore, use_ignore):
            bad = 0
            while (use_ignore and t[bad] == ignore) or (_label_ok(t[bad], n) and _label_ok(p[bad], n)):
                bad += 1
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
    for start in range(0, size, BLOCK_PAIRS):
        stop = min(start + BLOCK_PAIRS, size)
        t = y_true[start:stop]
        p = y_pred[start:stop]
        if not _block_ok(t, p, n, ignore, use_ignore):
            bad = 0
            while (use_ignore and t[bad] == ignore) or (_label_ok(t[bad], n) and _label_ok(p[bad], n)):
                bad += 1
            return start + bad
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
