"""Per-event timestamps: ``timestamp=`` of Windowed and Decayed read as epoch seconds.

``times_of(timestamp)`` reads a timestamp as a Python float (one time for the batch, as before)
or as an (N,) float64 array of epoch seconds, one per sample. It takes numbers, numpy
datetime64 (any unit, arrays or scalars), pandas Timestamps, Series, Index and DatetimeArray
(naive times read as UTC, as pandas does; aware ones converted to UTC) and pyarrow timestamp
arrays, chunked arrays and scalars. pandas and pyarrow are recognised by their type's module and
never imported here, so ``import streameval`` does not load them.

``check_times`` gives each bad time an ``InputError`` naming ``timestamp[i]`` (NaN, inf, NaT);
``first_future`` finds the first time further ahead than a wrapper's ``max_skew`` allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _inputs
from ._slots import finite_time
from .errors import TimestampError

BUCKET_LIMIT = 1 << 62  # bucket indices of timestamps, kept well inside int64

# Seconds per datetime64 unit, as (multiplier, divisor) so that whole units convert exactly.
_UNITS: dict[str, tuple[int, int]] = {
    "W": (604800, 1), "D": (86400, 1), "h": (3600, 1), "m": (60, 1), "s": (1, 1), "ms": (1, 10**3),
    "us": (1, 10**6), "ns": (1, 10**9), "ps": (1, 10**12), "fs": (1, 10**15), "as": (1, 10**18),
}
_NAT = np.iinfo(np.int64).min  # datetime64's NaT, as int64


def _from_library(timestamp: Any) -> Any:
    """A pandas or pyarrow timestamp (scalar or array) as numpy: datetime64 where it is a time."""
    module = type(timestamp).__module__.split(".")[0]
    if module == "pandas":
        if hasattr(timestamp, "to_datetime64") and not hasattr(timestamp, "__len__"):  # Timestamp (NaT too)
            return timestamp.to_datetime64()
        dtype = str(getattr(timestamp, "dtype", ""))
        if dtype.startswith("datetime64"):  # naive or aware (converted to UTC)
            return timestamp.to_numpy(dtype="datetime64[ns]")
        return np.asarray(timestamp)
    if module == "pyarrow":
        kind = getattr(timestamp, "type", None)
        unit = getattr(kind, "unit", None)
        if not hasattr(timestamp, "__len__"):  # a scalar
            if unit is not None:  # a TimestampScalar: its value is in UTC
                value = timestamp.value
                return np.datetime64("NaT") if value is None else np.datetime64(value, unit)
            return timestamp.as_py()
        try:
            return timestamp.to_numpy(zero_copy_only=False)  # Array: nulls as NaT (times) or NaN
        except TypeError:
            return timestamp.to_numpy()  # ChunkedArray
    return timestamp


def _seconds_of_datetimes(arr: np.ndarray) -> np.ndarray:
    """datetime64 values as float64 epoch seconds (NaT: NaN)."""
    unit, count = np.datetime_data(arr.dtype)
    if unit not in _UNITS:  # years, months: calendar units, converted by numpy
        arr, unit, count = arr.astype("datetime64[s]"), "s", 1
    values = arr.view(np.int64)
    multiplier, divisor = _UNITS[unit]
    multiplier *= count
    if divisor == 1:
        seconds = values.astype(np.float64)
        if multiplier != 1:
            seconds *= multiplier
    else:  # whole seconds (exact) plus the fraction: exact whenever the time is a float64 number of seconds
        whole, fraction = np.divmod(values * multiplier if multiplier != 1 else values, divisor)
        seconds = whole.astype(np.float64)
        seconds += fraction.astype(np.float64) / divisor
    seconds[values == _NAT] = np.nan
    return seconds


def times_of(timestamp: Any) -> float | np.ndarray | Any:
    """The timestamp as a float (one time: still to be checked by the caller, as before), or an
    (N,) float64 array of epoch seconds (checked: finite). Other values are returned as they are,
    for the caller's scalar checks to refuse."""
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        return timestamp  # the common case: one number
    value = _from_library(timestamp)
    if isinstance(value, np.datetime64):
        return float(_seconds_of_datetimes(np.array([value]))[0])
    if isinstance(value, (np.generic, int, float)) or value is None:
        return value
    if isinstance(value, str) or not (isinstance(value, np.ndarray) or hasattr(value, "__len__")
                                      or hasattr(value, "__array__")):
        return value  # refused by the scalar checks
    arr = np.asarray(value)
    if arr.ndim == 0:
        return arr[()] if arr.dtype.kind != "M" else float(_seconds_of_datetimes(arr.reshape(1))[0])
    if arr.ndim != 1:
        raise ValueError(f"timestamp has shape {arr.shape}: expected one time, or (n_samples,) times")
    if arr.dtype.kind == "M":
        return check_times(_seconds_of_datetimes(arr), arr)
    if arr.dtype.kind in "iuf":
        return check_times(arr.astype(np.float64), arr)
    if arr.dtype.kind == "O":
        for i, item in enumerate(arr):
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, float, np.integer, np.floating)):
                raise _inputs.sample_error("timestamp", i, item, "is not a time: expected epoch seconds")
        return check_times(arr.astype(np.float64), arr)
    first = arr[0] if arr.shape[0] else None
    raise _inputs.sample_error("timestamp", 0, first, f"is not a time: expected epoch seconds (numbers) or "
                               f"datetime64, not an array of dtype {arr.dtype}")


