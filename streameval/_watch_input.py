"""What ``streameval watch`` reads: lines in batches, as they arrive, and their bulk parsing.

A reader thread reads what is available (at most ``CHUNK_BYTES`` at a time), splits it into
complete lines and puts each batch of lines on a queue of at most ``QUEUE_BATCHES`` batches
(waiting while it is full: backpressure on the producer). A line longer than ``max_bytes`` is
dropped as it is read, never held whole, and stands in its batch as None. So the lines held are at
most ``(QUEUE_BATCHES + 2) * (CHUNK_BYTES + max_bytes)`` bytes: the queue's, the batch being read
and the batch being counted.

``parse_objects`` parses a batch with one ``json.loads`` when every line is one flat-looking
object (the common case), and line by line otherwise, so that a bad line costs its own line and
never the good lines of its batch.
"""

from __future__ import annotations

import datetime
import json
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, BinaryIO, Union

import numpy as np

CHUNK_BYTES = 1 << 20  # read at most this many bytes at a time: a batch is at most this plus one line
QUEUE_BATCHES = 8  # batches the reader may read ahead of the counting


class _Marker:
    """A queue item that is not a batch of lines."""


EOF = _Marker()
Lines = list[Union[bytes, None]]  # a batch: lines without their newline, None for one longer than max_bytes
Batches = queue.Queue[Union[Lines, _Marker]]  # batches read, then EOF


