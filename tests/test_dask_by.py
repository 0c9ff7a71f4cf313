"""streameval.dask.evaluate(..., by=COL) on a real distributed.LocalCluster (test_dask's fixture).

Each slice of the returned Sliced is compared with scikit-learn on the rows of that slice
(integer counts exactly, floats to 1e-12), and the whole with one Sliced fed every row in this
process (``==``: the same keys with the same counts, in any order).
"""

import numpy as np
import pytest

dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
skm = pytest.importorskip("sklearn.metrics")

import streameval
from streameval import Sliced
from streameval.dask import evaluate
from test_dask import UNEVEN, _frame, client  # noqa: F401 - client: the module's LocalCluster fixture


def _rows(n=3500, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame({
        "y": y,
        "score": np.clip(0.3 + 0.4 * y + rng.normal(0, 0.25, n), 0, 1),
        "label": rng.integers(0, 3, n),
        "pred": rng.integers(0, 3, n),
        "w": rng.integers(0, 9, n) / 4,  # dyadic: weighted sums are exact in any order
        "country": rng.choice(["fr", "de", "us", "jp"], n),
        "device": rng.integers(0, 3, n),
        "flag": rng.random(n) < 0.3,
    })


def _same(value, reference):
    assert value == pytest.approx(reference, rel=1e-12, abs=1e-15), (value, reference)


def _assert_binary_slices(sliced, df, key_of, threshold):
    """Each slice's metrics equal sklearn's on the rows of its key (key_of: a row -> its key)."""
    keys = df.apply(key_of, axis=1)
    assert set(sliced.keys()) == set(keys)
    for key in sliced.keys():
        rows = df[keys == key]
        acc = sliced[key]
        predicted = (rows.score >= threshold).astype(int)
        assert np.array_equal(acc.confusion_matrix(), skm.confusion_matrix(rows.y, predicted, labels=[0, 1]))
        _same(acc.recall(), skm.recall_score(rows.y, predicted, zero_division=0.0))
        _same(acc.precision(), skm.precision_score(rows.y, predicted, zero_division=0.0))
        _same(acc.accuracy(), skm.accuracy_score(rows.y, predicted))
        assert acc.n_samples == len(rows)


def test_string_keys_on_uneven_and_empty_partitions(client):
    df = _rows()
    template = streameval.Binary(threshold=0.45)
    sliced = evaluate(_frame(df, UNEVEN), y_true="y", y_pred="score", accumulator=template, by="country")
    assert isinstance(sliced, Sliced) and sliced.max_slices == 10_000  # the default bound
    assert template.is_empty
    _assert_binary_slices(sliced, df, lambda row: row.country, 0.45)
    one = Sliced(template)
    one.update(df.y, df.score, by=df.country)
    assert sliced == one and sliced.overall == one.overall


def test_crossed_keys_multiclass_weighted(client):
    df = _rows(seed=1)
    sliced = evaluate(_frame(df, UNEVEN), y_true="label", y_pred="pred", sample_weight="w",
                      accumulator=streameval.Multiclass(3, weighted=True), by=["country", "device"])
    keys = list(zip(df.country, df.device))
    assert set(sliced.keys()) == set(keys) and all(isinstance(key, tuple) for key in sliced.keys())
    for key in sliced.keys():
        rows = df[[k == key for k in keys]]
        acc = sliced[key]
        reference = skm.confusion_matrix(rows.label, rows.pred, labels=[0, 1, 2], sample_weight=rows.w)
        np.testing.assert_array_equal(acc.confusion_matrix(), reference)
        _same(acc.accuracy(), skm.accuracy_score(rows.label, rows.pred, sample_weight=rows.w))
        _same(acc.f1(average="macro"), skm.f1_score(rows.label, rows.pred, average="macro", labels=[0, 1, 2],
                                                    sample_weight=rows.w, zero_division=0.0))


def test_one_column_in_a_list_gives_tuple_keys_and_bool_keys(client):
    df = _rows(seed=2)
    sliced = evaluate(_frame(df, UNEVEN), y_true="y", y_pred="score", accumulator=streameval.Binary(), by=["flag"])
    assert set(sliced.keys()) == {(True,), (False,)}
    _assert_binary_slices(sliced, df, lambda row: (row.flag,), 0.5)


def test_partitions_with_disjoint_key_sets(client):
    """Each partition holds its own keys: the result holds their union, each slice from one partition
    only, and the bound is checked on the union."""
    df = _rows(n=1200, seed=3)
    df["shard_key"] = np.repeat([f"p{i}-{k}" for i in range(4) for k in range(3)], 100)  # 3 keys per partition
    frame = _frame(df, [300, 300, 300, 300])
    sliced = evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="shard_key",
                      split_every=2)
    assert sliced.n_slices == 12
    _assert_binary_slices(sliced, df, lambda row: row.shard_key, 0.5)
    with pytest.raises(ValueError, match=r"merging partitions: .*max_slices=10"):  # 3 per partition, 12 together
        evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(), by="shard_key", max_slices=10)


