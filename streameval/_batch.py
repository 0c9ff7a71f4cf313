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

from . import _inputs, errors
from ._kernels import strided as _strided

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
    any_rank: bool = False  # inputs of any rank: (N, d1, ...) labels, (N, K or L, d1, ...) scores (see _any_rank)
    argmax: tuple[Any, bool] | None = None  # (ignore, use_ignore): (N, K, d1, ...) scores reduced to labels here
    scores: frozenset[Any] | None = None  # dtypes of (N, columns) scores of plain batches taken as they are, or None
    unlabelled: bool = False  # y_true=None batches are taken (unlabelled=True): see prepare_unlabelled


class Prepared(NamedTuple):
    """A batch ready to count: numpy arrays of one length (no value checked yet). ``y_true`` is
    None for a batch without labels (``update(None, y_pred)``, unlabelled=True: see ``labelled``).

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
    shape: tuple[int, ...] | None = None  # inputs of any rank: the elements' shape (N, d1, ...), flattened here

    def weighted_by(self, factors: np.ndarray) -> Prepared:
        """The same batch with each sample's weight multiplied by factors (1 when it had none)."""
        weight = factors if self.weight is None else self.weight * factors
        return _new(Prepared, (self.y_true, self.y_pred, weight, self.n, self._kind(), False, self.shape))

    def cut(self, lo: int, hi: int) -> Prepared:
        """Samples lo to hi - 1 (sample_weight too): a piece of the batch, without a copy."""
        weight = None if self.weight is None else self.weight[lo:hi]
        y_true = None if self.y_true is None else self.y_true[lo:hi]
        return _new(Prepared, (y_true, self.y_pred[lo:hi], weight, hi - lo, self._kind(), self.plain,
                               self.shape))

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
        return _new(Prepared, (y_true, y_pred, None, y_true.shape[0], None, True, None))
    scores = layout.scores
    if (scores is not None and sample_weight is None and type(y_true) is np.ndarray and type(y_pred) is np.ndarray
            and y_true.ndim == 1 and y_pred.ndim == 2 and y_pred.shape[0] == y_true.shape[0]
            and y_pred.shape[1] == layout.columns and y_true.dtype in _LABEL_DTYPES and y_pred.dtype in scores):
        # (N, K) scores as they are (the general path below would take them unchanged); the
        # layout reads no kind
        return _new(Prepared, (y_true, y_pred, None, y_true.shape[0], None, False, None))
    if y_true is None:
        return prepare_unlabelled(y_pred, sample_weight, layout)
    kind = None
    if type(y_true).__module__ == "torch":  # tensors from a training loop: their memory, no copy
        given = y_pred  # its kind is read from it (bfloat16 becomes float32 but compares as bfloat16)
        y_true, y_pred = _inputs.from_torch(y_true, y_pred)
        if fast is not None and sample_weight is None and type(y_pred) is np.ndarray and y_true.ndim == 1:
            if y_true.shape == y_pred.shape and y_true.dtype in _LABEL_DTYPES and y_pred.dtype in fast:
                return _new(Prepared, (y_true, y_pred, None, y_true.shape[0], _inputs.score_kind(given), True, None))
            if (scores is not None and y_pred.ndim == 2 and y_pred.shape[0] == y_true.shape[0]
                    and y_pred.shape[1] == layout.columns and y_true.dtype in _LABEL_DTYPES and y_pred.dtype in scores):
                # (N, K) scores for the fused argmax: their kind only where the layout reads it
                kind = _inputs.score_kind(given) if layout.reads_kind else None
                return _new(Prepared, (y_true, y_pred, None, y_true.shape[0], kind, False, None))
        kind = _inputs.score_kind(given)
    if layout.reads_kind and kind is None:
        kind = _inputs.score_kind(y_pred)
    if layout.any_labels:
        yt, yp = _inputs.as_labels(y_true, "y_true"), _inputs.as_labels(y_pred, "y_pred")
    else:
        yt, yp = _inputs.as_array(y_true, "y_true"), _inputs.as_array(y_pred, "y_pred")
        if layout.any_rank and yt.ndim > (2 if layout.both_columns else 1):
            return _any_rank(yt, yp, sample_weight, layout, kind)
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
    return _new(Prepared, (yt, yp, weight, yt.shape[0], kind, False, None))


