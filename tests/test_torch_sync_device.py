"""streameval.torch.sync of accumulators whose counts live on a device (``device=``).

A spawned gloo group of 2 processes runs every scenario on ``device="cpu"`` accumulators (gloo sums
CPU tensors); each rank writes what it ended with to a file, and the parent checks it against one
host accumulator fed every rank's batches and against scikit-learn. The device path sums the
tensors themselves: one all_reduce per dtype, no state vector, no host copy of the counts (checked
with a TorchDispatchMode and by making every host read of the counts raise on the ranks).

With STREAMEVAL_TEST_DEVICE=cuda (benchmarks/gpu_check.py sets it on a GPU machine) a 1-process
nccl group also syncs ``device="cuda"`` accumulators, in place, with no read of the counts.
"""

import datetime
import multiprocessing
import os
import pickle
import traceback

import numpy as np
import pytest

import streameval

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not (dist.is_available() and dist.is_gloo_available()):
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from streameval.torch import sync  # after the skip: torch is optional

TEST_DEVICE = os.environ.get("STREAMEVAL_TEST_DEVICE", "cpu")
WORLD = 2
K = 4
BATCHES = (3, 2)  # batches per rank
BIG = 3 * 2**60  # two of these pass streameval.limits.MAX_COUNT (2**62); BIG + 1 is beyond float64's exact 2**53


# --- the data: each rank's batches, rebuilt identically in the parent --------------------------


def _batches(kind: str, rank: int) -> list[tuple]:
    rng = np.random.default_rng([rank, len(kind)])
    batches = []
    for _ in range(BATCHES[rank]):
        n = int(rng.integers(1, 40))
        if kind == "multiclass":
            batches.append((rng.integers(0, K, n), rng.normal(size=(n, K))))  # logits
        elif kind == "binary":
            batches.append((rng.integers(0, 2, n), rng.random(n)))
        elif kind == "weighted":
            batches.append((rng.integers(0, 2, n), rng.random(n), rng.random(n) * 3))
        else:  # multilabel
            batches.append((rng.integers(0, 2, (n, 3)), rng.random((n, 3))))
    return batches


def _all(kind: str) -> list[tuple]:
    return [batch for rank in range(WORLD) for batch in _batches(kind, rank)]


def _fed(acc, batches):
    for batch in batches:
        acc.update(*batch)
    return acc


def _makers(device):
    """kind -> a fresh accumulator on device (None: on the host)."""
    return {"multiclass": lambda: streameval.Multiclass(K, from_logits=True, device=device),
            "binary": lambda: streameval.Binary(bins=16, device=device),
            "weighted": lambda: streameval.Binary(bins=8, weighted=True, device=device),
            "multilabel": lambda: streameval.Multilabel(3, device=device)}


def _big(device, cells):
    """A Multiclass(2) whose confusion matrix holds cells (2x2), counts on device."""
    acc = streameval.from_dict({**streameval.Multiclass(2).to_dict(), "state": [cells]})
    return acc.to(device)


# --- what each rank runs -----------------------------------------------------------------------


def _outcome(call):
    """(exception type name, message) of call(), or None if it returned."""
    try:
        call()
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return None


