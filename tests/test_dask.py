"""streameval.dask.evaluate on a real distributed.LocalCluster with two worker processes.

Every result is compared with one accumulator fed all the rows in this process (``==``: exact
integer counts) and with scikit-learn on the same rows. One cluster serves the whole module.
"""

import itertools
import logging
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
skm = pytest.importorskip("sklearn.metrics")

import streameval
from streameval.dask import evaluate


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        yield client


def _frame(df, sizes):
    """A dask DataFrame whose partitions hold sizes[i] consecutive rows of df (0 gives an empty one)."""
    assert sum(sizes) == len(df)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    parts = [dask.delayed(df.iloc[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
    frame = dd.from_delayed(parts, meta=df.iloc[:0])
    assert frame.npartitions == len(sizes)
    return frame


UNEVEN = [700, 0, 1, 1500, 0, 37, 900, 2, 0, 360]  # 3500 rows, empty and one-row partitions


def _binary_frame(n=3500, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.25, n), 0, 1)
    return pd.DataFrame({"y": y, "score": score, "w": rng.uniform(0, 3, n)})


def _one_pass(template, *arrays, sample_weight=None):
    ref = template.copy()
    ref.update(*arrays, sample_weight=sample_weight)
    return ref


def _assert_same_state(ours, ref):
    """Integer counts identical; float sums (of scores, of per-sample ratios, of weights) to 1e-12,
    since the partitions add them in another order than one pass does."""
    assert ours.fingerprint() == ref.fingerprint()
    for mine, theirs in zip(ours._arrays(), ref._arrays()):
        if theirs.dtype.kind == "i":
            assert np.array_equal(mine, theirs)
        else:
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def test_binary_threshold_uneven_and_empty_partitions(client):
    df = _binary_frame()
    template = streameval.Binary(threshold=0.45)
    acc = evaluate(_frame(df, UNEVEN), y_true="y", y_pred="score", accumulator=template)
    assert acc == _one_pass(template, df.y.to_numpy(), df.score.to_numpy())
    assert template.is_empty  # the template is never modified
    predicted = (df.score >= 0.45).astype(int)
    assert (acc.confusion_matrix() == skm.confusion_matrix(df.y, predicted)).all()
    assert acc.f1() == pytest.approx(skm.f1_score(df.y, predicted), rel=1e-12)
    assert acc.matthews_corrcoef() == pytest.approx(skm.matthews_corrcoef(df.y, predicted), rel=1e-12)


def test_binary_bins(client):
    df = _binary_frame(seed=1)
    template = streameval.Binary(bins=50)
    acc = evaluate(_frame(df, UNEVEN), y_true="y", y_pred="score", accumulator=template)
    _assert_same_state(acc, _one_pass(template, df.y.to_numpy(), df.score.to_numpy()))
    # counts at a bin edge are exact; the binned AUC brackets the exact one
    at = acc.at_threshold(0.6)
    assert (at.confusion_matrix() == skm.confusion_matrix(df.y, (df.score >= at.threshold).astype(int))).all()
    low, high = acc.roc_auc_bounds()
    assert low <= skm.roc_auc_score(df.y, df.score) <= high


def test_multiclass_score_columns_weighted(client):
    rng = np.random.default_rng(2)
    n, k = 3500, 4
    scores = rng.random((n, k))
    columns = [f"s{j}" for j in range(k)]
    df = pd.DataFrame(scores, columns=columns).assign(y=rng.integers(0, k, n), w=rng.uniform(0, 2, n))
    template = streameval.Multiclass(k, weighted=True)
    acc = evaluate(_frame(df, UNEVEN), y_true="y", y_pred=columns, sample_weight="w", accumulator=template)
    _assert_same_state(acc, _one_pass(template, df.y.to_numpy(), scores, sample_weight=df.w.to_numpy()))
    predicted = scores.argmax(axis=1)
    expected = skm.confusion_matrix(df.y, predicted, sample_weight=df.w, labels=range(k))
    np.testing.assert_allclose(acc.confusion_matrix(), expected, rtol=1e-12)
    assert acc.f1() == pytest.approx(skm.f1_score(df.y, predicted, sample_weight=df.w, average="macro"), rel=1e-12)


@pytest.mark.parametrize("labels", [["ant", "bee", "cat", "dog"], "auto"])
def test_multiclass_string_labels(client, labels):
    rng = np.random.default_rng(3)
    words = np.array(["ant", "bee", "cat", "dog"])
    n = 3500
    df = pd.DataFrame({"truth": words[rng.integers(0, 4, n)], "guess": words[rng.integers(0, 4, n)]})
    template = streameval.Multiclass(labels=labels)
    acc = evaluate(_frame(df, UNEVEN), y_true="truth", y_pred="guess", accumulator=template)
    assert acc == _one_pass(template, df.truth.to_numpy(), df.guess.to_numpy())
    assert acc.labels == ("ant", "bee", "cat", "dog")
    assert (acc.confusion_matrix() == skm.confusion_matrix(df.truth, df.guess)).all()
    np.testing.assert_allclose(acc.recall(average=None), skm.recall_score(df.truth, df.guess, average=None), rtol=1e-12)


def test_multilabel_label_and_score_columns(client):
    rng = np.random.default_rng(4)
    n, n_labels = 3500, 3
    truth = rng.integers(0, 2, (n, n_labels))
    scores = rng.random((n, n_labels))
    true_cols, score_cols = ["t0", "t1", "t2"], ["p0", "p1", "p2"]
    df = pd.concat([pd.DataFrame(truth, columns=true_cols), pd.DataFrame(scores, columns=score_cols)], axis=1)
    template = streameval.Multilabel(n_labels, threshold=0.3)
    acc = evaluate(_frame(df, UNEVEN), y_true=true_cols, y_pred=score_cols, accumulator=template)
    _assert_same_state(acc, _one_pass(template, truth, scores))
    predicted = (scores >= 0.3).astype(int)
    assert (acc.confusion_matrix() == skm.multilabel_confusion_matrix(truth, predicted)).all()
    expected = skm.f1_score(truth, predicted, average="samples", zero_division=0.0)
    assert acc.f1(average="samples", zero_division=0.0) == pytest.approx(expected, rel=1e-12)


def test_dask_arrays_with_unaligned_chunks(client):
    rng = np.random.default_rng(5)
    n = 5000
    y, scores = rng.integers(0, 2, (n, 3)), rng.random((n, 3))
    template = streameval.Multilabel(3)
    # y_pred's rows and columns are chunked differently from y_true's: evaluate aligns them
    acc = evaluate(y_true=da.from_array(y, chunks=(700, 3)), y_pred=da.from_array(scores, chunks=(1100, 2)),
                   accumulator=template)
    _assert_same_state(acc, _one_pass(template, y, scores))
    assert (acc.confusion_matrix() == skm.multilabel_confusion_matrix(y, (scores >= 0.5).astype(int))).all()

    labels, guesses, weights = rng.integers(0, 5, n), rng.integers(0, 5, n), rng.uniform(0, 1, n)
    template = streameval.Multiclass(5, weighted=True)
    acc = evaluate(y_true=da.from_array(labels, chunks=333), y_pred=da.from_array(guesses, chunks=1000),
                   sample_weight=da.from_array(weights, chunks=2500), accumulator=template)
    _assert_same_state(acc, _one_pass(template, labels, guesses, sample_weight=weights))
    expected = skm.confusion_matrix(labels, guesses, sample_weight=weights)
    np.testing.assert_allclose(acc.confusion_matrix(), expected, rtol=1e-12)


def test_many_partitions_any_split_every(client):
    """37 partitions reduced 2, 3 or 8 at a time (several rounds of merges) give the same counts."""
    rng = np.random.default_rng(6)
    df = pd.DataFrame({"y": rng.integers(0, 6, 3700), "p": rng.integers(0, 6, 3700)})
    frame = dd.from_pandas(df, npartitions=37)
    ref = _one_pass(streameval.Multiclass(6), df.y.to_numpy(), df.p.to_numpy())
    assert (ref.confusion_matrix() == skm.confusion_matrix(df.y, df.p)).all()
    for split_every in (2, 3, None):
        assert evaluate(frame, y_true="y", y_pred="p", accumulator=streameval.Multiclass(6),
                        split_every=split_every) == ref


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_local_schedulers(scheduler):
    """Without distributed, tasks share the template and their inputs in memory: none may change them."""
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"y": rng.integers(0, 3, 3500), "p": rng.integers(0, 3, 3500)})
    template = streameval.Multiclass(3)
    with dask.config.set(scheduler=scheduler):
        acc = evaluate(_frame(df, UNEVEN), y_true="y", y_pred="p", accumulator=template, split_every=2)
    assert template.is_empty
    assert acc == _one_pass(template, df.y.to_numpy(), df.p.to_numpy())
    assert (acc.confusion_matrix() == skm.confusion_matrix(df.y, df.p)).all()


