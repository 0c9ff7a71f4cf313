"""streameval watch counts in batches: the same window, alerts and malformed counts as counting the
lines one at a time (Watcher.feed, the per-line replay), checked against sklearn on the window's lines."""

import argparse
import io
import json
import math
import queue
import sys
import threading
import time

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from streameval import _watch_input as inp
from streameval import watch

LABELS = ["a", "b", "c"]


def watcher(*argv):
    return watch.Watcher(watch.add_arguments(argparse.ArgumentParser()).parse_args(list(argv)))


def one_by_one(argv, lines):
    w = watcher(*argv)
    for line in lines:
        w.feed(line)
    return w


def in_batches(argv, lines, seed=0):
    """lines fed in batches of random sizes (1 to 300 lines)."""
    w = watcher(*argv)
    rng = np.random.default_rng(seed)
    i = 0
    while i < len(lines):
        k = int(rng.integers(1, 300))
        w.feed_lines(lines[i:i + k])
        i += k
    return w


def same(a, b):
    ma, mb = a.metrics(), b.metrics()
    assert ma.keys() == mb.keys()
    for key in ma:
        if isinstance(ma[key], float) and math.isnan(ma[key]):
            assert math.isnan(mb[key]), key
        else:
            assert ma[key] == mb[key], key


BAD = [b"not json", b"[1, 2]", b'{"y": "a"}', b'{"y": "z", "p": "a"}', b'{"y": "a", "p": null}', b'{"y": 1.5, "p": "a"}',
       b"\xff\xfe", b"", b"   ", b'{"y": "a", "p": "b"} trailing', b'{"y": "a", "p": {"x": 1}}', b'{"y": ["a"], "p": "a"}',
       b'{"y": "a", ' + b"[" * 3000 + b"]" * 3000 + b', "p": "a"}', None]


def multiclass_lines(n, seed):
    rng = np.random.default_rng(seed)
    lines, pairs = [], []
    for i in range(n):
        y = LABELS[rng.integers(3)]
        p = y if rng.random() < 0.6 else LABELS[rng.integers(3)]
        lines.append(json.dumps({"y": y, "p": p, "i": i}).encode())
        pairs.append((y, p))
        if rng.random() < 0.05:
            lines.append(BAD[rng.integers(len(BAD))])
    return lines, pairs


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_batches_equal_line_by_line_and_sklearn(seed):
    lines, pairs = multiclass_lines(2000, seed)
    argv = ["--y-true", "y", "--y-pred", "p", "--labels", *LABELS, "--window", "500", "--buckets", "5"]
    batched = in_batches(argv, lines, seed)
    same(batched, one_by_one(argv, lines))
    got = batched.metrics()
    covered = pairs[math.ceil(len(pairs) / 100) * 100 - 500:]  # Windowed's window, step = width = 100
    yt, yp = zip(*covered)
    assert got["n_samples"] == len(covered)
    assert got["accuracy"] == pytest.approx(accuracy_score(yt, yp), rel=1e-12)
    assert got["f1_macro"] == pytest.approx(f1_score(yt, yp, labels=LABELS, average="macro", zero_division=0), rel=1e-12)
    assert got["lines"] == sum(1 for line in lines if line is None or line.strip())
    assert got["malformed_lines"] == got["lines"] - len(pairs) > 0


@pytest.mark.parametrize("task", [["--pos-label", "1"], ["--pos-label", "spam"], ["--score", "s", "--threshold", "0.4"]])
def test_binary_batches_equal_line_by_line(task):
    rng = np.random.default_rng(5)
    lines = []
    for i in range(3000):
        if task[1] == "spam":
            y, p = ("spam" if rng.random() < 0.5 else "ham"), ("spam" if rng.random() < 0.5 else "ham")
            if i == 1500:
                y = "eggs"  # a third label: bad_value
        else:
            y = [0, 1, True, "1", 1.0, "no", "yes"][rng.integers(7)] if task[1] == "1" else int(rng.integers(2))
            p = [0, 1, "0"][rng.integers(3)] if task[1] == "1" else float(rng.random())
        lines.append(json.dumps({"y_true": y, "y_pred": p, "s": p}).encode())
        if i % 97 == 5:
            lines.append([b'{"y_true": 1, "s": NaN, "y_pred": 2}', b'{"y_true": 1, "s": 1.5, "y_pred": "x"}',
                          b'{"y_true": 1, "s": "0.25", "y_pred": 1}', b'{"y_true": 1, "s": ' + b"9" * 400 + b"}",
                          b'{"y_true": 1, "s": true, "y_pred": false}'][i % 5])
    argv = [*task, "--window", "700", "--buckets", "7", "--alert", "recall<0.5", "--min-samples", "10"]
    a, b = in_batches(argv, lines), one_by_one(argv, lines)
    same(a, b)
    a.check_alerts(a.metrics())
    b.check_alerts(b.metrics())
    assert a.active == b.active and a.tripped == b.tripped
    assert a.metrics()["malformed_lines"] > 0


