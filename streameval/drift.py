"""Prediction drift: this accumulator's prediction distribution against a reference's.

Pure functions of binned data (usable without an accumulator), and ``acc.drift(reference,
method=...)`` on Binary, Multiclass and Multilabel, which returns a :class:`DriftResult`
``(method, statistic, p_value, threshold, drifted)``. ``expected`` is the reference's counts,
``actual`` the current ones; shares are counts over their total (e_i, a_i).

Statistics (each equals its scipy counterpart on the same binned data; tests/test_drift.py):

- ``psi``: population stability index, sum_i (a_i - e_i) ln(a_i / e_i). Smoothing: the share of
  an empty bin is replaced, on each side separately and with no renormalisation, by ``eps``;
  by default (``eps=None``) Evidently's rule: 1e-4, or the side's smallest non-zero share / 1e6
  when that share is at most 1e-4. A bin empty on both sides adds 0.
- ``jensenshannon``: the Jensen-Shannon distance in base 2, sqrt((KL(e || m) + KL(a || m)) / 2)
  with m = (e + a) / 2, in [0, 1]: ``scipy.spatial.distance.jensenshannon(e, a, base=2)``. No
  smoothing (0 ln 0 = 0). A divergence that rounds below 0 (near-equal histograms) gives 0, where
  scipy gives NaN.
- ``ks``: the two-sample Kolmogorov-Smirnov statistic, max_i |E_i - A_i| over the cumulative
  shares at the bins, and its two-sided p-value for the sample sizes n, m (the two totals):
  ``scipy.stats.ks_2samp`` on the bin-centre samples expanded from the histograms (the
  statistic is the same there, since the cumulative shares only step at the bins), with its
  method="auto" split. Exact (the share of the lattice paths that leave the band, Hodges'
  inside method) when max(n, m) <= 10000 and the totals are whole numbers, the statistic then
  being h / lcm(n, m) exactly. Otherwise, and when the exact recursion fails (scipy then warns
  and goes on with the rounded statistic h / lcm), scipy's "asymp": the finite-sample
  one-sample distribution ``kstwo.sf(D, round(n m / (n + m)))`` (rounded half to even, as
  numpy), written in ``_kolmogorov`` after the same algorithms (Simard and L'Ecuyer's split:
  Ruben-Gambino, Durbin's matrix, Pomeranz, Pelz-Good, 2 x the one-sided Smirnov sum, and
  scipy's large-n approximation of that sum above n = 10^6). It equals scipy to 1e-12
  relative except where both compute 1 - CDF for a CDF near 1 (agreement ~2e-15 absolute
  there) and far in the tail (up to ~1e-13 relative near 1e-300). Its cost is bounded for any
  n: at most ~15 ms (the Smirnov sum's n terms at n = 10^6), about 1 ms or less for most
  inputs (benchmarks/test_bench_drift.py). With weights the totals are total weights (n m / (n + m) rounded, at least 1).
  ``kolmogorov_sf`` stays the limit distribution (``kstwobign.sf``).
- ``wasserstein``: the first Wasserstein distance between the two histograms placed at the bin
  centres, sum_i |E_i - A_i| (c_{i+1} - c_i): ``scipy.stats.wasserstein_distance(c, c, e, a)``.
  ``acc.drift`` reports it divided by the reference's standard deviation (on the same centres),
  as Evidently's "normed" Wasserstein (``normed=False``: the distance in score units).
- ``chi2``: Pearson's chi-square test of homogeneity on the 2 x K table [expected; actual] of
  predicted-class counts, as ``scipy.stats.chi2_contingency`` (Yates' correction when the table
  has one degree of freedom and ``correction=True``; classes empty on both sides are left out,
  where scipy would refuse the zero expected frequency; statistic 0 and p-value 1 with one
  class left). Its p-value is the chi-square survival function, the regularized upper
  incomplete gamma function Q(df / 2, x / 2) (series and continued fraction, as in Numerical
  Recipes' gammq), tested against ``scipy.stats.chi2.sf``.

Default thresholds (``DEFAULT_THRESHOLDS``, Evidently's): PSI 0.1, Jensen-Shannon 0.1,
Wasserstein (normed) 0.1: drifted when statistic >= threshold; KS and chi-square: drifted when
p_value < 0.05. ``threshold=`` overrides.

Bins: a histogram has len(edges) + 1 cells, the bottom cell holding the scores below the first
edge and the top one those at or above the last (a probability of 1.0): their centres are taken
at the first and the last edge, the others at the middle of their two edges.

scipy is not imported (it is not a run-time dependency): the p-values are written here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import _inputs
from ._kolmogorov import clip_probability, kolmogorov_n_sf
from .errors import IncompatibleError
from .serialization import Kind

__all__ = ["DEFAULT_THRESHOLDS", "DriftResult", "chi2", "chi2_sf", "gammaincc", "jensenshannon", "kolmogorov_sf",
           "ks", "ks_p_value", "psi", "wasserstein"]

#: Default thresholds: distances drift at statistic >= threshold, tests at p_value < threshold.
DEFAULT_THRESHOLDS: dict[str, float] = {"psi": 0.1, "jensenshannon": 0.1, "wasserstein": 0.1, "ks": 0.05,
                                        "chi2": 0.05}
METHODS = tuple(DEFAULT_THRESHOLDS)
TESTS = ("ks", "chi2")  # drifted when the p-value is below the threshold
SCORE_METHODS = ("ks", "wasserstein")  # need score histograms
ALIASES = {"js": "jensenshannon"}
KS_EXACT_MAX_N = 10000  # as scipy.stats.ks_2samp(method="auto"): exact when max(n, m) <= this
PSI_FILL, PSI_FILL_DIVISOR = 1e-4, 1e6  # Evidently's smoothing of empty bins


class DriftResult(NamedTuple):
    """A drift statistic against a reference: ``p_value`` is NaN for the distances (PSI,
    Jensen-Shannon, Wasserstein); ``drifted`` compares the statistic (distances: >= threshold)
    or the p-value (KS, chi-square: < threshold) with ``threshold``."""

    method: str
    statistic: float
    p_value: float
    threshold: float
    drifted: bool


# --- checks ---------------------------------------------------------------------------------------


def _distribution(values: Any, name: str, size: int | None = None) -> np.ndarray:
    """values as a 1-D float64 array of finite counts >= 0 with a positive total."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.shape[0] == 0:
        raise ValueError(f"{name} has shape {array.shape}: expected a non-empty 1-D array of counts")
    if size is not None and array.shape[0] != size:
        raise ValueError(f"{name} has {array.shape[0]} bins, the other {size}: the two must have the same bins")
    bad = np.flatnonzero(~(np.isfinite(array) & (array >= 0)))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] = {float(array[bad[0]])!r} is not a count: expected a finite number >= 0")
    if not array.sum() > 0:
        raise ValueError(f"{name} holds no samples (its counts sum to 0): a distribution needs some")
    return array


