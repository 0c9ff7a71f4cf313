"""The predicted class of (N, K) score rows: the first index of each row's maximum, as numpy's
argmax, with the row checked once (every score in [lo, hi]: finite with ANY_SCORE's bounds).

Two ways to find a row's maximum, both branch-free loops that the compiler can schedule well:

* few classes (rows shorter than ``KEYED_FROM`` gives their dtype): a branchless scan (``s >
  best`` selects the score and its index; the strict comparison keeps the first maximum). Each
  row is a short dependency chain, and rows overlap in the processor. The range check runs first
  over a block of rows as one flat, vectorized loop: its reduction has no branch, so NaN (which
  fails both comparisons) is caught without a test per score. The storage and the direct path
  count contiguous float rows of fewer than 16 scores with ``short_rows``' kernels, compiled per
  row length, which search several rows at once; the scan keeps the other short rows.
* more classes (float32 rows of 16 scores or more, float64 of 48): the row's minimum and maximum
  as integer keys of the float bits (``bits ^ ((bits >> 31) & 0x7fffffff)``, monotonic in the
  float's value, NaN beyond the infinities): integer min/max reductions vectorize where float
  ones do not (numba marks no fast-math on the select). The minimum and maximum keys check the
  row in two comparisons against the bounds' keys (NaN keys lie beyond them). A float32 key
  shares an int64 with its index, so one maximum gives the first index of the row's maximum; a
  float64 key's high half does (a second pass only for near ties: see _double_row). -0.0 equals 0.0
  to numpy, so a zero maximum is moved to the first zero of either sign. These rows are searched
  a block at a time by a function of one plain loop (``_keyed_block``): how the compiler
  vectorizes a row's short loop depends on what surrounds it (see there). Contiguous float32
  rows of ``long_rows.LONG_FROM`` scores or more are searched by ``long_rows``' vector code
  instead, in float32 lanes (``rows`` picks the kernel).

``count_argmax`` fuses the argmax with counting the pairs (y_true, argmax) into the confusion
matrix: one kernel call and no (N,) temporary for a score batch. On a bad sample (a label out of
range, a bad score in a kept row) it subtracts what it added and returns the sample's index.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .counting import Array, _is_class, _kept, _label_ok, jit, jit_inlined

_LOWEST, _HIGHEST = -(1 << 63), (1 << 63) - 1  # keys bounding every value, NaN included
_LOW_HALF = 0xFFFFFFFF  # the low 32 bits of an int64
_HIGH_HALF = -(1 << 32)  # its high 32 bits
# Rows this long are searched by integer keys, shorter ones by a scan. Measured with count_argmax,
# 4M scores, one core (ms, keys / scan): float32 K=12 3.1 / 2.2 (the vectorized loop is mostly its
# remainder), K=16 1.4 / 2.2, K=24 1.2 / 2.7; float64 K=32 3.5 / 2.6, K=48 2.5 / 2.8, K=64 1.9 / 2.9.
KEYED_FROM = {np.dtype(np.float32): 16, np.dtype(np.float64): 48}
KEYED_MIN = min(KEYED_FROM.values())
_BIT_TYPES = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}
NO_BITS = np.empty((0, 0), dtype=np.int64)  # the bits argument for rows scanned: unused
KEYED_BLOCK = 256  # rows searched by keys per call of _keyed_block (argmax_rows; _count_keyed adds their counts after)
BLOCK_SCORES = 4096  # scores checked per flat block (a block of rows stays in L1 for the argmax after the check)


@functools.cache  # called per batch by row_bits, with few distinct arguments
def bound_keys(lo: float, hi: float, dtype: np.dtype) -> tuple[int, int]:
    """(lo_key, hi_key): the keys (_key) of the scores of dtype (float32 or float64) that
    compare >= lo and <= hi in float64, as the other kernels compare them."""
    ftype = np.float32 if dtype == np.float32 else np.float64
    with np.errstate(over="ignore"):
        low, high = ftype(lo), ftype(hi)
    if float(low) < lo:
        low = np.nextafter(low, ftype(np.inf))
    if float(high) > hi:
        high = np.nextafter(high, ftype(-np.inf))
    low = ftype(-0.0) if low == 0 else low  # -0.0 >= 0.0 and 0.0 <= -0.0: both zeros pass a zero bound
    high = ftype(0.0) if high == 0 else high
    narrow = ftype is np.float32
    bits = np.array([low, high], dtype=ftype).view(np.int32 if narrow else np.int64).astype(np.int64)
    keys = bits ^ ((bits >> 31) & 0x7FFFFFFF) if narrow else bits ^ ((bits >> 63) & np.int64(0x7FFFFFFFFFFFFFFF))
    return int(keys[0]), int(keys[1])


def row_bits(scores: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, int, int]:
    """What the argmax kernels read besides the scores: (bits, lo_key, hi_key), the scores' bits
    as integers and the bounds as keys, for rows searched by keys (contiguous float rows of
    KEYED_FROM scores or more); (NO_BITS, 0, 0) for rows scanned."""
    least = KEYED_FROM.get(scores.dtype)
    if least is None or not least <= scores.shape[1] <= _LOW_HALF or not scores.flags.c_contiguous:
        return NO_BITS, 0, 0  # (a row of 2**32 scores or more would not leave its index room in _narrow_row)
    return scores.view(_BIT_TYPES[scores.dtype]), *bound_keys(lo, hi, scores.dtype)


@jit
def _in_range(s: float, lo: float, hi: float) -> bool:
    return (s >= lo) & (s <= hi)


@jit
def _scan(row: Array) -> int:
    """First index of the maximum of a row with no NaN (branchless: compiled to selects)."""
    best = row[0]
    at = 0
    for k in range(1, row.shape[0]):
        s = row[k]
        c = s > best
        best = s if c else best
        at = k if c else at
    return at


@jit
def _row_ok(row: Array, lo: float, hi: float) -> bool:
    ok = True
    for k in range(row.shape[0]):
        ok &= _in_range(row[k], lo, hi)
    return ok


@jit
def _key(b: Any, narrow: bool) -> Any:
    """An order-keeping int64 key of float bits (of float32 when narrow, sign-extended from int32;
    else of float64): every bit below the float's sign flipped when it is negative. Monotonic in
    the float's value, -0.0 below 0.0, NaN beyond the infinities; its own inverse."""
    x = np.int64(b)
    if narrow:
        return x ^ ((x >> 31) & 0x7FFFFFFF)
    return x ^ ((x >> 63) & 0x7FFFFFFFFFFFFFFF)


