"""Bootstrap replicates (bootstrap=R, seed=): R Poisson-bootstrap copies of the arrays an
accumulator declares ``replicated_by`` (its confusion matrices, Multilabel's per-sample sums), for
``interval(metric, method="bootstrap")``. See streameval.intervals for the method and the seeds.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _inputs, _locking, intervals, limits
from .._kernels import sampling
from .._state import StateArray, replicated

if TYPE_CHECKING:
    from .._stateful import Stateful
    from ..accumulator import Accumulator, Average, DefaultAverage
    from .._storage import Storage


class Bootstrap:
    """The number of replicates (configuration) and their random generator (not configuration:
    workers with different seeds must merge)."""

    def __init__(self, replicates: int, seed: Any):
        self.replicates = int(replicates)
        self.rng = intervals.generator(seed)

    @staticmethod
    def declare(spec: Mapping[str, StateArray], replicates: Mapping[str, str], bootstrap: Any,
                weighted: bool) -> dict[str, StateArray]:
        """spec with the arrays named in replicates (name -> name of the replicates) replicated
        bootstrap times; spec as it is when bootstrap is None."""
        if bootstrap is None:
            return spec  # type: ignore[return-value]  # (a dict being built by the caller)
        _inputs.check_count("bootstrap", bootstrap)
        if bootstrap > limits.MAX_BOOTSTRAP:
            raise ValueError(f"bootstrap={bootstrap!r} is more replicates than streameval.limits.MAX_BOOTSTRAP = "
                             f"{limits.MAX_BOOTSTRAP:,}: a few hundred give percentile intervals; raise the limit for more")
        if weighted:
            raise ValueError(
                "bootstrap= needs an unweighted accumulator: with sample weights a cell's bootstrap weight "
                "(a sum of weight * Poisson(1) terms) is not Poisson, so it cannot be drawn per cell"
            )
        out = replicated(spec, replicates, int(bootstrap))
        # Checked here too, not only for the whole state: discovered labels grow the replicates R times as fast.
        limits.check_state_size({name: out[name] for name in replicates.values()},
                                f"bootstrap={int(bootstrap)} replicates of {len(replicates)} count array(s)")
        return out

    @staticmethod
    def check_seed(bootstrap: Any, seed: Any) -> None:
        if bootstrap is None and seed is not None:
            raise ValueError(f"seed={seed!r} is for bootstrap replicates: give bootstrap=R too")

    def reseeded(self, seed: Any) -> Bootstrap:
        """The same replicates drawn from a new generator (a new object: copies and accumulators
        read from one payload share the old one)."""
        return Bootstrap(self.replicates, seed)

    def resample(self, owner: Stateful, batch: Storage, commit: Callable[[], None] | None = None) -> None:
        """Add a valid batch counted aside (batch: the replicated arrays) to the counts, and a
        Poisson draw of it to every replicate; first check that both sums fit streameval.limits
        (OverflowError, nothing written), then call commit() (the rest of the batch's state,
        which must not fail) and add.

        Each sample lands in exactly one cell, so a cell's replicate weight is Poisson(its count):
        exact in distribution, O(R * non-zero cells) whatever the batch's size.
        """
        draws, masses = [], []
        for name in batch.spec:  # the replicated arrays, counted aside
            replicates = owner._spec[name].replicated_by
            assert replicates is not None
            table = batch.host(name)
            mass = int(table.sum())
            cells, drawn, total = poisson_draws(table, self.replicates, self.rng, mass)
            draws.append((replicates, cells, drawn))
            masses += [(name, mass), (replicates, total)]
        owner._reserve_all(masses)
        if commit is not None:
            commit()
        owner._storage.add_counted(batch, batch.spec)
        for replicates, cells, drawn in draws:
            owner._storage.add_draws(replicates, cells, drawn)

    def per_sample(self, n: int) -> np.ndarray:
        """(R, n) Poisson(1) weights: each replicate's weight of each sample of a batch."""
        out = np.empty((self.replicates, n), dtype=np.int64)
        sampling.poisson_counts(np.ones(n, dtype=np.int64), self.replicates, seed(self.rng), sampling.THRESHOLDS,
                                sampling.GUIDE, out)
        return out


def seed(rng: np.random.Generator) -> int:
    """A seed of the sampling kernels' own generator, drawn from rng (one draw per batch: the
    same generator state gives the same replicates)."""
    return int(rng.integers(0, 2**63 - 1, dtype=np.int64))


def poisson_draws(table: np.ndarray, replicates: int, rng: np.random.Generator,
                  mass: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(cells, draws, total): the flat indices of the table's non-zero cells, for each of R
    replicates an independent Poisson(count) draw of each, shape (R, cells), and the draws' sum.
    A Poisson(0) is 0, so only those cells are drawn: O(R * non-zero cells). The sampling kernel
    draws the counts up to its SMALL_MEAN; larger ones (a few cells of large batches) come from
    rng's own Poisson sampler. Nothing is added yet (the storage's add_draws), so a caller can
    check that the sums fit first. mass: the table's sum where the caller has it. One kernel call
    finds the cells and draws them (no seed is drawn from rng for an empty table)."""
    flat = table.reshape(-1)
    if flat.dtype != np.int64:
        flat = flat.astype(np.int64)
    if not (flat.any() if mass is None else mass):
        return np.empty(0, dtype=np.int64), np.empty((replicates, 0), dtype=np.int64), 0
    cells, drawn, total, large = sampling.table_draws(flat, replicates, seed(rng), sampling.THRESHOLDS, sampling.GUIDE)
    if large:  # rare: a cell holding more than SMALL_MEAN samples of the batch
        means = flat[cells]
        wide = np.flatnonzero(means > sampling.SMALL_MEAN)
        big = rng.poisson(means[wide], size=(replicates, wide.size))
        drawn[:, wide] = big
        total += int(big.sum())
    return cells, drawn, total


def interval(acc: Accumulator, metric: str, level: float, average: Average, options: dict[str, Any],
             default: DefaultAverage, replicated_metrics: tuple[str, ...]) -> intervals.Interval:
    """The percentile interval of metric over the replicates: the metric method itself, run on a
    shallow twin of acc whose replicated arrays are one replicate's."""
    boot: Bootstrap | None = acc._boot
    if boot is None:
        raise ValueError(
            f'method="bootstrap" needs bootstrap replicates: create the accumulator with bootstrap=R, '
            f"e.g. {type(acc).__name__}(..., bootstrap=200)"
        )
    if metric not in replicated_metrics:
        raise ValueError(
            f"metric={metric!r} has no bootstrap interval: the replicates keep the confusion-matrix counts, "
            f"which give {', '.join(replicated_metrics)}"
        )
    if options.get("top_k") is not None:
        raise ValueError("top-k accuracy counts ranks of scores, which the bootstrap replicates do not keep")
    parameters = inspect.signature(getattr(type(acc), metric)).parameters
    if average is not default:
        if "average" not in parameters:
            raise ValueError(f"{metric} takes no average, got average={average!r}")
        options["average"] = average
    if "zero_division" in parameters and isinstance(options.get("zero_division", "warn"), str):
        options["zero_division"] = 0.0  # the value "warn" gives, without a warning per replicate
    replica = object.__new__(type(acc))
    replica.__dict__ = _locking.unlocked_dict(acc)
    values = []
    for replicate in acc._storage.replicates():
        replica._storage = replicate
        values.append(getattr(replica, metric)(**options))
    return intervals.percentile_interval(np.array(values, dtype=np.float64), level)