def _pair(expected: Any, actual: Any) -> tuple[np.ndarray, np.ndarray]:
    e = _distribution(expected, "expected")
    return e, _distribution(actual, "actual", e.shape[0])


def _checked_threshold(method: str, threshold: Any) -> float:
    if threshold is None:
        return DEFAULT_THRESHOLDS[method]
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
            or not math.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold={threshold!r} is not valid: expected a finite number >= 0")
    return float(threshold)


def result(method: str, statistic: float, p_value: float = math.nan, threshold: Any = None) -> DriftResult:
    """A DriftResult with drifted decided at threshold (None: DEFAULT_THRESHOLDS[method])."""
    limit = _checked_threshold(method, threshold)
    drifted = p_value < limit if method in TESTS else statistic >= limit
    return DriftResult(method, float(statistic), float(p_value), limit, bool(drifted))


# --- distances --------------------------------------------------------------------------------------


def _smoothed(shares: np.ndarray, eps: float | None) -> np.ndarray:
    empty = shares == 0
    if not empty.any():
        return shares
    if eps is None:
        smallest = float(shares[~empty].min())
        eps = smallest / PSI_FILL_DIVISOR if smallest <= PSI_FILL else PSI_FILL
    return np.where(empty, eps, shares)


def psi(expected: Any, actual: Any, eps: float | None = None) -> float:
    """Population stability index of two histograms on the same bins (counts or shares):
    sum (a_i - e_i) ln(a_i / e_i) over the shares, empty bins' shares replaced by eps (None:
    Evidently's rule, see the module docstring)."""
    e, a = _pair(expected, actual)
    if eps is not None and not (isinstance(eps, (int, float, np.floating)) and 0 < eps <= 1):
        raise ValueError(f"eps={eps!r} is not valid: expected a share in (0, 1], or None for Evidently's rule")
    p = _smoothed(e / e.sum(), eps)
    q = _smoothed(a / a.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x ln(x / y), 0 where x is 0, as scipy.special.rel_entr computes it: log1p((x - y) / y)
    where 0.5 < x / y < 2 (accurate when x and y are close, which a small distance is made of)."""
    out = np.zeros_like(x)
    positive = np.flatnonzero(x > 0)
    values = []
    for xi, yi in zip(x[positive].tolist(), y[positive].tolist()):
        ratio = xi / yi
        values.append(xi * math.log1p((xi - yi) / yi) if 0.5 < ratio < 2 else xi * math.log(ratio))
    out[positive] = values
    return out


def jensenshannon(expected: Any, actual: Any) -> float:
    """Jensen-Shannon distance (base 2) of two histograms on the same bins:
    scipy.spatial.distance.jensenshannon(expected, actual, base=2)."""
    e, a = _pair(expected, actual)
    p, q = e / e.sum(), a / a.sum()
    m = (p + q) / 2.0
    js = (np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m))) / math.log(2.0)  # scipy's order of operations
    return math.sqrt(max(float(js) / 2.0, 0.0))


def centres(edges: Any) -> np.ndarray:
    """The centres of the len(edges) + 1 cells of a histogram: the first and last edge for the
    bottom and top cells, the middle of two edges for the others."""
    t = np.asarray(edges, dtype=np.float64)
    return np.concatenate([t[:1], (t[:-1] + t[1:]) / 2.0, t[-1:]])


def wasserstein(positions: Any, expected: Any, actual: Any) -> float:
    """First Wasserstein distance between two histograms of masses at increasing positions:
    scipy.stats.wasserstein_distance(positions, positions, expected, actual)."""
    e, a = _pair(expected, actual)
    x = np.asarray(positions, dtype=np.float64)
    if x.shape != e.shape or not np.isfinite(x).all() or (np.diff(x) <= 0).any():
        raise ValueError(f"positions must be {e.shape[0]} finite increasing values, one a bin")
    gap = np.abs(np.cumsum(e)[:-1] / e.sum() - np.cumsum(a)[:-1] / a.sum())
    return float(np.sum(gap * np.diff(x)))


def spread(positions: Any, counts: Any) -> float:
    """The standard deviation (ddof=0) of the sample of positions repeated counts times: np.std."""
    c = _distribution(counts, "counts")
    x = np.asarray(positions, dtype=np.float64)
    mean = np.sum(c * x) / c.sum()
    return math.sqrt(float(np.sum(c * (x - mean) ** 2) / c.sum()))


# --- Kolmogorov-Smirnov ---------------------------------------------------------------------------


def kolmogorov_sf(z: float) -> float:
    """P(K > z) of the Kolmogorov distribution, the limit of sqrt(n) D_n as n grows:
    scipy.stats.kstwobign.sf. (``ks`` uses the finite-n distribution, ``kstwo``, as scipy.)"""
    if z <= 0:
        return 1.0
    if z < 1.0:  # the theta-function form converges fast for small z
        w = -(math.pi ** 2) / (8.0 * z * z)
        cdf = sum(math.exp((2 * k - 1) ** 2 * w) for k in range(1, 12)) * math.sqrt(2.0 * math.pi) / z
        return clip_probability(1.0 - cdf)
    total, sign = 0.0, 1.0
    for k in range(1, 101):
        term = math.exp(-2.0 * k * k * z * z)
        total += sign * term
        if term < 1e-300 or term < 1e-17 * total:
            break
        sign = -sign
    return clip_probability(2.0 * total)


def _outside_square(n: int, h: int) -> float:
    """P(D_{n,n} >= h/n), Horner-like, as scipy's _compute_prob_outside_square."""
    p = 0.0
    k = n // h
    while k >= 0:
        p1 = 1.0
        for j in range(h):
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1)
        p = p1 * (1.0 - p)
        k -= 1
    return 2 * p


