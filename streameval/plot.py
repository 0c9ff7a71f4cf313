"""Plots of accumulators and windows (optional: the "plot" extra, matplotlib).

Every function draws into ``ax`` when given, or into a new ``matplotlib.figure.Figure`` (no
pyplot, no GUI backend: it works headless), and returns the Figure. ``save(fig, path)`` writes it.
``Accumulator.plot(kind, path=..., **options)`` calls these by name.

- ``confusion_matrix(acc, normalize=None)``: a heatmap of counts, or rates (normalize="true",
  "pred", "all"), as ``acc.confusion_matrix(normalize)``; a Multilabel needs ``index=`` (a label).
- ``roc_curve(acc)`` and ``pr_curve(acc)``: the curves of ``Binary(bins=...)`` or
  ``Binary(exact=True)``, or one per class or label (``index=`` picks one) of a Multiclass or
  Multilabel with bins. The accumulator's own operating point (its threshold, or the argmax for
  Multiclass) is marked; with bins the ROC legend brackets the AUC (``roc_auc_bounds``).
- ``reliability_diagram(acc, n_bins=10)``: ``calibration_curve(n_bins)`` against the diagonal.
- ``metrics_over_time(records, metrics=("accuracy",))``: the dicts ``Windowed.on_window`` hands
  its callbacks, one line per metric, x = ``window_end``.

matplotlib is imported only when a plot is drawn, so ``import streameval`` never needs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast, overload

import numpy as np

from .serialization import Kind

if TYPE_CHECKING:  # plot reads accumulators through their methods; at run time it imports none of them
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.lines import Line2D

    from .accumulator import Accumulator

# Where save() writes: what Figure.savefig takes (a path or a binary file); save returns it as given.
_Target = TypeVar("_Target", bound="str | os.PathLike[str] | IO[bytes]")

__all__ = [
    "KINDS",
    "confusion_matrix",
    "metrics_over_time",
    "plot",
    "pr_curve",
    "reliability_diagram",
    "roc_curve",
    "save",
]


def _axes(ax: Axes | None) -> tuple[Figure | SubFigure, Axes]:
    """(figure, axes): ax's own figure, or a new Figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - exercised only without matplotlib
        raise ImportError('streameval.plot needs matplotlib: pip install matplotlib, or the "plot" extra '
                          '(pip install -e ".[plot]" in a clone of streameval)') from error
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    return fig, fig.add_subplot()


def save(fig: Figure, path: _Target, **options: Any) -> _Target:
    """Write fig to path (the format from its extension, e.g. .png, .svg, .pdf); returns path."""
    fig.savefig(path, **options)
    return path


_KINDS: dict[object, str] = {Kind.BINARY: "binary", Kind.MULTICLASS: "multiclass", Kind.MULTILABEL: "multilabel"}


def _kind_of(acc: Accumulator) -> str:
    """ "binary", "multiclass" or "multilabel", by the kind the accumulator's class declares: this
    module reads accumulators through their methods and imports none of them."""
    kind = _KINDS.get(getattr(type(acc), "_KIND", None))
    if kind is None:
        raise TypeError(f"acc={acc!r} is not valid: expected a Binary, Multiclass or Multilabel accumulator")
    return kind


def _check_index(index: object, n: int, what: str) -> None:
    if not (isinstance(index, (int, np.integer)) and not isinstance(index, bool) and -n <= index < n):
        raise ValueError(f"index={index!r} is not valid for {what}: expected a class or label position in [0, {n})")


