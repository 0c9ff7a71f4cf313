"""Memory of a long stream: 10**9 samples fed in chunks of 10**7 must not grow the process.

    .venv/bin/python -m pytest benchmarks/test_bench_memory.py --benchmark-only -s

An accumulator's state is a fixed-size table (K x K counts, or 2 x bins histograms), so feeding it
more data must not allocate more memory. Each test feeds 10**9 samples, 100 updates of 10**7,
into one accumulator, and samples the process's resident set size (RSS, from /proc/self/statm,
or the getrusage peak where /proc is missing) after the first chunk and after every 10th.

To keep it fast, each chunk is generated **once** and the same chunk is fed 100 times: memory
does not depend on the values, and generating 10**9 random samples would take far longer than
counting them. 10**9 samples take a few seconds for Multiclass and some 20 s for
Binary(bins=1024) on the 2-core box these were written on, so the full 10**9 is used.

This is a benchmark only for the way it is run (``pytest benchmarks/ --benchmark-only``): the
``benchmark`` fixture times the whole stream once (pedantic, rounds=1). Nothing is asserted about
time. The one assertion is about memory: after the first chunk (which may start numba's thread
pool), RSS may move by less than 5 MB. The RSS series goes into ``extra_info`` and is printed.
"""

from __future__ import annotations

import os
import resource
import sys

import numpy as np

import streameval

CHUNK = 10**7
CHUNKS = 100  # 10**9 samples
SAMPLE_EVERY = 10
MAX_GROWTH_MB = 5.0
GROUP = "memory: 1e9 stream, 1e7 chunks"


def rss_mb() -> float:
    """Current resident set size in MB (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            resident_pages = int(f.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def _stream(benchmark, acc, y_true, y_pred, label: str) -> None:
    acc.update(y_true[:8], y_pred[:8])  # compile, or load from numba's cache, before anything is measured
    acc.reset()
    series: list[tuple[int, float]] = []  # (chunks fed, RSS in MB)

    def feed():
        for i in range(1, CHUNKS + 1):
            acc.update(y_true, y_pred)  # the same chunk every time: see the module docstring
            if i == 1 or i % SAMPLE_EVERY == 0:
                series.append((i, rss_mb()))

    before = rss_mb()
    benchmark.group = GROUP
    benchmark.extra_info.update(role="streameval", samples=CHUNK * CHUNKS, unit="samples", chunk=CHUNK)
    benchmark.pedantic(feed, rounds=1, iterations=1, warmup_rounds=0)

    values = [mb for _, mb in series]
    growth = max(values) - min(values)
    benchmark.extra_info.update(
        rss_before_mb=round(before, 2),
        rss_first_chunk_delta_mb=round(values[0] - before, 2),
        rss_series_mb=[[i, round(mb, 2)] for i, mb in series],
        rss_growth_mb=round(growth, 3),
    )
    print(f"\n{label}: {CHUNK * CHUNKS:.0e} samples in {CHUNKS} chunks of {CHUNK:.0e}")
    print(f"  RSS before the stream (inputs allocated): {before:.1f} MB; the first chunk adds {values[0] - before:.1f} MB")
    print("  RSS after chunk: " + ", ".join(f"{i}: {mb:.1f}" for i, mb in series) + " MB")
    print(f"  max - min after the first chunk: {growth:.3f} MB (limit {MAX_GROWTH_MB} MB)")

    assert acc.n_samples == CHUNK * CHUNKS
    assert growth < MAX_GROWTH_MB, f"RSS grew by {growth:.2f} MB over the stream: {series}"


def test_memory_multiclass_k10(benchmark):
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 10, CHUNK, dtype=np.int64)
    y_pred = np.where(rng.random(CHUNK) < 0.7, y_true, rng.integers(0, 10, CHUNK, dtype=np.int64))
    acc = streameval.Multiclass(10)
    _stream(benchmark, acc, y_true, y_pred, "Multiclass(10), int64 labels")
    assert int(acc.confusion_matrix().sum()) == CHUNK * CHUNKS


def test_memory_binary_bins1024(benchmark):
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 2, CHUNK, dtype=np.int64)
    scores = np.clip(0.3 + 0.4 * y_true + rng.normal(0, 0.2, CHUNK), 0, 1).astype(np.float32)
    acc = streameval.Binary(bins=1024)
    _stream(benchmark, acc, y_true, scores, "Binary(bins=1024), float32 scores")
