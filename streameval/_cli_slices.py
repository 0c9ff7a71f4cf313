"""``streameval evaluate --group-by COL [--group-by COL2 ...]``: the report of every slice.

The rows are counted once, in a ``Sliced`` accumulator (one compiled pass a chunk, each row into
the slice of its key; two or more columns cross their values: the key is a tuple). The overall
report is the sum of the slices. The group columns are read as labels are (``1``, ``1.0`` and
``"1"`` are one key; a null or a non-integer number is a bad row).

``--y-pred`` without ``--labels`` finds its labels in the data (``Multiclass(labels="auto")``),
which ``Sliced`` does not wrap: here the slices count a ``Multiclass(labels=[...])`` of the labels
found so far, and a chunk bringing new labels first moves the counts into a grown one (in
``Multiclass(labels="auto")``'s order: sorted while sortable), which gives the same counts and
reports as auto labels would.

Bounds: ``--max-slices`` (``DEFAULT_MAX_SLICES``, 10,000) distinct keys; past it an error (exit 1)
or, with ``--slice-overflow other``, the rows of the keys found once the slices are full counted
together in the slice ``"__other__"``. ``Sliced`` checks that ``max_slices + 1`` slices of the
task's counts fit ``streameval.limits.MAX_STATE_BYTES``.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np

from . import limits
from ._inputs import ordered_union, sortable
from .accumulator import Accumulator
from .sliced import DEFAULT_MAX_SLICES, OTHER, Sliced

SUMMARY_DIGITS = 4  # digits of the summary lines (accuracy, roc_auc...), or --digits when larger

__all__ = ["DEFAULT_MAX_SLICES", "GroupedCounts", "facts", "json_safe", "render_slices", "summary_text"]


class GroupedCounts:
    """The Sliced accumulator of one ``evaluate --group-by`` run (labels grown as they are found
    when the task finds its labels in the data)."""

    def __init__(self, args: argparse.Namespace, template: Accumulator):
        self.columns: list[str] = list(args.group_by)
        self.max_slices = DEFAULT_MAX_SLICES if args.max_slices is None else args.max_slices
        self.overflow = "other" if args.slice_overflow == "other" else "raise"
        self.auto = bool(getattr(template, "_auto", False))  # Multiclass(labels="auto")
        self.weighted = template.weighted
        self.max_labels = int(getattr(template, "max_labels", limits.DEFAULT_MAX_LABELS))
        self.labels: tuple[Any, ...] = ()
        self.sliced: Sliced | None = None if self.auto else self._sliced(template)

    def _sliced(self, template: Accumulator) -> Sliced:
        return Sliced(template, max_slices=self.max_slices, overflow=self.overflow)

    def update(self, y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None, keys: list[np.ndarray]) -> None:
        """Count rows, each into the slice of its key (one array per group column); raises as
        Sliced.update does (and changes nothing), ValueError past --max-labels."""
        if self.auto:
            self._grow(y_true, y_pred)
        assert self.sliced is not None
        self.sliced.update(y_true, y_pred, weight, by=keys[0] if len(keys) == 1 else tuple(keys))

    def _grow(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        """Labels found: the slices move to a Multiclass of the labels so far plus the new ones."""
        from .multiclass import Multiclass
        from .serialization import from_dict

        known = set(self.labels)
        new = [v for v in dict.fromkeys(y_true.tolist() + y_pred.tolist()) if v not in known]
        if not new and self.sliced is not None:
            return
        labels = ordered_union(self.labels, new)
        if len(labels) > self.max_labels:
            raise ValueError(f"these rows bring the distinct labels to {len(labels):,}, more than --max-labels "
                             f"{self.max_labels:,}: give a larger --max-labels if they are all classes (the counts "
                             "take labels**2 cells per slice)")
        grown = self._sliced(Multiclass(labels=list(labels), weighted=self.weighted))
        if self.sliced is not None and self.sliced.n_slices:
            d = self.sliced.to_dict()
            old = np.asarray(d["state"][0])
            if len(d["state"]) != 1 or old.shape != (self.sliced.n_slices, len(self.labels), len(self.labels)):
                raise AssertionError("a Sliced Multiclass of labels holds one (slices, K, K) confusion matrix")
            at = {label: i for i, label in enumerate(labels)}
            pos = np.array([at[label] for label in self.labels], np.intp)
            counts = np.zeros((old.shape[0], len(labels), len(labels)), old.dtype)
            counts[:, pos[:, None], pos[None, :]] = old
            d["config"]["accumulator"] = grown.to_dict()["config"]["accumulator"]
            d["state"] = [counts]
            grown = from_dict(d)
        self.sliced, self.labels = grown, labels

    def overall(self, template: Accumulator) -> Accumulator:
        """The accumulator of every row counted (template itself when nothing was)."""
        return template if self.sliced is None else self.sliced.overall

    def slices(self) -> list[tuple[Any, Accumulator]]:
        """(key, accumulator) of every slice: keys sorted when they sort together, else in the
        order found; the "__other__" slice last."""
        if self.sliced is None:
            return []
        keys = [k for k in self.sliced.keys() if k != OTHER]
        values = keys if len(self.columns) == 1 else [v for key in keys for v in key]
        if values and (sortable(values) if len(self.columns) == 1 else
                       all(sortable([key[i] for key in keys]) for i in range(len(self.columns)))):
            keys.sort()
        if OTHER in self.sliced:
            keys.append(OTHER)
        return [(key, self.sliced[key]) for key in keys]

    def described(self, key: Any) -> dict[str, Any] | None:
        """{column: value} of a key; None for the "__other__" slice."""
        if key == OTHER:
            return None
        parts = (key,) if len(self.columns) == 1 else tuple(key)
        return dict(zip(self.columns, parts))


def too_many_slices(columns: list[str], max_slices: int) -> str:
    """The message when a chunk brings more slice keys than --max-slices, with the options that change it."""
    return (f"{', '.join(map(repr, columns))} bring{'s' if len(columns) == 1 else ''} more than --max-slices "
            f"{max_slices:,} distinct keys. Give a larger --max-slices, or "
            "--slice-overflow other to count the rows of the keys past it together in the slice \"__other__\"")


# --- facts and text shared with the overall report --------------------------------------------------


def facts(acc: Accumulator, rows: int | None) -> dict[str, Any]:
    """rows (None: n_samples, counted rows of an unweighted accumulator), weight_total
    (weighted), accuracy and, with bins, roc_auc with its bounds and average_precision."""
    out: dict[str, Any] = {}
    if rows is not None or not acc.weighted:
        out["rows"] = int(acc.n_samples) if rows is None else rows
    if acc.weighted:
        out["weight_total"] = float(acc.n_samples)
    out["accuracy"] = float(acc.accuracy())  # type: ignore[attr-defined]
    if acc.bins is not None:  # type: ignore[attr-defined]
        out["roc_auc"] = float(acc.roc_auc())  # type: ignore[attr-defined]
        lo, hi = acc.roc_auc_bounds()  # type: ignore[attr-defined]
        out["roc_auc_bounds"] = [float(np.mean(lo)), float(np.mean(hi))]  # macro: the mean of the brackets
        out["average_precision"] = float(acc.average_precision())  # type: ignore[attr-defined]
    return out


def json_safe(value: Any) -> Any:
    """value with NaN and infinities as None (JSON null), dict keys as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def summary_text(key: str, values: dict[str, Any], digits: int, bins: int | None) -> str:
    """A summary value: counts as integers, every other number with the same digits; binned
    curve metrics say they are approximate, ROC AUC with its guaranteed bracket."""
    value = values[key]
    if key == "rows":
        return str(value)
    text = f"{value:.{digits}f}"
    if key == "roc_auc":
        lo, hi = values["roc_auc_bounds"]
        return f"{text} (approximate, from {bins} score bins: the exact value is in [{lo:.{digits}f}, {hi:.{digits}f}])"
    if key == "average_precision":
        return f"{text} (approximate, from {bins} score bins)"
    return text


