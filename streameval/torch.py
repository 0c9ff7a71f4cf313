"""torch.distributed for streameval: ``sync`` sums accumulators over a process group.

Each rank counts its own shard, then ``sync(accs)`` replaces every rank's counts with the sum over
the ranks, so all ranks hold what one accumulator fed all the data would hold::

    import streameval
    from streameval.torch import sync

    acc = streameval.Multiclass(10)
    for y_true, logits in shard:                  # torch tensors, as they come
        acc.update(y_true, logits)
    sync(acc)                                     # every rank: the counts of all the ranks
    if torch.distributed.get_rank() == 0:
        print(acc.report())

One call syncs one accumulator or a list (or tuple) of them, through the state-vector protocol
(streameval.statevector): the ranks first all-gather a small digest of the accumulators'
fingerprints, then every state vector goes into one float64 buffer and one ``all_reduce`` sums
it. A mismatch (another configuration, another number of accumulators, windows at different
times, a non-accumulator) raises the same clear error on every rank before the all-reduce, so no
rank waits in a collective the others skipped, and no counts are summed that should not be.

States that are not sums (an exact score table, ``Binary(exact=True)``) and labels discovered per
rank (``Multiclass(labels="auto")``) cannot be added as vectors. sync merges those exactly
instead, in the same call: one ``all_gather_object`` of their ``to_bytes()``, merged in rank
order on every rank, so every rank ends with what one accumulator fed every rank's data would
hold. Discovered labels are those of every rank, in merge()'s order: sorted when they sort (all
numbers or all strings), else rank 0's, then rank 1's new ones, and so on.

sync works in place and is not idempotent: a second sync sums the sums again (with 2 ranks, every
count doubles). Sync a copy to keep counting locally, ``total = sync(acc.copy())``, or reset each
rank after the sync. float64 holds integer counts exactly up to 2**53 (about 9e15) per cell.

Backends: gloo (and others that take CPU tensors) sum the buffer in host memory, in place; nccl
sums it on ``torch.cuda.current_device()`` (call ``torch.cuda.set_device(local_rank)`` first, as
nccl requires), which costs one host-to-device and one device-to-host copy of the buffer: a few
kilobytes for a confusion matrix.

Counts on a device (``device=``, or counts that moved to a GPU with its tensors): no host copy,
one collective per dtype. The header's all-gather is the same (host metadata: the fingerprints,
read from the configuration and the tensors' shapes, never from the counts); then the int64
arrays of every device accumulator in the call are flattened into one int64 buffer on the device
and the float64 arrays into one float64 buffer, each summed by one ``all_reduce`` there, and the
sums copied back into the tensors. No float64 state vector: int64 counts sum exactly up to
streameval.limits.MAX_COUNT, past 2**53. The group's backend must sum tensors where the counts
are: nccl CUDA ones on this process's current device, gloo CPU ones (``device="cpu"``), a mixed
backend ("cpu:gloo,cuda:nccl") either; otherwise that rank raises a ValueError naming the fix
(and the others a RuntimeError). Every rank passes its accumulators placed alike: a device one
is not summed with a host one (IncompatibleError; ``acc.to(device)`` moves the counts). Host and
device accumulators mix freely in one list: the host ones take the float64 vector above.

Overflow on a device is checked without reading it: each rank keeps a bound of its int64 totals
on the host (the storage's reservations: n_samples x cells per update), sent in the header; when
the ranks' bounds could pass MAX_COUNT, every array's bound is all-gathered and one that would
raises OverflowError on every rank before anything is summed. (After a move or a merge the bound
is the exact total, summed on the device and read once.) Float64 sums are checked when read, as
for device updates: one that summed past the largest float64 raises OverflowError at the query.

Dropped batches (a device update with a bad value, dropped on the device: see
streameval._storage.torch_storage) are summed too: after sync every rank's next query raises
DroppedBatchError with the number of batches dropped on all the ranks (the ranks that dropped
one say where their first was; the others that the first was on another rank), and the counts
hold every rank's valid batches.

Tensors in update. Every accumulator's ``update`` also takes torch tensors. A CPU tensor given to
a host accumulator is read in place, without a copy: contiguous or not, with ``requires_grad`` or
not (its ``detach()`` shares the memory); bfloat16, which numpy lacks, is converted to float32. A
CUDA tensor (or a CuPy or JAX array on a GPU) moves the counts to its device, when the
configuration can count there (``acc.device`` says where they are), and every update is then
counted on the GPU with no host sync; a configuration that needs host state (exact tables,
bootstrap, text labels, windows, decay) copies each batch to the host instead (``tensor.cpu()``,
which also waits for the GPU work that produces it). See docs/guides/training.md.

torch is imported when sync is first called, never by ``import streameval``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from streameval import _locking, limits, serialization
from streameval._storage.torch_storage import TorchStorage
from streameval.errors import IncompatibleError
from streameval._stateful import Stateful

__all__ = ["sync"]


def sync(acc_or_accs: Any, group: Any = None) -> Any:
    """Sum accumulators over the ranks of a torch.distributed group, in place; return the argument.

    acc_or_accs: one accumulator (Binary, Multiclass, Multilabel, Windowed, Decayed) or a list or
    tuple of them, summed in one all-reduce (after an all-gather of a 56-byte header: a digest
    of their fingerprints and a bound of their device counts' totals); every rank passes the same kinds,
    configured alike, placed alike (on the host, or on a device of the same type), in the same
    order. Binary(exact=True) and Multiclass(labels="auto") are merged exactly by one
    all-gather of their bytes (the same call, after the all-reduce), in rank order; their
    discovered labels may differ from rank to rank. Accumulators whose counts live on a device
    (``device=``) are summed there, one all-reduce per dtype (see the module docstring).
    group: a process group (default: the whole world).

    Afterwards every rank holds the sum of all the ranks' counts, as one accumulator fed all the
    data would. Windows and decay must count seconds (positions in a stream of samples or
    updates have no common clock, as for merge) and be at the same time on every rank: call
    ``advance(t)`` with a common ``t`` first. Not idempotent: a second sync sums the sums again;
    sync a copy (``sync(acc.copy())``) to keep the local counts.

    Raises RuntimeError when no process group is initialized or this process is not in group;
    IncompatibleError on every rank, changing nothing, when the accumulators differ across ranks
    (the message names the ranks and, for a list, the position). A rank given a
    non-accumulator (TypeError), a window of samples or updates (IncompatibleError), counts
    that a float64 vector cannot carry exactly (OverflowError, above 2**53 in a cell) or device
    counts that the group's backend cannot sum where they are (ValueError, naming the fix)
    raises that error, and every other rank a RuntimeError naming it: no rank is left waiting.
    A sum or merge that would overflow (streameval.limits) raises OverflowError on every rank
    and changes none of the accumulators.
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "sync() needs a torch.distributed process group: call torch.distributed.init_process_group first"
        )
    rank = dist.get_rank(group)
    if rank < 0:
        raise RuntimeError("sync() was called on a process that is not in group")
    # nccl takes only CUDA tensors; gloo, mpi and mixed backends ("cpu:gloo,cuda:nccl") take CPU ones.
    backend = str(dist.get_backend(group))
    nccl = backend == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")

    accs, error = _accumulators(acc_or_accs)
    is_list = isinstance(acc_or_accs, (list, tuple))
    with _holding_locks(accs):  # no update from another thread between reading and loading the counts
        # Everything local is done before the first collective, so that no rank keeps the
        # others waiting between the two; a local failure is only announced in the header.
        try:
            by_merge = [_merged(acc) for acc in accs]
            on_device = [not merged and _on_device(acc) for acc, merged in zip(accs, by_merge)]
            for i, acc in enumerate(accs):
                if on_device[i]:
                    _check_placement(acc, f"acc_or_accs[{i}]" if is_list else "acc_or_accs", backend)
            keys = [_merge_key(acc) if merged else _device_key(acc) if device_acc else acc.fingerprint()
                    for acc, merged, device_acc in zip(accs, by_merge, on_device)]
            host_summed = [not merged and not device_acc for merged, device_acc in zip(by_merge, on_device)]
            vectors = [acc.state_vector() for acc, summed in zip(accs, host_summed) if summed]
            payloads = [acc.to_bytes() for acc, merged in zip(accs, by_merge) if merged]
            devices = _DeviceSums([acc for acc, device_acc in zip(accs, on_device) if device_acc])
        except Exception as exc:  # e.g. a count above 2**53, which a float64 vector does not carry
            error, by_merge, keys, vectors, payloads, host_summed = exc, [], [], [], [], []
            devices = _DeviceSums([])
        # On the CPU the tensor is the numpy buffer's memory: gloo sums the buffer in place.
        total = torch.from_numpy(np.concatenate(vectors) if vectors else np.zeros(0)).to(device)
        header = torch.from_numpy(_header(keys, failed=error is not None, bound=devices.bound)).to(device)
        gathered = torch.empty((dist.get_world_size(group), header.numel()), dtype=header.dtype, device=device)
        dist.all_gather(list(gathered.unbind()), header, group=group)  # rank r's header into row r
        headers = gathered.cpu().numpy()
        compared = headers[:, :_BOUND]
        if (compared != compared[0]).any() or headers[:, 0].any():
            # Every rank saw the same headers, so every rank takes this path and raises.
            _raise_mismatch(acc_or_accs, accs, keys, error, group)
        # Equal headers: every rank holds the same kinds in the same order, so all make the same calls.
        devices.check_bounds([int(b) for b in headers[:, _BOUND]], group, is_list)  # OverflowError on every rank
        if vectors:
            dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
        devices.all_reduce(group)
        every_rank: list[Any] | None = None
        if payloads:
            every_rank = [None] * dist.get_world_size(group)
            dist.all_gather_object(every_rank, payloads, group=group)
        # Past the collectives: what fails now fails alike on every rank, and changes nothing.
        merged_totals = [] if every_rank is None else _merge_in_rank_order(every_rank)
        if vectors:
            _load([acc for acc, summed in zip(accs, host_summed) if summed], vectors, total.cpu().numpy())
        devices.load()
        for acc, merged_total in zip([acc for acc, merged in zip(accs, by_merge) if merged], merged_totals):
            acc.reset()  # labels="auto": the labels too, so the merge lays them out in rank order
            acc.merge(merged_total)
    return acc_or_accs


