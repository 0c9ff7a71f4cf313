"""Slices (issue 16): the cost of Sliced.update against the same update without slices.

    .venv/bin/python -m pytest benchmarks/test_bench_sliced.py --benchmark-only

Multiclass(10), batches of 1M int64 labels, 10,000 slices keyed by integers, by strings (an
object array, as a pandas column holds them) and by a pandas categorical; the plain Multiclass
update of the same batch is the baseline ("time vs base"). The keys are drawn uniformly, so each
sample lands in a random slice: the worst case for the caches. Every slice exists before timing
(an update that discovers keys also grows the state once).

A batch this large for the state is split over the idle cores (``streameval._slice_fused``, from
2**17 samples), as plain updates of small states are from 655,360 samples (``streameval._threads``):
as a user runs them, both take the two cores when they are idle. The ``threads`` fixture
(conftest.py) runs the plain update and the integer keys as a user gets them ("all cores"), split
in two whatever the load, and on one thread: compare like with like.
Each benchmark makes its first calls before timing: pytest-benchmark sizes its rounds by the
first call, and a cold first call would leave five rounds.
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


def test_plain_update(benchmark, data, threads):
    y_true, y_pred, _, _ = data
    acc = streameval.Multiclass(K)
    acc.update(y_true, y_pred)
    _mark(benchmark, threads=threads, **({"baseline": True} if threads == "all cores" else {}))
    benchmark(acc.update, y_true, y_pred)


@pytest.mark.parametrize("keys", ["str", "categorical"])
def test_sliced_update(benchmark, data, keys):
    y_true, y_pred, _, strings = data
    by = {"str": lambda: strings, "categorical": lambda: pytest.importorskip("pandas").Categorical(strings)}[keys]()
    _timed(benchmark, y_true, y_pred, by)


def test_sliced_update_int(benchmark, data, threads):
    y_true, y_pred, ints, _ = data
    _timed(benchmark, y_true, y_pred, ints, threads=threads)


def _timed(benchmark, y_true, y_pred, by, **extra):
    sliced = streameval.Sliced(streameval.Multiclass(K))
    sliced.update(y_true, y_pred, by=by)  # every key found: the timed updates only count
    sliced.update(y_true, y_pred, by=by)  # (and the counters of large batches made)
    assert sliced.n_slices == S
    _mark(benchmark, **extra)
    benchmark(lambda: sliced.update(y_true, y_pred, by=by))