class _HostReads(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts the ops that read a tensor's values back to the host, and copies between devices."""

    READS = ("aten::_local_scalar_dense", "aten::nonzero", "aten::item")

    def __init__(self):
        super().__init__()
        self.reads = []
        self.ops = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._schema.name
        self.ops.add(name)
        if name in self.READS:
            self.reads.append(name)
        out = func(*args, **kwargs)
        if name in ("aten::_to_copy", "aten::copy_"):
            source = args[1] if name == "aten::copy_" else args[0]
            target = out if name == "aten::_to_copy" else args[0]
            if isinstance(source, torch.Tensor) and source.device.type != "cpu" and target.device.type == "cpu":
                self.reads.append(f"{name} {source.device}->cpu of {tuple(source.shape)}")
        return out


def _no_host_read(rank: int, device: str) -> dict:
    """A sync of device accumulators that may not read their counts on the host: their state
    vectors, bytes, fingerprints and host copies raise, and a TorchDispatchMode counts reads."""
    from streameval._storage.torch_storage import TorchStorage

    accs = [_fed(make(), _batches(kind, rank)) for kind, make in _makers(device).items()]
    reduced = []
    real_all_reduce = dist.all_reduce

    def all_reduce(tensor, *args, **kwargs):
        reduced.append((str(tensor.dtype), tensor.numel(), tensor.device.type))
        return real_all_reduce(tensor, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("sync read a device accumulator's counts on the host")

    saved = TorchStorage.host, TorchStorage._read
    dist.all_reduce = all_reduce
    TorchStorage.host = TorchStorage._read = refuse
    for acc in accs:
        acc.state_vector = acc.to_bytes = acc.fingerprint = refuse
    try:
        with _HostReads() as mode:
            sync(accs)
    finally:
        dist.all_reduce = real_all_reduce
        TorchStorage.host, TorchStorage._read = saved
        for acc in accs:
            del acc.state_vector, acc.to_bytes, acc.fingerprint
    dtypes = [str(t.dtype) for acc in accs for t in acc._storage.tensors.values() for _ in range(t.numel())]
    return {"accs": accs, "reads": mode.reads, "ops": mode.ops, "all_reduce": reduced, "devices": [str(acc.device) for acc in accs],
            "int64": dtypes.count("torch.int64"), "float64": dtypes.count("torch.float64")}


def _scenarios(rank: int) -> dict:
    last = WORLD - 1
    out = {}
    makers = _makers("cpu")

    # Each kind alone, then all in one call with host accumulators (summed and merged) between them.
    out["alone"] = {kind: sync(_fed(make(), _batches(kind, rank))) for kind, make in makers.items()}
    out["alone devices"] = {kind: str(acc.device) for kind, acc in out["alone"].items()}
    mixed = [_fed(makers["binary"](), _batches("binary", rank)),
             _fed(streameval.Multiclass(K), _batches("multiclass", rank)),  # host, summed as a vector
             _fed(makers["weighted"](), _batches("weighted", rank)),
             _fed(streameval.Binary(exact=True), _batches("binary", rank)),  # host, merged by bytes
             _fed(makers["multilabel"](), _batches("multilabel", rank))]
    out["mixed returned itself"] = sync(mixed) is mixed
    out["mixed"] = mixed
    out["mixed devices"] = [str(acc.device) for acc in mixed]

    out["no host read"] = _no_host_read(rank, "cpu")

    # Counts beyond 2**53 sum exactly in int64; each array's total is checked, not the largest's.
    crossed = [_big("cpu", [[BIG, 0], [0, 0]] if rank == 0 else [[1, 2], [3, 4]]),
               _big("cpu", [[5, 6], [7, 8]] if rank == 0 else [[0, 0], [BIG, 0]])]
    sync(crossed)
    out["crossed"] = [acc.confusion_matrix().tolist() for acc in crossed]
    out["crossed bounds"] = [acc._storage._bounds["_cm"] for acc in crossed]

    # Mismatches and local failures: every rank raises, nothing changes, nobody hangs.
    odd = _fed(streameval.Binary(bins=16, threshold=0.3 if rank == last else 0.5, device="cpu"),
               _batches("binary", rank))
    before = odd.copy()
    out["config mismatch"] = _outcome(lambda: sync(odd))
    out["config mismatch unchanged"] = odd == before

    placed = _fed(streameval.Binary(bins=16, device="cpu" if rank == 0 else None), _batches("binary", rank))
    before = placed.copy()
    out["placement mismatch"] = _outcome(lambda: sync([streameval.Multiclass(K), placed]))
    out["placement mismatch unchanged"] = placed == before

    overflow = [_fed(makers["binary"](), _batches("binary", rank)), _big("cpu", [[BIG, 0], [0, 0]])]
    before = [acc.copy() for acc in overflow]
    out["overflow"] = _outcome(lambda: sync(overflow))
    out["overflow unchanged"] = overflow == before

    out["meta"] = _outcome(lambda: sync(streameval.Multiclass(K, device="meta" if rank == last else "cpu")))

    # A batch dropped on rank 0 (a label 2 for Binary): every rank's next query reports it.
    dropped = makers["binary"]()
    _fed(dropped, _batches("binary", rank))
    if rank == 0:
        dropped.update(np.array([0, 2, 1]), np.array([0.1, 0.2, 0.3]))
    sync(dropped)
    out["dropped"] = _outcome(dropped.confusion_matrix)
    out["dropped counts"] = dropped.confusion_matrix().tolist()

    # After all that the ranks are still in step.
    ok = streameval.Multiclass(2, device="cpu")
    ok.update([rank % 2], [0])
    out["after errors"] = sync(ok).confusion_matrix().tolist()
    return out


def _worker(rank: int, world: int, directory: str, backend: str, scenarios) -> None:
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)
        dist.init_process_group(backend, init_method=f"file://{directory}/store", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=60))  # a hung collective fails, not the test run
        result = scenarios(rank)
        dist.destroy_process_group()
    except BaseException:
        result = {"worker error": traceback.format_exc()}
    with open(f"{directory}/rank{rank}.pkl", "wb") as f:
        pickle.dump(result, f)


