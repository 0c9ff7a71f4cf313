"""Sliced: one accumulator's counts per slice key (country, device, model version...), in one pass.

The state is the wrapped accumulator's arrays stacked on a leading slice axis (``_slots``), one
slot per key found so far, in the order the keys were found; a batch's keys are mapped to slots
(``_slice_keys``) and the batch is counted by the wrapped accumulator's own kernels with one slot
per sample. Queries read one slice, every slice, or all of them summed, and compare slices the
way fairlearn's ``MetricFrame`` does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import _event_times, _locking, limits
from ._batch import Prepared
from ._components import confusion
from ._slice_fused import count_known
from ._slice_keys import OTHER, Assignment, KeyIndex, check_keys, fused_keys, json_keys
from ._slice_windows import POSITION, Plan, SliceWindow, largest_state
from ._slots import SlotWrapper, description, inner_layout, stacked_spec, template_of
from ._state import Spec
from ._storage import NumpyStorage, Storage
from .accumulator import Accumulator
from .binary import Binary
from .multiclass import Multiclass
from .serialization import Kind
from .windows import Windowed, bucket_of

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["OTHER", "Sliced", "WorstSlice"]

DEFAULT_MAX_SLICES = 10_000
OVERFLOWS = ("raise", "other")
Metric = str | Callable[[Accumulator], Any]


class WorstSlice(NamedTuple):
    """One of ``Sliced.worst()``'s slices: its key, the metric's value, its samples and the
    interval (low, high) of the value (NaN when the metric is no proportion of samples)."""

    key: Any
    value: float
    support: int | float
    low: float
    high: float


class Sliced(SlotWrapper):
    """The wrapped accumulator's counts per slice key, counted in one pass.

    ``Sliced(accumulator, *, max_slices=10_000, overflow="raise")``

    accumulator: an empty Binary, Multiclass or Multilabel (not one on a device, not
    ``exact=True``, ``labels="auto"`` or ``bootstrap=``); its configuration says what each slice
    counts (it is copied, never updated).

    ``update(y_true, y_pred, sample_weight=None, *, by=keys)`` counts a batch as the wrapped
    accumulator does, each sample into the slice of its key. ``keys`` is an (N,) array (a list, a
    numpy array, a pandas Series or categorical) of slice keys: integers, booleans, strings or
    finite floats (an integer-valued float is that integer; keys Python finds equal, such as 1,
    1.0 and True, are one slice). A tuple of such arrays crosses them (country x device): the
    keys are then tuples. New keys become new slices, in the order they first appear.

    At most ``max_slices`` slices. A batch bringing more new keys raises ValueError and counts
    nothing with ``overflow="raise"``; with ``overflow="other"`` the keys found once the slices
    are full are counted together in one extra slice, of key ``"__other__"`` (``streameval.sliced.OTHER``;
    a key "__other__" of the data would count there too). Either way the state is bounded:
    ``max_slices + 1`` times the accumulator's, at most ``streameval.limits.MAX_STATE_BYTES``
    (checked when the Sliced is made).

    A failed update (a bad key, a bad sample, too many keys, counts that would overflow) raises
    and changes nothing: neither the keys nor the counts.

    Queries:

    - ``sliced[key]``: a plain accumulator of the slice's counts (KeyError for a key not found);
      ``keys()``, ``n_slices``, ``key in sliced``, ``len(sliced)``;
    - ``overall``: the accumulator of every sample (the sum of the slices); every metric of the
      wrapped accumulator is also a method of the Sliced itself, on all samples
      (``sliced.recall()``);
    - ``by_slice(metric, **options)`` -> {key: value}: ``metric`` is the name of a method of the
      accumulator (``"recall"``) with its options, or a function of an accumulator;
    - fairlearn MetricFrame's comparisons of a scalar metric: ``difference(metric,
      method="between_groups")`` (largest minus smallest value over the slices) or
      ``method="to_overall"`` (largest absolute difference to the overall value); ``ratio(...)``
      (smallest over largest; to_overall: the smallest of value / overall and overall / value);
      ``group_min`` and ``group_max``. Slices whose value is NaN are left out, as pandas does;
    - ``worst(metric, k=10, min_support=30)``: the k slices of lowest value among those with at
      least min_support samples, each with its Wilson interval (``level=``, ``method=`` as in the
      accumulator's ``interval()``), so that a slice of three samples is not reported as the
      worst. Returns ``WorstSlice`` tuples (key, value, support, low, high);
    - Binary only: ``demographic_parity_difference()`` (the difference of selection rates,
      the share of samples predicted positive) and ``equalized_odds_difference()`` (the larger
      of the differences of true positive rates and of false positive rates), with fairlearn's
      definitions (``method=`` as in difference()).

    Merging (``merge``, ``+``, ``sum``) unions the keys: ours first, then the other's new ones in
    its order (max_slices applies as in an update), and adds the counts of equal keys. Two
    Sliced are ``==`` when they hold the same keys with the same counts, in any order.
    Serialization (``to_bytes``, ``to_dict``, pickle, ``save``) keeps the keys in the
    configuration (crossed keys as lists) and the counts exactly. State vectors add between
    workers that found the same keys in the same order (the keys are in the fingerprint).

    Windows: ``Sliced(Windowed(accumulator, size, unit=..., buckets=B, ...))`` keeps a window per
    slice on one clock: state (S * B, ...), slot ``slice * B + bucket % B``; when the window moves
    on, that bucket is emptied in every slice. ``update(..., by=, timestamp=, late=)`` and
    ``advance()`` are Windowed's (a time per batch or per sample, the same errors), and every
    query (``sliced[key]``, ``overall``, ``by_slice``, ``worst``...) reads the current window.
    Keys stay once found (a slice whose samples left the window is empty). Merging (unit="seconds"
    only) is Windowed's, slice by slice; ``==`` compares the position too. No ``on_window``
    reports, no fused kernel. ``Windowed(Sliced(...))``, ``Decayed(Sliced(...))`` and
    ``Sliced(Decayed(...))`` raise TypeError naming this composition.

    Cost: an update maps the batch's keys in one compiled pass (integer keys: a hash table kept
    between batches; strings: one hashing pass, pandas' when installed) and counts the batch in
    one kernel call, each sample into its slice. The common batch (class labels without weights
    keyed by integers or a pandas categorical, every key known) is mapped and counted in one
    fused pass (``_kernels.sliced``): integer keys in a small range and categorical codes through
    a dense array (no lookup at all when every key of the span is a slice: ids 0..S-1, a
    categorical's categories), a large batch counted a byte per cell first (pending until the
    state is read, split over idle cores). A batch with new keys copies the state once to grow
    it. Threads may share a Sliced: update, merge and queries hold its lock.

    >>> import streameval
    >>> s = Sliced(streameval.Binary())
    >>> s.update([1, 1, 0, 1], [1, 0, 0, 1], by=["a", "a", "b", "b"])
    >>> s.by_slice("recall")
    {'a': 0.5, 'b': 1.0}
    >>> s.difference("recall"), s.overall.recall()
    (0.5, 0.6666666666666666)
    >>> hourly = Sliced(streameval.Windowed(streameval.Binary(), 3600, unit="seconds", buckets=60))
    >>> t = [1_700_000_000, 1_700_000_000, 1_700_004_000, 1_700_004_000]
    >>> hourly.update([1, 1, 1, 1], [1, 0, 1, 0], by=["fr", "us", "us", "fr"], timestamp=t)
    >>> hourly.by_slice("recall")  # the last hour: the samples at 1_700_000_000 have left it
    {'fr': 0.0, 'us': 1.0}
    """

    _KIND = Kind.SLICED
    _follows_stream_order = False
    _LEADING = False  # the view counts with one slot per sample and bounds the whole arrays
    max_slices: int
    overflow: str
    _index: KeyIndex
    _window: SliceWindow | None = None  # Sliced(Windowed(...)): the window each slice keeps
    n_dropped: int = 0  # windows: samples left out by update(..., late="drop") (not serialized)

    def __init__(self, accumulator: Any, *, max_slices: int = DEFAULT_MAX_SLICES, overflow: str = "raise",
                 keys: Any = None):
        clock: Any = time.time
        if isinstance(accumulator, Windowed) or _kind_of(accumulator) == "Windowed":
            accumulator, self._window = SliceWindow.template(accumulator)
            clock = self._window.clock
            self.__dict__["_follows_stream_order"] = True  # a window's counts depend on the order of the stream
        elif isinstance(accumulator, SlotWrapper) or _kind_of(accumulator) in ("Decayed", "Sliced"):
            kind = type(accumulator).__name__ if isinstance(accumulator, SlotWrapper) else accumulator["kind"]
            raise TypeError(f"accumulator={accumulator!r} is a {kind}: Sliced wraps a Binary, Multiclass or "
                            "Multilabel, or a Windowed of one (Sliced(Windowed(...)): a window per slice). Slices "
                            "of decayed counts and slices of slices are not supported")
        if isinstance(accumulator, Accumulator):
            if accumulator.device is not None:
                raise ValueError(f"accumulator={accumulator!r} counts on {accumulator.device}, but Sliced keeps its "
                                 "slices' counts on the host (numpy): pass an accumulator without device=")
            if accumulator.bootstrap is not None:
                raise ValueError("Sliced does not keep bootstrap replicates per slice: pass an accumulator without "
                                 "bootstrap= (worst() gives Wilson intervals)")
        template = template_of(accumulator)
        window = self._window
        self.max_slices, self.overflow = _check_settings(template._spec, max_slices, overflow,
                                                         1 if window is None else window.buckets)
        self._index = KeyIndex(check_keys([] if keys is None else keys))
        self.unit = "samples" if window is None else window.unit
        self.max_skew = None if window is None else window.max_skew
        self._begin(template, template, clock)

    def _config(self) -> dict[str, Any]:
        inner = description(self._template) if self._window is None else self._window.described
        return {"accumulator": inner, "max_slices": self.max_slices, "overflow": self.overflow,
                "keys": json_keys(self._index.keys)}

    @classmethod
    def _state_spec(cls, accumulator: Any, *, max_slices: Any = DEFAULT_MAX_SLICES, overflow: Any = "raise",
                    keys: Any = None) -> Spec:
        n_buckets = 0
        if _kind_of(accumulator) == "Windowed":
            spec, n_buckets = SliceWindow.layout(accumulator)
            config = accumulator["config"]["accumulator"]["config"]
        else:
            _, config, spec = inner_layout(accumulator)
        if config.get("bootstrap") is not None:
            raise ValueError("Sliced does not keep bootstrap replicates per slice")
        max_slices, overflow = _check_settings(spec, max_slices, overflow, max(n_buckets, 1))
        keys = check_keys([] if keys is None else keys)
        allowed = max_slices + (overflow == "other" and OTHER in keys)
        if len(keys) > allowed:
            raise ValueError(f"keys holds {len(keys)} slice keys, more than max_slices={max_slices}")
        if n_buckets:
            return SliceWindow.spec(spec, len(keys), n_buckets)
        return Spec(stacked_spec(spec, len(keys), f"this Sliced ({len(keys):,} slices of the accumulator's counts)"))

    def _check_state(self) -> None:
        self._index = KeyIndex(self._index.keys)  # a loaded Sliced shares its prototype's index: its own
        if self._window is not None:
            self._window.check_position(self._storage.host(POSITION))

    def _check_compatible(self, other: object) -> None:
        if not (isinstance(other, Sliced) and _without_keys(other._frozen_config) == _without_keys(self._frozen_config)):
            super()._check_compatible(other)

    def _describe(self) -> str:
        window = self._window
        inner = self._template._describe() if window is None else (
            f"Windowed({self._template._describe()}, {window.size!r}, unit={window.unit!r}, buckets={window.buckets})")
        return f"Sliced({inner}, max_slices={self.max_slices}, overflow={self.overflow!r}, {self.n_slices} slices)"

    def unsummable_reason(self) -> str | None:
        """Why these counts cannot be added to another worker's, or None: Sliced's can, between
        workers that found the same keys in the same order (the fingerprint holds the keys;
        windows: only unit="seconds", the position is in the fingerprint too)."""
        return None if self._window is None else self._window.merge_refusal()

    def _merge_refusal(self) -> str | None:
        return self.unsummable_reason()

    def _latest_seen(self) -> float | None:
        return None if self._window is None else self._window.latest_seen(self._storage.host(POSITION))

    def reset(self) -> None:
        """Forget every sample and every key (windows: and the position); the configuration stays."""
        self._use(KeyIndex(), self._spec_for(0), None)
        self.n_dropped = 0

    def copy(self) -> Self:
        """An independent copy: same configuration, keys and counts."""
        new = super().copy()
        new._index = self._index.copy()
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sliced) or _without_keys(other._frozen_config) != _without_keys(self._frozen_config):
            return False
        with _locking.lock_of(self):
            mine, keys, at = self._count_arrays(), self._index.keys, self._position_now()
        with _locking.lock_of(other):
            theirs, slot_of, their_at = other._count_arrays(), other._index.slot_of, other._position_now()
        if len(keys) != len(slot_of) or any(key not in slot_of for key in keys) or at != their_at:
            return False
        order = np.array([slot_of[key] for key in keys], dtype=np.intp)
        if self._window is not None:
            order = self._window.slots(order, np.arange(self._window.buckets))
        return all(np.array_equal(a, b[order]) for a, b in zip(mine, theirs))

    def _position_now(self) -> list[int] | None:
        return None if self._window is None else self._storage.host(POSITION).tolist()

    __hash__ = None  # type: ignore[assignment]

    # --- keys ---------------------------------------------------------------------------------

    @property
    def n_slices(self) -> int:
        """The number of slices (keys found so far, the "__other__" slice included)."""
        return len(self._index.keys)

    def keys(self) -> list[Any]:
        """The slice keys, in the order they were found (crossed keys are tuples)."""
        return list(self._index.keys)

    def __len__(self) -> int:
        return len(self._index.keys)

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._index.slot_of
        except TypeError:
            return False

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __getitem__(self, key: Any) -> Accumulator:
        """A plain accumulator holding the slice's counts (a copy); KeyError for a key not found."""
        with _locking.lock_of(self):
            slot = self._slot(key)
            if self._window is not None:
                return self._holding(self._window.window_sums(self._count_arrays(), self.n_slices,
                                                              self._storage.host(POSITION), slot))
            return self._holding([a[slot].copy() for a in self._count_arrays()])

    def _slot(self, key: Any) -> int:
        lookup = tuple(key) if isinstance(key, list) else key
        try:
            return self._index.slot_of[lookup]
        except (KeyError, TypeError):
            raise KeyError(f"{key!r} is not a slice key of this Sliced ({self.n_slices} slices; see keys())") from None

    # --- counting -----------------------------------------------------------------------------

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None, *, by: Any, timestamp: Any = None,
               late: str = "refuse") -> None:
        """Count a batch, each sample into the slice of its key (``by``: an (N,) array of keys, or
        a tuple of such arrays for crossed slices). A failed update raises (the wrapped
        accumulator's error for a bad sample, InputError naming ``by`` for a bad key, ValueError
        past max_slices with overflow="raise", OverflowError) and changes nothing.

        Sliced(Windowed(...)): ``timestamp`` and ``late`` are Windowed.update's (unit="seconds":
        one time for the batch or one per sample, clock() when None; TimestampError for a time
        older than the ring or too far ahead; late="drop" leaves late samples out)."""
        given = (y_true, y_pred, sample_weight)
        if self._window is not None:
            self._update_window(given, by, timestamp, late)
            return
        if timestamp is not None:
            raise ValueError(f"timestamp={timestamp!r} was given, but this Sliced keeps no window: timestamps are for "
                             "Sliced(Windowed(..., unit='seconds'))")
        batch = self._prepare(given)
        if batch.plain and batch.n and self._fused_count(batch, by):
            self._cached = None
            return
        assignment = self._index.assign(by, batch.n, self.max_slices, self.overflow == "other")
        self._count_assigned(batch, given, assignment, None)

    def _update_window(self, given: tuple[Any, Any, Any], by: Any, timestamp: Any, late: str) -> None:
        window = self._window
        assert window is not None
        if late not in ("refuse", "drop"):
            raise ValueError(f"late={late!r} is not valid: expected 'refuse' or 'drop'")
        batch = self._prepare(given)
        t = _event_times.times_for(window.unit, "Sliced", timestamp) if timestamp is not None else None
        if not isinstance(t, np.ndarray):
            t = self._time_of(t)
        rows = batch.shape[0] if batch.shape is not None else batch.n
        plan = window.plan(self._storage.host(POSITION), rows, t, late == "drop")
        assignment = self._index.assign(by, batch.n, self.max_slices, self.overflow == "other")
        self._count_assigned(batch, given, assignment, plan)

    def _count_assigned(self, batch: Prepared, given: tuple[Any, Any, Any], assignment: Assignment,
                        plan: Plan | None) -> None:
        """Count the batch into the slots of its keys (windows: of its keys and buckets, after
        emptying the ring slots the window moves on to in every slice); all or nothing."""
        before = (self._spec, self._storage)
        entered: tuple[np.ndarray, dict[str, np.ndarray]] | None = None
        try:
            if assignment.new:
                spec = self._spec_for(len(self._index.keys) + len(assignment.new))
                self._spec, self._storage = spec, self._grown(spec)
                self._state_loaded()
            slots = assignment.slots
            if plan is not None:
                assert self._window is not None
                left, batch, slots = self._window.placed(batch, slots, plan)
                if left is not None:  # late and dropped, or out of the ring by the batch's end: checked only
                    self._check_batch(left, given)
                entered = self._window.empty(self._storage, self._count_names, self._window.entering(plan))
            if batch.n == 0:
                self._check_batch(batch, given)
            else:
                counter, view = self._view()
                view.aim(slots=slots)
                self._count_into(counter, batch, given)
        except BaseException:
            if entered is not None:
                self._storage.set_slots(entered[1], entered[0])
            self._index.rollback(assignment)
            self._spec, self._storage = before
            self._state_loaded()
            raise
        self._keep(assignment)
        if plan is not None:
            self._storage.host(POSITION)[:] = plan.position
            self.n_dropped += plan.dropped
        self._cached = None

    def advance(self, timestamp: Any = None) -> None:
        """Sliced(Windowed(..., unit="seconds")): move every slice's window on to timestamp
        (default clock()) without counting; an earlier time than the latest changes nothing."""
        window = self._window
        if window is None or window.unit != "seconds":
            why = "this Sliced keeps no window" if window is None else f"its window counts {window.unit}"
            raise ValueError(f"advance() is for Sliced(Windowed(..., unit='seconds')): {why}")
        moved = window.moved(self._storage.host(POSITION), bucket_of(self._time_of(timestamp) or 0.0, window.width,
                                                                     "timestamp"))
        if moved is not None:
            window.empty(self._storage, self._count_names, moved[0])
            self._storage.host(POSITION)[:] = moved[1]
            self._cached = None

    def _fused_count(self, batch: Prepared, by: Any) -> bool:
        """The common batch (class labels, no weights, keys all known: integers or a pandas
        categorical) mapped and counted in one kernel pass (``_kernels.sliced``); True when
        counted. False, with nothing changed, for any other batch, a new key or a bad sample:
        the general path then counts it or names the problem."""
        pairs = self._label_pairs
        if pairs is None or self._index.arity is not None or batch.y_pred.dtype.kind == "f":
            return False
        found = fused_keys(by, self._index, batch.n)
        if found is None:
            return False
        storage = self.__dict__["_storage"]  # as it is: the pending counts stay pending
        if not storage.reserve(confusion.NAME, batch.n):
            return False  # the general path raises OverflowError
        return count_known(storage.host(confusion.NAME), found, batch.y_true, batch.y_pred, pairs, self.__dict__)

    def _spec_for(self, n_slices: int) -> Spec:
        if self._window is not None:
            return SliceWindow.spec(self._empty._spec, n_slices, self._window.buckets)
        return Spec(stacked_spec(self._empty._spec, n_slices, f"this Sliced ({n_slices:,} slices)"))

    def _grown(self, spec: Spec) -> NumpyStorage:
        """A new storage of spec (more slots) holding our slots as its first ones (and our position)."""
        new = NumpyStorage.zeros(spec)
        old = [self._storage.host(name) for name in self._count_names]
        new.set_slots(dict(zip(self._count_names, old)), np.arange(old[0].shape[0]))
        new.assign({name: self._storage.host(name) for name in spec.metadata})
        return new

    @property
    def _storage(self) -> Storage:
        """The state, the pending counts of large batches added first (``_slice_fused``)."""
        pending = self.__dict__.get("_pending")
        if pending is not None and pending.samples:
            with _locking.lock_of(self):
                pending.settle(self.__dict__["_storage"].host(confusion.NAME).reshape(-1))
        storage: Storage = self.__dict__["_storage"]
        return storage

    @_storage.setter
    def _storage(self, storage: Storage) -> None:
        self.__dict__.pop("_pending", None)  # read (settled) before, or to be forgotten (reset, a copy's)
        self.__dict__["_storage"] = storage

    def _keep(self, assignment: Assignment) -> None:
        if assignment.new:
            self._index.commit(assignment)
            self._frozen_config = self._config()
            self.__dict__.pop("_config_bytes", None)  # to_bytes caches the configuration, which lists the keys

    def _use(self, index: KeyIndex, spec: Spec, storage: Any) -> None:
        """Take these keys, with their state (a new empty one when storage is None)."""
        self._index = index
        self._frozen_config = self._config()
        self.__dict__.pop("_config_bytes", None)
        self._spec = spec
        self._storage = self._STORAGE.zeros(spec) if storage is None else storage
        self._state_loaded()

    # --- state --------------------------------------------------------------------------------

    def _counts(self) -> Accumulator:
        if self._window is not None:
            return self._holding([a.sum(axis=0) for a in self._window_sums()])
        return self._holding([a.sum(axis=0) for a in self._count_arrays()])

    def _window_sums(self) -> list[np.ndarray]:
        """Windows: each count array summed over the current window, per slice ((S, ...))."""
        assert self._window is not None
        return self._window.window_sums(self._count_arrays(), self.n_slices, self._storage.host(POSITION))

    @property
    def overall(self) -> Accumulator:
        """A plain accumulator of every sample counted (the sum of the slices; a copy)."""
        return self._current().copy()

    def _check_merge_room(self, other: Any) -> None:
        self._check_sums_fit(zip(self._count_names, self._count_arrays(), other._count_arrays()))

    def merge(self, other: Any) -> Self:
        """Add other's slices in place and return self; other is unchanged. Keys: ours, then
        other's new ones in its order; past max_slices, ValueError (overflow="raise") or their
        counts go to the "__other__" slice. IncompatibleError when the configurations differ,
        OverflowError when a sum would overflow; either changes nothing."""
        return super().merge(other)  # (SlotWrapper's: checks, then _merge_state below)

    def _merge_state(self, other: Any) -> None:
        index = self._index.copy()
        theirs_keys = other._index.keys
        room = self.max_slices - index.named()
        mine = np.empty(len(theirs_keys), np.intp)
        new: list[Any] = []
        for j, key in enumerate(theirs_keys):
            slot = index.slot_of.get(key)
            if slot is None:
                if key != OTHER and len(new) - (OTHER in new) >= room:
                    if self.overflow == "raise":
                        raise ValueError(f"Cannot merge: the two Sliced hold more than max_slices={self.max_slices} "
                                         "slice keys together; nothing was merged")
                    key = OTHER
                    slot = index.slot_of.get(OTHER)
                if slot is None:
                    slot = len(index.keys)
                    index.add([key])
                    new.append(key)
            mine[j] = slot
        grown = self._grown(self._spec_for(len(index.keys))) if new else self._storage.copy()
        theirs = np.arange(len(mine))
        if self._window is not None:  # both windows moved on to the later one; their buckets still in it added
            mine, theirs = self._window.merged(grown, self._count_names, mine, other._storage.host(POSITION))
        distinct, first = np.unique(mine, return_index=True)
        rest = np.setdiff1d(np.arange(len(mine)), first)  # theirs that share a slot of ours (the other slice)
        grown.add_slots(other._storage, self._count_names, distinct, theirs[first])
        for j in rest.tolist():
            grown.add_slots(other._storage, self._count_names, mine[j:j + 1], theirs[j:j + 1])
        self._use(index, grown.spec, grown)

    # --- queries per slice --------------------------------------------------------------------

    def _slices(self) -> list[Accumulator]:
        arrays = self._count_arrays() if self._window is None else self._window_sums()
        return [self._holding([a[slot].copy() for a in arrays]) for slot in range(len(self._index.keys))]

    def _values(self, metric: Metric, options: dict[str, Any]) -> dict[Any, Any]:
        if isinstance(metric, str):
            if metric.startswith("_") or not callable(getattr(self._template, metric, None)):
                raise ValueError(f"metric={metric!r} is not a method of {type(self._template).__name__}")
            return {key: getattr(acc, metric)(**options) for key, acc in zip(self._index.keys, self._slices())}
        if not callable(metric):
            raise TypeError(f"metric={metric!r} is not valid: expected a method name such as 'recall', or a function "
                            "of an accumulator")
        return {key: metric(acc, **options) for key, acc in zip(self._index.keys, self._slices())}

    def by_slice(self, metric: Metric, **options: Any) -> dict[Any, Any]:
        """{key: the metric on the slice}; metric: a method name of the accumulator (options are
        its arguments) or a function of an accumulator."""
        return self._values(metric, options)

    def _overall_value(self, metric: Metric, options: dict[str, Any]) -> float:
        acc = self._current()
        value = getattr(acc, metric)(**options) if isinstance(metric, str) else metric(acc, **options)
        return _scalar(value, metric)

    def _scalars(self, metric: Metric, options: dict[str, Any]) -> np.ndarray:
        values = np.array([_scalar(v, metric) for v in self._values(metric, options).values()], dtype=np.float64)
        return values[~np.isnan(values)]

    def group_min(self, metric: Metric, **options: Any) -> float:
        """The smallest value of a scalar metric over the slices (NaN values left out), as fairlearn's."""
        values = self._scalars(metric, options)
        return float(values.min()) if values.size else math.nan

    def group_max(self, metric: Metric, **options: Any) -> float:
        """The largest value of a scalar metric over the slices (NaN values left out), as fairlearn's."""
        values = self._scalars(metric, options)
        return float(values.max()) if values.size else math.nan

    def difference(self, metric: Metric, method: str = "between_groups", **options: Any) -> float:
        """fairlearn's MetricFrame.difference: "between_groups", the largest value minus the
        smallest; "to_overall", the largest absolute difference between a slice and all samples."""
        values = self._scalars(metric, options)
        if _method(method) == "between_groups":
            return float(values.max() - values.min()) if values.size else math.nan
        overall = self._overall_value(metric, options)
        return float(np.abs(values - overall).max()) if values.size else math.nan

    def ratio(self, metric: Metric, method: str = "between_groups", **options: Any) -> float:
        """fairlearn's MetricFrame.ratio: "between_groups", the smallest value over the largest;
        "to_overall", the smallest of value / overall and overall / value over the slices."""
        values = self._scalars(metric, options)
        if not values.size:
            return math.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            if _method(method) == "between_groups":
                return float(values.min() / values.max())
            ratios = values / self._overall_value(metric, options)
            ratios = np.where(ratios > 1, 1 / ratios, ratios)
        return float(np.nanmin(ratios)) if not np.isnan(ratios).all() else math.nan

    def worst(self, metric: str, k: int = 10, *, min_support: int | float = 30, level: float = 0.95,
              method: str = "wilson", **options: Any) -> list[WorstSlice]:
        """The k slices of lowest metric value among those with at least min_support samples
        (sum of weights when weighted), lowest first, each with its confidence interval
        (accumulator.interval(metric, level, method=...): Wilson by default; NaN bounds for a
        metric that is no proportion of samples, or a weighted accumulator)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k={k!r} is not valid: expected an integer >= 1")
        if isinstance(min_support, bool) or not isinstance(min_support, (int, float, np.number)) or min_support < 0:
            raise ValueError(f"min_support={min_support!r} is not valid: expected a number >= 0")
        rows = []
        for key, acc in zip(self._index.keys, self._slices()):
            support = acc.n_samples
            if support < min_support or support == 0:
                continue
            value = _scalar(getattr(acc, metric)(**options), metric)
            if not math.isnan(value):
                rows.append((value, key, support, acc))
        rows.sort(key=lambda row: row[0])
        out = []
        for value, key, support, acc in rows[:int(k)]:
            try:
                low, high = acc.interval(metric, level, method=method, **options)
            except (TypeError, ValueError):
                low, high = math.nan, math.nan
            out.append(WorstSlice(key, value, support, float(low), float(high)))
        return out

    # --- fairness of a Binary -----------------------------------------------------------------

    def _binary_rates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(selection rate, true positive rate, false positive rate) per slice, from the confusion matrices."""
        if not isinstance(self._template, Binary):
            raise TypeError(f"this fairness metric is for a Sliced Binary, not {type(self._template).__name__}")
        slices: list[Any] = self._slices()
        cms = np.array([acc.confusion_matrix() for acc in slices], dtype=np.float64).reshape(-1, 2, 2)
        tn, fp, fn, tp = cms[:, 0, 0], cms[:, 0, 1], cms[:, 1, 0], cms[:, 1, 1]
        with np.errstate(divide="ignore", invalid="ignore"):  # an empty row's rate is 0, as fairlearn's
            rates = [np.nan_to_num(r, nan=0.0) for r in ((fp + tp) / (tn + fp + fn + tp), tp / (tp + fn), fp / (fp + tn))]
        return rates[0], rates[1], rates[2]

    def demographic_parity_difference(self, method: str = "between_groups") -> float:
        """fairlearn's demographic_parity_difference: the difference (difference()'s method) of
        the selection rates, the share of samples predicted positive, over the slices."""
        selection = self._binary_rates()[0]
        overall = _rates(self._current())[0] if _method(method) == "to_overall" else math.nan
        return _gap(selection, method, overall)

    def equalized_odds_difference(self, method: str = "between_groups") -> float:
        """fairlearn's equalized_odds_difference: the larger of the differences (difference()'s
        method) of the true positive rates and of the false positive rates over the slices."""
        _, tpr, fpr = self._binary_rates()
        overall = _rates(self._current()) if _method(method) == "to_overall" else (math.nan,) * 3
        return max(_gap(tpr, method, overall[1]), _gap(fpr, method, overall[2]))


