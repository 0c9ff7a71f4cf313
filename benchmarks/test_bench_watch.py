"""streameval watch's throughput (issue 16): 300,000 two-field JSON lines, against a plain
``json.loads`` loop over the same file.

    .venv/bin/python -m pytest benchmarks/test_bench_watch.py --benchmark-only

Target: watch at least half the rate of the plain loop (``extra_info["rate_vs_plain_loop"]`` >= 0.5),
with and without ``--time`` and ``--group-by`` (15 slices, a window per slice). watch runs in-process (``watch.main``), stdin the file and stdout a
null sink: the reader thread, the bulk parsing, the window updates and the final report. Each
watch benchmark also times the plain loop in alternating rounds (steadier under a changing load)
and records both medians and their ratio.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time

import numpy as np
import pytest

from streameval import watch

N = 300_000
COUNTRIES = ["FR", "DE", "US", "JP", "BR", "IN", "NG", "CA", "MX", "ES", "IT", "KR", "AU", "SE", "PL"]  # 15 slices


@pytest.fixture(scope="module")
def stream_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, N), rng.integers(0, 2, N)
    t = 1_700_000_000 + np.arange(N) * 0.01  # 100 lines a second, in order
    path = tmp_path_factory.mktemp("watch") / "stream.jsonl"
    with open(path, "w") as f:
        for a, b, ts in zip(y.tolist(), p.tolist(), t.tolist()):
            country = COUNTRIES[a * 7 + b * 3 + int(ts) % 5]
            f.write(json.dumps({"y_true": a, "y_pred": b, "ts": round(ts, 2), "country": country}) + "\n")
    return str(path)


def plain_loop(path: str) -> int:
    n = 0
    with open(path, "rb") as f:
        for line in f:
            json.loads(line)
            n += 1
    return n


def run_watch(path: str, argv: list[str]) -> None:
    stdin, stdout = sys.stdin, sys.stdout
    with open(path, "rb") as f, open(os.devnull, "w") as sink:
        sys.stdin, sys.stdout = io.TextIOWrapper(f), sink
        try:
            assert watch.main(argv) == 0
        finally:
            sys.stdin, sys.stdout = stdin, stdout


TIME = ["--time", "ts", "--unit", "seconds", "--window", "600", "--buckets", "10"]
GROUP = ["--group-by", "country"]
CASES = {"watch": [], "watch --time": TIME, "watch --group-by": GROUP, "watch --time --group-by": TIME + GROUP}


def _mark(benchmark, **extra):
    benchmark.group = f"watch: {N:,} two-field JSON lines"
    benchmark.extra_info.update(samples=N, unit="samples", **extra)


def test_plain_json_loads_loop(benchmark, stream_file):
    _mark(benchmark, role="numpy", reference=False, baseline=True)
    assert benchmark.pedantic(plain_loop, args=(stream_file,), rounds=3, iterations=1) == N


@pytest.mark.parametrize("case", CASES)
def test_watch(benchmark, stream_file, case):
    argv = ["--pos-label", "1", "--format", "json", "--interval", "3600", *CASES[case]]
    run_watch(stream_file, argv)  # warm: numba caches loaded
    loop_times, watch_times = [], []

    def paired():
        start = time.perf_counter()
        plain_loop(stream_file)
        loop_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_watch(stream_file, argv)
        watch_times.append(time.perf_counter() - start)

    for _ in range(3):
        paired()
    _mark(benchmark, role="streameval")
    benchmark.pedantic(run_watch, args=(stream_file, argv), rounds=3, iterations=1)
    loop, ours = statistics.median(loop_times), statistics.median(watch_times)
    benchmark.extra_info.update(plain_loop_s=loop, watch_s=ours, lines_per_s=N / ours,
                                rate_vs_plain_loop=loop / ours)
