"""`streameval evaluate` without labels and with --reference, `streameval watch --reference` /
--unlabelled: the real commands (in process) on small files, each number checked against scipy on
the binned rows or a brute-force CBPE expectation computed here."""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections import Counter

import numpy as np
import pytest
import scipy.spatial.distance as ssd
import scipy.stats as ss
from sklearn.metrics import accuracy_score

import streameval
from streameval import cli, watch

REL = 1e-12
BINS = 10
EDGES = np.linspace(0.0, 1.0, BINS + 1)
CENTRES = np.concatenate([EDGES[:1], (EDGES[:-1] + EDGES[1:]) / 2, EDGES[-1:]])  # bottom / top cells at the edges
Z95 = 1.959963984540054  # the normal 0.975 quantile


def close(value, reference, rel=REL):
    return math.isclose(value, reference, rel_tol=rel, abs_tol=1e-300)


# --- data ---------------------------------------------------------------------------------------------


def reference_scores():
    rng = np.random.default_rng(7)
    s = rng.random(400)
    return s, (rng.random(400) < s).astype(int)


def stream_scores(drifted):
    rng = np.random.default_rng(11)
    u = rng.random(300)
    return u * 0.6 if drifted else u  # drifted: every score below 0.6, most predicted negative


@pytest.fixture
def ref_path(tmp_path):
    s, y = reference_scores()
    acc = streameval.Binary(bins=BINS)
    acc.update(y, s)
    path = tmp_path / "ref.bin"
    acc.save(str(path))
    return path


def write_csv(path, scores, labels=None):
    head = "p" if labels is None else "y,p"
    rows = [repr(float(v)) if labels is None else f"{int(t)},{float(v)!r}" for v, t in
            zip(scores, labels if labels is not None else scores)]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


def evaluate(capsys, *args):
    code = cli.main(["evaluate", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- references computed here ---------------------------------------------------------------------------


def cells(scores):
    return np.bincount(np.searchsorted(EDGES, scores, side="right"), minlength=BINS + 2)


def textbook_psi(expected, actual):
    def shares(counts):
        out = [c / sum(counts) for c in counts]
        smallest = min(x for x in out if x > 0)
        fill = smallest / 1e6 if smallest <= 1e-4 else 1e-4
        return [x if x > 0 else fill for x in out]

    e, a = shares(list(map(float, expected))), shares(list(map(float, actual)))
    return sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a))


def scipy_drift(ref_scores, scores):
    """Every statistic of the binned rows, by scipy (and PSI by its textbook formula)."""
    e, a = cells(ref_scores), cells(scores)
    xe, xa = np.repeat(CENTRES, e), np.repeat(CENTRES, a)
    ks = ss.ks_2samp(xe, xa)
    pred_e = np.bincount((ref_scores >= 0.5).astype(int), minlength=2)
    pred_a = np.bincount((scores >= 0.5).astype(int), minlength=2)
    chi = ss.chi2_contingency(np.array([pred_e, pred_a]))
    return {"psi": (textbook_psi(e, a), None), "jensenshannon": (float(ssd.jensenshannon(e, a, base=2)), None),
            "ks": (float(ks.statistic), float(ks.pvalue)),
            "wasserstein": (ss.wasserstein_distance(CENTRES, CENTRES, e, a) / float(np.std(xe)), None),
            "chi2": (float(chi.statistic), float(chi.pvalue))}


def brute_cbpe(s):
    """The CBPE expectation of the unlabelled rows' metrics at threshold 0.5, sample by sample,
    with the accuracy's and precision's Poisson-binomial 95% intervals."""
    tp = fp = fn = tn = var = 0.0
    for p in map(float, s):
        if p >= 0.5:
            tp, fp = tp + p, fp + (1 - p)
        else:
            fn, tn = fn + p, tn + (1 - p)
        var += p * (1 - p)
    n, n_pos = len(s), int(np.sum(s >= 0.5))
    accuracy, precision = (tp + tn) / n, tp / (tp + fp)
    var_pos = sum(float(p) * (1 - float(p)) for p in s if p >= 0.5)
    return {"accuracy": accuracy, "precision": precision, "recall": tp / (tp + fn), "f1": 2 * tp / (2 * tp + fp + fn),
            "accuracy_bounds": (max(accuracy - Z95 * math.sqrt(var) / n, 0.0),
                                min(accuracy + Z95 * math.sqrt(var) / n, 1.0)),
            "precision_bounds": (max(precision - Z95 * math.sqrt(var_pos) / n_pos, 0.0),
                                 min(precision + Z95 * math.sqrt(var_pos) / n_pos, 1.0))}


