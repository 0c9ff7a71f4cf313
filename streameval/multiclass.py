"""Multiclass: a streaming (K, K) confusion matrix."""

from __future__ import annotations

import numpy as np

from . import _inputs, _kernels, _scores, curves, limits
from .accumulator import CalibrationMetrics, ConfusionAccumulator, OneVsRestCurves, _replicates_spec

_NO_KEEP = np.empty(0, dtype=bool)
_CALIB_PER_SAMPLE = 40.0  # the most one unit of weight adds to the calibration sums (see Binary)


class Multiclass(OneVsRestCurves, CalibrationMetrics, ConfusionAccumulator):
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

    >>> acc = Multiclass(labels=["cat", "dog", "rabbit"])
    >>> acc.update(["cat", "dog", "rabbit", "dog"], ["cat", "cat", "rabbit", "dog"])
    >>> acc.accuracy()
    0.75
    >>> acc.recall(average=None).tolist()
    [1.0, 0.5, 1.0]
    """

    _KIND = 2
    _OVR_AVERAGES = (None, "macro", "weighted")  # as scikit-learn's multi_class="ovr"

    def __init__(self, num_classes: int | None = None, *, labels=None, ignore_index=None, weighted: bool = False,
                 bins=None, score_range=(0.0, 1.0), top_k: int | None = None, discovered=None,
                 bootstrap: int | None = None, seed=None, max_labels: int = limits.DEFAULT_MAX_LABELS):
        ignore_index = None if ignore_index is None else _inputs.canonical(ignore_index)
        self._state_spec(num_classes, labels, ignore_index, weighted, bins, score_range, top_k, discovered, bootstrap,
                         max_labels)
        self.max_labels = int(max_labels)
        self._set_bins(bins, score_range)
        self._set_bootstrap(bootstrap, seed)
        self.top_k = None if top_k is None else int(top_k)
        self._auto = isinstance(labels, str)  # labels="auto" (_state_spec refuses other strings)
        if not self._auto:  # (auto: reset() below starts the labels empty)
            self._index = _inputs.LabelIndex(range(num_classes) if labels is None else labels)
            self.num_classes = len(self._index)
            self.labels = self._index.labels
        self._given = {"num_classes": None if num_classes is None else int(num_classes),
                       "labels": None if labels is None else "auto" if self._auto else list(self.labels)}
        self.ignore_index = ignore_index
        self.weighted = bool(weighted)
        self._fast = not self._auto and self._index.is_range and bins is None and top_k is None
        reads_probabilities = bins is not None and self.score_range == (0.0, 1.0)
        self._bounds = _inputs.PROBABILITY if reads_probabilities else _inputs.ANY_SCORE
        self._binnings: dict = {}  # score dtype -> the kernels' edges for it
        self.reset()
        if discovered:  # the labels a serialized auto accumulator had found
            self._grow(_inputs.check_discovered(discovered))

    def _config(self) -> dict:
        config = {**self._given, "ignore_index": self.ignore_index, "weighted": self.weighted}
        config.update(self._bins_config())
        if self.top_k is not None:
            config["top_k"] = self.top_k
        if self.max_labels != limits.DEFAULT_MAX_LABELS:  # only when given: old payloads stay as they were
            config["max_labels"] = self.max_labels
        if self._auto:
            config["discovered"] = list(self.labels)
        config.update(self._bootstrap_config())
        return config

    @classmethod
    def _state_spec(cls, num_classes=None, labels=None, ignore_index=None, weighted=False, bins=None,
                    score_range=(0.0, 1.0), top_k=None, discovered=None, bootstrap=None,
                    max_labels=limits.DEFAULT_MAX_LABELS):
        if (num_classes is None) == (labels is None):
            raise ValueError("give exactly one of num_classes and labels")
        auto = isinstance(labels, str) and labels == "auto"
        if discovered is not None and not auto:
            raise ValueError('discovered= is only for labels="auto"')
        _inputs.check_count("max_labels", max_labels)
        if max_labels != limits.DEFAULT_MAX_LABELS and not auto:
            raise ValueError(f'max_labels={_inputs.show(max_labels)} is for labels="auto": fixed classes are counted as given')
        if num_classes is not None:
            _inputs.check_count("num_classes", num_classes)
            k = int(num_classes)
        elif auto:
            if bins is not None or top_k is not None:
                raise ValueError('labels="auto" cannot be combined with bins= or top_k=: score columns need a fixed set of classes')
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
        count = np.dtype(np.float64 if weighted else np.int64)
        spec = {"_cm": ((k, k), count)}
        if bins is not None:
            n_cells = _scores.n_cells(bins, score_range)
            spec.update(
                _hist=((k, 2, n_cells), count),
                _score_sums=((k, n_cells), np.dtype(np.float64)),
                _out_of_range=((2,), count),
                _conf_hist=((1, 2, n_cells), count),
                _conf_sums=((1, n_cells), np.dtype(np.float64)),
                _calib=((3,), np.dtype(np.float64)),
            )
        if top_k is not None:
            _inputs.check_count("top_k", top_k)
            spec["_topk"] = ((int(top_k) + 1,), count)
        spec.update(_replicates_spec(bootstrap, weighted, {"_boot_cm": ((k, k), count)}))
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
        return spec

    def _target_names(self) -> list[str]:
        return [str(label) for label in self.labels]

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Count a batch: y_true (N,) labels, y_pred (N,) labels or (N, K) scores, sample_weight (N,).

        A failed update raises and leaves the counts exactly as they were.
        """
        k = self.num_classes
        kind = None
        if type(y_true).__module__ == "torch":  # tensors from a training loop: their memory, no copy
            kind = _inputs.score_kind(y_pred)  # bfloat16 becomes float32 but compares as bfloat16
            y_true, y_pred = _inputs.from_torch(y_true, y_pred)
        if self._fast and _inputs.plain_batch(y_true, y_pred, sample_weight, _inputs.LABEL_DTYPES):
            # The common case (integer label arrays, no weights) in the fewest Python steps.
            return self._count_pairs(y_true, y_pred, None, k, self.ignore_index or 0, self.ignore_index is not None)
        if self._auto:
            return self._update_auto(y_true, y_pred, sample_weight)
        if self.bins is not None:  # the dtype bin edges meet the scores in, read before any conversion
            kind = kind or _inputs.score_kind(y_pred)
        yt = _inputs.as_array(y_true, "y_true")
        yp = _inputs.as_array(y_pred, "y_pred")
        _inputs.check_ndim(yt, "y_true", (1,), "(n_samples,)")
        _inputs.check_ndim(yp, "y_pred", (1, 2), f"(n_samples,) labels or (n_samples, {k}) scores")
        _inputs.check_length(yp, "y_pred", yt.shape[0])
        if yp.ndim == 2 and yp.shape[1] != k:
            raise ValueError(f"y_pred has shape {yp.shape}: scores need {k} columns, one per class")
        w = _inputs.as_weight(sample_weight, yt.shape[0], self.weighted)
        is_scores = yp.ndim == 2
        if (self.bins is not None or self.top_k is not None) and not is_scores:
            raise TypeError(f"y_pred has shape {yp.shape}, but a Multiclass with bins or top_k needs (n_samples, {k}) scores")
        if is_scores and self.bins is not None:
            _inputs.require_float(yp, "y_pred", "a Multiclass with bins (probabilities, or scores on score_range)")
        elif is_scores:
            _inputs.require_numeric(yp, "y_pred", "scores must be numbers")
            yp = yp.view(np.uint8) if yp.dtype.kind == "b" else yp
        if yt.shape[0] == 0:
            return
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
        pred_index = np.empty(yp.shape[0], dtype=np.int64)
        keep = _NO_KEEP if skip is None else ~skip
        bad = _kernels.argmax_rows(yp, keep, *self._bounds, pred_index)
        if bad >= 0:
            hint = _inputs.probability_hint(self._describe(), threshold=False)
            raise _inputs.diagnose(bad, [_inputs.score_check("y_pred", yp, self._bounds, hint)])
        if self.bins is None and self.top_k is None:
            return self._count_pairs(yt, pred_index, w, k, ignore, use_ignore)
        masses = self._score_masses(_inputs.batch_mass(w, yt.shape[0]), yp)
        _inputs.reserve_all(self, masses)  # checked now; written after the pairs, which check the rest
        self._count_pairs(yt, pred_index, w, k, ignore, use_ignore)
        rows = slice(None) if skip is None else keep
        self._update_scores(np.asarray(yt[rows], dtype=np.int64), yp[rows], pred_index[rows],
                            None if w is None else w[rows], kind)

    def _score_masses(self, mass, scores: np.ndarray) -> list:
        """Bounds on what a batch of total weight mass adds to each score state (see _inputs.reserve)."""
        k = self.num_classes
        masses = []
        if self.bins is not None:
            largest = 1.0
            if self._bounds != _inputs.PROBABILITY:
                largest = float(np.max(np.abs(scores), where=np.isfinite(scores), initial=0.0))
            masses += [("_hist", k * mass), ("_score_sums", k * mass * largest), ("_out_of_range", k * mass),
                       ("_conf_hist", mass), ("_conf_sums", mass * largest), ("_calib", _CALIB_PER_SAMPLE * mass)]
        if self.top_k is not None:
            masses.append(("_topk", mass))
        return masses

    def _update_scores(self, truth: np.ndarray, scores: np.ndarray, pred: np.ndarray, w, kind: str) -> None:
        k = self.num_classes
        onehot = (truth[:, None] == np.arange(k)).astype(np.int8)
        if self.bins is not None:
            binning = self._binnings.get(kind)
            if binning is None:
                binning = self._binnings[kind] = _scores.edges_for(self._edges, self._uniform, kind)
            _scores.histogram(self._hist, self._score_sums, scores, onehot, w, binning, True, out_of_range=self._out_of_range)
            confidence = scores[np.arange(scores.shape[0]), pred]
            correct = (pred == truth).astype(np.int8)
            _scores.histogram(self._conf_hist, self._conf_sums, confidence[:, None], correct[:, None], w, binning, True)
            _scores.calibration_sums(self._calib, onehot, scores, w, _scores.EPS[kind])
        if self.top_k is not None:
            # rank of the true class: classes scoring higher, and tied classes of higher index
            # (scikit-learn sorts with a stable argsort and reverses it)
            true_score = scores[np.arange(scores.shape[0]), truth][:, None]
            tied_after = (scores == true_score) & (np.arange(k) > truth[:, None])
            rank = np.minimum((scores > true_score).sum(axis=1) + tied_after.sum(axis=1), self.top_k)
            self._topk += np.bincount(rank, weights=w, minlength=self.top_k + 1).astype(self._topk.dtype)

    # --- score metrics --------------------------------------------------------------------------

    def accuracy(self, top_k: int | None = None) -> float:
        """Fraction of correct predictions; with top_k, of samples whose true class is among
        the top_k scores (sklearn.metrics.top_k_accuracy_score). Needs Multiclass(top_k=...) >= top_k.
        """
        if top_k is None:
            return super().accuracy()
        if self.top_k is None or not (isinstance(top_k, (int, np.integer)) and 1 <= top_k <= self.top_k):
            raise ValueError(f"top_k={_inputs.show(top_k)} is not available: this accumulator keeps ranks up to top_k={self.top_k}")
        total = self._topk.sum()
        return float(self._topk[:top_k].sum() / total) if total else float("nan")

    def _brier_scale(self) -> float:
        return 0.5 if self.num_classes < 3 else 1.0  # scikit-learn halves it for two classes only

    def _calibration(self, n_bins):
        """Reliability of the top-label confidence: (accuracy, mean confidence, weight) per bin."""
        self._checked_total("calibration")
        return curves.binned_calibration(self._conf_hist[0], self._conf_sums[0], self._edges, n_bins)

    # --- labels="auto": classes discovered as they arrive ---------------------------------------

    def reset(self) -> None:
        """Forget every sample: all counts back to zero; labels="auto" forgets its labels too."""
        if self._auto:
            self._use_labels(())
        super().reset()

    def _update_auto(self, y_true, y_pred, sample_weight) -> None:
        """update() with labels="auto": find the batch's new labels, grow the classes, count.

        Everything that can fail before counting is checked before the classes grow; a failure
        while counting (a bad weight) puts the previous labels and counts back.
        """
        yt = _inputs.as_labels(y_true, "y_true")
        yp = _inputs.as_labels(y_pred, "y_pred")
        _inputs.check_ndim(yt, "y_true", (1,), "(n_samples,)")
        _inputs.check_ndim(yp, "y_pred", (1,), '(n_samples,) labels (labels="auto" takes no scores)')
        _inputs.check_length(yp, "y_pred", yt.shape[0])
        w = _inputs.as_weight(sample_weight, yt.shape[0], self.weighted)
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
        if self.bootstrap is None:
            _inputs.reserve(self, "_cm", _inputs.batch_mass(w, yt.shape[0]))
        before = (self.labels, self._arrays())
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

    def _use_labels(self, labels: tuple) -> None:
        self.labels = labels
        self.num_classes = len(labels)
        self._position = {label: i for i, label in enumerate(labels)}
        self.__dict__.pop("_config_bytes", None)  # to_bytes caches the configuration, which lists the labels

    def _relabel(self, labels: tuple, arrays: list[np.ndarray]) -> None:
        """Take these labels as the classes, with state arrays laid out for them."""
        self._use_labels(labels)
        self._frozen_config = self._config()
        self._spec = self._state_spec(**self._frozen_config)
        for name, array in zip(self._spec, arrays):
            setattr(self, name, array)

    def _grow(self, labels: tuple) -> None:
        """Take labels (ours and new ones, in their class order) as the classes, keeping our counts."""
        self._relabel(labels, self._laid_out_for(labels))

    def _laid_out_for(self, labels: tuple) -> list[np.ndarray]:
        """Our state arrays for the classes labels (a superset of ours, in any order), as new arrays.

        With labels="auto" the last two axes of every state array are the classes (true,
        predicted): the confusion matrix, and any stack of confusion matrices.
        """
        position = {label: i for i, label in enumerate(labels)}
        where = np.array([position[label] for label in self.labels], dtype=np.intp)
        spec = self._state_spec(**{**self._frozen_config, "discovered": list(labels)})
        arrays = []
        for (shape, dtype), old in zip(spec.values(), self._arrays()):
            new = np.zeros(shape, dtype)
            new[..., where[:, None], where] = old
            arrays.append(new)
        return arrays

    def _check_compatible(self, other) -> None:
        # Two auto accumulators merge whatever labels each found; the rest of the configuration must match.
        if not (self._auto and type(other) is type(self) and other._auto and _settings(other) == _settings(self)):
            super()._check_compatible(other)

    def _merge_counts(self, other) -> None:
        _inputs.forget(*self._arrays())
        if not self._auto or other.labels == self.labels:
            return super()._merge_counts(other)
        labels = _inputs.ordered_union(self.labels, [label for label in other.labels if label not in self._position])
        if len(labels) > self.max_labels:
            raise ValueError(f"Cannot merge: the two accumulators' labels are {len(labels)} together, more than "
                             f"max_labels={self.max_labels}; nothing was merged")
        arrays = self._laid_out_for(labels)
        for mine, theirs in zip(arrays, other._laid_out_for(labels)):
            mine += theirs
        self._relabel(labels, arrays)


def _settings(acc: Multiclass) -> dict:
    """The configuration of an auto accumulator without the labels it discovered."""
    return {key: value for key, value in acc._frozen_config.items() if key != "discovered"}
