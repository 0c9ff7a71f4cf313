"""Multiclass: a streaming (K, K) confusion matrix."""

from __future__ import annotations

import numpy as np

from . import _inputs, _kernels
from .accumulator import ConfusionAccumulator


class Multiclass(ConfusionAccumulator):
    """Streaming multiclass classification metrics.

    Give exactly one of ``num_classes`` (labels are the integers 0..K-1) and ``labels`` (any
    hashable labels, ints or strings, in the order rows and columns should take). y_pred is labels
    of shape (N,) or scores / probabilities / logits of shape (N, K), reduced by argmax (the
    first maximum wins on ties, as numpy's argmax). Samples whose y_true equals ``ignore_index``
    are skipped, whatever their prediction.

    The state is the confusion matrix, rows = true, columns = predicted (int64, or float64 when
    weighted). Metrics default to average="macro".

    >>> acc = Multiclass(labels=["cat", "dog", "rabbit"])
    >>> acc.update(["cat", "dog", "rabbit", "dog"], ["cat", "cat", "rabbit", "dog"])
    >>> acc.accuracy()
    0.75
    >>> acc.recall(average=None).tolist()
    [1.0, 0.5, 1.0]
    """

    _KIND = 2

    def __init__(self, num_classes: int | None = None, *, labels=None, ignore_index=None, weighted: bool = False):
        self._state_spec(num_classes, labels, ignore_index, weighted)
        if labels is not None:
            self._index = _inputs.LabelIndex(labels)
        else:
            self._index = _inputs.LabelIndex(range(num_classes))
        self.num_classes = len(self._index)
        self.labels = self._index.labels
        self._given = {"num_classes": None if num_classes is None else int(num_classes), "labels": None if labels is None else list(self.labels)}
        self.ignore_index = ignore_index
        self.weighted = bool(weighted)
        self.reset()

    def _config(self) -> dict:
        return {**self._given, "ignore_index": self.ignore_index, "weighted": self.weighted}

    @classmethod
    def _state_spec(cls, num_classes=None, labels=None, ignore_index=None, weighted=False):
        if (num_classes is None) == (labels is None):
            raise ValueError("give exactly one of num_classes and labels")
        if num_classes is not None:
            _inputs.check_count("num_classes", num_classes)
            k = int(num_classes)
        else:
            if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
                raise TypeError(f"labels={labels!r} is not valid: expected a sequence of labels")
            k = len(labels)
        if ignore_index is not None and not isinstance(ignore_index, (int, str)) or isinstance(ignore_index, bool):
            raise TypeError(f"ignore_index={ignore_index!r} is not valid: expected an integer or a string label")
        if labels is None and isinstance(ignore_index, str):
            raise TypeError(f"ignore_index={ignore_index!r} is not valid: the classes are integers 0..{k - 1}")
        _inputs.check_flags(weighted=weighted)
        return {"_cm": ((k, k), np.dtype(np.float64 if weighted else np.int64))}

    def _target_names(self) -> list[str]:
        return [str(label) for label in self.labels]

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Count a batch: y_true (N,) labels, y_pred (N,) labels or (N, K) scores, sample_weight (N,).

        A failed update raises and leaves the counts exactly as they were.
        """
        k = self.num_classes
        yt = _inputs.as_array(y_true, "y_true")
        yp = _inputs.as_array(y_pred, "y_pred")
        _inputs.check_ndim(yt, "y_true", (1,), "(n_samples,)")
        _inputs.check_ndim(yp, "y_pred", (1, 2), f"(n_samples,) labels or (n_samples, {k}) scores")
        _inputs.check_length(yp, "y_pred", yt.shape[0])
        if yp.ndim == 2 and yp.shape[1] != k:
            raise ValueError(f"y_pred has shape {yp.shape}: scores need {k} columns, one per class")
        w = _inputs.as_weight(sample_weight, yt.shape[0], self.weighted)
        if yt.shape[0] == 0:
            return
        is_scores = yp.ndim == 2
        if is_scores:
            _inputs.require_numeric(yp, "y_pred", "scores must be numbers")
            pred_index = np.empty(yp.shape[0], dtype=np.int64)
            bad = _kernels.argmax_rows(yp, pred_index)
            if bad >= 0:
                raise _inputs.diagnose(bad, [("y_pred", yp, "score", 0)])
        ignore, use_ignore = 0, self.ignore_index is not None
        if self._index.is_range:
            _inputs.require_numeric(yt, "y_true", "this accumulator's labels are integers")
            if not is_scores:
                _inputs.require_numeric(yp, "y_pred", "this accumulator's labels are integers")
            if use_ignore:
                ignore = self.ignore_index
        else:
            # Map labels to class indices; ignored samples become -1 and the kernel skips them.
            skip = (yt == self.ignore_index) if use_ignore else None
            yt = self._index.encode(yt, "y_true", skip)
            if not is_scores:
                yp = self._index.encode(yp, "y_pred", skip)
            ignore = -1
        if is_scores:
            yp = pred_index
        if w is None:
            bad = _kernels.count_pairs(yt, yp, k, ignore, use_ignore, self._cm)
        else:
            bad = _kernels.count_pairs_weighted(yt, yp, w, k, ignore, use_ignore, self._cm)
        if bad >= 0:
            checks = [("y_true", yt, "class", k), ("y_pred", yp, "class", k)]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", w, "weight", 0)] if w is not None else []))
