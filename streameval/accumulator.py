"""The Accumulator base class: state arrays, merge, copy, equality, serialization, metric methods.

A subclass declares its configuration (``_config``), the shapes of its count arrays
(``_state_spec``), how it turns a batch into counts (``update``) and its per-class statistics
(``_stats``). Everything here then works on it unchanged: merging is adding the arrays,
serializing is writing them.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from . import _inputs, _kernels, _scores, _threads, curves, metrics, serialization
from .errors import IncompatibleError
from .metrics import StatScores
from .report import Report

DEFAULT = "default"  # stands for the accumulator's default average: "binary" or "macro"
_NO_WEIGHT = np.empty(0)


class Accumulator:
    """Base class of Binary, Multiclass and Multilabel. Not instantiated directly."""

    _KIND: ClassVar[int]
    # State arrays that hold sums of scores, which may be negative (logits); all others are counts.
    _SIGNED_STATE: ClassVar[frozenset] = frozenset({"_score_sums", "_conf_sums", "_table_scores"})
    _AVERAGES: ClassVar[tuple] = metrics.AVERAGES
    _DEFAULT_AVERAGE: ClassVar[str] = "macro"
    weighted: bool

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_KIND" in cls.__dict__:
            serialization.REGISTRY[cls._KIND] = cls

    # --- what a subclass provides -------------------------------------------------------------

    def _config(self) -> dict:
        """The constructor's keyword arguments, JSON-safe."""
        raise NotImplementedError

    @classmethod
    def _state_spec(cls, **config) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Attribute name -> (shape, dtype) of each count array, checked without allocating.

        A dimension of -1 grows with the data (an exact score table); it starts at 0.
        """
        raise NotImplementedError

    def _merge_counts(self, other) -> None:
        """Add other's counts to ours (both are known compatible)."""
        for mine, theirs in zip(self._arrays(), other._arrays()):
            mine += theirs

    def _check_state(self) -> None:
        """Raise ValueError if the state arrays are inconsistent (called on deserialized state)."""

    def _stats(self) -> StatScores:
        raise NotImplementedError

    @property
    def n_samples(self) -> int | float:
        """Number of samples counted so far (total weight when weighted)."""
        raise NotImplementedError

    # --- score bins (bins=, score_range=) shared by the three accumulators ----------------------

    bins = None

    def _set_bins(self, bins, score_range) -> None:
        """Keep the bins configuration, JSON-safe, and the edges it gives."""
        self.bins = None if bins is None else (int(bins) if isinstance(bins, (int, np.integer)) else [float(b) for b in bins])
        self.score_range = (float(score_range[0]), float(score_range[1]))
        self._edges, self._uniform = (None, False) if bins is None else _scores.make_edges(bins, score_range)

    def _bins_config(self) -> dict:
        return {} if self.bins is None else {"bins": self.bins, "score_range": list(self.score_range)}

    def _need_bins(self, what: str) -> None:
        if self.bins is None:
            raise ValueError(f"{what} needs score histograms: create the accumulator with bins=...")

    @property
    def out_of_range(self) -> tuple:
        """(below, above): how many scores fell outside the bins' range (counted in the edge bins)."""
        self._need_bins("out_of_range")
        return tuple(v.item() for v in self._out_of_range)

    def _column_cells(self, index: int, what: str):
        self._need_bins(what)
        n = self._hist.shape[0]
        if not (isinstance(index, (int, np.integer)) and -n <= index < n):
            raise ValueError(f"index={index!r} is not valid: expected a class or label position in [0, {n})")
        return curves.binned_cells(self._hist[index], self._edges)

    # --- state ----------------------------------------------------------------------------------

    def _arrays(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in self._spec]

    def reset(self) -> None:
        """Forget every sample: all counts back to zero."""
        # The configuration never changes after __init__: keep it and the state layout at hand,
        # for merges and serialization that run once per batch.
        self._frozen_config = self._config()
        self._spec = self._state_spec(**self._frozen_config)
        for name, (shape, dtype) in self._spec.items():
            setattr(self, name, np.zeros(tuple(max(d, 0) for d in shape), dtype))

    @property
    def is_empty(self) -> bool:
        """True when no sample (or only zero weight) has been counted."""
        return not any(a.any() for a in self._arrays())

    def copy(self):
        """An independent copy: same configuration, same counts."""
        new = object.__new__(type(self))
        new.__dict__ = self.__dict__.copy()
        for name in self._spec:
            setattr(new, name, getattr(self, name).copy())
        return new

    def _describe(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"

    def __repr__(self) -> str:
        return f"<{self._describe()} n_samples={self.n_samples}>"

    def _check_compatible(self, other) -> None:
        if type(other) is not type(self) or other._frozen_config != self._frozen_config:
            other_text = other._describe() if isinstance(other, Accumulator) else type(other).__name__
            raise IncompatibleError(f"Cannot merge {self._describe()} with {other_text}")

    def merge(self, other) -> "Accumulator":
        """Add other's counts to this accumulator in place and return it; other is unchanged.

        Raises IncompatibleError, changing nothing, when the types or configurations differ.
        """
        self._check_compatible(other)
        self._merge_counts(other)
        return self

    def __iadd__(self, other):
        return self.merge(other)

    def __add__(self, other):
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self.copy()  # 0 is the identity, so sum([a, b, c]) works
        if not isinstance(other, Accumulator):
            return NotImplemented
        return self.copy().merge(other)

    __radd__ = __add__

    def __eq__(self, other) -> bool:
        if type(other) is not type(self) or other._frozen_config != self._frozen_config:
            return False
        return all(np.array_equal(a, b) for a, b in zip(self._arrays(), other._arrays()))

    __hash__ = None  # mutable

    # --- serialization --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A versioned binary payload; read it back with streameval.from_bytes (safe on untrusted bytes)."""
        config_bytes = self.__dict__.get("_config_bytes")
        if config_bytes is None:  # checked and encoded once: the configuration never changes
            config_bytes = self._config_bytes = serialization.config_json(self._frozen_config).encode()
        return serialization.encode(self._KIND, config_bytes, self._arrays())

    def to_dict(self) -> dict:
        """A JSON-safe dict; read it back with streameval.from_dict."""
        return {
            "format": "streameval",
            "version": serialization.VERSION,
            "kind": type(self).__name__,
            "config": self._config(),
            "state": [a.tolist() for a in self._arrays()],
        }

    def __reduce__(self):
        return serialization.from_bytes, (self.to_bytes(),)

    # --- metrics from per-class statistics ------------------------------------------------------

    def _resolve_average(self, average):
        average = self._DEFAULT_AVERAGE if average == DEFAULT else average
        metrics.check_average(average, self._AVERAGES)
        return average

    def _ratio(self, metric, average, zero_division, beta=1.0):
        average = self._resolve_average(average)
        if average == "binary":
            return float(metrics.ratio(metric, self._stats().select(1), None, zero_division, beta)[0])
        if average == "samples":
            return self._samples_ratio(metric, zero_division, beta)
        return metrics.ratio(metric, self._stats(), average, zero_division, beta)

    def _samples_ratio(self, metric, zero_division, beta):
        raise ValueError('average="samples" is only available for Multilabel')

    def precision(self, average=DEFAULT, zero_division="warn"):
        """Precision tp / (tp + fp), as sklearn.metrics.precision_score.

        average: None (per class), "micro", "macro", "weighted" (by support), "binary" (Binary:
        the positive class; its default) or "samples" (Multilabel). Multiclass and Multilabel
        default to "macro". zero_division: "warn" (0.0 and a warning), 0.0, 1.0 or np.nan (the
        class is left out of a macro average).
        """
        return self._ratio("precision", average, zero_division)

    def recall(self, average=DEFAULT, zero_division="warn"):
        """Recall (sensitivity) tp / (tp + fn), as sklearn.metrics.recall_score. See precision()."""
        return self._ratio("recall", average, zero_division)

    def fbeta(self, beta: float, average=DEFAULT, zero_division="warn"):
        """F-beta score, as sklearn.metrics.fbeta_score. See precision() for average and zero_division."""
        if not (isinstance(beta, (int, float, np.number)) and beta >= 0):
            raise ValueError(f"beta={beta!r} is not valid: expected a number >= 0")
        return self._ratio("fbeta", average, zero_division, float(beta))

    def f1(self, average=DEFAULT, zero_division="warn"):
        """F1 score, as sklearn.metrics.f1_score. See precision()."""
        return self._ratio("fbeta", average, zero_division, 1.0)

    def specificity(self, average=DEFAULT, zero_division="warn"):
        """Specificity (true negative rate) tn / (tn + fp) of each class against the rest.

        Averages as precision(); "weighted" weights each class by its support (true count).
        """
        return self._ratio("specificity", average, zero_division)

    def npv(self, average=DEFAULT, zero_division="warn"):
        """Negative predictive value tn / (tn + fn). See specificity()."""
        return self._ratio("npv", average, zero_division)

    def fpr(self, average=DEFAULT, zero_division="warn"):
        """False positive rate fp / (fp + tn). See specificity()."""
        return self._ratio("fpr", average, zero_division)

    def fnr(self, average=DEFAULT, zero_division="warn"):
        """False negative rate fn / (fn + tp). See specificity()."""
        return self._ratio("fnr", average, zero_division)

    def jaccard(self, average=DEFAULT, zero_division="warn"):
        """Jaccard index tp / (tp + fp + fn), as sklearn.metrics.jaccard_score. See precision()."""
        return self._ratio("jaccard", average, zero_division)

    def support(self) -> np.ndarray:
        """Number (or weight) of true samples of each class."""
        return self._stats().support

    def stat_scores(self, average=None) -> StatScores:
        """tp, fp, fn, tn (and .support) per class (average=None), summed ("micro"), or for the
        positive class ("binary", Binary only)."""
        average = self._resolve_average(average)
        stats = self._stats()
        if average == "binary":
            return stats.select(1)
        if average == "micro":
            return stats.pooled()
        if average is not None:
            raise ValueError(f'stat_scores takes average=None, "micro" or "binary", got {average!r}')
        return stats

    # --- reports --------------------------------------------------------------------------------

    _REPORT_AVERAGES: ClassVar[tuple[str, ...]] = ("micro", "macro", "weighted")

    def _target_names(self) -> list[str]:
        raise NotImplementedError

    def report(self, digits: int = 2, zero_division="warn", target_names=None) -> Report:
        """A classification report laid out like sklearn.metrics.classification_report.

        str(report) is the text table; report.to_dict() is classification_report(output_dict=True).
        """
        names = [str(n) for n in (target_names if target_names is not None else self._target_names())]
        support = self.support()
        if len(names) != len(support):
            raise ValueError(f"target_names has {len(names)} names for {len(support)} classes")
        per_class = [
            self._ratio(m, None, zero_division, 1.0) for m in ("precision", "recall", "fbeta")
        ]
        rows = list(zip(names, *per_class, support))
        averages = []
        for avg in self._REPORT_AVERAGES:
            scores = [self._ratio(m, avg, zero_division, 1.0) for m in ("precision", "recall", "fbeta")]
            averages.append((avg, *scores, np.sum(support)))
        return Report(rows, averages, digits, micro_is_accuracy=self._KIND != 3)

    _COMPUTE_RATIOS: ClassVar[tuple[str, ...]] = ("precision", "recall", "f1", "specificity", "jaccard")
    _COMPUTE_SCALARS: ClassVar[tuple[str, ...]] = ()

    def compute(self, prefix: str = "", zero_division=0.0) -> dict[str, float]:
        """A flat dict of floats for loggers, e.g. {"accuracy": ..., "f1_macro": ..., "recall_weighted": ...}.

        Ill-defined ratios take ``zero_division`` (default 0.0, silent: loggers call this often).
        """
        out = {name: float(getattr(self, name)()) for name in self._COMPUTE_SCALARS}
        for avg in self._AVERAGES:
            if avg is None:
                continue
            for name in self._COMPUTE_RATIOS:
                key = name if avg == "binary" else f"{name}_{avg}"
                if avg == "samples" and name not in ("precision", "recall", "f1", "jaccard"):
                    continue
                out[key] = float(getattr(self, name)(average=avg, zero_division=zero_division))
        return {prefix + k: v for k, v in out.items()}


class OneVsRestCurves:
    """Score metrics of Multiclass (classes) and Multilabel (labels) with bins=: one (negatives,
    positives) histogram per column, each read as a binary problem against the rest."""

    _OVR_AVERAGES: ClassVar[tuple]

    def roc_auc(self, average="macro"):
        """ROC AUC of each column (None) averaged "macro", "weighted" (by positives), or "micro"
        (Multilabel: columns pooled), as sklearn.metrics.roc_auc_score (multi_class="ovr" for
        Multiclass). Pairs inside a bin count as ties: the middle of roc_auc_bounds."""
        self._need_bins("roc_auc")
        return curves.per_column(curves.roc_auc, self._hist, self._edges, average, self._OVR_AVERAGES)

    def roc_auc_bounds(self, average=None):
        """Guaranteed (lower, upper) brackets of the exact ROC AUC: per column as two arrays, or
        "micro" (Multilabel) as two floats."""
        self._need_bins("roc_auc_bounds")
        if average == "micro" and "micro" in self._OVR_AVERAGES:
            return curves.per_column(curves.auc_bounds, self._hist, self._edges, "micro")
        bounds = curves.per_column(curves.auc_bounds, self._hist, self._edges, average, (None,))
        return bounds[:, 0], bounds[:, 1]

    def average_precision(self, average="macro"):
        """Average precision of each column, averaged as roc_auc (sklearn.metrics.average_precision_score)."""
        self._need_bins("average_precision")
        return curves.per_column(curves.average_precision, self._hist, self._edges, average, self._OVR_AVERAGES)

    def roc_curve(self, index: int):
        """(fpr, tpr, thresholds) of one class or label against the rest, at the bin edges (exact there)."""
        return curves.roc_curve(self._column_cells(index, "roc_curve"))

    def pr_curve(self, index: int):
        """(precision, recall, thresholds) of one class or label against the rest, at the bin edges."""
        return curves.pr_curve(self._column_cells(index, "pr_curve"))


class CalibrationMetrics:
    """Brier score, log loss and reliability of probabilities (Binary: the scores; Multiclass:
    the score rows and the top-label confidence), from running sums and histograms.

    With bins, calibration_curve(n_bins) needs n_bins to divide the histogram's bins on [0, 1],
    so that every calibration bin is a union of histogram bins. It then equals
    sklearn.calibration.calibration_curve, except for a score exactly on a calibration edge when
    inclusive=True (the histogram puts it in the upper bin, scikit-learn in the lower).
    """

    _calib: np.ndarray

    def _brier_scale(self) -> float:
        return 0.5  # scikit-learn halves the two-column sum of a binary problem

    def _need_probabilities(self, what: str) -> None:
        self._need_bins(what)

    def _calibration(self, n_bins: int):
        """(fraction of positives, mean probability, weight) of each non-empty bin."""
        raise NotImplementedError

    def _checked_total(self, what: str):
        self._need_probabilities(what)
        if self._calib[_kernels.OUTSIDE_UNIT] > 0:
            raise ValueError(f"{what} needs probabilities, but some scores were outside [0, 1]")
        return self.n_samples

    def brier_score(self) -> float:
        """Mean squared error of the probabilities, as sklearn.metrics.brier_score_loss."""
        total = self._checked_total("brier_score")
        return float(self._brier_scale() * self._calib[_kernels.BRIER] / total) if total else float("nan")

    def log_loss(self) -> float:
        """Cross-entropy of the probabilities, as sklearn.metrics.log_loss (clipped to [eps, 1 - eps])."""
        total = self._checked_total("log_loss")
        return float(self._calib[_kernels.LOG_LOSS] / total) if total else float("nan")

    def calibration_curve(self, n_bins: int = 5):
        """(fraction of positives, mean probability) per non-empty bin (a reliability diagram)."""
        return self._calibration(n_bins)[:2]

    def expected_calibration_error(self, n_bins: int = 15) -> float:
        """Weighted mean over bins of |fraction of positives - mean probability|."""
        return curves.expected_calibration_error(*self._calibration(n_bins))


def _short(value) -> str:
    if isinstance(value, list) and len(value) > 6:
        return repr(value[:5])[:-1] + ", ...]"
    return repr(value)


class ConfusionAccumulator(Accumulator):
    """Shared by Binary and Multiclass: the state is a (K, K) confusion matrix, rows = true."""

    _cm: np.ndarray
    _COMPUTE_SCALARS = ("accuracy", "balanced_accuracy", "matthews_corrcoef", "cohen_kappa", "hamming_loss")

    def _stats(self) -> StatScores:
        return metrics.stats_from_confusion(self._cm)

    def _count_pairs(self, y_true, y_pred, weight, n, ignore=0, use_ignore=False) -> None:
        """Count class-index pairs with the right kernel; raise naming the first bad sample."""
        if weight is None:
            kernel, batch = _kernels.count_pairs, (y_true, y_pred)
        else:
            kernel, batch = _kernels.count_pairs_weighted, (y_true, y_pred, weight)
        bad = _threads.count_in_chunks(kernel, batch, (n, ignore, use_ignore), (self._cm,))
        if bad >= 0:
            checks = [("y_true", y_true, "class", n), ("y_pred", y_pred, "class", n)]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", weight, "weight", 0)] if weight is not None else []))

    @property
    def n_samples(self):
        return self._cm.sum().item()

    def compute(self, prefix: str = "", zero_division=0.0) -> dict[str, float]:
        fill = metrics.check_zero_division(zero_division)
        if isinstance(zero_division, str) or np.isnan(fill):
            return super().compute(prefix, zero_division)
        # Every metric in one kernel call: the same floats as the methods (tests check it).
        k = self._cm.shape[0]
        per_class, averages, scalars = np.empty((8, k)), np.empty((8, 3)), np.empty(5)
        _kernels.summarize_confusion(self._cm, fill, per_class, averages, scalars)
        out = dict(zip(self._COMPUTE_SCALARS, scalars.tolist()))
        rows = {name: i for i, name in enumerate(_kernels.RATIO_NAMES)}
        columns = {"micro": 0, "macro": 1, "weighted": 2}
        for avg in self._AVERAGES:
            for name in self._COMPUTE_RATIOS if avg is not None else ():
                if avg == "binary":
                    out[name] = float(per_class[rows[name], 1])
                else:
                    out[f"{name}_{avg}"] = float(averages[rows[name], columns[avg]])
        return {prefix + key: value for key, value in out.items()}

    compute.__doc__ = Accumulator.compute.__doc__

    def confusion_matrix(self, normalize=None) -> np.ndarray:
        """The confusion matrix, rows = true class, columns = predicted, as sklearn.metrics.confusion_matrix.

        normalize: None (counts), "true" (rows sum to 1), "pred" (columns) or "all".
        """
        return metrics.normalize_confusion(self._cm, normalize)

    def accuracy(self) -> float:
        """Fraction of correct predictions (weighted by sample_weight), as sklearn.metrics.accuracy_score."""
        return metrics.accuracy(self._cm)

    def hamming_loss(self) -> float:
        """Fraction of wrong predictions, as sklearn.metrics.hamming_loss."""
        total = self._cm.sum()
        return float((total - np.trace(self._cm)) / total) if total else float("nan")

    def balanced_accuracy(self, adjusted: bool = False) -> float:
        """Mean recall over the classes present in y_true, as sklearn.metrics.balanced_accuracy_score."""
        return metrics.balanced_accuracy(self._cm, adjusted)

    def matthews_corrcoef(self) -> float:
        """Matthews correlation coefficient, as sklearn.metrics.matthews_corrcoef."""
        return metrics.matthews_corrcoef(self._cm)

    def cohen_kappa(self, weights=None, replace_undefined_by=np.nan) -> float:
        """Cohen's kappa, as sklearn.metrics.cohen_kappa_score; weights None, "linear" or "quadratic"."""
        return metrics.cohen_kappa(self._cm, weights, replace_undefined_by)
