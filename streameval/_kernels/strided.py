"""Kernels that read inputs of any rank in their own strided layout.

``argmax_axis1``: the predicted class of (N, K, M) scores (the class axis second, as
torch.nn.CrossEntropyLoss takes them, the trailing dimensions merged into M: a view of a
C-contiguous (N, K, d1, ...) array), without a transposed copy. For each sample n it runs over
the K class planes of M contiguous scores, keeping the running maximum and its class per
position (a pass numba vectorizes over m), so the first maximum wins on ties, as numpy's argmax.
A score that is not finite turns the plane's check sum NaN: each sample is checked once, after
its maximum, and only then searched for the first bad score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .counting import Array, jit


@jit
def argmax_axis1(scores: Array, y_true: Array, ignore: Any, use_ignore: bool, best: Array, check: Array,
                 out: Array) -> int:
    """out[n, m] = the first k maximizing scores[n, k, m] (0 where y_true[n, m] == ignore, whose
    scores are not read). Returns -1, or the flat index n * K * M + k * M + m of the first
    non-finite score of a kept position. best and check are (M,) scratch arrays (the scores'
    dtype, float64)."""
    n_samples, k_classes, m_size = scores.shape
    for n in range(n_samples):
        for m in range(m_size):
            v = scores[n, 0, m]
            best[m] = v
            check[m] = v - v  # 0, or NaN for inf and NaN
            out[n, m] = 0
        for k in range(1, k_classes):
            for m in range(m_size):
                v = scores[n, k, m]
                check[m] += v - v
                if v > best[m]:
                    best[m] = v
                    out[n, m] = k
        for m in range(m_size):
            if check[m] != check[m] and not (use_ignore and y_true[n, m] == ignore):
                for k in range(k_classes):  # the first bad score of this sample, in its C order
                    for mm in range(m_size):
                        v = scores[n, k, mm]
                        if not np.isfinite(v) and not (use_ignore and y_true[n, mm] == ignore):
                            return int((n * k_classes + k) * m_size + mm)
        if use_ignore:
            for m in range(m_size):
                if y_true[n, m] == ignore:
                    out[n, m] = 0
    return -1