def _merged(acc: Any) -> bool:
    """True when acc goes through merge() rather than the sum of vectors."""
    return acc.unsummable_reason() is not None or bool(acc._LEARNED & acc._frozen_config.keys())


def _merge_key(acc: Any) -> str:
    """What must agree across ranks for merge() to take every rank's acc: its type and
    configuration, without what the data fills in (discovered labels)."""
    config = {k: v for k, v in acc._frozen_config.items() if k not in acc._LEARNED}
    text = json.dumps({"type": type(acc).__name__, "config": config}, sort_keys=True, default=str)
    return "merge:" + hashlib.sha256(text.encode()).hexdigest()


def _merge_in_rank_order(every_rank: list[Any]) -> list[Any]:
    """Each position's accumulators, read from every rank's bytes and merged rank 0 first."""
    totals = []
    for position in range(len(every_rank[0])):
        total = serialization.from_bytes(every_rank[0][position])
        for payloads in every_rank[1:]:
            total.merge(serialization.from_bytes(payloads[position]))
        totals.append(total)
    return totals


def _accumulators(acc_or_accs: Any) -> tuple[list[Any], Exception | None]:
    """The accumulators to sync as a list, and the error to raise if the argument is wrong.

    The error is not raised here: the other ranks must first learn of it, or they would wait in
    the all-gather for this rank.
    """
    is_list = isinstance(acc_or_accs, (list, tuple))
    accs = list(acc_or_accs) if is_list else [acc_or_accs]
    for i, acc in enumerate(accs):
        where = f"acc_or_accs[{i}]" if is_list else "acc_or_accs"
        if not isinstance(acc, Stateful):  # every accumulator and wrapper: a declared state, summed or merged
            return [], TypeError(
                f"{where} is a {type(acc).__name__}: expected a streameval accumulator "
                "(Binary, Multiclass, Multilabel, Windowed or Decayed)"
            )
        reason = acc._merge_refusal()  # e.g. a window of samples: neither summed nor merged
        if reason:
            return [], IncompatibleError(f"{where} is a {acc._describe()}: {reason}")
    return accs, None


