"""The counting kernels: a validated batch's samples into count arrays, in one pass.

Every counting kernel returns ``-1`` on success, or the index of the first sample it could not
count (a label out of range, a score outside [lo, hi], a bad weight). Kernels never raise: the Python
layer (``_inputs``) turns the index into a message. When a kernel reports a bad sample, the counts
are exactly what they were before the call:

* unweighted binary and multiclass kernels count as they go and, on a bad sample, subtract what
  they added. Integer arithmetic makes the undo exact, and the common case stays one pass.
* weighted and multilabel kernels add floating-point values, which cannot be subtracted back
  exactly, so they check the batch first and count afterwards.

The helpers they share live in this file: numba's on-disk cache is invalidated when a kernel's own
file changes, not when a file it calls into does.

Slots. Every kernel that writes counts takes an optional last argument ``slots``: None (an
accumulator's own state), or an int64 array giving each sample's slot, a leading axis of every
state array (a window's ring of buckets, and the slices to come). With slots, a batch spanning
several buckets is counted in one call, each sample into its own bucket's counts. numba compiles
a kernel once per argument types and drops the branches of ``slots is None`` that a None cannot
take, so a plain accumulator pays only the passing of a None; the other branches are typed with
``_plain(state, slots)`` (the state itself for None), so that they compile for both.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.caching import FunctionCache
from numba.extending import intrinsic, overload

Array = np.ndarray
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def named(compiled: T, *key: object) -> T:
    """compiled (a dispatcher or an intrinsic) with a UUID made of key, the same in every process;
    returned. numba keys the cache of a closure by the pickle of its cells and of the globals it
    reads, and pickles a dispatcher or an intrinsic with its UUID, by default random per process:
    a factory's kernel holding one missed the cache in every process (the short-row kernels were
    compiled again by each, each adding files to the cache). A factory names its closures by its
    arguments; jit names module-level functions by their module and name."""
    compiled._set_uuid(":".join(["streameval", *map(str, key)]))  # type: ignore[attr-defined]
    return compiled


try:
    import fcntl
except ImportError:  # (Windows: numba's own saves, unlocked)
    fcntl = None  # type: ignore[assignment]


class LockedCache(FunctionCache):
    """numba's on-disk cache of a function, whose saves wait for each other across processes. numba saves an
    overload by reading the function's index, taking the first free data file name and writing both: two
    processes compiling two signatures of one function at once (the test suite's two processes, a machine's
    torch.distributed ranks on their first batch) took the same name, and one signature's entry then loaded the
    other's code ("can't unbox array" seen here; numba issue #4807: crashes). An exclusive lock on a file of the
    cache directory makes each save read the index the one before wrote. Loads are not locked: numba replaces
    each file whole."""

    def save_overload(self, sig: Any, data: Any) -> None:
        try:
            os.makedirs(self._cache_path, exist_ok=True)
            lock = open(os.path.join(self._cache_path, "streameval.lock"), "a")
        except OSError:  # a cache directory that cannot be written: numba's save finds another or gives up
            super().save_overload(sig, data)  # type: ignore[no-untyped-call]
            return
        with lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)  # (released when the file closes)
            super().save_overload(sig, data)  # type: ignore[no-untyped-call]


def _compiled(function: F, **options: Any) -> F:
    dispatcher = nb.njit(cache=True, nogil=True, **options)(function)
    # (njit's cache=True made a FunctionCache of the same function)
    dispatcher._cache = LockedCache(function)  # type: ignore[no-untyped-call]
    if "<locals>" not in function.__qualname__:  # (a closure is named by its factory: see named)
        named(dispatcher, function.__module__, function.__qualname__)
    return cast(F, dispatcher)


def jit(function: F) -> F:
    """numba.njit(cache=True, nogil=True): compiled on first use (or loaded from numba's cache),
    the GIL released; the function keeps its type for type checkers."""
    return _compiled(function)


def jit_inlined(function: F) -> F:
    """jit, and inlined into the jitted functions that call it (a kernel's body shared by two
    entry points: the one without slots then costs no call)."""
    return _compiled(function, inline="always")


def jit_reassociating(function: F) -> F:
    """jit for a sum that may be added in any order, so that it vectorizes (inf and NaN kept)."""
    return _compiled(function, fastmath={"reassoc"})


def _prefetcher(write: bool) -> Any:
    """An intrinsic prefetch(array, index): start fetching the cache line of array[index] (index: a
    tuple of ints, one per dimension, within the shape: not checked) into every cache level, for
    reading or for writing, without waiting for it (llvm.prefetch)."""

    def typing(typingctx: Any, array: Any, index: Any) -> Any:
        def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> Any:
            data = context.make_array(signature.args[0])(context, builder, args[0])
            indices = cgutils.unpack_tuple(builder, args[1], len(signature.args[1]))
            item = cgutils.get_item_pointer(context, builder, signature.args[0], data, indices, wraparound=False)
            byte = ir.IntType(8).as_pointer()
            flag = ir.IntType(32)
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [byte, flag, flag, flag]), "llvm.prefetch.p0")
            rw, all_levels, data_cache = (ir.Constant(flag, v) for v in (int(write), 3, 1))
            builder.call(function, [builder.bitcast(item, byte), rw, all_levels, data_cache])
            return context.get_dummy_value()

        return types.void(array, index), codegen

    return intrinsic(typing)


prefetch_read = named(_prefetcher(write=False), __name__, "prefetch_read")
prefetch_write = named(_prefetcher(write=True), __name__, "prefetch_write")
CACHE_LINE = 64  # bytes
VECTOR_BYTES = 64  # the width of the vectors the intrinsics write (AVX-512's; narrower units split them)
# labels asked for a line at a time (narrower ones: a line more than once). The test and the
# prefetch are written out in each loop: as an inlined helper taking the labels, count_pairs'
# spread count took 8x the time (measured; most likely numba counting references to the labels
# at every call, with atomic operations).
INT64_PER_LINE = CACHE_LINE // 8


def shuffle(builder: ir.IRBuilder, x: ir.Value, y: ir.Value, lanes: list[int]) -> ir.Value:
    """The intrinsics' constant shuffle: lane i of the answer is lane lanes[i] of x's lanes then y's."""
    return builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(ir.IntType(32), len(lanes)), lanes))


