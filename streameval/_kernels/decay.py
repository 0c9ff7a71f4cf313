"""Decayed counting of class-index pairs in place: Decayed(Multiclass)'s common batch in one call.

``decay_count_pairs`` checks every sample first (count_pairs' rules: integral labels in [0, n),
samples whose y_true is ``ignore`` skipped) and returns the first bad one with the table
untouched; then it multiplies the table by the batch's decay factor and adds each kept sample
with its weight (weight[i], or 1 when not weighted). The same float operations, in the same
order, as decaying the table out of place and counting the weighted batch into it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .counting import Array, _is_class, _kept, jit


@jit
def decay_count_pairs(y_true: Array, y_pred: Array, weight: Array, weighted: bool, n: int, ignore: Any,
                      use_ignore: bool, factor: float, cm: Array) -> int:
    """-1 once cm = cm * factor + the batch's weighted pairs; else the first bad sample, cm unchanged."""
    for i in range(y_true.shape[0]):
        t = y_true[i]
        if _kept(t, ignore, use_ignore) and not (_is_class(t, n) and _is_class(y_pred[i], n)):
            return i
    if factor != 1.0:
        for a in range(cm.shape[0]):
            for b in range(cm.shape[1]):
                cm[a, b] *= factor
    for i in range(y_true.shape[0]):
        t = y_true[i]
        if _kept(t, ignore, use_ignore):
            cm[np.int64(t), np.int64(y_pred[i])] += weight[i] if weighted else 1.0
    return -1
