"""streameval.torch: sync over a real gloo process group, and torch tensors in update.

A spawned group of 2 and of 4 processes (one spawn per world size) runs every scenario; each rank
writes what it ended with to a file. The parent checks each result against one accumulator fed
every rank's batches and against scikit-learn on the same samples. The ranks' batch counts are
uneven and one rank has none.
"""

import datetime
import multiprocessing
import pickle
import subprocess
import sys
import traceback
from pathlib import Path

import warnings

import numpy as np
import pytest
from helpers import assert_same_state, draw_stream, layout_of, select

import streameval

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not (dist.is_available() and dist.is_gloo_available()):
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from streameval.torch import sync  # after the skip: torch is optional

BATCHES = {2: (0, 3), 4: (2, 0, 5, 1)}  # batches per rank: uneven, and a rank with no data
K = 4
WINDOW_END = 175.0  # every rank advances its window to this time before syncing
MERGING = select(where=lambda c: c.merges)
REGISTRY_END = 5000.0  # past the last timestamp of a registered stream on any rank


# --- the data: each rank's batches, rebuilt identically in the parent --------------------------


def _batches(kind: str, rank: int, world: int) -> list[tuple]:
    rng = np.random.default_rng([world, rank, len(kind)])
    batches = []
    for i in range(BATCHES[world][rank]):
        n = int(rng.integers(0, 40))  # a batch may be empty
        if kind == "multiclass":
            batches.append((rng.integers(0, K, n), rng.integers(0, K, n)))
        elif kind == "binary":
            batches.append((rng.integers(0, 2, n), rng.random(n)))
        elif kind == "multilabel":
            batches.append((rng.integers(0, 2, (n, 3)), rng.random((n, 3))))
        elif kind == "words":  # labels="auto": each rank meets some labels the others never see
            vocabulary = np.array(["ant", "bee", f"only{rank}", f"rare{rank}"])
            batches.append((vocabulary[rng.integers(0, 4, n)], vocabulary[rng.integers(0, 3, n)]))
        elif kind == "mixed":  # labels of mixed types keep their order of arrival
            vocabulary = np.array([f"w{rank}", rank, "z", 7 * rank], dtype=object)
            batches.append((vocabulary[rng.integers(0, 4, n)], vocabulary[rng.integers(0, 4, n)]))
        else:  # "timed": labels at a timestamp, later for each batch of a rank
            batches.append((rng.integers(0, K, n), rng.integers(0, K, n), 100.0 + 14 * i + 10 * rng.random()))
    return batches


def _all_batches(kind: str, world: int) -> list[tuple]:
    return [batch for rank in range(world) for batch in _batches(kind, rank, world)]


def _fed(acc, batches):
    for batch in batches:
        if len(batch) == 3:
            acc.update(batch[0], batch[1], timestamp=batch[2])
        else:
            acc.update(*batch)
    return acc


def _window():
    return streameval.Windowed(streameval.Multiclass(K), 60, unit="seconds", buckets=4)


def _registry_part(rank: int, world: int) -> list:
    """Each registered configuration that merges (tests/helpers.py CONFIGURATIONS), fed this rank's
    share of its stream: batches of its input kind, from the first timestamp on."""
    parts = []
    for configuration in MERGING:
        acc = configuration.make()
        layout = layout_of(acc)
        sizes = [int(n) for n in np.random.default_rng([world, rank, 99]).integers(0, 30, BATCHES[world][rank])]
        for batch in draw_stream(layout, configuration.batches, np.random.default_rng([world, rank]), sizes):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an exact table's compaction warning
                batch.feed(acc)
        if layout.timed:
            acc.advance(REGISTRY_END)  # windows and decays add up only at a common time
        parts.append(acc)
    return parts


# --- what each rank runs -----------------------------------------------------------------------


def _outcome(call):
    """(exception type name, message) of call(), or None if it returned."""
    try:
        call()
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return None


