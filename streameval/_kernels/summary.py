"""Every confusion-matrix metric at once (compute()): one kernel call instead of a dozen numpy ones.

The same operations as metrics.py, in the same order, so the floats are identical: sums of
floats follow numpy's pairwise summation (_pairwise_sum reproduces it), sums of integer counts
are exact in any order. Tested against the metric methods.
"""

from __future__ import annotations

import numpy as np

from .counting import Array, jit

RATIO_NAMES = ("precision", "recall", "f1", "specificity", "jaccard", "npv", "fpr", "fnr")


@jit
def _block_sum(a: Array, start: int, n: int) -> float:
    """numpy's pairwise summation of at most 128 values: 8 running sums, then the rest in order."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[start + i]
        return res
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[start + i]
        r1 += a[start + i + 1]
        r2 += a[start + i + 2]
        r3 += a[start + i + 3]
        r4 += a[start + i + 4]
        r5 += a[start + i + 5]
        r6 += a[start + i + 6]
        r7 += a[start + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return float(res)


@jit
def _half(n: int) -> int:
    n2 = n // 2
    return n2 - n2 % 8


@jit
def _pairwise_sum(a: Array, start: int, n: int) -> float:
    """np.sum of a contiguous float64 range, bit for bit: numpy halves ranges above 128 values
    (rounding the cut to a multiple of 8) and adds the halves' sums. Written without recursion
    because numba's on-disk cache cannot reload recursive functions."""
    if n <= 128:
        return _block_sum(a, start, n)
    starts = np.empty(64, dtype=np.int64)
    sizes = np.empty(64, dtype=np.int64)
    stage = np.zeros(64, dtype=np.int64)  # 0: not split yet, 1: left half pending, 2: right half pending
    left = np.empty(64)
    depth = 0
    starts[0], sizes[0] = start, n
    while True:
        if sizes[depth] > 128:
            stage[depth] = 1
            starts[depth + 1], sizes[depth + 1], stage[depth + 1] = starts[depth], _half(sizes[depth]), 0
            depth += 1
            continue
        value = _block_sum(a, starts[depth], sizes[depth])
        depth -= 1
        while depth >= 0 and stage[depth] == 2:  # both halves done: combine, deliver upwards
            value = left[depth] + value
            depth -= 1
        if depth < 0:
            return value
        left[depth] = value  # the left half is done: now the right one
        stage[depth] = 2
        half = _half(sizes[depth])
        starts[depth + 1], sizes[depth + 1], stage[depth + 1] = starts[depth] + half, sizes[depth] - half, 0
        depth += 1


@jit
def sum_weights(w: Array) -> float:
    """np.sum(w) of a contiguous float64 array, bit for bit, with no floating-point warning (an
    overflow is inf): what a batch's weights add to the counts (_inputs.batch_mass)."""
    return _pairwise_sum(w, 0, w.shape[0])


@jit
def _ratio(num: float, den: float, fill: float) -> float:
    return fill if den == 0 else num / den


@jit
def _ratios(tp: float, fp: float, fn: float, tn: float, fill: float, out: Array, c: int) -> None:
    """The RATIO_NAMES of one class, written as metrics.RATIOS writes them."""
    out[0, c] = _ratio(tp, tp + fp, fill)
    out[1, c] = _ratio(tp, tp + fn, fill)
    out[2, c] = _ratio(2.0 * tp, 1.0 * (tp + fn) + (tp + fp), fill)  # F1 as scikit-learn writes F-beta
    out[3, c] = _ratio(tn, tn + fp, fill)
    out[4, c] = _ratio(tp, tp + fp + fn, fill)
    out[5, c] = _ratio(tn, tn + fn, fill)
    out[6, c] = _ratio(fp, fp + tn, fill)
    out[7, c] = _ratio(fn, fn + tp, fill)


@jit
def summarize_confusion(cm: Array, fill: float, per_class: Array, averages: Array, scalars: Array) -> None:
    """per_class (8, K): the RATIO_NAMES of each class;
    averages (8, 3): their micro, macro and weighted averages;
    scalars: accuracy, balanced accuracy, MCC, Cohen's kappa, hamming loss (NaN where undefined)."""
    k = cm.shape[0]
    rows = np.zeros(k)
    cols = np.zeros(k)
    for r in range(k):  # numpy's axis reductions of a C-ordered matrix add row after row
        for c in range(k):
            rows[r] += cm[r, c]
            cols[c] += cm[r, c]
    tp_all = np.empty(k)
    fp_all = np.empty(k)
    fn_all = np.empty(k)
    tn_all = np.empty(k)
    for c in range(k):
        tp = np.float64(cm[c, c])
        tn = 0.0
        for r in range(k):
            if r != c:
                tn += rows[r] - cm[r, c]
        tp_all[c], fp_all[c], fn_all[c], tn_all[c] = tp, cols[c] - tp, rows[c] - tp, tn
        _ratios(tp, cols[c] - tp, rows[c] - tp, tn, fill, per_class, c)
    pooled = np.empty((8, 1))
    _ratios(_pairwise_sum(tp_all, 0, k), _pairwise_sum(fp_all, 0, k), _pairwise_sum(fn_all, 0, k),
                 _pairwise_sum(tn_all, 0, k), fill, pooled, 0)
    support = tp_all + fn_all
    scale = _pairwise_sum(support, 0, k)
    products = np.empty(k)
    for m in range(8):
        averages[m, 0] = pooled[m, 0]
        averages[m, 1] = _pairwise_sum(per_class[m], 0, k) / k
        for c in range(k):
            products[c] = per_class[m, c] * support[c]
        averages[m, 2] = _pairwise_sum(products, 0, k) / scale if scale != 0 else averages[m, 1]
    total = _pairwise_sum(rows, 0, k)
    trace = 0.0
    for c in range(k):
        trace += cm[c, c]
    scalars[0] = trace / total if total else np.nan
    present = 0
    recalls = np.empty(k)
    for c in range(k):
        if rows[c] != 0:
            recalls[present] = cm[c, c] / rows[c]
            present += 1
    scalars[1] = _pairwise_sum(recalls, 0, present) / present if present else np.nan
    n_samples = _pairwise_sum(cols, 0, k)
    dot_tp = 0.0
    dot_pp = 0.0
    dot_tt = 0.0
    for c in range(k):
        dot_tp += rows[c] * cols[c]
        dot_pp += cols[c] * cols[c]
        dot_tt += rows[c] * rows[c]
    cov_ytyp = trace * n_samples - dot_tp
    cov_both = (n_samples**2 - dot_pp) * (n_samples**2 - dot_tt)
    scalars[2] = 0.0 if cov_both == 0 else cov_ytyp / np.sqrt(cov_both)
    kappa = np.nan
    if total != 0:
        weighted_expected = np.empty(k * k)
        disagreement = 0.0
        for i in range(k):
            for j in range(k):
                w = 0.0 if i == j else 1.0
                weighted_expected[i * k + j] = w * (cols[i] * rows[j] / total)
                disagreement += w * cm[i, j]
        denominator = _pairwise_sum(weighted_expected, 0, k * k)
        if denominator != 0:
            kappa = 1 - disagreement / denominator
    scalars[3] = kappa
    scalars[4] = (total - trace) / total if total else np.nan