@contextlib.contextmanager
def _holding_locks(accs: list[Any]) -> Iterator[None]:
    """Each accumulator's lock, taken in id order like merge's, so no two threads deadlock."""
    with contextlib.ExitStack() as stack:
        for acc in sorted({id(a): a for a in accs}.values(), key=id):
            stack.enter_context(_locking.lock_of(acc))
        yield


def _header(fingerprints: list[str], failed: bool, bound: int = 0) -> np.ndarray:
    """What each rank all-gathers before summing: (failed, number of accumulators, the SHA-256 of
    their fingerprints as 4 int64, then at _BOUND a bound of the totals of its device int64
    counts). Equal headers up to _BOUND on every rank mean the counts can be added."""
    digest = hashlib.sha256("\n".join(fingerprints).encode()).digest()
    return np.concatenate([[int(failed), len(fingerprints)], np.frombuffer(digest, dtype=np.int64), [bound]])


_BOUND = 6  # the header's last field: compared by the overflow check, not by equality


def _raise_mismatch(acc_or_accs: Any, accs: list[Any], keys: list[str], error: Exception | None,
                    group: Any) -> None:
    """Gather every rank's fingerprints and descriptions (or its error) and raise on every rank."""
    import torch.distributed as dist

    mine = {"error": None if error is None else f"{type(error).__name__}: {error}",
            "fingerprints": keys,
            "descriptions": [_description(acc) for acc in accs] if keys else []}
    gathered: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(gathered, mine, group=group)
    if error is not None:
        raise error
    failed = [r for r, theirs in enumerate(gathered) if theirs["error"] is not None]
    if failed:
        first = gathered[failed[0]]["error"]
        raise RuntimeError(f"sync() failed on rank{_plural(failed)} {_ranks(failed)} before summing, "
                           f"so nothing was summed here either: {first}")
    raise IncompatibleError(_mismatch_message(gathered, isinstance(acc_or_accs, (list, tuple))))


