"""Turn user inputs into validated numpy views, map labels to class indices, and word errors.

Kernels only report the index of the first bad sample; everything a user reads is written here.
Messages show values as plain Python values (``-2.0``, never ``np.float64(-2.0)``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, cast

import numpy as np

from . import _kernels, limits
from .errors import Index, InputError, InputTypeError

NUMERIC_KINDS = "biuf"
TEXT_KINDS = "USO"

# Native dtypes the kernels read as they are ("=" byte order by construction); float16 is absent.
LABEL_DTYPES: frozenset[np.dtype[Any]] = frozenset(np.dtype(c) for c in "?bBhHiIlLqQ")
LABEL_OR_SCORE_DTYPES: frozenset[np.dtype[Any]] = LABEL_DTYPES | {np.dtype(np.float32), np.dtype(np.float64)}

# Where scores must lie: any finite number, or a probability. The kernels test lo <= s <= hi,
# which with ANY_SCORE is exactly np.isfinite(s).
ANY_SCORE = (-float(np.finfo(np.float64).max), float(np.finfo(np.float64).max))
PROBABILITY = (0.0, 1.0)
EXACT_INT = 2**53  # every integer up to here is a float64; past it, a float stands for several


def show(value: Any) -> str:
    """repr of a value as a Python value: numpy scalars print as the numbers they hold, in
    tuples and lists too (numpy 2 would print np.float64(-2.0))."""
    return repr(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if type(value) in (tuple, list):
        return type(value)(_plain(v) for v in value)
    return value


def as_array(x: Any, name: str) -> np.ndarray:
    """A numpy view of x: arrays as they are; __array__, __dlpack__ objects and lists converted.

    Contiguous numeric arrays are returned without a copy. Only dtypes numba cannot read
    (float16, long double, non-native byte order) are converted, and object arrays that hold
    only numbers become numeric arrays (when no integer would lose digits).
    """
    if type(x) is np.ndarray:
        return x if x.dtype in LABEL_OR_SCORE_DTYPES else _checked(x, name)
    if type(x).__module__ == "torch":
        return _checked(torch_to_numpy(x), name)
    return _checked(x, name)


def _checked(x: Any, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        arr = x
    elif hasattr(x, "__array__"):  # pandas, JAX arrays
        arr = np.asarray(x)
    elif hasattr(x, "__dlpack__"):
        arr = np.from_dlpack(x)
    elif isinstance(x, (Sequence, np.generic)) or np.isscalar(x):
        arr = np.array(x, dtype=object) if _wide_text(x) else np.asarray(x)
        if not _lossless(x, arr):  # [2**53 + 1, 0.5]: a float64 array would merge big integers
            arr = np.array(x, dtype=object)
    else:
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}")
    if arr.dtype.kind == "O":
        arr = _numbers_of(arr)
    kind = arr.dtype.kind
    if kind not in NUMERIC_KINDS + TEXT_KINDS:
        raise TypeError(f"{name} has dtype {arr.dtype}: expected integers, booleans, floats or labels")
    if kind in NUMERIC_KINDS and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if kind == "f" and arr.dtype not in LABEL_OR_SCORE_DTYPES:  # float16 and long double
        arr = arr.astype(np.float32 if arr.dtype == np.float16 else np.float64)
    return arr


WIDE_TEXT = 256  # characters: a list of longer strings is kept as Python strings


def _wide_text(values: Any) -> bool:
    """True for a list of strings of which one is longer than WIDE_TEXT: numpy would give every
    label the longest one's width (one 3,000-character label in 60,000 would take 720 MB)."""
    if not (isinstance(values, (list, tuple)) and values and isinstance(values[0], str)):
        return False
    try:
        return max(map(len, values)) > WIDE_TEXT
    except TypeError:  # not all strings: numpy makes them all strings, as_labels objects
        return False


