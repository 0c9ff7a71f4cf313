"""The state-vector protocol: any engine that can add arrays can merge streameval accumulators.

Every accumulator (Binary, Multiclass, Multilabel, with bins, bootstrap replicates or discovered
labels) and every Windowed or Decayed wrapper exposes:

- ``state_vector()``: its counts as one contiguous float64 array (a copy);
- ``fingerprint()``: a string that is equal for two objects exactly when their vectors can be
  added: same type, same configuration, same layout (and, for windows and decay, the same
  position in time, since only aligned rings add up);
- ``load_state_vector(vector)``: replace the counts with a vector, typically the sum of the
  vectors of several workers. It checks the length, that counts are finite, that integer counts
  are whole numbers and that counts which cannot be negative are not, and changes nothing when a
  check fails.

Merging is adding the vectors. With MPI, Ray, Flink or anything else that reduces arrays::

    assert all_equal(gather(acc.fingerprint()))   # else the sum would be meaningless
    acc.load_state_vector(allreduce_sum(acc.state_vector()))

float64 holds integer counts exactly up to 2**53 (9e15) samples per cell. streameval.torch.sync
does this for torch.distributed in one collective call.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


class StateVector:
    """The protocol's three methods, for classes whose state arrays are named in ``self._spec``.

    ``_META`` names state arrays that are positions, not counts: they are not in the vector and
    go into the fingerprint instead. ``_SIGNED_STATE`` names the arrays that may be negative.
    """

    _META: frozenset = frozenset()

    def _vector_arrays(self) -> list[tuple[str, np.ndarray]]:
        return [(name, getattr(self, name)) for name in self._spec if name not in self._META]

    def state_vector(self) -> np.ndarray:
        """The counts as one contiguous float64 array, in a fixed order (a copy)."""
        arrays = [a.ravel() for _, a in self._vector_arrays()]
        return np.concatenate(arrays).astype(np.float64) if arrays else np.zeros(0)

    def fingerprint(self) -> str:
        """Equal for two objects exactly when their state vectors can be added."""
        layout = {
            "type": type(self).__name__,
            "config": self._frozen_config,
            "layout": [[name, list(a.shape), a.dtype.str] for name, a in self._vector_arrays()],
            "position": {name: getattr(self, name).tolist() for name in sorted(self._META & set(self._spec))},
        }
        return hashlib.sha256(json.dumps(layout, sort_keys=True, default=str).encode()).hexdigest()

    def load_state_vector(self, vector) -> None:
        """Replace the counts with ``vector`` (e.g. a sum of workers' vectors); all checked first."""
        vector = np.asarray(vector)
        if vector.ndim != 1 or vector.dtype.kind not in "biuf":
            raise ValueError(f"vector has shape {vector.shape} and dtype {vector.dtype}: expected a 1-D numeric array")
        parts = self._vector_arrays()
        size = sum(a.size for _, a in parts)
        if vector.shape[0] != size:
            raise ValueError(f"vector has {vector.shape[0]} values: this {type(self).__name__}'s state has {size}")
        vector = vector.astype(np.float64)
        new, start = [], 0
        for name, current in parts:
            values = vector[start:start + current.size]
            bad = ~np.isfinite(values)
            if name not in self._SIGNED_STATE:
                bad |= values < 0
            if current.dtype.kind == "i":
                bad |= values != np.round(values)
            if bad.any():
                position = start + int(np.argmax(bad))
                kind = "finite" if name in self._SIGNED_STATE else "finite, non-negative"
                raise ValueError(
                    f"vector[{position}] = {vector[position].item()!r} is not a valid count of {name}: "
                    f"expected {kind}{' whole numbers' if current.dtype.kind == 'i' else ' numbers'}"
                )
            new.append((name, values.astype(current.dtype).reshape(current.shape)))
            start += current.size
        for name, values in new:
            setattr(self, name, values)
        self._state_loaded()

    def _state_loaded(self) -> None:
        """Called after load_state_vector: drop whatever was derived from the old counts."""
