"""Hostile files and streams for ``streameval evaluate`` and ``streameval watch`` (issue 11).

The commands run as subprocesses on files written here (or, for the many usage errors and the
property test, through ``streameval.cli.main`` in this process). Numbers are checked against
scikit-learn on the same data read by pandas or rebuilt in Python; errors against their exit code
and one-line message. Memory cases run under an address-space cap (tests/memlimit.py): the child
first runs the same command on a tiny file, so that pyarrow, its thread pools and the kernels are
mapped, then lowers its cap to what it maps plus a budget, and runs the real case. pyarrow is told
to allocate with malloc and malloc to keep one arena, so that what the case allocates is what the
cap sees (pyarrow's own allocators reserve address space ahead and would hide it).
"""

import io
import json
import math
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from memlimit import run_limited
from sklearn import metrics as skm

import streameval
from streameval import cli, limits, watch

pa = pytest.importorskip("pyarrow")
import pyarrow.feather as feather  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRACE = re.compile(r"Traceback|\.py:\d+|np\.float64|np\.int64")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(*args, stdin=b"", timeout=120):
    """``python -m streameval ...``: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "streameval", *map(str, args)], input=stdin, capture_output=True,
                          timeout=timeout, env=_env())
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def one_error_line(code, err, expected_code=1):
    """The error is one line, with the expected exit code, no traceback and no numpy repr."""
    assert code == expected_code, err
    assert not TRACE.search(err), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 if expected_code == 1 else lines[0].startswith("usage:"), err
    return lines[-1]


def write(df: pd.DataFrame, path, fmt: str):
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    elif fmt == "feather":
        df.reset_index(drop=True).to_feather(path)
    else:
        df.to_json(path, orient="records", lines=True)


def assert_report(got: dict, expected: dict) -> None:
    """A classification report dict equal to scikit-learn's (floats to rounding)."""
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key] == (pytest.approx(value) if isinstance(value, float) else {k: pytest.approx(v) for k, v in value.items()}), key


def json_out(*args):
    code, out, err = run(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out), err


# --- 1. labels written as floats are those integers, in every reader -----------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "feather", "jsonl"])
def test_float_typed_labels_are_integers(tmp_path, fmt):
    rng = np.random.default_rng(1)
    n = 3000
    y_true = rng.integers(1, 4, n).astype(float)
    y_pred = np.where(rng.random(n) < 0.8, y_true, rng.integers(1, 4, n)).astype(int)
    y_true[[5, 77]] = np.nan  # pandas then writes the column as floats: 1.0, 2.0, and "" / null
    df = pd.DataFrame({"y_true": y_true, "y_pred": y_pred})
    path = tmp_path / f"p.{fmt}"
    write(df, path, fmt)
    data, err = json_out("evaluate", path, "--y-true", "y_true", "--y-pred", "y_pred", "--on-bad-row", "skip")
    ok = ~np.isnan(y_true)
    yt, yp = y_true[ok].astype(int), y_pred[ok]
    assert "skipped 2 bad rows" in err
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(yt, yp)) and data["accuracy"] > 0.5
    assert_report(data["report"], skm.classification_report(yt, yp, output_dict=True))
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--y-pred", "y_pred", "--on-bad-row", "skip")
    assert out.startswith(skm.classification_report(yt, yp))


def test_label_kind_is_decided_per_value_not_by_the_first_chunk(tmp_path):
    """y_true written 1, 2 in the first chunks and 1.0, 2.0 later, y_pred the other way round, the
    text "3" and the number 3 in JSON Lines: the same integer labels throughout."""
    rng = np.random.default_rng(2)
    n = 150_000  # several 1 MiB CSV blocks
    y_true = rng.integers(0, 3, n)
    y_pred = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, 3, n))
    early = np.arange(n) < 100_000
    with open(tmp_path / "mixed.csv", "w") as f:
        f.write("y_true,y_pred\n")
        f.writelines(f"{a},{float(b)}\n" if e else f"{float(a)},{b}\n" for a, b, e in zip(y_true, y_pred, early))
    expected = skm.classification_report(y_true, y_pred, output_dict=True)
    data, _ = json_out("evaluate", tmp_path / "mixed.csv", "--y-true", "y_true", "--y-pred", "y_pred")
    assert_report(data["report"], expected)
    with open(tmp_path / "mixed.jsonl", "w") as f:
        for i, (a, b) in enumerate(zip(y_true[:5000], y_pred[:5000])):
            f.write(json.dumps({"y_true": str(a) if i % 3 == 0 else int(a), "y_pred": float(b) if i % 2 else int(b)}) + "\n")
    data, _ = json_out("evaluate", tmp_path / "mixed.jsonl", "--y-true", "y_true", "--y-pred", "y_pred")
    assert_report(data["report"], skm.classification_report(y_true[:5000], y_pred[:5000], output_dict=True))


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.sampled_from(["{}", "{}.0", " {} ", "{}e0", "+{}"]),
                          st.sampled_from(["{}", "{}.00", "{}"])), min_size=1, max_size=40))