@jit_inlined
def _keyed_row(scores: Array, bits: Array, i: int, lo_key: int, hi_key: int) -> int:
    """The argmax of row i, searched by keys (bits: row_bits'), or -1 when a score is outside the
    bounds (as keys: see bound_keys). The row functions are inlined and index the 2-d arrays: a
    call, or a view of the row, per row would count references to the arrays (atomic
    operations: on (4096, 1000) float32, a third of the time)."""
    at = _narrow_row(bits, i, lo_key, hi_key) if bits.itemsize == 4 else _double_row(bits, i, lo_key, hi_key)
    if at >= 0 and scores[i, at] == 0:  # -0.0 and 0.0 are one maximum, as numpy compares them: the first of either
        at = 0
        while scores[i, at] != 0:
            at += 1
    return at


@jit_inlined
def _narrow_row(bits: Array, i: int, lo_key: int, hi_key: int) -> int:
    """_keyed_row of float32 bits (rows of fewer than 2**32), in one vectorized pass with one
    reduction per row: each 32-bit key goes to the high half of an int64 and the index, inverted,
    to the low half, so the maximum of these holds the maximum key and, among its equals, the
    first index. (A reduction per chunk of the row costs as much again as the pass.)"""
    mn, mx = _HIGHEST, _LOWEST
    for j in range(bits.shape[1]):
        x = np.int64(bits[i, j])
        key = x ^ ((x >> 31) & 0x7FFFFFFF)  # _key's, written out: a call in the loop could keep it from vectorizing
        mn = min(mn, key)
        mx = max(mx, (key << 32) | (_LOW_HALF - j))
    if not ((mn >= lo_key) & ((mx >> 32) <= hi_key)):
        return -1
    return _LOW_HALF - (mx & _LOW_HALF)


