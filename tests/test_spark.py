"""streameval.spark.evaluate on a real local[2] SparkSession.

Every result is compared with one accumulator fed all the rows (collected with toPandas) and
with scikit-learn on those rows. The DataFrames have several partitions, some of them empty, and
Arrow batches of BATCH rows, so a partition is counted in several updates.
"""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as skm

import streameval

# pyspark's own warnings about pandas 3, raised in its conversions, not in ours
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

BATCH = 50  # spark.sql.execution.arrow.maxRecordsPerBatch: small, so partitions span several batches


def _java_major() -> int | None:
    """The major version of the Java that pyspark would start (JAVA_HOME's, else PATH's), or None."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not found:
        return None
    major = int(found[1])
    return int(found[2]) if major == 1 and found[2] else major  # "1.8.0" is Java 8


def _require_spark() -> None:
    """Skip, saying why, unless pyspark, pyarrow, pandas and Java 17 or newer are there."""
    pytest.importorskip("pyspark")
    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    major = _java_major()
    if major is None or major < 17:
        found = "no Java found" if major is None else f"found Java {major}"
        pytest.skip(f"Spark tests need Java 17 or newer (pyspark 4 runs on the JVM); {found}: install a JDK 17 "
                    "(e.g. apt-get install openjdk-17-jdk-headless) and put it on PATH or in JAVA_HOME")


@pytest.fixture(scope="module")
def spark():
    _require_spark()
    from pyspark.sql import SparkSession

    # The Python workers must import streameval: on local[N] they run the interpreter named here.
    previous = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("streameval-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(BATCH))
    yield session
    session.stop()
    if previous is None:
        del os.environ["PYSPARK_PYTHON"]
    else:
        os.environ["PYSPARK_PYTHON"] = previous


def _frame(spark, data: dict, partitions: int = 3, empty: int = 2):
    """A DataFrame of data's columns: `partitions` partitions holding the rows, then `empty` empty ones."""
    import pandas as pd

    pdf = pd.DataFrame(data)
    frame = spark.createDataFrame(pdf).repartition(partitions)
    if empty:
        frame = frame.union(spark.createDataFrame(spark.sparkContext.parallelize([], empty), frame.schema))
    sizes = frame.rdd.glom().map(len).collect()
    assert sizes.count(0) >= empty and sum(sizes) == len(pdf)
    return frame


def _evaluate(frame, **kwargs):
    from streameval.spark import evaluate

    template = kwargs["accumulator"]
    before = template.copy()
    result = evaluate(frame, **kwargs)
    assert template == before and template.is_empty and result is not template  # the template is untouched
    return result


def _reference(template, rows, y_true, y_pred, sample_weight=None):
    """One accumulator fed every collected row in one update."""
    acc = template.copy()
    weights = None if sample_weight is None else rows[sample_weight].to_numpy()
    acc.update(rows[y_true].to_numpy(), rows[y_pred].to_numpy(), sample_weight=weights)
    return acc


def _assert_equal_counts(ours, ref):
    """ours == ref for the integer counts; float sums (of scores, of per-sample ratios) are added in
    another order across partitions, so they match to rounding, as in test_merge."""
    assert type(ours) is type(ref) and ours.to_dict()["config"] == ref.to_dict()["config"]
    for mine, theirs in zip(ours._arrays(), ref._arrays()):
        if theirs.dtype.kind == "f":
            np.testing.assert_allclose(mine, theirs, rtol=1e-12)
        else:
            assert np.array_equal(mine, theirs)


def _dyadic_weights(rng, n):
    """Weights k / 4: their sums are exact in any order, so merged weighted counts compare with ==."""
    return rng.integers(0, 9, n) / 4


