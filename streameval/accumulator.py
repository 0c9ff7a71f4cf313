"""The Accumulator base class: state arrays, merge, copy, equality, serialization, metric methods.

A subclass declares its configuration (``_config``), the shapes of its count arrays
(``_state_spec``), how it turns a batch into counts (``update``) and its per-class statistics
(``_stats``). Everything here then works on it unchanged: merging is adding the arrays,
serializing is writing them.
"""

from __future__ import annotations

import inspect
import reprlib
from typing import ClassVar

import numpy as np

from . import _inputs, _kernels, _locking, _scores, _threads, checkpoint, curves, intervals, limits, metrics, serialization
from .errors import IncompatibleError
from .metrics import StatScores
from .report import Report
from .statevector import StateVector

DEFAULT = "default"  # stands for the accumulator's default average: "binary" or "macro"
_NO_WEIGHT = np.empty(0)
# Multiclass(labels="auto") has no class before its first label: a report or a dict of nothing would mislead.
NO_CLASS = '{} needs at least one class: this Multiclass(labels="auto") has seen no label yet'


class Summable:
    """a + b, a += b and sum([a, b, c]) from merge() and copy(): 0 is the identity of the sum.

    Anything else that is not a streameval accumulator gives Python's TypeError ("unsupported
    operand type(s) for +"), as 1 + "x" does.
    """

    @staticmethod
    def _is_zero(other) -> bool:
        return isinstance(other, int) and not isinstance(other, bool) and other == 0

    def __iadd__(self, other):
        if self._is_zero(other):
            return self
        if not isinstance(other, Summable):
            return NotImplemented
        return self.merge(other)

    def __add__(self, other):
        if self._is_zero(other):
            return self.copy()
        if not isinstance(other, Summable):
            return NotImplemented
        return self.copy().merge(other)

    __radd__ = __add__

    def _merge_refusal(self) -> str | None:
        """Why merge() refuses this object whatever the other one is, or None."""
        return None

    def _check_sums_fit(self, pairs, done: str = "merged") -> None:
        """OverflowError, before anything is added, when adding theirs to mine (each (name, mine,
        theirs)) would take a total past streameval.limits' bounds (abs_totals: a few hundred ns)."""
        for name, mine, theirs in pairs:
            self._check_total(name, limits.abs_totals(mine, theirs), mine.dtype, done)

    def _check_total(self, name: str, total: float, dtype: np.dtype, done: str, share: int = 1) -> None:
        """OverflowError unless total (of |counts| of name) * share is within streameval.limits' bounds."""
        if not limits.total_fits(total * share, dtype):
            bound = "the largest float64" if dtype.kind == "f" else f"streameval.limits.MAX_COUNT = {limits.MAX_COUNT:,}"
            bound += f" / {share} (a bucket's share of the ring)" if share > 1 else ""
            raise OverflowError(f"{self._describe()}: the counts {name} would total more than {bound}; "
                                f"nothing was {done}")