def _run_group(world: int, directory, backend: str, scenarios) -> list[dict]:
    """tests/test_torch_dist.py's spawned group, for these scenarios."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(rank, world, str(directory), backend, scenarios))
               for rank in range(world)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=240)
    hung = [rank for rank, w in enumerate(workers) if w.is_alive()]
    for w in workers:
        if w.is_alive():
            w.kill()
            w.join()
    assert not hung, f"ranks {hung} did not finish: a collective hung"
    results = []
    for rank in range(world):
        with open(directory / f"rank{rank}.pkl", "rb") as f:
            results.append(pickle.load(f))
        assert "worker error" not in results[-1], f"rank {rank} failed:\n{results[-1]['worker error']}"
    return results


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return _run_group(WORLD, tmp_path_factory.mktemp("gloo-device"), "gloo", _scenarios)


# --- the checks, in the parent -----------------------------------------------------------------


def _assert_state_equal(ours, ref):
    """Integer counts exactly; float sums to rounding (they add in another order)."""
    for mine, theirs in zip(ours._arrays(), ref._arrays()):
        if theirs.dtype.kind == "i":
            np.testing.assert_array_equal(mine, theirs)
        else:
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def _host(kind):
    """One host accumulator fed every rank's batches."""
    return _fed(_makers(None)[kind](), _all(kind))


def _same_error_everywhere(results, name, kind):
    outcomes = [r[name] for r in results]
    assert outcomes[0] is not None and outcomes[0][0] == kind, outcomes[0]
    assert all(o == outcomes[0] for o in outcomes), outcomes
    return outcomes[0][1]


@pytest.mark.parametrize("kind", ["multiclass", "binary", "weighted", "multilabel"])
def test_synced_device_counts_equal_one_host_accumulator(results, kind):
    for r in results:
        synced = r["alone"][kind]
        assert r["alone devices"][kind] == "cpu"
        _assert_state_equal(synced, _host(kind))
        assert synced == results[0]["alone"][kind]


def test_synced_counts_equal_sklearn(results):
    from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix

    alone = results[1]["alone"]
    batches = _all("multiclass")
    y_true = np.concatenate([b[0] for b in batches])
    y_pred = np.concatenate([b[1] for b in batches]).argmax(axis=1)
    np.testing.assert_array_equal(alone["multiclass"].confusion_matrix(),
                                  confusion_matrix(y_true, y_pred, labels=range(K)))
    batches = _all("weighted")
    y_true, scores, weight = (np.concatenate([b[i] for b in batches]) for i in range(3))
    np.testing.assert_allclose(alone["weighted"].confusion_matrix(),
                               confusion_matrix(y_true, scores >= 0.5, labels=[0, 1], sample_weight=weight), rtol=1e-12)
    batches = _all("multilabel")
    y_true, scores = (np.concatenate([b[i] for b in batches]) for i in range(2))
    np.testing.assert_array_equal(alone["multilabel"].confusion_matrix(), multilabel_confusion_matrix(y_true, scores >= 0.5))


def test_a_mixed_list_sums_device_and_host_accumulators_in_one_call(results):
    from sklearn.metrics import roc_auc_score

    assert results[0]["mixed returned itself"]
    for r in results:
        binary, multiclass, weighted, exact, multilabel = r["mixed"]
        assert r["mixed devices"] == ["cpu", "None", "cpu", "None", "cpu"]
        _assert_state_equal(binary, _host("binary"))
        assert multiclass == _fed(streameval.Multiclass(K), _all("multiclass"))
        _assert_state_equal(weighted, _host("weighted"))
        _assert_state_equal(exact, _fed(streameval.Binary(exact=True), _all("binary")))
        _assert_state_equal(multilabel, _host("multilabel"))
    batches = _all("binary")
    y_true, scores = (np.concatenate([b[i] for b in batches]) for i in range(2))
    assert results[0]["mixed"][3].roc_auc() == pytest.approx(roc_auc_score(y_true, scores), rel=1e-12)


