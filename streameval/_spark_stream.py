"""Windowed metrics over a Spark Structured Streaming DataFrame: ``streameval.spark.monitor``.

Each micro-batch is counted on the executors as ``streameval.spark.evaluate`` counts a
DataFrame: ``mapInArrow`` feeds a partition's Arrow batches into accumulators rebuilt from the
template's bytes, one per tumbling event-time window the partition's rows fall in, and yields
one row per window (its index, its row count, its latest event time and the accumulator's
``to_bytes()``). ``foreachBatch`` then merges these rows on the driver into the open windows,
a dict {window index: accumulator}, moves the watermark, sends the windows it closes to the
sink and checkpoints what is still open, with the id of the batch it has committed.

Exactly-once. Spark runs ``foreachBatch`` at least once per batch id (a batch is run again
after a crash until Spark has committed it), always on the same rows. The state is saved
together with the id of the last batch it holds, so a batch id at or below it is skipped: a
batch is counted into the state exactly once. Windows closed by a batch that is run again are
sent to the sink again; the Parquet sink writes each batch's windows to one file named after
the batch id, so a repeated batch overwrites its own file and the table holds each window once.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import _partitions, checkpoint, serialization
from .accumulator import Accumulator
from .errors import SerializationError
from .sliced import Sliced

# The helpers this module shares with streameval.spark.evaluate are imported where they are used:
# streameval.spark re-exports monitor, and a Python worker may import either module first.

if TYPE_CHECKING:  # pyspark and pyarrow are imported when monitor runs
    import pyarrow as pa
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming.query import StreamingQuery

__all__ = ["ClosedWindow", "monitor"]

# One row per window a partition's rows fall in: the window's index (floor(time / window)), its
# rows, their latest event time and the accumulator's bytes; or one row holding an error.
_PARTITION_SCHEMA = "window long, rows long, max_time double, state binary, error_type string, error string"
_STATE_FORMAT = 1
_MANIFEST = "state.json"
_MANIFEST_LIMIT = 64 << 20  # bytes of a manifest read back: it names windows, it holds no counts
_WINDOW_FILE = re.compile(r"w(-?\d+)-b(\d+)\.sevl")
_TABLE_COLUMNS = ("window_start", "window_end", "rows", "late_rows", "batch_id", "state")  # of the Parquet sink
MAX_WINDOWS = 10_000  # windows that one micro-batch's rows may fall in (a bound on the driver's state)
_MAX_SECONDS = 1e14  # |event time| in seconds (3 million years): window indices stay exact in int64


class ClosedWindow(NamedTuple):
    """A window the watermark has closed, as a callable sink receives it.

    start, end: the window's bounds in epoch seconds, [start, end).
    accumulator: the window's counts (a plain accumulator like the template: query any metric),
        or with ``by=`` a ``streameval.Sliced`` of them (``[key]``, ``by_slice()``, ``worst()``...).
    rows: the rows counted into the window.
    late_rows: the rows dropped as late so far in the stream, this window's batch included.
    batch_id: the micro-batch that closed the window.
    """

    start: float
    end: float
    accumulator: Accumulator | Sliced
    rows: int
    late_rows: int
    batch_id: int

    def metrics(self) -> dict[str, Any]:
        """The accumulator's compute() (a Sliced's: of all its slices) plus window_start, window_end, rows
        and late_rows."""
        return {**self.accumulator.compute(), "window_start": self.start, "window_end": self.end,
                "rows": self.rows, "late_rows": self.late_rows}


Sink = Callable[[ClosedWindow], object] | str | os.PathLike[str]


def monitor(stream_df: DataFrame, *, y_true: str | list[str], y_pred: str | list[str], event_time: str,
            window: float | timedelta, sample_weight: str | list[str] | None = None, by: str | list[str] | None = None,
            accumulator: Accumulator | Sliced, sink: Sink, checkpoint_location: str | os.PathLike[str] | None = None,
            watermark: float | timedelta | None = None, trigger: dict[str, Any] | None = None,
            seed: Any = None) -> StreamingQuery:
    """Start a streaming query that sends the metrics of each closed event-time window to ``sink``.

    stream_df: a streaming pyspark.sql.DataFrame (``spark.readStream...``; classic Spark).
    y_true, y_pred, sample_weight: column names, as for ``streameval.spark.evaluate`` (a list
        of names gives score or label columns). Columns may hold no null.
    event_time: the column of each row's event time: a timestamp (a TimestampNTZ is read as
        UTC) or a number of epoch seconds. It may hold no null.
    window: the windows' length in seconds (or a timedelta). Windows are tumbling and aligned
        on epoch time 0: a row at time t is in window [k * window, (k + 1) * window) with
        k = floor(t / window).
    watermark: how late a row may be, in seconds (or a timedelta); default: one window. After
        each micro-batch the watermark is the latest event time seen so far minus ``watermark``;
        a window closes, and goes to the sink, once the watermark reaches its end. A row whose
        window is still open is counted, however late; a row whose window the watermark has
        already closed is dropped and counted in ``late_rows`` (as in Spark, the watermark a
        batch's rows are judged by is the one the batches before it left). Windows that counted
        no row are not reported; windows still open when the query stops stay open (and are
        checkpointed) until later rows move the watermark past them.
    by: a column of slice keys, or a list of columns (crossed slices: the keys are tuples). Each
        window then holds a ``streameval.Sliced`` of the accumulator: its counts per key.
    accumulator: an empty ``Binary``, ``Multiclass`` or ``Multilabel`` template (never modified);
        with ``by=``, an empty ``Sliced`` of one to choose ``max_slices`` and ``overflow`` (by
        default ``Sliced(accumulator)``: at most 10,000 slices per window, more raise).
    sink: where each closed window goes:
        - a callable, called on the driver with a ``ClosedWindow`` (start, end, accumulator,
          rows, late_rows, batch_id; ``.metrics()`` is a dict), in order of window start;
        - a path (str or os.PathLike): a Parquet table, a directory to which each micro-batch
          that closes windows adds one file, ``part-<batch id>.parquet``, one row per window:
          window_start and window_end (UTC timestamps), rows, late_rows, batch_id, every
          metric of compute() as a float column, and state (the accumulator's ``to_bytes()``,
          for any other query: ``streameval.from_bytes(row.state)``). With ``by=``, one row per
          window and slice, a column per ``by`` column holding the slice's key, and rows, the
          metrics and state are the slice's. Read it with ``pandas.read_parquet(path)`` or
          ``spark.read.parquet(path)``. A Delta table: write it from a callable
          (``spark.createDataFrame([...]).write.format("delta")``).
    checkpoint_location: a directory on the driver's file system. Spark checkpoints the query
        in ``<checkpoint_location>/spark`` and the open windows are saved in
        ``<checkpoint_location>/streameval`` (each window with ``streameval.save``, then a
        manifest with the committed batch id, written atomically). A query started again on the
        same checkpoint resumes where the last one committed: batches it had counted are
        skipped, so no row is lost or counted twice. Delete both parts together, never one.
        None: nothing is saved (Spark uses a temporary checkpoint).
    trigger: keyword arguments of ``DataStreamWriter.trigger``, e.g. ``{"availableNow": True}``
        or ``{"processingTime": "1 minute"}``; default: Spark's (a batch as soon as the last ends).
    seed: for a template with ``bootstrap=R`` only: partition ``i`` of batch ``b`` draws the
        replicates of the ``j``-th window it meets from ``(seed, b, i, j)``.

    Bounds: the rows of one micro-batch may fall in at most ``streameval.spark.MAX_WINDOWS``
    (10,000) windows, else the batch raises ValueError; the open windows are then those between
    the watermark and the latest event time, about ``watermark / window + 2`` of them, and with
    ``by=`` each holds at most ``max_slices`` slices (plus one for ``overflow="other"``).

    Returns the started ``StreamingQuery``. A row that the accumulator refuses (or a null) makes
    the micro-batch raise the accumulator's own ValueError or TypeError, naming the partition
    and rows, before anything is counted: the query stops with that error, and its state is as
    the previous batch left it.

    A callable sink is called again for the windows of a batch that Spark runs again after a
    crash between the sink and the checkpoint (Spark's at-least-once); the Parquet sink
    overwrites that batch's file, so its table holds each window once.
    """
    try:
        from pyspark.sql import DataFrame
    except ImportError as exc:  # the same message as evaluate's
        raise ImportError(f'streameval.spark needs pyspark ({exc}): pip install pyspark pyarrow pandas, '
                          'or the "spark" extra (pip install -e ".[spark]" in a clone of streameval)') from exc

    from .spark import _ERRORS, _columns, _layout

    if isinstance(accumulator, Sliced):
        if by is None:
            raise ValueError("accumulator is a Sliced: give by=, the column(s) of its slice keys")
        if accumulator.n_slices:
            raise ValueError(f"accumulator has {accumulator.n_slices} slices already: pass an empty Sliced (a "
                             "template), else its counts would be added once per partition")
    else:
        _partitions.check_template(accumulator)
    if not isinstance(stream_df, DataFrame):
        raise TypeError(f"stream_df={type(stream_df).__name__} is not valid: expected a pyspark.sql.DataFrame")
    if not stream_df.isStreaming:
        raise ValueError("stream_df is not a streaming DataFrame (spark.readStream...): for a DataFrame at rest, "
                         "use streameval.spark.evaluate")
    by_columns = [] if by is None else _partitions.column_list("by", by)
    for name in by_columns:
        if name not in stream_df.columns:
            raise ValueError(f"by={name!r} is not a column of stream_df: its columns are {stream_df.columns}")
        if name in _TABLE_COLUMNS or name in _metric_names(accumulator):
            raise ValueError(f"by={name!r} is also a column of the sink's table: rename the column")
    size = _seconds("window", window)
    if size <= 0:
        raise ValueError(f"window={window!r} is not valid: expected a positive number of seconds")
    delay = size if watermark is None else _seconds("watermark", watermark)
    if delay < 0:
        raise ValueError(f"watermark={watermark!r} is not valid: expected a number of seconds >= 0")
    if not (callable(sink) or isinstance(sink, (str, os.PathLike))):
        raise TypeError(f"sink={sink!r} is not valid: expected a callable or the path of a Parquet table")
    if trigger is not None and not isinstance(trigger, dict):
        raise TypeError(f"trigger={trigger!r} is not valid: expected a dict of DataStreamWriter.trigger's arguments")
    if not isinstance(event_time, str) or event_time not in stream_df.columns:
        raise ValueError(f"event_time={event_time!r} is not a column of stream_df: its columns are {stream_df.columns}")
    _check_time_type(stream_df, event_time)

    layout = _layout(stream_df, y_true, y_pred, sample_weight)
    columns = [*_columns(layout), event_time, *by_columns]
    quoted = ["`" + name.replace("`", "``") + "`" for name in columns]
    selected = stream_df.select(*quoted).toDF(*(f"c{i}" for i in range(len(columns))))
    if by is not None and not isinstance(accumulator, Sliced):
        accumulator = Sliced(accumulator)
    template = accumulator.to_bytes()
    crossed = isinstance(by, list)
    base = None if isinstance(accumulator, Sliced) else _partitions.base_seed(accumulator, seed)
    settings: dict[str, Any] = {"window": size, "watermark": delay, "by": by_columns}
    state_dir = None if checkpoint_location is None else os.path.join(os.fspath(checkpoint_location), "streameval")
    state = _State.load(state_dir, settings, accumulator) if state_dir else _State(None, settings)
    emit = functools.partial(_write_parquet, os.fspath(sink), by_columns) if isinstance(sink, (str, os.PathLike)) \
        else functools.partial(_call_each, sink)

    def run_batch(batch_df: DataFrame, batch_id: int) -> None:
        if batch_id <= state.batch_id:  # counted before a restart: at-least-once made exactly-once
            return
        count = functools.partial(_count_partition, template, layout, size, len(by_columns), crossed,
                                  _batch_seed(base, batch_id))
        rows = batch_df.mapInArrow(count, _PARTITION_SCHEMA).collect()
        for row in rows:
            if row.error is not None:
                raise _ERRORS[row.error_type](row.error)
        if len({row.window for row in rows}) > MAX_WINDOWS:  # each partition's were fewer
            raise ValueError(f"event_time: the rows of batch {batch_id} fall in more than {MAX_WINDOWS:,} windows: "
                             "a micro-batch may span at most streameval.spark.MAX_WINDOWS windows")
        closed = state.add(batch_id, [(int(r.window), int(r.rows), float(r.max_time), r.state) for r in rows])
        if closed:
            emit(closed)
        state.commit(batch_id)

    writer = selected.writeStream.foreachBatch(run_batch)
    if checkpoint_location is not None:
        writer = writer.option("checkpointLocation", os.path.join(os.fspath(checkpoint_location), "spark"))
    if trigger is not None:
        writer = writer.trigger(**trigger)
    return writer.start()


def _accumulator(data: bytes) -> Accumulator | Sliced:
    acc: Accumulator | Sliced = serialization.from_bytes(data)  # the template's class, checked by monitor
    return acc


def _metric_names(accumulator: Accumulator | Sliced) -> set[str]:
    """The names compute() gives (none known yet for labels="auto" without a label)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return set(accumulator.compute())
        except ValueError:
            return set()


def _seconds(argument: str, value: object) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise TypeError(f"{argument}={value!r} is not valid: expected a finite number of seconds or a timedelta")
    return float(value)


def _check_time_type(stream_df: DataFrame, event_time: str) -> None:
    from pyspark.sql.types import NumericType, TimestampNTZType, TimestampType

    kind = stream_df.schema[event_time].dataType
    if not isinstance(kind, (TimestampType, TimestampNTZType, NumericType)):
        raise TypeError(f"event_time={event_time!r} is a {kind.simpleString()} column: expected a timestamp "
                        "or a number of epoch seconds")


def _batch_seed(base: Any, batch_id: int) -> Any:
    if base is None:
        return None
    return (*base, batch_id) if isinstance(base, tuple) else (base, batch_id)


# --- on the executors ------------------------------------------------------------------------


def _count_partition(template: bytes, layout: Any, size: float, n_by: int, crossed: bool, seed: Any,
                     batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow's function: count a partition's rows per window; yield one row per window."""
    import pyarrow as pa
    from pyspark import TaskContext

    from .spark import _batch_arrays, _error_name

    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    accs: dict[int, Accumulator | Sliced] = {}
    rows: dict[int, int] = {}
    latest: dict[int, float] = {}
    start = 0
    failure: tuple[str, str] | None = None
    for batch in batches:
        try:
            arrays = _batch_arrays(batch, layout)
            times = _event_seconds(batch.column(batch.num_columns - 1 - n_by))
            keys_of = [_slice_keys(batch.column(batch.num_columns - n_by + i), i) for i in range(n_by)]
            index = np.floor(times / size).astype(np.int64)
            keys, inverse = np.unique(index, return_inverse=True)
            if len(set(accs) | set(keys.tolist())) > MAX_WINDOWS:
                raise ValueError(f"event_time: the rows fall in more than {MAX_WINDOWS:,} windows of {size:g} s "
                                 f"(times from {times.min()!r} to {times.max()!r}): a micro-batch may span at most "
                                 "streameval.spark.MAX_WINDOWS windows; use longer windows or smaller batches")
            for j, key in enumerate(keys.tolist()):
                take = slice(None) if len(keys) == 1 else inverse == j
                acc = accs.get(key)
                if acc is None:
                    acc = accs[key] = _accumulator(template)
                    if isinstance(acc, Accumulator) and acc.bootstrap is not None:
                        acc.reseed((*seed, partition, len(accs) - 1))
                y_true, y_pred, weight = (None if a is None else a[take] for a in arrays)
                if isinstance(acc, Sliced):
                    taken = [k[take] for k in keys_of]
                    acc.update(y_true, y_pred, sample_weight=weight, by=tuple(taken) if crossed else taken[0])
                else:
                    acc.update(y_true, y_pred, sample_weight=weight)
                rows[key] = rows.get(key, 0) + int(times[take].size)
                latest[key] = max(latest.get(key, -math.inf), float(times[take].max()))
        except (ValueError, TypeError, OverflowError) as exc:
            stop = start + batch.num_rows - 1
            failure = (_error_name(exc), f"partition {partition}, rows {start}..{stop} "
                                         f"(positions count from row {start}): {exc}")
            break
        start += batch.num_rows
    schema = pa.schema([("window", pa.int64()), ("rows", pa.int64()), ("max_time", pa.float64()),
                        ("state", pa.binary()), ("error_type", pa.string()), ("error", pa.string())])
    if failure is not None:
        columns: dict[str, list[Any]] = {"window": [0], "rows": [0], "max_time": [0.0], "state": [None],
                                         "error_type": [failure[0]], "error": [failure[1]]}
    else:
        keys_found = sorted(accs)
        columns = {"window": keys_found, "rows": [rows[k] for k in keys_found],
                   "max_time": [latest[k] for k in keys_found], "state": [accs[k].to_bytes() for k in keys_found],
                   "error_type": [None] * len(keys_found), "error": [None] * len(keys_found)}
    yield pa.RecordBatch.from_pydict(columns, schema=schema)


def _slice_keys(column: pa.Array, position: int) -> np.ndarray:
    if column.null_count:
        row = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
        raise ValueError(f"by[{row}] is null (by column {position}): drop or fill the nulls first")
    keys: np.ndarray = column.to_numpy(zero_copy_only=False)
    return keys


def _event_seconds(column: pa.Array) -> np.ndarray:
    """The event times of an Arrow column as float64 epoch seconds (a timestamp or a number)."""
    import pyarrow as pa

    if column.null_count:
        row = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
        raise ValueError(f"event_time[{row}] is null: drop or fill the nulls first")
    if pa.types.is_timestamp(column.type):
        per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[column.type.unit]
        ticks = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
        whole, part = np.divmod(ticks, per_second)
        seconds: np.ndarray = whole.astype(np.float64) + part / per_second
    else:
        seconds = column.to_numpy(zero_copy_only=False).astype(np.float64)
    bad = ~(np.abs(seconds) <= _MAX_SECONDS)  # NaN too
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"event_time[{row}]={seconds[row]!r} is not valid: expected a time within "
                         f"{_MAX_SECONDS:g} seconds of the epoch")
    return seconds


# --- on the driver ---------------------------------------------------------------------------


class _State:
    """The open windows, the watermark's inputs and the last committed batch, saved under ``directory``."""

    def __init__(self, directory: str | None, settings: dict[str, Any]) -> None:
        self.directory = directory
        self.settings = settings
        self.batch_id = -1
        self.max_time: float | None = None
        self.late_rows = 0
        self.open: dict[int, Accumulator | Sliced] = {}
        self.rows: dict[int, int] = {}
        self.files: dict[int, str] = {}  # window -> its file in directory, as last committed
        self._changed: set[int] = set()

    @property
    def watermark(self) -> float:
        return -math.inf if self.max_time is None else self.max_time - self.settings["watermark"]

    def add(self, batch_id: int, partials: list[tuple[int, int, float, bytes]]) -> list[ClosedWindow]:
        """Merge a batch's per-partition windows; return the windows the new watermark closes.

        Nothing is changed if a merge raises (the counts past streameval.limits.MAX_COUNT).
        """
        size = self.settings["window"]
        watermark = self.watermark  # the one the batches before this one left
        merged: dict[int, Accumulator | Sliced] = {}
        rows: dict[int, int] = {}
        late = 0
        latest = self.max_time
        for window, count, max_time, data in partials:
            latest = max_time if latest is None else max(latest, max_time)
            if (window + 1) * size <= watermark:
                late += count
                continue
            acc = _accumulator(data)
            merged[window] = acc if window not in merged else merged[window].merge(acc)
            rows[window] = rows.get(window, 0) + count
        opened = {w: self.open[w] + acc if w in self.open else acc for w, acc in merged.items()}
        self.open.update(opened)  # + made new objects: had one raised, nothing would have changed
        for window, count in rows.items():
            self.rows[window] = self.rows.get(window, 0) + count
        self._changed |= set(opened)
        self.late_rows += late
        self.max_time = latest
        closing = sorted(w for w in self.open if (w + 1) * size <= self.watermark)
        closed = [ClosedWindow(w * size, (w + 1) * size, self.open.pop(w), self.rows.pop(w), self.late_rows, batch_id)
                  for w in closing]
        return closed

    def commit(self, batch_id: int) -> None:
        """Record batch_id as counted: save the changed windows, then the manifest (atomically)."""
        self.batch_id = batch_id
        changed, self._changed = self._changed, set()
        if self.directory is None:
            return
        os.makedirs(self.directory, exist_ok=True)
        for window in sorted(changed & set(self.open)):
            name = f"w{window}-b{batch_id}.sevl"
            checkpoint.save(self.open[window], os.path.join(self.directory, name))
            self.files[window] = name
        self.files = {w: name for w, name in self.files.items() if w in self.open}
        manifest = {"format": _STATE_FORMAT, **self.settings, "batch_id": batch_id, "max_time": self.max_time,
                    "late_rows": self.late_rows,
                    "windows": [[w, self.rows[w], self.files[w]] for w in sorted(self.open)]}
        checkpoint.save(_Bytes(json.dumps(manifest).encode()), os.path.join(self.directory, _MANIFEST))
        keep = set(self.files.values())
        for name in os.listdir(self.directory):  # windows closed or saved again: no longer referenced
            if _WINDOW_FILE.fullmatch(name) and name not in keep:
                os.unlink(os.path.join(self.directory, name))

    @classmethod
    def load(cls, directory: str, settings: dict[str, Any], template: Accumulator | Sliced) -> _State:
        """The state committed in directory, or an empty one if nothing was committed there."""
        state = cls(directory, settings)
        path = os.path.join(directory, _MANIFEST)
        if not os.path.exists(path):
            return state
        with open(path, "rb") as f:
            text = f.read(_MANIFEST_LIMIT + 1)
        try:
            if len(text) > _MANIFEST_LIMIT:
                raise ValueError(f"more than {_MANIFEST_LIMIT:,} bytes")
            manifest = json.loads(text)
            if not isinstance(manifest, dict) or manifest.get("format") != _STATE_FORMAT:
                raise ValueError(f"not a streameval stream state of format {_STATE_FORMAT}")
            batch_id, max_time, late, windows = (manifest["batch_id"], manifest["max_time"], manifest["late_rows"],
                                                 manifest["windows"])
            if not (isinstance(batch_id, int) and isinstance(late, int) and late >= 0 and isinstance(windows, list)
                    and (max_time is None or isinstance(max_time, (int, float)))):
                raise ValueError("bad batch_id, max_time, late_rows or windows")
            for name in settings:
                if manifest.get(name) != settings[name]:
                    unit = " seconds" if name != "by" else ""
                    raise _SettingsError(f"its {name} is {manifest.get(name)!r}{unit}, not {settings[name]!r}{unit}: "
                                         "use another checkpoint_location for other settings")
            for entry in windows:
                if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], int)
                        and isinstance(entry[1], int) and isinstance(entry[2], str)
                        and _WINDOW_FILE.fullmatch(entry[2])):
                    raise ValueError(f"bad window entry {entry!r:.80}")
                window, rows, name = entry
                acc = checkpoint.load(os.path.join(directory, name))
                if type(acc) is not type(template):
                    raise ValueError(f"{name} holds a {type(acc).__name__}, not a {type(template).__name__}")
                template.copy().merge(acc)  # raises IncompatibleError unless configured alike
                state.open[window], state.rows[window], state.files[window] = acc, rows, name
        except _SettingsError as exc:
            where = os.path.dirname(directory)
            raise ValueError(f"checkpoint_location={where!r} holds another stream: {exc}") from None
        except (ValueError, TypeError, KeyError, OSError) as exc:
            raise SerializationError(f"{path!r} is not a valid stream state: {exc}") from exc
        state.batch_id, state.max_time, state.late_rows = batch_id, max_time, late
        return state


