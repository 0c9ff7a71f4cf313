"""``--reference REF`` and rows without labels, in ``streameval evaluate`` and ``streameval watch``.

The reference is a saved accumulator (``acc.save("ref.bin")``, read back by ``streameval.load``; a
saved ``Windowed`` or ``Decayed`` gives its current counts), typically of the validation set. It
must be a Binary or a Multiclass of the configuration the command's options make (the same bins,
threshold, labels, score range, from_logits): else the command stops with exit status 1, saying
both configurations, as it does for an unreadable file. ``evaluate --y-pred`` without
``--labels`` takes the reference's labels.

Drift (``streameval.drift``; every statistic against the reference's prediction distribution):

- Binary with bins: ``psi``, ``jensenshannon``, ``ks`` and ``wasserstein`` on the score
  histograms, ``chi2`` on the predicted-class counts (at the threshold);
- otherwise (Binary without bins, Multiclass): ``psi``, ``jensenshannon`` and ``chi2`` on the
  predicted-class counts.

Each at drift.DEFAULT_THRESHOLDS (``drifted``). Flat names (watch's JSON lines and alerts): the
method's statistic under its name, and the p-values as ``ks_p`` and ``chi2_p``.

Estimated metrics (``streameval.cbpe``, of the unlabelled rows only; they need probabilities:
one --score column read as a probability or with --from-logits, or one column per class): the
accuracy, precision, recall and F1 (Binary: of the positive class; Multiclass: macro averages),
each with the bounds of its 95% interval, and with bins the ROC AUC (no interval). Flat names:
``estimated_<metric>``, ``estimated_<metric>_low``, ``estimated_<metric>_high`` (``estimated_roc_auc``
alone). An undefined
value (no unlabelled rows yet, 0/0) is NaN: JSON null.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._command import CliError, one_line, one_line_text
from .drift import TESTS, _unwrapped  # (TESTS: with a p-value, flat name <method>_p)

SCORE_METHODS = ("psi", "jensenshannon", "ks", "wasserstein", "chi2")  # Binary with bins
COUNT_METHODS = ("psi", "jensenshannon", "chi2")  # on the predicted-class counts
ESTIMATED = ("accuracy", "precision", "recall", "f1")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
MISMATCH_HINT = (" (give the options that make the reference's configuration: --score or --y-pred, --bins, "
                 "--threshold, --labels, --pos-label, --score-range, --from-logits)")


# --- the reference ----------------------------------------------------------------------------------


def load_reference(path: str) -> Any:
    """The Binary or Multiclass saved at path (a window's current counts); CliError otherwise."""
    from .binary import Binary
    from .checkpoint import load
    from .multiclass import Multiclass

    try:
        saved = load(path)
    except OSError as e:
        raise CliError(f"--reference {path}: cannot read it: {one_line(e)}") from None
    except (ValueError, TypeError) as e:  # SerializationError
        raise CliError(f"--reference {path}: not a saved accumulator: {one_line(e)}") from None
    acc = _unwrapped(saved)
    if not isinstance(acc, (Binary, Multiclass)):
        raise CliError(f"--reference {path} holds a {type(saved).__name__}: expected a saved Binary or Multiclass "
                       "(or a window of one)")
    if not acc.n_samples > 0:
        raise CliError(f"--reference {path} holds no samples: drift needs the reference's predictions")
    return acc


def check_compatible(acc: Any, reference: Any, path: str, hint: str = MISMATCH_HINT) -> None:
    """CliError unless drift can compare acc (maybe empty) with reference."""
    from .errors import IncompatibleError

    try:
        acc.drift(reference, "chi2")
    except IncompatibleError as e:
        raise CliError(f"--reference {path}: {one_line_text(str(e), 600)}{hint}") from None
    except ValueError:  # compatible: acc has counted nothing yet
        pass


def drift_methods(acc: Any) -> tuple[str, ...]:
    """The drift methods that apply to acc (a Binary, a Multiclass or a window of one)."""
    from .binary import Binary

    inner = getattr(acc, "_template", acc)
    return SCORE_METHODS if isinstance(inner, Binary) and inner.bins is not None else COUNT_METHODS


def estimated_metrics(template: Any, scores: bool) -> tuple[str, ...]:
    """The estimated metrics of an accumulator made with unlabelled=True, fed scores (True) or
    labels: none unless its unlabelled scores are probabilities; roc_auc too with bins."""
    if not scores:
        return ()
    try:
        template.estimated("accuracy")
    except (ValueError, TypeError):
        return ()
    return ESTIMATED + (("roc_auc",) if getattr(template, "bins", None) is not None else ())


def drifts(acc: Any, reference: Any, methods: tuple[str, ...]) -> dict[str, Any]:
    """{method: DriftResult, or None while acc has no samples (or no scores)}."""
    out: dict[str, Any] = {}
    for method in methods:
        try:
            out[method] = acc.drift(reference, method)
        except ValueError:
            out[method] = None
    return out


def estimates(acc: Any, metrics: tuple[str, ...]) -> dict[str, Any]:
    """{metric: Estimate} of acc's unlabelled samples (0/0 is NaN)."""
    with warnings.catch_warnings():  # an undefined value is NaN, said once by the output (null)
        warnings.simplefilter("ignore")
        return {metric: acc.estimated(metric, zero_division=math.nan) for metric in metrics}


def flat(drift: dict[str, Any], estimated: dict[str, Any]) -> dict[str, float]:
    """The alertable numbers: psi, jensenshannon, ks, ks_p, wasserstein, chi2, chi2_p,
    estimated_<metric> with its _low and _high (NaN where undefined)."""
    out: dict[str, float] = {}
    for method, result in drift.items():
        out[method] = math.nan if result is None else float(result.statistic)
        if method in TESTS:
            out[f"{method}_p"] = math.nan if result is None else float(result.p_value)
    for metric, estimate in estimated.items():
        out[f"estimated_{metric}"] = float(estimate.value)
        if metric != "roc_auc":  # no interval
            out[f"estimated_{metric}_low"] = float(estimate.low)
            out[f"estimated_{metric}_high"] = float(estimate.high)
    return out


def alert_names(methods: tuple[str, ...] = SCORE_METHODS, metrics: tuple[str, ...] = ESTIMATED + ("roc_auc",)
                ) -> list[str]:
    """The names flat() gives (by default: every name it may give)."""
    names = [n for m in methods for n in ((m, f"{m}_p") if m in TESTS else (m,))]
    return names + [f"estimated_{m}{s}" for m in metrics for s in (("",) if m == "roc_auc" else ("", "_low", "_high"))]


# --- evaluate's report -------------------------------------------------------------------------------


def _number(value: Any) -> Any:
    value = value.item() if isinstance(value, np.generic) else value
    return value


def drift_dict(drift: dict[str, Any]) -> dict[str, Any]:
    """{method: {statistic, p_value, threshold, drifted}} (None: not computable)."""
    return {method: None if r is None else {"statistic": r.statistic, "p_value": r.p_value,
                                            "threshold": r.threshold, "drifted": r.drifted}
            for method, r in drift.items()}


def estimated_dict(estimated: dict[str, Any]) -> dict[str, Any]:
    return {metric: {"value": float(e.value), "low": float(e.low), "high": float(e.high)}
            for metric, e in estimated.items()}


def quantile_cells(counts: np.ndarray, edges: np.ndarray, quantiles: tuple[float, ...] = QUANTILES
                   ) -> dict[str, list[float | None]]:
    """{q: [lo, hi]} the histogram cell holding the q-quantile of the scores (the first cell where
    the cumulative count reaches q of the total): [edges[i - 1], edges[i]) for the inner cells,
    [None, edges[0]) for the bottom one and [edges[-1], None] for the top one (scores at or
    above the last edge)."""
    cumulative = np.cumsum(counts)
    total = float(cumulative[-1])
    out: dict[str, list[float | None]] = {}
    for q in quantiles:
        i = int(np.argmax(cumulative >= q * total))
        lo = None if i == 0 else float(edges[i - 1])
        hi = None if i == len(edges) else float(edges[i])
        out[f"{q:g}"] = [lo, hi]
    return out


def distribution(acc: Any) -> dict[str, Any]:
    """The prediction distribution of every row: n_samples, n_labelled, predicted-class counts
    (Binary: negative and positive at the threshold; Multiclass: by label), and with bins the
    score histogram (edges, counts per column) and the cells of its quantiles per column."""
    from .binary import Binary

    side = acc._prediction_side()
    names = ["negative", "positive"] if isinstance(acc, Binary) else list(acc.labels)
    out: dict[str, Any] = {"n_samples": _number(acc.n_samples), "n_labelled": _number(acc.n_labelled),
                           "predicted": {name: _number(c) for name, c in zip(names, side.counts)}}
    if side.hist is not None and side.edges is not None:
        columns = ["positive"] if isinstance(acc, Binary) else list(acc.labels)
        out["score_histogram"] = {"edges": [float(e) for e in side.edges],
                                  "counts": {c: [_number(v) for v in row] for c, row in zip(columns, side.hist)}}
        out["score_quantiles"] = {c: quantile_cells(row, side.edges) for c, row in zip(columns, side.hist)
                                  if row.sum() > 0}
    return out


def _cell_text(cell: list[float | None]) -> str:
    lo, hi = cell
    if lo is None:
        return f"< {hi:g}"
    if hi is None:
        return f">= {lo:g}"
    return f"[{lo:g}, {hi:g})"


def text_lines(dist: dict[str, Any], drift: dict[str, Any] | None, estimated: dict[str, Any],
               digits: int) -> list[tuple[str, str]]:
    """(name, value) lines of the distribution, the estimated metrics and the drift."""
    total = dist["n_samples"]
    lines = [("n_samples", _count_text(total)), ("n_labelled", _count_text(dist["n_labelled"]))]
    for name, count in dist["predicted"].items():
        share = count / total if total else math.nan
        lines.append((f"predicted {name}", f"{_count_text(count)} ({share:.{digits}f})"))
    for column, cells in dist.get("score_quantiles", {}).items():
        text = ", ".join(f"{float(q) * 100:g}% {_cell_text(cell)}" for q, cell in cells.items())
        lines.append((f"score quantiles ({column})", f"{text} (histogram cells)"))
    for metric, e in estimated.items():
        value = e["value"]
        if metric == "roc_auc" or math.isnan(e["low"]):
            lines.append((f"estimated {metric}", f"{value:.{digits}f}"))
        else:
            lines.append((f"estimated {metric}", f"{value:.{digits}f} (95% interval [{e['low']:.{digits}f}, "
                                                 f"{e['high']:.{digits}f}])"))
    return lines + drift_lines(drift, digits)


def _count_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def drift_lines(drift: dict[str, Any] | None, digits: int) -> list[tuple[str, str]]:
    """(name, value) lines of drift_dict()'s results: the statistic (p-value), and the verdict."""
    lines = []
    for method, r in (drift or {}).items():
        if r is None:
            lines.append((f"drift {method}", "-"))
            continue
        test = method in TESTS
        value = f"{r['statistic']:.{digits}g}" + (f", p={r['p_value']:.{digits}g}" if test else "")
        rule = f"p < {r['threshold']:g}" if test else f">= {r['threshold']:g}"
        lines.append((f"drift {method}", f"{value} ({'DRIFTED' if r['drifted'] else 'ok'}: {rule})"))
    return lines