# --- results equal one accumulator and scikit-learn -----------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_binary_threshold(spark, depth):
    rng = np.random.default_rng(1)
    n = 700
    y = rng.integers(0, 2, n)
    frame = _frame(spark, {"label": y, "score": np.clip(0.3 * y + rng.random(n) * 0.8, 0, 1)}, partitions=4)
    template = streameval.Binary(threshold=0.4)
    acc = _evaluate(frame, y_true="label", y_pred="score", accumulator=template, depth=depth)
    rows = frame.toPandas()
    assert acc == _reference(template, rows, "label", "score") and acc.n_samples == n
    truth, predicted = rows["label"].to_numpy(), (rows["score"].to_numpy() >= 0.4).astype(int)
    assert (acc.confusion_matrix() == skm.confusion_matrix(truth, predicted)).all()
    assert acc.f1() == pytest.approx(skm.f1_score(truth, predicted), rel=1e-12)
    assert acc.matthews_corrcoef() == pytest.approx(skm.matthews_corrcoef(truth, predicted), rel=1e-12)


def test_binary_bins_weighted(spark):
    rng = np.random.default_rng(2)
    n = 600
    y = rng.integers(0, 2, n).astype(bool)
    # One distinct score per bin, in its middle: the binned curves are then exact.
    score = (np.clip(rng.integers(0, 100, n) + 30 * y, 0, 99) + 0.5) / 100
    w = _dyadic_weights(rng, n)
    frame = _frame(spark, {"y": y, "p": score, "w": w})
    template = streameval.Binary(bins=100, weighted=True)
    acc = _evaluate(frame, y_true="y", y_pred="p", sample_weight="w", accumulator=template)
    rows = frame.toPandas()
    _assert_equal_counts(acc, _reference(template, rows, "y", "p", "w"))
    truth, scores, weights = rows["y"].to_numpy(), rows["p"].to_numpy(), rows["w"].to_numpy()
    assert acc.roc_auc() == pytest.approx(skm.roc_auc_score(truth, scores, sample_weight=weights), rel=1e-12)
    expected_ap = skm.average_precision_score(truth, scores, sample_weight=weights)
    assert acc.average_precision() == pytest.approx(expected_ap, rel=1e-12)
    predicted = scores >= 0.5
    assert acc.recall() == pytest.approx(skm.recall_score(truth, predicted, sample_weight=weights), rel=1e-12)


def test_multiclass_score_columns_weighted(spark):
    rng = np.random.default_rng(3)
    n, k = 800, 4
    y = rng.integers(0, k, n)
    scores = rng.random((n, k)) + 0.6 * np.eye(k)[y]
    data = {"y": y, "w": _dyadic_weights(rng, n)} | {f"s{j}": scores[:, j] for j in range(k)}
    frame = _frame(spark, data, partitions=5, empty=1)
    columns = [f"s{j}" for j in range(k)]
    template = streameval.Multiclass(k, weighted=True)
    acc = _evaluate(frame, y_true="y", y_pred=columns, sample_weight="w", accumulator=template)
    rows = frame.toPandas()
    assert acc == _reference(template, rows, "y", columns, "w")
    truth, weights = rows["y"].to_numpy(), rows["w"].to_numpy()
    predicted = rows[columns].to_numpy().argmax(axis=1)
    np.testing.assert_allclose(acc.confusion_matrix(), skm.confusion_matrix(truth, predicted, sample_weight=weights),
                               rtol=1e-12)
    assert acc.accuracy() == pytest.approx(skm.accuracy_score(truth, predicted, sample_weight=weights), rel=1e-12)
    expected = skm.f1_score(truth, predicted, average="macro", sample_weight=weights)
    assert acc.f1() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("labels", [["cat", "dog", "bird"], "auto"])
def test_multiclass_string_labels(spark, labels):
    rng = np.random.default_rng(4)
    n = 500
    names = np.array(["cat", "dog", "bird"])
    truth = names[rng.integers(0, 3, n)]
    guess = np.where(rng.random(n) < 0.7, truth, names[rng.integers(0, 3, n)])
    frame = _frame(spark, {"truth": truth, "guess": guess})
    template = streameval.Multiclass(labels=labels)
    acc = _evaluate(frame, y_true="truth", y_pred="guess", accumulator=template)
    rows = frame.toPandas()
    assert acc == _reference(template, rows, "truth", "guess")
    order = list(acc.labels)
    assert sorted(order) == sorted(names)
    t, p = rows["truth"].to_numpy(), rows["guess"].to_numpy()
    assert (acc.confusion_matrix() == skm.confusion_matrix(t, p, labels=order)).all()
    np.testing.assert_allclose(acc.recall(average=None), skm.recall_score(t, p, labels=order, average=None), rtol=1e-12)