def test_all_partitions_empty(client):
    df = pd.DataFrame({"y": np.zeros(0, np.int64), "p": np.zeros(0, np.int64)})
    acc = evaluate(_frame(df, [0, 0, 0]), y_true="y", y_pred="p", accumulator=streameval.Binary())
    assert acc.is_empty and acc == streameval.Binary()


def test_bootstrap_partition_seeds(client):
    """Partition i draws from reseed((seed, i)): rebuilt here partition by partition."""
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"y": rng.integers(0, 3, 3500), "p": rng.integers(0, 3, 3500)})
    template = streameval.Multiclass(3, bootstrap=20)
    acc = evaluate(_frame(df, UNEVEN), y_true="y", y_pred="p", accumulator=template, seed=11)
    expected, lo = [], 0
    for i, size in enumerate(UNEVEN):
        part = template.copy()
        part.reseed((11, i))
        part.update(df.y.to_numpy()[lo:lo + size], df.p.to_numpy()[lo:lo + size])
        expected.append(part)
        lo += size
    assert acc == sum(expected)  # == compares the replicates too
    assert (acc.confusion_matrix() == skm.confusion_matrix(df.y, df.p)).all()
    # no seed: fresh replicates on every call, the same counts
    fresh = evaluate(_frame(df, UNEVEN), y_true="y", y_pred="p", accumulator=template)
    assert fresh != acc and (fresh.confusion_matrix() == acc.confusion_matrix()).all()


