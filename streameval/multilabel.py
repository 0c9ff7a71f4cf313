"""Multilabel: one 2x2 confusion matrix per label, plus the per-sample sums of average="samples"."""

from __future__ import annotations

import warnings

import numpy as np

from . import _inputs, _kernels, _scores, metrics
from ._kernels import EXACT, F1_SUM, F_UNDEF, JAC_SUM, PREC_SUM, PREC_UNDEF, REC_SUM, REC_UNDEF
from .accumulator import Accumulator, OneVsRestCurves, _replicates_spec
from .errors import UndefinedMetricWarning
from .metrics import StatScores

# metric -> (slot of the sum of per-sample values, slot of the weight of samples where it is 0/0)
_SAMPLE_SLOTS = {
    "precision": (PREC_SUM, PREC_UNDEF),
    "recall": (REC_SUM, REC_UNDEF),
    "fbeta": (F1_SUM, F_UNDEF),
    "jaccard": (JAC_SUM, F_UNDEF),
}


class Multilabel(OneVsRestCurves, Accumulator):
    """Streaming multilabel classification metrics.

    y_true is an (N, L) indicator matrix (0/1 or bool); y_pred is an (N, L) indicator matrix, or
    (N, L) float scores, positive when score >= threshold (score > threshold with
    inclusive=False).

    The state is sklearn.metrics.multilabel_confusion_matrix, (L, 2, 2) = [[tn, fp], [fn, tp]] per
    label, plus running sums of per-sample precision, recall, F1 and Jaccard, so that
    average="samples" stays a stream. accuracy() is the subset accuracy (exact match), as in
    scikit-learn. Metrics that scikit-learn defines only for binary problems (balanced accuracy,
    MCC, Cohen's kappa) are computed per label and averaged: average=None, "macro", "weighted"
    or "micro" (on the labels' pooled 2x2 matrix).

    With ``bins=n`` (uniform on ``score_range``) or ``bins=[t0, t1, ...]`` and float scores, a
    score histogram per label gives ``roc_auc``, ``roc_auc_bounds`` and ``average_precision``
    per label, "macro", "weighted" or "micro" (all labels pooled), as scikit-learn's.

    ``bootstrap=R`` keeps R Poisson-bootstrap replicates of the confusion matrices and per-sample
    sums (not of the histograms) for ``interval(metric, method="bootstrap")``; ``seed`` seeds
    their random generator (see ``streameval.intervals``: each worker needs its own seed). A
    sample touches a cell of every label, so the labels' draws are not independent: each replicate
    draws one Poisson(1) weight per sample, O(R * N * L) per batch. Not with weighted=True.

    >>> acc = Multilabel(3)
    >>> acc.update([[1, 0, 1], [0, 1, 0]], [[1, 0, 0], [0, 1, 1]])
    >>> acc.accuracy(), acc.hamming_loss()
    (0.0, 0.3333333333333333)
    >>> acc.f1(average="samples")
    0.6666666666666666
    """

    _KIND = 3
    _OVR_AVERAGES = (None, "macro", "weighted", "micro")
    _AVERAGES = (None, "micro", "macro", "weighted", "samples")
    _REPORT_AVERAGES = ("micro", "macro", "weighted", "samples")
    _COMPUTE_SCALARS = ("accuracy", "hamming_loss")
    _REPLICATED = (("_mcm", "_boot_mcm"), ("_sample_sums", "_boot_sums"))

    def __init__(self, num_labels: int, threshold: float = 0.5, *, inclusive: bool = True, weighted: bool = False,
                 bins=None, score_range=(0.0, 1.0), bootstrap: int | None = None, seed=None):
        self._state_spec(num_labels, threshold, inclusive, weighted, bins, score_range, bootstrap)
        self._set_bins(bins, score_range)
        self._set_bootstrap(bootstrap, seed)
        self.num_labels = int(num_labels)
        self.threshold = float(threshold)
        self.inclusive = bool(inclusive)
        self.weighted = bool(weighted)
        self.reset()

    def _config(self) -> dict:
        config = {"num_labels": self.num_labels, "threshold": self.threshold, "inclusive": self.inclusive, "weighted": self.weighted}
        config.update(self._bins_config())
        config.update(self._bootstrap_config())
        return config

    @classmethod
    def _state_spec(cls, num_labels, threshold=0.5, inclusive=True, weighted=False, bins=None, score_range=(0.0, 1.0),
                    bootstrap=None):
        _inputs.check_count("num_labels", num_labels)
        _inputs.check_threshold(threshold)
        _inputs.check_flags(inclusive=inclusive, weighted=weighted)
        count = np.dtype(np.float64 if weighted else np.int64)
        spec = {"_mcm": ((int(num_labels), 2, 2), count), "_sample_sums": ((_kernels.N_SAMPLE_SUMS,), np.dtype(np.float64))}
        if bins is not None:
            n_cells = _scores.n_cells(bins, score_range)
            spec.update(
                _hist=((int(num_labels), 2, n_cells), count),
                _score_sums=((int(num_labels), n_cells), np.dtype(np.float64)),
                _out_of_range=((2,), count),
            )
        replicated = {"_boot_mcm": spec["_mcm"], "_boot_sums": spec["_sample_sums"]}
        spec.update(_replicates_spec(bootstrap, weighted, replicated))
        return spec

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Count a batch: y_true (N, L) indicators, y_pred (N, L) indicators or float scores.

        A failed update raises and leaves the counts exactly as they were.
        """
        n_labels = self.num_labels
        yt = _inputs.as_array(y_true, "y_true")
        yp = _inputs.as_array(y_pred, "y_pred")
        shape_text = f"(n_samples, {n_labels})"
        _inputs.check_ndim(yt, "y_true", (2,), shape_text)
        _inputs.check_ndim(yp, "y_pred", (2,), shape_text)
        for name, arr in (("y_true", yt), ("y_pred", yp)):
            if arr.shape[1] != n_labels:
                raise ValueError(f"{name} has shape {arr.shape}: expected {shape_text}")
            _inputs.require_numeric(arr, name, "multilabel indicators must be 0/1")
        _inputs.check_length(yp, "y_pred", yt.shape[0])
        w = _inputs.as_weight(sample_weight, yt.shape[0], self.weighted)
        if yt.shape[0] == 0:
            return
        is_scores = yp.dtype.kind == "f"
        if self.bins is not None and not is_scores:
            raise TypeError(f"y_pred has dtype {yp.dtype}, but a Multilabel with bins needs float scores")
        args = (is_scores, self.threshold, self.inclusive, self._mcm, self._sample_sums)
        if w is None:
            bad = _kernels.count_multilabel(yt, yp, *args)
        else:
            bad = _kernels.count_multilabel_weighted(yt, yp, w, *args)
        if bad >= 0:
            checks = [("y_true", yt, "class", 2), ("y_pred", yp, "score" if is_scores else "class", 2)]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", w, "weight", 0)] if w is not None else []))
        if self.bins is not None:  # the batch is valid: nothing below can fail
            args = (self._edges, self._uniform, self.inclusive)
            _scores.histogram(self._hist, self._score_sums, yp, yt, w, *args, out_of_range=self._out_of_range)
        if self.bootstrap is not None:  # the replicates count the batch with integer Poisson(1) weights
            weights = self._boot_rng.poisson(1.0, size=(self.bootstrap, yt.shape[0]))
            for r in range(self.bootstrap):
                _kernels.count_multilabel_weighted(yt, yp, weights[r], is_scores, self.threshold, self.inclusive,
                                                   self._boot_mcm[r], self._boot_sums[r])

    # --- score metrics (bins) -------------------------------------------------------------------

    # --- metrics --------------------------------------------------------------------------------

    @property
    def n_samples(self):
        return self._mcm[0].sum().item()

    def _stats(self) -> StatScores:
        return metrics.stats_from_multilabel(self._mcm)

    def _accuracy_counts(self) -> tuple:
        return self._sample_sums[EXACT], self.n_samples

    def _target_names(self) -> list[str]:
        return [str(i) for i in range(self.num_labels)]

    def _samples_ratio(self, metric, zero_division, beta):
        if metric not in _SAMPLE_SLOTS or (metric == "fbeta" and beta != 1):
            raise ValueError(
                'average="samples" is available for precision, recall, f1 (beta=1) and jaccard: '
                "it needs per-sample sums, which are kept for those"
            )
        fill = metrics.check_zero_division(zero_division)
        total = self.n_samples
        value_sum, undefined = (self._sample_sums[i] for i in _SAMPLE_SLOTS[metric])
        if total == 0:
            return float("nan")
        if undefined > 0 and isinstance(zero_division, str):
            warnings.warn(
                f"{metric.capitalize()} is ill-defined and being set to 0.0 in samples with no "
                "true or predicted labels. Use `zero_division` parameter to control this behavior.",
                UndefinedMetricWarning,
                stacklevel=3,
            )
        if np.isnan(fill):
            defined = total - undefined
            return float(value_sum / defined) if undefined < total else float("nan")
        return float((value_sum + fill * undefined) / total)

    def confusion_matrix(self, normalize=None) -> np.ndarray:
        """(L, 2, 2) per-label matrices [[tn, fp], [fn, tp]], as sklearn.metrics.multilabel_confusion_matrix.

        normalize: None, "true", "pred" or "all", applied to each label's matrix.
        """
        return metrics.normalize_confusion(self._mcm, normalize)

    def accuracy(self) -> float:
        """Subset accuracy: the fraction of samples whose every label is right (accuracy_score)."""
        total = self.n_samples
        return float(self._sample_sums[EXACT] / total) if total else float("nan")

    def hamming_loss(self) -> float:
        """Fraction of wrong labels, as sklearn.metrics.hamming_loss."""
        total = self.n_samples
        wrong = self._mcm[:, 0, 1].sum() + self._mcm[:, 1, 0].sum()
        return float(wrong / (total * self.num_labels)) if total else float("nan")

    def _per_label(self, fn, average):
        """A binary metric of each label's 2x2 matrix, averaged over labels."""
        metrics.check_average(average)
        if average == "micro":
            return fn(self._mcm.sum(axis=0))
        values = np.array([fn(cm) for cm in self._mcm], dtype=np.float64)
        if average is None:
            return values
        return metrics.nanaverage(values, self.support() if average == "weighted" else None)

    def balanced_accuracy(self, average="macro", adjusted: bool = False):
        """Balanced accuracy of each label (sklearn.metrics.balanced_accuracy_score on its column), averaged."""
        return self._per_label(lambda cm: metrics.balanced_accuracy(cm, adjusted), average)

    def matthews_corrcoef(self, average="macro"):
        """MCC of each label (sklearn.metrics.matthews_corrcoef on its column), averaged."""
        return self._per_label(metrics.matthews_corrcoef, average)

    def cohen_kappa(self, average="macro", replace_undefined_by=np.nan):
        """Cohen's kappa of each label (sklearn.metrics.cohen_kappa_score on its column), averaged."""
        return self._per_label(lambda cm: metrics.cohen_kappa(cm, None, replace_undefined_by), average)
