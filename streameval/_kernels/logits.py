"""Kernels of ``from_logits=True``: the sigmoid or softmax applied where the scores are read.

- ``softmax_rows``: (N, K) logits into (N, K) float64 probabilities, row by row (max, sum of
  exp, then each probability), for the score histograms of a Multiclass with bins;
- ``sigmoid_calibration_sums`` and ``softmax_calibration_sums``: the Brier and log-loss terms of
  the probabilities the logits stand for, the log loss computed stably from the logits
  (``log1p(exp(-|x|))`` for the sigmoid, log-sum-exp for the softmax), so a logit of -800 adds 800,
  not the -log(eps) a clipped probability would.

The probability of a logit x is ``1 / (1 + exp(-x))`` in float64, the formula of the reference
(``1 / (1 + np.exp(-x.astype(np.float64)))``), so that thresholds and bins decide as it does.
Logits are checked finite before these run (``_inputs.first_non_finite``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .counting import BRIER, LOG_LOSS, Array, _plain, jit


@jit
def _softplus(z: float) -> float:
    """log(1 + exp(z)), without overflow: max(z, 0) + log1p(exp(-|z|))."""
    return float(max(z, 0.0) + np.log1p(np.exp(-abs(z))))


@jit
def _add_sums(own: Array, sums: Array, slots: Any, i: int, brier: float, loss: float) -> None:
    """Add sample i's weighted Brier and log loss to its slot's sums (own: the sums without slots)."""
    if slots is None:
        own[BRIER] += brier
        own[LOG_LOSS] += loss
    else:
        s = slots[i]
        sums[s, BRIER] += brier
        sums[s, LOG_LOSS] += loss


@jit
def _row_max(logits: Array, i: int) -> float:
    """The largest logit of row i, in float64 (subtracted before exp, so that exp never overflows)."""
    top: float = np.float64(logits[i, 0])
    for c in range(1, logits.shape[1]):
        top = max(top, np.float64(logits[i, c]))
    return top


@jit
def sigmoid_calibration_sums(y_true: Array, logits: Array, weight: Array, use_weight: bool, sums: Array,
                             slots: Any = None) -> None:
    """Brier (the two-column sum, 2 (p - y)**2) and log-loss terms of sigmoid(logits) for 0/1
    y_true; the log loss is softplus(-x) for a positive, softplus(x) for a negative."""
    own = _plain(sums, slots)
    for i in range(logits.shape[0]):
        w = weight[i] if use_weight else 1.0
        x = np.float64(logits[i])
        p = 1.0 / (1.0 + np.exp(-x))
        t = 1.0 if y_true[i] else 0.0
        brier = 2.0 * (p - t) * (p - t)
        loss = _softplus(-x) if y_true[i] else _softplus(x)
        _add_sums(own, sums, slots, i, w * brier, w * loss)


@jit
def softmax_calibration_sums(y_true: Array, logits: Array, weight: Array, use_weight: bool, sums: Array,
                             slots: Any = None) -> None:
    """Brier (sum over classes of (p_k - [k == y])**2) and log loss (logsumexp(x) - x[y]) of the
    softmax of each row of (N, K) logits, y_true the class index of each row."""
    own = _plain(sums, slots)
    k = logits.shape[1]
    for i in range(logits.shape[0]):
        w = weight[i] if use_weight else 1.0
        top = _row_max(logits, i)
        total = 0.0
        for c in range(k):
            total += np.exp(np.float64(logits[i, c]) - top)
        t = y_true[i]
        brier = 0.0
        for c in range(k):
            p = np.exp(np.float64(logits[i, c]) - top) / total
            d = p - 1.0 if c == t else p
            brier += d * d
        loss = top + np.log(total) - np.float64(logits[i, t])
        _add_sums(own, sums, slots, i, w * brier, w * loss)


@jit
def softmax_rows(logits: Array, out: Array) -> None:
    """out[i] = softmax(logits[i]) in float64: the row's max, the sum of exp, then each probability."""
    k = logits.shape[1]
    for i in range(logits.shape[0]):
        top = _row_max(logits, i)
        total = 0.0
        for c in range(k):
            e = np.exp(np.float64(logits[i, c]) - top)
            out[i, c] = e
            total += e
        for c in range(k):
            out[i, c] = out[i, c] / total
