"""``streameval watch``: windowed metrics over a stream of JSON lines, live.

Reads one JSON object per line from stdin, or follows a file as it grows (``--follow FILE``, from
its start, or from its end with ``--from-end``), and counts each line in a ``Windowed``
accumulator: ``Multiclass(labels=--labels)`` when labels are given (values are compared as text,
so ``"a"``, ``1`` and ``"1"`` are read as the labels ``a``, ``1``, ``1``), else ``Binary``
(``--score KEY`` with ``--threshold``, or ``--y-pred KEY`` holding 0/1 predictions).

Every ``--interval`` seconds it redraws a table (stdout is a terminal) or prints one JSON line
(stdout is piped; ``--format`` overrides): the current window's ``compute()`` plus
``n_samples``, ``lines`` and ``malformed_lines`` (with a ``malformed`` breakdown by reason). At
the end of stdin it prints a final line and exits; a followed file is watched until SIGINT or
SIGTERM, which also print the final line.

Malformed lines (not JSON, not an object, missing keys, bad values, timestamps older than the
window) are counted and never stop the stream; the accumulator refuses a bad value whole, so the
window is never corrupted.

Alerts: ``--alert "recall<0.8"`` (repeatable) is checked at every interval and at the end while
the window holds at least ``--min-samples`` samples; a line goes to stderr when it trips and when
it clears. Exit status: 0, 3 if any alert tripped during the run, 1 on a runtime error (file not
found, port taken), 2 on a usage error.

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

from .binary import Binary
from .multiclass import Multiclass
from .windows import Windowed

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_ALERT = 0, 1, 2, 3
_EOF = object()
_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_ALERT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_EXTRA = ("n_samples", "lines", "malformed_lines")  # alertable fields besides compute()'s


class UsageError(ValueError):
    """A bad combination of options: reported on one line, exit status 2."""


class Malformed(ValueError):
    """A line that cannot be counted; args[0] is the reason (a short key), args[1] the detail."""


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``streameval watch`` to parser; returns it."""
    parser.add_argument("--follow", metavar="FILE", help="follow FILE as it grows (like tail -f) instead of stdin")
    parser.add_argument("--from-end", action="store_true", help="with --follow: skip the lines already in FILE")
    parser.add_argument("--y-true", metavar="KEY", default="y_true", help="key of the true label (default y_true)")
    pred = parser.add_mutually_exclusive_group()
    pred.add_argument("--y-pred", metavar="KEY", help="key of the predicted label (default y_pred)")
    pred.add_argument("--score", metavar="KEY", help="key of a score: binary task, positive when score >= --threshold")
    parser.add_argument("--threshold", type=float, default=0.5, help="with --score (default 0.5)")
    parser.add_argument("--labels", nargs="+", metavar="LABEL", help="the classes of a multiclass task")
    parser.add_argument("--time", metavar="KEY", help="key of an event time (epoch seconds or ISO 8601); "
                        "with --unit seconds (default: arrival time)")
    parser.add_argument("--window", type=float, default=1000, metavar="SIZE", help="window size (default 1000)")
    parser.add_argument("--unit", choices=("samples", "seconds"), default="samples")
    parser.add_argument("--buckets", type=int, default=10, help="buckets per window (default 10)")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="output period (default 1)")
    parser.add_argument("--format", choices=("auto", "table", "json"), default="auto",
                        help="table on a terminal, JSON lines when piped (default auto)")
    parser.add_argument("--alert", action="append", default=[], metavar="COND",
                        help='e.g. "recall<0.8" (metric, < <= > >=, number); repeatable; exit 3 if any tripped')
    parser.add_argument("--min-samples", type=int, default=1, help="alerts wait for this many samples in the window")
    parser.add_argument("--prometheus-port", type=int, metavar="PORT", help="serve Prometheus metrics on PORT")
    parser.add_argument("--prometheus-addr", default="127.0.0.1", metavar="ADDR", help="(default 127.0.0.1)")
    return parser


