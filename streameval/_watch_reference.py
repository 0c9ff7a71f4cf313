"""``streameval watch --reference REF`` and ``--unlabelled``: lines without labels, drift and
estimated metrics of every window.

Unlabelled lines. With ``--unlabelled`` or ``--reference``, a line whose y_true key is missing or
null is an unlabelled sample: its prediction is counted (``update(None, y_pred)`` of a window made
with ``unlabelled=True``), and it joins ``n_samples`` but no label-based metric (``n_labelled``
counts the labelled ones). Without either option such a line stays malformed (``missing_key``,
``bad_value`` for null), as before. A batch is counted in runs of consecutive labelled and
unlabelled lines, in stream order, so the window is the one line-by-line counting gives.

Each window report (JSON line, table, Prometheus) then adds, as ``streameval._cli_reference``
computes them on the window's current counts:

- with ``--reference``: the drift of the window's predictions (labelled and unlabelled) against
  the reference: ``psi``, ``jensenshannon``, ``chi2`` and ``chi2_p``, and with score bins (a
  Binary reference with bins, or ``--bins``) ``ks``, ``ks_p`` and ``wasserstein``; NaN (JSON
  null) while the window is empty; and ``drifted``, the methods past their default thresholds;
- when the scores are probabilities (``--score``, read as probabilities or with
  ``--from-logits``): ``estimated_accuracy``, ``estimated_precision``, ``estimated_recall``,
  ``estimated_f1`` (each with ``_low`` and ``_high``, its 95% interval) and with bins
  ``estimated_roc_auc``, of the window's unlabelled lines (NaN while there are none).

Every one of these names may be alerted on: ``--alert "psi>0.2"``, ``--alert
"estimated_recall<0.8"``, ``--alert "ks_p<0.01"``. A NaN value trips no alert.

Prometheus: ``streameval_drift{method="psi"}`` (the statistic of each method),
``streameval_drift_p_value{method="ks"}`` (KS and chi-square), ``streameval_drifted{method=...}``
(1 while past the default threshold), ``streameval_estimated{metric="recall"}`` with
``streameval_estimated_low`` and ``streameval_estimated_high``, and
``streameval_labelled_in_window``.

The window's bins: ``--bins N`` (with ``--score``), else with a Binary reference that has bins,
the reference's. With ``--group-by`` the slices' windows count unlabelled lines too, but drift
and estimated metrics are computed on the overall window only.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from . import _cli_reference as ref
from . import drift
from ._command import int_option

WATCH_HINT = (" (give the options that make the reference's configuration: --score or --y-pred with --labels or "
              "--pos-label, --threshold, --from-logits, --bins)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """watch's options for unlabelled lines and a reference."""
    parser.add_argument("--reference", metavar="REF",
                        help="a saved accumulator (acc.save(REF)), say of the validation set: every window adds the "
                             "drift of its predictions against it (psi, jensenshannon, chi2; ks and wasserstein "
                             "with bins) and the estimated metrics of its unlabelled lines; implies --unlabelled")
    parser.add_argument("--unlabelled", action="store_true",
                        help="a line whose y_true is missing or null is an unlabelled sample (its prediction is "
                             "counted) instead of a malformed line; adds n_labelled and, for probability scores, "
                             "the estimated metrics (estimated_recall...)")
    parser.add_argument("--bins", type=int_option(1), metavar="N",
                        help="with --score: score histogram bins of the window (ks, wasserstein, estimated_roc_auc; "
                             "default: the reference's)")


def window_options(args: argparse.Namespace) -> dict[str, Any]:
    """The template's extra options (unlabelled, bins); loads --reference into args.reference_acc
    (CliError when it cannot be read)."""
    from .binary import Binary

    if getattr(args, "bins", None) is not None and not args.score:
        from ._watch_slices import UsageError

        raise UsageError("--bins is for --score: the histogram of the scores")
    path = getattr(args, "reference", None)
    args.reference_acc = None if path is None else ref.load_reference(path)
    options: dict[str, Any] = {}
    if path is not None or getattr(args, "unlabelled", False):
        options["unlabelled"] = True
    bins = getattr(args, "bins", None)
    if bins is None and args.score and isinstance(args.reference_acc, Binary):
        bins = args.reference_acc.bins
    if bins is not None:
        options["bins"] = bins
    return options


