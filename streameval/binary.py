"""Binary: a streaming 2x2 confusion matrix for one positive class."""

from __future__ import annotations

import numpy as np

from . import _inputs, _kernels
from .accumulator import ConfusionAccumulator


class Binary(ConfusionAccumulator):
    """Streaming binary classification metrics.

    y_true holds labels; y_pred holds labels or scores:

    - labels: with the default pos_label=1 they must be 0 or 1 (bool, integer or integral float);
      with another pos_label a label is positive when it equals pos_label, negative otherwise;
    - scores: a float y_pred is a score (probability, logit...). It is positive when
      score >= threshold, or score > threshold with inclusive=False (Keras's rule).

    The state is the confusion matrix [[tn, fp], [fn, tp]] (int64, or float64 when weighted).
    Metrics default to average="binary": the value for the positive class.

    >>> acc = Binary()
    >>> acc.update([1, 0, 1, 1], [0.9, 0.2, 0.4, 0.7])
    >>> acc.recall()
    0.6666666666666666
    >>> acc.confusion_matrix().tolist()
    [[1, 0], [1, 2]]
    """

    _KIND = 1
    _AVERAGES = ("binary", None, "micro", "macro", "weighted")
    _DEFAULT_AVERAGE = "binary"
    _COMPUTE_RATIOS = ("precision", "recall", "f1", "specificity", "npv", "fpr", "fnr", "jaccard")

    def __init__(self, threshold: float = 0.5, *, pos_label=1, inclusive: bool = True, weighted: bool = False):
        pos_label = pos_label.item() if isinstance(pos_label, np.generic) else pos_label
        self._state_spec(threshold, pos_label, inclusive, weighted)
        self.threshold = float(threshold)
        self.pos_label = pos_label
        self.inclusive = bool(inclusive)
        self.weighted = bool(weighted)
        # With pos_label=1 labels are read as they are (0/1), which also catches multiclass labels.
        self._labels_are_01 = not isinstance(pos_label, str) and pos_label == 1
        self.reset()

    def _config(self) -> dict:
        return {"threshold": self.threshold, "pos_label": self.pos_label, "inclusive": self.inclusive, "weighted": self.weighted}

    @classmethod
    def _state_spec(cls, threshold=0.5, pos_label=1, inclusive=True, weighted=False):
        _inputs.check_threshold(threshold)
        if not isinstance(pos_label, (int, float, str, np.number)) or isinstance(pos_label, float) and not np.isfinite(pos_label):
            raise TypeError(f"pos_label={pos_label!r} is not valid: expected an integer, a boolean or a string")
        _inputs.check_flags(inclusive=inclusive, weighted=weighted)
        return {"_cm": ((2, 2), np.dtype(np.float64 if weighted else np.int64))}

    def _target_names(self) -> list[str]:
        return ["0", "1"] if self._labels_are_01 else [f"not {self.pos_label}", str(self.pos_label)]

    def _binarize(self, arr: np.ndarray, name: str) -> np.ndarray:
        if self._labels_are_01:
            _inputs.require_numeric(arr, name, f"Binary(pos_label={self.pos_label!r}) expects 0/1 labels; pass pos_label=")
            return arr
        if _inputs.is_text(arr) != isinstance(self.pos_label, str):
            kind = "strings" if _inputs.is_text(arr) else "numbers"
            raise TypeError(f"{name} holds {kind} (dtype {arr.dtype}) but pos_label={self.pos_label!r}")
        return arr == self.pos_label

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Count a batch: y_true (N,) labels, y_pred (N,) labels or float scores, sample_weight (N,).

        A failed update raises and leaves the counts exactly as they were.
        """
        yt = _inputs.as_array(y_true, "y_true")
        yp = _inputs.as_array(y_pred, "y_pred")
        _inputs.check_ndim(yt, "y_true", (1,), "(n_samples,)")
        _inputs.check_ndim(yp, "y_pred", (1,), "(n_samples,) labels or scores")
        _inputs.check_length(yp, "y_pred", yt.shape[0])
        w = _inputs.as_weight(sample_weight, yt.shape[0], self.weighted)
        if yt.shape[0] == 0:
            return
        yt = self._binarize(yt, "y_true")
        is_scores = yp.dtype.kind == "f"
        if not is_scores:
            yp = self._binarize(yp, "y_pred")
        if is_scores and w is None:
            bad = _kernels.count_scores(yt, yp, self.threshold, self.inclusive, self._cm)
        elif is_scores:
            bad = _kernels.count_scores_weighted(yt, yp, w, self.threshold, self.inclusive, self._cm)
        elif w is None:
            bad = _kernels.count_pairs(yt, yp, 2, 0, False, self._cm)
        else:
            bad = _kernels.count_pairs_weighted(yt, yp, w, 2, 0, False, self._cm)
        if bad >= 0:
            checks = [("y_true", yt, "class", 2), ("y_pred", yp, "score" if is_scores else "class", 2)]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", w, "weight", 0)] if w is not None else []))