def check_times(seconds: np.ndarray, given: np.ndarray) -> np.ndarray:
    """seconds, or InputError naming the first time that is not finite (NaN, inf, NaT)."""
    finite = np.isfinite(seconds)
    if not finite.all():
        i = int(np.argmin(finite))
        raise _inputs.sample_error("timestamp", i, given[i], "is not a time: expected a finite number of seconds")
    return seconds


def first_future(times: np.ndarray, latest: float | None, max_skew: float | None, clock: Any) -> None:
    """TimestampError(reason="future") naming the first time more than max_skew ahead of both
    latest (the latest time seen before the batch) and clock(): the scalar rule, per sample. The
    clock is read only when some time is that far ahead of latest."""
    if max_skew is None or not times.shape[0]:
        return
    if latest is not None and float(times.max()) <= latest + max_skew:
        return
    now = finite_time(clock(), "clock()")
    bound = (now if latest is None else max(now, latest)) + max_skew
    ahead = times > bound
    if ahead.any():
        i = int(np.argmax(ahead))
        seen = "no time seen yet" if latest is None else f"the latest time seen is {latest!r}"
        raise TimestampError(
            f"timestamp[{i}] = {float(times[i])!r} is more than max_skew={max_skew!r} seconds ahead of the clock "
            f"(clock() = {now!r}; {seen}): a wrong time this far ahead would make every later sample late. Check "
            "that timestamps are epoch seconds, or give max_skew= a larger bound (None: no bound)", "future",
            index=i, value=float(times[i]))


def check_count(times: np.ndarray, rows: int) -> None:
    if times.shape[0] != rows:
        raise ValueError(f"timestamp has {times.shape[0]:,} times: expected one per sample ({rows:,}), or one time "
                         "for the batch")


def times_for(unit: str, owner: str, timestamp: Any) -> Any:
    """times_of(timestamp) for a wrapper counting unit (owner: its class name); a timestamp that
    is not one number, for another unit than seconds, is refused naming the unit."""
    if unit != "seconds":
        if isinstance(timestamp, (int, float, np.generic)) or np.ndim(timestamp) == 0:
            return timestamp  # the wrapper's scalar checks refuse it, as before
        raise ValueError(f"timestamp was given ({type(timestamp).__name__}), but this {owner} counts {unit}: "
                         "timestamps are for unit='seconds'")
    return times_of(timestamp)


def event_buckets(times: np.ndarray, width: float, n_buckets: int, latest: int | None, max_skew: float | None,
                  clock: Any, drop: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(the bucket of each time, the mask of those older than the ring or None): per-event
    times checked against the ring as it is (latest bucket latest); TimestampError naming the
    first time too far ahead, or older than the ring unless drop."""
    first_future(times, None if latest is None else (latest + 1) * width, max_skew, clock)
    with np.errstate(over="ignore", invalid="ignore"):
        quotient = times / width
    far = ~(np.abs(quotient) < BUCKET_LIMIT)
    if far.any():
        i = int(np.argmax(far))
        raise _inputs.sample_error("timestamp", i, times[i], f"is too far from epoch 0 for buckets of {width!r} "
                                   "seconds")
    buckets = np.floor(quotient).astype(np.int64)
    if latest is None:
        return buckets, None
    too_old = buckets <= latest - n_buckets
    if not too_old.any():
        return buckets, None
    if not drop:
        i = int(np.argmax(too_old))
        oldest = (latest - n_buckets + 1) * width
        raise TimestampError(f"timestamp[{i}] = {float(times[i])!r} is older than the window: the oldest bucket kept "
                             f"starts at {oldest!r}", "late", index=i, value=float(times[i]))
    return buckets, too_old