def _plain(state: Array, slots: Any) -> Array:
    """The state as an accumulator's own (slots None), typed for both kinds of call: see "Slots"."""
    return state


@overload(_plain)
def _plain_overload(state: Any, slots: Any) -> Any:
    # (the implementations' parameters must match this function's, annotations included)
    if isinstance(slots, (types.NoneType, types.Omitted)):
        def own(state: Any, slots: Any) -> Any:
            return state
    else:
        def own(state: Any, slots: Any) -> Any:
            return state[0]  # never read: the branch that reads it runs without slots
    return own


def _weight_at(weight: Any, i: int) -> Any:
    """weight[i], or 1 (an int: integer counts stay integer) when weight is None."""
    return 1 if weight is None else weight[i]


@overload(_weight_at)
def _weight_at_overload(weight: Any, i: Any) -> Any:
    if isinstance(weight, (types.NoneType, types.Omitted)):
        def one(weight: Any, i: Any) -> Any:
            return 1
    else:
        def one(weight: Any, i: Any) -> Any:
            return weight[i]
    return one


def _weight_ok(weight: Any, i: int) -> bool:
    """weight[i] is a weight (finite, >= 0); True when weight is None (numba picks the form)."""
    return True if weight is None else bool(_is_weight(weight[i]))


@overload(_weight_ok)
def _weight_ok_overload(weight: Any, i: Any) -> Any:
    if isinstance(weight, (types.NoneType, types.Omitted)):
        def ok(weight: Any, i: Any) -> Any:
            return True
    else:
        def ok(weight: Any, i: Any) -> Any:
            return _is_weight(weight[i])
    return ok


def _block_of(weight: Any, start: int, stop: int) -> Any:
    """weight[start:stop], or None when weight is None (numba picks the form)."""
    return None if weight is None else weight[start:stop]


@overload(_block_of)
def _block_of_overload(weight: Any, start: Any, stop: Any) -> Any:
    if isinstance(weight, (types.NoneType, types.Omitted)):
        def block(weight: Any, start: Any, stop: Any) -> Any:
            return None
    else:
        def block(weight: Any, start: Any, stop: Any) -> Any:
            return weight[start:stop]
    return block


def _kept_entry(keep: Any, i: int, k: int) -> bool:
    """keep[i, k], or True when keep is None (Multilabel without ignore_index)."""
    return True if keep is None else bool(keep[i, k])


@overload(_kept_entry)
def _kept_entry_overload(keep: Any, i: Any, k: Any) -> Any:
    if isinstance(keep, (types.NoneType, types.Omitted)):
        def kept(keep: Any, i: Any, k: Any) -> Any:
            return True
    else:
        def kept(keep: Any, i: Any, k: Any) -> Any:
            return keep[i, k]
    return kept


# Slots of Multilabel's per-sample sums: what average="samples" needs to stay a stream.
# *_SUM: sum of weight * per-sample value over the samples where it is defined;
# *_UNDEF: total weight of the samples where it is 0/0 (kept rather than the defined weight, so
# that "no undefined sample" is an exact zero). F1 and Jaccard are undefined on the same samples.
EXACT, PREC_SUM, PREC_UNDEF, REC_SUM, REC_UNDEF, F1_SUM, JAC_SUM, F_UNDEF = range(8)
N_SAMPLE_SUMS = 8


@jit
def _is_class(v: Any, n: int) -> bool:
    """True when v is an integral value in [0, n). NaN fails the first test."""
    if not (v >= 0 and v < n):
        return False
    return bool(np.int64(v) == v)


@jit_inlined
def _bounds_of(scores: Array, lo: float, hi: float) -> tuple[Any, Any]:
    """lo and hi in the scores' dtype, rounded inwards: s >= low iff s >= lo, s <= high iff s <= hi
    (argmax.bound_keys rounds them the same way, in Python, before taking their keys)."""
    low = scores.dtype.type(lo)
    high = scores.dtype.type(hi)
    if low < lo:
        low = np.nextafter(low, scores.dtype.type(np.inf))
    if high > hi:
        high = np.nextafter(high, scores.dtype.type(-np.inf))
    return low, high