def test_a_bad_line_in_the_middle_of_a_batch_costs_only_itself():
    good = [json.dumps({"y_true": i % 2, "y_pred": (i // 2) % 2}).encode() for i in range(40)]
    for bad, reason in [(b'{"y_true": 1, "y_pred": 1', "not_json"), (b'{"y_true": 1, "y_pred": "\xff"}', "not_utf8"),
                        (b'{"y_true": 1, "y_pred": "\xed\xa0\x80"}', "not_utf8"),  # an encoded surrogate
                        (b'{"y_true": 1, "y_pred": 1}, {"y_true": 0, "y_pred": 0}', "not_json"),
                        (b'{"y_true": 7, "y_pred": 1}', "bad_value"), (b'{"y_pred": 1}', "missing_key")]:
        w = watcher("--pos-label", "1", "--window", "100", "--buckets", "2")
        w.feed_lines(good[:20] + [bad] + good[20:])
        got = w.metrics()
        assert got["malformed"] == {reason: 1} and got["lines"] == 41 and got["n_samples"] == 40
        yt, yp = zip(*((i % 2, (i // 2) % 2) for i in range(40)))
        assert got["accuracy"] == accuracy_score(yt, yp) and got["recall"] == recall_score(yt, yp)


def test_lines_that_join_into_other_objects_are_not_counted():
    # Each line starts with "{" and ends with "}": joined naively, these would read as 3 objects.
    lines = [b'{"y_true":1,"y_pred":"}', b'{","q":1}', b'{"y_true":1,"y_pred":1},{"y_true":0,"y_pred":0}',
             b'{"y_true":1,"a":[{"b":1}', b'{"y_true":1,"y_pred":1}]}']
    a = watcher("--pos-label", "1")
    a.feed_lines(lines)
    same(a, one_by_one(["--pos-label", "1"], lines))
    assert a.metrics()["n_samples"] == 0 and a.metrics()["malformed_lines"] == 5


@pytest.mark.parametrize("max_skew", [None, "none", "60"])
def test_event_times_out_of_order_equal_line_by_line_and_sklearn(max_skew):
    rng = np.random.default_rng(11)
    t0 = 1_700_000_000.0
    n = 3000
    times = t0 + np.arange(n) * 0.5 + rng.normal(0, 40, n)  # out of order: late lines by up to minutes
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    lines = [json.dumps({"y_true": int(a), "y_pred": int(b), "ts": float(t)}).encode() for a, b, t in zip(y, p, times)]
    lines.insert(1000, json.dumps({"y_true": 1, "y_pred": 1, "ts": time.time() + 10 * 86400}).encode())  # a broken clock
    lines.insert(2000, b'{"y_true": 1, "y_pred": 1, "ts": "2023-11-14T22:13:20Z"}')  # ISO: t0, late by then
    lines.insert(2500, b'{"y_true": 1, "y_pred": 1, "ts": ' + b"9" * 400 + b"}")
    argv = ["--pos-label", "1", "--time", "ts", "--unit", "seconds", "--window", "120", "--buckets", "6"]
    argv += [] if max_skew is None else ["--max-skew", max_skew]
    a, b = in_batches(argv, lines), one_by_one(argv, lines)
    same(a, b)
    got = a.metrics()
    assert got["malformed"].get("late", 0) > 0
    if max_skew != "none":  # the broken clock is refused; the window is Windowed's over the real times
        assert got["malformed"]["future"] == 1
        # a line is late when its bucket is older than the window ending at the latest bucket seen before it
        width, latest, kept = 20.0, None, []
        for t, a_, b_ in zip(times, y, p):
            bucket = math.floor(t / width)
            if latest is not None and bucket <= latest - 6:
                continue
            latest = bucket if latest is None else max(latest, bucket)
            kept.append((bucket, a_, b_))
        inside = [(a_, b_) for bucket, a_, b_ in kept if bucket > latest - 6]
        assert got["n_samples"] == len(inside)
        assert got["accuracy"] == pytest.approx(accuracy_score(*zip(*inside)), rel=1e-12)


@pytest.mark.parametrize("size", [1, 2, 7, 64, 1000])
def test_chunks_split_anywhere_give_the_lines_with_the_partial_last_one(size):
    data = b'{"a": 1}\n\n{"b": 2}\r\n' + b"x" * 50 + b'\n{"c": 3}\n{"d": 4}'
    splitter = inp.Splitter(max_bytes=20)
    got = []
    for i in range(0, len(data), size):
        got += splitter.feed(data[i:i + size])
    got += splitter.finish()
    assert got == [b'{"a": 1}', b"", b'{"b": 2}\r', None, b'{"c": 3}', b'{"d": 4}']


def test_stdin_in_batches_counts_a_partial_last_line(monkeypatch):
    rows = [(i % 3 == 0, i % 2) for i in range(5000)]
    text = "\n".join(json.dumps({"y_true": int(a), "y_pred": b}) for a, b in rows)  # no newline at the end
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert watch.main(["--pos-label", "1", "--format", "json", "--interval", "60", "--window", "10000",
                       "--buckets", "1"]) == 0
    got = json.loads(out.getvalue().splitlines()[-1])
    yt, yp = [int(a) for a, _ in rows], [b for _, b in rows]
    assert got["lines"] == got["n_samples"] == 5000
    assert got["accuracy"] == accuracy_score(yt, yp) and got["recall"] == recall_score(yt, yp)


def test_the_reader_waits_while_the_queue_is_full():
    batches = queue.Queue(maxsize=2)
    line = b'{"y_true": 1, "y_pred": 1}\n'
    data = line * (20 * inp.CHUNK_BYTES // len(line))
    stream = io.BufferedReader(io.BytesIO(data), 1 << 16)
    reader = threading.Thread(target=inp.read_stream, args=(stream, batches, 1000), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not batches.full() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert batches.full()
    assert stream.tell() <= 4 * inp.CHUNK_BYTES  # two queued, one waiting to be put, one read at most
    got = 0
    while True:
        item = batches.get(timeout=30)
        if item is inp.EOF:
            break
        assert sum(len(x) + 1 for x in item) <= inp.CHUNK_BYTES + 1000 + 1
        got += len(item)
    assert got == len(data) // len(line)

# (watch --group-by: batches equal line by line per slice, in tests/test_cli_group_by.py)
