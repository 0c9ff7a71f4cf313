"""Decayed: exponentially decayed counts, every sample's weight halving each half-life after it.

Decayed wraps a Binary, Multiclass or Multilabel accumulator used as a template and keeps the
counts of its weighted twin (float64 sums of decayed weights), with the time of the latest
sample for unit="seconds". It is a ``_slots.SlotWrapper`` with no slot axis: a batch's weights
are multiplied by their decay (one multiply per sample), the counts are decayed to the batch's
time out of place, and the batch is counted into them in one pass; the decayed counts replace
the old ones only once the batch is counted, so a failed update changes nothing. The common
batch of a Decayed(Multiclass) (integer labels, no weights, unit "samples" or "updates") takes a
shorter way with the same arithmetic: the storage checks it, then decays and counts in place in
one kernel call (``_kernels.decay``); a bad batch changes nothing and takes the general path,
which raises its error.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import _event_times
from ._slots import (
    DEFAULT_MAX_SKEW,
    SlotWrapper,
    check_unit,
    description,
    inner_layout,
    max_skew_of,
    position_array,
    positive_number,
    template_of,
    with_max_skew,
)
from ._state import Spec
from ._components import confusion
from ._stateful import StateArrayAttribute
from .accumulator import Accumulator
from .multiclass import Multiclass
from .serialization import Kind

__all__ = ["Decayed"]


class Decayed(SlotWrapper):
    """Exponentially decayed counts: every sample's weight halves each ``half_life`` units after it.

    ``Decayed(accumulator, half_life, *, unit="samples", max_skew=86400.0, clock=time.time)``

    accumulator: an empty Binary, Multiclass or Multilabel (exact=True and labels="auto" are
    refused). The counts are those of its weighted twin (same configuration, weighted=True):
    float64 sums of decayed weights. The decay applies to the counts, never to metric values, so
    every metric equals scikit-learn's with sample_weight = the decayed weights:

    - unit="samples": the i-th of n samples so far (0-based) weighs w_i * 0.5 ** ((n - 1 - i) / half_life);
    - unit="updates": the samples of the u-th of m update() calls weigh w * 0.5 ** ((m - 1 - u) / half_life);
    - unit="seconds": a sample counted at time t weighs w * 0.5 ** ((T - t) / half_life), T the
      latest time seen (a timestamp passed to update, else clock(), or advance()). Timestamps
      may arrive in any order, but one more than ``max_skew`` seconds (default one day) ahead of
      both T and ``clock()`` raises ``TimestampError`` with ``reason="future"``, changing
      nothing: it would decay every count seen so far to nothing. The rules are those of
      Windowed (``max_skew=None`` removes the bound). ``timestamp`` may also be one time per
      sample, an (n_samples,) array of epoch seconds, datetime64, pandas or pyarrow times (as for
      Windowed): the counts decay to the batch's latest time T (or stay at the latest seen, if
      later) and sample i counts with factor 0.5 ** ((T - t_i) / half_life), which equals
      feeding the samples one at a time in time order; max_skew bounds each time, taken from
      the state before the batch (``TimestampError`` with ``index`` i, changing nothing).

    w is the sample's sample_weight (1 if none): the template must be weighted=True to take one,
    as an accumulator must. Queries are the wrapped accumulator's, on the decayed counts;
    snapshot() returns them as a plain (weighted) accumulator. Ratios do not depend on T;
    n_samples and the raw counts do, so call advance() to decay them to now.

    Merging (unit="seconds" only) brings both to the later T and adds: the result equals one
    Decayed fed both streams. Sample and update positions have no common clock: IncompatibleError.
    An update or merge whose counts would no longer be finite raises OverflowError and changes
    nothing.

    >>> import streameval
    >>> d = Decayed(streameval.Binary(), half_life=1, unit="updates")
    >>> d.update([1, 1], [1, 0])
    >>> d.update([1], [1])  # the first update now weighs half
    >>> d.n_samples, d.recall()
    (2.0, 0.75)
    """

    _KIND = Kind.DECAYED
    _LEADING = False
    _time = StateArrayAttribute()
    half_life: float

    def __init__(self, accumulator: Any, half_life: Any, *, unit: str = "samples",
                 max_skew: float | None = DEFAULT_MAX_SKEW, clock: Any = time.time):
        template = template_of(accumulator)
        self.half_life = positive_number("half_life", half_life)
        self.unit = check_unit(unit)
        self.max_skew = max_skew_of(max_skew, unit)
        self._profile = np.ones(0)  # 0.5 ** (k / half_life) for k = m - 1 ... 1, 0: the decay of the k-th newest sample
        self._begin(template, template_of(description(template), weighted=True), clock)
        self._per_update = 0.5 ** (1 / self.half_life)
        # a Multiclass counting integer labels (no bins, top_k or bootstrap): its plain batches are
        # decayed and counted by the storage in one call, (name, num_classes, ignore, use_ignore)
        fused = getattr(self._empty, "_fused", None)
        self._pairs = ((confusion.NAME, *fused[:3]) if isinstance(self._empty, Multiclass) and fused is not None
                       and self.unit != "seconds" and self._count_names == (confusion.NAME,) else None)

    def _config(self) -> dict[str, Any]:
        config = {"accumulator": description(self._template), "half_life": self.half_life, "unit": self.unit}
        return with_max_skew(config, self.max_skew)

    @classmethod
    def _state_spec(cls, accumulator: Any, half_life: Any, *, unit: Any = "samples",
                    max_skew: Any = DEFAULT_MAX_SKEW) -> Spec:
        inner_layout(accumulator)
        _, _, spec = inner_layout(accumulator, weighted=True)
        positive_number("half_life", half_life)
        max_skew_of(max_skew, unit)
        # _time = (1.0 once a time was seen, else 0.0; the latest time T)
        return Spec({**spec, "_time": position_array((2,), np.float64)} if check_unit(unit) == "seconds" else spec)

    def _check_state(self) -> None:
        if self.unit == "seconds" and not (self._time[0] == 1 or self._time.tolist() == [0.0, 0.0]):
            raise ValueError(f"decay time {self._time.tolist()} is not (1, T) or (0, 0)")

    def _counts(self) -> Accumulator:
        return self._holding(self._count_arrays())

    def _latest_time(self) -> float | None:
        return float(self._time[1]) if self.unit == "seconds" and self._time[0] else None

    _latest_seen = _latest_time

    def _decay(self, n: int) -> np.ndarray:
        """0.5 ** ((n - 1 - i) / half_life) for i < n: the weight of the i-th of n samples once all
        are counted (computed once for the longest batch so far, then read as a contiguous tail)."""
        m = self._profile.shape[0]
        if m < n:
            m = max(n, 2 * m)
            with np.errstate(over="ignore"):  # a tiny half_life: ages of inf half-lives weigh 0, as they should
                self._profile = 0.5 ** (np.arange(m - 1, -1, -1, dtype=np.float64) / self.half_life)
        return self._profile[m - n:]

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None, timestamp: Any = None) -> None:
        """Decay the counts, then count a batch, as the wrapped accumulator's update();
        unit="seconds" counts it at ``timestamp`` (epoch seconds), or at clock() when None.

        A failed update raises the wrapped accumulator's error for the batch as given (a
        ValueError for a bad timestamp, TimestampError for one too far ahead, OverflowError for
        counts that would overflow) and changes nothing.
        """
        given = (y_true, y_pred, sample_weight)
        pairs, batch = self._pairs, None
        if pairs is not None and timestamp is None:  # (pairs: unit "samples" or "updates", which take no time)
            batch = self._prepare(given)
            if batch.plain:  # the common batch: checked, decayed and counted in place in one call
                n = batch.n
                if self.unit == "samples":
                    weight, before = self._decay(n), 0.5 ** (n / self.half_life)
                else:
                    weight, before = None, self._per_update
                name, k, ignore, use_ignore = pairs
                if self._storage.decay_count_pairs(name, batch.y_true, batch.y_pred, weight, k, ignore, use_ignore,
                                                   before, n) == -1:
                    self._cached = None
                    return
                # nothing changed: the general path below counts it, or raises its error
        times = None
        if timestamp is not None:
            timestamp = _event_times.times_for(self.unit, "Decayed", timestamp)
            if isinstance(timestamp, np.ndarray):
                times, timestamp = timestamp, None
        t = self._time_of(timestamp) if times is None else None
        latest = self._latest_time()
        if batch is None:
            batch = self._prepare(given)
        n = batch.n
        if times is not None:
            # One time per sample: decayed to the batch's latest time T (or the latest seen, if
            # later), each sample weighing 0.5 ** ((T - t_i) / half_life), as one at a time.
            rows = batch.shape[0] if batch.shape is not None else n
            _event_times.check_count(times, rows)
            _event_times.first_future(times, latest, self.max_skew, self.clock)
            if rows == 0:
                self._check_batch(batch, given)
                return
            t = float(times.max()) if latest is None else max(latest, float(times.max()))
            with np.errstate(under="ignore"):
                factors = 0.5 ** ((t - times) / self.half_life)
            batch = batch.weighted_by(factors if rows == n else np.repeat(factors, n // rows))
            before = 1.0 if latest is None else 0.5 ** ((t - latest) / self.half_life)
        elif self.unit == "samples":
            batch = batch.weighted_by(self._decay(n))
            before = 0.5 ** (n / self.half_life)
        elif self.unit == "updates":
            before = 0.5 ** (1 / self.half_life)
        elif latest is not None and t is not None and t < latest:  # a late sample: it decays, the counts do not
            batch = batch.weighted_by(np.full(n, 0.5 ** ((latest - t) / self.half_life)))
            before = 1.0
        else:
            before = 0.5 ** ((t - latest) / self.half_life) if latest is not None and t is not None else 1.0
        counter, view = self._view()
        decayed = self._storage.scaled(before, self._count_names) if before != 1.0 else self._storage
        view.over(decayed)  # counted into the decayed counts, which replace ours once the batch is in
        try:
            self._count_into(counter, batch, given)
        except BaseException:
            view.over(self._storage)
            raise
        if t is not None:
            decayed.host("_time")[:] = (1.0, t if latest is None else max(t, latest))
        self._storage = decayed
        self._cached = None

    def advance(self, timestamp: Any = None) -> None:
        """unit="seconds": decay the counts to timestamp (default clock()) without counting.
        An earlier time than the latest changes nothing."""
        if self.unit != "seconds":
            raise ValueError(f"advance() is for unit='seconds': counts of {self.unit} decay as they are counted")
        t, latest = self._time_of(timestamp), self._latest_time()
        assert t is not None
        if latest is None or t > latest:
            self._storage.scale(1.0 if latest is None else 0.5 ** ((t - latest) / self.half_life), self._count_names)
            self._time[:] = (1.0, t)
            self._cached = None

    def _check_merge_room(self, other: Decayed) -> None:
        # Both sides are scaled by at most 1 before they are added.
        self._check_sums_fit(zip(self._count_names, self._count_arrays(), other._count_arrays()))

    def _merge_state(self, other: Any) -> None:
        theirs = other._latest_time()
        if theirs is None:
            return
        latest = self._latest_time()
        now = theirs if latest is None else max(latest, theirs)
        self._storage.scale(1.0 if latest is None else 0.5 ** ((now - latest) / self.half_life), self._count_names)
        self._storage.add(other._storage.scaled(0.5 ** ((now - theirs) / self.half_life), self._count_names),
                          self._count_names)
        self._time[:] = (1.0, now)
