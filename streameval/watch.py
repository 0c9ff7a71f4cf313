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

Memory is bounded: the reader thread hands lines over through a queue of ``QUEUE_LINES`` lines and
waits while it is full (backpressure on the producer), so at most ``QUEUE_LINES`` lines of at most
``--max-line-bytes`` each are held.

Alerts: ``--alert "recall<0.8"`` (repeatable) is checked at every interval and at the end while
the window holds at least ``--min-samples`` samples; a line goes to stderr when it trips and when
it clears. Exit status (``streameval._command.ExitCode``, shared with ``evaluate``): 0, 3 if any
alert tripped during the run, 1 on a runtime error (file not found, port taken), 2 on a usage error.

``--prometheus-port PORT`` serves gauges ``streameval_<metric>`` (``streameval_accuracy``,
``streameval_recall_macro``...), ``streameval_samples_in_window``, ``streameval_alert_active``
and the counters ``streameval_lines_total`` and ``streameval_malformed_lines_total`` on
127.0.0.1 (``--prometheus-addr`` to change); prometheus_client is imported only then.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any, BinaryIO, Protocol, Union

from . import limits
from ._columns import NUMBER_TEXT, canonical_label
from ._command import (EXIT_STATUS_HELP, PROG, ExitCode, counted, float_option, int_option, label_option,
                       quiet_warnings)
from ._readers import read_lines
from .binary import Binary
from .errors import TimestampError
from .multiclass import Multiclass
from .windows import Windowed

# the names before ExitCode, kept for code that imported them
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_ALERT = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.ALERT


class _Marker:
    """A queue item that is not a line."""


_EOF = _Marker()
_TOO_LONG = _Marker()  # in place of a line longer than --max-line-bytes
QUEUE_LINES = 64
_DEFAULT = object()  # --max-skew not given: the library's default
_OPS: dict[str, Callable[[float, float], bool]] = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_ALERT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_EXTRA = ("n_samples", "lines", "malformed_lines")  # alertable fields besides compute()'s


class UsageError(ValueError):
    """A bad combination of options: reported on one line, exit status 2."""


class Malformed(ValueError):
    """A line that cannot be counted; args[0] is the reason (a short key), args[1] the detail."""


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
    return parser


def parse_alert(text: str, names: Iterable[str]) -> tuple[str, str, float]:
    """("recall", "<", 0.8) from "recall<0.8"; UsageError for bad syntax or an unknown metric."""
    match = _ALERT.match(text)
    if not match:
        raise UsageError(f"--alert {text!r} is not valid: expected METRIC OP NUMBER, OP one of < <= > >=")
    name, op, number = match.groups()
    if name not in names:
        raise UsageError(f"--alert {text!r}: unknown metric {name!r}; known: {', '.join(sorted(names))}")
    return name, op, float(number)


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
    if not (args.labels or args.score or args.pos_label is not None):
        raise UsageError("name the task: --labels L1 L2 ... (the classes under --y-pred), --pos-label P (a binary "
                         "task; --pos-label 1 for 0/1 labels) or --score KEY (binary scores)")
    size = int(args.window) if args.window == int(args.window) else args.window
    skew = {} if args.max_skew is _DEFAULT else {"max_skew": args.max_skew}
    try:
        template: Binary | Multiclass
        if args.labels:
            template = Multiclass(labels=list(dict.fromkeys(_label_text(v) for v in args.labels)))
        else:
            template = Binary(threshold=0.5 if args.threshold is None else args.threshold,
                              pos_label=1 if args.pos_label is None else args.pos_label,
                              from_logits=bool(args.from_logits))
        return Windowed(template, size, unit=args.unit, buckets=args.buckets, **skew)
    except (TypeError, ValueError, OverflowError) as exc:
        raise UsageError(" ".join(str(exc).split())) from None


def _label_text(value: str) -> str:
    """A label as watch counts it: the text of canonical_label (JSON 1, 1.0 and "1" are "1")."""
    try:
        return str(canonical_label(value))
    except ValueError as exc:
        raise UsageError(f"--labels {value!r}: {exc}") from None


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


