"""Declared state: what each array an accumulator (or wrapper) keeps is, in one place.

A configuration's state is a ``Spec``: an ordered mapping from attribute name to ``StateArray``.
The order is the order of the arrays in a payload, a dict and a state vector, so it never changes
for a configuration that already exists. Everything generic about state derives from it:

- allocation and reset: ``shape`` (a dimension of -1 grows with the data and starts empty) and ``dtype``;
- merge: ``Merge.ADD`` arrays are added cell by cell; ``Merge.COMPONENT`` ones are merged by the
  component (or wrapper) that declared them, e.g. an exact score table;
- checks: a ``Role.COUNT`` array holds counts or sums, whose total streameval.limits bounds
  (updates, merges, payloads, state vectors); ``signed`` says whether it may be negative (sums of
  scores, logits); ``Role.VALUE`` arrays hold values that are not summed (an exact table's
  scores); ``Role.METADATA`` ones say where a stream is (a window's position, a table's shift);
- state vectors carry the COUNT arrays, fingerprint the METADATA ones, and refuse a state that
  declares an array ``unsummable`` (saying why);
- the bootstrap: ``replicated_by`` names the array of an array's R replicates;
- discovered labels: ``class_axes`` are the axes indexed by class, laid out again when
  ``Multiclass(labels="auto")`` finds a new label.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, NamedTuple, TypeVar, overload

import numpy as np


class Merge(enum.Enum):
    """How merge() combines an array with the other side's."""

    ADD = "add"  # cell by cell
    COMPONENT = "component"  # by the component or wrapper that declared it (not a sum)


class Role(enum.Enum):
    """What an array's values are."""

    COUNT = "count"  # counts or sums of weights or scores: totals bounded, carried by state vectors
    VALUE = "value"  # values that are not summed (an exact table's scores): no bound, no vector
    METADATA = "metadata"  # where a stream is (a window's position): fingerprinted, not in vectors


COUNT_DTYPES = (np.dtype(np.int64), np.dtype(np.float64))  # the only dtypes a payload carries


class StateArray(NamedTuple):
    """The declaration of one state array (see the module docstring). A NamedTuple: built for
    every configuration an accumulator takes, it must be cheap to make."""

    shape: tuple[int, ...]
    dtype: np.dtype
    merge: Merge = Merge.ADD
    role: Role = Role.COUNT
    signed: bool = False
    replicated_by: str | None = None
    class_axes: tuple[int, ...] = ()
    unsummable: str | None = None  # why state vectors of a state holding it cannot be added

    @property
    def grows(self) -> bool:
        """True when a dimension grows with the data (an exact table)."""
        return -1 in self.shape

    @property
    def empty_shape(self) -> tuple[int, ...]:
        """The shape of the array before anything is counted."""
        return tuple(max(d, 0) for d in self.shape)

    @property
    def bounded(self) -> bool:
        """True when streameval.limits bounds the array's total (counts and sums)."""
        return self.role is Role.COUNT

    def fits(self, shape: tuple[int, ...]) -> bool:
        """True when an array of this shape is one this declaration describes."""
        return len(shape) == len(self.shape) and all(d in (-1, s) for s, d in zip(shape, self.shape))


T = TypeVar("T")


class _once(Generic[T]):
    """functools.cached_property without its lock (which costs microseconds per first read on
    Python 3.11): a Spec is made by one thread and read by many, and a value computed twice is
    the same value."""

    def __init__(self, compute: Callable[[Any], T]):
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _once[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | _once[T]:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)  # found there from now on: no call
        return value


