"""Metric definitions: pure functions from counts to numbers, shared by every accumulator.

They follow scikit-learn 1.9's ``sklearn/metrics/_classification.py`` operation for operation, so
integer counts give bit-identical results: precision, recall, F-beta and the rest are ratios of
per-class sums (``tp``, ``fp``, ``fn``, ``tn``), one division (:func:`divide`) owns zero division,
and one average (:func:`nanaverage`) owns "macro" / "weighted" with NaN exclusion.

The functions are usable without an accumulator::

    >>> import numpy as np
    >>> from streameval import metrics
    >>> stats = metrics.stats_from_confusion(np.array([[3, 1], [2, 4]]))
    >>> metrics.ratio("precision", stats, average="macro")
    0.7
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .errors import UndefinedMetricWarning

AVERAGES = (None, "micro", "macro", "weighted")


class StatScores(NamedTuple):
    """Per-class true positives, false positives, false negatives and true negatives."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray

    @property
    def support(self) -> np.ndarray:
        """Number (or weight) of true samples of each class."""
        support: np.ndarray = self.tp + self.fn
        return support

    def select(self, index: int) -> "StatScores":
        """The statistics of one class, as length-1 arrays."""
        return StatScores(*(a[index : index + 1] for a in self))

    def pooled(self) -> "StatScores":
        """The statistics summed over classes (the micro average), as length-1 arrays."""
        return StatScores(*(np.sum(a, keepdims=True) for a in self))


def stats_from_confusion(cm: np.ndarray) -> StatScores:
    """One-vs-rest statistics of each class of a (K, K) confusion matrix (rows true)."""
    tp = np.diagonal(cm).copy()
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    # tn[c] = sum over rows r != c of (row r's total - cm[r, c]). Not total - tp - fp - fn: with
    # float counts that leaves a rounding residue where tn is 0, turning 0/0 into 1.0. Here each
    # term is exactly 0 when row r has nothing outside column c.
    rest = cm.sum(axis=1, keepdims=True) - cm
    np.fill_diagonal(rest, 0)
    tn = rest.sum(axis=0)
    return StatScores(tp, fp, fn, tn)


def stats_from_multilabel(mcm: np.ndarray) -> StatScores:
    """Statistics of each label of an (L, 2, 2) multilabel confusion matrix ([[tn, fp], [fn, tp]])."""
    return StatScores(mcm[:, 1, 1].copy(), mcm[:, 0, 1].copy(), mcm[:, 1, 0].copy(), mcm[:, 0, 0].copy())


# --- zero division and averaging ---------------------------------------------------------------


def check_zero_division(zero_division: Any) -> float:
    """The value that replaces 0/0: 0.0 for "warn", else 0.0, 1.0 or NaN."""
    if isinstance(zero_division, str) and zero_division == "warn":
        return 0.0
    if isinstance(zero_division, (int, float, np.floating)) and not isinstance(zero_division, bool):
        if zero_division in (0, 1) or np.isnan(zero_division):
            return float(zero_division)
    raise ValueError(
        f'zero_division={zero_division!r} is not valid: expected "warn", 0.0, 1.0 or np.nan'
    )


def check_average(average: Any, allowed: Sequence[str | None] = AVERAGES) -> None:
    if average not in allowed:
        raise ValueError(f"average={average!r} is not valid: expected one of {allowed}")


def divide(numerator: Any, denominator: Any, zero_division: Any = "warn", metric: str = "metric",
           what: str = "samples") -> np.ndarray:
    """numerator / denominator as float64, with ``zero_division`` where the denominator is 0.

    With zero_division="warn" the value is 0.0 and an UndefinedMetricWarning is issued, as in
    scikit-learn's ``_prf_divide``.
    """
    fill = check_zero_division(zero_division)
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.array(denominator, dtype=np.float64)
    mask = denominator == 0
    denominator[mask] = 1
    result: np.ndarray = numerator / denominator
    if mask.any():
        result[mask] = fill
        if isinstance(zero_division, str):
            warnings.warn(
                f"{metric.capitalize()} is ill-defined and being set to 0.0 where there are no "
                f"{what}. Use `zero_division` parameter to control this behavior.",
                UndefinedMetricWarning,
                stacklevel=3,
            )
    return result


