"""Score states: bin edges and exact tables of distinct scores (sorted, mergeable, compactable).

An exact table is (scores ascending, counts (2, D): negatives and positives per score). Past
``max_distinct`` entries it compacts: scores are grouped by their leading bits (an order-keeping
integer key of the float, shifted right), each group keeps its smallest score and the sum of its
counts. Counts stay exact at each kept score; the groups are the same on every worker whatever
the data, so compacted tables still merge exactly.
"""

from __future__ import annotations

import numpy as np

from . import _kernels

_SIGN = np.uint64(1 << 63)


def make_edges(bins, score_range) -> tuple[np.ndarray, bool]:
    """(edges, uniform) from bins=int (uniform on score_range) or an increasing array of thresholds."""
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins={bins!r} is not valid: expected an integer >= 1 or an array of thresholds")
        lo, hi = _check_range(score_range)
        # t_k = k * step + lo and t_bins = hi exactly: the formula the kernels' cell correction
        # recomputes (_kernels._uniform_cell), and np.linspace's
        edges = np.arange(int(bins) + 1) * ((hi - lo) / int(bins)) + lo
        edges[-1] = hi
        return edges, True
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"bins={bins!r} is not valid: expected an integer or an array of thresholds") from None
    if edges.ndim != 1 or edges.shape[0] < 1:
        raise ValueError(f"bins has shape {edges.shape}: expected a 1-D array of at least one threshold")
    if not np.isfinite(edges).all():
        raise ValueError(f"bins[{int(np.argmin(np.isfinite(edges)))}] is not finite")
    steps = np.diff(edges)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        raise ValueError(f"bins[{i}] = {edges[i]!r} is not above bins[{i - 1}] = {edges[i - 1]!r}: thresholds must increase")
    return edges, False


def n_cells(bins, score_range) -> int:
    """Number of histogram cells (bins + 2 edge cells), checked without building the edges."""
    _check_range(score_range)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins={bins!r} is not valid: expected an integer >= 1 or an array of thresholds")
        return int(bins) + 2
    return len(make_edges(bins, score_range)[0]) + 1


def _check_range(score_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in score_range)
    except (TypeError, ValueError):
        raise TypeError(f"score_range={score_range!r} is not valid: expected (low, high)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi and np.isfinite(hi - lo)):
        raise ValueError(f"score_range={score_range!r} is not valid: expected finite low < high")
    return lo, hi


_NO_WEIGHT = np.empty(0)


def histogram(hist, score_sums, scores, truth, weight, edges, uniform, inclusive, out_of_range=None) -> None:
    """Add (N, C) scores with (N, C) 0/1 truth to hist (C, 2, cells) and score_sums (C, cells);
    count the scores below and above the edges into out_of_range, when given."""
    w = _NO_WEIGHT if weight is None else weight
    _kernels.histogram_scores(scores, truth, w, weight is not None, edges, uniform, inclusive, hist, score_sums)
    if out_of_range is not None:
        ones = 1 if weight is None else weight.reshape(-1, *([1] * (scores.ndim - 1)))
        out_of_range += [np.sum((scores < edges[0]) * ones), np.sum((scores > edges[-1]) * ones)]


def calibration_sums(calib, truth, probs, weight, eps) -> None:
    """Add the Brier and log-loss terms of (N, C) probabilities with (N, C) one-hot truth."""
    w = _NO_WEIGHT if weight is None else weight
    _kernels.calibration_sums(truth, probs, w, weight is not None, eps, calib)


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


def table_from_batch(scores, positive, weight, dtype, shift) -> tuple[np.ndarray, np.ndarray]:
    """The table of one batch; zero-weight samples leave no entry (as scikit-learn drops them)."""
    scores = np.asarray(scores, dtype=np.float64)
    if weight is not None:
        keep = weight != 0
        scores, positive, weight = scores[keep], positive[keep], weight[keep]
    counts = np.zeros((2, scores.shape[0]), dtype=dtype)
    counts[np.asarray(positive, dtype=np.int64), np.arange(scores.shape[0])] = 1 if weight is None else weight
    return regroup(scores, counts, shift)


def merge_tables(a, b, shift) -> tuple[np.ndarray, np.ndarray]:
    return regroup(np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]], axis=1), shift)


def compact(scores, counts, shift, max_distinct) -> tuple[np.ndarray, np.ndarray, int]:
    """Raise the shift until at most max_distinct // 2 groups remain (leaving room to grow)."""
    target = max(1, max_distinct // 2)
    while scores.shape[0] > target:
        shift += 4
        scores, counts = regroup(scores, counts, shift)
    return scores, counts, shift
