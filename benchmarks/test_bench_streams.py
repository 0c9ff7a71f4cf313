"""Streams over time (issue 5): the cost of windows, decay, bootstrap replicates and intervals.

    .venv/bin/python -m pytest benchmarks/test_bench_streams.py --benchmark-only

Small batches (256 int64 labels, K = 10), as a training loop or a monitored stream sends them; the
plain Multiclass update is the baseline each wrapper is compared with: the summary's "time vs
base" column gives the cost of each update in plain updates (issue 14's targets: Windowed and
Decayed at most 2x, ``bootstrap=200`` at most 60 us). Small batches never use threads; the
process runs as it is (one core is busy).
"""

from __future__ import annotations

import numpy as np
import pytest

import streameval

N, K = 256, 10


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, K, N), rng.integers(0, K, N)


def _mark(benchmark, group, samples=N, unit="samples", **extra):
    benchmark.group = group
    benchmark.extra_info.update(role="streameval", samples=samples, unit=unit, **extra)


UPDATES = {
    "plain Multiclass": lambda: streameval.Multiclass(K),
    "Windowed(100 x 256 samples, 10 buckets)": lambda: streameval.Windowed(streameval.Multiclass(K), 100 * N, buckets=10),
    "Windowed(20 x 128 samples: every batch spans buckets)":
        lambda: streameval.Windowed(streameval.Multiclass(K), 20 * 128, buckets=20),
    "Windowed(10 updates, 5 buckets)": lambda: streameval.Windowed(streameval.Multiclass(K), 10, unit="updates",
                                                                   buckets=5),
    "Decayed(half_life=10000 samples)": lambda: streameval.Decayed(streameval.Multiclass(K), 10_000),
    "Decayed(half_life=10 updates)": lambda: streameval.Decayed(streameval.Multiclass(K), 10, unit="updates"),
    "Multiclass(bootstrap=200)": lambda: streameval.Multiclass(K, bootstrap=200, seed=0),
}


@pytest.mark.parametrize("kind", UPDATES)
def test_update(benchmark, batch, kind):
    acc = UPDATES[kind]()
    acc.update(*batch)
    # the plain update is the baseline: the summary's "time vs base" column gives each wrapper's cost
    _mark(benchmark, "streams: update of 256 samples, K=10", baseline=kind == "plain Multiclass")
    benchmark(acc.update, *batch)


@pytest.mark.parametrize("metric, method", [("accuracy", "wilson"), ("accuracy", "clopper-pearson"),
                                            ("f1", "bootstrap"), ("matthews_corrcoef", "bootstrap")])
def test_interval(benchmark, batch, metric, method):
    acc = streameval.Multiclass(K, bootstrap=200, seed=0)
    for _ in range(20):
        acc.update(*batch)
    _mark(benchmark, "streams: interval, R=200", samples=1, unit="calls")
    benchmark(acc.interval, metric, method=method)