def _label_ok(v: Any, n: int) -> bool:
    """_is_class in a branch-free form, for loops that should vectorize (numba picks it for v's type)."""
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
def _is_weight(w: float) -> bool:
    return w >= 0 and w < np.inf


@jit
def _in_range(s: float, lo: float, hi: float) -> bool:
    """lo <= s <= hi. With lo, hi = -DBL_MAX, DBL_MAX (ANY_SCORE) it is np.isfinite(s) in the
    same two comparisons, so checking probabilities costs nothing more than checking finiteness."""
    return (s >= lo) & (s <= hi)


@jit
def _kept(t: Any, ignore: Any, use_ignore: bool) -> bool:
    return not (use_ignore and t == ignore)


@jit
def _is_positive(s: float, threshold: float, inclusive: bool) -> bool:
    return s >= threshold if inclusive else s > threshold


# --- class indices: Multiclass labels, Binary labels (n = 2) ----------------------------------


# count_pairs (no slots: the commonest batch) checks a block at a time, in its own module: pairs.py.


@jit_inlined
def count_pairs_in_slots(y_true: Array, y_pred: Array, n: int, ignore: Any, use_ignore: bool, cm: Array,
                         slots: Array | None) -> int:
    """cm[y_true[i], y_pred[i]] += 1 for each sample whose y_true is not ``ignore``
    (cm[slots[i], y_true[i], y_pred[i]] with slots)."""
    own = _plain(cm, slots)
    for i in range(y_true.shape[0]):
        t = y_true[i]
        if not _kept(t, ignore, use_ignore):
            continue
        p = y_pred[i]
        if not (_is_class(t, n) and _is_class(p, n)):
            for j in range(i):
                if _kept(y_true[j], ignore, use_ignore):
                    if slots is None:
                        own[np.int64(y_true[j]), np.int64(y_pred[j])] -= 1
                    else:
                        cm[slots[j], np.int64(y_true[j]), np.int64(y_pred[j])] -= 1
            return i
        if slots is None:
            own[np.int64(t), np.int64(p)] += 1
        else:
            cm[slots[i], np.int64(t), np.int64(p)] += 1
    return -1


@jit
def count_pairs_weighted_in_slots(y_true: Array, y_pred: Array, weight: Array, n: int, ignore: Any,
                                  use_ignore: bool, cm: Array, slots: Array | None = None) -> int:
    """cm[y_true[i], y_pred[i]] += weight[i], checking the whole batch first (pairs.py's
    count_pairs_weighted for slots and for batches too small or matrices too large to spread)."""
    own = _plain(cm, slots)
    for i in range(y_true.shape[0]):
        t = y_true[i]
        if not _kept(t, ignore, use_ignore):
            continue
        if not (_is_class(t, n) and _is_class(y_pred[i], n) and _is_weight(weight[i])):
            return i
    for i in range(y_true.shape[0]):
        t = y_true[i]
        if not _kept(t, ignore, use_ignore):
            continue
        if slots is None:
            own[np.int64(t), np.int64(y_pred[i])] += weight[i]
        else:
            cm[slots[i], np.int64(t), np.int64(y_pred[i])] += weight[i]
    return -1


# --- Binary scores: y_true in {0, 1}, a score per sample ---------------------------------------


@jit
def count_scores(y_true: Array, scores: Array, threshold: float, inclusive: bool, lo: float, hi: float,
                 cm: Array) -> int:
    """count_scores_in_slots without slots (see count_pairs)."""
    return count_scores_in_slots(y_true, scores, threshold, inclusive, lo, hi, cm, None)


@jit_inlined
def count_scores_in_slots(y_true: Array, scores: Array, threshold: float, inclusive: bool, lo: float, hi: float,
                          cm: Array, slots: Array | None) -> int:
    """cm[y_true[i], score[i] passes threshold] += 1; scores must lie in [lo, hi]."""
    own = _plain(cm, slots)
    for i in range(y_true.shape[0]):
        t = y_true[i]
        s = scores[i]
        if not (_is_class(t, 2) and _in_range(s, lo, hi)):
            for j in range(i):
                if slots is None:
                    own[np.int64(y_true[j]), np.int64(_is_positive(scores[j], threshold, inclusive))] -= 1
                else:
                    cm[slots[j], np.int64(y_true[j]), np.int64(_is_positive(scores[j], threshold, inclusive))] -= 1
            return i
        if slots is None:
            own[np.int64(t), np.int64(_is_positive(s, threshold, inclusive))] += 1
        else:
            cm[slots[i], np.int64(t), np.int64(_is_positive(s, threshold, inclusive))] += 1
    return -1