def _lossless(values: Any, arr: np.ndarray) -> bool:
    """False when a float array made of values (a sequence) rounded an integer above 2**53."""
    if arr.dtype.kind != "f" or arr.size == 0:
        return True
    with np.errstate(invalid="ignore"):
        big = np.abs(arr) >= EXACT_INT  # (2**53 + 1 rounds to 2**53 itself)
    if not big.any():
        return True
    flat = np.array(values, dtype=object).reshape(-1)[big.reshape(-1)]
    return not any(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in flat)


_NUMBER = (int, float, np.number, np.bool_)  # bool is an int


def _numbers_of(arr: np.ndarray) -> np.ndarray:
    """An object array holding only numbers as a numeric array (an empty one as float64); else as
    it is. Only numbers are handed to numpy: it would make strings fixed-width, as wide as the longest."""
    if arr.size == 0:
        return arr.astype(np.float64)
    if not isinstance(arr.reshape(-1)[0], _NUMBER):
        return arr
    values = arr.reshape(-1).tolist()
    if not all(isinstance(v, _NUMBER) for v in values):
        return arr
    numeric = np.array(values)
    return numeric.reshape(arr.shape) if _lossless(values, numeric) else arr


def score_kind(x: Any) -> str:
    """The dtype a batch of scores is compared in: "float32", "float16" or "bfloat16" (a torch
    tensor's) for those, else "float64". Read on the input as given, before any conversion."""
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, np.dtype):  # any byte order; str(dtype) would cost microseconds
        return _FLOAT_SIZES.get(dtype.itemsize, "float64") if dtype.kind == "f" else "float64"
    return _TORCH_KINDS.get(str(dtype), "float64")  # torch dtypes, pandas' Float32Dtype...


_FLOAT_SIZES = {2: "float16", 4: "float32"}
_TORCH_KINDS = {"torch.float32": "float32", "torch.float16": "float16", "torch.bfloat16": "bfloat16",
                "Float32": "float32"}


def from_torch(y_true: Any, y_pred: Any) -> tuple[np.ndarray, Any]:
    """The batch of a training loop: y_true a torch tensor, y_pred one too (or left as it is)."""
    return torch_to_numpy(y_true), torch_to_numpy(y_pred) if type(y_pred).__module__ == "torch" else y_pred


def torch_to_numpy(tensor: Any) -> np.ndarray:
    """A CPU tensor's memory as a numpy array, without a copy. A CUDA tensor is copied to the host
    first (one device-to-host transfer of the batch); bfloat16, which numpy lacks, becomes float32;
    a view with the negative or conjugate bit (values its memory does not hold) is resolved, a copy."""
    arr: np.ndarray
    if tensor.requires_grad:  # scores straight from the model (no .detach()): tested first, as torch's error
        tensor = tensor.detach()  # from numpy() costs ~8 us (a (256,) Binary update: 12.4 us, 4.3 us detached)
    try:
        arr = tensor.numpy()  # the common case first: it alone costs 0.5 us
        return arr
    except (RuntimeError, TypeError):  # on a device, or bfloat16
        pass
    tensor = tensor.detach().cpu().resolve_neg().resolve_conj()
    try:
        arr = tensor.numpy()
    except TypeError:  # bfloat16 has no numpy dtype
        arr = tensor.float().numpy()
    return arr


def plain_batch(y_true: Any, y_pred: Any, sample_weight: Any,
                pred_dtypes: frozenset[np.dtype[Any]] = LABEL_OR_SCORE_DTYPES) -> bool:
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
    """TypeError unless arr holds numbers; for an object array it names the first value that is
    not one (ValueError when that value is missing: None, NaN, pandas.NA)."""
    if not is_text(arr):
        return
    if arr.dtype.kind == "O":
        for i, value in enumerate(arr.reshape(-1).tolist()):
            if not isinstance(value, (int, float, np.number)):
                at = np.unravel_index(i, arr.shape)
                if is_missing(value):
                    raise sample_error(name, at, value, f"is missing (None or NA), but {what}")
                raise sample_type_error(name, at, value, f"is not a number, but {what}")
        raise TypeError(f"{name} holds integers too large for 64 bits, but {what}")
    raise TypeError(f"{name} holds strings or objects (dtype {arr.dtype}), but {what}")


