"""Binary: a streaming 2x2 confusion matrix for one positive class, plus optional score state."""

from __future__ import annotations

import warnings

import numpy as np

from . import _inputs, _kernels, _scores, _threads, curves
from .accumulator import _NO_WEIGHT, CalibrationMetrics, ConfusionAccumulator, _replicates_spec


class Binary(CalibrationMetrics, ConfusionAccumulator):
    """Streaming binary classification metrics.

    y_true holds labels; y_pred holds labels or scores:

    - labels: with the default pos_label=1 they must be 0 or 1 (bool, integer or integral float);
      with another pos_label a label is positive when it equals pos_label, negative otherwise;
    - scores: a float y_pred is a score (probability, logit...). It is positive when
      score >= threshold, or score > threshold with inclusive=False (Keras's rule).

    The state is the confusion matrix [[tn, fp], [fn, tp]] at ``threshold`` (int64, or float64
    when weighted). Metrics default to average="binary": the value for the positive class.

    Score state, for curves, AUC, threshold choice and calibration (y_pred must then be scores):

    - ``bins=n``: a histogram per class over n uniform bins of ``score_range`` (default (0, 1));
      ``bins=[t0, t1, ...]``: over explicit increasing thresholds. Counts are exact at every
      edge; scores outside the range fall in the edge bins and are counted (``out_of_range``).
    - ``exact=True``: a table of every distinct score. Curves and AUC then equal scikit-learn's.
      Past ``max_distinct`` distinct scores it compacts (with a warning) into groups of nearby
      scores and keeps going; ``is_exact`` turns False and ``roc_auc_bounds`` brackets the AUC.

    ``bootstrap=R`` keeps R Poisson-bootstrap replicates of the confusion matrix (not of the score
    state) for ``interval(metric, method="bootstrap")``; ``seed`` seeds their random generator
    (see ``streameval.intervals``: each worker needs its own seed). Not with weighted=True.

    >>> acc = Binary()
    >>> acc.update([1, 0, 1, 1], [0.9, 0.2, 0.4, 0.7])
    >>> acc.recall()
    0.6666666666666666
    >>> acc.confusion_matrix().tolist()
    [[1, 0], [1, 2]]
    """

    _KIND = 1
    _AVERAGES = ("binary", None, "micro", "macro", "weighted")
    _DEFAULT_AVERAGE = "binary"
    _COMPUTE_RATIOS = ("precision", "recall", "f1", "specificity", "npv", "fpr", "fnr", "jaccard")

    def __init__(
        self,
        threshold: float = 0.5,
        *,
        pos_label=1,
        inclusive: bool = True,
        weighted: bool = False,
        bins=None,
        score_range=(0.0, 1.0),
        exact: bool = False,
        max_distinct: int = 1_000_000,
        bootstrap: int | None = None,
        seed=None,
    ):
        pos_label = pos_label.item() if isinstance(pos_label, np.generic) else pos_label
        self._state_spec(threshold, pos_label, inclusive, weighted, bins, score_range, exact, max_distinct, bootstrap)
        self.threshold = float(threshold)
        self.pos_label = pos_label
        self.inclusive = bool(inclusive)
        self.weighted = bool(weighted)
        self.exact = bool(exact)
        self.max_distinct = int(max_distinct)
        self._set_bins(bins, score_range)
        self._set_bootstrap(bootstrap, seed)
        # With pos_label=1 labels are read as they are (0/1), which also catches multiclass labels.
        self._labels_are_01 = not isinstance(pos_label, str) and pos_label == 1
        self._fast = self._labels_are_01 and bins is None and not exact
        self.reset()

    def _config(self) -> dict:
        config = {"threshold": self.threshold, "pos_label": self.pos_label, "inclusive": self.inclusive, "weighted": self.weighted}
        config.update(self._bins_config())
        if self.exact:
            config.update(exact=True, max_distinct=self.max_distinct)
        config.update(self._bootstrap_config())
        return config

    @classmethod
    def _state_spec(cls, threshold=0.5, pos_label=1, inclusive=True, weighted=False, bins=None,
                    score_range=(0.0, 1.0), exact=False, max_distinct=1_000_000, bootstrap=None):
        _inputs.check_threshold(threshold)
        if not isinstance(pos_label, (int, float, str, np.number)) or isinstance(pos_label, float) and not np.isfinite(pos_label):
            raise TypeError(f"pos_label={pos_label!r} is not valid: expected an integer, a boolean or a string")
        _inputs.check_flags(inclusive=inclusive, weighted=weighted, exact=exact)
        count = np.dtype(np.float64 if weighted else np.int64)
        spec = {"_cm": ((2, 2), count)}
        if bins is not None and exact:
            raise ValueError("give bins= or exact=True, not both")
        if bins is not None:
            n_cells = _scores.n_cells(bins, score_range)
            spec.update(
                _hist=((1, 2, n_cells), count),
                _score_sums=((1, n_cells), np.dtype(np.float64)),
                _out_of_range=((2,), count),
            )
        if exact:
            _inputs.check_count("max_distinct", max_distinct)
            spec.update(
                _table_scores=((-1,), np.dtype(np.float64)),
                _table_counts=((2, -1), count),
                _table_shift=((1,), np.dtype(np.int64)),
            )
        if bins is not None or exact:
            spec["_calib"] = ((3,), np.dtype(np.float64))
        spec.update(_replicates_spec(bootstrap, weighted, {"_boot_cm": ((2, 2), count)}))
        return spec

    def _target_names(self) -> list[str]:
        return ["0", "1"] if self._labels_are_01 else [f"not {self.pos_label}", str(self.pos_label)]

    def _binarize(self, arr: np.ndarray, name: str) -> np.ndarray:
        if self._labels_are_01:
            _inputs.require_numeric(arr, name, f"Binary(pos_label={self.pos_label!r}) expects 0/1 labels; pass pos_label=")
            return arr
        if _inputs.is_text(arr) != isinstance(self.pos_label, str):
            kind = "strings" if _inputs.is_text(arr) else "numbers"
            raise TypeError(f"{name} holds {kind} (dtype {arr.dtype}) but pos_label={self.pos_label!r}")
        return arr == self.pos_label

    @property
    def _scored(self) -> bool:
        return self.bins is not None or self.exact

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Count a batch: y_true (N,) labels, y_pred (N,) labels or float scores, sample_weight (N,).

        A failed update raises and leaves the counts exactly as they were.
        """
        if type(y_true).__module__ == "torch":  # tensors from a training loop: their memory, no copy
            y_true, y_pred = _inputs.from_torch(y_true, y_pred)
        if self._fast and _inputs.plain_batch(y_true, y_pred, sample_weight):
            # The common case (0/1 labels with labels or float scores) in the fewest Python steps.
            if y_pred.dtype.kind == "f":
                return self._count_scores(y_true, y_pred, None)
            return self._count_pairs(y_true, y_pred, None, 2)
        yt = _inputs.as_array(y_true, "y_true")
        yp = _inputs.as_array(y_pred, "y_pred")
        _inputs.check_ndim(yt, "y_true", (1,), "(n_samples,)")
        _inputs.check_ndim(yp, "y_pred", (1,), "(n_samples,) labels or scores")
        _inputs.check_length(yp, "y_pred", yt.shape[0])
        w = _inputs.as_weight(sample_weight, yt.shape[0], self.weighted)
        is_scores = yp.dtype.kind == "f"
        if self._scored and not is_scores:
            raise TypeError(f"y_pred has dtype {yp.dtype}, but a Binary with bins or exact=True needs float scores")
        if yt.shape[0] == 0:
            return
        yt = self._binarize(yt, "y_true")
        if not is_scores:
            yp = self._binarize(yp, "y_pred")
        if is_scores:
            self._count_scores(yt, yp, w)
        else:
            self._count_pairs(yt, yp, w, 2)
        if self.exact:  # the batch is valid: nothing below can fail
            self._update_table(np.asarray(yt, dtype=np.int8), yp, w)

    def _count_scores(self, y_true, scores, weight) -> None:
        """Count scores (at the threshold, and into the histogram when binned) with the right
        kernel; raise naming the first bad sample."""
        cm = self._batch_table()
        if self.bins is not None:
            kernel, batch = _kernels.count_binary_scored, (y_true, scores, _NO_WEIGHT if weight is None else weight)
            args = (weight is not None, self.threshold, self.inclusive, self._edges, self._uniform, float(np.finfo(scores.dtype).eps))
            states = (cm, self._hist, self._score_sums, self._calib, self._out_of_range)
        else:
            kernel, batch = (_kernels.count_scores, (y_true, scores)) if weight is None else (_kernels.count_scores_weighted, (y_true, scores, weight))
            args, states = (self.threshold, self.inclusive), (cm,)
        self._raise_bad_scores(_threads.count_in_chunks(kernel, batch, args, states), y_true, scores, weight)
        if cm is not self._cm:
            self._add_resampled(cm)

    @staticmethod
    def _raise_bad_scores(bad, y_true, scores, weight) -> None:
        if bad >= 0:
            checks = [("y_true", y_true, "class", 2), ("y_pred", scores, "score", 2)]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", weight, "weight", 0)] if weight is not None else []))

    def _update_table(self, positive: np.ndarray, scores: np.ndarray, w) -> None:
        truth = np.stack([1 - positive, positive], axis=1)
        probs = np.stack([1 - scores.astype(np.float64), scores], axis=1)
        _scores.calibration_sums(self._calib, truth, probs, w, float(np.finfo(scores.dtype).eps))
        shift = int(self._table_shift[0])
        batch = _scores.table_from_batch(scores, positive, w, self._table_counts.dtype, shift)
        self._set_table(*_scores.merge_tables((self._table_scores, self._table_counts), batch, shift), shift)

    def _set_table(self, scores, counts, shift) -> None:
        if scores.shape[0] > self.max_distinct:
            scores, counts, shift = _scores.compact(scores, counts, shift, self.max_distinct)
            warnings.warn(
                f"Binary(exact=True): more than max_distinct={self.max_distinct} distinct scores; the table "
                f"was compacted to {scores.shape[0]} groups of nearby scores. Curves are now exact only at "
                "the groups' smallest scores, and roc_auc_bounds() brackets the AUC.",
                stacklevel=3,
            )
        self._table_scores, self._table_counts = scores, counts
        self._table_shift = np.array([shift], dtype=np.int64)

    def _merge_counts(self, other) -> None:
        for name in self._spec:
            if not name.startswith("_table"):
                getattr(self, name)[...] += getattr(other, name)
        if self.exact:
            shift = int(max(self._table_shift[0], other._table_shift[0]))
            merged = _scores.merge_tables((self._table_scores, self._table_counts),
                                          (other._table_scores, other._table_counts), shift)
            self._set_table(*merged, shift)

    def _check_state(self) -> None:
        if self.exact:
            s = self._table_scores
            if self._table_counts.shape[1] != s.shape[0] or s.shape[0] > self.max_distinct:
                raise ValueError("the exact score table's arrays disagree in length or exceed max_distinct")
            if (np.diff(s) <= 0).any() or not (0 <= self._table_shift[0] <= 64):
                raise ValueError("the exact score table is not sorted, or its shift is out of range")

    # --- score queries --------------------------------------------------------------------------

    def _need_scores(self, what: str) -> None:
        if not self._scored:
            raise ValueError(f"{what} needs score state: create the accumulator with bins=... or exact=True")

    @property
    def is_exact(self) -> bool:
        """True when the score state holds every distinct score (exact=True, not compacted)."""
        return self.exact and self._table_shift[0] == 0

    @property
    def out_of_range(self) -> tuple:
        """(below, above): how many scores fell outside the bins' range (counted in the edge bins).

        An exact table has no range: (0, 0).
        """
        return (0, 0) if self.exact else super().out_of_range

    def _cells(self) -> curves.Cells:
        self._need_scores("this metric")
        if self.exact:
            return curves.Cells(self._table_scores, self._table_counts[1], self._table_counts[0], self.is_exact)
        thresholds = np.r_[-np.inf, self._edges]
        return curves.Cells(thresholds, self._hist[0, 1], self._hist[0, 0], False)

    def roc_curve(self, drop_intermediate: bool = True):
        """(fpr, tpr, thresholds) as sklearn.metrics.roc_curve: equal to it when exact.

        With bins the points sit at the bin edges, where they are exact.
        """
        return curves.roc_curve(self._cells(), drop_intermediate)

    def pr_curve(self):
        """(precision, recall, thresholds) as sklearn.metrics.precision_recall_curve."""
        return curves.pr_curve(self._cells())

    def roc_auc(self) -> float:
        """ROC AUC (sklearn.metrics.roc_auc_score); with bins, pairs inside a bin count as ties."""
        return curves.roc_auc(self._cells())

    def roc_auc_bounds(self) -> tuple[float, float]:
        """A guaranteed (lower, upper) bracket of the exact ROC AUC of the stream; equal when exact."""
        return curves.auc_bounds(self._cells())

    def average_precision(self) -> float:
        """Average precision, as sklearn.metrics.average_precision_score (exact when exact=True)."""
        return curves.average_precision(self._cells())

    def at_threshold(self, threshold: float) -> "Binary":
        """A Binary holding the exact counts at another threshold.

        With an exact table any threshold is exact. With bins (or a compacted table) counts are
        exact at the edges only, so the nearest edge is used: the snapshot's ``threshold`` says
        which. A compacted table counts scores >= the edge (inclusive).
        """
        _inputs.check_threshold(threshold)
        cells = self._cells()
        thresholds = cells.thresholds
        inclusive = self.inclusive
        if cells.points:
            index = int(np.searchsorted(thresholds, threshold, side="left" if inclusive else "right"))
        else:
            finite = np.flatnonzero(np.isfinite(thresholds))
            index = int(finite[np.argmin(np.abs(thresholds[finite] - threshold))])
            threshold = float(thresholds[index])
            inclusive = inclusive or self.exact
        snapshot = Binary(threshold, pos_label=self.pos_label, inclusive=inclusive, weighted=self.weighted)
        tp, fp = cells.pos[index:].sum(), cells.neg[index:].sum()
        snapshot._cm[...] = [[cells.neg.sum() - fp, fp], [cells.pos.sum() - tp, tp]]
        return snapshot

    def _at(self) -> tuple[curves.AtThresholds, float, float]:
        """Counts at every candidate threshold, and the totals of positives and negatives.

        Every bin edge is a candidate, empty bins included: the lowest edge of a run of equal
        counts is the threshold "lowest with precision >= p" asks for. The totals are the
        cumulative sums' last values, so that recall reaches exactly 1 despite rounding.
        """
        at = curves.at_thresholds(self._cells(), drop_empty=False)
        finite = np.isfinite(at.thresholds)  # a bin's -inf edge is not a threshold to offer
        n_pos, n_neg = (at.tps[-1], at.fps[-1]) if len(at.tps) else (0.0, 0.0)
        return curves.AtThresholds(at.thresholds[finite], at.tps[finite], at.fps[finite]), n_pos, n_neg

    def threshold_for(self, *, recall: float | None = None, precision: float | None = None) -> float:
        """The highest threshold whose recall reaches ``recall``, or the lowest whose precision
        reaches ``precision`` (so the other one is as good as it gets); NaN if none does.

        Candidates are the distinct scores (exact) or the bin edges. A threshold t classifies
        score >= t as positive, as scikit-learn's curves do (score > t for bins with
        inclusive=False); at_threshold(t) gives every other metric there.

        >>> acc = Binary(exact=True)
        >>> acc.update([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> acc.threshold_for(recall=1.0), acc.threshold_for(precision=1.0)
        (0.35, 0.8)
        """
        at, n_pos, _ = self._at()
        return curves.threshold_for(at, n_pos, recall, precision)

    def best_threshold(self, metric: str = "f1", *, beta: float = 1.0) -> float:
        """The threshold that maximizes "f1" or "fbeta" (with beta); ties go to the highest."""
        return curves.best_threshold(*self._at(), metric, beta)

    def min_cost_threshold(self, *, fp_cost: float, fn_cost: float) -> float:
        """The threshold that minimizes fp_cost * FP + fn_cost * FN; ties go to the highest."""
        for name, cost in (("fp_cost", fp_cost), ("fn_cost", fn_cost)):
            if not (isinstance(cost, (int, float, np.number)) and np.isfinite(cost) and cost >= 0):
                raise ValueError(f"{name}={cost!r} is not valid: expected a finite number >= 0")
        return curves.best_threshold(*self._at(), "cost", fp_cost=fp_cost, fn_cost=fn_cost)

    # --- calibration ----------------------------------------------------------------------------

    def _need_probabilities(self, what: str) -> None:
        self._need_scores(what)

    def _calibration(self, n_bins):
        """(fraction of positives, mean score, weight) per non-empty calibration bin of the scores."""
        self._checked_total("calibration")
        if self.exact:
            scores, counts = self._table_scores, self._table_counts
            return curves.calibration_curve(scores, counts[1], counts.sum(axis=0), scores * counts.sum(axis=0), n_bins)
        return curves.binned_calibration(self._hist[0], self._score_sums[0], self._edges, n_bins)
