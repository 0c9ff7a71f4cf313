"""Score-state benchmarks: binned and exact curves against numpy and scikit-learn, same data, same run.

    .venv/bin/python -m pytest benchmarks/test_bench_curves.py --benchmark-only

The numpy reference for a binned update is what a careful user would write: np.searchsorted into
the edges, then np.bincount per class. scikit-learn has no streaming curve: its reference is
roc_auc_score on the batch (it sorts the batch), on 1M samples and compared per sample.
"""

from __future__ import annotations

import numpy as np
import pytest

import streameval

sklearn_metrics = pytest.importorskip("sklearn.metrics")

N = 4_000_000
N_SKLEARN = 1_000_000
BINS = 1024


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 2, N, dtype=np.int64)
    scores = np.clip(0.3 + 0.4 * y_true + rng.normal(0, 0.2, N), 0, 1).astype(np.float32)
    return y_true, scores


def _mark(benchmark, group, role, samples, unit="samples"):
    benchmark.group = group
    benchmark.extra_info.update(role=role, samples=samples, unit=unit)


def test_binned_update_streameval(benchmark, data, threads):
    y_true, scores = data
    acc = streameval.Binary(bins=BINS)
    acc.update(y_true[:8], scores[:8])
    _mark(benchmark, f"binary binned {BINS} bins 4M f32", "streameval", N)
    benchmark(acc.update, y_true, scores)


def test_binned_update_numpy(benchmark, data):
    y_true, scores = data
    edges = np.linspace(0, 1, BINS + 1)

    def run():
        cells = np.searchsorted(edges, scores, side="right")
        return np.bincount(cells * 2 + y_true, minlength=2 * (BINS + 2))

    _mark(benchmark, f"binary binned {BINS} bins 4M f32", "numpy", N)
    benchmark(run)


def test_binned_update_sklearn_auc(benchmark, data):
    y_true, scores = data
    _mark(benchmark, f"binary binned {BINS} bins 4M f32", "sklearn", N_SKLEARN)
    benchmark(sklearn_metrics.roc_auc_score, y_true[:N_SKLEARN], scores[:N_SKLEARN])


def test_exact_update_streameval(benchmark, data):
    """Exact table: sort-and-merge per batch; scores rounded to 4 decimals (10k distinct values)."""
    y_true, scores = data
    rounded = np.round(scores[:N_SKLEARN].astype(np.float64), 4)
    acc = streameval.Binary(exact=True)
    acc.update(y_true[:8], rounded[:8])
    _mark(benchmark, "binary exact 1M f64", "streameval", N_SKLEARN)
    benchmark(acc.update, y_true[:N_SKLEARN], rounded)


def test_exact_sklearn_roc_curve(benchmark, data):
    y_true, scores = data
    rounded = np.round(scores[:N_SKLEARN].astype(np.float64), 4)
    _mark(benchmark, "binary exact 1M f64", "sklearn", N_SKLEARN)
    benchmark(sklearn_metrics.roc_curve, y_true[:N_SKLEARN], rounded)


@pytest.fixture(scope="module")
def filled(data):
    y_true, scores = data
    acc = streameval.Binary(bins=BINS)
    acc.update(y_true, scores)
    return acc


@pytest.mark.parametrize("query", ["roc_auc", "roc_auc_bounds", "average_precision", "best_threshold", "roc_curve"])
def test_binned_queries(benchmark, filled, query):
    _mark(benchmark, f"queries on {BINS} bins", "streameval", 1, "calls")
    benchmark(getattr(filled, query))
