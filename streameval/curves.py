"""Threshold curves from score cells: ROC and PR curves, AUC and its certified bounds, thresholds.

Every score state (a histogram over bin edges, or an exact table of distinct scores) is read as
*cells*: ascending thresholds, and per cell the number (or weight) of positives and negatives
whose score passes the cell's threshold but not the next one's. The count of positives passing
``thresholds[i]`` is then exactly ``pos[i:].sum()``. When every cell is one score value (an exact
table), the curves below are scikit-learn's, operation for operation; when cells are bins, they
are exact at every bin edge, and ``auc_bounds`` brackets the AUC of the unseen exact scores.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .errors import UndefinedMetricWarning


class Cells(NamedTuple):
    """Score cells in ascending order of threshold."""

    thresholds: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    points: bool  # True: each cell is a single score value, so pairs inside a cell are ties

    def nonempty(self) -> "Cells":
        keep = (self.pos != 0) | (self.neg != 0)
        return Cells(self.thresholds[keep], self.pos[keep], self.neg[keep], self.points)


class AtThresholds(NamedTuple):
    """Counts at each threshold, in descending order of threshold (scikit-learn's order)."""

    thresholds: np.ndarray
    tps: np.ndarray  # positives passing the threshold
    fps: np.ndarray  # negatives passing the threshold


def at_thresholds(cells: Cells, drop_empty: bool = True) -> AtThresholds:
    """Cumulative counts from the highest threshold down (scikit-learn's _binary_clf_curve).

    Empty cells (empty bins) add no point to a curve and are dropped unless drop_empty=False.
    """
    if drop_empty:
        cells = cells.nonempty()
    tps = np.cumsum(cells.pos[::-1], dtype=np.float64)
    fps = np.cumsum(cells.neg[::-1], dtype=np.float64)
    return AtThresholds(cells.thresholds[::-1].astype(np.float64), tps, fps)


Curve = tuple[np.ndarray, np.ndarray, np.ndarray]


def roc_curve(cells: Cells, drop_intermediate: bool = True) -> Curve:
    """(fpr, tpr, thresholds) as sklearn.metrics.roc_curve; the first threshold is +inf."""
    thresholds, tps, fps = at_thresholds(cells)
    if drop_intermediate and fps.shape[0] > 2:
        optimal = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps, thresholds = fps[optimal], tps[optimal], thresholds[optimal]
    tps = np.r_[0.0, tps]
    fps = np.r_[0.0, fps]
    thresholds = np.r_[np.inf, thresholds]
    if fps[-1] <= 0:
        warnings.warn("No negative samples: the false positive rate is undefined", UndefinedMetricWarning, stacklevel=3)
        fpr = np.full(fps.shape, np.nan)
    else:
        fpr = fps / fps[-1]
    if tps[-1] <= 0:
        warnings.warn("No positive samples: the true positive rate is undefined", UndefinedMetricWarning, stacklevel=3)
        tpr = np.full(tps.shape, np.nan)
    else:
        tpr = tps / tps[-1]
    return fpr, tpr, thresholds


def pr_curve(cells: Cells) -> Curve:
    """(precision, recall, thresholds) as sklearn.metrics.precision_recall_curve."""
    thresholds, tps, fps = at_thresholds(cells)
    ps = tps + fps
    precision = np.divide(tps, ps, out=np.zeros_like(tps), where=ps != 0)
    if tps.shape[0] == 0 or tps[-1] == 0:
        warnings.warn("No positive samples: recall is set to one for all thresholds", UndefinedMetricWarning, stacklevel=3)
        recall = np.ones_like(tps)
    else:
        recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def _both_classes(cells: Cells) -> bool:
    if cells.pos.sum() > 0 and cells.neg.sum() > 0:
        return True
    warnings.warn("Only one class is present: ROC AUC is not defined", UndefinedMetricWarning, stacklevel=3)
    return False


def roc_auc(cells: Cells) -> float:
    """Area under the ROC curve (sklearn.metrics.roc_auc_score); NaN with one class only.

    For bins, the trapezoid counts the pairs inside a bin as ties: the middle of auc_bounds.
    """
    if not _both_classes(cells):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, _ = roc_curve(cells)
    return float(np.trapezoid(tpr, fpr))


def auc_bounds(cells: Cells) -> tuple[float, float]:
    """Guaranteed (lower, upper) bracket of the exact ROC AUC of the scores the cells summarize.

    AUC = P(positive scores above negative) + P(tie) / 2. Pairs in different cells are ordered
    by the cells. Pairs inside one bin could be in any order: each adds 0 to the lower bound and
    1 to the upper. Inside a single-value cell they are ties and add 1/2 to both, so the bounds
    are equal for an exact table.
    """
    if not _both_classes(cells):
        return float("nan"), float("nan")
    pos = cells.pos.astype(np.float64)
    neg = cells.neg.astype(np.float64)
    neg_below = np.cumsum(neg) - neg  # negatives in strictly lower cells
    ordered = float(np.sum(pos * neg_below))
    inside = float(np.sum(pos * neg))
    total = float(pos.sum() * neg.sum())
    if cells.points:
        value = (ordered + 0.5 * inside) / total
        return value, value
    return ordered / total, (ordered + inside) / total


def average_precision(cells: Cells) -> float:
    """Average precision (sklearn.metrics.average_precision_score): sum of (R_n - R_n-1) P_n."""
    precision, recall, _ = pr_curve(cells)
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


# --- calibration ----------------------------------------------------------------------------


def calibration_curve(cell_scores: np.ndarray, pos: np.ndarray, total: np.ndarray, score_sums: np.ndarray,
                      n_bins: int) -> Curve:
    """(prob_true, prob_pred) of sklearn.calibration.calibration_curve(strategy="uniform").

    cell_scores holds a score of each cell (its lower edge, or its value), total and pos the
    weight of each cell and of its positives, score_sums the weighted sum of its scores.
    Cells are put in calibration bins (b_i, b_i+1] by that score.
    """
    if not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise ValueError(f"n_bins={n_bins!r} is not valid: expected an integer >= 1")
    inner = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    ids = np.searchsorted(inner, cell_scores)
    bin_total = np.bincount(ids, weights=total, minlength=n_bins)
    bin_true = np.bincount(ids, weights=pos, minlength=n_bins)
    bin_sums = np.bincount(ids, weights=score_sums, minlength=n_bins)
    nonzero = bin_total != 0
    return bin_true[nonzero] / bin_total[nonzero], bin_sums[nonzero] / bin_total[nonzero], bin_total[nonzero]


def binned_calibration(hist_column: np.ndarray, score_sums: np.ndarray, edges: np.ndarray, n_bins: int) -> Curve:
    """calibration_curve of a (2, cells) histogram whose edges must contain the calibration edges."""
    inner = np.linspace(0.0, 1.0, n_bins + 1)[1:-1] if isinstance(n_bins, (int, np.integer)) and n_bins >= 1 else None
    if inner is not None and not all(np.isclose(edges, e, rtol=0, atol=1e-9).any() for e in inner):
        raise ValueError(f"n_bins={n_bins} does not divide the histogram's bins: every calibration edge must be a bin edge")
    # A score inside each cell stands for it: bins are aligned, so every score of a cell falls
    # in the same calibration bin, and a midpoint is safe from rounding at the edges.
    inside = np.r_[edges[0] - 1, (edges[:-1] + edges[1:]) / 2, edges[-1] + 1]
    return calibration_curve(inside, hist_column[1], hist_column.sum(axis=0), score_sums, n_bins)


def expected_calibration_error(prob_true: np.ndarray, prob_pred: np.ndarray, weight: np.ndarray) -> float:
    """Sum over bins of (bin weight / total) * |fraction of positives - mean predicted probability|."""
    total = weight.sum()
    return float(np.sum(weight * np.abs(prob_true - prob_pred)) / total) if total else float("nan")


# --- choosing a threshold -------------------------------------------------------------------


def threshold_for(at: AtThresholds, n_pos: float, recall: float | None = None,
                  precision: float | None = None) -> float:
    """The highest threshold reaching the recall, or the lowest reaching the precision; NaN if none.

    The highest threshold with recall >= r keeps the fewest false positives; the lowest with
    precision >= p keeps the most true positives.
    """
    if (recall is None) == (precision is None):
        raise ValueError("give exactly one of recall= and precision=")
    target = recall if recall is not None else precision
    if not (isinstance(target, (int, float, np.floating)) and 0 <= target <= 1):
        raise ValueError(f"target {target!r} is not valid: expected a number in [0, 1]")
    if recall is not None:
        values = at.tps / n_pos if n_pos else np.zeros_like(at.tps)
        ok = np.nonzero(values >= target)[0]
        return float(at.thresholds[ok[0]]) if len(ok) else float("nan")  # descending: first is highest
    passed = at.tps + at.fps
    values = np.divide(at.tps, passed, out=np.zeros_like(at.tps), where=passed != 0)
    ok = np.nonzero(values >= target)[0]
    return float(at.thresholds[ok[-1]]) if len(ok) else float("nan")


def best_threshold(at: AtThresholds, n_pos: float, n_neg: float, metric: str = "f1", beta: float = 1.0,
                   fp_cost: float | None = None, fn_cost: float | None = None) -> float:
    """The threshold maximizing F1 / F-beta, or minimizing fp_cost * FP + fn_cost * FN.

    Ties go to the highest threshold. NaN when there is no threshold.
    """
    if at.thresholds.shape[0] == 0:
        return float("nan")
    tp, fp = at.tps, at.fps
    fn = n_pos - tp
    if metric == "cost":
        assert fp_cost is not None and fn_cost is not None
        score = -(fp_cost * fp + fn_cost * fn)
    elif metric in ("f1", "fbeta"):
        beta2 = 1.0 if metric == "f1" else float(beta) ** 2
        denom = (1 + beta2) * tp + beta2 * fn + fp
        score = np.divide((1 + beta2) * tp, denom, out=np.zeros_like(tp), where=denom != 0)
    else:
        raise ValueError(f'metric={metric!r} is not valid: expected "f1" or "fbeta"')
    return float(at.thresholds[int(np.argmax(score))])


# --- one-vs-rest columns: Multiclass classes, Multilabel labels ------------------------------------


def binned_cells(hist_column: np.ndarray, edges: np.ndarray) -> Cells:
    """Cells of one (2, cells) histogram column: the bottom cell's threshold is -inf."""
    return Cells(np.r_[-np.inf, edges], hist_column[1], hist_column[0], False)


def per_column(fn: Callable[[Cells], Any], hist: np.ndarray, edges: np.ndarray, average: str | None,
               allowed: Sequence[str | None] = (None, "macro", "weighted", "micro")) -> Any:
    """fn of each column's cells, averaged over columns as scikit-learn's _average_binary_score.

    "weighted" weights columns by their positives; "micro" pools the columns' histograms.
    """
    if average not in allowed:
        raise ValueError(f"average={average!r} is not valid: expected one of {allowed}")
    if average == "micro":
        return fn(binned_cells(hist.sum(axis=0), edges))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        values = np.array([fn(binned_cells(column, edges)) for column in hist])
    if average is None:
        return values
    if average == "weighted":
        weights = hist[:, 1].sum(axis=1)
        if weights.sum() == 0:
            return 0.0
        # A column with no positives has weight 0 and an undefined (NaN) score: scikit-learn
        # counts it as 0, so that it does not turn the weighted average into NaN.
        return float(np.average(np.where(weights == 0, 0.0, values), weights=weights))
    return float(np.average(values))
