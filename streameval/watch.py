"""``streameval watch``: windowed metrics over a stream of JSON lines, live.

Reads one JSON object per line from stdin, or follows a file as it grows (``--follow FILE``, from
its start, or from its end with ``--from-end``), and counts each line in a ``Windowed``
accumulator. The options name the task; without one of them watch refuses to start (exit 2):

- ``--labels L1 L2 ...``: ``Multiclass(labels=[...])`` of the labels under ``--y-pred``;
- ``--pos-label P``: ``Binary(pos_label=P)`` of the labels under ``--y-pred``, P against one other
  label (``--pos-label 1``: 0/1 labels, where true/false and yes/no are also 1/0);
- ``--score KEY``: ``Binary(threshold=--threshold, pos_label=--pos-label)`` of scores.

A window cannot discover its labels as ``evaluate`` does (``Windowed`` holds a fixed set of
classes in every bucket), and labels guessed from the first lines would turn a class first seen
later into malformed lines: so the task is named, not guessed.

Every ``--interval`` seconds it redraws a table (stdout is a terminal: rich's live table when
rich is installed, else a plain one) or prints one JSON line (stdout is piped; ``--format``
overrides): the current window's ``compute()`` plus ``n_samples``, ``lines`` and
``malformed_lines`` (with a ``malformed`` breakdown by reason). At the end of stdin it prints a
final line and exits; a followed file is watched until SIGINT or SIGTERM, which also print the
final line.

Malformed lines are counted by reason and never stop the stream; the accumulator refuses a bad
value whole, so the window is never corrupted. Reasons: ``not_utf8``, ``not_json``, ``too_deep``
(nested deeper than Python's json reads), ``too_long`` (longer than ``--max-line-bytes``, default
``streameval.limits.MAX_LINE_BYTES`` = 1 MiB: read past in pieces, never held whole),
``not_object``, ``missing_key``, ``bad_value`` (not a label of the task, not a number, a third
label besides ``--pos-label``), ``late`` (older than the window) and ``future`` (more than
``--max-skew`` seconds ahead of both the latest time seen and the clock; default ``Windowed``'s,
one day), so that one broken clock cannot move the window away from every real line.

Labels are read as ``streameval evaluate`` reads them: a value that reads as an integer is that
integer (``1``, ``1.0``, ``"1"`` are the label ``1``), booleans and ``"true"``/``"false"`` are 1
and 0, other text is a text label.

Lines are counted in batches: the reader thread reads what is available (at most
``CHUNK_BYTES``, 1 MiB, at a time), each batch is parsed in bulk and counted in one update of the
window (with ``--time``, one time per line), with the same result as
counting its lines one at a time: a malformed line costs only itself. Memory is bounded: the
reader hands batches over through a queue of ``QUEUE_BATCHES`` batches and waits while it is full
(backpressure on the producer), so at most ``(QUEUE_BATCHES + 2) * (CHUNK_BYTES +
--max-line-bytes)`` bytes of lines are held (``streameval._watch_input``).

Alerts: ``--alert "recall<0.8"`` (repeatable) is checked at every interval and at the end while
the window holds at least ``--min-samples`` samples; a line goes to stderr when it trips and when
it clears. Exit status (``streameval._command.ExitCode``, shared with ``evaluate``): 0, 3 if any
alert tripped during the run, 1 on a runtime error (file not found, port taken), 2 on a usage error.

``--prometheus-port PORT`` serves gauges ``streameval_<metric>`` (``streameval_accuracy``,
``streameval_recall_macro``...), ``streameval_samples_in_window``, ``streameval_alert_active``
and the counters ``streameval_lines_total`` and ``streameval_malformed_lines_total`` on
127.0.0.1 (``--prometheus-addr`` to change); prometheus_client is imported only then.

``--group-by KEY`` also keeps a window per value of KEY (``streameval._watch_slices``): each JSON
line adds ``slices``, each alert is checked per slice (naming it), and the first
``--max-label-values`` slices are exported as gauges ``streameval_slice_<metric>{slice="KEY"}``;
at most ``--max-slices`` windows, later keys counted together in the slice ``"__other__"``.

``--reference REF`` (a saved accumulator) and ``--unlabelled``: a line whose y_true is missing or
null is an unlabelled sample, and each window adds the drift of its predictions against the
reference and the estimated metrics of its unlabelled lines, alertable (``--alert "psi>0.2"``,
``--alert "estimated_recall<0.8"``) and exported (``streameval._watch_reference``).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any, Protocol

import numpy as np

from . import _watch_input as inp
from . import _watch_reference as monitoring
from ._watch_input import Malformed, _timestamp
from . import _watch_slices as slicing
from ._watch_slices import _ALERT, _OPS, UsageError, parse_alert  # noqa: F401 - watch's names
from ._watch_output import _json_line, _Prometheus, make_view, render_table  # noqa: F401 - watch's names
from . import limits
from ._columns import NUMBER_TEXT, canonical_label
from ._command import (EXIT_STATUS_HELP, PROG, CliError, ExitCode, counted, float_option, int_option, label_option,
                       quiet_warnings)
from .binary import Binary
from .errors import TimestampError
from .multiclass import Multiclass
from .windows import Windowed

# the names before ExitCode, kept for code that imported them
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_ALERT = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.ALERT


QUEUE_BATCHES = inp.QUEUE_BATCHES
_MISSING = object()  # a key a line lacks
_BAD = object()  # a value that is not a label of the task
_DEFAULT = object()  # --max-skew not given: the library's default
_EXTRA = ("n_samples", "lines", "malformed_lines")  # alertable fields besides compute()'s


DESCRIPTION = """\
Follow a stream of predictions, one JSON object per line (stdin, or a file that grows with
--follow), and show the metrics of a sliding window over it: a live table on a terminal, one
JSON line per --interval when piped. Name the task with --labels (multiclass), --pos-label
(binary labels; --pos-label 1 for 0/1) or --score (binary scores). Lines that cannot be counted
are counted as malformed, by reason, and never stop the stream. Alerts (--alert) log to stderr
and set the exit status; --prometheus-port serves the metrics as Prometheus gauges."""

EPILOG = """\
Malformed reasons: not_utf8, not_json, too_deep, too_long, not_object, missing_key, bad_value,
late (older than the window), future (further ahead than --max-skew).

