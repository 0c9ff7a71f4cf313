"""A device accumulator's update: the batch as tensors on the device, its kind's plan (checks and
counts as torch ops), and the gate that drops a bad batch on the device, all without a host read.

    tensors on the device  ->  plan(acc, y_true, y_pred, weight)   (shapes checked at once, on the host)
                           ->  the key of the first bad value, NO_KEY if none   (on the device)
                           ->  gate = (key == NO_KEY); count(tensors, gate); record a dropped batch

With ``validate="eager"`` the gate is read back (one host sync) and a bad batch raises at once,
with the host path's own message: the batch is counted by a host accumulator of the same
configuration, which finds and words the bad value as ``update`` always does.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .._storage.torch_storage import NO_KEY, Run, TorchStorage
from . import tensors as device_tensors
from .plan import Plan, Problem

if TYPE_CHECKING:
    from ..accumulator import Accumulator

# The most (update, shapes) runs kept to locate a dropped batch's bad value: a stream whose batches
# change shape every update (variable-length sequences) keeps the last MAX_RUNS; a dropped batch
# older than those is reported without its position.
MAX_RUNS = 1024


def kind_module(acc: Any) -> ModuleType:
    """The plan module of acc's kind (Binary, Multiclass, Multilabel)."""
    name = {"Binary": "binary", "Multiclass": "multiclass", "Multilabel": "multilabel"}[type(acc).__name__]
    return importlib.import_module(f"{__package__}.{name}")


def update(acc: Accumulator, y_true: Any, y_pred: Any, sample_weight: Any) -> None:
    """Count a batch into acc's TorchStorage (see the module docstring)."""
    import torch

    storage = acc._storage
    assert isinstance(storage, TorchStorage)
    device = storage.device
    try:
        yt = device_tensors.as_tensor(y_true, "y_true", device)
        yp = device_tensors.as_tensor(y_pred, "y_pred", device)
        weight = None
        if sample_weight is not None:
            if not acc.weighted:
                raise ValueError("sample_weight was given to an unweighted accumulator: create it with "
                                 "weighted=True to count weights (its counts are then float64)")
            weight = device_tensors.as_tensor(sample_weight, "sample_weight", device).to(torch.float64)
    except TypeError:  # host data that is not numbers (a None, a string): the host path words it
        _raise_as_host(acc, y_true, y_pred, sample_weight, TypeError)
        raise
    plan: Plan = kind_module(acc).plan(acc, yt, yp, weight)
    if weight is not None:  # float64 sums past the largest float64 would be infinite
        first = storage.tensors[next(iter(storage.spec))]
        # (non-finite weights are the weight check's; an ignored sample's weight only raises the bound)
        total = (torch.nan_to_num(weight, nan=0.0, posinf=0.0, neginf=0.0).sum() + first.sum()) * first.numel()
        plan.problems.append(Problem("sample_weight", ((total - total) != 0).reshape(1),  # inf - inf is NaN
                                     "(the batch's weights) would take the counts past the largest float64"))
    refused = storage.reserve_batch(yt.numel())
    if refused is not None:
        acc._refuse_batch(refused)
    key, run = _first_bad_key(storage, plan)
    if key is None:  # nothing to check (0/1 booleans, say): nothing to gate or record
        plan.count(storage.tensors, storage.constant(True))
        storage.changed()
        return
    gate = key == NO_KEY
    if acc._validate == "eager":
        if not bool(gate):  # the one host sync of an eager update
            _raise_as_host(acc, y_true, y_pred, sample_weight)
        plan.count(storage.tensors, gate)
        storage.changed()
        return
    storage.updates += 1
    if not storage.runs or storage.runs[-1][1] != run:
        storage.runs.append((storage.updates, run))
        if len(storage.runs) > MAX_RUNS:  # batches of ever new shapes: the oldest can no longer be located
            del storage.runs[0]
    plan.count(storage.tensors, gate)
    # the record: until a batch is dropped, each update writes its number and key (NO_KEY if good)
    fresh = storage.dropped == 0
    storage.first_update = torch.where(fresh, storage.updates, storage.first_update)
    storage.first_key = torch.where(fresh, key, storage.first_key)
    storage.dropped = storage.dropped + (key != NO_KEY)
    storage.changed()


def _first_bad_key(storage: TorchStorage, plan: Plan) -> tuple[Any, Run]:
    """The key of the batch's first bad value (a 0-dim int64 tensor on the device, NO_KEY when
    there is none; None when the plan checks nothing), and what decodes it (TorchStorage's Run).

    The first bad value is the host's: the first sample (leading index) with one, in it the first
    problem in the plan's order (y_true, y_pred, sample_weight), and in that the first in C order.
    So each element's key is ``(sample * P + problem) * S + position in its sample`` (P problems,
    S the most values per sample): the smallest key of a bad value is that one, found by one
    ``where`` and one ``amin`` per problem, with no read back to the host."""
    import torch

    problems = [p for p in plan.problems if p.bad.numel()]
    widths = [_width(p.bad) for p in problems]
    run: Run = (tuple((p.argument, tuple(p.bad.shape), p.problem) for p in problems), max(widths, default=1))
    if not problems:
        return None, run
    key = None
    for index, problem in enumerate(problems):
        keys = storage.cached(("keys", tuple(problem.bad.shape), index, len(problems), run[1]),
                              lambda: _element_keys(problem.bad, index, len(problems), run[1]))
        smallest = torch.where(problem.bad, keys, storage.constant(NO_KEY)).amin()
        key = smallest if key is None else torch.minimum(key, smallest)
    return key, run


def _width(bad: Any) -> int:
    """Values per sample of a problem's mask (its leading axis is the samples')."""
    return max(1, bad.numel() // max(1, bad.shape[0])) if bad.ndim else 1


def _element_keys(bad: Any, index: int, problems: int, widest: int) -> Any:
    """Each element's key (see _first_bad_key), shaped like bad, on its device."""
    import torch

    flat = torch.arange(bad.numel(), dtype=torch.int64, device=bad.device)
    width = _width(bad)
    return ((flat // width * problems + index) * widest + flat % width).reshape(bad.shape)


def _raise_as_host(acc: Any, y_true: Any, y_pred: Any, sample_weight: Any, fallback: type | None = None) -> None:
    """A bad batch counted by a host accumulator of acc's configuration, which raises the host
    path's error (validate="eager", or host data the device cannot take); nothing of acc changes.
    With fallback, return when the host counts it (the caller raises its own error)."""
    # eager: a host copy (a read, where eager validation syncs anyway), so that a sum past the
    # bounds is found as the host finds it; host data that is not numbers: the counts do not matter
    host = acc.copy().to(None) if fallback is None else type(acc)(**acc._config())
    host.update(*(device_tensors.to_host(x) for x in (y_true, y_pred, sample_weight)))
    if fallback is None:
        raise ValueError("the device found a bad value in this batch, which the host path counts: please report "
                         "this as a bug of streameval's device path")