def _mismatch_message(gathered: list[dict[str, Any]], is_list: bool) -> str:
    """The same text on every rank: which ranks differ, where, and what they hold."""
    advice = "every rank must pass the same accumulators, configured alike, in the same order"
    counts = [len(theirs["fingerprints"]) for theirs in gathered]
    if len(set(counts)) > 1:
        by_count = _group_ranks(counts)
        listing = "; ".join(f"rank{_plural(ranks)} {_ranks(ranks)}: {n}" for n, ranks in by_count.items())
        return f"sync() got different numbers of accumulators ({listing}): {advice}"
    problems = []
    for i in range(counts[0]):
        by_fingerprint = _group_ranks([theirs["fingerprints"][i] for theirs in gathered])
        if len(by_fingerprint) == 1:
            continue
        where = f"acc_or_accs[{i}]" if is_list else "the accumulator"
        listing = "; ".join(f"rank{_plural(ranks)} {_ranks(ranks)}: {gathered[ranks[0]]['descriptions'][i]}"
                            for ranks in by_fingerprint.values())
        descriptions = {gathered[ranks[0]]["descriptions"][i] for ranks in by_fingerprint.values()}
        if len(descriptions) == 1:  # same configuration, yet vectors that must not be added
            listing += (" (configured alike, but Windowed / Decayed with unit='seconds' are at different times: "
                        "call advance(t) with the same t on every rank before sync)")
        problems.append(f"{where} differs across ranks: {listing}")
    return f"sync() cannot sum these accumulators: {'. '.join(problems)}. Nothing was summed: {advice}"


def _group_ranks(values: list[Any]) -> dict[Any, list[int]]:
    """value -> the ranks holding it, in order of first appearance."""
    groups: dict[Any, list[int]] = {}
    for r, value in enumerate(values):
        groups.setdefault(value, []).append(r)
    return groups


def _ranks(ranks: list[int]) -> str:
    return ", ".join(map(str, ranks))


def _plural(ranks: list[int]) -> str:
    return "s" if len(ranks) > 1 else ""


def _load(accs: list[Any], vectors: list[np.ndarray], summed: np.ndarray) -> None:
    """Load each accumulator's slice of the sum; if one is refused, put the loaded ones back."""
    loaded: list[tuple[Any, np.ndarray]] = []
    start = 0
    try:
        for acc, vector in zip(accs, vectors):
            acc.load_state_vector(summed[start:start + vector.size])
            loaded.append((acc, vector))
            start += vector.size
    except Exception:
        for acc, vector in loaded:
            acc.load_state_vector(vector)
        raise


