"""Per-event times (issue 16): a Windowed update whose samples carry their own times.

    .venv/bin/python -m pytest benchmarks/test_bench_event_times.py --benchmark-only

``Windowed(Multiclass(10), 3600, unit="seconds", buckets=60)``, one update of 100,000 events
(int64 labels) on a fresh window (set up outside the timing, so every round counts the same):

- with one timestamp for the batch: the baseline (one bucket, the ordinary kernel);
- with per-event times spread over 2 hours (uniform): the window moves to the latest time, the
  60 buckets of the last hour are counted in one kernel call with a slot per sample, and the
  older half, which leaves the ring within the batch, is checked and not counted;
- with per-event times spread over the hour the window holds (every sample counted).

The summary's "time vs base" column gives each per-event update's cost in one-timestamp updates.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import streameval

N, K = 100_000, 10


@pytest.fixture(scope="module")
def events():
    rng = np.random.default_rng(0)
    now = time.time()
    return (rng.integers(0, K, N), rng.integers(0, K, N), now - rng.uniform(0, 7200, N), now - rng.uniform(0, 3600, N),
            now)


TIMES = {"one timestamp": 4, "per-event, spread over 2 hours": 2, "per-event, spread over 1 hour": 3}


@pytest.mark.parametrize("kind", TIMES)
def test_windowed_event_times(benchmark, events, kind):
    y_true, y_pred = events[0], events[1]
    timestamp = events[TIMES[kind]]

    def fresh():
        return (streameval.Windowed(streameval.Multiclass(K), 3600, unit="seconds", buckets=60),), {}

    def update(window):
        window.update(y_true, y_pred, timestamp=timestamp)

    benchmark.group = "event times: Windowed(Multiclass(10), 3600 s, 60 buckets), 100k events"
    benchmark.extra_info.update(role="streameval", samples=N, unit="samples", baseline=kind == "one timestamp")
    benchmark.pedantic(update, setup=fresh, rounds=30, iterations=1, warmup_rounds=2)
