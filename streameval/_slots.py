"""The slot protocol: wrappers that keep a wrapped accumulator's state per slot.

``Windowed`` keeps the wrapped accumulator's declared arrays once per time bucket, ``Decayed``
once (decayed), and ``Sliced`` (issue 16) will keep them once per slice key. Each is a
``SlotWrapper``: a ``Stateful`` whose declared state is the wrapped accumulator's arrays stacked
on a leading slot axis (``stacked_spec``, built with ``_state.stacked``; Decayed: the arrays as
declared) plus the wrapper's own metadata (a position, a time). What that gives, written once:

- state: ``==``, ``to_bytes`` / ``to_dict`` / pickling / ``save``, state vectors, copy and reset
  are ``Stateful``'s, derived from the declaration (never borrowed from an accumulator);
- counting: ``update`` prepares the batch once with the wrapped accumulator's layout
  (``_batch.prepare``), then the wrapped accumulator's own ``_count`` runs on a
  ``_storage.SlotView`` aimed at one slot or at one slot per sample (the kernels' ``slots``), so
  a batch spanning buckets is one call, with no accumulator per piece and no scratch state;
- merge by slot (``_add_slots``), growth (``_grow_slots``: more slots, as Sliced discovers keys);
- queries: every public query of the wrapped accumulators, written out below (``Queries``), runs
  on an accumulator holding the current counts (``_counts``), built once per change of state;
- ``_follows_stream_order``: True for a wrapper whose counts depend on the order samples arrive
  in (a window, a decay), which partitions counted in parallel (dask, spark) do not have.

A subclass provides ``_config``, ``_state_spec``, ``_check_state``, ``_counts`` (the current
counts as a plain accumulator), ``update``, ``_latest_seen`` and the merge of its metadata
(``_merge_state``, ``_check_merge_room``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from . import _locking, limits, serialization
from ._batch import Prepared, prepare
from ._state import Merge, Role, Spec, StateArray, stacked
from ._stateful import StateArrayAttribute, Stateful
from ._storage import NumpyStorage, SlotView
from .accumulator import Accumulator
from .binary import Binary
from .errors import IncompatibleError, TimestampError
from .multiclass import Multiclass
from .multilabel import Multilabel

if TYPE_CHECKING:  # typing.Self is Python 3.11's; the package runs on 3.10
    from typing_extensions import Self

UNITS = ("samples", "updates", "seconds")
DEFAULT_MAX_SKEW = 86400.0  # seconds a timestamp may run ahead of the latest time seen and of the clock
WRAPPABLE = (Binary, Multiclass, Multilabel)
Clock = Callable[[], float]


class Query:
    """One query of the wrapped accumulator (a method, a property or a configuration attribute),
    read on the current counts under the wrapper's lock. AttributeError when the wrapped
    accumulator has no such member (Multilabel has no roc_curve), as on the accumulator itself."""

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        member = next((getattr(cls, name) for cls in WRAPPABLE if hasattr(cls, name)), None)
        self.__doc__ = getattr(member, "__doc__", None) or f"The wrapped accumulator's {name}, on the current counts."

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        name, template = self.name, obj._template
        member = getattr(type(template), name, None)
        if member is None and name not in template.__dict__:
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}: the wrapped "
                                 f"{type(template).__name__} has none")
        if callable(member):
            method: Callable[..., Any] = member

            @functools.wraps(method)
            def query(*args: Any, **kwargs: Any) -> Any:
                with _locking.lock_of(obj):
                    return getattr(obj._current(), name)(*args, **kwargs)

            return query
        with _locking.lock_of(obj):
            return getattr(obj._current(), name)


class Queries:
    """The public queries of Binary, Multiclass and Multilabel, on the current counts (written
    out, so that help(), dir(), IDEs and type checkers see them; tests/test_windows.py checks
    that the list covers every public member the accumulators have and the wrappers do not)."""

    # metrics of the confusion matrices
    accuracy: Any = Query()
    balanced_accuracy: Any = Query()
    cohen_kappa: Any = Query()
    compute: Any = Query()
    confusion_matrix: Any = Query()
    f1: Any = Query()
    fbeta: Any = Query()
    fnr: Any = Query()
    fpr: Any = Query()
    hamming_loss: Any = Query()
    jaccard: Any = Query()
    matthews_corrcoef: Any = Query()
    npv: Any = Query()
    precision: Any = Query()
    recall: Any = Query()
    specificity: Any = Query()
    stat_scores: Any = Query()
    support: Any = Query()
    interval: Any = Query()
    report: Any = Query()
    plot: Any = Query()
    reseed: Any = Query()
    # scores: bins, exact tables, calibration
    at_threshold: Any = Query()
    average_precision: Any = Query()
    best_threshold: Any = Query()
    brier_score: Any = Query()
    calibration_curve: Any = Query()
    expected_calibration_error: Any = Query()
    is_exact: Any = Query()
    log_loss: Any = Query()
    min_cost_threshold: Any = Query()
    out_of_range: Any = Query()
    pr_curve: Any = Query()
    roc_auc: Any = Query()
    roc_auc_bounds: Any = Query()
    roc_curve: Any = Query()
    threshold_for: Any = Query()
    bins: Any = Query()
    # estimated performance of unlabelled samples (streameval.cbpe)
    estimated: Any = Query()
    # drift of the prediction distribution against a reference (streameval.drift)
    drift: Any = Query()
    # counts
    is_empty: Any = Query()
    n_samples: Any = Query()
    n_labelled: Any = Query()
    # the wrapped accumulator's configuration
    bootstrap: Any = Query()
    exact: Any = Query()
    from_logits: Any = Query()
    ignore_index: Any = Query()
    inclusive: Any = Query()
    labels: Any = Query()
    max_distinct: Any = Query()
    max_labels: Any = Query()
    num_classes: Any = Query()
    num_labels: Any = Query()
    pos_label: Any = Query()
    score_range: Any = Query()
    threshold: Any = Query()
    top_k: Any = Query()
    unlabelled: Any = Query()
    weighted: Any = Query()


def stacked_spec(inner: Spec, slots: int, owner: str) -> dict[str, StateArray]:
    """The wrapped accumulator's arrays, each stacked ``slots`` times on a new leading axis;
    ValueError when that passes streameval.limits.MAX_STATE_BYTES (owner names the wrapper)."""
    ring = stacked(inner, slots)
    limits.check_state_size(ring, owner)
    return ring


def position_array(shape: tuple[int, ...], dtype: type) -> StateArray:
    """A position in the stream (metadata, merged by the wrapper): in the fingerprint, not in the vector."""
    return StateArray(shape, np.dtype(dtype), merge=Merge.COMPONENT, role=Role.METADATA, signed=True)


class SlotWrapper(Queries, Stateful):
    """What Windowed, Decayed and Sliced share (see the module docstring). Not instantiated directly."""

    _follows_stream_order: ClassVar[bool] = True
    _LEADING: ClassVar[bool] = True  # the state arrays have a slot axis (Decayed: no)
    unit: str
    max_skew: float | None
    clock: Clock
    _template: Accumulator  # the user's configuration: copied, never updated
    _empty: Accumulator  # an empty accumulator of the counts' type (Decayed's: the weighted twin)
    _count_names: tuple[str, ...]  # the state arrays that are counts, in order
    _cached: Accumulator | None

    @functools.cached_property
    def _label_pairs(self) -> tuple[int, Any, bool] | None:
        """(classes, ignore, use_ignore) of the wrapped accumulator's plain batches, whose update
        counts class-label pairs into its matrix alone (Binary with 0/1 labels, Multiclass with
        num_classes; no weights, no bootstrap): the fused kernels' case (Sliced, Windowed), or None."""
        template = self._template
        if not isinstance(template, (Multiclass, Binary)) or not template._fast or template.weighted:
            return None
        if template.bootstrap is not None:
            return None
        return (template.num_classes, *template._ignoring) if isinstance(template, Multiclass) else (2, 0, False)

    def _begin(self, template: Accumulator, empty: Accumulator, clock: Any) -> None:
        """Keep the template and the counts' type; allocate the declared state."""
        if not callable(clock):
            raise TypeError(f"clock={clock!r} is not valid: expected a function returning seconds, as time.time")
        self._template, self._empty, self.clock = template, empty, clock
        self._start(self._state_spec(**self._config()))
        self._count_names = self._spec.vector
        self._cached = None

    def _counts(self) -> Accumulator:
        """A new accumulator holding the counts the queries read."""
        raise NotImplementedError

    def _latest_seen(self) -> float | None:
        """unit="seconds": the latest time counted or advanced to, or None."""
        raise NotImplementedError

    def _check_merge_room(self, other: Any) -> None:
        """OverflowError, changing nothing, when merging other would overflow a count."""
        raise NotImplementedError

    # --- state ----------------------------------------------------------------------------------

    def _share(self) -> int:
        """How many slots share streameval.limits' bounds (each may total 1 / share of them)."""
        return 1

    def _state_changed(self) -> None:
        """The counts changed: queries sum them again."""
        self._cached = None

    def _state_loaded(self) -> None:
        self._cached = None
        self.__dict__.pop("_counting", None)  # a view of the arrays replaced

    def reset(self) -> None:
        """Forget every sample: counts and position back to the start; the configuration stays."""
        super().reset()
        self._cached = None

    def copy(self) -> Self:
        """An independent copy: same configuration, same counts and position (no callbacks)."""
        new = super().copy()
        new._cached = None
        new.__dict__.pop("_counting", None)  # its own view and counter: copies may count in two threads
        return new

    def _count_arrays(self) -> list[np.ndarray]:
        return [self._storage.host(name) for name in self._count_names]

    def _holding(self, arrays: list[np.ndarray]) -> Accumulator:
        acc = self._empty.copy()
        acc._storage.assign(dict(zip(acc._spec, arrays)))
        return acc

    def unsummable_reason(self) -> str | None:
        """Why these counts cannot be added to another worker's (state vectors, merge, sync), or None."""
        if self.unit == "seconds":
            return None
        return (f"only unit='seconds' merges, by epoch time; positions in a stream of {self.unit} have no "
                "common clock across workers")

    _merge_refusal = unsummable_reason

    # --- queries ----------------------------------------------------------------------------------

    def _current(self) -> Accumulator:
        # Built once per change of state: a logger reading ten metrics sums the buckets once.
        if self._cached is None:
            self._cached = self._counts()
        return self._cached

    def snapshot(self) -> Accumulator:
        """A plain accumulator (a copy) holding the counts the queries read."""
        return self._current().copy()

    def _describe(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._frozen_config.items() if k != "accumulator")
        return f"{type(self).__name__}({self._template._describe()}, {settings})"

    # --- counting ---------------------------------------------------------------------------------

    def _prepare(self, given: tuple[Any, Any, Any]) -> Prepared:
        """The user's batch prepared as the wrapped accumulator prepares it (its errors)."""
        return prepare(*given, self._template._layout)

    def _view(self) -> tuple[Accumulator, SlotView]:
        """(an accumulator of the counts' type counting into the view, the view of our storage),
        made once per storage (a copy, a load or a reset gets new ones)."""
        counting: tuple[Accumulator, SlotView] | None = self.__dict__.get("_counting")
        if counting is None or counting[1].stacked is not self._storage:
            share = self._share()
            view = SlotView(self._empty._spec, self._storage, leading=self._LEADING, share=share,
                            refuse=lambda name: self._too_much(name, self._spec[name].dtype, "counted", share))
            counter = self._empty.copy()
            counter._storage = view
            counting = self._counting = (counter, view)
        return counting

    def _count_into(self, counter: Accumulator, batch: Prepared, given: tuple[Any, Any, Any]) -> None:
        """counter._count(batch) into where view is aimed; on a bad batch, raise the error the
        wrapped accumulator gives for the batch as given (the user's arguments and positions)."""
        try:
            counter._count(batch)
        except (TypeError, ValueError) as exc:
            raise template_error(self._template, given, exc) from None

    def _check_batch(self, batch: Prepared, given: tuple[Any, Any, Any]) -> None:
        """Check a batch that will not be counted (samples that leave a window within their own
        batch): counted into a new accumulator, which is dropped."""
        self._count_into(self._empty.copy(), batch, given)

    # --- slots: growth and merge ------------------------------------------------------------------

    def _add_slots(self, other: SlotWrapper, mine: np.ndarray, theirs: np.ndarray) -> None:
        """Add other's slots theirs to our slots mine, array by array (a merge by slot)."""
        assert isinstance(self._storage, NumpyStorage)
        self._storage.add_slots(other._storage, self._count_names, mine, theirs)
        self._state_loaded()

    def _grow_slots(self, spec: Spec) -> None:
        """Take spec, the same arrays with more slots, keeping our slots as its first ones (new
        keys of a Sliced); the bounds were checked by whoever built spec."""
        old = self._storage
        new = NumpyStorage.zeros(spec)
        index = np.arange(old.host(self._count_names[0]).shape[0]) if self._count_names else np.zeros(0, np.intp)
        new.set_slots({name: old.host(name) for name in self._count_names}, index)
        new.assign({name: old.host(name) for name in spec.metadata})
        self._spec, self._storage = spec, new
        self._state_loaded()

    # --- time -------------------------------------------------------------------------------------

    def _time_of(self, timestamp: Any) -> float | None:
        """unit="seconds": the checked timestamp, or clock() when None. Other units take none."""
        if self.unit != "seconds":
            if timestamp is not None:
                raise ValueError(f"timestamp={timestamp!r} was given, but this {type(self).__name__} counts "
                                 f"{self.unit}: timestamps are for unit='seconds'")
            return None
        if timestamp is None:
            return finite_time(self.clock(), "clock()")
        t = finite_time(timestamp, "timestamp")
        self._check_skew(t)
        return t

    def _check_skew(self, t: float, what: str = "timestamp={t!r}") -> None:
        """TimestampError(reason="future") when t is more than max_skew ahead of both the latest
        time seen and clock(): one wrong time far ahead would make every later sample late. The
        clock is read only then, so a stream that resumes after a long pause is not refused."""
        if self.max_skew is None:
            return
        latest = self._latest_seen()
        if latest is not None and t <= latest + self.max_skew:
            return
        now = finite_time(self.clock(), "clock()")
        if t <= now + self.max_skew:
            return
        seen = "no time seen yet" if latest is None else f"the latest time seen is {latest!r}"
        raise TimestampError(
            f"{what.format(t=t)} is more than max_skew={self.max_skew!r} seconds ahead of the clock (clock() = "
            f"{now!r}; {seen}): a wrong time this far ahead would make every later sample late. Check that "
            "timestamps are epoch seconds, or give max_skew= a larger bound (None: no bound)", "future")

    # --- merge ------------------------------------------------------------------------------------

    def merge(self, other: Any) -> Self:
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
        self._state_loaded()
        return self