def require_float(arr: np.ndarray, name: str, what: str) -> None:
    """TypeError unless arr holds float scores (a bool or integer matrix is no probability)."""
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} has dtype {arr.dtype}, but {what} needs float scores")


def check_ndim(arr: np.ndarray, name: str, ndims: tuple[int, ...], shape_text: str) -> None:
    if arr.ndim not in ndims:
        raise ValueError(f"{name} has shape {arr.shape}: expected {shape_text}")


def check_length(arr: np.ndarray, name: str, n: int, other: str = "y_true") -> None:
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} samples but {other} has {n}: shapes {arr.shape} and ({n}, ...)")


def as_weight(sample_weight: Any, n: int, weighted: bool) -> np.ndarray | None:
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


def check_weights(w: np.ndarray | None) -> None:
    """ValueError naming the first weight that is not a finite number >= 0 (for callers that
    must know the weights are good before a kernel sees them)."""
    if w is not None:
        bad = first_bad(w, lambda a: np.isfinite(a) & (a >= 0))
        if bad is not None:
            raise weight_error(w, bad)


# --- configuration checks shared by the accumulators --------------------------------------------


def check_threshold(threshold: Any) -> None:
    if not isinstance(threshold, (int, float, np.number)) or isinstance(threshold, (bool, np.bool_)) \
            or not np.isfinite(threshold):
        raise ValueError(f"threshold={show(threshold)} is not valid: expected a finite number")


def check_flags(**flags: Any) -> None:
    for name, flag in flags.items():
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name}={show(flag)} is not valid: expected True or False")


def check_count(name: str, value: Any, most: int | None = None) -> None:
    """ValueError unless value is an integer >= 1 (and <= most, when given)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value < 1:
        raise ValueError(f"{name}={show(value)} is not valid: expected an integer >= 1")
    if most is not None and value > most:
        raise ValueError(f"{name}={show(value)} is not valid: expected an integer in [1, {most:,}]")


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_int64(name: str, value: Any) -> None:
    """ValueError for an integer argument a 64-bit kernel cannot hold."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) \
            and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name}={show(value)} is not valid: expected an integer in [-2**63, 2**63)")


# --- error messages for the first bad sample a kernel reports -----------------------------------


def _position(index: Any) -> str:
    return ", ".join(str(int(i)) for i in np.atleast_1d(index))


def _index(index: Any) -> Index:
    """A numpy position as an error's index: an int on one axis, a tuple of ints on more."""
    position = tuple(int(i) for i in np.atleast_1d(index))
    return position[0] if len(position) == 1 else position


def sample_error(name: str, index: Any, value: Any, problem: str) -> InputError:
    """The ValueError for the bad value at name[index], worded "{name}[{index}] = {value} {problem}";
    it carries those parts as attributes (the command line rewords them with file rows and columns)."""
    return InputError(_sample_text(name, index, value, problem), name, _index(index), _plain(value), problem)


def sample_type_error(name: str, index: Any, value: Any, problem: str) -> InputTypeError:
    """sample_error's TypeError: a value of the wrong type (text among numbers, an unhashable label)."""
    return InputTypeError(_sample_text(name, index, value, problem), name, _index(index), _plain(value), problem)


def _sample_text(name: str, index: Any, value: Any, problem: str) -> str:
    return f"{name}[{_position(index)}] = {show(value)} {problem}"


def first_bad(arr: np.ndarray, ok: Callable[[np.ndarray], np.ndarray]) -> tuple[Any, ...] | None:
    """Index tuple of the first element of arr for which ok(arr) is False, or None."""
    with np.errstate(invalid="ignore"):
        bad = np.argwhere(~ok(arr))
    return tuple(bad[0]) if len(bad) else None