def test_integer_text_in_any_spelling_is_the_integer(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("spell") / "p.csv"
    with open(path, "w") as f:
        f.write("t,p\n")
        f.writelines(f'"{st_.format(a)}",{sp.format(b)}\n' for a, b, st_, sp in rows)
    out = io.StringIO()
    code, text = _in_process(["evaluate", str(path), "--y-true", "t", "--y-pred", "p", "--format", "json"], out)
    assert code == 0, text
    data = json.loads(out.getvalue())
    yt, yp = [a for a, *_ in rows], [b for _, b, *_ in rows]
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(yt, yp))
    assert list(data["report"])[:-3] == [str(v) for v in sorted(set(yt) | set(yp))]


def _in_process(argv, out):
    """cli.main(argv) with stdout into out; (exit code, stderr text)."""
    err = io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    finally:
        sys.stdout, sys.stderr = old
    return code, err.getvalue()


def test_labels_that_are_not_integers_are_bad_rows(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"y": [1.0, 2.0, 0.5, 2.0], "p": [1, 2, 1, 2]}).to_parquet(path)
    line = one_error_line(*run("evaluate", path, "--y-true", "y", "--y-pred", "p")[::2])
    assert line.endswith("p.parquet: row 3: column 'y': 0.5 is not a label: a number label must be an integer")
    data, err = json_out("evaluate", path, "--y-true", "y", "--y-pred", "p", "--on-bad-row", "skip")
    assert data["rows"] == 3 and data["accuracy"] == 1.0


def test_labels_option_reads_text_as_evaluate_reads_values(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"y": ["0", "x", "0.0", "x"], "p": [0, "x", "x", 0]}).to_csv(path, index=False)
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--labels", "0", "x")
    assert code == 0 and "invalid literal" not in err, err
    assert out.startswith(skm.classification_report([0, "x", 0, "x"], [0, "x", "x", 0], labels=[0, "x"]))
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--labels", "0", "0.0")
    assert "given twice" in one_error_line(code, err, 2)
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--labels", "0", "0.5")
    assert "0.5 is not a label" in one_error_line(code, err, 2)


# --- 2. memory: bounded whatever the file holds --------------------------------------------------------

CAPPED = r"""
import io, json, resource, sys
from streameval import cli, watch

job = json.loads(sys.argv[-1])

def vmsize():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

def command(argv, stdin):
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(open(stdin, "rb"))
    return (watch.main if argv[0] == "watch" else cli.main)(argv[1:] if argv[0] == "watch" else argv)

command(job["warmup"], job.get("warmup_stdin"))  # maps pyarrow, its threads and the kernels
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (vmsize() + job["budget"], hard))
print("=" * 20, flush=True)
print("=" * 20, file=sys.stderr, flush=True)
print("exit", command(job["argv"], job.get("stdin")), flush=True)
"""


def capped(monkeypatch, budget, argv, warmup, stdin=None, warmup_stdin=None):
    """Run argv (a cli or watch command) with at most budget bytes more than its warm-up mapped;
    (exit code of the command or None, stdout, stderr) of the capped part."""
    monkeypatch.setenv("MALLOC_ARENA_MAX", "1")
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    job = {"argv": list(map(str, argv)), "warmup": list(map(str, warmup)), "budget": int(budget),
           "stdin": None if stdin is None else str(stdin), "warmup_stdin": None if warmup_stdin is None else str(warmup_stdin)}
    done = run_limited(CAPPED, 4 << 30, timeout=300, args=(json.dumps(job),))
    out = done.stdout.split("=" * 20 + "\n", 1)[-1]
    err = done.stderr.split("=" * 20 + "\n", 1)[-1]
    found = re.search(r"^exit (\d+)$", out, re.M)
    return (int(found[1]) if found else None), out, err


