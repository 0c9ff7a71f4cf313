"""Multilabel: one 2x2 confusion matrix per label, plus the per-sample sums of average="samples"."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _inputs, _scores, errors, limits, metrics
from ._batch import Layout, Prepared, check_ignore_index, check_logits, ignored, relocated, sigmoid
from ._components import predictions, samples
from ._components.bins import OneVsRestCurves, ScoreBins, largest_score
from ._components.bootstrap import Bootstrap
from ._components.predictions import PredictionCounts, PredictionMethods
from ._state import Spec, count_dtype, counts
from ._stateful import StateArrayAttribute
from .accumulator import Accumulator, counting_update
from .cbpe import EstimatedMetrics
from .drift import DriftMethods
from .metrics import StatScores
from .serialization import Kind

MATRICES = "_mcm"  # sklearn.metrics.multilabel_confusion_matrix: (L, 2, 2)
REPLICATES = {MATRICES: "_boot_mcm", samples.NAME: "_boot_sums"}  # what bootstrap=R replicates
_COUNTED = (MATRICES, samples.NAME)  # what the multilabel kernel counts, in one pass


class Multilabel(PredictionMethods, OneVsRestCurves, Accumulator, EstimatedMetrics, DriftMethods):
    """Streaming multilabel classification metrics.

    y_true is an (N, L) indicator matrix (0/1 or bool); y_pred is an (N, L) indicator matrix, or
    (N, L) float scores, positive when score >= threshold (score > threshold with
    inclusive=False), compared in the scores' own dtype as numpy's ``scores >= threshold`` does.
    Scores are probabilities, checked to lie in [0, 1], when ``score_range`` is the default
    (0, 1) and either bins are kept or 0 < threshold < 1; for decision scores or logits give
    ``score_range=(lo, hi)`` with a threshold on that scale.

    The state is sklearn.metrics.multilabel_confusion_matrix, (L, 2, 2) = [[tn, fp], [fn, tp]] per
    label, plus running sums of per-sample precision, recall, F1 and Jaccard, so that
    average="samples" stays a stream. accuracy() is the subset accuracy (exact match), as in
    scikit-learn. Metrics that scikit-learn defines only for binary problems (balanced accuracy,
    MCC, Cohen's kappa) are computed per label and averaged: average=None, "macro", "weighted"
    or "micro" (on the labels' pooled 2x2 matrix).

    With ``bins=n`` (uniform on ``score_range``) or ``bins=[t0, t1, ...]`` and float scores, a
    score histogram per label gives ``roc_auc``, ``roc_auc_bounds`` and ``average_precision``
    per label, "macro", "weighted" or "micro" (all labels pooled), as scikit-learn's.

    ``ignore_index=i`` (an integer other than 0 and 1, such as -100; torchmetrics'
    MultilabelStatScores(ignore_index=i)) marks padding entry by entry: an entry (sample, label)
    whose y_true equals i is not counted in that label's matrix nor its histogram, and its
    y_pred is not read. A sample keeps its other entries: its per-sample precision, recall, F1
    and Jaccard (average="samples") are over its kept entries (an ignored entry is neither true
    nor predicted: sklearn on y_true and y_pred with ignored entries set to 0 in both), and it
    is an exact match when every kept entry is right (torchmetrics' MultilabelExactMatch: an
    ignored entry counts as right). Every sample counts in ``n_samples``, in accuracy() and in
    the samples averages, even one whose entries are all ignored (then an exact match, and 0/0
    for the per-sample ratios). hamming_loss() is over the entries counted.

    ``unlabelled=True`` also takes batches without labels, ``update(None, y_pred)``: per label,
    their predictions are counted apart ((L, 2) counts; with probabilities, (L, 2, 2) sums of
    confidence-based performance estimation; with bins, a histogram per label on the same
    edges). ``n_samples`` counts every sample, ``n_labelled`` the labelled ones, which every
    label metric reads.

    ``bootstrap=R`` keeps R Poisson-bootstrap replicates of the confusion matrices and per-sample
    sums (not of the histograms) for ``interval(metric, method="bootstrap")``; ``seed`` seeds
    their random generator (see ``streameval.intervals``: each worker needs its own seed). A
    sample touches a cell of every label, so the labels' draws are not independent: each replicate
    draws one Poisson(1) weight per sample, O(R * N * L) per batch. Not with weighted=True.

    ``device=`` (a ``torch.device`` or a string such as "cuda"; needs torch) keeps the counts in
    torch tensors on that device, counted there by torch ops with no host sync per update (a CUDA
    tensor given to an accumulator without it moves the counts to its device). There a bad value
    cannot raise at once: with ``validate="deferred"`` (the default) its batch is dropped whole on
    the device and the next query raises ``DroppedBatchError``; ``validate="eager"`` raises at the
    update, at the cost of one sync. See "Counts on the GPU" in docs/guides/training.md.

    >>> acc = Multilabel(3)
    >>> acc.update([[1, 0, 1], [0, 1, 0]], [[1, 0, 0], [0, 1, 1]])
    >>> acc.accuracy(), acc.hamming_loss()
    (0.0, 0.3333333333333333)
    >>> acc.f1(average="samples")
    0.6666666666666666
    """

    _KIND = Kind.MULTILABEL
    _mcm = StateArrayAttribute()
    _sample_sums = StateArrayAttribute()
    _boot_mcm = StateArrayAttribute()
    _boot_sums = StateArrayAttribute()
    _OVR_AVERAGES = (None, "macro", "weighted", "micro")
    _AVERAGES = (None, "micro", "macro", "weighted", "samples")
    _REPORT_AVERAGES = ("micro", "macro", "weighted", "samples")
    _MICRO_IS_ACCURACY = False  # a sample has several predictions: micro averages are not accuracy
    _COMPUTE_SCALARS = ("accuracy", "hamming_loss")

    def __init__(self, num_labels: int, threshold: float = 0.5, *, inclusive: bool = True, weighted: bool = False,
                 bins: Any = None, score_range: tuple[float, float] = (0.0, 1.0), bootstrap: int | None = None,
                 seed: Any = None, from_logits: bool = False, ignore_index: int | None = None,
                 unlabelled: bool = False, device: Any = None, validate: str = "deferred"):
        spec = self._state_spec(num_labels, threshold, inclusive, weighted, bins, score_range, bootstrap, from_logits,
                                ignore_index, unlabelled)
        self.unlabelled = bool(unlabelled)
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.from_logits = bool(from_logits)
        self.score_range = (float(score_range[0]), float(score_range[1]))
        self._bins = None if bins is None else ScoreBins(bins, self.score_range)
        Bootstrap.check_seed(bootstrap, seed)
        self.bootstrap = None if bootstrap is None else int(bootstrap)
        self._boot = None if bootstrap is None else Bootstrap(bootstrap, seed)
        self.num_labels = int(num_labels)
        self.threshold = float(threshold)
        self.inclusive = bool(inclusive)
        self.weighted = bool(weighted)
        reads_probabilities = self.score_range == (0.0, 1.0) and (bins is not None or 0 < self.threshold < 1)
        self._bounds = _inputs.PROBABILITY if reads_probabilities else _inputs.ANY_SCORE
        self._thresholds: dict[str, float] = {}  # score dtype -> threshold rounded to it
        shape = f"(n_samples, {self.num_labels})"
        self._predictions = PredictionCounts(spec, self._bins)
        self._layout = Layout(self.weighted, (2,), shape, (2,), shape, self.num_labels, both_columns=True,
                              any_rank=True, unlabelled=self.unlabelled)
        self._start(spec)
        self._place(device, validate)

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"num_labels": self.num_labels, "threshold": self.threshold,
                                  "inclusive": self.inclusive, "weighted": self.weighted}
        if self._bins is not None:
            config.update(self._bins.config())
        elif self.score_range != (0.0, 1.0):  # recorded only when given: old payloads stay
            config["score_range"] = list(self.score_range)
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
    def _state_spec(cls, num_labels: Any, threshold: Any = 0.5, inclusive: Any = True, weighted: Any = False,
                    bins: Any = None, score_range: Any = (0.0, 1.0), bootstrap: Any = None,
                    from_logits: Any = False, ignore_index: Any = None, unlabelled: Any = False) -> Spec:
        _inputs.check_count("num_labels", num_labels)
        check_ignore_index(ignore_index, (0, 1), "Multilabel")
        _inputs.check_flags(from_logits=from_logits)
        _inputs.check_threshold(threshold)
        _inputs.check_flags(inclusive=inclusive, weighted=weighted)
        _scores.check_range(score_range)
        count = count_dtype(weighted)
        spec = {MATRICES: counts((int(num_labels), 2, 2), count), **samples.declare(rows=ignore_index is not None)}
        if bins is not None:
            spec.update(ScoreBins.declare(int(num_labels), bins, score_range, count))
        predictions.check_option(unlabelled)
        if unlabelled:  # per label: (L, 2) predictions, (L, 2, 2) probability sums when scores are probabilities
            reads = _scores.check_range(score_range) == (0.0, 1.0) and (bins is not None or 0 < threshold < 1)
            spec.update(predictions.declare((int(num_labels), 2), count, reads or bool(from_logits), bins, score_range,
                                            int(num_labels)))
        spec = Bootstrap.declare(spec, REPLICATES, bootstrap, weighted)
        limits.check_state_size(spec, "this Multilabel")
        return Spec(spec)

    update = counting_update("""Count a batch: y_true (N, L) indicators, y_pred (N, L) indicators or float scores.

        Any rank: (N, L, d1, ...) both (the label axis second), each element (n, d1, ...) a sample
        of L labels (moved to (N * d1 * ..., L) rows: a copy); sample_weight (N,) or (N, d1, ...).

        A failed update raises and leaves the counts exactly as they were.
        """)

    def _count(self, batch: Prepared) -> None:
        """Count a prepared batch into this accumulator's storage (or the one a wrapper gives it)."""
        if batch.shape is not None:  # inputs of any rank, flattened: errors name the user's positions
            try:
                return self._count(batch._replace(shape=None))
            except (errors.InputError, errors.InputTypeError) as error:
                raise relocated(error, batch.shape) from None
        if batch.y_true is None:  # update(None, y_pred): the prediction side only (unlabelled=True)
            return predictions.count_multilabel(self, batch)
        yt, yp, w, kind = batch.y_true, batch.y_pred, batch.weight, batch.kind
        assert kind is not None
        keep = None
        if self.ignore_index is not None:  # entries whose y_true is ignore_index: valid stand-ins, not counted
            skip = ignored(yt, self.ignore_index)
            keep = ~skip
            if skip.any():
                yt, yp = np.where(skip, np.zeros((), yt.dtype), yt), np.where(skip, np.zeros((), yp.dtype), yp)
        is_scores = yp.dtype.kind == "f"
        if self.from_logits and is_scores:  # (labels, 0/1 indicators, are read as they are)
            check_logits(yp)
            yp, kind = sigmoid(yp), "float64"  # thresholds and bins on the probabilities
        if self._bins is not None and not is_scores:
            raise TypeError(f"y_pred has dtype {yp.dtype}, but a Multilabel with bins needs float scores")
        if yt.shape[0] == 0:
            return
        storage = self._storage
        bounds = self._bounds if is_scores else _inputs.ANY_SCORE
        bad = storage.multilabel_first_bad(yt, yp, w, is_scores, *bounds)
        if bad >= 0:
            hint = _inputs.probability_hint(self._describe(), threshold=True)
            checks = [("y_true", yt, "class", 2), _inputs.score_check("y_pred", yp, bounds, hint) if is_scores
                      else ("y_pred", yp, "class", 2)]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", w, "weight", 0)] if w is not None else []))
        # The batch is valid. What it adds must fit, replicates included, before anything is written.
        draws = None if self._boot is None else self._boot.per_sample(yt.shape[0])
        self._reserve_all(self._masses(_inputs.batch_mass(w, yt.shape[0]), yp if is_scores else None, draws))
        threshold = self._thresholds.get(kind)
        if threshold is None:
            threshold = self._thresholds[kind] = float(_scores.round_to(self.threshold, kind))
        if keep is not None:
            return self._count_masked(yt, yp, keep, w, is_scores, kind, threshold, draws)
        storage.count_multilabel(_COUNTED, yt, yp, w, is_scores, threshold, self.inclusive)
        if self._bins is not None:
            self._bins.count(storage, yp, yt, w, kind, self.inclusive)
        if draws is not None:  # the replicates count the batch with integer Poisson(1) weights
            replicates = tuple(REPLICATES[name] for name in _COUNTED)
            for r in range(draws.shape[0]):
                storage.count_multilabel(replicates, yt, yp, draws[r], is_scores, threshold, self.inclusive,
                                         replicate=r)
        return None

    def _count_masked(self, yt: np.ndarray, yp: np.ndarray, keep: np.ndarray, w: np.ndarray | None, is_scores: bool,
                      kind: str, threshold: float, draws: np.ndarray | None) -> None:
        """ignore_index: count the checked batch's kept entries (keep: (N, L)); every sample is
        counted in the per-sample sums, over its kept entries, and in their ROWS slot."""
        storage = self._storage
        storage.count_multilabel_masked(_COUNTED, yt, yp, keep, w, is_scores, threshold, self.inclusive)
        if self._bins is not None:
            storage.histogram_masked(self._bins.names, yp, yt, keep, w, self._bins.binning(kind), self.inclusive)
        if draws is not None:
            replicates = tuple(REPLICATES[name] for name in _COUNTED)
            for r in range(draws.shape[0]):
                storage.count_multilabel_masked(replicates, yt, yp, keep, draws[r], is_scores, threshold,
                                                self.inclusive, replicate=r)

    def _masses(self, mass: float, scores: np.ndarray | None, draws: np.ndarray | None) -> list[tuple[str, float]]:
        """Bounds on what a batch of total weight mass adds to each state array (Storage.reserve):
        a sample adds 1 to a cell of each label and at most 1 to each per-sample sum."""
        n_labels = self.num_labels
        rows = self.ignore_index is not None
        masses = [(MATRICES, n_labels * mass), samples.mass(mass, rows)]
        if self._bins is not None:
            assert scores is not None
            masses += self._bins.masses(n_labels, mass, largest_score(scores, self._bounds))
        if draws is not None:
            drawn = int(draws.sum())
            masses += [(REPLICATES[MATRICES], n_labels * drawn),
                       (REPLICATES[samples.NAME], samples.mass(drawn, rows)[1])]
        return masses

    # --- metrics --------------------------------------------------------------------------------

    @property
    def n_labelled(self) -> int | float:
        """Number of labelled samples counted so far (total weight when weighted), which every
        label metric reads; with ignore_index, samples whose every entry was ignored included
        (n_samples adds the unlabelled ones)."""
        if self.ignore_index is not None:  # no label's matrix counts every sample: the sums' ROWS slot
            counted = float(samples.rows(self._storage))
            return counted if self.weighted else int(counted)
        return self._storage.host(MATRICES)[0].sum().item()  # type: ignore[no-any-return]

    def _stats(self) -> StatScores:
        return metrics.stats_from_multilabel(self._storage.host(MATRICES))

    def _accuracy_counts(self) -> tuple[Any, Any]:
        return samples.exact_matches(self._storage), self.n_labelled

    def _target_names(self) -> list[str]:
        return [str(i) for i in range(self.num_labels)]

    def _labelled_predictions(self) -> np.ndarray:
        """Per label, the labelled samples' (predicted 0, predicted 1) counts, (L, 2)."""
        return self._storage.host(MATRICES).sum(axis=1)  # type: ignore[no-any-return]

    def _samples_ratio(self, metric: str, zero_division: Any, beta: float) -> float:
        return samples.samples_ratio(self._storage, self.n_labelled, metric, zero_division, beta)

    def confusion_matrix(self, normalize: str | None = None) -> np.ndarray:
        """(L, 2, 2) per-label matrices [[tn, fp], [fn, tp]], as sklearn.metrics.multilabel_confusion_matrix.

        normalize: None, "true", "pred" or "all", applied to each label's matrix.
        """
        return metrics.normalize_confusion(self._storage.host(MATRICES), normalize)

    def accuracy(self) -> float:
        """Subset accuracy: the fraction of samples whose every label is right (accuracy_score)."""
        total = self.n_labelled
        return float(samples.exact_matches(self._storage) / total) if total else float("nan")

    def hamming_loss(self) -> float:
        """Fraction of wrong labels, as sklearn.metrics.hamming_loss."""
        total = self.n_labelled
        mcm = self._storage.host(MATRICES)
        wrong = mcm[:, 0, 1].sum() + mcm[:, 1, 0].sum()
        if self.ignore_index is not None:  # over the entries counted (torchmetrics' MultilabelHammingDistance)
            entries = mcm.sum()
            return float(wrong / entries) if entries else float("nan")
        return float(wrong / (total * self.num_labels)) if total else float("nan")

    def _per_label(self, fn: Any, average: str | None) -> Any:
        """A binary metric of each label's 2x2 matrix, averaged over labels."""
        metrics.check_average(average)
        mcm = self._storage.host(MATRICES)
        if average == "micro":
            return fn(mcm.sum(axis=0))
        values = np.array([fn(cm) for cm in mcm], dtype=np.float64)
        if average is None:
            return values
        return metrics.nanaverage(values, self.support() if average == "weighted" else None)

    def balanced_accuracy(self, average: str | None = "macro", adjusted: bool = False) -> Any:
        """Balanced accuracy of each label (sklearn.metrics.balanced_accuracy_score on its column), averaged."""
        return self._per_label(lambda cm: metrics.balanced_accuracy(cm, adjusted), average)

    def matthews_corrcoef(self, average: str | None = "macro") -> Any:
        """MCC of each label (sklearn.metrics.matthews_corrcoef on its column), averaged."""
        return self._per_label(metrics.matthews_corrcoef, average)

    def cohen_kappa(self, average: str | None = "macro", replace_undefined_by: float = np.nan) -> Any:
        """Cohen's kappa of each label (sklearn.metrics.cohen_kappa_score on its column), averaged."""
        return self._per_label(lambda cm: metrics.cohen_kappa(cm, None, replace_undefined_by), average)