def test_multilabel_columns(spark):
    rng = np.random.default_rng(5)
    n, n_labels = 600, 3
    truth = rng.integers(0, 2, (n, n_labels))
    scores = np.clip(0.4 * truth + rng.random((n, n_labels)) * 0.7, 0, 1)
    data = {f"t{j}": truth[:, j] for j in range(n_labels)} | {f"p{j}": scores[:, j] for j in range(n_labels)}
    frame = _frame(spark, data)
    t_cols, p_cols = [f"t{j}" for j in range(n_labels)], [f"p{j}" for j in range(n_labels)]
    template = streameval.Multilabel(n_labels)
    acc = _evaluate(frame, y_true=t_cols, y_pred=p_cols, accumulator=template)
    rows = frame.toPandas()
    _assert_equal_counts(acc, _reference(template, rows, t_cols, p_cols))
    t, p = rows[t_cols].to_numpy(), (rows[p_cols].to_numpy() >= 0.5).astype(int)
    assert (acc.confusion_matrix() == skm.multilabel_confusion_matrix(t, p)).all()
    expected = skm.f1_score(t, p, average="samples", zero_division=0.0)
    assert acc.f1(average="samples", zero_division=0.0) == pytest.approx(expected, rel=1e-12)
    assert acc.accuracy() == pytest.approx(skm.accuracy_score(t, p), rel=1e-12)


def test_bootstrap_partitions_draw_from_seed_and_partition_index(spark):
    """Partition i draws from reseed((seed, i)): rebuilt here partition by partition. Every
    partition is smaller than an Arrow batch, so it is counted in one update, as here."""
    rng = np.random.default_rng(6)
    n = 150
    y = rng.integers(0, 3, n)
    frame = _frame(spark, {"y": y, "p": np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))}, partitions=4, empty=1)
    template = streameval.Multiclass(3, bootstrap=40)
    acc = _evaluate(frame, y_true="y", y_pred="p", accumulator=template, seed=7)
    expected = template.copy()
    for index, rows in enumerate(frame.rdd.glom().collect()):
        assert len(rows) <= BATCH
        part = streameval.Multiclass(3, bootstrap=40, seed=(7, index))
        part.update([r.y for r in rows], [r.p for r in rows])
        expected += part
    assert acc == expected
    assert acc == _evaluate(frame, y_true="y", y_pred="p", accumulator=template, seed=7)  # reproducible
    fresh = _evaluate(frame, y_true="y", y_pred="p", accumulator=template)  # seed=None: fresh entropy
    assert fresh != acc and (fresh.confusion_matrix() == acc.confusion_matrix()).all()


def test_empty_dataframes_give_an_empty_copy(spark):
    template = streameval.Multiclass(3)
    with_partitions = spark.createDataFrame(spark.sparkContext.parallelize([], 3), "y long, p long")
    without = spark.createDataFrame(spark.sparkContext.emptyRDD(), "y long, p long")
    assert without.rdd.getNumPartitions() == 0
    for frame in (with_partitions, without):
        acc = _evaluate(frame, y_true="y", y_pred="p", accumulator=template)
        assert acc == template and acc.is_empty


def test_column_names_are_names_and_may_repeat(spark):
    """A dot in a name is part of it (not a struct field), and one column may serve twice."""
    frame = spark.createDataFrame([(0,), (2,), (1,), (2,)], "`label.v1` long")
    acc = _evaluate(frame, y_true="label.v1", y_pred="label.v1", accumulator=streameval.Multiclass(3))
    assert (acc.confusion_matrix() == skm.confusion_matrix([0, 2, 1, 2], [0, 2, 1, 2])).all()


# --- errors -------------------------------------------------------------------------------------


def test_bad_row_raises_the_accumulator_error_on_the_driver(spark):
    from streameval.spark import evaluate

    y = np.zeros(300, dtype=np.int64)
    y[217] = 3  # not a class of Multiclass(3)
    frame = spark.createDataFrame([(int(v), 0) for v in y], "y long, p long").coalesce(1)
    with pytest.raises(ValueError, match=r"partition 0, rows 200\.\.249 .*y_true\[17\] = 3"):
        evaluate(frame, y_true="y", y_pred="p", accumulator=streameval.Multiclass(3))