def _scenarios(rank: int, world: int) -> dict:
    last = world - 1
    out = {}

    mc = _fed(streameval.Multiclass(K, bootstrap=8, seed=(7, rank)), _batches("multiclass", rank, world))
    out["multiclass returned itself"] = sync(mc) is mc
    out["multiclass"] = mc

    window = _fed(_window(), _batches("timed", rank, world))
    window.advance(WINDOW_END)  # windows add up only at a common time
    out["windowed"] = sync(window)

    pair = (_fed(streameval.Binary(bins=16), _batches("binary", rank, world)),
            _fed(streameval.Multilabel(3), _batches("multilabel", rank, world)))
    out["pair returned itself"] = sync(pair) is pair
    out["pair"] = list(pair)

    # States that are not sums, merged exactly in the same call as summed ones.
    merged = [_fed(streameval.Binary(exact=True), _batches("binary", rank, world)),
              _fed(streameval.Multiclass(K), _batches("multiclass", rank, world)),
              _fed(streameval.Multiclass(labels="auto"), _batches("words", rank, world)),
              _fed(streameval.Multiclass(labels="auto", bootstrap=4, seed=(3, rank)), _batches("mixed", rank, world))]
    out["merged returned itself"] = sync(merged) is merged
    out["merged"] = merged

    # A cell above 2**53 has no exact float64 vector: that rank raises, the others learn why.
    beyond = streameval.from_dict({**streameval.Multiclass(2).to_dict(),
                                   "state": [[[2**53 + 1 if rank == last else 0, 0], [0, 0]]]})
    out["beyond 2**53"] = _outcome(lambda: sync([streameval.Multiclass(2), beyond]))

    # Mismatches: every rank must raise the same error, change nothing, and not hang.
    odd = _fed(streameval.Multiclass(K + (rank == last)), _batches("multiclass", rank, world))
    before = odd.copy()
    out["config mismatch"] = _outcome(lambda: sync(odd))
    out["config mismatch unchanged"] = odd == before

    pair_odd = [streameval.Multiclass(K), streameval.Binary(threshold=0.3 if rank == 1 else 0.5)]
    out["position mismatch"] = _outcome(lambda: sync(pair_odd))

    late = _fed(_window(), _batches("timed", rank, world))
    late.advance(WINDOW_END + 15.0 * (rank == last))
    before = late.copy()
    out["time mismatch"] = _outcome(lambda: sync(late))
    out["time mismatch unchanged"] = late == before

    out["samples window"] = _outcome(lambda: sync(streameval.Windowed(streameval.Multiclass(K), 100, buckets=4)))
    out["count mismatch"] = _outcome(lambda: sync([streameval.Multiclass(K)] * (1 + (rank == last))))
    out["not an accumulator"] = _outcome(lambda: sync([streameval.Multiclass(K), "oops" if rank == 0 else
                                                       streameval.Multiclass(K)]))

    # A sum that cannot be loaded (weights whose sum overflows to inf) changes none of the list.
    counted = _fed(streameval.Multiclass(K), _batches("multiclass", rank, world))
    heavy = streameval.Multiclass(2, weighted=True)
    heavy.update([0], [1], sample_weight=[1e308])
    before = counted.copy(), heavy.copy()
    out["overflow"] = _outcome(lambda: sync([counted, heavy]))
    out["overflow unchanged"] = (counted, heavy) == before

    # Every registered configuration that merges, in one call (windows of time at a common time).
    out["registry"] = sync(_registry_part(rank, world))

    # After all that the ranks are still in step: a last sync sums correctly.
    ok = streameval.Multiclass(2)
    ok.update([rank % 2], [0])
    out["after errors"] = sync(ok).confusion_matrix().tolist()
    return out


def _worker(rank: int, world: int, directory: str) -> None:
    try:
        dist.init_process_group("gloo", init_method=f"file://{directory}/store", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=60))  # a hung collective fails, not the test run
        result = _scenarios(rank, world)
        dist.destroy_process_group()
    except BaseException:
        result = {"worker error": traceback.format_exc()}
    with open(f"{directory}/rank{rank}.pkl", "wb") as f:
        pickle.dump(result, f)


def _run_group(world: int, directory) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(rank, world, str(directory))) for rank in range(world)]
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


@pytest.fixture(scope="module", params=[2, 4], ids=lambda w: f"world{w}")
def group_results(request, tmp_path_factory):
    """(world size, each rank's results), from one spawned gloo group per world size."""
    world = request.param
    return world, _run_group(world, tmp_path_factory.mktemp(f"gloo{world}"))