def check_drift(drift, expected):
    for method, (statistic, p_value) in expected.items():
        assert close(drift[method]["statistic"], statistic), method
        if p_value is not None:
            assert close(drift[method]["p_value"], p_value, 1e-9), method


# --- evaluate --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("drifted", [False, True])
def test_evaluate_without_labels_drift_and_estimates(tmp_path, capsys, ref_path, drifted):
    s = stream_scores(drifted)
    data = write_csv(tmp_path / "unl.csv", s)
    code, out, _ = evaluate(capsys, data, "--score", "p", "--bins", BINS, "--reference", ref_path, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["labelled"] is False and report["rows"] == 300
    dist = report["prediction_distribution"]
    assert dist["n_samples"] == 300 and dist["n_labelled"] == 0
    assert dist["predicted"] == {"negative": int(np.sum(s < 0.5)), "positive": int(np.sum(s >= 0.5))}
    assert dist["score_histogram"]["counts"]["positive"] == cells(s).tolist()
    for q, (lo, hi) in dist["score_quantiles"]["positive"].items():  # the cell holding the quantile
        value = np.quantile(s, float(q), method="inverted_cdf")
        assert (lo is None or lo <= value) and (hi is None or value < hi)
    ref_s, _ = reference_scores()
    check_drift(report["drift"], scipy_drift(ref_s, s))
    assert all(report["drift"][m]["drifted"] == drifted for m in ("psi", "jensenshannon", "chi2"))
    truth = brute_cbpe(s)
    for metric in ("accuracy", "precision", "recall", "f1"):
        assert close(report["estimated"][metric]["value"], truth[metric]), metric
    for metric in ("accuracy", "precision"):
        low, high = truth[f"{metric}_bounds"]
        assert close(report["estimated"][metric]["low"], low, 1e-9)
        assert close(report["estimated"][metric]["high"], high, 1e-9)
    assert report["estimated"]["roc_auc"]["low"] is None  # the binned AUC has no interval


def test_evaluate_text_and_markdown(tmp_path, capsys, ref_path):
    data = write_csv(tmp_path / "unl.csv", stream_scores(True))
    code, out, _ = evaluate(capsys, data, "--score", "p", "--bins", BINS, "--reference", ref_path)
    assert code == 0
    assert "every row is unlabelled" in out and "drift psi:" in out and "DRIFTED" in out
    assert "estimated recall:" in out and "score quantiles (positive):" in out
    code, out, _ = evaluate(capsys, data, "--score", "p", "--format", "markdown")
    assert code == 0 and "| estimated accuracy |" in out and "drift" not in out  # no reference: no drift


def test_evaluate_labelled_rows_with_reference(tmp_path, capsys, ref_path):
    s = stream_scores(True)
    y = (np.random.default_rng(3).random(300) < s).astype(int)
    data = write_csv(tmp_path / "lab.csv", s, y)
    code, out, _ = evaluate(capsys, data, "--y-true", "y", "--score", "p", "--bins", BINS, "--reference", ref_path,
                            "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert close(report["accuracy"], accuracy_score(y, (s >= 0.5).astype(int)))
    check_drift(report["drift"], scipy_drift(reference_scores()[0], s))
    code, out, _ = evaluate(capsys, data, "--y-true", "y", "--score", "p", "--bins", BINS, "--reference", ref_path)
    assert code == 0 and "drift ks:" in out


def test_evaluate_label_predictions_without_labels(tmp_path, capsys):
    rng = np.random.default_rng(5)
    ref_pred = rng.choice(["cat", "dog", "emu"], 200, p=[0.5, 0.3, 0.2])
    ref = streameval.Multiclass(labels="auto")
    ref.update(ref_pred, ref_pred)
    ref.save(str(tmp_path / "ref.bin"))
    pred = rng.choice(["cat", "dog", "emu"], 150, p=[0.2, 0.3, 0.5])
    data = tmp_path / "pred.csv"
    data.write_text("pred\n" + "\n".join(pred) + "\n")
    code, out, _ = evaluate(capsys, data, "--y-pred", "pred", "--reference", tmp_path / "ref.bin", "--format", "json")
    assert code == 0
    report = json.loads(out)
    labels = list(ref.labels)  # the reference's classes, in its order
    counts = Counter(pred.tolist())
    assert report["prediction_distribution"]["predicted"] == {k: counts[k] for k in labels}
    assert report["estimated"] == {}  # labels carry no probabilities
    ref_counts = Counter(ref_pred.tolist())
    chi = ss.chi2_contingency(np.array([[ref_counts[k] for k in labels], [counts[k] for k in labels]]))
    assert close(report["drift"]["chi2"]["statistic"], chi.statistic)
    assert close(report["drift"]["chi2"]["p_value"], chi.pvalue, 1e-9)
    assert "ks" not in report["drift"]  # no score histograms
    e, a = [ref_counts[k] for k in labels], [counts[k] for k in labels]
    assert close(report["drift"]["psi"]["statistic"], textbook_psi(e, a))
    assert close(report["drift"]["jensenshannon"]["statistic"], float(ssd.jensenshannon(e, a, base=2)))


def test_evaluate_bad_references(tmp_path, capsys, ref_path):
    data = write_csv(tmp_path / "unl.csv", stream_scores(False))
    code, _, err = evaluate(capsys, data, "--score", "p", "--bins", 5, "--reference", ref_path)
    assert code == 1 and "--reference" in err and "bins=10" in err and "bins=5" in err  # both configurations
    code, _, err = evaluate(capsys, data, "--score", "p", "--reference", tmp_path / "missing.bin")
    assert code == 1 and "cannot read" in err
    (tmp_path / "junk.bin").write_bytes(b"not a checkpoint at all")
    code, _, err = evaluate(capsys, data, "--score", "p", "--reference", tmp_path / "junk.bin")
    assert code == 1 and "not a saved accumulator" in err
    with pytest.raises(SystemExit) as exc:  # usage errors exit 2
        cli.main(["evaluate", str(data), "--score", "p", "--bins", "3", "--group-by", "p"])
    assert exc.value.code == 2


# --- watch -------------------------------------------------------------------------------------------------


def lines_of(scores, labels=None, every=None):
    """JSON lines of scores; with labels, every `every`-th line labelled, the others without y_true
    (missing, or null on odd lines)."""
    out = []
    for i, p in enumerate(map(float, scores)):
        if labels is not None and every and i % every == 0:
            out.append(json.dumps({"y_true": int(labels[i]), "p": p}))
        elif i % 2:
            out.append(json.dumps({"y_true": None, "p": p}))
        else:
            out.append(json.dumps({"p": p}))
    return "\n".join(out) + "\n"


def run_watch(monkeypatch, capsys, args, text):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code = watch.main(["--interval", "1000", "--format", "json", *map(str, args)])
    out = capsys.readouterr()
    return code, json.loads(out.out.strip().splitlines()[-1]), out.err


@pytest.mark.parametrize("drifted", [False, True])
def test_watch_reference_alerts(monkeypatch, capsys, ref_path, drifted):
    s = stream_scores(drifted)
    code, last, err = run_watch(monkeypatch, capsys, ["--score", "p", "--reference", ref_path, "--window", 1000,
                                                      "--alert", "psi>0.2", "--alert", "estimated_recall<0.6"],
                                lines_of(s))
    assert code == (3 if drifted else 0)
    assert ("alert TRIPPED: psi>0.2" in err) == drifted
    assert ("alert TRIPPED: estimated_recall<0.6" in err) == drifted
    assert last["n_samples"] == 300 and last["n_labelled"] == 0 and last["malformed_lines"] == 0
    for method, (statistic, p_value) in scipy_drift(reference_scores()[0], s).items():
        assert close(last[method], statistic), method  # the reference's bins: ks and wasserstein apply
        if p_value is not None:
            assert close(last[f"{method}_p"], p_value, 1e-9)
    truth = brute_cbpe(s)
    for metric in ("accuracy", "precision", "recall", "f1"):
        assert close(last[f"estimated_{metric}"], truth[metric]), metric
    low, high = truth["accuracy_bounds"]
    assert close(last["estimated_accuracy_low"], low, 1e-9) and close(last["estimated_accuracy_high"], high, 1e-9)
    assert (set(last["drifted"]) >= {"psi", "chi2"}) == drifted


def test_watch_mixed_lines(monkeypatch, capsys):
    """--unlabelled: labelled lines feed the metrics, the others the estimates; the window holds both."""
    rng = np.random.default_rng(9)
    s = rng.random(240)
    y = (rng.random(240) < s).astype(int)
    text = lines_of(s, y, every=3)
    code, last, _ = run_watch(monkeypatch, capsys, ["--score", "p", "--unlabelled", "--window", 1000], text)
    assert code == 0
    labelled = np.arange(240) % 3 == 0
    assert last["n_samples"] == 240 and last["n_labelled"] == int(labelled.sum())
    assert close(last["accuracy"], accuracy_score(y[labelled], (s[labelled] >= 0.5).astype(int)))
    truth = brute_cbpe(s[~labelled])
    assert close(last["estimated_recall"], truth["recall"])
    assert "psi" not in last  # no reference, no drift
    # without --unlabelled the lines lacking y_true stay malformed
    code, last, _ = run_watch(monkeypatch, capsys, ["--score", "p", "--window", 1000], text)
    assert last["n_samples"] == int(labelled.sum())
    assert last["malformed"] == {"missing_key": int((~labelled & (np.arange(240) % 2 == 0)).sum()),
                                 "bad_value": int((~labelled & (np.arange(240) % 2 == 1)).sum())}


def test_watch_window_counts_in_stream_order(monkeypatch, capsys):
    """A window of 40 samples over mixed lines: the last 40 lines in stream order, as line by line."""
    rng = np.random.default_rng(4)
    s = rng.random(200)
    y = (rng.random(200) < s).astype(int)
    code, last, _ = run_watch(monkeypatch, capsys, ["--score", "p", "--unlabelled", "--window", 40, "--buckets", 4],
                              lines_of(s, y, every=3))
    window = streameval.Windowed(streameval.Binary(unlabelled=True), 40, buckets=4)
    for i in range(200):
        window.update([int(y[i])] if i % 3 == 0 else None, [float(s[i])])
    assert last["n_samples"] == window.n_samples and last["n_labelled"] == window.n_labelled
    assert close(last["estimated_f1"], float(window.estimated("f1").value))


def test_watch_bad_options(monkeypatch, capsys, ref_path, tmp_path):
    code, _, err = run_watch_error(monkeypatch, capsys, ["--score", "p", "--alert", "psi>0.2"])
    assert code == 2 and "needs --reference" not in err and "drift statistics need --reference" in err
    code, _, err = run_watch_error(monkeypatch, capsys, ["--score", "p", "--bins", 5, "--reference", ref_path])
    assert code == 1 and "--reference" in err and "bins=5" in err
    code, _, err = run_watch_error(monkeypatch, capsys, ["--labels", "a", "b", "--reference", ref_path])
    assert code == 1 and "Multiclass" in err


def run_watch_error(monkeypatch, capsys, args):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code = watch.main(["--format", "json", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_watch_prometheus_gauges(ref_path):
    """The gauges of a real prometheus_client registry equal the window's values."""
    pytest.importorskip("prometheus_client")
    from streameval._watch_output import _Prometheus

    args = watch.add_arguments(argparse.ArgumentParser()).parse_args(
        ["--score", "p", "--reference", str(ref_path), "--alert", "psi>0.2"])
    watcher = watch.Watcher(args)
    s = stream_scores(True)
    watcher.feed_lines([line.encode() for line in lines_of(s).splitlines()])
    metrics = watcher.metrics()
    watcher.check_alerts(metrics)
    prometheus = _Prometheus(watcher, "127.0.0.1", 0)
    try:
        prometheus.publish(metrics, watcher)
        value = prometheus.registry.get_sample_value
        expected = scipy_drift(reference_scores()[0], s)
        for method, (statistic, p_value) in expected.items():
            assert close(value("streameval_drift", {"method": method}), statistic), method
            assert value("streameval_drifted", {"method": method}) == float(metrics[method] is not None and
                                                                           method in metrics["drifted"])
            if p_value is not None:
                assert close(value("streameval_drift_p_value", {"method": method}), p_value, 1e-9)
        truth = brute_cbpe(s)
        for metric in ("accuracy", "precision", "recall", "f1"):
            assert close(value("streameval_estimated", {"metric": metric}), truth[metric])
        low, high = truth["precision_bounds"]
        assert close(value("streameval_estimated_low", {"metric": "precision"}), low, 1e-9)
        assert close(value("streameval_estimated_high", {"metric": "precision"}), high, 1e-9)
        assert value("streameval_labelled_in_window") == 0.0
        assert value("streameval_alert_active", {"alert": "psi>0.2"}) == 1.0
    finally:
        prometheus.server.shutdown()
        prometheus.server.server_close()
