"""The storage interface (see the package docstring): ``Storage``, and the overflow rule it applies."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .. import limits
from .._scores import Binning
from .._state import Spec

_FLOAT_MAX = float(np.finfo(np.float64).max)
REFUSED = -2  # what a counting operation given a mass returns when the reservation fails
# A per-sample slot index (int64, one per sample of the batch) into the leading axis of every
# array counted, or None: the arrays as declared (see _kernels.counting, "Slots").
Slots = np.ndarray | None


def fits(total: float, is_float: bool) -> bool:
    """streameval.limits' rule for a total of |values|: finite for float64 sums, at most
    MAX_COUNT (read now: programs may change it) for int64 counts."""
    return total < _FLOAT_MAX if is_float else total <= limits.MAX_COUNT


class Storage(abc.ABC):
    """The arrays of a ``Spec``, and every operation that allocates them or changes their values."""

    spec: Spec

    # --- allocation -------------------------------------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def zeros(cls, spec: Spec) -> Storage:
        """Every array of spec, zero (growing dimensions empty)."""

    def fresh(self, spec: Spec) -> Storage:
        """A storage of this kind, in the same place (device), of spec's arrays, zero."""
        return type(self).zeros(spec)

    @classmethod
    @abc.abstractmethod
    def holding(cls, spec: Spec, arrays: Mapping[str, np.ndarray],
                totals: Mapping[str, float] | None = None) -> Storage:
        """A storage holding these host arrays (checked by the caller), with their known totals of |values|."""

    @abc.abstractmethod
    def copy(self) -> Storage:
        """An independent copy."""

    @abc.abstractmethod
    def scratch(self, names: tuple[str, ...]) -> Storage:
        """Zeroed arrays shaped like these, to count a batch aside (added with add_counted)."""

    @abc.abstractmethod
    def replicates(self) -> Iterator[Storage]:
        """For each bootstrap replicate r, a view (to read, not to write, and only until the next
        one) in which each replicated array is its r-th replicate."""

    @abc.abstractmethod
    def relayout(self, spec: Spec, where: np.ndarray) -> Storage:
        """A new storage for spec (more classes): each array's class axes laid out so that old
        class i is new class where[i]; totals are kept."""

    # --- reading ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def host(self, name: str) -> np.ndarray:
        """The array as a host numpy array, for queries and serialization (not to be written)."""

    def host_arrays(self) -> list[np.ndarray]:
        """Every array, as host arrays, in the spec's order."""
        return [self.host(name) for name in self.spec]

    @abc.abstractmethod
    def is_zero(self) -> bool:
        """True when every value of every array is zero."""

    @abc.abstractmethod
    def equal(self, other: Storage) -> bool:
        """True when both hold arrays of the same names, shapes and values."""

    # --- whole arrays -----------------------------------------------------------------------------

    @abc.abstractmethod
    def replace(self, arrays: Mapping[str, np.ndarray], totals: Mapping[str, float] | None = None) -> None:
        """Take these host arrays in place of the named ones (loaded vectors, a merged exact table)."""

    @abc.abstractmethod
    def assign(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Write these values into the named arrays (same shapes)."""

    # --- arithmetic -------------------------------------------------------------------------------

    @abc.abstractmethod
    def reserve(self, name: str, mass: float) -> bool:
        """Make room for a batch that adds values totalling at most mass (in absolute value) to
        the array: True, or False when its total would pass streameval.limits' bounds."""

    def reserve_all(self, masses: Iterable[tuple[str, float]]) -> str | None:
        """reserve() each (name, mass) in turn: the name of the first that does not fit, or None."""
        for name, mass in masses:
            if not self.reserve(name, mass):
                return name
        return None

    @abc.abstractmethod
    def overflowing_sum(self, other: Storage) -> str | None:
        """The first bounded array (in spec order) whose total plus other's would pass
        streameval.limits' bounds, or None: what merge() checks before it changes anything."""

    @abc.abstractmethod
    def add(self, other: Storage, names: Iterable[str]) -> None:
        """Add other's arrays of these names to ours (a merge, checked by overflowing_sum)."""

    @abc.abstractmethod
    def add_counted(self, batch: Storage, names: Iterable[str]) -> None:
        """Add a batch counted aside (scratch) to our arrays of these names (reserved first)."""

    @abc.abstractmethod
    def add_draws(self, name: str, cells: np.ndarray, draws: np.ndarray) -> None:
        """replicates[r] += draws[r] at the flat cells of each replicate's table (bootstrap)."""

    @abc.abstractmethod
    def scale(self, factor: float, names: Iterable[str]) -> None:
        """Multiply the named (float64) arrays by factor <= 1 (decay)."""

    def scaled(self, factor: float, names: tuple[str, ...]) -> Storage:
        """A new storage: ours with the named arrays multiplied by factor <= 1 (decay, leaving
        this one as it was until the decayed batch is counted)."""
        new = self.copy()
        new.scale(factor, names)
        return new

    def decay_count_pairs(self, name: str, y_true: Any, y_pred: Any, weight: Any, n: int, ignore: Any,
                          use_ignore: bool, factor: float, mass: float) -> int:
        """Multiply the float array name by factor <= 1 and count class-index pairs into it, in
        place and in one pass (weight None: 1 each), with the total reserved as scale() then
        count_pairs() would. -1 when done; else nothing changed: the first bad sample, or
        REFUSED (the reservation failed, or this storage leaves it to the general path)."""
        return REFUSED

    # --- slots: a leading axis of stacked states (a wrapper's, see _storage.slotted) ---------------

    @abc.abstractmethod
    def zero_slots(self, names: tuple[str, ...], index: int | np.ndarray) -> None:
        """Empty these slots (indices on the leading axis) of the named arrays."""

    @abc.abstractmethod
    def add_slots(self, other: Storage, names: Iterable[str], mine: np.ndarray, theirs: np.ndarray) -> None:
        """Add other's slots theirs to our slots mine (distinct), array by array (a merge by slot)."""

    @abc.abstractmethod
    def set_slots(self, values: Mapping[str, np.ndarray], index: int | np.ndarray) -> None:
        """Write values[name] (as many slots as index holds) into these slots of each named array."""

    # --- counting a validated batch ---------------------------------------------------------------
    # Each returns -1, or the index of the first sample it could not count, changing nothing then.
    # ``slots``: each sample's slot, a leading axis of the arrays counted (a wrapper's storage of
    # stacked states); None for an accumulator's own arrays.

    @abc.abstractmethod
    def count_pairs(self, name: str, y_true: Any, y_pred: Any, weight: Any, n: int, ignore: Any,
                    use_ignore: bool, mass: float | None = None, slots: Slots = None) -> int:
        """name[y_true[i], y_pred[i]] += weight[i] (or 1), skipping samples whose y_true is ignore.
        With mass, reserve(name, mass) first (the commonest update in one call): REFUSED if it fails."""

    @abc.abstractmethod
    def count_scores(self, name: str, y_true: Any, scores: Any, weight: Any, threshold: float, inclusive: bool,
                     lo: float, hi: float, threads: bool = True, slots: Slots = None,
                     mass: float | None = None) -> int:
        """name[y_true[i], scores[i] passes threshold] += weight[i] (or 1); scores in [lo, hi].
        threads=False counts in one pass, whatever the batch's size (sums in a fixed order). With
        mass, reserve(name, mass) first: REFUSED if it fails."""

    @abc.abstractmethod
    def count_binary_scored(self, names: Sequence[str | None], y_true: Any, scores: Any, weight: Any, threshold: float,
                            inclusive: bool, lo: float, hi: float, binning: Binning, eps: float,
                            slots: Slots = None) -> int:
        """Binary(bins=...) in one pass: names are the confusion matrix, the histogram, the score
        sums, the calibration sums and the out-of-range counts. A matrix name of None counts the
        rest only (the bootstrap counts the matrix aside)."""

    @abc.abstractmethod
    def argmax_rows(self, scores: Any, keep: Any, lo: float, hi: float) -> tuple[Any, int]:
        """(first index of each row's maximum, the first row with a score outside [lo, hi] or -1)."""

    def count_argmax(self, name: str, y_true: Any, scores: Any, n: int, ignore: Any, use_ignore: bool, lo: float,
                     hi: float, mass: float) -> int:
        """name[y_true[i], argmax(scores[i])] += 1 (the first maximum, as numpy), skipping samples
        whose y_true is ignore (their scores unread): argmax_rows and count_pairs in one step.
        reserve(name, mass) first: REFUSED if it fails. Returns -1 or the first bad sample (a
        label out of range, a score outside [lo, hi]), the counts then as they were."""
        keep = None if not use_ignore else y_true != ignore
        pred, bad = self.argmax_rows(scores, keep, lo, hi)
        if bad >= 0:
            return bad  # (a label before it may be bad too: the caller diagnoses labels first)
        return self.count_pairs(name, y_true, pred, None, n, ignore, use_ignore, mass)

    @abc.abstractmethod
    def histogram(self, names: Sequence[str], scores: Any, truth: Any, weight: Any, binning: Binning,
                  inclusive: bool, slots: Slots = None) -> None:
        """Add (N, C) scores with (N, C) 0/1 truth to the histogram names[0] (C, 2, cells) and the
        score sums names[1] (C, cells); with a third name, the scores below and above the edges."""

    @abc.abstractmethod
    def calibration_sums(self, name: str, truth: Any, probs: Any, weight: Any, eps: float, slots: Slots = None) -> None:
        """Add the Brier and log-loss terms of (N, C) probabilities with (N, C) one-hot truth."""

    @abc.abstractmethod
    def logit_calibration_sums(self, name: str, y_true: Any, logits: Any, weight: Any, softmax: bool,
                               slots: Slots = None) -> None:
        """Add the Brier and log-loss terms of the probabilities of logits (from_logits=True): (N,)
        logits and 0/1 y_true (sigmoid), or (N, K) logits and class indices y_true (softmax)."""

    @abc.abstractmethod
    def softmax_rows(self, logits: Any) -> Any:
        """The softmax of each row of (N, K) logits, as float64 probabilities."""

    @abc.abstractmethod
    def count_ranks(self, name: str, scores: Any, truth: Any, weight: Any, slots: Slots = None) -> None:
        """name[min(rank of the true class's score, len - 1)] += weight (top-k accuracy)."""

    @abc.abstractmethod
    def multilabel_first_bad(self, y_true: Any, y_pred: Any, weight: Any, is_scores: bool, lo: float,
                             hi: float) -> int:
        """The first sample with a label not 0/1, a score outside [lo, hi] or a bad weight, or -1."""

    @abc.abstractmethod
    def count_multilabel(self, names: Sequence[str], y_true: Any, y_pred: Any, weight: Any, is_scores: bool,
                         threshold: float, inclusive: bool, replicate: int | None = None, slots: Slots = None) -> None:
        """Count a checked multilabel batch into the matrices names[0] and per-sample sums
        names[1] (with replicate=r, into replicate r of them)."""

    def count_multilabel_masked(self, names: Sequence[str], y_true: Any, y_pred: Any, keep: Any, weight: Any,
                                is_scores: bool, threshold: float, inclusive: bool, replicate: int | None = None,
                                slots: Slots = None) -> None:
        """count_multilabel of the entries where the (N, L) mask keep is True (ignore_index);
        the per-sample sums names[1] then have a slot more, counting the samples (_kernels.masked)."""
        raise NotImplementedError(f"{type(self).__name__} does not count Multilabel(ignore_index=...)")

    def histogram_masked(self, names: Sequence[str], scores: Any, truth: Any, keep: Any, weight: Any,
                         binning: Binning, inclusive: bool, slots: Slots = None) -> None:
        """histogram of the entries where the (N, C) mask keep is True (ignore_index)."""
        raise NotImplementedError(f"{type(self).__name__} does not count Multilabel(ignore_index=...)")

    def count_predictions(self, names: Sequence[str], pred: Any, probs: Any, weight: Any, slots: Slots = None) -> None:
        """Unlabelled predictions (_components.predictions): counts[l, pred[i, l]] += w_i for the
        (N, L) predicted classes, and with names[1:] (probability sums, (L, K, K) read as the
        arrays' trailing axes) prob[l, pred[i, l], :] += w_i p[i, l, :] and var likewise of
        p (1 - p), for (N, L, K) probability rows probs. A checked batch, room reserved."""
        raise NotImplementedError(f"{type(self).__name__} does not count unlabelled predictions")

    def histogram_unlabelled(self, names: Sequence[str], scores: Any, weight: Any, binning: Binning, inclusive: bool,
                             slots: Slots = None) -> None:
        """histogram of unlabelled (N, C) scores into (C, cells) counts and score sums, each score in
        the cell the labelled histogram puts it (the same kernel and binning)."""
        raise NotImplementedError(f"{type(self).__name__} does not count unlabelled predictions")
