"""Evaluate a Dask DataFrame or Dask arrays: one accumulator per partition, merged by a tree.

``evaluate`` counts each partition into a copy of an empty template accumulator on the worker
that holds the partition, then adds the partitions' accumulators up in a tree of merges (a few
at a time, as Dask's own reductions do) and returns the merged accumulator. Only accumulators
travel between workers, pickled through their safe byte format, never the samples. Because
merging is adding counts, the result is the accumulator one process would have filled with all
the rows, whatever the partitioning, and a partition that Dask recomputes after losing a
worker is counted once, as the lost one would have been.

With ``by=COL`` (or a list of columns, crossed) each partition counts a ``Sliced`` copy of the
template, in one pass, each row into the slice of its key, and the merges union the partitions'
keys: the result is a ``Sliced``, equal to one fed every row.

Dask is imported when ``evaluate`` runs, never by ``import streameval`` or by importing this
module, so the core needs only numpy and numba. Install the "dask" extra, from a clone
``pip install -e ".[dask]"``. Usage, on whatever scheduler is current (a
``distributed.Client`` when one exists)::

    import dask.dataframe as dd
    import streameval
    from streameval.dask import evaluate

    frame = dd.read_parquet("predictions/", columns=["label", "pred"])
    acc = evaluate(frame, y_true="label", y_pred="pred", accumulator=streameval.Multiclass(10))
    print(acc.report())
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from . import _partitions
from .accumulator import Accumulator
from .sliced import Sliced

if TYPE_CHECKING:  # dask is imported when evaluate runs
    import dask.array as da
    import dask.dataframe as dd
    from dask.delayed import Delayed

# What y_true, y_pred and sample_weight name: with a DataFrame, a column (any pandas column label)
# or a list of them (a 2-D array); with data=None, a dask array.
_Columns = Hashable | list[Any]
# A bootstrap seed: a non-negative integer or a tuple of them, such as (base_seed, run).
_Seed = int | tuple[int, ...]

DEFAULT_SPLIT_EVERY = 8  # accumulators merged per task: dask's default for DataFrame reductions

__all__ = ["evaluate"]


@overload
def evaluate(data: dd.DataFrame | None = None, *, y_true: _Columns | da.Array, y_pred: _Columns | da.Array,
             sample_weight: _Columns | da.Array | None = None, accumulator: Accumulator, split_every: int | None = None,
             seed: _Seed | None = None, by: None = None, max_slices: None = None) -> Accumulator: ...


@overload
def evaluate(data: dd.DataFrame | None = None, *, y_true: _Columns | da.Array, y_pred: _Columns | da.Array,
             sample_weight: _Columns | da.Array | None = None, accumulator: Accumulator | Sliced,
             split_every: int | None = None, seed: _Seed | None = None, by: str | int | list[Any] | da.Array,
             max_slices: int | None = None) -> Sliced: ...


def evaluate(data: dd.DataFrame | None = None, *, y_true: _Columns | da.Array, y_pred: _Columns | da.Array,
             sample_weight: _Columns | da.Array | None = None, accumulator: Accumulator | Sliced,
             split_every: int | None = None, seed: _Seed | None = None, by: _Columns | da.Array | None = None,
             max_slices: int | None = None) -> Accumulator | Sliced:
    """Count every row of ``data`` into a copy of ``accumulator`` on the Dask workers; return it.

    data: a dask DataFrame; ``y_true``, ``y_pred`` and ``sample_weight`` are then column names,
        and a list of names gives a 2-D array per partition: score columns for
        ``Multiclass`` / ``Multilabel`` scores, label columns for ``Multilabel``'s y_true.
        Or None, with ``y_true``, ``y_pred`` (and ``sample_weight``) given as dask arrays of
        the same length; y_pred and the weights are rechunked to y_true's row chunks, and the
        columns of a 2-D array are put in one chunk.
    accumulator: an empty ``Binary``, ``Multiclass`` or ``Multilabel``, used as a template
        (never modified). ``Windowed`` and ``Decayed`` are refused: a position in the stream
        has no meaning across partitions that are counted in parallel.
    split_every: how many accumulators one task merges (default 8), so a reduction over P
        partitions takes about log(P) / log(split_every) rounds.
    seed: for a template with ``bootstrap=R`` only. Partition ``i`` draws its replicates from
        ``reseed((seed, i))`` (seed: a non-negative integer or a tuple of them, such as
        ``(base_seed, run)``), so partitions draw independently and a partition that Dask
        recomputes after a worker failure draws exactly the replicates it drew before. With
        ``seed=None`` a fresh base seed is taken from the operating system once per call. The
        template's own generator is not used.
    by: slice the metrics by a key column: each partition counts a
        ``Sliced(accumulator, max_slices=max_slices)`` with ``by=`` the column's values, in one
        pass, and the merges union the partitions' keys (a key found in several partitions is one
        slice). A list of names crosses the columns: the keys are then tuples, one value per
        name (a list of one name too). Keys are what ``Sliced`` takes: integers, booleans,
        strings (pandas' string dtypes and categoricals too) or finite floats. A null key (None,
        NaN, pd.NA) raises ValueError naming the partition, row and column: drop or fill the
        nulls first (``frame[col].fillna("unknown")`` makes them a slice). With ``data=None``:
        a dask array of keys, or a list of them, as long as y_true.
    max_slices: at most this many slices (default 10,000), counted per partition and in the
        merged result: more distinct keys raise ValueError. ``accumulator`` may instead be an
        empty ``Sliced`` (then leave max_slices out): its max_slices and overflow apply, and
        ``overflow="other"`` counts the keys past the bound in one "__other__" slice (which keys
        get a slice of their own then depends on the partitioning: a partition counts the keys it
        finds past the bound in "__other__"; no row is lost or counted twice).

    Runs ``dask.compute`` on the current scheduler and returns the merged accumulator, equal to
    one accumulator fed every row (integer counts exactly; float sums, of weights or scores, up
    to rounding, since they are added in another order). With ``by=``, the result is a
    ``Sliced`` (its keys in an order that depends on the partitioning; ``==`` and the queries do
    not). Invalid rows raise the accumulator's own error, prefixed with the partition's number.
    """
    template = _partitions.template_for(accumulator, by, max_slices)
    if split_every is None:
        split_every = DEFAULT_SPLIT_EVERY
    if isinstance(split_every, bool) or not isinstance(split_every, (int, np.integer)) or split_every < 2:
        raise ValueError(f"split_every={split_every!r} is not valid: expected an integer >= 2")
    seed = _partitions.base_seed(template, seed)

    try:
        from dask.base import compute
        from dask.delayed import delayed
    except ImportError as exc:
        raise ImportError('streameval.dask needs dask: pip install "dask[dataframe,distributed]" pyarrow pandas, '
                          'or the "dask" extra (pip install -e ".[dask]" in a clone of streameval)') from exc

    partitions: list[Delayed] | list[tuple[Delayed | None, ...]]
    pick: Callable[[Any], tuple[Any, ...]]
    if data is None:
        keys = [] if by is None else by if isinstance(by, list) else [by]
        partitions = _array_blocks(y_true, y_pred, sample_weight, keys)
        pick = _block_as_is
    else:
        names, _ = ([], False) if by is None else _partitions.by_columns(by)
        partitions = _frame_partitions(data, y_true, y_pred, sample_weight, names)
        pick = _FramePicker(y_true, y_pred, sample_weight, names)
    crossed = isinstance(by, list)

    count = delayed(_count_partition, pure=True)
    level = [count(template, i, seed, pick, part, crossed) for i, part in enumerate(partitions)]
    merge = delayed(_merge_all, pure=True)
    while len(level) > 1:
        level = [merge(*level[i:i + split_every]) for i in range(0, len(level), split_every)]
    total: Accumulator | Sliced
    (total,) = compute(level[0])
    return total


# --- partitions ------------------------------------------------------------------------------


def _frame_partitions(data: object, y_true: Any, y_pred: Any, sample_weight: Any, by: list[Any]) -> list[Delayed]:
    """One Delayed pandas DataFrame per partition, holding only the needed columns."""
    import dask.dataframe as dd

    if not isinstance(data, dd.DataFrame):
        raise TypeError(
            f"data={type(data).__name__} is not valid: expected a dask DataFrame, or None with dask arrays "
            "as y_true and y_pred"
        )
    needed = []
    for name, columns in (("y_true", y_true), ("y_pred", y_pred), ("sample_weight", sample_weight), ("by", by)):
        if columns is None and name == "sample_weight" or name == "by" and not columns:
            continue
        for column in _partitions.column_list(name, columns):
            if column not in data.columns:
                raise ValueError(f"{name}={column!r} is not a column of data: its columns are {list(data.columns)}")
            if column not in needed:
                needed.append(column)
    # Selecting the columns first lets Dask read only those (from Parquet, say).
    return list(data[needed].to_delayed())


class _FramePicker:
    """Picks (y_true, y_pred, sample_weight, [key columns]) out of a partition: a name gives a 1-D
    array, a list 2-D; the key columns are pandas Series (a categorical is read by its codes)."""

    def __init__(self, y_true: Any, y_pred: Any, sample_weight: Any, by: list[Any]) -> None:
        self.names = (y_true, y_pred, sample_weight)
        self.by = by

    def __call__(self, frame: Any) -> tuple[Any, ...]:  # frame: a pandas DataFrame
        arrays = tuple(None if name is None else frame[name].to_numpy() for name in self.names)
        return (*arrays, [_keys(frame[name], name) for name in self.by])


def _keys(series: Any, name: Any) -> Any:
    """A partition's key column, checked for nulls (None, NaN, pd.NA, NaT), which no slice holds."""
    missing = series.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        raise ValueError(f"by[{row}] is null (column {name!r}): every row needs a slice key. Drop or fill the nulls "
                         f"first (frame[{name!r}].fillna(...) makes them a slice of their own)")
    return series