def test_csv_with_a_long_label_memory(tmp_path, monkeypatch):
    """The issue's 471 KB CSV with one 3,000-character label took 2.9 GB (fixed-width strings)."""
    rng = np.random.default_rng(3)
    n = 60_000
    names = np.array(["cat", "dog", "owl"])
    y, p = names[rng.integers(0, 3, n)].astype(object), names[rng.integers(0, 3, n)].astype(object)
    y[n // 2] = "x" * 3000
    pd.DataFrame({"y": y, "p": p}).to_csv(tmp_path / "long.csv", index=False)
    pd.DataFrame({"y": ["cat", "dog"], "p": ["dog", "dog"]}).to_csv(tmp_path / "tiny.csv", index=False)
    args = ["--y-true", "y", "--y-pred", "p"]
    code, out, err = capped(monkeypatch, 100 << 20, ["evaluate", tmp_path / "long.csv", *args],
                            ["evaluate", tmp_path / "tiny.csv", *args])
    assert code == 1, err
    assert err.strip() == (f"streameval evaluate: error: long.csv: row {n // 2 + 1}: column 'y': a label of 3,000 "
                           f"characters is longer than --max-label-length {limits.MAX_LABEL_LENGTH:,}")
    code, out, err = capped(monkeypatch, 100 << 20, ["evaluate", tmp_path / "long.csv", *args,
                                                     "--max-label-length", "4000", "--format", "json"],
                            ["evaluate", tmp_path / "tiny.csv", *args])
    assert code == 0, err
    assert json.loads(out[: out.rindex("exit")])["accuracy"] == pytest.approx(skm.accuracy_score(list(y), list(p)))


def test_parquet_long_text_labels_memory(tmp_path, monkeypatch):
    """150,000 rows of three 1,000-character labels: a 100 KB file, 1.2 GB as fixed-width strings."""
    rng = np.random.default_rng(4)
    n = 150_000
    names = np.array(["a" * 1000, "b" * 1000, "c" * 1000])
    y, p = names[rng.integers(0, 3, n)], names[rng.integers(0, 3, n)]
    pq.write_table(pa.table({"y": y, "p": p}), tmp_path / "long.parquet")
    pq.write_table(pa.table({"y": ["a", "b"], "p": ["b", "b"]}), tmp_path / "tiny.parquet")
    args = ["--y-true", "y", "--y-pred", "p", "--format", "json"]
    code, out, err = capped(monkeypatch, 100 << 20, ["evaluate", tmp_path / "long.parquet", *args],
                            ["evaluate", tmp_path / "tiny.parquet", *args])
    assert code == 0, err
    data = json.loads(out[: out.rindex("exit")])
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert data["metrics"]["f1_macro"] == pytest.approx(skm.f1_score(y, p, average="macro"))


def test_parquet_whose_labels_decompress_to_gigabytes(tmp_path, monkeypatch):
    """Kilobytes of compressed repeats of a long label. Dictionary-encoded (pandas' default), the
    label is read once and refused; plain-encoded, the file's metadata says what the column decodes
    to and it is refused before any page is read. Fixed-width strings took 4 bytes x rows x length."""
    n, size = 600, 1 << 20
    labels = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array(["a" * size]))
    pq.write_table(pa.table({"y": labels, "p": pa.array(["a"] * n)}), tmp_path / "dict.parquet", compression="zstd")
    pq.write_table(pa.table({"y": pa.array(["a" * size] * 100), "p": pa.array(["a"] * 100)}), tmp_path / "plain.parquet",
                   compression="zstd", use_dictionary=False)
    pq.write_table(pa.table({"y": ["a", "b"], "p": ["b", "b"]}), tmp_path / "tiny.parquet")
    for name in ("dict.parquet", "plain.parquet"):
        assert (tmp_path / name).stat().st_size < 200_000
    args = ["--y-true", "y", "--y-pred", "p"]
    warmup = ["evaluate", tmp_path / "tiny.parquet", *args]
    code, out, err = capped(monkeypatch, 100 << 20, ["evaluate", tmp_path / "dict.parquet", *args, "--on-bad-row", "skip"],
                            warmup)
    assert (code, err) == (1, "streameval evaluate: error: no rows to evaluate: all 600 rows were bad\n")
    code, out, err = capped(monkeypatch, 100 << 20, ["evaluate", tmp_path / "dict.parquet", *args], warmup)
    assert (code, err) == (1, "streameval evaluate: error: dict.parquet: row 1: column 'y': a label of 1,048,576 "
                              "characters is longer than --max-label-length 1,024\n")
    code, out, err = capped(monkeypatch, 100 << 20, ["evaluate", tmp_path / "plain.parquet", *args], warmup)
    assert code == 1 and re.fullmatch(r"streameval evaluate: error: plain.parquet: column 'y' decodes to [\d,]+ bytes "
                                      r"for 100 rows \(row group 0\): labels longer than --max-label-length 1,024\n", err), err