def is_class_array(n: int) -> Callable[[np.ndarray], np.ndarray]:
    def ok(a: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (a >= 0) & (a < n) & (np.floor(a) == a) if a.dtype.kind == "f" else (a >= 0) & (a < n)

    return ok


def class_error(name: str, arr: np.ndarray, index: Any, n: int) -> InputError:
    what = "expected 0 or 1" if n == 2 else f"expected an integer in [0, {n})"
    return sample_error(name, index, arr[index], f"is not a class: {what}")


def score_error(name: str, arr: np.ndarray, index: Any, hint: str | None = None) -> InputError:
    """A score that is not finite, or (hint given: the accumulator reads probabilities) outside [0, 1]."""
    value = arr[index]
    if hint is None or not np.isfinite(value):
        return sample_error(name, index, value, "is not a finite score")
    return sample_error(name, index, value, f"is not a probability: {hint}")


def probability_hint(owner: str, threshold: bool) -> str:
    """What to do about a score outside [0, 1], for score_error (owner: the accumulator)."""
    return (f"{owner} reads scores as probabilities in [0, 1]. For logits, pass from_logits=True (the "
            "sigmoid or softmax is then applied for you); for other decision scores, pass "
            "their range as score_range=(lo, hi)" + (" with a threshold= on that scale" if threshold else ""))


def weight_error(arr: np.ndarray, index: Any) -> InputError:
    return sample_error("sample_weight", index, arr[index], "is not a valid weight: expected a finite number >= 0")


def diagnose(i: int, checks: Sequence[tuple[str, np.ndarray, str, Any]]) -> Exception:
    """The error for bad sample i. checks are (name, array, what, detail) in order: what is
    "class" (detail: the number of classes), "score" (any finite number), "probability"
    (detail: the accumulator, for the message) or "weight"."""
    for name, arr, kind, detail in checks:
        row = arr[i : i + 1]
        if kind == "class":
            bad = first_bad(row, is_class_array(detail))
            if bad is not None:
                return class_error(name, arr, _in_array(i, bad, arr), detail)
        elif kind in ("score", "probability"):
            lo, hi = PROBABILITY if kind == "probability" else ANY_SCORE
            with np.errstate(over="ignore"):  # ANY_SCORE's bounds cast to float32 are infinite: the test holds
                bad = first_bad(row, lambda a: np.isfinite(a) & (a >= lo) & (a <= hi))
            if bad is not None:
                return score_error(name, arr, _in_array(i, bad, arr), detail if kind == "probability" else None)
        elif not (np.isfinite(arr[i]) and arr[i] >= 0):
            return weight_error(arr, i)
    return RuntimeError(f"sample {i} was reported bad but passes every check")  # pragma: no cover


def _in_array(i: int, bad: tuple[Any, ...], arr: np.ndarray) -> int | tuple[Any, ...]:
    """The position in arr of the bad element that first_bad found at bad in its row arr[i:i+1]."""
    return (i, *bad[1:]) if arr.ndim > 1 else i


def score_check(name: str, arr: np.ndarray, bounds: tuple[float, float], owner: str) -> tuple[str, np.ndarray, str, Any]:
    """The diagnose() entry of a score array read with these bounds (PROBABILITY or ANY_SCORE)."""
    return (name, arr, "probability", owner) if bounds == PROBABILITY else (name, arr, "score", None)


# --- what a batch adds to the counts (the storage checks that it fits: _storage.Storage.reserve) ---


def batch_mass(w: np.ndarray | None, n: int) -> float:
    """What a batch adds to a count array per column it touches: n samples, or the sum of the
    weights (of the valid ones: a kernel names a bad one). Weights that sum to inf give inf."""
    if w is None:
        return n
    if w.flags.c_contiguous:  # np.sum's value, compiled: no errstate to enter (a microsecond)
        mass = float(_kernels.sum_weights(w))
        if mass >= 0 and mass != float("inf"):
            return mass
    with np.errstate(over="ignore", invalid="ignore"):
        mass = float(np.sum(w))
        if not (np.isfinite(mass) and mass >= 0):  # bad weights (which a kernel may skip: ignored rows) count 0
            mass = float(np.sum(w, where=np.isfinite(w) & (w >= 0)))
    return mass


# --- labels -------------------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    """None, NaN, pandas.NA, NaT: what scikit-learn refuses as a label."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA: its comparisons are NA, whose truth value raises
        return True
    except ValueError:  # an array: not missing, and not hashable either
        return False


def canonical(label: Any) -> Any:
    """A label as a plain Python value, and an integer-valued float as that integer: 1.0 is the
    label 1, as a CSV column of ints becomes floats when it has a gap."""
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, float) and label.is_integer():
        return int(label)
    return label