@jit
def count_scores_weighted(y_true: Array, scores: Array, weight: Array, threshold: float, inclusive: bool, lo: float,
                          hi: float, cm: Array, slots: Array | None = None) -> int:
    own = _plain(cm, slots)
    for i in range(y_true.shape[0]):
        if not (_is_class(y_true[i], 2) and _in_range(scores[i], lo, hi) and _is_weight(weight[i])):
            return i
    for i in range(y_true.shape[0]):
        if slots is None:
            own[np.int64(y_true[i]), np.int64(_is_positive(scores[i], threshold, inclusive))] += weight[i]
        else:
            cm[slots[i], np.int64(y_true[i]), np.int64(_is_positive(scores[i], threshold, inclusive))] += weight[i]
    return -1


# --- Multilabel: (N, L) indicators, predictions as indicators or scores ------------------------


@jit
def multilabel_first_bad(y_true: Array, y_pred: Array, weight: Array, use_weight: bool, is_scores: bool, lo: float,
                         hi: float) -> int:
    """The first sample with a label not 0/1, a score outside [lo, hi] or a bad weight, or -1."""
    for i in range(y_true.shape[0]):
        for k in range(y_true.shape[1]):
            if not _is_class(y_true[i, k], 2):
                return i
            p = y_pred[i, k]
            if not (_in_range(p, lo, hi) if is_scores else _is_class(p, 2)):
                return i
        if use_weight and not _is_weight(weight[i]):
            return i
    return -1


@jit_inlined
def _count_multilabel_sample(y_true: Array, y_pred: Array, keep: Array | None, i: int, w: Any, is_scores: bool,
                             threshold: float, inclusive: bool, cm: Array) -> tuple[float, float, float, float, float,
                                                                                     float, float, float]:
    """Count sample i's kept entries (all when keep is None) into cm (L x 2 x 2) and return its
    terms of the sample-averaged sums, in the order EXACT .. F_UNDEF, unweighted. (Returned, not
    added to the sums here: the caller keeps them in registers across the batch, where adding to
    the sums array made each sample wait on the one before.)"""
    tp = fp = fn = np.int64(0)
    for k in range(y_true.shape[1]):
        if not _kept_entry(keep, i, k):
            continue
        t = np.int64(y_true[i, k])
        if is_scores:
            p = np.int64(_is_positive(y_pred[i, k], threshold, inclusive))
        else:
            p = np.int64(y_pred[i, k])
        cm[k, t, p] += w
        tp += t & p
        fp += p & (1 - t)
        fn += t & (1 - p)
    # Per-sample scores with scikit-learn's formulas (f-score: 2 tp / (true + pred)).
    pred = tp + fp
    true = tp + fn
    some = true + pred > 0
    return (1.0 if fp + fn == 0 else 0.0,
            tp / pred if pred > 0 else 0.0, 0.0 if pred > 0 else 1.0,
            tp / true if true > 0 else 0.0, 0.0 if true > 0 else 1.0,
            (2.0 * tp) / (true + pred) if some else 0.0, tp / (tp + fp + fn) if some else 0.0, 0.0 if some else 1.0)


@jit_inlined
def count_multilabel_rows(y_true: Array, y_pred: Array, keep: Array | None, weight: Array | None, is_scores: bool,
                          threshold: float, inclusive: bool, cm: Array, sums: Array, slots: Array | None) -> None:
    """count_multilabel(_weighted), and masked.py's with keep: each sample's sums terms times its
    weight, added up in local sums for the accumulator's own state, into its slot's sums
    otherwise. Sums with a slot after the N_SAMPLE_SUMS (masked.ROWS) also count the samples' weight."""
    rows = sums.shape[-1] > N_SAMPLE_SUMS
    if slots is None:
        own_cm, own = _plain(cm, slots), _plain(sums, slots)
        t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = t8 = 0.0
        for i in range(y_true.shape[0]):
            w = _weight_at(weight, i)
            s = _count_multilabel_sample(y_true, y_pred, keep, i, w, is_scores, threshold, inclusive, own_cm)
            t8 += w
            t0 += w * s[0]
            t1 += w * s[1]
            t2 += w * s[2]
            t3 += w * s[3]
            t4 += w * s[4]
            t5 += w * s[5]
            t6 += w * s[6]
            t7 += w * s[7]
        for k, total in enumerate((t0, t1, t2, t3, t4, t5, t6, t7)):
            own[k] += total
        if rows:
            own[N_SAMPLE_SUMS] += t8
        return
    for i in range(y_true.shape[0]):
        w = _weight_at(weight, i)
        s = _count_multilabel_sample(y_true, y_pred, keep, i, w, is_scores, threshold, inclusive, cm[slots[i]])
        row = sums[slots[i]]
        for k in range(N_SAMPLE_SUMS):
            row[k] += w * s[k]
        if rows:
            row[N_SAMPLE_SUMS] += w


@jit
def count_multilabel(y_true: Array, y_pred: Array, is_scores: bool, threshold: float, inclusive: bool, cm: Array,
                     sums: Array, slots: Array | None = None) -> None:
    """Count a batch that multilabel_first_bad passed (the checks are the caller's: it checks
    once, then counts the batch and each bootstrap replicate)."""
    count_multilabel_rows(y_true, y_pred, None, None, is_scores, threshold, inclusive, cm, sums, slots)