def test_parquet_scores_are_read_without_prebuffering_row_groups(tmp_path, monkeypatch):
    """20M rows in one row group (160 MB of scores): pre-buffering holds whole column chunks."""
    rng = np.random.default_rng(5)
    n = 20_000_000
    y = rng.integers(0, 2, n, dtype=np.int8)
    s = rng.random(n)
    pq.write_table(pa.table({"y": y, "s": s}), tmp_path / "big.parquet", row_group_size=n)
    pq.write_table(pa.table({"y": y[:100], "s": s[:100]}), tmp_path / "tiny.parquet")
    args = ["--y-true", "y", "--score", "s", "--bins", "10", "--format", "json"]
    code, out, err = capped(monkeypatch, 64 << 20, ["evaluate", tmp_path / "big.parquet", *args],
                            ["evaluate", tmp_path / "tiny.parquet", *args])
    assert code == 0, err
    assert json.loads(out[: out.rindex("exit")])["accuracy"] == pytest.approx(np.mean((s >= 0.5) == y))


def _long_line_file(path, before: list, long_bytes: int, after: list):
    with open(path, "wb") as f:
        f.writelines((json.dumps(r) + "\n").encode() for r in before)
        f.write(b'{"y_true": 1, "y_pred": "')
        for _ in range(long_bytes >> 20):
            f.write(b"x" * (1 << 20))
        f.write(b'"}\n')
        f.writelines((json.dumps(r) + "\n").encode() for r in after)


def test_jsonl_long_line_memory(tmp_path, monkeypatch):
    rng = np.random.default_rng(6)
    rows = [{"y_true": int(a), "y_pred": int(b)} for a, b in rng.integers(0, 2, (300, 2))]
    _long_line_file(tmp_path / "long.jsonl", rows[:100], 200 << 20, rows[100:])
    (tmp_path / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:5]))
    args = ["--y-true", "y_true", "--y-pred", "y_pred"]
    code, out, err = capped(monkeypatch, 100 << 20, ["evaluate", tmp_path / "long.jsonl", *args],
                            ["evaluate", tmp_path / "tiny.jsonl", *args])
    assert code == 1 and err.strip().endswith(
        f"long.jsonl: row 101: the line is longer than --max-line-bytes {limits.MAX_LINE_BYTES:,}"), err
    code, out, err = capped(monkeypatch, 100 << 20, ["evaluate", tmp_path / "long.jsonl", *args, "--on-bad-row", "skip",
                                                     "--format", "json"], ["evaluate", tmp_path / "tiny.jsonl", *args])
    assert code == 0, err
    data = json.loads(out[: out.rindex("exit")])
    assert data["skipped_rows"] == 1
    assert data["accuracy"] == pytest.approx(skm.accuracy_score([r["y_true"] for r in rows], [r["y_pred"] for r in rows]))