def prepare_unlabelled(y_pred: Any, sample_weight: Any, layout: Layout) -> Prepared:
    """An unlabelled batch (y_true=None): y_pred as prepare() takes it, of the layout's standard
    ranks ((N,) labels or scores, (N, K) scores, Multilabel (N, L)), with y_true None."""
    if not layout.unlabelled:
        raise ValueError("y_true=None (a batch without labels) needs an accumulator created with "
                         "unlabelled=True, which counts the prediction side of unlabelled samples")
    kind = None
    if type(y_pred).__module__ == "torch":
        kind = _inputs.score_kind(y_pred)
        y_pred = _inputs.torch_to_numpy(y_pred)
    elif layout.reads_kind:
        kind = _inputs.score_kind(y_pred)
    yp = _inputs.as_labels(y_pred, "y_pred") if layout.any_labels else _inputs.as_array(y_pred, "y_pred")
    if layout.both_columns:
        if yp.ndim != 2 or yp.shape[1] != layout.columns:
            raise ValueError(f"y_pred has shape {yp.shape}: expected {layout.pred_shape}")
        _inputs.require_numeric(yp, "y_pred", "multilabel indicators must be 0/1")
    else:
        _inputs.check_ndim(yp, "y_pred", layout.pred_ndims, layout.pred_shape)
        if yp.ndim == 2 and yp.shape[1] != layout.columns:
            raise ValueError(f"y_pred has shape {yp.shape}: scores need {layout.columns} columns, one per class")
    n = yp.shape[0] if yp.ndim else 0
    weight = _inputs.as_weight(sample_weight, n, layout.weighted)
    return _new(Prepared, (None, yp, weight, n, kind, False, None))


