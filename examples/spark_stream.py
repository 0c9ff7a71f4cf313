"""Monitor a Spark Structured Streaming query with streameval: python examples/spark_stream.py

Needs pyspark (the "spark" extra: pip install -e ".[spark]") and Java 17. A model's predictions
arrive as JSON files in a temporary directory; streameval.spark.monitor counts each micro-batch
on the executors (mapInArrow), keeps one accumulator per 1-minute event-time window on the
driver, and prints each window that the watermark closes. The query is stopped and started
again from its checkpoint halfway: nothing is lost or counted twice.
"""

import datetime
import json
import os
import sys
import tempfile

# The Python workers must import streameval: on local[N], run them with this interpreter. On a
# cluster, install streameval on every node instead. Set before the session starts.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import numpy as np
from pyspark.sql import SparkSession
from sklearn import metrics as skm

import streameval
from streameval.spark import monitor

START = 1_700_000_040.0  # a minute boundary
rng = np.random.default_rng(0)

spark = (
    SparkSession.builder.master("local[2]")
    .appName("streameval-stream-example")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")

work = tempfile.mkdtemp()
source, checkpoint = os.path.join(work, "predictions"), os.path.join(work, "checkpoint")
os.makedirs(source)
sent = []  # every row written, to check the windows against scikit-learn at the end


def write_predictions(minute: int, n: int = 200) -> None:
    """n predictions with event times in the given minute, some of them up to 30 s late."""
    times = START + 60 * minute + rng.uniform(0, 60, n) - rng.choice([0, 30], n, p=[0.9, 0.1])
    labels = rng.integers(0, 2, n)
    scores = np.clip(0.6 * labels + rng.normal(0.2, 0.25, n), 0, 1)
    lines = []
    for t, y, p in zip(times, labels, scores):
        when = datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat(timespec="milliseconds")
        lines.append(json.dumps({"ts": when, "label": int(y), "score": round(float(p), 4)}))
        sent.append((t, int(y), round(float(p), 4)))
    staging = os.path.join(work, "staging.json")
    with open(staging, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(staging, os.path.join(source, f"minute-{minute:03d}.json"))  # the source sees whole files


closed = []


def print_window(window) -> None:
    closed.append(window)
    acc = window.accumulator
    start = datetime.datetime.fromtimestamp(window.start, datetime.UTC).strftime("%H:%M")
    print(f"[{start}, +1 min)  rows={window.rows:4d}  precision={acc.precision():.3f}  recall={acc.recall():.3f}  "
          f"f1={acc.f1():.3f}  late rows dropped so far={window.late_rows}")


def start_query():
    stream = spark.readStream.schema("ts timestamp, label long, score double").json(source)
    return monitor(stream, y_true="label", y_pred="score", event_time="ts", window=60, watermark=60,
                   accumulator=streameval.Binary(threshold=0.5), sink=print_window,
                   checkpoint_location=checkpoint)


query = start_query()
for minute in range(3):
    write_predictions(minute)
    query.processAllAvailable()  # one micro-batch per file here
query.stop()
print("-- query stopped; starting it again from its checkpoint --")
query = start_query()
for minute in range(3, 6):
    write_predictions(minute)
    query.processAllAvailable()
query.stop()
spark.stop()

# Each window printed holds exactly the rows of its minute that arrived before it closed: here,
# with a 60 s watermark and rows at most 30 s late, every row of the minute.
for window in closed:
    rows = np.array([(y, p) for t, y, p in sent if window.start <= t < window.end])
    assert window.rows == len(rows) and window.late_rows == 0
    expected = skm.confusion_matrix(rows[:, 0], rows[:, 1] >= 0.5)
    assert (window.accumulator.confusion_matrix() == expected).all()
print(f"{len(closed)} closed windows, each equal to scikit-learn on its rows: OK")