def parse_alert(text: str, names) -> tuple[str, str, float]:
    """("recall", "<", 0.8) from "recall<0.8"; UsageError for bad syntax or an unknown metric."""
    match = _ALERT.match(text)
    if not match:
        raise UsageError(f"--alert {text!r} is not valid: expected METRIC OP NUMBER, OP one of < <= > >=")
    name, op, number = match.groups()
    if name not in names:
        raise UsageError(f"--alert {text!r}: unknown metric {name!r}; known: {', '.join(sorted(names))}")
    return name, op, float(number)


def build_window(args) -> Windowed:
    """The Windowed accumulator the options describe; UsageError if they do not fit together."""
    if args.labels and args.score:
        raise UsageError("--labels is for label predictions (--y-pred), --score for a binary task: give one")
    if args.time and args.unit != "seconds":
        raise UsageError("--time needs --unit seconds")
    if args.interval <= 0 or not math.isfinite(args.interval):
        raise UsageError(f"--interval {args.interval} is not valid: expected a positive number of seconds")
    if args.labels:
        template = Multiclass(labels=list(dict.fromkeys(args.labels)))
    else:
        template = Binary(threshold=args.threshold)
    size = int(args.window) if args.window == int(args.window) else args.window
    try:
        return Windowed(template, size, unit=args.unit, buckets=args.buckets)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _timestamp(value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Malformed("bad_value", f"time {value!r} is not a number or ISO 8601") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    raise Malformed("bad_value", f"time {value!r} is not a number or ISO 8601")


class Watcher:
    """The state of one ``watch`` run: the window, the line counts and the alerts."""

    def __init__(self, args):
        self.args = args
        self.window = build_window(args)
        self.pred_key = args.score or args.y_pred or "y_pred"
        self.multiclass = bool(args.labels)
        self.lines = 0
        self.malformed: dict[str, int] = {}
        names = set(self.window.compute()) | set(_EXTRA)
        self.alerts = [parse_alert(text, names) for text in args.alert]
        self.alert_texts = [text.strip() for text in args.alert]
        self.active = [False] * len(self.alerts)
        self.tripped = False

    def feed(self, raw: bytes | str) -> None:
        """Count one line; a malformed one is counted as such and changes nothing else."""
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
        except ValueError:
            raise Malformed("not_json", "") from None
        if not isinstance(record, dict):
            raise Malformed("not_object", "")
        keys = [self.args.y_true, self.pred_key] + ([self.args.time] if self.args.time else [])
        if any(key not in record for key in keys):
            raise Malformed("missing_key", "")
        y_true, y_pred = record[self.args.y_true], record[self.pred_key]
        if self.multiclass:
            y_true, y_pred = self._label(y_true), self._label(y_pred)
        elif any(isinstance(v, str) or v is None for v in (y_true, y_pred)):
            raise Malformed("bad_value", "")
        timestamp = _timestamp(record[self.args.time]) if self.args.time else None
        try:
            self.window.update([y_true], [y_pred], timestamp=timestamp)
        except (TypeError, ValueError) as exc:  # the window is unchanged
            raise Malformed("late" if "older than the window" in str(exc) else "bad_value", str(exc)) from None

    @staticmethod
    def _label(value) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise Malformed("bad_value", f"{value!r} is not a label")

    def metrics(self) -> dict:
        """The current window's compute() with n_samples, lines and malformed line counts."""
        out = {"n_samples": int(self.window.n_samples), **self.window.compute()}
        out["lines"] = self.lines
        out["malformed_lines"] = sum(self.malformed.values())
        out["malformed"] = dict(sorted(self.malformed.items()))
        return out

    def check_alerts(self, metrics: dict) -> None:
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


def _read_stream(stream, lines: queue.Queue) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw)
    lines.put(_EOF)