def _array_blocks(y_true: Any, y_pred: Any, sample_weight: Any, by: list[Any]) -> list[tuple[Any, ...]]:
    """One (y_true, y_pred, sample_weight, [keys...]) tuple of Delayed numpy blocks per row chunk of y_true."""
    import dask.array as da

    arrays = {"y_true": y_true, "y_pred": y_pred, "sample_weight": sample_weight}
    arrays |= {"by" if len(by) == 1 else f"by[{j}]": keys for j, keys in enumerate(by)}
    for name, array in arrays.items():
        if array is None and name == "sample_weight":
            continue
        if not isinstance(array, da.Array):
            raise TypeError(
                f"{name}={type(array).__name__} is not valid: with data=None, expected a dask array "
                "(or pass a dask DataFrame as data and column names)"
            )
        if not 1 <= array.ndim <= (1 if name.startswith("by") else 2):
            raise ValueError(f"{name} has shape {array.shape}: expected "
                             f"{'1 dimension' if name.startswith('by') else '1 or 2 dimensions'}")
        if np.isnan(array.shape[0]):
            raise ValueError(f"{name} has unknown chunk sizes: call {name}.compute_chunk_sizes() first")
        if array.shape[0] != y_true.shape[0]:
            raise ValueError(f"{name} has {array.shape[0]} rows but y_true has {y_true.shape[0]}")
    rows = y_true.chunks[0]
    blocks: list[list[Delayed | None]] = []
    for name, array in arrays.items():
        if array is None:
            blocks.append([None] * len(rows))
            continue
        # Rows aligned on y_true's chunks; a row's columns (scores, labels) in one block.
        array = array.rechunk({0: rows, 1: -1} if array.ndim == 2 else {0: rows})
        blocks.append(list(array.to_delayed().ravel()))
    return [(*row[:3], list(row[3:])) for row in zip(*blocks)]