def test_watch_long_line_memory(tmp_path, monkeypatch):
    """The issue's 300 MB line took 1.1 GB; it is now read past in pieces and counted "too_long"."""
    rows = [{"y_true": i % 2, "y_pred": (i // 2) % 2} for i in range(40)]
    _long_line_file(tmp_path / "long.jsonl", rows[:20], 300 << 20, rows[20:])
    (tmp_path / "tiny.jsonl").write_text(json.dumps(rows[0]) + "\n")
    args = ["watch", "--pos-label", "1", "--format", "json", "--interval", "60"]
    code, out, err = capped(monkeypatch, 100 << 20, args, args, stdin=tmp_path / "long.jsonl",
                            warmup_stdin=tmp_path / "tiny.jsonl")
    assert code == 0, err
    last = json.loads(out.strip().splitlines()[-2])
    assert last["malformed"] == {"too_long": 1} and last["lines"] == 41 and last["n_samples"] == 40
    assert last["accuracy"] == pytest.approx(skm.accuracy_score([r["y_true"] for r in rows], [r["y_pred"] for r in rows]))


def test_max_labels_bounds_discovered_labels(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"y": [f"c{i}" for i in range(12)], "p": ["c0"] * 12}).to_csv(path, index=False)
    line = one_error_line(*run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--max-labels", "10")[::2])
    assert line.endswith("p.csv: rows 1-12: these rows bring the distinct labels to 12, more than --max-labels 10: "
                         "give a larger --max-labels if they are all classes (the counts take labels**2 cells)")
    data, _ = json_out("evaluate", path, "--y-true", "y", "--y-pred", "p", "--max-labels", "12")
    assert data["rows"] == 12
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--max-labels", "0")
    one_error_line(code, err, 2)


# --- 3. watch: bounded queue, bounded lines --------------------------------------------------------------


# The reader's back-pressure (it waits while the queue of batches is full, and reads a bounded
# number of bytes ahead) is tested on the batch reader: tests/test_watch_batches.py.


def test_watch_builds_a_bounded_queue(monkeypatch):
    made = []

    class Recorded(queue.Queue):
        def __init__(self, maxsize=0):
            made.append(maxsize)
            super().__init__(maxsize)

    monkeypatch.setattr(watch.queue, "Queue", Recorded)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"y_true": 1, "y_pred": 1}\n')))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert watch.main(["--pos-label", "1", "--format", "json", "--interval", "60"]) == 0
    assert made and all(0 < size <= 1000 for size in made)
    assert json.loads(out.getvalue().splitlines()[-1])["n_samples"] == 1


def watch_proc(args, text: bytes, timeout=60):
    proc = subprocess.run([sys.executable, "-m", "streameval", "watch", *map(str, args)], input=text,
                          capture_output=True, timeout=timeout, env=_env())
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_watch_overlong_nested_and_huge_values_are_counted_not_fatal():
    rows = [(i % 2, (i // 3) % 2) for i in range(30)]
    good = [json.dumps({"y_true": a, "y_pred": b}) for a, b in rows]
    hostile = [
        '{"y_true": 1, "y_pred": "' + "x" * 10_000 + '"}',  # too_long (--max-line-bytes 8000)
        '{"y_true": ' + "[" * 3000 + "]" * 3000 + ', "y_pred": 1}',  # too_deep (was RecursionError)
        '{"y_true": 1, "y_pred": ' + "9" * 400 + "}",  # bad_value
        '{"y_true": 1.5, "y_pred": 1}',  # bad_value: not an integer
        "\xff\xfe",  # not_utf8 once encoded below
    ]
    lines = good[:10] + hostile[:2] + good[10:20] + hostile[2:4] + good[20:]
    text = "\n".join(lines).encode() + b"\n\xff\xfe\n"
    code, out, err = watch_proc(["--pos-label", "1", "--format", "json", "--interval", "60", "--max-line-bytes", "8000"],
                                text)
    assert code == 0 and not TRACE.search(err), err
    got = last_json(out)
    assert got["malformed"] == {"bad_value": 2, "not_utf8": 1, "too_deep": 1, "too_long": 1}
    assert got["n_samples"] == 30 and got["lines"] == 35
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(*zip(*rows)))


def test_watch_huge_time_value_and_far_future_timestamps():
    t0 = 1_700_000_000.0
    rng = np.random.default_rng(7)
    times = t0 + np.sort(rng.random(120)) * 300
    y, p = rng.integers(0, 2, 120), rng.integers(0, 2, 120)
    lines = [json.dumps({"y_true": int(a), "y_pred": int(b), "ts": float(t)}) for a, b, t in zip(y, p, times)]
    lines.insert(60, json.dumps({"y_true": 1, "y_pred": 1, "ts": 99999999999}))  # one broken clock
    lines.insert(30, '{"y_true": 1, "y_pred": 1, "ts": ' + "9" * 400 + "}")  # was OverflowError
    args = ["--pos-label", "1", "--time", "ts", "--unit", "seconds", "--window", "60", "--buckets", "6", "--format", "json"]
    code, out, err = watch_proc(args, "\n".join(lines).encode())
    assert code == 0 and not TRACE.search(err), err
    got = last_json(out)
    assert got["malformed"] == {"bad_value": 1, "future": 1}
    # the window kept working: Windowed's window over the real times, as test_watch computes it
    start = (math.floor(times[-1] / 10) + 1) * 10 - 60
    keep = times >= start
    assert got["n_samples"] == keep.sum() > 0
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y[keep], p[keep]))
    # none: the broken clock moves the window and every later line is late
    code, out, err = watch_proc(args + ["--max-skew", "none"], "\n".join(lines).encode())
    assert code == 0 and last_json(out)["malformed"] == {"bad_value": 1, "late": 60}
    # a time an hour ahead of the clock: within the default day, beyond --max-skew 60
    lines[61] = json.dumps({"y_true": 1, "y_pred": 1, "ts": time.time() + 3600})
    code, out, err = watch_proc(args, "\n".join(lines).encode())
    assert code == 0 and last_json(out)["malformed"] == {"bad_value": 1, "late": 60}
    code, out, err = watch_proc(args + ["--max-skew", "60"], "\n".join(lines).encode())
    assert code == 0 and last_json(out)["malformed"] == {"bad_value": 1, "future": 1}


def test_watch_labels_read_as_evaluate_reads_them():
    pairs = [(1.0, "1"), ("2", 2), (3, 3.0), (1, 2), ("2.0", 1), (3, "3")]
    text = "\n".join(json.dumps({"y": a, "p": b}) for a, b in pairs).encode()
    code, out, err = watch_proc(["--y-true", "y", "--y-pred", "p", "--labels", "1", "2.0", "3", "--format", "json"], text)
    assert code == 0, err
    got = last_json(out)
    yt, yp = [int(float(a)) for a, _ in pairs], [int(float(b)) for _, b in pairs]
    assert got["malformed_lines"] == 0
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(yt, yp))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(yt, yp, average="macro"))


