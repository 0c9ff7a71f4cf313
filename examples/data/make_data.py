"""Regenerate examples/data/predictions.csv exactly: python examples/data/make_data.py

Real predictions of a real classifier: logistic regression (after standard scaling) on the
breast cancer data set bundled with scikit-learn (569 tumours, no download). Every sample is
predicted by the model of a 5-fold cross-validation that did not see it (cross_val_predict), so
the file holds honest out-of-sample predictions for the whole data set. Columns:

- ``y_true``: the diagnosis, "malignant" or "benign";
- ``y_pred``: the model's diagnosis (malignant when its probability of malignant is above 0.5);
- ``y_true_binary``: 1 for malignant (the positive class), else 0;
- ``score``: the model's probability of malignant, 4 decimals.

The fit is deterministic (lbfgs, fixed folds), so running this script rewrites the committed file
byte for byte (tests/test_examples_run.py checks that); ``--check`` exits 1 if it differs.
"""

import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PATH = Path(__file__).resolve().parent / "predictions.csv"


def generate() -> str:
    """The CSV text: a header and one row per sample, "\\n" line endings."""
    data = load_breast_cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    proba = cross_val_predict(model, data.data, data.target, cv=folds, method="predict_proba")
    malignant = list(data.target_names).index("malignant")
    lines = ["y_true,y_pred,y_true_binary,score"]
    for target, p in zip(data.target, proba[:, malignant]):
        truth = data.target_names[target]
        predicted = "malignant" if p > 0.5 else "benign"
        lines.append(f"{truth},{predicted},{int(truth == 'malignant')},{p:.4f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = generate()
    if "--check" in sys.argv[1:]:
        same = PATH.exists() and PATH.read_text() == text
        print(f"{PATH.name}: {'up to date' if same else 'DIFFERS from make_data.py'}")
        sys.exit(0 if same else 1)
    PATH.write_bytes(text.encode())
    print(f"wrote {PATH} ({text.count(chr(10)) - 1} rows, {len(text.encode())} bytes)")