def test_max_slices_in_one_partition(client):
    df = _rows(n=400, seed=4)
    with pytest.raises(ValueError, match=r"partition \d+ .*is a new slice key past max_slices=3"):
        evaluate(_frame(df, [100, 300]), y_true="y", y_pred="score", accumulator=streameval.Binary(), by="country",
                 max_slices=3)


def test_a_sliced_template_with_overflow_other(client):
    df = _rows(n=600, seed=5)
    template = Sliced(streameval.Binary(), max_slices=2, overflow="other")
    sliced = evaluate(_frame(df, [200, 0, 400]), y_true="y", y_pred="score", accumulator=template, by="country")
    assert template.n_slices == 0 and sliced.max_slices == 2
    assert sliced.n_slices == 3 and streameval.sliced.OTHER in sliced.keys()
    # Which keys got a slice of their own depends on the partitioning (a partition that found a key
    # past its bound counted it in "__other__"), but no row is lost or counted twice.
    predicted = (df.score >= 0.5).astype(int)
    assert np.array_equal(sliced.overall.confusion_matrix(), skm.confusion_matrix(df.y, predicted, labels=[0, 1]))
    for key in sliced.keys():
        if key != streameval.sliced.OTHER:
            assert 0 < sliced[key].n_samples <= (df.country == key).sum()


def test_categorical_keys_and_dask_arrays(client):
    df = _rows(n=900, seed=6)
    df["country"] = df.country.astype("category")
    sliced = evaluate(_frame(df, [450, 450]), y_true="y", y_pred="score", accumulator=streameval.Binary(),
                      by="country")
    _assert_binary_slices(sliced, df, lambda row: row.country, 0.5)
    arrays = evaluate(None, y_true=da.from_array(df.y.to_numpy(), chunks=200),
                      y_pred=da.from_array(df.score.to_numpy(), chunks=300),
                      accumulator=streameval.Binary(), by=[da.from_array(df.device.to_numpy(), chunks=100),
                                                           da.from_array(df.flag.to_numpy(), chunks=450)])
    _assert_binary_slices(arrays, df, lambda row: (row.device, row.flag), 0.5)


@pytest.mark.parametrize("missing", [None, np.nan])
def test_null_keys_raise_naming_partition_row_and_column(client, missing):
    df = _rows(n=300, seed=7).astype({"country": object})
    df.loc[250, "country"] = missing
    with pytest.raises(ValueError, match=r"partition 1 .*by\[50\] is null \(column 'country'\)"):
        evaluate(_frame(df, [200, 100]), y_true="y", y_pred="score", accumulator=streameval.Binary(), by="country")
    df["country"] = df.country.fillna("unknown")  # the documented way: nulls as a slice of their own
    sliced = evaluate(_frame(df, [200, 100]), y_true="y", y_pred="score", accumulator=streameval.Binary(),
                      by="country")
    assert sliced["unknown"].n_samples == 1


def test_arguments_are_checked(client):
    frame = _frame(_rows(n=10), [10])
    binary = streameval.Binary()
    with pytest.raises(ValueError, match="by='nope' is not a column"):
        evaluate(frame, y_true="y", y_pred="score", accumulator=binary, by="nope")
    with pytest.raises(ValueError, match="max_slices=5 is for slices"):
        evaluate(frame, y_true="y", y_pred="score", accumulator=binary, max_slices=5)
    with pytest.raises(ValueError, match="accumulator is a Sliced: give by="):
        evaluate(frame, y_true="y", y_pred="score", accumulator=Sliced(binary))
    with pytest.raises(ValueError, match="max_slices=0 is not valid"):
        evaluate(frame, y_true="y", y_pred="score", accumulator=binary, by="country", max_slices=0)
    with pytest.raises(ValueError, match="Sliced does not keep bootstrap"):
        evaluate(frame, y_true="y", y_pred="score", accumulator=streameval.Binary(bootstrap=10), by="country")
