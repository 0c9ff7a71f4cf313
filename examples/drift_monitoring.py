"""Monitoring before the labels arrive: python examples/drift_monitoring.py

A fraud model goes into production. Its labels (was it fraud?) arrive LABEL_DELAY windows late,
so for the first windows there are none at all. What the monitor does with the predictions alone:

- the reference is the validation set, counted once in a ``Binary(bins=20, unlabelled=True)``
  (labelled: its score histogram is what production is compared with);
- production counts each batch of scores without labels, ``update(None, scores)``, in a
  ``Windowed(Binary(bins=20, unlabelled=True), SIZE, step=SIZE)`` (tumbling windows of SIZE
  predictions; no scores are stored, only the 20-bin histogram and the exact CBPE sums);
- as each window closes it prints the drift of its score distribution against the reference
  (``drift(reference, "psi")`` and ``"ks"``) and the estimated recall with its 95% interval
  (``estimated("recall")``, confidence-based performance estimation: it assumes the scores are
  calibrated probabilities), and raises an alert when PSI reaches 0.1 or the estimated recall
  falls below ALERT_RECALL;
- when the labels of a window arrive they are counted in a labelled ``Binary(bins=20)`` of that
  window, whose realised recall is printed beside the estimate made while the window was still
  unlabelled, with the window's ``expected_calibration_error()``.

The story: the input distribution shifts at window SHIFT_AT (the risky population's scores sink
towards the threshold, and recall falls). The model stays calibrated, so the estimate tracks the
realised recall. From window MISCALIBRATED_AT a new kind of fraud appears that the model scores as
low risk (below the threshold the true fraud rate is twice the score): the scores no longer mean
what they say, the estimate is too high, and the expected calibration error of the labelled
windows gives it away. The estimate is only as good as the calibration.

The script checks itself (the alerts fire after the shift and not before, the estimates track the
realised recall while the model is calibrated and miss it, flagged by the calibration error, when
it is not) and compares printed numbers with independent computations on the raw samples: PSI by
its textbook formula, KS with scipy.stats.ks_2samp, the estimated recall by brute force, the
realised recall with scikit-learn, the calibration error with numpy. Seeded: every run prints the
same lines. Needs numpy, scipy, scikit-learn and streameval.
"""

import numpy as np
from scipy import stats
from sklearn.metrics import recall_score

import streameval

SIZE = 2000  # predictions a window
WINDOWS = 12
SHIFT_AT = 4  # the input distribution shifts from this window on
MISCALIBRATED_AT = 9  # and from this one the model is no longer calibrated
LABEL_DELAY = 3  # the labels of window w arrive with window w + LABEL_DELAY
ALERT_RECALL = 0.55
rng = np.random.default_rng(17)


def draw_scores(n, shifted):
    """30% risky transactions scored Beta(5, 2) (after the shift Beta(3, 3)), the rest Beta(1, 6)."""
    risky = rng.random(n) < 0.3
    risky_scores = rng.beta(3, 3, n) if shifted else rng.beta(5, 2, n)
    return np.where(risky, risky_scores, rng.beta(1, 6, n))


def draw_labels(scores, miscalibrated):
    """Fraud with probability P(y=1 | s) = s (calibrated), or twice s below the threshold."""
    p = np.where(scores < 0.5, np.minimum(2 * scores, 1.0), scores) if miscalibrated else scores
    return (rng.random(scores.shape[0]) < p).astype(int)


# --- the reference: the validation set, labelled ----------------------------------------------------
val_scores = draw_scores(10_000, shifted=False)
val_labels = draw_labels(val_scores, miscalibrated=False)
reference = streameval.Binary(bins=20, unlabelled=True)
reference.update(val_labels, val_scores)
print(f"reference: {reference.n_samples} validation samples, recall {reference.recall():.3f}, "
      f"expected calibration error {reference.expected_calibration_error(n_bins=10):.4f}")

# --- production ----------------------------------------------------------------------------------------
live = streameval.Windowed(streameval.Binary(bins=20, unlabelled=True), SIZE, step=SIZE)
rows = []  # one per window: what was known when it closed, and what the labels said later
raw = []  # (scores, labels) of each window: the labels wait here until they "arrive"; also for the checks


def labels_arrive(w):
    """The labels of window w arrive: count them with its scores in a labelled accumulator."""
    scores, labels = raw[w]
    labelled = streameval.Binary(bins=20)
    labelled.update(labels, scores)
    row = rows[w]
    row["realised"] = labelled.recall()
    row["ece"] = labelled.expected_calibration_error(n_bins=10)
    row["inside"] = row["low"] <= row["realised"] <= row["high"]
    print(f"           labels of window {w} arrive: realised recall {row['realised']:.3f} "
          f"({'inside' if row['inside'] else 'OUTSIDE'} the estimate's interval), calibration error {row['ece']:.3f}")


