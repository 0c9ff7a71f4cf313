"""The predicted class of (N, K) score rows: the first index of each row's maximum, as numpy's
argmax, with the row checked once (every score in [lo, hi]: finite with ANY_SCORE's bounds).

Two ways to find a row's maximum, both one pass over the row that the compiler can schedule well:

* few classes (K < WIDE): a branchless scan (``s > best`` selects the score and its index; the
  strict comparison keeps the first maximum). Each row is a short dependency chain, and rows
  overlap in the processor. The range check runs first over a block of rows as one flat,
  vectorized loop: its reduction has no branch, so NaN (which fails both comparisons) is caught
  without a test per score.
* many classes (K >= WIDE, float32 or float64 rows): the row's minimum and maximum as integer
  keys of the float bits (``bits ^ ((bits >> 31) & 0x7fffffff)``, monotonic in the float's
  value, NaN beyond the infinities): integer min/max reductions vectorize where float ones do not
  (numba marks no fast-math on the select). The minimum and maximum keys check the row in two
  comparisons against the bounds' keys (NaN keys lie beyond them). A float32 key shares an int64
  with its index, so one maximum gives the first index of the row's maximum; a float64 row keeps
  the first chunk that raised the maximum and searches only it. -0.0 equals 0.0 to numpy, so a
  zero maximum is moved to the first zero of either sign.

``count_argmax`` fuses the argmax with counting the pairs (y_true, argmax) into the confusion
matrix: one kernel call and no (N,) temporary for a score batch. On a bad sample (a label out of
range, a bad score in a kept row) it subtracts what it added and returns the sample's index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .counting import Array, _is_class, _kept, jit, jit_inlined

_LOWEST, _HIGHEST = -(1 << 63), (1 << 63) - 1  # keys bounding every value, NaN included
_LOW_HALF = 0xFFFFFFFF  # the low 32 bits of an int64
WIDE = 64  # rows this long (a CHUNK at least) are searched by integer keys (float32/64); shorter ones by a scan
CHUNK = 64  # keys per chunk of a wide row's pass (the width that the compiler vectorizes best here)
NO_BITS = np.empty((0, 0), dtype=np.int64)  # the bits argument for rows shorter than WIDE: unused
BLOCK_SCORES = 4096  # scores checked per flat block (a block of rows stays in L1 for the argmax after the check)


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
def _wide_row(row: Array, bits: Array, lo_key: int, hi_key: int) -> int:
    """The argmax of a long float row, or -1 when a score is outside the bounds (as keys: see
    bound_keys). bits: the row's bits as integers; at least CHUNK of them (WIDE). Inlined: a call
    per row would count references to both row views (atomic operations: a third of the pass)."""
    narrow = bits.itemsize == 4
    at = _narrow_row(bits, lo_key, hi_key) if narrow and bits.shape[0] <= _LOW_HALF else \
        _chunked_row(bits, narrow, lo_key, hi_key)
    if at >= 0 and row[at] == 0:  # -0.0 and 0.0 are one maximum, as numpy compares them: the first of either
        at = 0
        while row[at] != 0:
            at += 1
    return at


@jit
def _narrow_row(bits: Array, lo_key: int, hi_key: int) -> int:
    """_wide_row of float32 bits (fewer than 2**32), in one vectorized pass with one reduction per
    row: each 32-bit key goes to the high half of an int64 and the index, inverted, to the low
    half, so the maximum of these holds the maximum key and, among its equals, the first index.
    (A reduction per CHUNK, as _chunked_row, costs as much again as the pass.)"""
    mn, mx = _HIGHEST, _LOWEST
    for j in range(bits.shape[0]):
        x = np.int64(bits[j])
        key = x ^ ((x >> 31) & 0x7FFFFFFF)
        mn = min(mn, key)
        mx = max(mx, (key << 32) | (_LOW_HALF - j))
    if not ((mn >= lo_key) & ((mx >> 32) <= hi_key)):
        return -1
    return _LOW_HALF - (mx & _LOW_HALF)


@jit
def _chunked_row(bits: Array, narrow: bool, lo_key: int, hi_key: int) -> int:
    """_wide_row of float64 bits (a key fills an int64: no room for an index). One pass: each
    CHUNK of keys reduced to its minimum and maximum (vectorized), the first chunk that raises the
    row's maximum remembered, so only that chunk is searched for the maximum's first index."""
    shift = 31 if narrow else 63  # _key's, as loop invariants: no branch per score
    mask = 0x7FFFFFFF if narrow else 0x7FFFFFFFFFFFFFFF
    k = bits.shape[0]
    mn, mx, start = _HIGHEST, _LOWEST, 0
    whole = k - k % CHUNK
    for c in range(whole // CHUNK):
        base = c * CHUNK
        cmn, cmx = _HIGHEST, _LOWEST
        for j in range(CHUNK):  # a constant trip count: vectorized
            x = np.int64(bits[base + j])
            key = x ^ ((x >> shift) & mask)
            cmn = min(cmn, key)
            cmx = max(cmx, key)
        mn = min(mn, cmn)
        if cmx > mx:  # strict: the first chunk holding the maximum
            mx, start = cmx, base
    if whole < k:  # the tail: the last CHUNK keys, a chunk overlapping the one before (vectorized as the others)
        tail = k - CHUNK
        last = bits[tail:]
        cmn, cmx = _HIGHEST, _LOWEST
        for j in range(CHUNK):
            x = np.int64(last[j])
            key = x ^ ((x >> shift) & mask)
            cmn = min(cmn, key)
            cmx = max(cmx, key)
        mn = min(mn, cmn)
        if cmx > mx:  # strict: a maximum in the overlap was seen, first, by the chunk before
            mx, start = cmx, tail
    if not ((mn >= lo_key) & (mx <= hi_key)):
        return -1
    top = _key(mx, narrow)  # the maximum's bits
    at: int = k  # its first index in the chunk found: a branchless minimum over CHUNK keys
    chunk = bits[start:start + CHUNK]  # a view from 0: no wraparound check, so the loop vectorizes
    for j in range(CHUNK):
        at = min(at, j if chunk[j] == top else k)
    return at + start


@jit
def argmax_rows(scores: Array, bits: Array, keep: Array, lo: float, hi: float, lo_key: int, hi_key: int,
                out: Array) -> int:
    """out[i] = first index of the maximum of scores[i]; returns the first row with a score outside
    [lo, hi], or -1. With a non-empty keep, rows where keep[i] is False are not read (out[i] = 0).
    bits: scores viewed as int32 (float32) or int64 (float64) for rows of WIDE scores or more, else
    an empty (0, 0) array; lo_key, hi_key: the bounds as keys (bound_keys), read with bits."""
    n, k = scores.shape
    use_keep = keep.shape[0] > 0
    if n == 0:
        return -1
    if k >= WIDE and bits.shape[0] == n:
        for i in range(n):
            if use_keep and not keep[i]:
                out[i] = 0
                continue
            at = _wide_row(scores[i], bits[i], lo_key, hi_key)
            if at < 0:
                return i
            out[i] = at
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
    wide = k >= WIDE and bits.shape[0] == rows_n
    if wide:
        for i in range(rows_n):
            t = y_true[i]
            if not _kept(t, ignore, use_ignore):
                continue
            at = _wide_row(scores[i], bits[i], lo_key, hi_key) if _is_class(t, n) else -1
            if at < 0:
                _undo(y_true, scores, bits, i, ignore, use_ignore, cm)
                return i
            cm[np.int64(t), at] += 1
        return -1
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
def _undo(y_true: Array, scores: Array, bits: Array, stop: int, ignore: Any, use_ignore: bool, cm: Array) -> None:
    """Subtract the counts of samples 0 .. stop - 1 (all valid): the argmax again, exactly."""
    k = scores.shape[1]
    wide = k >= WIDE and bits.shape[0] == scores.shape[0]
    for i in range(stop):
        t = y_true[i]
        if _kept(t, ignore, use_ignore):
            at = _wide_row(scores[i], bits[i], _LOWEST, _HIGHEST) if wide else _scan(scores[i])
            cm[np.int64(t), at] -= 1