# --- helpers --------------------------------------------------------------------------------------


def _kind_of(accumulator: Any) -> Any:
    """The kind of an accumulator's description ({"kind": ..., "config": ...}), else None."""
    return accumulator.get("kind") if isinstance(accumulator, dict) else None


def _check_settings(spec: Spec, max_slices: Any, overflow: Any, n_buckets: int = 1) -> tuple[int, str]:
    if isinstance(max_slices, bool) or not isinstance(max_slices, (int, np.integer)) or max_slices < 1:
        raise ValueError(f"max_slices={max_slices!r} is not valid: expected an integer >= 1")
    if not isinstance(overflow, str) or overflow not in OVERFLOWS:
        raise ValueError(f"overflow={overflow!r} is not valid: expected 'raise' or 'other'")
    largest = largest_state(spec, n_buckets, int(max_slices))
    if largest > limits.MAX_STATE_BYTES:
        raise ValueError(f"Sliced(max_slices={int(max_slices)}) may grow to {largest:,} bytes of count state, more "
                         f"than streameval.limits.MAX_STATE_BYTES = {limits.MAX_STATE_BYTES:,}: lower max_slices, "
                         "count fewer bins, classes or buckets, or raise the limit")
    return int(max_slices), overflow


def _without_keys(config: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in config.items() if name != "keys"}


def _method(method: Any) -> str:
    if method not in ("between_groups", "to_overall"):
        raise ValueError(f"method={method!r} is not valid: expected 'between_groups' or 'to_overall'")
    return str(method)


def _scalar(value: Any, metric: Metric) -> float:
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "biuf":
        raise ValueError(f"metric {metric!r} gives {value!r}: difference, ratio, group_min, group_max and worst "
                         "compare one number per slice (pass average= for a per-class metric)")
    return float(arr)


def _rates(acc: Accumulator) -> tuple[float, float, float]:
    (tn, fp), (fn, tp) = np.asarray(acc.confusion_matrix(), dtype=np.float64).tolist()  # type: ignore[attr-defined]
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.nan_to_num(np.array([fp + tp, tp, fp]) / np.array([tn + fp + fn + tp, tp + fn, fp + tn]), nan=0.0)
    return float(rates[0]), float(rates[1]), float(rates[2])


def _gap(values: np.ndarray, method: str, overall: float) -> float:
    values = values[~np.isnan(values)]
    if not values.size:
        return math.nan
    if _method(method) == "between_groups":
        return float(values.max() - values.min())
    return float(np.abs(values - overall).max())
