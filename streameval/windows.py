"""Windows and decay over an accumulator's counts: Windowed and Decayed.

Both wrap a Binary, Multiclass or Multilabel accumulator used as a template: its configuration
says what is counted, the wrapper decides which samples count and how much. Neither stores
samples. Windowed keeps a ring of per-bucket counts and drops a bucket as the window moves past
it; Decayed keeps one set of float64 counts that halve every ``half_life``. Queries are the
wrapped accumulator's own methods, run on an accumulator holding the current counts.

The state is only arrays (the ring is the wrapped accumulator's arrays stacked per bucket, plus a
small position array), so Accumulator's state layer serves unchanged: ``==``, ``to_bytes`` /
``streameval.from_bytes``, ``to_dict`` / ``from_dict``, pickling and ``save`` / ``streameval.load``.
The configuration names the wrapped accumulator by its description ``{"kind": class name,
"config": its constructor's arguments}``, which the constructors accept in its place.
"""

from __future__ import annotations

import functools
import math
import time
from typing import ClassVar

import numpy as np

from . import _inputs, _locking, limits, serialization
from ._state import Merge, Role, Spec, StateArray, stacked
from ._stateful import StateArrayAttribute
from ._storage import NumpyStorage
from .accumulator import Accumulator, Summable
from .errors import IncompatibleError, TimestampError
from .serialization import Kind
from .statevector import StateVector

UNITS = ("samples", "updates", "seconds")
_BUCKET_LIMIT = 1 << 62  # bucket indices of timestamps, kept well inside int64
DEFAULT_MAX_SKEW = 86400.0  # seconds a timestamp may run ahead of the latest time seen and of the clock


