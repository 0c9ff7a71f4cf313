"""Drift statistics (streameval.drift) against scipy and textbook formulas, and acc.drift()."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.spatial.distance as ssd
import scipy.stats as ss
from hypothesis import given
from hypothesis import strategies as st

from streameval import Binary, Decayed, IncompatibleError, Multiclass, Multilabel, Windowed, drift

REL = 1e-12


def close(value, reference, rel=REL, abs_=0.0):
    return math.isclose(value, reference, rel_tol=rel, abs_tol=abs_)


def textbook_psi(expected, actual, eps=None):
    """sum (a - e) ln(a / e) over the shares, each side's zero shares filled (Evidently's rule
    when eps is None), written with plain Python."""
    def shares(counts):
        total = sum(counts)
        out = [c / total for c in counts]
        if eps is None:
            smallest = min(s for s in out if s > 0)
            fill = smallest / 1e6 if smallest <= 1e-4 else 1e-4
        else:
            fill = eps
        return [s if s > 0 else fill for s in out]

    e, a = shares(list(map(float, expected))), shares(list(map(float, actual)))
    return sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a))


def textbook_js(expected, actual):
    """sqrt((KL(p || m) + KL(q || m)) / 2) in bits, m the mixture."""
    p = [x / sum(expected) for x in map(float, expected)]
    q = [x / sum(actual) for x in map(float, actual)]
    m = [(x + y) / 2 for x, y in zip(p, q)]
    kl = lambda u: sum(x * math.log2(x / y) for x, y in zip(u, m) if x > 0)  # noqa: E731
    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def cells_of(scores, edges):
    """Each score's histogram cell: 0 below edges[0], i in [edges[i-1], edges[i]), the last at or above edges[-1]."""
    return np.searchsorted(edges, scores, side="right")


