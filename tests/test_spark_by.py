"""streameval.spark.evaluate(..., by=COL) on a real local[2] SparkSession (test_spark's fixture).

Each slice of the returned Sliced is compared with scikit-learn on the rows of that slice, as
collected from the DataFrame (integer counts exactly, floats to 1e-12), and the whole with one
Sliced fed every collected row (``==``: the same keys and counts, in any order). Arrow batches
hold BATCH rows, so a partition is counted in several updates.
"""

import numpy as np
import pytest
from sklearn import metrics as skm

import streameval
from streameval import Sliced
from test_spark import _frame, spark  # noqa: F401 - spark: the module's local[2] session fixture

pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def _evaluate(frame, **kwargs):
    from streameval.spark import evaluate

    return evaluate(frame, **kwargs)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return {
        "y": y,
        "score": np.clip(0.3 + 0.4 * y + rng.normal(0, 0.25, n), 0, 1),
        "label": rng.integers(0, 3, n),
        "pred": rng.integers(0, 3, n),
        "w": rng.integers(0, 9, n) / 4,  # dyadic: weighted sums are exact in any order
        "country": rng.choice(["fr", "de", "us", "jp"], n),
        "device": rng.integers(0, 3, n),
        "flag": rng.random(n) < 0.3,
        "bucket": rng.integers(0, 3, n) * 1.0,  # integer-valued floats: integer keys
    }


def _same(value, reference):
    assert value == pytest.approx(reference, rel=1e-12, abs=1e-15), (value, reference)


def _assert_binary_slices(sliced, rows, keys, threshold=0.5):
    """Each slice's metrics equal sklearn's on the rows of its key (keys: one per row of rows)."""
    keys = np.array(keys, dtype=object) if not isinstance(keys[0], tuple) else np.array(keys + [None])[:-1]
    assert set(sliced.keys()) == set(keys.tolist())
    for key in sliced.keys():
        mask = np.array([k == key for k in keys.tolist()])
        y, predicted = rows.y.to_numpy()[mask], (rows.score.to_numpy()[mask] >= threshold).astype(int)
        acc = sliced[key]
        assert acc.n_samples == mask.sum()
        assert np.array_equal(acc.confusion_matrix(), skm.confusion_matrix(y, predicted, labels=[0, 1]))
        _same(acc.recall(), skm.recall_score(y, predicted, zero_division=0.0))
        _same(acc.precision(), skm.precision_score(y, predicted, zero_division=0.0))
        _same(acc.accuracy(), skm.accuracy_score(y, predicted))


def test_string_keys_equal_sklearn_per_slice(spark):
    frame = _frame(spark, _data(700, 1), partitions=4)
    rows = frame.toPandas()
    template = streameval.Binary(threshold=0.45)
    sliced = _evaluate(frame, y_true="y", y_pred="score", accumulator=template, by="country", depth=3)
    assert isinstance(sliced, Sliced) and sliced.max_slices == 10_000 and template.is_empty
    _assert_binary_slices(sliced, rows, rows.country.tolist(), 0.45)
    one = Sliced(template)
    one.update(rows.y.to_numpy(), rows.score.to_numpy(), by=rows.country.to_numpy())
    assert sliced == one


@pytest.mark.parametrize("column", ["device", "flag", "bucket"])
def test_integer_bool_and_float_keys(spark, column):
    frame = _frame(spark, _data(400, 2), partitions=3, empty=1)
    rows = frame.toPandas()
    sliced = _evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by=column)
    expected = {"device": int, "flag": bool, "bucket": int}[column]
    assert all(type(key) is expected for key in sliced.keys())
    _assert_binary_slices(sliced, rows, [expected(k) for k in rows[column]])


