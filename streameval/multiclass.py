"""Multiclass: a streaming (K, K) confusion matrix."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _inputs, _scores, curves, errors, limits
from ._direct import direct_arguments
from ._batch import Layout, Prepared, check_logits, relocated
from ._components import calibration, confusion, predictions
from ._components.bins import HISTOGRAM, OneVsRestCurves, ScoreBins, largest_score
from ._components.bootstrap import Bootstrap
from ._components.calibration import CalibrationMetrics
from ._components.confusion import ConfusionMetrics
from ._components.predictions import PredictionCounts, PredictionMethods
from ._components.topk import TopKRanks
from ._state import Spec, count_dtype
from ._stateful import StateArrayAttribute
from ._storage import REFUSED, Storage
from .accumulator import counting_update
from .cbpe import EstimatedMetrics
from .drift import DriftMethods
from .serialization import Kind

_FUSED_SCORES = frozenset({np.dtype(np.float32), np.dtype(np.float64)})  # (N, K) scores count_argmax reads as they are

CONFIDENCE = ("_conf_hist", "_conf_sums")  # bins of the top-label confidence (calibration)


class Multiclass(PredictionMethods, OneVsRestCurves, CalibrationMetrics, ConfusionMetrics, EstimatedMetrics,
                 DriftMethods):
    """Streaming multiclass classification metrics.

    Give exactly one of ``num_classes`` (labels are the integers 0..K-1) and ``labels`` (any
    hashable labels, ints or strings, in the order rows and columns should take). y_pred is labels
    of shape (N,) or scores / probabilities / logits of shape (N, K), reduced by argmax (the
    first maximum wins on ties, as numpy's argmax). Samples whose y_true equals ``ignore_index``
    are skipped, whatever their prediction (NaN scores included). Integer-valued floats are
    those integers everywhere: the label 1.0 is the label 1, compared exactly (never through a
    float64 cast, which would merge integers above 2**53); missing labels (None, NaN,
    pandas.NA) are refused.

    The state is the confusion matrix, rows = true, columns = predicted (int64, or float64 when
    weighted). Metrics default to average="macro".

    ``labels="auto"`` discovers the labels (any hashable but missing values and infinities) as
    they arrive in y_true and y_pred, which must then be (N,) labels; ``bins`` and ``top_k`` need
    a fixed set of classes and are refused. Labels of ignored samples are not discovered. At most
    ``max_labels`` classes (default streameval.limits.DEFAULT_MAX_LABELS = 1000) are discovered:
    a batch that would bring more raises ValueError and counts nothing. The state is K x K
    (8 bytes a cell: 8 MB at 1000 labels, times 1 + R with bootstrap=R), so a configuration whose
    largest state, at max_labels classes, passes streameval.limits.MAX_STATE_BYTES is refused
    when it is created. A list mixing strings with other labels is read as objects (numpy would
    make 1 the string "1"). ``labels`` lists the classes so far:

    - sorted while they are all numbers (bools count as 0 and 1) or all strings, so the metrics
      equal scikit-learn's with its default labels (the sorted labels of the data); a new label
      sorting between known ones moves their counts into the new order;
    - otherwise (say 1 and "a"), in order of arrival: the known order is kept and a batch's new
      labels are appended, those of y_true first, each part in order of first appearance.

    Merging two auto accumulators (same other arguments) unions their labels in the same way:
    sorted labels make the merge commutative; otherwise the result has self's labels, then
    other's new ones. Merging with fixed labels raises IncompatibleError. ``reset()`` forgets the
    labels with the counts. With no label yet there are no classes: ``confusion_matrix()`` is
    (0, 0), per-class values are empty, averages NaN, and ``compute()`` and ``report()`` raise
    ValueError. ``discovered=[...]`` starts from labels already found, in the order above: it is
    how ``to_bytes`` and ``to_dict`` record them, and ``==`` compares them, in order.

    With (N, K) scores, two optional states answer score metrics in constant memory:

    - ``bins=n`` (uniform on ``score_range``) or ``bins=[t0, t1, ...]``: one-vs-rest score
      histograms per class (each score meets the edges in its own dtype, as numpy's
      ``scores >= t``). With the default score_range=(0, 1) the scores must be float
      probabilities in [0, 1] (ValueError naming the first that is not); give
      score_range=(lo, hi) for logits or other scores. They give ``roc_auc`` and
      ``average_precision`` (as scikit-learn's multi_class="ovr"), plus a histogram of the top-label confidence for
      ``calibration_curve`` and ``expected_calibration_error``, and running sums for the
      multiclass ``brier_score`` and ``log_loss``;
    - ``top_k=k``: counts of the rank of the true class, so ``accuracy(top_k=j)`` works for any
      j <= k (ties rank the higher class index first, as sklearn's top_k_accuracy_score).

    ``bootstrap=R`` keeps R Poisson-bootstrap replicates of the confusion matrix (not of the score
    state) for ``interval(metric, method="bootstrap")``; ``seed`` seeds their random generator
    (see ``streameval.intervals``: each worker needs its own seed). Not with weighted=True.

    ``unlabelled=True`` also takes batches without labels, ``update(None, y_pred)``: their
    predicted classes are counted apart and, with (N, K) scores, the sums of confidence-based
    performance estimation (the scores must then be probabilities in [0, 1], unless
    from_logits=True or a score_range is given, which keep no such sums) and, with bins, a
    histogram per class on the same edges. ``n_samples`` counts every sample, ``n_labelled`` the
    labelled ones, which every label metric reads. With labels="auto" the predicted labels of
    unlabelled batches join the classes too.

    ``device=`` (a ``torch.device`` or a string such as "cuda"; needs torch) keeps the counts in
    torch tensors on that device, counted there by torch ops with no host sync per update (a CUDA
    tensor given to an accumulator without it moves the counts to its device). There a bad value
    cannot raise at once: with ``validate="deferred"`` (the default) its batch is dropped whole on
    the device and the next query raises ``DroppedBatchError``; ``validate="eager"`` raises at the
    update, at the cost of one sync. See "Counts on the GPU" in docs/guides/training.md.

    >>> acc = Multiclass(labels=["cat", "dog", "rabbit"])
    >>> acc.update(["cat", "dog", "rabbit", "dog"], ["cat", "cat", "rabbit", "dog"])
    >>> acc.accuracy()
    0.75
    >>> acc.recall(average=None).tolist()
    [1.0, 0.5, 1.0]
    """

    _KIND = Kind.MULTICLASS
    _conf_hist = StateArrayAttribute()
    _conf_sums = StateArrayAttribute()
    _topk = StateArrayAttribute()
    _OVR_AVERAGES = (None, "macro", "weighted")  # as scikit-learn's multi_class="ovr"

    def __init__(self, num_classes: int | None = None, *, labels: Any = None, ignore_index: Any = None,
                 weighted: bool = False, bins: Any = None, score_range: tuple[float, float] = (0.0, 1.0),
                 top_k: int | None = None, discovered: Any = None, bootstrap: int | None = None, seed: Any = None,
                 max_labels: int = limits.DEFAULT_MAX_LABELS, from_logits: bool = False, unlabelled: bool = False,
                 device: Any = None, validate: str = "deferred"):
        ignore_index = None if ignore_index is None else _inputs.canonical(ignore_index)
        spec = self._state_spec(num_classes, labels, ignore_index, weighted, bins, score_range, top_k, discovered,
                                bootstrap, max_labels, from_logits, unlabelled)
        self.unlabelled = bool(unlabelled)
        self.from_logits = bool(from_logits)
        self.max_labels = int(max_labels)
        self.score_range = (float(score_range[0]), float(score_range[1]))
        self._bins = None if bins is None else ScoreBins(bins, self.score_range)
        self._confidence = None if self._bins is None else self._bins.renamed(CONFIDENCE)
        Bootstrap.check_seed(bootstrap, seed)
        self.bootstrap = None if bootstrap is None else int(bootstrap)
        self._boot = None if bootstrap is None else Bootstrap(bootstrap, seed)
        self.top_k = None if top_k is None else int(top_k)
        self._ranks = None if top_k is None else TopKRanks(top_k)
        self._auto = isinstance(labels, str)  # labels="auto" (_state_spec refuses other strings)
        if not self._auto:  # (auto: reset() below starts the labels empty)
            self._index = _inputs.LabelIndex(range(num_classes) if labels is None else labels)  # type: ignore[arg-type]
            self.num_classes = len(self._index)
            self.labels = self._index.labels
        self._given = {"num_classes": None if num_classes is None else int(num_classes),
                       "labels": None if labels is None else "auto" if self._auto else list(self.labels)}
        self.ignore_index = ignore_index
        self._ignoring = (ignore_index or 0, ignore_index is not None)  # the kernels' (ignore, use_ignore)
        self.weighted = bool(weighted)
        self._fast = not self._auto and self._index.is_range and bins is None and top_k is None
        reads_probabilities = bins is not None and self.score_range == (0.0, 1.0) and not self.from_logits
        self._bounds = _inputs.PROBABILITY if reads_probabilities else _inputs.ANY_SCORE
        # (k, ignore, use_ignore, lo, hi): count_argmax's arguments for (N, K) float scores with no
        # weights, when that kernel counts them all (no bootstrap), else None
        self._fused = (self.num_classes, *self._ignoring, *self._bounds) if self._fast and self._boot is None else None
        self._direct = direct_arguments(confusion.NAME, self._fused)  # update()'s path for (N, K) scores (_direct)
        self._predictions = PredictionCounts(spec, self._bins)
        self._layout = self._make_layout()
        if self._auto:  # no label yet, then the labels a serialized auto accumulator had found
            self.reset()
            if discovered:
                self._grow(_inputs.check_discovered(discovered))
        else:
            self._start(spec)
        self._place(device, validate)

    def _config(self) -> dict[str, Any]:
        config = {**self._given, "ignore_index": self.ignore_index, "weighted": self.weighted}
        if self._bins is not None:
            config.update(self._bins.config())
        if self.top_k is not None:
            config["top_k"] = self.top_k
        if self.max_labels != limits.DEFAULT_MAX_LABELS:  # only when given: old payloads stay as they were
            config["max_labels"] = self.max_labels
        if self._auto:
            config["discovered"] = list(self.labels)
        if self.bootstrap is not None:
            config["bootstrap"] = self.bootstrap
        if self.from_logits:  # only when set: the bytes of other configurations stay as they were
            config["from_logits"] = True
        if self.unlabelled:  # likewise
            config["unlabelled"] = True
        return config

    @classmethod
    def _state_spec(cls, num_classes: Any = None, labels: Any = None, ignore_index: Any = None, weighted: Any = False,
                    bins: Any = None, score_range: Any = (0.0, 1.0), top_k: Any = None, discovered: Any = None,
                    bootstrap: Any = None, max_labels: Any = limits.DEFAULT_MAX_LABELS,
                    from_logits: Any = False, unlabelled: Any = False) -> Spec:
        if (num_classes is None) == (labels is None):
            raise ValueError("give exactly one of num_classes and labels")
        auto = isinstance(labels, str) and labels == "auto"
        if discovered is not None and not auto:
            raise ValueError('discovered= is only for labels="auto"')
        _inputs.check_count("max_labels", max_labels)
        _inputs.check_flags(from_logits=from_logits)
        if max_labels != limits.DEFAULT_MAX_LABELS and not auto:
            raise ValueError(f'max_labels={_inputs.show(max_labels)} is for labels="auto": fixed classes are counted as given')
        if num_classes is not None:
            _inputs.check_count("num_classes", num_classes)
            k = int(num_classes)
        elif auto:
            if bins is not None or top_k is not None or from_logits:
                raise ValueError('labels="auto" cannot be combined with bins= or top_k= (nor from_logits=True): '
                                 'score columns need a fixed set of classes')
            k = len(_inputs.check_discovered([] if discovered is None else discovered))
            if k > max_labels:
                raise ValueError(f"discovered holds {k} labels, more than max_labels={_inputs.show(max_labels)}")
        else:
            if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
                raise TypeError(f"labels={_inputs.show(labels)} is not valid: expected a sequence of labels")
            k = len(labels)
        ignore_index = None if ignore_index is None else _inputs.canonical(ignore_index)
        if ignore_index is not None and not isinstance(ignore_index, (int, str)) or isinstance(ignore_index, bool):
            raise TypeError(f"ignore_index={_inputs.show(ignore_index)} is not valid: expected an integer or a string label")
        if labels is None and isinstance(ignore_index, str):
            raise TypeError(f"ignore_index={ignore_index!r} is not valid: the classes are integers 0..{k - 1}")
        _inputs.check_int64("ignore_index", ignore_index)
        _inputs.check_flags(weighted=weighted)
        count = count_dtype(weighted)
        spec = confusion.declare(k, count)
        if bins is not None:
            spec.update(ScoreBins.declare(k, bins, score_range, count))
            spec.update(ScoreBins.declare(1, bins, score_range, count, CONFIDENCE))
            spec.update(calibration.declare())
        if top_k is not None:
            spec.update(TopKRanks.declare(top_k, count))
        predictions.check_option(unlabelled)
        if unlabelled:  # probability sums unless the scores are on another range (or labels="auto": none)
            probabilities = not auto and (bool(from_logits) or _scores.check_range(score_range) == (0.0, 1.0))
            spec.update(predictions.declare((k,), count, probabilities, bins, score_range, k, class_axes=(0,)))
        spec = Bootstrap.declare(spec, confusion.REPLICATES, bootstrap, weighted)
        limits.check_state_size(spec, "this Multiclass")
        if auto:  # the state it may grow to, checked now: not after hours of a stream
            copies = 1 + (0 if bootstrap is None else int(bootstrap))
            largest = int(max_labels) ** 2 * copies * 8
            if largest > limits.MAX_STATE_BYTES:
                raise ValueError(
                    f'Multiclass(labels="auto", max_labels={int(max_labels)}'
                    + ("" if bootstrap is None else f", bootstrap={int(bootstrap)}")
                    + f") may grow to {largest:,} bytes of count state ({int(max_labels)}**2 cells x {copies} "
                    f"matrices x 8 bytes), more than streameval.limits.MAX_STATE_BYTES = {limits.MAX_STATE_BYTES:,}: "
                    f"lower max_labels{'' if bootstrap is None else ' or bootstrap'}, or raise the limit"
                )
        return Spec(spec)

    def _target_names(self) -> list[str]:
        return [str(label) for label in self.labels]

    update = counting_update("""Count a batch: y_true (N,) labels, y_pred (N,) labels or (N, K) scores, sample_weight (N,).

        Any rank: y_true (N, d1, ...) with y_pred (N, d1, ...) labels or (N, K, d1, ...) scores
        (the class axis second), each element a sample; sample_weight (N,) or y_true's shape.
        A failed update raises and leaves the counts exactly as they were.
        """)

    def _make_layout(self) -> Layout:
        """What update() takes: (N,) labels, or (N, K) scores with fixed classes."""
        if self._auto:
            return Layout(self.weighted, pred_shape='(n_samples,) labels (labels="auto" takes no scores)',
                          any_labels=True, reads_kind=False, unlabelled=self.unlabelled)
        k = self.num_classes
        reduced = self._index.is_range and self._bins is None and self._ranks is None
        return Layout(self.weighted, pred_ndims=(1, 2), pred_shape=f"(n_samples,) labels or (n_samples, {k}) scores",
                      columns=k, reads_kind=self._bins is not None,
                      fast=_inputs.LABEL_DTYPES if self._fast else None, any_rank=True,
                      argmax=self._ignoring if reduced else None,
                      scores=_FUSED_SCORES if self._fused is not None else None, unlabelled=self.unlabelled)

    def _count(self, batch: Prepared) -> None:
        """Count a prepared batch into this accumulator's storage (or the one a wrapper gives it)."""
        if batch.plain:  # the common case (integer label arrays, no weights) in the fewest Python steps
            return self._count_pairs(batch.y_true, batch.y_pred, None, self.num_classes, *self._ignoring)
        if batch.y_true is None:  # update(None, y_pred): the prediction side only (unlabelled=True)
            return predictions.count_multiclass(self, batch)
        fused, yp = self._fused, batch.y_pred
        if (fused is not None and batch.weight is None and batch.shape is None and yp.ndim == 2
                and yp.dtype in _FUSED_SCORES and batch.y_true.dtype in _inputs.LABEL_DTYPES):
            # (N, K) float scores and integer labels, unweighted: nothing to check before the fused
            # kernel (it checks every value); on a bad sample it counts nothing, and the general
            # path below names it
            bad = self._storage.count_argmax(confusion.NAME, batch.y_true, yp, *fused, batch.n)
            if bad == -1:
                return None
            return self._count_batch(batch, bad)
        return self._count_batch(batch, None)

    def _checked_predictions(self, yp: np.ndarray) -> np.ndarray:
        """y_pred's kind checked against the configuration ((N, K) scores with bins or top_k,
        numbers or floats for scores); boolean scores as uint8 (labelled and unlabelled batches)."""
        if yp.ndim != 2:
            if self._bins is not None or self._ranks is not None:
                raise TypeError(f"y_pred has shape {yp.shape}, but a Multiclass with bins or top_k needs "
                                f"(n_samples, {self.num_classes}) scores")
            return yp
        if self._bins is not None:
            _inputs.require_float(yp, "y_pred", "a Multiclass with bins (probabilities, or scores on score_range)")
            return yp
        _inputs.require_numeric(yp, "y_pred", "scores must be numbers")
        return yp.view(np.uint8) if yp.dtype.kind == "b" else yp

    def _count_batch(self, batch: Prepared, fused_bad: int | None) -> None:
        """_count's general path; fused_bad: count_argmax's answer when _count ran it already."""
        k = self.num_classes
        if self._auto:
            return self._update_auto(batch)
        if batch.shape is not None:  # inputs of any rank, flattened: errors name the user's positions
            try:
                return self._count_batch(batch._replace(shape=None), None)
            except (errors.InputError, errors.InputTypeError) as error:
                raise relocated(error, batch.shape) from None
        yt, w, kind = batch.y_true, batch.weight, batch.kind
        yp = self._checked_predictions(batch.y_pred)
        is_scores = yp.ndim == 2
        if yt.shape[0] == 0:
            return None
        use_ignore = self.ignore_index is not None
        skip = _inputs.equals(yt, self.ignore_index) if use_ignore else None
        if self._index.is_range:
            _inputs.require_numeric(yt, "y_true", "this accumulator's labels are integers")
            if not is_scores:
                _inputs.require_numeric(yp, "y_pred", "this accumulator's labels are integers")
            ignore = self.ignore_index if use_ignore else 0
        else:
            # Map labels to class indices; ignored samples become -1 and the kernel skips them.
            yt = self._index.encode(yt, "y_true", skip)
            if not is_scores:
                yp = self._index.encode(yp, "y_pred", skip)
            ignore = -1
        if not is_scores:
            return self._count_pairs(yt, yp, w, k, ignore, use_ignore)
        if w is None and self._boot is None and self._bins is None and self._ranks is None:
            # argmax and counting in one kernel call; on a bad sample it counts nothing, and the
            # steps below name it
            bad = fused_bad if fused_bad is not None else self._storage.count_argmax(
                confusion.NAME, yt, yp, k, ignore, use_ignore, *self._bounds, yt.shape[0])
            if bad == -1:
                return None
            if bad == REFUSED:
                self._refuse_batch(confusion.NAME)
        keep = None if skip is None else ~skip
        pred_index, bad = self._storage.argmax_rows(yp, keep, *self._bounds)
        if bad >= 0:
            if self.from_logits:
                check_logits(yp, "y_pred", keep)
            hint = _inputs.probability_hint(self._describe(), threshold=False)
            raise _inputs.diagnose(bad, [_inputs.score_check("y_pred", yp, self._bounds, hint)])
        if self._bins is None and self._ranks is None:
            return self._count_pairs(yt, pred_index, w, k, ignore, use_ignore)
        # checked now; written after the pairs, which check the rest
        self._reserve_all(self._score_masses(_inputs.batch_mass(w, yt.shape[0]), yp))
        self._count_pairs(yt, pred_index, w, k, ignore, use_ignore)
        rows = slice(None) if keep is None else keep
        self._count_score_state(np.asarray(yt[rows], dtype=np.int64), yp[rows], pred_index[rows],
                                None if w is None else w[rows], kind)
        return None

    def _score_masses(self, mass: float, scores: np.ndarray) -> list[tuple[str, float]]:
        """Bounds on what a batch of total weight mass adds to each score state (see Storage.reserve)."""
        masses = []
        if self._bins is not None and self._confidence is not None:
            largest = 1.0 if self.from_logits else largest_score(scores, self._bounds)
            masses += [*self._bins.masses(self.num_classes, mass, largest), *self._confidence.masses(1, mass, largest),
                       calibration.logit_mass(mass, scores) if self.from_logits else calibration.mass(mass)]
        if self._ranks is not None:
            masses.append(TopKRanks.mass(mass))
        return masses

    def _count_score_state(self, truth: np.ndarray, scores: np.ndarray, pred: np.ndarray, w: np.ndarray | None,
                           kind: str | None) -> None:
        storage = self._storage
        if self._bins is not None and self._confidence is not None:
            assert kind is not None  # read from the input when bins are kept
            onehot = (truth[:, None] == np.arange(self.num_classes)).astype(np.int8)
            probs = storage.softmax_rows(scores) if self.from_logits else scores
            kind = "float64" if self.from_logits else kind  # the probabilities of logits: float64
            self._bins.count(storage, probs, onehot, w, kind, True)
            confidence = probs[np.arange(probs.shape[0]), pred]
            correct = (pred == truth).astype(np.int8)
            self._confidence.count(storage, confidence[:, None], correct[:, None], w, kind, True)
            if self.from_logits:  # the log loss from the logits: log-sum-exp
                storage.logit_calibration_sums(calibration.NAME, truth, scores, w, True)
            else:
                storage.calibration_sums(calibration.NAME, onehot, scores, w, _scores.EPS[kind])
        if self._ranks is not None:
            TopKRanks.count(storage, scores, truth, w)


    # --- score metrics --------------------------------------------------------------------------

    def accuracy(self, top_k: int | None = None) -> float:
        """Fraction of correct predictions; with top_k, of samples whose true class is among
        the top_k scores (sklearn.metrics.top_k_accuracy_score). Needs Multiclass(top_k=...) >= top_k.
        """
        if top_k is None:
            return super().accuracy()
        if self._ranks is None:
            raise ValueError(f"top_k={_inputs.show(top_k)} is not available: this accumulator keeps ranks up to "
                             f"top_k={self.top_k}")
        return self._ranks.accuracy(self._storage, top_k)

    def _brier_scale(self) -> float:
        return 0.5 if self.num_classes < 3 else 1.0  # scikit-learn halves it for two classes only

    def _need_probabilities(self, what: str) -> None:
        self._need_bins(what)

    def _calibration(self, n_bins: int) -> Any:
        """Reliability of the top-label confidence: (accuracy, mean confidence, weight) per bin."""
        self._checked_total("calibration")
        assert self._bins is not None
        return curves.binned_calibration(self._storage.host(CONFIDENCE[0])[0], self._storage.host(CONFIDENCE[1])[0],
                                         self._bins.edges, n_bins)

    # --- labels="auto": classes discovered as they arrive ---------------------------------------

    def reset(self) -> None:
        """Forget every sample: all counts back to zero; labels="auto" forgets its labels too."""
        if self._auto:
            self._use_labels(())
        super().reset()

    def _update_auto(self, batch: Prepared) -> None:
        """update() with labels="auto": find the batch's new labels, grow the classes, count.

        Everything that can fail before counting is checked before the classes grow; a failure
        while counting (a bad weight) puts the previous labels and counts back.
        """
        yt, yp, w = batch.y_true, batch.y_pred, batch.weight
        if yt.shape[0] == 0:
            return
        use_ignore = self.ignore_index is not None
        keep = ~_inputs.equals(yt, self.ignore_index) if use_ignore else None  # ignored samples add no label
        true_labels, true_at = _inputs.distinct_labels(yt, "y_true", keep)
        pred_labels, pred_at = _inputs.distinct_labels(yp, "y_pred", keep)
        new = [label for label in dict.fromkeys(true_labels + pred_labels) if label not in self._position]
        if len(self.labels) + len(new) > self.max_labels:
            shown = new[:5] + (["..."] if len(new) > 5 else [])
            raise ValueError(
                f'y_true and y_pred bring {len(new)} new labels ({shown}) to the {len(self.labels)} this '
                f'Multiclass(labels="auto") has found, more than max_labels={self.max_labels}: nothing was counted. '
                "Give a larger max_labels= if they are all classes (the state is max_labels**2 cells)"
            )
        _inputs.check_weights(w if w is None or keep is None else w[keep])  # before the classes grow
        if self._boot is None:
            self._reserve(confusion.NAME, _inputs.batch_mass(w, yt.shape[0]))
        before = (self.labels, self._storage)
        if new:
            self._grow(_inputs.ordered_union(self.labels, new))
        try:
            # class of each distinct label, plus -1 at the end for the ignored samples' position -1
            yt_class = np.array([self._position[label] for label in true_labels] + [-1], dtype=np.int64)[true_at]
            yp_class = np.array([self._position[label] for label in pred_labels] + [-1], dtype=np.int64)[pred_at]
            self._count_pairs(yt_class, yp_class, w, self.num_classes, -1, use_ignore)
        except BaseException:
            self._relabel(*before)
            raise

    def _use_labels(self, labels: tuple[Any, ...]) -> None:
        self.labels = labels
        self.num_classes = len(labels)
        self._position = {label: i for i, label in enumerate(labels)}
        self.__dict__.pop("_config_bytes", None)  # to_bytes caches the configuration, which lists the labels

    def _relabel(self, labels: tuple[Any, ...], storage: Storage) -> None:
        """Take these labels as the classes, with a storage laid out for them."""
        self._use_labels(labels)
        self._frozen_config = self._config()
        self._spec = storage.spec
        self._storage = storage

    def _grow(self, labels: tuple[Any, ...]) -> None:
        """Take labels (ours and new ones, in their class order) as the classes, keeping our counts."""
        self._relabel(labels, self._laid_out_for(labels))

    def _laid_out_for(self, labels: tuple[Any, ...]) -> Storage:
        """Our state for the classes labels (a superset of ours, in any order), in a new storage:
        each array's declared class axes laid out again."""
        position = {label: i for i, label in enumerate(labels)}
        where = np.array([position[label] for label in self.labels], dtype=np.intp)
        spec = self._state_spec(**{**self._frozen_config, "discovered": list(labels)})
        return self._storage.relayout(spec, where)

    def _check_compatible(self, other: object) -> None:
        # Two auto accumulators merge whatever labels each found; the rest of the configuration must match.
        if not (self._auto and isinstance(other, Multiclass) and type(other) is type(self) and other._auto
                and _settings(other) == _settings(self)):
            super()._check_compatible(other)

    def _merge_state(self, other: Any) -> None:
        if not self._auto or other.labels == self.labels:
            return super()._merge_state(other)
        labels = _inputs.ordered_union(self.labels, [label for label in other.labels if label not in self._position])
        if len(labels) > self.max_labels:
            raise ValueError(f"Cannot merge: the two accumulators' labels are {len(labels)} together, more than "
                             f"max_labels={self.max_labels}; nothing was merged")
        storage = self._laid_out_for(labels)
        storage.add(other._laid_out_for(labels), storage.spec.added)
        self._relabel(labels, storage)
        return None


def _settings(acc: Multiclass) -> dict[str, Any]:
    """The configuration of an auto accumulator without the labels it discovered."""
    return {key: value for key, value in acc._frozen_config.items() if key != "discovered"}
