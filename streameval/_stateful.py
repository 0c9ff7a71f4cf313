"""The state layer: a configuration and its declared arrays in a storage.

``Stateful`` is what every accumulator is before it is a classification accumulator: a frozen
configuration (``_config``), the state it declares (``_state_spec`` -> ``_state.Spec``) and a
``_storage.Storage`` holding it. Merge, copy, reset, ``==``, serialization, state vectors and
overflow checks are written here once, from the declaration; subclasses add what they count and
what they compute. An accumulator without labels (prediction counts and score bins) is a
Stateful with those components, and inherits no metric it cannot compute.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import numpy as np

from . import _locking, checkpoint, limits, serialization
from ._state import Spec
from ._storage import NumpyStorage, Storage
from .errors import IncompatibleError
from .statevector import StateVector

if TYPE_CHECKING:  # typing.Self is Python 3.11's; the package runs on 3.10
    from typing_extensions import Self



class Summable:
    """a + b, a += b and sum([a, b, c]) from merge() and copy(): 0 is the identity of the sum.

    Anything else that is not a streameval accumulator gives Python's TypeError ("unsupported
    operand type(s) for +"), as 1 + "x" does.
    """

    def merge(self, other: Any) -> Self:
        raise NotImplementedError

    def copy(self) -> Self:
        raise NotImplementedError

    def _describe(self) -> str:
        raise NotImplementedError

    @staticmethod
    def _is_zero(other: object) -> bool:
        return isinstance(other, int) and not isinstance(other, bool) and other == 0

    def __iadd__(self, other: object) -> Self:
        if self._is_zero(other):
            return self
        if not isinstance(other, Summable):
            return NotImplemented
        return self.merge(other)

    def __add__(self, other: object) -> Self:
        if self._is_zero(other):
            return self.copy()
        if not isinstance(other, Summable):
            return NotImplemented
        return self.copy().merge(other)

    __radd__ = __add__

    def _merge_refusal(self) -> str | None:
        """Why merge() refuses this object whatever the other one is, or None."""
        return None

    def _check_sums_fit(self, pairs: Any, done: str = "merged") -> None:
        """OverflowError, before anything is added, when adding theirs to mine (each (name, mine,
        theirs)) would take a total past streameval.limits' bounds."""
        for name, mine, theirs in pairs:
            self._check_total(name, limits.abs_totals(mine, theirs), mine.dtype, done)

    def _check_total(self, name: str, total: float, dtype: np.dtype, done: str, share: int = 1) -> None:
        """OverflowError unless total (of |counts| of name) * share is within streameval.limits' bounds."""
        if not limits.total_fits(total * share, dtype):
            raise self._too_much(name, dtype, done, share)

    def _too_much(self, name: str, dtype: np.dtype, done: str, share: int = 1) -> OverflowError:
        """The error for counts of name that would pass streameval.limits' bounds (nothing was done)."""
        bound = "the largest float64" if dtype.kind == "f" else f"streameval.limits.MAX_COUNT = {limits.MAX_COUNT:,}"
        bound += f" / {share} (a bucket's share of the ring)" if share > 1 else ""
        return OverflowError(f"{self._describe()}: the counts {name} would total more than {bound}; nothing was {done}")