def equals(values: np.ndarray, label: Any) -> np.ndarray:
    """values == label, exact: numpy compares a float array with a large int in float64, where
    2**53 + 1 equals 2**53."""
    if values.dtype.kind == "f" and isinstance(label, int) and float(label) != label:
        return np.zeros(values.shape, dtype=bool)
    if values.dtype.kind == "O":
        return np.array([v == label for v in values.reshape(-1).tolist()], dtype=bool).reshape(values.shape)
    result: np.ndarray = values == label
    return result


def check_labels(arr: np.ndarray, name: str) -> None:
    """ValueError naming the first label that is missing (None, NaN, NA) or infinite."""
    if arr.dtype.kind == "f":
        bad = first_bad(arr, np.isfinite)
    elif arr.dtype.kind == "O":
        bad = first_bad(arr, lambda a: np.array([not (is_missing(v) or isinstance(v, float) and not np.isfinite(v))
                                                  for v in a.reshape(-1).tolist()], dtype=bool).reshape(a.shape))
    else:
        return
    if bad is not None:
        raise _not_a_label(name, bad, arr[bad])


def labels_in(*arrays: np.ndarray, most: int) -> list[Any]:
    """Some distinct labels of the arrays, at most ``most`` (one pass when they all hold one label)."""
    first = next((canonical(a.reshape(-1)[0]) for a in arrays if a.size), None)
    if all(equals(a, first).all() for a in arrays):
        return [] if first is None else [first]
    seen: dict[Any, None] = {}
    for arr in arrays:
        values = arr.reshape(-1).tolist() if arr.dtype.kind == "O" else np.unique(arr).tolist()
        for value in values:
            seen.setdefault(canonical(value), None)
            if len(seen) >= most:
                return list(seen)
    return list(seen)


def _not_a_label(name: str, index: Any, value: Any) -> InputError:
    if is_missing(value):
        return sample_error(name, index, value, "is missing (None, NaN or NA): it cannot be a label (scikit-learn "
                                                "refuses it too)")
    return sample_error(name, index, value, "is not a label: labels must not be infinite")


def _check_label(name: str, index: int, value: Any) -> None:
    if is_missing(value) or (isinstance(value, float) and not np.isfinite(value)):
        raise _not_a_label(name, index, value)