# --- the checks, in the parent -----------------------------------------------------------------


def _assert_state_equal(ours, ref):
    """Integer counts exactly; float sums (scores, calibration) to rounding: they add in another order."""
    for mine, theirs in zip(ours._arrays(), ref._arrays()):
        if theirs.dtype.kind == "i":
            np.testing.assert_array_equal(mine, theirs)
        else:
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def _stack(batches, column):
    return np.concatenate([b[column] for b in batches]) if batches else np.zeros(0)


def test_every_rank_ends_with_the_same_state(group_results):
    _, results = group_results
    for name in ("multiclass", "windowed"):
        assert all(r[name] == results[0][name] for r in results)
    for i in range(2):
        assert all(r["pair"][i] == results[0]["pair"][i] for r in results)


def test_multiclass_with_bootstrap_equals_one_process_and_sklearn(group_results):
    from sklearn.metrics import confusion_matrix, f1_score

    world, results = group_results
    synced = results[0]["multiclass"]
    assert results[0]["multiclass returned itself"]
    batches = _all_batches("multiclass", world)
    one_process = _fed(streameval.Multiclass(K), batches)
    np.testing.assert_array_equal(synced.confusion_matrix(), one_process.confusion_matrix())
    y_true, y_pred = _stack(batches, 0), _stack(batches, 1)
    np.testing.assert_array_equal(synced.confusion_matrix(), confusion_matrix(y_true, y_pred, labels=range(K)))
    assert synced.f1(zero_division=0.0) == f1_score(y_true, y_pred, labels=range(K), average="macro", zero_division=0)
    # Each replicate is the sum of the ranks' replicates (a rank's draws depend on its seed only).
    ranks = [_fed(streameval.Multiclass(K, bootstrap=8, seed=(7, r)), _batches("multiclass", r, world))
             for r in range(world)]
    np.testing.assert_array_equal(synced._boot_cm, np.sum([r._boot_cm for r in ranks], axis=0))


def test_windowed_at_a_common_time_equals_one_window_and_sklearn(group_results):
    from sklearn.metrics import confusion_matrix

    world, results = group_results
    batches = sorted(_all_batches("timed", world), key=lambda b: b[2])  # one window sees them in time order
    one_window = _fed(_window(), batches)
    one_window.advance(WINDOW_END)
    assert results[0]["windowed"] == one_window
    # The window at 175 s (15 s buckets) holds the samples of [120, 175].
    inside = [b for b in batches if b[2] >= 120.0]
    expected = confusion_matrix(_stack(inside, 0), _stack(inside, 1), labels=range(K))
    np.testing.assert_array_equal(results[0]["windowed"].confusion_matrix(), expected)


def test_a_tuple_of_accumulators_syncs_in_one_call(group_results):
    from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix

    world, results = group_results
    assert results[0]["pair returned itself"]
    binary, multilabel = results[0]["pair"]
    binary_batches, multilabel_batches = _all_batches("binary", world), _all_batches("multilabel", world)
    _assert_state_equal(binary, _fed(streameval.Binary(bins=16), binary_batches))
    _assert_state_equal(multilabel, _fed(streameval.Multilabel(3), multilabel_batches))
    y_true, scores = _stack(binary_batches, 0), _stack(binary_batches, 1)
    np.testing.assert_array_equal(binary.confusion_matrix(), confusion_matrix(y_true, scores >= 0.5, labels=[0, 1]))
    y_true = np.concatenate([b[0] for b in multilabel_batches])
    y_pred = np.concatenate([b[1] for b in multilabel_batches]) >= 0.5
    np.testing.assert_array_equal(multilabel.confusion_matrix(), multilabel_confusion_matrix(y_true, y_pred))


def _same_error_everywhere(results, name, kind):
    outcomes = [r[name] for r in results]
    assert outcomes[0] is not None and outcomes[0][0] == kind, outcomes[0]
    assert all(o == outcomes[0] for o in outcomes), outcomes
    return outcomes[0][1]


