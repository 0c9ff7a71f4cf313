"""Binary: a streaming 2x2 confusion matrix for one positive class, plus optional score state."""

from __future__ import annotations

import warnings

import numpy as np

from . import _inputs, _kernels, _scores, _threads, curves, limits
from .accumulator import _NO_WEIGHT, CalibrationMetrics, ConfusionAccumulator, _replicates_spec

DEFAULT_RANGE = (0.0, 1.0)
_KIND_OF = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
# Per unit of weight a sample adds at most 2 (Brier), -log(eps) <= 36.1 (log loss) and 1 (outside
# [0, 1]) to the calibration sums.
_CALIB_PER_SAMPLE = 40.0


def _probability_bounds(score_range: tuple, reads_probabilities: bool) -> tuple[float, float]:
    """Where scores must lie: [0, 1] when the range is the default and the accumulator reads them
    as probabilities (bins, or a threshold strictly between 0 and 1); else any finite number."""
    return _inputs.PROBABILITY if score_range == DEFAULT_RANGE and reads_probabilities else _inputs.ANY_SCORE


class Binary(CalibrationMetrics, ConfusionAccumulator):
    """Streaming binary classification metrics.

    y_true holds labels; y_pred holds labels or scores:

    - labels: with the default pos_label=1 they must be 0 or 1 (bool, integer or integral float);
      with another pos_label a label is positive when it equals pos_label, negative otherwise,
      and a batch may hold pos_label and one other label, as scikit-learn's average="binary"
      requires: three or more labels (multiclass data: use Multiclass) or two labels neither of
      which is pos_label (a misspelt pos_label would count every sample negative) raise
      ValueError. Integer-valued floats are those integers (2.0 is the label 2), compared
      exactly; missing labels (None, NaN, pandas.NA) are refused;
    - scores: a float y_pred is a score. It is positive when score >= threshold, or score >
      threshold with inclusive=False (Keras's rule), compared in the scores' own dtype as numpy's
      ``scores >= threshold`` does: a float32 score 0.7 passes threshold=0.7. With a pos_label
      other than 1 and no bins or exact table, a float y_pred whose values are all integers is
      read as labels (``[2.0, 3.0, 2.0]`` with pos_label=3), as scikit-learn reads it.

    Scores are probabilities, checked to lie in [0, 1] (ValueError naming the first that does
    not), when ``score_range`` is the default (0, 1) and either bins are kept or 0 < threshold < 1.
    For decision scores or logits give their range, ``score_range=(lo, hi)``, with a threshold
    on that scale (``Binary(threshold=0.0, score_range=(-10, 10))``); a threshold outside (0, 1)
    alone (``Binary(threshold=0.0)``) also reads any finite score.

    The state is the confusion matrix [[tn, fp], [fn, tp]] at ``threshold`` (int64, or float64
    when weighted). Metrics default to average="binary": the value for the positive class.

    Score state, for curves, AUC, threshold choice and calibration (y_pred must then be scores):

    - ``bins=n``: a histogram per class over n uniform bins of ``score_range`` (default (0, 1));
      ``bins=[t0, t1, ...]``: over explicit increasing thresholds. Counts are exact at every
      edge (each score meets the edges in its own dtype, as ``scores >= t`` does); scores
      outside the range fall in the edge bins and are counted (``out_of_range``).
    - ``exact=True``: a table of every distinct score. Curves and AUC then equal scikit-learn's.
      Past ``max_distinct`` distinct scores it compacts (with a warning) into groups of nearby
      scores and keeps going; ``is_exact`` turns False and ``roc_auc_bounds`` brackets the AUC.
      The table holds at most max_distinct scores: 24 bytes each, at most
      streameval.limits.MAX_STATE_BYTES in all.

    ``bootstrap=R`` keeps R Poisson-bootstrap replicates of the confusion matrix (not of the score
    state) for ``interval(metric, method="bootstrap")``; ``seed`` seeds their random generator
    (see ``streameval.intervals``: each worker needs its own seed). Not with weighted=True.

    An update that would take a count past streameval.limits (MAX_COUNT, or an infinite weighted
    sum) raises OverflowError; any failed update leaves the state exactly as it was.

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
        pos_label = _inputs.canonical(pos_label)
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
        self._plain = bins is None and not exact  # no score state: the matrix at the threshold only
        self._fast = self._labels_are_01 and self._plain
        self._bounds = _probability_bounds(self.score_range, bins is not None or 0 < self.threshold < 1)
        self._thresholds: dict = {}  # score dtype -> threshold rounded to it
        self._binnings: dict = {}  # score dtype -> the kernels' edges for it
        self.reset()

    def _config(self) -> dict:
        config = {"threshold": self.threshold, "pos_label": self.pos_label, "inclusive": self.inclusive, "weighted": self.weighted}
        config.update(self._bins_config())
        if self.bins is None and self.score_range != DEFAULT_RANGE:  # recorded only when given: old payloads stay
            config["score_range"] = list(self.score_range)
        if self.exact:
            config.update(exact=True, max_distinct=self.max_distinct)
        config.update(self._bootstrap_config())
        return config

    @classmethod
    def _state_spec(cls, threshold=0.5, pos_label=1, inclusive=True, weighted=False, bins=None,
                    score_range=(0.0, 1.0), exact=False, max_distinct=1_000_000, bootstrap=None):
        _inputs.check_threshold(threshold)
        pos_label = _inputs.canonical(pos_label)
        if not isinstance(pos_label, (int, float, str)) or isinstance(pos_label, float) and not np.isfinite(pos_label):
            raise TypeError(f"pos_label={_inputs.show(pos_label)} is not valid: expected an integer, a boolean or a string")
        _inputs.check_flags(inclusive=inclusive, weighted=weighted, exact=exact)
        _scores.check_range(score_range)
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
        # at its largest: a full table (merging two of them holds both for a moment)
        largest = {**spec, "_table_scores": ((2 * int(max_distinct),), np.dtype(np.float64)),
                   "_table_counts": ((2, 2 * int(max_distinct)), count)} if exact else spec
        limits.check_state_size(largest, "this Binary (a full exact table: lower max_distinct)" if exact else "this Binary")
        return spec

    def _target_names(self) -> list[str]:
        return ["0", "1"] if self._labels_are_01 else [f"not {self.pos_label}", str(self.pos_label)]

    @property
    def _scored(self) -> bool:
        return self.bins is not None or self.exact

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Count a batch: y_true (N,) labels, y_pred (N,) labels or float scores, sample_weight (N,).

        A failed update raises and leaves the counts exactly as they were.
        """
        kind = None
        if type(y_true).__module__ == "torch":  # tensors from a training loop: their memory, no copy
            kind = _inputs.score_kind(y_pred)  # bfloat16 becomes float32 but compares as bfloat16
            y_true, y_pred = _inputs.from_torch(y_true, y_pred)
        if self._fast and _inputs.plain_batch(y_true, y_pred, sample_weight):
            # The common case (0/1 labels with labels or float scores) in the fewest Python steps.
            if y_pred.dtype.kind == "f":
                return self._count_scores(y_true, y_pred, None, kind or _KIND_OF[y_pred.dtype])
            return self._count_pairs(y_true, y_pred, None, 2)
        kind = kind or _inputs.score_kind(y_pred)
        yt = _inputs.as_array(y_true, "y_true")
        yp = _inputs.as_array(y_pred, "y_pred")
        _inputs.check_ndim(yt, "y_true", (1,), "(n_samples,)")
        _inputs.check_ndim(yp, "y_pred", (1,), "(n_samples,) labels or scores")
        _inputs.check_length(yp, "y_pred", yt.shape[0])
        w = _inputs.as_weight(sample_weight, yt.shape[0], self.weighted)
        is_scores = yp.dtype.kind == "f"
        if self._scored and not is_scores:
            raise TypeError(f"y_pred has dtype {yp.dtype}, but a Binary with bins or exact=True needs float scores")
        if is_scores and not (self._labels_are_01 or self._scored or isinstance(self.pos_label, str)):
            with np.errstate(invalid="ignore"):
                is_scores = not (yp % 1 == 0).all()  # all integers: labels, as scikit-learn reads them
        if yt.shape[0] == 0:
            return
        if is_scores:
            (yt,) = self._binarize(("y_true", yt))
            self._count_scores(yt, yp, w, kind)
        else:
            yt, yp = self._binarize(("y_true", yt), ("y_pred", yp))
            self._count_pairs(yt, yp, w, 2)

    def _binarize(self, *arrays) -> list[np.ndarray]:
        """The (name, labels) arrays as 0/1 arrays against pos_label, the kernels' input."""
        if self._labels_are_01:
            for name, arr in arrays:
                _inputs.require_numeric(arr, name, f"Binary(pos_label={self.pos_label!r}) expects 0/1 labels; pass pos_label=")
            return [arr for _, arr in arrays]
        positives = []
        for name, arr in arrays:
            if arr.dtype.kind != "O" and _inputs.is_text(arr) != isinstance(self.pos_label, str):
                kind = "strings" if _inputs.is_text(arr) else "numbers"
                raise TypeError(f"{name} holds {kind} (dtype {arr.dtype}) but pos_label={self.pos_label!r}")
            _inputs.check_labels(arr, name)
            positives.append(_inputs.equals(arr, self.pos_label))
        # scikit-learn's rule for average="binary": the batch holds pos_label and at most one
        # other label. Three or more labels are multiclass data; two without pos_label mean a
        # misspelt pos_label, which would otherwise count every sample as negative.
        negatives = [arr[~positive] for (_, arr), positive in zip(arrays, positives)]
        if any(n.size for n in negatives):
            labels = _inputs.labels_in(*negatives, most=3)
            has_positive = any(p.any() for p in positives)
            if len(labels) >= 2:
                shown = [self.pos_label] + labels if has_positive else labels
                raise ValueError(
                    f"this batch holds the labels {shown}{'...' if len(labels) >= 3 else ''} but "
                    f"Binary(pos_label={self.pos_label!r}) counts pos_label against one other label, as "
                    'scikit-learn\'s average="binary" does: check the spelling of pos_label, or use '
                    "Multiclass for more than two classes"
                )
        return positives

    def _count_scores(self, y_true, scores, weight, kind: str) -> None:
        """Count scores (at the threshold, and into the score state) with the right kernels;
        raise naming the first bad sample, or OverflowError, before anything is written."""
        threshold = self._thresholds.get(kind)
        if threshold is None:
            threshold = self._thresholds[kind] = float(_scores.round_to(self.threshold, kind))
        lo, hi = self._bounds
        if weight is None and self._plain and self.bootstrap is None and y_true.shape[0] < _threads.PARALLEL_MIN:
            # the common case in the fewest steps: the kernel counts, or undoes and reports a bad sample
            _inputs.reserve(self, "_cm", y_true.shape[0])
            bad = _kernels.count_scores(y_true, scores, threshold, self.inclusive, lo, hi, self._cm)
            return self._raise_bad_scores(bad, y_true, scores, None) if bad >= 0 else None
        mass = _inputs.batch_mass(weight, y_true.shape[0])
        plain = (_kernels.count_scores, (y_true, scores)) if weight is None else (_kernels.count_scores_weighted, (y_true, scores, weight))
        at_threshold = (threshold, self.inclusive, lo, hi)
        if self._plain:
            table = self._batch_table()
            if table is self._cm:
                _inputs.reserve(self, "_cm", mass)
            self._raise_bad_scores(_threads.count_in_chunks(plain[0], plain[1], at_threshold, (table,)), y_true, scores, weight)
            if table is not self._cm:
                self._add_resampled(table)
            return
        if self.bins is not None:
            binning = self._binnings.get(kind)
            if binning is None:
                binning = self._binnings[kind] = _scores.edges_for(self._edges, self._uniform, kind)
            masses = (("_hist", mass), ("_score_sums", mass * self._largest_score(scores)),
                      ("_out_of_range", mass), ("_calib", _CALIB_PER_SAMPLE * mass))
            args = (weight is not None, *at_threshold, *binning, _scores.EPS[kind])
            batch = (y_true, scores, _NO_WEIGHT if weight is None else weight)

            def count(cm):
                states = (cm, self._hist, self._score_sums, self._calib, self._out_of_range)
                return _threads.count_in_chunks(_kernels.count_binary_scored, batch, args, states)

            if self.bootstrap is None:
                _inputs.reserve_all(self, (("_cm", mass), *masses))
                return self._raise_bad_scores(count(self._cm), y_true, scores, weight)
            # the replicates are drawn from the batch's matrix, and must fit, before the histogram is written
            table = np.zeros_like(self._cm)
            self._raise_bad_scores(_threads.count_in_chunks(*plain, at_threshold, (table,)), y_true, scores, weight)
            _inputs.reserve_all(self, masses)
            return self._add_resampled(table, lambda: count(np.zeros_like(table)))
        # exact: count the matrix aside, build the new table (its compaction may warn, and under
        # warnings.simplefilter("error") raise), check the sums fit, and only then write.
        table = np.zeros_like(self._cm)
        self._raise_bad_scores(plain[0](*plain[1], *at_threshold, table), y_true, scores, weight)
        positive = np.asarray(y_true, dtype=np.int8)
        shift = int(self._table_shift[0])
        batch_table = _scores.table_from_batch(scores, positive, weight, self._table_counts.dtype, shift)
        merged = self._compacted(*_scores.merge_tables((self._table_scores, self._table_counts), batch_table, shift), shift)
        masses = (("_table_counts", mass), ("_calib", _CALIB_PER_SAMPLE * mass))
        _inputs.reserve_all(self, masses if self.bootstrap is not None else (("_cm", mass), *masses))

        def commit():
            truth = np.stack([1 - positive, positive], axis=1)
            probs = np.stack([1 - scores.astype(np.float64), scores], axis=1)
            _scores.calibration_sums(self._calib, truth, probs, weight, _scores.EPS[kind])
            self._set_table(*merged)

        if self.bootstrap is not None:
            return self._add_resampled(table, commit)
        commit()
        self._cm += table

    def _largest_score(self, scores: np.ndarray) -> float:
        """A bound on |score|: 1 for probabilities; else the largest finite one (the kernel names the others)."""
        if self._bounds == _inputs.PROBABILITY or scores.shape[0] == 0:
            return 1.0
        return float(np.max(np.abs(scores), where=np.isfinite(scores), initial=0.0))

    def _raise_bad_scores(self, bad, y_true, scores, weight) -> None:
        if bad >= 0:
            checks = [("y_true", y_true, "class", 2), _inputs.score_check("y_pred", scores, self._bounds, self._hint())]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", weight, "weight", 0)] if weight is not None else []))

    def _hint(self) -> str:
        return _inputs.probability_hint(self._describe(), threshold=True)

    def _compacted(self, scores, counts, shift) -> tuple:
        """The table as it may be kept: past max_distinct scores, compacted, with a warning (which
        the caller lets raise before it writes anything)."""
        if scores.shape[0] > self.max_distinct:
            scores, counts, shift = _scores.compact(scores, counts, shift, self.max_distinct)
            warnings.warn(
                f"Binary(exact=True): more than max_distinct={self.max_distinct} distinct scores; the table "
                f"was compacted to {scores.shape[0]} groups of nearby scores. Curves are now exact only at "
                "the groups' smallest scores, and roc_auc_bounds() brackets the AUC.",
                stacklevel=4,
            )
        return scores, counts, shift

    def _set_table(self, scores, counts, shift) -> None:
        self._table_scores, self._table_counts = scores, counts
        self._table_shift = np.array([shift], dtype=np.int64)

    def _merge_counts(self, other) -> None:
        merged = None
        if self.exact:  # first, as its warning may raise: nothing is added before
            shift = int(max(self._table_shift[0], other._table_shift[0]))
            merged = self._compacted(*_scores.merge_tables((self._table_scores, self._table_counts),
                                                          (other._table_scores, other._table_counts), shift), shift)
        _inputs.forget(*self._arrays())
        for name in self._spec:
            if not name.startswith("_table"):
                getattr(self, name)[...] += getattr(other, name)
        if merged is not None:
            self._set_table(*merged)

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
        which; each score met it in the score's own dtype, as ``scores >= edge`` does. A
        compacted table counts scores >= the edge (inclusive).

        An exact table holds every score's value exactly, as float64, so a Python float
        threshold is compared in float64 (numpy's ``float64_scores >= t``); for float32 scores
        pass ``np.float32(t)`` to count as ``float32_scores >= t`` does (a float32 0.7 is below
        the float64 0.7, but equals np.float32(0.7)).
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
        snapshot = Binary(threshold, pos_label=self.pos_label, inclusive=inclusive, weighted=self.weighted,
                          score_range=self.score_range)
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
                raise ValueError(f"{name}={_inputs.show(cost)} is not valid: expected a finite number >= 0")
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
