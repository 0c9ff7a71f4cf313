"""Turn user inputs into validated numpy views, map labels to class indices, and word errors.

Kernels only report the index of the first bad sample; everything a user reads is written here.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

NUMERIC_KINDS = "biuf"
TEXT_KINDS = "USO"


def as_array(x, name: str) -> np.ndarray:
    """A numpy view of x: arrays as they are; __array__, __dlpack__ objects and lists converted.

    Contiguous numeric arrays are returned without a copy. Only dtypes numba cannot read
    (float16, non-native byte order) are converted.
    """
    if type(x) is np.ndarray:
        return x if x.dtype.kind in "biuf" and x.dtype.isnative and x.dtype != np.float16 else _checked(x, name)
    if type(x).__module__ == "torch":
        return _checked(torch_to_numpy(x), name)
    return _checked(x, name)


def _checked(x, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        arr = x
    elif hasattr(x, "__array__"):  # pandas, JAX arrays
        arr = np.asarray(x)
    elif hasattr(x, "__dlpack__"):
        arr = np.from_dlpack(x)
    elif isinstance(x, (Sequence, np.generic)) or np.isscalar(x):
        arr = np.asarray(x)
    else:
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}")
    kind = arr.dtype.kind
    if kind not in NUMERIC_KINDS + TEXT_KINDS:
        raise TypeError(f"{name} has dtype {arr.dtype}: expected integers, booleans, floats or labels")
    if kind in NUMERIC_KINDS and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return arr


def from_torch(y_true, y_pred):
    """The batch of a training loop: y_true a torch tensor, y_pred one too (or left as it is)."""
    return torch_to_numpy(y_true), torch_to_numpy(y_pred) if type(y_pred).__module__ == "torch" else y_pred


def torch_to_numpy(tensor) -> np.ndarray:
    """A CPU tensor's memory as a numpy array, without a copy. A CUDA tensor is copied to the host
    first (one device-to-host transfer of the batch); bfloat16, which numpy lacks, becomes float32."""
    try:
        return tensor.numpy()  # the common case first: it alone costs 0.7 us, each check below ~0.2 us
    except (RuntimeError, TypeError):  # requires grad, on a device, or bfloat16
        pass
    tensor = tensor.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:  # bfloat16 has no numpy dtype
        return tensor.float().numpy()


# Native dtypes the kernels read as they are ("=" byte order by construction); float16 is absent.
LABEL_DTYPES = frozenset(np.dtype(c) for c in "?bBhHiIlLqQ")
LABEL_OR_SCORE_DTYPES = LABEL_DTYPES | {np.dtype(np.float32), np.dtype(np.float64)}


def plain_batch(y_true, y_pred, sample_weight, pred_dtypes=LABEL_OR_SCORE_DTYPES) -> bool:
    """True for two native 1-D arrays of equal length, integer (or bool) y_true, y_pred of one of
    pred_dtypes, and no weights: nothing to convert, the kernels can read them as they are.
    (Set membership of dtypes: half the cost of testing kind, byte order and float16 apart.)"""
    return (
        sample_weight is None
        and type(y_true) is np.ndarray
        and type(y_pred) is np.ndarray
        and y_true.ndim == 1
        and y_true.shape == y_pred.shape
        and y_true.dtype in LABEL_DTYPES
        and y_pred.dtype in pred_dtypes
    )


def is_text(arr: np.ndarray) -> bool:
    return arr.dtype.kind in TEXT_KINDS


def require_numeric(arr: np.ndarray, name: str, what: str) -> None:
    if is_text(arr):
        raise TypeError(f"{name} holds strings or objects (dtype {arr.dtype}), but {what}")


def check_ndim(arr: np.ndarray, name: str, ndims: tuple[int, ...], shape_text: str) -> None:
    if arr.ndim not in ndims:
        raise ValueError(f"{name} has shape {arr.shape}: expected {shape_text}")


def check_length(arr: np.ndarray, name: str, n: int, other: str = "y_true") -> None:
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} samples but {other} has {n}: shapes {arr.shape} and ({n}, ...)")


def as_weight(sample_weight, n: int, weighted: bool) -> np.ndarray | None:
    """Validated shape and dtype of sample_weight; values are checked by the kernels."""
    if sample_weight is None:
        return None
    if not weighted:
        raise ValueError(
            "sample_weight was given to an unweighted accumulator: create it with weighted=True "
            "to count weights (its counts are then float64)"
        )
    w = as_array(sample_weight, "sample_weight")
    require_numeric(w, "sample_weight", "weights must be numbers")
    check_ndim(w, "sample_weight", (1,), "(n_samples,)")
    check_length(w, "sample_weight", n)
    return w.astype(np.float64, copy=False)


# --- configuration checks shared by the accumulators --------------------------------------------


def check_threshold(threshold) -> None:
    if not isinstance(threshold, (int, float, np.number)) or isinstance(threshold, bool) or not np.isfinite(threshold):
        raise ValueError(f"threshold={threshold!r} is not valid: expected a finite number")


def check_flags(**flags) -> None:
    for name, flag in flags.items():
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name}={flag!r} is not valid: expected True or False")


def check_count(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} is not valid: expected an integer >= 1")


# --- error messages for the first bad sample a kernel reports -----------------------------------


def _value(v) -> str:
    return repr(v.item() if isinstance(v, np.generic) else v)


def _position(index) -> str:
    return ", ".join(str(int(i)) for i in np.atleast_1d(index))


def first_bad(arr: np.ndarray, ok) -> tuple | None:
    """Index tuple of the first element of arr for which ok(arr) is False, or None."""
    bad = np.argwhere(~ok(arr))
    return tuple(bad[0]) if len(bad) else None


def is_class_array(n: int):
    def ok(a):
        with np.errstate(invalid="ignore"):
            return (a >= 0) & (a < n) & (np.floor(a) == a) if a.dtype.kind == "f" else (a >= 0) & (a < n)

    return ok


def class_error(name: str, arr: np.ndarray, index, n: int) -> ValueError:
    what = "expected 0 or 1" if n == 2 else f"expected an integer in [0, {n})"
    return ValueError(f"{name}[{_position(index)}] = {_value(arr[index])} is not a class: {what}")


def score_error(name: str, arr: np.ndarray, index) -> ValueError:
    return ValueError(f"{name}[{_position(index)}] = {_value(arr[index])} is not a finite score")


def weight_error(arr: np.ndarray, index) -> ValueError:
    return ValueError(
        f"sample_weight[{_position(index)}] = {_value(arr[index])} is not a valid weight: "
        "expected a finite number >= 0"
    )


def diagnose(i: int, checks) -> Exception:
    """The error for bad sample i: checks are (name, array, 'class'|'score'|'weight', n) in order."""
    for name, arr, kind, n in checks:
        row = arr[i : i + 1]
        if kind == "class":
            bad = first_bad(row, is_class_array(n))
            if bad is not None:
                return class_error(name, arr, (i, *bad[1:]) if arr.ndim > 1 else i, n)
        elif kind == "score":
            bad = first_bad(row, np.isfinite)
            if bad is not None:
                return score_error(name, arr, (i, *bad[1:]) if arr.ndim > 1 else i)
        elif not (np.isfinite(arr[i]) and arr[i] >= 0):
            return weight_error(arr, i)
    return RuntimeError(f"sample {i} was reported bad but passes every check")  # pragma: no cover


# --- labels -------------------------------------------------------------------------------------


class LabelIndex:
    """Maps user labels (any hashable: ints, strings...) to class indices 0..K-1 in the given order.

    Labels that are one numpy-sortable type (all numbers or all strings) are looked up with a
    binary search over the sorted labels; anything else falls back to a dict.
    """

    def __init__(self, labels, name: str = "labels"):
        # numpy scalars become Python values, so that labels compare, hash and serialize as such
        labels = tuple(v.item() if isinstance(v, np.generic) else v for v in labels)
        for pos, label in enumerate(labels):
            if not isinstance(label, Hashable):
                raise TypeError(f"{name}[{pos}] = {label!r} is not hashable")
        if len(labels) < 1:
            raise ValueError(f"{name} is empty: expected at least one label")
        seen: dict = {}
        for pos, label in enumerate(labels):
            if label in seen:
                raise ValueError(f"{name}[{pos}] = {label!r} repeats {name}[{seen[label]}]")
            seen[label] = pos
        self.labels = labels
        self._lookup = seen
        self.is_text = all(isinstance(v, str) for v in labels)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels)
        self.is_range = numeric and labels == tuple(range(len(labels)))
        self._sorted = None
        if self.is_text or numeric:
            values = np.array(labels)
            order = np.argsort(values, kind="stable")
            self._sorted, self._order = values[order], order.astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, values: np.ndarray, name: str, skip: np.ndarray | None = None) -> np.ndarray:
        """Class index of each value; ValueError naming the first unknown label.

        Positions where ``skip`` is True are not looked up and get index -1.
        """
        if self._sorted is not None and is_text(values) != self.is_text:
            if self.is_text:
                raise TypeError(f"{name} holds numbers (dtype {values.dtype}) but the labels are strings")
            raise TypeError(f"{name} holds strings or objects (dtype {values.dtype}) but the labels are not strings")
        flat = values.reshape(-1)
        skip = np.zeros(flat.shape[0], dtype=bool) if skip is None else skip.reshape(-1)
        if self._sorted is None:
            out = np.full(flat.shape[0], -1, dtype=np.int64)
            for i, (v, skipped) in enumerate(zip(flat.tolist(), skip.tolist())):
                if not skipped:
                    idx = self._lookup.get(v)
                    if idx is None:
                        raise self._unknown(name, values, i)
                    out[i] = idx
            return out.reshape(values.shape)
        pos = np.minimum(np.searchsorted(self._sorted, flat), len(self._sorted) - 1)
        found = (self._sorted[pos] == flat) | skip
        if not found.all():
            raise self._unknown(name, values, int(np.argmin(found)))
        return np.where(skip, -1, self._order[pos]).reshape(values.shape)

    def _unknown(self, name, values, flat_index) -> ValueError:
        index = np.unravel_index(flat_index, values.shape)
        shown = list(self.labels[:10]) + (["..."] if len(self.labels) > 10 else [])
        return ValueError(f"{name}[{_position(index)}] = {_value(values[index])} is not one of the labels {shown}")


# --- labels discovered as they arrive: Multiclass(labels="auto") --------------------------------


def sortable(labels) -> bool:
    """True when the labels sort the way scikit-learn sorts them: all numbers (bools count as 0
    and 1) or all strings."""
    return all(isinstance(v, (int, float)) for v in labels) or all(isinstance(v, str) for v in labels)


def ordered_union(known: tuple, new) -> tuple:
    """The known labels plus new ones (not among them), in Multiclass(labels="auto") order: sorted
    while all of them are sortable together, else known's order kept and the new ones appended."""
    labels = known + tuple(new)
    return tuple(sorted(labels)) if sortable(labels) else labels


