"""Core benchmarks: streameval against np.bincount and scikit-learn on the same data, in the same run.

Run from the repository root (not collected by a plain ``pytest``: testpaths is tests/):

    .venv/bin/python -m pytest benchmarks/ --benchmark-only

Groups put streameval next to its references, so the summary printed at the end (see conftest.py)
reads as ratios. Every accumulator kernel is called once before timing, so numba's compilation
(or cache load) is never measured.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import streameval

sklearn_metrics = pytest.importorskip("sklearn.metrics")

N_LARGE = 10_000_000  # streameval and np.bincount
N_SKLEARN = 1_000_000  # sklearn is much slower: fewer samples, compared per sample
N_SMALL = 256
N_SCORES = 1_000_000  # (N, K) float32 score matrices
KS = (2, 10, 100, 1000)
SEED = 20240601


@pytest.fixture(scope="module")
def labels_cache():
    """K -> (y_true, y_pred) int64 arrays of N_LARGE samples, built once per K and shared."""
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def get(k: int):
        if k not in cache:
            rng = np.random.default_rng(SEED + k)
            y_true = rng.integers(0, k, N_LARGE, dtype=np.int64)
            # 70% correct predictions, the rest uniform: a realistic, non-degenerate matrix
            y_pred = np.where(rng.random(N_LARGE) < 0.7, y_true, rng.integers(0, k, N_LARGE, dtype=np.int64))
            cache[k] = (y_true, y_pred)
        return cache[k]

    return get


@pytest.fixture(scope="module")
def binary_scores():
    """(y_true int64, scores float32) of N_LARGE samples."""
    rng = np.random.default_rng(SEED)
    y_true = rng.integers(0, 2, N_LARGE, dtype=np.int64)
    scores = np.clip(0.3 + 0.4 * y_true + rng.normal(0, 0.2, N_LARGE), 0, 1).astype(np.float32)
    return y_true, scores


def _mark(benchmark, group: str, role: str, samples: int, unit: str = "samples") -> None:
    benchmark.group = group
    benchmark.extra_info.update(role=role, samples=samples, unit=unit)


def _warm(acc, y_true, y_pred) -> None:
    """Compile (or load from numba's cache) the kernel for these dtypes, then forget the counts."""
    acc.update(y_true[:8], y_pred[:8])
    acc.reset()


def _bincount_cm(y_true, y_pred, k):
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


# --- Multiclass.update on 10M int64 labels ------------------------------------------------------


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_multiclass_update_streameval(benchmark, labels_cache, k, threads):
    y_true, y_pred = labels_cache(k)
    acc = streameval.Multiclass(k)
    _warm(acc, y_true, y_pred)
    _mark(benchmark, f"multiclass 10M K={k}", "streameval", N_LARGE)
    benchmark(acc.update, y_true, y_pred)
    check = streameval.Multiclass(k)
    check.update(y_true, y_pred)
    np.testing.assert_array_equal(check.confusion_matrix(), _bincount_cm(y_true, y_pred, k))


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_multiclass_update_np_bincount(benchmark, labels_cache, k):
    y_true, y_pred = labels_cache(k)
    _mark(benchmark, f"multiclass 10M K={k}", "numpy", N_LARGE)
    benchmark(_bincount_cm, y_true, y_pred, k)


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_multiclass_update_sklearn_1M(benchmark, labels_cache, k):
    y_true, y_pred = (a[:N_SKLEARN] for a in labels_cache(k))
    _mark(benchmark, f"multiclass 10M K={k}", "sklearn", N_SKLEARN)
    labels = np.arange(k)
    benchmark(sklearn_metrics.confusion_matrix, y_true, y_pred, labels=labels)


# --- Multiclass.update on (N, K) float32 scores (argmax in the kernel) ---------------------------


@pytest.fixture(scope="module")
def scores_k10(labels_cache):
    y_true = labels_cache(10)[0][:N_SCORES]
    rng = np.random.default_rng(SEED)
    scores = (rng.normal(size=(N_SCORES, 10)) + 2.0 * np.eye(10)[y_true]).astype(np.float32)
    return y_true, scores


def test_multiclass_scores_streameval(benchmark, scores_k10):
    y_true, scores = scores_k10
    acc = streameval.Multiclass(10)
    _warm(acc, y_true, scores)
    _mark(benchmark, "multiclass scores 1Mx10 f32", "streameval", N_SCORES)
    benchmark(acc.update, y_true, scores)


def test_multiclass_scores_np_argmax_bincount(benchmark, scores_k10):
    y_true, scores = scores_k10
    _mark(benchmark, "multiclass scores 1Mx10 f32", "numpy", N_SCORES)
    benchmark(lambda: _bincount_cm(y_true, scores.argmax(axis=1), 10))


def test_multiclass_scores_sklearn(benchmark, scores_k10):
    y_true, scores = scores_k10
    _mark(benchmark, "multiclass scores 1Mx10 f32", "sklearn", N_SCORES)
    labels = np.arange(10)
    benchmark(lambda: sklearn_metrics.confusion_matrix(y_true, scores.argmax(axis=1), labels=labels))


# --- small batches: the per-call overhead of a training / eval loop ------------------------------


@pytest.fixture(scope="module")
def small_batch():
    rng = np.random.default_rng(SEED)
    y_true = rng.integers(0, 10, N_SMALL, dtype=np.int64)
    y_pred = rng.integers(0, 10, N_SMALL, dtype=np.int64)
    scores = rng.random((N_SMALL, 10), dtype=np.float32)
    y_bin = rng.integers(0, 2, N_SMALL, dtype=np.int64)
    s_bin = rng.random(N_SMALL, dtype=np.float32)
    return y_true, y_pred, scores, y_bin, s_bin


def test_small_multiclass_labels_streameval(benchmark, small_batch):
    y_true, y_pred = small_batch[:2]
    acc = streameval.Multiclass(10)
    _warm(acc, y_true, y_pred)
    _mark(benchmark, "small batch 256 K=10", "streameval", N_SMALL)
    benchmark(acc.update, y_true, y_pred)


def test_small_multiclass_scores_streameval(benchmark, small_batch):
    y_true, scores = small_batch[0], small_batch[2]
    acc = streameval.Multiclass(10)
    _warm(acc, y_true, scores)
    _mark(benchmark, "small batch 256 K=10", "streameval", N_SMALL)
    benchmark(acc.update, y_true, scores)


def test_small_binary_scores_streameval(benchmark, small_batch):
    y_bin, s_bin = small_batch[3:]
    acc = streameval.Binary(threshold=0.5)
    _warm(acc, y_bin, s_bin)
    _mark(benchmark, "small batch 256 K=10", "streameval", N_SMALL)
    benchmark(acc.update, y_bin, s_bin)


def test_small_np_bincount(benchmark, small_batch):
    y_true, y_pred = small_batch[:2]
    _mark(benchmark, "small batch 256 K=10", "numpy", N_SMALL)
    benchmark(_bincount_cm, y_true, y_pred, 10)


def test_small_sklearn(benchmark, small_batch):
    y_true, y_pred = small_batch[:2]
    _mark(benchmark, "small batch 256 K=10", "sklearn", N_SMALL)
    labels = np.arange(10)
    benchmark(sklearn_metrics.confusion_matrix, y_true, y_pred, labels=labels)


# --- Binary.update on float32 scores with a threshold --------------------------------------------


def test_binary_scores_streameval(benchmark, binary_scores, threads):
    y_true, scores = binary_scores
    acc = streameval.Binary(threshold=0.5)
    _warm(acc, y_true, scores)
    _mark(benchmark, "binary scores 10M f32", "streameval", N_LARGE)
    benchmark(acc.update, y_true, scores)
    check = streameval.Binary(threshold=0.5)
    check.update(y_true, scores)
    expected = np.bincount(y_true * 2 + (scores >= 0.5), minlength=4).reshape(2, 2)
    np.testing.assert_array_equal(check.confusion_matrix(), expected)


def test_binary_scores_np_bincount(benchmark, binary_scores):
    y_true, scores = binary_scores
    _mark(benchmark, "binary scores 10M f32", "numpy", N_LARGE)
    benchmark(lambda: np.bincount(y_true * 2 + (scores >= 0.5), minlength=4).reshape(2, 2))


def test_binary_scores_sklearn_1M(benchmark, binary_scores):
    y_true, scores = (a[:N_SKLEARN] for a in binary_scores)
    _mark(benchmark, "binary scores 10M f32", "sklearn", N_SKLEARN)
    benchmark(lambda: sklearn_metrics.confusion_matrix(y_true, scores >= 0.5, labels=[0, 1]))


# --- Binary(bins=1024) on 10M float32 scores (issue 14: >= 300M samples/s with two cores) --------

BINS = 1024
G_BINNED = f"binary binned {BINS} bins 10M f32"


def test_binary_binned_streameval(benchmark, binary_scores, threads):
    """Confusion matrix at 0.5, 1024-bin histogram, Brier and log-loss sums, in one pass."""
    y_true, scores = binary_scores
    acc = streameval.Binary(bins=BINS)
    _warm(acc, y_true, scores)
    _mark(benchmark, G_BINNED, "streameval", N_LARGE)
    benchmark(acc.update, y_true, scores)


def test_binary_binned_numpy(benchmark, binary_scores):
    """What a careful user would write: the bin of each score, then a bincount per class."""
    y_true, scores = binary_scores
    edges = np.linspace(0, 1, BINS + 1)

    def run():
        cells = np.searchsorted(edges, scores, side="right")
        return np.bincount(cells * 2 + y_true, minlength=2 * (BINS + 2))

    _mark(benchmark, G_BINNED, "numpy", N_LARGE)
    benchmark(run)


# --- per-call operations on a filled accumulator: compute, merge, serialize ----------------------


@pytest.fixture(scope="module")
def filled(labels_cache):
    """K -> two Multiclass accumulators filled with different halves of 1M samples."""
    out = {}
    for k in KS:
        y_true, y_pred = labels_cache(k)
        a, b = streameval.Multiclass(k), streameval.Multiclass(k)
        a.update(y_true[:500_000], y_pred[:500_000])
        b.update(y_true[500_000:1_000_000], y_pred[500_000:1_000_000])
        out[k] = (a, b)
    return out


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_compute_multiclass(benchmark, filled, k):
    acc = filled[k][0]
    _mark(benchmark, "compute() all metrics", "streameval", 1, "calls")
    result = benchmark(acc.compute)
    assert "accuracy" in result and "f1_macro" in result


def test_compute_binary(benchmark, binary_scores):
    acc = streameval.Binary(threshold=0.5)
    acc.update(*(a[:1_000_000] for a in binary_scores))
    _mark(benchmark, "compute() all metrics", "streameval", 1, "calls")
    benchmark(acc.compute)


def test_report_k10(benchmark, filled):
    acc = filled[10][0]
    _mark(benchmark, "compute() all metrics", "streameval", 1, "calls")
    benchmark(lambda: str(acc.report()))


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_merge_add(benchmark, filled, k):
    a, b = filled[k]
    _mark(benchmark, f"merge K={k}", "streameval", 1, "calls")
    merged = benchmark(lambda: a + b)
    assert merged.n_samples == 1_000_000


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_merge_inplace(benchmark, filled, k):
    a, b = filled[k]
    a = a.copy()
    _mark(benchmark, f"merge K={k}", "streameval", 1, "calls")
    benchmark(a.merge, b)


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_merge_np_add(benchmark, filled, k):
    a, b = (acc.confusion_matrix() for acc in filled[k])
    _mark(benchmark, f"merge K={k}", "numpy", 1, "calls")
    benchmark(np.add, a, b)


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_serialize_roundtrip(benchmark, filled, k):
    acc = filled[k][0]
    _mark(benchmark, f"to_bytes+from_bytes K={k}", "streameval", 1, "calls")
    benchmark.extra_info["payload_bytes"] = len(acc.to_bytes())
    restored = benchmark(lambda: streameval.from_bytes(acc.to_bytes()))
    assert restored == acc


@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
def test_serialize_np_pickle(benchmark, filled, k):
    cm = filled[k][0].confusion_matrix()
    _mark(benchmark, f"to_bytes+from_bytes K={k}", "numpy", 1, "calls")
    benchmark(lambda: pickle.loads(pickle.dumps(cm, protocol=pickle.HIGHEST_PROTOCOL)))