def _lines(values: dict[str, Any], digits: int, bins: int | None) -> list[tuple[str, str]]:
    return [(key, summary_text(key, values, digits, bins)) for key in values if key != "roc_auc_bounds"]


# --- the slices' output --------------------------------------------------------------------------------


def _title(grouped: GroupedCounts, key: Any) -> str:
    parts = grouped.described(key)
    if parts is None:
        return f"{', '.join(grouped.columns)}: {OTHER} (keys past --max-slices)"
    return ", ".join(f"{col}={value}" for col, value in parts.items())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_slices(grouped: GroupedCounts, args: argparse.Namespace) -> tuple[list[dict[str, Any]], str]:
    """(the JSON list of slices, the text or markdown that follows the overall report)."""
    digits = max(SUMMARY_DIGITS, args.digits)
    entries: list[dict[str, Any]] = []
    texts: list[str] = []
    table: list[list[str]] = []
    slices = grouped.slices()
    for key, acc in slices:
        values = facts(acc, None)
        report = acc.report(digits=args.digits)
        if args.format == "json":
            described = grouped.described(key)
            entries.append({"key": list(key) if isinstance(key, tuple) else key, "by": described, **values,
                            "metrics": acc.compute(), "report": report.to_dict()})
            continue
        parts = grouped.described(key)
        cells = [str(v) for v in parts.values()] if parts is not None else [OTHER] * len(grouped.columns)
        table.append(cells + [text for name, text in _lines(values, digits, args.bins)
                              if name in ("rows", "weight_total", "accuracy")]
                     + ([f"{values['roc_auc']:.{digits}f}"] if "roc_auc" in values else []))
        lines = _lines(values, digits, args.bins)
        if args.format == "markdown":
            body = (["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in lines])
            texts.append(f"### {_cell(_title(grouped, key))}\n\n" + "\n".join(body) + "\n\n" + report.to_markdown()
                         + "\n")
        else:
            texts.append(f"--- {_title(grouped, key)}\n" + str(report) + "\n" + "".join(f"{k}: {v}\n" for k, v in lines))
    if args.format == "json":
        return entries, ""
    weighted = slices[0][1].weighted if slices else False
    head = list(grouped.columns) + (["weight_total"] if weighted else ["rows"]) + ["accuracy"] + (
        ["roc_auc"] if args.bins is not None else [])
    count = f"{len(slices):,} slice{'' if len(slices) == 1 else 's'} by {', '.join(grouped.columns)}"
    if args.format == "markdown":
        rows = ["| " + " | ".join(map(_cell, head)) + " |", "|" + "---|" * len(head)]
        rows += ["| " + " | ".join(map(_cell, row)) + " |" for row in table]
        return [], f"\n## {_cell(count)}\n\n" + "\n".join(rows) + "\n\n" + "\n".join(texts)
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(head)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(head, widths)).rstrip()
    body = ["  ".join(f"{c:<{w}}" for c, w in zip(row, widths)).rstrip() for row in table]
    return [], f"\n{count}:\n" + "\n".join([line, *body]) + "\n\n" + "\n".join(texts)


def json_dumps(out: dict[str, Any]) -> str:
    return json.dumps(json_safe(out), indent=2) + "\n"
