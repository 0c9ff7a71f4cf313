"""The state-vector protocol: any engine that can add arrays can merge streameval accumulators.

Every accumulator (Binary, Multiclass, Multilabel, with bins, bootstrap replicates or discovered
labels) and every Windowed or Decayed wrapper exposes the methods below; the vectors of those
whose state is not a sum (see ``unsummable_reason``) are refused:

- ``state_vector()``: its counts as one contiguous float64 array (a copy);
- ``fingerprint()``: a string that is equal for two objects exactly when their vectors can be
  added: same type, same configuration, same layout (and, for windows and decay, the same
  position in time, since only aligned rings add up);
- ``load_state_vector(vector)``: replace the counts with a vector, typically the sum of the
  vectors of several workers. It checks the length, that counts are numbers (ValueError for NaN),
  whole where they are integers and not negative where they cannot be, and that they did not
  overflow (OverflowError: infinities, integer counts above 2**53, which float64 does not hold
  exactly, an integer array whose total passes ``streameval.limits.MAX_COUNT``, a float64 one
  whose total is not finite, a window's bucket past its share of those), and changes nothing
  when a check fails;
- ``unsummable_reason()``: why this object's vectors cannot be added, or None. A state that is
  not a sum of counts refuses the three methods above with an IncompatibleError saying why and
  what to use instead: an exact score table (``Binary(exact=True)``: adding two tables would
  add score values) and windows or decay counting samples or updates (their positions have no
  common clock). Merge those with ``merge()``, sending ``to_bytes()`` between workers.

Merging is adding the vectors. With MPI, Ray, Flink or anything else that reduces arrays::

    assert all_equal(gather(acc.fingerprint()))   # else the sum would be meaningless
    acc.load_state_vector(allreduce_sum(acc.state_vector()))

float64 holds integer counts exactly up to 2**53 (9e15) samples per cell: ``state_vector()`` of
an accumulator holding more in a cell raises OverflowError. ``Multiclass(labels="auto")`` has its
discovered labels in the fingerprint, so its vectors add only between workers that found the
same labels, in the same order. streameval.torch.sync does all this for torch.distributed in one
collective call, and merges the states that are not sums (and discovered labels) exactly.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from . import limits
from .errors import IncompatibleError

if TYPE_CHECKING:
    from ._state import Spec
    from ._storage import Storage


class StateVector:
    """The protocol's methods, for classes whose state is declared in ``self._spec`` and kept in
    ``self._storage``: the vector carries the COUNT arrays; METADATA arrays (positions in a
    stream) go into the fingerprint instead; a declaration's ``signed`` says which may be negative.
    """

    _spec: Spec
    _storage: Storage
    _frozen_config: dict[str, Any]
    # Configuration keys that the data fills in (Multiclass(labels="auto")'s discovered labels):
    # workers that saw different data differ there, so streameval.torch.sync merges such objects
    # with merge() rather than adding vectors that would then have different layouts.
    _LEARNED: frozenset[str] = frozenset({"discovered"})

    def _describe(self) -> str:
        raise NotImplementedError

    def unsummable_reason(self) -> str | None:
        """Why state vectors of this object cannot be added (a sentence), or None when they can.

        A state that is not a sum of counts says so in its declaration: two workers' exact score
        tables, say, hold different scores at the same positions.
        """
        return self._spec.unsummable

    def _refuse_unsummable(self) -> None:
        reason = self.unsummable_reason()
        if reason is not None:
            raise IncompatibleError(f"{self._describe()} has no state vector: {reason}")

    def _vector_arrays(self) -> list[tuple[str, np.ndarray]]:
        return [(name, self._storage.host(name)) for name in self._spec.vector]

    def state_vector(self) -> np.ndarray:
        """The counts as one contiguous float64 array, in a fixed order (a copy).

        IncompatibleError when the state is not a sum (see unsummable_reason()); OverflowError
        when an integer count is above 2**53, which float64 does not hold exactly.
        """
        self._refuse_unsummable()
        parts = self._vector_arrays()
        limit = limits.MAX_EXACT_VECTOR_COUNT
        for name, a in parts:
            if a.dtype.kind == "i" and a.size and a.max() > limit:
                raise OverflowError(f"{name} holds a count of {a.max()}, above 2**53: a float64 state vector "
                                    "would not hold it exactly; merge with merge() or to_bytes() instead")
        arrays = [a.ravel() for _, a in parts]
        return np.concatenate(arrays).astype(np.float64) if arrays else np.zeros(0)

    def fingerprint(self) -> str:
        """Equal for two objects exactly when their state vectors can be added."""
        self._refuse_unsummable()
        layout = {
            "type": type(self).__name__,
            "config": self._frozen_config,
            "layout": [[name, list(a.shape), a.dtype.str] for name, a in self._vector_arrays()],
            "position": {name: self._storage.host(name).tolist() for name in sorted(self._spec.metadata)},
        }
        return hashlib.sha256(json.dumps(layout, sort_keys=True, default=str).encode()).hexdigest()

    def load_state_vector(self, vector: Any) -> None:
        """Replace the counts with ``vector`` (e.g. a sum of workers' vectors); all checked first.

        ValueError for a vector of another length, or values that are not counts (NaN,
        negative where counts cannot be, fractional where they are integers); OverflowError for
        values that overflowed (infinities, integer counts above 2**53, an integer array's total
        above streameval.limits.MAX_COUNT, a float array whose total is not finite). The first
        bad position is named, and nothing changes.
        """
        self._refuse_unsummable()
        vector = np.asarray(vector)
        if vector.ndim != 1 or vector.dtype.kind not in "biuf":
            raise ValueError(f"vector has shape {vector.shape} and dtype {vector.dtype}: expected a 1-D numeric array")
        parts = self._vector_arrays()
        size = sum(a.size for _, a in parts)
        if vector.shape[0] != size:
            raise ValueError(f"vector has {vector.shape[0]} values: this {type(self).__name__}'s state has {size}")
        exact = limits.MAX_EXACT_VECTOR_COUNT
        # Integers are compared before the conversion, which would round 2**53 + 1 down to 2**53.
        too_big = (vector > exact) | (vector < -exact) if vector.dtype.kind in "iu" else None
        floats = vector.astype(np.float64)
        new, totals, start = {}, {}, 0
        for name, current in parts:
            signed = self._spec[name].signed
            stop = start + current.size
            values = floats[start:stop]
            overflow = np.isinf(values)
            invalid = np.isnan(values)
            if not signed:
                invalid |= values < 0
            if current.dtype.kind == "i":
                overflow |= (np.abs(values) > exact) if too_big is None else too_big[start:stop]
                invalid |= values != np.round(values)
            bad = overflow | invalid
            if bad.any():
                at = int(np.argmax(bad))
                shown = vector[start + at].item()
                if overflow[at]:
                    limit = ("at most 2**53, the largest count float64 holds exactly" if current.dtype.kind == "i"
                             else "finite")
                    raise OverflowError(f"vector[{start + at}] = {shown!r} overflows {name}: counts must be {limit}")
                kind = "finite" if signed else "finite, non-negative"
                raise ValueError(
                    f"vector[{start + at}] = {shown!r} is not a valid count of {name}: "
                    f"expected {kind}{' whole numbers' if current.dtype.kind == 'i' else ' numbers'}"
                )
            loaded = values.astype(current.dtype).reshape(current.shape)
            total = float(limits.abs_total(loaded))
            if not limits.total_fits(total, loaded.dtype):
                raise OverflowError(f"vector[{start}:{stop}] ({name}) totals more than "
                                    f"{'float64 holds' if loaded.dtype.kind == 'f' else 'streameval.limits.MAX_COUNT'}:"
                                    " its counts would overflow")
            new[name], totals[name] = loaded, total
            start = stop
        self._check_loaded(new)
        self._storage.replace(new, totals)
        self._state_loaded()

    def _check_loaded(self, arrays: dict[str, np.ndarray]) -> None:
        """Raise (OverflowError) if the checked arrays about to be loaded break a bound of the class."""

    def _state_loaded(self) -> None:
        """Called after load_state_vector: drop whatever was derived from the old counts."""
