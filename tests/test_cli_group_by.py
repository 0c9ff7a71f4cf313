"""``evaluate --group-by`` and ``watch --group-by``: each slice's numbers against scikit-learn on
that slice's rows; the bounds (--max-slices, --max-label-values) and the Prometheus labels."""

import argparse
import json
import math
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from streameval import watch
from streameval._watch_output import _Prometheus

pytest.importorskip("pyarrow")


def close_report(got, expected):
    """Two classification_report dicts: the same keys, numbers within 1e-12 relative."""
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            close_report(got[key], value)
        else:
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def run(*args):
    proc = subprocess.run([sys.executable, "-m", "streameval", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1).round(3)
    names = np.array(["cat", "dog", "owl"])
    a = rng.integers(0, 3, n)
    b = np.where(rng.random(n) < 0.6, a, rng.integers(0, 3, n))
    return pd.DataFrame({"y": y, "score": score, "country": rng.choice(["FR", "DE", "US", "JP"], n),
                         "device": rng.choice([1, 2], n), "animal": names[a], "guess": names[b],
                         "w": rng.random(n).round(3)})


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("g") / "preds.csv"
    frame().to_csv(path, index=False)
    return path, pd.read_csv(path)


def test_binary_slices_match_sklearn_text_and_json(csv):
    path, df = csv
    code, out, err = run("evaluate", path, "--y-true", "y", "--score", "score", "--group-by", "country")
    assert code == 0, err
    pred = (df.score >= 0.5).astype(int)
    assert out.startswith(skm.classification_report(df.y, pred))  # the overall report first
    for country in sorted(df.country.unique()):
        rows = df.country == country
        section = out[out.index(f"--- country={country}\n"):]
        assert section[len(f"--- country={country}\n"):].startswith(skm.classification_report(df.y[rows], pred[rows]))
        assert f"rows: {rows.sum()}\naccuracy: {skm.accuracy_score(df.y[rows], pred[rows]):.4f}\n" in section
    code, out, err = run("evaluate", path, "--y-true", "y", "--score", "score", "--group-by", "country",
                         "--bins", "20", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["group_by"] == ["country"] and data["rows"] == len(df)
    assert [s["key"] for s in data["slices"]] == sorted(df.country.unique())
    for entry in data["slices"]:
        rows = df.country == entry["key"]
        assert entry["by"] == {"country": entry["key"]} and entry["rows"] == rows.sum()
        assert entry["metrics"]["recall"] == pytest.approx(skm.recall_score(df.y[rows], pred[rows]), rel=1e-12)
        close_report(entry["report"], skm.classification_report(df.y[rows], pred[rows], output_dict=True))
        lo, hi = entry["roc_auc_bounds"]
        assert lo <= skm.roc_auc_score(df.y[rows], df.score[rows]) <= hi


def test_crossed_slices_with_auto_labels_and_weights_match_sklearn(csv):
    path, df = csv
    code, out, err = run("evaluate", path, "--y-true", "animal", "--y-pred", "guess", "--weight", "w",
                         "--group-by", "country", "--group-by", "device", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    labels = sorted(set(df.animal) | set(df.guess))
    assert len(data["slices"]) == 8
    for entry in data["slices"]:
        country, device = entry["key"]
        assert entry["by"] == {"country": country, "device": device}
        rows = (df.country == country) & (df.device == device)
        yt, yp, w = df.animal[rows], df.guess[rows], df.w[rows]
        assert entry["weight_total"] == pytest.approx(w.sum(), rel=1e-12)
        assert entry["accuracy"] == pytest.approx(skm.accuracy_score(yt, yp, sample_weight=w), rel=1e-12)
        expected = skm.classification_report(yt, yp, labels=labels, sample_weight=w, output_dict=True,
                                             zero_division=0)
        close_report(entry["report"], expected)
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(df.animal, df.guess, sample_weight=df.w), rel=1e-12)


def test_auto_labels_found_late_in_one_slice(tmp_path):
    # a label first seen in a later chunk (BATCH_ROWS) moves the counts into a grown Multiclass
    n = 70_000
    y = np.array(["a", "b"] * (n // 2), dtype=object)
    y[-3:] = ["c", "c", "a"]
    g = np.where(np.arange(n) % 3 == 0, "x", "y")
    path = tmp_path / "late.csv"
    pd.DataFrame({"y": y, "p": np.roll(y, 1), "g": g}).to_csv(path, index=False)
    df = pd.read_csv(path)
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--group-by", "g", "--format", "json")
    assert code == 0, err
    for entry in json.loads(out)["slices"]:
        rows = df.g == entry["key"]
        close_report(entry["report"], skm.classification_report(
            df.y[rows], df.p[rows], labels=["a", "b", "c"], output_dict=True, zero_division=0))


def test_markdown_has_the_slice_table_and_reports(csv):
    path, df = csv
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "y", "--group-by", "device",
                         "--format", "markdown")
    assert code == 0, err
    assert "## 2 slices by device\n\n| device | rows | accuracy |\n|---|---|---|---|" not in out
    assert "| device | rows | accuracy |" in out
    for device in (1, 2):
        assert f"| {device} | {(df.device == device).sum()} | 1.0000 |" in out
        assert f"### device={device}\n" in out


def test_missing_group_column_and_usage_errors(csv):
    path, _ = csv
    code, out, err = run("evaluate", path, "--y-true", "y", "--score", "score", "--group-by", "region")
    assert code == 1 and out == ""
    assert "no column 'region'" in err and "country" in err
    for bad in (["--group-by", ""], ["--group-by", "country", "--group-by", "country"], ["--max-slices", "3"],
                ["--slice-overflow", "other"], ["--group-by", "country", "--max-slices", "0"]):
        code, out, err = run("evaluate", path, "--y-true", "y", "--score", "score", *bad)
        assert code == 2 and out == "", bad


def test_max_slices_error_or_other(csv):
    path, df = csv
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "y", "--group-by", "country",
                         "--max-slices", "2")
    assert code == 1 and out == ""
    assert "--max-slices 2" in err and "--slice-overflow other" in err
    code, out, err = run("evaluate", path, "--y-true", "y", "--score", "score", "--group-by", "country",
                         "--max-slices", "2", "--slice-overflow", "other", "--format", "json")
    assert code == 0, err
    slices = json.loads(out)["slices"]
    first_two = list(dict.fromkeys(df.country))[:2]
    assert [s["key"] for s in slices] == sorted(first_two) + ["__other__"]
    other = slices[-1]
    assert other["by"] is None
    rows = ~df.country.isin(first_two)
    pred = (df.score >= 0.5).astype(int)
    assert other["rows"] == rows.sum()
    assert other["metrics"]["f1"] == pytest.approx(skm.f1_score(df.y[rows], pred[rows]), rel=1e-12)


def test_null_group_key_is_a_bad_row(tmp_path):
    path = tmp_path / "nulls.csv"
    path.write_text("y,p,g\n1,1,a\n0,1,\n1,0,b\n")
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--group-by", "g")
    assert code == 1 and "row 2: column 'g': empty (null)" in err
    code, out, err = run("evaluate", path, "--y-true", "y", "--y-pred", "p", "--group-by", "g", "--on-bad-row", "skip",
                         "--format", "json")
    assert code == 0 and [s["rows"] for s in json.loads(out)["slices"]] == [1, 1]


# --- watch --group-by ---------------------------------------------------------------------------------


def watcher(*argv):
    return watch.Watcher(watch.add_arguments(argparse.ArgumentParser()).parse_args(list(argv)))


def stream(n=900, seed=0, bad=True):
    rng = np.random.default_rng(seed)
    lines, rows = [], []
    for i in range(n):
        key = ["FR", "DE", "US", 7][int(rng.integers(4))]
        y = int(rng.integers(2))
        p = y if rng.random() < (0.5 if key == "US" else 0.9) else 1 - y
        lines.append(json.dumps({"y": y, "p": p, "c": key, "ts": 1_700_000_000 + i + int(rng.integers(-5, 6))}).encode())
        rows.append((str(key), y, p, lines[-1]))
        if bad and i % 50 == 7:
            lines += [b'{"y": 1, "p": 1}', b'{"y": 1, "p": 1, "c": null}', b'{"y": 1, "p": 1, "c": 0.5}']
    return lines, rows


def same_metrics(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            same_metrics(a[key], b[key])
        elif isinstance(a[key], float) and math.isnan(a[key]):
            assert math.isnan(b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("extra", [[], ["--time", "ts", "--unit", "seconds", "--window", "200", "--buckets", "4"]])
def test_watch_batches_equal_line_by_line(extra):
    argv = ["--y-true", "y", "--y-pred", "p", "--pos-label", "1", "--group-by", "c", "--window", "100", *extra]
    lines, _ = stream()
    one, bulk = watcher(*argv), watcher(*argv)
    for line in lines:
        one.feed(line)
    rng = np.random.default_rng(1)
    i = 0
    while i < len(lines):
        k = int(rng.integers(1, 200))
        bulk.feed_lines(lines[i:i + k])
        i += k
    same_metrics(one.metrics(), bulk.metrics())
    # a line without the key is missing_key, a null or 0.5 key bad_value (without --time, whose key they lack)
    expected = {"missing_key": 54} if extra else {"missing_key": 18, "bad_value": 36}
    assert {k: v for k, v in bulk.malformed.items() if k != "late"} == expected


def test_watch_slice_windows_match_sklearn_on_their_rows():
    lines, rows = stream(bad=False)
    w = watcher("--y-true", "y", "--y-pred", "p", "--pos-label", "1", "--group-by", "c", "--window", "100",
                "--buckets", "5")
    w.feed_lines(lines)
    got = w.metrics()["slices"]
    assert list(got) == list(dict.fromkeys(r[0] for r in rows))
    for key, values in got.items():
        mine = [(y, p) for k, y, p, _ in rows if k == key]
        n = len(mine)
        covered = mine[math.ceil(n / 20) * 20 - 100:]  # Windowed's window: whole buckets of 20 samples
        yt, yp = [y for y, _ in covered], [p for _, p in covered]
        assert values["n_samples"] == len(covered)
        assert values["recall"] == pytest.approx(skm.recall_score(yt, yp), rel=1e-12)
        assert values["accuracy"] == pytest.approx(skm.accuracy_score(yt, yp), rel=1e-12)


def test_watch_time_windows_of_slices_end_with_the_stream():
    lines, rows = stream(bad=False)
    w = watcher("--y-true", "y", "--y-pred", "p", "--pos-label", "1", "--group-by", "c", "--time", "ts",
                "--unit", "seconds", "--window", "200", "--buckets", "4")
    w.feed_lines(lines)
    w.slices.advance(w.window, event_time=True)
    # the last 4 buckets of 50 s up to the latest time's bucket; late lines were never counted
    times = np.array([json.loads(r[3])["ts"] for r in rows])
    latest = -math.inf
    kept = []
    for r, t in zip(rows, times):
        bucket = t // 50
        if bucket > latest - 4:
            kept.append((r, bucket))
            latest = max(latest, bucket)
    for key, values in w.metrics()["slices"].items():
        mine = [(r[1], r[2]) for r, b in kept if r[0] == key and b > latest - 4]
        assert values["n_samples"] == len(mine)
        assert values["accuracy"] == pytest.approx(skm.accuracy_score(*zip(*mine)), rel=1e-12)


def test_watch_alert_per_slice_names_it(capsys):
    lines, _ = stream(bad=False)
    w = watcher("--y-true", "y", "--y-pred", "p", "--pos-label", "1", "--group-by", "c", "--alert", "accuracy<0.7",
                "--min-samples", "10")
    w.feed_lines(lines)
    w.check_alerts(w.metrics())
    err = capsys.readouterr().err
    assert "alert TRIPPED: accuracy<0.7 (slice 'US': accuracy=" in err
    assert "slice 'FR'" not in err and w.tripped
    assert w.slice_alerts.holding(w.alert_texts) == [("accuracy<0.7", "US")]


def test_watch_max_slices_counts_later_keys_as_other():
    lines, rows = stream(bad=False)
    w = watcher("--y-true", "y", "--y-pred", "p", "--pos-label", "1", "--group-by", "c", "--max-slices", "2",
                "--window", "10000")
    w.feed_lines(lines)
    got = w.metrics()["slices"]
    first = list(dict.fromkeys(r[0] for r in rows))[:2]
    assert list(got) == first + ["__other__"]
    other = [(y, p) for k, y, p, _ in rows if k not in first]
    assert got["__other__"]["n_samples"] == len(other)
    assert got["__other__"]["accuracy"] == pytest.approx(skm.accuracy_score(*zip(*other)), rel=1e-12)


def test_watch_group_by_usage_errors():
    parse = watch.add_arguments(argparse.ArgumentParser()).parse_args
    for argv in (["--pos-label", "1", "--max-slices", "3"], ["--pos-label", "1", "--max-label-values", "3"],
                 ["--pos-label", "1", "--group-by", ""]):
        with pytest.raises(watch.UsageError):
            watch.Watcher(parse(argv))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("cap", [None, 2])
def test_prometheus_slice_label_and_cap(cap):
    pytest.importorskip("prometheus_client")
    lines, rows = stream(bad=False)
    argv = ["--y-true", "y", "--y-pred", "p", "--pos-label", "1", "--group-by", "c", "--window", "10000",
            "--alert", "accuracy<0.7"] + ([] if cap is None else ["--max-label-values", str(cap)])
    w = watcher(*argv)
    w.feed_lines(lines)
    prom = _Prometheus(w, "127.0.0.1", free_port())
    try:
        metrics = w.metrics()
        w.check_alerts(metrics)
        prom.publish(metrics, w)
        reg = prom.registry
        keys = list(dict.fromkeys(r[0] for r in rows))
        exported = keys if cap is None else keys[:cap]
        for key in keys:
            mine = [(y, p) for k, y, p, _ in rows if k == key]
            value = reg.get_sample_value("streameval_slice_recall", {"slice": key})
            if key in exported:
                assert value == pytest.approx(skm.recall_score(*zip(*mine)), rel=1e-12)
                assert reg.get_sample_value("streameval_slice_samples_in_window", {"slice": key}) == len(mine)
            else:
                assert value is None
        assert reg.get_sample_value("streameval_slices") == 4
        assert reg.get_sample_value("streameval_slices_not_exported") == 4 - len(exported)
        assert reg.get_sample_value("streameval_slice_alert_active", {"alert": "accuracy<0.7", "slice": "US"}) == (
            1 if "US" in exported else None)
        assert reg.get_sample_value("streameval_accuracy") == pytest.approx(
            skm.accuracy_score([r[1] for r in rows], [r[2] for r in rows]), rel=1e-12)
    finally:
        prom.server.shutdown()
        prom.server.server_close()


def test_watch_command_json_lines_hold_the_slices(tmp_path):
    lines, rows = stream(bad=False)
    proc = subprocess.run([sys.executable, "-m", "streameval", "watch", "--y-true", "y", "--y-pred", "p",
                           "--pos-label", "1", "--group-by", "c", "--window", "10000", "--alert", "accuracy<0.7"],
                          input=b"\n".join(lines) + b"\n", capture_output=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    last = json.loads(proc.stdout.decode().splitlines()[-1])
    for key, values in last["slices"].items():
        mine = [(y, p) for k, y, p, _ in rows if k == key]
        assert values["n_samples"] == len(mine)
        assert values["f1"] == pytest.approx(skm.f1_score(*zip(*mine)), rel=1e-12)
    assert "(slice 'US': accuracy=" in proc.stderr.decode()