Examples:
  tail -f preds.jsonl | streameval watch --y-true label --y-pred pred --labels cat dog bird
  streameval watch --follow scores.jsonl --y-true y --score p --threshold 0.7 --alert "recall<0.8"

""" + EXIT_STATUS_HELP


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``streameval watch`` to parser; returns it."""
    parser.add_argument("--follow", metavar="FILE", help="follow FILE as it grows (like tail -f) instead of stdin")
    parser.add_argument("--from-end", action="store_true", help="with --follow: skip the lines already in FILE")
    parser.add_argument("--y-true", metavar="KEY", default="y_true", help="key of the true label (default y_true)")
    pred = parser.add_mutually_exclusive_group()
    pred.add_argument("--y-pred", metavar="KEY", help="key of the predicted label (default y_pred)")
    pred.add_argument("--score", metavar="KEY", help="key of a score: binary task, positive when score >= --threshold")
    parser.add_argument("--labels", nargs="+", metavar="LABEL",
                        help="the classes of a multiclass task, in report order (labels under --y-pred)")
    parser.add_argument("--pos-label", type=label_option, metavar="LABEL",
                        help="the positive class of a binary task, counted against one other label; 1 means 0/1 "
                             "labels (true/false and yes/no read as 1/0); default 1 with --score")
    parser.add_argument("--threshold", type=float_option(), metavar="T",
                        help="with --score: positive when score >= T (default 0.5)")
    parser.add_argument("--from-logits", action="store_true",
                        help="with --score: the scores are logits, positive when sigmoid(score) >= --threshold")
    parser.add_argument("--time", metavar="KEY", help="key of an event time (epoch seconds or ISO 8601); "
                        "with --unit seconds (default: arrival time)")
    parser.add_argument("--window", type=float_option(positive=True), default=1000, metavar="SIZE",
                        help="window size, in --unit (default 1000)")
    parser.add_argument("--unit", choices=("samples", "seconds"), default="samples",
                        help="what --window counts: the last SIZE samples, or the last SIZE seconds of event time "
                             "(--time) or arrival time (default samples)")
    parser.add_argument("--buckets", type=int_option(1), default=10, metavar="N",
                        help="buckets per window: the window moves one bucket (SIZE/N) at a time (default 10)")
    parser.add_argument("--max-skew", type=float_option(positive=True, allow_none=True), default=_DEFAULT,
                        metavar="SECONDS",
                        help="with --time: a time more than this ahead of both the latest one seen and the clock "
                             "is malformed (\"future\"); \"none\" turns the check off (default: Windowed's, one day)")
    parser.add_argument("--max-line-bytes", type=int_option(1), default=None, metavar="BYTES",
                        help="longer lines are malformed (\"too_long\") and skipped without being held "
                             f"(default streameval.limits.MAX_LINE_BYTES = {limits.MAX_LINE_BYTES:,})")
    parser.add_argument("--interval", type=float_option(positive=True), default=1.0, metavar="SECONDS",
                        help="output period (default 1)")
    parser.add_argument("--format", choices=("auto", "table", "json"), default="auto",
                        help="table (live, rich's when installed, on a terminal) or JSON lines; default auto: "
                             "table on a terminal, JSON lines when piped")
    parser.add_argument("--alert", action="append", default=[], metavar="COND",
                        help='e.g. "recall<0.8" (metric, < <= > >=, number); repeatable; exit 3 if any tripped')
    parser.add_argument("--min-samples", type=int_option(0), default=1, metavar="N",
                        help="alerts wait for this many samples in the window (default 1)")
    parser.add_argument("--prometheus-port", type=int_option(1, 65535), metavar="PORT",
                        help="serve Prometheus metrics on PORT (needs prometheus_client)")
    parser.add_argument("--prometheus-addr", default="127.0.0.1", metavar="ADDR",
                        help="address the Prometheus server listens on (default 127.0.0.1)")
    parser.add_argument("--group-by", metavar="KEY", help="also keep a window per value of KEY (a slice): "
                        "shown, alerted on and exported per slice")
    parser.add_argument("--max-slices", type=int_option(1), metavar="N",
                        help=f"with --group-by: most slices (default {slicing.DEFAULT_MAX_SLICES:,}); the lines of "
                             "later keys are counted together in the slice \"__other__\"")
    parser.add_argument("--max-label-values", type=int_option(0), metavar="N",
                        help="with --group-by and --prometheus-port: export the first N slices found with the label "
                             f"slice=\"KEY\" (default {slicing.DEFAULT_MAX_LABEL_VALUES}); the others are not "
                             "exported (each label value is a series the Prometheus server keeps)")
    monitoring.add_arguments(parser)
    return parser