histograms = st.integers(1, 25).flatmap(lambda k: st.tuples(
    st.lists(st.integers(0, 10**12) | st.integers(0, 50), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
    st.lists(st.integers(0, 10**12) | st.integers(0, 50), min_size=k, max_size=k).filter(lambda c: sum(c) > 0)))


# --- each statistic against its reference -------------------------------------------------------


@given(histograms)
def test_psi_and_jensenshannon_equal_their_textbook_formulas(pair):
    e, a = pair
    assert close(drift.psi(e, a), textbook_psi(e, a), abs_=1e-15)
    assert close(drift.psi(e, a, eps=1e-3), textbook_psi(e, a, eps=1e-3), abs_=1e-15)
    assert drift.psi(e, a) >= 0
    js = drift.jensenshannon(e, a)
    # the divergence (js squared) to rounding: near-equal histograms make it a difference of close terms
    assert close(js**2, textbook_js(e, a) ** 2, rel=1e-9, abs_=1e-15)
    with np.errstate(invalid="ignore"):
        reference = float(ssd.jensenshannon(e, a, base=2))
    if math.isnan(reference):  # scipy's sqrt of a divergence rounded below 0: ours is clamped to 0
        assert js == 0.0
    else:
        assert close(js, reference, rel=REL, abs_=1e-15)
    assert 0 <= js <= 1


@given(histograms)
def test_wasserstein_and_chi2_equal_scipy(pair):
    e, a = pair
    x = np.cumsum(np.linspace(0.5, 1.5, len(e)))  # increasing, unevenly spaced positions
    assert close(drift.wasserstein(x, e, a), ss.wasserstein_distance(x, x, e, a), abs_=1e-13)
    table = np.array([e, a], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    for correction in (True, False):
        statistic, p = drift.chi2(e, a, correction)
        if table.shape[1] == 1:
            assert (statistic, p) == (0.0, 1.0)
            continue
        reference = ss.chi2_contingency(table, correction=correction)
        assert close(statistic, reference.statistic, abs_=1e-12)
        assert close(p, reference.pvalue, rel=1e-10, abs_=1e-300)


@given(histograms)
def test_ks_statistic_equals_the_cumulative_formula(pair):
    e, a = pair
    n, m = sum(e), sum(a)
    # exact rational arithmetic: max over bins of |E_i / n - A_i / m|
    diffs = [abs(se * m - sa * n) for se, sa in zip(np.cumsum(e, dtype=object), np.cumsum(a, dtype=object))]
    statistic, p = drift.ks(e, a)
    assert close(statistic, max(diffs) / (n * m), abs_=1e-15)
    assert 0 <= p <= 1


@pytest.mark.parametrize("n, m", [(30, 30), (40, 25), (200, 173), (1000, 999), (5000, 5000), (3000, 7000)])
def test_ks_equals_ks_2samp_on_the_expanded_bin_centres(n, m):
    rng = np.random.default_rng(n * 7919 + m)
    edges = np.linspace(0, 1, 11)
    x = drift.centres(edges)
    e = rng.multinomial(n, rng.dirichlet(np.ones(12)))
    a = rng.multinomial(m, rng.dirichlet(np.ones(12)) if n % 2 else e / e.sum())
    statistic, p = drift.ks(e, a)
    reference = ss.ks_2samp(np.repeat(x, e), np.repeat(x, a))
    assert statistic == pytest.approx(reference.statistic, rel=REL, abs=1e-15)
    assert p == pytest.approx(reference.pvalue, rel=REL, abs=1e-300)


def test_ks_exact_p_values_for_small_samples():
    rng = np.random.default_rng(3)
    for _ in range(60):
        k = int(rng.integers(2, 8))
        e = rng.integers(0, 12, k)
        a = rng.integers(0, 12, k)
        if e.sum() == 0 or a.sum() == 0:
            continue
        x = np.arange(k, dtype=float)
        reference = ss.ks_2samp(np.repeat(x, e), np.repeat(x, a), method="exact")
        statistic, p = drift.ks(e, a)
        assert statistic == pytest.approx(reference.statistic, rel=REL)
        assert p == pytest.approx(reference.pvalue, rel=REL, abs=1e-300)


def kstwo_close(value, reference):
    """Our kstwo against scipy's: 1e-12 relative, and 3e-15 absolute for where both compute the SF
    as 1 - CDF with the CDF near 1 (Durbin, Pomeranz, Pelz-Good: the two CDFs, each rounded in its
    own order, agree to ~2e-15 absolute, so SF ~4e-4 at n x^2 = 4 can differ by ~2e-12 relative)."""
    return abs(value - reference) <= 1e-12 * abs(reference) + 3e-15


def shifted_histograms(n, m, shift):
    """Counts of n and m samples on 12 bins, the second's shares moved by `shift` towards the top
    (shift None: the second's samples all in the top 4 bins)."""
    base = np.linspace(1.0, 2.0, 12)
    moved = base + shift * np.arange(12) if shift is not None else np.repeat([0.0, 1.0], [8, 4])
    e = np.floor(n * base / base.sum()).astype(np.int64)
    e[0] += n - e.sum()
    a = np.floor(m * moved / moved.sum()).astype(np.int64)
    a[np.argmax(a)] += m - a.sum()
    return e, a


@pytest.mark.parametrize("n, m, shift", [
    # en = round(n m / (n + m)) and the kstwo branch (Simard-L'Ecuyer's split, x = D):
    (20000, 20000, 0.0), (20000, 20000, 0.003),  # D = 0; Durbin (n x^1.5 <= 1.4)
    (20000, 20000, 0.01), (15000, 9000, 0.02), (300000, 300000, 0.0005),  # Pelz-Good
    (20000, 20000, 0.05), (200000, 150000, 0.02),  # 2 x the Smirnov sum (n x^2 >= 2.2)
    (12000, 3, 0.0), (10001, 9, None),  # en <= 9: Ruben-Gambino; x >= 1/2, exact 2 smirnov
    (10001, 40, 0.3), (10001, 140, 0.05), (10001, 141, 0.2),  # en <= 140, Durbin
    (10001, 100, 0.5), (10001, 100, 1.0), (10001, 130, None),  # en <= 140, Pomeranz; Smirnov (n x^2 > 4)
    (2300000, 2300000, 0.001), (2300000, 2300000, 0.004),  # en > 1e6: Pelz-Good; scipy's large-n Smirnov formula
])
def test_ks_large_samples_equal_ks_2samp(n, m, shift):
    e, a = shifted_histograms(n, m, shift)
    x = drift.centres(np.linspace(0, 1, 11))
    statistic, p = drift.ks(e, a)
    reference = ss.ks_2samp(np.repeat(x, e), np.repeat(x, a))  # max(n, m) > 10000: scipy's kstwo(round(en))
    assert statistic == pytest.approx(reference.statistic, rel=REL, abs=1e-15)
    assert kstwo_close(p, reference.pvalue), (p, reference.pvalue)
    assert drift.ks_p_value(statistic, n, m) == p


def test_ks_p_value_uses_kstwo_at_the_rounded_effective_size():
    # as ks_2samp's source: kstwo.sf(d, np.round(n m / (n + m))), half to even; sizes too big to expand
    for n, m, d in [(10**9, 10**9, 3e-5), (10**9, 10**9, 1e-4), (3 * 10**8, 10**7, 2e-4), (10**7, 10**7 + 2, 6e-4),
                    (10001, 10001, 0.02), (30001, 10003, 0.015), (10**6, 3, 0.6), (10**5, 1, 0.99)]:
        en = float(n) * float(m) / (float(n) + float(m))
        assert kstwo_close(drift.ks_p_value(d, n, m), float(ss.kstwo.sf(d, np.round(en)))), (n, m, d)
    # weighted totals (scipy takes none): the same formula, en rounded to at least 1
    assert kstwo_close(drift.ks_p_value(0.3, 20000.5, 79.25), float(ss.kstwo.sf(0.3, 79)))
    assert kstwo_close(drift.ks_p_value(0.7, 0.4, 0.3), float(ss.kstwo.sf(0.7, 1)))


def test_ks_falls_back_to_kstwo_at_the_rounded_statistic_when_the_exact_recursion_fails(monkeypatch):
    # scipy's _attempt_exact_2kssamp returns d = h / lcm and ks_2samp then takes kstwo at that d
    from streameval._kernels import ks as ks_kernels

    monkeypatch.setattr(ks_kernels, "ks_outside_band", lambda n, m, g, h: math.nan)
    n, m, d = 300, 700, 0.1 + 1e-9
    statistic, p = drift._ks_test(d, n, m)
    h = round(d * 2100)
    assert statistic == h / 2100
    assert kstwo_close(p, float(ss.kstwo.sf(h / 2100, np.round(n * m / (n + m)))))


KSTWO_XS = (0.0, 1.0, 1e-300, 0.5, float(np.nextafter(0.5, 0.0)), 0.25, 0.1, 0.9, 0.999)


def kstwo_grid(n):
    """x at every branch edge of scipy's split for this n, and either side of it."""
    xs = list(KSTWO_XS) + [0.5 / n, 0.4999 / n, 1 / n, float(np.nextafter(1 / n, 2)), 0.75 / n, 1.5 / n, 2 / n,
                           (n - 1) / n, float(np.nextafter((n - 1) / n, 0)), 1 - 0.3 / n, 2.5 / n]
    for c in (1e-4, 0.01, 0.3, 0.754693, 0.76, 1.0, 2.19, 2.2, 2.21, 3.0, 3.99, 4.0, 4.01, 10.0, 50.0, 200.0, 369.0,
              371.0):
        xs.append(math.sqrt(c / n))
    xs.append((1.4 / n) ** (2 / 3))  # Durbin / Pelz-Good edge for n > 140
    xs.append((1.4 / n) ** (2 / 3) * 1.001)
    return [x for x in xs if 0.0 <= x <= 1.0]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 16, 20, 25, 31, 40, 50, 64, 77, 99, 100, 120,
                               139, 140, 141, 150, 200, 500, 1000, 4999, 10000, 30000, 99999, 100000, 100001,
                               10**6 + 1, 10**7, 2**31 - 1])