def _rate(num: Any, den: Any) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(all="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


# --- confusion matrix ----------------------------------------------------------------------------


@overload
def confusion_matrix(acc: Accumulator, *, normalize: str | None = None, index: int | np.integer[Any] | None = None,
                     ax: None = None, cmap: str | Colormap = "Blues", annotate: bool | None = None) -> Figure: ...
@overload
def confusion_matrix(acc: Accumulator, *, normalize: str | None = None, index: int | np.integer[Any] | None = None,
                     ax: Axes, cmap: str | Colormap = "Blues", annotate: bool | None = None) -> Figure | SubFigure: ...
def confusion_matrix(acc: Accumulator, *, normalize: str | None = None, index: int | np.integer[Any] | None = None,
                     ax: Axes | None = None, cmap: str | Colormap = "Blues",
                     annotate: bool | None = None) -> Figure | SubFigure:
    """A heatmap of acc.confusion_matrix(normalize): rows = true class, columns = predicted.

    normalize: None (counts), "true", "pred" or "all". A Multilabel keeps one 2x2 matrix per
    label: ``index`` picks it. Cells are annotated with their values when there are at most 30
    classes (``annotate=True``/``False`` forces it). Returns the Figure.
    """
    kinded: Any = acc  # a Binary, Multiclass or Multilabel (_kind_of says which): their methods differ
    kind = _kind_of(acc)
    cm: np.ndarray = kinded.confusion_matrix(normalize)
    names = kinded._target_names()
    title = "Confusion matrix"
    if kind == "multilabel":
        if index is None:
            raise ValueError(
                "index=None is not valid for the confusion matrix of a Multilabel: give index= (a label position)"
            )
        _check_index(index, cm.shape[0], "the confusion matrix")
        title, cm, names = f"Confusion matrix of label {names[index]}", cm[index], ["0", "1"]
    elif index is not None:
        raise ValueError(f"index={index!r} is not valid: only a Multilabel's confusion matrix takes index=")
    if cm.size == 0:
        raise ValueError("the confusion matrix is empty: this accumulator has no classes yet")
    if normalize is not None:
        title += f" (normalize={normalize!r})"
    fig, ax = _axes(ax)
    image = ax.imshow(cm, cmap=cmap, interpolation="nearest", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax)
    k = cm.shape[0]
    if annotate if annotate is not None else k <= 30:
        integral = normalize is None and np.all(np.mod(cm, 1) == 0)
        for (i, j), value in np.ndenumerate(cm):
            text = f"{int(value)}" if integral else f"{value:.2f}" if normalize else f"{value:.4g}"
            shade: Any = image.norm(value)  # a scalar in, a scalar out (the stubs say ArrayLike)
            ax.text(j, i, text, ha="center", va="center", color="white" if shade > 0.5 else "black")
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title)
    return fig


# --- ROC and PR curves ---------------------------------------------------------------------------


def _curve_columns(acc: Any, index: int | np.integer[Any] | None,
                   what: str) -> tuple[str, list[tuple[int | None, str]], tuple[np.ndarray, ...]]:
    """(kind, the columns to draw as (position or None, name), operating (tp, fp, fn, tn) arrays)."""
    kind = _kind_of(acc)
    if kind == "binary":
        if not acc._scored:
            raise ValueError(f"{what} needs score state: create the Binary with bins=... or exact=True")
        if index is not None:
            raise ValueError(
                f"index={index!r} is not valid: a Binary has one curve, index= is for Multiclass and Multilabel"
            )
        (tn, fp), (fn, tp) = acc.confusion_matrix()
        return kind, [(None, "")], tuple(np.array([v]) for v in (tp, fp, fn, tn))
    if acc.bins is None:
        raise ValueError(f"{what} needs score histograms: create the {type(acc).__name__} with bins=...")
    names = acc._target_names()
    n = len(names)
    if index is None:
        columns: list[tuple[int | None, str]] = list(enumerate(names))
    else:
        _check_index(index, n, what)
        columns = [(int(index) % n, names[index])]
    s = acc.stat_scores(average=None)
    return kind, columns, (s.tp, s.fp, s.fn, s.tn)


def _operating_label(acc: Any, kind: str) -> str:
    if kind == "multiclass":
        return "operating point (argmax)"
    return f"threshold {acc.threshold:g}"


