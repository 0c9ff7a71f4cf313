"""Binary: a streaming 2x2 confusion matrix for one positive class, plus optional score state."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _inputs, _scores, _threads, curves, errors, limits
from ._batch import Layout, Prepared, check_ignore_index, check_logits, ignored, kept, reindexed, relocated, sigmoid
from ._components import calibration, confusion, predictions
from ._components.bins import BinsMethods, ScoreBins, largest_score
from ._components.bootstrap import Bootstrap
from ._components.calibration import CalibrationMetrics
from ._components.confusion import ConfusionMetrics
from ._components.exact import ExactTable
from ._components.predictions import PredictionCounts, PredictionMethods
from ._state import Spec, count_dtype
from ._stateful import StateArrayAttribute
from ._storage import REFUSED, SlotView
from .accumulator import counting_update
from .cbpe import EstimatedMetrics
from .drift import DriftMethods
from .serialization import Kind

if TYPE_CHECKING:
    from ._storage import Storage

DEFAULT_RANGE = (0.0, 1.0)
_KIND_OF = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
_SCORED = ("_cm", "_hist", "_score_sums", "_calib", "_out_of_range")  # what a binned batch adds to, in one pass
_SCORED_LOGITS = ("_cm", "_hist", "_score_sums", None, "_out_of_range")  # from_logits: calibration apart


def _probability_bounds(score_range: tuple[float, float], reads_probabilities: bool) -> tuple[float, float]:
    """Where scores must lie: [0, 1] when the range is the default and the accumulator reads them
    as probabilities (bins, or a threshold strictly between 0 and 1); else any finite number."""
    return _inputs.PROBABILITY if score_range == DEFAULT_RANGE and reads_probabilities else _inputs.ANY_SCORE


# PredictionMethods (_components.predictions, unlabelled=True): n_samples, n_labelled, _prediction_side(), _unlabelled()
class Binary(PredictionMethods, CalibrationMetrics, BinsMethods, ConfusionMetrics, EstimatedMetrics, DriftMethods):
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

    ``ignore_index=i`` (an integer other than 0, 1 and pos_label, such as -100; torchmetrics'
    BinaryAccuracy(ignore_index=i)) marks padding: a sample (an element, for inputs of any rank)
    whose y_true equals i is not counted anywhere (matrix, bins, calibration, exact table,
    bootstrap), and its y_pred and sample_weight are not read, so they may hold anything.

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

    ``unlabelled=True`` also takes batches without labels, ``update(None, y_pred)``: their
    predictions are counted apart (the predicted classes at the threshold; with probabilities,
    the sums of confidence-based performance estimation; with bins, a histogram on the same
    edges), for drift and estimated metrics. ``n_samples`` counts every sample, ``n_labelled``
    the labelled ones, which every label metric reads. A stream may mix both kinds of batch.

    An update that would take a count past streameval.limits (MAX_COUNT, or an infinite weighted
    sum) raises OverflowError; any failed update leaves the state exactly as it was.

    ``device=`` (a ``torch.device`` or a string such as "cuda"; needs torch) keeps the counts in
    torch tensors on that device, counted there by torch ops with no host sync per update (a CUDA
    tensor given to an accumulator without it moves the counts to its device). There a bad value
    cannot raise at once: with ``validate="deferred"`` (the default) its batch is dropped whole on
    the device and the next query raises ``DroppedBatchError``; ``validate="eager"`` raises at the
    update, at the cost of one sync. See "Counts on the GPU" in docs/guides/training.md.

    >>> acc = Binary()
    >>> acc.update([1, 0, 1, 1], [0.9, 0.2, 0.4, 0.7])
    >>> acc.recall()
    0.6666666666666666
    >>> acc.confusion_matrix().tolist()
    [[1, 0], [1, 2]]
    """

    _KIND = Kind.BINARY
    _table_scores = StateArrayAttribute()
    _table_counts = StateArrayAttribute()
    _table_shift = StateArrayAttribute()
    _AVERAGES = ("binary", None, "micro", "macro", "weighted")
    _DEFAULT_AVERAGE = "binary"
    _COMPUTE_RATIOS = ("precision", "recall", "f1", "specificity", "npv", "fpr", "fnr", "jaccard")

    def __init__(
        self,
        threshold: float = 0.5,
        *,
        pos_label: Any = 1,
        inclusive: bool = True,
        weighted: bool = False,
        bins: Any = None,
        score_range: tuple[float, float] = (0.0, 1.0),
        exact: bool = False,
        max_distinct: int = 1_000_000,
        bootstrap: int | None = None,
        seed: Any = None,
        from_logits: bool = False,
        ignore_index: int | None = None,
        unlabelled: bool = False,
        device: Any = None,
        validate: str = "deferred",
    ):
        pos_label = _inputs.canonical(pos_label)
        spec = self._state_spec(threshold, pos_label, inclusive, weighted, bins, score_range, exact, max_distinct,
                                bootstrap, from_logits, ignore_index, unlabelled)
        self.unlabelled = bool(unlabelled)
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.from_logits = bool(from_logits)
        self.threshold = float(threshold)
        self.pos_label = pos_label
        self.inclusive = bool(inclusive)
        self.weighted = bool(weighted)
        self.exact = bool(exact)
        self.max_distinct = int(max_distinct)
        self.score_range = (float(score_range[0]), float(score_range[1]))
        self._bins = None if bins is None else ScoreBins(bins, self.score_range)
        self._table = ExactTable(max_distinct) if exact else None
        Bootstrap.check_seed(bootstrap, seed)
        self.bootstrap = None if bootstrap is None else int(bootstrap)
        self._boot = None if bootstrap is None else Bootstrap(bootstrap, seed)
        # With pos_label=1 labels are read as they are (0/1), which also catches multiclass labels.
        self._labels_are_01 = not isinstance(pos_label, str) and pos_label == 1
        self._plain = bins is None and not exact  # no score state: the matrix at the threshold only
        self._fast = self._labels_are_01 and self._plain and not self.from_logits and self.ignore_index is None
        self._bounds = _probability_bounds(self.score_range, bins is not None or 0 < self.threshold < 1)
        self._thresholds: dict[str, float] = {}  # score dtype -> threshold rounded to it
        self._predictions = PredictionCounts(spec, self._bins)
        self._layout = Layout(self.weighted, fast=_inputs.LABEL_OR_SCORE_DTYPES if self._fast else None, any_rank=True,
                              unlabelled=self.unlabelled)
        self._start(spec)
        self._place(device, validate)

    def _config(self) -> dict[str, Any]:
        config = {"threshold": self.threshold, "pos_label": self.pos_label, "inclusive": self.inclusive, "weighted": self.weighted}
        if self._bins is not None:
            config.update(self._bins.config())
        elif self.score_range != DEFAULT_RANGE:  # recorded only when given: old payloads stay
            config["score_range"] = list(self.score_range)
        if self.exact:
            config.update(exact=True, max_distinct=self.max_distinct)
        if self.bootstrap is not None:
            config["bootstrap"] = self.bootstrap
        if self.from_logits:  # only when set: the bytes of other configurations stay as they were
            config["from_logits"] = True
        if self.ignore_index is not None:  # likewise
            config["ignore_index"] = self.ignore_index
        if self.unlabelled:  # likewise
            config["unlabelled"] = True
        return config

    @classmethod
    def _state_spec(cls, threshold: Any = 0.5, pos_label: Any = 1, inclusive: Any = True, weighted: Any = False,
                    bins: Any = None, score_range: Any = (0.0, 1.0), exact: Any = False, max_distinct: Any = 1_000_000,
                    bootstrap: Any = None, from_logits: Any = False, ignore_index: Any = None,
                    unlabelled: Any = False) -> Spec:
        _inputs.check_threshold(threshold)
        _inputs.check_flags(from_logits=from_logits)
        pos_label = _inputs.canonical(pos_label)
        if not isinstance(pos_label, (int, float, str)) or isinstance(pos_label, float) and not np.isfinite(pos_label):
            raise TypeError(f"pos_label={_inputs.show(pos_label)} is not valid: expected an integer, a boolean or a string")
        check_ignore_index(ignore_index, (0, 1) if pos_label in (0, 1) else (0, 1, pos_label), "Binary")
        _inputs.check_flags(inclusive=inclusive, weighted=weighted, exact=exact)
        _scores.check_range(score_range)
        count = count_dtype(weighted)
        spec = confusion.declare(2, count)
        if bins is not None and exact:
            raise ValueError("give bins= or exact=True, not both")
        if bins is not None:
            spec.update(ScoreBins.declare(1, bins, score_range, count))
        if exact:
            _inputs.check_count("max_distinct", max_distinct)
            spec.update(ExactTable.declare(count))
        if bins is not None or exact:
            spec.update(calibration.declare())
        predictions.check_option(unlabelled)
        if unlabelled:  # probability sums when the scores are probabilities
            reads = _probability_bounds(_scores.check_range(score_range), bins is not None or 0 < threshold < 1)
            spec.update(predictions.declare((2,), count, reads == _inputs.PROBABILITY or bool(from_logits), bins,
                                            score_range))
        spec = Bootstrap.declare(spec, confusion.REPLICATES, bootstrap, weighted)
        if exact:  # at its largest: a full table (merging two of them holds both for a moment)
            limits.check_state_size({**spec, **ExactTable.declare(count, max_distinct)},
                                    "this Binary (a full exact table: lower max_distinct)")
        else:
            limits.check_state_size(spec, "this Binary")
        return Spec(spec)

    def _target_names(self) -> list[str]:
        return ["0", "1"] if self._labels_are_01 else [f"not {self.pos_label}", str(self.pos_label)]

    @property
    def _scored(self) -> bool:
        return self._bins is not None or self.exact

    update = counting_update("""Count a batch: y_true (N,) labels, y_pred (N,) labels or float scores, sample_weight (N,).

        A failed update raises and leaves the counts exactly as they were.
        """)

    def _count(self, batch: Prepared) -> None:
        """Count a prepared batch into this accumulator's storage (or the one a wrapper gives it)."""
        yp = batch.y_pred
        if batch.plain:
            # The common case (0/1 labels with labels or float scores) in the fewest Python steps.
            if yp.dtype.kind == "f":
                return self._count_scores(batch.y_true, yp, None, batch.kind or _KIND_OF[yp.dtype])
            return self._count_pairs(batch.y_true, yp, None, 2)
        if batch.y_true is None:  # update(None, y_pred): the prediction side only (unlabelled=True)
            return predictions.count_binary(self, batch)
        if batch.shape is not None:  # inputs of any rank, flattened: errors name the user's positions
            try:
                return self._count(batch._replace(shape=None))
            except (errors.InputError, errors.InputTypeError) as error:
                raise relocated(error, batch.shape) from None
        if self.ignore_index is not None:
            skip = ignored(batch.y_true, self.ignore_index)
            if skip.any():  # (else counted as it is, below)
                return self._count_kept(batch, np.flatnonzero(~skip))
        yt, w = batch.y_true, batch.weight
        is_scores = yp.dtype.kind == "f"
        if self._scored and not is_scores:
            raise TypeError(f"y_pred has dtype {yp.dtype}, but a Binary with bins or exact=True needs float scores")
        if is_scores and not (self._labels_are_01 or self._scored or self.from_logits
                              or isinstance(self.pos_label, str)):
            with np.errstate(invalid="ignore"):
                is_scores = not (yp % 1 == 0).all()  # all integers: labels, as scikit-learn reads them
        if batch.n == 0:
            return None
        if is_scores and self.from_logits:
            (yt,) = self._binarize(("y_true", yt))
            check_logits(yp)
            self._count_scores(yt, sigmoid(yp), w, "float64", yp)  # thresholds and bins on probabilities
        elif is_scores:
            assert batch.kind is not None
            (yt,) = self._binarize(("y_true", yt))
            self._count_scores(yt, yp, w, batch.kind)
        else:
            yt, yp = self._binarize(("y_true", yt), ("y_pred", yp))
            self._count_pairs(yt, yp, w, 2)
        return None

    def _count_kept(self, batch: Prepared, index: np.ndarray) -> None:
        """ignore_index: count the samples index of the batch (the others' y_pred is not read), as
        a batch of their own; errors name their positions in the batch as given. Under a wrapper
        counting each sample into its own slot, the kept samples keep their slots."""
        view = self._storage
        slots = view._slots if isinstance(view, SlotView) else None
        if slots is not None:
            assert isinstance(view, SlotView)
            view.aim(slots=slots[index], touched=view._touched)
        try:
            self._count(kept(batch, index))
        except (errors.InputError, errors.InputTypeError) as error:
            raise reindexed(error, index) from None
        finally:
            if slots is not None:
                assert isinstance(view, SlotView)
                view.aim(slots=slots, touched=view._touched)

    def _binarize(self, *arrays: tuple[str, np.ndarray]) -> list[np.ndarray]:
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

    def _count_scores(self, y_true: np.ndarray, scores: np.ndarray, weight: np.ndarray | None, kind: str,
                      logits: np.ndarray | None = None) -> None:
        """Count scores (at the threshold, and into the score state) with the right kernels;
        raise naming the first bad sample, or OverflowError, before anything is written.
        from_logits=True: scores are the probabilities of logits, whose calibration sums are
        counted from the logits."""
        threshold = self._thresholds.get(kind)
        if threshold is None:
            threshold = self._thresholds[kind] = float(_scores.round_to(self.threshold, kind))
        lo, hi = self._bounds
        storage = self._storage
        n = y_true.shape[0]
        if weight is None and self._plain and self._boot is None and n < _threads.PARALLEL_MIN:
            # the common case in the fewest steps: the kernel counts, or undoes and reports a bad sample
            bad = storage.count_scores("_cm", y_true, scores, None, threshold, self.inclusive, lo, hi, mass=n)
            if bad == REFUSED:
                self._refuse_batch("_cm")
            return self._raise_bad_scores(bad, y_true, scores, None) if bad >= 0 else None
        mass = _inputs.batch_mass(weight, n)
        at_threshold = (threshold, self.inclusive, lo, hi)
        if self._plain and self._boot is None:
            self._reserve("_cm", mass)
            return self._raise_bad_scores(storage.count_scores("_cm", y_true, scores, weight, *at_threshold),
                                          y_true, scores, weight)
        # Otherwise the matrix is counted aside first: the replicates are drawn from it, and the
        # score state must fit before it is written.
        if self._plain:
            batch = storage.scratch(("_cm",))
            bad = batch.count_scores("_cm", y_true, scores, weight, *at_threshold)
            self._raise_bad_scores(bad, y_true, scores, weight)
            return self._resample(batch)
        if self._bins is None:
            return self._count_exact(y_true, scores, weight, kind, at_threshold, mass, logits)
        calibrated = calibration.mass(mass) if logits is None else calibration.logit_mass(mass, logits)
        masses = [*self._bins.masses(1, mass, largest_score(scores, self._bounds)), calibrated]
        args = (y_true, scores, weight, *at_threshold, self._bins.binning(kind), _scores.EPS[kind])
        names = _SCORED if logits is None else _SCORED_LOGITS

        def calibrate() -> None:
            if logits is not None:  # the log loss from the logits: log1p(exp(-|x|)) forms
                storage.logit_calibration_sums(calibration.NAME, y_true, logits, weight, False)

        if self._boot is None:
            self._reserve_all([("_cm", mass), *masses])
            self._raise_bad_scores(storage.count_binary_scored(names, *args), y_true, scores, weight)
            return calibrate()
        batch = storage.scratch(("_cm",))
        self._raise_bad_scores(batch.count_scores("_cm", y_true, scores, weight, *at_threshold), y_true, scores, weight)
        self._reserve_all(masses)

        def commit() -> None:
            storage.count_binary_scored((None, *names[1:]), *args)
            calibrate()

        return self._resample(batch, commit)

    def _resample(self, batch: Storage, commit: Callable[[], Any] | None = None) -> None:
        assert self._boot is not None
        self._boot.resample(self, batch, commit)

    def _count_exact(self, y_true: np.ndarray, scores: np.ndarray, weight: np.ndarray | None, kind: str,
                     at_threshold: tuple[float, bool, float, float], mass: float,
                     logits: np.ndarray | None = None) -> None:
        """exact=True: count the matrix aside, build the new table (its compaction may warn, and
        under warnings.simplefilter("error") raise), check the sums fit, and only then write."""
        assert self._table is not None
        storage = self._storage
        batch = storage.scratch(("_cm",))
        self._raise_bad_scores(batch.count_scores("_cm", y_true, scores, weight, *at_threshold, threads=False),
                               y_true, scores, weight)
        positive = np.asarray(y_true, dtype=np.int8)
        table = self._table.with_batch(storage, scores, positive, weight)
        masses = [("_table_counts", mass),
                  calibration.mass(mass) if logits is None else calibration.logit_mass(mass, logits)]
        self._reserve_all(masses if self._boot is not None else [("_cm", mass), *masses])

        def commit() -> None:
            if logits is not None:
                storage.logit_calibration_sums(calibration.NAME, positive, logits, weight, False)
            else:
                truth = np.stack([1 - positive, positive], axis=1)
                probs = np.stack([1 - scores.astype(np.float64), scores], axis=1)
                storage.calibration_sums(calibration.NAME, truth, probs, weight, _scores.EPS[kind])
            ExactTable.commit(storage, table)

        if self._boot is not None:
            return self._resample(batch, commit)
        commit()
        storage.add_counted(batch, ("_cm",))
        return None

    def _raise_bad_scores(self, bad: int, y_true: np.ndarray, scores: np.ndarray, weight: np.ndarray | None) -> None:
        if bad >= 0:
            checks = [("y_true", y_true, "class", 2), _inputs.score_check("y_pred", scores, self._bounds, self._hint())]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", weight, "weight", 0)] if weight is not None else []))

    def _hint(self) -> str:
        return _inputs.probability_hint(self._describe(), threshold=True)

    def _merge_state(self, other: Any) -> None:
        if self._table is None:
            return super()._merge_state(other)
        table = self._table.merged(self._storage, other._storage)  # first, as its warning may raise
        super()._merge_state(other)
        ExactTable.commit(self._storage, table)
        return None

    def _check_state(self) -> None:
        if self._table is not None:
            self._table.check_state(self._storage)

    # --- score queries --------------------------------------------------------------------------

    def _need_scores(self, what: str) -> None:
        if not self._scored:
            raise ValueError(f"{what} needs score state: create the accumulator with bins=... or exact=True")

    @property
    def is_exact(self) -> bool:
        """True when the score state holds every distinct score (exact=True, not compacted)."""
        return self.exact and ExactTable.is_exact(self._storage)

    @property
    def out_of_range(self) -> tuple[Any, ...]:
        """(below, above): how many scores fell outside the bins' range (counted in the edge bins).

        An exact table has no range: (0, 0).
        """
        return (0, 0) if self.exact else super().out_of_range

    def _cells(self) -> curves.Cells:
        self._need_scores("this metric")
        if self._table is not None:
            return self._table.cells(self._storage)
        assert self._bins is not None
        hist = self._storage.host("_hist")
        return curves.Cells(np.r_[-np.inf, self._bins.edges], hist[0, 1], hist[0, 0], False)

    def roc_curve(self, drop_intermediate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fpr, tpr, thresholds) as sklearn.metrics.roc_curve: equal to it when exact.

        With bins the points sit at the bin edges, where they are exact.
        """
        return curves.roc_curve(self._cells(), drop_intermediate)

    def pr_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        snapshot._storage.assign({"_cm": np.array([[cells.neg.sum() - fp, fp], [cells.pos.sum() - tp, tp]])})
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

    def _calibration(self, n_bins: int) -> Any:
        """(fraction of positives, mean score, weight) per non-empty calibration bin of the scores."""
        self._checked_total("calibration")
        if self._table is not None:
            return ExactTable.calibration(self._storage, n_bins)
        assert self._bins is not None
        return curves.binned_calibration(self._storage.host("_hist")[0], self._storage.host("_score_sums")[0],
                                         self._bins.edges, n_bins)
