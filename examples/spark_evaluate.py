"""Evaluate a Spark DataFrame with streameval: python examples/spark_evaluate.py

Needs pyspark (the "spark" extra: pip install -e ".[spark]") and Java 17. Runs on a local[2] SparkSession
with data it generates: each partition is counted into one accumulator on the executors, and
the partitions' accumulators are merged with treeAggregate.
"""

import os
import sys

# The Python workers must import streameval: on local[N], run them with this interpreter. On a
# cluster, install streameval on every node instead. Set before the session starts.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import numpy as np
from pyspark.sql import SparkSession

import streameval
from streameval.spark import evaluate

K = 3  # classes 0..2
N = 20_000

spark = (
    SparkSession.builder.master("local[2]")
    .appName("streameval-example")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")

# Predictions as a model would write them: a label, K probability columns, a sample weight.
rng = np.random.default_rng(0)
label = rng.integers(0, K, N)
logits = rng.normal(size=(N, K)) + 1.5 * np.eye(K)[label]
probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
rows = [(int(y), *map(float, p), float(w)) for y, p, w in zip(label, probs, rng.integers(1, 4, N))]
frame = spark.createDataFrame(rows, "label long, p0 double, p1 double, p2 double, weight double").repartition(8)
scores = ["p0", "p1", "p2"]

# Multiclass on the probability columns (reduced by argmax), with one-vs-rest histograms for AUC.
acc = evaluate(frame, y_true="label", y_pred=scores, accumulator=streameval.Multiclass(K, bins=100))
print(f"{acc.n_samples} rows in {frame.rdd.getNumPartitions()} partitions: accuracy={acc.accuracy():.4f}  "
      f"macro F1={acc.f1():.4f}  ROC AUC (ovr)={acc.roc_auc():.4f}")
print(acc.report())

# Weighted, and a Binary view of class 2 against the rest, from a column Spark computes.
binary = evaluate(
    frame.selectExpr("label = 2 AS is_two", "p2", "weight"),
    y_true="is_two", y_pred="p2", sample_weight="weight",
    accumulator=streameval.Binary(threshold=0.5, weighted=True),
)
print(f"class 2 vs rest (weighted): precision={binary.precision():.4f}  recall={binary.recall():.4f}")

# Bootstrap intervals: partition i draws its replicates from seed (seed, i), so runs repeat.
boot = evaluate(frame, y_true="label", y_pred=scores, accumulator=streameval.Multiclass(K, bootstrap=200), seed=42)
low, high = boot.interval("f1", method="bootstrap")
print(f"macro F1 95% bootstrap interval: [{low:.4f}, {high:.4f}]")

# The merged counts are exactly those of one accumulator fed every row (float sums of scores
# agree up to rounding: they are added in another order).
local = frame.toPandas()
one_pass = streameval.Multiclass(K, bins=100)
one_pass.update(local["label"].to_numpy(), local[scores].to_numpy())
assert (acc.confusion_matrix() == one_pass.confusion_matrix()).all() and acc.roc_auc() == one_pass.roc_auc()
print("merged == one pass: OK")

spark.stop()