def test_every_registered_configuration_syncs_as_merge_adds(group_results):
    """sync() of every registered configuration that merges equals merge() of the ranks' objects in
    rank order (merge itself is checked against scikit-learn in tests/test_contract.py)."""
    world, results = group_results
    for r in results:
        assert len(r["registry"]) == len(MERGING)
    ranks = [_registry_part(rank, world) for rank in range(world)]
    for i, configuration in enumerate(MERGING):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = sum(part[i] for part in ranks)
        for rank, r in enumerate(results):
            assert type(r["registry"][i]) is type(expected), configuration.name
            assert_same_state(r["registry"][i], expected, f"{configuration.name} on rank {rank}")
            assert r["registry"][i] == results[0]["registry"][i], configuration.name


def test_a_configuration_mismatch_raises_the_same_error_on_every_rank(group_results):
    world, results = group_results
    message = _same_error_everywhere(results, "config mismatch", "IncompatibleError")
    assert f"rank {world - 1}: Multiclass(num_classes={K + 1}" in message
    assert f"num_classes={K}," in message
    assert all(r["config mismatch unchanged"] for r in results)


def test_a_mismatch_in_a_list_names_the_position_and_the_rank(group_results):
    _, results = group_results
    message = _same_error_everywhere(results, "position mismatch", "IncompatibleError")
    assert "acc_or_accs[1] differs" in message and "rank 1: Binary(threshold=0.3" in message
    assert "acc_or_accs[0]" not in message


def test_windows_at_different_times_are_refused_with_advice(group_results):
    world, results = group_results
    message = _same_error_everywhere(results, "time mismatch", "IncompatibleError")
    assert f"rank {world - 1}:" in message and "advance(t)" in message
    assert all(r["time mismatch unchanged"] for r in results)


def test_windows_of_samples_are_refused_as_merge_refuses_them(group_results):
    _, results = group_results
    message = _same_error_everywhere(results, "samples window", "IncompatibleError")
    assert "acc_or_accs is a Windowed(" in message and "only unit='seconds'" in message


def test_different_numbers_of_accumulators_are_refused(group_results):
    world, results = group_results
    message = _same_error_everywhere(results, "count mismatch", "IncompatibleError")
    assert f"rank {world - 1}: 2" in message


def test_a_bad_argument_on_one_rank_fails_every_rank_without_a_hang(group_results):
    _, results = group_results
    kind, message = results[0]["not an accumulator"]
    assert kind == "TypeError" and "acc_or_accs[1] is a str" in message
    for r in results[1:]:
        kind, theirs = r["not an accumulator"]
        assert kind == "RuntimeError" and "failed on rank 0" in theirs and message in theirs


def test_a_sum_that_cannot_be_loaded_leaves_every_accumulator_unchanged(group_results):
    _, results = group_results
    message = _same_error_everywhere(results, "overflow", "OverflowError")
    assert "= inf overflows _cm" in message
    assert all(r["overflow unchanged"] for r in results)


def test_exact_tables_and_discovered_labels_merge_exactly_in_rank_order(group_results):
    from sklearn.metrics import confusion_matrix, roc_auc_score

    world, results = group_results
    assert results[0]["merged returned itself"]
    exact, summed, words, mixed = results[0]["merged"]
    assert all(r["merged"] == results[0]["merged"] for r in results)
    # one accumulator fed every rank's batches, rank 0's first
    binary_batches = _all_batches("binary", world)
    reference = _fed(streameval.Binary(exact=True), binary_batches)
    _assert_state_equal(exact, reference)  # integer table counts exactly, calibration sums to rounding
    y_true, scores = _stack(binary_batches, 0), _stack(binary_batches, 1)
    assert exact.roc_auc() == pytest.approx(roc_auc_score(y_true, scores), rel=1e-12)
    assert summed == _fed(streameval.Multiclass(K), _all_batches("multiclass", world))
    word_batches = _all_batches("words", world)
    assert words == _fed(streameval.Multiclass(labels="auto"), word_batches)
    y_true, y_pred = _stack(word_batches, 0), _stack(word_batches, 1)
    np.testing.assert_array_equal(words.confusion_matrix(), confusion_matrix(y_true, y_pred))  # sklearn's labels
    # Labels of mixed types (unsorted) come in the order merge() gives, rank 0's first.
    ranks = [_fed(streameval.Multiclass(labels="auto", bootstrap=4, seed=(3, r)), _batches("mixed", r, world))
             for r in range(world)]
    assert mixed.labels == sum(ranks).labels
    np.testing.assert_array_equal(mixed._boot_cm, sum(ranks)._boot_cm)
    position = {label: i for i, label in enumerate(mixed.labels)}
    expected = np.zeros((len(position), len(position)), np.int64)
    for batch in _all_batches("mixed", world):
        np.add.at(expected, ([position[v] for v in batch[0]], [position[v] for v in batch[1]]), 1)
    np.testing.assert_array_equal(mixed.confusion_matrix(), expected)


