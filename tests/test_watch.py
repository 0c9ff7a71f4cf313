"""streameval watch: run as a subprocess, its numbers checked against fresh accumulators and sklearn."""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

import streameval

CMD = [sys.executable, "-m", "streameval.watch"]
LABELS = ["a", "b", "c"]


def _env():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def watch(args, text):
    return subprocess.run(CMD + args, input=text.encode(), capture_output=True, timeout=60, env=_env(), check=False)


def last_json(stdout: bytes) -> dict:
    return json.loads(stdout.decode().strip().splitlines()[-1])


def multiclass_stream(n, seed=0):
    """Lines of a multiclass stream with malformed lines mixed in; the valid (y_true, y_pred) pairs."""
    rng = np.random.default_rng(seed)
    lines, pairs = [], []
    bad = ['not json', '[1, 2]', '{"y": "a"}', '{"y": "z", "p": "a"}', '{"y": "a", "p": null}', '{"y": 1.5, "p": "a"}']
    for i in range(n):
        y = LABELS[rng.integers(3)]
        p = y if rng.random() < 0.6 else LABELS[rng.integers(3)]
        lines.append(json.dumps({"y": y, "p": p, "extra": i}))
        pairs.append((y, p))
        if i % 17 == 3:
            lines.append(bad[i % len(bad)])
    return lines, pairs, len(lines) - n


def test_multiclass_window_matches_fresh_accumulator_and_sklearn():
    lines, pairs, n_bad = multiclass_stream(137)
    out = watch(["--y-true", "y", "--y-pred", "p", "--labels", *LABELS, "--window", "50", "--buckets", "5",
                 "--interval", "60"], "\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    got = last_json(out.stdout)
    # Windowed's documented window: samples [ceil(n / step) * step - size, n), step = width = 10.
    n = len(pairs)
    covered = pairs[math.ceil(n / 10) * 10 - 50:]
    fresh = streameval.Multiclass(labels=LABELS)
    fresh.update([y for y, _ in covered], [p for _, p in covered])
    expected = fresh.compute()
    assert got["n_samples"] == len(covered) == 47
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    yt, yp = [y for y, _ in covered], [p for _, p in covered]
    assert got["accuracy"] == pytest.approx(accuracy_score(yt, yp))
    assert got["f1_macro"] == pytest.approx(f1_score(yt, yp, labels=LABELS, average="macro", zero_division=0))
    assert got["malformed_lines"] == n_bad > 0 and got["lines"] == len(lines)
    assert sum(got["malformed"].values()) == n_bad
    assert f"{n_bad} malformed lines of {len(lines)} (" in out.stderr.decode()


def test_binary_scores_with_threshold():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    s = np.clip(y * 0.3 + rng.random(80) * 0.7, 0, 1)
    lines = [json.dumps({"label": int(a), "prob": float(b)}) for a, b in zip(y, s)]
    lines.insert(10, '{"label": 2, "prob": 0.5}')
    lines.insert(20, '{"label": 1, "prob": "high"}')
    out = watch(["--y-true", "label", "--score", "prob", "--threshold", "0.6", "--window", "1000"], "\n".join(lines))
    assert out.returncode == 0, out.stderr
    got = last_json(out.stdout)
    pred = (s >= 0.6).astype(int)
    assert got["n_samples"] == 80 and got["malformed_lines"] == 2
    assert got["recall"] == pytest.approx(recall_score(y, pred))
    assert got["f1"] == pytest.approx(f1_score(y, pred))
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))


def test_event_time_window():
    rng = np.random.default_rng(2)
    t0 = 1_700_000_000.0
    times = t0 + np.sort(rng.random(120)) * 300
    y = rng.integers(0, 2, 120)
    p = rng.integers(0, 2, 120)
    lines = [json.dumps({"y_true": int(a), "y_pred": int(b), "ts": float(t)}) for a, b, t in zip(y, p, times)]
    lines.append(json.dumps({"y_true": 1, "y_pred": 1, "ts": t0 - 10_000}))  # older than the window: malformed
    out = watch(["--pos-label", "1", "--time", "ts", "--unit", "seconds", "--window", "60", "--buckets", "6"],
                "\n".join(lines))
    assert out.returncode == 0, out.stderr
    got = last_json(out.stdout)
    # Windowed's documented window: times in [(floor(T / step) + 1) * step - size, T], step = 10.
    start = (math.floor(times[-1] / 10) + 1) * 10 - 60
    keep = times >= start
    fresh = streameval.Binary()
    fresh.update(y[keep], p[keep])
    assert got["n_samples"] == keep.sum() > 0
    assert got["accuracy"] == pytest.approx(fresh.accuracy())
    assert got["malformed"] == {"late": 1}


