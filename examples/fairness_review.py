"""A classifier's fairness review with streameval.Sliced, checked against fairlearn and scikit-learn.

A loan model's decisions arrive in batches; each carries the applicant's group and region. One
Sliced(Binary()) counts every batch per group (and per group x region) in one pass. The review:
recall per group, the largest gap (fairlearn's MetricFrame.difference), demographic parity and
equalized odds, and the worst slices with Wilson intervals, small slices left out.

    .venv/bin/python examples/fairness_review.py
"""

from __future__ import annotations

import numpy as np

import streameval

rng = np.random.default_rng(16)
GROUPS = np.array(["A", "B", "C", "D"])
REGIONS = np.array(["north", "south", "east"])


def batch(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    group = GROUPS[rng.choice(4, n, p=[0.5, 0.3, 0.19, 0.01])]
    region = REGIONS[rng.integers(0, 3, n)]
    y_true = (rng.random(n) < 0.4).astype(int)
    miss = np.select([group == "B", group == "D"], [0.35, 0.5], 0.15)  # the model misses more of B's positives
    y_pred = np.where(y_true == 1, rng.random(n) > miss, rng.random(n) < 0.1).astype(int)
    return y_true, y_pred, group, region


by_group = streameval.Sliced(streameval.Binary())
by_cell = streameval.Sliced(streameval.Binary(), max_slices=50)
seen = []
for _ in range(20):  # batches of a day's decisions
    y_true, y_pred, group, region = batch(5_000)
    by_group.update(y_true, y_pred, by=group)
    by_cell.update(y_true, y_pred, by=(group, region))  # crossed slices: (group, region) keys
    seen.append((y_true, y_pred, group, region))

print("recall per group:")
for key, value in sorted(by_group.by_slice("recall").items()):
    print(f"  {key}: {value:.3f}  ({by_group[key].n_samples:,} samples)")
print(f"overall recall: {by_group.overall.recall():.3f}")
print(f"largest recall gap between groups: {by_group.difference('recall'):.3f}")
print(f"recall ratio (smallest / largest): {by_group.ratio('recall'):.3f}")
print(f"demographic parity difference: {by_group.demographic_parity_difference():.3f}")
print(f"equalized odds difference: {by_group.equalized_odds_difference():.3f}")
print("worst (group, region) slices by recall, at least 500 samples, 95% Wilson intervals:")
for row in by_cell.worst("recall", k=3, min_support=500):
    print(f"  {row.key}: {row.value:.3f} [{row.low:.3f}, {row.high:.3f}]  ({row.support:,} samples)")

# The same review with fairlearn and scikit-learn on every sample kept in memory.
y_true, y_pred, group, region = (np.concatenate(parts) for parts in zip(*seen))
try:
    import pandas as pd
    from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference
except ImportError:
    print("fairlearn is not installed: comparison skipped")
else:
    from sklearn.metrics import recall_score

    frame = MetricFrame(metrics=recall_score, y_true=y_true, y_pred=y_pred, sensitive_features=pd.Series(group))
    for key, value in frame.by_group.items():
        assert abs(by_group.by_slice("recall")[key] - value) < 1e-12
        assert by_group[key].recall() == recall_score(y_true[group == key], y_pred[group == key])
    assert abs(by_group.difference("recall") - frame.difference()) < 1e-12
    assert abs(by_group.ratio("recall") - frame.ratio()) < 1e-12
    assert abs(by_group.demographic_parity_difference()
               - demographic_parity_difference(y_true, y_pred, sensitive_features=group)) < 1e-12
    assert abs(by_group.equalized_odds_difference()
               - equalized_odds_difference(y_true, y_pred, sensitive_features=group)) < 1e-12
    for row in by_cell.worst("recall", k=3, min_support=500):
        mask = (group == row.key[0]) & (region == row.key[1])
        assert abs(row.value - recall_score(y_true[mask], y_pred[mask])) < 1e-12
    print("fairness review matches fairlearn and scikit-learn: OK")
