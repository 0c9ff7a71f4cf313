"""Estimated performance before the labels arrive: confidence-based performance estimation (CBPE).

What CBPE assumes. The scores of the unlabelled samples are *calibrated probabilities*: among the
samples given p_j for class j, a share p_j truly are of class j. Then each unlabelled sample
predicted k is of class j with probability p_j, and the confusion matrix the labels would give is
a sum of independent multinomial draws whose expectation is known from the predictions alone:

    E cm[j, k] = sum over unlabelled samples predicted k of p_j          (rows true, columns predicted)

For Binary at the threshold t (p = [1 - s, s]) that is expected TP = sum_{s >= t} s,
FP = sum_{s >= t} (1 - s), FN = sum_{s < t} s, TN = sum_{s < t} (1 - s); Multilabel: the same 2x2
matrix per label. An accumulator made with ``unlabelled=True`` keeps these sums exactly for its
unlabelled samples (``prob[k, j]``, row k = predicted, so E cm = prob.T), with
``var[k, j] = sum of p_j (1 - p_j)``: the variance of each sum.

**The estimate is only as good as the calibration.** A model that is confident and wrong gives an
estimate that is confidently wrong, and drift is exactly when calibration tends to break. Check it
on the windows whose labels have arrived: ``acc.expected_calibration_error()`` (and
``calibration_curve()``) of a labelled window should be small, say below 0.02 to 0.05; when it is
not, recalibrate (isotonic or Platt scaling on recent labelled data) before trusting the estimates.
tests/test_cbpe.py shows a miscalibrated model whose intervals miss the realised accuracy most of
the time, and its expected calibration error giving it away.

The value. :func:`estimate` returns the metric of the expected confusion matrix, the plug-in
estimate NannyML's CBPE uses. For accuracy that is exactly the expectation of the realised
accuracy (a linear function of the counts). For precision, recall, F1 and specificity it is the
ratio of the expected counts, not the expected ratio: the two differ by O(1/n) (Jensen), which is
small next to the interval's width once a class has a few dozen expected samples. Precision of a
class is the exception: its denominator (the predicted count) is fixed, so it is exact too.

The interval (``low``, ``high``) is a prediction interval for the *realised* metric of these
samples, at confidence ``level``, by a normal approximation:

- accuracy and precision: the realised value is a Poisson-binomial sum over fixed counts, whose
  variance the sums keep exactly (accuracy: sum_k var[k, k] / n**2);
- recall, F1, specificity (and every average): the delta method, a linearization of the metric
  at the expected counts. The variance of each predicted class's row follows from ``var``
  exactly when the metric reads one true class of it (Binary, Multilabel per label, every
  per-class value, micro averages of Binary and Multiclass); otherwise (Multiclass macro and
  weighted averages, whose terms share samples with unknown within-sample covariances, and
  Multilabel averages over labels, whose joint distribution calibration does not say) the
  variance used is an upper bound of the delta-method variance for any such covariance
  (the triangle inequality on standard deviations): conservative intervals.

Bounds are clipped to [0, 1]. A weighted accumulator's sums are of weights: its bounds are NaN
(the variance of a weighted sum needs sums of squared weights, which are not kept).

ROC AUC (:func:`expected_roc_auc`, bins only): each unlabelled score s counts s positive and
1 - s negative in its bin, and the value is the ROC AUC of these expected histograms, pairs
inside a bin counting as ties (as ``roc_auc`` with bins). It is again a ratio of expectations
(expected concordant pairs over the product of expected positives and negatives, the sample
paired with itself counting as a tie), not the expected AUC; its bounds are NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from statistics import NormalDist
from typing import Any, ClassVar, NamedTuple

import numpy as np

from . import curves, intervals, metrics
from .accumulator import DEFAULT, Average
from .errors import UndefinedMetricWarning

ESTIMATED = ("accuracy", "precision", "recall", "f1", "specificity")  # from the expected confusion matrix
SCORE_ESTIMATED = ("roc_auc",)  # from the expected histograms (bins)

# metric -> coefficients of (numerator, denominator) over the statistics (tp, fp, fn, tn)
_TERMS = {
    "precision": ((1, 0, 0, 0), (1, 1, 0, 0)),
    "recall": ((1, 0, 0, 0), (1, 0, 1, 0)),
    "f1": ((2, 0, 0, 0), (2, 1, 1, 0)),
    "specificity": ((0, 0, 0, 1), (0, 1, 0, 1)),
}
_RATIO_NAMES = {"precision": "precision", "recall": "recall", "f1": "fbeta", "specificity": "specificity"}


class Estimate(NamedTuple):
    """An estimated metric: its value and the (low, high) bounds of its interval. Floats, or
    per-class arrays for average=None; NaN bounds where no interval is available."""

    value: Any
    low: Any
    high: Any


def expected_confusion(prob: np.ndarray) -> np.ndarray:
    """The expected confusion matrix, rows true and columns predicted, from sums of probabilities
    whose row k is the samples predicted k: (K, K) -> prob.T; Multilabel's (L, 2, 2) -> each
    label's transpose, laid out as multilabel_confusion_matrix ([[tn, fp], [fn, tp]])."""
    prob = np.asarray(prob, dtype=np.float64)
    expected: np.ndarray = np.swapaxes(prob, -1, -2).copy()
    return expected