def test_type_errors_keep_their_type(spark):
    from streameval.spark import evaluate

    frame = spark.createDataFrame([("a", 0), ("b", 1)], "y string, p long")
    with pytest.raises(TypeError, match="y_true"):
        evaluate(frame, y_true="y", y_pred="p", accumulator=streameval.Multiclass(3))


def test_counts_past_the_bound_across_partitions_raise_overflow_on_the_driver(spark):
    """Each partition's weights are finite, their sum is not: the merge refuses it, as data."""
    from streameval.spark import evaluate

    frame = _frame(spark, {"y": [1, 1], "w": [1e308, 1e308]}, partitions=2, empty=0)
    with pytest.raises(OverflowError):  # in a partition, or when two partitions merge
        evaluate(frame, y_true="y", y_pred="y", sample_weight="w", accumulator=streameval.Binary(weighted=True))


def test_nulls_are_named(spark):
    from streameval.spark import evaluate

    frame = spark.createDataFrame([(0, 1.0), (1, None), (1, 0.5)], "y long, w double").coalesce(1)
    with pytest.raises(ValueError, match=r"sample_weight\[1\] is null \(column 'w'\)"):
        evaluate(frame, y_true="y", y_pred="y", sample_weight="w", accumulator=streameval.Binary(weighted=True))


def test_unweighted_template_refuses_weights(spark):
    from streameval.spark import evaluate

    frame = spark.createDataFrame([(0, 1.0)], "y long, w double")
    with pytest.raises(ValueError, match="unweighted accumulator"):
        evaluate(frame, y_true="y", y_pred="y", sample_weight="w", accumulator=streameval.Binary())


def test_arguments_are_checked_on_the_driver(spark):
    from streameval.spark import evaluate

    frame = spark.createDataFrame([(0, 1)], "y long, p long")
    ok = {"y_true": "y", "y_pred": "p", "accumulator": streameval.Binary()}
    with pytest.raises(ValueError, match="y_pred='q' is not a column of spark_df"):
        evaluate(frame, **(ok | {"y_pred": "q"}))
    with pytest.raises(TypeError, match="Windowed"):
        evaluate(frame, **(ok | {"accumulator": streameval.Windowed(streameval.Binary(), 100, buckets=10)}))
    with pytest.raises(TypeError, match="Decayed"):
        evaluate(frame, **(ok | {"accumulator": streameval.Decayed(streameval.Binary(), half_life=10)}))
    used = streameval.Binary()
    used.update([1], [1])
    with pytest.raises(ValueError, match="samples already"):
        evaluate(frame, **(ok | {"accumulator": used}))
    with pytest.raises(TypeError, match="spark_df=DataFrame is not valid"):
        evaluate(frame.toPandas(), **ok)
    with pytest.raises(ValueError, match="depth=0 is not valid"):
        evaluate(frame, **ok, depth=0)
    with pytest.raises(ValueError, match="seed=3 is for bootstrap replicates"):
        evaluate(frame, **ok, seed=3)
    with pytest.raises(TypeError, match="y_true=\\[\\] is not valid"):
        evaluate(frame, **(ok | {"y_true": []}))


# --- pyspark stays optional -------------------------------------------------------------------


def test_import_streameval_does_not_import_pyspark():
    code = (
        "import sys, streameval, streameval.spark\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j', 'pyarrow'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_missing_pyspark_is_a_clear_import_error():
    code = (
        "import sys\n"
        "sys.modules['pyspark'] = None  # as if it were not installed\n"
        "import streameval\n"
        "from streameval.spark import evaluate\n"
        "try:\n"
        "    evaluate(None, y_true='y', y_pred='p', accumulator=streameval.Binary())\n"
        "except ImportError as exc:\n"
        "    assert 'pip install pyspark' in str(exc) and '.[spark]' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr



def test_the_example_runs():
    """examples/spark_evaluate.py as a user runs it: its own local[2] session, merged == one pass."""
    _require_spark()
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "spark_evaluate.py"
    done = subprocess.run([sys.executable, "-W", "ignore", str(example)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "merged == one pass: OK" in done.stdout