@jit
def count_multilabel_weighted(y_true: Array, y_pred: Array, weight: Array, is_scores: bool, threshold: float,
                              inclusive: bool, cm: Array, sums: Array, slots: Array | None = None) -> None:
    count_multilabel_rows(y_true, y_pred, None, weight, is_scores, threshold, inclusive, cm, sums, slots)


# --- score histograms: one (negatives, positives) histogram per column -------------------------
#
# edges t_0 < ... < t_{m-1} cut the scores into m + 1 cells. A score's cell is the number of edges
# it passes (score >= t, or score > t when not inclusive), so cell j holds the scores that pass
# t_{j-1} but not t_j, and "passes t_j" is exactly "lies in a cell above j". Counts at every edge
# are therefore exact, whatever the binning.
#
# Uniform edges are t_k = k * step + lo, with t_{m-1} = hi exactly (what _scores.make_edges builds,
# and np.linspace's formula). The cell is estimated by arithmetic, which rounding can put one cell
# off, then corrected by one step against the two neighbouring edges, recomputed by the same
# formula: no memory read, no loop, so the cell computation vectorizes.
#
# Scores are compared with the edges in their own dtype, as numpy's ``scores >= t`` does: with
# round32, float32 scores meet the edges rounded to float32. The Python layer (_scores.edges_for)
# keeps the one-step correction exact: it uses arithmetic only when the step is several units in
# the last place of the dtype at the edges (rounded edges then stay apart), and otherwise passes
# the rounded edges themselves for a binary search.


@jit
def _passes(s: float, t: float, inclusive: bool) -> bool:
    return s >= t if inclusive else s > t


@jit
def _binning(edges: Array) -> tuple[float, float, float, float]:
    """(lo, step, hi, 1 / step) of uniform edges, computed once per kernel call."""
    m = edges.shape[0]
    lo, hi = edges[0], edges[m - 1]
    step = (hi - lo) / (m - 1) if m > 1 else 1.0
    # rounded edges that collide (searched, not computed) may make step 0: no division by it
    return lo, step, hi, 1.0 / step if step > 0 else 0.0


@jit
def _round(t: float, round32: bool) -> float:
    return np.float64(np.float32(t)) if round32 else t


@jit_inlined
def _uniform_cell(s: float, m: int, binning: tuple[float, float, float, float], inclusive: bool,
                  round32: bool) -> Any:  # an int64 cell index
    lo, step, hi, inv_step = binning
    j = np.int64(math.floor(min(max((s - lo) * inv_step, -1.0), m - 1.0))) + 1
    below = _round(hi if j == m else (j - 1) * step + lo, round32)  # t_{j-1}, unused when j = 0
    above = _round(hi if j == m - 1 else j * step + lo, round32)  # t_j, unused when j = m
    j -= np.int64(j > 0 and not _passes(s, below, inclusive))
    j += np.int64(j < m and _passes(s, above, inclusive))
    return j


@jit_inlined
def _cell(s: float, edges: Array, uniform: bool, binning: tuple[float, float, float, float], inclusive: bool,
          round32: bool) -> Any:  # an int64 cell index
    if uniform:
        return _uniform_cell(s, edges.shape[0], binning, inclusive, round32)
    lo, hi = 0, edges.shape[0]  # binary search for the number of edges passed
    while lo < hi:
        mid = (lo + hi) // 2
        if _passes(s, edges[mid], inclusive):
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit_inlined
def _add_to_cell(hist: Array, score_sums: Array, c: int, t: Any, j: Any, s: float, weight: Array, i: int,
                 use_weight: bool) -> None:
    if use_weight:
        hist[c, t, j] += weight[i]
        score_sums[c, j] += weight[i] * s
    else:
        hist[c, t, j] += 1
        score_sums[c, j] += s


@jit
def histogram_scores(scores: Array, truth: Array, weight: Array, use_weight: bool, edges: Array, uniform: bool,
                     round32: bool, inclusive: bool, hist: Array, score_sums: Array, slots: Array | None = None) -> None:
    """hist[c, truth[i, c], cell(scores[i, c])] += w_i for every column c; score_sums[c, cell] += w_i * score.

    truth is an (N, C) 0/1 matrix: the labels of Multilabel, a one-hot matrix for Multiclass,
    one column for Binary. Inputs are already validated. Unweighted, hist is int64 and counts 1.
    """
    histogram_rows(scores, truth, None, weight, use_weight, edges, uniform, round32, inclusive, hist, score_sums,
                   slots)