def test_bad_row_names_its_partition(client):
    df = pd.DataFrame({"y": [0, 1, 2, 1, 0, 9, 1], "p": [0, 1, 2, 1, 0, 1, 1]})
    with pytest.raises(ValueError, match=r"partition 2 .*y_true\[1\] = 9 is not a class"):
        evaluate(_frame(df, [2, 2, 3]), y_true="y", y_pred="p", accumulator=streameval.Multiclass(3))
    # every partition fails: whichever error reaches the client first is raised
    with pytest.raises(ValueError, match=r"partition \d .*sample_weight was given to an unweighted accumulator"):
        evaluate(_frame(df, [2, 2, 3]), y_true="y", y_pred="p", sample_weight="y", accumulator=streameval.Multiclass(10))


def test_invalid_arguments():
    """Refused on the client, before anything runs (no cluster needed)."""
    df = dd.from_pandas(pd.DataFrame({"y": [0, 1], "p": [1, 1]}), npartitions=1)
    args = {"y_true": "y", "y_pred": "p"}
    with pytest.raises(TypeError, match="Windowed.*not supported"):
        evaluate(df, **args, accumulator=streameval.Windowed(streameval.Binary(), 100, buckets=10))
    with pytest.raises(TypeError, match="Decayed.*not supported"):
        evaluate(df, **args, accumulator=streameval.Decayed(streameval.Binary(), 100))
    with pytest.raises(TypeError, match="accumulator=.*expected an empty Binary"):
        evaluate(df, **args, accumulator="binary")
    full = streameval.Binary()
    full.update([1], [1])
    with pytest.raises(ValueError, match="accumulator has 1 samples already"):
        evaluate(df, **args, accumulator=full)
    with pytest.raises(ValueError, match="split_every=1 is not valid"):
        evaluate(df, **args, accumulator=streameval.Binary(), split_every=1)
    with pytest.raises(ValueError, match="y_pred='q' is not a column of data"):
        evaluate(df, y_true="y", y_pred="q", accumulator=streameval.Binary())
    with pytest.raises(TypeError, match=r"y_pred=\[\] is not valid"):
        evaluate(df, y_true="y", y_pred=[], accumulator=streameval.Binary())
    with pytest.raises(ValueError, match="seed=3 is for bootstrap replicates"):
        evaluate(df, **args, accumulator=streameval.Binary(), seed=3)
    with pytest.raises(ValueError, match="seed=-1 is not valid: expected a non-negative integer"):
        evaluate(df, **args, accumulator=streameval.Binary(bootstrap=5), seed=-1)
    with pytest.raises(TypeError, match="data=DataFrame is not valid: expected a dask DataFrame"):
        evaluate(df.compute(), **args, accumulator=streameval.Binary())
    with pytest.raises(TypeError, match="y_true=ndarray is not valid: with data=None, expected a dask array"):
        evaluate(y_true=np.zeros(3), y_pred=da.zeros(3), accumulator=streameval.Binary())
    with pytest.raises(ValueError, match="y_pred has 4 rows but y_true has 3"):
        evaluate(y_true=da.zeros(3), y_pred=da.zeros(4), accumulator=streameval.Binary())


def test_import_streameval_does_not_import_dask():
    code = (
        "import sys, streameval, streameval.dask\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pandas'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _slow(frame):
    time.sleep(0.1)  # long enough for the test to kill a worker while partitions are being counted
    return frame


def test_killed_worker_is_retried_and_result_stays_exact(client):
    rng = np.random.default_rng(8)
    n = 8000
    df = pd.DataFrame({"y": rng.integers(0, 3, n), "p": rng.integers(0, 3, n)})
    ref = _one_pass(streameval.Multiclass(3), df.y.to_numpy(), df.p.to_numpy())
    assert (ref.confusion_matrix() == skm.confusion_matrix(df.y, df.p)).all()
    frame = dd.from_pandas(df, npartitions=40).map_partitions(_slow, meta=df.iloc[:0])
    pids = client.run(os.getpid)  # worker address -> process id
    victim = min(pids)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(evaluate, frame, y_true="y", y_pred="p", accumulator=streameval.Multiclass(3),
                          split_every=4)
        # Kill the worker once it holds finished partitions: they are lost and must be recomputed.
        deadline = time.monotonic() + 60
        while not client.has_what().get(victim) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.has_what().get(victim) and not job.done(), "the job ended before a worker could be killed"
        os.kill(pids[victim], signal.SIGKILL)
        acc = job.result(timeout=120)
    assert acc == ref
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, as a new process
    assert pids[victim] not in client.run(os.getpid).values()


def test_example_runs():
    """examples/dask_evaluate.py starts its own LocalCluster and checks its result itself."""
    pytest.importorskip("pyarrow")
    example = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "dask_evaluate.py")
    result = subprocess.run([sys.executable, example], check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Dask result == one accumulator fed every row: OK" in result.stdout