@overload
def roc_curve(acc: Accumulator, *, index: int | np.integer[Any] | None = None, ax: None = None) -> Figure: ...
@overload
def roc_curve(acc: Accumulator, *, index: int | np.integer[Any] | None = None, ax: Axes) -> Figure | SubFigure: ...
def roc_curve(acc: Accumulator, *, index: int | np.integer[Any] | None = None,
           ax: Axes | None = None) -> Figure | SubFigure:
    """The ROC curve (fpr, tpr) with the accumulator's operating point marked.

    Binary needs bins= or exact=True; Multiclass and Multilabel need bins= and draw one curve per
    class or label (``index`` picks one), each against the rest. The legend gives the AUC, and
    its guaranteed [lower, upper] bracket (``roc_auc_bounds``) when the scores are binned.
    Returns the Figure.
    """
    kinded: Any = acc  # a Binary, Multiclass or Multilabel (_kind_of says which): their methods differ
    kind, columns, (tp, fp, fn, tn) = _curve_columns(acc, index, "roc_curve")
    fig, ax = _axes(ax)
    if kind == "binary":
        auc, (low, high) = kinded.roc_auc(), kinded.roc_auc_bounds()
        aucs, lows, highs, exact = [auc], [low], [high], kinded.is_exact
    else:
        aucs, (lows, highs), exact = kinded.roc_auc(average=None), kinded.roc_auc_bounds(), False
    fpr_at, tpr_at = _rate(fp, fp + tn), _rate(tp, tp + fn)
    for number, (position, name) in enumerate(columns):
        fpr, tpr, _ = kinded.roc_curve() if position is None else kinded.roc_curve(position)
        at = 0 if position is None else position
        label = f"AUC = {aucs[at]:.3f}" if exact else f"AUC = {aucs[at]:.3f} [{lows[at]:.3f}, {highs[at]:.3f}]"
        line = ax.plot(fpr, tpr, label=f"{name}: {label}" if name else label)[0]
        _mark_operating_point(ax, line, fpr_at[at], tpr_at[at], _operating_label(kinded, kind) if number == 0 else None)
    ax.plot([0, 1], [0, 1], ":", color="gray", linewidth=1)
    ax.set(
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        xlabel="False positive rate",
        ylabel="True positive rate",
        title="ROC curve",
    )
    ax.legend(loc="lower right")
    return fig


@overload
def pr_curve(acc: Accumulator, *, index: int | np.integer[Any] | None = None, ax: None = None) -> Figure: ...
@overload
def pr_curve(acc: Accumulator, *, index: int | np.integer[Any] | None = None, ax: Axes) -> Figure | SubFigure: ...
def pr_curve(acc: Accumulator, *, index: int | np.integer[Any] | None = None,
           ax: Axes | None = None) -> Figure | SubFigure:
    """The precision-recall curve (x = recall, y = precision, steps) with the operating point marked.

    Needs score state as roc_curve; the legend gives the average precision. Returns the Figure.
    """
    kinded: Any = acc  # a Binary, Multiclass or Multilabel (_kind_of says which): their methods differ
    kind, columns, (tp, fp, fn, _) = _curve_columns(acc, index, "pr_curve")
    fig, ax = _axes(ax)
    aps = [kinded.average_precision()] if kind == "binary" else kinded.average_precision(average=None)
    precision_at, recall_at = _rate(tp, tp + fp), _rate(tp, tp + fn)
    for number, (position, name) in enumerate(columns):
        precision, recall, _ = kinded.pr_curve() if position is None else kinded.pr_curve(position)
        at = 0 if position is None else position
        label = f"AP = {aps[at]:.3f}"
        line = ax.plot(recall, precision, drawstyle="steps-post", label=f"{name}: {label}" if name else label)[0]
        operating = _operating_label(kinded, kind) if number == 0 else None
        _mark_operating_point(ax, line, recall_at[at], precision_at[at], operating)
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="Recall", ylabel="Precision", title="Precision-recall curve")
    ax.legend(loc="lower left")
    return fig


def _mark_operating_point(ax: Axes, line: Line2D, x: float, y: float, label: str | None) -> None:
    """A dot in the curve's colour where the accumulator's own predictions sit on it."""
    ax.plot(x, y, "o", color=line.get_color(), markeredgecolor="black", label=label)


# --- calibration -------------------------------------------------------------------------------


