"""Evaluate a Spark DataFrame: one accumulator per partition, merged by treeAggregate.

``evaluate`` selects the needed columns and runs ``mapInArrow`` over them: on the executors, each
partition feeds its Arrow record batches (as numpy arrays, zero-copy where Arrow allows) into one
accumulator rebuilt from the template's bytes, and yields a single row holding that
accumulator's ``to_bytes()``. ``treeAggregate`` then adds these up in a tree of merges
(``streameval.from_bytes(...).merge(...)``) and the driver gets one accumulator. Only the
template's bytes and the partitions' counts travel, never the samples or a pickled object graph.
Because merging is adding counts, the result is the accumulator one process would have filled
with all the rows, whatever the partitioning. With ``by=COL`` (or a list of columns, crossed) each
partition counts a ``Sliced`` copy of the template in one pass, the merges union the partitions'
keys, and the driver gets a ``Sliced``.

pyspark is imported when ``evaluate`` runs, never by ``import streameval`` or by importing this
module, so the core needs only numpy and numba. Install the "spark" extra (pyspark, pyarrow,
pandas), from a clone ``pip install -e ".[spark]"``; Spark needs Java 17.

The Python workers must be able to import streameval. On a cluster, install it on every node; on
``local[N]``, point the workers at the driver's interpreter before the session starts::

    import os, sys
    os.environ["PYSPARK_PYTHON"] = sys.executable

    import streameval
    from pyspark.sql import SparkSession
    from streameval.spark import evaluate

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    frame = spark.read.parquet("predictions/")
    acc = evaluate(frame, y_true="label", y_pred="pred", accumulator=streameval.Multiclass(10))
    print(acc.report())

Classic Spark only: Spark Connect DataFrames have no ``.rdd`` for ``treeAggregate``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import numpy as np

import streameval
from streameval.accumulator import Accumulator
from streameval.sliced import Sliced

# The private helpers are shared with the Dask integration, so both check templates, column
# arguments and seeds alike; importing streameval.dask does not import dask.
from streameval import _partitions

if TYPE_CHECKING:  # pyspark and pyarrow are imported when evaluate runs
    import pyarrow as pa
    from pyspark.sql import DataFrame, Row

# A bootstrap seed: a non-negative integer or a tuple of them, such as (base_seed, run).
_Seed = int | tuple[int, ...]
# Each given argument: (its name, its column names, whether they are stacked into a 2-D array).
_Layout = tuple[tuple[str, tuple[str, ...], bool], ...]
# What a partition, or a merge of some, hands on: its accumulator's bytes, or an error by name.
_Partial = tuple[Literal["state"], bytes] | tuple[Literal["error"], str, str]

__all__ = ["MAX_WINDOWS", "ClosedWindow", "evaluate", "monitor"]

# One row per partition: its accumulator's bytes, or the error its rows raised.
_PARTITION_SCHEMA = "state binary, error_type string, error string"
# The errors a partition's rows or a merge can raise, sent back by name (OverflowError: counts
# past streameval.limits.MAX_COUNT; IncompatibleError is a TypeError).
_ERRORS = {"ValueError": ValueError, "TypeError": TypeError, "OverflowError": OverflowError}


@overload
def evaluate(spark_df: DataFrame, *, y_true: str | list[str], y_pred: str | list[str],
             sample_weight: str | list[str] | None = None, accumulator: Accumulator, depth: int = 2,
             seed: _Seed | None = None, by: None = None, max_slices: None = None) -> Accumulator: ...


@overload
def evaluate(spark_df: DataFrame, *, y_true: str | list[str], y_pred: str | list[str],
             sample_weight: str | list[str] | None = None, accumulator: Accumulator | Sliced, depth: int = 2,
             seed: _Seed | None = None, by: str | list[str], max_slices: int | None = None) -> Sliced: ...


def evaluate(spark_df: DataFrame, *, y_true: str | list[str], y_pred: str | list[str],
             sample_weight: str | list[str] | None = None, accumulator: Accumulator | Sliced, depth: int = 2,
             seed: _Seed | None = None, by: str | list[str] | None = None,
             max_slices: int | None = None) -> Accumulator | Sliced:
    """Count every row of ``spark_df`` into a copy of ``accumulator`` on the executors; return it.

    spark_df: a pyspark.sql.DataFrame (classic Spark, not Spark Connect).
    y_true, y_pred, sample_weight: column names. A list of names gives a 2-D array: score
        columns for ``Multiclass`` / ``Multilabel`` scores (one per class or label, in order),
        label columns for ``Multilabel``'s y_true. Columns may hold no null.
    accumulator: an empty ``Binary``, ``Multiclass`` or ``Multilabel``, used as a template (never
        modified; it travels to the executors as ``to_bytes()``). ``Windowed`` and ``Decayed``
        are refused: a position in the stream has no meaning across partitions counted in parallel.
    depth: the depth of ``treeAggregate``'s tree of merges (2: the executors merge groups of
        partitions, the driver merges the groups).
    seed: for a template with ``bootstrap=R`` only. Partition ``i`` (``TaskContext.partitionId()``)
        draws its replicates from ``reseed((seed, i))``, so partitions draw independently, and a
        task that Spark retries draws exactly what it drew before. With ``seed=None`` a fresh base
        seed is taken from the operating system once per call. The template's own generator is
        not used. Give the calls whose results you merge different seeds.
    by: slice the metrics by a key column: each partition counts a
        ``Sliced(accumulator, max_slices=max_slices)`` with ``by=`` the column's values, in one
        pass per Arrow batch, and the tree of merges unions the partitions' keys (a key found
        in several partitions is one slice). A list of names crosses the columns: the keys are
        then tuples, one value per name (a list of one name too). Key columns may hold
        integers, booleans, strings or floats (finite; an integer-valued float is that
        integer). A null key raises ValueError naming the partition, rows and column: drop or
        fill the nulls first (``fillna("unknown", subset=[col])`` makes them a slice); a NaN
        float key raises too.
    max_slices: at most this many slices (default 10,000), counted per partition and in the
        merged result: more distinct keys raise ValueError. ``accumulator`` may instead be an
        empty ``Sliced`` (then leave max_slices out): its max_slices and overflow apply, and
        ``overflow="other"`` counts the keys past the bound in one "__other__" slice (which keys
        get a slice of their own then depends on the partitioning: a partition counts the keys it
        finds past the bound in "__other__"; no row is lost or counted twice).

    Returns the merged accumulator, equal to one accumulator fed every row (integer counts
    exactly; float sums of weights or scores up to rounding, since they are added in another order).
    With ``by=``, a ``Sliced`` (its keys in an order that depends on the partitioning; ``==`` and
    the queries do not). An empty DataFrame gives an empty copy of the template. An invalid row
    raises, on the driver, the accumulator's own ValueError or TypeError, prefixed with the
    partition and the rows of the Arrow batch that held it.
    """
    try:
        from pyspark.sql import DataFrame
    except ImportError as exc:
        raise ImportError(f'streameval.spark needs pyspark ({exc}): pip install pyspark pyarrow pandas, '
                          'or the "spark" extra (pip install -e ".[spark]" in a clone of streameval)') from exc

    template_acc = _partitions.template_for(accumulator, by, max_slices)
    if not isinstance(spark_df, DataFrame):
        raise TypeError(f"spark_df={type(spark_df).__name__} is not valid: expected a pyspark.sql.DataFrame")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth={depth!r} is not valid: expected an integer >= 1")
    layout = _layout(spark_df, y_true, y_pred, sample_weight)
    by_names: list[str] = []
    if by is not None:
        by_names, crossed = _partitions.by_columns(by)
        for name in by_names:
            if name not in spark_df.columns:
                raise ValueError(f"by={name!r} is not a column of spark_df: its columns are {spark_df.columns}")
    template = template_acc.to_bytes()
    columns = list(dict.fromkeys([*_columns(layout), *by_names]))
    keys = None if by is None else _Keys(tuple(by_names), tuple(columns.index(name) for name in by_names), crossed)
    count = functools.partial(_count_partition, template, layout, _partitions.base_seed(template_acc, seed), keys=keys)
    quoted = ["`" + name.replace("`", "``") + "`" for name in columns]  # names, not paths: "a.b" is one column
    # Renamed by position: mapInArrow re-resolves every column by name, and a dotted one would fail.
    selected = spark_df.select(*quoted).toDF(*(f"c{i}" for i in range(len(columns))))
    states = selected.mapInArrow(count, _PARTITION_SCHEMA)
    total = states.rdd.map(_partial).treeAggregate(None, _combine, _combine, depth=int(depth))
    result: Accumulator | Sliced
    if total is None:  # a DataFrame without partitions
        result = _accumulator(template)
    elif total[0] == "error":
        raise _ERRORS[total[1]](total[2])
    else:
        result = _accumulator(total[1])
    return result


def _accumulator(data: bytes) -> Any:
    """The accumulator data holds (the template's class: template_for let only accumulators and
    Sliced ones through)."""
    return streameval.from_bytes(data)


class _Keys(NamedTuple):
    """The slice key columns: their names, their positions among the selected columns, crossed?"""

    names: tuple[str, ...]
    positions: tuple[int, ...]
    crossed: bool


def _layout(spark_df: DataFrame, y_true: object, y_pred: object, sample_weight: object) -> _Layout:
    """(argument, column names, stacked) for each given argument, checked against spark_df's columns.

    A list of names is stacked into a 2-D array, a single name gives a 1-D one.
    """
    layout = []
    for argument, value in (("y_true", y_true), ("y_pred", y_pred), ("sample_weight", sample_weight)):
        if value is None and argument == "sample_weight":
            continue
        names = tuple(_partitions.column_list(argument, value))
        for name in names:
            if name not in spark_df.columns:
                raise ValueError(f"{argument}={name!r} is not a column of spark_df: its columns are {spark_df.columns}")
        layout.append((argument, names, isinstance(value, list)))
    return tuple(layout)


def _columns(layout: _Layout) -> list[str]:
    """The columns to select, each once (Arrow refuses repeated names), in the order of layout."""
    return list(dict.fromkeys(name for _, names, _ in layout for name in names))


# --- on the executors ------------------------------------------------------------------------


def _count_partition(template: bytes, layout: _Layout, seed: _Seed | None,
                     batches: Iterable[pa.RecordBatch], keys: _Keys | None = None) -> Iterator[pa.RecordBatch]:
    """mapInArrow's function: count one partition's record batches, yield one row with the result."""
    import pyarrow as pa
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:  # pragma: no cover - mapInArrow calls this in a task, which has a context
        raise RuntimeError("streameval.spark counts a partition only inside a Spark task")
    partition = context.partitionId()
    acc = _accumulator(template)
    if keys is None and acc.bootstrap is not None:
        acc.reseed((seed, partition))  # distinct per partition, identical when Spark retries the task
    start = 0
    state: bytes | None = None
    error_type: str | None = None
    error: str | None = None
    for batch in batches:
        try:
            arrays = _batch_arrays(batch, layout)
            if keys is None:
                acc.update(arrays[0], arrays[1], sample_weight=arrays[2])
            else:
                by = [_key_column(batch.column(i), name) for i, name in zip(keys.positions, keys.names)]
                acc.update(arrays[0], arrays[1], sample_weight=arrays[2], by=tuple(by) if keys.crossed else by[0])
        except (ValueError, TypeError, OverflowError) as exc:
            # Sent back as data rather than raised: the driver then raises the accumulator's own
            # error, not a Java stack trace, and Spark does not retry a task that would fail again.
            error_type = _error_name(exc)
            stop = start + batch.num_rows - 1
            error = f"partition {partition}, rows {start}..{stop} (positions count from row {start}): {exc}"
            break
        start += batch.num_rows
    else:
        state = acc.to_bytes()
    schema = pa.schema([("state", pa.binary()), ("error_type", pa.string()), ("error", pa.string())])
    yield pa.RecordBatch.from_pydict({"state": [state], "error_type": [error_type], "error": [error]}, schema=schema)


def _batch_arrays(batch: pa.RecordBatch, layout: _Layout) -> list[np.ndarray | None]:
    """[y_true, y_pred, sample_weight or None] of one record batch, as numpy arrays."""
    arrays: list[np.ndarray | None] = [None, None, None]
    position = {name: i for i, name in enumerate(_columns(layout))}
    for slot, (argument, names, stacked) in enumerate(layout):
        columns = []
        for name in names:
            column = batch.column(position[name])
            if column.null_count:
                row = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
                raise ValueError(f"{argument}[{row}] is null (column {name!r}): drop or fill the nulls first")
            columns.append(column.to_numpy(zero_copy_only=False))  # zero-copy for numbers without nulls
        arrays[slot] = np.column_stack(columns) if stacked else columns[0]
    return arrays


def _key_column(column: pa.Array, name: str) -> np.ndarray:
    """One record batch's slice keys as a numpy array (strings as objects); a null raises."""
    if column.null_count:
        row = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
        raise ValueError(f"by[{row}] is null (column {name!r}): every row needs a slice key. Drop or fill the nulls "
                         f"first (fillna(..., subset=[{name!r}]) makes them a slice of their own)")
    keys: np.ndarray = column.to_numpy(zero_copy_only=False)
    return keys


# --- the tree of merges ----------------------------------------------------------------------


def _partial(row: Row) -> _Partial:
    """A partition's row as a partial result: ("state", bytes) or ("error", type name, message)."""
    return ("state", row.state) if row.error is None else ("error", row.error_type, row.error)


def _combine(left: _Partial | None, right: _Partial | None) -> _Partial | None:
    """Two partial results merged; None is nothing yet, and the first error wins."""
    if left is None or right is None:
        return right if left is None else left
    if left[0] == "error" or right[0] == "error":
        return left if left[0] == "error" else right
    try:
        merged = streameval.from_bytes(left[1]).merge(streameval.from_bytes(right[1]))
    except (ValueError, OverflowError) as exc:  # counts past the bound, keys past max_slices: an error, as data
        return ("error", _error_name(exc), f"merging partitions: {exc}")
    return ("state", merged.to_bytes())


def _error_name(exc: Exception) -> str:
    return next(name for name, kind in _ERRORS.items() if isinstance(exc, kind))


# monitor (Structured Streaming) lives in its own module and uses the helpers above: imported last.
from streameval._spark_stream import MAX_WINDOWS, ClosedWindow, monitor  # noqa: E402