def test_alerts_exit_status_and_validation():
    good = "\n".join(json.dumps({"y_true": 1, "y_pred": 1}) for _ in range(5))
    bad = "\n".join(json.dumps({"y_true": 1, "y_pred": 0}) for _ in range(5))
    out = watch(["--pos-label", "1", "--alert", "recall<0.8"], good)
    assert out.returncode == 0 and b"alert" not in out.stderr
    out = watch(["--pos-label", "1", "--alert", "recall<0.8", "--alert", "n_samples>=1"], bad)
    assert out.returncode == 3
    assert "alert TRIPPED: recall<0.8" in out.stderr.decode()
    for alert in ["recal<0.8", "recall<<0.8", "recall<x", "recall"]:
        out = watch(["--pos-label", "1", "--alert", alert], good)
        assert out.returncode == 2 and out.stdout == b""
        assert len(out.stderr.decode().strip().splitlines()) == 1 and "--alert" in out.stderr.decode()
    out = watch(["--pos-label", "1", "--time", "ts"], good)  # --time needs --unit seconds
    assert out.returncode == 2 and "error" in out.stderr.decode()
    out = watch(["--pos-label", "1", "--follow", "/nonexistent/file.jsonl"], "")
    assert out.returncode == 1 and len(out.stderr.decode().strip().splitlines()) == 1


def test_table_format():
    out = watch(["--pos-label", "1", "--format", "table"], json.dumps({"y_true": 1, "y_pred": 1}))
    text = out.stdout.decode()
    assert out.returncode == 0 and text.startswith("\x1b[H\x1b[2J") and "accuracy" in text


class Running:
    """A watch subprocess whose stdout lines are collected by a thread."""

    def __init__(self, args):
        self.proc = subprocess.Popen(CMD + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def wait_for(self, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(m) for m in list(self.lines)):
                return
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            time.sleep(0.05)
        raise AssertionError(f"timed out; last output {self.lines[-1:]}")

    def stop(self, signum=signal.SIGTERM):
        self.proc.send_signal(signum)
        rc = self.proc.wait(timeout=30)
        time.sleep(0.1)
        return rc, self.proc.stderr.read().decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_follow_file_and_prometheus(tmp_path):
    path = tmp_path / "stream.jsonl"
    path.write_text(json.dumps({"y_true": 1, "y_pred": 1}) + "\n")
    port = free_port()
    run = Running(["--pos-label", "1", "--follow", str(path), "--interval", "0.1", "--prometheus-port", str(port),
                   "--alert", "accuracy<0.5"])
    try:
        run.wait_for(lambda m: m["n_samples"] == 1)  # from the start of the file
        with open(path, "a") as f:
            f.write("garbage\n")
            f.write(json.dumps({"y_true": 1, "y_pred": 0}) + "\n")
            f.write('{"y_true": 0, "y_pr')  # a partial line waits for its end
            f.flush()
            run.wait_for(lambda m: m["n_samples"] == 2 and m["malformed_lines"] == 1)
            f.write('ed": 0}\n')
        run.wait_for(lambda m: m["n_samples"] == 3)
        fresh = streameval.Binary()
        fresh.update([1, 1, 0], [1, 0, 0])
        deadline, body = time.monotonic() + 30, ""
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            except OSError:
                body = ""
            if "streameval_samples_in_window 3.0" in body:
                break
            time.sleep(0.1)
        values = {line.split()[0]: float(line.split()[1]) for line in body.splitlines() if line and line[0] != "#"}
        assert values["streameval_samples_in_window"] == 3
        assert values["streameval_accuracy"] == pytest.approx(fresh.accuracy())
        assert values["streameval_recall"] == pytest.approx(fresh.recall())
        assert values["streameval_malformed_lines_total"] == 1
        assert values['streameval_alert_active{alert="accuracy<0.5"}'] == 0
    finally:
        rc, err = run.stop()
    assert rc == 0, err
    assert run.lines[-1]["n_samples"] == 3
    assert "1 malformed line of 4 (not_json: 1)" in err


def test_follow_from_end_and_alert_clears(tmp_path):
    path = tmp_path / "stream.jsonl"
    path.write_text("".join(json.dumps({"y_true": 1, "y_pred": 1}) + "\n" for _ in range(5)))
    run = Running(["--pos-label", "1", "--follow", str(path), "--from-end", "--interval", "0.1", "--alert", "recall<0.5",
                   "--window", "2", "--buckets", "2"])
    try:
        run.wait_for(lambda m: m["n_samples"] == 0 and m["accuracy"] is None)  # empty window: null
        with open(path, "a") as f:
            f.write(json.dumps({"y_true": 1, "y_pred": 0}) + "\n")
        run.wait_for(lambda m: m["n_samples"] == 1 and m["recall"] == 0)
        with open(path, "a") as f:
            f.write((json.dumps({"y_true": 1, "y_pred": 1}) + "\n") * 2)
        run.wait_for(lambda m: m["lines"] == 3 and m["recall"] == 1)
    finally:
        rc, err = run.stop(signal.SIGINT)
    assert rc == 3
    assert "alert TRIPPED: recall<0.5" in err and "alert cleared: recall<0.5" in err


def test_streameval_front_end_runs_watch():
    """``python -m streameval watch`` (once the front end exists) gives what ``-m streameval.watch`` gives."""
    import importlib.util

    if importlib.util.find_spec("streameval.__main__") is None:
        pytest.skip("streameval/__main__.py is not there yet")
    lines, _, _ = multiclass_stream(40, seed=3)
    args = ["--y-true", "y", "--y-pred", "p", "--labels", *LABELS, "--window", "20", "--buckets", "4"]
    front = subprocess.run([sys.executable, "-m", "streameval", "watch", *args], input="\n".join(lines).encode(),
                           capture_output=True, timeout=60, env=_env(), check=False)
    assert front.returncode == 0, front.stderr
    assert last_json(front.stdout) == last_json(watch(args, "\n".join(lines)).stdout)
