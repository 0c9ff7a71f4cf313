"""Drift p-values (issue 17): the cost of the finite-n Kolmogorov distribution behind the KS test.

    .venv/bin/python -m pytest benchmarks/test_bench_drift.py --benchmark-only

``kolmogorov_n_sf(n, x)`` (scipy's ``kstwo.sf``) on each of its branches, at the effective sample
sizes a window of drift monitoring gives (n m / (n + m)), against ``scipy.stats.kstwo.sf`` on the
same arguments. The costliest branch is the one-sided Smirnov sum, n terms, up to n = 10^6.
"""

from __future__ import annotations

import pytest

from streameval._kolmogorov import kolmogorov_n_sf

CASES = {  # branch: (n, x)
    "Durbin matrix (n <= 140)": (100, 0.05),
    "Pomeranz (n <= 140)": (100, 0.15),
    "Durbin matrix (n <= 1e5)": (50_000, 0.0005),
    "Pelz-Good": (200_000, 0.002),
    "Smirnov sum, n = 1e5": (100_000, 0.006),
    "Smirnov sum, n = 1e6": (1_000_000, 0.0015),
    "large n (scipy's approximation)": (10**9, 0.0001),
}


@pytest.mark.parametrize("branch", CASES)
@pytest.mark.parametrize("role", ["streameval", "scipy"])
def test_kolmogorov_n_sf(benchmark, branch, role):
    n, x = CASES[branch]
    if role == "scipy":
        kstwo = pytest.importorskip("scipy.stats").kstwo
        function = lambda: kstwo.sf(x, n)  # noqa: E731
    else:
        function = lambda: kolmogorov_n_sf(n, x)  # noqa: E731
    benchmark.group = f"kstwo.sf: {branch}"
    benchmark.extra_info.update(role=role, samples=1, unit="calls")
    benchmark(function)