def _follow(f, path: str, lines: queue.Queue, stop: threading.Event) -> None:
    """Put each complete line of the open file f as it is written; start over if it is truncated."""
    with f:
        partial = b""
        while not stop.is_set():
            chunk = f.readline()
            if chunk:
                partial += chunk
                if partial.endswith(b"\n"):
                    lines.put(partial)
                    partial = b""
                continue
            try:
                if os.stat(path).st_size < f.tell():
                    f.seek(0)
                    partial = b""
            except OSError:
                pass
            stop.wait(0.05)


# --- output ----------------------------------------------------------------------------------------

_TABLE_KEYS = ("n_samples", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "precision_macro",
               "recall_macro", "f1_macro", "matthews_corrcoef", "lines", "malformed_lines")


def render_table(metrics: dict, watcher: Watcher) -> str:
    """The terminal view: ANSI clear and home, then a two-column table."""
    rows = [(k, metrics[k]) for k in _TABLE_KEYS if k in metrics]
    rows += [(f"alert {t}", "TRIPPED" if a else "ok") for t, a in zip(watcher.alert_texts, watcher.active)]
    width = max(len(k) for k, _ in rows)
    unit = watcher.args.unit
    head = f"streameval watch  window {watcher.args.window:g} {unit}  {time.strftime('%H:%M:%S')}"
    body = "\n".join(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}" for k, v in rows)
    return f"\x1b[H\x1b[2J{head}\n{body}\n"


def _json_line(metrics: dict) -> str:
    """One JSON line; undefined metrics (NaN, as accuracy of an empty window) are null."""
    clean = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in metrics.items()}
    return json.dumps(clean, allow_nan=False) + "\n"


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

    def publish(self, metrics: dict, watcher: Watcher) -> None:
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


def _on_signal(signum, frame):
    raise _Stop


def run(args) -> int:
    """Run ``streameval watch`` with parsed args; returns the exit status."""
    try:
        watcher = Watcher(args)
    except UsageError as exc:
        print(f"streameval watch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    table = args.format == "table" or (args.format == "auto" and sys.stdout.isatty())
    lines: queue.Queue = queue.Queue()
    stop = threading.Event()
    prometheus = None
    try:
        if args.follow:
            followed = open(args.follow, "rb")  # noqa: SIM115 - the follower thread closes it
            if args.from_end:
                followed.seek(0, os.SEEK_END)
            source = threading.Thread(target=_follow, args=(followed, args.follow, lines, stop), daemon=True)
        else:
            source = threading.Thread(target=_read_stream, args=(sys.stdin.buffer, lines), daemon=True)
        if args.prometheus_port is not None:
            prometheus = _Prometheus(watcher, args.prometheus_addr, args.prometheus_port)
    except OSError as exc:
        print(f"streameval watch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
                if threading.current_thread() is threading.main_thread()}
    source.start()

    def emit() -> None:
        if args.unit == "seconds" and not args.time:
            watcher.window.advance()  # arrival time: the window moves on with the clock
        metrics = watcher.metrics()
        watcher.check_alerts(metrics)
        if prometheus is not None:
            prometheus.publish(metrics, watcher)
        sys.stdout.write(render_table(metrics, watcher) if table else _json_line(metrics))
        sys.stdout.flush()

    try:
        next_tick = time.monotonic() + args.interval
        while True:
            try:
                item = lines.get(timeout=max(0.0, next_tick - time.monotonic()))
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
        return EXIT_ERROR
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    emit()
    if prometheus is not None:
        prometheus.server.shutdown()
    bad = sum(watcher.malformed.values())
    if bad:
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(watcher.malformed.items()))
        print(f"streameval watch: {bad} malformed line(s) of {watcher.lines} ({detail})", file=sys.stderr)
    return EXIT_ALERT if watcher.tripped else EXIT_OK


def main(argv=None) -> int:
    """``python -m streameval.watch``: the same command without the ``streameval`` front end."""
    parser = add_arguments(argparse.ArgumentParser(prog="streameval watch", description=__doc__.split("\n")[0]))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
