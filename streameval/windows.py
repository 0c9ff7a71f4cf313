"""Windowed: an exact window over the last samples, updates or seconds of a stream.

The window wraps a Binary, Multiclass or Multilabel accumulator used as a template: its
configuration says what is counted. The state is the template's arrays stacked per bucket (a
ring, see ``_slots``) plus a small position array; a batch is counted in one pass, each sample
into its bucket's slot, and queries read the sum of the buckets the current window holds.
Decayed, the other wrapper, is in ``streameval.decay`` (and importable from here).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _event_times, _inputs, limits
from ._batch import Prepared, kept, prepare
from ._event_times import BUCKET_LIMIT
from ._window_pairs import count_in_ring
from ._slots import (
    DEFAULT_MAX_SKEW,
    UNITS,
    SlotWrapper,
    check_unit,
    description,
    inner_layout,
    max_skew_of,
    position_array,
    positive_number,
    stacked_spec,
    template_error,
    template_of,
    with_max_skew,
)
from ._stateful import StateArrayAttribute
from ._state import Spec
from .accumulator import Accumulator
from .errors import TimestampError
from .serialization import Kind

__all__ = ["DEFAULT_MAX_SKEW", "UNITS", "Decayed", "Windowed"]

Metrics = dict[str, Any]
Callback = Callable[[Metrics], Any]


class Windowed(SlotWrapper):
    """An exact window over the last ``size`` samples, updates or seconds of a stream.

    ``Windowed(accumulator, size, *, unit="samples", buckets=None, step=None, max_skew=86400.0,
    clock=time.time)``

    accumulator: an empty Binary, Multiclass or Multilabel; its configuration says what each
    bucket counts (it is copied, never updated). Accumulators whose state grows with the data
    (Binary(exact=True), Multiclass(labels="auto")) cannot be cut into buckets and are refused.

    Buckets. The window is cut into ``buckets`` buckets of ``width = size / buckets`` units
    (samples and updates: buckets must divide size). Buckets are numbered from the start of the
    stream (samples, updates: bucket b holds samples b * width to (b + 1) * width - 1, or the
    samples of those update() calls) or from epoch time 0 (seconds: a sample at time t is in
    bucket floor(t / width), so the buckets of workers line up). A ring keeps the counts of the
    last ``buckets`` buckets; a batch that straddles a bucket boundary is cut there (sample_weight
    too), so every bucket is exact. A "sample" is a row of a batch, ignored rows included.

    Windows. ``step`` (a multiple of width; default width) is how far the window moves at a time:
    the windows are the spans [j * step - size, j * step) for whole j, in units since the start
    (samples, updates) or epoch seconds. step=None (or width) slides the window one bucket at a
    time; step=size gives tumbling windows, width < step < size hopping ones. Queries read the
    current window: the one that ends first among those holding the latest bucket. With n samples
    counted so far it holds the samples of index [ceil(n / step) * step - size, n): sliding (once
    n >= size), the last size samples when width divides n, else the last size - width + (n mod
    width); tumbling, the samples since the last boundary. unit="updates" reads the same with n update() calls;
    unit="seconds" with T the latest time, holds the samples of time in
    [(floor(T / step) + 1) * step - size, T], those of the latest bucket included.

    Closing. A window closes once its last bucket is complete: with samples or updates as soon as
    its last one is counted (queries still read it until the next sample arrives); with seconds
    when a time at or past its end arrives, by update() or advance(). ``on_window(callback)``
    then calls callback(metrics): the closed window's compute() plus "window_start" and
    "window_end" (its bounds as above; a stream's first windows start at 0). Windows that counted
    nothing are not reported.

    Time (unit="seconds"). update(..., timestamp=t) counts the batch at time t (epoch seconds);
    without a timestamp at ``clock()``. Time moves forward only: an older timestamp is counted into
    its bucket if the ring still holds it (a window already reported is not reported again), and
    one older than the ring raises ``TimestampError`` (a ValueError) with ``reason="late"``,
    changing nothing. A timestamp more than ``max_skew`` seconds (default one day) ahead of both
    the latest time seen (the end of the latest bucket) and ``clock()`` raises ``TimestampError``
    with ``reason="future"``, changing nothing: one wrong time far ahead would otherwise make
    every later sample late, for good. The clock is read for this only when the timestamp is that
    far ahead of the latest time, so a stream that resumes after a long pause is counted, and the
    first timestamp is bounded by the clock alone. ``max_skew=None`` removes the bound (e.g. to
    replay timestamps ahead of the clock); with another clock, pass it as ``clock=``. Queries do
    not read the clock: they describe the window as of the latest time; ``advance()`` moves it on
    to now without counting (``advance(t)`` with the same bound on t).

    Per-event times (unit="seconds"). ``timestamp`` may also be an (n_samples,) array, one time
    per sample: epoch seconds (numbers), numpy datetime64 of any unit, a pandas Series,
    DatetimeIndex or Timestamp (naive times read as UTC) or a pyarrow timestamp array (times
    read as epoch seconds; scalars of these types are one time). The result is that of feeding
    the samples one at a time in time order (stable): the window moves on to the batch's latest
    time, each sample is counted into its own bucket in one pass, late ones where the ring still
    holds them, and samples that leave the ring as the window moves (older than it at the
    batch's latest time) are checked but not counted. The bounds are the scalar ones, per sample,
    taken from the window as it was before the batch (a batch cannot vouch for its own times): a
    sample older than the ring, or more than max_skew ahead of both the latest time seen and
    clock(), makes the whole batch fail with ``TimestampError`` whose ``index`` is its position in
    the timestamp array, changing nothing; a time that is not one (NaN, inf, NaT, text) raises
    InputError naming ``timestamp[i]``. ``update(..., late="drop")`` counts the other samples
    instead and adds the number left out to ``n_dropped`` (this object's count, not serialized;
    with one time for the batch, a late batch is dropped whole). Other units refuse an array
    timestamp.

    Queries: every metric and attribute of the wrapped accumulator (accuracy(), f1(), compute(),
    report(), confusion_matrix(), roc_auc() with bins, n_samples...), on the current window;
    snapshot() returns it as a plain accumulator. Integer counts are exact; weighted counts are
    sums of bucket sums, equal to a fresh accumulator's up to rounding (1e-15 relative).

    Merging (unit="seconds" only): ``a.merge(b)``, ``a + b`` and ``sum([...])`` of windows
    configured alike add buckets of the same epoch index; the result's latest bucket is the later
    of the two, so it equals one window fed both streams in time order. merge() reports no window.
    Sample and update positions have no common clock across workers: merging raises
    IncompatibleError.

    Serialization keeps the ring and the position exactly; not the clock (a window read back uses
    time.time: assign ``.clock`` to change it) nor the callbacks, which copy() and ``+`` do not
    carry either. Cost: an update counts its batch in one pass, each sample into its bucket
    (one pass per bucket when closing windows are reported or bootstrap replicates are kept);
    memory is buckets times the accumulator's state, at most
    ``streameval.limits.MAX_STATE_BYTES`` (ValueError beyond). Counts stay exact: an update or merge
    that would take a bucket's total past ``streameval.limits.MAX_COUNT / buckets`` (weighted:
    past the largest float64 / buckets, so that every sum of buckets is finite) raises
    OverflowError and changes nothing. Threads may share a window: update, merge and queries hold
    its lock (reentrant: callbacks may query the window).

    >>> import streameval
    >>> w = Windowed(streameval.Multiclass(3), 4, buckets=2)
    >>> w.update([0, 1, 2], [0, 1, 1])
    >>> w.update([2, 2, 2], [2, 2, 2])  # 6 samples: the window holds the last 4
    >>> w.accuracy(), w.n_samples
    (0.75, 4)

    >>> w = Windowed(streameval.Multiclass(3), 60, unit="seconds", buckets=6)
    >>> w.update([0, 1, 2, 2], [0, 1, 1, 2], timestamp=[1_700_000_000, 1_700_000_030, 1_699_999_990, 1_700_000_059])
    >>> w.n_samples  # the window [1_700_000_000, 1_700_000_059]: the sample at ..._990 is no longer in it
    3
    """

    _KIND = Kind.WINDOWED
    _position = StateArrayAttribute()
    size: int | float
    buckets: int
    step: int | float
    _width: int | float
    _hop: int
    _callbacks: tuple[Callback, ...]
    n_dropped: int = 0  # samples left out by update(..., late="drop") (see the class docstring)

    def __init__(self, accumulator: Any, size: Any, *, unit: str = "samples", buckets: int | None = None,
                 step: Any = None, max_skew: float | None = DEFAULT_MAX_SKEW, clock: Any = time.time):
        template = template_of(accumulator)
        self.size, self.buckets, self.step, self._width, self._hop = _grid(size, unit, buckets, step)
        self.unit = unit
        self.max_skew = max_skew_of(max_skew, unit)
        self._callbacks = ()
        self._begin(template, template, clock)

    def _config(self) -> dict[str, Any]:
        config = {"accumulator": description(self._template), "size": self.size, "unit": self.unit,
                  "buckets": self.buckets, "step": self.step}
        return with_max_skew(config, self.max_skew)

    @classmethod
    def _state_spec(cls, accumulator: Any, size: Any, *, unit: Any = "samples", buckets: Any = None, step: Any = None,
                    max_skew: Any = DEFAULT_MAX_SKEW) -> Spec:
        _, _, spec = inner_layout(accumulator)
        n_buckets = _grid(size, unit, buckets, step)[1]
        max_skew_of(max_skew, unit)
        # Each count array stacked per ring slot; _position = (started, position): samples or
        # updates counted so far, or for seconds the index of the latest bucket.
        ring = stacked_spec(spec, n_buckets, f"this Windowed ({n_buckets:,} buckets of the accumulator's counts)")
        return Spec({**ring, "_position": position_array((2,), np.int64)})

    def _share(self) -> int:
        return self.buckets  # a bucket may total 1 / buckets of the bounds: every sum of buckets fits

    def _check_state(self) -> None:
        for name, ring in zip(self._count_names, self._count_arrays()):
            if not limits.total_fits(float(self._bucket_totals(ring).max()) * self.buckets, ring.dtype):
                raise ValueError(f"a bucket of {name} totals more than its share (1 / {self.buckets}) of "
                                 "streameval.limits' bounds on counts")
        started, position = self._position.tolist()
        if started not in (0, 1) or not abs(position) < BUCKET_LIMIT:
            raise ValueError(f"window position {self._position.tolist()} is not (0 or 1, position)")
        if self.unit != "seconds" and (position < 0 or started != (position > 0)):
            raise ValueError(f"window position {self._position.tolist()} is not (0, 0) or (1, a count > 0)")
        if self.unit == "seconds" and not started and position != 0:
            raise ValueError("a window that has seen no time has a position")

    # --- position --------------------------------------------------------------------------------

    def _latest_bucket(self) -> int | None:
        started, position = self._position.tolist()
        if not started:
            return None
        return int(position if self.unit == "seconds" else (position - 1) // self._width)

    def _latest_seen(self) -> float | None:
        latest = self._latest_bucket()
        return None if latest is None else (latest + 1) * self._width  # the latest bucket's end

    def _held(self, first: int, last: int) -> np.ndarray:
        """Ring slots of the buckets first..last that the ring holds (an array: rings may be long)."""
        return held_slots(self._latest_bucket(), self.buckets, first, last)

    def _sum(self, first: int, last: int) -> Accumulator:
        slots = self._held(first, last)
        return self._holding([ring[slots].sum(axis=0) for ring in self._count_arrays()])

    def _counts(self) -> Accumulator:
        latest = self._latest_bucket()
        if latest is None:
            return self._empty.copy()
        return self._sum(current_first(latest, self._hop, self.buckets), latest)

    def _entering(self, latest: int | None, last: int) -> list[int]:
        """The ring slots to empty before buckets up to last are counted: those of the buckets
        after latest (the ring moves on to them, dropping the buckets they held)."""
        return entering_slots(latest, last, self.buckets)

    # --- windows that close ----------------------------------------------------------------------

    def on_window(self, callback: Callback) -> Callback:
        """Call callback(metrics) each time a window closes (see the class docstring); returns callback."""
        if not callable(callback):
            raise TypeError(f"callback={callback!r} is not valid: expected a function of one dict")
        self._callbacks = (*self._callbacks, callback)  # a new tuple: copies never share the callbacks
        return callback

    def _closed(self, end: int) -> Metrics | None:
        """The metrics of the window of buckets end - buckets .. end - 1; None if it counted nothing."""
        window = self._sum(end - self.buckets, end - 1)
        if window.is_empty:
            return None
        start = (end - self.buckets) * self._width
        return {**window.compute(), "window_start": start if self.unit == "seconds" else max(start, 0),
                "window_end": end * self._width}

    def _report(self, closed: list[Metrics | None]) -> None:
        for metrics in closed:
            if metrics is not None:
                for callback in self._callbacks:
                    callback(dict(metrics))

    # --- updates ---------------------------------------------------------------------------------

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None, timestamp: Any = None, *,
               late: str = "refuse") -> None:
        """Count a batch, as the wrapped accumulator's update(); unit="seconds" counts it at
        ``timestamp``: one time for the batch, or an (n_samples,) array of times, one per sample
        (see "Per-event times" in the class docstring); at clock() when None.

        A failed update raises the wrapped accumulator's error for the batch (a ValueError for a
        bad timestamp, TimestampError for one too old or too far ahead, OverflowError for counts
        that would overflow) and changes nothing: counts, ring and position. late="drop" counts a
        batch whose samples (or whose one time) are older than the ring holds without them, and
        adds their number to ``n_dropped``.
        """
        given = (y_true, y_pred, sample_weight)
        if self.unit == "samples" and timestamp is None:  # the commonest window, in the fewest steps
            closed = self._count_samples(given)
            self._cached = None
            if closed:
                self._report(closed)
            return
        if late not in ("refuse", "drop"):
            raise ValueError(f"late={late!r} is not valid: expected 'refuse' or 'drop'")
        if timestamp is not None:
            timestamp = self._times(timestamp)
            if isinstance(timestamp, np.ndarray):
                closed = self._count_times(timestamp, given, late == "drop")
                self._cached = None
                self._report(closed)
                return
        time_now = self._time_of(timestamp)
        if self.unit == "seconds":
            assert time_now is not None
            closed = self._count_at(time_now, given, late == "drop")
        elif self.unit == "updates":
            closed = self._count_update(given)
        else:
            closed = self._count_samples(given)
        self._cached = None
        self._report(closed)

    def _count_in(self, buckets: list[int], pieces: list[int], batch: Prepared, given: tuple[Any, Any, Any],
                  latest: int | None) -> None:
        """Count the batch, whose consecutive pieces of these lengths fall in these buckets (after
        the latest one, or in it), in one pass: empty the slots the ring moves on to, then count
        each sample into its bucket's slot. A failure puts the emptied slots back."""
        counter, view = self._view()
        entering = self._entering(latest, buckets[-1]) if latest is None or buckets[-1] > latest else []
        saved = view.saved(entering) if entering else {}
        if entering:
            view.zero(entering)
        slots = [bucket % self.buckets for bucket in buckets]
        if len(slots) == 1:
            view.aim(slot=slots[0])
        else:
            view.aim(slots=np.repeat(np.array(slots, dtype=np.int64), pieces), touched=slots)
        try:
            self._count_into(counter, batch, given)
        except BaseException:
            if entering:
                view.restore(entering, saved)
            raise

    def _count_samples(self, given: tuple[Any, Any, Any]) -> list[Metrics | None]:
        batch = prepare(*given, self._template._layout)
        position = self._storage.host("_position")
        started, done = position.tolist()
        n, width = batch.n, self._width
        latest = (done - 1) // width if started else None
        if n == 0:
            self._check_batch(batch, given)  # counts nothing, but checks dtypes
            return []
        first, last = done // width, (done + n - 1) // width
        # Buckets that leave the ring within this batch need only be checked, unless they close
        # windows to report.
        keep = first if self._callbacks else max(first, last - self.buckets + 1)
        skipped = keep * width - done if keep > first else 0
        if count_in_ring(self, batch, keep, (keep + 1) * width - done, int(width), skipped, latest, last):
            position[0], position[1] = 1, done + n
            return []
        if last == latest:
            # The common case, a batch inside the latest bucket: counted into its slot as it is.
            counter, view = self._view()
            view.aim(slot=latest % self.buckets)
            try:
                counter._count(batch)
            except (TypeError, ValueError) as exc:
                raise template_error(self._template, given, exc) from None
            position[1] = done + n
            return []
        if skipped:
            self._check_batch(batch.cut(0, skipped), given)
            batch = batch.cut(skipped, n)
        buckets = list(range(keep, last + 1))
        ends = [min((bucket + 1) * width - done, n) for bucket in buckets]
        pieces = [hi - max(bucket * width - done, skipped) for bucket, hi in zip(buckets, ends)]
        if len(buckets) > 1 and (self._callbacks or self._template.bootstrap is not None):
            return self._count_pieces(buckets, pieces, batch, given, done + skipped)
        self._count_in(buckets, pieces, batch, given, latest)
        done += n
        position[0], position[1] = 1, done
        if self._callbacks and (done - n) // width < done // width and (done // width) % self._hop == 0:
            return [self._closed(done // width)]
        return []

    def _count_pieces(self, buckets: list[int], pieces: list[int], batch: Prepared, given: tuple[Any, Any, Any],
                      done: int) -> list[Metrics | None]:
        """A batch spanning buckets, counted bucket by bucket: the windows that close within it
        are read between them, and bootstrap replicates are drawn per bucket. A failure puts the
        whole state back as it was (it is copied first: this path is the rare one)."""
        before, width = self._storage.copy(), int(self._width)  # samples: whole buckets
        closed: list[Metrics | None] = []
        try:
            lo = 0
            for bucket, k in zip(buckets, pieces):
                self._count_in([bucket], [k], batch.cut(lo, lo + k), given, self._latest_bucket())
                lo += k
                done += k
                self._position[:] = (1, done)
                if self._callbacks and (done - k) // width < done // width and (done // width) % self._hop == 0:
                    closed.append(self._closed(done // width))
        except BaseException:
            self._storage = before
            self._state_loaded()
            raise
        return closed

    def _count_update(self, given: tuple[Any, Any, Any]) -> list[Metrics | None]:
        batch = self._prepare(given)
        position = self._storage.host("_position")
        started, done = position.tolist()
        width = int(self._width)  # updates: whole buckets
        bucket = done // width
        latest = (done - 1) // width if started else None
        fused = batch.n > 0 and count_in_ring(self, batch, bucket, batch.n, width, 0, latest, bucket)
        if not fused and latest == bucket:
            # The common case, an update inside the latest bucket: no slot to empty, counted into its slot.
            counter, view = self._view()
            view.aim(slot=bucket % self.buckets)
            self._count_into(counter, batch, given)
        elif not fused:
            self._count_in([bucket], [batch.n], batch, given, latest)
        done += 1
        position[0], position[1] = 1, done
        if self._callbacks and done % width == 0 and (done // width) % self._hop == 0:
            return [self._closed(done // width)]
        return []

    def _bucket_of(self, t: float, name: str) -> int:
        return bucket_of(t, self._width, name)

    def _count_at(self, t: float, given: tuple[Any, Any, Any], drop: bool = False) -> list[Metrics | None]:
        bucket, latest = self._bucket_of(t, "timestamp"), self._latest_bucket()
        if latest is not None and bucket <= latest - self.buckets:
            if drop:  # late="drop": the batch is checked, not counted
                batch = self._prepare(given)
                self._check_batch(batch, given)
                self.n_dropped += batch.shape[0] if batch.shape is not None else batch.n
                return []
            raise late_error(t, latest, self.buckets, self._width)
        batch = self._prepare(given)
        closed = self._closing(latest, bucket)  # read before the ring moves on
        self._count_in([bucket], [batch.n], batch, given, latest)
        if latest is None or bucket > latest:
            self._position[:] = (1, bucket)
        return closed

    # --- per-event times -------------------------------------------------------------------------

    def _times(self, timestamp: Any) -> Any:
        return _event_times.times_for(self.unit, "Windowed", timestamp)

    def _count_times(self, times: np.ndarray, given: tuple[Any, Any, Any], drop: bool) -> list[Metrics | None]:
        """unit="seconds", one time per sample: each sample into its bucket's slot in one pass,
        the window moved on to the latest time, as feeding the samples one at a time in time
        order would. Refused whole (TimestampError naming the first bad time) when a time is
        older than the ring or further ahead than max_skew; drop: the late ones are left out."""
        batch = self._prepare(given)
        rows = batch.shape[0] if batch.shape is not None else batch.n
        _event_times.check_count(times, rows)
        latest = self._latest_bucket()
        buckets, old = _event_times.event_buckets(times, self._width, self.buckets, latest, self.max_skew,
                                                  self.clock, drop)
        if rows == 0:
            self._check_batch(batch, given)
            return []
        newest = int(buckets.max())
        end = newest if latest is None else max(latest, newest)
        per_row = batch.n // rows
        if self._callbacks or self._template.bootstrap is not None:
            return self._count_buckets(buckets, old, batch, given, per_row)
        # Samples that leave the ring within their own batch (older than the ring at the new
        # latest time) are checked, not counted, as are the late ones dropped.
        gone = buckets <= end - self.buckets
        if gone.any():
            self._check_batch(kept(batch, _elements(np.flatnonzero(gone), per_row)), given)
            keep = np.flatnonzero(~gone)
            batch, buckets = kept(batch, _elements(keep, per_row)), buckets[keep]
        slots = buckets % self.buckets
        if per_row != 1:
            slots = np.repeat(slots, per_row)
        touched = np.flatnonzero(np.bincount(slots, minlength=self.buckets)).tolist()
        counter, view = self._view()
        entering = self._entering(latest, end) if latest is None or end > latest else []
        saved = view.saved(entering) if entering else {}
        if entering:
            view.zero(entering)
        if len(touched) == 1:
            view.aim(slot=touched[0])
        elif touched:
            view.aim(slots=slots, touched=touched)
        try:
            if touched:
                self._count_into(counter, batch, given)
        except BaseException:
            if entering:
                view.restore(entering, saved)
            raise
        self._position[:] = (1, end)
        if old is not None:
            self.n_dropped += int(old.sum())
        return []

    def _count_buckets(self, buckets: np.ndarray, old: np.ndarray | None, batch: Prepared,
                       given: tuple[Any, Any, Any], per_row: int) -> list[Metrics | None]:
        """Per-sample times when windows that close are reported or bootstrap replicates are
        drawn: the batch counted bucket by bucket in time order (each bucket touched once), the
        windows closing between them read as they close. A failure puts the whole state back."""
        order = np.argsort(buckets, kind="stable")
        ordered = buckets[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        before = self._storage.copy()
        closed: list[Metrics | None] = []
        try:
            if old is not None:
                self._check_batch(kept(batch, _elements(np.flatnonzero(old), per_row)), given)
            for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), ordered.shape[0]]):
                bucket, latest = int(ordered[lo]), self._latest_bucket()
                if latest is not None and bucket <= latest - self.buckets:
                    continue  # late ones, dropped (checked above)
                rows = np.sort(order[lo:hi])
                piece = kept(batch, _elements(rows, per_row))
                closed += self._closing(latest, bucket)
                self._count_in([bucket], [piece.n], piece, given, latest)
                if latest is None or bucket > latest:
                    self._position[:] = (1, bucket)
        except BaseException:
            self._storage = before
            self._state_loaded()
            raise
        if old is not None:
            self.n_dropped += int(old.sum())
        return closed

    def _closing(self, latest: int | None, bucket: int) -> list[Metrics | None]:
        """unit="seconds": the metrics of the windows that close when bucket becomes the latest."""
        if latest is None or bucket <= latest or not self._callbacks:
            return []
        # Windows ending after the latest bucket, up to bucket; past latest + buckets they are empty.
        first_end = (latest // self._hop + 1) * self._hop
        return [self._closed(end) for end in range(first_end, min(bucket, latest + self.buckets) + 1, self._hop)]

    def _move_to(self, bucket: int) -> list[Metrics | None]:
        """unit="seconds": make bucket the latest, if later; the metrics of the windows this closes."""
        latest = self._latest_bucket()
        if latest is not None and bucket <= latest:
            return []
        closed = self._closing(latest, bucket)
        self._view()[1].zero(self._entering(latest, bucket))
        self._position[:] = (1, bucket)
        return closed

    def advance(self, timestamp: Any = None) -> None:
        """unit="seconds": move the window on to timestamp (default clock()) without counting.

        Buckets that fall out are dropped and windows that close are reported. An earlier time
        than the latest changes nothing.
        """
        if self.unit != "seconds":
            raise ValueError(f"advance() is for unit='seconds': a window of {self.unit} moves as they are counted")
        t = self._time_of(timestamp)
        assert t is not None
        closed = self._move_to(self._bucket_of(t, "timestamp"))
        self._cached = None
        self._report(closed)

    def copy(self) -> Windowed:
        new = super().copy()
        new._callbacks = ()
        return new

    copy.__doc__ = SlotWrapper.copy.__doc__

    # --- merge -----------------------------------------------------------------------------------

    def _bucket_totals(self, ring: np.ndarray) -> np.ndarray:
        """The float64 total of |counts| of each slot of a ring."""
        with np.errstate(over="ignore", invalid="ignore"):  # an infinite total is refused by the caller
            totals: np.ndarray = np.abs(ring.reshape(self.buckets, -1), dtype=np.float64).sum(axis=1)
        return totals

    def _check_merge_room(self, other: Windowed) -> None:
        # Slot by slot (the ring's slot s holds the bucket b with b % buckets = s on both sides).
        for name, mine, arr in zip(self._count_names, self._count_arrays(), other._count_arrays()):
            with np.errstate(over="ignore", invalid="ignore"):
                largest = float((self._bucket_totals(mine) + self._bucket_totals(arr)).max())
            self._check_total(name, largest, mine.dtype, "merged", self.buckets)

    def _check_loaded(self, arrays: dict[str, np.ndarray]) -> None:
        for name in self._count_names:
            self._check_total(name, float(self._bucket_totals(arrays[name]).max()), arrays[name].dtype, "loaded",
                              self.buckets)

    def _merge_state(self, other: Any) -> None:
        theirs = other._latest_bucket()
        if theirs is None:
            return
        latest = self._latest_bucket()
        end = theirs if latest is None else max(latest, theirs)
        self._move_to(end)
        slots = other._held(end - self.buckets + 1, theirs)  # their buckets still in the merged ring
        self._add_slots(other, slots, slots)


def _elements(rows: np.ndarray, per_row: int) -> np.ndarray:
    """The flat indices of the elements of these rows (inputs of any rank: per_row elements each)."""
    if per_row == 1:
        return rows
    return (rows[:, None] * per_row + np.arange(per_row)).reshape(-1)


# --- the ring's arithmetic (Windowed's, and Sliced's windows: streameval._slice_windows) ---------


def bucket_of(t: float, width: float, name: str) -> int:
    """The index of the bucket of time t (buckets of width seconds from epoch 0)."""
    quotient = t / width
    if not abs(quotient) < BUCKET_LIMIT:
        raise ValueError(f"{name}={t!r} is too far from epoch 0 for buckets of {width!r} seconds")
    return math.floor(quotient)


def late_error(t: float, latest: int, n_buckets: int, width: float) -> TimestampError:
    """The error of one time t older than a ring of n_buckets whose latest bucket is latest."""
    oldest = (latest - n_buckets + 1) * width
    return TimestampError(f"timestamp={t!r} is older than the window: the oldest bucket kept starts at {oldest!r}",
                          "late")


def held_slots(latest: int | None, n_buckets: int, first: int, last: int) -> np.ndarray:
    """Ring slots of the buckets first..last that a ring whose latest bucket is latest holds."""
    if latest is None:
        return np.zeros(0, np.intp)
    return np.arange(max(first, latest - n_buckets + 1), min(last, latest) + 1) % n_buckets


def current_first(latest: int, hop: int, n_buckets: int) -> int:
    """The first bucket of the current window (the one ending first after the latest bucket)."""
    return (latest // hop + 1) * hop - n_buckets


def entering_slots(latest: int | None, last: int, n_buckets: int) -> list[int]:
    """The ring slots to empty before buckets up to last (> latest) are counted."""
    if latest is not None and last == latest + 1:  # the common case: the next bucket
        return [last % n_buckets]
    first = last - n_buckets + 1 if latest is None else max(latest + 1, last - n_buckets + 1)
    return [bucket % n_buckets for bucket in range(first, last + 1)]


# --- configuration ------------------------------------------------------------------------------


def _whole_ratio(a: Any, b: Any) -> int | None:
    """a / b when it is a whole number (floats: to 1e-9 relative), else None."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b if a % b == 0 else None
    quotient = a / b
    if not math.isfinite(quotient):
        return None
    whole = round(quotient)
    return whole if whole >= 1 and math.isclose(quotient, whole, rel_tol=1e-9) else None


def _grid(size: Any, unit: Any, buckets: Any, step: Any) -> tuple[Any, int, Any, Any, int]:
    """(size, buckets, step, bucket width, step in buckets), checked and normalized."""
    counted = check_unit(unit) != "seconds"  # samples and updates come in whole units
    if counted:
        _inputs.check_count("size", size)
        size = int(size)
    else:
        size = positive_number("size", size)
    if step is not None:
        if counted:
            _inputs.check_count("step", step)
            step = int(step)
        else:
            step = positive_number("step", step)
        if step > size:
            raise ValueError(f"step={step!r} is larger than size={size!r}: windows would skip samples")
    if buckets is None:
        if step is None:
            raise ValueError("buckets= is needed: a sliding window (step=None) moves one bucket at a time, so "
                             "size / buckets is how finely it moves")
        buckets = _whole_ratio(size, step)
        if buckets is None:
            raise ValueError(f"size={size!r} is not a multiple of step={step!r}: give buckets= too")
    _inputs.check_count("buckets", buckets)
    buckets = int(buckets)
    if counted and size % buckets:
        raise ValueError(f"buckets={buckets} does not divide size={size}: a bucket holds a whole number of {unit}")
    width = size // buckets if counted else size / buckets
    hop = 1 if step is None else _whole_ratio(step, width)
    if hop is None:
        raise ValueError(f"step={step!r} is not a multiple of the bucket width size / buckets = {width!r}")
    return size, buckets, width if step is None else step, width, hop


from .decay import Decayed  # noqa: E402  (streameval.windows.Decayed, as before the split)
