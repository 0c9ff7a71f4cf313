"""Peak memory (RSS) of ``streameval evaluate`` as files grow: it must stay flat.

    .venv/bin/python benchmarks/bench_cli_memory.py [--rows 2e6 2e7 6e7] [--formats parquet csv arrow jsonl] [--dir DIR]

A standalone script (pytest does not collect it). For each format and row count it writes a file
once (kept in ``--dir``, default a directory under the system's temporary directory) of
``y_true`` (int64 0/1), ``score`` (float64) and ``animal`` (three short strings), then runs, each
in a fresh process, ``streameval evaluate FILE --y-true y_true --score score --bins 100`` (score
columns) and ``streameval evaluate FILE --y-true animal --y-pred animal`` (string labels), and
prints the child's peak resident set size (``ru_maxrss`` from ``os.wait4``) beside the file's size.

Parquet files are written in row groups of ``--row-group`` rows (default: one row group for the
whole file, the hardest case for a reader that buffers whole column chunks). The figures are in
the report of issue 11; memory should not depend on the number of rows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EXT = {"parquet": "parquet", "csv": "csv", "arrow": "arrow", "jsonl": "jsonl"}
CHUNK = 1_000_000


def write(path: Path, fmt: str, rows: int, row_group: int | None) -> None:
    """The file, unless it is already there (marked by a .done file beside it)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    done = path.with_suffix(path.suffix + ".done")
    if done.exists():
        return
    names = np.array(["cat", "dog", "owl"])
    schema = pa.schema([("y_true", pa.int64()), ("score", pa.float64()), ("animal", pa.string())])

    def chunks():
        rng = np.random.default_rng(rows)
        for lo in range(0, rows, CHUNK):
            n = min(CHUNK, rows - lo)
            y = rng.integers(0, 2, n)
            yield pa.table({"y_true": y, "score": np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1),
                            "animal": names[rng.integers(0, 3, n)]}, schema=schema)

    if fmt == "parquet":
        # one write_table call per file: row_group_size decides the row groups
        table = pa.concat_tables(chunks()) if row_group is None else None
        if table is not None:
            pq.write_table(table, path, row_group_size=rows)
        else:
            with pq.ParquetWriter(path, schema) as writer:
                for t in chunks():
                    writer.write_table(t, row_group_size=row_group)
    elif fmt == "arrow":
        with pa.ipc.new_file(path, schema) as writer:
            for t in chunks():
                writer.write_table(t, max_chunksize=CHUNK)
    elif fmt == "csv":
        with pacsv.CSVWriter(path, schema) as writer:
            for t in chunks():
                writer.write_table(t)
    else:
        import json

        with open(path, "w") as f:
            for t in chunks():
                d = t.to_pydict()
                f.writelines(json.dumps({"y_true": a, "score": b, "animal": c}) + "\n"
                             for a, b, c in zip(d["y_true"], d["score"], d["animal"]))
    done.write_text("ok")


def peak_rss_mb(args: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit code) of ``python -m streameval ...args`` in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streameval", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    if proc.returncode != 0:
        print(f"    exit {proc.returncode}: {err.strip()[-300:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="+", type=float, default=[2e6, 2e7, 6e7])
    parser.add_argument("--formats", nargs="+", choices=list(EXT), default=["parquet", "arrow", "csv"])
    parser.add_argument("--row-group", type=int, default=None, help="Parquet rows per row group (default: one)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "streameval-cli-memory")
    a = parser.parse_args()
    a.dir.mkdir(parents=True, exist_ok=True)
    print(f"{'format':8} {'rows':>12} {'file MB':>9}  {'scores: RSS MB':>15} {'s':>6}  "
          f"{'strings: RSS MB':>16} {'s':>6}")
    for fmt in a.formats:
        for rows in map(int, a.rows):
            path = a.dir / f"{rows}-{a.row_group or 'one'}.{EXT[fmt]}"
            write(path, fmt, rows, a.row_group)
            scores = peak_rss_mb(["evaluate", str(path), "--y-true", "y_true", "--score", "score", "--bins", "100"])
            labels = peak_rss_mb(["evaluate", str(path), "--y-true", "animal", "--y-pred", "animal"])
            print(f"{fmt:8} {rows:>12,} {path.stat().st_size / 1e6:>9.0f}  {scores[0]:>15.0f} {scores[1]:>6.1f}"
                  f"  {labels[0]:>16.0f} {labels[1]:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