class _CountsWrapper(Summable, StateVector):
    """What Windowed and Decayed share: the template, the lock, forwarded queries and the state layer."""

    _KIND: ClassVar[int]
    unit: str

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        registered = serialization.REGISTRY.get(cls._KIND)
        if registered is not None and registered.__name__ != cls.__name__:
            raise RuntimeError(f"serialization kind {cls._KIND} is taken by {registered.__name__}")
        serialization.REGISTRY[cls._KIND] = cls
        _locking.lock_public_methods(cls)  # one reentrant lock per instance, as accumulators have

    def _start(self, template: Accumulator, empty: Accumulator, clock) -> None:
        """Keep the template (the user's configuration) and empty (the counts' type), allocate the state."""
        if not callable(clock):
            raise TypeError(f"clock={clock!r} is not valid: expected a function returning seconds, as time.time")
        self._template, self._empty, self.clock = template, empty, clock
        self._frozen_config = self._config()
        self._spec = self._state_spec(**self._frozen_config)
        self._count_names = self._spec.vector
        self.reset()

    def _config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def _state_spec(cls, **config) -> dict:
        raise NotImplementedError

    def _counts(self) -> Accumulator:
        """A new accumulator holding the counts the queries read."""
        raise NotImplementedError

    # --- state: arrays named by self._spec, as an accumulator's -----------------------------------

    _arrays = Accumulator._arrays
    to_bytes = Accumulator.to_bytes
    to_dict = Accumulator.to_dict
    save = Accumulator.save
    __reduce__ = Accumulator.__reduce__
    __eq__ = Accumulator.__eq__  # same type, configuration and arrays; the clock and callbacks are not compared
    _check_compatible = Accumulator._check_compatible

    def unsummable_reason(self) -> str | None:
        """Why these counts cannot be added to another worker's (state vectors, merge, sync), or None."""
        if self.unit == "seconds":
            return None
        return (f"only unit='seconds' merges, by epoch time; positions in a stream of {self.unit} have no "
                "common clock across workers")

    _merge_refusal = unsummable_reason
    __hash__ = None  # mutable

    def _state_loaded(self) -> None:
        self._cached = None

    _count_names: tuple  # the state arrays that are counts, in order (set by _start)

    def _count_arrays(self) -> list[np.ndarray]:
        return [self._storage.host(name) for name in self._count_names]

    def reset(self) -> None:
        """Forget every sample: counts and position back to the start; the configuration stays."""
        self._storage = NumpyStorage.zeros(self._spec)
        self._cached = None

    def copy(self):
        """An independent copy: same configuration, same counts and position (no callbacks)."""
        new = object.__new__(type(self))
        new.__dict__ = _locking.unlocked_dict(self)
        new._storage = self._storage.copy()
        new._cached = None
        return new

    def _holding(self, arrays) -> Accumulator:
        acc = self._empty.copy()
        acc._storage.assign(dict(zip(acc._spec, arrays)))
        return acc

    # --- queries ---------------------------------------------------------------------------------

    def _current(self) -> Accumulator:
        # Built once per change of state: a logger reading ten metrics sums the buckets once.
        if self._cached is None:
            self._cached = self._counts()
        return self._cached

    def snapshot(self) -> Accumulator:
        """A plain accumulator (a copy) holding the counts the queries read."""
        return self._current().copy()

    def __getattr__(self, name):
        # State arrays by their declared names; then every public method and attribute of the
        # wrapped accumulator that is not ours (update, merge, reset... are) reads the current
        # counts, under our lock.
        storage = self.__dict__.get("_storage")
        if storage is not None and name in storage.spec:
            return storage.host(name)
        template = self.__dict__.get("_template")
        if name.startswith("_") or template is None or not (hasattr(type(template), name) or name in template.__dict__):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        method = getattr(type(template), name, None)
        if callable(method):

            @functools.wraps(method)
            def query(*args, **kwargs):
                with _locking.lock_of(self):
                    return getattr(self._current(), name)(*args, **kwargs)

            return query
        with _locking.lock_of(self):
            return getattr(self._current(), name)

    def _describe(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._frozen_config.items() if k != "accumulator")
        return f"{type(self).__name__}({self._template._describe()}, {settings})"

    def __repr__(self) -> str:
        return f"<{self._describe()} n_samples={self.n_samples}>"

    # --- updates ---------------------------------------------------------------------------------

    def _time_of(self, timestamp) -> float | None:
        """unit="seconds": the checked timestamp, or clock() when None. Other units take none."""
        if self.unit != "seconds":
            if timestamp is not None:
                raise ValueError(f"timestamp={timestamp!r} was given, but this {type(self).__name__} counts "
                                 f"{self.unit}: timestamps are for unit='seconds'")
            return None
        if timestamp is None:
            return _finite_time(self.clock(), "clock()")
        t = _finite_time(timestamp, "timestamp")
        self._check_skew(t)
        return t

    def _latest_seen(self) -> float | None:
        """unit="seconds": the latest time counted or advanced to (at most this), or None."""
        raise NotImplementedError

    def _check_skew(self, t: float, what: str = "timestamp={t!r}") -> None:
        """TimestampError(reason="future") when t is more than max_skew ahead of both the latest
        time seen and clock(): one wrong time far ahead would make every later sample late. The
        clock is read only then, so a stream that resumes after a long pause is not refused."""
        if self.max_skew is None:
            return
        latest = self._latest_seen()
        if latest is not None and t <= latest + self.max_skew:
            return
        now = _finite_time(self.clock(), "clock()")
        if t <= now + self.max_skew:
            return
        seen = "no time seen yet" if latest is None else f"the latest time seen is {latest!r}"
        raise TimestampError(
            f"{what.format(t=t)} is more than max_skew={self.max_skew!r} seconds ahead of the clock (clock() = "
            f"{now!r}; {seen}): a wrong time this far ahead would make every later sample late. Check that "
            "timestamps are epoch seconds, or give max_skew= a larger bound (None: no bound)", "future")

    def _fed(self, batch: tuple, given: tuple) -> Accumulator:
        """An empty accumulator of the counts' type fed batch (the user's batch, a piece of it, or
        it with decayed weights). On failure, raise the error the wrapped accumulator gives for the
        batch as given, which names the user's arguments and positions."""
        counts = self._empty.copy()
        try:
            counts.update(*batch)
        except (TypeError, ValueError) as exc:
            raise _template_error(self._template, given, exc) from None
        return counts

    # --- merge -----------------------------------------------------------------------------------

    def _merge_state(self, other) -> None:
        raise NotImplementedError

    def _check_merge_room(self, other) -> None:
        """OverflowError, changing nothing, when merging other would overflow a count."""
        raise NotImplementedError

    def merge(self, other):
        """Add other's counts in place and return self; other is unchanged. Only unit="seconds"
        merges: IncompatibleError, changing nothing, otherwise or when configurations differ.
        TimestampError (reason "future") when other's latest time is further ahead than max_skew
        allows a timestamp to be (it would move this one there too); OverflowError when a sum
        would overflow. Either changes nothing."""
        self._check_compatible(other)
        reason = self._merge_refusal()
        if reason:
            raise IncompatibleError(f"Cannot merge {self._describe()}: {reason}")
        theirs = other._latest_seen()
        if theirs is not None:
            self._check_skew(theirs, "the latest time of the merged one, {t!r},")
        self._check_merge_room(other)
        self._merge_state(other)
        self._cached = None
        return self