def test_watch_follow_skips_an_overlong_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"y_true": 1, "y_pred": 1}\n' + b'{"y_true": 1, "y_pred": "' + b"x" * 5000 + b'"}\n'
                     + b'{"y_true": 0, "y_pred": 1}\n')
    proc = subprocess.Popen([sys.executable, "-m", "streameval", "watch", "--pos-label", "1", "--follow", str(path),
                             "--interval", "0.1",
                             "--format", "json", "--max-line-bytes", "100"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env())
    try:
        deadline, got = time.monotonic() + 60, {}
        while time.monotonic() < deadline and got.get("lines") != 3:
            got = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert got["malformed"] == {"too_long": 1} and got["n_samples"] == 2 and got["accuracy"] == 0.5


# --- 4. evaluate on hostile JSON Lines ------------------------------------------------------------------


def test_evaluate_jsonl_nested_and_broken_lines(tmp_path):
    rows = [(i % 3, (i * 7) % 3) for i in range(50)]
    lines = [json.dumps({"y": a, "p": b}) for a, b in rows]
    lines.insert(10, '{"y": ' + "[" * 3000 + "]" * 3000 + ', "p": 1}')  # row 11: was RecursionError
    lines.insert(20, '{"y": ' + "[" * 200_000 + ', "p": 1}')  # row 21: pyarrow's parser would overflow the stack
    lines.insert(30, '[1, 2]')
    lines.insert(31, '{"y": {"a": 1}, "p": 1}')
    lines.insert(32, "not json")
    lines.insert(40, "")  # blank: not a row
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(lines) + "\n")
    line = one_error_line(*run("evaluate", path, "--y-true", "y", "--y-pred", "p")[::2])
    assert line.endswith("h.jsonl: row 11: the line is nested too deeply")
    data, err = json_out("evaluate", path, "--y-true", "y", "--y-pred", "p", "--on-bad-row", "skip")
    assert data["skipped_rows"] == 5 and "skipped 5 bad rows" in err
    first = tmp_path / "first.jsonl"  # deep nesting pyarrow's parser reads to the end: it would crash (SIGSEGV)
    first.write_text('{"y": ' + "[" * 100_000 + "1" + "]" * 100_000 + ', "p": 1}\n')
    line = one_error_line(*run("evaluate", first, "--y-true", "y", "--y-pred", "p")[::2])
    assert line.endswith("first.jsonl: row 1: the line is nested too deeply")
    assert_report(data["report"], skm.classification_report(*zip(*rows), output_dict=True))


# --- 5. clear errors --------------------------------------------------------------------------------------


def _usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("usage:") and not TRACE.search(err)
    return lines[-1]


@pytest.mark.parametrize("option", [["--digits", "-1"], ["--digits", "x"], ["--digits", "1000000"], ["--bins", "0"],
                                    ["--bins", "-3"], ["--threshold", "nan"], ["--threshold", "inf"],
                                    ["--max-labels", "0"], ["--max-label-length", "0"], ["--max-line-bytes", "-1"],
                                    ["--score-range", "1", "0"], ["--score-range", "0", "nan"]])
def test_evaluate_numeric_options_are_usage_errors(option, capsys, tmp_path):
    score = ["--score", "s"] if option[0] in ("--score-range", "--bins", "--threshold") else ["--y-pred", "p"]
    line = _usage(["evaluate", str(tmp_path / "x.csv"), "--y-true", "y", *score, *option], capsys)
    assert line.startswith("streameval evaluate: error:") and option[0] in line


@pytest.mark.parametrize("option", [["--prometheus-port", "99999"], ["--prometheus-port", "0"], ["--prometheus-port", "x"],
                                    ["--window", "0"], ["--window", "-5"], ["--window", "nan"], ["--buckets", "0"],
                                    ["--interval", "0"], ["--interval", "inf"], ["--min-samples", "-1"],
                                    ["--threshold", "nan"], ["--max-line-bytes", "0"], ["--max-skew", "-1"],
                                    ["--max-skew", "0"],
                                    ["--max-skew", "x"]])
def test_watch_numeric_options_are_usage_errors(option, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))  # were the option taken, watch would end
    line = _usage(["watch", *option], capsys)
    assert line.startswith("streameval watch: error:") and option[0] in line


