"""Production monitoring with time windows: python examples/monitoring.py

A fraud model scores a stream of events for two hours of simulated time. After one hour its
quality drifts: the scores of true frauds sink towards the negatives', so recall falls. A
``Windowed(Binary(), 600, unit="seconds", buckets=10, step=600)`` counts the events by their
timestamps in tumbling 10-minute windows (no events are stored, only per-minute counts), and
``on_window`` logs each window as it closes and prints an alert when recall drops below
ALERT_RECALL.

The script checks itself: the alert fires after the drift and never before it, and the metrics
the window reported for the first alerted window equal scikit-learn's on that window's events
(kept here only for the check). Simulated clock, seeded: every run prints the same lines.
Needs numpy, scikit-learn and streameval.
"""

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

import streameval

T0 = 1_700_000_400.0  # epoch seconds of the first event, a multiple of 600: windows start at T0
DRIFT_AT = T0 + 3600  # the model degrades after one hour
END = T0 + 7200
ALERT_RECALL = 0.6
rng = np.random.default_rng(3)

window = streameval.Windowed(streameval.Binary(threshold=0.5), 600, unit="seconds", buckets=10, step=600)
closed, alerts = [], []


@window.on_window
def log_window(m):
    """Called with each closed window's compute() plus window_start and window_end."""
    closed.append(m)
    minute = (m["window_start"] - T0) / 60
    print(f"[minute {minute:3.0f}-{minute + 10:3.0f}] accuracy={m['accuracy']:.3f}  precision={m['precision']:.3f}  recall={m['recall']:.3f}  f1={m['f1']:.3f}")
    if m["recall"] < ALERT_RECALL:
        alerts.append(m)
        print(f"                  ALERT: recall {m['recall']:.3f} < {ALERT_RECALL} in the window starting at minute {minute:.0f}")


events = []  # (timestamp, y_true, score) of every batch: only for the check at the end
t = T0
while t < END:
    n = int(rng.integers(5, 15))  # events in this 5-second batch
    y = (rng.random(n) < 0.2).astype(int)
    fraud_mean = 0.75 if t < DRIFT_AT else 0.45  # the drift: frauds score lower after an hour
    scores = np.clip(np.where(y == 1, rng.normal(fraud_mean, 0.15, n), rng.normal(0.25, 0.15, n)), 0, 1)
    window.update(y, scores, timestamp=t)
    events.append((t, y, scores))
    t += 5.0
window.advance(END)  # no more events: the last window closes

# --- checks ----------------------------------------------------------------------------------------
assert len(closed) == 12, len(closed)
assert alerts, "the drift should have raised an alert"
assert all(m["window_start"] >= DRIFT_AT for m in alerts), "an alert fired before the drift"
assert all(m["recall"] >= ALERT_RECALL for m in closed if m["window_end"] <= DRIFT_AT)
first = alerts[0]
in_window = [(y, s) for ts, y, s in events if first["window_start"] <= ts < first["window_end"]]
y_true = np.concatenate([y for y, _ in in_window])
y_pred = (np.concatenate([s for _, s in in_window]) >= 0.5).astype(int)
assert first["precision"] == precision_score(y_true, y_pred)
assert first["recall"] == recall_score(y_true, y_pred)
assert first["f1"] == f1_score(y_true, y_pred)
tn, fp, fn, tp = confusion_matrix(y_true, y_pred).ravel()
print(f"first alert at minute {(first['window_start'] - T0) / 60:.0f} (drift at minute {(DRIFT_AT - T0) / 60:.0f}); "
      f"its window (tp={tp}, fp={fp}, fn={fn}, tn={tn}) matches scikit-learn: OK")