class Splitter:
    """Complete lines out of chunks of bytes: the last, partial line is held until its newline
    comes (or the end of input), and a line longer than max_bytes is dropped as it is read."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.partial = b""
        self.skipping = False  # inside a line longer than max_bytes: dropped up to its newline

    def feed(self, chunk: bytes) -> Lines:
        out: Lines = []
        if self.skipping:
            end = chunk.find(b"\n")
            if end < 0:
                return out
            chunk, self.skipping = chunk[end + 1:], False
            out.append(None)
        data = self.partial + chunk if self.partial else chunk
        parts = data.split(b"\n")
        last = parts.pop()
        if parts and max(map(len, parts)) > self.max_bytes:
            out += [None if len(line) > self.max_bytes else line for line in parts]
        else:
            out += parts
        if len(last) > self.max_bytes:
            self.partial, self.skipping = b"", True
        else:
            self.partial = last
        return out

    def finish(self) -> Lines:
        """The last line, at the end of the input, if it has no newline."""
        out: Lines = [None] if self.skipping else ([self.partial] if self.partial else [])
        self.reset()
        return out

    def reset(self) -> None:
        self.partial, self.skipping = b"", False


def put(batches: Batches, item: Lines | _Marker, stop: threading.Event | None = None) -> bool:
    """Put item, waiting while the queue is full (backpressure); False if stop was set meanwhile."""
    while stop is None or not stop.is_set():
        try:
            batches.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def read_stream(stream: BinaryIO, batches: Batches, max_bytes: int) -> None:
    """Put each batch of complete lines of stream as it arrives (read1: what is available), then EOF."""
    read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
    splitter = Splitter(max_bytes)
    while True:
        chunk = read(CHUNK_BYTES)
        if not chunk:
            break
        lines = splitter.feed(chunk)
        if lines:
            put(batches, lines)
    lines = splitter.finish()
    if lines:
        put(batches, lines)
    put(batches, EOF)


def follow(f: BinaryIO, path: str, batches: Batches, stop: threading.Event, max_bytes: int) -> None:
    """Put each batch of complete lines of the open file f as they are written; start over if the
    file is truncated. A partial last line waits for its newline."""
    with f:
        splitter = Splitter(max_bytes)
        while not stop.is_set():
            chunk = f.read(CHUNK_BYTES)
            if chunk:
                lines = splitter.feed(chunk)
                if lines and not put(batches, lines, stop):
                    return
                continue
            try:
                if os.stat(path).st_size < f.tell():
                    f.seek(0)
                    splitter.reset()
            except OSError:
                pass
            stop.wait(0.05)


def take(batches: Batches, timeout: float) -> tuple[Lines | None, bool]:
    """(the lines of the batches waiting, or None after timeout with none; whether EOF came):
    what is available is counted in one go."""
    try:
        item = batches.get(timeout=timeout)
    except queue.Empty:
        return None, False
    if isinstance(item, _Marker):
        return None, True
    lines = item
    for _ in range(QUEUE_BATCHES):
        try:
            more = batches.get_nowait()
        except queue.Empty:
            break
        if isinstance(more, _Marker):
            return lines, True
        lines.extend(more)  # (the batches taken off the queue are ours)
    return lines, False


# --- parsing ---------------------------------------------------------------------------------------


class Malformed(ValueError):
    """A line that cannot be counted; args[0] is the reason (a short key), args[1] the detail."""


def _timestamp(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise Malformed("bad_value", "time is too large") from None
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Malformed("bad_value", f"time {value!r} is not a number or ISO 8601") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        try:
            return moment.timestamp()
        except (OverflowError, OSError, ValueError):
            raise Malformed("bad_value", f"time {value!r} is out of range") from None
    raise Malformed("bad_value", f"time {value!r} is not a number or ISO 8601")



def parse_objects(lines: Lines) -> tuple[list[Any], dict[str, int], int]:
    """(the parsed JSON values of the lines that parse, in order; malformed lines by reason; the
    number of non-blank lines). Values that are not objects are left for the caller to refuse.

    The fast path joins the batch into one JSON array and parses it once. It is taken only when
    every line starts with "{", ends with "}" and holds no other "{" (so strings, which JSON keeps
    within a line, and objects cannot run from one line into the next), and its result must have
    one object per line; else, or when it fails, the lines are parsed one by one.
    """
    if lines and None not in lines:
        data = b"\n".join(lines)  # type: ignore[arg-type]  # (no None)
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")  # CRLF lines: the CR is JSON whitespace
            data = data[:-1] if data.endswith(b"\r") else data
        if data.count(b"{") == len(lines) == data.count(b"}"):
            codes = np.frombuffer(data, np.uint8)
            ends = np.flatnonzero(codes == 10)
            starts = np.concatenate(([0], ends + 1))
            ends = np.concatenate((ends, [len(codes)]))
            if (ends > starts).all() and (codes[starts] == 123).all() and (codes[ends - 1] == 125).all():
                try:  # decoded as feed() decodes a line: strict UTF-8, no encoded surrogates
                    parsed = json.loads((b"[" + data.replace(b"\n", b",\n") + b"]").decode("utf-8"))
                except (ValueError, RecursionError):  # a bad line (UnicodeDecodeError is a ValueError)
                    parsed = None
                if isinstance(parsed, list) and len(parsed) == len(lines):
                    return parsed, {}, len(lines)
    values: list[Any] = []
    bad: dict[str, int] = {}
    n = 0
    for line in lines:
        reason = None
        if line is None:
            reason = "too_long"
        elif not line.strip():
            continue  # blank lines are neither samples nor errors
        else:
            try:
                values.append(json.loads(line.decode("utf-8")))
            except UnicodeDecodeError:
                reason = "not_utf8"
            except RecursionError:
                reason = "too_deep"
            except ValueError:
                reason = "not_json"
        n += 1
        if reason is not None:
            bad[reason] = bad.get(reason, 0) + 1
    return values, bad, n


def column(records: list[dict[str, Any]], key: str, missing: object) -> list[Any]:
    """The values under key of each record, missing where a record lacks it."""
    return [record.get(key, missing) for record in records]


def lookup(values: list[Any], convert: Callable[[Any], Any], bad: Any) -> list[Any]:
    """convert(value) of each value, bad where it raises ValueError: once per distinct value.

    Equal JSON values of different types (1, 1.0, true) convert alike here (labels, numbers), so
    a table keyed by value serves them all; objects and arrays (unhashable) are converted one by one.
    """

    def one(value: Any) -> Any:
        try:
            return convert(value)
        except ValueError:
            return bad

    try:
        table = {value: one(value) for value in dict.fromkeys(values)}
    except TypeError:  # an object or array among them
        return [one(value) for value in values]
    return list(map(table.__getitem__, values))


def numbers(values: list[Any], convert: Callable[[Any], float], *, bools: bool) -> tuple[np.ndarray, np.ndarray]:
    """(float64 array of the values, mask of those that are not numbers): JSON numbers at once
    (bools too where bools=True), anything else through convert, where a ValueError marks it bad."""
    kinds = set(map(type, values))
    if kinds <= ({int, float, bool} if bools else {int, float}):
        try:
            return np.array(values, dtype=np.float64), np.zeros(len(values), bool)
        except OverflowError:  # an integer of hundreds of digits
            pass
    out = np.zeros(len(values), np.float64)
    bad = np.zeros(len(values), bool)
    for i, value in enumerate(values):
        try:
            out[i] = convert(value)
        except ValueError:
            bad[i] = True
    return out, bad


FAR = -(1 << 62)  # below every bucket index Windowed takes (|index| < 2**62)


def in_time(window: Any, times: np.ndarray, bad: dict[str, int]) -> np.ndarray:
    """--time: the mask of the lines a Windowed counting them one at a time would take; the
    others are counted in bad: "future", "late", "bad_value" (too far from epoch 0)."""
    width, n_buckets, skew = window._width, window.buckets, window.max_skew
    quotient = times / width
    far = ~(np.abs(quotient) < (1 << 62))
    buckets = np.floor(np.where(far, 0.0, quotient)).astype(np.int64)
    latest = window._latest_bucket()
    ahead = np.zeros(len(times), bool)
    if skew is not None:
        ahead = times > float(window.clock()) + skew
    if not ahead.any():
        seen = np.maximum.accumulate(np.where(far, FAR, buckets))
        before = np.concatenate(([FAR if latest is None else latest], seen[:-1]))
        if latest is not None:
            before = np.maximum(before, latest)
        late = (before > FAR) & (buckets <= before - n_buckets) & ~far
        future = ahead
    else:  # a time far ahead of the clock: the latest time seen decides, line after line
        late, future = np.zeros(len(times), bool), np.zeros(len(times), bool)
        for i, (t, bucket) in enumerate(zip(times.tolist(), buckets.tolist())):
            if ahead[i] and (latest is None or t > (latest + 1) * width + (skew or 0.0)):
                future[i] = True
            elif far[i]:
                pass
            elif latest is not None and bucket <= latest - n_buckets:
                late[i] = True
            else:
                latest = bucket if latest is None else max(latest, bucket)
    far &= ~future
    for reason, mask in (("future", future), ("bad_value", far), ("late", late)):
        if mask.any():
            bad[reason] = bad.get(reason, 0) + int(mask.sum())
    keep: np.ndarray = ~(future | far | late)
    return keep
