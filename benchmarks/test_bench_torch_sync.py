"""The cost of streameval.torch.sync against torchmetrics' sync, on a 2-process gloo group (CPU).

    .venv/bin/python -m pytest benchmarks/test_bench_torch_sync.py --benchmark-only

Skipped (importorskip) when torch or torchmetrics is not installed. The pytest process is rank 0
of the group; a spawned peer process is rank 1 and makes the same collective calls. For that,
every benchmark runs in pedantic mode with a fixed number of rounds of one call each, which the
peer is told beforehand. A round times one call on rank 0, waiting for rank 1 included, as a
training job would. Groups (each compares the same metrics, synced both ways):

- ``sync: Multiclass(10)``: ``sync(acc.copy())`` of a Multiclass(10) (a fingerprint all-gather
  and one all-reduce of its 100 counts; syncing a copy keeps the local counts, as torchmetrics'
  ``sync()`` / ``unsync()`` does) against torchmetrics' ``MulticlassConfusionMatrix(10)`` and
  ``MulticlassF1Score(10)`` (``sync()`` then ``unsync()``: per state, a barrier and two
  all-gathers).
- ``sync: Multiclass(10) + Binary``: both accumulators in one sync call, against torchmetrics'
  ``MulticlassConfusionMatrix(10)`` and ``BinaryConfusionMatrix()`` synced one after the other.
- ``sync: Binary(bins=1024)``: a Binary with a 1024-bin score histogram (about 6,000 values: the
  confusion matrix, histograms, score sums), against ``BinaryPrecisionRecallCurve(thresholds=1024)``
  (a (1024, 2, 2) state).

Each group also shows, for context (role ``torch.distributed``, not a reference), the two bare
collectives sync makes: an all-gather of 6 int64 (the fingerprints' digest) and an all-reduce of
a float64 tensor the size of streameval's buffer. The Multiclass(10) group also shows the bare
all-reduce alone: the floor of any sync that sums counts.
Before the benchmarks, both ranks sync a Multiclass(10) and a MulticlassConfusionMatrix(10) fed
the same data, and rank 0 checks that the matrices agree.
"""

from __future__ import annotations

import datetime
import multiprocessing
import tempfile

import numpy as np
import pytest

import streameval

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
tm = pytest.importorskip("torchmetrics.classification")
if not (dist.is_available() and dist.is_gloo_available()):
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from streameval.torch import sync  # after the skips

WORLD_SIZE = 2
K = 10
ROUNDS, WARMUP = 300, 30
G_MULTICLASS, G_PAIR, G_BINS = f"sync: Multiclass({K})", f"sync: Multiclass({K}) + Binary", "sync: Binary(bins=1024)"


# --- what both ranks build and call --------------------------------------------------------------


def _data(rank: int, n: int = 1000):
    rng = np.random.default_rng(rank)
    y_true = rng.integers(0, K, n)
    return y_true, np.where(rng.random(n) < 0.7, y_true, rng.integers(0, K, n)), rng.random(n).astype(np.float32)


def _streameval(*accs):
    target = accs[0] if len(accs) == 1 else list(accs)
    copy = (lambda: target.copy()) if len(accs) == 1 else (lambda: [a.copy() for a in target])
    return lambda: sync(copy())


def _torchmetrics(*metrics):
    def call():
        for metric in metrics:
            metric.sync()
            metric.unsync()  # back to the local state, as syncing a copy leaves it
    return call


def _all_reduce(size: int):
    buffer = torch.zeros(size, dtype=torch.float64)
    return lambda: dist.all_reduce(buffer)


def _all_gather_all_reduce(size: int):
    header, all_reduce = torch.zeros(6, dtype=torch.int64), _all_reduce(size)
    headers = [torch.empty_like(header) for _ in range(WORLD_SIZE)]
    return lambda: (dist.all_gather(headers, header), all_reduce())


def _operation(name: str, rank: int):
    """A function making one call of benchmark ``name`` (the same collectives on every rank)."""
    y_true, y_pred, scores = _data(rank)
    binary_true = y_true % 2
    t_true, t_pred, t_scores = (torch.from_numpy(a) for a in (y_true, y_pred, scores))
    multiclass = streameval.Multiclass(K)
    multiclass.update(y_true, y_pred)
    binary = streameval.Binary()
    binary.update(binary_true, scores)
    binned = streameval.Binary(bins=1024)
    binned.update(binary_true, scores)

    def tm_fed(metric, preds, target):
        metric.update(preds, target)
        return metric

    if name == "streameval multiclass":
        return _streameval(multiclass)
    if name == "torchmetrics confusion matrix":
        return _torchmetrics(tm_fed(tm.MulticlassConfusionMatrix(K), t_pred, t_true))
    if name == "torchmetrics f1":
        return _torchmetrics(tm_fed(tm.MulticlassF1Score(K), t_pred, t_true))
    if name == "all_reduce multiclass":
        return _all_reduce(multiclass.state_vector().size)
    if name == "all_gather + all_reduce multiclass":
        return _all_gather_all_reduce(multiclass.state_vector().size)
    if name == "streameval pair":
        return _streameval(multiclass, binary)
    if name == "torchmetrics pair":
        return _torchmetrics(tm_fed(tm.MulticlassConfusionMatrix(K), t_pred, t_true),
                             tm_fed(tm.BinaryConfusionMatrix(), t_scores, torch.from_numpy(binary_true)))
    if name == "all_gather + all_reduce pair":
        return _all_gather_all_reduce(multiclass.state_vector().size + binary.state_vector().size)
    if name == "streameval bins":
        return _streameval(binned)
    if name == "torchmetrics bins":
        return _torchmetrics(tm_fed(tm.BinaryPrecisionRecallCurve(thresholds=1024), t_scores,
                                    torch.from_numpy(binary_true)))
    if name == "all_gather + all_reduce bins":
        return _all_gather_all_reduce(binned.state_vector().size)
    raise ValueError(name)


