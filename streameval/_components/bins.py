"""Score bins: per column, a (negatives, positives) histogram of the scores, per-bin score sums and
the scores that fell outside the edges. Curves, AUC and calibration in constant memory.

The declaration is written once here, for Binary (one column), Multiclass (one column per class,
and the top-label confidence) and Multilabel (one column per label).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import _inputs, _scores, curves
from .._state import StateArray, counts
from .._stateful import StateArrayAttribute
from .._scores import Binning

if TYPE_CHECKING:
    from .._storage import Storage

HISTOGRAM = ("_hist", "_score_sums", "_out_of_range")  # the names of the bins of the scores themselves


class ScoreBins:
    """The bins configuration (``bins=``, ``score_range=``), its edges, and its counting."""

    def __init__(self, bins: Any, score_range: tuple[float, float], names: Sequence[str] = HISTOGRAM):
        self.bins: int | list[float] = int(bins) if isinstance(bins, (int, np.integer)) else [float(b) for b in bins]
        self.score_range = score_range
        self.names = tuple(names)
        self.edges, self.uniform = _scores.make_edges(bins, score_range)
        self._binnings: dict[str, Binning] = {}  # score dtype -> the kernels' edges for it

    @staticmethod
    def declare(columns: int, bins: Any, score_range: Any, count: np.dtype,
                names: Sequence[str] = HISTOGRAM) -> dict[str, StateArray]:
        """The arrays of ``columns`` histograms: (columns, 2, cells) counts, (columns, cells)
        score sums (which may be negative: logits) and, with a third name, the (below, above)
        out-of-range counts. Checked without building the edges."""
        n_cells = _scores.n_cells(bins, score_range)
        spec = {names[0]: counts((columns, 2, n_cells), count),
                names[1]: counts((columns, n_cells), np.float64, signed=True)}
        if len(names) > 2:
            spec[names[2]] = counts((2,), count)
        return spec

    def renamed(self, names: Sequence[str]) -> ScoreBins:
        """The same bins, counting into other arrays (Multiclass's top-label confidence)."""
        twin = copy.copy(self)
        twin.names = tuple(names)
        return twin

    def config(self) -> dict[str, Any]:
        return {"bins": self.bins, "score_range": list(self.score_range)}

    def binning(self, kind: str) -> Binning:
        """How the kernels bin scores of dtype kind (see _scores.edges_for)."""
        binning = self._binnings.get(kind)
        if binning is None:
            binning = self._binnings[kind] = _scores.edges_for(self.edges, self.uniform, kind)
        return binning

    def masses(self, columns: int, mass: float, largest: float) -> list[tuple[str, float]]:
        """What a batch of total weight mass adds to each array, scores at most largest in absolute value."""
        out = [(self.names[0], columns * mass), (self.names[1], columns * mass * largest)]
        return out + [(self.names[2], columns * mass)] if len(self.names) > 2 else out

    def count(self, storage: Storage, scores: Any, truth: Any, weight: Any, kind: str, inclusive: bool) -> None:
        """Add (N, C) scores with (N, C) 0/1 truth to the histograms (checked batch, room reserved)."""
        storage.histogram(self.names, scores, truth, weight, self.binning(kind), inclusive)

    def cells(self, histogram: np.ndarray) -> curves.Cells:
        """One column's (2, cells) histogram as curve cells at the edges."""
        return curves.binned_cells(histogram, self.edges)


def largest_score(scores: np.ndarray, bounds: tuple[float, float]) -> float:
    """A bound on |score|: 1 for probabilities; else the largest finite one (the kernels name the others)."""
    if bounds == _inputs.PROBABILITY or scores.size == 0:
        return 1.0
    return float(np.max(np.abs(scores), where=np.isfinite(scores), initial=0.0))


class BinsMethods:
    """What every accumulator with bins answers: the bins, and the scores outside them."""

    _bins: ScoreBins | None
    _storage: Storage
    _hist = StateArrayAttribute()
    _score_sums = StateArrayAttribute()
    _out_of_range = StateArrayAttribute()

    @property
    def bins(self) -> int | list[float] | None:
        """The bins configuration: a number of uniform bins on score_range, the edges, or None."""
        return None if self._bins is None else self._bins.bins

    def _need_bins(self, what: str) -> ScoreBins:
        if self._bins is None:
            raise ValueError(f"{what} needs score histograms: create the accumulator with bins=...")
        return self._bins

    @property
    def out_of_range(self) -> tuple[Any, ...]:
        """(below, above): how many scores fell outside the bins' range (counted in the edge bins)."""
        bins = self._need_bins("out_of_range")
        return tuple(v.item() for v in self._storage.host(bins.names[2]))


class OneVsRestCurves(BinsMethods):
    """Score metrics of Multiclass (classes) and Multilabel (labels) with bins=: one (negatives,
    positives) histogram per column, each read as a binary problem against the rest."""

    _OVR_AVERAGES: ClassVar[tuple[str | None, ...]]

    def _histograms(self, what: str) -> tuple[np.ndarray, np.ndarray]:
        bins = self._need_bins(what)
        return self._storage.host(bins.names[0]), bins.edges

    def roc_auc(self, average: str | None = "macro") -> Any:
        """ROC AUC of each column (None) averaged "macro", "weighted" (by positives), or "micro"
        (Multilabel: columns pooled), as sklearn.metrics.roc_auc_score (multi_class="ovr" for
        Multiclass). Pairs inside a bin count as ties: the middle of roc_auc_bounds."""
        return curves.per_column(curves.roc_auc, *self._histograms("roc_auc"), average, self._OVR_AVERAGES)

    def roc_auc_bounds(self, average: str | None = None) -> Any:
        """Guaranteed (lower, upper) brackets of the exact ROC AUC: per column as two arrays, or
        "micro" (Multilabel) as two floats."""
        hist, edges = self._histograms("roc_auc_bounds")
        if average == "micro" and "micro" in self._OVR_AVERAGES:
            return curves.per_column(curves.auc_bounds, hist, edges, "micro")
        bounds = curves.per_column(curves.auc_bounds, hist, edges, average, (None,))
        return bounds[:, 0], bounds[:, 1]

    def average_precision(self, average: str | None = "macro") -> Any:
        """Average precision of each column, averaged as roc_auc (sklearn.metrics.average_precision_score)."""
        return curves.per_column(curves.average_precision, *self._histograms("average_precision"), average,
                                 self._OVR_AVERAGES)

    def _column_cells(self, index: int, what: str) -> curves.Cells:
        hist, edges = self._histograms(what)
        n = hist.shape[0]
        if not (isinstance(index, (int, np.integer)) and -n <= index < n):
            raise ValueError(f"index={index!r} is not valid: expected a class or label position in [0, {n})")
        return curves.binned_cells(hist[index], edges)

    def roc_curve(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fpr, tpr, thresholds) of one class or label against the rest, at the bin edges (exact there)."""
        return curves.roc_curve(self._column_cells(index, "roc_curve"))

    def pr_curve(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(precision, recall, thresholds) of one class or label against the rest, at the bin edges."""
        return curves.pr_curve(self._column_cells(index, "pr_curve"))