def build_window(args: argparse.Namespace) -> Windowed:
    """The Windowed accumulator the options describe; UsageError if they do not fit together."""
    if args.labels and args.score:
        raise UsageError("--labels is for label predictions (--y-pred), --score for a binary task: give one")
    if args.labels and args.pos_label is not None:
        raise UsageError("--labels names the classes of a multiclass task, --pos-label the positive class of a "
                         "binary one: give one")
    if args.threshold is not None and not args.score:
        raise UsageError("--threshold is for --score: labels under --y-pred are compared as they are")
    if args.from_logits and not args.score:
        raise UsageError("--from-logits is for --score: labels under --y-pred are compared as they are")
    if args.time and args.unit != "seconds":
        raise UsageError("--time needs --unit seconds")
    if args.max_skew is not _DEFAULT and not args.time:
        raise UsageError("--max-skew is for event times: give --time KEY (with --unit seconds)")
    if args.group_by == "":
        raise UsageError("--group-by: the key is empty")
    for option in ("max_slices", "max_label_values"):
        if getattr(args, option, None) is not None and not getattr(args, "group_by", None):
            raise UsageError(f"--{option.replace('_', '-')} is for --group-by")
    if not (args.labels or args.score or args.pos_label is not None):
        raise UsageError("name the task: --labels L1 L2 ... (the classes under --y-pred), --pos-label P (a binary "
                         "task; --pos-label 1 for 0/1 labels) or --score KEY (binary scores)")
    size = int(args.window) if args.window == int(args.window) else args.window
    skew = {} if args.max_skew is _DEFAULT else {"max_skew": args.max_skew}
    extra = monitoring.window_options(args)  # --unlabelled, --reference, --bins
    try:
        template: Binary | Multiclass
        if args.labels:
            template = Multiclass(labels=list(dict.fromkeys(_label_text(v) for v in args.labels)), **extra)
        else:
            template = Binary(threshold=0.5 if args.threshold is None else args.threshold,
                              pos_label=1 if args.pos_label is None else args.pos_label,
                              from_logits=bool(args.from_logits), **extra)
        return Windowed(template, size, unit=args.unit, buckets=args.buckets, **skew)
    except (TypeError, ValueError, OverflowError) as exc:
        raise UsageError(" ".join(str(exc).split())) from None