def text_labels(reference: Any, labels: list[str]) -> Any:
    """A Multiclass reference whose labels read as watch's text labels (the reference's 0, 1, 2
    as "0", "1", "2"), the same counts; the reference itself when it is not one or they differ."""
    from ._columns import canonical_label
    from .multiclass import Multiclass
    from .serialization import from_dict

    if not isinstance(reference, Multiclass) or list(reference.labels) == labels:
        return reference
    if [str(canonical_label(label)) for label in reference.labels] != labels or reference.bins is not None:
        return reference
    d = reference.to_dict()
    config = {k: v for k, v in d["config"].items() if k not in ("discovered", "max_labels")}
    config.update(num_classes=None, labels=labels)
    try:
        return from_dict({**d, "config": config})
    except (TypeError, ValueError):
        return reference


class Monitor:
    """Drift and estimated metrics of the current window (see the module docstring)."""

    def __init__(self, args: argparse.Namespace, window: Any):
        self.unlabelled = bool(getattr(window, "unlabelled", False))
        self.reference = getattr(args, "reference_acc", None)
        template = window._template
        if self.reference is not None:
            self.reference = text_labels(self.reference, [str(v) for v in getattr(template, "labels", [])])
            ref.check_compatible(template, self.reference, args.reference, WATCH_HINT)
        self.methods = ref.drift_methods(template) if self.reference is not None else ()
        self.metrics = ref.estimated_metrics(template, bool(args.score)) if self.unlabelled else ()
        self.names = ref.alert_names(self.methods, self.metrics) + (["n_labelled"] if self.unlabelled else [])

    def values(self, window: Any) -> dict[str, Any]:
        """n_labelled, the flat drift and estimated values, and drifted (a list of methods)."""
        if not self.unlabelled:
            return {}
        current = window._current()
        drift = ref.drifts(current, self.reference, self.methods) if self.reference is not None else {}
        out: dict[str, Any] = {"n_labelled": int(current.n_labelled)}
        out.update(ref.flat(drift, ref.estimates(current, self.metrics)))
        if self.reference is not None:
            out["drifted"] = [m for m, r in drift.items() if r is not None and r.drifted]
        return out


def runs(labelled: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, stop, labelled) of the runs of consecutive equal values, in order."""
    if not len(labelled):
        return []
    cuts = np.flatnonzero(np.diff(labelled.astype(np.int8))) + 1
    bounds = [0, *cuts.tolist(), len(labelled)]
    return [(a, b, bool(labelled[a])) for a, b in zip(bounds[:-1], bounds[1:])]


def update_window(window: Any, y_true: np.ndarray, y_pred: np.ndarray, times: np.ndarray | None,
                  labelled: np.ndarray | None) -> None:
    """Count the rows in order: a run of labelled rows as update(y_true, y_pred), a run of
    unlabelled ones as update(None, y_pred)."""
    if labelled is None or labelled.all():
        window.update(y_true, y_pred, timestamp=times)
        return
    for a, b, has_labels in runs(labelled):
        window.update(y_true[a:b] if has_labels else None, y_pred[a:b],
                      timestamp=None if times is None else times[a:b])


class Gauges:
    """The Prometheus gauges of Monitor's values."""

    def __init__(self, prom: Any, registry: Any, monitor: Monitor):
        self.monitor = monitor
        self.labelled = prom.Gauge("streameval_labelled_in_window", "labelled samples in the current window",
                                   registry=registry)
        self.drift = prom.Gauge("streameval_drift", "drift statistic of the window against --reference", ["method"],
                                registry=registry)
        self.p_value = prom.Gauge("streameval_drift_p_value", "p-value of the drift test (ks, chi2)", ["method"],
                                  registry=registry)
        self.drifted = prom.Gauge("streameval_drifted", "1 while the method's statistic is past its default "
                                  "threshold", ["method"], registry=registry)
        self.estimated = [prom.Gauge(f"streameval_estimated{suffix}", f"estimated metric{what} of the window's "
                                     "unlabelled samples (CBPE)", ["metric"], registry=registry)
                          for suffix, what in (("", ""), ("_low", ", low bound of its 95% interval"),
                                               ("_high", ", high bound of its 95% interval"))]

    def publish(self, values: dict[str, Any]) -> None:
        if not values:
            return
        self.labelled.set(values["n_labelled"])
        drifted = set(values.get("drifted", ()))
        for method in self.monitor.methods:
            self.drift.labels(method=method).set(values[method])
            self.drifted.labels(method=method).set(int(method in drifted))
            if method in drift.TESTS:
                self.p_value.labels(method=method).set(values[f"{method}_p"])
        for metric in self.monitor.metrics:
            for gauge, suffix in zip(self.estimated, ("", "_low", "_high")):
                if f"estimated_{metric}{suffix}" in values:  # roc_auc: no interval
                    gauge.labels(metric=metric).set(values[f"estimated_{metric}{suffix}"])

