"""Multilabel: one 2x2 confusion matrix per label, plus the per-sample sums of average="samples"."""

from __future__ import annotations

import warnings

import numpy as np

from . import _inputs, _kernels, _scores, limits, metrics
from ._kernels import EXACT, F1_SUM, F_UNDEF, JAC_SUM, PREC_SUM, PREC_UNDEF, REC_SUM, REC_UNDEF
from .accumulator import _NO_WEIGHT, Accumulator, OneVsRestCurves, _replicates_spec
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
    inclusive=False), compared in the scores' own dtype as numpy's ``scores >= threshold`` does.
    Scores are probabilities, checked to lie in [0, 1], when ``score_range`` is the default
    (0, 1) and either bins are kept or 0 < threshold < 1; for decision scores or logits give
    ``score_range=(lo, hi)`` with a threshold on that scale.

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
        reads_probabilities = self.score_range == (0.0, 1.0) and (bins is not None or 0 < self.threshold < 1)
        self._bounds = _inputs.PROBABILITY if reads_probabilities else _inputs.ANY_SCORE
        self._thresholds: dict = {}  # score dtype -> threshold rounded to it
        self._binnings: dict = {}  # score dtype -> the kernels' edges for it
        self.reset()

    def _config(self) -> dict:
        config = {"num_labels": self.num_labels, "threshold": self.threshold, "inclusive": self.inclusive, "weighted": self.weighted}
        config.update(self._bins_config())
        if self.bins is None and self.score_range != (0.0, 1.0):  # recorded only when given: old payloads stay
            config["score_range"] = list(self.score_range)
        config.update(self._bootstrap_config())
        return config

    @classmethod
    def _state_spec(cls, num_labels, threshold=0.5, inclusive=True, weighted=False, bins=None, score_range=(0.0, 1.0),
                    bootstrap=None):
        _inputs.check_count("num_labels", num_labels)
        _inputs.check_threshold(threshold)
        _inputs.check_flags(inclusive=inclusive, weighted=weighted)
        _scores.check_range(score_range)
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
        limits.check_state_size(spec, "this Multilabel")
        return spec

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Count a batch: y_true (N, L) indicators, y_pred (N, L) indicators or float scores.

        A failed update raises and leaves the counts exactly as they were.
        """
        n_labels = self.num_labels
        kind = _inputs.score_kind(y_pred)
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
        is_scores = yp.dtype.kind == "f"
        if self.bins is not None and not is_scores:
            raise TypeError(f"y_pred has dtype {yp.dtype}, but a Multilabel with bins needs float scores")
        if yt.shape[0] == 0:
            return
        bounds = self._bounds if is_scores else _inputs.ANY_SCORE
        bad = _kernels.multilabel_first_bad(yt, yp, _NO_WEIGHT if w is None else w, w is not None, is_scores, *bounds)
        if bad >= 0:
            hint = _inputs.probability_hint(self._describe(), threshold=True)
            checks = [("y_true", yt, "class", 2), _inputs.score_check("y_pred", yp, bounds, hint) if is_scores
                      else ("y_pred", yp, "class", 2)]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", w, "weight", 0)] if w is not None else []))
        # The batch is valid. What it adds must fit, replicates included, before anything is written.
        draws = None if self.bootstrap is None else self._boot_rng.poisson(1.0, size=(self.bootstrap, yt.shape[0]))
        masses = self._masses(_inputs.batch_mass(w, yt.shape[0]), yp if is_scores else None, draws)
        _inputs.reserve_all(self, masses)
        threshold = self._thresholds.get(kind)
        if threshold is None:
            threshold = self._thresholds[kind] = float(_scores.round_to(self.threshold, kind))
        args = (is_scores, threshold, self.inclusive, self._mcm, self._sample_sums)
        if w is None:
            _kernels.count_multilabel(yt, yp, *args)
        else:
            _kernels.count_multilabel_weighted(yt, yp, w, *args)
        if self.bins is not None:
            binning = self._binnings.get(kind)
            if binning is None:
                binning = self._binnings[kind] = _scores.edges_for(self._edges, self._uniform, kind)
            _scores.histogram(self._hist, self._score_sums, yp, yt, w, binning, self.inclusive, out_of_range=self._out_of_range)
        if draws is not None:  # the replicates count the batch with integer Poisson(1) weights
            for r in range(self.bootstrap):
                _kernels.count_multilabel_weighted(yt, yp, draws[r], is_scores, threshold, self.inclusive,
                                                   self._boot_mcm[r], self._boot_sums[r])

    def _masses(self, mass, scores, draws) -> list:
        """Bounds on what a batch of total weight mass adds to each state array (_inputs.reserve):
        a sample adds 1 to a cell of each label and at most 1 to each per-sample sum."""
        n_labels, n_sums = self.num_labels, _kernels.N_SAMPLE_SUMS
        masses = [("_mcm", n_labels * mass), ("_sample_sums", n_sums * mass)]
        if self.bins is not None:
            largest = 1.0
            if self._bounds != _inputs.PROBABILITY:
                largest = float(np.max(np.abs(scores), where=np.isfinite(scores), initial=0.0))
            masses += [("_hist", n_labels * mass), ("_score_sums", n_labels * mass * largest),
                       ("_out_of_range", n_labels * mass)]
        if draws is not None:
            drawn = int(draws.sum())
            masses += [("_boot_mcm", n_labels * drawn), ("_boot_sums", n_sums * drawn)]
        return masses

    def _merge_counts(self, other) -> None:
        _inputs.forget(*self._arrays())
        super()._merge_counts(other)

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