@jit_inlined
def _double_row(bits: Array, i: int, lo_key: int, hi_key: int) -> int:
    """_keyed_row of float64 bits. A key fills an int64, so its high 32 bits share one with the
    inverted index: the maximum of these gives the first index whose key has the row's highest
    high half, in the same pass as the keys' minimum and maximum. That index holds the maximum,
    and is its first, unless a larger key with the same high half comes later (values within
    about 2**-20 of each other): then a second pass finds the maximum's first index. (Measured,
    float64, per row: K=1000 0.21 us against 0.37 us for two passes, K=100 20 ns against 28.)"""
    k = bits.shape[1]
    mn, mx, high = _HIGHEST, _LOWEST, _LOWEST
    for j in range(k):
        x = np.int64(bits[i, j])
        key = x ^ ((x >> 63) & 0x7FFFFFFFFFFFFFFF)  # _key's, written out as _narrow_row's is
        mn = min(mn, key)
        mx = max(mx, key)
        high = max(high, (key & _HIGH_HALF) | (_LOW_HALF - j))
    if not ((mn >= lo_key) & (mx <= hi_key)):
        return -1
    at: int = _LOW_HALF - (high & _LOW_HALF)
    if _key(bits[i, at], False) == mx:
        return at
    top = _key(mx, False)  # the maximum's bits
    at = k
    for j in range(k):  # branchless: a vectorized minimum
        at = min(at, j if bits[i, j] == top else k)
    return at