def _block_as_is(block: tuple[Any, ...]) -> tuple[Any, ...]:
    return block


# --- tasks -----------------------------------------------------------------------------------


def _count_partition(template: Accumulator | Sliced, index: int, seed: _Seed | None,
                     pick: Callable[[Any], tuple[Any, ...]], partition: Any, crossed: bool) -> Accumulator | Sliced:
    """A copy of template with one partition's rows counted (a task; template is not modified)."""
    acc = template.copy()
    try:
        y_true, y_pred, sample_weight, keys = pick(partition)
        if isinstance(acc, Sliced):
            acc.update(y_true, y_pred, sample_weight=sample_weight, by=tuple(keys) if crossed else keys[0])
        else:
            if acc.bootstrap is not None:
                acc.reseed((seed, index))  # distinct per partition, identical when Dask recomputes it
            acc.update(y_true, y_pred, sample_weight=sample_weight)
    except (ValueError, TypeError) as exc:
        kind = ValueError if isinstance(exc, ValueError) else TypeError
        raise kind(f"partition {index} (positions count from its first row): {exc}") from exc
    return acc


def _merge_all(*accumulators: Accumulator | Sliced) -> Accumulator | Sliced:
    """The sum of some partitions' accumulators, in a new one: a task's inputs must not change."""
    total = accumulators[0].copy()
    try:
        for acc in accumulators[1:]:
            total.merge(acc)
    except ValueError as exc:  # Sliced: the partitions' keys together past max_slices
        raise ValueError(f"merging partitions: {exc}") from exc
    return total