def test_kolmogorov_n_sf_equals_kstwo_sf(n):
    from streameval._kolmogorov import kolmogorov_n_sf

    for x in kstwo_grid(n):
        if 10**4 < n <= 10**6 and 2.2 <= n * x * x < 370 and x < 0.5:
            continue  # scipy's Smirnov sum takes ~0.1-1 s there: a few such points in the next test
        assert kstwo_close(kolmogorov_n_sf(n, x), float(ss.kstwo.sf(x, n))), (n, x)


@pytest.mark.parametrize("n, x", [(30000, 0.0087), (30000, 0.05), (99999, 0.0047), (100000, 0.02), (100001, 0.006),
                                  (10**6, 0.0015), (10**6, 0.01)])
def test_kolmogorov_n_sf_equals_kstwo_sf_on_long_smirnov_sums(n, x):
    from streameval._kolmogorov import kolmogorov_n_sf

    assert kstwo_close(kolmogorov_n_sf(n, x), float(ss.kstwo.sf(x, n))), (n, x)


@given(st.integers(1, 160), st.floats(0.0, 1.0))
def test_kolmogorov_n_sf_equals_kstwo_sf_for_small_n(n, x):
    from streameval._kolmogorov import kolmogorov_n_sf

    assert kstwo_close(kolmogorov_n_sf(n, x), float(ss.kstwo.sf(x, n)))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 9, 10, 11, 17, 50, 140, 141, 1000, 12345, 10**5, 10**6, 10**6 + 1, 10**8,
                               2**31 - 1])
