"""Evaluate a Parquet dataset of N rows (default 100M) in one process and on Dask with 2 workers.

    .venv/bin/python benchmarks/bench_parquet_100m.py [--rows 100000000] [--dir DIR] [--repeat 3]

A standalone script (pytest does not collect it). It needs the dask extra (dask, distributed,
pyarrow, pandas).

1. Data: written once, then reused from ``--dir`` (default: a directory named after the
   row count under the system's temporary directory): ``--files`` Parquet files of
   ``y_true`` and ``y_pred``, int8 class labels in 0..K-1 (K = ``--classes``), y_pred 70%
   correct and uniform otherwise, seeded; row groups of ``--row-group`` rows, snappy.
2. One process: pyarrow reads each file's row groups in batches (``iter_batches``, with
   pyarrow's own decoding threads) and feeds one ``Multiclass(K)``.
3. Dask: ``streameval.dask.evaluate(dd.read_parquet(DIR), ...)`` on a ``LocalCluster`` of
   ``--workers`` worker processes with one thread each. The cluster is started, and each
   worker has imported pandas, pyarrow and dask and loaded streameval's compiled kernels,
   before the clock starts; the start-up time is printed on its own.

Both timings include reading the files (from the page cache after the first run) and exclude
numba compilation (each process counts a tiny batch first). Each is run ``--repeat`` times;
the median is reported, with the fastest and slowest. The script checks that both results are
equal (``==``: identical integer counts) and prints rows per second and the ratio.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def write_dataset(directory: Path, rows: int, files: int, row_group: int, classes: int) -> None:
    """The Parquet files, unless a complete set is already there (marked by a _COMPLETE file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    marker = directory / "_COMPLETE"
    expected = f"rows={rows} files={files} row_group={row_group} classes={classes}"
    if marker.exists() and marker.read_text() == expected:
        print(f"data: reusing {directory} ({expected})")
        return
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.parquet"):
        old.unlink()
    start = time.perf_counter()
    schema = pa.schema([("y_true", pa.int8()), ("y_pred", pa.int8())])
    bounds = np.linspace(0, rows, files + 1).astype(np.int64)
    for i in range(files):
        rng = np.random.default_rng([12345, i])
        with pq.ParquetWriter(directory / f"part-{i:03d}.parquet", schema, compression="snappy") as writer:
            for lo in range(int(bounds[i]), int(bounds[i + 1]), row_group):
                n = min(row_group, int(bounds[i + 1]) - lo)
                y_true = rng.integers(0, classes, n, dtype=np.int8)
                wrong = rng.random(n) >= 0.7
                y_pred = np.where(wrong, rng.integers(0, classes, n, dtype=np.int8), y_true)
                writer.write_table(pa.table({"y_true": y_true, "y_pred": y_pred}, schema=schema))
    marker.write_text(expected)
    size = sum(p.stat().st_size for p in directory.glob("*.parquet"))
    print(f"data: wrote {rows:,} rows in {files} files ({size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s")


def warm_up() -> None:
    """Load (or compile) the kernel for int8 labels, so that no timing includes numba's compiler."""
    import streameval

    streameval.Multiclass(3).update(np.zeros(4, np.int8), np.ones(4, np.int8))


def warm_up_worker() -> None:
    """A worker's warm-up: the kernels, and the modules a first task would otherwise import."""
    import dask.dataframe  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import streameval.dask  # noqa: F401

    warm_up()


def one_process(directory: Path, classes: int, batch_rows: int):
    import pyarrow.parquet as pq

    import streameval

    acc = streameval.Multiclass(classes)
    for path in sorted(directory.glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=["y_true", "y_pred"]):
            acc.update(batch.column(0).to_numpy(), batch.column(1).to_numpy())
    return acc


def on_dask(directory: Path, classes: int):
    import dask.dataframe as dd

    import streameval
    from streameval.dask import evaluate

    frame = dd.read_parquet(str(directory), columns=["y_true", "y_pred"])
    return evaluate(frame, y_true="y_true", y_pred="y_pred", accumulator=streameval.Multiclass(classes))


def timed(label: str, function, repeat: int):
    """(result, median seconds): run function repeat times; every run must give the same result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = function()
        times.append(time.perf_counter() - start)
        assert result is None or out == result, f"{label}: runs disagree"
        result = out
    print(f"{label}: median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}, {repeat} runs)")
    return result, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="where the dataset is written once and reused")
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--row-group", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.gettempdir()) / f"streameval-bench-parquet-{args.rows}"

    write_dataset(directory, args.rows, args.files, args.row_group, args.classes)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before timing")
    warm_up()
    single, single_s = timed("one process (pyarrow batches)", lambda: one_process(directory, args.classes, args.row_group),
                             args.repeat)

    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.run(warm_up_worker)
        print(f"dask: LocalCluster of {args.workers} worker processes ready in {time.perf_counter() - start:.1f} s "
              "(not timed below)")
        import dask.dataframe as dd

        partitions = dd.read_parquet(str(directory), columns=["y_true", "y_pred"]).npartitions
        print(f"dask: {partitions} partitions")
        distributed, dask_s = timed(f"dask, {args.workers} workers (evaluate)", lambda: on_dask(directory, args.classes),
                                    args.repeat)

    assert distributed == single, "the Dask result differs from the one-process result"
    assert single.n_samples == args.rows
    print(f"results equal: {single.n_samples:,} rows, accuracy {single.accuracy():.6f}")
    print(f"one process: {args.rows / single_s / 1e6:.0f}M rows/s; dask: {args.rows / dask_s / 1e6:.0f}M rows/s; "
          f"dask / one process: {single_s / dask_s:.2f}x")


if __name__ == "__main__":  # the guard matters: Dask's worker processes import the main module
    main()