class Spec(dict[str, StateArray]):
    """A configuration's state: attribute name -> StateArray, in payload order. Built once per
    configuration and never changed; the groups that generic code asks for are computed once."""

    @_once
    def added(self) -> tuple[str, ...]:
        """The arrays merge() adds cell by cell."""
        return tuple(name for name, array in self.items() if array.merge is Merge.ADD)

    @_once
    def allocation(self) -> tuple[tuple[str, tuple[int, ...], np.dtype], ...]:
        """(name, empty shape, dtype) of each array, to allocate them."""
        return tuple((name, array.empty_shape, array.dtype) for name, array in self.items())

    @_once
    def bounded(self) -> tuple[str, ...]:
        """The arrays whose totals streameval.limits bounds (counts and sums)."""
        return tuple(name for name, array in self.items() if array.bounded)

    @_once
    def floats(self) -> frozenset[str]:
        """The float64 arrays (sums of weights or scores)."""
        return frozenset(name for name, array in self.items() if array.dtype.kind == "f")

    @_once
    def vector(self) -> tuple[str, ...]:
        """The arrays a state vector carries, in order: the counts."""
        return tuple(name for name, array in self.items() if array.role is Role.COUNT)

    @_once
    def metadata(self) -> tuple[str, ...]:
        """The arrays that say where a stream is: in the fingerprint, not in the vector."""
        return tuple(name for name, array in self.items() if array.role is Role.METADATA)

    @_once
    def replicated(self) -> tuple[tuple[str, str], ...]:
        """(array, the array of its bootstrap replicates) pairs."""
        return tuple((name, array.replicated_by) for name, array in self.items() if array.replicated_by)

    @_once
    def unsummable(self) -> str | None:
        """Why state vectors of this state cannot be added (the first array that says so), or None."""
        return next((array.unsummable for array in self.values() if array.unsummable), None)

    def subset(self, names: tuple[str, ...]) -> Spec:
        """The declarations of these arrays (a batch counted aside), made once per names."""
        subsets: dict[tuple[str, ...], Spec] = self.__dict__.setdefault("_subsets", {})
        subset = subsets.get(names)
        if subset is None:
            subset = subsets[names] = Spec((name, self[name]) for name in names)
        return subset

    @_once
    def grows(self) -> bool:
        """True when an array grows with the data."""
        return any(array.grows for array in self.values())


def counts(shape: Iterable[int], dtype: np.dtype | type, **options: Any) -> StateArray:
    """A COUNT array (counts, or float64 sums) added by merge: the common declaration."""
    return StateArray(tuple(map(int, shape)), np.dtype(dtype), **options)


def count_dtype(weighted: bool) -> np.dtype:
    """Counts are int64 when unweighted, float64 (sums of weights) when weighted; never float32."""
    return np.dtype(np.float64 if weighted else np.int64)


def replicated(spec: Mapping[str, StateArray], replicates: Mapping[str, str], n: int) -> dict[str, StateArray]:
    """spec with each array named in replicates (name -> name of its replicates) marked as
    replicated, followed by the replicate arrays: n copies of it stacked on a new first axis
    (its class axes move one axis on)."""
    out = {name: array._replace(replicated_by=replicates[name]) if name in replicates else array
           for name, array in spec.items()}
    for name, replicates_name in replicates.items():
        array = spec[name]
        out[replicates_name] = array._replace(shape=(int(n), *array.shape),
                                              class_axes=tuple(axis + 1 for axis in array.class_axes))
    return out


def stacked(spec: Mapping[str, StateArray], n: int) -> dict[str, StateArray]:
    """Each array of spec stacked n times on a new first axis (a window's ring of buckets)."""
    return {name: array._replace(shape=(int(n), *array.shape), replicated_by=None,
                                 class_axes=tuple(axis + 1 for axis in array.class_axes))
            for name, array in spec.items()}


def state_bytes(spec: Mapping[str, StateArray]) -> int:
    """Bytes the spec allocates; growing dimensions count as 0 (Python ints: forged shapes do not overflow)."""
    total = 0
    for array in spec.values():
        cells = 1
        for dim in array.shape:
            cells *= max(int(dim), 0)
        total += cells * array.dtype.itemsize
    return total
