"""Unlabelled predictions (``unlabelled=True``): the prediction side of the samples that came
without a label, ``update(None, y_pred)``. The labelled samples are in the confusion matrices and
histograms already; these arrays count the others, so that a stream may mix both:

- ``_unl_pred``: predicted-class counts, (K,) (Binary: K = 2 at the threshold; Multilabel:
  (L, 2) per label);
- with probabilities (the configuration reads scores as probabilities, or from_logits=True):
  ``_unl_prob`` (K, K) float64, row k = predicted class, column j = class: the sum over the
  unlabelled samples predicted k of p_j; ``_unl_var`` (K, K) likewise of p_j (1 - p_j)
  (Binary: p = [1 - s, s]; Multilabel: (L, 2, 2) per label). These are the exact sums of
  confidence-based performance estimation: the expected confusion matrix is ``_unl_prob.T``;
- with bins: ``_unl_hist`` (C, cells) and ``_unl_sums`` (C, cells), the unlabelled scores'
  histogram and per-bin score sums on the same edges as ``_hist`` (counted by the same kernel:
  a score lands in the cell a labelled one would).

The accumulators turn a batch's y_pred into predicted classes (``(N, L)`` int64), probability
rows (``(N, L, K)`` float64) and bin scores (``(N, C)``) by their own rules; this module counts
them and answers ``n_samples``, ``n_labelled``, ``_prediction_side()`` and ``_unlabelled()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import _inputs, _scores
from .._state import StateArray, counts
from .._stateful import StateArrayAttribute

if TYPE_CHECKING:
    from .._storage import Storage
    from .bins import ScoreBins

PRED, PROB, VAR, HIST, SUMS = NAMES = ("_unl_pred", "_unl_prob", "_unl_var", "_unl_hist", "_unl_sums")
NEEDS_OPTION = ("y_true=None (a batch without labels) needs an accumulator created with unlabelled=True, "
                "which counts the prediction side of unlabelled samples")


class PredictionSide(NamedTuple):
    """The prediction distribution of all samples, labelled and unlabelled.

    counts: predicted-class counts (K,) (Multilabel: (L, 2)); hist: (C, cells) score histogram
    (labelled and unlabelled together) or None without bins; edges: the bins' edges or None; n:
    the number (or weight) of samples."""

    counts: np.ndarray
    hist: np.ndarray | None
    edges: np.ndarray | None
    n: Any


class UnlabelledSums(NamedTuple):
    """The unlabelled samples' exact CBPE sums: counts (K,) predicted-class counts, prob (K, K)
    sum over samples predicted k (row) of p_j (column), var (K, K) of p_j (1 - p_j), n the number
    (or weight) of unlabelled samples (Multilabel: (L, 2), (L, 2, 2), (L, 2, 2))."""

    counts: np.ndarray
    prob: np.ndarray
    var: np.ndarray
    n: Any


def declare(shape: tuple[int, ...], count: np.dtype, probabilities: bool, bins: Any = None, score_range: Any = None,
            columns: int = 1, class_axes: tuple[int, ...] = ()) -> dict[str, StateArray]:
    """The arrays of unlabelled=True: shape is (K,) or (L, 2) of the predicted-class counts;
    probabilities: keep the probability sums; bins: the histograms of ``columns`` columns."""
    k = shape[-1]
    spec = {PRED: counts(shape, count, class_axes=class_axes)}
    if probabilities:
        spec[PROB] = counts((*shape, k), np.float64)
        spec[VAR] = counts((*shape, k), np.float64)
    if bins is not None:
        n_cells = _scores.n_cells(bins, score_range)
        spec[HIST] = counts((columns, n_cells), count)
        spec[SUMS] = counts((columns, n_cells), np.float64, signed=True)
    return spec


def check_option(unlabelled: Any) -> None:
    _inputs.check_flags(unlabelled=unlabelled)


def first_bad_score(scores: np.ndarray, bounds: tuple[float, float]) -> int:
    """The first sample (row) holding a score that is not finite or outside bounds, or -1."""
    lo, hi = bounds
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(scores) & (scores >= lo) & (scores <= hi)
    if ok.ndim > 1:
        ok = ok.reshape(ok.shape[0], -1).all(axis=1)
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else -1


def first_bad_weight(w: np.ndarray | None) -> int:
    if w is None:
        return -1
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    return int(bad[0]) if bad.size else -1


def first_bad_class(classes: np.ndarray, n: int) -> int:
    """The first sample (row) holding a value that is not an integer class in [0, n), or -1."""
    ok = np.asarray(_inputs.is_class_array(n)(classes))
    if ok.ndim > 1:
        ok = np.asarray(ok.reshape(ok.shape[0], -1).all(axis=1))
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else -1


def raise_first(checks: list[tuple[int, tuple[str, np.ndarray, str, Any]]]) -> None:
    """Raise diagnose()'s error for the earliest bad sample among checks ((first bad, check))."""
    found = [(bad, check) for bad, check in checks if bad >= 0]
    if found:
        i = min(bad for bad, _ in found)
        raise _inputs.diagnose(i, [check for _, check in checks])


