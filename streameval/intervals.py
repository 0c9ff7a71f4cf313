"""Confidence intervals: Wilson and Clopper-Pearson for proportions, and the Poisson bootstrap.

``wilson`` and ``clopper_pearson`` take counts (successes out of trials) and need no scipy: the
normal quantile is ``statistics.NormalDist().inv_cdf``, and the beta quantile of Clopper-Pearson
solves the regularized incomplete beta function (a continued fraction) for its argument.

The bootstrap is a fused Poisson bootstrap. Resampling a stream with replacement gives each sample
a weight; the Poisson bootstrap draws the weights independently from Poisson(1), which
approximates the multinomial weights of a classic resample and needs no knowledge of the stream's
length. A confusion matrix's cell holding c samples then has the weight Poisson(c) in a replicate
(a sum of c independent Poisson(1)), so :func:`poisson_draws` draws each cell's replicate
counts directly: exact in distribution, at a cost that does not grow with the batch.

Seeds. Replicates of different workers add up to replicates of the whole stream only if their
draws are independent, so each worker needs its own generator: seed=None (fresh entropy) or a
distinct seed such as seed=(base_seed, rank); equal seeds fed equal batches would draw equal
replicates. The seed is not configuration: accumulators with different seeds merge. copy() (and
so ``a + b``) shares the original's generator: both keep drawing from one stream, independently.
An accumulator rebuilt by from_bytes, from_dict, load or pickle draws from a generator seeded with
fresh entropy; ``reseed(seed)`` makes the rest of a run reproducible.
"""

from __future__ import annotations

import math
import struct
from statistics import NormalDist
from typing import Any

import numpy as np

from . import _inputs

_DOUBLE, _BITS = struct.Struct("<d"), struct.Struct("<q")


def check_level(level: Any) -> float:
    """The confidence level as a float; ValueError unless it lies strictly between 0 and 1."""
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, (int, float, np.number)) or not 0 < level < 1:
        raise ValueError(f"level={_inputs.show(level)} is not valid: expected a number strictly between 0 and 1, such as 0.95")
    return float(level)