# --- counts on a device ---------------------------------------------------------------------------

# The device types each backend sums (gloo also takes CUDA tensors in some builds: not relied on).
_BACKEND_DEVICES = {"nccl": frozenset({"cuda"}), "gloo": frozenset({"cpu"}), "mpi": frozenset({"cpu"})}


def _on_device(acc: Any) -> bool:
    """True when acc's counts live in torch tensors on a device (device=, or a GPU input's)."""
    return getattr(acc, "_device", None) is not None and isinstance(acc._storage, TorchStorage)


def _description(acc: Any) -> str:
    """acc's configuration, and where its counts are when on a device, for the mismatch message."""
    return f"{acc._describe()} with its counts on {acc._device}" if _on_device(acc) else acc._describe()


def _device_key(acc: Any) -> str:
    """statevector's fingerprint of a device accumulator, read from its configuration and the
    tensors' shapes (no host copy), and the type of its device: every rank must reduce the same
    tensors on the same kind of device, in the same collectives."""
    storage = acc._storage
    layout = {"type": type(acc).__name__, "config": acc._frozen_config,
              "layout": [[name, list(storage.tensors[name].shape), acc._spec[name].dtype.str]
                         for name in acc._spec.vector],
              "device": storage.device.type}
    return "device:" + hashlib.sha256(json.dumps(layout, sort_keys=True, default=str).encode()).hexdigest()


def _backend_devices(backend: str) -> frozenset[str] | None:
    """The device types a backend sums: "cpu:gloo,cuda:nccl" maps each; None when unknown."""
    if ":" in backend:
        return frozenset(part.split(":")[0].strip() for part in backend.split(","))
    return _BACKEND_DEVICES.get(backend)


def _check_placement(acc: Any, where: str, backend: str) -> None:
    """ValueError, naming the fix, when the group's backend cannot sum acc's tensors where they are."""
    import torch

    storage: TorchStorage = acc._storage
    if set(storage.spec) != set(storage.spec.vector):
        raise IncompatibleError(f"{where} is a {acc._describe()} on {storage.device} whose state is not only counts: "
                                "it cannot be summed on the device")
    device = next(iter(storage.tensors.values())).device if storage.tensors else storage.device
    if device.type == "meta":
        raise ValueError(f"{where} counts on the meta device, which holds no values: there is nothing to sync")
    allowed = _backend_devices(backend)
    if allowed is not None and device.type not in allowed:
        if device.type == "cuda":
            fix = ('create the group with the nccl backend (or "cpu:gloo,cuda:nccl"), or move the counts to the host '
                   'side with acc.to("cpu")')
        else:
            fix = (f'move the counts with acc.to("cuda") after torch.cuda.set_device(local_rank), or use a group whose '
                   f'backend sums {device.type} tensors (e.g. "cpu:gloo,cuda:nccl")')
        raise ValueError(f"{where} counts on {device}, but the group's backend {backend!r} sums "
                         f"{' and '.join(sorted(allowed))} tensors: {fix}")
    if device.type == "cuda" and device.index != torch.cuda.current_device():
        current = torch.cuda.current_device()
        raise ValueError(f"{where} counts on {device}, but nccl sums on this process's current CUDA device, "
                         f"cuda:{current}: call torch.cuda.set_device({device.index}) before sync (as nccl requires), "
                         f"or move the counts with acc.to(\"cuda:{current}\")")


def _int_bound(bound: float) -> int:
    """A float bound as an int64 header value (rounded up; capped at int64's largest)."""
    return min(int(np.ceil(bound)), 2**63 - 1)