# Declared state arrays by name (window._cm, decayed._hist...), for tests and debugging, as on
# the accumulators: each wrapped class's, raising AttributeError when this state declares none.
for _cls in WRAPPABLE:
    for _base in _cls.__mro__:
        for _name, _member in vars(_base).items():
            if isinstance(_member, StateArrayAttribute) and _name not in vars(SlotWrapper):
                _attribute = StateArrayAttribute()
                _attribute.__set_name__(SlotWrapper, _name)
                setattr(SlotWrapper, _name, _attribute)


# --- configuration ------------------------------------------------------------------------------


def description(acc: Accumulator) -> dict[str, Any]:
    """An accumulator's description {"kind": class name, "config": its constructor's arguments}."""
    return {"kind": type(acc).__name__, "config": acc._config()}


def inner_layout(described: Any, *, weighted: bool = False) -> tuple[type[Accumulator], dict[str, Any], Spec]:
    """(class, configuration, state spec) of an accumulator description, checked without
    allocating; weighted=True describes its weighted twin."""
    if not (isinstance(described, dict) and described.keys() == {"kind", "config"}
            and isinstance(described["config"], dict)):
        raise TypeError(
            f"accumulator={described!r} is not valid: expected a Binary, Multiclass or Multilabel, "
            "or its description {'kind': ..., 'config': ...}"
        )
    kinds = {cls.__name__: cls for cls in serialization.REGISTRY.values() if issubclass(cls, Accumulator)}
    cls = kinds.get(described["kind"]) if isinstance(described["kind"], str) else None
    if cls is None:
        raise ValueError(f"accumulator kind {described['kind']!r} is not one of {sorted(kinds)}")
    config = {**described["config"], "weighted": True} if weighted else described["config"]
    spec = cls._state_spec(**config)
    if spec.grows:
        raise ValueError(f"{cls.__name__}(exact=True) keeps a score table that grows with the data: it cannot "
                         "be cut into buckets or decayed; use bins= instead")
    if isinstance(config.get("labels"), str):
        raise ValueError('Multiclass(labels="auto") changes its classes as labels arrive: it cannot be cut into '
                         "buckets or decayed; give labels= or num_classes=")
    return cls, config, spec


