"""The exact two-sample Kolmogorov-Smirnov p-value: lattice paths that leave a band (numba).

Kept in its own file: numba's on-disk cache follows the kernel's own file.
"""

from __future__ import annotations

import math

import numpy as np

from .counting import jit


@jit
def ks_outside_band(m: int, n: int, g: int, h: int) -> float:
    """P(D_{m,n} >= h / lcm(m, n)): the share of the lattice paths from (0, 0) to (m, n) that do
    not stay strictly inside |x/m - y/n| < h / lcm(m, n), by Hodges' inside method with
    Viehmann's recursion for 1 - p (arXiv:2102.08037), operation for operation as scipy's
    ``_compute_outer_prob_inside_method`` (g = gcd(m, n)). NaN when the float recursion fails
    (the caller then uses the asymptotic distribution)."""
    if m < n:
        m, n = n, m
    mg = m // g
    ng = n // g
    minj = 0
    maxj = min(int(math.ceil(h / mg)), n + 1)
    curlen = maxj - minj
    len_a = min(2 * maxj + 2, n + 1)
    a = np.ones(len_a, dtype=np.float64)
    a[minj:maxj] = 0.0
    for i in range(1, m + 1):
        lastminj = minj
        lastlen = curlen
        minj = max(int(math.floor((ng * i - h) / mg)) + 1, 0)
        minj = min(minj, n)
        maxj = min(int(math.ceil((ng * i + h) / mg)), n + 1)
        if maxj <= minj:
            return 1.0
        val = 0.0 if minj == 0 else 1.0
        for jj in range(maxj - minj):
            j = jj + minj
            val = (a[jj + minj - lastminj] * i + val * j) / (i + j)
            a[jj] = val
        curlen = maxj - minj
        if lastlen > curlen:
            a[maxj - minj:maxj - minj + (lastlen - curlen)] = 1.0
    p = float(a[maxj - minj - 1])
    if not math.isfinite(p):
        return math.nan
    return p
