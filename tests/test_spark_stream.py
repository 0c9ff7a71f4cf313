"""streameval.spark.monitor on a real local[2] SparkSession, over a JSON file source the tests append to.

The stream's rows are drawn so that the outcome of each one is known in advance: counted into its
window (on time, or late but within the watermark) or dropped as too late. Every closed window the
sink receives is compared with scikit-learn on exactly the rows counted into it, and restarts
(after a stop, after a crash between the sink and the checkpoint, after a crash between the
checkpoint and Spark's commit) must give the same windows as one uninterrupted run.
"""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

import streameval
from test_spark import _require_spark

pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

SIZE = 60.0  # seconds per window; the watermark is the default, one window
T0 = 28_333_333 * SIZE  # a window boundary (2023-11-14)
SCHEMA = "t timestamp, y long, p double, g string"


@pytest.fixture(scope="module")
def spark():
    _require_spark()
    from pyspark.sql import SparkSession

    previous = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers must import streameval
    session = (
        SparkSession.builder.master("local[2]")
        .appName("streameval-stream-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "3")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if previous is None:
        del os.environ["PYSPARK_PYTHON"]
    else:
        os.environ["PYSPARK_PYTHON"] = previous


def _scenario() -> list[list[tuple[float, int, float, bool]]]:
    """The appends: rows (relative time, y, score, counted?). Windows are [60k, 60k + 60) in relative time.

    append 0: windows 0 and 1; the watermark becomes at most 59.9, so nothing closes.
    append 1: window 2, and rows of window 0 that are late but within the watermark (counted);
              the watermark reaches 90: window 0 closes.
    append 2: rows of window 0, now closed (dropped: 10 late rows), rows of window 1, late but
              open (counted), windows 3 and 4; the watermark reaches 239: windows 1 and 2 close.
    append 3: rows of window 1, now closed (dropped: 15 late rows in all), window 6; the
              watermark reaches 359: windows 3 and 4 close, window 6 stays open.
    """
    rng = np.random.default_rng(16)

    def rows(n, low, high, counted=True, exact=()):
        times = [*np.round(rng.uniform(low, high, n - len(exact)), 3).tolist(), *exact]
        return [(t, int(rng.integers(0, 2)), round(float(rng.random()), 4), counted) for t in times]

    return [
        rows(40, 0, 119.9, exact=(0.0, 60.0)),
        rows(30, 120, 150, exact=(120.0, 150.0)) + rows(10, 0, 59.9),
        rows(10, 0, 59.9, counted=False) + rows(10, 60, 119.9) + rows(40, 180, 299, exact=(299.0,)),
        rows(5, 60, 119.9, counted=False) + rows(20, 400, 419, exact=(419.0,)),
    ]


SCENARIO = _scenario()
# window index -> (the batch that closes it, the late rows dropped by then)
CLOSES = {0: (1, 0), 1: (2, 10), 2: (2, 10), 3: (3, 15), 4: (3, 15)}


def _group(score: float) -> str:
    """A row's slice key (column g), a function of its score."""
    return "abc"[round(score * 10_000) % 3]


def _counted(window, group=None, appends=SCENARIO):
    """(y, score) of the rows counted into window (and slice group), in any order."""
    rows = [r for append in appends for r in append
            if r[3] and int(r[0] // SIZE) == window and group in (None, _group(r[2]))]
    return np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def _append(source: Path, index: int, rows, files: int = 2) -> None:
    """rows as JSON lines in `files` files, each moved into source whole (a file source must not see half)."""
    source.mkdir(exist_ok=True)
    for part, chunk in enumerate(np.array_split(np.arange(len(rows)), files)):
        lines = []
        for i in chunk:
            t, y, p, _ = rows[i]
            when = datetime.datetime.fromtimestamp(T0 + t, datetime.UTC).isoformat(timespec="milliseconds")
            lines.append(json.dumps({"t": when, "y": y, "p": p, "g": _group(p)}))
        staging = source.parent / f".staging-{index}-{part}.json"
        staging.write_text("\n".join(lines) + "\n")
        os.replace(staging, source / f"append-{index}-{part}.json")


def _start(spark, source, checkpoint, sink, **kwargs):
    from streameval.spark import monitor

    source.mkdir(exist_ok=True)
    stream = spark.readStream.schema(SCHEMA).json(str(source))  # an append's 2 files: 2 partitions
    return monitor(stream, y_true="y", y_pred="p", event_time="t", window=SIZE, accumulator=streameval.Binary(),
                   sink=sink, checkpoint_location=str(checkpoint), **kwargs)


def _run_available(spark, source, checkpoint, sink):
    """A query that counts what the source holds, in one micro-batch, then stops."""
    query = _start(spark, source, checkpoint, sink, trigger={"availableNow": True})
    query.awaitTermination()


def _assert_window_equals_sklearn(window, cm, metrics, group=None):
    y, score = _counted(window, group)
    pred = (score >= 0.5).astype(int)
    assert len(y) > 0
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y, pred, labels=[0, 1]))  # exact counts
    for name, reference in [("accuracy", skm.accuracy_score), ("precision", skm.precision_score),
                            ("recall", skm.recall_score), ("f1", skm.f1_score)]:
        assert metrics[name] == pytest.approx(reference(y, pred), rel=1e-12, abs=0), name


def test_closed_windows_in_a_parquet_table_equal_sklearn_on_their_rows(spark, tmp_path):
    """One availableNow query per append (each a restart from the checkpoint); the sink is a Parquet table."""
    import pandas as pd

    source, checkpoint, table = tmp_path / "in", tmp_path / "checkpoint", tmp_path / "windows"
    for index, rows in enumerate(SCENARIO):
        _append(source, index, rows)
        _run_available(spark, source, checkpoint, str(table))
    frame = pd.read_parquet(table).sort_values("window_start").reset_index(drop=True)
    assert len(frame) == len(CLOSES) and frame["window_start"].is_unique
    for row in frame.itertuples():
        window = int(row.window_start.timestamp() // SIZE - T0 // SIZE)
        assert row.window_end.timestamp() - row.window_start.timestamp() == SIZE
        assert (row.batch_id, row.late_rows) == CLOSES[window]
        acc = streameval.from_bytes(row.state)
        assert row.rows == acc.n_samples == len(_counted(window)[0])
        _assert_window_equals_sklearn(window, acc.confusion_matrix(), row._asdict())
    # the open window (6) is checkpointed with its rows; nothing else is left open
    manifest = json.loads((checkpoint / "streameval" / "state.json").read_text())
    assert [w[:2] for w in manifest["windows"]] == [[int(T0 // SIZE) + 6, 20]] and manifest["late_rows"] == 15
    assert sorted(os.listdir(checkpoint / "streameval")) == sorted(["state.json", manifest["windows"][0][2]])


def test_slices_of_each_window_equal_sklearn_on_their_rows(spark, tmp_path):
    """by="g": the Parquet table has one row per closed window and slice."""
    import pandas as pd

    source, checkpoint, table = tmp_path / "in", tmp_path / "checkpoint", tmp_path / "windows"
    for index, rows in enumerate(SCENARIO):
        _append(source, index, rows)
        query = _start(spark, source, checkpoint, str(table), by="g", trigger={"availableNow": True})
        query.awaitTermination()
    frame = pd.read_parquet(table)
    expected = {(w, g) for w in CLOSES for g in "abc" if len(_counted(w, g)[0])}
    found = [(int(r.window_start.timestamp() // SIZE - T0 // SIZE), r.g) for r in frame.itertuples()]
    assert sorted(found) == sorted(expected) and len(expected) > 10
    for (window, group), row in zip(found, frame.itertuples()):
        assert (row.batch_id, row.late_rows) == CLOSES[window]
        acc = streameval.from_bytes(row.state)
        assert row.rows == acc.n_samples == len(_counted(window, group)[0])
        _assert_window_equals_sklearn(window, acc.confusion_matrix(), row._asdict(), group)


def test_a_restarted_query_loses_and_double_counts_nothing(spark, tmp_path):
    """A running query (processAllAvailable), a crash between the sink and the checkpoint, and a crash
    between the checkpoint and Spark's commit: the windows are those of one run, each counted once."""
    from pyspark.errors import StreamingQueryException

    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    calls = []

    def sink(window):
        calls.append(window)

    # appends 0 and 1 into a running query, one micro-batch each
    query = _start(spark, source, checkpoint, sink)
    for index in (0, 1):
        _append(source, index, SCENARIO[index], files=1)
        query.processAllAvailable()
    query.stop()
    assert [(c.start, c.batch_id) for c in calls] == [(T0, 1)]

    # append 2: the sink receives its windows, then the driver "crashes" before the checkpoint
    def crashing_sink(window):
        calls.append(window)
        if window.start == T0 + 2 * SIZE:
            raise RuntimeError("crash after the sink, before the checkpoint")

    _append(source, 2, SCENARIO[2])
    with pytest.raises(StreamingQueryException, match="crash after the sink"):
        _run_available(spark, source, checkpoint, crashing_sink)
    _run_available(spark, source, checkpoint, sink)  # Spark runs batch 2 again; so does the sink
    assert [(c.start - T0, c.batch_id) for c in calls[1:]] == [(60, 2), (120, 2), (60, 2), (120, 2)]
    assert calls[1].accumulator == calls[3].accumulator and calls[2].accumulator == calls[4].accumulator

    # append 3, then a crash after the checkpoint but before Spark's commit: Spark runs the batch
    # again on restart, and monitor skips it (its counts are in the checkpoint already)
    _append(source, 3, SCENARIO[3])
    _run_available(spark, source, checkpoint, sink)
    assert [(c.start - T0, c.batch_id) for c in calls[5:]] == [(180, 3), (240, 3)]
    commits = checkpoint / "spark" / "commits"
    (commits / "3").unlink()
    (commits / ".3.crc").unlink(missing_ok=True)
    before = len(calls)
    _run_available(spark, source, checkpoint, sink)
    assert len(calls) == before and (commits / "3").exists()  # batch 3 ran again, and counted nothing

    # append 4 closes window 6: its 20 rows are there once, not twice
    late = [(500.0, 1, 0.9, True), (501.0, 0, 0.2, True)]
    _append(source, 4, late, files=1)
    _run_available(spark, source, checkpoint, sink)
    assert [(c.start - T0, c.rows, c.late_rows, c.batch_id) for c in calls[before:]] == [(360, 20, 15, 4)]

    windows = {int(c.start // SIZE - T0 // SIZE): c for c in calls}
    assert sorted(windows) == [0, 1, 2, 3, 4, 6]
    for window, closed in windows.items():
        if window in CLOSES:
            assert (closed.batch_id, closed.late_rows) == CLOSES[window]
        assert closed.end - closed.start == SIZE and closed.rows == closed.accumulator.n_samples
        _assert_window_equals_sklearn(window, closed.accumulator.confusion_matrix(), closed.metrics())


def test_a_bad_row_stops_the_query_with_the_accumulators_error(spark, tmp_path):
    from pyspark.errors import StreamingQueryException

    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    _append(source, 0, [(1.0, 1, 0.5, True), (2.0, 3, 0.5, True)], files=1)  # y=3 is not a binary label
    with pytest.raises(StreamingQueryException, match=r"partition \d+, rows 0\.\.1.*y_true"):
        _run_available(spark, source, checkpoint, lambda window: None)
    assert not (checkpoint / "streameval" / "state.json").exists()  # nothing was committed


def test_a_batch_spanning_too_many_windows_is_refused(spark, tmp_path):
    from pyspark.errors import StreamingQueryException
    from streameval.spark import MAX_WINDOWS, monitor

    source = tmp_path / "in"
    _append(source, 0, [(float(t), 1, 0.5, True) for t in range(MAX_WINDOWS + 1)])  # one window per second
    stream = spark.readStream.schema(SCHEMA).json(str(source))
    query = monitor(stream, y_true="y", y_pred="p", event_time="t", window=1, accumulator=streameval.Binary(),
                    sink=lambda window: None, trigger={"availableNow": True})
    with pytest.raises(StreamingQueryException, match="more than 10,000 windows"):
        query.awaitTermination()


def test_arguments_are_checked_before_the_query_starts(spark, tmp_path):
    from streameval.spark import monitor

    stream = spark.readStream.schema(SCHEMA).json(str(tmp_path))
    ok = dict(y_true="y", y_pred="p", event_time="t", window=SIZE, accumulator=streameval.Binary(),
              sink=lambda window: None)
    with pytest.raises(ValueError, match="not a streaming DataFrame"):
        monitor(spark.createDataFrame([(1, 0.5)], "y long, p double"), **ok)
    with pytest.raises(ValueError, match="event_time='time' is not a column"):
        monitor(stream, **{**ok, "event_time": "time"})
    with pytest.raises(TypeError, match="event_time='t' is a string column: expected a timestamp"):
        monitor(spark.readStream.schema("t string, y long, p double").json(str(tmp_path)), **ok)
    with pytest.raises(ValueError, match="window=0"):
        monitor(stream, **{**ok, "window": 0})
    with pytest.raises(ValueError, match="watermark=-1"):
        monitor(stream, **{**ok, "watermark": -1})
    with pytest.raises(ValueError, match="by='h' is not a column"):
        monitor(stream, **{**ok, "by": "h"})
    with pytest.raises(ValueError, match="by='rows' is also a column of the sink's table"):
        monitor(stream.withColumnRenamed("g", "rows"), **{**ok, "by": "rows"})
    with pytest.raises(ValueError, match="accumulator is a Sliced: give by="):
        monitor(stream, **{**ok, "accumulator": streameval.Sliced(streameval.Binary())})
    with pytest.raises(TypeError, match="Windowed"):
        monitor(stream, **{**ok, "accumulator": streameval.Windowed(streameval.Binary(), 10, buckets=2)})
    with pytest.raises(TypeError, match="sink="):
        monitor(stream, **{**ok, "sink": 3})

    state = tmp_path / "checkpoint" / "streameval"
    state.mkdir(parents=True)
    manifest = {"format": 1, "window": SIZE, "watermark": SIZE, "by": [], "batch_id": 0, "max_time": None,
                "late_rows": 0, "windows": []}
    (state / "state.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="holds another stream: its window is 60.0 seconds, not 30.0"):
        monitor(stream, **{**ok, "window": 30, "checkpoint_location": str(tmp_path / "checkpoint")})
    (state / "state.json").write_text(json.dumps({**manifest, "windows": [[0, 1, "../../etc/passwd"]]}))
    with pytest.raises(streameval.SerializationError, match="not a valid stream state"):
        monitor(stream, **{**ok, "checkpoint_location": str(tmp_path / "checkpoint")})


def test_the_example_runs():
    """examples/spark_stream.py as a user runs it: its own local[2] session and a temporary directory."""
    _require_spark()
    example = Path(__file__).resolve().parents[1] / "examples" / "spark_stream.py"
    done = subprocess.run([sys.executable, "-W", "ignore", str(example)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "each equal to scikit-learn on its rows: OK" in done.stdout
    assert "starting it again from its checkpoint" in done.stdout