def template_of(accumulator: Any, *, weighted: bool = False) -> Accumulator:
    """A new empty accumulator configured as accumulator (an empty accumulator, or a description)."""
    if isinstance(accumulator, SlotWrapper):
        raise TypeError(f"accumulator={accumulator!r} is a {type(accumulator).__name__}: wrappers wrap a Binary, "
                        "Multiclass or Multilabel. For windows per slice, wrap the other way: "
                        "Sliced(Windowed(accumulator, ...)) (Windowed(Sliced(...)) and Decayed(Sliced(...)) are "
                        "not supported)")
    if isinstance(accumulator, Accumulator):
        if accumulator.device is not None:
            raise ValueError(f"accumulator={accumulator!r} counts on {accumulator.device}, but windows and decay keep "
                             "their slots' counts on the host (numpy): pass an accumulator without device= (a GPU "
                             "batch is then copied to the host each update)")
        if not accumulator.is_empty:
            raise ValueError(f"accumulator={accumulator!r} holds counts: pass an empty one (it is the template "
                             "of the counts, which start empty)")
        accumulator = description(accumulator)
    cls, config, _ = inner_layout(accumulator, weighted=weighted)
    return cls(**config)


def check_unit(unit: Any) -> str:
    if not isinstance(unit, str) or unit not in UNITS:
        raise ValueError(f"unit={unit!r} is not valid: expected 'samples', 'updates' or 'seconds'")
    return unit


def positive_number(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} is not valid: expected a finite number > 0")
    return float(value)


def max_skew_of(value: Any, unit: str) -> float | None:
    """max_skew=, checked: None or a number of seconds > 0, for unit="seconds"."""
    if value is not None:
        value = positive_number("max_skew", value)
    if value != DEFAULT_MAX_SKEW and unit != "seconds":
        raise ValueError(f"max_skew={value!r} is for unit='seconds': a window of {unit} has no timestamps")
    return value  # type: ignore[no-any-return]


def with_max_skew(config: dict[str, Any], max_skew: float | None) -> dict[str, Any]:
    # Written only when not the default, so payloads of earlier versions stay byte for byte the same.
    return config if max_skew == DEFAULT_MAX_SKEW else {**config, "max_skew": max_skew}


def finite_time(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not valid: expected a finite number of seconds")
    return float(value)


def template_error(template: Accumulator, given: tuple[Any, Any, Any], error: Exception) -> Exception:
    """The exception template.update(*given) raises, else error."""
    try:
        template.copy().update(*given)
    except Exception as exc:  # whatever the accumulator says about the user's batch
        return exc
    return error