def sums_of(probabilities: np.ndarray, predicted: np.ndarray, weight: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts, prob, var) of (N, K) probability rows with their predicted classes: the sums an
    accumulator with unlabelled=True keeps (for arrays at hand, and for tests)."""
    p = np.asarray(probabilities, dtype=np.float64)
    k = p.shape[1]
    w = np.ones(p.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
    counts, prob, var = np.zeros(k), np.zeros((k, k)), np.zeros((k, k))
    np.add.at(counts, predicted, w)
    np.add.at(prob, predicted, w[:, None] * p)
    np.add.at(var, predicted, w[:, None] * p * (1 - p))
    return counts, prob, var


def check_metric(metric: Any, allowed: tuple[str, ...] = ESTIMATED + SCORE_ESTIMATED) -> str:
    if metric not in allowed:
        raise ValueError(f"metric={metric!r} is not valid: estimated() covers {', '.join(allowed)}")
    return str(metric)


# --- the value and the gradient of a metric at the expected counts ---------------------------------


def _value_and_partials(metric: str, stats: metrics.StatScores, average: str | None, zero_division: Any,
                        total: float) -> tuple[Any, np.ndarray, np.ndarray]:
    """(value, a, h): the metric of the statistics and, for each class j, its partial derivatives
    with respect to tp_j (a, the diagonal cell) and to the support (h, every cell of true row j),
    the predicted counts held fixed. For average=None, a and h hold each class's own derivatives."""
    if metric == "accuracy":
        k = stats.tp.shape[0]
        return float(np.sum(stats.tp) / total) if total else float("nan"), np.full(k, 1.0 / total if total else 0.0), np.zeros(k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # the value below warns once, as ratio() does
        pooled = average == "micro"
        used = stats.pooled() if pooled else stats
        num_c, den_c = (np.asarray(c, dtype=np.float64) for c in _TERMS[metric])
        columns = np.stack([np.asarray(a, dtype=np.float64) for a in used])  # (4, classes)
        num, den = num_c @ columns, den_c @ columns
        fill = metrics.check_zero_division(zero_division)
        values = np.where(den == 0, fill, num / np.where(den == 0, 1.0, den))
        # d value / d stat (tp, fp, fn, tn); 0 where the denominator is 0 (a constant there)
        d_stat = np.where(den == 0, 0.0, (num_c[:, None] - values * den_c[:, None]) / np.where(den == 0, 1.0, den))
    # to the coordinates (tp, support) with the predicted counts fixed: fp = n - tp,
    # fn = support - tp, tn = N - n - support + tp
    a = d_stat[0] - d_stat[1] - d_stat[2] + d_stat[3]
    h = d_stat[2] - d_stat[3]
    value: Any = metrics.ratio(_RATIO_NAMES[metric], stats, average if average != "binary" else None, zero_division)
    if average == "binary":
        keep = np.zeros_like(a)
        keep[1] = 1.0
        return float(value[1]), a * keep, h * keep
    if average is None:
        return value, a, h
    if pooled:
        return value, np.full(stats.tp.shape, a[0]), np.full(stats.tp.shape, h[0])
    valid = ~np.isnan(values)
    support = np.where(valid, stats.support, 0.0).astype(np.float64)
    weight_sum = support.sum()
    if average == "macro" or weight_sum == 0:  # (weighted with no support: nanaverage's plain mean)
        scale = valid / max(int(valid.sum()), 1)
        return value, a * scale, h * scale
    mean = float(np.sum(np.where(valid, values, 0.0) * support) / weight_sum)
    return value, a * support / weight_sum, (h * support + np.where(valid, values - mean, 0.0)) / weight_sum


def _row_variance(gradient: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Per predicted class k (row of gradient and sd: gradient[k, j] = d metric / d E cm[j, k]):
    min over c of (sum_j |gradient[k, j] - c| sd[k, j])**2, an upper bound of the variance of
    the row's linearized term (exact when the gradient has one distinct non-constant entry, and
    for two classes). A row's counts sum to a constant, so subtracting c changes nothing; the
    minimum is at the sd-weighted median of the row."""
    order = np.argsort(gradient, axis=1, kind="stable")
    g = np.take_along_axis(gradient, order, axis=1)
    w = np.take_along_axis(sd, order, axis=1)
    cumulative = np.cumsum(w, axis=1)
    half = cumulative[:, -1:] / 2
    median_at = np.minimum(np.argmax(cumulative >= half, axis=1), g.shape[1] - 1)
    c = g[np.arange(g.shape[0]), median_at][:, None]
    spread: np.ndarray = np.sum(np.abs(g - c) * w, axis=1) ** 2
    return spread


def _variance(a: np.ndarray, h: np.ndarray, var: np.ndarray) -> float:
    """The delta-method variance (or its bound, see _row_variance) of a metric whose partials are
    a (diagonal) and h (support), over predicted rows of variances var (K, K)."""
    k = a.shape[0]
    gradient = np.broadcast_to(h[None, :], (k, k)) + np.diag(a)  # [k, j]: row k predicted, column j true
    return float(np.sum(_row_variance(gradient, np.sqrt(np.maximum(var, 0.0)))))


def _bounds(value: Any, sd: Any, level: float) -> tuple[Any, Any]:
    z = NormalDist().inv_cdf((1 + level) / 2)
    low, high = np.clip(value - z * sd, 0.0, 1.0), np.clip(value + z * sd, 0.0, 1.0)
    return (float(low), float(high)) if np.ndim(value) == 0 else (low, high)


# --- estimates ----------------------------------------------------------------------------------


def estimate(metric: str, prob: np.ndarray, var: np.ndarray | None, average: str | None = "macro",
             zero_division: Any = "warn", level: float = 0.95) -> Estimate:
    """The estimated metric of samples summarized by prob and var ((K, K), row = predicted class;
    var None or weighted sums: NaN bounds). average: None (per class), "binary" (class 1 of two),
    "micro", "macro", "weighted"; accuracy takes none. See the module docstring."""
    check_metric(metric, ESTIMATED)
    level = intervals.check_level(level)
    expected = expected_confusion(prob)
    if expected.ndim != 2 or expected.shape[0] != expected.shape[1]:
        raise ValueError(f"prob has shape {expected.shape}: expected (K, K)")
    stats = metrics.stats_from_confusion(expected)
    total = float(expected.sum())
    if metric != "accuracy":
        metrics.check_average(average, (None, "binary", "micro", "macro", "weighted"))
        if average == "binary" and expected.shape[0] != 2:
            raise ValueError('average="binary" needs two classes')
    value, a, h = _value_and_partials(metric, stats, average, zero_division, total)
    if var is None or not total:
        return _no_interval(value)
    var = np.asarray(var, dtype=np.float64)
    if average is None and metric != "accuracy":
        sd = np.sqrt([_variance(a * onehot, h * onehot, var) for onehot in np.eye(a.shape[0])])
    else:
        sd = np.sqrt(_variance(a, h, var))
    return Estimate(value, *_bounds(value, sd, level))


def estimate_multilabel(metric: str, prob: np.ndarray, var: np.ndarray | None, average: str | None = "macro",
                        zero_division: Any = "warn", level: float = 0.95) -> Estimate:
    """The estimated metric of Multilabel sums, prob and var (L, 2, 2) (per label, row = predicted
    0 / 1). Per label (average=None) the intervals are exact delta-method ones; "micro", "macro"
    and "weighted" add the labels' standard deviations (labels of one sample may be correlated
    in any way). Accuracy (the subset accuracy) is not estimable from per-label sums."""
    check_metric(metric, ESTIMATED)
    if metric == "accuracy":
        raise ValueError("Multilabel's accuracy is the subset accuracy, whose expectation needs each sample's "
                         "labels jointly: estimate precision, recall, f1 or specificity per label or averaged")
    level = intervals.check_level(level)
    metrics.check_average(average, (None, "micro", "macro", "weighted"))
    expected = expected_confusion(prob)
    if expected.ndim != 3 or expected.shape[1:] != (2, 2):
        raise ValueError(f"prob has shape {expected.shape}: expected (L, 2, 2)")
    stats = metrics.stats_from_multilabel(expected)
    labels = stats.tp.shape[0]
    value, a, h = _value_and_partials(metric, stats, average, zero_division, 0.0)  # "micro": the labels' pooled cells
    if var is None or not expected.sum():
        return _no_interval(value)
    var = np.asarray(var, dtype=np.float64)
    # label l as a two-class problem: class 1 is the label, class 0 its absence (no derivative)
    per_label = np.array([_variance(np.array([0.0, a[i]]), np.array([0.0, h[i]]), var[i]) for i in range(labels)])
    sd = np.sqrt(per_label) if average is None else float(np.sum(np.sqrt(per_label)))
    return Estimate(value, *_bounds(value, sd, level))


def expected_roc_auc(hist: np.ndarray, sums: np.ndarray, edges: np.ndarray, average: str | None = "macro",
                     allowed: tuple[str | None, ...] = (None, "macro", "weighted", "micro")) -> Estimate:
    """The ROC AUC of the expected histograms of unlabelled scores: hist (C, cells) counts and
    sums (C, cells) the per-bin score sums, on the bins' edges. Each score s counts s positive
    and 1 - s negative. Per column (None), or averaged as roc_auc (C = 1: that column's value)."""
    hist = np.asarray(hist, dtype=np.float64)
    sums = np.asarray(sums, dtype=np.float64)
    expected = np.stack([np.maximum(hist - sums, 0.0), sums], axis=1)  # (C, 2 = negatives, positives, cells)
    if expected.shape[0] == 1:
        value: Any = curves.roc_auc(curves.binned_cells(expected[0], edges))
    else:
        value = curves.per_column(curves.roc_auc, expected, edges, average, allowed)
    return _no_interval(value)


def _no_interval(value: Any) -> Estimate:
    """An estimate whose bounds are NaN (no variance: weighted sums, nothing counted, ROC AUC)."""
    if np.ndim(value) == 0:
        return Estimate(value, float("nan"), float("nan"))
    return Estimate(value, np.full(np.shape(value), np.nan), np.full(np.shape(value), np.nan))


# --- the accumulators' estimated() ----------------------------------------------------------------

NO_SUMS = ("estimated({metric!r}) needs the unlabelled samples' probabilities: create the accumulator with "
           "unlabelled=True (and scores read as probabilities: the default score_range, or from_logits=True), "
           "then count unlabelled batches as update(None, scores)")


class EstimatedMetrics:
    """``estimated()`` of Binary, Multiclass and Multilabel (a mixin): CBPE on the unlabelled
    samples (see streameval.cbpe)."""

    # what the accumulator has (declared only: a mixin listed last must not shadow them)
    _storage: Any
    _bins: Any
    weighted: bool
    _DEFAULT_AVERAGE: ClassVar[str]
    _OVR_AVERAGES: ClassVar[tuple[str | None, ...]]
    _unlabelled: Callable[[], Any]  # _components.predictions.PredictionMethods

    def estimated(self, metric: str, average: Average = DEFAULT, *, level: float = 0.95,
                  zero_division: Any = "warn") -> Estimate:
        """The estimated metric of the unlabelled samples (``update(None, scores)``), assuming their
        scores are calibrated probabilities: Estimate(value, low, high).

        metric: "accuracy", "precision", "recall", "f1", "specificity" (from the expected confusion
        matrix, with the averages of the metric methods: "binary" for Binary, None (per class),
        "micro", "macro", "weighted"; accuracy takes none; Multilabel has no estimated accuracy)
        or "roc_auc" (with bins: the AUC of the expected histograms; NaN bounds). low and high
        bound a normal prediction interval of the realised metric at confidence ``level`` (NaN
        when weighted=True). Only the unlabelled samples count; with none yet, everything is NaN.
        The estimate is only as good as the calibration: check expected_calibration_error() on
        labelled windows. See streameval.cbpe for what the value and the interval are.
        """
        check_metric(metric)
        resolved = self._DEFAULT_AVERAGE if average is DEFAULT or average == "default" else average
        if metric == "roc_auc":
            return self._estimated_auc(resolved)
        level = intervals.check_level(level)
        if metric == "accuracy" and not (average is DEFAULT or average == "default"):
            raise ValueError(f"accuracy takes no average, got average={average!r}")
        if not getattr(self, "unlabelled", False) or "_unl_prob" not in self._storage.spec:
            raise ValueError(NO_SUMS.format(metric=metric))
        sums = self._unlabelled()
        prob = self._storage.host("_unl_prob") if sums is None else sums.prob  # None: nothing counted yet (zeros)
        var = None if sums is None or self.weighted else sums.var
        if prob.ndim == 3:
            return estimate_multilabel(metric, prob, var, resolved, zero_division, level)
        return estimate(metric, prob, var, resolved, zero_division, level)

    def _estimated_auc(self, average: Any) -> Estimate:
        if self._bins is None or "_unl_hist" not in self._storage.spec:
            raise ValueError("estimated('roc_auc') needs the unlabelled scores' histograms: create the accumulator "
                             "with bins=... and unlabelled=True")
        hist, sums = self._storage.host("_unl_hist"), self._storage.host("_unl_sums")
        if hist.shape[0] == 1:  # Binary (no one-vs-rest averages): its one column
            return expected_roc_auc(hist, sums, self._bins.edges)
        return expected_roc_auc(hist, sums, self._bins.edges, average, self._OVR_AVERAGES)
