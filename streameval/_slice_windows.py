"""The window of ``Sliced(Windowed(...))``: a window per slice, all on one clock.

The slices share the window's position (samples or updates counted, or the latest time bucket):
every slice keeps a ring of ``buckets`` buckets, stacked on the slice axis of the Sliced's state
(slot = slice * buckets + ring slot), and when the window moves on, the ring slot it enters is
emptied in every slice at once (a strided zero of the stacked state). A sample is counted into
``slice * buckets + bucket % buckets``, its bucket found as ``Windowed`` finds it (the ring's
arithmetic is ``streameval.windows``'): one time per batch or per sample, late samples where the
ring still holds them, samples that leave the ring within their own batch checked, not counted.

``SliceWindow`` holds the window's configuration (from the ``Windowed`` given as the template)
and ``plan`` turns a batch's rows and timestamp into each row's bucket and the new position,
raising before anything changes. ``Windowed(Sliced(...))`` is refused (``_slots.template_of``):
one composition only, the one whose slices can be read as windows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import _event_times, limits
from ._batch import Prepared, kept
from ._slots import inner_layout, max_skew_of, position_array, stacked_spec
from ._state import Spec
from ._storage import Storage
from .windows import (
    Windowed,
    _elements,
    _grid,
    bucket_of,
    current_first,
    entering_slots,
    held_slots,
    late_error,
)

POSITION = "_position"  # (started, samples or updates counted, or the latest time bucket), as Windowed's


class Plan(NamedTuple):
    """Where a batch goes: each row's bucket, the rows counted (None: all), the rows late and
    dropped, the latest bucket before and after, the new position."""

    buckets: np.ndarray
    counted: np.ndarray | None
    dropped: int
    latest: int | None
    end: int | None
    position: tuple[int, int]


class SliceWindow:
    """The window every slice keeps (the configuration of the Windowed given as the template)."""

    def __init__(self, window: Windowed) -> None:
        self.described = {"kind": "Windowed", "config": window._config()}  # Sliced's "accumulator"
        self.unit, self.size, self.buckets, self.step = window.unit, window.size, window.buckets, window.step
        self.width, self.hop = window._width, window._hop
        self.max_skew, self.clock = window.max_skew, window.clock

    @staticmethod
    def template(window: Any) -> tuple[Any, SliceWindow]:
        """(the accumulator each bucket counts, the window) of a Windowed, or of its description."""
        if isinstance(window, dict):
            window = Windowed(**window["config"])
        if window._position[0] or window._callbacks:
            raise ValueError(f"accumulator={window!r} has counted or has on_window callbacks: pass a new Windowed (it "
                             "is the template of each slice's window, which starts empty; Sliced reports no windows)")
        return window._template, SliceWindow(window)

    @staticmethod
    def layout(described: dict[str, Any]) -> tuple[Spec, int]:
        """(the accumulator's spec, buckets) of a Windowed's description, checked without allocating."""
        config = described["config"]
        if not isinstance(config, dict) or "accumulator" not in config or "size" not in config:
            raise TypeError(f"accumulator={described!r} is not a Windowed's description")
        _, _, spec = inner_layout(config["accumulator"])
        unit = config.get("unit", "samples")
        n_buckets = _grid(config["size"], unit, config.get("buckets"), config.get("step"))[1]
        max_skew_of(config.get("max_skew", 86400.0), unit)
        return spec, n_buckets

    # --- state ----------------------------------------------------------------------------------

    @staticmethod
    def spec(inner: Spec, n_slices: int, n_buckets: int) -> Spec:
        ring = stacked_spec(inner, n_slices * n_buckets, f"this Sliced ({n_slices:,} slices of {n_buckets} buckets)")
        return Spec({**ring, POSITION: position_array((2,), np.int64)})

    def latest(self, position: np.ndarray) -> int | None:
        started, at = position.tolist()
        if not started:
            return None
        return int(at if self.unit == "seconds" else (at - 1) // self.width)

    def latest_seen(self, position: np.ndarray) -> float | None:
        latest = self.latest(position)
        return None if latest is None else (latest + 1) * self.width

    def ring(self, position: np.ndarray) -> np.ndarray:
        """The ring slots of the current window (as Windowed's queries read it)."""
        latest = self.latest(position)
        if latest is None:
            return np.zeros(0, np.intp)
        return held_slots(latest, self.buckets, current_first(latest, self.hop, self.buckets), latest)

    def slots(self, slices: np.ndarray, ring: np.ndarray) -> np.ndarray:
        """The stacked slots of these ring slots of these slices (slice by slice)."""
        return (np.asarray(slices, np.intp)[:, None] * self.buckets + np.asarray(ring, np.intp)[None, :]).reshape(-1)

    def window_sums(self, arrays: list[np.ndarray], n_slices: int, position: np.ndarray,
                    slot: int | None = None) -> list[np.ndarray]:
        """Each count array summed over the current window: per slice ((S, ...); slot: that
        slice's, (...))."""
        ring = self.ring(position)
        out = []
        for a in arrays:
            by_slice = a.reshape(n_slices, self.buckets, *a.shape[1:])
            out.append(by_slice[:, ring].sum(axis=1) if slot is None else by_slice[slot, ring].sum(axis=0))
        return out

    def check_position(self, position: np.ndarray) -> None:
        started, at = position.tolist()
        if started not in (0, 1) or not abs(at) < 1 << 62:
            raise ValueError(f"window position {position.tolist()} is not (0 or 1, position)")
        if self.unit != "seconds" and (at < 0 or started != (at > 0)):
            raise ValueError(f"window position {position.tolist()} is not (0, 0) or (1, a count > 0)")
        if self.unit == "seconds" and not started and at != 0:
            raise ValueError("a window that has seen no time has a position")

    # --- a batch --------------------------------------------------------------------------------

    def plan(self, position: np.ndarray, rows: int, t: float | np.ndarray | None, drop: bool) -> Plan:
        """Each row's bucket and the new position (t: a checked time, the times of the rows, or
        None for samples and updates); TimestampError for times refused, changing nothing."""
        started, at = position.tolist()
        latest = self.latest(position)
        every: np.ndarray | None = None
        dropped = 0
        if self.unit == "samples":
            if not rows:
                return Plan(np.zeros(0, np.int64), None, 0, latest, latest, (started, at))
            buckets = (at + np.arange(rows, dtype=np.int64)) // int(self.width)
            end = (at + rows - 1) // int(self.width)
            new = (1, at + rows)
        elif self.unit == "updates":
            end = at // int(self.width)
            buckets, new = np.full(rows, end, np.int64), (1, at + 1)
        elif isinstance(t, np.ndarray):
            _event_times.check_count(t, rows)
            buckets, old = _event_times.event_buckets(t, self.width, self.buckets, latest, self.max_skew, self.clock,
                                                      drop)
            if not rows:
                return Plan(buckets, None, 0, latest, latest, (started, at))
            if old is not None:
                every, dropped = np.flatnonzero(~old), int(old.sum())
            newest = int(buckets.max())
            end = newest if latest is None else max(latest, newest)
            new = (1, end)
        else:
            assert t is not None
            bucket = bucket_of(t, self.width, "timestamp")
            if latest is not None and bucket <= latest - self.buckets:
                if not drop:
                    raise late_error(t, latest, self.buckets, self.width)
                return Plan(np.full(rows, bucket, np.int64), np.zeros(0, np.intp), rows, latest, latest, (started, at))
            end = bucket if latest is None else max(latest, bucket)
            buckets, new = np.full(rows, bucket, np.int64), (1, end)
        gone = buckets <= end - self.buckets  # leave the ring within their own batch
        if gone.any():
            every = np.flatnonzero(~gone) if every is None else every[~gone[every]]
        return Plan(buckets, every, dropped, latest, end, new)

    def entering(self, plan: Plan) -> list[int]:
        """The ring slots the window moves on to (emptied in every slice before counting)."""
        if plan.end is None or (plan.latest is not None and plan.end <= plan.latest):
            return []
        return entering_slots(plan.latest, plan.end, self.buckets)

    def moved(self, position: np.ndarray, bucket: int) -> tuple[list[int], tuple[int, int]] | None:
        """(ring slots entered, new position) to make bucket the latest (seconds), or None."""
        latest = self.latest(position)
        if latest is not None and bucket <= latest:
            return None
        return entering_slots(latest, bucket, self.buckets), (1, bucket)

    def placed(self, batch: Prepared, slots: np.ndarray, plan: Plan) -> tuple[Prepared | None, Prepared, np.ndarray]:
        """(the samples not counted, or None; the samples counted; their stacked slots), from the
        slices of the batch's samples (slots) and the plan."""
        rows = plan.buckets.shape[0]
        per_row = batch.n // rows if rows else 1
        buckets, left = plan.buckets, None
        if plan.counted is not None:
            out = np.setdiff1d(np.arange(rows), plan.counted)
            left = kept(batch, _elements(out, per_row)) if out.size else None
            elements = _elements(plan.counted, per_row)
            batch, slots, buckets = kept(batch, elements), slots[elements], buckets[plan.counted]
        if per_row != 1:
            buckets = np.repeat(buckets, per_row)
        return left, batch, slots * self.buckets + buckets % self.buckets

    def empty(self, storage: Storage, names: tuple[str, ...],
              entering: list[int]) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
        """Empty these ring slots in every slice (a strided zero of the stacked state); (the
        slots, what they held) for set_slots to put back, or None when there are none."""
        if not entering:
            return None
        n_slices = storage.host(names[0]).shape[0] // self.buckets
        index = self.slots(np.arange(n_slices), np.array(entering))
        saved = {name: storage.host(name)[index].copy() for name in names}
        storage.zero_slots(names, index)
        return index, saved

    def merged(self, storage: Storage, names: tuple[str, ...], mine: np.ndarray,
               theirs_at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A merge: storage (ours, with our position) moved on to the later of the two windows,
        and (our slots, their slots) to add, the buckets of theirs that the ring still holds, of
        each of their slices (mine: our slice of each of theirs)."""
        theirs = self.latest(theirs_at)
        if theirs is None:
            return np.zeros(0, np.intp), np.zeros(0, np.intp)
        position = storage.host(POSITION)
        latest = self.latest(position)
        end = theirs if latest is None else max(latest, theirs)
        moved = self.moved(position, end)
        if moved is not None:
            self.empty(storage, names, moved[0])
            position[:] = moved[1]
        ring = held_slots(theirs, self.buckets, end - self.buckets + 1, theirs)
        return self.slots(mine, ring), self.slots(np.arange(mine.shape[0]), ring)

    def merge_refusal(self) -> str | None:
        if self.unit == "seconds":
            return None
        return (f"only unit='seconds' windows merge, by epoch time; positions in a stream of {self.unit} have no "
                "common clock across workers")



def largest_state(spec: Spec, n_buckets: int, max_slices: int) -> int:
    """The bytes of count state a Sliced of these windows may grow to."""
    return limits.state_bytes(spec) * n_buckets * (max_slices + 1)
