"""The finite-n Kolmogorov distribution: P(D_n >= x) for the one-sample two-sided statistic D_n.

``kolmogorov_n_sf(n, x)`` equals ``scipy.stats.kstwo.sf(x, n)`` (which is what
``scipy.stats.ks_2samp`` uses for its asymptotic two-sided p-value, with n = round(n1 n2 / (n1 + n2))),
and ``smirnov(n, x)`` equals ``scipy.special.smirnov(n, x)``, the one-sided P(D+_n >= x). Both are
written here with math and numpy only (scipy is not a run-time dependency), after the published
algorithms and with scipy's choice of algorithm for each (n, x), so that the approximations scipy
makes (Pelz-Good, its large-n formula for the one-sided tail) are made here in the same places:

Simard and L'Ecuyer's case split (J. Stat. Softw. 39(11), 2011), as scipy's ``_kolmogn``, t = n x:

- x <= 1/(2n): 1; x >= 1: 0.
- t <= 1 (Ruben-Gambino): 1 - n!/n^n (2t - 1)^n.      - t >= n - 1: 2 (1 - x)^n.
- x >= 1/2: 2 smirnov(n, x), exact there (D+ >= x and D- >= x cannot both happen).
- n <= 140: n x^2 <= 0.754693: Durbin's matrix (Marsaglia, Tsang and Wang 2003); n x^2 <= 4:
  Pomeranz's recursion (1974); else 2 smirnov(n, x) (its error is below double precision there).
- n > 140: n x^2 >= 370: 0; n x^2 >= 2.2: 2 smirnov(n, x); else Durbin's matrix when
  n <= 100000 and n x^1.5 <= 1.4, the Pelz-Good expansion (1976) otherwise.

``smirnov``, the Smirnov / Birnbaum-Tingey sum (as scipy.special.smirnov, Ann. Math. Statist. 1951):
P(D+_n >= x) = x sum_{v=0}^{floor(n(1-x))} C(n, v) (1 - x - v/n)^(n-v) (x + v/n)^(v-1), with scipy's
special cases: n = 1: 1 - x; x <= 1/n: 1 - x (1 + x)^(n-1); -2 n x^2 < -745.13: 0 (the value
underflows); x >= 1 - 1/n: (1 - x)^n; n > 1e6: scipy's approximation exp(-(6 n x + 1)^2 / (18 n))
(not the sum); and, where the complement has at most 3 terms (n >= 10, x <= 1/(2 sqrt(n))), 1 minus
that complement. For n >= 2^31 scipy.special.smirnov overflows its C int (NaN, or the value for n
modulo 2^32): the large-n formula is kept there.

Cost: every branch is bounded. Durbin's matrix has 2 ceil(n x) - 1 <= 115 rows where it is used
(n x <= 1.4^(2/3) n^(1/3), n <= 100000) and is raised to the n-th power by squaring (at most 17
squarings, 0.2 ms at n = 5e4); Pomeranz runs 2n + 1 <= 281 short convolutions (~1 ms); Pelz-Good sums at most
8 terms; the Smirnov sum has floor(n (1 - x)) terms, so at most 10^6 (~15 ms in numpy at n = 10^6,
where scipy's double-double C loop takes ~1 s), and the large-n formula is O(1). Any n (10^12
included) and x finish.

Accuracy against scipy (measured over a dense grid of every branch and its edges, n = 1 .. 2^31 - 1;
tests/test_drift.py): scipy evaluates the Smirnov sum in double-double, and here each term is exp
of a log-term written without cancellation (see ``_smirnov_sum``): relative difference ~1e-14,
at most ~9e-14 (for values near 1e-200 .. 1e-300). Durbin, Pomeranz and Pelz-Good give the CDF and
the SF is 1 - CDF (in scipy too): the CDFs, rounded in different orders, agree to ~2e-15 absolute, so
the SF to 1e-12 relative only where SF >~ 2e-3 (worst: ~2e-12 relative at SF ~ 6e-4, n x^2 = 4,
Pomeranz, where each is ~1e-12 from the exact value).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = ["kolmogorov_n_sf", "smirnov"]

SMIRNOV_MAX_N = 1_000_000  # scipy.special.smirnov sums the series up to this n, approximates above
MIN_LOG = -7.451332191019412076235e2  # cephes' MINLOG: smirnov is 0 once -2 n x^2 is below it
SMALL_N = 140  # Simard-L'Ecuyer: the exact algorithms for n <= 140, approximations above
DURBIN_MAX_N = 100_000  # above it the Durbin matrix gets too big: Pelz-Good

# ln 2 split as in fdlibm (Cody and Waite): LN2_HI has 32 significant bits, so j * LN2_HI is exact
# for |j| < 2^21 and n - j ln 2 is found without losing the low bits of ln 2.
LN2_HI = float.fromhex("0x1.62e42fee00000p-1")
LN2_LO = 1.90821492927058770002e-10
TWO_PI = 2.0 * math.pi
SQRT_2PI = math.sqrt(TWO_PI)

# Stirling's series for log k! - ((k + 1/2) log k - k + log(2 pi) / 2) = sum_j B_2j / (2j (2j - 1) k^(2j - 1)):
# for k >= 8 eight terms leave an error below 1e-16.
STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400)
STIRLING_MIN_K = 8


def _stirling_remainder(k: np.ndarray) -> np.ndarray:
    """omega(k) = log k! - ((k + 1/2) log k - k + log(2 pi) / 2) for whole k >= 1 (float array), to
    an absolute 1e-17 (it is added to logs): the series, cut after its last term above 1e-18 at the
    smallest k >= 8, and a table below 8."""
    big = k >= STIRLING_MIN_K
    everywhere = bool(big.all())
    kb = k if everywhere else k[big]
    out = np.empty_like(k)
    if kb.size:
        smallest = float(kb.min())
        terms = sum(1 for j, c in enumerate(STIRLING) if abs(c) / smallest ** (2 * j + 1) > 1e-18) + 1
        terms = min(terms, len(STIRLING))
        r2 = 1.0 / (kb * kb)
        acc = np.full_like(kb, STIRLING[terms - 1])
        for c in STIRLING[terms - 2::-1]:
            acc *= r2
            acc += c
        acc /= kb
        if everywhere:
            return acc
        out[big] = acc
    small = ~big
    out[small] = _SMALL_REMAINDERS[k[small].astype(np.int64)]
    return out


def _small_remainders() -> np.ndarray:
    """omega(0..7): downwards from the series at 8, omega(k) = omega(k + 1) - 1 + (k + 1/2) log(1 + 1/k)
    (each step loses only about one unit in the last place; omega(0) is not used)."""
    table = np.zeros(STIRLING_MIN_K + 1)
    k8 = float(STIRLING_MIN_K)
    table[STIRLING_MIN_K] = sum(c / k8 ** (2 * j + 1) for j, c in enumerate(STIRLING))
    for k in range(STIRLING_MIN_K - 1, 0, -1):
        table[k] = table[k + 1] - 1.0 + (k + 0.5) * math.log1p(1.0 / k)
    return table


_SMALL_REMAINDERS = _small_remainders()


def _omega(k: int) -> float:
    return float(_stirling_remainder(np.array([float(k)]))[0])


def _log1pmx(y: np.ndarray) -> np.ndarray:
    """log(1 + y) - y, y > -1, to a few units in the last place of the result (which is what the
    Smirnov terms need: the +-y parts of their logs cancel exactly and are left out). Near 0 by
    log(1 + y) = 2 atanh(s), s = y / (2 + y): log(1 + y) - y = -y s + 2 (s^3/3 + s^5/5 + ...), the
    series cut where s^2 makes its terms negligible; elsewhere log1p(y) - y loses at most ~5 ulp."""
    near = (y >= -0.5) & (y <= 1.0)  # |s| <= 1/3
    everywhere = bool(near.all())
    yn = y if everywhere else y[near]
    out = np.empty_like(y)
    if yn.size:
        s = yn / (2.0 + yn)
        s2 = s * s
        worst = float(s2.max())
        terms = 1 if worst < 1e-300 else max(1, min(18, math.ceil(-38.5 / math.log(worst)) + 1))  # s2^terms < 2^-55
        acc = np.full_like(s, 1.0 / (2 * terms + 1))
        for j in range(terms - 1, 0, -1):
            acc *= s2
            acc += 1.0 / (2 * j + 1)
        acc *= 2.0 * s * s2
        acc -= yn * s
        if everywhere:
            return acc
        out[near] = acc
    far = ~near
    yf = y[far]
    out[far] = np.log1p(yf) - yf
    return out


def _exact_floor(n: int, x: float) -> tuple[int, float]:
    """(floor(n x), n x - floor(n x)) of the exact product (the float product may round up to the
    next integer, which would change the number of terms)."""
    product = Fraction(x) * n
    whole = math.floor(product)
    frac = float(product - whole)
    if frac == 1.0:  # within 2^-54 of the next integer: as scipy, take it as that integer
        return whole + 1, 0.0
    return whole, frac


# --- the one-sided tail -------------------------------------------------------------------------


def smirnov(n: int, x: float) -> float:
    """P(D+_n >= x), the one-sided one-sample Kolmogorov-Smirnov survival function:
    scipy.special.smirnov(n, x) (see the module docstring for its cases)."""
    if n < 1:
        raise ValueError(f"n={n!r}: the sample size must be a whole number >= 1")
    x = float(x)
    if not 0.0 <= x <= 1.0:  # NaN included
        return math.nan
    if n == 1:
        return 1.0 - x
    if x == 0.0:
        return 1.0
    if x == 1.0:
        return 0.0
    whole, frac = _exact_floor(n, x)
    if whole == 0 or (whole == 1 and frac == 0.0):  # x <= 1/n: the complement is its v = n term
        return clip_probability(1.0 - x * math.exp((n - 1) * math.log1p(x)))
    if float(-2 * n) * x * x < MIN_LOG:
        return 0.0
    if whole >= n - 1:  # x >= 1 - 1/n: only the v = 0 term (1 - x is exact: x >= 1/2 here)
        return (1.0 - x) ** n
    if n > SMIRNOV_MAX_N:
        # scipy's own approximation above 10^6 (the sum would take too long): log P ~ -(6nx + 1)^2 / 18n
        logp = -((6.0 * n * x + 1.0) ** 2) / 18.0 / n
        return math.exp(logp) if logp < -math.log(2.0) else 1.0 + math.expm1(logp)
    upper_terms = whole + 1 if frac > 0.0 else whole  # the terms v > n (1 - x) of the complement
    if n >= 10 and upper_terms <= 3 and x <= 0.5 / math.sqrt(n):
        return clip_probability(1.0 - _smirnov_complement(n, x, whole, frac))
    with np.errstate(under="ignore"):
        return clip_probability(_smirnov_sum(n, x, whole, frac))


def _smirnov_complement(n: int, x: float, whole: int, frac: float) -> float:
    """P(D+_n < x) = x sum_{v > n(1-x)} C(n, v) (1 - x - v/n)^(n-v) (x + v/n)^(v-1) (the same terms,
    now with 1 - x - v/n < 0, so alternating): where scipy uses it, n >= 10, x <= 1/(2 sqrt(n)) and at
    most 3 terms, it is cheaper than the long sum. With j = n - v: 1 - x - v/n = -(nx - j)/n and
    x + v/n = 1 + (nx - j)/n."""
    total = 0.0
    for j in range(whole + 1 if frac > 0.0 else whole):
        gap = (whole - j) + frac  # nx - j > 0
        term = math.comb(n, j) * (gap / n) ** j * math.exp((n - j - 1) * math.log1p(gap / n))
        total += -term if j % 2 else term
    return x * total


def _smirnov_sum(n: int, x: float, whole: int, frac: float) -> float:
    """x sum_{v=0}^{n - whole - 1} A_v, A_v = C(n, v) q^(n-v) p^(v-1), p = x + v/n, q = 1 - p,
    whole + frac = n x. All terms are positive; each is found from its log, written so that nothing
    large cancels (relative error ~1e-14 per term whatever n):

    - with P = n p = nx + v and Q = n q = (n - v - whole) - frac (one rounding each), and Stirling's
      formula for the binomial, log(x A_v) = beta_v + E_v - log(1 + v / nx), where
      beta_v = -log(2 pi v (n - v) / n) / 2 + omega(n) - omega(v) - omega(n - v) and
      E_v = (n - v) log(Q / (n - v)) + v log(P / v);
    - in E_v the two logs are about -nx and +nx, but log(1 + u) = u + g(u) with g = log1pmx and the
      u parts, -nx and +nx, cancel exactly: E_v = (n - v) g(-nx / (n - v)) + v g(nx / v), a sum of
      two negative numbers of size ~n x^2 (g(-u) is taken as log(Q / (n - v)) + u when u > 1/2,
      where Q is more accurate than 1 - u).

    The v = 0 term, x A_0 = (1 - x)^n, is exp(n g(-x) - nx) (or the power itself when x >= 1/2,
    1 - x being exact). The last term, v = n - whole, is 0 (or left out when nx is whole)."""
    nx = whole + frac
    if x >= 0.5:
        first = (1.0 - x) ** n
    else:
        first = math.exp(n * float(_log1pmx(np.array([-x]))[0]) - nx)
    last = n - whole - 1
    total = 0.0
    omega_n = _omega(n)
    chunk = 1 << 16  # bounded temporaries for n up to 10^6
    for start in range(1, last + 1, chunk):
        v = np.arange(start, min(start + chunk, last + 1), dtype=np.float64)
        r = n - v
        q = ((n - whole) - v) - frac
        u1 = nx / r  # grows with v: past 1/2 only in the last chunks
        if u1[-1] <= 0.5:
            g1 = _log1pmx(-u1)
        else:
            g1 = np.log(q / r) + u1
            near = u1 <= 0.5
            g1[near] = _log1pmx(-u1[near])
        e = r * g1 + v * _log1pmx(nx / v)
        beta = -0.5 * np.log(TWO_PI * (v * r / n)) + omega_n - _stirling_remainder(v) - _stirling_remainder(r)
        total += float(np.sum(np.exp(beta + e - np.log1p(v / nx))))
    return first + total


# --- the two-sided CDF algorithms (n x^2 small) ---------------------------------------------------


def _factorial_ratio(n: int) -> tuple[float, int]:
    """n! / n^n as (mantissa, binary exponent), to a few ulp, for 1 <= n <= 10^5 (it underflows far
    sooner): sqrt(2 pi n) e^omega(n) e^-n by Stirling, with e^-n = 2^-j e^(j ln 2 - n), j = round(n / ln 2),
    the reduced exponent found exactly with ln 2 split in two (Cody-Waite)."""
    j = round(n / math.log(2.0))
    reduced = (j * LN2_HI - n) + j * LN2_LO  # |reduced| <= ln(2) / 2; j * LN2_HI is exact (j < 2^21)
    return math.sqrt(TWO_PI * n) * math.exp(_omega(n)) * math.exp(reduced), -j


def _durbin_cdf(n: int, x: float) -> float:
    """P(D_n < x) by Durbin's matrix (1968) as Marsaglia, Tsang and Wang (2003) compute it: with
    n x = k - h (k whole, 0 <= h < 1) and m = 2k - 1, the m x m matrix H with H[i, j] = 1/(i - j + 1)!
    (0 when i - j + 1 < 0), its first column and last row corrected by h^i / i! and its corner by
    (2h - 1)^m / m! when h > 1/2; then P = n!/n^n (H^n)[k-1, k-1]. H^n by repeated squaring,
    rescaled by powers of two (exact) so that it neither overflows nor underflows."""
    t = n * x
    k = math.ceil(t)
    h = k - t
    m = 2 * k - 1
    inv_fact = np.empty(m + 1)  # 1 / j!, j = 0..m
    inv_fact[0] = 1.0
    for j in range(1, m + 1):
        inv_fact[j] = inv_fact[j - 1] / j
    powers = h ** np.arange(1, m + 1, dtype=np.float64)  # h^1 .. h^m
    column = (1.0 - powers) * inv_fact[1:]  # (1 - h^(i+1)) / (i+1)!
    column[-1] = (1.0 + max(2.0 * h - 1.0, 0.0) ** m - 2.0 * powers[-1]) * inv_fact[m]
    rows, cols = np.indices((m, m))
    lag = rows - cols + 1
    hm = np.where(lag >= 0, inv_fact[np.clip(lag, 0, m)], 0.0)
    hm[:, 0] = column
    hm[-1, :] = column[::-1]

    power, power_exp = np.eye(m), 0
    base, base_exp = hm, 0
    remaining = n
    while remaining:
        if remaining & 1:
            power, power_exp = _rescaled(power @ base, power_exp + base_exp)
        remaining >>= 1
        if remaining:
            base, base_exp = _rescaled(base @ base, 2 * base_exp)
    mantissa, exponent = _factorial_ratio(n)
    return math.ldexp(float(power[k - 1, k - 1]) * mantissa, power_exp + exponent)


def _rescaled(matrix: np.ndarray, exponent: int) -> tuple[np.ndarray, int]:
    """matrix * 2^-e with its largest entry in [1/2, 1), and exponent + e (an exact rescaling)."""
    top = float(np.abs(matrix).max())
    if top == 0.0 or not math.isfinite(top):
        return matrix, exponent
    e = math.frexp(top)[1]
    return np.ldexp(matrix, -e), exponent + e


def _pomeranz_cdf(n: int, x: float) -> float:
    """P(D_n < x) by Pomeranz's recursion (1974), n <= 140. With t = n x = l + f (l whole), the
    points of the uniform sample are counted at the times where a band edge crosses an integer,
    0 = A_0 < g <= 1 - g <= 1 + g <= 2 - g ... <= n (g = min(f, 1 - f)), steps g, 1 - 2g, 2g, ..., g
    (times n). D_n < x says that N(i - t) <= i - 1 and N(i - 1 + t) >= i for every i (N counts the
    points at or below a time): at A = j - 1 + f the count is at least j - l, at A = j - f at most
    j + l - 1. The counts' path has multinomial weight n! prod (step / n)^k / k!: the vector of the
    paths' weights by current count is convolved with those Poisson-like weights from point to
    point and cut to the allowed counts; P = n! times its entry at count n, at A = n."""
    t = n * x
    ell = math.floor(t)
    f = t - ell
    g = min(f, 1.0 - f)
    width = min(n + 1, 2 * ell + 3)  # a count rises by at most 2l + 2 between neighbouring points

    def weights(step: float) -> np.ndarray:
        w = np.empty(width)
        w[0] = 1.0
        for j in range(1, width):
            w[j] = w[j - 1] * (step / n) / j
        return w

    ends, middle, wide = weights(g), weights(1.0 - 2.0 * g), weights(2.0 * g)
    paths = np.zeros(n + 1)
    paths[0] = 1.0
    exponent = 0
    for i in range(1, 2 * n + 2):  # to the point A_i
        w = ends if i in (1, 2 * n + 1) else (middle if i % 2 == 0 else wide)
        paths = np.convolve(paths, w)[: n + 1]
        if i == 2 * n + 1:
            break
        j = (i + 1) // 2  # A_(2j-1) = j - 1 + g, A_2j = j - g
        lower_edge = (i % 2 == 1) == (f <= 0.5)  # the point where j - 1 + f falls
        if lower_edge:
            paths[: max(j - ell, 0)] = 0.0
        else:
            paths[max(j + ell, 0):] = 0.0
        paths, exponent = _rescaled(paths, exponent)
    return math.ldexp(float(paths[n]) * float(math.factorial(n)), exponent)


def _pelz_good_cdf(n: int, x: float) -> float:
    """The Pelz-Good (1976) expansion of P(D_n <= x), K0 + K1/sqrt(n) + K2/n + K3/n^1.5 in
    z = x sqrt(n), Li-Chien and Korolyuk's series turned by the theta-function identity into sums
    that converge fast for small z (h = k - 1/2, sums over k >= 1, with u_h = exp(-pi^2 h^2 / (2 z^2))
    and u_k likewise):

      K0 = sqrt(2 pi)/z sum u_h
      K1 = sqrt(2 pi)/(6 z^4) sum (pi^2 h^2 - z^2) u_h
      K2 = sqrt(2 pi)/(72 z^7) sum (6z^6 + 2z^4 + pi^2 (2z^4 - 5z^2) h^2 + pi^4 (1 - 2z^2) h^4) u_h
           - pi^2 sqrt(2 pi)/(36 z^3) sum k^2 u_k
      K3 = sqrt(2 pi)/(6480 z^10) sum (pi^6 (5 - 30z^2) h^6 + pi^4 (212z^4 - 60z^2) h^4
           + pi^2 (135z^4 - 96z^6) h^2 - 30z^6 - 90z^8) u_h + pi^2 sqrt(2 pi)/(216 z^6) sum (3z^2 - pi^2 k^2) k^2 u_k

    The terms with k > 16 z / pi are below double precision (z < 1.49 where it is used)."""
    z = math.sqrt(n) * x
    if -math.pi ** 2 / (8.0 * z * z) < -708.0:  # u_1/2 underflows: the CDF is 0 to double precision
        return 0.0
    kmax = math.ceil(16.0 * z / math.pi)
    k = np.arange(1, kmax + 1, dtype=np.float64)
    pi2 = math.pi ** 2
    h2 = (k - 0.5) ** 2
    uh = np.exp(-pi2 * h2 / (2.0 * z * z))
    uk = np.exp(-pi2 * k * k / (2.0 * z * z))
    z2 = z * z
    z4, z6, z8 = z2 * z2, z2 * z2 * z2, z2 * z2 * z2 * z2
    k0 = SQRT_2PI / z * float(np.sum(uh))
    k1 = SQRT_2PI / (6.0 * z4) * float(np.sum((pi2 * h2 - z2) * uh))
    k2 = (SQRT_2PI / (72.0 * z4 * z2 * z) * float(np.sum(
        (6.0 * z6 + 2.0 * z4 + pi2 * (2.0 * z4 - 5.0 * z2) * h2 + pi2 * pi2 * (1.0 - 2.0 * z2) * h2 * h2) * uh))
        - pi2 * SQRT_2PI / (36.0 * z2 * z) * float(np.sum(k * k * uk)))
    k3 = (SQRT_2PI / (6480.0 * z8 * z2) * float(np.sum(
        (pi2 ** 3 * (5.0 - 30.0 * z2) * h2 ** 3 + pi2 ** 2 * (212.0 * z4 - 60.0 * z2) * h2 * h2
         + pi2 * (135.0 * z4 - 96.0 * z6) * h2 - 30.0 * z6 - 90.0 * z8) * uh))
        + pi2 * SQRT_2PI / (216.0 * z6) * float(np.sum((3.0 * z2 - pi2 * k * k) * k * k * uk)))
    root = math.sqrt(n)
    return k0 + k1 / root + k2 / n + k3 / (n * root)


# --- the two-sided survival function --------------------------------------------------------------


def kolmogorov_n_sf(n: int, x: float) -> float:
    """P(D_n >= x) for the two-sided one-sample Kolmogorov-Smirnov statistic of n points:
    scipy.stats.kstwo.sf(x, n), by the case split in the module docstring. n: a whole number >= 1
    (any size: every branch's cost is bounded); x: any float (NaN gives NaN)."""
    if n < 1:
        raise ValueError(f"n={n!r}: the sample size must be a whole number >= 1")
    x = float(x)
    if math.isnan(x):
        return math.nan
    if x >= 1.0:
        return 0.0
    if x <= 0.5 / n:  # kstwo's support starts at 1/(2n)
        return 1.0
    t = n * x
    if t <= 1.0:  # Ruben-Gambino: P(D_n < x) = n!/n^n (2t - 1)^n for 1/(2n) < x <= 1/n
        if t <= 0.5:
            return 1.0
        if n > SMALL_N:  # n!/n^n < 1e-59: 1 - it is 1 in double precision
            return 1.0
        mantissa, exponent = _factorial_ratio(n)
        return clip_probability(1.0 - math.ldexp(mantissa * (2.0 * t - 1.0) ** n, exponent))
    if t >= n - 1:  # Ruben-Gambino: P(D_n >= x) = 2 (1 - x)^n for x >= 1 - 1/n
        return clip_probability(2.0 * (1.0 - x) ** n)
    if x >= 0.5:  # D+ >= x and D- >= x exclude each other
        return clip_probability(2.0 * smirnov(n, x))
    nxx = t * x
    if n <= SMALL_N:
        if nxx <= 0.754693:
            return clip_probability(1.0 - clip_probability(_durbin_cdf(n, x)))
        if nxx <= 4.0:
            return clip_probability(1.0 - clip_probability(_pomeranz_cdf(n, x)))
        return clip_probability(2.0 * smirnov(n, x))
    if nxx >= 370.0:
        return 0.0
    if nxx >= 2.2:
        return clip_probability(2.0 * smirnov(n, x))
    if n <= DURBIN_MAX_N and n * x ** 1.5 <= 1.4:
        return clip_probability(1.0 - clip_probability(_durbin_cdf(n, x)))
    return clip_probability(1.0 - clip_probability(_pelz_good_cdf(n, x)))


def clip_probability(p: float) -> float:
    """p within [0, 1] (a probability computed as 1 - something, or summed, may round past them)."""
    return min(max(p, 0.0), 1.0)
