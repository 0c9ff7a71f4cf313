"""NumpyStorage: counts in numpy arrays on the host, counted by the numba kernels (large batches
split over idle cores by _threads). See the package docstring for the interface and the overflow
bounds it keeps."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .. import _kernels, _threads, limits
from .._kernels import decay as decay_kernels
from .._kernels import logits as logit_kernels
from .._kernels import masked as masked_kernels
from .._kernels import sampling as sampling_kernels
from .._kernels.rows import argmax_rows_for, count_argmax_for
from .._scores import Binning
from .._state import Spec
from .._threads import PARALLEL_MIN
from .base import _FLOAT_MAX, REFUSED, Slots, Storage, fits

_NO_WEIGHT = np.empty(0)
_NO_KEEP = np.empty(0, dtype=bool)


def _count_outside(out: np.ndarray, scores: np.ndarray, keep: Any, weight: Any, binning: Binning,
                   slots: Slots) -> None:
    """out += the (weighted) numbers of scores below and above the edges, as the kernels compare
    scores with them (rounded to float32 with round32), per sample's slot with slots."""
    edges, _, round32 = binning
    lo, hi = (float(np.float32(edges[0])), float(np.float32(edges[-1]))) if round32 else (edges[0], edges[-1])
    rows = scores.reshape(scores.shape[0], int(np.prod(scores.shape[1:])))  # (N, C); an empty batch too
    _kernels.counting.count_outside(rows, None if keep is None else keep.reshape(rows.shape), weight, lo, hi, out,
                                    slots)


def add_draws(replicates: np.ndarray, cells: np.ndarray, draws: np.ndarray) -> None:
    """replicates[r] += draws[r] at the flat cells of each replicate's table."""
    if cells.size and replicates.flags.c_contiguous:  # (R, cells) view: one pass of the sampling kernel
        sampling_kernels.add_draws(replicates.reshape(replicates.shape[0], -1), cells, draws)
    elif cells.size:
        index = np.unravel_index(cells, replicates.shape[1:])  # cells are distinct: += adds each once
        where = (np.arange(replicates.shape[0])[:, None], *(i[None, :] for i in index))
        replicates[where] += draws