def probability_rows(p: np.ndarray) -> np.ndarray:
    """(N, L) probabilities of the positive side as (N, L, 2) rows [1 - p, p], float64."""
    p = p.astype(np.float64, copy=False)
    return np.stack([1.0 - p, p], axis=-1)


class PredictionCounts:
    """Counting the unlabelled side of a checked batch (the accumulator checked its values)."""

    def __init__(self, spec: Any, bins: ScoreBins | None):
        self.probabilities = PROB in spec
        self.bins = bins if HIST in spec else None

    def masses(self, mass: float, labels: int, columns: int, largest: float) -> list[tuple[str, float]]:
        """What a batch of total weight mass adds, at most: labels (L) counts and probability rows
        (each summing to 1) a sample, columns histogram cells of |score| <= largest."""
        out = [(PRED, labels * mass)]
        if self.probabilities:
            out += [(PROB, labels * mass), (VAR, labels * mass)]
        if self.bins is not None:
            out += [(HIST, columns * mass), (SUMS, columns * mass * largest)]
        return out

    def count(self, storage: Storage, pred: np.ndarray, probs: np.ndarray | None, scores: np.ndarray | None,
              weight: np.ndarray | None, kind: str | None, inclusive: bool) -> None:
        """pred (N, L) class indices; probs (N, L, K) rows or None; scores (N, C) for the bins."""
        names = (PRED, PROB, VAR) if self.probabilities and probs is not None else (PRED,)
        storage.count_predictions(names, pred, probs, weight)
        if self.bins is not None and scores is not None:
            assert kind is not None
            storage.histogram_unlabelled((HIST, SUMS), scores, weight, self.bins.binning(kind), inclusive)


class PredictionMethods:
    """n_samples (all samples), n_labelled, _prediction_side() and _unlabelled() of an
    accumulator (a mixin; the accumulator says how to read its labelled side)."""

    _storage: Storage
    _bins: ScoreBins | None
    unlabelled: bool = False
    _unl_pred = StateArrayAttribute()
    _unl_prob = StateArrayAttribute()
    _unl_var = StateArrayAttribute()
    _unl_hist = StateArrayAttribute()
    _unl_sums = StateArrayAttribute()

    # The accumulator's labelled side: n_labelled (every label-based metric reads the labelled
    # samples only) and _labelled_predictions(), their predicted-class counts (K,) or (L, 2).
    n_labelled: Any
    _labelled_predictions: Callable[[], np.ndarray]

    def _n_unlabelled(self) -> Any:
        if not self.unlabelled:
            return 0
        pred = self._storage.host(PRED)
        return (pred[0] if pred.ndim > 1 else pred).sum().item()

    @property
    def n_samples(self) -> int | float:
        """Number of samples counted so far (total weight when weighted): the labelled ones and,
        with unlabelled=True, the unlabelled ones (see n_labelled)."""
        return self.n_labelled + self._n_unlabelled()  # type: ignore[no-any-return]

    def _labelled_histogram(self) -> np.ndarray | None:
        """The labelled scores' histogram (C, cells), truth summed over, or None without bins."""
        if self._bins is None or "_hist" not in self._storage.spec:
            return None
        return self._storage.host("_hist").sum(axis=1)  # type: ignore[no-any-return]

    def _prediction_side(self) -> PredictionSide:
        """The prediction distribution of every sample, labelled and unlabelled (for drift)."""
        pred = self._labelled_predictions()
        hist = self._labelled_histogram()
        if self.unlabelled:
            pred = pred + self._storage.host(PRED)
            if hist is not None and HIST in self._storage.spec:
                hist = hist + self._storage.host(HIST)
        edges = None if hist is None or self._bins is None else self._bins.edges
        n = (pred[0] if pred.ndim > 1 else pred).sum().item()
        return PredictionSide(pred, hist, edges, n)

    def _unlabelled(self) -> UnlabelledSums | None:
        """The unlabelled samples' CBPE sums, or None: without unlabelled=True, without
        probabilities (labels as predictions, scores that are not probabilities), or before any
        unlabelled probabilities were counted."""
        if not self.unlabelled or PROB not in self._storage.spec:
            return None
        prob = self._storage.host(PROB)
        if not prob.any():
            return None
        return UnlabelledSums(self._storage.host(PRED), prob, self._storage.host(VAR), self._n_unlabelled())


