"""The Accumulator base class: the classification metrics every accumulator of labelled samples shares.

The state (configuration, declared arrays, storage, merge, serialization) is ``_stateful.Stateful``;
the parts an accumulator counts beyond its per-class statistics are components
(``streameval._components``). What is left here is the vocabulary of metrics from per-class
statistics (tp, fp, fn, tn): precision, recall, F-scores, specificity..., their confidence
intervals, the classification report and ``compute()``. A subclass provides ``update``,
``_stats`` (its per-class statistics), ``n_samples`` and ``_accuracy_counts``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from . import _device, _locking, intervals, metrics
from ._device.update import update as _device_update
from ._batch import Layout, Prepared, prepare
from ._device.tensors import gpu_device
from ._direct import count_directly
from ._components import bootstrap as replicates
from ._components.bootstrap import Bootstrap
from ._stateful import Stateful, Summable
from .metrics import StatScores
from .report import Report

if TYPE_CHECKING:  # typing.Self is Python 3.11's; the package runs on 3.10
    from typing_extensions import Self

__all__ = ["DEFAULT", "NO_CLASS", "Accumulator", "DefaultAverage", "Summable"]


def counting_update(doc: str) -> Callable[..., None]:
    """An accumulator's update(): ``self._count(prepare(y_true, y_pred, sample_weight,
    self._layout))`` under the accumulator's lock, with the class's docstring. It takes the lock
    itself (marked locked, so _locking does not wrap it): a small batch's update is about 2 us, a
    tenth of which the generic wrapper's extra call would add."""

    def update(self: Any, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        lock = self.__dict__.get("_lock") or _locking.lock_of(self)
        lock.acquire()
        try:
            device = self._device
            # a tensor on a GPU moves the counts there (a CPU tensor's is_cpu: the cheapest test of the
            # training loop's common input; other arrays are asked by _adopt)
            if device is None and type(y_pred) is not np.ndarray and not getattr(y_pred, "is_cpu", False):
                device = self._adopt(y_pred)
            if device is None:
                if self._direct is not None and sample_weight is None and count_directly(self, y_true, y_pred):
                    return  # a training loop's (N, K) scores: one kernel call (_direct)
                self._count(prepare(y_true, y_pred, sample_weight, self._layout))
            else:
                _device_update(self, y_true, y_pred, sample_weight)
        finally:
            lock.release()

    update.__doc__ = doc
    update.__locked__ = True  # type: ignore[attr-defined]
    return update


class DefaultAverage(enum.Enum):
    """The type of DEFAULT: the accumulator's own default average ("binary" for Binary, "macro"
    for Multiclass and Multilabel). A one-member enum, so that type checkers know it."""

    DEFAULT = "default"

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = DefaultAverage.DEFAULT
Average = str | None | DefaultAverage
# Multiclass(labels="auto") has no class before its first label: a report or a dict of nothing would mislead.
NO_CLASS = '{} needs at least one class: this Multiclass(labels="auto") has seen no label yet'


class Accumulator(Stateful):
    """Base class of Binary, Multiclass and Multilabel. Not instantiated directly."""

    _AVERAGES: ClassVar[tuple[str | None, ...]] = metrics.AVERAGES
    _DEFAULT_AVERAGE: ClassVar[str] = "macro"
    weighted: bool
    bootstrap: int | None = None  # the number of replicates (bootstrap=R), or None
    _boot: Bootstrap | None = None
    _device: Any = None  # the torch.device holding the counts (device=), or None: numpy on the host
    _validate: str = "deferred"  # a device update's checks: "deferred" (drop and report) or "eager"
    _direct: tuple[Any, ...] | None = None  # the arguments of _direct.count_directly's kernel, if it applies

    # --- what a subclass provides -------------------------------------------------------------

    _layout: Layout  # what update() takes (_batch.prepare's parameters), built once per configuration

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Count a batch (see the subclass): ``self._count(_batch.prepare(..., self._layout))``."""
        raise NotImplementedError

    def _count(self, batch: Prepared) -> None:
        """Count a prepared batch into self._storage: the accumulator's own, or the view of a
        wrapper's slot (_slots). Checks values (the kernels name the first bad sample) and bounds
        before anything is written."""
        raise NotImplementedError

    def _stats(self) -> StatScores:
        raise NotImplementedError

    def _accuracy_counts(self) -> tuple[Any, Any]:
        """(correct samples, samples) of accuracy()."""
        raise NotImplementedError

    def _target_names(self) -> list[str]:
        raise NotImplementedError

    # --- where the counts live ------------------------------------------------------------------

    def _place(self, device: Any, validate: Any) -> None:
        """The constructor's device= and validate= (see the accumulators' docstrings)."""
        _device.check_validate(validate)
        if validate != "deferred":
            self._validate = validate
        self._device = None  # (in the instance: update() reads it first, faster than from the class)
        if device is not None:
            _device.place(self, device)

    @property
    def device(self) -> Any:
        """The torch.device holding the counts (``device=``, or a GPU input's), or None: numpy
        arrays on the host."""
        return self._device

    def to(self, device: Any) -> Self:
        """Move the counts to device (a torch.device or a string such as "cuda:0"; None: back to
        the host) and return self, as torch's Module.to does. Queries give the same numbers on
        either side. ValueError, changing nothing, for a configuration that needs host state
        (exact tables, bootstrap, labels that are not integers): see docs/guides/training.md."""
        _device.place(self, device)
        return self

    def _adopt(self, y_pred: Any) -> Any:
        """The device of y_pred when it lives on a GPU (a CUDA tensor, a CuPy or JAX array) and
        this accumulator's configuration can count there: the counts move there first. None
        for host data, and for a CUDA tensor given to a configuration that needs host state (the
        batch is then copied to the host); such an array of another library raises TypeError."""
        device = gpu_device(y_pred)
        if device is None:
            return None
        _device.tensors.resolve(device)  # ImportError without torch, which moves the data
        reason = _device.unsupported(self)
        if reason is not None:
            if type(y_pred).__module__ == "torch":
                return None
            raise TypeError(f"y_pred lives on {device}, but {self._describe()} needs host state ({reason}): copy "
                            "the arrays to the host first (e.g. cupy.asnumpy(y_pred))")
        _device.place(self, device)
        return self._device

    # --- metrics from per-class statistics ------------------------------------------------------

    def _resolve_average(self, average: Average) -> str | None:
        if isinstance(average, DefaultAverage) or average == "default":  # the string: how DEFAULT was once spelt
            return self._DEFAULT_AVERAGE
        metrics.check_average(average, self._AVERAGES)
        return average

    def _ratio(self, metric: str, average: Average, zero_division: Any, beta: float = 1.0) -> Any:
        resolved = self._resolve_average(average)
        if resolved == "binary":
            return float(metrics.ratio(metric, self._stats().select(1), None, zero_division, beta)[0])
        if resolved == "samples":
            return self._samples_ratio(metric, zero_division, beta)
        return metrics.ratio(metric, self._stats(), resolved, zero_division, beta)

    def _samples_ratio(self, metric: str, zero_division: Any, beta: float) -> float:
        raise ValueError('average="samples" is only available for Multilabel')

    def precision(self, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """Precision tp / (tp + fp), as sklearn.metrics.precision_score.

        average: None (per class), "micro", "macro", "weighted" (by support), "binary" (Binary:
        the positive class; its default) or "samples" (Multilabel). Multiclass and Multilabel
        default to "macro". zero_division: "warn" (0.0 and a warning), 0.0, 1.0 or np.nan (the
        class is left out of a macro average).
        """
        return self._ratio("precision", average, zero_division)

    def recall(self, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """Recall (sensitivity) tp / (tp + fn), as sklearn.metrics.recall_score. See precision()."""
        return self._ratio("recall", average, zero_division)

    def fbeta(self, beta: float, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """F-beta score, as sklearn.metrics.fbeta_score. See precision() for average and zero_division."""
        if not (isinstance(beta, (int, float, np.number)) and beta >= 0):
            raise ValueError(f"beta={beta!r} is not valid: expected a number >= 0")
        return self._ratio("fbeta", average, zero_division, float(beta))

    def f1(self, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """F1 score, as sklearn.metrics.f1_score. See precision()."""
        return self._ratio("fbeta", average, zero_division, 1.0)

    def specificity(self, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """Specificity (true negative rate) tn / (tn + fp) of each class against the rest.

        Averages as precision(); "weighted" weights each class by its support (true count).
        """
        return self._ratio("specificity", average, zero_division)

    def npv(self, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """Negative predictive value tn / (tn + fn). See specificity()."""
        return self._ratio("npv", average, zero_division)

    def fpr(self, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """False positive rate fp / (fp + tn). See specificity()."""
        return self._ratio("fpr", average, zero_division)

    def fnr(self, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """False negative rate fn / (fn + tp). See specificity()."""
        return self._ratio("fnr", average, zero_division)

    def jaccard(self, average: Average = DEFAULT, zero_division: Any = "warn") -> Any:
        """Jaccard index tp / (tp + fp + fn), as sklearn.metrics.jaccard_score. See precision()."""
        return self._ratio("jaccard", average, zero_division)

    def support(self) -> np.ndarray:
        """Number (or weight) of true samples of each class."""
        return self._stats().support

    def stat_scores(self, average: Average = None) -> StatScores:
        """tp, fp, fn, tn (and .support) per class (average=None), summed ("micro"), or for the
        positive class ("binary", Binary only)."""
        resolved = self._resolve_average(average)
        stats = self._stats()
        if resolved == "binary":
            return stats.select(1)
        if resolved == "micro":
            return stats.pooled()
        if resolved is not None:
            raise ValueError(f'stat_scores takes average=None, "micro" or "binary", got {resolved!r}')
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

    def interval(self, metric: str, level: float = 0.95, *, method: str = "wilson", average: Average = DEFAULT,
                 **options: Any) -> Any:
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
        if average == "default":
            average = DEFAULT
        if method == "bootstrap":
            return replicates.interval(self, metric, level, average, options, DEFAULT, self._REPLICATED_METRICS)
        if method not in ("wilson", "clopper-pearson"):
            raise ValueError(f'method={method!r} is not valid: expected "wilson", "clopper-pearson" or "bootstrap"')
        if options:
            raise TypeError(f"{method} intervals take no metric options ({', '.join(options)}): those are for method=\"bootstrap\"")
        formula = intervals.wilson if method == "wilson" else intervals.clopper_pearson
        return formula(*self._proportion_counts(metric, average), level)

    def _proportion_counts(self, metric: str, average: Average) -> tuple[Any, Any]:
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
            if average is not DEFAULT:
                raise ValueError(f"accuracy takes no average, got average={average!r}")
            return self._accuracy_counts()
        resolved = self._resolve_average(average)
        stats = self._stats()
        if resolved == "micro" and metric not in self._MICRO_PROPORTIONS:
            raise ValueError(
                f'average="micro" pools {metric} counts that count a sample more than once, so they are not '
                'independent trials: use average=None or method="bootstrap"'
            )
        if resolved not in (None, "binary", "micro"):
            raise ValueError(
                f'average={resolved!r} is not a proportion: use average=None (per class), "micro" or '
                f'"binary" where available, or method="bootstrap" with bootstrap=R replicates'
            )
        stats = stats.select(1) if resolved == "binary" else stats.pooled() if resolved == "micro" else stats
        successes, trials = metrics.RATIOS[metric][0](stats, 1.0)
        return (successes, trials) if resolved is None else (successes[0], trials[0])

    def reseed(self, seed: Any = None) -> None:
        """Restart the random generator of the bootstrap replicates from seed (None: fresh entropy).

        An accumulator rebuilt by from_bytes, from_dict, load or pickle draws from a generator
        seeded with fresh entropy; reseed it to make the rest of a run reproducible. Each worker
        must draw differently, e.g. seed=(base_seed, rank): see streameval.intervals.
        """
        if self._boot is None:
            raise ValueError("reseed() is for bootstrap replicates: this accumulator has none (bootstrap=None)")
        self._boot = self._boot.reseeded(seed)

    # --- reports --------------------------------------------------------------------------------

    _REPORT_AVERAGES: ClassVar[tuple[str, ...]] = ("micro", "macro", "weighted")
    _MICRO_IS_ACCURACY: ClassVar[bool] = True  # one prediction per sample: the report's micro row is accuracy

    def report(self, digits: int = 2, zero_division: Any = "warn", target_names: Any = None) -> Report:
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
        return Report(rows, averages, digits, micro_is_accuracy=self._MICRO_IS_ACCURACY)

    _COMPUTE_RATIOS: ClassVar[tuple[str, ...]] = ("precision", "recall", "f1", "specificity", "jaccard")
    _COMPUTE_SCALARS: ClassVar[tuple[str, ...]] = ()

    def compute(self, prefix: str = "", zero_division: Any = 0.0) -> dict[str, float]:
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

    def plot(self, kind: str = "confusion_matrix", *, path: Any = None, **options: Any) -> Any:
        """Draw a plot (needs matplotlib: the "plot" extra); returns the Figure.

        kind: "confusion_matrix" (normalize=, index= for a Multilabel), "roc_curve",
        "pr_curve" (index=), or "reliability_diagram" (n_bins=); options go to the function of
        the same name in streameval.plot. path: also save the figure there (.png, .svg, .pdf...).
        """
        from . import plot as plots  # plot reads accumulators through their methods; it imports none of them

        return plots.plot(self, kind, path=path, **options)
