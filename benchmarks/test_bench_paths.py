"""The paths besides the headline ones, each against a plain numpy reference in the same run.

    .venv/bin/python -m pytest benchmarks/test_bench_paths.py --benchmark-only

Multilabel, weights, ignore_index, top_k and Multiclass score histograms, as a user runs them
(large batches split over idle cores). The numpy reference is a plain version of the same
counts (``bincount`` per label, with weights, of the kept samples; ``argsort`` for ranks): it
does less than streameval (no checks, no per-sample metrics), so a ratio below 1 marks a path
to look at. Each benchmark checks once, after timing, that streameval counted what numpy did.
"""

from __future__ import annotations

import numpy as np
import pytest

import streameval

N, K = 1_000_000, 10


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, K, N)
    y_pred = np.where(rng.random(N) < 0.7, y_true, rng.integers(0, K, N))
    return y_true, y_pred, rng.random(N)


def _time(benchmark, group, role, samples, fn, *args):
    benchmark.group = group
    benchmark.extra_info.update(role=role, samples=samples, unit="samples")
    fn(*args)  # compile, warm the caches
    benchmark(fn, *args)


def _cm(y_true, y_pred, weight=None):
    return np.bincount(y_true * K + y_pred, weights=weight, minlength=K * K).reshape(K, K)


@pytest.mark.parametrize("role", ["streameval", "numpy"])
def test_weighted(benchmark, pairs, role):
    y_true, y_pred, w = pairs
    acc = streameval.Multiclass(K, weighted=True)
    fn = acc.update if role == "streameval" else lambda t, p, w: _cm(t, p, w)
    _time(benchmark, "Multiclass(10, weighted=True), 1M", role, N, fn, y_true, y_pred, w)
    if role == "streameval":
        acc.reset()
        acc.update(y_true, y_pred, w)
        np.testing.assert_allclose(acc.confusion_matrix(), _cm(y_true, y_pred, w), rtol=1e-12)


@pytest.mark.parametrize("role", ["streameval", "numpy"])
def test_ignore_index(benchmark, pairs, role):
    y_true, y_pred, _ = pairs
    y_true = np.where(np.arange(N) % 10 == 0, -100, y_true)
    acc = streameval.Multiclass(K, ignore_index=-100)
    kept = y_true != -100
    fn = acc.update if role == "streameval" else lambda t, p: _cm(t[t != -100], p[t != -100])
    _time(benchmark, "Multiclass(10, ignore_index=-100), 1M", role, N, fn, y_true, y_pred)
    if role == "streameval":
        acc.reset()
        acc.update(y_true, y_pred)
        np.testing.assert_array_equal(acc.confusion_matrix(), _cm(y_true[kept], y_pred[kept]))


@pytest.mark.parametrize("labels", [5, 50])
@pytest.mark.parametrize("role", ["streameval", "numpy"])
def test_multilabel(benchmark, labels, role):
    rows = 1_000_000 // labels
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 2, (rows, labels))
    scores = rng.random((rows, labels)).astype(np.float32)
    acc = streameval.Multilabel(labels)

    def numpy_counts(y, s):
        return np.stack([np.bincount(y[:, j] * 2 + (s[:, j] >= 0.5), minlength=4) for j in range(labels)])

    fn = acc.update if role == "streameval" else numpy_counts
    _time(benchmark, f"Multilabel({labels}) scores, {rows:,} x {labels}", role, rows * labels, fn, y_true, scores)
    if role == "streameval":
        acc.reset()
        acc.update(y_true, scores)
        np.testing.assert_array_equal(np.asarray(acc.confusion_matrix()).reshape(labels, 4),
                                      numpy_counts(y_true, scores))


@pytest.mark.parametrize("role", ["streameval", "numpy"])
def test_top_k(benchmark, role):
    rows = 100_000
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, K, rows)
    scores = rng.random((rows, K)).astype(np.float32)
    acc = streameval.Multiclass(K, top_k=3)

    def numpy_hits(y, s):  # the true class among the 3 highest scores
        return (np.argsort(s, axis=1, kind="stable")[:, -3:] == y[:, None]).any(axis=1).sum()

    fn = acc.update if role == "streameval" else numpy_hits
    _time(benchmark, "Multiclass(10, top_k=3), 100,000 x 10", role, rows, fn, y_true, scores)
    if role == "streameval":
        acc.reset()
        acc.update(y_true, scores)
        assert acc.accuracy(top_k=3) == pytest.approx(numpy_hits(y_true, scores) / rows, rel=1e-12)


def test_multiclass_bins(benchmark):
    """No numpy reference: a histogram per class of 100 bins, the calibration sums and the top-1 histogram."""
    rows = 100_000
    rng = np.random.default_rng(4)
    y_true = rng.integers(0, K, rows)
    scores = rng.random((rows, K)).astype(np.float32)
    scores /= scores.sum(axis=1, keepdims=True)
    _time(benchmark, "Multiclass(10, bins=100), 100,000 x 10", "streameval", rows,
          streameval.Multiclass(K, bins=100).update, y_true, scores)


@pytest.mark.parametrize("role", ["streameval", "numpy"])
def test_weighted_scores(benchmark, role):
    """(200,000, 10) float32 scores with weights: the argmax alone (``rows.argmax_rows_of``),
    then the weighted pairs."""
    n = 200_000
    rng = np.random.default_rng(2)
    scores = rng.random((n, K)).astype(np.float32)
    y_true, w = rng.integers(0, K, n), rng.random(n)
    acc = streameval.Multiclass(K, weighted=True)
    fn = acc.update if role == "streameval" else lambda t, s, w: _cm(t, s.argmax(axis=1), w)
    _time(benchmark, f"Multiclass(10, weighted=True), ({n}, 10) f32 scores", role, n, fn, y_true, scores, w)
    if role == "streameval":
        acc.reset()
        acc.update(y_true, scores, w)
        np.testing.assert_allclose(acc.confusion_matrix(), _cm(y_true, scores.argmax(axis=1), w), rtol=1e-12)


@pytest.mark.parametrize(("k", "dtype"), [(4, "float32"), (10, "float32"), (15, "float32"), (10, "float64")])
@pytest.mark.parametrize("role", ["streameval", "scan", "numpy"])
def test_short_rows(benchmark, k, dtype, role):
    """(200,000, K) scores with K < 16: the kernel compiled for K (``_kernels.short_rows``), the
    general kernel's scan that counted them before ("scan": ``argmax.count_argmax`` called the
    same way), and numpy's argmax + bincount."""
    from streameval._inputs import PROBABILITY
    from streameval._kernels.argmax import NO_BITS, count_argmax

    n = 200_000
    rng = np.random.default_rng(k)
    scores = rng.random((n, k)).astype(dtype)
    y_true = rng.integers(0, k, n)
    acc = streameval.Multiclass(k)
    cm = np.zeros((k, k), np.int64)
    fns = {"streameval": acc.update,
           "scan": lambda t, s: count_argmax(t, s, NO_BITS, k, -100, False, *PROBABILITY, 0, 0, cm),
           "numpy": lambda t, s: np.bincount(t * k + s.argmax(axis=1), minlength=k * k)}
    _time(benchmark, f"short rows ({n}, {k}) {dtype}", role, n, fns[role], y_true, scores)
    if role == "streameval":
        acc.reset()
        acc.update(y_true, scores)
        np.testing.assert_array_equal(acc.confusion_matrix(), fns["numpy"](y_true, scores).reshape(k, k))
