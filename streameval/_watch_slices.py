"""``streameval watch --group-by KEY``: a window per slice key, next to the window of every line.

Each slice key gets its own ``Windowed`` (the overall window's configuration, made when the key is
first seen), so each slice's window is what a ``watch`` of that slice's lines alone would show:
the last SIZE samples of the slice (``--unit samples``), or the last SIZE seconds (``--unit
seconds``; the slice windows move on with the overall window's time at every interval, so that
every window ends at the same time). The overall window decides which lines are late or in the
future; the lines it counts are counted in their slices' windows too.

A batch is split by key in one grouping pass (``np.unique``'s inverse, then one stable argsort:
each slice's rows in stream order) and each slice's window is updated once with its rows: a
Python step per slice of the batch, never per line.

(``Sliced(Windowed(...))``, one window of all the slices' counts, is the planned composition in
``streameval.sliced``; until it exists, one window per key.)

Bounds: at most ``--max-slices`` keys (``DEFAULT_MAX_SLICES``); the lines of keys first seen once
they are all taken are counted together in the slice ``"__other__"``. A key is read as labels
are (``1``, ``1.0``, ``"1"`` are the key ``"1"``), at most ``streameval.limits.MAX_LABEL_LENGTH``
characters; a line without the key is malformed (``missing_key``), one whose key is null, an
object, a list or a number that is not an integer is malformed (``bad_value``).

Prometheus: the slices' gauges carry the key as the label ``slice``; only the first
``--max-label-values`` slices found (``DEFAULT_MAX_LABEL_VALUES``) are exported, so that the number
of series stays bounded whatever the stream holds (each label value is a time series the
Prometheus server keeps); ``streameval_slices`` and ``streameval_slices_not_exported`` say how
many there are and how many were left out.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .sliced import OTHER
from .windows import Windowed

DEFAULT_MAX_SLICES = 1_000  # watch computes every slice's window at every interval
DEFAULT_MAX_LABEL_VALUES = 100
SHOWN = 10  # slices in the table view: the worst ones
_OPS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                   ">=": operator.ge}
_ALERT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


class UsageError(ValueError):
    """A bad combination of options: reported on one line, exit status 2."""


def parse_alert(text: str, names: Iterable[str]) -> tuple[str, str, float]:
    """("recall", "<", 0.8) from "recall<0.8"; UsageError for bad syntax or an unknown metric."""
    match = _ALERT.match(text)
    if not match:
        raise UsageError(f"--alert {text!r} is not valid: expected METRIC OP NUMBER, OP one of < <= > >=")
    name, op, number = match.groups()
    if name not in names:
        from ._cli_reference import alert_names

        why = (" (the drift statistics need --reference and the matching score bins; the estimated metrics need "
               "--unlabelled or --reference, and --score probabilities)" if name in alert_names() + ["n_labelled"]
               else "")
        raise UsageError(f"--alert {text!r}: unknown metric {name!r}{why}; known: {', '.join(sorted(names))}")
    return name, op, float(number)


class SliceWindows:
    """One window per slice key, made on demand, at most max_slices (then "__other__")."""

    def __init__(self, window: Windowed, max_slices: int):
        # no max_skew: the overall window has refused the lines too far ahead
        self._empty = Windowed(window._template, window.size, unit=window.unit, buckets=window.buckets,
                               **({"max_skew": None} if window.unit == "seconds" else {}), clock=window.clock)
        self.max_slices = max_slices
        self.keys: list[str] = []
        self.windows: list[Windowed] = []
        self.index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def _slot(self, key: str) -> int:
        slot = self.index.get(key)
        if slot is None:
            if len(self.keys) - (OTHER in self.index) >= self.max_slices and key != OTHER:
                return self._slot(OTHER)
            slot = self.index[key] = len(self.keys)
            self.keys.append(key)
            self.windows.append(self._empty.copy())
        return slot

    def update(self, keys: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, times: np.ndarray | None,
               labelled: np.ndarray | None = None) -> None:
        """Count each row in its key's window, each slice's rows in one update (with unlabelled
        rows, labelled: one per run of labelled or unlabelled rows), in stream order. The rows are
        those the overall window counted: the slices' windows take them too."""
        from ._watch_reference import update_window

        if not len(keys):
            return
        distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        slot_of = np.empty(len(distinct), np.intp)
        for j in np.argsort(first, kind="stable").tolist():  # new keys take slots in order of first appearance
            slot_of[j] = self._slot(distinct[j])
        slots = slot_of[inverse.reshape(-1)]
        order = np.argsort(slots, kind="stable")
        bounds = np.flatnonzero(np.diff(slots[order])) + 1
        for rows in np.split(order, bounds):
            window = self.windows[int(slots[rows[0]])]
            update_window(window, y_true[rows], y_pred[rows], None if times is None else times[rows],
                          None if labelled is None else labelled[rows])

    def advance(self, overall: Windowed, event_time: bool) -> None:
        """unit="seconds": move every slice's window to the overall window's time (event time:
        the start of its latest bucket; arrival time: the clock)."""
        if overall.unit != "seconds":
            return
        if event_time:
            latest = overall._latest_bucket()
            if latest is None:
                return
            t = latest * overall._width
        else:
            t = overall.clock()
        for window in self.windows:
            window.advance(t)

    def metrics(self) -> dict[str, dict[str, Any]]:
        """{key: n_samples and compute() of its window}, keys in the order found."""
        return {key: {"n_samples": int(w.n_samples), **w.compute()} for key, w in zip(self.keys, self.windows)}


def worst(slices: dict[str, dict[str, Any]], metric: str, k: int = SHOWN) -> list[tuple[str, dict[str, Any]]]:
    """The k slices of lowest metric (NaN last; ties by key)."""
    def rank(item: tuple[str, dict[str, Any]]) -> tuple[bool, float, str]:
        value = item[1].get(metric)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return True, 0.0, item[0]
        return False, float(value), item[0]

    return sorted(slices.items(), key=rank)[:k]


class SliceAlerts:
    """Each --alert checked on every slice's window: one state per (alert, slice)."""

    def __init__(self) -> None:
        self.active: dict[tuple[int, str], bool] = {}

    def check(self, alerts: list[tuple[str, str, float]], texts: list[str], slices: dict[str, dict[str, Any]],
              min_samples: int) -> bool:
        """Log to stderr each alert that trips or clears on a slice; True if one holds now."""
        tripped = False
        for key, metrics in slices.items():
            if metrics["n_samples"] < min_samples:
                continue
            for i, (name, op, bound) in enumerate(alerts):
                if name not in metrics:  # lines, malformed_lines: counts of the whole stream
                    continue
                on = bool(_OPS[op](metrics[name], bound))
                if on != self.active.get((i, key), False):
                    state = "TRIPPED" if on else "cleared"
                    print(f"streameval watch: alert {state}: {texts[i]} (slice {key!r}: {name}={metrics[name]:.6g})",
                          file=sys.stderr, flush=True)
                    self.active[(i, key)] = on
                tripped |= on
        return tripped

    def holding(self, texts: list[str]) -> list[tuple[str, str]]:
        """(alert, slice) of the alerts that hold now."""
        return [(texts[i], key) for (i, key), on in self.active.items() if on]
