"""TorchStorage: counts in torch tensors on a device (``device=``), counted by torch ops.

Counting goes through ``streameval._device`` (each accumulator kind's plan: checks and counts
as torch ops, gated on the device by "the batch is valid"), not through the numba kernels, so
the counting methods of ``Storage`` are refused here. Everything else is the same interface:
queries and payloads read ``host(name)``, a host copy made once per state (cached until the
next change), so the metric code is the host path's.

Dropped batches. An update never reads a value back to the host, so a batch with a bad value
is found on the device: it is dropped whole (its addends gated to zero) and the device records
how many were dropped and where the first bad value was. The next read of the counts
(``host``: every query, payload, merge or comparison) raises ``DroppedBatchError`` saying so,
once; the counts then hold the valid batches only.

Bounds. streameval.limits' MAX_COUNT is kept without reading the device: each update reserves
n_samples x (cells of the array) for every int64 array, a bound of what it can add. Float64
sums are checked when read: a sum that is not finite raises OverflowError at the query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import limits
from .._scores import Binning
from .._state import Spec
from ..errors import DroppedBatchError
from .base import Slots, Storage, fits

if TYPE_CHECKING:
    import torch

NO_KEY = 2**62  # the key of a batch with no bad value
# What decodes a key: each problem's (argument, shape, what a bad value is), and the most values
# per sample among them.
Run = tuple[tuple[tuple[str, tuple[int, ...], str], ...], int]
_CACHED = 64  # tensors kept per storage by cached(): keys per batch shape, constants


def torch_dtype(dtype: np.dtype[Any]) -> Any:
    import torch

    return {np.dtype(np.int64): torch.int64, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


class TorchStorage(Storage):
    """The arrays of a Spec as torch tensors on one device."""

    __slots__ = ("spec", "device", "tensors", "_bounds", "_host", "dropped", "first_update", "first_key",
                 "runs", "updates", "_cache")

    def __init__(self, spec: Spec, device: Any, tensors: dict[str, Any], bounds: dict[str, float]):
        self.spec = spec
        self.device = device
        self.tensors = tensors  # in spec order
        self._bounds = bounds  # name -> a bound of the total of |values| (int64 arrays; absent: unknown)
        self._host: dict[str, np.ndarray] | None = None  # host copies, until the next change
        import torch

        # The record of dropped batches, 0-dim int64 tensors on the device (each update replaces
        # them: a few ops, no indexing): how many were dropped since the last read, and the first
        # one's update number and the key of its first bad value (_device.update._first_bad_key).
        self.dropped, self.first_update, self.first_key = (torch.zeros((), dtype=torch.int64, device=device)
                                                           for _ in range(3))
        # (first update number, what decodes the record's FIRST_KEY from then on) each time that
        # changes: the problems' arguments, shapes and wording (few: shapes rarely change).
        self.runs: list[tuple[int, Run]] = []
        self.updates = 0  # updates counted on this storage (the record names one by its number)
        self._cache: dict[Any, Any] = {}

    # --- allocation -------------------------------------------------------------------------------

    @classmethod
    def zeros(cls, spec: Spec, device: Any = "cpu") -> TorchStorage:
        import torch

        tensors = {name: torch.zeros(shape, dtype=torch_dtype(dtype), device=device)
                   for name, shape, dtype in spec.allocation}
        return cls(spec, torch.device(device), tensors, dict.fromkeys(spec.bounded, 0.0))

    def fresh(self, spec: Spec) -> TorchStorage:
        return TorchStorage.zeros(spec, self.device)

    @classmethod
    def holding(cls, spec: Spec, arrays: Mapping[str, np.ndarray],
                totals: Mapping[str, float] | None = None, device: Any = "cpu") -> TorchStorage:
        import torch

        tensors = {name: torch.as_tensor(np.ascontiguousarray(arrays[name])).to(device) for name in spec}
        return cls(spec, torch.device(device), tensors, dict(totals or {}))

    @classmethod
    def of(cls, storage: Storage, device: Any) -> TorchStorage:
        """A copy of any storage's arrays on device."""
        arrays = {name: storage.host(name) for name in storage.spec}
        return cls.holding(storage.spec, arrays, _totals(storage.spec, arrays), device)

    def copy(self) -> TorchStorage:
        new = TorchStorage(self.spec, self.device, {name: t.clone() for name, t in self.tensors.items()},
                           self._bounds.copy())
        new.dropped, new.first_update, new.first_key = self.dropped, self.first_update, self.first_key  # (replaced, never written in place)
        new.runs, new.updates = list(self.runs), self.updates
        new._host, new._cache = self._host, self._cache
        return new

    def scratch(self, names: tuple[str, ...]) -> Storage:
        raise _host_only("counting aside")

    def replicates(self) -> Iterator[Storage]:
        raise _host_only("bootstrap replicates")

    def relayout(self, spec: Spec, where: np.ndarray) -> Storage:
        raise _host_only("discovered labels")

    # --- reading ----------------------------------------------------------------------------------

    def host(self, name: str) -> np.ndarray:
        arrays = self._host
        if arrays is None:
            arrays = self._host = self._read()
        return arrays[name]

    def host_arrays(self) -> list[np.ndarray]:
        return [self.host(name) for name in self.spec]

    def _read(self) -> dict[str, np.ndarray]:
        """Every array copied to the host (one transfer each), after the record of dropped batches."""
        self.check_dropped()
        arrays = {name: t.cpu().numpy() for name, t in self.tensors.items()}
        for name in self.spec.floats:
            if name in arrays and not np.isfinite(arrays[name]).all():
                raise OverflowError(f"the float64 sums of {name} on {self.device} are no longer finite (a batch's "
                                    "values summed past the largest float64): the counts cannot be read")
        return arrays

    def check_dropped(self) -> None:
        """DroppedBatchError, once, if batches were dropped since the last check (one host read)."""
        if self.device.type == "meta":
            return
        import torch

        dropped, update, key = torch.stack((self.dropped, self.first_update, self.first_key)).cpu().tolist()
        error = self._dropped_error(dropped, update, key) if dropped else None
        del self.runs[:-1]  # only the current shapes can locate a later drop
        if error is not None:
            self.dropped = torch.zeros_like(self.dropped)
            raise error

    def _dropped_error(self, dropped: int, update: int, key: int) -> DroppedBatchError:
        batches = "1 batch was" if dropped == 1 else f"{dropped} batches were"
        run = next((run for start, run in reversed(self.runs) if start <= update), None)
        if update == 0 or run is None or key >= NO_KEY:  # (on another rank of a sync, or too old to locate)
            return DroppedBatchError(
                f"{batches} dropped on the device since the counts were last read, each for a bad value (where the "
                "first was is not known here: on another rank of a torch.distributed sync, or in a batch older than "
                "the shapes kept). The counts hold the other batches. Pass "
                "validate=\"eager\" to raise at the update itself (one host sync per update).",
                argument="", index=None, value=None, problem="was dropped on the device")
        problems, widest = run
        sample, rest = divmod(key, len(problems) * widest)
        which, within = divmod(rest, widest)
        argument, shape, problem = problems[which]
        flat = sample * (int(np.prod(shape[1:])) if len(shape) > 1 else 1) + within
        index: int | tuple[int, ...] = flat
        if len(shape) > 1:
            index = tuple(int(i) for i in np.unravel_index(flat, shape))
        where = f"{argument}[{index if isinstance(index, int) else ', '.join(map(str, index))}]"
        return DroppedBatchError(
            f"{batches} dropped on {self.device} since the counts were last read, each for a bad value: the first "
            f"was update {update} (counting from 1), whose {where} {problem}. The counts hold the other batches. "
            f"Pass validate=\"eager\" to raise at the update itself (one host sync per update).",
            argument=argument, index=index, value=None, problem=problem)

    def constant(self, value: Any) -> Any:
        """A 0-dim tensor of value on the device (made once: a fill, not a copy, each time after)."""
        import torch

        # (keyed by type too: 1, 1.0 and True are one dict key, but three dtypes)
        return self.cached(("constant", type(value), value), lambda: torch.tensor(value, device=self.device))

    def cached(self, key: Any, make: Any) -> Any:
        """make()'s tensor, made once per key (at most _CACHED kept: a new batch shape evicts all)."""
        tensor = self._cache.get(key)
        if tensor is None:
            if len(self._cache) >= _CACHED:
                self._cache = {}
            tensor = self._cache[key] = make()
        return tensor

    def is_zero(self) -> bool:
        return not any(a.any() for a in (self.host(name) for name in self.spec))

    def equal(self, other: Storage) -> bool:
        return self.spec.keys() == other.spec.keys() and all(
            np.array_equal(self.host(name), other.host(name)) for name in self.spec)

    # --- whole arrays -----------------------------------------------------------------------------

    def replace(self, arrays: Mapping[str, np.ndarray], totals: Mapping[str, float] | None = None) -> None:
        import torch

        for name, values in arrays.items():
            self.tensors[name] = torch.as_tensor(np.ascontiguousarray(values)).to(self.device)
        self._bounds.update(_totals(self.spec, arrays) if totals is None else totals)
        self._host = None

    def assign(self, arrays: Mapping[str, np.ndarray]) -> None:
        import torch

        for name, values in arrays.items():
            self.tensors[name].copy_(torch.as_tensor(np.ascontiguousarray(values)))
        self._bounds.update(_totals(self.spec, arrays))
        self._host = None

    # --- arithmetic -------------------------------------------------------------------------------

    def reserve(self, name: str, mass: float) -> bool:
        bound = self._bounds.get(name)
        if bound is None:
            bound = self._bounds[name] = float(limits.abs_total(self.host(name)))
        if not fits(bound + mass, name in self.spec.floats):
            return False
        self._bounds[name] = bound + mass
        return True

    def reserve_batch(self, n: int) -> str | None:
        """reserve() n_samples x cells for each int64 array (see the module docstring): the name
        of the first that would pass MAX_COUNT, or None."""
        return self.reserve_all((name, float(n * self.tensors[name].numel())) for name in self.spec.bounded
                                if name not in self.spec.floats)

    def overflowing_sum(self, other: Storage) -> str | None:
        for name in self.spec.bounded:
            total = float(limits.abs_total(self.host(name))) + float(limits.abs_total(other.host(name)))
            if not fits(total, name in self.spec.floats):
                return name
        return None

    def add(self, other: Storage, names: Iterable[str]) -> None:
        import torch

        device = other if isinstance(other, TorchStorage) else None
        if device is not None:
            device.check_dropped()
        for name in names:
            theirs = device.tensors[name] if device is not None else torch.as_tensor(other.host(name))
            self.tensors[name] += theirs.to(self.device)
            mine = self._bounds.get(name)
            their = device._bounds.get(name) if device is not None else _totals(self.spec, {name: other.host(name)}).get(name)
            if mine is not None and their is not None:  # the next update need not read the sum back
                self._bounds[name] = mine + their
            else:
                self._bounds.pop(name, None)
        self._host = None

    def changed(self) -> None:
        """The tensors were counted into: the host copies are stale."""
        self._host = None

    def add_counted(self, batch: Storage, names: Iterable[str]) -> None:
        self.add(batch, names)

    def add_draws(self, name: str, cells: np.ndarray, draws: np.ndarray) -> None:
        raise _host_only("bootstrap replicates")

    def scale(self, factor: float, names: Iterable[str]) -> None:
        for name in names:
            self.tensors[name] *= factor
        self._host = None

    # --- slots: wrappers keep host state -----------------------------------------------------------

    def zero_slots(self, names: tuple[str, ...], index: int | np.ndarray) -> None:
        raise _host_only("windows")

    def add_slots(self, other: Storage, names: Iterable[str], mine: np.ndarray, theirs: np.ndarray) -> None:
        raise _host_only("windows")

    def set_slots(self, values: Mapping[str, np.ndarray], index: int | np.ndarray) -> None:
        raise _host_only("windows")

    # --- counting: through streameval._device, not these -------------------------------------------

    def count_pairs(self, name: str, y_true: Any, y_pred: Any, weight: Any, n: int, ignore: Any,
                    use_ignore: bool, mass: float | None = None, slots: Slots = None) -> int:
        raise _host_only("numba counting")

    def count_scores(self, name: str, y_true: Any, scores: Any, weight: Any, threshold: float, inclusive: bool,
                     lo: float, hi: float, threads: bool = True, slots: Slots = None,
                     mass: float | None = None) -> int:
        raise _host_only("numba counting")

    def count_binary_scored(self, names: Sequence[str | None], y_true: Any, scores: Any, weight: Any, threshold: float,
                            inclusive: bool, lo: float, hi: float, binning: Binning, eps: float,
                            slots: Slots = None) -> int:
        raise _host_only("numba counting")

    def argmax_rows(self, scores: Any, keep: Any, lo: float, hi: float) -> tuple[Any, int]:
        raise _host_only("numba counting")

    def histogram(self, names: Sequence[str], scores: Any, truth: Any, weight: Any, binning: Binning,
                  inclusive: bool, slots: Slots = None) -> None:
        raise _host_only("numba counting")

    def calibration_sums(self, name: str, truth: Any, probs: Any, weight: Any, eps: float, slots: Slots = None) -> None:
        raise _host_only("numba counting")

    def logit_calibration_sums(self, name: str, y_true: Any, logits: Any, weight: Any, softmax: bool,
                               slots: Slots = None) -> None:
        raise _host_only("numba counting")

    def softmax_rows(self, logits: Any) -> Any:
        raise _host_only("numba counting")

    def count_ranks(self, name: str, scores: Any, truth: Any, weight: Any, slots: Slots = None) -> None:
        raise _host_only("numba counting")

    def multilabel_first_bad(self, y_true: Any, y_pred: Any, weight: Any, is_scores: bool, lo: float,
                             hi: float) -> int:
        raise _host_only("numba counting")

    def count_multilabel(self, names: Sequence[str], y_true: Any, y_pred: Any, weight: Any, is_scores: bool,
                         threshold: float, inclusive: bool, replicate: int | None = None, slots: Slots = None) -> None:
        raise _host_only("numba counting")


def _totals(spec: Spec, arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The totals of |values| of the bounded arrays among these host arrays."""
    return {name: float(limits.abs_total(array)) for name, array in arrays.items() if name in spec.bounded}


def _host_only(what: str) -> TypeError:
    return TypeError(f"{what} needs host state: a device accumulator counts through streameval._device")


if TYPE_CHECKING:
    _ = torch