def test_smirnov_equals_scipy_special_smirnov(n):
    import scipy.special as sp

    from streameval._kolmogorov import smirnov

    xs = [0.0, 1.0, 0.5, 0.3, 0.9, 1 / n, float(np.nextafter(1 / n, 2)), float(np.nextafter(1 / n, 0)), 2 / n,
          2.5 / n, 3 / n, (n - 1) / n, float(np.nextafter((n - 1) / n, 0)), 0.5 / math.sqrt(n)]
    xs += [math.sqrt(c / n) for c in (0.01, 0.2, 1.0, 2.2, 5.0, 30.0, 100.0, 300.0, 372.0, 400.0)]
    for x in xs:
        if not 0.0 <= x <= 1.0 or (n == 10**6 and x * n > 3 and x < 0.5 and not 2 < x * x * n < 6):
            continue  # scipy's sum takes ~1 s a point at n = 10^6: one long sum there
        reference = float(sp.smirnov(n, x))
        # the sum: ~1e-14 relative per term (up to ~1e-13 near the underflow); scipy uses double-double
        assert close(smirnov(n, x), reference, rel=2e-13, abs_=1e-300), (n, x)


def test_smirnov_keeps_the_large_n_formula_where_scipy_overflows_its_int():
    # scipy.special.smirnov(n >= 2^31, x) is NaN or takes n modulo 2^32; its formula for n > 10^6 is kept
    from streameval._kolmogorov import smirnov

    for n in (2**31, 2**32 + 10, 10**12):
        for x in (1e-7, 1e-6, 3e-6, 1e-5):
            assert smirnov(n, x) == pytest.approx(math.exp(-((6 * n * x + 1) ** 2) / (18 * n)), rel=1e-14)


