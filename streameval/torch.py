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

Tensors in update. Every accumulator's ``update`` also takes torch tensors. A CPU tensor is read
in place, without a copy: contiguous or not, with ``requires_grad`` or not (its ``detach()``
shares the memory); bfloat16, which numpy lacks, is converted to float32. A CUDA tensor is copied
to the host first: one device-to-host transfer of the batch per update (``tensor.cpu()``, which
also waits for the GPU work that produces the tensor). For a batch of 256 logits over 10 classes
that is 10 KB, so the fixed latency of a transfer and of that wait dominates, not the bandwidth
(not measured here: the machine these numbers come from has no GPU). Moving predicted labels
(``logits.argmax(1)``) instead of logits makes the transfer K times smaller.

torch is imported when sync is first called, never by ``import streameval``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from streameval import _locking, serialization
from streameval.errors import IncompatibleError
from streameval._stateful import Stateful

__all__ = ["sync"]


def sync(acc_or_accs: Any, group: Any = None) -> Any:
    """Sum accumulators over the ranks of a torch.distributed group, in place; return the argument.

    acc_or_accs: one accumulator (Binary, Multiclass, Multilabel, Windowed, Decayed) or a list or
    tuple of them, summed in one all-reduce (after an all-gather of a 48-byte digest of their
    fingerprints); every rank passes the same kinds, configured alike, in the same order.
    Binary(exact=True) and Multiclass(labels="auto") are merged exactly by one all-gather of
    their bytes (the same call, after the all-reduce), in rank order; their discovered labels may
    differ from rank to rank.
    group: a process group (default: the whole world).

    Afterwards every rank holds the sum of all the ranks' counts, as one accumulator fed all the
    data would. Windows and decay must count seconds (positions in a stream of samples or
    updates have no common clock, as for merge) and be at the same time on every rank: call
    ``advance(t)`` with a common ``t`` first. Not idempotent: a second sync sums the sums again;
    sync a copy (``sync(acc.copy())``) to keep the local counts.

    Raises RuntimeError when no process group is initialized or this process is not in group;
    IncompatibleError on every rank, changing nothing, when the accumulators differ across ranks
    (the message names the ranks and, for a list, the position). A rank given a
    non-accumulator (TypeError), a window of samples or updates (IncompatibleError) or counts
    that a float64 vector cannot carry exactly (OverflowError, above 2**53 in a cell) raises that
    error, and every other rank a RuntimeError naming it: no rank is left waiting. A sum or merge
    that would overflow (streameval.limits) raises OverflowError on every rank and changes none
    of the accumulators.
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
    nccl = dist.get_backend(group) == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")

    accs, error = _accumulators(acc_or_accs)
    with _holding_locks(accs):  # no update from another thread between reading and loading the counts
        # Everything local is done before the first collective, so that no rank keeps the
        # others waiting between the two; a local failure is only announced in the header.
        try:
            by_merge = [_merged(acc) for acc in accs]
            keys = [_merge_key(acc) if merged else acc.fingerprint() for acc, merged in zip(accs, by_merge)]
            vectors = [acc.state_vector() for acc, merged in zip(accs, by_merge) if not merged]
            payloads = [acc.to_bytes() for acc, merged in zip(accs, by_merge) if merged]
        except Exception as exc:  # e.g. a count above 2**53, which a float64 vector does not carry
            error, by_merge, keys, vectors, payloads = exc, [], [], [], []
        # On the CPU the tensor is the numpy buffer's memory: gloo sums the buffer in place.
        total = torch.from_numpy(np.concatenate(vectors) if vectors else np.zeros(0)).to(device)
        header = torch.from_numpy(_header(keys, failed=error is not None)).to(device)
        gathered = torch.empty((dist.get_world_size(group), header.numel()), dtype=header.dtype, device=device)
        dist.all_gather(list(gathered.unbind()), header, group=group)  # rank r's header into row r
        headers = gathered.cpu().numpy()
        if (headers != headers[0]).any() or headers[:, 0].any():
            # Every rank saw the same headers, so every rank takes this path and raises.
            _raise_mismatch(acc_or_accs, accs, keys, error, group)
        # Equal headers: every rank holds the same kinds in the same order, so all make the same calls.
        if vectors:
            dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
        every_rank: list[Any] | None = None
        if payloads:
            every_rank = [None] * dist.get_world_size(group)
            dist.all_gather_object(every_rank, payloads, group=group)
        # Past the collectives: what fails now fails alike on every rank, and changes nothing.
        merged_totals = [] if every_rank is None else _merge_in_rank_order(every_rank)
        summed = [acc for acc, merged in zip(accs, by_merge) if not merged]
        _load(summed, vectors, total.cpu().numpy())
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


def _header(fingerprints: list[str], failed: bool) -> np.ndarray:
    """What each rank all-gathers before summing: (failed, number of accumulators, the SHA-256 of
    their fingerprints as 4 int64). Equal headers on every rank mean the vectors can be added."""
    digest = hashlib.sha256("\n".join(fingerprints).encode()).digest()
    return np.concatenate([[int(failed), len(fingerprints)], np.frombuffer(digest, dtype=np.int64)])


def _raise_mismatch(acc_or_accs: Any, accs: list[Any], keys: list[str], error: Exception | None,
                    group: Any) -> None:
    """Gather every rank's fingerprints and descriptions (or its error) and raise on every rank."""
    import torch.distributed as dist

    mine = {"error": None if error is None else f"{type(error).__name__}: {error}",
            "fingerprints": keys,
            "descriptions": [acc._describe() for acc in accs] if keys else []}
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
