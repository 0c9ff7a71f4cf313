"""SlotView: one accumulator's state seen inside a wrapper's storage, where a batch is counted.

A wrapper (``Windowed``, ``Decayed``, and ``Sliced`` to come) keeps the wrapped accumulator's
declared arrays in its own storage, each stacked on a leading slot axis (``_state.stacked``): a
window's ring of buckets. To count a batch it hands the wrapped accumulator's ``_count`` a
``SlotView`` of that storage instead of the accumulator's own, aimed (``aim``) at

- one slot: every array is the slot's view, counted by the ordinary kernels (the common case: a
  batch inside one bucket);
- or one slot per sample (``slots``): the arrays are passed whole with the slot index, and the
  kernels put each sample in its slot in one call (a batch spanning buckets);
- or, for a storage with no slot axis (``Decayed``), the arrays themselves.

The accumulator's counting code is the same in all three cases: it only calls the storage's
methods. So a wrapper needs no accumulator per bucket and no scratch copy of its state.

Overflow. A wrapper's slots each get a share of streameval.limits' bounds (a window's bucket may
total MAX_COUNT / buckets, so that every sum of buckets fits). The view keeps a bound of each
slot's total of |values| per array, as a storage does per array, and ``reserve`` refuses, with
the wrapper's own error (``refuse``), a batch that would take a slot past its share. With one
slot per sample each touched slot is checked against the whole batch's mass (an upper bound of
its piece). Bounds are dropped whenever the arrays change outside the view (``forget``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .. import limits
from .._scores import Binning
from .._state import Spec
from .base import _FLOAT_MAX, Slots, Storage, fits
from .numpy_storage import NumpyStorage, add_draws

Refusal = Callable[[str], Exception]  # the wrapper's error for an array that would pass its share


class SlotView(Storage):
    """The wrapped accumulator's arrays (``spec``) inside a wrapper's storage (``stacked``)."""

    def __init__(self, spec: Spec, stacked: Storage, *, leading: bool, share: int, refuse: Refusal):
        self.spec = spec
        self.stacked = stacked
        self.leading = leading  # the stacked arrays have a slot axis (else they are the arrays themselves)
        self.share = share  # the number of slots that share streameval.limits' bounds
        self.refuse = refuse
        n = stacked.host(next(iter(spec))).shape[0] if leading else 1
        self._bounds = {name: np.full(n, np.nan) for name in spec.bounded}  # per slot; NaN: unknown
        self._names = tuple(spec)  # the arrays, in order (zero, saved and restore run per bucket entered)
        self._bound_arrays = tuple(self._bounds.values())
        self._slot_storages: dict[int, NumpyStorage] = {}  # one slot's views, made once per slot
        self._slot: int | None = None
        self._slots: np.ndarray | None = None
        self._touched: Sequence[int] = ()
        self._target: Storage = stacked

    # --- aiming -------------------------------------------------------------------------------

    def aim(self, slot: int | None = None, slots: np.ndarray | None = None, touched: Sequence[int] = ()) -> SlotView:
        """Count the next batch into one slot, or sample i into slots[i] (touched: the distinct
        slots); with neither (no slot axis), into the arrays themselves. Returns self."""
        if slot is not None and slot == self._slot:  # aimed there already (the same bucket, batch after batch)
            return self
        self._slot, self._slots = slot, slots
        if slot is not None:
            self._touched = (slot,)
            target = self._slot_storages.get(slot)
            if target is None:
                arrays = {name: self.stacked.host(name)[slot] for name in self.spec}
                target = self._slot_storages[slot] = NumpyStorage(self.spec, arrays, {})
            self._target = target
        else:
            self._touched = touched
            self._target = self.stacked
        return self

    def over(self, stacked: Storage) -> SlotView:
        """The same view over another storage of the same arrays (a decayed copy). Returns self."""
        self.stacked = self._target = stacked
        if self.leading:
            self._slot_storages.clear()
            self.forget()
        return self

    @staticmethod
    def _index(slots: Sequence[int]) -> Any:
        """Slots as an index: an int for one slot (the common case: a view, no fancy indexing)."""
        return slots[0] if len(slots) == 1 else np.array(slots, dtype=np.intp)

    def zero(self, slots: Sequence[int]) -> None:
        """Empty these slots of every array (a bucket the ring moves on to)."""
        if len(slots) == 1:  # the common case: one bucket entered, an int index (a view, no fancy indexing)
            slot = slots[0]
            self.stacked.zero_slots(self._names, slot)
            for bounds in self._bound_arrays:
                bounds[slot] = 0.0
        elif slots:
            index = np.array(slots, dtype=np.intp)
            self.stacked.zero_slots(self._names, index)
            for bounds in self._bound_arrays:
                bounds[index] = 0.0

    def saved(self, slots: Sequence[int]) -> dict[str, np.ndarray]:
        """A copy of these slots of every array, for restore() (what zero() is about to empty)."""
        if not slots:
            return {}
        index = self._index(slots)
        host = self.stacked.host
        return {name: host(name)[index].copy() for name in self._names}

    def restore(self, slots: Sequence[int], saved: Mapping[str, np.ndarray]) -> None:
        """Put slots saved by saved() back (an update that failed after emptying them)."""
        if slots:
            index = self._index(slots)
            self.stacked.set_slots(saved, index)
            for bounds in self._bound_arrays:
                bounds[index] = np.nan

    def forget(self) -> None:
        """The arrays changed outside the view (a merge): every bound is unknown."""
        for bounds in self._bounds.values():
            bounds[:] = np.nan

    # --- overflow bounds ----------------------------------------------------------------------

    def reserve(self, name: str, mass: float) -> bool:
        if not self.leading:
            if not self.stacked.reserve(name, mass):
                raise self.refuse(name)
            return True
        bounds, share = self._bounds[name], self.share
        slot = self._slot
        if slot is not None:  # the common case inline: one slot, its bound known and far from the limit
            total = (float(bounds[slot]) + mass) * share  # Python floats: an overflow is inf, never a warning
            if total <= limits.MAX_COUNT if name not in self.spec.floats else total < _FLOAT_MAX:
                bounds[slot] += mass
                return True
        is_float = name in self.spec.floats
        for slot in self._touched:
            bound = float(bounds[slot])  # a Python float: an overflow is inf, never a warning
            if not (bound == bound and fits((bound + mass) * share, is_float)):  # unknown, or seems not to fit
                bound = float(limits.abs_total(self.stacked.host(name)[slot]))
                if not fits((bound + mass) * share, is_float):
                    raise self.refuse(name)
            bounds[slot] = bound + mass
        return True

    def reserve_all(self, masses: Iterable[tuple[str, float]]) -> str | None:
        for name, mass in masses:
            self.reserve(name, mass)
        return None

    # --- counting: the target's, into the slot (or slots) aimed at -------------------------------

    def count_pairs(self, name: str, y_true: Any, y_pred: Any, weight: Any, n: int, ignore: Any,
                    use_ignore: bool, mass: float | None = None, slots: Slots = None) -> int:
        if mass is not None:
            self.reserve(name, mass)
        return self._target.count_pairs(name, y_true, y_pred, weight, n, ignore, use_ignore, None, self._slots)

    def count_scores(self, name: str, y_true: Any, scores: Any, weight: Any, threshold: float, inclusive: bool,
                     lo: float, hi: float, threads: bool = True, slots: Slots = None,
                     mass: float | None = None) -> int:
        if mass is not None:
            self.reserve(name, mass)
        return self._target.count_scores(name, y_true, scores, weight, threshold, inclusive, lo, hi, threads,
                                         self._slots)

    def count_binary_scored(self, names: Sequence[str | None], y_true: Any, scores: Any, weight: Any, threshold: float,
                            inclusive: bool, lo: float, hi: float, binning: Binning, eps: float,
                            slots: Slots = None) -> int:
        return self._target.count_binary_scored(names, y_true, scores, weight, threshold, inclusive, lo, hi, binning,
                                                eps, self._slots)

    def argmax_rows(self, scores: Any, keep: Any, lo: float, hi: float) -> tuple[Any, int]:
        return self.stacked.argmax_rows(scores, keep, lo, hi)

    def histogram(self, names: Sequence[str], scores: Any, truth: Any, weight: Any, binning: Binning,
                  inclusive: bool, slots: Slots = None) -> None:
        self._target.histogram(names, scores, truth, weight, binning, inclusive, self._slots)

    def calibration_sums(self, name: str, truth: Any, probs: Any, weight: Any, eps: float, slots: Slots = None) -> None:
        self._target.calibration_sums(name, truth, probs, weight, eps, self._slots)

    def logit_calibration_sums(self, name: str, y_true: Any, logits: Any, weight: Any, softmax: bool,
                               slots: Slots = None) -> None:
        self._target.logit_calibration_sums(name, y_true, logits, weight, softmax, self._slots)

    def softmax_rows(self, logits: Any) -> Any:
        return self.stacked.softmax_rows(logits)

    def count_ranks(self, name: str, scores: Any, truth: Any, weight: Any, slots: Slots = None) -> None:
        self._target.count_ranks(name, scores, truth, weight, self._slots)

    def multilabel_first_bad(self, y_true: Any, y_pred: Any, weight: Any, is_scores: bool, lo: float,
                             hi: float) -> int:
        return self.stacked.multilabel_first_bad(y_true, y_pred, weight, is_scores, lo, hi)

    def count_multilabel(self, names: Sequence[str], y_true: Any, y_pred: Any, weight: Any, is_scores: bool,
                         threshold: float, inclusive: bool, replicate: int | None = None, slots: Slots = None) -> None:
        if replicate is not None and self._slots is not None:
            raise NotImplementedError("replicates are counted one slot at a time")
        self._target.count_multilabel(names, y_true, y_pred, weight, is_scores, threshold, inclusive, replicate,
                                      self._slots)

    def count_multilabel_masked(self, names: Sequence[str], y_true: Any, y_pred: Any, keep: Any, weight: Any,
                                is_scores: bool, threshold: float, inclusive: bool, replicate: int | None = None,
                                slots: Slots = None) -> None:
        if replicate is not None and self._slots is not None:
            raise NotImplementedError("replicates are counted one slot at a time")
        self._target.count_multilabel_masked(names, y_true, y_pred, keep, weight, is_scores, threshold, inclusive,
                                             replicate, self._slots)

    def count_predictions(self, names: Sequence[str], pred: Any, probs: Any, weight: Any, slots: Slots = None) -> None:
        self._target.count_predictions(names, pred, probs, weight, self._slots)

    def histogram_unlabelled(self, names: Sequence[str], scores: Any, weight: Any, binning: Binning, inclusive: bool,
                             slots: Slots = None) -> None:
        self._target.histogram_unlabelled(names, scores, weight, binning, inclusive, self._slots)

    def histogram_masked(self, names: Sequence[str], scores: Any, truth: Any, keep: Any, weight: Any,
                         binning: Binning, inclusive: bool, slots: Slots = None) -> None:
        self._target.histogram_masked(names, scores, truth, keep, weight, binning, inclusive, self._slots)

    # --- a batch counted aside (bootstrap replicates: one slot at a time) ------------------------

    def scratch(self, names: tuple[str, ...]) -> NumpyStorage:
        return NumpyStorage.zeros(self.spec.subset(names))

    def add_counted(self, batch: Storage, names: Iterable[str]) -> None:
        self._one_slot("a batch counted aside").add_counted(batch, names)

    def add_draws(self, name: str, cells: np.ndarray, draws: np.ndarray) -> None:
        add_draws(self._one_slot("bootstrap draws").host(name), cells, draws)  # host: a view of the slot

    def _one_slot(self, what: str) -> Storage:
        if self._slots is not None:
            raise NotImplementedError(f"{what} is added one slot at a time")
        return self._target

    # --- reading: the slot aimed at -----------------------------------------------------------

    def host(self, name: str) -> np.ndarray:
        return self._target.host(name) if self._slots is None else self.stacked.host(name)

    def is_zero(self) -> bool:
        return not any(self.host(name).any() for name in self.spec)

    def equal(self, other: Storage) -> bool:
        return all(np.array_equal(self.host(name), other.host(name)) for name in self.spec)

    # --- what a view is not for: a wrapper allocates, merges, loads and decays its own storage ---

    @classmethod
    def zeros(cls, spec: Spec) -> Storage:
        raise NotImplementedError("a SlotView is made by a wrapper over its storage")

    @classmethod
    def holding(cls, spec: Spec, arrays: Mapping[str, np.ndarray],
                totals: Mapping[str, float] | None = None) -> Storage:
        raise NotImplementedError("a SlotView is made by a wrapper over its storage")

    def copy(self) -> Storage:
        raise NotImplementedError("copy the wrapper's storage")

    def replicates(self) -> Iterator[Storage]:
        raise NotImplementedError("queries read the wrapper's current counts")

    def relayout(self, spec: Spec, where: np.ndarray) -> Storage:
        raise NotImplementedError("wrapped accumulators have fixed classes")

    def replace(self, arrays: Mapping[str, np.ndarray], totals: Mapping[str, float] | None = None) -> None:
        raise NotImplementedError("wrapped accumulators keep no growing tables")

    def assign(self, arrays: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError("assign to the wrapper's storage")

    def overflowing_sum(self, other: Storage) -> str | None:
        raise NotImplementedError("the wrapper merges its storage")

    def add(self, other: Storage, names: Iterable[str]) -> None:
        raise NotImplementedError("the wrapper merges its storage")

    def scale(self, factor: float, names: Iterable[str]) -> None:
        raise NotImplementedError("the wrapper decays its storage")

    def zero_slots(self, names: tuple[str, ...], index: int | np.ndarray) -> None:
        raise NotImplementedError("a view holds one slot (see zero())")

    def add_slots(self, other: Storage, names: Iterable[str], mine: np.ndarray, theirs: np.ndarray) -> None:
        raise NotImplementedError("the wrapper merges its storage")

    def set_slots(self, values: Mapping[str, np.ndarray], index: int | np.ndarray) -> None:
        raise NotImplementedError("a view holds one slot (see restore())")