@jit_inlined
def histogram_rows(scores: Array, truth: Array, keep: Array | None, weight: Array, use_weight: bool, edges: Array,
                   uniform: bool, round32: bool, inclusive: bool, hist: Array, score_sums: Array,
                   slots: Array | None) -> None:
    """histogram_scores of the entries where keep (None: all; masked.py's histogram_masked). A
    block's cells are found first, then added: an increment right after its cell's arithmetic
    (its address known only then) held the next scores' loads back (measured, (100,000, 10)
    float32, 100 bins: 23 ms, against 2.6 ms in two loops)."""
    binning = _binning(edges)
    own_hist, own_sums = _plain(hist, slots), _plain(score_sums, slots)
    n, columns = scores.shape
    rows = max(1, HIST_BLOCK // max(columns, 1))
    found = np.empty((min(rows, n), columns), np.int64)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        for i in range(start, stop):
            for c in range(columns):
                found[i - start, c] = _cell(scores[i, c], edges, uniform, binning, inclusive, round32)
        for i in range(start, stop):
            for c in range(columns):
                if not _kept_entry(keep, i, c):
                    continue
                s, j, t = scores[i, c], found[i - start, c], np.int64(truth[i, c])
                if slots is None:
                    _add_to_cell(own_hist, own_sums, c, t, j, s, weight, i, use_weight)
                else:
                    _add_to_cell(hist[slots[i]], score_sums[slots[i]], c, t, j, s, weight, i, use_weight)


@jit
def count_outside(scores: Array, keep: Array | None, weight: Array | None, lo: float, hi: float, out: Array,
                  slots: Array | None = None) -> None:
    """out[0] += the (weighted) number of scores below lo, out[1] above hi, of the entries where
    keep (None: all); with slots, into out[slots[i]]. (One pass: the numpy expressions it replaces
    made four temporaries of the scores' size.)"""
    own = _plain(out, slots)
    below_all = above_all = own[0] * 0  # the counts' type: int64, or float64 weighted
    for i in range(scores.shape[0]):
        below = above = 0
        for c in range(scores.shape[1]):
            s = scores[i, c]
            kept = _kept_entry(keep, i, c)
            below += kept & (s < lo)
            above += kept & (s > hi)
        w = _weight_at(weight, i)
        if slots is None:
            below_all += w * below
            above_all += w * above
        else:
            out[slots[i], 0] += w * below
            out[slots[i], 1] += w * above
    if slots is None:
        own[0] += below_all
        own[1] += above_all


@jit
def count_ranks(scores: Array, truth: Array, weight: Array | None, ranks: Array, slots: Array | None = None) -> None:
    """ranks[r] += w_i for each row, r the rank of the true class's score (the classes scoring
    higher, and the tied classes of higher index: scikit-learn's stable argsort reversed), capped
    at the last cell; with slots, into ranks[slots[i]]. Scores are already validated."""
    own = _plain(ranks, slots)
    last = ranks.shape[-1] - 1
    for i in range(scores.shape[0]):
        t = np.int64(truth[i])
        mine = scores[i, t]
        rank = 0
        for c in range(scores.shape[1]):
            s = scores[i, c]
            rank += (s > mine) | ((s == mine) & (c > t))
        rank = min(rank, last)
        if slots is None:
            own[rank] += _weight_at(weight, i)
        else:
            ranks[slots[i], rank] += _weight_at(weight, i)


HIST_BLOCK = 4096  # scores per block of histogram_scores: their cells stay in L1

# Slots of the calibration sums of a scored accumulator.
BRIER, LOG_LOSS, OUTSIDE_UNIT = range(3)


@jit
def calibration_sums(truth: Array, probs: Array, weight: Array, use_weight: bool, eps: float, sums: Array,
                     slots: Array | None = None) -> None:
    """Running sums of Brier and log loss terms over probabilities, as scikit-learn computes them.

    truth is (N, C) one-hot (C = 2 columns [negative, positive] for binary, K for multiclass);
    probs is (N, C). Log loss clips each probability to [eps, 1 - eps] (eps of the input dtype).
    Probabilities outside [0, 1] are counted in OUTSIDE_UNIT: they make both losses meaningless,
    so their rows add no Brier term (a score of 1e300 would make the sum infinite); every term
    added is then at most 2 (Brier) or -log(eps) (log loss), and the sums cannot overflow.
    """
    own = _plain(sums, slots)
    for i in range(probs.shape[0]):
        w = weight[i] if use_weight else 1.0
        brier = 0.0
        loss = 0.0
        outside = False
        for c in range(probs.shape[1]):
            p = probs[i, c]
            t = truth[i, c]
            brier += (p - t) * (p - t)
            if t:
                loss -= np.log(min(max(p, eps), 1 - eps))
            outside = outside or p < 0 or p > 1
        if slots is None:
            own[LOG_LOSS] += w * loss
            if outside:
                own[OUTSIDE_UNIT] += w
            else:
                own[BRIER] += w * brier
        else:
            s = slots[i]
            sums[s, LOG_LOSS] += w * loss
            if outside:
                sums[s, OUTSIDE_UNIT] += w
            else:
                sums[s, BRIER] += w * brier


@jit
def count_binary_scored(y_true: Array, scores: Array, weight: Array, use_weight: bool, threshold: float,
                        inclusive: bool, smin: float, smax: float, edges: Array, uniform: bool, round32: bool,
                        eps: float, cm: Array, hist: Array, score_sums: Array, calib: Array,
                        out_of_range: Array, slots: Array | None = None) -> int:
    """Binary(bins=...): the confusion matrix at the threshold, the score histogram, the
    calibration sums and the out-of-range counts. Checks the batch first (float sums cannot be
    undone exactly): scores must lie in [smin, smax]."""
    bad = _first_bad_scored(y_true, scores, weight, use_weight, smin, smax)
    if bad >= 0:
        return bad
    if slots is not None:
        _count_scored_slotted(y_true, scores, weight, use_weight, threshold, inclusive, edges, uniform, round32, eps,
                              cm, hist, score_sums, calib, out_of_range, slots)
    elif use_weight:
        _count_scored_weighted(y_true, scores, weight, threshold, inclusive, edges, uniform, round32, eps,
                               _plain(cm, slots), _plain(hist, slots), _plain(score_sums, slots),
                               _plain(calib, slots), _plain(out_of_range, slots))
    else:
        _count_scored_blocks(y_true, scores, threshold, inclusive, edges, uniform, round32, eps,
                             _plain(cm, slots), _plain(hist, slots), _plain(score_sums, slots),
                             _plain(calib, slots), _plain(out_of_range, slots))
    return -1


@jit
def _first_bad_scored(y_true: Array, scores: Array, weight: Array, use_weight: bool, smin: float, smax: float) -> int:
    ok = True
    for i in range(y_true.shape[0]):  # no early exit: the common, valid batch is checked in SIMD
        ok &= ((y_true[i] == 0) | (y_true[i] == 1)) & _in_range(scores[i], smin, smax)
    if use_weight:
        for i in range(weight.shape[0]):
            ok &= _is_weight(weight[i])
    if ok:
        return -1
    for i in range(y_true.shape[0]):
        if not (_is_class(y_true[i], 2) and _in_range(scores[i], smin, smax)
                and (not use_weight or _is_weight(weight[i]))):
            return i
    return -1


@jit
def _count_scored_weighted(y_true: Array, scores: Array, weight: Array, threshold: float, inclusive: bool,
                           edges: Array, uniform: bool, round32: bool, eps: float, cm: Array, hist: Array,
                           score_sums: Array, calib: Array, out_of_range: Array) -> None:
    binning = _binning(edges)
    lo, hi = _round(edges[0], round32), _round(edges[-1], round32)
    brier = log_loss = outside = 0.0
    for i in range(y_true.shape[0]):
        t = np.int64(y_true[i])
        s = scores[i]
        w = weight[i]
        j = _cell(s, edges, uniform, binning, inclusive, round32)
        cm[t, np.int64(_is_positive(s, threshold, inclusive))] += w
        hist[0, t, j] += w
        score_sums[0, j] += w * s
        log_loss -= w * np.log(_clipped_probability(t, s, eps))
        if s < 0 or s > 1:
            outside += w
        else:  # see calibration_sums: no Brier term for a score that is no probability
            brier += w * (s - t) * (s - t)
        if s < lo:
            out_of_range[0] += w
        elif s > hi:
            out_of_range[1] += w
    calib[BRIER] += 2.0 * brier  # both columns [1 - p, p] of scikit-learn's two-column form
    calib[LOG_LOSS] += log_loss
    calib[OUTSIDE_UNIT] += outside


@jit
def _count_scored_slotted(y_true: Array, scores: Array, weight: Array, use_weight: bool, threshold: float,
                          inclusive: bool, edges: Array, uniform: bool, round32: bool, eps: float, cm: Array,
                          hist: Array, score_sums: Array, calib: Array, out_of_range: Array, slots: Array) -> None:
    """count_binary_scored sample by sample into each sample's slot (the arrays' leading axis)."""
    binning = _binning(edges)
    lo, hi = _round(edges[0], round32), _round(edges[-1], round32)
    for i in range(y_true.shape[0]):
        k = slots[i]
        t = np.int64(y_true[i])
        s = scores[i]
        w = weight[i] if use_weight else 1.0
        j = _cell(s, edges, uniform, binning, inclusive, round32)
        if use_weight:
            cm[k, t, np.int64(_is_positive(s, threshold, inclusive))] += w
            hist[k, 0, t, j] += w
        else:
            cm[k, t, np.int64(_is_positive(s, threshold, inclusive))] += 1
            hist[k, 0, t, j] += 1
        score_sums[k, 0, j] += w * s
        calib[k, LOG_LOSS] -= w * np.log(_clipped_probability(t, s, eps))
        if s < 0 or s > 1:
            calib[k, OUTSIDE_UNIT] += w
        else:  # see calibration_sums; both columns [1 - p, p] of scikit-learn's two-column form
            calib[k, BRIER] += 2.0 * w * (s - t) * (s - t)
        side = 0 if s < lo else 1 if s > hi else -1
        if side >= 0:
            if use_weight:
                out_of_range[k, side] += w
            else:
                out_of_range[k, side] += 1


# The unweighted count runs block by block, in passes that each do one thing, so that most of
# them vectorize: cells and counts (integer sums), squared errors (a float sum, reordered), the
# log-loss product, then the scatter-adds into the histogram from the block's cells, still in L1.
BLOCK = 512
# The log loss sum is the log of a product of clipped probabilities, kept as mantissa and
# exponent: one multiply per sample instead of one logarithm, the same rounding (a relative error
# of 2**-53 per factor). A group of 16 factors >= 2**-52 is >= 2**-832, so it cannot underflow
# when multiplied into a mantissa renormalized to >= 1e-40.
GROUP = 16


@jit
def _clipped_probability(t: Any, s: float, eps: float) -> float:
    """The probability given to the true class, clipped to [eps, 1 - eps] as scikit-learn's log_loss."""
    return min(max(s if t == 1 else 1.0 - s, eps), 1 - eps)


@jit
def _count_scored_blocks(y_true: Array, scores: Array, threshold: float, inclusive: bool, edges: Array,
                         uniform: bool, round32: bool, eps: float, cm: Array, hist: Array, score_sums: Array,
                         calib: Array, out_of_range: Array) -> None:
    n = y_true.shape[0]
    binning = _binning(edges)
    cells = np.empty(BLOCK, dtype=np.int64)
    counts = np.zeros(6, dtype=np.int64)  # true positives, positives, predicted positives, below, above, outside [0, 1]
    brier = 0.0
    mantissa, exponent = 1.0, 0
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        _block_cells(y_true, scores, start, stop, threshold, inclusive, edges, uniform, round32, binning, cells, counts)
        brier += _squared_errors(y_true, scores, start, stop)
        for g in range(start, stop, GROUP):
            mantissa *= _group_product(y_true, scores, g, min(stop, g + GROUP), eps)
            if mantissa < 1e-40:
                mantissa, e = math.frexp(mantissa)
                exponent += e
        block_scores, block_truth = scores[start:stop], y_true[start:stop]
        for k in range(block_scores.shape[0]):
            j = cells[k]
            hist[0, np.int64(block_truth[k]), j] += 1
            score_sums[0, j] += block_scores[k]
    tp, positives, predicted = counts[0], counts[1], counts[2]
    cm[1, 1] += tp
    cm[1, 0] += positives - tp
    cm[0, 1] += predicted - tp
    cm[0, 0] += n - positives - predicted + tp
    out_of_range[0] += counts[3]
    out_of_range[1] += counts[4]
    calib[BRIER] += 2.0 * brier  # both columns [1 - p, p] of scikit-learn's two-column form
    calib[LOG_LOSS] -= np.log(mantissa) + exponent * np.log(2.0)
    calib[OUTSIDE_UNIT] += counts[5]


@jit
def _block_cells(y_true: Array, scores: Array, start: int, stop: int, threshold: float, inclusive: bool, edges: Array,
                 uniform: bool, round32: bool, binning: tuple[float, float, float, float], cells: Array,
                 counts: Array) -> None:
    lo, hi = _round(edges[0], round32), _round(edges[-1], round32)
    m = edges.shape[0]
    tp = positives = predicted = below = above = outside = np.int64(0)
    # Views and a range index from 0: numba then knows every index is >= 0 and emits no
    # negative-index wraparound (cells[i - start] would need one), so the loop vectorizes.
    block_scores, block_truth = scores[start:stop], y_true[start:stop]
    for k in range(block_scores.shape[0]):
        s = block_scores[k]
        t = np.int64(block_truth[k])
        if uniform:  # the same branch for every sample: hoisted, and the uniform loop vectorizes
            cells[k] = _uniform_cell(s, m, binning, inclusive, round32)
        else:
            cells[k] = _cell(s, edges, False, binning, inclusive, False)
        p = np.int64(_is_positive(s, threshold, inclusive))
        tp += t & p
        positives += t
        predicted += p
        below += s < lo
        above += s > hi
        outside += (s < 0) | (s > 1)
    counts[0] += tp
    counts[1] += positives
    counts[2] += predicted
    counts[3] += below
    counts[4] += above
    counts[5] += outside


@jit_reassociating
def _squared_errors(y_true: Array, scores: Array, start: int, stop: int) -> float:
    """The Brier terms of a block; none for a score outside [0, 1] (see calibration_sums)."""
    total = 0.0
    for i in range(start, stop):
        s = scores[i]
        d = s - np.float64(y_true[i]) if s >= 0 and s <= 1 else 0.0
        total += d * d
    return total


@jit
def _group_product(y_true: Array, scores: Array, start: int, stop: int, eps: float) -> float:
    if stop - start == GROUP:  # four independent products: no chain of dependent multiplies
        q0 = q1 = q2 = q3 = 1.0
        for i in range(start, stop, 4):
            q0 *= _clipped_probability(y_true[i], scores[i], eps)
            q1 *= _clipped_probability(y_true[i + 1], scores[i + 1], eps)
            q2 *= _clipped_probability(y_true[i + 2], scores[i + 2], eps)
            q3 *= _clipped_probability(y_true[i + 3], scores[i + 3], eps)
        return (q0 * q1) * (q2 * q3)
    q = 1.0
    for i in range(start, stop):
        q *= _clipped_probability(y_true[i], scores[i], eps)
    return q