def test_sync_reduces_the_device_tensors_without_reading_them(results):
    for rank, r in enumerate(results):
        run = r["no host read"]
        assert run["reads"] == []
        assert "aten::cat" in run["ops"]  # the mode saw the buffers being built
        # One all_reduce per dtype: every int64 count (and each accumulator's dropped batches) in one
        # buffer, every float64 sum in another; no float64 state vector of the integer counts.
        assert run["devices"] == ["cpu"] * len(run["accs"]) and run["int64"] and run["float64"]
        assert sorted(run["all_reduce"]) == sorted([("torch.int64", run["int64"] + len(run["accs"]), "cpu"),
                                                    ("torch.float64", run["float64"], "cpu")])
        for acc, kind in zip(run["accs"], _makers(None)):
            _assert_state_equal(acc, _host(kind))


def test_the_dispatch_mode_sees_a_host_read():
    with _HostReads() as mode:
        torch.ones(3).sum().item()
    assert mode.reads == ["aten::_local_scalar_dense"]


def test_int64_counts_sum_exactly_past_2_53_and_each_array_is_bounded_alone(results):
    for r in results:
        assert r["crossed"] == [[[BIG + 1, 2], [3, 4]], [[5, 6], [BIG + 7, 8]]]
        assert r["crossed bounds"] == [float(BIG + 10), float(BIG + 26)]  # the sums of the ranks' bounds


def test_a_configuration_mismatch_raises_on_every_rank_and_changes_nothing(results):
    message = _same_error_everywhere(results, "config mismatch", "IncompatibleError")
    assert f"rank {WORLD - 1}: Binary(threshold=0.3" in message and "with its counts on cpu" in message
    assert all(r["config mismatch unchanged"] for r in results)


def test_a_device_and_a_host_accumulator_are_not_summed_together(results):
    message = _same_error_everywhere(results, "placement mismatch", "IncompatibleError")
    assert "acc_or_accs[1] differs" in message and "rank 0: Binary(" in message
    assert "with its counts on cpu; rank 1: Binary(" in message and "acc_or_accs[0]" not in message
    assert all(r["placement mismatch unchanged"] for r in results)


def test_an_int64_sum_past_max_count_raises_on_every_rank_and_changes_nothing(results):
    message = _same_error_everywhere(results, "overflow", "OverflowError")
    assert "_cm of acc_or_accs[1] past streameval.limits.MAX_COUNT" in message and "Nothing was summed" in message
    assert all(r["overflow unchanged"] for r in results)


def test_counts_on_the_meta_device_fail_every_rank_without_a_hang(results):
    kind, message = results[WORLD - 1]["meta"]
    assert kind == "ValueError" and "meta device" in message
    for r in results[:-1]:
        kind, theirs = r["meta"]
        assert kind == "RuntimeError" and f"failed on rank {WORLD - 1}" in theirs and message in theirs


def test_dropped_batches_are_summed_and_reported_on_every_rank(results):
    for r in results:
        kind, message = r["dropped"]
        assert kind == "DroppedBatchError" and "1 batch was dropped" in message
        # The counts hold every rank's valid batches: the dropped one is in none of them.
        assert r["dropped counts"] == _host("binary").confusion_matrix().tolist()
    assert "update 4" in results[0]["dropped"][1]  # rank 0 dropped its 4th update and says where


def test_the_ranks_are_in_step_after_the_errors(results):
    for r in results:
        assert r["after errors"] == [[1, 0], [1, 0]]


# --- on a GPU: nccl, 1 process ------------------------------------------------------------------


def _nccl_scenarios(rank: int) -> dict:
    return {"no host read": _no_host_read(rank, "cuda")}


@pytest.mark.skipif(TEST_DEVICE != "cuda" or not torch.cuda.is_available() or not dist.is_nccl_available(),
                    reason="STREAMEVAL_TEST_DEVICE=cuda with a GPU and nccl (benchmarks/gpu_check.py)")
def test_nccl_sums_cuda_counts_in_place_without_reading_them(tmp_path):
    (result,) = _run_group(1, tmp_path, "nccl", _nccl_scenarios)
    run = result["no host read"]
    # The one copy to the host is the header's (7 int64 per rank: metadata), never the counts.
    assert all(read.startswith("aten::_to_copy") and read.endswith("of (1, 7)") for read in run["reads"]), run["reads"]
    assert run["devices"] == ["cuda:0"] * len(run["accs"])
    assert {device for _, _, device in run["all_reduce"]} == {"cuda"}
    assert len(run["all_reduce"]) == 2  # one int64 buffer, one float64 buffer
    for acc, kind in zip(run["accs"], _makers(None)):
        _assert_state_equal(acc, _fed(_makers(None)[kind](), _batches(kind, 0)))