class Windowed(_CountsWrapper):
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
    carry either. Cost: an update counts one piece per bucket the batch touches, so buckets wider
    than batches are cheapest; memory is buckets times the accumulator's state, at most
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
    """

    _KIND = Kind.WINDOWED
    _position = StateArrayAttribute()

    def __init__(self, accumulator, size, *, unit: str = "samples", buckets: int | None = None, step=None,
                 max_skew: float | None = DEFAULT_MAX_SKEW, clock=time.time):
        template = _template(accumulator)
        self.size, self.buckets, self.step, self._width, self._hop = _grid(size, unit, buckets, step)
        self.unit = unit
        self.max_skew = _max_skew(max_skew, unit)
        self._callbacks = ()
        self._start(template, template, clock)

    def _config(self) -> dict:
        config = {"accumulator": _description(self._template), "size": self.size, "unit": self.unit,
                  "buckets": self.buckets, "step": self.step}
        return _with_max_skew(config, self.max_skew)

    @classmethod
    def _state_spec(cls, accumulator, size, *, unit="samples", buckets=None, step=None,
                    max_skew=DEFAULT_MAX_SKEW) -> dict:
        _, _, spec = _inner_layout(accumulator)
        n_buckets = _grid(size, unit, buckets, step)[1]
        _max_skew(max_skew, unit)
        # Each count array stacked per ring slot; _position = (started, position): samples or
        # updates counted so far, or for seconds the index of the latest bucket.
        ring = stacked(spec, n_buckets)
        limits.check_state_size(ring, f"this Windowed ({n_buckets:,} buckets of the accumulator's counts)")
        return Spec({**ring, "_position": _where((2,), np.int64)})

    def _check_state(self) -> None:
        for name, ring in zip(self._count_names, self._count_arrays()):
            if not limits.total_fits(float(self._bucket_totals(ring).max()) * self.buckets, ring.dtype):
                raise ValueError(f"a bucket of {name} totals more than its share (1 / {self.buckets}) of "
                                 "streameval.limits' bounds on counts")
        started, position = self._position.tolist()
        if started not in (0, 1) or not abs(position) < _BUCKET_LIMIT:
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
        return position if self.unit == "seconds" else (position - 1) // self._width

    def _latest_seen(self) -> float | None:
        latest = self._latest_bucket()
        return None if latest is None else (latest + 1) * self._width  # the latest bucket's end

    def _slots(self, first: int, last: int) -> np.ndarray:
        """Ring slots of the buckets first..last that the ring holds (an array: rings may be long)."""
        latest = self._latest_bucket()
        if latest is None:
            return np.zeros(0, np.intp)
        return np.arange(max(first, latest - self.buckets + 1), min(last, latest) + 1) % self.buckets

    def _sum(self, first: int, last: int) -> Accumulator:
        slots = self._slots(first, last)
        return self._holding([ring[slots].sum(axis=0) for ring in self._count_arrays()])

    def _counts(self) -> Accumulator:
        latest = self._latest_bucket()
        if latest is None:
            return self._empty.copy()
        end = (latest // self._hop + 1) * self._hop  # the first window end after the latest bucket
        return self._sum(end - self.buckets, latest)

    def _enter(self, bucket: int) -> None:
        """Make room for bucket as the latest: zero the slots of the buckets the ring moves on to."""
        latest = self._latest_bucket()
        if latest is not None and bucket <= latest:
            return
        first = bucket - self.buckets + 1 if latest is None else max(latest + 1, bucket - self.buckets + 1)
        slots = np.arange(first, bucket + 1) % self.buckets
        for ring in self._count_arrays():
            ring[slots] = 0

    def _add(self, bucket: int, counts: Accumulator) -> None:
        for ring, arr in zip(self._count_arrays(), counts._arrays()):
            ring[bucket % self.buckets] += arr

    def _check_room(self, pieces: list[tuple[int, Accumulator]]) -> None:
        """OverflowError, before anything is counted, when adding a piece ((bucket, counts)) to its
        slot would take the slot's total past its share (1 / buckets) of streameval.limits' bounds:
        every sum of buckets a query makes then fits too. (Two pieces of one batch share a slot
        only when the later one's bucket empties it first, so each is checked on its own.)"""
        names, rings = self._count_names, self._count_arrays()
        for bucket, counts in pieces:
            slot = bucket % self.buckets
            for name, ring, arr in zip(names, rings, counts._arrays()):
                total = limits.abs_totals(ring[slot], arr)
                if not limits.total_fits(total * self.buckets, ring.dtype):
                    self._check_total(name, total, ring.dtype, "counted", self.buckets)  # raises, saying why

    # --- windows that close ----------------------------------------------------------------------

    def on_window(self, callback):
        """Call callback(metrics) each time a window closes (see the class docstring); returns callback."""
        if not callable(callback):
            raise TypeError(f"callback={callback!r} is not valid: expected a function of one dict")
        self._callbacks = (*self._callbacks, callback)  # a new tuple: copies never share the callbacks
        return callback

    def _closed(self, end: int) -> dict | None:
        """The metrics of the window of buckets end - buckets .. end - 1; None if it counted nothing."""
        window = self._sum(end - self.buckets, end - 1)
        if window.is_empty:
            return None
        start = (end - self.buckets) * self._width
        return {**window.compute(), "window_start": start if self.unit == "seconds" else max(start, 0),
                "window_end": end * self._width}

    def _report(self, closed: list) -> None:
        for metrics in closed:
            if metrics is not None:
                for callback in self._callbacks:
                    callback(dict(metrics))

    # --- updates ---------------------------------------------------------------------------------

    def update(self, y_true, y_pred, sample_weight=None, timestamp=None) -> None:
        """Count a batch, as the wrapped accumulator's update(); unit="seconds" counts it at
        ``timestamp`` (epoch seconds), or at clock() when None.

        A failed update raises the wrapped accumulator's error for the batch (a ValueError for a
        bad timestamp, TimestampError for one too old or too far ahead, OverflowError for counts
        that would overflow) and changes nothing: counts, ring and position.
        """
        given = (y_true, y_pred, sample_weight)
        time_now = self._time_of(timestamp)
        if self.unit == "seconds":
            closed = self._count_at(time_now, given)
        elif self.unit == "updates":
            closed = self._count_update(given)
        else:
            closed = self._count_samples(given)
        self._cached = None
        self._report(closed)

    def _count_samples(self, given: tuple) -> list:
        try:
            batch = _cuttable(*given)
        except (TypeError, ValueError) as exc:
            raise _template_error(self._template, given, exc) from None
        n, done, width = batch[0].shape[0], self._position.tolist()[1], self._width
        if n == 0:
            self._fed(batch, given)  # counts nothing, but checks shapes and types
            return []
        first, last = done // width, (done + n - 1) // width
        # Buckets that leave the ring within this batch need only be checked, unless they close
        # windows to report.
        keep = first if self._callbacks else max(first, last - self.buckets + 1)
        skipped = keep * width - done if keep > first else 0
        if skipped:
            self._fed(_cut(batch, 0, skipped), given)
        pieces = []
        for bucket in range(keep, last + 1):
            lo, hi = max(bucket * width - done, 0), min((bucket + 1) * width - done, n)
            pieces.append((bucket, self._fed(_cut(batch, lo, hi), given), hi - lo))
        self._check_room([(bucket, counts) for bucket, counts, _ in pieces])
        # Every piece counted: commit. (Skipped buckets leave the ring as the kept ones enter it.)
        done += skipped
        closed = []
        for bucket, counts, k in pieces:
            self._enter(bucket)
            self._add(bucket, counts)
            done += k
            self._position[:] = (1, done)
            if self._callbacks and (done - k) // width < done // width and (done // width) % self._hop == 0:
                closed.append(self._closed(done // width))
        return closed

    def _count_update(self, given: tuple) -> list:
        counts = self._fed(given, given)
        done = self._position.tolist()[1]
        self._check_room([(done // self._width, counts)])
        self._enter(done // self._width)
        self._add(done // self._width, counts)
        done += 1
        self._position[:] = (1, done)
        if self._callbacks and done % self._width == 0 and (done // self._width) % self._hop == 0:
            return [self._closed(done // self._width)]
        return []

    def _bucket_of(self, t: float, name: str) -> int:
        quotient = t / self._width
        if not abs(quotient) < _BUCKET_LIMIT:
            raise ValueError(f"{name}={t!r} is too far from epoch 0 for buckets of {self._width!r} seconds")
        return math.floor(quotient)

    def _count_at(self, t: float, given: tuple) -> list:
        bucket, latest = self._bucket_of(t, "timestamp"), self._latest_bucket()
        if latest is not None and bucket <= latest - self.buckets:
            oldest = (latest - self.buckets + 1) * self._width
            raise TimestampError(f"timestamp={t!r} is older than the window: the oldest bucket kept starts at "
                                 f"{oldest!r}", "late")
        counts = self._fed(given, given)
        self._check_room([(bucket, counts)])
        closed = self._move_to(bucket)
        self._add(bucket, counts)
        return closed

    def _move_to(self, bucket: int) -> list:
        """unit="seconds": make bucket the latest, if later; the metrics of the windows this closes."""
        latest = self._latest_bucket()
        if latest is not None and bucket <= latest:
            return []
        closed = []
        if latest is not None and self._callbacks:
            # Windows ending after the latest bucket, up to bucket; past latest + buckets they are empty.
            first_end = (latest // self._hop + 1) * self._hop
            closed = [self._closed(end) for end in range(first_end, min(bucket, latest + self.buckets) + 1, self._hop)]
        self._enter(bucket)
        self._position[:] = (1, bucket)
        return closed

    def advance(self, timestamp=None) -> None:
        """unit="seconds": move the window on to timestamp (default clock()) without counting.

        Buckets that fall out are dropped and windows that close are reported. An earlier time
        than the latest changes nothing.
        """
        if self.unit != "seconds":
            raise ValueError(f"advance() is for unit='seconds': a window of {self.unit} moves as they are counted")
        closed = self._move_to(self._bucket_of(self._time_of(timestamp), "timestamp"))
        self._cached = None
        self._report(closed)

    def copy(self) -> Windowed:
        new = super().copy()
        new._callbacks = ()
        return new

    copy.__doc__ = _CountsWrapper.copy.__doc__

    def _bucket_totals(self, ring: np.ndarray) -> np.ndarray:
        """The float64 total of |counts| of each slot of a ring."""
        with np.errstate(over="ignore", invalid="ignore"):  # an infinite total is refused by the caller
            return np.abs(ring.reshape(self.buckets, -1), dtype=np.float64).sum(axis=1)

    def _check_merge_room(self, other: Windowed) -> None:
        # Slot by slot (the ring's slot s holds the bucket b with b % buckets = s on both sides).
        for name, mine, arr in zip(self._count_names, self._count_arrays(), other._count_arrays()):
            with np.errstate(over="ignore", invalid="ignore"):
                largest = float((self._bucket_totals(mine) + self._bucket_totals(arr)).max())
            self._check_total(name, largest, mine.dtype, "merged", self.buckets)

    def _check_loaded(self, arrays: dict) -> None:
        for name in self._count_names:
            self._check_total(name, float(self._bucket_totals(arrays[name]).max()), arrays[name].dtype, "loaded",
                              self.buckets)

    def _merge_state(self, other: Windowed) -> None:
        theirs = other._latest_bucket()
        if theirs is None:
            return
        latest = self._latest_bucket()
        end = theirs if latest is None else max(latest, theirs)
        self._enter(end)
        self._position[:] = (1, end)
        slots = other._slots(end - self.buckets + 1, theirs)  # their buckets still in the merged ring
        for mine, arr in zip(self._count_arrays(), other._count_arrays()):
            mine[slots] += arr[slots]


class Decayed(_CountsWrapper):
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
      Windowed (``max_skew=None`` removes the bound).

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
    _time = StateArrayAttribute()

    def __init__(self, accumulator, half_life, *, unit: str = "samples", max_skew: float | None = DEFAULT_MAX_SKEW,
                 clock=time.time):
        template = _template(accumulator)
        self.half_life = _positive_number("half_life", half_life)
        self.unit = _check_unit(unit)
        self.max_skew = _max_skew(max_skew, unit)
        self._start(template, _template(_description(template), weighted=True), clock)

    def _config(self) -> dict:
        config = {"accumulator": _description(self._template), "half_life": self.half_life, "unit": self.unit}
        return _with_max_skew(config, self.max_skew)

    @classmethod
    def _state_spec(cls, accumulator, half_life, *, unit="samples", max_skew=DEFAULT_MAX_SKEW) -> dict:
        _inner_layout(accumulator)
        _, _, spec = _inner_layout(accumulator, weighted=True)
        _positive_number("half_life", half_life)
        _max_skew(max_skew, unit)
        # _time = (1.0 once a time was seen, else 0.0; the latest time T)
        return Spec({**spec, "_time": _where((2,), np.float64)} if _check_unit(unit) == "seconds" else spec)

    def _check_state(self) -> None:
        if self.unit == "seconds" and not (self._time[0] == 1 or self._time.tolist() == [0.0, 0.0]):
            raise ValueError(f"decay time {self._time.tolist()} is not (1, T) or (0, 0)")

    def _counts(self) -> Accumulator:
        return self._holding(self._count_arrays())

    def _scale(self, factor: float) -> None:
        self._storage.scale(factor, self._count_names)

    def _latest_time(self) -> float | None:
        return self._time[1].item() if self.unit == "seconds" and self._time[0] else None

    _latest_seen = _latest_time

    def update(self, y_true, y_pred, sample_weight=None, timestamp=None) -> None:
        """Decay the counts, then count a batch, as the wrapped accumulator's update();
        unit="seconds" counts it at ``timestamp`` (epoch seconds), or at clock() when None.

        A failed update raises the wrapped accumulator's error for the batch as given (a
        ValueError for a bad timestamp, TimestampError for one too far ahead, OverflowError for
        counts that would overflow) and changes nothing.
        """
        given = (y_true, y_pred, sample_weight)
        t = self._time_of(timestamp)
        latest = self._latest_time()
        try:
            y_true = _inputs.as_array(y_true, "y_true")
            if y_true.ndim == 0:
                raise ValueError(f"y_true has shape {y_true.shape}: expected (n_samples, ...)")
            n = y_true.shape[0]
            weights = _inputs.as_weight(sample_weight, n, self._template.weighted)
        except (TypeError, ValueError) as exc:
            raise _template_error(self._template, given, exc) from None
        if self.unit == "samples":
            with np.errstate(over="ignore"):  # a tiny half_life: ages of inf half-lives weigh 0, as they should
                decay = 0.5 ** (np.arange(n - 1, -1, -1, dtype=np.float64) / self.half_life)
            weights = decay if weights is None else weights * decay
            before = 0.5 ** (n / self.half_life)
        elif self.unit == "updates":
            before = 0.5 ** (1 / self.half_life)
        elif latest is not None and t < latest:  # a late sample: it decays, the counts do not
            decay = 0.5 ** ((latest - t) / self.half_life)
            weights = np.full(n, decay) if weights is None else weights * decay
            before = 1.0
        else:
            before = 0.5 ** ((t - latest) / self.half_life) if latest is not None else 1.0
        counts = self._fed((y_true, y_pred, weights), given)
        # The counts only shrink (before <= 1), so the sum of both totals bounds the result.
        self._check_sums_fit(zip(self._count_names, self._count_arrays(), counts._arrays()), "counted")
        self._scale(before)
        for mine, new in zip(self._count_arrays(), counts._arrays()):
            mine += new
        if t is not None:
            self._time[:] = (1.0, t if latest is None else max(t, latest))
        self._cached = None

    def advance(self, timestamp=None) -> None:
        """unit="seconds": decay the counts to timestamp (default clock()) without counting.
        An earlier time than the latest changes nothing."""
        if self.unit != "seconds":
            raise ValueError(f"advance() is for unit='seconds': counts of {self.unit} decay as they are counted")
        t, latest = self._time_of(timestamp), self._latest_time()
        if latest is None or t > latest:
            self._scale(1.0 if latest is None else 0.5 ** ((t - latest) / self.half_life))
            self._time[:] = (1.0, t)
            self._cached = None

    def _check_merge_room(self, other: Decayed) -> None:
        # Both sides are scaled by at most 1 before they are added.
        self._check_sums_fit(zip(self._count_names, self._count_arrays(), other._count_arrays()))

    def _merge_state(self, other: Decayed) -> None:
        theirs = other._latest_time()
        if theirs is None:
            return
        latest = self._latest_time()
        now = theirs if latest is None else max(latest, theirs)
        self._scale(1.0 if latest is None else 0.5 ** ((now - latest) / self.half_life))
        factor = 0.5 ** ((now - theirs) / self.half_life)
        for mine, arr in zip(self._count_arrays(), other._count_arrays()):
            mine += arr * factor
        self._time[:] = (1.0, now)


# --- configuration ------------------------------------------------------------------------------


def _description(acc: Accumulator) -> dict:
    return {"kind": type(acc).__name__, "config": acc._config()}


def _inner_layout(description, *, weighted: bool = False):
    """(class, configuration, state spec) of an accumulator description, checked without
    allocating; weighted=True describes its weighted twin."""
    if not (isinstance(description, dict) and description.keys() == {"kind", "config"}
            and isinstance(description["config"], dict)):
        raise TypeError(
            f"accumulator={description!r} is not valid: expected a Binary, Multiclass or Multilabel, "
            "or its description {'kind': ..., 'config': ...}"
        )
    kinds = {cls.__name__: cls for cls in serialization.REGISTRY.values() if issubclass(cls, Accumulator)}
    cls = kinds.get(description["kind"]) if isinstance(description["kind"], str) else None
    if cls is None:
        raise ValueError(f"accumulator kind {description['kind']!r} is not one of {sorted(kinds)}")
    config = {**description["config"], "weighted": True} if weighted else description["config"]
    spec = cls._state_spec(**config)
    if spec.grows:
        raise ValueError(f"{cls.__name__}(exact=True) keeps a score table that grows with the data: it cannot "
                         "be cut into buckets or decayed; use bins= instead")
    if isinstance(config.get("labels"), str):
        raise ValueError('Multiclass(labels="auto") changes its classes as labels arrive: it cannot be cut into '
                         "buckets or decayed; give labels= or num_classes=")
    return cls, config, spec


def _template(accumulator, *, weighted: bool = False) -> Accumulator:
    """A new empty accumulator configured as accumulator (an empty accumulator, or a description)."""
    if isinstance(accumulator, Accumulator):
        if not accumulator.is_empty:
            raise ValueError(f"accumulator={accumulator!r} holds counts: pass an empty one (it is the template "
                             "of the counts, which start empty)")
        accumulator = _description(accumulator)
    cls, config, _ = _inner_layout(accumulator, weighted=weighted)
    return cls(**config)


def _where(shape: tuple[int, ...], dtype: type) -> StateArray:
    """A position in the stream (metadata, merged by the wrapper): in the fingerprint, not in the vector."""
    return StateArray(shape, np.dtype(dtype), merge=Merge.COMPONENT, role=Role.METADATA, signed=True)


def _check_unit(unit) -> str:
    if not isinstance(unit, str) or unit not in UNITS:
        raise ValueError(f"unit={unit!r} is not valid: expected 'samples', 'updates' or 'seconds'")
    return unit


def _positive_number(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} is not valid: expected a finite number > 0")
    return float(value)


def _max_skew(value, unit: str) -> float | None:
    """max_skew=, checked: None or a number of seconds > 0, for unit="seconds"."""
    if value is not None:
        value = _positive_number("max_skew", value)
    if value != DEFAULT_MAX_SKEW and unit != "seconds":
        raise ValueError(f"max_skew={value!r} is for unit='seconds': a window of {unit} has no timestamps")
    return value


def _with_max_skew(config: dict, max_skew) -> dict:
    # Written only when not the default, so payloads of earlier versions stay byte for byte the same.
    return config if max_skew == DEFAULT_MAX_SKEW else {**config, "max_skew": max_skew}


def _finite_time(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not valid: expected a finite number of seconds")
    return float(value)


def _whole_ratio(a, b) -> int | None:
    """a / b when it is a whole number (floats: to 1e-9 relative), else None."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b if a % b == 0 else None
    quotient = a / b
    if not math.isfinite(quotient):
        return None
    whole = round(quotient)
    return whole if whole >= 1 and math.isclose(quotient, whole, rel_tol=1e-9) else None


def _grid(size, unit, buckets, step):
    """(size, buckets, step, bucket width, step in buckets), checked and normalized."""
    counted = _check_unit(unit) != "seconds"  # samples and updates come in whole units
    if counted:
        _inputs.check_count("size", size)
        size = int(size)
    else:
        size = _positive_number("size", size)
    if step is not None:
        if counted:
            _inputs.check_count("step", step)
            step = int(step)
        else:
            step = _positive_number("step", step)
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


# --- batches --------------------------------------------------------------------------------------


def _cuttable(y_true, y_pred, sample_weight) -> tuple:
    """The batch as arrays of one length that slice alike; ValueError if they are not."""
    batch = (_inputs.as_array(y_true, "y_true"), _inputs.as_array(y_pred, "y_pred"),
             None if sample_weight is None else _inputs.as_array(sample_weight, "sample_weight"))
    present = [arr for arr in batch if arr is not None]
    if any(arr.ndim == 0 for arr in present) or len({arr.shape[0] for arr in present}) != 1:
        raise ValueError("y_true, y_pred and sample_weight do not hold the same number of samples")
    return batch


def _cut(batch: tuple, lo: int, hi: int) -> tuple:
    return tuple(None if arr is None else arr[lo:hi] for arr in batch)


def _template_error(template: Accumulator, given: tuple, error: Exception) -> Exception:
    """The exception template.update(*given) raises, else error."""
    try:
        template.copy().update(*given)
    except Exception as exc:  # whatever the accumulator says about the user's batch
        return exc
    return error
