"""Multilabel with ignore_index: the multilabel kernels with a (N, L) mask of the entries counted.

An entry (sample i, label k) whose ``keep[i, k]`` is False (its y_true was ignore_index) adds
nothing to label k's matrix nor to its histogram; a sample's per-sample sums are over its kept
entries (the ignored ones are neither true nor predicted), and the sample is counted in the
sums' ROWS slot whatever its entries. Inputs are already validated (the ignored entries replaced
by valid values by the caller). Same slot rules as counting.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .counting import count_multilabel_rows, histogram_rows, jit

Array = np.ndarray

ROWS = 8  # the slot of the per-sample sums that counts the samples (Multilabel(ignore_index=...) only)
N_SAMPLE_SUMS_IGNORING = 9


@jit
def count_multilabel_masked(y_true: Array, y_pred: Array, keep: Array, is_scores: bool, threshold: float,
                            inclusive: bool, cm: Array, sums: Array, slots: Array | None = None) -> None:
    """count_multilabel (counting.py) of the kept entries; ROWS counts the samples."""
    count_multilabel_rows(y_true, y_pred, keep, None, is_scores, threshold, inclusive, cm, sums, slots)


@jit
def count_multilabel_masked_weighted(y_true: Array, y_pred: Array, keep: Array, weight: Array, is_scores: bool,
                                     threshold: float, inclusive: bool, cm: Array, sums: Array,
                                     slots: Array | None = None) -> None:
    count_multilabel_rows(y_true, y_pred, keep, weight, is_scores, threshold, inclusive, cm, sums, slots)


@jit
def histogram_masked(scores: Array, truth: Array, keep: Array, weight: Array, use_weight: bool, edges: Array,
                     uniform: bool, round32: bool, inclusive: bool, hist: Array, score_sums: Array,
                     slots: Array | None = None) -> None:
    """histogram_scores (counting.py) of the kept entries."""
    histogram_rows(scores, truth, keep, weight, use_weight, edges, uniform, round32, inclusive, hist, score_sums,
                   slots)
