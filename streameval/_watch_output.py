"""What ``streameval watch`` shows: the table or JSON line of each interval, and the Prometheus
gauges and counters."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ._watch_reference import Gauges
from ._watch_slices import DEFAULT_MAX_LABEL_VALUES, worst

if TYPE_CHECKING:
    from .watch import Watcher


# --- output ----------------------------------------------------------------------------------------

_TABLE_KEYS = ("n_samples", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "precision_macro",
               "recall_macro", "f1_macro", "matthews_corrcoef", "lines", "malformed_lines")


def _table_rows(metrics: dict[str, Any], watcher: Watcher) -> list[tuple[str, str]]:
    """(name, value text) of the table views: counts as integers, metrics with 4 digits."""
    rows = [(k, f"{metrics[k]:.4f}" if isinstance(metrics[k], float) else str(metrics[k]))
            for k in _TABLE_KEYS if k in metrics]
    # --reference, --unlabelled: n_labelled, the drift statistics and p-values, the estimates
    rows += [(k, f"{metrics[k]:.4g}" if isinstance(metrics[k], float) else str(metrics[k]))
             for k in watcher.monitor.names if k in metrics and not k.endswith(("_low", "_high"))]
    if metrics.get("drifted"):
        rows.append(("drifted", ", ".join(metrics["drifted"])))
    rows += [(f"alert {t}", "TRIPPED" if a else "ok") for t, a in zip(watcher.alert_texts, watcher.active)]
    slices = metrics.get("slices")
    if slices is not None:  # the worst slices by the first alert's metric (else accuracy)
        by = next((name for name, _, _ in watcher.alerts if name not in ("lines", "malformed_lines")), "accuracy")
        shown = worst(slices, by)
        rows.append((f"slices ({len(slices):,}; worst by {by})", "" if len(shown) == len(slices) else
                     f"{len(shown)} shown"))
        for key, values in shown:
            value = values.get(by)
            text = "-" if not isinstance(value, (int, float)) or math.isnan(value) else f"{value:.4f}"
            rows.append((f"  {key}", f"{text}  (n={values['n_samples']})"))
        rows += [(f"alert {t} [{key}]", "TRIPPED") for t, key in watcher.slice_alerts.holding(watcher.alert_texts)]
    return rows


def _table_title(watcher: Watcher) -> str:
    return f"streameval watch  window {watcher.args.window:g} {watcher.args.unit}  {time.strftime('%H:%M:%S')}"


def render_table(metrics: dict[str, Any], watcher: Watcher) -> str:
    """The plain terminal view: ANSI clear and home, then a two-column table."""
    rows = _table_rows(metrics, watcher)
    width = max(len(k) for k, _ in rows)
    body = "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)
    return f"\x1b[H\x1b[2J{_table_title(watcher)}\n{body}\n"


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isnan(v) else _clean(v) if isinstance(v, dict) else v
            for k, v in values.items()}


def _json_line(metrics: dict[str, Any]) -> str:
    """One JSON line; undefined metrics (NaN, as accuracy of an empty window) are null."""
    return json.dumps(_clean(metrics), allow_nan=False) + "\n"


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
        self.monitored = Gauges(prom, self.registry, watcher.monitor) if watcher.monitor.unlabelled else None
        self.sliced = watcher.slices is not None
        if self.sliced:
            cap = getattr(watcher.args, "max_label_values", None)
            self.cap = DEFAULT_MAX_LABEL_VALUES if cap is None else cap
            self.slice_gauges = {name: prom.Gauge(f"streameval_slice_{name}", f"{name} over the slice's window",
                                                  ["slice"], registry=self.registry) for name in watcher.window.compute()}
            self.slice_samples = prom.Gauge("streameval_slice_samples_in_window", "samples in the slice's window",
                                            ["slice"], registry=self.registry)
            self.slice_alerts = prom.Gauge("streameval_slice_alert_active", "1 while the alert holds on the slice",
                                           ["alert", "slice"], registry=self.registry)
            self.n_slices = prom.Gauge("streameval_slices", "slices found (keys of --group-by)", registry=self.registry)
            self.left_out = prom.Gauge("streameval_slices_not_exported",
                                       "slices past --max-label-values, not exported", registry=self.registry)
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
        if self.monitored is not None:
            self.monitored.publish(metrics)
        if self.sliced:
            self.publish_slices(metrics["slices"], watcher)

    def publish_slices(self, slices: dict[str, dict[str, Any]], watcher: Watcher) -> None:
        """The first --max-label-values slices found, with the label slice="KEY"; the others are
        not exported (each label value is one more series on the Prometheus server)."""
        exported = list(slices)[:self.cap]  # in the order found: the same series from interval to interval
        for key in exported:
            values = slices[key]
            for name, gauge in self.slice_gauges.items():
                gauge.labels(slice=key).set(values[name])
            self.slice_samples.labels(slice=key).set(values["n_samples"])
        shown = set(exported)
        for (i, key), on in watcher.slice_alerts.active.items():
            if key in shown:
                self.slice_alerts.labels(alert=watcher.alert_texts[i], slice=key).set(int(on))
        self.n_slices.set(len(slices))
        self.left_out.set(len(slices) - len(exported))
