"""One way into every accumulator: ``prepare`` turns a user's batch into a ``Prepared`` one.

``update()`` of Binary, Multiclass and Multilabel is ``self._count(prepare(...))``. ``prepare``
does every array-level step, in one place: torch tensors, lists, pandas and dlpack objects
become numpy arrays (without a copy where the memory can be read as it is), the shapes and the
number of samples are checked, and sample_weight is checked and made float64. It reads no
value and changes no state: what a sample's value must be (a class, a finite score, a weight
>= 0) is checked by the kernels as they count, which report the first bad sample (see
``_kernels``). What differs between accumulators (the ranks of y_true and y_pred, the number of
score columns, whether labels may be any hashable...) is a ``Layout`` they build once.

The wrappers (``Windowed``, ``Decayed``) prepare a batch once with the wrapped accumulator's
layout, then count it where they choose (``_slots``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import _inputs

Columns = tuple[str, ...]


class Layout(NamedTuple):
    """What an accumulator takes: built once per configuration (see each accumulator's ``_layout``)."""

    weighted: bool
    true_ndims: tuple[int, ...] = (1,)
    true_shape: str = "(n_samples,)"
    pred_ndims: tuple[int, ...] = (1,)
    pred_shape: str = "(n_samples,) labels or scores"
    columns: int | None = None  # the second dimension of 2-D arrays (scores per class, labels)
    both_columns: bool = False  # Multilabel: y_true and y_pred are (N, columns) numeric indicators/scores
    any_labels: bool = False  # labels of any hashable type (Multiclass(labels="auto")): as_labels
    reads_kind: bool = True  # the scores' dtype is needed (bins, thresholds): read it before any conversion
    fast: frozenset[Any] | None = None  # y_pred dtypes of the plain batches counted as they are, or None


class Prepared(NamedTuple):
    """A batch ready to count: numpy arrays of one length (no value checked yet).

    ``plain`` is True when the arrays are the user's own 1-D native arrays with no weights (the
    fast path: nothing was converted or checked beyond that). ``kind`` is the dtype the scores are
    compared in ("float32", "float64", "float16", "bfloat16"), or None when not read (a plain
    batch's kind is read from its dtype by the accumulator, and only when it needs it). A
    NamedTuple made with tuple.__new__: one C call per batch, where a class would cost a Python
    frame (a tenth of a small batch's update).
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    weight: np.ndarray | None
    n: int
    kind: str | None
    plain: bool

    def weighted_by(self, factors: np.ndarray) -> Prepared:
        """The same batch with each sample's weight multiplied by factors (1 when it had none)."""
        weight = factors if self.weight is None else self.weight * factors
        return _new(Prepared, (self.y_true, self.y_pred, weight, self.n, self._kind(), False))

    def cut(self, lo: int, hi: int) -> Prepared:
        """Samples lo to hi - 1 (sample_weight too): a piece of the batch, without a copy."""
        weight = None if self.weight is None else self.weight[lo:hi]
        return _new(Prepared, (self.y_true[lo:hi], self.y_pred[lo:hi], weight, hi - lo, self._kind(), self.plain))

    def _kind(self) -> str | None:
        """kind, read from a plain batch's dtype if it was not (a batch no longer plain needs it)."""
        return self.kind if self.kind is not None or not self.plain else _inputs.score_kind(self.y_pred)


_new = tuple.__new__
_LABEL_DTYPES = _inputs.LABEL_DTYPES


def prepare(y_true: Any, y_pred: Any, sample_weight: Any, layout: Layout) -> Prepared:
    """The batch as numpy arrays of checked shapes and dtypes, and the weights as float64; raise
    (TypeError for types, ValueError for shapes and values) naming the argument otherwise."""
    fast = layout.fast
    if (fast is not None and sample_weight is None and type(y_true) is np.ndarray and type(y_pred) is np.ndarray
            and y_true.ndim == 1 and y_true.shape == y_pred.shape and y_true.dtype in _LABEL_DTYPES
            and y_pred.dtype in fast):
        # _inputs.plain_batch, inline (this is every small batch's path): nothing to convert; the
        # caller reads the scores' kind from the dtype, if it needs it.
        return _new(Prepared, (y_true, y_pred, None, y_true.shape[0], None, True))
    kind = None
    if type(y_true).__module__ == "torch":  # tensors from a training loop: their memory, no copy
        kind = _inputs.score_kind(y_pred)  # bfloat16 becomes float32 but compares as bfloat16
        y_true, y_pred = _inputs.from_torch(y_true, y_pred)
        if fast is not None and sample_weight is None and type(y_pred) is np.ndarray and y_true.ndim == 1 \
                and y_true.shape == y_pred.shape and y_true.dtype in _LABEL_DTYPES and y_pred.dtype in fast:
            return _new(Prepared, (y_true, y_pred, None, y_true.shape[0], kind, True))
    if layout.reads_kind and kind is None:
        kind = _inputs.score_kind(y_pred)
    if layout.any_labels:
        yt, yp = _inputs.as_labels(y_true, "y_true"), _inputs.as_labels(y_pred, "y_pred")
    else:
        yt, yp = _inputs.as_array(y_true, "y_true"), _inputs.as_array(y_pred, "y_pred")
    _inputs.check_ndim(yt, "y_true", layout.true_ndims, layout.true_shape)
    _inputs.check_ndim(yp, "y_pred", layout.pred_ndims, layout.pred_shape)
    if layout.both_columns:
        for name, arr in (("y_true", yt), ("y_pred", yp)):
            if arr.shape[1] != layout.columns:
                raise ValueError(f"{name} has shape {arr.shape}: expected {layout.true_shape}")
            _inputs.require_numeric(arr, name, "multilabel indicators must be 0/1")
    _inputs.check_length(yp, "y_pred", yt.shape[0])
    if not layout.both_columns and yp.ndim == 2 and yp.shape[1] != layout.columns:
        raise ValueError(f"y_pred has shape {yp.shape}: scores need {layout.columns} columns, one per class")
    weight = _inputs.as_weight(sample_weight, yt.shape[0], layout.weighted)
    return _new(Prepared, (yt, yp, weight, yt.shape[0], kind, False))