@overload
def reliability_diagram(acc: Accumulator, *, n_bins: int = 10, ax: None = None) -> Figure: ...
@overload
def reliability_diagram(acc: Accumulator, *, n_bins: int = 10, ax: Axes) -> Figure | SubFigure: ...
def reliability_diagram(acc: Accumulator, *, n_bins: int = 10, ax: Axes | None = None) -> Figure | SubFigure:
    """Fraction of positives against mean probability per bin (acc.calibration_curve(n_bins)),
    with the diagonal of perfect calibration; the legend gives the expected calibration error.

    Binary needs bins= or exact=True; Multiclass (top-label confidence) needs bins=, and with
    bins n_bins must divide them. Returns the Figure.
    """
    kinded: Any = acc  # a Binary, Multiclass or Multilabel (_kind_of says which): their methods differ
    kind = _kind_of(acc)
    if kind == "multilabel":
        raise ValueError(
            "reliability_diagram needs calibration_curve, which a Multilabel does not keep: use a Binary or Multiclass"
        )
    if kind == "binary" and not kinded._scored:
        raise ValueError("reliability_diagram needs score state: create the Binary with bins=... or exact=True")
    if kind == "multiclass" and kinded.bins is None:
        raise ValueError("reliability_diagram needs score histograms: create the Multiclass with bins=...")
    prob_true, prob_pred = kinded.calibration_curve(n_bins)
    ece = kinded.expected_calibration_error(n_bins)
    fig, ax = _axes(ax)
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfectly calibrated")
    ax.plot(prob_pred, prob_true, "s-", label=f"{type(acc).__name__} (ECE = {ece:.3f})")
    what = "Accuracy" if kind == "multiclass" else "Fraction of positives"
    ax.set(
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        xlabel="Mean predicted probability",
        ylabel=what,
        title=f"Reliability diagram ({n_bins} bins)",
    )
    ax.legend(loc="upper left")
    return fig


# --- windows over time ---------------------------------------------------------------------------


@overload
def metrics_over_time(records: Iterable[dict[str, Any]], metrics: str | Iterable[str] = ("accuracy",), *,
                      ax: None = None) -> Figure: ...
@overload
def metrics_over_time(records: Iterable[dict[str, Any]], metrics: str | Iterable[str] = ("accuracy",), *,
                      ax: Axes) -> Figure | SubFigure: ...
def metrics_over_time(records: Iterable[dict[str, Any]], metrics: str | Iterable[str] = ("accuracy",), *,
                      ax: Axes | None = None) -> Figure | SubFigure:
    """One line per metric name over the windows' ends: records are the dicts
    ``Windowed.on_window`` hands its callbacks (``compute()`` plus window_start, window_end).
    Returns the Figure.
    """
    records = list(records)
    if not records:
        raise ValueError("records=[] is not valid: expected at least one on_window dict")
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not metrics:
        raise ValueError("metrics=() is not valid: expected at least one metric name")
    for number, record in enumerate(records):
        if not isinstance(record, dict) or "window_end" not in record:
            raise ValueError(f"records[{number}] is not an on_window dict: it has no 'window_end'")
        missing = [m for m in metrics if m not in record]
        if missing:
            raise ValueError(f"metrics={missing!r} not found in records[{number}]: it has {sorted(record)}")
    fig, ax = _axes(ax)
    ends = np.array([record["window_end"] for record in records], dtype=float)
    for name in metrics:
        ax.plot(ends, [record[name] for record in records], "o-", label=name)
    ax.set(xlabel="window end", ylabel="value", title="Metrics over time")
    ax.legend()
    return fig


# --- by name -------------------------------------------------------------------------------------

KINDS: dict[str, Callable[..., Figure | SubFigure]] = {
    "confusion_matrix": confusion_matrix,
    "roc_curve": roc_curve,
    "roc": roc_curve,
    "pr_curve": pr_curve,
    "pr": pr_curve,
    "reliability_diagram": reliability_diagram,
    "reliability": reliability_diagram,
    "calibration": reliability_diagram,
}


def plot(acc: Accumulator, kind: str = "confusion_matrix", *, path: str | os.PathLike[str] | IO[bytes] | None = None,
         **options: Any) -> Figure | SubFigure:
    """Draw one of KINDS of acc (options go to its function); save it to path when given.
    Returns the Figure."""
    draw = KINDS.get(kind) if isinstance(kind, str) else None
    if draw is None:
        raise ValueError(f"kind={kind!r} is not valid: expected one of {sorted(KINDS)}")
    fig = draw(acc, **options)
    if path is not None:
        save(cast("Figure", fig), path)  # only a Figure saves (an ax= of a SubFigure fails there, as it always did)
    return fig