class Accumulator(Summable, StateVector):
    """Base class of Binary, Multiclass and Multilabel. Not instantiated directly."""

    _KIND: ClassVar[int]
    # State arrays that hold sums of scores, which may be negative (logits); all others are counts.
    _SIGNED_STATE: ClassVar[frozenset] = frozenset({"_score_sums", "_conf_sums", "_table_scores"})
    _AVERAGES: ClassVar[tuple] = metrics.AVERAGES
    _DEFAULT_AVERAGE: ClassVar[str] = "macro"
    weighted: bool

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_KIND" in cls.__dict__:
            serialization.REGISTRY[cls._KIND] = cls
        _locking.lock_public_methods(cls)  # thread safety: see _locking

    # --- what a subclass provides -------------------------------------------------------------

    def _config(self) -> dict:
        """The constructor's keyword arguments, JSON-safe."""
        raise NotImplementedError

    @classmethod
    def _state_spec(cls, **config) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Attribute name -> (shape, dtype) of each count array, checked without allocating.

        A dimension of -1 grows with the data (an exact score table); it starts at 0.
        """
        raise NotImplementedError

    def _merge_counts(self, other) -> None:
        """Add other's counts to ours (both are known compatible)."""
        for mine, theirs in zip(self._arrays(), other._arrays()):
            mine += theirs

    def _check_state(self) -> None:
        """Raise ValueError if the state arrays are inconsistent (called on deserialized state)."""

    def _stats(self) -> StatScores:
        raise NotImplementedError

    @property
    def n_samples(self) -> int | float:
        """Number of samples counted so far (total weight when weighted)."""
        raise NotImplementedError

    # --- score bins (bins=, score_range=) shared by the three accumulators ----------------------

    bins = None

    def _set_bins(self, bins, score_range) -> None:
        """Keep the bins configuration, JSON-safe, and the edges it gives."""
        self.bins = None if bins is None else (int(bins) if isinstance(bins, (int, np.integer)) else [float(b) for b in bins])
        self.score_range = (float(score_range[0]), float(score_range[1]))
        self._edges, self._uniform = (None, False) if bins is None else _scores.make_edges(bins, score_range)

    def _bins_config(self) -> dict:
        return {} if self.bins is None else {"bins": self.bins, "score_range": list(self.score_range)}

    def _need_bins(self, what: str) -> None:
        if self.bins is None:
            raise ValueError(f"{what} needs score histograms: create the accumulator with bins=...")

    @property
    def out_of_range(self) -> tuple:
        """(below, above): how many scores fell outside the bins' range (counted in the edge bins)."""
        self._need_bins("out_of_range")
        return tuple(v.item() for v in self._out_of_range)

    def _column_cells(self, index: int, what: str):
        self._need_bins(what)
        n = self._hist.shape[0]
        if not (isinstance(index, (int, np.integer)) and -n <= index < n):
            raise ValueError(f"index={index!r} is not valid: expected a class or label position in [0, {n})")
        return curves.binned_cells(self._hist[index], self._edges)

    # --- bootstrap replicates (bootstrap=, seed=) shared by the three accumulators --------------

    bootstrap = None
    # (state array, the array of its R bootstrap replicates) pairs
    _REPLICATED: ClassVar[tuple[tuple[str, str], ...]]

    def _set_bootstrap(self, bootstrap, seed) -> None:
        """Keep the number of replicates (configuration) and their random generator (not
        configuration: workers with different seeds must merge)."""
        if bootstrap is None and seed is not None:
            raise ValueError(f"seed={seed!r} is for bootstrap replicates: give bootstrap=R too")
        self.bootstrap = None if bootstrap is None else int(bootstrap)
        self._boot_rng = None if bootstrap is None else intervals.generator(seed)

    def _bootstrap_config(self) -> dict:
        return {} if self.bootstrap is None else {"bootstrap": self.bootstrap}

    def reseed(self, seed=None) -> None:
        """Restart the random generator of the bootstrap replicates from seed (None: fresh entropy).

        An accumulator rebuilt by from_bytes, from_dict, load or pickle draws from a generator
        seeded with fresh entropy; reseed it to make the rest of a run reproducible. Each worker
        must draw differently, e.g. seed=(base_seed, rank): see streameval.intervals.
        """
        if self.bootstrap is None:
            raise ValueError("reseed() is for bootstrap replicates: this accumulator has none (bootstrap=None)")
        self._boot_rng = intervals.generator(seed)

    # --- state ----------------------------------------------------------------------------------

    def _arrays(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in self._spec]

    def reset(self) -> None:
        """Forget every sample: all counts back to zero."""
        # The configuration never changes after __init__: keep it and the state layout at hand,
        # for merges and serialization that run once per batch.
        self._frozen_config = self._config()
        self._spec = self._state_spec(**self._frozen_config)  # which checks the state's size
        for name, (shape, dtype) in self._spec.items():
            setattr(self, name, np.zeros(tuple(max(d, 0) for d in shape), dtype))

    @property
    def is_empty(self) -> bool:
        """True when no sample (or only zero weight) has been counted."""
        return not any(a.any() for a in self._arrays())

    def copy(self):
        """An independent copy: same configuration, same counts."""
        new = object.__new__(type(self))
        new.__dict__ = _locking.unlocked_dict(self)
        for name in self._spec:
            setattr(new, name, getattr(self, name).copy())
        return new

    def _describe(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"

    def __repr__(self) -> str:
        return f"<{self._describe()} n_samples={self.n_samples}>"

    def _check_compatible(self, other) -> None:
        if not isinstance(other, Summable):
            raise IncompatibleError(f"Cannot merge {self._describe()} with {reprlib.repr(other)} (type "
                                    f"{type(other).__name__}): merge() takes another {type(self).__name__}")
        if type(other) is not type(self) or other._frozen_config != self._frozen_config:
            raise IncompatibleError(f"Cannot merge {self._describe()} with {other._describe()}")

    # State arrays that merge() combines by another rule than adding: an exact table's scores and shift.
    _NOT_ADDED: ClassVar[frozenset] = frozenset({"_table_scores", "_table_shift"})

    def merge(self, other) -> "Accumulator":
        """Add other's counts to this accumulator in place and return it; other is unchanged.

        Raises IncompatibleError, changing nothing, when the types or configurations differ, and
        OverflowError, changing nothing, when a sum would pass streameval.limits' bounds (an int64
        count array's total above MAX_COUNT, a float64 one that is not finite).
        """
        self._check_compatible(other)
        # Totals: laying out discovered labels or exact tables again moves counts but keeps their sum.
        for name in self._spec:
            mine = getattr(self, name)
            total = limits.abs_totals(mine, getattr(other, name))
            if not limits.total_fits(total, mine.dtype) and name not in self._NOT_ADDED:
                self._check_total(name, total, mine.dtype, "merged")
        self._merge_counts(other)
        return self

    def __eq__(self, other) -> bool:
        if type(other) is not type(self) or other._frozen_config != self._frozen_config:
            return False
        return all(np.array_equal(a, b) for a, b in zip(self._arrays(), other._arrays()))

    __hash__ = None  # mutable

    # --- serialization --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A versioned binary payload; read it back with streameval.from_bytes (safe on untrusted bytes)."""
        config_bytes = self.__dict__.get("_config_bytes")
        if config_bytes is None:  # checked and encoded once: the configuration never changes
            config_bytes = self._config_bytes = serialization.config_json(self._frozen_config).encode()
        return serialization.encode(self._KIND, config_bytes, self._arrays())

    def to_dict(self) -> dict:
        """A JSON-safe dict; read it back with streameval.from_dict."""
        return {
            "format": "streameval",
            "version": serialization.VERSION,
            "kind": type(self).__name__,
            "config": self._config(),
            "state": [a.tolist() for a in self._arrays()],
        }

    def __reduce__(self):
        return serialization.from_bytes, (self.to_bytes(),)

    def save(self, path) -> None:
        """Write a checkpoint atomically (temporary file, fsync, rename); read it with streameval.load."""
        checkpoint.save(self, path)

    def plot(self, kind: str = "confusion_matrix", *, path=None, **options):
        """Draw a plot (needs matplotlib: the "plot" extra); returns the Figure.

        kind: "confusion_matrix" (normalize=, index= for a Multilabel), "roc_curve",
        "pr_curve" (index=), or "reliability_diagram" (n_bins=); options go to the function of
        the same name in streameval.plot. path: also save the figure there (.png, .svg, .pdf...).
        """
        from . import plot as plots  # imports matplotlib only now

        return plots.plot(self, kind, path=path, **options)

    # --- metrics from per-class statistics ------------------------------------------------------

    def _resolve_average(self, average):
        average = self._DEFAULT_AVERAGE if average == DEFAULT else average
        metrics.check_average(average, self._AVERAGES)
        return average

    def _ratio(self, metric, average, zero_division, beta=1.0):
        average = self._resolve_average(average)
        if average == "binary":
            return float(metrics.ratio(metric, self._stats().select(1), None, zero_division, beta)[0])
        if average == "samples":
            return self._samples_ratio(metric, zero_division, beta)
        return metrics.ratio(metric, self._stats(), average, zero_division, beta)

    def _samples_ratio(self, metric, zero_division, beta):
        raise ValueError('average="samples" is only available for Multilabel')

    def precision(self, average=DEFAULT, zero_division="warn"):
        """Precision tp / (tp + fp), as sklearn.metrics.precision_score.

        average: None (per class), "micro", "macro", "weighted" (by support), "binary" (Binary:
        the positive class; its default) or "samples" (Multilabel). Multiclass and Multilabel
        default to "macro". zero_division: "warn" (0.0 and a warning), 0.0, 1.0 or np.nan (the
        class is left out of a macro average).
        """
        return self._ratio("precision", average, zero_division)

    def recall(self, average=DEFAULT, zero_division="warn"):
        """Recall (sensitivity) tp / (tp + fn), as sklearn.metrics.recall_score. See precision()."""
        return self._ratio("recall", average, zero_division)

    def fbeta(self, beta: float, average=DEFAULT, zero_division="warn"):
        """F-beta score, as sklearn.metrics.fbeta_score. See precision() for average and zero_division."""
        if not (isinstance(beta, (int, float, np.number)) and beta >= 0):
            raise ValueError(f"beta={beta!r} is not valid: expected a number >= 0")
        return self._ratio("fbeta", average, zero_division, float(beta))

    def f1(self, average=DEFAULT, zero_division="warn"):
        """F1 score, as sklearn.metrics.f1_score. See precision()."""
        return self._ratio("fbeta", average, zero_division, 1.0)

    def specificity(self, average=DEFAULT, zero_division="warn"):
        """Specificity (true negative rate) tn / (tn + fp) of each class against the rest.

        Averages as precision(); "weighted" weights each class by its support (true count).
        """
        return self._ratio("specificity", average, zero_division)

    def npv(self, average=DEFAULT, zero_division="warn"):
        """Negative predictive value tn / (tn + fn). See specificity()."""
        return self._ratio("npv", average, zero_division)

    def fpr(self, average=DEFAULT, zero_division="warn"):
        """False positive rate fp / (fp + tn). See specificity()."""
        return self._ratio("fpr", average, zero_division)

    def fnr(self, average=DEFAULT, zero_division="warn"):
        """False negative rate fn / (fn + tp). See specificity()."""
        return self._ratio("fnr", average, zero_division)

    def jaccard(self, average=DEFAULT, zero_division="warn"):
        """Jaccard index tp / (tp + fp + fn), as sklearn.metrics.jaccard_score. See precision()."""
        return self._ratio("jaccard", average, zero_division)

    def support(self) -> np.ndarray:
        """Number (or weight) of true samples of each class."""
        return self._stats().support

    def stat_scores(self, average=None) -> StatScores:
        """tp, fp, fn, tn (and .support) per class (average=None), summed ("micro"), or for the
        positive class ("binary", Binary only)."""
        average = self._resolve_average(average)
        stats = self._stats()
        if average == "binary":
            return stats.select(1)
        if average == "micro":
            return stats.pooled()
        if average is not None:
            raise ValueError(f'stat_scores takes average=None, "micro" or "binary", got {average!r}')
        return stats

    # --- confidence intervals -------------------------------------------------------------------

    # Metrics that are a proportion of samples: successes out of trials, for Wilson and Clopper-Pearson.
    _PROPORTIONS: ClassVar[tuple[str, ...]] = ("accuracy", "precision", "recall", "specificity", "npv", "fpr", "fnr", "jaccard")
    # The proportions whose "micro" pooled counts still count each sample once.
    _MICRO_PROPORTIONS: ClassVar[tuple[str, ...]] = ()
    # Metrics of the replicated counts, for the bootstrap.
    _REPLICATED_METRICS: ClassVar[tuple[str, ...]] = (
        "accuracy", "balanced_accuracy", "hamming_loss", "matthews_corrcoef", "cohen_kappa", "precision", "recall",
        "f1", "fbeta", "specificity", "npv", "fpr", "fnr", "jaccard",
    )

    def _accuracy_counts(self) -> tuple:
        """(correct samples, samples) of accuracy()."""
        raise NotImplementedError

    def interval(self, metric: str, level: float = 0.95, *, method: str = "wilson", average=DEFAULT, **options):
        """A confidence interval (low, high) for a metric of the stream, at confidence ``level``.

        method="wilson" (the default) or "clopper-pearson" (exact, conservative) cover metrics that
        are a proportion of samples: accuracy (Multilabel: subset accuracy), precision, recall,
        specificity, npv, fpr, fnr and jaccard. average=None gives one interval per class (two
        arrays), "binary" (Binary's default) the positive class's, "micro" the pooled counts' where
        they count each sample once (Binary and Multiclass precision, recall and fnr, which equal
        accuracy or its complement). "macro" and "weighted" are no proportion: use the bootstrap.
        They need counts of samples, so a weighted accumulator is refused. An empty denominator
        gives (nan, nan).

        method="bootstrap" needs the accumulator created with bootstrap=R and covers every metric
        of the confusion matrices: the above, f1, fbeta (beta=...), balanced_accuracy,
        matthews_corrcoef, cohen_kappa, hamming_loss, with any average the metric takes. It
        computes the metric on each replicate and returns the percentile interval: the (1 -
        level) / 2 and (1 + level) / 2 quantiles of the R values (NaN if any replicate's value is
        NaN). ``options`` go to the metric method (beta=, zero_division=, adjusted=, weights=);
        zero_division="warn" (the default) gives 0/0 the value 0.0 without a warning per
        replicate. Score metrics (roc_auc, brier_score, top-k accuracy...) are not replicated.
        See streameval.intervals for the replicates, their cost and the seeds of workers.

        >>> import streameval
        >>> acc = streameval.Binary()
        >>> acc.update([1, 1, 0, 1], [1, 0, 0, 1])
        >>> [round(bound, 3) for bound in acc.interval("recall")]
        [0.208, 0.939]
        """
        level = intervals.check_level(level)
        if method == "bootstrap":
            return self._bootstrap_interval(metric, level, average, options)
        if method not in ("wilson", "clopper-pearson"):
            raise ValueError(f'method={method!r} is not valid: expected "wilson", "clopper-pearson" or "bootstrap"')
        if options:
            raise TypeError(f"{method} intervals take no metric options ({', '.join(options)}): those are for method=\"bootstrap\"")
        formula = intervals.wilson if method == "wilson" else intervals.clopper_pearson
        return formula(*self._proportion_counts(metric, average), level)

    def _proportion_counts(self, metric: str, average) -> tuple:
        """(successes, trials) of a proportion metric: scalars, or per-class arrays for average=None."""
        if metric not in self._PROPORTIONS:
            raise ValueError(
                f"metric={metric!r} is not a proportion: Wilson and Clopper-Pearson intervals cover "
                f"{', '.join(self._PROPORTIONS)}; use method=\"bootstrap\" for other metrics"
            )
        if self.weighted:
            raise ValueError(
                "Wilson and Clopper-Pearson intervals need counts of samples, but this accumulator's "
                "counts are sums of weights (weighted=True)"
            )
        if metric == "accuracy":
            if average != DEFAULT:
                raise ValueError(f"accuracy takes no average, got average={average!r}")
            return self._accuracy_counts()
        average = self._resolve_average(average)
        stats = self._stats()
        if average == "micro" and metric not in self._MICRO_PROPORTIONS:
            raise ValueError(
                f'average="micro" pools {metric} counts that count a sample more than once, so they are not '
                'independent trials: use average=None or method="bootstrap"'
            )
        if average not in (None, "binary", "micro"):
            raise ValueError(
                f'average={average!r} is not a proportion: use average=None (per class), "micro" or '
                f'"binary" where available, or method="bootstrap" with bootstrap=R replicates'
            )
        stats = stats.select(1) if average == "binary" else stats.pooled() if average == "micro" else stats
        successes, trials = metrics.RATIOS[metric][0](stats, 1.0)
        return (successes, trials) if average is None else (successes[0], trials[0])

    def _bootstrap_interval(self, metric: str, level: float, average, options: dict):
        if self.bootstrap is None:
            raise ValueError(
                f'method="bootstrap" needs bootstrap replicates: create the accumulator with bootstrap=R, '
                f"e.g. {type(self).__name__}(..., bootstrap=200)"
            )
        if metric not in self._REPLICATED_METRICS:
            raise ValueError(
                f"metric={metric!r} has no bootstrap interval: the replicates keep the confusion-matrix counts, "
                f"which give {', '.join(self._REPLICATED_METRICS)}"
            )
        if options.get("top_k") is not None:
            raise ValueError("top-k accuracy counts ranks of scores, which the bootstrap replicates do not keep")
        parameters = inspect.signature(getattr(type(self), metric)).parameters
        if average != DEFAULT:
            if "average" not in parameters:
                raise ValueError(f"{metric} takes no average, got average={average!r}")
            options["average"] = average
        if "zero_division" in parameters and isinstance(options.get("zero_division", "warn"), str):
            options["zero_division"] = 0.0  # the value "warn" gives, without a warning per replicate
        # The metric method itself, on a shallow twin whose replicated states are one replicate's.
        replica = object.__new__(type(self))
        replica.__dict__ = _locking.unlocked_dict(self)
        values = []
        for r in range(self.bootstrap):
            for state, replicates in self._REPLICATED:
                setattr(replica, state, getattr(self, replicates)[r])
            values.append(getattr(replica, metric)(**options))
        return intervals.percentile_interval(np.array(values, dtype=np.float64), level)

    # --- reports --------------------------------------------------------------------------------

    _REPORT_AVERAGES: ClassVar[tuple[str, ...]] = ("micro", "macro", "weighted")

    def _target_names(self) -> list[str]:
        raise NotImplementedError

    def report(self, digits: int = 2, zero_division="warn", target_names=None) -> Report:
        """A classification report laid out like sklearn.metrics.classification_report.

        str(report) is the text table; report.to_dict() is classification_report(output_dict=True).
        """
        names = [str(n) for n in (target_names if target_names is not None else self._target_names())]
        support = self.support()
        if not len(support):
            raise ValueError(NO_CLASS.format("report()"))
        if len(names) != len(support):
            raise ValueError(f"target_names has {len(names)} names for {len(support)} classes")
        per_class = [
            self._ratio(m, None, zero_division, 1.0) for m in ("precision", "recall", "fbeta")
        ]
        rows = list(zip(names, *per_class, support))
        averages = []
        for avg in self._REPORT_AVERAGES:
            scores = [self._ratio(m, avg, zero_division, 1.0) for m in ("precision", "recall", "fbeta")]
            averages.append((avg, *scores, np.sum(support)))
        return Report(rows, averages, digits, micro_is_accuracy=self._KIND != 3)

    _COMPUTE_RATIOS: ClassVar[tuple[str, ...]] = ("precision", "recall", "f1", "specificity", "jaccard")
    _COMPUTE_SCALARS: ClassVar[tuple[str, ...]] = ()

    def compute(self, prefix: str = "", zero_division=0.0) -> dict[str, float]:
        """A flat dict of floats for loggers, e.g. {"accuracy": ..., "f1_macro": ..., "recall_weighted": ...}.

        Ill-defined ratios take ``zero_division`` (default 0.0, silent: loggers call this often).
        """
        out = {name: float(getattr(self, name)()) for name in self._COMPUTE_SCALARS}
        for avg in self._AVERAGES:
            if avg is None:
                continue
            for name in self._COMPUTE_RATIOS:
                key = name if avg == "binary" else f"{name}_{avg}"
                if avg == "samples" and name not in ("precision", "recall", "f1", "jaccard"):
                    continue
                out[key] = float(getattr(self, name)(average=avg, zero_division=zero_division))
        return {prefix + k: v for k, v in out.items()}


class OneVsRestCurves:
    """Score metrics of Multiclass (classes) and Multilabel (labels) with bins=: one (negatives,
    positives) histogram per column, each read as a binary problem against the rest."""

    _OVR_AVERAGES: ClassVar[tuple]

    def roc_auc(self, average="macro"):
        """ROC AUC of each column (None) averaged "macro", "weighted" (by positives), or "micro"
        (Multilabel: columns pooled), as sklearn.metrics.roc_auc_score (multi_class="ovr" for
        Multiclass). Pairs inside a bin count as ties: the middle of roc_auc_bounds."""
        self._need_bins("roc_auc")
        return curves.per_column(curves.roc_auc, self._hist, self._edges, average, self._OVR_AVERAGES)

    def roc_auc_bounds(self, average=None):
        """Guaranteed (lower, upper) brackets of the exact ROC AUC: per column as two arrays, or
        "micro" (Multilabel) as two floats."""
        self._need_bins("roc_auc_bounds")
        if average == "micro" and "micro" in self._OVR_AVERAGES:
            return curves.per_column(curves.auc_bounds, self._hist, self._edges, "micro")
        bounds = curves.per_column(curves.auc_bounds, self._hist, self._edges, average, (None,))
        return bounds[:, 0], bounds[:, 1]

    def average_precision(self, average="macro"):
        """Average precision of each column, averaged as roc_auc (sklearn.metrics.average_precision_score)."""
        self._need_bins("average_precision")
        return curves.per_column(curves.average_precision, self._hist, self._edges, average, self._OVR_AVERAGES)

    def roc_curve(self, index: int):
        """(fpr, tpr, thresholds) of one class or label against the rest, at the bin edges (exact there)."""
        return curves.roc_curve(self._column_cells(index, "roc_curve"))

    def pr_curve(self, index: int):
        """(precision, recall, thresholds) of one class or label against the rest, at the bin edges."""
        return curves.pr_curve(self._column_cells(index, "pr_curve"))


class CalibrationMetrics:
    """Brier score, log loss and reliability of probabilities (Binary: the scores; Multiclass:
    the score rows and the top-label confidence), from running sums and histograms.

    With bins, calibration_curve(n_bins) needs n_bins to divide the histogram's bins on [0, 1],
    so that every calibration bin is a union of histogram bins. It then equals
    sklearn.calibration.calibration_curve, except for a score exactly on a calibration edge when
    inclusive=True (the histogram puts it in the upper bin, scikit-learn in the lower).
    """

    _calib: np.ndarray

    def _brier_scale(self) -> float:
        return 0.5  # scikit-learn halves the two-column sum of a binary problem

    def _need_probabilities(self, what: str) -> None:
        self._need_bins(what)

    def _calibration(self, n_bins: int):
        """(fraction of positives, mean probability, weight) of each non-empty bin."""
        raise NotImplementedError

    def _checked_total(self, what: str):
        self._need_probabilities(what)
        if self._calib[_kernels.OUTSIDE_UNIT] > 0:
            raise ValueError(f"{what} needs probabilities, but some scores were outside [0, 1]")
        return self.n_samples

    def brier_score(self) -> float:
        """Mean squared error of the probabilities, as sklearn.metrics.brier_score_loss."""
        total = self._checked_total("brier_score")
        return float(self._brier_scale() * self._calib[_kernels.BRIER] / total) if total else float("nan")

    def log_loss(self) -> float:
        """Cross-entropy of the probabilities, as sklearn.metrics.log_loss: each probability clipped
        to [eps, 1 - eps], eps of the scores' dtype as given (float16 scores: float16's eps)."""
        total = self._checked_total("log_loss")
        return float(self._calib[_kernels.LOG_LOSS] / total) if total else float("nan")

    def calibration_curve(self, n_bins: int = 5):
        """(fraction of positives, mean probability) per non-empty bin (a reliability diagram)."""
        return self._calibration(n_bins)[:2]

    def expected_calibration_error(self, n_bins: int = 15) -> float:
        """Weighted mean over bins of |fraction of positives - mean probability|."""
        return curves.expected_calibration_error(*self._calibration(n_bins))


def _replicates_spec(bootstrap, weighted, spec: dict) -> dict:
    """The bootstrap's state arrays, name -> (shape, dtype): each of spec's with R replicates in front."""
    if bootstrap is None:
        return {}
    _inputs.check_count("bootstrap", bootstrap)
    if bootstrap > limits.MAX_BOOTSTRAP:
        raise ValueError(f"bootstrap={bootstrap!r} is more replicates than streameval.limits.MAX_BOOTSTRAP = "
                         f"{limits.MAX_BOOTSTRAP:,}: a few hundred give percentile intervals; raise the limit for more")
    if weighted:
        raise ValueError(
            "bootstrap= needs an unweighted accumulator: with sample weights a cell's bootstrap weight "
            "(a sum of weight * Poisson(1) terms) is not Poisson, so it cannot be drawn per cell"
        )
    replicates = {name: ((int(bootstrap), *shape), dtype) for name, (shape, dtype) in spec.items()}
    # Checked here too, not only for the whole state: discovered labels grow the replicates R times as fast.
    limits.check_state_size(replicates, f"bootstrap={int(bootstrap)} replicates of {len(spec)} count array(s)")
    return replicates


def _short(value) -> str:
    if isinstance(value, list) and len(value) > 6:
        return repr(value[:5])[:-1] + ", ...]"
    return repr(value)


class ConfusionAccumulator(Accumulator):
    """Shared by Binary and Multiclass: the state is a (K, K) confusion matrix, rows = true."""

    _cm: np.ndarray
    _COMPUTE_SCALARS = ("accuracy", "balanced_accuracy", "matthews_corrcoef", "cohen_kappa", "hamming_loss")
    _REPLICATED = (("_cm", "_boot_cm"),)
    _MICRO_PROPORTIONS = ("precision", "recall", "fnr")  # one prediction per sample: micro = accuracy

    def _stats(self) -> StatScores:
        return metrics.stats_from_confusion(self._cm)

    def _accuracy_counts(self) -> tuple:
        return np.trace(self._cm), self._cm.sum()

    def _batch_table(self) -> np.ndarray:
        """Where the kernels count a batch: the confusion matrix, or with bootstrap replicates a
        zero table that _add_resampled adds once the batch is known to be valid."""
        return self._cm if self.bootstrap is None else np.zeros_like(self._cm)

    def _add_resampled(self, table: np.ndarray, commit=None) -> None:
        """Add a valid batch's table to the counts, and a Poisson draw of it to every replicate;
        first check that both sums fit streameval.limits (OverflowError, nothing written), then
        call commit() (the rest of the batch's state, which must not fail) and add.

        Each sample lands in exactly one cell, so a cell's replicate weight is Poisson(its count):
        exact in distribution, O(R * non-zero cells) whatever the batch's size.
        """
        cells, draws = intervals.poisson_draws(table, self.bootstrap, self._boot_rng)
        _inputs.reserve_all(self, (("_cm", int(table.sum())), ("_boot_cm", int(draws.sum()))))
        if commit is not None:
            commit()
        self._cm += table
        intervals.add_draws(self._boot_cm, cells, draws)

    def _count_pairs(self, y_true, y_pred, weight, n, ignore=0, use_ignore=False) -> None:
        """Count class-index pairs with the right kernel; raise naming the first bad sample, or
        OverflowError when the counts would pass streameval.limits, before anything is written."""
        table = self._cm if self.bootstrap is None else self._batch_table()
        if table is self._cm:
            _inputs.reserve(self, "_cm", y_true.shape[0] if weight is None else _inputs.batch_mass(weight, y_true.shape[0]))
        if weight is None and y_true.shape[0] < _threads.PARALLEL_MIN and table is self._cm:  # the fewest calls
            bad = _kernels.count_pairs(y_true, y_pred, n, ignore, use_ignore, self._cm)
        else:
            kernel = _kernels.count_pairs if weight is None else _kernels.count_pairs_weighted
            batch = (y_true, y_pred) if weight is None else (y_true, y_pred, weight)
            bad = _threads.count_in_chunks(kernel, batch, (n, ignore, use_ignore), (table,))
        if bad >= 0:
            checks = [("y_true", y_true, "class", n), ("y_pred", y_pred, "class", n)]
            raise _inputs.diagnose(bad, checks + ([("sample_weight", weight, "weight", 0)] if weight is not None else []))
        if table is not self._cm:
            self._add_resampled(table)

    @property
    def n_samples(self):
        return self._cm.sum().item()

    def compute(self, prefix: str = "", zero_division=0.0) -> dict[str, float]:
        fill = metrics.check_zero_division(zero_division)
        if not self._cm.size:
            raise ValueError(NO_CLASS.format("compute()"))
        if isinstance(zero_division, str) or np.isnan(fill):
            return super().compute(prefix, zero_division)
        # Every metric in one kernel call: the same floats as the methods (tests check it).
        k = self._cm.shape[0]
        per_class, averages, scalars = np.empty((8, k)), np.empty((8, 3)), np.empty(5)
        _kernels.summarize_confusion(self._cm, fill, per_class, averages, scalars)
        out = dict(zip(self._COMPUTE_SCALARS, scalars.tolist()))
        rows = {name: i for i, name in enumerate(_kernels.RATIO_NAMES)}
        columns = {"micro": 0, "macro": 1, "weighted": 2}
        for avg in self._AVERAGES:
            for name in self._COMPUTE_RATIOS if avg is not None else ():
                if avg == "binary":
                    out[name] = float(per_class[rows[name], 1])
                else:
                    out[f"{name}_{avg}"] = float(averages[rows[name], columns[avg]])
        return {prefix + key: value for key, value in out.items()}

    compute.__doc__ = Accumulator.compute.__doc__

    def confusion_matrix(self, normalize=None) -> np.ndarray:
        """The confusion matrix, rows = true class, columns = predicted, as sklearn.metrics.confusion_matrix.

        normalize: None (counts), "true" (rows sum to 1), "pred" (columns) or "all".
        """
        return metrics.normalize_confusion(self._cm, normalize)

    def accuracy(self) -> float:
        """Fraction of correct predictions (weighted by sample_weight), as sklearn.metrics.accuracy_score."""
        return metrics.accuracy(self._cm)

    def hamming_loss(self) -> float:
        """Fraction of wrong predictions, as sklearn.metrics.hamming_loss."""
        total = self._cm.sum()
        return float((total - np.trace(self._cm)) / total) if total else float("nan")

    def balanced_accuracy(self, adjusted: bool = False) -> float:
        """Mean recall over the classes present in y_true, as sklearn.metrics.balanced_accuracy_score."""
        return metrics.balanced_accuracy(self._cm, adjusted)

    def matthews_corrcoef(self) -> float:
        """Matthews correlation coefficient, as sklearn.metrics.matthews_corrcoef."""
        return metrics.matthews_corrcoef(self._cm)

    def cohen_kappa(self, weights=None, replace_undefined_by=np.nan) -> float:
        """Cohen's kappa, as sklearn.metrics.cohen_kappa_score; weights None, "linear" or "quadratic"."""
        return metrics.cohen_kappa(self._cm, weights, replace_undefined_by)