def test_a_count_beyond_float64_on_one_rank_fails_every_rank_without_a_hang(group_results):
    world, results = group_results
    kind, message = results[world - 1]["beyond 2**53"]
    assert kind == "OverflowError" and "above 2**53" in message
    for r in results[:-1]:
        kind, theirs = r["beyond 2**53"]
        assert kind == "RuntimeError" and f"failed on rank {world - 1}" in theirs and message in theirs


def test_the_group_is_still_in_step_after_the_errors(group_results):
    world, results = group_results
    expected = [[world - world // 2, 0], [world // 2, 0]]  # rank r counted true class r % 2, predicted 0
    assert all(r["after errors"] == expected for r in results)


# --- without a process group ---------------------------------------------------------------------


def test_sync_needs_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        sync(streameval.Multiclass(3))


def test_importing_streameval_does_not_import_torch():
    code = "import sys, streameval, streameval.torch; assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_example_runs():
    example = Path(__file__).resolve().parent.parent / "examples" / "torch_distributed.py"
    result = subprocess.run([sys.executable, str(example)], check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "macro avg" in result.stdout and "equal one process on all the data: True" in result.stdout


# --- torch tensors in update ---------------------------------------------------------------------


def test_cpu_tensors_are_read_without_a_copy():
    from streameval._inputs import torch_to_numpy

    matrix = torch.arange(24, dtype=torch.float32).reshape(6, 4)
    weights = torch.ones(4, requires_grad=True)
    for tensor in (matrix, matrix[::2, 1:], matrix.T, matrix[:, 2], weights, (weights * 2)[1:]):
        array = torch_to_numpy(tensor)
        assert np.shares_memory(array, tensor.detach().numpy())
        np.testing.assert_array_equal(array, tensor.detach().numpy())


def test_tensor_batches_count_as_numpy_and_sklearn():
    from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix

    gen = torch.Generator().manual_seed(0)
    y_true = torch.randint(0, K, (64,), generator=gen)
    layer = torch.nn.Linear(5, K)
    logits = layer(torch.randn(64, 5, generator=gen))  # requires grad, as in a training loop
    labels = logits.detach().numpy().argmax(axis=1)

    mc = streameval.Multiclass(K)
    mc.update(y_true, logits)  # (N, K) scores that require grad
    mc.update(y_true[::2], logits[::2].argmax(dim=1))  # non-contiguous labels
    expected = confusion_matrix(np.concatenate([y_true.numpy(), y_true.numpy()[::2]]),
                                np.concatenate([labels, labels[::2]]), labels=range(K))
    np.testing.assert_array_equal(mc.confusion_matrix(), expected)

    probabilities = torch.sigmoid(logits)  # (64, K), requires grad
    binary = streameval.Binary(bins=8)
    binary.update(y_true % 2, probabilities[:, 1])  # a strided column
    reference = streameval.Binary(bins=8)
    reference.update(y_true.numpy() % 2, probabilities[:, 1].detach().numpy().copy())
    assert binary == reference

    indicators = torch.randint(0, 2, (3, 64), generator=gen)
    multilabel = streameval.Multilabel(3)
    multilabel.update(indicators.T, probabilities[:, :3])  # transposed: column-major
    y_pred = probabilities[:, :3].detach().numpy() >= 0.5
    np.testing.assert_array_equal(multilabel.confusion_matrix(),
                                  multilabel_confusion_matrix(indicators.T.numpy(), y_pred))

    window = _window()
    window.update(y_true, logits, timestamp=100.0)
    assert window.confusion_matrix().tolist() == confusion_matrix(y_true.numpy(), labels, labels=range(K)).tolist()