# --- each accumulator's rules for an unlabelled y_pred (the labelled path's, without y_true) ------


def _weight_check(w: np.ndarray | None) -> list[tuple[int, tuple[str, np.ndarray, str, Any]]]:
    return [] if w is None else [(first_bad_weight(w), ("sample_weight", w, "weight", 0))]


def _threshold(acc: Any, kind: str) -> float:
    threshold: float | None = acc._thresholds.get(kind)
    if threshold is None:
        threshold = acc._thresholds[kind] = float(_scores.round_to(acc.threshold, kind))
    return threshold


def _at_threshold(acc: Any, scores: np.ndarray, kind: str) -> np.ndarray:
    """0/1 predictions of scores at the threshold, compared as the labelled kernels compare them
    (float64 values of the scores against the threshold rounded to their dtype)."""
    threshold = _threshold(acc, kind)
    s = scores.astype(np.float64, copy=False)
    return (s >= threshold if acc.inclusive else s > threshold).astype(np.int64)


def count_binary(acc: Any, batch: Any) -> None:
    """Binary(unlabelled=True): an unlabelled batch of (N,) labels or scores."""
    from .bins import largest_score

    yp, w, n = batch.y_pred, batch.weight, batch.n
    is_scores = yp.dtype.kind == "f"
    if acc._scored and not is_scores:
        raise TypeError(f"y_pred has dtype {yp.dtype}, but a Binary with bins or exact=True needs float scores")
    if is_scores and not (acc._labels_are_01 or acc._scored or acc.from_logits or isinstance(acc.pos_label, str)):
        with np.errstate(invalid="ignore"):
            is_scores = not (yp % 1 == 0).all()  # all integers: labels, as scikit-learn reads them
    if n == 0:
        return
    probs = bin_scores = None
    kind, largest = batch.kind or "float64", 1.0
    if is_scores:
        scores, kind, bounds = _checked_scores(acc, yp, w, kind, acc._hint())
        pred = _at_threshold(acc, scores, kind)
        if acc._predictions.probabilities:
            probs = probability_rows(scores[:, None])
        bin_scores, largest = scores[:, None], largest_score(scores, bounds)
    elif acc._labels_are_01:
        _inputs.require_numeric(yp, "y_pred", f"Binary(pos_label={acc.pos_label!r}) expects 0/1 labels; pass pos_label=")
        raise_first([(first_bad_class(yp, 2), ("y_pred", yp, "class", 2)), *_weight_check(w)])
        pred = yp.astype(np.int64)
    else:
        (positive,) = acc._binarize(("y_pred", yp))
        raise_first(_weight_check(w))
        pred = np.asarray(positive, dtype=np.int64)
    counter: PredictionCounts = acc._predictions
    acc._reserve_all(counter.masses(_inputs.batch_mass(w, n), 1, 1, largest))
    counter.count(acc._storage, pred[:, None], probs, bin_scores, w, kind, acc.inclusive)


def _checked_scores(acc: Any, yp: np.ndarray, w: Any, kind: str, hint: str) -> tuple[np.ndarray, str, Any]:
    """(scores, their kind, their bounds) of a Binary's or Multilabel's unlabelled float scores:
    probabilities from logits (checked finite), else the scores checked within the accumulator's
    bounds; the weights checked too (the first bad value raises)."""
    from .._batch import check_logits, sigmoid

    if acc.from_logits:
        check_logits(yp)
        raise_first(_weight_check(w))
        return sigmoid(yp), "float64", _inputs.PROBABILITY
    bounds = acc._bounds
    raise_first([(first_bad_score(yp, bounds), _inputs.score_check("y_pred", yp, bounds, hint)), *_weight_check(w)])
    return yp, kind, bounds