@jit
def argmax_rows(scores: Array, bits: Array, keep: Array, lo: float, hi: float, lo_key: int, hi_key: int,
                out: Array) -> int:
    """out[i] = first index of the maximum of scores[i]; returns the first row with a score outside
    [lo, hi], or -1. With a non-empty keep, rows where keep[i] is False are not read (out[i] = 0).
    bits, lo_key, hi_key: row_bits' (rows searched by keys), or NO_BITS (rows scanned)."""
    n, k = scores.shape
    use_keep = keep.shape[0] > 0
    if n == 0:
        return -1
    if bits.shape[0] == n:
        for start in range(0, n, KEYED_BLOCK):
            stop = min(n, start + KEYED_BLOCK)
            bad = _keyed_block_masked(scores, bits, start, stop, keep[start:stop], lo_key, hi_key, out[start:stop]) \
                if use_keep else _keyed_block(scores, bits, start, stop, lo_key, hi_key, out[start:stop])
            if bad >= 0:
                return bad
        return -1
    rows = max(1, BLOCK_SCORES // max(k, 1))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        block = scores[start:stop]
        if not _block_ok(block, lo, hi):
            for i in range(start, stop):
                if not (use_keep and not keep[i]) and not _row_ok(scores[i], lo, hi):
                    return i
        for i in range(start, stop):
            out[i] = _scan(scores[i]) if not use_keep or keep[i] else 0
    return -1


@jit
def _block_ok(block: Array, lo: float, hi: float) -> bool:
    """Every score of a block of rows in [lo, hi]: one flat loop when the block is contiguous."""
    ok = True
    if block.flags.c_contiguous:
        flat = block.ravel()
        for e in range(flat.shape[0]):
            ok &= _in_range(flat[e], lo, hi)
    else:
        for i in range(block.shape[0]):
            ok &= _row_ok(block[i], lo, hi)
    return ok


@jit
def count_argmax(y_true: Array, scores: Array, bits: Array, n: int, ignore: Any, use_ignore: bool, lo: float,
                 hi: float, lo_key: int, hi_key: int, cm: Array) -> int:
    """cm[y_true[i], argmax(scores[i])] += 1 for each sample whose y_true is not ``ignore`` (whose
    scores are then not read); -1, or the first sample with a label outside [0, n) or a score
    outside [lo, hi], the counts then as they were. bits: as argmax_rows."""
    rows_n, k = scores.shape
    if rows_n == 0:
        return -1
    if bits.shape[0] == rows_n:
        return _count_keyed(y_true, scores, bits, n, ignore, use_ignore, lo_key, hi_key, cm)
    rows = max(1, BLOCK_SCORES // max(k, 1))
    for start in range(0, rows_n, rows):
        stop = min(rows_n, start + rows)
        block = scores[start:stop]
        labels = y_true[start:stop]
        checked = _block_ok(block, lo, hi)
        if checked and not use_ignore:  # the common block: a label test per row, the argmax counted at once
            for j in range(stop - start):
                t = labels[j]
                if not _is_class(t, n):
                    _undo(y_true, scores, bits, start + j, ignore, use_ignore, cm)
                    return start + j
                cm[np.int64(t), _scan(block[j])] += 1
            continue
        for j in range(stop - start):
            t = labels[j]
            if not _kept(t, ignore, use_ignore):
                continue
            if not (_is_class(t, n) and (checked or _row_ok(block[j], lo, hi))):
                _undo(y_true, scores, bits, start + j, ignore, use_ignore, cm)
                return start + j
            cm[np.int64(t), _scan(block[j])] += 1
    return -1


@jit
def _keyed_block(scores: Array, bits: Array, start: int, stop: int, lo_key: int, hi_key: int, out: Array) -> int:
    """out[i - start] = the argmax of row i, searched by keys, for rows start .. stop - 1; the first
    row with a score outside the bounds, or -1. The row loop has no exit, no label test and no
    other loop beside it in its function: each made the compiler schedule the row's search worse
    (measured: 3-6x the time on (200,000, 16) float32)."""
    bad = False
    for i in range(start, stop):
        at = _keyed_row(scores, bits, i, lo_key, hi_key)
        bad |= at < 0
        out[i - start] = at
    return _first_negative(out, start, stop) if bad else -1


@jit
def _keyed_block_masked(scores: Array, bits: Array, start: int, stop: int, read: Array, lo_key: int, hi_key: int,
                        out: Array) -> int:
    """_keyed_block of the rows i where read[i - start] (out 0 for the others). A function of its
    own, not a branch in _keyed_block: a second loop beside the first slowed it (see there)."""
    bad = False
    for i in range(start, stop):
        at = _keyed_row(scores, bits, i, lo_key, hi_key) if read[i - start] else 0
        bad |= at < 0
        out[i - start] = at
    return _first_negative(out, start, stop) if bad else -1


@jit
def _first_negative(out: Array, start: int, stop: int) -> int:
    for i in range(start, stop):
        if out[i - start] < 0:
            return i
    return -1


@jit_inlined
def _count_keyed(y_true: Array, scores: Array, bits: Array, n: int, ignore: Any, use_ignore: bool, lo_key: int,
                 hi_key: int, cm: Array) -> int:
    """count_argmax of rows searched by keys, a block of rows at a time: its labels checked in one
    vectorized loop, its argmaxes found (_keyed_block), then counted. (An increment right after
    its row's search waits for it, its address known only then, and holds the next row's loads
    back: measured 4.5 ms rather than 0.9 ms on (200,000, 16).)"""
    rows_n = scores.shape[0]
    size = min(rows_n, KEYED_BLOCK)
    found = np.empty(size, np.int64)
    read = np.empty(size if use_ignore else 0, np.bool_)
    for start in range(0, rows_n, KEYED_BLOCK):
        stop = min(rows_n, start + KEYED_BLOCK)
        labels = y_true[start:stop]  # loops over it from 0 vectorize (see short_rows.count_argmax_of)
        ok = True
        for j in range(labels.shape[0]):
            t = labels[j]
            ok &= _label_ok(t, n) | (use_ignore & (t == ignore))
        if use_ignore:
            for j in range(labels.shape[0]):
                read[j] = labels[j] != ignore
        bad = -1
        if not ok:  # the first bad sample: a bad label, or a bad score in a row before it
            for i in range(start, stop):
                t = y_true[i]
                if _kept(t, ignore, use_ignore) and not (_is_class(t, n) and _keyed_row(scores, bits, i, lo_key,
                                                                                        hi_key) >= 0):
                    bad = i
                    break
        else:
            bad = _keyed_block_masked(scores, bits, start, stop, read, lo_key, hi_key, found) if use_ignore else \
                _keyed_block(scores, bits, start, stop, lo_key, hi_key, found)
        if bad >= 0:
            _undo(y_true, scores, bits, start, ignore, use_ignore, cm)  # the blocks before this one
            return bad
        for j in range(labels.shape[0]):
            t = labels[j]
            if _kept(t, ignore, use_ignore):
                cm[np.int64(t), found[j]] += 1
    return -1


@jit
def _undo(y_true: Array, scores: Array, bits: Array, stop: int, ignore: Any, use_ignore: bool, cm: Array) -> None:
    """Subtract the counts of samples 0 .. stop - 1 (all valid): the argmax again, exactly."""
    wide = bits.shape[0] == scores.shape[0]
    for i in range(stop):
        t = y_true[i]
        if _kept(t, ignore, use_ignore):
            at = _keyed_row(scores, bits, i, _LOWEST, _HIGHEST) if wide else _scan(scores[i])
            cm[np.int64(t), at] -= 1