class StateArrayAttribute:
    """A declared state array read as an attribute of its name (``acc._cm``): the storage's host
    array, for tests and debugging (the library reads the storage). AttributeError when this
    configuration does not declare it. Declared in the class body of the component that owns
    the array (a __getattr__ would slow every attribute read of the class)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        storage = obj.__dict__.get("_storage")
        if storage is None or self.name not in storage.spec:
            raise AttributeError(f"{type(obj).__name__!r} object has no state array {self.name!r} in this "
                                 "configuration")
        return storage.host(self.name)


class Stateful(Summable, StateVector):
    """A configuration and the state it declares, kept in a storage. Not instantiated directly.

    A subclass provides ``_config`` (the constructor's keyword arguments, JSON-safe),
    ``_state_spec`` (the declared state of a configuration, checked without allocating), what it
    counts (``update``) and ``n_samples``; optionally ``_check_state`` (a loaded state's
    consistency) and ``_merge_state`` (arrays its components merge by another rule than adding).
    Components expose their arrays as ``StateArrayAttribute``s (``acc._cm``), for tests and debugging.
    """

    _KIND: ClassVar[serialization.Kind]
    _STORAGE: ClassVar[type[Storage]] = NumpyStorage
    # True when the counts depend on the order samples arrive in (a window, a decay: the slot
    # wrappers of _slots), so that partitions counted in parallel cannot stand for the stream.
    _follows_stream_order: ClassVar[bool] = False
    _spec: Spec
    _storage: Storage
    _frozen_config: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_KIND" in cls.__dict__:
            serialization.REGISTRY[cls._KIND] = cls
        _locking.lock_public_methods(cls)  # thread safety: see _locking

    # --- what a subclass provides -------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, JSON-safe."""
        raise NotImplementedError

    @classmethod
    def _state_spec(cls, *args: Any, **config: Any) -> Spec:
        """The declared state of this configuration, checked (and its size bounded) without allocating."""
        raise NotImplementedError

    def _check_state(self) -> None:
        """Raise ValueError if the state arrays are inconsistent (called on deserialized state)."""

    @property
    def n_samples(self) -> int | float:
        """Number of samples counted so far (total weight when weighted)."""
        raise NotImplementedError

    # --- state ----------------------------------------------------------------------------------

    def _arrays(self) -> list[np.ndarray]:
        """The state arrays as host arrays, in the declared order."""
        return self._storage.host_arrays()

    def _start(self, spec: Spec) -> None:
        """Begin empty, with the declared state the constructor checked for this configuration."""
        # The configuration never changes after __init__: keep it and the declared state at
        # hand, for the merges and serialization that run once per batch.
        self._frozen_config = self._config()
        self._spec = spec
        self._storage = self._STORAGE.zeros(spec)

    def reset(self) -> None:
        """Forget every sample: all counts back to zero."""
        config = self._config()
        if config != self.__dict__.get("_frozen_config"):  # Multiclass(labels="auto") forgets its labels
            self._frozen_config = config
            self._spec = self._state_spec(**config)  # which checks the state's size
        storage = self.__dict__.get("_storage")  # (labels="auto" resets before its first storage)
        # where the counts live: the same place
        self._storage = self._STORAGE.zeros(self._spec) if storage is None else storage.fresh(self._spec)

    @property
    def is_empty(self) -> bool:
        """True when no sample (or only zero weight) has been counted."""
        return self._storage.is_zero()

    def copy(self) -> Self:
        """An independent copy: same configuration, same counts."""
        new = object.__new__(type(self))
        new.__dict__ = _locking.unlocked_dict(self)
        new._storage = self._storage.copy()
        return new

    def _reserve(self, name: str, mass: float) -> None:
        """OverflowError, naming the array, unless a batch adding values that total at most
        mass (in absolute value) to it keeps its total within streameval.limits."""
        if not self._storage.reserve(name, mass):
            self._refuse_batch(name)

    def _reserve_all(self, masses: Iterable[tuple[str, float]]) -> None:
        """_reserve() each (name, mass), in order."""
        name = self._storage.reserve_all(masses)
        if name is not None:
            self._refuse_batch(name)

    def _refuse_batch(self, name: str) -> NoReturn:
        bound = ("the largest float64 (the sums would be infinite)" if name in self._spec.floats
                 else f"streameval.limits.MAX_COUNT = {limits.MAX_COUNT:,}")
        raise OverflowError(f"{self._describe()}: counting this batch would take the total of {name} past "
                            f"{bound}; nothing was counted")

    def _describe(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"

    def __repr__(self) -> str:
        return f"<{self._describe()} n_samples={self.n_samples}>"

    # --- merge and equality ---------------------------------------------------------------------

    def _check_compatible(self, other: object) -> None:
        if not isinstance(other, Summable):
            raise IncompatibleError(f"Cannot merge {self._describe()} with {reprlib.repr(other)} (type "
                                    f"{type(other).__name__}): merge() takes another {type(self).__name__}")
        if type(other) is not type(self) or other._frozen_config != self._frozen_config:
            raise IncompatibleError(f"Cannot merge {self._describe()} with {other._describe()}")

    def merge(self, other: Any) -> Self:
        """Add other's counts to this accumulator in place and return it; other is unchanged.

        Raises IncompatibleError, changing nothing, when the types or configurations differ, and
        OverflowError, changing nothing, when a sum would pass streameval.limits' bounds (an int64
        count array's total above MAX_COUNT, a float64 one that is not finite).
        """
        self._check_compatible(other)
        # Laying out discovered labels or exact tables again moves counts but keeps their sums.
        name = self._storage.overflowing_sum(other._storage)
        if name is not None:
            raise self._too_much(name, self._spec[name].dtype, "merged")
        self._merge_state(other)
        return self

    def _merge_state(self, other: Stateful) -> None:
        """Combine other's state with ours (compatible, and the sums known to fit)."""
        self._storage.add(other._storage, self._spec.added)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or other._frozen_config != self._frozen_config:
            return False
        return self._storage.equal(other._storage)

    __hash__ = None  # type: ignore[assignment]  # mutable

    # --- serialization --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A versioned binary payload; read it back with streameval.from_bytes (safe on untrusted bytes)."""
        config_bytes = self.__dict__.get("_config_bytes")
        if config_bytes is None:  # checked and encoded once: the configuration never changes
            config_bytes = self._config_bytes = serialization.config_json(self._frozen_config).encode()
        return serialization.encode(self._KIND, config_bytes, self._storage.host_arrays())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; read it back with streameval.from_dict."""
        return {
            "format": "streameval",
            "version": serialization.VERSION,
            "kind": type(self).__name__,
            "config": self._config(),
            "state": [a.tolist() for a in self._storage.host_arrays()],
        }

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return serialization.from_bytes, (self.to_bytes(),)

    def save(self, path: Any) -> None:
        """Write a checkpoint atomically (temporary file, fsync, rename); read it with streameval.load."""
        checkpoint.save(self, path)


def _short(value: object) -> str:
    if isinstance(value, list) and len(value) > 6:
        return repr(value[:5])[:-1] + ", ...]"
    return repr(value)