class _DeviceSums:
    """The device accumulators of one sync, summed where their counts live: their int64 arrays
    (and each one's count of dropped batches) flattened into one int64 buffer per device type, the
    float64 arrays into one float64 buffer, each summed by one all_reduce, then copied back into
    the tensors. Nothing is copied to the host; the overflow check reads host bookkeeping only.

    Built before the collectives (a failure here is announced in the header); nothing changes
    until load().
    """

    def __init__(self, accs: list[Any]):
        import torch

        self.accs = accs
        self.storages: list[TorchStorage] = [acc._storage for acc in accs]
        # Every int64 count array, (position in accs, name), and its bound of |total|.
        self.counts = [(i, name) for i, storage in enumerate(self.storages) for name in storage.spec.vector
                       if name not in storage.spec.floats]
        self.bounds = [_int_bound(bound) for bound in self._bounds()]
        self.bound = max(self.bounds, default=0)  # the header's: one number, whatever the configuration
        self.summed_bounds: list[int] = []
        # (device type, dtype) -> the parts to sum: (storage, name), name None for the dropped batches.
        parts: dict[tuple[str, str], list[tuple[TorchStorage, str | None]]] = {}
        for storage in self.storages:
            kind = storage.device.type
            for name in storage.spec.vector:
                dtype = "float64" if name in storage.spec.floats else "int64"
                parts.setdefault((kind, dtype), []).append((storage, name))
            parts.setdefault((kind, "int64"), []).append((storage, None))
        # In an order every rank shares (the header's key holds each accumulator's device type).
        self.parts = [parts[key] for key in sorted(parts)]
        self.buffers = [torch.cat([self._tensor(storage, name).reshape(-1) for storage, name in group])
                        for group in self.parts]

    def _bounds(self) -> list[float]:
        """Each int64 count array's bound, from TorchStorage's bookkeeping; an unknown one (after a
        move or a merge) is its exact total, summed on the device and read back once (then known)."""
        import torch

        unknown = [(i, name) for i, name in self.counts if self.storages[i]._bounds.get(name) is None]
        if unknown:
            totals = torch.stack([self.storages[i].tensors[name].abs().sum(dtype=torch.float64).cpu()
                                  for i, name in unknown]).tolist()
            for (i, name), total in zip(unknown, totals):
                self.storages[i]._bounds[name] = total
        return [self.storages[i]._bounds[name] for i, name in self.counts]

    @staticmethod
    def _tensor(storage: TorchStorage, name: str | None) -> Any:
        return storage.dropped.reshape(1) if name is None else storage.tensors[name]

    def check_bounds(self, bounds: list[int], group: Any, is_list: bool) -> None:
        """OverflowError on every rank, before any sum, when an int64 array's total over the ranks
        could pass streameval.limits.MAX_COUNT. bounds: each rank's header bound (its largest
        array's); when their sum passes, the arrays' own bounds are all-gathered and checked one by
        one (every rank sees the same headers, so every rank makes this call or none does)."""
        import torch
        import torch.distributed as dist

        if not self.accs:
            return
        total = sum(bounds)
        if total <= limits.MAX_COUNT:
            self.summed_bounds = [total] * len(self.counts)
            return
        mine = torch.tensor(self.bounds, dtype=torch.int64, device=self.buffers[0].device)
        gathered = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
        dist.all_gather(gathered, mine, group=group)
        every_rank = [[int(b) for b in theirs.cpu().tolist()] for theirs in gathered]
        self.summed_bounds = [sum(column) for column in zip(*every_rank)]
        for (i, name), summed in zip(self.counts, self.summed_bounds):
            if summed > limits.MAX_COUNT:
                where = f"acc_or_accs[{i}]" if is_list else "the accumulator"
                raise OverflowError(
                    f"sync() would take {name} of {where} past streameval.limits.MAX_COUNT: the ranks' counts "
                    f"of it total up to {summed:,}. Nothing was summed")

    def all_reduce(self, group: Any) -> None:
        import torch.distributed as dist

        for buffer in self.buffers:
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM, group=group)

    def load(self) -> None:
        """Copy the sums into the tensors, on the device. A rank that dropped no batch but now
        holds others' dropped batches records FIRST_UPDATE 0: the first was on another rank."""
        import torch

        for buffer, group in zip(self.buffers, self.parts):
            start = 0
            for storage, name in group:
                if name is None:
                    summed = buffer[start].clone()
                    elsewhere = (storage.dropped == 0) & (summed > 0)
                    storage.first_update = torch.where(elsewhere, 0, storage.first_update)
                    storage.dropped = summed
                    start += 1
                    continue
                tensor = storage.tensors[name]
                tensor.copy_(buffer[start:start + tensor.numel()].view(tensor.shape))
                start += tensor.numel()
        for (i, name), bound in zip(self.counts, self.summed_bounds):
            self.storages[i]._bounds[name] = float(bound)
        for acc, storage in zip(self.accs, self.storages):
            storage.changed()
            acc._state_loaded()