class LabelIndex:
    """Maps user labels (any hashable: ints, strings...) to class indices 0..K-1 in the given order.

    Integer-valued floats are those integers (1.0 is the label 1). Labels that are all integers
    or all strings (of at most WIDE_TEXT characters) are looked up with a binary search over the
    sorted labels, values compared exactly (a float never matches an integer it only rounds to);
    anything else falls back to a dict, with Python's (exact) equality.
    """

    def __init__(self, labels: Iterable[Any], name: str = "labels") -> None:
        given = tuple(labels)
        labels = tuple(canonical(v) for v in given)
        for pos, label in enumerate(labels):
            if not isinstance(label, Hashable):
                raise InputTypeError(f"{name}[{pos}] = {label!r} is not hashable", name, pos, label, "is not hashable")
            _check_label(name, pos, label)
        if len(labels) < 1:
            raise ValueError(f"{name} is empty: expected at least one label")
        seen: dict[Any, int] = {}
        for pos, label in enumerate(labels):
            if label in seen:
                raise sample_error(name, pos, given[pos], f"repeats {name}[{seen[label]}]")
            seen[label] = pos
        self.labels = labels
        self._lookup = seen
        self.is_text = all(isinstance(v, str) for v in labels)
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in labels)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels)
        self.is_range = ints and labels == tuple(range(len(labels)))
        self._sorted: np.ndarray | None = None
        if self.is_text and max(map(len, labels)) <= WIDE_TEXT:  # a search would widen every value to the longest
            values = np.array(labels)
        elif ints and all(INT64_MIN <= v <= INT64_MAX for v in labels):
            values = np.array(labels, dtype=np.int64)
        elif numeric and all(abs(v) <= EXACT_INT for v in labels if isinstance(v, int)):
            values = np.array(labels, dtype=np.float64)
        else:
            values = None
        if values is not None:
            order = np.argsort(values, kind="stable")
            self._sorted, self._order = values[order], order.astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, values: np.ndarray, name: str, skip: np.ndarray | None = None) -> np.ndarray:
        """Class index of each value; ValueError naming the first unknown label.

        Positions where ``skip`` is True are not looked up and get index -1.
        """
        flat = values.reshape(-1)
        skip = np.zeros(flat.shape[0], dtype=bool) if skip is None else skip.reshape(-1)
        if self._sorted is None or values.dtype.kind == "O":
            out = np.full(flat.shape[0], -1, dtype=np.int64)
            for i, (v, skipped) in enumerate(zip(flat.tolist(), skip.tolist())):
                if not skipped:
                    try:
                        idx = self._lookup.get(canonical(v))
                    except TypeError:  # not hashable
                        idx = None
                    if idx is None:
                        raise self._unknown(name, values, i)
                    out[i] = idx
            return out.reshape(values.shape)
        if is_text(values) != self.is_text:
            if self.is_text:
                raise TypeError(f"{name} holds numbers (dtype {values.dtype}) but the labels are strings")
            raise TypeError(f"{name} holds strings or objects (dtype {values.dtype}) but the labels are not strings")
        keys, comparable = self._comparable(flat)
        pos = np.minimum(np.searchsorted(self._sorted, keys), len(self._sorted) - 1)
        found = (comparable & (self._sorted[pos] == keys)) | skip
        if not found.all():
            raise self._unknown(name, values, int(np.argmin(found)))
        return np.where(skip, -1, self._order[pos]).reshape(values.shape)

    def _comparable(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray | bool]:
        """flat in the sorted labels' dtype, converted exactly, and where that was possible."""
        assert self._sorted is not None  # encode calls this only when the labels have a sorted array
        kind, target = flat.dtype.kind, self._sorted.dtype.kind
        with np.errstate(invalid="ignore"):
            if target == "i" and kind == "f":  # integral floats in int64's range are those integers
                ok = np.isfinite(flat) & (np.floor(flat) == flat) & (flat >= -(2.0**63)) & (flat < 2.0**63)
                return np.where(ok, flat, 0).astype(np.int64), ok
            if target == "i" and flat.dtype == np.uint64:
                ok = flat <= np.uint64(INT64_MAX)
                return np.where(ok, flat, 0).astype(np.int64), ok
            if target == "f" and kind in "iu":  # floats hold integers exactly only up to 2**53
                ok = (flat <= EXACT_INT) & (flat >= -EXACT_INT) if kind == "i" else flat <= EXACT_INT
                return flat.astype(np.float64), ok
        return flat, True

    def _unknown(self, name: str, values: np.ndarray, flat_index: int) -> InputError:
        index = np.unravel_index(flat_index, values.shape)
        value = values[index]
        if is_missing(value):
            return _not_a_label(name, index, value)
        shown = list(self.labels[:10]) + (["..."] if len(self.labels) > 10 else [])
        return sample_error(name, index, value, f"is not one of the labels {shown}")