def _counts(successes: Any, trials: Any) -> tuple[np.ndarray, np.ndarray]:
    """successes and trials as broadcast float64 arrays; ValueError naming the first bad position."""
    given = {}
    for name, value in (("successes", successes), ("trials", trials)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {arr.dtype}: expected numbers")
        bad = _inputs.first_bad(arr, lambda a: np.isfinite(a) & (a >= 0))
        if bad is not None:
            raise ValueError(f"{name}{_where(bad)} = {arr[bad].item()!r} is not a count: expected a finite number >= 0")
        given[name] = arr
    try:
        s, n = np.broadcast_arrays(given["successes"], given["trials"])
    except ValueError:
        shapes = " and ".join(str(a.shape) for a in given.values())
        raise ValueError(f"successes and trials have shapes {shapes}, which do not broadcast") from None
    bad = _inputs.first_bad(s, lambda a: a <= n)
    if bad is not None:
        raise ValueError(f"successes{_where(bad)} = {s[bad].item()!r} exceeds trials{_where(bad)} = {n[bad].item()!r}")
    return s.astype(np.float64), n.astype(np.float64)


def _where(index: tuple[int, ...]) -> str:
    return f"[{', '.join(str(int(i)) for i in index)}]" if index else ""


Interval = tuple[float, float] | tuple[np.ndarray, np.ndarray]


def _result(low: np.ndarray, high: np.ndarray, scalar: bool) -> Interval:
    return (float(low), float(high)) if scalar else (low, high)


def wilson(successes: Any, trials: Any, level: float = 0.95) -> Interval:
    """The Wilson score interval (low, high) of the proportion successes / trials.

    Arrays broadcast together and give arrays; scalars give floats. Where trials is 0 the
    interval is (nan, nan). The bounds are clipped to [0, 1]: 0 exactly when there is no success,
    1 exactly when every trial is one.
    """
    level = check_level(level)
    s, n = _counts(successes, trials)
    z = NormalDist().inv_cdf((1 + level) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        center = (s + z * z / 2) / (n + z * z)
        half = z / (n + z * z) * np.sqrt(s * (n - s) / n + z * z / 4)
        low = np.where(s == 0, 0.0, np.clip(center - half, 0.0, 1.0))
        high = np.where(s == n, 1.0, np.clip(center + half, 0.0, 1.0))
    empty = n == 0
    low[empty] = high[empty] = np.nan
    return _result(low, high, np.ndim(successes) == 0 and np.ndim(trials) == 0)


def clopper_pearson(successes: Any, trials: Any, level: float = 0.95) -> Interval:
    """The Clopper-Pearson ("exact") interval (low, high) of the proportion successes / trials.

    Its bounds are quantiles of beta distributions: low = Beta(s, n - s + 1).ppf((1 - level) / 2)
    (0 when s = 0) and high = Beta(s + 1, n - s).ppf((1 + level) / 2) (1 when s = n), found to
    about 1e-13 relative up to a million trials (1e-12 at 1e8, 1e-10 at 1e12: the logarithms of
    the density grow).
    The upper bound is found as 1 minus a lower quantile, to about 1e-16 absolute: below about
    1e-6 (a few successes in millions of trials) that is all it has (scipy.stats.beta does no
    better there). Counts need not be integers. Arrays
    broadcast and give arrays; scalars give floats; trials = 0 gives (nan, nan). An interval takes
    a millisecond or two (20 ms at 1e12 trials).
    """
    level = check_level(level)
    s, n = _counts(successes, trials)
    tail = (1 - level) / 2
    low, high = np.empty(s.shape), np.empty(s.shape)
    for index in np.ndindex(s.shape):
        k, m = float(s[index]), float(n[index])
        if m == 0:
            low[index] = high[index] = np.nan
            continue
        low[index] = 0.0 if k == 0 else _beta_lower_quantile(tail, k, m - k + 1)
        # high's upper tail is the lower tail of 1 - high's mirrored distribution
        high[index] = 1.0 if k == m else 1.0 - _beta_lower_quantile(tail, m - k, k + 1)
    return _result(low, high, np.ndim(successes) == 0 and np.ndim(trials) == 0)


# --- the beta distribution ----------------------------------------------------------------------

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_STIRLING_MIN = 10.0  # from here on the Stirling series below is accurate to double precision


def _stirling_correction(x: float) -> float:
    """lgamma(x) - ((x - 0.5) log x - x + log(2 pi) / 2), for x >= _STIRLING_MIN."""
    r = 1.0 / (x * x)
    return (1 / 12 - r * (1 / 360 - r * (1 / 1260 - r * (1 / 1680 - r * (1 / 1188 - r * 691 / 360360))))) / x


def _log_beta(a: float, b: float) -> float:
    """log B(a, b) for a, b > 0, accurate when the arguments are large.

    lgamma(a) + lgamma(b) - lgamma(a + b) would subtract numbers of size (a + b) log(a + b) and
    lose all but a few digits for a million trials; the Stirling series lets the large terms
    cancel analytically.
    """
    a, b = min(a, b), max(a, b)
    if b < _STIRLING_MIN:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    correction = _stirling_correction(b) - _stirling_correction(a + b)
    if a < _STIRLING_MIN:  # lgamma(a) - (lgamma(a + b) - lgamma(b))
        return math.lgamma(a) - ((b - 0.5) * math.log1p(a / b) + a * math.log(a + b) - a) + correction
    return (_HALF_LOG_2PI - 0.5 * math.log(a + b) - (a - 0.5) * math.log1p(b / a) - (b - 0.5) * math.log1p(a / b)
            + _stirling_correction(a) + correction)


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz), which converges fast for
    x < (a + 1) / (a + b + 2), in about sqrt(max(a, b)) terms at worst."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000 + 10 * int(math.sqrt(max(a, b)))):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= c * d
        if abs(c * d - 1.0) < 3e-16:
            break
    return h


def _beta_cdf(x: float, a: float, b: float) -> tuple[float, float]:
    """(I_x(a, b), x (1 - x) times the density at x) for 0 < x < 1.

    The continued fraction converges fast below (a + 1) / (a + b + 2); above, it gives the upper
    tail, I_{1-x}(b, a), instead.
    """
    scaled_density = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    if x < (a + 1) / (a + b + 2):
        return scaled_density * _beta_fraction(x, a, b) / a, scaled_density
    return 1.0 - scaled_density * _beta_fraction(1.0 - x, b, a) / b, scaled_density


def _between(lo: float, hi: float) -> float:
    """The double halfway between two non-negative doubles in their bit order: bisection this way
    reaches full precision in at most 64 steps, even near 0."""
    lo_bits, hi_bits = (_BITS.unpack(_DOUBLE.pack(v))[0] for v in (lo, hi))
    middle: float = _DOUBLE.unpack(_BITS.pack((lo_bits + hi_bits) // 2))[0]
    return middle


def _beta_lower_quantile(p: float, a: float, b: float) -> float:
    """x in (0, 1) with I_x(a, b) = p, for 0 < p <= 1/2.

    Newton's method on log I against log x (the cdf behaves like x**a near 0, so this converges
    from any starting point of the right order), kept inside a bracket of the root that every
    evaluation tightens, with a bisection step whenever Newton leaves the bracket or stalls.
    """
    lo, hi = 0.0, 1.0
    # Start from the cdf's leading term near 0, x**a / (a B(a, b)), or the mean if that is smaller.
    log_x = (math.log(p) + math.log(a) + _log_beta(a, b)) / a
    x = min(math.exp(min(log_x, 0.0)), a / (a + b))
    x = x if 0 < x < 1 else 0.5
    last_step = math.inf
    while True:
        cdf, scaled_density = _beta_cdf(x, a, b)
        if cdf == p:
            return x
        if cdf < p:
            lo = x
        else:
            hi = x
        # d log(cdf) / d log(x) = x * density / cdf
        denominator = (1.0 - x) * cdf
        slope = scaled_density / denominator if denominator > 0 else math.nan
        step = (math.log(cdf) - math.log(p)) / slope if 0 < slope < math.inf else math.inf
        guess = x * math.exp(-step) if abs(step) < 700 else math.nan
        if not lo < guess < hi or abs(step) > 0.5 * last_step:
            guess = _between(lo, hi)
        if guess in (lo, hi, x) or abs(guess - x) <= 2e-16 * x:
            return guess if lo < guess < hi else x
        last_step, x = abs(math.log(guess / x)), guess


# --- the Poisson bootstrap ------------------------------------------------------------------------


def generator(seed: Any) -> np.random.Generator:
    """numpy's random generator for ``seed`` (None, an integer, a tuple of integers such as
    (base_seed, worker_rank), a SeedSequence or a Generator); ValueError naming seed if invalid."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seed={seed!r} is not valid: {exc}") from None


def poisson_draws(table: np.ndarray, replicates: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(cells, draws): the flat indices of the table's non-zero cells and, for each of R
    replicates, an independent Poisson(count) draw of each, shape (R, cells). A Poisson(0) is 0,
    so only those cells are drawn: O(R * non-zero cells). Nothing is added yet (the storage's
    add_draws), so a caller can check that the sums fit first."""
    cells = np.flatnonzero(table)
    return cells, rng.poisson(table.reshape(-1)[cells], size=(replicates, cells.size))


def percentile_interval(values: np.ndarray, level: float) -> Interval:
    """The percentile interval of bootstrap replicates' values (axis 0): their (1 - level) / 2
    and (1 + level) / 2 quantiles, as floats for scalar values, arrays for per-class ones. A NaN
    among the replicates makes the bound NaN."""
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)
