"""count_argmax and argmax_rows for rows of fewer than 16 float scores, compiled per row length.

A training loop's classifier gives (N, K) scores with K small (10 classes: MNIST, CIFAR-10).
``argmax``'s scan searches such a row as one chain of comparisons, and the compiler cannot
search several rows at once: their scores are K apart, and K is known only at run time. Here
kernels are compiled for each K (``short_rows_kernels``, picked by ``rows``), and a block's rows
are searched L at a time (L: the scores in 64 bytes, 16 float32 or 8 float64) by LLVM vector
code written through a numba intrinsic (``_column_search_of``): the L rows' K vectors are read,
each column (score j of every row) taken out with a constant shuffle, and the columns compared
one by one (a strict ``>``: the first of equal maxima, -0.0 equal to 0.0, as numpy's argmax).
The rows after the last whole group of L are scanned. Before: the compiler's own de-interleaving
of rows split in parts of up to 8 scores (no parts for rows of 11 or 13, which kept the scan),
and gathers before that (2-5x slower).

Measured on one core, 2026-11-26 (AMD EPYC, AVX-512): the search alone on 100,000 rows of 10
float32 in the cache, 79 us against 158 us for the parts' search and check; the whole count of
(1M, 10) float32 from memory 2.52 -> 2.28 ms (in one process). ``benchmarks/test_bench_paths.py
-k short_rows``, (200,000, K) through ``Multiclass(K).update``, one run each (parts at 16:24, the
columns at 19:43): float32 K = 4 214 -> 243 us, K = 10 463 -> 422 us, K = 15 692 -> 650 us;
float64 K = 10 745 -> 551 us (count_argmax's scan: 441, 947, 1400, 1010 us).
Rows of other dtypes, non-contiguous scores and batches with an ignore_index keep count_argmax
(which skips the ignored rows unread). The argmax alone (weighted scores, top_k, bins) uses the
same search.

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
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from .argmax import _row_ok, _undo, argmax_rows, count_argmax
from .counting import (CACHE_LINE, INT64_PER_LINE, VECTOR_BYTES, Array, _bounds_of, _is_class, _label_ok, jit,
                       jit_inlined, prefetch_read, shuffle)

SHORT_BELOW = 16  # rows this long or longer are not short (float32 rows from 16 are searched by keys)
_SHORT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# rows checked, searched and counted per block (up to 60 KB: read from L1 or L2 by the search). Measured,
# one core, float32 K = 10, 1M rows from memory, in one process: 1024 rows 3.6-3.7 ms without prefetch, 2.9-3.0
# with (see PREFETCH); 512 rows 2.7-2.8 ms; 256 rows 2.9 ms. (Without prefetch, 1024 rows were 5-10% faster
# than 256 at every K and dtype.)
BLOCK_ROWS = 512


def is_short(k: int, dtype: np.dtype) -> bool:
    """Whether rows of k scores of dtype are searched here."""
    return dtype in _SHORT_DTYPES and 2 <= k < SHORT_BELOW


@jit_inlined
def _scores_ok(flat: Array, low: Any, high: Any) -> bool:
    ok = True
    for e in range(flat.shape[0]):
        s = flat[e]
        ok &= (s >= low) & (s <= high)  # NaN fails both
    return ok


def _column_search_of(k: int) -> Any:
    """The intrinsic (flat, g, found): found[g * L + r] = the first index of the maximum of row
    g * L + r of flat (rows of k scores, C-contiguous), for r < L, L = the scores in VECTOR_BYTES
    (16 float32, 8 float64). See the module: the L rows' k vectors are read, their columns
    taken apart with constant shuffles, and compared column by column."""

    @intrinsic
    def column_search(typingctx: Any, flat: Any, g: Any, found: Any) -> Any:
        lanes = VECTOR_BYTES * 8 // flat.dtype.bitwidth

        def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> Any:
            scores = context.make_array(signature.args[0])(context, builder, args[0])
            out = context.make_array(signature.args[2])(context, builder, args[2])
            index = ir.IntType(64)
            first = builder.gep(scores.data, [builder.mul(args[1], ir.Constant(index, lanes * k))])
            vector = ir.VectorType(scores.data.type.pointee, lanes)
            vectors = [builder.load(builder.bitcast(builder.gep(first, [ir.Constant(index, lanes * m)]),
                                                    vector.as_pointer()), align=flat.dtype.bitwidth // 8)
                       for m in range(k)]
            width = lanes
            while len(vectors) > 1:  # joined pairwise into one of lanes * k scores (an odd one out: with itself)
                pairs = [(vectors[i], vectors[min(i + 1, len(vectors) - 1)]) for i in range(0, len(vectors), 2)]
                vectors = [shuffle(builder, x, y, list(range(2 * width))) for x, y in pairs]
                width *= 2
            whole = vectors[0]
            kinds = ir.VectorType(ir.IntType(32), lanes)
            best = shuffle(builder, whole, whole, [r * k for r in range(lanes)])  # column 0: each row's first score
            at = ir.Constant(kinds, [0] * lanes)
            for j in range(1, k):
                column = shuffle(builder, whole, whole, [r * k + j for r in range(lanes)])
                larger = builder.fcmp_ordered(">", column, best)  # strict: the first of equal maxima, as numpy
                best = builder.select(larger, column, best)
                at = builder.select(larger, ir.Constant(kinds, [j] * lanes), at)
            to = builder.gep(out.data, [builder.mul(args[1], ir.Constant(index, lanes))])
            wide = ir.VectorType(index, lanes)
            builder.store(builder.sext(at, wide), builder.bitcast(to, wide.as_pointer()), align=8)
            return context.get_dummy_value()

        return types.void(flat, types.intp, found), codegen

    return column_search


@functools.cache
def short_rows_kernels(k: int) -> tuple[Callable[..., int], Callable[..., int]]:
    """(count_argmax's, argmax_rows') kernels for rows of k scores (is_short's)."""
    column_search = _column_search_of(k)

    @jit_inlined
    def search(flat: Array, rows: int, found: Array) -> None:
        """found[i] = the first index of the maximum of row i of a checked block (flat: its scores)."""
        lanes = VECTOR_BYTES // flat.itemsize  # (the intrinsic's rows per call)
        whole = rows // lanes
        for g in range(whole):
            column_search(flat, g, found)
        for i in range(whole * lanes, rows):  # the last rows: scanned
            b = flat[i * k]
            a = 0
            for j in range(1, k):
                s = flat[i * k + j]
                c = s > b
                b = s if c else b
                a = j if c else a
            found[i] = a

    @jit
    def count_short_rows(y_true: Array, scores: Array, bits: Array, n: int, ignore: Any, use_ignore: bool,
                         lo: float, hi: float, lo_key: int, hi_key: int, cm: Array) -> int:
        if use_ignore or not scores.flags.c_contiguous:
            return count_argmax(y_true, scores, bits, n, ignore, use_ignore, lo, hi, lo_key, hi_key, cm)
        low, high = _bounds_of(scores, lo, hi)
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
            search(flat, stop - start, found)
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
        for start in range(0, scores.shape[0], BLOCK_ROWS):
            stop = min(scores.shape[0], start + BLOCK_ROWS)
            flat = scores[start:stop].ravel()
            if not _scores_ok(flat, low, high):
                for i in range(start, stop):
                    if not _row_ok(scores[i], lo, hi):
                        return i
            search(flat, stop - start, out[start:stop])
        return -1

    return count_short_rows, argmax_short_rows
