"""count_argmax and argmax_rows for rows of fewer than 16 float scores, compiled per row length.

A training loop's classifier gives (N, K) scores with K small (10 classes: MNIST, CIFAR-10).
``argmax``'s scan searches such a row as one chain of comparisons, and the compiler cannot search
several rows at once: their scores are K apart, and K is known only at run time. Here kernels are
compiled for each K (``short_rows_kernels``, picked by ``rows``), and a block's rows are searched L
at a time (L: the scores in 64 bytes, 16 float32 or 8 float64) by LLVM vector code written through
a numba intrinsic (``_column_search_of``): the L rows' K vectors are read, each column (score j of
every row) taken out by constant shuffles or blends (see BLENDS), and the columns compared one by
one (a strict ``>``: the first of equal maxima, -0.0 equal to 0.0, as numpy's argmax). The rows
after the last whole group of L are scanned. Before: the compiler's own de-interleaving of rows
split in parts of up to 8 scores (no parts for rows of 11 or 13, which kept the scan), and gathers
before that (2-5x slower).

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

CHECK. Rows of up to CHECKED_BY_SEARCH bytes (float32 K <= 12, float64 K <= 6) are checked by the
column search, not by a pass of their own before it. The columns it compares give each row's
maximum; beside it the intrinsic keeps each row's minimum and sum, and the L rows pass when every
maximum <= high, every minimum >= low and no sum is NaN (a NaN score, which the comparisons skip,
makes its row's sum NaN). So does +inf plus -inf: with bounds that admit both infinities, a row
holding both is a false alarm, which sends its block to the exact check row by row, as a bad sample
does: time lost, never a wrong count. With ANY_SCORE's bounds (the default for scores: every finite
score passes) the sums alone check the rows: a sum is finite unless a score is infinite or NaN, or
finite scores near the largest float overflow it (a false alarm again). That drops the minimum and
two comparisons per column: (1M, 10) float32 from memory, in one process, 1.67 -> 1.44 ms (bounds
[0, 1]: 1.66 -> 1.55 ms, the bounded search in a function of its own). The labels are checked by a
vector loop that also computes each row's cell (label * K + argmax: the matrix is read as a flat
view of K cells a row, so a matrix not C-contiguous or not K by K takes count_argmax), and the
count loop adds without multiplying. With K a constant the loop vectorizes; with the matrix's width
read at run time it did not. Measured, one core, in one process: (1M, 10) float32 from memory
2.16-2.28 -> 1.74-1.78 ms (numpy's ``max()`` 0.96 ms); 20,000 rows in the cache 45 -> 33 us;
``benchmarks/test_bench_paths.py -k short_rows``, one run each: K = 4 249 -> 199 us, K = 10 454 ->
349 us. Longer rows lose: their count is bound by memory, and a pass of their own, streaming the
block at full speed, reads it best ((1M, 10) float64 3.97 -> 5.1-5.4 ms, (1M, 15) float32 3.6-3.8
-> 4.1-4.5 ms; the check in the search alone 4.3 and 3.8 ms, the cell loop alone 4.4 and 4.2 ms).

BLENDS. LLVM lowers the shuffles that take a column out of K vectors to about five two-vector
permutes per column (K = 10 float32: 50 permutes and 15 other shuffles per 16 rows), and the
vector units, not memory, bound the search. Score j of rows r and r' lies in the same lane of
their vectors only when K (r - r') is a multiple of L; so the rows fall in gcd(K, L) parts whose
score j lie in distinct lanes, and each part is a blend of the vectors that hold it (lanes kept:
no permute), the parts then merged by shuffles that put row r in lane r (K = 10 float32: 10
permutes and about 40 blends). Which way is faster depends on K, measured one by one (8,000 rows
in the cache, the whole count, ns a row, shuffles -> blends): float32 K = 6 1.18 -> 1.13, K = 10
1.68 -> 1.56, K = 12 2.11 -> 1.92, K = 13 3.13 -> 2.62, K = 14 3.18 -> 2.35, but K = 7 1.46 ->
1.62, K = 9 1.55 -> 1.83, K = 11 1.94 -> 2.16; float64 K = 8-15 even or 2-11% faster, but K = 5
1.38 -> 2.10, K = 6 1.48 -> 2.12; other K within 3%. BLENDED lists the K that blend. (1M, 10)
float32 from memory, in one process: 1.78 -> 1.59 ms, with the cells' loop vectorized (CHECK).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from .argmax import _row_ok, _undo, argmax_rows, count_argmax
from .counting import (CACHE_LINE, INT64_PER_LINE, VECTOR_BYTES, Array, _bounds_of, _is_class, _label_ok, jit,
                       jit_inlined, named, prefetch_read, shuffle)

SHORT_BELOW = 16  # rows this long or longer are not short (float32 rows from 16 are searched by keys)
_SHORT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# rows checked, searched and counted per block (up to 60 KB: read from L1 or L2 by the search). Measured,
# one core, float32 K = 10, 1M rows from memory, in one process: 1024 rows 3.6-3.7 ms without prefetch, 2.9-3.0
# with (see PREFETCH); 512 rows 2.7-2.8 ms; 256 rows 2.9 ms. (Without prefetch, 1024 rows were 5-10% faster
# than 256 at every K and dtype.)
BLOCK_ROWS = 512
CHECKED_BY_SEARCH = 48  # rows of up to this many bytes are checked by the column search (see CHECK)
# the row lengths whose columns are taken apart by blends (see BLENDS); the others by shuffles
BLENDED = {np.dtype(np.float32): frozenset({6, 10, 12, 13, 14, 15}), np.dtype(np.float64): frozenset(range(8, 16))}


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


def _columns_by_shuffles(builder: ir.IRBuilder, vectors: list[ir.Value], k: int, lanes: int) -> list[ir.Value]:
    """The k columns of the lanes rows held by vectors (k vectors of lanes scores), lane r of
    column j = score j of row r: the vectors joined into one, each column taken out by a constant
    shuffle (LLVM lowers them)."""
    width = lanes
    while len(vectors) > 1:  # joined pairwise into one of lanes * k scores (an odd one out: with itself)
        pairs = [(vectors[i], vectors[min(i + 1, len(vectors) - 1)]) for i in range(0, len(vectors), 2)]
        vectors = [shuffle(builder, x, y, list(range(2 * width))) for x, y in pairs]
        width *= 2
    whole = vectors[0]
    return [shuffle(builder, whole, whole, [r * k + j for r in range(lanes)]) for j in range(k)]


def _columns_by_blends(builder: ir.IRBuilder, vectors: list[ir.Value], k: int, lanes: int) -> list[ir.Value]:
    """_columns_by_shuffles' columns, from blends (see BLENDS): score j of rows in parts of
    lanes / gcd(k, lanes) rows lies in distinct lanes, so each part is a blend of the vectors that
    hold it, lanes kept; the parts are then merged pairwise by shuffles that put row r in lane r."""
    per = lanes // math.gcd(k, lanes)
    columns = []
    for j in range(k):
        parts = []
        for first in range(0, lanes, per):
            held: dict[int, dict[int, int]] = {}  # vector -> {lane: row}
            for r in range(first, first + per):
                m, lane = divmod(r * k + j, lanes)
                held.setdefault(m, {})[lane] = r
            sources = sorted(held)
            part = vectors[sources[0]]
            for m in sources[1:]:
                taken = ir.Constant(ir.VectorType(ir.IntType(1), lanes), [lane in held[m] for lane in range(lanes)])
                part = builder.select(taken, vectors[m], part)
            parts.append((part, {r: lane for m in sources for lane, r in held[m].items()}))
        while len(parts) > 1:  # (a power of two of them)
            merged = []
            for (x, in_x), (y, in_y) in zip(parts[::2], parts[1::2]):
                lane_of = [0] * lanes
                for r, lane in in_x.items():
                    lane_of[r] = lane
                for r, lane in in_y.items():
                    lane_of[r] = lanes + lane
                merged.append((shuffle(builder, x, y, lane_of), {r: r for r in (*in_x, *in_y)}))
            parts = merged
        part, lane_at = parts[0]
        if any(lane != r for r, lane in lane_at.items()):  # one part: its lanes put in row order
            part = shuffle(builder, part, part, [lane_at[r] for r in range(lanes)])
        columns.append(part)
    return columns


def _column_search_of(k: int, blended: bool, check: str) -> Any:
    """The intrinsic (flat, g, found, low, high) -> ok: found[g * L + r] = the first index of the
    maximum of row g * L + r of flat (rows of k scores, C-contiguous), for r < L, L = the scores in
    VECTOR_BYTES (16 float32, 8 float64); ok, by check: "bounds", whether every score of the L rows
    may lie in [low, high]; "finite" (the bounds are the dtype's largest finite values, not read),
    whether every score may be finite (see CHECK: False may be a false alarm, True is never
    wrong); "none", True (the block was checked before). See the module: the L rows' k
    vectors are read, their columns taken apart (by _columns_by_blends when blended, else by
    _columns_by_shuffles), and compared column by column."""

    @intrinsic
    def column_search(typingctx: Any, flat: Any, g: Any, found: Any, low: Any, high: Any) -> Any:
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
            columns = (_columns_by_blends if blended else _columns_by_shuffles)(builder, vectors, k, lanes)
            kinds = ir.VectorType(ir.IntType(32), lanes)
            best = columns[0]  # each row's first score
            at = ir.Constant(kinds, [0] * lanes)
            least = total = best
            for j, column in enumerate(columns[1:], 1):
                larger = builder.fcmp_ordered(">", column, best)  # strict: the first of equal maxima, as numpy
                best = builder.select(larger, column, best)
                at = builder.select(larger, ir.Constant(kinds, [j] * lanes), at)
                least = builder.select(builder.fcmp_ordered("<", column, least), column, least)
                total = builder.fadd(total, column)  # NaN if a score is (see CHECK)
            to = builder.gep(out.data, [builder.mul(args[1], ir.Constant(index, lanes))])
            wide = ir.VectorType(index, lanes)
            builder.store(builder.sext(at, wide), builder.bitcast(to, wide.as_pointer()), align=8)
            if check == "none":
                return ir.Constant(ir.IntType(1), 1)
            if check == "finite":  # a sum minus itself: 0, or NaN when the sum is infinite or NaN
                nothing = builder.fsub(total, total)
                outside = builder.fcmp_unordered("uno", nothing, nothing)
            else:
                lows, highs = (builder.insert_element(ir.Constant(vector, ir.Undefined), bound, ir.Constant(index, 0))
                               for bound in (args[3], args[4]))
                lows, highs = (shuffle(builder, v, v, [0] * lanes) for v in (lows, highs))  # the bounds in every lane
                outside = builder.or_(builder.or_(builder.fcmp_unordered(">", best, highs),
                                                  builder.fcmp_unordered("<", least, lows)),
                                      builder.fcmp_unordered("uno", total, total))
            mask = ir.IntType(lanes)
            return builder.icmp_unsigned("==", builder.bitcast(outside, mask), ir.Constant(mask, 0))

        return types.boolean(flat, types.intp, found, flat.dtype, flat.dtype), codegen

    return named(column_search, __name__, "column_search", k, blended, check)


@functools.cache
def _searcher(k: int, blended: bool, check: str) -> Callable[..., bool]:
    """search(flat, rows, found, low, high): found[i] = the first index of the maximum of row i
    of a block (flat: its scores, rows of k); whether every score may lie in [low, high] (see
    CHECK), by _column_search_of(k, blended, check). A function of its own, not inlined: the
    compiler, given the finite and the bounded search as branches of one function, merged the
    two loops (their shuffles are the same) into one that made both checks."""

    column_search = _column_search_of(k, blended, check)

    @jit
    def search(flat: Array, rows: int, found: Array, low: Any, high: Any) -> bool:
        lanes = VECTOR_BYTES // flat.itemsize  # (the intrinsic's rows per call)
        whole = rows // lanes
        ok = True
        for g in range(whole):
            ok &= column_search(flat, g, found, low, high)
        for i in range(whole * lanes, rows):  # the last rows: scanned
            b = flat[i * k]
            a = 0
            for j in range(1, k):
                s = flat[i * k + j]
                c = s > b
                b = s if c else b
                a = j if c else a
            found[i] = a
        return ok & _scores_ok(flat[whole * lanes * k:rows * k], low, high)

    return named(search, __name__, "search", k, blended, check)


@functools.cache
def short_rows_kernels(k: int, dtype: np.dtype) -> tuple[Callable[..., int], Callable[..., int]]:
    """(count_argmax's, argmax_rows') kernels for rows of k scores of dtype (is_short's)."""
    bounded_search, finite_search, unchecked_search = (_searcher(k, k in BLENDED[dtype], check)
                                                       for check in ("bounds", "finite", "none"))
    largest = np.finfo(dtype).max
    checked_by_search = k * dtype.itemsize <= CHECKED_BY_SEARCH  # (a constant to the compiler: one path compiled)

    @jit_inlined
    def checked_search(flat: Array, rows: int, found: Array, low: Any, high: Any) -> bool:
        """found[i] = the first index of the maximum of row i of a block (flat: its scores); whether
        every score may lie in [low, high] (see CHECK), by the search for the bounds."""
        if low == -largest and high == largest:  # (ANY_SCORE's bounds: the finite scores)
            return finite_search(flat, rows, found, low, high)
        return bounded_search(flat, rows, found, low, high)

    named(checked_search, __name__, "checked_search", k, dtype)

    @jit
    def count_short_rows(y_true: Array, scores: Array, bits: Array, n: int, ignore: Any, use_ignore: bool,
                         lo: float, hi: float, lo_key: int, hi_key: int, cm: Array) -> int:
        if use_ignore or not scores.flags.c_contiguous or not cm.flags.c_contiguous or cm.shape[1] != k:
            return count_argmax(y_true, scores, bits, n, ignore, use_ignore, lo, hi, lo_key, hi_key, cm)
        low, high = _bounds_of(scores, lo, hi)
        found = np.empty(min(scores.shape[0], BLOCK_ROWS), np.int64)
        cells = cm.ravel()  # (a view: cm is C-contiguous, k cells a row)
        line = CACHE_LINE // scores.itemsize  # scores per cache line
        for start in range(0, scores.shape[0], BLOCK_ROWS):
            stop = min(scores.shape[0], start + BLOCK_ROWS)
            flat = scores[start:stop].ravel()
            labels = y_true[start:stop]  # (loops over views from 0: an index from start may be negative to
            # the compiler, whose wrap-around test keeps the loop from vectorizing)
            if checked_by_search:
                ok = checked_search(flat, stop - start, found, low, high)
                for j in range(labels.shape[0]):  # each row's cell, in a vector loop (see CHECK)
                    ok &= _label_ok(labels[j], n)
                    found[j] += np.int64(labels[j]) * k
            else:
                ok = _scores_ok(flat, low, high)
                for j in range(labels.shape[0]):
                    ok &= _label_ok(labels[j], n)
            if not ok:
                for i in range(start, stop):
                    if not (_is_class(y_true[i], n) and _row_ok(scores[i], lo, hi)):
                        _undo(y_true, scores, bits, start, ignore, use_ignore, cm)  # the blocks before this one
                        return i
            if not checked_by_search:
                unchecked_search(flat, stop - start, found, low, high)
            # the next block's scores and labels asked for while this one is counted (see PREFETCH)
            ahead = scores[stop:min(scores.shape[0], stop + BLOCK_ROWS)].ravel()
            ahead_labels = y_true[stop:min(scores.shape[0], stop + BLOCK_ROWS)]
            lines = ahead.shape[0] // line
            for j in range(labels.shape[0]):
                if j < lines:
                    prefetch_read(ahead, (j * line,))
                if j % INT64_PER_LINE == 0 and j < ahead_labels.shape[0]:
                    prefetch_read(ahead_labels, (j,))
                if checked_by_search:
                    cells[found[j]] += 1
                else:
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
            ok = checked_search(flat, stop - start, out[start:stop], low, high) if checked_by_search \
                else _scores_ok(flat, low, high)
            if not ok:
                for i in range(start, stop):
                    if not _row_ok(scores[i], lo, hi):
                        return i
            if not checked_by_search:
                unchecked_search(flat, stop - start, out[start:stop], low, high)
        return -1

    return (named(count_short_rows, __name__, "count_short_rows", k, dtype),
            named(argmax_short_rows, __name__, "argmax_short_rows", k, dtype))