class Watcher:
    """The state of one ``watch`` run: the window, the line counts and the alerts."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.window = build_window(args)
        self.pred_key = args.score or args.y_pred or "y_pred"
        self.multiclass = bool(args.labels)
        self.pos_label = None if self.multiclass else 1 if args.pos_label is None else args.pos_label
        self.zero_one = self.pos_label == 1  # 0/1 labels, where true/false and yes/no are 1/0
        self.negative: Any = None  # with another pos_label: the one other label seen
        self.lines = 0
        self.malformed: dict[str, int] = {}
        names = set(self.window.compute()) | set(_EXTRA)
        self.alerts = [parse_alert(text, names) for text in args.alert]
        self.alert_texts = [text.strip() for text in args.alert]
        self.active = [False] * len(self.alerts)
        self.tripped = False

    def feed(self, raw: bytes | str | _Marker) -> None:
        """Count one line; a malformed one is counted as such and changes nothing else."""
        if isinstance(raw, _Marker):  # _TOO_LONG, the one marker fed
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
        if any(key not in record for key in keys):
            raise Malformed("missing_key", "")
        y_true, y_pred = record[self.args.y_true], record[self.pred_key]
        if self.multiclass:
            y_true, y_pred = str(self._label(y_true)), str(self._label(y_pred))
        else:
            y_true = self._binary_label(y_true)
            y_pred = self._score(y_pred) if self.args.score else self._binary_label(y_pred)
        negative = self._negative(y_true, y_pred)
        timestamp = _timestamp(record[self.args.time]) if self.args.time else None
        try:
            self.window.update([y_true], [y_pred], timestamp=timestamp)
        except TimestampError as exc:  # "late" or "future"; the window is unchanged
            raise Malformed(exc.reason, str(exc)) from None
        except (TypeError, ValueError, OverflowError) as exc:  # the window is unchanged
            raise Malformed("bad_value", str(exc)) from None
        self.negative = negative

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
        out = {"n_samples": int(self.window.n_samples), **self.window.compute()}
        out["lines"] = self.lines
        out["malformed_lines"] = sum(self.malformed.values())
        out["malformed"] = dict(sorted(self.malformed.items()))
        return out

    def check_alerts(self, metrics: dict[str, Any]) -> None:
        """Log to stderr each alert that trips or clears; remember whether any tripped."""
        if metrics["n_samples"] < self.args.min_samples:
            return
        for i, (name, op, bound) in enumerate(self.alerts):
            on = bool(_OPS[op](metrics[name], bound))
            if on != self.active[i]:
                state = "TRIPPED" if on else "cleared"
                print(f"streameval watch: alert {state}: {self.alert_texts[i]} ({name}={metrics[name]:.6g})",
                      file=sys.stderr, flush=True)
                self.active[i] = on
            self.tripped |= on


# --- input -----------------------------------------------------------------------------------------


Lines = queue.Queue[Union[bytes, _Marker]]  # lines read, _TOO_LONG in place of an overlong one, then _EOF


def _put(lines: Lines, item: bytes | _Marker, stop: threading.Event | None = None) -> bool:
    """Put item, waiting while the queue is full (backpressure); False if stop was set meanwhile."""
    while stop is None or not stop.is_set():
        try:
            lines.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _read_stream(stream: BinaryIO, lines: Lines, max_bytes: int) -> None:
    """Put each line of stream (or _TOO_LONG for a line longer than max_bytes, read past in pieces)."""
    for raw in read_lines(stream, max_bytes):
        _put(lines, _TOO_LONG if raw is None else raw)
    _put(lines, _EOF)


def _follow(f: BinaryIO, path: str, lines: Lines, stop: threading.Event, max_bytes: int) -> None:
    """Put each complete line of the open file f as it is written; start over if it is truncated.

    A line longer than max_bytes is dropped as it is read (never held whole) and put as _TOO_LONG.
    """
    with f:
        partial, overlong = b"", False
        while not stop.is_set():
            chunk = f.readline(max_bytes + 1)
            if chunk:
                if not overlong:
                    partial += chunk
                    if len(partial) > max_bytes + (partial.endswith(b"\n")):
                        partial, overlong = b"", True
                if chunk.endswith(b"\n"):
                    if not _put(lines, _TOO_LONG if overlong else partial, stop):
                        return
                    partial, overlong = b"", False
                continue
            try:
                if os.stat(path).st_size < f.tell():
                    f.seek(0)
                    partial, overlong = b"", False
            except OSError:
                pass
            stop.wait(0.05)


# --- output ----------------------------------------------------------------------------------------

_TABLE_KEYS = ("n_samples", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "precision_macro",
               "recall_macro", "f1_macro", "matthews_corrcoef", "lines", "malformed_lines")


def _table_rows(metrics: dict[str, Any], watcher: Watcher) -> list[tuple[str, str]]:
    """(name, value text) of the table views: counts as integers, metrics with 4 digits."""
    rows = [(k, f"{metrics[k]:.4f}" if isinstance(metrics[k], float) else str(metrics[k]))
            for k in _TABLE_KEYS if k in metrics]
    rows += [(f"alert {t}", "TRIPPED" if a else "ok") for t, a in zip(watcher.alert_texts, watcher.active)]
    return rows


def _table_title(watcher: Watcher) -> str:
    return f"streameval watch  window {watcher.args.window:g} {watcher.args.unit}  {time.strftime('%H:%M:%S')}"


def render_table(metrics: dict[str, Any], watcher: Watcher) -> str:
    """The plain terminal view: ANSI clear and home, then a two-column table."""
    rows = _table_rows(metrics, watcher)
    width = max(len(k) for k, _ in rows)
    body = "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)
    return f"\x1b[H\x1b[2J{_table_title(watcher)}\n{body}\n"


def _json_line(metrics: dict[str, Any]) -> str:
    """One JSON line; undefined metrics (NaN, as accuracy of an empty window) are null."""
    clean = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in metrics.items()}
    return json.dumps(clean, allow_nan=False) + "\n"


class _View(Protocol):
    def show(self, metrics: dict[str, Any], watcher: Watcher) -> None: ...

    def close(self) -> None: ...


class _Lines:
    """Output as text on stdout: one JSON line, or the plain table, per interval."""

    def __init__(self, render: Callable[[dict[str, Any], Watcher], str]):
        self.render = render

    def show(self, metrics: dict[str, Any], watcher: Watcher) -> None:
        sys.stdout.write(self.render(metrics, watcher))
        sys.stdout.flush()

    def close(self) -> None:
        pass


class _RichTable:
    """rich's live table, redrawn in place on the terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.live = Live(console=Console(), auto_refresh=False)
        self.live.start()

    def show(self, metrics: dict[str, Any], watcher: Watcher) -> None:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table()
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in _table_rows(metrics, watcher):
            table.add_row(name, Text(value, style="bold red" if value == "TRIPPED" else ""))
        self.live.update(Group(Text(_table_title(watcher), style="bold"), table), refresh=True)

    def close(self) -> None:
        self.live.stop()