def _check_agreement(rank: int):
    """Both libraries' synced confusion matrices of the same data (rank 0 compares them)."""
    y_true, y_pred, _ = _data(rank)
    acc = streameval.Multiclass(K)
    acc.update(y_true, y_pred)
    metric = tm.MulticlassConfusionMatrix(K)
    metric.update(torch.from_numpy(y_pred), torch.from_numpy(y_true))
    metric.sync()
    return sync(acc).confusion_matrix(), metric.confmat.numpy()


# --- the peer (rank 1) and the group ---------------------------------------------------------------


def _init(rank: int, store: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD_SIZE,
                            timeout=datetime.timedelta(seconds=60))


def _peer(store: str, orders) -> None:
    """Rank 1: run each (benchmark name, number of calls) rank 0 announces, until None."""
    torch.set_num_threads(1)
    _init(1, store)
    _check_agreement(1)
    for name, calls in iter(orders.get, None):
        operation = _operation(name, 1)
        for _ in range(calls):
            operation()
    dist.destroy_process_group()


class _Group:
    def __init__(self, orders):
        self.orders = orders

    def run(self, benchmark, name: str) -> None:
        """Benchmark ``name`` on rank 0 while the peer makes as many calls of it."""
        operation, calls = _operation(name, 0), [0]

        def counted():
            calls[0] += 1
            operation()

        expected = 1 if benchmark.disabled else WARMUP + ROUNDS  # what pedantic calls, one iteration a round
        self.orders.put((name, expected))
        benchmark.pedantic(counted, rounds=ROUNDS, warmup_rounds=WARMUP, iterations=1)
        assert calls[0] == expected, f"rank 0 made {calls[0]} calls, the peer {expected}: the group is out of step"


@pytest.fixture(scope="module")
def group():
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as directory:
        store = f"{directory}/store"
        orders = context.Queue()
        peer = context.Process(target=_peer, args=(store, orders), daemon=True)
        peer.start()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # two processes on two cores: one thread each
        try:
            _init(0, store)
            ours, theirs = _check_agreement(0)
            np.testing.assert_array_equal(ours, theirs)
            yield _Group(orders)
            orders.put(None)
            dist.destroy_process_group()
            peer.join(timeout=60)
        finally:
            torch.set_num_threads(threads)
            if peer.is_alive():
                peer.kill()
                peer.join()


def _mark(benchmark, group_name: str, role: str, **extra) -> None:
    benchmark.group = group_name
    benchmark.extra_info.update(role=role, samples=1, unit="calls", world_size=WORLD_SIZE, backend="gloo", **extra)


BENCHMARKS = {
    # name -> (group, role, extra info)
    "streameval multiclass": (G_MULTICLASS, "streameval", {}),
    "torchmetrics confusion matrix": (G_MULTICLASS, "torchmetrics", {"metric": "MulticlassConfusionMatrix"}),
    "torchmetrics f1": (G_MULTICLASS, "torchmetrics", {"metric": "MulticlassF1Score"}),
    "all_reduce multiclass": (G_MULTICLASS, "torch.distributed", {"reference": False}),
    "all_gather + all_reduce multiclass": (G_MULTICLASS, "torch.distributed", {"reference": False}),
    "streameval pair": (G_PAIR, "streameval", {}),
    "torchmetrics pair": (G_PAIR, "torchmetrics", {"metric": "MulticlassConfusionMatrix + BinaryConfusionMatrix"}),
    "all_gather + all_reduce pair": (G_PAIR, "torch.distributed", {"reference": False}),
    "streameval bins": (G_BINS, "streameval", {}),
    "torchmetrics bins": (G_BINS, "torchmetrics", {"metric": "BinaryPrecisionRecallCurve(thresholds=1024)"}),
    "all_gather + all_reduce bins": (G_BINS, "torch.distributed", {"reference": False}),
}


@pytest.mark.parametrize("name", BENCHMARKS)
def test_sync(benchmark, group, name):
    group_name, role, extra = BENCHMARKS[name]
    _mark(benchmark, group_name, role, **extra)
    group.run(benchmark, name)
