"""Slices (issue 16): the cost of Sliced.update against the same update without slices.

    .venv/bin/python -m pytest benchmarks/test_bench_sliced.py --benchmark-only

Multiclass(10), batches of 1M int64 labels, 10,000 slices keyed by integers, by strings (an
object array, as a pandas column holds them) and by a pandas categorical; the plain Multiclass
update of the same batch is the baseline ("time vs base"). The keys are drawn uniformly, so each
sample lands in a random slice: the worst case for the caches. Every slice exists before timing
(an update that discovers keys also grows the state once).
"""

from __future__ import annotations

import numpy as np
import pytest

import streameval

N, K, S = 1_000_000, 10, 10_000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, S, N)
    names = np.array([f"store-{i:05d}" for i in range(S)], dtype=object)
    return rng.integers(0, K, N), rng.integers(0, K, N), keys, names[keys]


def _mark(benchmark, **extra):
    benchmark.group = f"Sliced update: Multiclass({K}), {N:,} samples, {S:,} slices"
    benchmark.extra_info.update(role="streameval", samples=N, unit="samples", **extra)


def test_plain_update(benchmark, data):
    y_true, y_pred, _, _ = data
    acc = streameval.Multiclass(K)
    _mark(benchmark, baseline=True)
    benchmark(acc.update, y_true, y_pred)


@pytest.mark.parametrize("keys", ["int", "str", "categorical"])
def test_sliced_update(benchmark, data, keys):
    y_true, y_pred, ints, strings = data
    by = {"int": lambda: ints, "str": lambda: strings,
          "categorical": lambda: pytest.importorskip("pandas").Categorical(strings)}[keys]()
    sliced = streameval.Sliced(streameval.Multiclass(K))
    sliced.update(y_true, y_pred, by=by)  # every key found: the timed updates only count
    assert sliced.n_slices == S
    _mark(benchmark)
    benchmark(lambda: sliced.update(y_true, y_pred, by=by))