def test_watch_option_combinations_and_port_taken():
    code, out, err = watch_proc(["--max-skew", "5"], b"")
    assert code == 2 and err.strip() == "streameval watch: error: --max-skew is for event times: give --time KEY " \
                                        "(with --unit seconds)"
    code, out, err = watch_proc(["--pos-label", "1", "--window", "1e300", "--buckets", "1000000000"], b"")
    assert code == 2 and len(err.strip().splitlines()) == 1 and not TRACE.search(err), err
    pytest.importorskip("prometheus_client")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = watch_proc(["--pos-label", "1", "--prometheus-port", port], b"")
    assert f"--prometheus-port {port}" in one_error_line(code, err, 1)


def test_weights_zero_and_negative(tmp_path):
    path = tmp_path / "w.csv"
    pd.DataFrame({"y": [0, 1, 1], "p": [0, 1, 0], "w": [0.0, 0.0, 0.0]}).to_csv(path, index=False)
    line = one_error_line(*run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--weight", "w")[::2])
    assert line.endswith("no rows to evaluate: the weights of all 3 rows are zero")
    pd.DataFrame({"y": [0, 1, 1], "p": [0, 1, 0], "w": [1.0, -2.0, 1.0]}).to_parquet(tmp_path / "w.parquet")
    line = one_error_line(*run("evaluate", tmp_path / "w.parquet", "--y-true", "y", "--y-pred", "p", "--weight", "w")[::2])
    assert line.endswith("w.parquet: row 2: column 'w': -2.0 is not a valid weight: expected a finite number >= 0")
    data, _ = json_out("evaluate", tmp_path / "w.parquet", "--y-true", "y", "--y-pred", "p", "--weight", "w",
                       "--on-bad-row", "skip")
    assert data["accuracy"] == pytest.approx(skm.accuracy_score([0, 1], [0, 0], sample_weight=[1, 1]))


def test_warnings_are_one_line_without_source_positions(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"y": [0, 0, 1, 1], "p": [0, 0, 0, 0]}).to_csv(path, index=False)  # class 1 never predicted
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p")
    assert code == 0 and not TRACE.search(err), err
    assert all(line.startswith("streameval: warning: ") for line in err.strip().splitlines())
    assert out.startswith(skm.classification_report([0, 0, 1, 1], [0, 0, 0, 0], zero_division=0))


def test_logits_are_refused_as_probabilities_and_read_with_score_range(tmp_path):
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, 2000)
    logit = np.round(2 * y - 1 + rng.normal(0, 1.5, 2000), 4)
    path = tmp_path / "logits.csv"
    pd.DataFrame({"y": y, "s": logit}).to_csv(path, index=False)
    first = int(np.argmax((logit < 0) | (logit > 1)))
    line = one_error_line(*run("evaluate", path, "--y-true", "y", "--score", "s", "--bins", "100")[::2])
    assert f"logits.csv: row {first + 1}: column 's' = {float(logit[first])!r} is not a probability" in line
    assert line.endswith("(command line: --from-logits for logits; --score-range LO HI, with --threshold on that scale)")
    data, _ = json_out("evaluate", path, "--y-true", "y", "--score", "s", "--bins", "1000", "--score-range", "-10", "10",
                       "--threshold", "0")
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(y, logit >= 0))
    assert data["roc_auc"] == pytest.approx(skm.roc_auc_score(y, logit), abs=2e-3)


# --- 6. sibling files ---------------------------------------------------------------------------------------


