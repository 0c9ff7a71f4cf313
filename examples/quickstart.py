"""streameval quick start: python examples/quickstart.py (needs only numpy and streameval)."""

import numpy as np

import streameval

K = 4  # classes 0..3
rng = np.random.default_rng(0)  # seeded, so every run prints the same numbers


def batch(n):
    """A mini-batch: true labels and noisy (n, K) probabilities that favour the true class."""
    y_true = rng.integers(0, K, n)
    logits = rng.normal(size=(n, K)) + 1.5 * np.eye(K)[y_true]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y_true, probs


# One accumulator for the whole stream: each update only adds to a (K, K) confusion matrix,
# so memory stays O(K^2) however many samples go through.
acc = streameval.Multiclass(K)
for step in range(20):
    y_true, probs = batch(256)
    if step % 2:
        acc.update(y_true, probs)  # (N, K) scores: reduced by argmax
    else:
        acc.update(y_true, probs.argmax(axis=1))  # (N,) labels: counted as they are

print(f"{acc.n_samples} samples  accuracy={acc.accuracy():.4f}  macro F1={acc.f1():.4f}")
print(acc.report())  # laid out like sklearn.metrics.classification_report
print(acc.compute(prefix="val/"))  # flat dict of floats, ready for a logger

# Distributed / multi-worker: each worker counts its own shard; adding counts is exact, so the
# merged result equals one accumulator that saw every sample.
workers = [streameval.Multiclass(K) for _ in range(3)]
for w in workers:
    for _ in range(5):
        w.update(*batch(128))
merged = workers[0] + workers[1] + workers[2]  # `+` returns a new accumulator
assert merged == sum(workers)  # sum() works too: 0 + acc is acc
print(f"merged: {merged.n_samples} samples, macro F1={merged.f1():.4f}")

# Checkpoint or ship over the network: a versioned, pickle-free payload.
payload = merged.to_bytes()
restored = streameval.from_bytes(payload)
assert restored == merged and restored.f1() == merged.f1()
print(f"to_bytes: {len(payload)} bytes, round trip OK")

# Binary on float scores: positive when score >= threshold (inclusive=False gives >).
scores_acc = streameval.Binary(threshold=0.7)
for _ in range(10):
    y = rng.integers(0, 2, 512)
    scores = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, 512), 0, 1).astype(np.float32)  # like probabilities
    scores_acc.update(y, scores)
print(f"Binary(threshold=0.7): precision={scores_acc.precision():.4f} recall={scores_acc.recall():.4f}")
print("confusion matrix [[tn, fp], [fn, tp]]:", scores_acc.confusion_matrix().tolist())