def _label_text(value: str) -> str:
    """A label as watch counts it: the text of canonical_label (JSON 1, 1.0 and "1" are "1")."""
    try:
        return str(canonical_label(value))
    except ValueError as exc:
        raise UsageError(f"--labels {value!r}: {exc}") from None


class Watcher:
    """The state of one ``watch`` run: the window, the line counts and the alerts."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.window = build_window(args)
        self.pred_key = args.score or args.y_pred or "y_pred"
        self.multiclass = bool(args.labels)
        self.labels = list(dict.fromkeys(_label_text(v) for v in args.labels)) if args.labels else []
        self.label_index = {label: i for i, label in enumerate(self.labels)}
        self.label_array = np.array(self.labels, dtype=str)
        self.pos_label = None if self.multiclass else 1 if args.pos_label is None else args.pos_label
        self.zero_one = self.pos_label == 1  # 0/1 labels, where true/false and yes/no are 1/0
        self.negative: Any = None  # with another pos_label: the one other label seen
        self.lines = 0
        self.malformed: dict[str, int] = {}
        self.monitor = monitoring.Monitor(args, self.window)  # --reference, --unlabelled
        self.unlabelled = self.monitor.unlabelled
        names = set(self.window.compute()) | set(_EXTRA) | set(self.monitor.names)
        self.alerts = [parse_alert(text, names) for text in args.alert]
        self.alert_texts = [text.strip() for text in args.alert]
        self.active = [False] * len(self.alerts)
        self.tripped = False
        self.group_key: str | None = getattr(args, "group_by", None)
        bound = getattr(args, "max_slices", None) or slicing.DEFAULT_MAX_SLICES
        self.slices = None if self.group_key is None else slicing.SliceWindows(self.window, bound)
        self.slice_alerts = slicing.SliceAlerts()

    def feed(self, raw: bytes | str | None) -> None:
        """Count one line (None: one longer than --max-line-bytes); a malformed one is counted as
        such and changes nothing else. feed_lines() counts a batch alike, in bulk."""
        if raw is None:
            self.lines += 1
            self._bad("too_long")
            return
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.lines += 1
                self._bad("not_utf8")
                return
        if not raw.strip():
            return  # blank lines are neither samples nor errors
        self.lines += 1
        try:
            self._count(raw)
        except Malformed as exc:
            self._bad(exc.args[0])

    def _bad(self, reason: str) -> None:
        self.malformed[reason] = self.malformed.get(reason, 0) + 1

    def _count(self, raw: str) -> None:
        try:
            record = json.loads(raw)
        except RecursionError:
            raise Malformed("too_deep", "") from None
        except ValueError:
            raise Malformed("not_json", "") from None
        if not isinstance(record, dict):
            raise Malformed("not_object", "")
        keys = [self.args.y_true, self.pred_key] + ([self.args.time] if self.args.time else [])
        unlabelled = self.unlabelled and record.get(self.args.y_true) is None  # missing or null
        if any(key not in record for key in keys[unlabelled:]) or (self.group_key is not None
                                                                    and self.group_key not in record):
            raise Malformed("missing_key", "")
        group = None if self.group_key is None else str(self._label(record[self.group_key]))
        y_true, y_pred = record.get(self.args.y_true), record[self.pred_key]
        if self.multiclass:
            y_true, y_pred = None if unlabelled else str(self._label(y_true)), str(self._label(y_pred))
        else:
            y_true = None if unlabelled else self._binary_label(y_true)
            y_pred = self._score(y_pred) if self.args.score else self._binary_label(y_pred)
        seen = ([] if unlabelled else [y_true]) + ([] if self.args.score else [y_pred])
        negative = self._negative(*seen) if seen else self.negative
        timestamp = _timestamp(record[self.args.time]) if self.args.time else None
        try:
            self.window.update(None if unlabelled else [y_true], [y_pred], timestamp=timestamp)
        except TimestampError as exc:  # "late" or "future"; the window is unchanged
            raise Malformed(exc.reason, str(exc)) from None
        except (TypeError, ValueError, OverflowError) as exc:  # the window is unchanged
            raise Malformed("bad_value", str(exc)) from None
        self.negative = negative
        if self.slices is not None:
            self.slices.update(np.array([group], object), np.array([y_true]), np.array([y_pred]),
                               None if timestamp is None else np.array([timestamp]), np.array([not unlabelled]))

    # --- batches ---------------------------------------------------------------------------------
    # feed_lines() counts a batch as feed() counts its lines one by one: the same checks, column by
    # column, then one update of the window, and with --group-by one update of each slice's window
    # with the lines the window counted.

    def feed_lines(self, lines: inp.Lines) -> None:
        """Count a batch of lines (None: a line longer than --max-line-bytes) in bulk."""
        values, bad, n = inp.parse_objects(lines)
        records = values if set(map(type, values)) <= {dict} else [v for v in values if type(v) is dict]
        if len(records) < len(values):
            bad["not_object"] = len(values) - len(records)
        if records:
            columns = self._columns(records, bad)
            if columns is None:  # the binary task's other label is still to be found: line by line
                for line in lines:
                    self.feed(line)
                return
            y_true, y_pred, times, groups, labelled = columns
            if times is None:
                counted = self._update(y_true, y_pred, None, bad, labelled)
            else:
                y_true, y_pred, times, groups, labelled, counted = self._update_in_time(
                    y_true, y_pred, times, groups, labelled, bad)
            if self.slices is not None and groups is not None:
                if not counted.all():
                    y_true, y_pred, groups = y_true[counted], y_pred[counted], groups[counted]
                    times = None if times is None else times[counted]
                    labelled = None if labelled is None else labelled[counted]
                self.slices.update(groups, y_true, y_pred, times, labelled)
        self.lines += n
        for reason, k in bad.items():
            self.malformed[reason] = self.malformed.get(reason, 0) + k

    def _columns(self, records: list[dict[str, Any]], bad: dict[str, int]) -> tuple[
            np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None] | None:
        """(y_true, y_pred, times or None, slice keys or None, labelled mask or None: all labelled)
        of the records that hold good values, in order; the others counted in bad ("missing_key",
        "bad_value"). None: count the batch line by line."""
        m = len(records)
        keys = [self.args.y_true, self.pred_key] + ([self.args.time] if self.args.time else [])
        raw = [inp.column(records, key, _MISSING) for key in keys + ([self.group_key] if self.group_key else [])]
        unlabelled = np.zeros(m, bool)
        if self.unlabelled:  # a missing or null y_true: an unlabelled line
            unlabelled = np.fromiter((v is _MISSING or v is None for v in raw[0]), bool, m)
            if unlabelled.any():
                raw[0] = [None if v is _MISSING else v for v in raw[0]]
        present = np.ones(m, bool)
        for values in raw:
            if _MISSING in values:
                present &= np.fromiter((v is not _MISSING for v in values), bool, m)
        ok = present.copy()
        if self.multiclass:
            codes = [np.array(inp.lookup(values, self._class_code, -1), np.int64) for values in raw[:2]]
            ok &= ((codes[0] >= 0) | unlabelled) & (codes[1] >= 0)
            y_true, y_pred = self.label_array[codes[0]], self.label_array[codes[1]]
            times = None
        else:
            labels = inp.lookup(raw[0], self._binary_label, _BAD)
            scores = None
            if self.args.score:
                scores, not_number = inp.numbers(raw[1], self._score, bools=True)
                ok &= ~not_number & np.isfinite(scores)
                if not self.args.from_logits:
                    ok &= (scores >= 0) & (scores <= 1)  # Binary reads scores as probabilities
            sides = [labels] if scores is not None else [labels, inp.lookup(raw[1], self._binary_label, _BAD)]
            arrays = []
            for side in sides:
                codes_of = self._binary_codes(side, ok)
                if codes_of is None:
                    return None
                arrays.append(codes_of)
            ok &= (arrays[0] >= 0) | unlabelled
            if len(arrays) > 1:
                ok &= arrays[1] >= 0
            pair = self._binary_values()
            y_true = pair[np.maximum(arrays[0], 0)]
            y_pred = scores if scores is not None else pair[np.maximum(arrays[1], 0)]
            times = None
        if self.args.time:
            times, not_time = inp.numbers(raw[2], _timestamp, bools=False)
            ok &= ~not_time & np.isfinite(times)
        groups = None
        if self.group_key:
            groups = np.array(inp.lookup(raw[-1], lambda v: str(self._label(v)), _BAD), object)
            ok &= groups != _BAD
        missing = m - int(present.sum())
        if missing:
            bad["missing_key"] = bad.get("missing_key", 0) + missing
        if int(present.sum()) > int(ok.sum()):
            bad["bad_value"] = bad.get("bad_value", 0) + int(present.sum()) - int(ok.sum())
        if not ok.all():
            y_true, y_pred = y_true[ok], y_pred[ok]
            times = None if times is None else times[ok]
            groups = None if groups is None else groups[ok]
            unlabelled = unlabelled[ok]
        return y_true, y_pred, times, groups, ~unlabelled if unlabelled.any() else None

    def _class_code(self, value: Any) -> int:
        code = self.label_index.get(str(self._label(value)))
        if code is None:
            raise Malformed("bad_value", f"{value!r} is not a label of the task")
        return code

    def _binary_codes(self, labels: list[Any], ok: np.ndarray) -> np.ndarray | None:
        """1 for the positive label, 0 for the other one, -1 for a bad value; None where a line
        (with good values) brings the first other label: the batch is then counted line by line,
        since which label that is depends on the order of the lines."""
        if self.zero_one:
            return np.array([-1 if v is _BAD else v for v in labels] if _BAD in labels else labels, np.int64)
        table = {v: 1 if v == self.pos_label else 0 if self.negative is not None and v == self.negative else -1
                 for v in dict.fromkeys(labels) if v is not _BAD}
        codes = np.array([-1 if v is _BAD else table[v] for v in labels], np.int64)
        if self.negative is None and any(v is not _BAD and table[v] < 0 for v in np.array(labels, object)[ok]):
            return None
        return codes

    def _binary_values(self) -> np.ndarray:
        """The label of each code of _binary_codes: [other, positive] as an array."""
        pair = [self.negative if self.negative is not None else self.pos_label, self.pos_label]
        if self.zero_one:
            return np.array([0, 1], np.int64)
        return np.array(pair, dtype=object if len({type(v) for v in pair}) > 1 else None)

    def _update(self, y_true: np.ndarray, y_pred: np.ndarray, times: np.ndarray | None,
                bad: dict[str, int], labelled: np.ndarray | None = None) -> np.ndarray:
        """One update of the window (one time per sample; with unlabelled lines, one per run of
        labelled or unlabelled lines); where it refuses the batch, line by line. Returns the mask
        of the samples counted."""
        if not len(y_true):
            return np.ones(0, bool)
        if labelled is not None and labelled.any() and not labelled.all():
            return np.concatenate([self._update(y_true[a:b], y_pred[a:b], None if times is None else times[a:b], bad,
                                                labelled[a:b]) for a, b, _ in monitoring.runs(labelled)])
        try:
            self.window.update(None if labelled is not None and not labelled[0] else y_true, y_pred, timestamp=times)
            return np.ones(len(y_true), bool)
        except TimestampError as exc:  # the window is unchanged
            reason = exc.reason
        except (TypeError, ValueError, OverflowError):  # the window is unchanged
            reason = "bad_value"
        if len(y_true) == 1:
            bad[reason] = bad.get(reason, 0) + 1
            return np.zeros(1, bool)
        return np.concatenate([self._update(y_true[i:i + 1], y_pred[i:i + 1],
                                            None if times is None else times[i:i + 1], bad,
                                            None if labelled is None else labelled[i:i + 1])
                               for i in range(len(y_true))])

    def _update_in_time(self, y_true: np.ndarray, y_pred: np.ndarray, times: np.ndarray, groups: np.ndarray | None,
                        labelled: np.ndarray | None, bad: dict[str, int]) -> tuple[
            np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
        """--time: refuse the lines Windowed would refuse one at a time ("future", "late", too far
        from epoch 0), then count the others in one update. Returns the lines left (y_true,
        y_pred, times, slice keys, labelled mask) and the mask of those counted."""
        keep = inp.in_time(self.window, times, bad)
        if not keep.all():
            y_true, y_pred, times = y_true[keep], y_pred[keep], times[keep]
            groups = None if groups is None else groups[keep]
            labelled = None if labelled is None else labelled[keep]
        # The lines left are those counted one at a time: as Windowed counts an array of times as
        # it counts the samples in time order, one update gives the same window.
        return y_true, y_pred, times, groups, labelled, self._update(y_true, y_pred, times, bad, labelled)

    @staticmethod
    def _label(value: Any, yes_no: bool = False) -> Any:
        """The label a JSON value stands for, read as evaluate reads it."""
        if value is None or isinstance(value, (dict, list)):
            raise Malformed("bad_value", f"{value!r} is not a label")
        try:
            return canonical_label(value, yes_no=yes_no)
        except ValueError as exc:
            raise Malformed("bad_value", str(exc)) from None

    def _binary_label(self, value: Any) -> Any:
        """A label of the binary task: 0 or 1 (1.0, "1", true, "yes" are 1), or with another
        --pos-label any label."""
        label = self._label(value, yes_no=self.zero_one)
        if self.zero_one and label not in (0, 1):
            raise Malformed("bad_value", f"{label!r} is not a 0/1 label")
        return label

    def _negative(self, *labels: Any) -> Any:
        """The one label besides --pos-label, with these labels; Malformed if they bring a second:
        a binary task counts the positive label against one other (Binary sees one line at a time)."""
        negative = self.negative
        if self.multiclass or self.zero_one:
            return negative
        for label in labels[: 1 if self.args.score else 2]:
            if label != self.pos_label and negative is None:
                negative = label
            elif label != self.pos_label and label != negative:
                raise Malformed("bad_value", f"{label!r} is a third label besides --pos-label {self.pos_label!r} "
                                             f"and {negative!r}")
        return negative

    @staticmethod
    def _score(value: Any) -> float:
        """A score (a number, or text that reads as one) from a JSON value."""
        if isinstance(value, str) and NUMBER_TEXT.fullmatch(value.strip()):
            value = float(value)
        if not isinstance(value, (int, float)):
            raise Malformed("bad_value", f"{value!r} is not a number")
        try:
            return float(value)
        except OverflowError:
            raise Malformed("bad_value", "the score is too large") from None

    def metrics(self) -> dict[str, Any]:
        """The current window's compute() with n_samples, lines and malformed line counts."""
        out = {"n_samples": int(self.window.n_samples), **self.window.compute(), **self.monitor.values(self.window)}
        out["lines"] = self.lines
        out["malformed_lines"] = sum(self.malformed.values())
        out["malformed"] = dict(sorted(self.malformed.items()))
        if self.slices is not None:
            out["slices"] = self.slices.metrics()
        return out

    def check_alerts(self, metrics: dict[str, Any]) -> None:
        """Log to stderr each alert that trips or clears, on the window and on each slice's;
        remember whether any tripped."""
        for i, (name, op, bound) in enumerate(self.alerts if metrics["n_samples"] >= self.args.min_samples else []):
            on = bool(_OPS[op](metrics[name], bound))
            if on != self.active[i]:
                state = "TRIPPED" if on else "cleared"
                print(f"streameval watch: alert {state}: {self.alert_texts[i]} ({name}={metrics[name]:.6g})",
                      file=sys.stderr, flush=True)
                self.active[i] = on
            self.tripped |= on
        if "slices" in metrics:
            self.tripped |= self.slice_alerts.check(self.alerts, self.alert_texts, metrics["slices"],
                                                    self.args.min_samples)


