"""Choosing a decision threshold by cost: python examples/threshold_by_cost.py

A fraud model flags a transaction when its score reaches a threshold. A false alarm (FP) costs a
manual review, 1 unit; a missed fraud (FN) costs 25 units. The best threshold minimizes
1 * FP + 25 * FN over the scores seen, which a streaming accumulator with score state answers
without keeping the scores:

- ``Binary(exact=True)`` keeps every distinct score: ``min_cost_threshold`` is the exact optimum;
- ``Binary(bins=200)`` keeps two fixed-size histograms: the optimum over the 201 bin edges.

Both are checked against a brute-force search that classifies the raw scores at every candidate
threshold and counts the winner's cost with scikit-learn's confusion_matrix. Needs numpy, scikit-learn
and streameval; seeded, so every run prints the same numbers.
"""

import numpy as np
from sklearn.metrics import confusion_matrix, precision_score, recall_score

import streameval

FP_COST, FN_COST = 1.0, 25.0
rng = np.random.default_rng(7)


def batch(n):
    """A mini-batch: about 5% fraud, scores that are higher (but noisy) for fraud."""
    y = (rng.random(n) < 0.05).astype(int)
    scores = 1 / (1 + np.exp(-(rng.normal(-2.0, 1.2, n) + 2.5 * y)))  # squashed into (0, 1)
    return y, np.round(scores, 4)  # rounded: some scores repeat, as real model outputs do


def brute_force(y, scores, candidates):
    """(threshold, cost) minimizing FP_COST * FP + FN_COST * FN over candidates, ties to the highest.

    Classifies every raw score at every candidate (a candidates x samples table), then counts the
    winner's cost again with scikit-learn's confusion_matrix.
    """
    candidates = np.sort(np.asarray(candidates, dtype=float))[::-1]  # highest first: ties to it
    flagged = scores[None, :] >= candidates[:, None]
    fp = (flagged & (y == 0)).sum(axis=1)
    fn = (~flagged & (y == 1)).sum(axis=1)
    best = int(np.argmin(FP_COST * fp + FN_COST * fn))  # the first minimum: the highest threshold
    t = float(candidates[best])
    _, fp, fn, _ = confusion_matrix(y, (scores >= t).astype(int), labels=[0, 1]).ravel()
    return t, float(FP_COST * fp + FN_COST * fn)


exact = streameval.Binary(exact=True)
binned = streameval.Binary(bins=200)  # uniform bins of [0, 1]: edges 0, 0.005, ..., 1
seen_y, seen_scores = [], []  # kept only to check the answer at the end
for _ in range(20):
    y, scores = batch(500)
    exact.update(y, scores)
    binned.update(y, scores)
    seen_y.append(y)
    seen_scores.append(scores)
y, scores = np.concatenate(seen_y), np.concatenate(seen_scores)
print(f"{exact.n_samples} transactions, {int(y.sum())} frauds; cost: FP={FP_COST:g}, FN={FN_COST:g}")


def show(name, acc):
    t = acc.min_cost_threshold(fp_cost=FP_COST, fn_cost=FN_COST)
    at = acc.at_threshold(t)  # exact counts at the chosen threshold
    (_, fp), (fn, _) = at.confusion_matrix()
    cost = FP_COST * fp + FN_COST * fn
    print(f"{name:<14} threshold={t:.4f}  cost={cost:g}  (FP={fp}, FN={fn})  "
          f"precision={at.precision():.3f}  recall={at.recall():.3f}")
    return t, cost, at


t_exact, cost_exact, at_exact = show("exact=True", exact)
t_binned, cost_binned, _ = show("bins=200", binned)
t_default = 0.5
(_, fp5), (fn5, _) = exact.at_threshold(t_default).confusion_matrix()
print(f"{'default 0.5':<14} threshold={t_default:.4f}  cost={FP_COST * fp5 + FN_COST * fn5:g}  (FP={fp5}, FN={fn5})")

# Independent check: brute force over the raw scores with scikit-learn.
bf_t, bf_cost = brute_force(y, scores, np.unique(scores))
assert (t_exact, cost_exact) == (bf_t, bf_cost), ((t_exact, cost_exact), (bf_t, bf_cost))
assert at_exact.precision() == precision_score(y, scores >= t_exact)
assert at_exact.recall() == recall_score(y, scores >= t_exact)
bf_t, bf_cost = brute_force(y, scores, np.linspace(0, 1, 201))
assert np.isclose(t_binned, bf_t) and cost_binned == bf_cost, ((t_binned, cost_binned), (bf_t, bf_cost))
assert cost_exact <= cost_binned  # the exact optimum is at least as good as the best bin edge
print("brute force with sklearn.metrics.confusion_matrix agrees: OK")
