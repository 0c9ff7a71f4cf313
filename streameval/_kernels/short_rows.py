"""count_argmax and argmax_rows for rows of fewer than 16 float scores, compiled per row length.

A training loop's classifier gives (N, K) scores with K small (10 classes: MNIST, CIFAR-10).
``argmax``'s scan searches such a row as one chain of comparisons, and the compiler cannot
search several rows at once: their scores are K apart, and K is known only at run time. Here
kernels are compiled for each K (``short_rows_kernels``, picked by ``rows``): a row is searched as
P parts of H scores (K = P * H, H the largest divisor of K up to 8). With H known when the
kernel compiles, the loop over a block's parts reads them as interleaved groups, de-interleaved
in vector registers, so 8 or 16 parts are searched at once; a second such loop compares each
row's P part maxima. Groups of more than 8 get gathers instead (measured 2-5x slower), hence
the parts. float64 parts are kept to 7 scores: 8 compiled to gathers too (3x slower on
(500,000, 8)).

Measured on one core, 2026-11-26 (AMD EPYC, AVX-512), with ``benchmarks/test_bench_paths.py -k
short_rows``: (200,000, K) scores through ``Multiclass(K).update`` against count_argmax's scan
called alone, float32 K = 4, 10, 15: 2.2x, 2.1x, 2.2x faster; float64 K = 10: 1.4x. The kernels
alone on (4M / K, K) float32, K = 2..15: 1.15x-2.2x faster; on (256, K): 1.13x-1.7x. Rows of a
prime length above 8 (11, 13) have no parts: they keep count_argmax, as do rows of other dtypes,
non-contiguous scores and batches with an ignore_index (that kernel skips the ignored rows
unread). The argmax alone (weighted scores, top_k, bins) gains as much: ``Multiclass(10,
weighted=True)``, (200,000, 10) float32 scores with weights, 1.16 -> 0.57 ms per update;
``Multiclass(10, top_k=3)``, (100,000, 10), 0.88 -> 0.55 ms.

Each kernel checks a block of rows first (labels and scores in flat, vectorized loops; float32
scores against the bounds rounded inwards to float32, the same test as float64's at twice the
width), then searches and counts it. On a bad sample it subtracts what it added and returns the
sample's index, as count_argmax does, whose signature it shares; the argmax kernel returns the
first row with a bad score, as argmax_rows does (rows not to be read: argmax_rows itself).

PREFETCH. A block's check reads its scores from memory (a batch of 1M rows of 10 float32 is 40
MB); the search and the count then work from the cache, and the hardware prefetcher, seeing no
reads of the scores meanwhile, stops running ahead. So the count loop asks for the next block's
scores and labels, a cache line per row counted: (1M, 10) float32 from memory, one core, 3.6 ->
2.7 ms (numpy's ``max()`` reads the scores in 1.0 ms). The same prefetches as a loop of their
own, all at once, stalled (4.3 ms). Rows longer than a line get as many lines as rows: asking
for every line measured slower ((1M, 15) float64: 6.9 -> 7.5 ms). The argmax alone has no loop
to interleave them with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .argmax import _row_ok, _undo, argmax_rows, count_argmax
from .counting import (CACHE_LINE, INT64_PER_LINE, Array, _bounds_of, _is_class, _label_ok, jit, jit_inlined,
                       prefetch_read)

SHORT_BELOW = 16  # rows this long or longer are not short (float32 rows from 16 are searched by keys)
_LONGEST_PART = {np.dtype(np.float32): 8, np.dtype(np.float64): 7}
# rows checked, searched and counted per block (up to 60 KB: read from L1 or L2 by the search). Measured,
# one core, float32 K = 10, 1M rows from memory, in one process: 1024 rows 3.6-3.7 ms without prefetch, 2.9-3.0
# with (see PREFETCH); 512 rows 2.7-2.8 ms; 256 rows 2.9 ms. (Without prefetch, 1024 rows were 5-10% faster
# than 256 at every K and dtype.)
BLOCK_ROWS = 512


def part_length(k: int, dtype: np.dtype) -> int:
    """H, the number of scores in each part of a row of k scores of dtype; 0 where rows of k
    are not split (count_argmax searches them)."""
    longest = _LONGEST_PART.get(dtype)
    if longest is None or not 2 <= k < SHORT_BELOW:
        return 0
    return next((h for h in range(min(k, longest), 1, -1) if k % h == 0), 0)


@jit_inlined
def _scores_ok(flat: Array, low: Any, high: Any) -> bool:
    ok = True
    for e in range(flat.shape[0]):
        s = flat[e]
        ok &= (s >= low) & (s <= high)  # NaN fails both
    return ok


@functools.cache
def short_rows_kernels(k: int, h: int) -> tuple[Callable[..., int], Callable[..., int]]:
    """(count_argmax's, argmax_rows') kernels for rows of k scores in parts of h."""
    parts = k // h

    @jit_inlined
    def part_maxima(flat: Array, best: Array, at: Array, count: int) -> None:
        """best[p], at[p] = the maximum of part p of the flat scores and its first index in the part."""
        for p in range(count):
            b = flat[p * h]
            a = 0
            for j in range(1, h):
                s = flat[p * h + j]
                c = s > b  # strict: the first of equal maxima, as numpy's argmax
                b = s if c else b
                a = j if c else a
            best[p] = b
            at[p] = a

    @jit_inlined
    def row_maxima(best: Array, at: Array, rows: int, found: Array) -> None:
        """found[i] = the index in its row of row i's maximum, from its parts' (earlier parts win ties)."""
        for i in range(rows):
            b = best[i * parts]
            a = at[i * parts]
            for q in range(1, parts):
                v = best[i * parts + q]
                c = v > b
                b = v if c else b
                a = at[i * parts + q] + q * h if c else a
            found[i] = a

    @jit_inlined
    def scratch(scores: Array) -> tuple[Array, Array]:
        """The search's buffers for a block: its part maxima and their indices (a row of one part:
        its index goes straight to found)."""
        size = min(scores.shape[0], BLOCK_ROWS) * parts
        return np.empty(size, scores.dtype), np.empty(size if parts > 1 else 0, np.int64)

    @jit_inlined
    def search(flat: Array, best: Array, at: Array, rows: int, found: Array) -> None:
        """found[i] = the first index of the maximum of row i of a checked block (flat: its scores)."""
        if parts == 1:
            part_maxima(flat, best, found, rows)
        else:
            part_maxima(flat, best, at, rows * parts)
            row_maxima(best, at, rows, found)

    @jit
    def count_short_rows(y_true: Array, scores: Array, bits: Array, n: int, ignore: Any, use_ignore: bool,
                         lo: float, hi: float, lo_key: int, hi_key: int, cm: Array) -> int:
        if use_ignore or not scores.flags.c_contiguous:
            return count_argmax(y_true, scores, bits, n, ignore, use_ignore, lo, hi, lo_key, hi_key, cm)
        low, high = _bounds_of(scores, lo, hi)
        best, at = scratch(scores)
        found = np.empty(min(scores.shape[0], BLOCK_ROWS), np.int64)
        line = CACHE_LINE // scores.itemsize  # scores per cache line
        for start in range(0, scores.shape[0], BLOCK_ROWS):
            stop = min(scores.shape[0], start + BLOCK_ROWS)
            flat = scores[start:stop].ravel()
            labels = y_true[start:stop]  # (loops over views from 0: an index from start may be negative to
            ok = _scores_ok(flat, low, high)  # the compiler, whose wrap-around test keeps the loop from vectorizing)
            for j in range(labels.shape[0]):
                ok &= _label_ok(labels[j], n)
            if not ok:
                for i in range(start, stop):
                    if not (_is_class(y_true[i], n) and _row_ok(scores[i], lo, hi)):
                        _undo(y_true, scores, bits, start, ignore, use_ignore, cm)  # the blocks before this one
                        return i
            search(flat, best, at, stop - start, found)
            if stop == scores.shape[0]:  # the last block (a training step's whole batch): nothing ahead
                for j in range(labels.shape[0]):
                    cm[np.int64(labels[j]), found[j]] += 1
                break
            # the next block's scores and labels asked for while this one is counted (see PREFETCH)
            ahead = scores[stop:min(scores.shape[0], stop + BLOCK_ROWS)].ravel()
            ahead_labels = y_true[stop:min(scores.shape[0], stop + BLOCK_ROWS)]
            lines = ahead.shape[0] // line
            for j in range(labels.shape[0]):
                if j < lines:
                    prefetch_read(ahead, (j * line,))
                if j % INT64_PER_LINE == 0 and j < ahead_labels.shape[0]:
                    prefetch_read(ahead_labels, (j,))
                cm[np.int64(labels[j]), found[j]] += 1
        return -1

    @jit
    def argmax_short_rows(scores: Array, bits: Array, keep: Array, lo: float, hi: float, lo_key: int, hi_key: int,
                          out: Array) -> int:
        if keep.shape[0] > 0 or not scores.flags.c_contiguous:  # (rows not kept are not read: argmax_rows)
            return argmax_rows(scores, bits, keep, lo, hi, lo_key, hi_key, out)
        low, high = _bounds_of(scores, lo, hi)
        best, at = scratch(scores)
        for start in range(0, scores.shape[0], BLOCK_ROWS):
            stop = min(scores.shape[0], start + BLOCK_ROWS)
            flat = scores[start:stop].ravel()
            if not _scores_ok(flat, low, high):
                for i in range(start, stop):
                    if not _row_ok(scores[i], lo, hi):
                        return i
            search(flat, best, at, stop - start, out[start:stop])
        return -1

    return count_short_rows, argmax_short_rows