def test_kolmogorov_n_sf_is_bounded_for_any_n():
    """Every branch returns a probability for any n (its cost: benchmarks/test_bench_drift.py)."""
    from streameval._kolmogorov import kolmogorov_n_sf

    for n in (10**12, 2**31 + 5, 10**8, 10**6 + 1):
        for x in (0.0, 1e-13, 0.5 / n, 0.7 / n, 1 / n, 1.5 / n, 1e-7, 3e-7, 1e-6, 1.4e-6, 3e-6, 1e-5, 1e-4, 0.01,
                  0.3, 0.5, 0.9, 1 - 1e-12, 1.0):
            p = kolmogorov_n_sf(n, x)
            assert 0.0 <= p <= 1.0, (n, x, p)
            if n == 10**12:  # within O(1/sqrt(n)) of the limit distribution
                assert p == pytest.approx(ss.kstwobign.sf(math.sqrt(n) * x), abs=1e-5)
    assert kolmogorov_n_sf(10**6, 0.0015) == pytest.approx(ss.kstwobign.sf(1.5), rel=0.02)  # the longest sum
    with pytest.raises(ValueError):
        kolmogorov_n_sf(0, 0.5)
    assert math.isnan(kolmogorov_n_sf(5, math.nan))


@pytest.mark.parametrize("z", [0.05, 0.2, 0.5, 0.8, 0.99, 1.0, 1.2, 2.0, 3.5, 6.0, 10.0, 30.0])
def test_kolmogorov_sf_equals_kstwobign(z):
    assert drift.kolmogorov_sf(z) == pytest.approx(ss.kstwobign.sf(z), rel=1e-12, abs=1e-300)


def test_chi2_sf_equals_scipy():
    for df in (1, 2, 3, 4, 5, 7, 10, 19, 30, 60, 99):
        for x in (0.0, 1e-8, 0.01, 0.3, 1.0, 2.5, df / 2, df - 0.5, df, df + 1.5, 2 * df, 5 * df + 10, 200.0, 1000.0):
            assert drift.chi2_sf(x, df) == pytest.approx(ss.chi2.sf(x, df), rel=1e-12, abs=1e-300), (x, df)
    assert drift.gammaincc(2.5, math.inf) == 0.0 and drift.gammaincc(2.5, 0.0) == 1.0


def test_chi2_two_classes_uses_yates_correction():
    e, a = [30, 70], [45, 55]
    reference = ss.chi2_contingency(np.array([e, a]))
    assert drift.chi2(e, a) == pytest.approx((reference.statistic, reference.pvalue), rel=REL)
    plain = ss.chi2_contingency(np.array([e, a]), correction=False)
    assert drift.chi2(e, a, correction=False) == pytest.approx((plain.statistic, plain.pvalue), rel=REL)


def test_one_bin_and_identical_histograms():
    assert drift.psi([5], [9]) == 0.0 and drift.jensenshannon([5], [9]) == 0.0
    assert drift.ks([5], [9]) == (0.0, 1.0) and drift.chi2([5], [9]) == (0.0, 1.0)
    assert drift.wasserstein([0.5], [5], [9]) == 0.0
    same = [3, 0, 7, 1]
    assert drift.psi(same, same) == 0.0 and drift.ks(same, same) == (0.0, 1.0)


