"""`streameval evaluate` run as a subprocess on files written here, checked against scikit-learn
(reading the same file with pandas) and the Python API."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import streameval

pa = pytest.importorskip("pyarrow")
import pyarrow.feather as feather  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def run(*args):
    """Run `python -m streameval ...`; (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "streameval", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def frame(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    score = np.clip(0.35 * y_true + 0.65 * rng.random(n), 0, 1).round(4)
    names = np.array(["cat", "dog", "owl"])
    yt3 = rng.integers(0, 3, n)
    yp3 = np.where(rng.random(n) < 0.7, yt3, rng.integers(0, 3, n))
    probs = rng.random((n, 3))
    return pd.DataFrame({"y_true": y_true, "score": score, "y_pred": (score >= 0.5).astype(int),
                         "animal": names[yt3], "guess": names[yp3], "c3": yt3,
                         "p0": probs[:, 0], "p1": probs[:, 1], "p2": probs[:, 2], "w": rng.random(n).round(3)})


def json_out(*args):
    code, out, err = run(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_csv_binary_scores_match_sklearn_and_api(tmp_path):
    path = tmp_path / "preds.csv"
    frame().to_csv(path, index=False)
    df = pd.read_csv(path)
    pred = (df.score >= 0.5).astype(int)
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--score", "score", "--bins", "50")
    assert code == 0 and err == ""
    assert out.startswith(skm.classification_report(df.y_true, pred))
    assert f"rows: {len(df)}\naccuracy: {skm.accuracy_score(df.y_true, pred):.4f}\n" in out
    # binned AUC: said to be approximate, with a bracket that holds scikit-learn's exact AUC
    auc = skm.roc_auc_score(df.y_true, df.score)
    line = next(line for line in out.splitlines() if line.startswith("roc_auc: "))
    lo, hi = map(float, line[line.index("[") + 1: line.index("]")].split(", "))
    assert "approximate" in line and lo <= round(auc, 4) <= hi and lo < hi
    assert "approximate" in next(line for line in out.splitlines() if line.startswith("average_precision: "))
    data = json_out("evaluate", path, "--y-true", "y_true", "--score", "score", "--bins", "50")
    acc = streameval.Binary(bins=50)
    acc.update(df.y_true.to_numpy(), df.score.to_numpy())
    assert data["metrics"] == pytest.approx(acc.compute())
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(df.y_true, pred))
    assert data["metrics"]["f1"] == pytest.approx(skm.f1_score(df.y_true, pred))
    assert data["roc_auc"] == pytest.approx(acc.roc_auc())
    assert data["roc_auc"] == pytest.approx(skm.roc_auc_score(df.y_true, df.score), abs=0.01)
    assert data["roc_auc_bounds"][0] <= skm.roc_auc_score(df.y_true, df.score) <= data["roc_auc_bounds"][1]
    assert data["score_bins"] == 50 and data["rows"] == len(df) and data["weight_total"] is None
    assert data["report"]["1"]["recall"] == pytest.approx(skm.recall_score(df.y_true, pred))


@pytest.mark.parametrize("ext", ["parquet", "arrow", "feather", "jsonl"])
def test_formats_string_labels(tmp_path, ext):
    df = frame(seed=1)
    path = tmp_path / f"preds.{ext}"
    table = pa.Table.from_pandas(df, preserve_index=False)
    if ext == "parquet":
        pq.write_table(table, path, row_group_size=300)
    elif ext == "arrow":
        with pa.ipc.new_file(path, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=500):
                writer.write_batch(batch)
    elif ext == "feather":
        feather.write_feather(table, path, chunksize=700)
    else:
        df.to_json(path, orient="records", lines=True)
    ref = pd.read_json(path, lines=True) if ext == "jsonl" else pd.read_parquet(path) if ext == "parquet" else pd.read_feather(path)
    code, out, err = run("evaluate", path, "--y-true", "animal", "--y-pred", "guess")
    assert code == 0, err
    assert out.startswith(skm.classification_report(ref.animal, ref.guess))
    assert f"accuracy: {skm.accuracy_score(ref.animal, ref.guess):.4f}" in out


def test_multi_file_equals_concatenation_and_weights(tmp_path):
    df = frame(seed=2)
    df.iloc[:700].to_csv(tmp_path / "a.csv", index=False)
    pq.write_table(pa.Table.from_pandas(df.iloc[700:], preserve_index=False), tmp_path / "b.parquet")
    data = json_out("evaluate", tmp_path / "a.csv", tmp_path / "b.parquet", "--y-true", "c3", "--y-pred", "c3",
                    "--weight", "w")
    assert data["weight_total"] == pytest.approx(df.w.sum()) and data["rows"] == len(df)
    data = json_out("evaluate", tmp_path / "a.csv", tmp_path / "b.parquet", "--y-true", "y_true", "--y-pred", "y_pred",
                    "--weight", "w")
    assert data["metrics"]["f1_macro"] == pytest.approx(skm.f1_score(df.y_true, df.y_pred, average="macro", sample_weight=df.w))


def test_multiclass_scores(tmp_path):
    df = frame(seed=3)
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    data = json_out("evaluate", path, "--y-true", "c3", "--score", "p0", "p1", "p2", "--bins", "100")
    probs = df[["p0", "p1", "p2"]].to_numpy()
    assert data["accuracy"] == pytest.approx(skm.accuracy_score(df.c3, probs.argmax(1)))
    acc = streameval.Multiclass(3, bins=100)
    acc.update(df.c3.to_numpy(), probs)
    assert data["roc_auc"] == pytest.approx(acc.roc_auc())
    code, out, err = run("evaluate", path, "--y-true", "animal", "--score", "p0", "p1", "p2", "--labels", "cat", "dog", "owl")
    assert code == 0, err
    names = np.array(["cat", "dog", "owl"])
    assert out.startswith(skm.classification_report(df.animal, names[probs.argmax(1)]))


def test_bad_rows_error_and_skip(tmp_path):
    n = 80_000  # more than one 1 MiB CSV block: the row number counts across chunks
    df = frame(n, seed=4)[["y_true", "score"]].astype({"score": object})
    df.loc[5, "score"] = "x"
    df.loc[n - 10, "score"] = None
    df.loc[n - 5, "y_true"] = 7
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--score", "score")
    assert code == 1 and out == ""
    assert err.strip().endswith("bad.csv: row 6: column 'score': 'x' is not a number") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    df.loc[5, "score"] = 0.2
    df.to_csv(path, index=False)
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--score", "score")
    assert code == 1 and f"bad.csv: row {n - 9}: column 'score': empty (null)" in err
    df.loc[n - 10, "score"] = 0.3
    df.to_csv(path, index=False)
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--score", "score")
    assert code == 1 and f"bad.csv: row {n - 4}: column 'y_true' = 7 is not a class" in err
    df.loc[5, "score"] = "nan"
    df.loc[9, "score"] = "oops"
    df.to_csv(path, index=False)
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--score", "score", "--on-bad-row", "skip", "--format", "json")
    assert code == 0 and "skipped 3 bad rows" in err
    ref = pd.read_csv(path)
    ref["score"] = pd.to_numeric(ref.score, errors="coerce")
    ref = ref[np.isfinite(ref.score) & ref.y_true.isin([0, 1])]
    assert json.loads(out)["accuracy"] == pytest.approx(skm.accuracy_score(ref.y_true, ref.score >= 0.5))


def test_unknown_label_with_labels_option(tmp_path):
    df = frame(100, seed=5)
    df.loc[41, "guess"] = "emu"
    path = tmp_path / "animals.jsonl"
    df.to_json(path, orient="records", lines=True)
    args = ["evaluate", path, "--y-true", "animal", "--y-pred", "guess", "--labels", "cat", "dog", "owl"]
    code, out, err = run(*args)
    assert code == 1 and "animals.jsonl: row 42: column 'guess' = 'emu' is not one of the labels" in err
    code, out, err = run(*args, "--on-bad-row", "skip")
    keep = df.drop(index=41)
    assert code == 0 and err.strip() == "streameval: skipped 1 bad row"
    assert out.startswith(skm.classification_report(keep.animal, keep.guess, labels=["cat", "dog", "owl"]))


def test_data_and_usage_errors(tmp_path):
    path = tmp_path / "p.csv"
    frame(50).to_csv(path, index=False)
    code, out, err = run("evaluate", path, "--y-true", "truth", "--y-pred", "y_pred")
    assert code == 1 and "no column 'truth'" in err and "y_true, score, y_pred" in err and "Traceback" not in err
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    code, out, err = run("evaluate", tmp_path / "junk.parquet", "--y-true", "a", "--y-pred", "b")
    assert code == 1 and "junk.parquet: cannot read" in err and "Traceback" not in err
    code, out, err = run("evaluate", tmp_path / "missing.csv", "--y-true", "a", "--y-pred", "b")
    assert code == 1 and "no such file" in err
    code, out, err = run("evaluate", tmp_path / "p.txt", "--y-true", "a", "--y-pred", "b")
    assert code == 1 and "unknown file type" in err
    code, out, err = run("evaluate", path, "--y-true", "y_true")
    assert code == 2 and "--y-pred" in err
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--y-pred", "y_pred", "--bins", "10")
    assert code == 2 and "--bins needs --score" in err


def test_markdown_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "p.csv"
    frame(300).to_csv(path, index=False)
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--y-pred", "y_pred", "--format", "markdown",
                         "--plot", tmp_path / "cm.png")
    assert code == 0, err
    assert "| accuracy |" in out and (tmp_path / "cm.png").stat().st_size > 0
    code, out, err = run("evaluate", path, "--y-true", "y_true", "--score", "score", "--bins", "20", "--plot", tmp_path / "roc.png")
    assert code == 0, err
    assert (tmp_path / "roc.png").stat().st_size > 0


def test_import_does_not_load_pyarrow():
    code = "import sys, streameval, streameval.cli; assert 'pyarrow' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_readme_main_job_on_the_shipped_example_data():
    """README's first command: evaluate examples/data/predictions.csv; equal to scikit-learn."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    pandas = pytest.importorskip("pandas")
    skm = pytest.importorskip("sklearn.metrics")
    data = Path(__file__).resolve().parents[1] / "examples" / "data" / "predictions.csv"
    done = subprocess.run([sys.executable, "-m", "streameval", "evaluate", str(data), "--y-true", "y_true",
                           "--y-pred", "y_pred", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    frame = pandas.read_csv(data)
    assert result["rows"] == len(frame)
    assert result["accuracy"] == skm.accuracy_score(frame.y_true, frame.y_pred)
    assert result["report"] == skm.classification_report(frame.y_true, frame.y_pred, output_dict=True)
    # and the report README shows is the one this command prints today
    text = subprocess.run([sys.executable, "-m", "streameval", "evaluate", str(data), "--y-true", "y_true",
                           "--y-pred", "y_pred"], capture_output=True, text=True, timeout=120).stdout
    readme = (data.parents[2] / "README.md").read_text()
    assert "```text\n" + text.rstrip("\n") + "\n```" in readme