def _corpus(tmp):
    """name -> (files, extra args, expected exit code, text the one-line error ends with or holds)."""
    (tmp / "header.csv").write_text("y,p\n")
    (tmp / "blank.csv").write_text("\n\n\n")
    (tmp / "binary.csv").write_bytes(bytes(np.random.default_rng(8).integers(0, 256, 5000, dtype=np.uint8)))
    (tmp / "dup.csv").write_text("y,p,y\n1,1,0\n")
    (tmp / "a.csv").write_text("y,p\n1,1\n")
    (tmp / "b.csv").write_text("y,q\n1,1\n")
    (tmp / "empty.parquet").write_bytes(b"")
    (tmp / "garbage.arrow").write_bytes(b"ARROW1" + b"\0" * 100)
    (tmp / "short.csv").write_text("y,p\n1,1\n1\n")
    pq.write_table(pa.table({"y": pa.array([[1], [2]]), "p": [1, 2]}), tmp / "list.parquet")
    pq.write_table(pa.table({"y": pa.array([{"a": 1}, {"a": 2}]), "p": [1, 2]}), tmp / "struct.parquet")
    (tmp / "dir.csv").mkdir()
    os.mkfifo(tmp / "fifo.csv")
    (tmp / "nul.jsonl").write_bytes(b"\0\0\0\n")
    return {
        "header-only": (["header.csv"], [], 1, "no rows to evaluate: the inputs hold no data rows"),
        "blank-lines": (["blank.csv"], [], 1, "blank.csv: cannot read the file: CSV parse error: Empty CSV file"),
        "binary": (["binary.csv"], [], 1, "binary.csv: "),
        "duplicate-columns": (["dup.csv"], [], 1, "dup.csv: the file has 2 columns named 'y': cannot tell which to read"),
        "missing-in-later-file": (["a.csv", "b.csv"], [], 1, "b.csv: no column 'p'; the file's columns are: y, q"),
        "empty-parquet": (["empty.parquet"], [], 1, "empty.parquet: the file is empty"),
        "garbage-arrow": (["garbage.arrow"], [], 1, "garbage.arrow: cannot read the file"),
        "short-row": (["short.csv"], [], 1, "short.csv: a row has 1 field(s) where the header has 2: '1'"),
        "list-column": (["list.parquet"], [], 1, "list.parquet: column 'y' has type list<element: int64>: "
                                                  "expected labels (integers or text)"),
        "struct-column": (["struct.parquet"], [], 1, "struct.parquet: column 'y' has type struct<a: int64>: "),
        "empty-directory": (["dir.csv"], [], 1, "dir.csv: the directory holds no files to read"),
        "fifo": (["fifo.csv"], [], 1, "fifo.csv: is not a regular file (a pipe, device or socket)"),
        "nul-bytes": (["nul.jsonl"], [], 1, "nul.jsonl: row 1: the line is not valid JSON"),
        "unknown-extension": (["p.txt"], [], 1, "p.txt: unknown file type '.txt'"),
    }


def test_hostile_file_corpus(tmp_path):
    for name, (files, extra, expected, text) in _corpus(tmp_path).items():
        code, out, err = run("evaluate", *(tmp_path / f for f in files), "--y-true", "y", "--y-pred", "p", *extra,
                             timeout=60)
        line = one_error_line(code, err, expected)
        assert text in line, (name, line)
        assert len(line) < 400, (name, line)


def test_short_rows_are_skipped_with_skip(tmp_path):
    (tmp_path / "short.csv").write_text("y,p\n1,1\n1\n0,1\n0,0,0\n0,0\n")
    data, err = json_out("evaluate", tmp_path / "short.csv", "--y-true", "y", "--y-pred", "p", "--on-bad-row", "skip")
    assert data["skipped_rows"] == 2 and data["accuracy"] == pytest.approx(skm.accuracy_score([1, 0, 0], [1, 1, 0]))


def test_bom_and_crlf(tmp_path):
    rows = [(1, 1), (0, 1), (1, 0), (0, 0), (1, 1)]
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfy,p\r\n" + b"".join(f"{a},{b}\r\n".encode() for a, b in rows))
    data, err = json_out("evaluate", tmp_path / "bom.csv", "--y-true", "y", "--y-pred", "p")
    assert_report(data["report"], skm.classification_report(*zip(*rows), output_dict=True))
    (tmp_path / "crlf.jsonl").write_bytes(b"".join(json.dumps({"y": a, "p": b}).encode() + b"\r\n" for a, b in rows))
    data, err = json_out("evaluate", tmp_path / "crlf.jsonl", "--y-true", "y", "--y-pred", "p")
    assert_report(data["report"], skm.classification_report(*zip(*rows), output_dict=True))


def test_empty_column_names_are_usage_errors(tmp_path, capsys):
    assert "--y-true: the column name is empty" in _usage(["evaluate", "x.csv", "--y-true", "", "--y-pred", "p"], capsys)
    assert "--score: a column name is empty" in _usage(["evaluate", "x.csv", "--y-true", "y", "--score", ""], capsys)


def test_dictionary_and_text_columns_in_arrow_files(tmp_path):
    """pandas categoricals (dictionary columns) of text and of float codes, in Feather and Parquet."""
    rng = np.random.default_rng(9)
    yt = rng.integers(0, 3, 500)
    yp = np.where(rng.random(500) < 0.6, yt, rng.integers(0, 3, 500))
    df = pd.DataFrame({"y": pd.Categorical(np.array(["a", "b", "c"])[yt]), "p": pd.Categorical(yp.astype(float))})
    for name in ("c.feather", "c.parquet"):
        write(df, tmp_path / name, name.split(".")[1])
        data, _ = json_out("evaluate", tmp_path / name, "--y-true", "y", "--y-pred", "p")
        # text "a" and number 0 are different labels: sklearn on the same mixed values
        assert data["accuracy"] == 0.0 and data["rows"] == 500
        data, _ = json_out("evaluate", tmp_path / name, "--y-true", "p", "--y-pred", "p")
        assert_report(data["report"], skm.classification_report(yp, yp, output_dict=True))