class _SettingsError(Exception):
    pass


class _Bytes:
    """Bytes that checkpoint.save writes as they are (the manifest)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def to_bytes(self) -> bytes:
        return self._data


def _call_each(sink: Callable[[ClosedWindow], object], windows: list[ClosedWindow]) -> None:
    for window in windows:
        sink(window)


def _write_parquet(directory: str, by: list[str], windows: list[ClosedWindow]) -> None:
    """A batch's closed windows (with by: each window's slices) as one Parquet file named after the batch id."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records: list[tuple[ClosedWindow, tuple[Any, ...], Accumulator, float]] = []
    for window in windows:
        acc = window.accumulator
        if isinstance(acc, Sliced):
            for key in acc.keys():
                part = acc[key]
                records.append((window, key if len(by) > 1 else (key,), part, part.n_samples))
        else:
            records.append((window, (), acc, window.rows))
    metrics = [acc.compute() for _, _, acc, _ in records]
    names = [n for n, v in metrics[0].items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)]
    us = pa.timestamp("us", tz="UTC")
    slices = {}
    for i, name in enumerate(by):
        values = [key[i] for _, key, _, _ in records]
        try:
            slices[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # keys of several types (or "__other__" among numbers)
            slices[name] = pa.array([str(v) for v in values])
    table = pa.table({
        "window_start": pa.array([round(w.start * 1e6) for w, _, _, _ in records], pa.int64()).cast(us),
        "window_end": pa.array([round(w.end * 1e6) for w, _, _, _ in records], pa.int64()).cast(us),
        **slices,
        "rows": pa.array([rows for _, _, _, rows in records], pa.int64()),
        "late_rows": pa.array([w.late_rows for w, _, _, _ in records], pa.int64()),
        "batch_id": pa.array([w.batch_id for w, _, _, _ in records], pa.int64()),
        **{n: pa.array([float(m[n]) for m in metrics], pa.float64()) for n in names},
        "state": pa.array([acc.to_bytes() for _, _, acc, _ in records], pa.binary()),
    })
    batch_id = windows[0].batch_id
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, f"part-{batch_id:012d}.parquet")
    temporary = os.path.join(directory, f".part-{batch_id:012d}.parquet.tmp")  # readers skip names with a dot
    pq.write_table(table, temporary)
    os.replace(temporary, target)  # a batch run again replaces its own file