def _exact_ks(d: float, n: int, m: int) -> tuple[float, float | None]:
    """(statistic h / lcm, exact two-sided p-value), the p-value None when the float recursion
    fails (scipy's _attempt_exact_2kssamp: its caller then uses the asymptotic p-value at h / lcm)."""
    g = math.gcd(n, m)
    lcm = (n // g) * m
    h = int(np.round(d * lcm))
    d = h * 1.0 / lcm
    if h == 0:
        return d, 1.0
    if n == m:
        p = _outside_square(n, h)
    else:
        from ._kernels.ks import ks_outside_band  # numba compiles it on first use

        p = ks_outside_band(n, m, g, h)
    if not 0 <= p <= 1:  # NaN included
        return d, None
    return d, p


def ks_p_value(statistic: float, n: float, m: float) -> float:
    """Two-sided p-value of the two-sample KS statistic for sample sizes n and m, as
    scipy.stats.ks_2samp(method="auto"): exact for whole n, m with max(n, m) <= 10000, else
    scipy.stats.kstwo.sf(statistic, round(n m / (n + m))) (see the module docstring)."""
    return _ks_test(statistic, n, m)[1]


def _ks_test(d: float, n: float, m: float) -> tuple[float, float]:
    if float(n).is_integer() and float(m).is_integer() and max(n, m) <= KS_EXACT_MAX_N:
        d, p = _exact_ks(d, int(n), int(m))
        if p is not None:
            return d, p
    # scipy's "asymp" two-sided p-value: kstwo with n m / (n + m) rounded half to even (np.round);
    # at least 1 for weighted totals below 1 (scipy's sizes are whole, so its en is >= 1/2 and
    # rounds to >= 1 unless n = m = 1, which the exact branch takes)
    n, m = float(n), float(m)
    en = n * m / (n + m)
    return d, kolmogorov_n_sf(max(1, round(en)), d)


def ks(expected: Any, actual: Any) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test between two histograms on the same
    increasing bins: scipy.stats.ks_2samp on the samples they hold (any positions, one per bin)."""
    e, a = _pair(expected, actual)
    n, m = float(e.sum()), float(a.sum())
    diff = np.cumsum(e) / n - np.cumsum(a) / m
    d = max(float(np.clip(-diff.min(), 0, 1)), float(diff.max()))
    return _ks_test(d, n, m)


# --- chi-square -------------------------------------------------------------------------------------


def gammaincc(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a), a > 0:
    the series of P = 1 - Q for x < a + 1, else the continued fraction (modified Lentz)."""
    if not a > 0:
        raise ValueError(f"a={a!r} is not valid: expected a > 0")
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(100000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        return clip_probability(1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-17:
            break
    return clip_probability(math.exp(log_front) * h)


def chi2_sf(x: float, df: float) -> float:
    """The chi-square survival function P(X > x) with df degrees of freedom: scipy.stats.chi2.sf."""
    if not df > 0:
        raise ValueError(f"df={df!r} is not valid: expected df > 0")
    return gammaincc(df / 2.0, x / 2.0)


def chi2(expected: Any, actual: Any, correction: bool = True) -> tuple[float, float]:
    """(statistic, p-value) of Pearson's chi-square test of homogeneity on the 2 x K table
    [expected; actual] of class counts: scipy.stats.chi2_contingency (classes empty on both
    sides left out)."""
    e, a = _pair(expected, actual)
    table = np.stack([e, a])
    table = table[:, table.sum(axis=0) > 0]
    dof = table.shape[1] - 1
    if dof == 0:
        return 0.0, 1.0
    freq = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if dof == 1 and correction:  # Yates, no larger than the difference (scipy's gh-13875)
        diff = freq - table
        table = table + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    statistic = float(np.sum((table - freq) ** 2 / freq))
    return statistic, chi2_sf(statistic, dof)


# --- the accumulators' drift() ------------------------------------------------------------------------


# configuration entries that shape the prediction distribution: a reference must share them
_LAYOUT = ("threshold", "pos_label", "inclusive", "bins", "score_range", "from_logits", "num_labels")


def _layout(acc: Any) -> tuple[Any, ...]:
    config = acc._frozen_config
    return (type(acc), tuple(repr(config.get(key)) for key in _LAYOUT), tuple(getattr(acc, "labels", ())))


class DriftMethods:
    """drift() of Binary, Multiclass and Multilabel (a mixin)."""

    _frozen_config: dict[str, Any]

    if TYPE_CHECKING:
        from ._components.predictions import PredictionSide

        def _describe(self) -> str: ...
        def _prediction_side(self) -> PredictionSide: ...

    def _drift_column(self, of: Any) -> tuple[int | None, int | None]:
        """(the histogram column, the predicted-class counts' class) that of names; None: all classes."""
        kind = getattr(self, "_KIND", None)
        if kind == Kind.BINARY:
            if of is not None:
                raise ValueError(f"of={of!r} is not valid: a Binary compares its positive-class scores (of=None)")
            return 0, None
        if kind == Kind.MULTICLASS:
            if of is None:
                return None, None
            labels = list(getattr(self, "labels"))
            wanted = _inputs.canonical(of)
            found = [i for i, label in enumerate(labels) if type(label) is type(wanted) and label == wanted]
            if not found:
                raise ValueError(f"of={of!r} is not valid: expected one of the classes {labels}")
            return found[0], found[0]
        n = int(getattr(self, "num_labels"))
        if of is None and n == 1:
            return 0, 0
        if isinstance(of, (bool, np.bool_)) or not isinstance(of, (int, np.integer)) or not 0 <= of < n:
            raise ValueError(f"of={of!r} is not valid: expected a label position in [0, {n})")
        return int(of), int(of)

    def drift(self, reference: Any, method: str = "psi", *, of: Any = None, threshold: float | None = None,
              eps: float | None = None, normed: bool = True, correction: bool = True) -> DriftResult:
        """Drift of this accumulator's predictions (all samples, labelled and unlabelled) from a
        reference accumulator's (say the validation set's), which must have the same kind, bins,
        labels and threshold (else IncompatibleError). See streameval.drift for the formulas.

        method: "psi", "jensenshannon" (or "js"), "ks", "wasserstein" or "chi2".

        - psi, jensenshannon: on the score histogram of a column when there are bins, else on the
          predicted-class counts;
        - ks, wasserstein: on the score histogram (bins= needed);
        - chi2: on the predicted-class counts (Yates' correction with two classes, ``correction=``).

        The column: Binary, the positive-class score; Multiclass, ``of=`` a class label (the
        histogram of its probability, and predicted counts "of" against the rest), or None (the
        default: the predicted-class counts of all classes; ks and wasserstein then need of=);
        Multilabel, ``of=`` a label position (needed when there are several labels).

        ``threshold`` overrides DEFAULT_THRESHOLDS[method]; ``eps`` is PSI's smoothing (None:
        Evidently's rule); ``normed`` divides the Wasserstein distance by the reference's
        standard deviation (Evidently's default). Returns DriftResult(method, statistic,
        p_value (NaN for the distances), threshold, drifted).
        """
        method = ALIASES.get(method, method) if isinstance(method, str) else method
        if method not in METHODS:
            raise ValueError(f"method={method!r} is not valid: expected one of {METHODS} (or 'js')")
        _checked_threshold(method, threshold)
        reference = _unwrapped(reference)
        if type(reference) is not type(self) or _layout(reference) != _layout(self):
            described = reference._describe() if hasattr(reference, "_describe") else repr(reference)
            raise IncompatibleError(f"Cannot compare {self._describe()} with the reference {described}: drift needs "
                                    "the same kind of accumulator with the same bins, labels and threshold")
        column, index = self._drift_column(of)
        ref, cur = reference._prediction_side(), self._prediction_side()  # labelled and unlabelled samples
        for side, name in ((ref, "the reference"), (cur, "this accumulator")):
            if not side.counts.sum() > 0:
                raise ValueError(f"drift needs samples on both sides, but {name} has counted none")
        use_hist = ref.hist is not None and column is not None and method != "chi2"
        if method in SCORE_METHODS and not use_hist:
            raise ValueError(f'method="{method}" compares score histograms: ' + (
                "create the accumulators with bins=..." if ref.hist is None else "give of= a class or label"))
        if use_hist:
            assert ref.hist is not None and cur.hist is not None and ref.edges is not None
            e, a = ref.hist[column], cur.hist[column]
            if not (e.sum() > 0 and a.sum() > 0):
                raise ValueError("drift needs scores on both sides, but one has no score in its histogram")
        else:
            e, a = _class_counts(ref.counts, index), _class_counts(cur.counts, index)
        if method == "psi":
            return result(method, psi(e, a, eps), threshold=threshold)
        if method == "jensenshannon":
            return result(method, jensenshannon(e, a), threshold=threshold)
        if method == "chi2":
            return result(method, *chi2(e, a, correction), threshold=threshold)
        if method == "ks":
            return result(method, *ks(e, a), threshold=threshold)
        assert ref.edges is not None
        x = centres(ref.edges)
        distance = wasserstein(x, e, a)
        if normed:
            scale = spread(x, e)
            distance = distance / scale if scale > 0 else (0.0 if distance == 0 else math.inf)
        return result(method, distance, threshold=threshold)


def _class_counts(counts: np.ndarray, column: int | None) -> np.ndarray:
    """The predicted-class counts compared: all classes (column None), else (not column, column)
    (Multilabel's (L, 2) counts: the label's row)."""
    if counts.ndim == 2:  # Multilabel: (L, 2)
        assert column is not None
        row: np.ndarray = counts[column]
        return row
    if column is None:
        return counts
    return np.array([counts.sum() - counts[column], counts[column]])


def _unwrapped(reference: Any) -> Any:
    """A Windowed, Decayed or Sliced reference: the accumulator of its current counts."""
    from ._slots import SlotWrapper

    return reference._current() if isinstance(reference, SlotWrapper) else reference