print(f"\nwindows of {SIZE} predictions; labels arrive {LABEL_DELAY} windows late")
for w in range(WINDOWS):
    scores = draw_scores(SIZE, shifted=w >= SHIFT_AT)
    raw.append((scores, draw_labels(scores, miscalibrated=w >= MISCALIBRATED_AT)))
    live.update(None, scores)  # no labels yet: the prediction side only
    psi, ks = live.drift(reference, "psi"), live.drift(reference, "ks")
    estimate = live.estimated("recall")
    rows.append({"psi": psi, "ks": ks, "estimate": estimate.value, "low": estimate.low, "high": estimate.high,
                 "alert": psi.drifted, "recall_alert": estimate.value < ALERT_RECALL})
    flags = ("  DRIFT" if psi.drifted else "") + ("  LOW RECALL" if estimate.value < ALERT_RECALL else "")
    print(f"window {w:2d}: n={live.n_samples} labelled={live.n_labelled}  psi={psi.statistic:.3f}  "
          f"ks={ks.statistic:.3f} (p={ks.p_value:.2g})  estimated recall {estimate.value:.3f} "
          f"[{estimate.low:.3f}, {estimate.high:.3f}]{flags}")
    if w >= LABEL_DELAY:
        labels_arrive(w - LABEL_DELAY)
for w in range(WINDOWS - LABEL_DELAY, WINDOWS):  # the last labels arrive after the stream
    labels_arrive(w)

print("\nwindow  phase            psi  ks p-value  alert  estimated recall (unlabelled)  realised  calibration error")
for w, row in enumerate(rows):
    phase = "as validation" if w < SHIFT_AT else "shifted" if w < MISCALIBRATED_AT else "miscalibrated"
    alert = "yes" if row["alert"] else "no"
    print(f"{w:6d}  {phase:<13}  {row['psi'].statistic:5.3f}  {row['ks'].p_value:10.2g}  {alert:>5}  "
          f"{row['estimate']:.3f} [{row['low']:.3f}, {row['high']:.3f}]{'':9}{row['realised']:6.3f}"
          f"{'' if row['inside'] else '*':1}   {row['ece']:.3f}")
print("(* outside the interval of the estimate)")

# --- checks ------------------------------------------------------------------------------------------
calibrated = range(MISCALIBRATED_AT)
miscalibrated = range(MISCALIBRATED_AT, WINDOWS)
# drift alerts fire after the shift and not before; KS agrees after the shift
assert [row["alert"] for row in rows] == [w >= SHIFT_AT for w in range(WINDOWS)]
assert all(rows[w]["ks"].drifted for w in range(SHIFT_AT, WINDOWS))
assert [row["recall_alert"] for row in rows] == [w >= SHIFT_AT for w in range(WINDOWS)]
# while the model is calibrated, the estimate made before the labels tracks the realised recall
inside = sum(rows[w]["inside"] for w in calibrated)
assert inside >= len(calibrated) - 1, inside  # a 95% interval: all, or all but one
assert all(abs(rows[w]["estimate"] - rows[w]["realised"]) < 0.05 for w in calibrated)
assert all(rows[w]["ece"] < 0.05 for w in calibrated)
# miscalibrated: the estimate is too high, and the calibration error of the labelled windows says so
assert all(rows[w]["realised"] < rows[w]["low"] for w in miscalibrated)
assert all(rows[w]["ece"] > 0.1 for w in miscalibrated)

# independent computations on the raw samples
edges = np.linspace(0.0, 1.0, 21)  # bins=20: cells [0, 0.05), ..., [0.95, 1), plus one below 0 and one at 1
centres = np.concatenate([edges[:1], (edges[:-1] + edges[1:]) / 2, edges[-1:]])


def histogram(scores):
    return np.bincount(np.searchsorted(edges, scores, side="right"), minlength=edges.size + 1)


def textbook_psi(expected, actual):
    """sum (a - e) ln(a / e) over the shares, an empty bin's share replaced by 1e-4 (Evidently)."""
    e, a = expected / expected.sum(), actual / actual.sum()
    e, a = np.where(e == 0, 1e-4, e), np.where(a == 0, 1e-4, a)
    return float(np.sum((a - e) * np.log(a / e)))


val_hist = histogram(val_scores)
for w in (0, SHIFT_AT):
    scores, labels = raw[w]
    row = rows[w]
    assert np.isclose(row["psi"].statistic, textbook_psi(val_hist, histogram(scores)), rtol=1e-12, atol=0)
    # KS on the bin centres: the samples the histograms hold
    scipy_ks = stats.ks_2samp(np.repeat(centres, val_hist), np.repeat(centres, histogram(scores)))
    assert np.isclose(row["ks"].statistic, scipy_ks.statistic, rtol=1e-12, atol=0)
    assert np.isclose(row["ks"].p_value, scipy_ks.pvalue, rtol=1e-12, atol=0)
    # CBPE by brute force: expected TP / (expected TP + expected FN) = sum of s over s >= 0.5 / sum of s
    assert np.isclose(row["estimate"], scores[scores >= 0.5].sum() / scores.sum(), rtol=1e-12, atol=0)
    assert row["realised"] == recall_score(labels, (scores >= 0.5).astype(int))
for w in (0, WINDOWS - 1):  # expected calibration error, 10 equal-width bins
    scores, labels = raw[w]
    cell = np.minimum((scores * 10).astype(int), 9)
    gaps = [abs(labels[cell == b].mean() - scores[cell == b].mean()) * np.sum(cell == b) for b in np.unique(cell)]
    assert np.isclose(rows[w]["ece"], sum(gaps) / scores.size, rtol=1e-12, atol=0)
print(f"\ndrift alerts from window {SHIFT_AT} on, none before; estimated recall inside its interval in {inside} of "
      f"{len(calibrated)} calibrated windows, outside in all {len(miscalibrated)} miscalibrated ones; "
      "PSI, KS, estimated and realised recall and calibration error match numpy, scipy and scikit-learn: OK")