def make_view(args: argparse.Namespace) -> _View:
    """JSON lines when piped (or --format json); on a terminal rich's live table, or the plain one
    without rich; --format table on a pipe also gets the plain one."""
    if args.format == "json" or (args.format == "auto" and not sys.stdout.isatty()):
        return _Lines(lambda metrics, watcher: _json_line(metrics))
    if sys.stdout.isatty():
        try:
            return _RichTable()
        except ImportError:
            pass
    return _Lines(render_table)


class _Prometheus:
    """Gauges and counters on their own registry, served over HTTP."""

    def __init__(self, watcher: Watcher, addr: str, port: int):
        import prometheus_client as prom  # lazily: only --prometheus-port needs it

        self.registry = prom.CollectorRegistry()
        self.gauges = {name: prom.Gauge(f"streameval_{name}", f"{name} over the current window",
                                        registry=self.registry) for name in watcher.window.compute()}
        self.samples = prom.Gauge("streameval_samples_in_window", "samples in the current window",
                                  registry=self.registry)
        self.lines = prom.Counter("streameval_lines", "lines read", registry=self.registry)
        self.malformed = prom.Counter("streameval_malformed_lines", "lines that could not be counted",
                                      registry=self.registry)
        self.alerts = prom.Gauge("streameval_alert_active", "1 while the alert holds", ["alert"],
                                 registry=self.registry)
        self.seen_lines = self.seen_malformed = 0
        self.server, _ = prom.start_http_server(port, addr=addr, registry=self.registry)

    def publish(self, metrics: dict[str, Any], watcher: Watcher) -> None:
        for name, gauge in self.gauges.items():
            gauge.set(metrics[name])
        self.samples.set(metrics["n_samples"])
        self.lines.inc(metrics["lines"] - self.seen_lines)
        self.malformed.inc(metrics["malformed_lines"] - self.seen_malformed)
        self.seen_lines, self.seen_malformed = metrics["lines"], metrics["malformed_lines"]
        for text, active in zip(watcher.alert_texts, watcher.active):
            self.alerts.labels(alert=text).set(int(active))


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
    max_bytes = limits.MAX_LINE_BYTES if args.max_line_bytes is None else args.max_line_bytes
    lines: Lines = queue.Queue(maxsize=QUEUE_LINES)
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
        metrics = watcher.metrics()
        watcher.check_alerts(metrics)
        if prometheus is not None:
            prometheus.publish(metrics, watcher)
        view.show(metrics, watcher)

    try:
        next_tick = time.monotonic() + args.interval
        while True:
            try:
                # capped: a wait past threading.TIMEOUT_MAX (--interval 1e300) raises OverflowError
                item = lines.get(timeout=min(max(0.0, next_tick - time.monotonic()), 60.0))
            except queue.Empty:
                item = None
            if item is _EOF:
                break
            if item is not None:
                watcher.feed(item)
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
