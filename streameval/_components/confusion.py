"""The confusion matrix of Binary and Multiclass: (K, K) counts, rows = true class, columns =
predicted; its declaration, its counting (with bootstrap replicates when kept) and its metrics."""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np

from .. import _inputs, _kernels, metrics
from .._state import StateArray, counts
from .._stateful import StateArrayAttribute
from .._storage import REFUSED
from ..accumulator import NO_CLASS, Accumulator
from ..metrics import StatScores

NAME = "_cm"
REPLICATES = {NAME: "_boot_cm"}  # what bootstrap=R replicates


def declare(k: int, count: np.dtype) -> dict[str, StateArray]:
    """The matrix; both axes are classes (laid out again when labels="auto" finds one)."""
    return {NAME: counts((k, k), count, class_axes=(0, 1))}


class ConfusionMetrics(Accumulator):
    """What Binary and Multiclass share: a (K, K) confusion matrix, and every metric of it."""

    _cm = StateArrayAttribute()
    _boot_cm = StateArrayAttribute()
    _COMPUTE_SCALARS = ("accuracy", "balanced_accuracy", "matthews_corrcoef", "cohen_kappa", "hamming_loss")
    _MICRO_PROPORTIONS = ("precision", "recall", "fnr")  # one prediction per sample: micro = accuracy

    def _stats(self) -> StatScores:
        return metrics.stats_from_confusion(self._storage.host(NAME))

    def _accuracy_counts(self) -> tuple[Any, Any]:
        cm = self._storage.host(NAME)
        return np.trace(cm), cm.sum()

    def _count_pairs(self, y_true: Any, y_pred: Any, weight: Any, n: int, ignore: Any = 0,
                     use_ignore: bool = False) -> None:
        """Count class-index pairs; raise naming the first bad sample, or OverflowError when the
        counts would pass streameval.limits, before anything is written."""
        storage = self._storage
        if self._boot is None:
            mass = y_true.shape[0] if weight is None else _inputs.batch_mass(weight, y_true.shape[0])
            bad = storage.count_pairs(NAME, y_true, y_pred, weight, n, ignore, use_ignore, mass)
            if bad == REFUSED:
                self._refuse_batch(NAME)
            if bad >= 0:
                self._raise_bad_pairs(bad, y_true, y_pred, weight, n)
            return
        batch = storage.scratch((NAME,))  # the replicates are drawn from the batch's matrix
        bad = batch.count_pairs(NAME, y_true, y_pred, weight, n, ignore, use_ignore)
        if bad >= 0:
            self._raise_bad_pairs(bad, y_true, y_pred, weight, n)
        self._boot.resample(self, batch)

    @staticmethod
    def _raise_bad_pairs(bad: int, y_true: Any, y_pred: Any, weight: Any, n: int) -> NoReturn:
        checks = [("y_true", y_true, "class", n), ("y_pred", y_pred, "class", n)]
        raise _inputs.diagnose(bad, checks + ([("sample_weight", weight, "weight", 0)] if weight is not None else []))

    @property
    def n_labelled(self) -> int | float:
        """Number of labelled samples counted so far (total weight when weighted): the confusion
        matrix's, which every label metric reads (n_samples adds the unlabelled ones)."""
        return self._storage.host(NAME).sum().item()  # type: ignore[no-any-return]

    def _labelled_predictions(self) -> np.ndarray:
        """The labelled samples' predicted-class counts: the matrix's column sums."""
        return self._storage.host(NAME).sum(axis=0)  # type: ignore[no-any-return]

    def compute(self, prefix: str = "", zero_division: Any = 0.0) -> dict[str, float]:
        fill = metrics.check_zero_division(zero_division)
        cm = self._storage.host(NAME)
        if not cm.size:
            raise ValueError(NO_CLASS.format("compute()"))
        if isinstance(zero_division, str) or np.isnan(fill):
            return super().compute(prefix, zero_division)
        # Every metric in one kernel call: the same floats as the methods (tests check it).
        k = cm.shape[0]
        per_class, averages, scalars = np.empty((8, k)), np.empty((8, 3)), np.empty(5)
        _kernels.summarize_confusion(cm, fill, per_class, averages, scalars)
        out = dict(zip(self._COMPUTE_SCALARS, scalars.tolist()))
        rows = {name: i for i, name in enumerate(_kernels.RATIO_NAMES)}
        columns = {"micro": 0, "macro": 1, "weighted": 2}
        for avg in self._AVERAGES:
            for name in self._COMPUTE_RATIOS if avg is not None else ():
                if avg == "binary":
                    out[name] = float(per_class[rows[name], 1])
                else:
                    out[f"{name}_{avg}"] = float(averages[rows[name], columns[avg]])  # type: ignore[index]
        return {prefix + key: value for key, value in out.items()}

    compute.__doc__ = Accumulator.compute.__doc__

    def confusion_matrix(self, normalize: str | None = None) -> np.ndarray:
        """The confusion matrix, rows = true class, columns = predicted, as sklearn.metrics.confusion_matrix.

        normalize: None (counts), "true" (rows sum to 1), "pred" (columns) or "all".
        """
        return metrics.normalize_confusion(self._storage.host(NAME), normalize)

    def accuracy(self) -> float:
        """Fraction of correct predictions (weighted by sample_weight), as sklearn.metrics.accuracy_score."""
        return metrics.accuracy(self._storage.host(NAME))

    def hamming_loss(self) -> float:
        """Fraction of wrong predictions, as sklearn.metrics.hamming_loss."""
        cm = self._storage.host(NAME)
        total = cm.sum()
        return float((total - np.trace(cm)) / total) if total else float("nan")

    def balanced_accuracy(self, adjusted: bool = False) -> float:
        """Mean recall over the classes present in y_true, as sklearn.metrics.balanced_accuracy_score."""
        return metrics.balanced_accuracy(self._storage.host(NAME), adjusted)

    def matthews_corrcoef(self) -> float:
        """Matthews correlation coefficient, as sklearn.metrics.matthews_corrcoef."""
        return metrics.matthews_corrcoef(self._storage.host(NAME))

    def cohen_kappa(self, weights: str | None = None, replace_undefined_by: float = np.nan) -> float:
        """Cohen's kappa, as sklearn.metrics.cohen_kappa_score; weights None, "linear" or "quadratic"."""
        return metrics.cohen_kappa(self._storage.host(NAME), weights, replace_undefined_by)