# --- labels discovered as they arrive: Multiclass(labels="auto") --------------------------------


def sortable(labels: Sequence[Any]) -> bool:
    """True when the labels sort the way scikit-learn sorts them: all numbers (bools count as 0
    and 1) or all strings."""
    return all(isinstance(v, (int, float)) for v in labels) or all(isinstance(v, str) for v in labels)


def ordered_union(known: tuple[Any, ...], new: Iterable[Any]) -> tuple[Any, ...]:
    """The known labels plus new ones (not among them), in Multiclass(labels="auto") order: sorted
    while all of them are sortable together, else known's order kept and the new ones appended."""
    labels = known + tuple(new)
    return tuple(sorted(labels)) if sortable(labels) else labels


def check_discovered(labels: Any) -> tuple[Any, ...]:
    """Validated labels of a Multiclass(labels="auto") as its configuration records them: distinct,
    hashable, not missing or infinite, and in ordered_union order (sorted when sortable)."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)):
        raise TypeError(f"discovered={show(labels)} is not valid: expected a list of labels")
    labels = LabelIndex(labels, "discovered").labels if labels else ()
    if sortable(labels):
        for pos in range(1, len(labels)):
            if labels[pos] < labels[pos - 1]:
                raise ValueError(
                    f"discovered[{pos}] = {labels[pos]!r} comes after {labels[pos - 1]!r}: labels that "
                    "are all numbers or all strings must be in sorted order"
                )
    return cast(tuple[Any, ...], labels)


def as_labels(x: Any, name: str) -> np.ndarray:
    """as_array for labels of any type: a list mixing strings with other values becomes an object
    array, where numpy would silently turn 1 into "1"."""
    arr = as_array(x, name)
    if arr.dtype.kind == "U" and isinstance(x, (list, tuple)) and not all(isinstance(v, str) for v in x):
        arr = np.array(x, dtype=object)
    return arr


def distinct_labels(values: np.ndarray, name: str, keep: np.ndarray | None) -> tuple[list[Any], np.ndarray]:
    """The distinct labels of a 1-D array in order of first appearance, and for each value the
    position of its label in that list (-1 where ``keep`` is False: those values are not read).
    Integer-valued floats are those integers.

    Raises naming the first value that cannot be a label: missing (None, NaN, NA), infinite, or
    not hashable.
    """
    positions = np.full(values.shape[0], -1, dtype=np.int64)
    if values.dtype.kind != "O":  # one numpy type: np.unique sorts it, first appearances reorder it
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values) if keep is None else ~np.isfinite(values) & keep
            if bad.any():
                raise _not_a_label(name, int(np.argmax(bad)), values[np.argmax(bad)])
        kept = values if keep is None else values[keep]
        uniques, first, inverse = np.unique(kept, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        positions[slice(None) if keep is None else keep] = rank[inverse.reshape(-1)]
        labels = uniques[order].tolist()
        return ([canonical(v) for v in labels] if values.dtype.kind == "f" else labels), positions
    # Objects (mixed types, tuples...): numpy cannot sort them, a dict keeps them in arrival order.
    seen: dict[Any, int] = {}
    kept = [True] * values.shape[0] if keep is None else keep.tolist()
    for i, (value, read) in enumerate(zip(values.tolist(), kept)):
        if not read:
            continue
        value = canonical(value)
        try:
            position = seen.get(value)
        except TypeError:
            raise InputTypeError(f"{name}[{i}] = {value!r} is not a label: it is not hashable", name, i, value,
                                 "is not a label: it is not hashable") from None
        if position is None:
            _check_label(name, i, value)
            position = seen[value] = len(seen)
        positions[i] = position
    return list(seen), positions