def test_crossed_keys_multiclass_weighted(spark):
    frame = _frame(spark, _data(900, 3), partitions=4)
    rows = frame.toPandas()
    sliced = _evaluate(frame, y_true="label", y_pred="pred", sample_weight="w",
                       accumulator=streameval.Multiclass(3, weighted=True), by=["country", "device"])
    keys = list(zip(rows.country, rows.device.astype(int)))
    assert set(sliced.keys()) == set(keys)
    for key in sliced.keys():
        part = rows[[k == key for k in keys]]
        acc = sliced[key]
        np.testing.assert_array_equal(acc.confusion_matrix(), skm.confusion_matrix(
            part.label, part.pred, labels=[0, 1, 2], sample_weight=part.w))
        _same(acc.accuracy(), skm.accuracy_score(part.label, part.pred, sample_weight=part.w))
        _same(acc.recall(average="macro"), skm.recall_score(part.label, part.pred, average="macro", labels=[0, 1, 2],
                                                            sample_weight=part.w, zero_division=0.0))


def test_partitions_with_disjoint_key_sets(spark):
    """Each partition holds its own keys: the result holds their union; the bound applies to it."""
    import pandas as pd

    data = pd.DataFrame(_data(600, 4))
    parts = [data.iloc[i * 150:(i + 1) * 150].assign(key=[f"p{i}-{k % 3}" for k in range(150)]) for i in range(4)]
    frame = spark.createDataFrame(parts[0])
    for part in parts[1:]:
        frame = frame.union(spark.createDataFrame(part))  # one partition (at least) per part: no shuffle
    by_partition = frame.rdd.glom().map(lambda rows: sorted({row.key[:2] for row in rows})).collect()
    assert all(len(prefixes) <= 1 for prefixes in by_partition)  # no partition mixes two parts' keys
    rows = frame.toPandas()
    sliced = _evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="key")
    assert sliced.n_slices == 12
    _assert_binary_slices(sliced, rows, rows.key.tolist())
    with pytest.raises(ValueError, match=r"merging partitions: .*max_slices=10"):  # 3 per partition, 12 together
        _evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="key", max_slices=10)


def test_max_slices_in_one_partition(spark):
    frame = _frame(spark, _data(300, 5), partitions=2, empty=0)
    with pytest.raises(ValueError, match=r"partition \d+, rows .*is a new slice key past max_slices=3"):
        _evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="country", max_slices=3)


def test_nulls_and_nan_keys_raise(spark):
    rows = [(1, 0.9, "fr", 1.0), (0, 0.2, None, 2.0), (1, 0.7, "de", float("nan"))]
    frame = spark.createDataFrame(rows, "y long, score double, country string, bucket double").coalesce(1)
    with pytest.raises(ValueError, match=r"partition 0, rows 0\.\.2 .*by\[1\] is null \(column 'country'\)"):
        _evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="country")
    with pytest.raises(ValueError, match=r"by\[2\].*missing"):  # NaN is no null in Spark, and no key either
        _evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="bucket")
    filled = frame.fillna("unknown", subset=["country"])  # the documented way: nulls as a slice of their own
    sliced = _evaluate(filled, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="country")
    assert sliced.keys() == ["fr", "unknown", "de"] and sliced["unknown"].n_samples == 1


def test_empty_frame_and_arguments(spark):
    frame = _frame(spark, _data(20, 6), partitions=1, empty=0)
    empty = _evaluate(frame.limit(0), y_true="y", y_pred="score", accumulator=streameval.Binary(), by="country",
                      max_slices=7)
    assert isinstance(empty, Sliced) and empty.n_slices == 0 and empty.max_slices == 7
    with pytest.raises(ValueError, match="by='nope' is not a column"):
        _evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="nope")
    with pytest.raises(ValueError, match="max_slices=5 is for slices"):
        _evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), max_slices=5)
    with pytest.raises(ValueError, match="accumulator has 1 slices already"):
        used = Sliced(streameval.Binary())
        used.update([1], [1], by=["a"])
        _evaluate(frame, y_true="y", y_pred="score", accumulator=used, by="country")
