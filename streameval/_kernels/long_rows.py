"""count_argmax and argmax_rows for long float32 rows (an ImageNet batch's (4096, 1000) scores), at
the speed of reading them.

The keyed search (argmax._narrow_row) widens each float32 score to an int64 key that also holds
its index: 8 scores per 512-bit vector and six operations each, so that on (4096, 1000) it
computes for 1.6x the time numpy takes to read the matrix. numba cannot write the search in
float32 lanes itself: it does not vectorize a float maximum (its select carries no fast-math
flag), nor a loop that leaves at the first index of a value. So the search is written here as
LLVM vector code (a numba intrinsic, ``_rows_argmax``), a group of GROUP vectors of 64 bytes at a
time (GROUPS):

* every score is checked against the bounds (two comparisons: NaN fails both);
* the group's lane-wise maximum (a tree of three), then one comparison with the row's: each lane
  keeps the largest score it has seen and the offset of the group it came from (a strict ``>``:
  the first group holding the lane's maximum);
* the last group ends at the row's end and may overlap the one before (a score seen twice has
  one index, so it is counted once);
* at the row's end, the maximum over the lanes, the smallest group offset among the lanes that
  hold it, which is the group of the row's first maximum, and in that group (read again, from
  L1) the first score equal to the maximum: -0.0 equal to 0.0, as numpy compares them.

GROUPS. One vector at a time, each vector's comparison with the running maximum, its two selects
and its three bound operations made the search compute-bound (in the cache: 1.6x the time of
numpy's ``max()``). Taken four vectors at a time, the comparison and the selects run once a group.
(4096, 1000), the search alone, one core, in one process: 228-236 -> 194-200 us (numpy's ``max()``
172-198 us, a numba sum 146-150 us); (16000, 256) 286 -> 253 us; (8000, 512) 250-260 -> 212 us;
the update, (4096, 1000) with its count: 247-256 -> 222-233 us. With ANY_SCORE's bounds, a group's
sum (a tree of three additions) as the check instead of the comparisons was faster on rows of 256
(253 -> 212 us) and slower on rows of 1000 (197 -> 206-222 us); a group's minimum and maximum and
a NaN test were slower (209-219 us). The maximum over a row's lanes is taken as of numbers (LLVM's
``nnan``), NaN made -inf first (a bad row's: its answer is not used): ordering NaN cost ~35 us.

The reductions at a row's end are a chain of dependent shuffles; searched one row at a time, they
held the next row's reads back (a fixed 15-18 ns per row, measured). Four rows are searched in one
loop (``ROWS``), so their ends overlap. Measured on one core (AMD EPYC, AVX-512), float32, the
search one vector at a time (before GROUPS) against the keyed one: (4096, 1000) 0.22-0.26 against
0.31 ms (reading the matrix, numpy's ``max()``: 0.18-0.22 ms); (8192, 512) 0.25-0.27 against 0.32
ms; (16384, 256) 0.30 against 0.34 ms; rows of 128 gain nothing, rows of 64 lose (hence
``LONG_FROM``). Tried and not kept: two or eight rows per loop, two or four vectors per row per
step (each vector still compared with the running maximum), loads aligned to 64 bytes, a bounds
flag per row, the four rows' ends reduced together as one tree (none measurably faster); the bounds
checked by each lane's minimum and maximum and a NaN flag (4% slower); a float maximum then a
search for its first index (the search's exit branch cost more than the pass); with ANY_SCORE's
bounds, the rows checked by their sums as short rows are (one addition a vector for four
operations, but each row's additions are one dependent chain: (4096, 1000) 235 -> 261 us, numpy's
``max()`` 235 us, 2026-11-26), or by the scores' magnitudes (the bits, sign cleared, at most the
largest float's: two integer operations a vector; 261-267 -> 287-293 us). float64 rows gained on
some lengths and lost on others (four rows' reads at once from memory); they keep the keyed search.

The IR is plain LLVM vectors: on a processor without AVX-512 the compiler splits each vector in
two or four.

``count_long_rows`` and ``argmax_long_rows`` take count_argmax's and argmax_rows' arguments and
give their answers (``rows`` picks them); batches with an ignore_index or rows to skip, and
scores not C-contiguous, go to those. A block of rows has its labels checked in a vectorized
loop and its rows searched (argmax_block), then counted; on a bad sample the blocks before are
subtracted (argmax._undo) and its index returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from .argmax import _undo, argmax_rows, count_argmax
from .counting import VECTOR_BYTES, Array, _bounds_of, _is_class, _label_ok, jit, named, prefetch_write, shuffle

LONG_FROM = 256  # float32 rows this long or longer are searched here (see the module's measurements)
ROWS = 4  # rows searched in one loop
GROUP = 4  # vectors of a row taken together: their maximum, then one comparison with the row's (see GROUPS)
BLOCK_ROWS = 256  # rows searched, then counted, per block of count_long_rows
_INT32 = ir.IntType(32)
_NO_INDEX = 0x7FFFFFFF  # beyond any index (rows are shorter than 2**31: row_bits)


def is_long(k: int, dtype: np.dtype) -> bool:
    """Whether rows of k scores of dtype are searched here."""
    return dtype == np.float32 and LONG_FROM <= k < 2**31  # (the kernel's indices are int32)


def _splat(builder: ir.IRBuilder, value: ir.Value, lanes: int) -> ir.Value:
    vector = builder.insert_element(ir.Constant(ir.VectorType(value.type, lanes), ir.Undefined), value,
                                    ir.Constant(_INT32, 0))
    return shuffle(builder, vector, vector, [0] * lanes)


def _reduce(builder: ir.IRBuilder, how: str, vector: ir.Value, flags: tuple[str, ...] = ()) -> ir.Value:
    """llvm.vector.reduce.<how> of vector (fmax, smin, and)."""
    element = vector.type.element
    suffix = {"float": "f32", "double": "f64"}.get(str(element), str(element))
    function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(element, [vector.type]),
                                              f"llvm.vector.reduce.{how}.v{vector.type.count}{suffix}")
    return builder.call(function, [vector], fastmath=flags)


def _tree(values: list[ir.Value], combine: Any) -> ir.Value:
    """values combined pairwise, as a tree (its depth, not its length, is the chain of latencies)."""
    while len(values) > 1:
        values = [combine(a, b) for a, b in zip(values[::2], values[1::2])] + values[len(values) - len(values) % 2:]
    return values[0]


def _rows_argmax_of(rows: int) -> Any:
    """The intrinsic (scores, i, low, high) -> ((argmax of row i + r for r < rows), every score of
    those rows in [low, high]) for C-contiguous 2-d float32 scores of at least one group
    (GROUP vectors) per row. Each row's argmax is garbage when the flag is false."""

    @intrinsic
    def rows_argmax(typingctx: Any, scores: Any, i: Any, low: Any, high: Any) -> Any:
        lanes = VECTOR_BYTES * 8 // scores.dtype.bitwidth
        signature = types.Tuple((types.UniTuple(types.int64, rows), types.boolean))(scores, types.intp,
                                                                                      scores.dtype, scores.dtype)

        def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> Any:
            array = context.make_array(signature.args[0])(context, builder, args[0])
            first_row, lo, hi = args[1], args[2], args[3]
            k = builder.extract_value(array.shape, 1)
            span = GROUP * lanes

            def const(value: int) -> ir.Constant:
                return ir.Constant(k.type, value)

            vector_type = ir.VectorType(lo.type, lanes)
            index_type = ir.VectorType(_INT32, lanes)
            starts = [builder.gep(array.data, [builder.mul(builder.add(first_row, const(r)), k)]) for r in range(rows)]
            lo_v, hi_v = _splat(builder, lo, lanes), _splat(builder, hi, lanes)

            def load(r: int, offset: ir.Value) -> ir.Value:
                address = builder.bitcast(builder.gep(starts[r], [offset]), vector_type.as_pointer())
                return builder.load(address, align=scores.dtype.bitwidth // 8)

            best = [cgutils.alloca_once_value(builder, load(r, const(0))) for r in range(rows)]
            at = [cgutils.alloca_once_value(builder, ir.Constant(index_type, [0] * lanes)) for _ in range(rows)]
            ok = cgutils.alloca_once_value(builder, ir.Constant(ir.VectorType(ir.IntType(1), lanes), [1] * lanes))

            def step(offset: ir.Value) -> None:
                """The group of each row from offset into best, at (the group's offset) and ok."""
                offset_v = _splat(builder, builder.trunc(offset, _INT32), lanes)
                for r in range(rows):
                    xs = [load(r, builder.add(offset, const(j * lanes))) for j in range(GROUP)]
                    inside = _tree([builder.and_(builder.fcmp_ordered(">=", x, lo_v),
                                                 builder.fcmp_ordered("<=", x, hi_v)) for x in xs], builder.and_)
                    builder.store(builder.and_(builder.load(ok), inside), ok)
                    top = _tree(xs, lambda a, b: builder.select(builder.fcmp_ordered(">", b, a), b, a))
                    b = builder.load(best[r])
                    larger = builder.fcmp_ordered(">", top, b)
                    builder.store(builder.select(larger, top, b), best[r])
                    builder.store(builder.select(larger, offset_v, builder.load(at[r])), at[r])

            with cgutils.for_range(builder, builder.sdiv(k, const(span))) as loop:
                step(builder.mul(loop.index, const(span)))
            with builder.if_then(builder.icmp_signed("!=", builder.srem(k, const(span)), const(0))):
                step(builder.sub(k, const(span)))  # the row's last scores (may overlap the group before)
            none = ir.Constant(index_type, [_NO_INDEX] * lanes)
            minus_inf = ir.Constant(vector_type, [float("-inf")] * lanes)
            bits = ir.IntType(span)
            first_bit = cgutils.get_or_insert_function(builder.module, ir.FunctionType(bits, [bits, ir.IntType(1)]),
                                                       f"llvm.cttz.i{span}")
            found = []
            for r in range(rows):
                b = builder.load(best[r])
                # NaN (a bad row's) made -inf, so that the maximum may be taken as of numbers (nnan: a few
                # instructions, where a maximum that orders NaN costs ~35 us on (4096, 1000))
                numbers = builder.select(builder.fcmp_ordered("ord", b, b), b, minus_inf)
                top = _splat(builder, _reduce(builder, "fmax", numbers, ("nnan", "nsz")), lanes)
                group = _reduce(builder, "smin", builder.select(builder.fcmp_ordered("==", b, top),
                                                                builder.load(at[r]), none))
                # (a bad row may have no lane equal to top: the group stays inside the row, its answer unused)
                group = builder.sext(builder.select(builder.icmp_unsigned("<", group, builder.trunc(k, _INT32)),
                                                    group, ir.Constant(_INT32, 0)), k.type)
                equal = ir.Constant(bits, 0)  # bit j * lanes + lane: the score at group + j * lanes + lane is top
                for j in range(GROUP):
                    x = load(r, builder.add(group, const(j * lanes)))
                    word = builder.zext(builder.bitcast(builder.fcmp_ordered("==", x, top), ir.IntType(lanes)), bits)
                    equal = builder.or_(equal, builder.shl(word, ir.Constant(bits, j * lanes)))
                within = builder.call(first_bit, [equal, ir.Constant(ir.IntType(1), 0)])
                found.append(builder.add(group, builder.trunc(within, k.type)))
            answer = signature.return_type
            return context.make_tuple(builder, answer, [context.make_tuple(builder, answer.types[0], found),
                                                        _reduce(builder, "and", builder.load(ok))])

        return signature, codegen

    return rows_argmax


_rows_argmax = named(_rows_argmax_of(ROWS), __name__, "_rows_argmax")
_row_argmax = named(_rows_argmax_of(1), __name__, "_row_argmax")


@jit
def argmax_block(scores: Array, start: int, stop: int, low: Any, high: Any, out: Array) -> int:
    """out[i - start] = the first index of the maximum of row i, for rows start .. stop - 1 of
    scores (is_long's); the first row with a score outside [low, high] (in the scores' dtype), or -1."""
    i = start
    while i + ROWS <= stop:
        found, ok = _rows_argmax(scores, i, low, high)
        if not ok:
            break  # (the first bad row of these, below)
        for r in range(ROWS):
            out[i - start + r] = found[r]
        i += ROWS
    while i < stop:
        found_one, ok = _row_argmax(scores, i, low, high)
        if not ok:
            return i
        out[i - start] = found_one[0]
        i += 1
    return -1


@jit
def count_long_rows(y_true: Array, scores: Array, bits: Array, n: int, ignore: Any, use_ignore: bool, lo: float,
                    hi: float, lo_key: int, hi_key: int, cm: Array) -> int:
    if use_ignore or not scores.flags.c_contiguous:
        return count_argmax(y_true, scores, bits, n, ignore, use_ignore, lo, hi, lo_key, hi_key, cm)
    low, high = _bounds_of(scores, lo, hi)
    found = np.empty(min(scores.shape[0], BLOCK_ROWS), np.int64)
    for start in range(0, scores.shape[0], BLOCK_ROWS):
        stop = min(scores.shape[0], start + BLOCK_ROWS)
        labels = y_true[start:stop]  # (a loop over a view from 0 vectorizes: see short_rows)
        ok = True
        for j in range(labels.shape[0]):
            ok &= _label_ok(labels[j], n)
        bad_row = argmax_block(scores, start, stop, low, high, found)
        if not ok or bad_row >= 0:  # the first bad sample: a bad label, or the first bad row
            for i in range(start, stop):
                if i == bad_row or not _is_class(y_true[i], n):
                    _undo(y_true, scores, bits, start, ignore, use_ignore, cm)  # the blocks before this one
                    return i
        # a matrix of 1000 classes is 8 MB, its cells mostly out of the cache: every cell's line is
        # asked for before the first increment, so that the misses overlap (measured 3-5% off the update)
        for j in range(labels.shape[0]):
            prefetch_write(cm, (np.int64(labels[j]), found[j]))
        for j in range(labels.shape[0]):
            cm[np.int64(labels[j]), found[j]] += 1
    return -1


@jit
def argmax_long_rows(scores: Array, bits: Array, keep: Array, lo: float, hi: float, lo_key: int, hi_key: int,
                     out: Array) -> int:
    if keep.shape[0] > 0 or not scores.flags.c_contiguous:
        return argmax_rows(scores, bits, keep, lo, hi, lo_key, hi_key, out)
    low, high = _bounds_of(scores, lo, hi)
    return argmax_block(scores, 0, scores.shape[0], low, high, out)