# --- input -----------------------------------------------------------------------------------------


_read_stream = inp.read_stream  # (stream, queue, max_bytes): batches of stdin's lines, then inp.EOF
_follow = inp.follow  # (file, path, queue, stop, max_bytes): batches of a followed file's lines


# --- the command -----------------------------------------------------------------------------------


class _Stop(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def run(args: argparse.Namespace) -> ExitCode:
    """Run ``streameval watch`` with parsed args; returns the exit status."""
    try:
        watcher = Watcher(args)
    except UsageError as exc:
        print(f"streameval watch: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except CliError as exc:  # --reference unreadable or of another configuration
        print(f"streameval watch: error: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    max_bytes = limits.MAX_LINE_BYTES if args.max_line_bytes is None else args.max_line_bytes
    lines: inp.Batches = queue.Queue(maxsize=QUEUE_BATCHES)
    stop = threading.Event()
    prometheus = None
    try:
        if args.follow:
            followed = open(args.follow, "rb")  # noqa: SIM115 - the follower thread closes it
            if args.from_end:
                followed.seek(0, os.SEEK_END)
            source = threading.Thread(target=_follow, args=(followed, args.follow, lines, stop, max_bytes),
                                      daemon=True)
        else:
            source = threading.Thread(target=_read_stream, args=(sys.stdin.buffer, lines, max_bytes), daemon=True)
        if args.prometheus_port is not None:
            prometheus = _Prometheus(watcher, args.prometheus_addr, args.prometheus_port)
    except OSError as exc:
        where = f" (--prometheus-port {args.prometheus_port})" if prometheus is None and args.prometheus_port else ""
        print(f"streameval watch: error: {' '.join(str(exc).split())}{where}", file=sys.stderr)
        return ExitCode.FAILED
    except ImportError as exc:
        print(f"streameval watch: error: --prometheus-port needs prometheus_client: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
                if threading.current_thread() is threading.main_thread()}
    view = make_view(args)
    source.start()

    def emit() -> None:
        if args.unit == "seconds" and not args.time:
            watcher.window.advance()  # arrival time: the window moves on with the clock
        if watcher.slices is not None:
            watcher.slices.advance(watcher.window, bool(args.time))
        metrics = watcher.metrics()
        watcher.check_alerts(metrics)
        if prometheus is not None:
            prometheus.publish(metrics, watcher)
        view.show(metrics, watcher)

    try:
        next_tick = time.monotonic() + args.interval
        while True:
            # capped: a wait past threading.TIMEOUT_MAX (--interval 1e300) raises OverflowError
            batch, ended = inp.take(lines, timeout=min(max(0.0, next_tick - time.monotonic()), 60.0))
            if batch:
                watcher.feed_lines(batch)
            if ended:
                break
            if time.monotonic() >= next_tick:
                emit()
                next_tick = max(next_tick + args.interval, time.monotonic())
    except (KeyboardInterrupt, _Stop):
        pass
    except BrokenPipeError:
        view.close()
        return ExitCode.FAILED
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    try:
        emit()
    finally:
        view.close()
    if prometheus is not None:
        prometheus.server.shutdown()
        prometheus.server.server_close()
    bad = sum(watcher.malformed.values())
    if bad:
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(watcher.malformed.items()))
        print(f"{PROG} watch: {counted(bad, 'malformed line')} of {watcher.lines:,} ({detail})", file=sys.stderr)
    return ExitCode.ALERT if watcher.tripped else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streameval.watch``: the same command without the ``streameval`` front end."""
    with quiet_warnings():
        parser = add_arguments(argparse.ArgumentParser(prog=f"{PROG} watch", description=DESCRIPTION, epilog=EPILOG,
                                                       formatter_class=argparse.RawDescriptionHelpFormatter))
        return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