def _any_rank(yt: np.ndarray, yp: np.ndarray, sample_weight: Any, layout: Layout, kind: str | None) -> Prepared:
    """A batch of rank > 1 (Binary, Multiclass) or > 2 (Multilabel) as the flat batch of its
    elements, each element a sample, as flattening the extra dimensions first would give:

    - labels (N, d1, ...) and Binary scores: ``reshape(-1)``, a view of a C-contiguous array;
    - Multiclass scores (N, K, d1, ...), the class axis second (torch.nn.CrossEntropyLoss's
      layout): with fixed integer classes and no score state, reduced here to each element's
      predicted class by a kernel that reads them as the (N, K, M) view (no transposed copy; a
      non-contiguous array whose trailing dimensions cannot be merged is copied by that reshape);
      otherwise moved to (N * M, K) rows, a copy;
    - Multilabel (N, L, d1, ...): moved to (N * M, L) rows, a copy.

    sample_weight is one weight per element (y_true's shape) or per sample (N,), repeated over
    its elements. ``shape`` keeps the elements' shape, so an error names the position in the
    user's array (see ``relocated``).
    """
    n = yt.shape[0]
    columns = layout.columns
    if layout.both_columns:  # Multilabel: (N, L, d1, ...) both
        for name, arr in (("y_true", yt), ("y_pred", yp)):
            if arr.shape[:2] != (n, columns) or arr.shape != yt.shape:
                raise ValueError(f"{name} has shape {arr.shape}: expected (n_samples, {columns}, d1, ...) for both "
                                 f"y_true and y_pred (y_true has {yt.shape})")
            _inputs.require_numeric(arr, name, "multilabel indicators must be 0/1")
        shape = (n, *yt.shape[2:])
        yt, yp = _columns_last(yt), _columns_last(yp)
    else:
        shape = yt.shape
        scores_shape = (n, columns, *yt.shape[1:])
        if yp.shape == yt.shape:  # labels, or Binary's scores
            yp = yp.reshape(-1)
        elif columns is not None and 2 in layout.pred_ndims and yp.shape == scores_shape:
            yp = _argmax(yt, yp, layout) if layout.argmax is not None else _columns_last(yp)
        else:
            expected = "y_true's shape" + (f" (labels) or {scores_shape} (scores)" if columns is not None
                                            and 2 in layout.pred_ndims else "")
            raise ValueError(f"y_pred has shape {yp.shape}: expected {expected}; y_true has {yt.shape}")
        yt = yt.reshape(-1)
    elements = yt.shape[0]
    weight = None
    if sample_weight is not None:
        w = _inputs.as_array(sample_weight, "sample_weight")
        if w.shape == shape:
            w = w.reshape(-1)
        elif w.ndim == 1 and w.shape[0] == n and elements:
            w = np.repeat(w, elements // n)
        elif w.ndim > 1:
            raise ValueError(f"sample_weight has shape {w.shape}: expected ({n},), one weight per sample, or "
                             f"{shape}, one per element")
        weight = _inputs.as_weight(w, elements, layout.weighted)
    return _new(Prepared, (yt, yp, weight, elements, kind, False, shape))


def _columns_last(arr: np.ndarray) -> np.ndarray:
    """(N, C, d1, ...) as (N * d1 * ..., C) rows (a copy)."""
    return np.moveaxis(arr, 1, -1).reshape(-1, arr.shape[1])


def _argmax(yt: np.ndarray, yp: np.ndarray, layout: Layout) -> np.ndarray:
    """The predicted class of each element of (N, K, d1, ...) scores, read as the (N, K, M) view;
    the scores of ignored elements are not read. InputError naming the first non-finite score."""
    assert layout.argmax is not None
    if yp.dtype not in _STRIDED_DTYPES or yt.dtype.kind not in "biuf":
        return _columns_last(yp)  # other dtypes (the kernel's path checks them, and names the problem)
    n, k = yp.shape[:2]
    scores = yp.reshape(n, k, -1)
    m = scores.shape[2]
    ignore, use_ignore = layout.argmax
    pred = np.empty((n, m), dtype=np.int64)
    bad = _strided.argmax_axis1(scores, yt.reshape(n, m), ignore, use_ignore, np.empty(m, dtype=scores.dtype),
                                np.empty(m, dtype=np.float64), pred)
    if bad >= 0:
        i, mm = divmod(bad, m)
        position = (*divmod(i, k), *np.unravel_index(mm, yt.shape[1:]))
        raise _inputs.score_error("y_pred", yp, tuple(int(p) for p in position))
    return pred.reshape(-1)


_STRIDED_DTYPES = frozenset({np.dtype(np.float32), np.dtype(np.float64)})


def relocated(error: BaseException, shape: tuple[int, ...]) -> BaseException:
    """An InputError found in a flattened batch (``_any_rank``), located in the user's array:
    element i is at np.unravel_index(i, shape); row i, column c of flattened (N * M, C) scores
    or indicators at (n, c, d1, ...)."""
    index = getattr(error, "index", None)
    if not isinstance(error, (errors.InputError, errors.InputTypeError)) or index is None:
        return error
    if isinstance(index, tuple):
        n, m = divmod(index[0], int(np.prod(shape[1:])))
        position: tuple[int, ...] = (n, *index[1:], *np.unravel_index(m, shape[1:]))
    else:
        position = tuple(np.unravel_index(index, shape))
    make = _inputs.sample_error if isinstance(error, errors.InputError) else _inputs.sample_type_error
    return make(error.argument, tuple(int(p) for p in position), error.value, error.problem)


# --- from_logits=True: logits checked finite, and their sigmoid -----------------------------------


def check_logits(arr: np.ndarray, name: str = "y_pred", keep: np.ndarray | None = None) -> None:
    """InputError naming the first logit that is not finite (rows where keep is False not read)."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr)
    if keep is not None:
        ok |= ~keep.reshape(-1, *([1] * (arr.ndim - 1)))
    if not ok.all():
        index = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise _inputs.sample_error(name, index if arr.ndim > 1 else index[0], arr[index],
                                   "is not a finite logit: from_logits=True needs finite numbers")


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in float64, the formula a reference applies (checked-finite logits)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


# --- ignore_index: samples (Binary) or entries (Multilabel) whose y_true is it are not counted -----


def ignored(y_true: np.ndarray, ignore: int) -> np.ndarray:
    """y_true == ignore, elementwise and exact (text and bool arrays never hold an integer ignore_index)."""
    if y_true.dtype.kind in "USb":
        return np.zeros(y_true.shape, dtype=bool)
    return _inputs.equals(y_true, ignore)


def kept(batch: Prepared, index: np.ndarray) -> Prepared:
    """The samples index (an increasing int array) of a flat batch, as a batch (a copy)."""
    weight = None if batch.weight is None else batch.weight[index]
    y_true = None if batch.y_true is None else batch.y_true[index]
    return _new(Prepared, (y_true, batch.y_pred[index], weight, index.shape[0], batch._kind(), False,
                           None))


def reindexed(error: BaseException, index: np.ndarray) -> BaseException:
    """An InputError found in kept(batch, index), located in the batch: its sample i is index[i]."""
    at = getattr(error, "index", None)
    if not isinstance(error, (errors.InputError, errors.InputTypeError)) or at is None:
        return error
    position: Any = (int(index[at[0]]), *at[1:]) if isinstance(at, tuple) else int(index[at])
    make = _inputs.sample_error if isinstance(error, errors.InputError) else _inputs.sample_type_error
    return make(error.argument, position, error.value, error.problem)


def check_ignore_index(ignore_index: Any, forbidden: tuple[Any, ...], owner: str) -> None:
    """TypeError unless ignore_index is None or an integer (as torchmetrics takes it) that is not
    one of the forbidden labels (0/1, pos_label): those are counted, not padding."""
    if ignore_index is None:
        return
    if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError(f"ignore_index={_inputs.show(ignore_index)} is not valid: expected an integer (such as -100) "
                        "or None")
    _inputs.check_int64("ignore_index", ignore_index)
    if any(ignore_index == label for label in forbidden if not isinstance(label, str)):
        raise ValueError(f"ignore_index={int(ignore_index)} is not valid: {owner} counts the labels "
                         f"{', '.join(repr(v) for v in forbidden)}; ignore_index marks padding, a value no label takes "
                         "(such as -100)")
