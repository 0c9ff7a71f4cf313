"""streameval on Dask: python examples/dask_evaluate.py (needs the "dask" extra: pip install -e ".[dask]").

Writes a small Parquet dataset of predictions to a temporary directory, starts a LocalCluster
with two worker processes, and evaluates the dataset there: each partition is counted into an
accumulator on the worker that reads it, and the accumulators are merged by a tree of merges.
The result is checked against one accumulator fed every row in this process.
"""

import logging
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import streameval
from streameval.dask import evaluate

K = 5  # classes 0..4


def write_dataset(directory: Path, files: int = 4, rows: int = 50_000) -> None:
    """Parquet files of (label, pred, score_0..score_4): true class, predicted class, probabilities."""
    rng = np.random.default_rng(0)  # seeded, so every run prints the same numbers
    for i in range(files):
        label = rng.integers(0, K, rows)
        logits = rng.normal(size=(rows, K)) + 1.5 * np.eye(K)[label]
        probs = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
        table = pa.table({"label": label.astype(np.int8), "pred": probs.argmax(axis=1).astype(np.int8),
                          **{f"score_{k}": probs[:, k] for k in range(K)}})
        pq.write_table(table, directory / f"part-{i}.parquet", row_group_size=10_000)


def main() -> None:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_dataset(directory)

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster):
            frame = dd.read_parquet(directory)  # evaluate reads only the columns it needs
            print(f"{frame.npartitions} partitions on {len(cluster.workers)} workers")

            # Predicted labels in one column.
            acc = evaluate(frame, y_true="label", y_pred="pred", accumulator=streameval.Multiclass(K))
            print(f"{acc.n_samples} samples  accuracy={acc.accuracy():.4f}  macro F1={acc.f1():.4f}")
            print(acc.report())

            # Probabilities in K columns: argmax for the confusion matrix, plus ROC AUC from histograms.
            scores = [f"score_{k}" for k in range(K)]
            curves = evaluate(frame, y_true="label", y_pred=scores, accumulator=streameval.Multiclass(K, bins=100))
            print(f"ROC AUC (one-vs-rest, macro) = {curves.roc_auc():.4f}")

            # Bootstrap replicates: partition i draws from seed (7, i), so the interval is reproducible.
            boot = evaluate(frame, y_true="label", y_pred="pred", accumulator=streameval.Multiclass(K, bootstrap=200),
                            seed=7)
            low, high = boot.interval("f1", method="bootstrap")
            print(f"macro F1 95% bootstrap interval: [{low:.4f}, {high:.4f}]")

        # The same counts as one accumulator fed every row here.
        table = pq.read_table(directory, columns=["label", "pred"])
        one = streameval.Multiclass(K)
        one.update(table["label"].to_numpy(), table["pred"].to_numpy())
        assert acc == one, "the Dask result differs from one accumulator fed everything"
        assert (curves.confusion_matrix() == one.confusion_matrix()).all()  # argmax of the scores = pred
        print("Dask result == one accumulator fed every row: OK")


if __name__ == "__main__":  # the guard matters: Dask's worker processes import this file
    main()