def _non_finite(name: str, position, value) -> ValueError:
    return ValueError(f"{name}[{position}] = {_value(value)} is not a label: labels must not be NaN or infinite")


def check_discovered(labels) -> tuple:
    """Validated labels of a Multiclass(labels="auto") as its configuration records them: distinct,
    hashable, not NaN or infinite, and in ordered_union order (sorted when sortable)."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)):
        raise TypeError(f"discovered={labels!r} is not valid: expected a list of labels")
    labels = LabelIndex(labels, "discovered").labels if labels else ()
    for pos, label in enumerate(labels):
        if isinstance(label, float) and not np.isfinite(label):
            raise _non_finite("discovered", pos, label)
    if sortable(labels):
        for pos in range(1, len(labels)):
            if labels[pos] < labels[pos - 1]:
                raise ValueError(
                    f"discovered[{pos}] = {labels[pos]!r} comes after {labels[pos - 1]!r}: labels that "
                    "are all numbers or all strings must be in sorted order"
                )
    return labels


def as_labels(x, name: str) -> np.ndarray:
    """as_array for labels of any type: a list mixing strings with other values becomes an object
    array, where numpy would silently turn 1 into "1"."""
    arr = as_array(x, name)
    if arr.dtype.kind == "U" and isinstance(x, (list, tuple)) and not all(isinstance(v, str) for v in x):
        arr = np.array(x, dtype=object)
    return arr


def distinct_labels(values: np.ndarray, name: str, keep: np.ndarray | None) -> tuple[list, np.ndarray]:
    """The distinct labels of a 1-D array in order of first appearance, and for each value the
    position of its label in that list (-1 where ``keep`` is False: those values are not read).

    Raises naming the first value that cannot be a label: NaN or infinite, or not hashable.
    """
    positions = np.full(values.shape[0], -1, dtype=np.int64)
    if values.dtype.kind != "O":  # one numpy type: np.unique sorts it, first appearances reorder it
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values) if keep is None else ~np.isfinite(values) & keep
            if bad.any():
                raise _non_finite(name, int(np.argmax(bad)), values[np.argmax(bad)])
        kept = values if keep is None else values[keep]
        uniques, first, inverse = np.unique(kept, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        positions[slice(None) if keep is None else keep] = rank[inverse.reshape(-1)]
        return uniques[order].tolist(), positions
    # Objects (mixed types, tuples...): numpy cannot sort them, a dict keeps them in arrival order.
    seen: dict = {}
    kept = [True] * values.shape[0] if keep is None else keep.tolist()
    for i, (value, read) in enumerate(zip(values.tolist(), kept)):
        if not read:
            continue
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, float) and not np.isfinite(value):
            raise _non_finite(name, i, value)
        try:
            positions[i] = seen.setdefault(value, len(seen))
        except TypeError:
            raise TypeError(f"{name}[{i}] = {value!r} is not a label: it is not hashable") from None
    return list(seen), positions