def count_multiclass(acc: Any, batch: Any) -> None:
    """Multiclass(unlabelled=True): an unlabelled batch of (N,) labels or (N, K) scores."""
    w, n, k = batch.weight, batch.n, acc.num_classes
    yp = acc._checked_predictions(batch.y_pred)
    is_scores = yp.ndim == 2
    if n == 0:
        return
    counter: PredictionCounts = acc._predictions
    probs = bin_scores = None
    kind, largest = batch.kind, 1.0
    if not is_scores:
        if acc._auto:
            return _count_auto(acc, yp, w)
        if acc._index.is_range:
            _inputs.require_numeric(yp, "y_pred", "this accumulator's labels are integers")
            raise_first([(first_bad_class(yp, k), ("y_pred", yp, "class", k)), *_weight_check(w)])
            pred = yp.astype(np.int64)
        else:
            pred = acc._index.encode(yp, "y_pred", None)
            raise_first(_weight_check(w))
    else:
        bounds = _inputs.PROBABILITY if counter.probabilities and not acc.from_logits else acc._bounds
        pred, bad = acc._storage.argmax_rows(yp, None, *bounds)
        hint = _inputs.probability_hint(acc._describe(), threshold=False)
        if bad >= 0 and acc.from_logits:
            from .._batch import check_logits

            check_logits(yp)
        raise_first([(bad, _inputs.score_check("y_pred", yp, bounds, hint)), *_weight_check(w)])
        p = None
        if counter.probabilities or acc._bins is not None:
            p = acc._storage.softmax_rows(yp) if acc.from_logits else yp
            kind = "float64" if acc.from_logits else kind
        if counter.probabilities:
            probs = np.asarray(p, dtype=np.float64)[:, None, :]
        if acc._bins is not None:
            from .bins import largest_score

            bin_scores = p
            largest = 1.0 if acc.from_logits else largest_score(yp, acc._bounds)
    acc._reserve_all(counter.masses(_inputs.batch_mass(w, n), 1, k, largest))
    counter.count(acc._storage, np.asarray(pred, dtype=np.int64)[:, None], probs, bin_scores, w, kind, True)
    return None


def _count_auto(acc: Any, yp: np.ndarray, w: np.ndarray | None) -> None:
    """labels="auto": the batch's new predicted labels join the classes, then they are counted;
    a failure puts the previous labels and counts back."""
    labels, at = _inputs.distinct_labels(yp, "y_pred", None)
    new = [label for label in dict.fromkeys(labels) if label not in acc._position]
    if len(acc.labels) + len(new) > acc.max_labels:
        raise ValueError(f'y_pred brings {len(new)} new labels to the {len(acc.labels)} this Multiclass(labels="auto") '
                         f"has found, more than max_labels={acc.max_labels}: nothing was counted")
    raise_first(_weight_check(w))
    before = (acc.labels, acc._storage)
    if new:
        acc._grow(_inputs.ordered_union(acc.labels, new))
    try:
        pred = np.array([acc._position[label] for label in labels] + [-1], dtype=np.int64)[at]
        counter: PredictionCounts = acc._predictions
        acc._reserve_all(counter.masses(_inputs.batch_mass(w, yp.shape[0]), 1, 1, 1.0))
        counter.count(acc._storage, pred[:, None], None, None, w, None, True)
    except BaseException:
        acc._relabel(*before)
        raise


def count_multilabel(acc: Any, batch: Any) -> None:
    """Multilabel(unlabelled=True): an unlabelled batch of (N, L) indicators or scores."""
    from .bins import largest_score

    yp, w, n, kind = batch.y_pred, batch.weight, batch.n, batch.kind or "float64"
    is_scores = yp.dtype.kind == "f"
    if acc._bins is not None and not is_scores:
        raise TypeError(f"y_pred has dtype {yp.dtype}, but a Multilabel with bins needs float scores")
    if n == 0:
        return
    counter: PredictionCounts = acc._predictions
    probs = bin_scores = None
    largest = 1.0
    if is_scores:
        scores, kind, bounds = _checked_scores(acc, yp, w, kind,
                                               _inputs.probability_hint(acc._describe(), threshold=True))
        pred = _at_threshold(acc, scores, kind)
        if counter.probabilities:
            probs = probability_rows(scores)
        bin_scores, largest = scores, largest_score(scores, bounds)
    else:
        raise_first([(first_bad_class(yp, 2), ("y_pred", yp, "class", 2)), *_weight_check(w)])
        pred = yp.astype(np.int64)
    labels = acc.num_labels
    acc._reserve_all(counter.masses(_inputs.batch_mass(w, n), labels, labels, largest))
    counter.count(acc._storage, pred, probs, bin_scores, w, kind, acc.inclusive)