def test_bad_histograms_raise_naming_the_argument():
    with pytest.raises(ValueError, match=r"actual\[1\] = -1.0 is not a count"):
        drift.psi([1, 2], [1, -1])
    with pytest.raises(ValueError, match="expected holds no samples"):
        drift.jensenshannon([0, 0], [1, 1])
    with pytest.raises(ValueError, match="same bins"):
        drift.ks([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"expected\[0\] = nan"):
        drift.chi2([np.nan, 1], [1, 1])
    with pytest.raises(ValueError, match="eps"):
        drift.psi([1, 0], [0, 1], eps=0)


def test_drifted_flag_at_the_thresholds():
    assert drift.DEFAULT_THRESHOLDS == {"psi": 0.1, "jensenshannon": 0.1, "wasserstein": 0.1, "ks": 0.05, "chi2": 0.05}
    assert drift.result("psi", 0.1).drifted and not drift.result("psi", 0.0999).drifted
    assert drift.result("jensenshannon", 0.2, threshold=0.2).drifted
    assert not drift.result("ks", 0.3, 0.05).drifted and drift.result("ks", 0.3, 0.0499).drifted
    assert drift.result("chi2", 9.0, 0.01, threshold=0.005).drifted is False
    with pytest.raises(ValueError, match="threshold"):
        drift.result("psi", 0.1, threshold=-1)


# --- acc.drift() ---------------------------------------------------------------------------------


def fed(acc, y_true, scores):
    acc.update(y_true, scores)
    return acc


def test_binary_drift_equals_scipy_on_the_raw_scores_binned():
    rng = np.random.default_rng(0)
    s_ref, s_cur = rng.beta(2, 5, 3000), rng.beta(2.5, 4, 2000)
    ref = fed(Binary(bins=20), rng.integers(0, 2, 3000), s_ref)
    cur = fed(Binary(bins=20), rng.integers(0, 2, 2000), s_cur)
    edges = np.linspace(0, 1, 21)
    x = drift.centres(edges)
    e = np.bincount(cells_of(s_ref, edges), minlength=22)
    a = np.bincount(cells_of(s_cur, edges), minlength=22)
    ks = ss.ks_2samp(x[cells_of(s_ref, edges)], x[cells_of(s_cur, edges)])
    got = cur.drift(ref, "ks")
    assert got.method == "ks" and got.statistic == pytest.approx(ks.statistic, rel=REL)
    assert got.p_value == pytest.approx(ks.pvalue, rel=REL) and got.drifted == (ks.pvalue < 0.05)
    assert cur.drift(ref, "js").statistic == pytest.approx(ssd.jensenshannon(e, a, base=2), rel=REL)
    assert cur.drift(ref).statistic == pytest.approx(textbook_psi(e, a), rel=REL)
    raw = cur.drift(ref, "wasserstein", normed=False).statistic
    assert raw == pytest.approx(ss.wasserstein_distance(x, x, e, a), rel=REL)
    normed = cur.drift(ref, "wasserstein").statistic
    assert normed == pytest.approx(raw / np.std(x[cells_of(s_ref, edges)]), rel=1e-10)
    predicted = [np.bincount(s >= 0.5, minlength=2) for s in (s_ref, s_cur)]
    chi2 = ss.chi2_contingency(np.array(predicted))
    assert cur.drift(ref, "chi2")[1:3] == pytest.approx((chi2.statistic, chi2.pvalue), rel=REL)


def test_same_distribution_does_not_drift_and_a_shift_does():
    rng = np.random.default_rng(7)
    ref = fed(Binary(bins=10), rng.integers(0, 2, 5000), rng.beta(2, 3, 5000))
    same = fed(Binary(bins=10), rng.integers(0, 2, 4000), rng.beta(2, 3, 4000))
    shifted = fed(Binary(bins=10), rng.integers(0, 2, 4000), rng.beta(3, 2, 4000))
    for method in ("psi", "jensenshannon", "ks", "wasserstein", "chi2"):
        assert not same.drift(ref, method).drifted, method
        assert shifted.drift(ref, method).drifted, method


def test_multiclass_drift_on_predicted_classes_and_on_one_class():
    rng = np.random.default_rng(1)
    p_ref = rng.dirichlet([3, 2, 1], 2000)
    p_cur = rng.dirichlet([1, 2, 3], 1500)
    ref = fed(Multiclass(labels=["a", "b", "c"], bins=10), rng.choice(["a", "b", "c"], 2000), p_ref)
    cur = fed(Multiclass(labels=["a", "b", "c"], bins=10), rng.choice(["a", "b", "c"], 1500), p_cur)
    counts = [np.bincount(p.argmax(axis=1), minlength=3) for p in (p_ref, p_cur)]
    chi2 = ss.chi2_contingency(np.array(counts))
    assert cur.drift(ref, "chi2")[1:3] == pytest.approx((chi2.statistic, chi2.pvalue), rel=REL)
    assert cur.drift(ref, "psi").statistic == pytest.approx(textbook_psi(*counts), rel=REL)
    edges = np.linspace(0, 1, 11)
    x = drift.centres(edges)
    ks = ss.ks_2samp(x[cells_of(p_ref[:, 2], edges)], x[cells_of(p_cur[:, 2], edges)])
    got = cur.drift(ref, "ks", of="c")
    assert got.statistic == pytest.approx(ks.statistic, rel=REL) and got.p_value == pytest.approx(ks.pvalue, rel=REL)
    assert got.drifted
    one_vs_rest = [[len(p) - c[1], c[1]] for p, c in zip((p_ref, p_cur), counts)]
    chi2_b = ss.chi2_contingency(np.array(one_vs_rest))
    assert cur.drift(ref, "chi2", of="b")[1:3] == pytest.approx((chi2_b.statistic, chi2_b.pvalue), rel=REL)
    with pytest.raises(ValueError, match="of="):
        cur.drift(ref, "ks")
    with pytest.raises(ValueError, match="of='d'"):
        cur.drift(ref, "psi", of="d")


def test_multilabel_drift_per_label():
    rng = np.random.default_rng(2)
    s_ref, s_cur = rng.random((1000, 3)), rng.random((800, 3)) ** np.array([1, 1, 3])
    ref = fed(Multilabel(3, bins=8), rng.integers(0, 2, (1000, 3)), s_ref)
    cur = fed(Multilabel(3, bins=8), rng.integers(0, 2, (800, 3)), s_cur)
    edges = np.linspace(0, 1, 9)
    e = np.bincount(cells_of(s_ref[:, 2], edges), minlength=10)
    a = np.bincount(cells_of(s_cur[:, 2], edges), minlength=10)
    assert cur.drift(ref, "js", of=2).statistic == pytest.approx(ssd.jensenshannon(e, a, base=2), rel=REL)
    predicted = [np.bincount(s[:, 2] >= 0.5, minlength=2) for s in (s_ref, s_cur)]
    chi2 = ss.chi2_contingency(np.array(predicted))
    assert cur.drift(ref, "chi2", of=2)[1:3] == pytest.approx((chi2.statistic, chi2.pvalue), rel=REL)
    assert cur.drift(ref, "ks", of=2).drifted and not cur.drift(ref, "ks", of=0).drifted
    with pytest.raises(ValueError, match="label position"):
        cur.drift(ref, "psi")


def test_binary_without_bins_compares_predicted_classes():
    rng = np.random.default_rng(4)
    s_ref, s_cur = rng.random(500), rng.random(400) ** 0.5
    ref = fed(Binary(), rng.integers(0, 2, 500), s_ref)
    cur = fed(Binary(), rng.integers(0, 2, 400), s_cur)
    predicted = [np.bincount(s >= 0.5, minlength=2) for s in (s_ref, s_cur)]
    assert cur.drift(ref, "psi").statistic == pytest.approx(textbook_psi(*predicted), rel=REL)
    with pytest.raises(ValueError, match="bins="):
        cur.drift(ref, "ks")


def test_incompatible_references_raise():
    rng = np.random.default_rng(5)
    y, s = rng.integers(0, 2, 50), rng.random(50)
    acc = fed(Binary(bins=10), y, s)
    for other in (fed(Binary(bins=20), y, s), fed(Binary(bins=10, threshold=0.3), y, s),
                  fed(Binary(bins=[0.2, 0.5, 0.8]), y, s), fed(Multilabel(1, bins=10), y[:, None], s[:, None]),
                  fed(Binary(bins=10, score_range=(0, 2)), y, s)):
        with pytest.raises(IncompatibleError):
            acc.drift(other)
    with pytest.raises(IncompatibleError):
        Multiclass(3).drift(Multiclass(labels=["a", "b", "c"]))
    with pytest.raises(IncompatibleError):
        acc.drift("not an accumulator")
    weighted = Binary(bins=10, weighted=True)
    weighted.update(y, s, np.full(50, 0.5))
    assert acc.drift(weighted, "js").statistic == pytest.approx(0.0, abs=1e-15)  # weights: same distribution


def test_bad_arguments_raise():
    rng = np.random.default_rng(6)
    acc = fed(Binary(bins=10), rng.integers(0, 2, 50), rng.random(50))
    with pytest.raises(ValueError, match="method='kl'"):
        acc.drift(acc, "kl")
    with pytest.raises(ValueError, match="threshold"):
        acc.drift(acc, threshold="high")
    with pytest.raises(ValueError, match="reference has counted none"):
        acc.drift(Binary(bins=10))
    with pytest.raises(ValueError, match="of=1"):
        acc.drift(acc, of=1)


def test_threshold_option_sets_the_flag():
    rng = np.random.default_rng(8)
    ref = fed(Binary(bins=10), rng.integers(0, 2, 500), rng.random(500))
    cur = fed(Binary(bins=10), rng.integers(0, 2, 500), rng.random(500) ** 1.3)
    value = cur.drift(ref, "psi").statistic
    assert cur.drift(ref, "psi", threshold=value).drifted and not cur.drift(ref, "psi", threshold=value * 1.01).drifted
    p = cur.drift(ref, "ks").p_value
    assert not cur.drift(ref, "ks", threshold=p).drifted and cur.drift(ref, "ks", threshold=p * 1.01).drifted
    assert cur.drift(ref, "psi", threshold=0.5).threshold == 0.5


def test_windows_and_decay_compare_their_counts_with_a_reference():
    rng = np.random.default_rng(9)
    ref = fed(Binary(bins=10), rng.integers(0, 2, 3000), rng.beta(2, 3, 3000))
    window = Windowed(Binary(bins=10), 2000, buckets=4)
    window.update(rng.integers(0, 2, 2000), rng.beta(2, 3, 2000))
    assert not window.drift(ref, "ks").drifted
    window.update(rng.integers(0, 2, 2000), rng.beta(4, 2, 2000))  # the window now holds the shifted samples
    assert window.drift(ref, "ks").drifted and window.drift(ref, "psi").drifted
    assert ref.drift(window, "ks") == window.drift(ref, "ks")  # a wrapper as the reference: its current counts
    decayed = Decayed(Binary(bins=10), half_life=500)
    decayed.update(rng.integers(0, 2, 1000), rng.beta(2, 3, 1000))
    assert not decayed.drift(ref, "psi").drifted


def test_unlabelled_samples_count_in_the_prediction_distribution():
    rng = np.random.default_rng(10)
    s_ref = rng.random(1000)
    ref = fed(Binary(bins=10), rng.integers(0, 2, 1000), s_ref)
    cur = Binary(bins=10, unlabelled=True)
    s_lab, s_unl = rng.random(300), rng.random(700) ** 2
    cur.update(rng.integers(0, 2, 300), s_lab)
    cur.update(None, s_unl)
    edges = np.linspace(0, 1, 11)
    scores = np.concatenate([s_lab, s_unl])
    e = np.bincount(cells_of(s_ref, edges), minlength=12)
    a = np.bincount(cells_of(scores, edges), minlength=12)
    assert cur.drift(ref, "js").statistic == pytest.approx(ssd.jensenshannon(e, a, base=2), rel=REL)
# (No comparison with Evidently or NannyML: neither is installed here, and each bins the raw data its
# own way; the statistics are checked against scipy and the textbook formulas above.)