class NumpyStorage(Storage):
    """numpy arrays on the host, counted by the numba kernels (large batches over idle cores)."""

    __slots__ = ("spec", "arrays", "_bounds")

    def __init__(self, spec: Spec, arrays: dict[str, np.ndarray], bounds: dict[str, float]):
        self.spec = spec
        self.arrays = arrays  # in spec order
        self._bounds = bounds  # name -> a bound of the total of |values| (bounded arrays; absent: unknown)

    @classmethod
    def zeros(cls, spec: Spec) -> NumpyStorage:
        arrays = {}
        for name, shape, dtype in spec.allocation:
            arrays[name] = np.zeros(shape, dtype)
        return cls(spec, arrays, dict.fromkeys(spec.bounded, 0.0))

    @classmethod
    def holding(cls, spec: Spec, arrays: Mapping[str, np.ndarray],
                totals: Mapping[str, float] | None = None) -> NumpyStorage:
        return cls(spec, {name: arrays[name] for name in spec}, dict(totals or {}))

    def copy(self) -> NumpyStorage:
        new = object.__new__(NumpyStorage)  # a copy per a + b and per window piece: the fewest steps
        new.spec, new._bounds, new.arrays = self.spec, self._bounds.copy(), {}
        for name, array in self.arrays.items():
            new.arrays[name] = array.copy()
        return new

    def scratch(self, names: tuple[str, ...]) -> NumpyStorage:
        new = object.__new__(NumpyStorage)  # once per batch of an accumulator with replicates
        new.spec, new._bounds, new.arrays = self.spec.subset(names), {}, {}
        for name in names:
            new.arrays[name] = np.zeros_like(self.arrays[name])
        return new

    def replicates(self) -> Iterator[NumpyStorage]:
        view = object.__new__(NumpyStorage)  # one view, its replicated arrays swapped per replicate
        view.spec, view._bounds, view.arrays = self.spec, {}, self.arrays.copy()
        pairs = [(name, self.arrays[replicates]) for name, replicates in self.spec.replicated]
        for r in range(pairs[0][1].shape[0] if pairs else 0):
            for name, replicates in pairs:
                view.arrays[name] = replicates[r]
            yield view

    def relayout(self, spec: Spec, where: np.ndarray) -> NumpyStorage:
        arrays = {}
        for name, array in spec.items():
            new = np.zeros(array.empty_shape, array.dtype)
            old = self.arrays[name]
            index = tuple(where if axis in array.class_axes else np.arange(old.shape[axis]) for axis in range(old.ndim))
            new[np.ix_(*index)] = old
            arrays[name] = new
        return NumpyStorage(spec, arrays, self._bounds.copy())

    def host(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def host_arrays(self) -> list[np.ndarray]:
        return list(self.arrays.values())

    def is_zero(self) -> bool:
        return not any(a.any() for a in self.arrays.values())

    def equal(self, other: Storage) -> bool:
        return self.spec.keys() == other.spec.keys() and all(
            np.array_equal(a, other.host(name)) for name, a in self.arrays.items())

    def replace(self, arrays: Mapping[str, np.ndarray], totals: Mapping[str, float] | None = None) -> None:
        for name, values in arrays.items():
            self.arrays[name] = values
            if totals is not None and name in totals:
                self._bounds[name] = totals[name]
            else:
                self._bounds.pop(name, None)

    def assign(self, arrays: Mapping[str, np.ndarray]) -> None:
        for name, values in arrays.items():
            self.arrays[name][...] = values
            self._bounds.pop(name, None)

    # --- overflow bounds ----------------------------------------------------------------------------

    def _total(self, name: str) -> float:
        """The total of |values| of an array, counted again (and remembered, exact)."""
        array = self.arrays[name]
        total = self._bounds[name] = float(limits.abs_total(array)) if array.size else 0.0
        return total

    def reserve(self, name: str, mass: float) -> bool:
        return self._reserved(name, mass)

    def _reserved(self, name: str, mass: float) -> bool:
        """reserve(), called as a function by the counting methods (one Python call fewer per batch)."""
        bound = self._bounds.get(name)
        if bound is not None:  # the common case: a dict lookup and a comparison
            total = bound + mass
            if total < _FLOAT_MAX if name in self.spec.floats else total <= limits.MAX_COUNT:
                self._bounds[name] = total
                return True
        total = self._total(name) + mass
        if not fits(total, name in self.spec.floats):
            return False
        self._bounds[name] = total
        return True

    def reserve_all(self, masses: Iterable[tuple[str, float]]) -> str | None:
        bounds, floats, max_count = self._bounds, self.spec.floats, limits.MAX_COUNT
        for name, mass in masses:  # reserve()'s common case inline: a batch of a binned Binary reserves five
            bound = bounds.get(name)
            if bound is not None:
                total = bound + mass
                if total < _FLOAT_MAX if name in floats else total <= max_count:
                    bounds[name] = total
                    continue
            if not self.reserve(name, mass):
                return name
        return None

    def overflowing_sum(self, other: Storage) -> str | None:
        theirs = other if isinstance(other, NumpyStorage) else None
        for name in self.spec.bounded:
            is_float = name in self.spec.floats
            mine, their = self._bounds.get(name), None if theirs is None else theirs._bounds.get(name)
            if mine is not None and their is not None and fits(mine + their, is_float):
                continue
            mine = self._total(name)
            their = theirs._total(name) if theirs is not None else float(limits.abs_total(other.host(name)))
            if not fits(mine + their, is_float):
                return name
        return None

    def add(self, other: Storage, names: Iterable[str]) -> None:
        theirs = other._bounds if isinstance(other, NumpyStorage) else {}
        for name in names:
            self.arrays[name] += other.host(name)
            mine, their = self._bounds.get(name), theirs.get(name)
            if mine is not None and their is not None:
                self._bounds[name] = mine + their
            else:
                self._bounds.pop(name, None)

    def add_counted(self, batch: Storage, names: Iterable[str]) -> None:
        for name in names:
            self.arrays[name] += batch.host(name)

    def add_draws(self, name: str, cells: np.ndarray, draws: np.ndarray) -> None:
        add_draws(self.arrays[name], cells, draws)

    def scale(self, factor: float, names: Iterable[str]) -> None:
        if factor != 1.0:
            for name in names:
                self.arrays[name] *= factor
                if name in self._bounds:
                    self._bounds[name] *= abs(factor)

    def scaled(self, factor: float, names: tuple[str, ...]) -> NumpyStorage:
        new = object.__new__(NumpyStorage)  # the named arrays multiplied out of place: one pass each
        new.spec, new.arrays = self.spec, {}
        new._bounds = {name: bound * abs(factor) if name in names else bound for name, bound in self._bounds.items()}
        for name, array in self.arrays.items():
            new.arrays[name] = array * factor if name in names else array.copy()
        return new

    def decay_count_pairs(self, name: str, y_true: Any, y_pred: Any, weight: Any, n: int, ignore: Any,
                          use_ignore: bool, factor: float, mass: float) -> int:
        if y_true.shape[0] >= PARALLEL_MIN:  # a large batch: the general path counts it over the cores
            return REFUSED
        bound = self._bounds.get(name)
        total = (self._total(name) if bound is None else bound) * factor + mass
        if not fits(total, name in self.spec.floats):
            return REFUSED
        bad: int = decay_kernels.decay_count_pairs(y_true, y_pred, _NO_WEIGHT if weight is None else weight,
                                                   weight is not None, n, ignore, use_ignore, factor,
                                                   self.arrays[name])
        if bad == -1:
            self._bounds[name] = total
        return bad

    # --- slots: a leading axis of stacked states (a wrapper's) ---------------------------------------

    def zero_slots(self, names: tuple[str, ...], index: int | np.ndarray) -> None:
        """Empty these slots (leading-axis indices) of the named arrays."""
        for name in names:
            self.arrays[name][index] = 0

    def add_slots(self, other: Storage, names: Iterable[str], mine: np.ndarray, theirs: np.ndarray) -> None:
        """Add other's slots theirs to our slots mine (distinct), array by array (a merge by slot)."""
        for name in names:
            self.arrays[name][mine] += other.host(name)[theirs]
            self._bounds.pop(name, None)

    def set_slots(self, values: Mapping[str, np.ndarray], index: int | np.ndarray) -> None:
        """Write values[name] into these slots of each named array (values saved before)."""
        for name, saved in values.items():
            self.arrays[name][index] = saved
            self._bounds.pop(name, None)

    # --- counting -----------------------------------------------------------------------------------

    def count_pairs(self, name: str, y_true: Any, y_pred: Any, weight: Any, n: int, ignore: Any,
                    use_ignore: bool, mass: float | None = None, slots: Slots = None) -> int:
        if mass is not None and not self._reserved(name, mass):
            return REFUSED
        table = self.arrays[name]
        if weight is None and slots is None and y_true.shape[0] < PARALLEL_MIN:  # the fewest calls
            bad: int = _kernels.count_pairs(y_true, y_pred, n, ignore, use_ignore, table)
            return bad
        if slots is not None:  # one call, whatever the batch's size: the slots' tables are the chunks' own
            if weight is None:
                return int(_kernels.count_pairs_in_slots(y_true, y_pred, n, ignore, use_ignore, table, slots))
            return int(_kernels.count_pairs_weighted(y_true, y_pred, weight, n, ignore, use_ignore, table, slots))
        if weight is None:
            return _threads.count_in_chunks(_kernels.count_pairs, (y_true, y_pred), (n, ignore, use_ignore), (table,))
        return _threads.count_in_chunks(_kernels.count_pairs_weighted, (y_true, y_pred, weight),
                                        (n, ignore, use_ignore), (table,))

    def count_scores(self, name: str, y_true: Any, scores: Any, weight: Any, threshold: float, inclusive: bool,
                     lo: float, hi: float, threads: bool = True, slots: Slots = None,
                     mass: float | None = None) -> int:
        if mass is not None and not self._reserved(name, mass):
            return REFUSED
        table = self.arrays[name]
        bad: int
        if weight is None and slots is None and y_true.shape[0] < PARALLEL_MIN:  # the fewest calls
            bad = _kernels.count_scores(y_true, scores, threshold, inclusive, lo, hi, table)
            return bad
        if slots is not None:
            if weight is None:
                return int(_kernels.count_scores_in_slots(y_true, scores, threshold, inclusive, lo, hi, table, slots))
            return int(_kernels.count_scores_weighted(y_true, scores, weight, threshold, inclusive, lo, hi, table,
                                                      slots))
        if not threads:
            if weight is None:
                bad = _kernels.count_scores(y_true, scores, threshold, inclusive, lo, hi, table)
            else:
                bad = _kernels.count_scores_weighted(y_true, scores, weight, threshold, inclusive, lo, hi, table)
            return bad
        if weight is None:
            if y_true.shape[0] < PARALLEL_MIN:
                bad = _kernels.count_scores(y_true, scores, threshold, inclusive, lo, hi, table)
                return bad
            return _threads.count_in_chunks(_kernels.count_scores, (y_true, scores), (threshold, inclusive, lo, hi),
                                            (table,))
        return _threads.count_in_chunks(_kernels.count_scores_weighted, (y_true, scores, weight),
                                        (threshold, inclusive, lo, hi), (table,))

    def count_binary_scored(self, names: Sequence[str | None], y_true: Any, scores: Any, weight: Any, threshold: float,
                            inclusive: bool, lo: float, hi: float, binning: Binning, eps: float,
                            slots: Slots = None) -> int:
        batch = (y_true, scores, _NO_WEIGHT if weight is None else weight)
        args = (weight is not None, threshold, inclusive, lo, hi, *binning, eps)
        arrays, (matrix, hist, sums, calib, out_of_range) = self.arrays, names
        assert hist is not None and sums is not None and out_of_range is not None
        # a calibration name of None: the sums are counted apart (from_logits: from the logits)
        states = (np.zeros(arrays[hist].shape[:-3] + (2, 2), dtype=arrays[hist].dtype) if matrix is None
                  else arrays[matrix], arrays[hist], arrays[sums],
                  np.zeros(arrays[sums].shape[:-2] + (3,)) if calib is None else arrays[calib], arrays[out_of_range])
        if slots is not None:
            kernel: Any = _kernels.count_binary_scored
            return int(kernel(*batch, *args, *states, slots))
        return _threads.count_in_chunks(_kernels.count_binary_scored, batch, args, states)

    def argmax_rows(self, scores: Any, keep: Any, lo: float, hi: float) -> tuple[np.ndarray, int]:
        pred = np.empty(scores.shape[0], dtype=np.int64)
        bits, lo_key, hi_key = _kernels.argmax.row_bits(scores, lo, hi)
        kernel = argmax_rows_for(scores.shape[0], scores.shape[1], scores.dtype)
        bad: int = kernel(scores, bits, _NO_KEEP if keep is None else keep, lo, hi, lo_key, hi_key, pred)
        return pred, bad

    def count_argmax(self, name: str, y_true: Any, scores: Any, n: int, ignore: Any, use_ignore: bool, lo: float,
                     hi: float, mass: float) -> int:
        if not self._reserved(name, mass):
            return REFUSED
        bits, lo_key, hi_key = _kernels.argmax.row_bits(scores, lo, hi)
        kernel = count_argmax_for(scores.shape[0], scores.shape[1], scores.dtype)
        if y_true.shape[0] < PARALLEL_MIN:
            bad: int = kernel(y_true, scores, bits, n, ignore, use_ignore, lo, hi, lo_key, hi_key, self.arrays[name])
            return bad
        return _threads.count_in_chunks(kernel, (y_true, scores, bits),
                                        (n, ignore, use_ignore, lo, hi, lo_key, hi_key), (self.arrays[name],))

    def histogram(self, names: Sequence[str], scores: Any, truth: Any, weight: Any, binning: Binning,
                  inclusive: bool, slots: Slots = None) -> None:
        w = _NO_WEIGHT if weight is None else weight
        _kernels.histogram_scores(scores, truth, w, weight is not None, *binning, inclusive,
                                  self.arrays[names[0]], self.arrays[names[1]], slots)
        if len(names) > 2:
            _count_outside(self.arrays[names[2]], scores, None, weight, binning, slots)

    def calibration_sums(self, name: str, truth: Any, probs: Any, weight: Any, eps: float, slots: Slots = None) -> None:
        w = _NO_WEIGHT if weight is None else weight
        _kernels.calibration_sums(truth, probs, w, weight is not None, eps, self.arrays[name], slots)

    def logit_calibration_sums(self, name: str, y_true: Any, logits: Any, weight: Any, softmax: bool,
                               slots: Slots = None) -> None:
        w = _NO_WEIGHT if weight is None else weight
        kernel = logit_kernels.softmax_calibration_sums if softmax else logit_kernels.sigmoid_calibration_sums
        kernel(y_true, logits, w, weight is not None, self.arrays[name], slots)

    def softmax_rows(self, logits: Any) -> np.ndarray:
        out = np.empty(logits.shape, dtype=np.float64)
        logit_kernels.softmax_rows(logits, out)
        return out

    def count_ranks(self, name: str, scores: Any, truth: Any, weight: Any, slots: Slots = None) -> None:
        _kernels.counting.count_ranks(scores, truth, weight, self.arrays[name], slots)

    def multilabel_first_bad(self, y_true: Any, y_pred: Any, weight: Any, is_scores: bool, lo: float,
                             hi: float) -> int:
        bad: int = _kernels.multilabel_first_bad(y_true, y_pred, _NO_WEIGHT if weight is None else weight,
                                                 weight is not None, is_scores, lo, hi)
        return bad

    def count_multilabel(self, names: Sequence[str], y_true: Any, y_pred: Any, weight: Any, is_scores: bool,
                         threshold: float, inclusive: bool, replicate: int | None = None, slots: Slots = None) -> None:
        matrices, sums = self.arrays[names[0]], self.arrays[names[1]]
        if replicate is not None:
            matrices, sums = matrices[replicate], sums[replicate]
        if weight is None:
            _kernels.count_multilabel(y_true, y_pred, is_scores, threshold, inclusive, matrices, sums, slots)
        else:
            _kernels.count_multilabel_weighted(y_true, y_pred, weight, is_scores, threshold, inclusive, matrices, sums,
                                               slots)

    def count_multilabel_masked(self, names: Sequence[str], y_true: Any, y_pred: Any, keep: Any, weight: Any,
                                is_scores: bool, threshold: float, inclusive: bool, replicate: int | None = None,
                                slots: Slots = None) -> None:
        matrices, sums = self.arrays[names[0]], self.arrays[names[1]]
        if replicate is not None:
            matrices, sums = matrices[replicate], sums[replicate]
        if weight is None:
            masked_kernels.count_multilabel_masked(y_true, y_pred, keep, is_scores, threshold, inclusive, matrices,
                                                   sums, slots)
        else:
            masked_kernels.count_multilabel_masked_weighted(y_true, y_pred, keep, weight, is_scores, threshold,
                                                            inclusive, matrices, sums, slots)

    def count_predictions(self, names: Sequence[str], pred: Any, probs: Any, weight: Any, slots: Slots = None) -> None:
        counts = self.arrays[names[0]]
        n, labels = pred.shape
        k = counts.shape[-1]
        cells = counts.size  # (S,) L * K cells, flat: ((slot * L) + l) * K + k
        flat = pred + k * np.arange(labels, dtype=np.int64)
        if slots is not None:
            flat = flat + (labels * k) * slots.astype(np.int64)[:, None]
        flat = flat.reshape(-1)
        w = None if weight is None else np.repeat(weight, labels)
        added = np.bincount(flat, weights=w, minlength=cells)
        counts += added.reshape(counts.shape).astype(counts.dtype, copy=False)
        if len(names) < 3:
            return
        rows = probs.reshape(n * labels, k)
        for name, values in ((names[1], rows), (names[2], rows * (1.0 - rows))):
            sums = np.empty((cells, k))
            for j in range(k):
                column = values[:, j] if w is None else values[:, j] * w
                sums[:, j] = np.bincount(flat, weights=column, minlength=cells)
            self.arrays[name] += sums.reshape(self.arrays[name].shape)

    def histogram_unlabelled(self, names: Sequence[str], scores: Any, weight: Any, binning: Binning, inclusive: bool,
                             slots: Slots = None) -> None:
        w = _NO_WEIGHT if weight is None else weight
        hist = self.arrays[names[0]][..., None, :]  # (S,) C, 1, cells: a view; every score "truth 0"
        truth = np.zeros(scores.shape, dtype=np.int8)
        _kernels.histogram_scores(scores, truth, w, weight is not None, *binning, inclusive, hist,
                                  self.arrays[names[1]], slots)

    def histogram_masked(self, names: Sequence[str], scores: Any, truth: Any, keep: Any, weight: Any,
                         binning: Binning, inclusive: bool, slots: Slots = None) -> None:
        w = _NO_WEIGHT if weight is None else weight
        masked_kernels.histogram_masked(scores, truth, keep, w, weight is not None, *binning, inclusive,
                                        self.arrays[names[0]], self.arrays[names[1]], slots)
        if len(names) > 2:
            _count_outside(self.arrays[names[2]], scores, keep, weight, binning, slots)

