"""Regenerate examples/data/predictions.csv exactly: python examples/data/make_data.py

The file is a model's predictions on 2,000 samples, for trying the command line and the examples
on real-looking data without a model. Columns:

- ``y_true``: the true class, one of the strings "bird", "cat", "dog";
- ``y_pred``: the predicted class, same strings (about 80% correct);
- ``y_true_binary``: the binary view, 1 when y_true is "cat", else 0;
- ``score``: the model's probability that the sample is a cat, in [0, 1], 4 decimals.

Everything is drawn from one seeded generator and written with fixed formatting, so running this
script rewrites the committed file byte for byte (tests/test_examples_run.py checks that).
``python examples/data/make_data.py --check`` exits 1 if the committed file differs.
"""

import sys
from pathlib import Path

import numpy as np

CLASSES = ("bird", "cat", "dog")
N = 2000
SEED = 20240607
PATH = Path(__file__).resolve().parent / "predictions.csv"


def generate() -> str:
    """The CSV text: a header and N rows, "\\n" line endings."""
    rng = np.random.default_rng(SEED)
    y_true = rng.choice(len(CLASSES), size=N, p=[0.3, 0.4, 0.3])
    # Noisy logits that favour the true class; the prediction is their argmax.
    logits = rng.normal(size=(N, len(CLASSES))) + 2.0 * np.eye(len(CLASSES))[y_true]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_pred = probs.argmax(axis=1)
    cat = CLASSES.index("cat")
    lines = ["y_true,y_pred,y_true_binary,score"]
    for t, p, s in zip(y_true, y_pred, probs[:, cat]):
        lines.append(f"{CLASSES[t]},{CLASSES[p]},{int(t == cat)},{s:.4f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = generate()
    if "--check" in sys.argv[1:]:
        same = PATH.exists() and PATH.read_text() == text
        print(f"{PATH.name}: {'up to date' if same else 'DIFFERS from make_data.py'}")
        sys.exit(0 if same else 1)
    PATH.write_bytes(text.encode())
    print(f"wrote {PATH} ({N} rows, {len(text.encode())} bytes)")
