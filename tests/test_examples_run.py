"""The example scripts added for issue 7 run as written, and the shipped example data is current.

(quickstart, dask_evaluate, torch_distributed and spark_evaluate are run by test_examples.py,
test_dask.py, test_torch_dist.py and test_spark.py.)
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], check=False, capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_training_loop():
    pytest.importorskip("torch")
    out = run_example("training_loop.py")
    assert "training loop metrics match scikit-learn: OK" in out
    assert out.count("(equal to scikit-learn)") == 3  # one report per epoch
    assert "macro avg" in out


def test_monitoring():
    out = run_example("monitoring.py")
    assert "ALERT: recall" in out
    assert "matches scikit-learn: OK" in out
    before_drift = out.split("[minute  60- 70]")[0]
    assert "ALERT" not in before_drift


def test_segmentation():
    out = run_example("segmentation.py")
    assert out.count("pixel accuracy") == 4  # one line per batch
    assert "segmentation metrics match scikit-learn: OK" in out


def test_threshold_by_cost():
    out = run_example("threshold_by_cost.py")
    assert "brute force with sklearn.metrics.confusion_matrix agrees: OK" in out
    assert "exact=True     threshold=" in out


def _make_data():
    spec = importlib.util.spec_from_file_location("make_data", EXAMPLES / "data" / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_predictions_csv_is_what_make_data_generates():
    make_data = _make_data()
    committed = (EXAMPLES / "data" / "predictions.csv").read_bytes()
    assert committed == make_data.generate().encode(), "run: python examples/data/make_data.py"
    assert len(committed) < 200_000


def test_predictions_csv_contents():
    import csv

    with open(EXAMPLES / "data" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 569  # every sample of scikit-learn's breast cancer data set
    assert list(rows[0]) == ["y_true", "y_pred", "y_true_binary", "score"]
    assert {r["y_true"] for r in rows} == {r["y_pred"] for r in rows} == {"benign", "malignant"}
    assert all(r["y_true_binary"] == str(int(r["y_true"] == "malignant")) for r in rows)
    assert all(r["y_pred"] == ("malignant" if float(r["score"]) >= 0.5 else "benign") for r in rows
               if abs(float(r["score"]) - 0.5) > 1e-4)  # the score is rounded to 4 decimals
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)


def test_make_data_check_mode():
    result = subprocess.run([sys.executable, str(EXAMPLES / "data" / "make_data.py"), "--check"],
                            check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_predictions_csv_metrics_match_sklearn():
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    import streameval

    data = np.genfromtxt(EXAMPLES / "data" / "predictions.csv", delimiter=",", names=True, dtype=None,
                         encoding="utf-8")
    multi = streameval.Multiclass(labels="auto")
    multi.update(data["y_true"], data["y_pred"])
    assert multi.labels == ("benign", "malignant")
    assert multi.accuracy() == accuracy_score(data["y_true"], data["y_pred"])
    assert np.isclose(multi.f1(), f1_score(data["y_true"], data["y_pred"], average="macro"), rtol=0, atol=1e-12)
    binary = streameval.Binary(exact=True)
    binary.update(data["y_true_binary"], data["score"].astype(float))
    assert np.isclose(binary.roc_auc(), roc_auc_score(data["y_true_binary"], data["score"]), rtol=0, atol=1e-12)