def nanaverage(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Weighted mean ignoring NaN entries; NaN when all are NaN (scikit-learn's ``_nanaverage``).

    When every weight of a non-NaN entry is zero, the plain mean is used.
    """
    if values.shape[0] == 0:
        return float("nan")
    mask = np.isnan(values)
    if mask.all():
        return float("nan")
    if weights is None:
        return float(np.nanmean(values))
    values, weights = values[~mask], np.asarray(weights)[~mask]
    try:
        return float(np.average(values, weights=weights))
    except ZeroDivisionError:
        return float(np.average(values))


# --- ratios of per-class counts ----------------------------------------------------------------


def _fbeta_terms(s: StatScores, beta: float) -> tuple[Any, Any]:
    if np.isposinf(beta):
        return s.tp, s.tp + s.fn
    if beta == 0:
        return s.tp, s.tp + s.fp
    beta2 = beta**2
    true_sum = (s.tp + s.fn).astype(np.float64)
    pred_sum = (s.tp + s.fp).astype(np.float64)
    return (1 + beta2) * s.tp.astype(np.float64), beta2 * true_sum + pred_sum


# metric -> (numerator and denominator from the statistics, what an empty denominator lacks)
RATIOS: dict[str, tuple[Callable[[StatScores, float], tuple[Any, Any]], str]] = {
    "precision": (lambda s, b: (s.tp, s.tp + s.fp), "predicted samples"),
    "recall": (lambda s, b: (s.tp, s.tp + s.fn), "true samples"),
    "fbeta": (_fbeta_terms, "true nor predicted samples"),
    "specificity": (lambda s, b: (s.tn, s.tn + s.fp), "true negatives"),
    "npv": (lambda s, b: (s.tn, s.tn + s.fn), "predicted negatives"),
    "fpr": (lambda s, b: (s.fp, s.fp + s.tn), "true negatives"),
    "fnr": (lambda s, b: (s.fn, s.fn + s.tp), "true samples"),
    "jaccard": (lambda s, b: (s.tp, s.tp + s.fp + s.fn), "true or predicted samples"),
}


def ratio(metric: str, stats: StatScores, average: str | None = None, zero_division: Any = "warn",
          beta: float = 1.0) -> Any:
    """A per-class ratio metric, per class (average=None) or averaged.

    - "micro": the ratio of the counts summed over classes;
    - "macro": the mean over classes, NaN (zero_division=np.nan) classes excluded;
    - "weighted": the mean weighted by support (true count).
    """
    check_average(average)
    terms, what = RATIOS[metric]
    if average == "micro":
        stats = stats.pooled()
    values = divide(*terms(stats, beta), zero_division, "F-score" if metric == "fbeta" else metric, what)
    if average is None:
        return values
    if average == "micro":
        return float(values[0])
    return nanaverage(values, stats.support if average == "weighted" else None)


# --- metrics of the whole confusion matrix -----------------------------------------------------


def accuracy(cm: np.ndarray) -> float:
    """Fraction (or weight fraction) of samples on the diagonal; NaN for an empty matrix."""
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def balanced_accuracy(cm: np.ndarray, adjusted: bool = False) -> float:
    """Mean recall over the classes present in y_true (scikit-learn's balanced_accuracy_score)."""
    true_sum = cm.sum(axis=1)
    present = true_sum != 0
    if not present.any():
        return float("nan")
    per_class = np.diagonal(cm)[present] / true_sum[present]
    score = np.mean(per_class)
    if adjusted:
        chance = 1 / per_class.shape[0]
        score -= chance
        score /= 1 - chance
    return float(score)


def matthews_corrcoef(cm: np.ndarray) -> float:
    """Matthews correlation coefficient (multiclass R_K); 0.0 when undefined, as in scikit-learn."""
    t_sum = cm.sum(axis=1, dtype=np.float64)
    p_sum = cm.sum(axis=0, dtype=np.float64)
    n_correct = np.trace(cm, dtype=np.float64)
    n_samples = p_sum.sum()
    cov_ytyp = n_correct * n_samples - np.dot(t_sum, p_sum)
    cov_ypyp = n_samples**2 - np.dot(p_sum, p_sum)
    cov_ytyt = n_samples**2 - np.dot(t_sum, t_sum)
    cov_ypyp_ytyt = cov_ypyp * cov_ytyt
    if cov_ypyp_ytyt == 0:
        return 0.0
    return float(cov_ytyp / np.sqrt(cov_ypyp_ytyt))


def cohen_kappa(cm: np.ndarray, weights: str | None = None, replace_undefined_by: float = np.nan) -> float:
    """Cohen's kappa, unweighted or with "linear" / "quadratic" disagreement weights."""
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f'weights={weights!r} is not valid: expected None, "linear" or "quadratic"')
    confusion = cm.astype(np.float64, copy=False)
    n_classes = confusion.shape[0]
    sum0 = np.sum(confusion, axis=0)
    sum1 = np.sum(confusion, axis=1)
    total = np.sum(sum0)
    if total == 0:
        return _undefined_kappa(replace_undefined_by)
    expected = np.outer(sum0, sum1) / total
    w_mat = _kappa_weights(n_classes, weights)
    numerator = np.sum(w_mat * confusion)
    denominator = np.sum(w_mat * expected)
    if denominator == 0:
        return _undefined_kappa(replace_undefined_by)
    return float(1 - numerator / denominator)


@functools.lru_cache(maxsize=64)
def _kappa_weights(n_classes: int, weights: str | None) -> np.ndarray:
    """The disagreement weights of Cohen's kappa (read-only, shared)."""
    if weights is None:
        w_mat = np.ones([n_classes, n_classes], dtype=np.float64)
        np.fill_diagonal(w_mat, 0)
    else:
        w_mat = np.zeros([n_classes, n_classes], dtype=np.float64)
        w_mat += np.arange(n_classes)
        w_mat = np.abs(w_mat - w_mat.T) if weights == "linear" else (w_mat - w_mat.T) ** 2
    w_mat.flags.writeable = False
    return w_mat


def _undefined_kappa(replace_undefined_by: float) -> float:
    warnings.warn(
        "Cohen's kappa is undefined (no samples, or a single label in common): "
        f"returning replace_undefined_by={replace_undefined_by}.",
        UndefinedMetricWarning,
        stacklevel=3,
    )
    return replace_undefined_by


def normalize_confusion(cm: np.ndarray, normalize: str | None) -> np.ndarray:
    """Normalize a confusion matrix over true rows, predicted columns or all; 0/0 gives 0."""
    if normalize is None:
        copied: np.ndarray = cm.copy()
        return copied
    axes: dict[str, int | tuple[int, int]] = {"true": -1, "pred": -2, "all": (-2, -1)}
    axis = axes.get(normalize)
    if axis is None:
        raise ValueError(f'normalize={normalize!r} is not valid: expected None, "true", "pred" or "all"')
    with np.errstate(all="ignore"):
        out: np.ndarray = np.nan_to_num(cm / cm.sum(axis=axis, keepdims=True))
    return out
