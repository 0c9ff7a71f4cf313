"""Score states: bin edges and exact tables of distinct scores (sorted, mergeable, compactable).

Scores meet thresholds and bin edges in the scores' own dtype, as numpy's ``scores >= t`` does
(NEP 50: a Python float is cast to the array's dtype): a float32 score of 0.7 passes
``threshold=0.7``, whose float32 rounding it equals. ``round_to`` rounds thresholds and edges to a
score dtype ("float64", "float32", "float16", or a torch tensor's "bfloat16", rounded as torch
rounds a Python float); the kernels then compare in float64, where a float32 score against a
float32-rounded threshold gives exactly the float32 comparison.

An exact table is (scores ascending, counts (2, D): negatives and positives per score). Past
``max_distinct`` entries it compacts: scores are grouped by their leading bits (an order-keeping
integer key of the float, shifted right), each group keeps its smallest score and the sum of its
counts. Counts stay exact at each kept score; the groups are the same on every worker whatever
the data, so compacted tables still merge exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._inputs import show

_SIGN = np.uint64(1 << 63)
Binning = tuple[np.ndarray, bool, bool]  # edges_for's (edges, uniform, round32)


def make_edges(bins: Any, score_range: Any) -> tuple[np.ndarray, bool]:
    """(edges, uniform) from bins=int (uniform on score_range) or an increasing array of thresholds."""
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins={show(bins)} is not valid: expected an integer >= 1 or an array of thresholds")
        lo, hi = check_range(score_range)
        # t_k = k * step + lo and t_bins = hi exactly: the formula the kernels' cell correction
        # recomputes (_kernels._uniform_cell), and np.linspace's
        edges = np.arange(int(bins) + 1) * ((hi - lo) / int(bins)) + lo
        edges[-1] = hi
        if not _apart(edges, np.float64):
            raise ValueError(
                f"bins={show(bins)} on score_range={show(score_range)} puts edges {edges[1] - edges[0]:.3g} apart, too close "
                "for float64 to tell apart at that scale: use fewer bins or a narrower range"
            )
        return edges, True
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"bins={show(bins)} is not valid: expected an integer or an array of thresholds") from None
    if edges.ndim != 1 or edges.shape[0] < 1:
        raise ValueError(f"bins has shape {edges.shape}: expected a 1-D array of at least one threshold")
    if not np.isfinite(edges).all():
        raise ValueError(f"bins[{int(np.argmin(np.isfinite(edges)))}] is not finite")
    steps = np.diff(edges)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        raise ValueError(f"bins[{i}] = {show(edges[i])} is not above bins[{i - 1}] = {show(edges[i - 1])}: thresholds must increase")
    return edges, False


def n_cells(bins: Any, score_range: Any) -> int:
    """Number of histogram cells (bins + 2 edge cells), checked without building the edges."""
    check_range(score_range)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins={show(bins)} is not valid: expected an integer >= 1 or an array of thresholds")
        return int(bins) + 2
    return len(make_edges(bins, score_range)[0]) + 1


def check_range(score_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in score_range)
    except (TypeError, ValueError):
        raise TypeError(f"score_range={show(score_range)} is not valid: expected (low, high)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi and np.isfinite(hi - lo)):
        raise ValueError(f"score_range={show(score_range)} is not valid: expected finite low < high")
    return lo, hi


# --- comparisons in the scores' dtype ------------------------------------------------------------

#: Machine epsilon of each score dtype: log loss clips probabilities to [eps, 1 - eps].
EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}


def round_to(values: Any, kind: str) -> np.ndarray:
    """float64 values rounded to the score dtype ``kind`` (to nearest, even on ties; past its
    range to +-inf), as float64 again."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        if kind == "float64":
            as_float64: np.ndarray = values
            return as_float64
        if kind != "bfloat16":
            rounded: np.ndarray = values.astype(kind).astype(np.float64)
            return rounded
        # torch makes a Python float a float32 first, then keeps its top 16 bits, rounded to nearest even
        bits = np.atleast_1d(values.astype(np.float32)).view(np.uint32)
        bits = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
        rounded16: np.ndarray = bits.view(np.float32).astype(np.float64).reshape(values.shape)
        return rounded16


def _apart(edges: np.ndarray, dtype: type[np.floating[Any]]) -> bool:
    """True when uniform edges are at least 4 units in the last place of dtype apart, where they
    are largest: then rounding them to dtype neither merges two of them nor moves a score's cell
    by more than the kernels' one correction step (see _kernels._uniform_cell)."""
    if edges.shape[0] < 2:
        return True
    step = (edges[-1] - edges[0]) / (edges.shape[0] - 1)
    with np.errstate(over="ignore", invalid="ignore"):
        ulp = float(np.spacing(dtype(max(abs(edges[0]), abs(edges[-1])))))
    return bool(step >= 4 * ulp)


def edges_for(edges: np.ndarray, uniform: bool, kind: str) -> Binning:
    """(edges, uniform, round32): how the kernels bin scores of dtype kind so that every score
    meets the edges rounded to that dtype. Uniform edges keep their arithmetic for float64, and
    for float32 with the kernels rounding each recomputed edge (round32) while the edges stay
    apart in float32; otherwise the rounded edges themselves are searched (they may repeat)."""
    if kind == "float64":
        return edges, uniform, False
    if uniform and kind == "float32" and _apart(edges, np.float32):
        return edges, True, True
    return round_to(edges, kind), False, False


# --- exact tables -------------------------------------------------------------------------------


def _keys(scores: np.ndarray) -> np.ndarray:
    """uint64 keys in the order of the float64 scores (sign-magnitude to two's order)."""
    bits = scores.view(np.uint64)
    return np.where((bits & _SIGN) != 0, ~bits, bits | _SIGN)


def regroup(scores: np.ndarray, counts: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Group entries by key >> shift (shift 0: by distinct value), summing counts, keeping the smallest score."""
    if scores.shape[0] == 0:
        return scores, counts
    scores = scores + 0.0  # -0.0 and 0.0 are one score, as in scikit-learn
    groups = _keys(scores) >> np.uint64(shift) if shift else scores
    order = np.lexsort((scores, groups))
    groups, scores, counts = groups[order], scores[order], counts[:, order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    return scores[starts], np.add.reduceat(counts, starts, axis=1)


def table_from_batch(scores: np.ndarray, positive: np.ndarray, weight: np.ndarray | None, dtype: np.dtype,
                     shift: int) -> tuple[np.ndarray, np.ndarray]:
    """The table of one batch; zero-weight samples leave no entry (as scikit-learn drops them)."""
    scores = np.asarray(scores, dtype=np.float64)
    if weight is not None:
        keep = weight != 0
        scores, positive, weight = scores[keep], positive[keep], weight[keep]
    counts = np.zeros((2, scores.shape[0]), dtype=dtype)
    counts[np.asarray(positive, dtype=np.int64), np.arange(scores.shape[0])] = 1 if weight is None else weight
    return regroup(scores, counts, shift)


def merge_tables(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
                 shift: int) -> tuple[np.ndarray, np.ndarray]:
    return regroup(np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]], axis=1), shift)


def compact(scores: np.ndarray, counts: np.ndarray, shift: int,
            max_distinct: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Raise the shift until at most max_distinct // 2 groups remain (leaving room to grow)."""
    target = max(1, max_distinct // 2)
    while scores.shape[0] > target:
        shift += 4
        scores, counts = regroup(scores, counts, shift)
    return scores, counts, shift
